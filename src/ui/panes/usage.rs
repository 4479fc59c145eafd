//! The Usage pane (issue 7): a chart of daily charge and Hetzner cost over the chosen period,
//! month-to-date with the projected month-end (when the period includes today), and a table of
//! the groups with hours, charge, cost and margin (and, for this month, each group's projected
//! month-end charge) plus a total row. Also the per-VM sparkline of the VM detail.
//!
//! The chart is ratatui's [`Chart`] with bar datasets ([`chart_style`]). With two or more
//! columns per day it draws block bars, charge as solid `█` and cost as striped `▄` side by side;
//! with one column per day the cost is drawn over the lower part of the charge bar; with half a
//! column per day (e.g. 90 days at 80 columns) braille bars for the charge and a `•` line for the
//! cost; below that, or under three rows, a table of days. The two series differ by symbol and are
//! named in the legend, so the chart reads the same without colour (`NO_COLOR`). Money is
//! `rust_decimal` throughout; only the chart's plot coordinates are `f64`.
//!
//! Numbers are formatted as `crabglamp usage` prints them (hours to 0.1, money to 0.01), so the
//! totals on screen are the command's.

use crate::app::Model;
use crate::domain::usage_report::{GroupBy, Report, Totals};
use crate::ui::text::{truncate, width};
use crate::ui::theme::Theme;
use crate::ui::widgets::{HIGHLIGHT, empty_hint, header, panel, table_state, table_window, title};
use crate::view::derived::SPARK_DAYS;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::symbols::{Marker, bar};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, HighlightSpacing, Paragraph, Row, Table,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub use crate::domain::usage_report::{ROUNDING_NOTE, hours, money, shown_money};

/// How the daily chart is drawn in a plot of the given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartStyle {
    /// Block bars: `step` columns per day, `bar` columns each for charge and cost side by side
    /// when `step` ≥ 2; with `step` 1 the cost is drawn over the lower part of the charge bar.
    Blocks {
        /// Columns of each bar.
        bar: u16,
        /// Columns per day.
        step: u16,
    },
    /// Braille bars (charge) and a dotted line (cost): two days per column.
    Braille,
    /// A table of days (too narrow or too low for a chart).
    Table,
}

/// The chart style for `days` days in a plot `w` columns wide and `h` rows high.
pub fn chart_style(days: usize, w: u16, h: u16) -> ChartStyle {
    let n = u16::try_from(days.max(1)).unwrap_or(u16::MAX);
    if h < 3 {
        return ChartStyle::Table;
    }
    let step = w / n;
    if step >= 1 {
        let bar = (step.saturating_sub(1) / 2).clamp(1, 3);
        return ChartStyle::Blocks { bar, step };
    }
    if u32::from(w) * 2 >= u32::from(n) {
        return ChartStyle::Braille;
    }
    ChartStyle::Table
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The Usage pane.
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let view = &model.usage_ui.view;
    let groups = view.report.as_ref().map_or(0, |r| r.groups.len());
    // Border (2) + header (1) + groups + total row.
    let want = u16::try_from(groups + 4).unwrap_or(u16::MAX).max(5);
    let table_h = want.min(area.height / 2).max(5);
    let [chart_area, table_area] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(table_h)]).areas(area);
    chart_panel(frame, model, theme, chart_area);
    group_table(frame, model, theme, table_area);
}

