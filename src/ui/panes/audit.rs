//! The Audit pane: the timeline table, the filter line under it (substring and kind) and the
//! detail view of one event with every field, hashes included.

use crate::app::Model;
use crate::app::panes::audit::selected_event;
use crate::ui::text::{clip, truncate, width};
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    HIGHLIGHT, centered, dialog, empty_hint, header, kv, panel, table_state, table_window, title,
};
use crate::view::vm_index::age;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, HighlightSpacing, Paragraph, Row, Table, Wrap};

/// The timeline, a filter line under it while a filter is set or edited, and the detail view.
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let ui = &model.audit_ui;
    let filtering = ui.editing || !ui.filter.is_empty() || ui.kind.is_some();
    let table = if filtering && area.height > 4 {
        let [top, line] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let kind = ui.kind.map_or("all", |k| k.as_str());
        let mut spans = vec![
            Span::styled(" filter ", theme.label),
            Span::styled(ui.filter.to_string(), theme.title),
        ];
        if ui.editing {
            spans.push(Span::styled("▏", theme.key));
        }
        spans.push(Span::styled(format!("  kind {kind}"), theme.warn));
        spans.push(Span::styled(
            if ui.editing {
                "  Enter keep · Esc clear"
            } else {
                "  / edit · K kind · Enter detail"
            },
            theme.dim,
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)), line);
        top
    } else {
        area
    };
    timeline(frame, model, theme, table);
    if ui.detail {
        detail(frame, model, theme, area);
    }
}

/// The title's evidence part: `verified against checkpoint #N (signed, 2 min ago)`, or what
/// failed in words; a failing witness is added (`witness failed: …`).
fn evidence_span(
    s: &crate::domain::evidence::AuditStatus,
    now: chrono::DateTime<chrono::Utc>,
    theme: &Theme,
) -> Span<'static> {
    let witness = s
        .witness_error
        .as_ref()
        .map(|e| format!(" · witness failed: {e}"))
        .unwrap_or_default();
    match (&s.problem, s.checkpoint) {
        (Some(p), _) => Span::styled(format!("NOT VERIFIED: {p}{witness}"), theme.error),
        (None, Some(n)) => {
            let when = s
                .signed_at
                .map(|t| format!("signed, {} ago", ago_words(t, now)))
                .unwrap_or_else(|| "signed".into());
            let style = if witness.is_empty() {
                theme.ok
            } else {
                theme.warn
            };
            Span::styled(
                format!("verified against checkpoint #{n} ({when}){witness}"),
                style,
            )
        }
        (None, None) => Span::styled(
            format!("no checkpoint yet (the next event publishes one){witness}"),
            theme.warn,
        ),
    }
}

/// `45 s`, `2 min`, `3 h`, `4 d` between `then` and `now`.
fn ago_words(then: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

fn detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(e) = selected_event(model) else {
        return;
    };
    let kv = |k: &'static str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<11}"), theme.label),
            Span::raw(v),
        ])
    };
    let chain = match model.snapshot.audit_verified {
        Some(true) => "verified",
        Some(false) => "BROKEN: the log was altered",
        None => "not checked",
    };
    let lines = vec![
        kv("seq", e.seq.to_string()),
        kv("id", e.id.to_string()),
        kv(
            "at",
            format!(
                "{} ({} ago)",
                e.at.format("%Y-%m-%d %H:%M:%S UTC"),
                age(e.at, model.now)
            ),
        ),
        kv("kind", e.kind.to_string()),
        kv("vm", format!("{} {}", e.vm_name, e.vm_id)),
        kv(
            "server",
            e.hetzner_server_id
                .map_or_else(|| "-".to_string(), |s| format!("#{s}")),
        ),
        kv("tier", format!("{} · region {}", e.tier, e.region)),
        kv(
            "accounts",
            match &e.to_account {
                Some(to) => format!("{} → {to}", e.account),
                None => e.account.clone(),
            },
        ),
        kv("actor", e.actor.clone()),
        kv("outcome", e.outcome.clone()),
        kv("prev hash", e.prev_hash.clone()),
        kv("hash", e.hash.clone()),
        kv("chain", chain.to_string()),
        Line::from(Span::styled("Enter/Esc close", theme.dim)),
    ];
    let w = area.width.saturating_sub(4).min(90);
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let h = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
    let rect = centered(area, w, h);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(dialog(
                Span::styled(format!(" Audit event {} ", e.seq), theme.title),
                theme.title,
                theme,
            ))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

// ---------------------------------------------------------------------------------------------
// Audit

