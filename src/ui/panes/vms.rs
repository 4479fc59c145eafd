//! The VMs pane: the VM table (columns fitted to the width, sort marker, filter and account
//! in the title) and the selected VM's detail panel (addresses, keys, firewall, usage sparkline).

use crate::app::Model;
use crate::domain::{Region, VmStatus, tier_size};
use crate::protocol::VmRow;
use crate::ui::text::{clip, truncate};
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    HIGHLIGHT, empty_hint, header, kv, panel, table_state, table_window, title,
};
use crate::view::vm_index::{SortColumn, age, provisioned_text, status_text};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table};
// ---------------------------------------------------------------------------------------------
// VMs

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VmCol {
    Sort(SortColumn),
    Age,
}

fn location_name(loc: &str) -> &'static str {
    match loc {
        "hil" => "Hillsboro, Oregon",
        "hel1" => "Helsinki",
        _ => "outside CrabGlamp's regions",
    }
}

/// Columns that fit in `avail` columns, in display order, with their widths.
fn vm_columns(model: &Model, avail: usize) -> Vec<(VmCol, u16)> {
    use SortColumn as S;
    let idx = &model.vms.index;
    let natural = |c: S, cap: u16| -> u16 {
        let head = u16::try_from(c.title().len() + 1).unwrap_or(cap);
        idx.width(c).max(head).min(cap)
    };
    let all: [(VmCol, u16, u8); 11] = [
        (VmCol::Sort(S::Name), natural(S::Name, 28).max(8), 0),
        (VmCol::Sort(S::Account), natural(S::Account, 16), 2),
        (VmCol::Sort(S::Region), natural(S::Region, 8), 3),
        (VmCol::Sort(S::Tier), natural(S::Tier, 8), 4),
        (VmCol::Sort(S::Image), natural(S::Image, 14), 7),
        (VmCol::Sort(S::Status), natural(S::Status, 12), 1),
        (VmCol::Sort(S::Ipv4), natural(S::Ipv4, 15), 5),
        (VmCol::Sort(S::Ipv6), natural(S::Ipv6, 24), 9),
        (VmCol::Sort(S::Billing), natural(S::Billing, 12), 8),
        (VmCol::Sort(S::Provisioned), natural(S::Provisioned, 16), 10),
        (VmCol::Age, 4, 6),
    ];
    let mut by_priority: Vec<_> = all.iter().collect();
    by_priority.sort_by_key(|c| c.2);
    let mut used = 0usize;
    let mut keep = [false; 11];
    for c in by_priority {
        let need = usize::from(c.1) + usize::from(used > 0);
        if used + need <= avail {
            used += need;
            if let Some(pos) = all.iter().position(|x| x.0 == c.0) {
                keep[pos] = true;
            }
        }
    }
    all.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(c, _)| (c.0, c.1))
        .collect()
}

fn vm_cell<'a>(row: &'a VmRow, col: VmCol, w: u16, model: &Model, theme: &Theme) -> Cell<'a> {
    let r = &row.record;
    let w = usize::from(w);
    let text = |s: &str| Cell::from(truncate(s, w).into_owned());
    match col {
        VmCol::Sort(SortColumn::Name) => text(&r.name),
        VmCol::Sort(SortColumn::Account) => text(&r.account),
        VmCol::Sort(SortColumn::Region) => Cell::from(r.region.as_str()),
        VmCol::Sort(SortColumn::Tier) => Cell::from(r.tier.as_str()),
        VmCol::Sort(SortColumn::Image) => Cell::from(r.image.as_str()),
        VmCol::Sort(SortColumn::Status) => Cell::from(Span::styled(
            match model.life.progress.get(&r.id) {
                Some(p) => {
                    truncate(&format!("{}% {}", p.percent, status_text(row)), w).into_owned()
                }
                None => status_text(row).to_string(),
            },
            theme.status(r.status, row.managed),
        )),
        VmCol::Sort(SortColumn::Ipv4) => text(r.ipv4.as_deref().unwrap_or("-")),
        VmCol::Sort(SortColumn::Ipv6) => text(r.ipv6.as_deref().unwrap_or("-")),
        VmCol::Sort(SortColumn::Billing) => Cell::from(r.billing_type.as_str()),
        VmCol::Sort(SortColumn::Provisioned) => text(&provisioned_text(row)),
        VmCol::Age => Cell::from(Span::styled(
            r.provisioned_at
                .map_or_else(|| "-".to_string(), |t| age(t, model.now)),
            theme.dim,
        )),
    }
}