fn chart_panel(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let view = &model.usage_ui.view;
    let ui = &model.usage_ui;
    let mut parts = vec![
        Span::styled("Usage", theme.title),
        Span::styled(ui.period.label(), theme.key),
    ];
    if let Some(q) = &view.query {
        parts.push(Span::styled(
            format!("{} to {} (UTC)", q.from, q.to),
            theme.label,
        ));
    }
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    let inner_w = usize::from(area.width.saturating_sub(2));
    let mut block = panel(title(parts, theme), theme);
    let Some(report) = &view.report else {
        frame.render_widget(&block, area);
        let text = match &view.error {
            Some(e) => format!("could not read usage: {e} (p or [ ] to retry)"),
            None => "loading… (reading the records from the store)".to_string(),
        };
        let inner = block.inner(area);
        frame.render_widget(
            Paragraph::new(Span::styled(
                truncate(&text, inner_w).into_owned(),
                theme.warn,
            )),
            inner,
        );
        return;
    };
    let inner = block.inner(area);
    let (me_area, plot_area) = match &view.month_end {
        Some(_) if inner.height > 4 => {
            let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
            (Some(a), b)
        }
        _ => (None, inner),
    };
    // Y labels: the largest daily value and 0; X labels: first and last day below the plot.
    let max = report
        .daily
        .iter()
        .map(|(_, t)| t.charge.max(t.cost))
        .max()
        .unwrap_or(Decimal::ZERO);
    let top_label = money(max);
    let label_w = u16::try_from(width(&top_label)).unwrap_or(8) + 1;
    let plot_w = plot_area.width.saturating_sub(label_w);
    let plot_h = plot_area.height.saturating_sub(1);
    let style = chart_style(report.daily.len(), plot_w, plot_h);
    let currency = &model.snapshot.usage_currency;
    let per_day = if currency.is_empty() {
        "per day".to_string()
    } else {
        format!("{currency} per day")
    };
    let legend = match style {
        ChartStyle::Blocks { step: 1, .. } => {
            format!(" █ charge  ▄ Hetzner cost (over the charge) · {per_day} ")
        }
        ChartStyle::Blocks { .. } => format!(" █ charge  ▄ Hetzner cost · {per_day} "),
        ChartStyle::Braille => format!(" ⣿ charge  • Hetzner cost · {per_day} "),
        ChartStyle::Table => format!(" days, newest first · {per_day} "),
    };
    block = block.title_bottom(Line::from(Span::styled(legend, theme.label)));
    if inner_w >= 100 {
        block = block.title_bottom(
            Line::from(Span::styled(
                " p period · [ ] month · g group · a account ",
                theme.dim,
            ))
            .alignment(Alignment::Right),
        );
    }
    frame.render_widget(&block, area);
    if let (Some(me), Some(a)) = (&view.month_end, me_area) {
        let short = format!(
            "month to date {} (cost {}) · projected month-end {} (cost {})",
            money(me.charge_to_date),
            money(me.cost_to_date),
            money(me.charge_projected),
            money(me.cost_projected),
        );
        let long = format!("{short}, live VMs running to the month's end");
        // Narrow (60 columns): the figures matter more than the words.
        let compact = format!(
            "so far {} (cost {}) · end {} (cost {})",
            money(me.charge_to_date),
            money(me.cost_to_date),
            money(me.charge_projected),
            money(me.cost_projected),
        );
        let text = [long, short]
            .into_iter()
            .find(|t| width(t) <= usize::from(a.width))
            .unwrap_or(compact);
        frame.render_widget(
            Paragraph::new(Span::styled(
                truncate(&text, usize::from(a.width)).into_owned(),
                theme.title,
            )),
            a,
        );
    }
    if style == ChartStyle::Table {
        day_table(frame, report, theme, plot_area);
        return;
    }
    let [labels, plot_col] =
        Layout::horizontal([Constraint::Length(label_w), Constraint::Min(1)]).areas(plot_area);
    let [plot, xlabels] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(plot_col);
    // Block bars use exactly `days × step` columns, so the day labels sit under their bars.
    let used = match style {
        ChartStyle::Blocks { step, .. } => {
            let n = u16::try_from(report.daily.len()).unwrap_or(u16::MAX);
            n.saturating_mul(step).min(plot.width)
        }
        // Braille: one sub-column (half a column) per day.
        _ => u16::try_from(report.daily.len().div_ceil(2))
            .unwrap_or(u16::MAX)
            .min(plot.width),
    };
    let plot = Rect {
        width: used,
        ..plot
    };
    let xlabels = Rect {
        width: used.max(xlabels.width.min(11)),
        ..xlabels
    };
    // Y labels, right-aligned against the plot.
    let mut ylines = vec![Line::from(top_label).alignment(Alignment::Right)];
    for _ in 2..plot.height {
        ylines.push(Line::from(""));
    }
    ylines.push(Line::from("0").alignment(Alignment::Right));
    let ylabel_area = Rect {
        width: label_w.saturating_sub(1),
        height: plot.height,
        ..labels
    };
    frame.render_widget(Paragraph::new(ylines).style(theme.dim), ylabel_area);
    // X labels: first and last day (and the middle one when there is room).
    let days = &report.daily;
    if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
        let fmt = |d: &chrono::NaiveDate| d.format("%m-%d").to_string();
        let room = usize::from(xlabels.width);
        let mut row = vec![' '; room];
        let mut put = |at: usize, text: &str| {
            for (i, c) in text.chars().enumerate() {
                if let Some(cell) = row.get_mut(at + i) {
                    *cell = c;
                }
            }
        };
        put(0, &fmt(first));
        put(room.saturating_sub(5), &fmt(last));
        // The middle day under its bar, when it clears both ends.
        let mid = days.len() / 2;
        let mid_x = match style {
            ChartStyle::Blocks { step, .. } => mid * usize::from(step),
            _ => mid / 2,
        };
        if days.len() > 2 && mid_x >= 7 && mid_x + 12 <= room {
            put(mid_x, &fmt(&days[mid].0));
        }
        let spans: Vec<String> = vec![row.into_iter().collect()];
        frame.render_widget(
            Paragraph::new(Line::from(spans.concat())).style(theme.dim),
            xlabels,
        );
    }
    let ymax = f(max).max(f64::MIN_POSITIVE);
    let (charge, cost, x_max, charge_marker, cost_marker, cost_graph) = match style {
        ChartStyle::Blocks { bar, step } => {
            let mut charge = Vec::new();
            let mut cost = Vec::new();
            for (i, (_, t)) in days.iter().enumerate() {
                let x0 = f64::from(u16::try_from(i).unwrap_or(u16::MAX).saturating_mul(step));
                for b in 0..bar {
                    if t.charge > Decimal::ZERO {
                        charge.push((x0 + f64::from(b), f(t.charge)));
                    }
                    // Side by side with room, else over the charge bar.
                    let cost_x = if step >= 2 {
                        x0 + f64::from(bar + b)
                    } else {
                        x0
                    };
                    if t.cost > Decimal::ZERO {
                        cost.push((cost_x, f(t.cost)));
                    }
                }
            }
            (
                charge,
                cost,
                f64::from(plot.width.saturating_sub(1)),
                Marker::Block,
                Marker::Bar,
                GraphType::Bar,
            )
        }
        _ => {
            // Braille: day i at sub-column i (two days per column); the cost as a dotted
            // line at cell resolution over it.
            let pts = |v: fn(&Totals) -> Decimal| -> Vec<(f64, f64)> {
                days.iter()
                    .enumerate()
                    .filter(|(_, (_, t))| v(t) > Decimal::ZERO)
                    .map(|(i, (_, t))| (f64::from(u16::try_from(i).unwrap_or(u16::MAX)), f(v(t))))
                    .collect()
            };
            (
                pts(|t| t.charge),
                pts(|t| t.cost),
                f64::from(plot.width.saturating_mul(2).saturating_sub(1)),
                Marker::Braille,
                Marker::Dot,
                GraphType::Line,
            )
        }
    };
    let chart = Chart::new(vec![
        Dataset::default()
            .name("charge")
            .marker(charge_marker)
            .graph_type(GraphType::Bar)
            .style(theme.bar_chart)
            .data(&charge),
        Dataset::default()
            .name("Hetzner cost")
            .marker(cost_marker)
            .graph_type(cost_graph)
            .style(theme.warn)
            .data(&cost),
    ])
    .x_axis(Axis::default().bounds([0.0, x_max.max(1.0)]))
    .y_axis(Axis::default().bounds([0.0, ymax]))
    .legend_position(None);
    frame.render_widget(chart, plot);
}