fn audit_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(e) = model
        .audit_ui
        .rows
        .get(model.audit_ui.list.selected)
        .and_then(|&i| model.snapshot.audit.get(i))
    else {
        return;
    };
    let accounts = match &e.to_account {
        Some(to) => format!("{} → {to}", e.account),
        None => e.account.clone(),
    };
    let server = e
        .hetzner_server_id
        .map_or_else(String::new, |id| format!(" · Hetzner #{id}"));
    let lines = vec![
        kv(
            "event",
            vec![
                Span::styled(format!("#{} {}", e.seq, e.kind), theme.key),
                Span::raw(format!(" · {} UTC", e.at.format("%Y-%m-%d %H:%M:%S"))),
                Span::styled(format!(" · id {}", e.id), theme.dim),
            ],
            theme,
        ),
        kv(
            "vm",
            vec![
                Span::raw(format!("{} · {} {}{server}", e.vm_name, e.tier, e.region)),
                Span::styled(format!(" · id {}", e.vm_id), theme.dim),
            ],
            theme,
        ),
        kv("accounts", vec![Span::raw(accounts)], theme),
        kv(
            "actor",
            vec![Span::raw(format!("{} · outcome {}", e.actor, e.outcome))],
            theme,
        ),
        kv(
            "chain",
            vec![Span::styled(
                format!("prev {} · hash {}", e.prev_hash, e.hash),
                theme.dim,
            )],
            theme,
        ),
    ];
    let block = panel(
        title(vec![Span::styled("Event", theme.title)], theme),
        theme,
    );
    let w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Widths of the audit table's fixed columns (display columns).
struct AuditFixed {
    seq: usize,
    ago: usize,
    kind: usize,
    tier: usize,
}

/// What the audit table shows at a given width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AuditLayout {
    /// `2026-11-18 12:00` (16 columns) rather than `11-18 12:00` (11).
    full_date: bool,
    /// The AGO column (dropped first when even the short layout does not fit).
    ago: bool,
    /// The TIER REGION column.
    tier: bool,
    /// VM, ACCOUNTS, ACTOR, OUTCOME widths.
    flex: [usize; 4],
}