/// The VM list with the selected VM's detail panel (right of the table when the pane is at
/// least 150 columns wide, as wide as its identity lines need, 62 to width − 80 columns; below
/// it otherwise, hidden below 22 rows).
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let (table_area, detail_area) = if area.width >= 150 {
        // The detail's identity lines get the width they need (at least 62 columns), the table
        // keeps at least 80.
        let need = model.selected_vm().map_or(0, |row| {
            let (main, _) = detail_lines(row, model, theme, false);
            main.iter().map(Line::width).max().unwrap_or(0) + 2
        });
        let dw = u16::try_from(need)
            .unwrap_or(u16::MAX)
            .clamp(62, area.width.saturating_sub(80).max(62));
        let [t, d] = Layout::horizontal([Constraint::Min(60), Constraint::Length(dw)]).areas(area);
        (t, Some(d))
    } else if area.height >= 22 {
        let dh = if area.height >= 30 { 12 } else { 10 };
        let [t, d] = Layout::vertical([Constraint::Min(5), Constraint::Length(dh)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    vm_table(frame, model, theme, table_area);
    if let Some(d) = detail_area {
        vm_detail(frame, model, theme, d);
    }
}

fn vm_table(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let visible = model.vms.index.visible();
    let len = visible.len();
    let total = model.vms.index.total()
        - if model.vms.show_deleted {
            0
        } else {
            model.vms.index.deleted()
        };
    let mut parts = vec![Span::styled("VMs", theme.title)];
    parts.push(Span::styled(
        if len == total {
            format!("{total}")
        } else {
            format!("{len} of {total}")
        },
        theme.label,
    ));
    parts.push(Span::styled(
        format!(
            "sort {} {}",
            model.vms.sort.title().to_lowercase(),
            if model.vms.reverse { "▼" } else { "▲" }
        ),
        theme.label,
    ));
    if !model.vms.filter.is_empty() {
        parts.push(Span::styled(
            format!("filter \"{}\"", truncate(model.vms.filter.text(), 24)),
            theme.warn,
        ));
    }
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    let deleted = model.vms.index.deleted();
    if deleted > 0 && !model.vms.show_deleted {
        parts.push(Span::styled(
            format!("{deleted} deleted hidden (d)"),
            theme.dim,
        ));
    } else if deleted > 0 {
        parts.push(Span::styled("deleted shown (d)", theme.dim));
    }
    let block = panel(title(parts, theme), theme);
    let inner_w = usize::from(area.width.saturating_sub(2 + 2));
    let cols = vm_columns(model, inner_w);
    let (offset, end) = table_window(&model.vms.list, len, area);
    let head: Vec<String> = cols
        .iter()
        .map(|(c, _)| match c {
            VmCol::Sort(s) if *s == model.vms.sort => {
                format!("{}{}", s.title(), if model.vms.reverse { "▼" } else { "▲" })
            }
            VmCol::Sort(s) => s.title().to_string(),
            VmCol::Age => "AGE".to_string(),
        })
        .collect();
    let rows: Vec<Row> = visible[offset..end]
        .iter()
        .filter_map(|&i| model.snapshot.vms.get(i))
        .map(|row| {
            let cells: Vec<Cell> = cols
                .iter()
                .map(|(c, w)| vm_cell(row, *c, *w, model, theme))
                .collect();
            let style = match (row.managed, row.record.status) {
                (_, VmStatus::Vanished | VmStatus::Deleted) => {
                    theme.dim.add_modifier(Modifier::CROSSED_OUT)
                }
                _ => Style::default(),
            };
            Row::new(cells).style(style)
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let table = Table::new(rows, widths)
        .header(header(head, theme))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.vms.list, offset, len);
    frame.render_stateful_widget(table, area, &mut st);
    if len == 0 {
        let hint = if total == 0 {
            if model.snapshot.stale {
                "loading… no VMs known yet"
            } else {
                "no VMs yet"
            }
        } else {
            "no VM matches the filter (Esc clears it)"
        };
        empty_hint(frame, area, hint, theme);
    }
}

/// The detail of one VM as two groups of lines: identity (status, server, location, image,
/// ssh, account) and attachments (firewall rules, keys, labels). `compact` squeezes each
/// attachment group onto one line.
fn detail_lines<'a>(
    row: &'a VmRow,
    model: &Model,
    theme: &Theme,
    compact: bool,
) -> (Vec<Line<'a>>, Vec<Line<'a>>) {
    let r = &row.record;
    let mut main: Vec<Line> = Vec::new();
    let mut head = vec![Span::styled(
        status_text(row).to_string(),
        theme.status(r.status, row.managed),
    )];
    if !row.managed {
        head.push(Span::styled(
            format!(" ({})", r.status),
            theme.status(r.status, true),
        ));
    }
    if let Some(h) = &row.hetzner_status {
        head.push(Span::styled(format!(" · Hetzner says {h}"), theme.dim));
    }
    main.push(kv("status", head, theme));
    if let Some(p) = model.life.progress.get(&r.id) {
        main.push(kv(
            "progress",
            vec![Span::styled(
                format!("{}% {}", p.percent, p.step),
                theme.warn,
            )],
            theme,
        ));
    }
    if !row.managed {
        main.push(Line::from(Span::styled(
            "UNMANAGED: labelled by CrabGlamp, unknown to the store",
            theme.warn,
        )));
    }
    if r.status == VmStatus::Vanished {
        main.push(Line::from(Span::styled(
            "VANISHED: the store knows it, Hetzner has no server",
            theme.error,
        )));
    }
    if let Some(f) = &r.failure {
        main.push(kv(
            "failure",
            vec![Span::styled(f.clone(), theme.error)],
            theme,
        ));
    }
    let (cat_cpu, cat_ram, cat_disk) = tier_size(r.tier, r.region);
    let size = match (row.cores, row.memory_gb, row.disk_gb) {
        (Some(c), Some(m), Some(d)) => format!("{c} vCPU · {m} GB RAM · {d} GB disk"),
        _ => format!("{cat_cpu} vCPU · {cat_ram} GB RAM · {cat_disk} GB disk (catalogue)"),
    };
    let mut server = vec![
        Span::styled(r.server_type.clone(), theme.key),
        Span::raw(format!(" · {size}")),
    ];
    if let Some(id) = r.hetzner_server_id {
        server.push(Span::styled(format!(" · #{id}"), theme.dim));
    }
    main.push(kv("server", server, theme));
    let loc = row
        .location
        .clone()
        .unwrap_or_else(|| r.region.location().to_string());
    main.push(kv(
        "location",
        vec![Span::raw(format!(
            "{loc} · {} · {} · tier {}",
            match r.region {
                Region::Us => "US",
                Region::Eu => "EU",
            },
            location_name(&loc),
            r.tier
        ))],
        theme,
    ));
    let user = r.image.default_user();
    main.push(kv(
        "image",
        vec![
            Span::raw(r.image.description()),
            Span::styled(" · default user ", theme.dim),
            Span::raw(user),
        ],
        theme,
    ));
    let ssh = match &r.ipv4 {
        Some(ip) => Span::styled(
            format!("ssh {user}@{ip}"),
            theme.ok.add_modifier(Modifier::BOLD),
        ),
        None => Span::styled("no public IPv4 yet", theme.dim),
    };
    if !r.status.is_live() {
        // Deleted, vanished or failed: no server to log in to; the former addresses (released
        // with the server) stay for the record.
        let was: Vec<&str> = [r.ipv4.as_deref(), r.ipv6.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !was.is_empty() {
            main.push(kv(
                "address",
                vec![Span::styled(
                    format!("was {} (no server now)", was.join(" · ")),
                    theme.dim,
                )],
                theme,
            ));
        }
    } else {
        match (&r.ipv6, compact) {
            (Some(v6), true) => main.push(kv(
                "ssh",
                vec![ssh, Span::styled(format!(" · IPv6 {v6}"), theme.dim)],
                theme,
            )),
            (Some(v6), false) => {
                main.push(kv("ssh", vec![ssh], theme));
                main.push(kv("ipv6", vec![Span::raw(v6.clone())], theme));
            }
            (None, _) => main.push(kv("ssh", vec![ssh], theme)),
        }
    }
    let prov = r.provisioned_at.map_or_else(
        || "not provisioned yet".to_string(),
        |t| {
            format!(
                "since {} UTC ({} ago)",
                t.format("%Y-%m-%d %H:%M"),
                age(t, model.now)
            )
        },
    );
    main.push(kv(
        "account",
        vec![
            Span::styled(r.account.clone(), theme.key),
            Span::raw(format!(" · {} · {prov}", r.billing_type)),
        ],
        theme,
    ));
    if let Some((spark, total)) = super::usage::sparkline(model, r.id) {
        main.push(kv(
            "charge",
            vec![
                Span::styled(spark, theme.bar_chart),
                Span::styled(format!(" {total}"), theme.dim),
            ],
            theme,
        ));
    }

    let mut more: Vec<Line> = Vec::new();
    match &row.firewall {
        Some(f) => {
            let n = f.rules.len();
            let head = Span::raw(format!(
                "{} · {n} rule{}",
                f.name,
                if n == 1 { "" } else { "s" }
            ));
            if compact {
                let rules: Vec<String> = f
                    .rules
                    .iter()
                    .map(|x| format!("{} {} ← {}", x.protocol, x.port, x.source_ips.join(" ")))
                    .collect();
                let mut spans = vec![head];
                if !rules.is_empty() {
                    spans.push(Span::styled(format!(": {}", rules.join("; ")), theme.dim));
                }
                more.push(kv("firewall", spans, theme));
            } else {
                more.push(kv("firewall", vec![head], theme));
                for x in &f.rules {
                    more.push(kv(
                        "",
                        vec![
                            Span::styled(format!("{} {:<10}", x.protocol, x.port), theme.key),
                            Span::raw(format!(" {}", x.source_ips.join(" "))),
                        ],
                        theme,
                    ));
                }
            }
        }
        None => more.push(kv(
            "firewall",
            vec![Span::styled("none known", theme.warn)],
            theme,
        )),
    }
    if r.keys.is_empty() {
        more.push(kv("keys", vec![Span::styled("none", theme.dim)], theme));
    } else if compact {
        let keys: Vec<String> = r
            .keys
            .iter()
            .map(|k| format!("{} {}", k.label, k.fingerprint_sha256))
            .collect();
        more.push(kv("keys", vec![Span::raw(keys.join(", "))], theme));
    } else {
        for (i, k) in r.keys.iter().enumerate() {
            more.push(kv(
                if i == 0 { "keys" } else { "" },
                vec![
                    Span::raw(format!("{} ", k.label)),
                    Span::styled(k.fingerprint_sha256.clone(), theme.dim),
                ],
                theme,
            ));
        }
    }
    if row.labels.is_empty() {
        more.push(kv("labels", vec![Span::styled("none", theme.dim)], theme));
    } else if compact {
        let labels: Vec<String> = row.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        more.push(kv(
            "labels",
            vec![Span::styled(labels.join(" "), theme.dim)],
            theme,
        ));
    } else {
        for (i, (k, v)) in row.labels.iter().enumerate() {
            more.push(kv(
                if i == 0 { "labels" } else { "" },
                vec![Span::styled(format!("{k}={v}"), theme.dim)],
                theme,
            ));
        }
    }
    (main, more)
}

fn vm_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(row) = model.selected_vm() else {
        let block = panel(
            title(vec![Span::styled("Detail", theme.title)], theme),
            theme,
        );
        frame.render_widget(
            Paragraph::new(Span::styled("no VM selected", theme.dim)).block(block),
            area,
        );
        return;
    };
    let name = truncate(&row.record.name, usize::from(area.width.saturating_sub(6))).into_owned();
    let block = panel(title(vec![Span::styled(name, theme.title)], theme), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let tall = inner.height >= 24;
    let two_columns = !tall && inner.width >= 110;
    let (main, more) = detail_lines(row, model, theme, !tall && !two_columns);
    let clip_all = |lines: Vec<Line<'static>>, w: u16| -> Vec<Line<'static>> {
        lines.into_iter().map(|l| clip(l, usize::from(w))).collect()
    };
    // Lines borrow the row; clone to 'static so that clipping can own them.
    let own = |lines: Vec<Line<'_>>| -> Vec<Line<'static>> {
        lines
            .into_iter()
            .map(|l| {
                let style = l.style;
                Line::from(
                    l.spans
                        .into_iter()
                        .map(|s| Span::styled(s.content.into_owned(), s.style))
                        .collect::<Vec<_>>(),
                )
                .style(style)
            })
            .collect()
    };
    if two_columns {
        // The identity lines get the width they need first (at least half, leaving the
        // attachments at least 40 columns).
        let need = main.iter().map(Line::width).max().unwrap_or(0);
        let need = u16::try_from(need).unwrap_or(u16::MAX);
        let left_w = need
            .min(inner.width.saturating_sub(2 + 40))
            .max(inner.width.saturating_sub(2) / 2);
        let [left, right] = Layout::horizontal([Constraint::Length(left_w), Constraint::Min(1)])
            .spacing(2)
            .areas(inner);
        frame.render_widget(Paragraph::new(clip_all(own(main), left.width)), left);
        frame.render_widget(Paragraph::new(clip_all(own(more), right.width)), right);
    } else {
        let mut lines = own(main);
        if tall {
            lines.push(Line::from(""));
        }
        lines.extend(own(more));
        frame.render_widget(Paragraph::new(clip_all(lines, inner.width)), inner);
    }
}