/// Days as a table (newest first) with a text bar of the charge: the narrow fallback.
fn day_table(frame: &mut Frame, report: &Report, theme: &Theme, area: Rect) {
    let max = report
        .daily
        .iter()
        .map(|(_, t)| t.charge)
        .max()
        .unwrap_or(Decimal::ZERO);
    let bar_room = usize::from(area.width.saturating_sub(12 + 10 + 10 + 3)).min(40);
    let rows: Vec<Row> = report
        .daily
        .iter()
        .rev()
        .take(usize::from(area.height.saturating_sub(1)))
        .map(|(day, t)| {
            let filled = if max > Decimal::ZERO {
                (t.charge * Decimal::from(bar_room) / max)
                    .round()
                    .to_usize()
                    .unwrap_or(0)
            } else {
                0
            };
            Row::new(vec![
                Cell::from(day.format("%Y-%m-%d").to_string()),
                Cell::from(Line::from(money(t.charge)).alignment(Alignment::Right)),
                Cell::from(Line::from(money(t.cost)).alignment(Alignment::Right)),
                Cell::from(Span::styled("█".repeat(filled), theme.bar_chart)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Min(1),
        ],
    )
    .header(header(
        ["DAY", "    CHARGE", "      COST", ""]
            .map(String::from)
            .to_vec(),
        theme,
    ));
    frame.render_widget(table, area);
}

fn group_table(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let view = &model.usage_ui.view;
    let by = model.usage_ui.by;
    let currency = &model.snapshot.usage_currency;
    let by_title = Span::styled(
        format!("By {}", if by == GroupBy::Vm { "VM" } else { by.as_str() }),
        theme.title,
    );
    let Some(report) = &view.report else {
        frame.render_widget(panel(title(vec![by_title], theme), theme), area);
        empty_hint(frame, area, "loading…", theme);
        return;
    };
    // With this month shown: the projected month-end charge per group (running VMs at their
    // latest full day's rate).
    let projected = view.projected.as_ref();
    let cells = |t: &Totals, key: Option<&str>| -> Vec<String> {
        let [charge, cost, margin] = shown_money(t);
        let mut c = vec![hours(t), charge, cost, margin];
        if let Some(p) = projected {
            let value = match key {
                Some(k) => p.get(k).copied(),
                None => view.month_end.as_ref().map(|m| m.charge_projected),
            };
            c.push(value.map_or_else(|| "-".to_string(), money));
        }
        c
    };
    let mut heads = vec!["HOURS", "CHARGE", "COST", "MARGIN"];
    if projected.is_some() {
        heads.push("MONTH-END");
    }
    let mut widths: Vec<usize> = heads.iter().map(|h| h.len()).collect();
    for (t, key) in report
        .groups
        .iter()
        .map(|g| (&g.totals, Some(g.key.as_str())))
        .chain(std::iter::once((&report.total, None)))
    {
        for (w, c) in widths.iter_mut().zip(cells(t, key)) {
            *w = (*w).max(width(&c));
        }
    }
    // Border (2), highlight (2), a gap before each number column.
    let numbers: usize = widths.iter().sum::<usize>() + widths.len();
    let longest = report
        .groups
        .iter()
        .map(|g| width(&g.key))
        .chain([width(by.as_str()), width("total")])
        .max()
        .unwrap_or(5);
    let key_w = usize::from(area.width)
        .saturating_sub(2 + 2 + numbers)
        .min(longest.max(24))
        .max(4);
    let len = report.groups.len();
    // The total row stays on screen below the scrolling groups.
    let window = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    let (offset, end) = table_window(&model.usage_ui.list, len, window);
    // The title: which rows are on screen when not all fit (as `1–7 of 14`), what the columns
    // are, the currency and the billing rule, each left out when the border has no room.
    let mut parts = vec![by_title];
    if end - offset < len {
        parts.push(Span::styled(
            format!("{}–{end} of {len}", offset + 1),
            theme.warn,
        ));
    }
    let optional = [
        Span::styled(
            if projected.is_some() {
                "hours, charge, cost, margin, projected month-end"
            } else {
                "hours, charge, cost, margin"
            },
            theme.label,
        ),
        Span::styled(currency.clone(), theme.label),
        Span::styled("stopped time bills like running", theme.dim),
    ];
    let room = usize::from(area.width.saturating_sub(2));
    for part in optional {
        if part.content.is_empty() {
            continue;
        }
        let mut with = parts.clone();
        with.push(part);
        if title(with.clone(), theme).width() <= room {
            parts = with;
        }
    }
    let mut block = panel(title(parts, theme), theme);
    if width(ROUNDING_NOTE) + 4 <= room {
        block = block.title_bottom(
            Line::from(Span::styled(format!(" {ROUNDING_NOTE} "), theme.dim))
                .alignment(Alignment::Right),
        );
    }
    let right = |s: String| Cell::from(Line::from(s).alignment(Alignment::Right));
    let mut rows: Vec<Row> = report.groups[offset..end]
        .iter()
        .map(|g| {
            let mut r = vec![Cell::from(truncate(&g.key, key_w).into_owned())];
            r.extend(
                cells(&g.totals, Some(g.key.as_str()))
                    .into_iter()
                    .map(right),
            );
            Row::new(r)
        })
        .collect();
    if len > 0 {
        let mut r = vec![Cell::from("total")];
        r.extend(cells(&report.total, None).into_iter().map(right));
        rows.push(Row::new(r).style(theme.title));
    }
    let mut constraints = vec![Constraint::Length(u16::try_from(key_w).unwrap_or(4))];
    constraints.extend(
        widths
            .iter()
            .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(12))),
    );
    let key_head = by.as_str().to_uppercase();
    let head: Vec<Cell> = std::iter::once(Cell::from(key_head))
        .chain(heads.iter().map(|h| right((*h).to_string())))
        .collect();
    let table = Table::new(rows, constraints)
        .header(Row::new(head).style(theme.header))
        .block(block)
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.usage_ui.list, offset, len);
    frame.render_stateful_widget(table, area, &mut st);
    if len == 0 {
        empty_hint(frame, area, "no usage in this period", theme);
    }
}