/// Fits the audit table into `avail` columns (inside the border and highlight symbol): the
/// fixed columns (SEQ, TIME UTC, AGO, KIND, TIER REGION) are never cut; the flexible ones (VM,
/// ACCOUNTS, ACTOR, OUTCOME) get at least their header, then the spare width in that order up
/// to 20 columns each, then evenly up to their longest cell (`natural`); what is left goes to
/// OUTCOME, the last column. Optional
/// parts are added while they fit beside the flexible columns' content (up to 20 columns each):
/// the full date, then TIER REGION. AGO is dropped only when the short layout does not fit
/// with it.
fn audit_layout(avail: usize, fixed: &AuditFixed, natural: [usize; 4]) -> AuditLayout {
    let mins = [
        width("VM"),
        width("ACCOUNTS"),
        width("ACTOR"),
        width("OUTCOME"),
    ];
    let need = |full_date: bool, ago: bool, tier: bool| -> usize {
        let mut cols = vec![fixed.seq, if full_date { 16 } else { 11 }, fixed.kind];
        if ago {
            cols.push(fixed.ago);
        }
        if tier {
            cols.push(fixed.tier);
        }
        cols.extend(mins);
        cols.iter().sum::<usize>() + cols.len() - 1
    };
    // The full date and TIER REGION only when the flexible columns still get their content
    // (up to 20 columns each): names and accounts say more than the year.
    let wanted: usize = natural
        .iter()
        .zip(mins)
        .map(|(n, m)| (*n).min(20).saturating_sub(m))
        .sum();
    let ago = need(false, true, false) <= avail;
    let full_date = need(true, ago, false) + wanted <= avail;
    let tier = need(full_date, ago, true) + wanted <= avail;
    let mut flex = mins;
    let mut spare = avail.saturating_sub(need(full_date, ago, tier));
    // First in order (VM, ACCOUNTS, ACTOR, OUTCOME) up to 20 columns each, then one column at a
    // time to each flexible column still short of its longest cell.
    for (w, n) in flex.iter_mut().zip(natural) {
        let give = n.min(20).saturating_sub(*w).min(spare);
        *w += give;
        spare -= give;
    }
    while spare > 0 {
        let mut gave = false;
        for (w, n) in flex.iter_mut().zip(natural) {
            if spare > 0 && *w < n {
                *w += 1;
                spare -= 1;
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    flex[3] += spare;
    AuditLayout {
        full_date,
        ago,
        tier,
        flex,
    }
}

/// The audit timeline, newest first, with the chain verification in words.
fn timeline(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let (area, detail_area) = if area.height >= 26 {
        let [t, d] = Layout::vertical([Constraint::Min(6), Constraint::Length(8)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    if let Some(d) = detail_area {
        audit_detail(frame, model, theme, d);
    }
    let events = &model.audit_ui.rows;
    let len = events.len();
    let chain = match (&model.snapshot.audit_status, model.snapshot.audit_verified) {
        (_, Some(false)) => Span::styled("CHAIN BROKEN: the log was altered", theme.error),
        (Some(s), _) => evidence_span(s, model.now, theme),
        (None, Some(true)) => Span::styled("chain verified", theme.ok),
        (None, None) => Span::styled("chain not checked", theme.warn),
    };
    let mut parts = vec![
        Span::styled("Audit", theme.title),
        Span::styled(
            format!(
                "{len} {}, newest first",
                if len == 1 { "event" } else { "events" }
            ),
            theme.label,
        ),
        chain,
    ];
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    if let Some(kind) = model.audit_ui.kind {
        parts.push(Span::styled(format!("kind: {}", kind.as_str()), theme.warn));
    }
    if !model.audit_ui.filter.is_empty() {
        parts.push(Span::styled(
            format!("filter \"{}\"", model.audit_ui.filter),
            theme.warn,
        ));
    }
    let (offset, end) = table_window(&model.audit_ui.list, len, area);
    let mark = match model.snapshot.audit_verified {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "?",
    };
    let shown: Vec<_> = events[offset..end]
        .iter()
        .filter_map(|&i| model.snapshot.audit.get(i))
        .collect();
    struct Texts {
        seq: String,
        day: String,
        ago: String,
        accounts: String,
        tier: String,
    }
    let texts: Vec<Texts> = shown
        .iter()
        .map(|e| Texts {
            seq: format!("{:>3} {mark}", e.seq),
            day: e.at.format("%Y-%m-%d %H:%M").to_string(),
            ago: format!("{} ago", age(e.at, model.now)),
            accounts: match &e.to_account {
                Some(to) => format!("{} → {to}", e.account),
                None => e.account.clone(),
            },
            tier: format!("{} {}", e.tier, e.region),
        })
        .collect();
    let natural = |head: &str, cells: &mut dyn Iterator<Item = &str>| -> usize {
        cells.map(width).chain([width(head)]).max().unwrap_or(0)
    };
    // Border (2) and highlight symbol (2).
    let avail = usize::from(area.width.saturating_sub(4));
    let fixed = AuditFixed {
        seq: natural("SEQ", &mut texts.iter().map(|t| t.seq.as_str())),
        ago: natural("AGO", &mut texts.iter().map(|t| t.ago.as_str())),
        kind: natural("KIND", &mut shown.iter().map(|e| e.kind.as_str())),
        tier: natural("TIER REGION", &mut texts.iter().map(|t| t.tier.as_str())),
    };
    let flex_natural = [
        natural("VM", &mut shown.iter().map(|e| e.vm_name.as_str())),
        natural("ACCOUNTS", &mut texts.iter().map(|t| t.accounts.as_str())),
        natural("ACTOR", &mut shown.iter().map(|e| e.actor.as_str())),
        natural("OUTCOME", &mut shown.iter().map(|e| e.outcome.as_str())),
    ];
    let layout = audit_layout(avail, &fixed, flex_natural);
    let rows: Vec<Row> = shown
        .iter()
        .zip(texts)
        .map(|(e, t)| {
            let outcome_style = if e.outcome == "ok" {
                theme.ok
            } else {
                theme.error
            };
            let [vm_w, acc_w, actor_w, out_w] = layout.flex;
            let time = if layout.full_date {
                t.day
            } else {
                t.day.get(5..).unwrap_or(&t.day).to_string()
            };
            let mut cells = vec![Cell::from(t.seq), Cell::from(time)];
            if layout.ago {
                cells.push(Cell::from(Span::styled(t.ago, theme.dim)));
            }
            cells.push(Cell::from(e.kind.as_str()));
            cells.push(Cell::from(truncate(&e.vm_name, vm_w).into_owned()));
            cells.push(Cell::from(truncate(&t.accounts, acc_w).into_owned()));
            if layout.tier {
                cells.push(Cell::from(t.tier));
            }
            cells.push(Cell::from(truncate(&e.actor, actor_w).into_owned()));
            cells.push(Cell::from(Span::styled(
                truncate(&e.outcome, out_w).into_owned(),
                outcome_style,
            )));
            Row::new(cells)
        })
        .collect();
    let len16 = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
    let [vm_w, acc_w, actor_w, out_w] = layout.flex;
    let mut widths = vec![
        len16(fixed.seq),
        len16(if layout.full_date { 16 } else { 11 }),
    ];
    let mut head = vec!["SEQ", "TIME UTC"];
    if layout.ago {
        widths.push(len16(fixed.ago));
        head.push("AGO");
    }
    widths.extend([len16(fixed.kind), len16(vm_w), len16(acc_w)]);
    head.extend(["KIND", "VM", "ACCOUNTS"]);
    if layout.tier {
        widths.push(len16(fixed.tier));
        head.push("TIER REGION");
    }
    widths.extend([len16(actor_w), len16(out_w)]);
    head.extend(["ACTOR", "OUTCOME"]);
    let table = Table::new(rows, widths)
        .header(header(head.into_iter().map(String::from).collect(), theme))
        .block(panel(title(parts, theme), theme))
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.audit_ui.list, offset, len);
    frame.render_stateful_widget(table, area, &mut st);
    if len == 0 {
        let all = model.snapshot.audit.len();
        let hint = if all == 0 {
            "no audit events: only destroy and transfer are recorded".to_string()
        } else {
            format!(
                "no event matches the filters ({all} event{} in all)",
                if all == 1 { "" } else { "s" }
            )
        };
        empty_hint(frame, area, &hint, theme);
    }
}