/// The VM's charge over the last [`SPARK_DAYS`] days (oldest first) as one line of bar
/// characters (`▁`…`█`, `·` for a day without charge), scaled to the VM's busiest day, with
/// the sum: e.g. `▅▅▆█` and `12.34 EUR/30d`. `None` when the VM has no usage in those days.
pub fn sparkline(model: &Model, vm: uuid::Uuid) -> Option<(String, String)> {
    let built;
    let spark = match &model.snapshot.prebuilt {
        Some(p) => &p.spark,
        // A snapshot made by hand (tests, demo screenshots): built here.
        None => {
            built = crate::view::derived::sparklines(&model.snapshot.usage, model.now.date_naive());
            &built
        }
    };
    let days = spark.by_vm.get(&vm)?;
    let max = days.iter().copied().max().unwrap_or(Decimal::ZERO);
    let sum: Decimal = days.iter().copied().sum();
    let levels = [
        bar::ONE_EIGHTH,
        bar::ONE_QUARTER,
        bar::THREE_EIGHTHS,
        bar::HALF,
        bar::FIVE_EIGHTHS,
        bar::THREE_QUARTERS,
        bar::SEVEN_EIGHTHS,
        bar::FULL,
    ];
    let line: String = days
        .iter()
        .map(|d| {
            if *d <= Decimal::ZERO || max <= Decimal::ZERO {
                "·"
            } else {
                let i = (*d * Decimal::from(8) / max)
                    .ceil()
                    .to_usize()
                    .unwrap_or(1)
                    .clamp(1, 8);
                levels[i - 1]
            }
        })
        .collect();
    let currency = &model.snapshot.usage_currency;
    let total = if currency.is_empty() {
        format!("{}/{SPARK_DAYS}d", money(sum))
    } else {
        format!("{} {currency}/{SPARK_DAYS}d", money(sum))
    };
    Some((line, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_style_follows_the_room_per_day() {
        // 30 days at 80 columns (72 for the plot): two columns a day, side by side.
        assert_eq!(
            chart_style(30, 72, 9),
            ChartStyle::Blocks { bar: 1, step: 2 }
        );
        // At 160 columns: two-column bars, five columns a day.
        assert_eq!(
            chart_style(30, 152, 30),
            ChartStyle::Blocks { bar: 2, step: 5 }
        );
        // One column a day: the cost over the charge.
        assert_eq!(
            chart_style(90, 100, 9),
            ChartStyle::Blocks { bar: 1, step: 1 }
        );
        // 90 days in 72 columns: braille, two days a column.
        assert_eq!(chart_style(90, 72, 9), ChartStyle::Braille);
        // Fewer than half a column a day, or under three rows: a table.
        assert_eq!(chart_style(90, 44, 9), ChartStyle::Table);
        assert_eq!(chart_style(30, 72, 2), ChartStyle::Table);
    }

    #[test]
    fn a_shown_margin_is_the_shown_charge_minus_the_shown_cost() {
        let t = Totals {
            charge: Decimal::new(33_935, 3),
            cost: Decimal::new(18_864, 3),
            ..Totals::default()
        };
        assert_eq!(t.margin(), Decimal::new(15_071, 3));
        assert_eq!(shown_money(&t), ["33.94", "18.86", "15.08"]);
        // Half-even: 0.125 → 0.12, 0.135 → 0.14.
        let t = Totals {
            charge: Decimal::new(135, 3),
            cost: Decimal::new(125, 3),
            ..Totals::default()
        };
        assert_eq!(shown_money(&t), ["0.14", "0.12", "0.02"]);
    }

    #[test]
    fn money_and_hours_round_as_the_command_prints() {
        assert_eq!(money(Decimal::new(1925, 3)), "1.92");
        assert_eq!(money(Decimal::new(1935, 3)), "1.94");
        assert_eq!(money(Decimal::ZERO), "0.00");
        let t = Totals {
            seconds: 48_600,
            ..Totals::default()
        };
        assert_eq!(hours(&t), "13.5");
    }
}
