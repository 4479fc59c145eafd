//! The firewall rule editor pane (issue 5): header (firewall, applied-to servers, last change,
//! state), the rules as a table or as text with errors beside the lines, the row form, the
//! review (diff and warnings) and the discard question.

use crate::app::Model;
use crate::app::panes::firewall::{
    FORM_FIELDS, FirewallEditor, LOCKOUT_CONFIRM_WORD, Leave, Review,
};
use crate::domain::firewall::{Change, Redundancy, Rule, WireRule};
use crate::ui::text::{clip, truncate, width};
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    HIGHLIGHT, centered, dialog, empty_hint, header as header_row, kv, panel, table_state,
    table_window, title,
};
use crate::view::vm_index::age;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell, Clear, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap,
};

fn block<'a>(title: Vec<Span<'a>>, theme: &Theme) -> Block<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (i, p) in title.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim));
        }
        spans.push(p);
    }
    spans.push(Span::raw(" "));
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(Line::from(spans))
}

fn hint<'a>(pairs: &[(&'a str, &'a str)], theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (k, d)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim));
        }
        spans.push(Span::styled(*k, theme.key));
        spans.push(Span::styled(format!(" {d}"), theme.dim));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// `+1 ~2 -0` counts of a diff.
pub fn change_counts(changes: &[Change]) -> (usize, usize, usize) {
    changes.iter().fold((0, 0, 0), |(a, c, r), ch| match ch {
        Change::Added(_) => (a + 1, c, r),
        Change::Changed { .. } => (a, c + 1, r),
        Change::Removed(_) => (a, c, r + 1),
    })
}

/// Draws the Firewall pane: the editor, or the read-only view when no VM is picked.
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(ed) = &model.fw.editor else {
        read_only(frame, model, theme, area);
        return;
    };
    let form_h = if ed.form.is_some() { 7 } else { 0 };
    let [head, main, form_area] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Min(3),
        Constraint::Length(form_h),
    ])
    .areas(area);
    header(frame, model, ed, theme, head);
    match &ed.text {
        Some(_) => text_mode(frame, ed, theme, main),
        None => table(frame, model, ed, theme, main),
    }
    if ed.form.is_some() {
        form(frame, ed, theme, form_area);
    }
    if let Some(r) = &ed.review {
        review(frame, model, ed, r, theme, area);
    }
    if let Some(l) = ed.leave {
        leave(frame, ed, l, theme, area);
    }
}

fn server_name(model: &Model, id: i64) -> String {
    match model
        .snapshot
        .vms
        .iter()
        .find(|v| v.record.hetzner_server_id == Some(id))
    {
        Some(v) => format!("{} (#{id})", v.record.name),
        None => format!("#{id}"),
    }
}

fn header(frame: &mut Frame, model: &Model, ed: &FirewallEditor, theme: &Theme, area: Rect) {
    let mut title = vec![
        Span::styled("Firewall", theme.title),
        Span::styled(ed.vm_name.clone(), theme.label),
    ];
    match (&ed.server, ed.firewall_id) {
        (Some(s), _) => title.push(Span::styled(format!("{} #{}", s.name, s.id), theme.dim)),
        (None, Some(id)) => title.push(Span::styled(format!("#{id}"), theme.dim)),
        _ => {}
    }
    let mut lines: Vec<Line> = Vec::new();
    let Some(fw_id) = ed.firewall_id else {
        lines.push(Line::from(Span::styled(
            "no firewall known for this VM (each VM should have its own); nothing to edit",
            theme.warn,
        )));
        frame.render_widget(Paragraph::new(lines).block(block(title, theme)), area);
        return;
    };
    // Line 1: applied to, last change.
    let mut l1: Vec<Span> = Vec::new();
    match &ed.server {
        Some(s) => {
            let mut targets: Vec<String> =
                s.servers.iter().map(|id| server_name(model, *id)).collect();
            for (sel, ids) in &s.label_selectors {
                targets.push(format!("label selector {sel} ({} servers)", ids.len()));
            }
            l1.push(Span::styled("applied to ", theme.label));
            l1.push(Span::raw(if targets.is_empty() {
                "no server".to_string()
            } else {
                targets.join(", ")
            }));
            l1.push(Span::styled(" · last changed ", theme.label));
            l1.push(Span::raw(match &s.last_change {
                Some(c) => format!(
                    "{} ago · {}{} · {} UTC",
                    age(c.finished, model.now),
                    c.command,
                    if c.status == "error" { " (failed)" } else { "" },
                    c.finished.format("%Y-%m-%d %H:%M"),
                ),
                None => "unknown".into(),
            }));
        }
        None => l1.push(Span::styled(
            format!("firewall #{fw_id} · reading from Hetzner…"),
            theme.dim,
        )),
    }
    if ed.loading && ed.server.is_some() {
        l1.push(Span::styled(" · refreshing…", theme.dim));
    }
    lines.push(Line::from(l1));
    // Line 2: mode, counts, state.
    let (a, c, r) = change_counts(&ed.changes());
    let mut l2 = vec![
        Span::styled(if ed.text.is_some() { "TEXT" } else { "TABLE" }, theme.key),
        Span::styled(
            format!(" · {} of at most 50 rules", ed.current_rules().len()),
            theme.dim,
        ),
    ];
    if ed.applying {
        l2.push(Span::styled(
            " · applying… (waiting for Hetzner)",
            theme.warn,
        ));
    } else if ed.dirty() {
        let errors = ed.errors().len();
        l2.push(Span::styled(
            format!(" · unsaved: +{a} ~{c} -{r}"),
            theme.warn,
        ));
        if errors > 0 {
            l2.push(Span::styled(
                format!(" · {errors} error{}", if errors == 1 { "" } else { "s" }),
                theme.error,
            ));
        }
    } else if ed.server.is_some() {
        l2.push(Span::styled(" · as read back from Hetzner", theme.ok));
    }
    if !ed.foreign.is_empty() {
        l2.push(Span::styled(
            format!(" · {} not editable at v1 (!)", ed.foreign.len()),
            theme.warn,
        ));
    }
    if model.read_only {
        l2.push(Span::styled(
            " · READ-ONLY: applying is refused",
            theme.warn,
        ));
    }
    lines.push(Line::from(l2));
    // Line 3: failure, message, or the v1 scope note.
    let l3 = if let Some(f) = &ed.failure {
        Line::from(Span::styled(f.summary(), theme.error))
    } else if let Some(m) = &ed.message {
        Line::from(Span::styled(m.clone(), theme.label))
    } else {
        Line::from(Span::styled(
            "inbound tcp/udp only, default deny: only these rules let traffic in · no outbound or ICMP rules at v1",
            theme.dim,
        ))
    };
    lines.push(l3);
    let w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block(title, theme)), area);
}

fn same(a: &Rule, b: &Rule) -> bool {
    let mut x = a.source_ips.clone();
    let mut y = b.source_ips.clone();
    x.sort();
    y.sort();
    a.key() == b.key() && a.description == b.description && x == y
}

/// Per rule: `+` added, `~` changed, blank unchanged (against Hetzner's rules, each of which
/// matches at most one row, identical rows first).
fn row_marks(base: &[Rule], rules: &[Rule]) -> Vec<&'static str> {
    let mut used = vec![false; base.len()];
    let mut marks = vec!["+"; rules.len()];
    for (i, r) in rules.iter().enumerate() {
        if let Some(j) = (0..base.len()).find(|&j| !used[j] && same(&base[j], r)) {
            used[j] = true;
            marks[i] = " ";
        }
    }
    for (i, r) in rules.iter().enumerate() {
        if marks[i] == "+"
            && let Some(j) = (0..base.len()).find(|&j| !used[j] && base[j].key() == r.key())
        {
            used[j] = true;
            marks[i] = "~";
        }
    }
    marks
}

fn wire_port(w: &WireRule) -> String {
    w.port.clone().unwrap_or_else(|| "-".into())
}

fn table(frame: &mut Frame, model: &Model, ed: &FirewallEditor, theme: &Theme, area: Rect) {
    let len = ed.row_count();
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let list = &model.fw.list;
    let offset = list.scroll_to(len, height);
    list.top.set(area.y + 2);
    let end = (offset + height).min(len);
    let errors = crate::domain::firewall::validate_rules(&ed.rules);
    let marks = row_marks(&ed.base, &ed.rules);
    let fixed = 2 + 2 + 3 + 6 + 12 + 4;
    let src_w = usize::from(area.width.saturating_sub(2)).saturating_sub(fixed);
    let src_w = (src_w / 2).max(14);
    let rows: Vec<Row> = (offset..end)
        .map(|i| {
            if let Some(r) = ed.rules.get(i) {
                let bad = errors.iter().any(|e| e.line == i + 1);
                let mark = if bad { "✗" } else { marks[i] };
                let sources: Vec<String> = r.source_ips.iter().map(|n| n.to_string()).collect();
                let style = if bad { theme.error } else { Style::default() };
                Row::new(vec![
                    Cell::from(Span::styled(mark, theme.warn)),
                    Cell::from(format!("{}", i + 1)),
                    Cell::from(r.protocol.as_str()),
                    Cell::from(r.port.to_string()),
                    Cell::from(truncate(&sources.join(" "), src_w).into_owned()),
                    Cell::from(r.description.clone()),
                ])
                .style(style)
            } else {
                let f = &ed.foreign[i - ed.rules.len()];
                let peers = if f.wire.direction == "out" {
                    format!("→ {}", f.wire.destination_ips.join(" "))
                } else {
                    f.wire.source_ips.join(" ")
                };
                Row::new(vec![
                    Cell::from(Span::styled("!", theme.warn)),
                    Cell::from("-"),
                    Cell::from(format!(
                        "{}{}",
                        f.wire.protocol,
                        if f.wire.direction == "out" { "↑" } else { "" }
                    )),
                    Cell::from(wire_port(&f.wire)),
                    Cell::from(truncate(&peers, src_w).into_owned()),
                    Cell::from(format!("dropped on apply: {}", f.reason)),
                ])
                .style(theme.dim)
            }
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(u16::try_from(src_w).unwrap_or(14)),
        Constraint::Min(8),
    ];
    let keys = if ed.form.is_some() {
        hint(&[], theme)
    } else {
        hint(
            &[
                ("a", "add"),
                ("e", "edit"),
                ("y", "dup"),
                ("d", "del"),
                ("K/J", "move"),
                ("t", "text"),
                ("w", "apply"),
                ("Esc", "discard"),
            ],
            theme,
        )
    };
    let b = block(
        vec![
            Span::styled("Rules", theme.title),
            Span::styled("+ new  ~ changed  ! v1 cannot keep", theme.dim),
        ],
        theme,
    )
    .title_bottom(keys);
    let t = Table::new(rows, widths)
        .header(
            Row::new(["", "#", "PROTO", "PORT", "SOURCES", "DESCRIPTION"].map(Cell::from))
                .style(theme.header),
        )
        .block(b)
        .row_highlight_style(theme.selected)
        .highlight_symbol("› ")
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = TableState::default();
    if len > 0 && ed.form.is_none() {
        st.select(Some(list.selected.saturating_sub(offset)));
    }
    frame.render_stateful_widget(t, area, &mut st);
    if len == 0 && area.height > 4 {
        let r = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no rules: all inbound traffic is dropped (a adds one, t edits as text)",
                theme.dim,
            )),
            r,
        );
    }
}

fn text_mode(frame: &mut Frame, ed: &FirewallEditor, theme: &Theme, area: Rect) {
    let Some(t) = &ed.text else {
        return;
    };
    let n = t.errors.len();
    let status = if n == 0 {
        Span::styled(format!("{} rules, no errors", t.rules.len()), theme.ok)
    } else {
        Span::styled(
            format!("{n} error{}", if n == 1 { "" } else { "s" }),
            theme.error,
        )
    };
    let b = block(
        vec![
            Span::styled("Rules as text", theme.title),
            Span::styled("PROTO PORT SOURCES # DESCRIPTION", theme.dim),
            status,
        ],
        theme,
    )
    .title_bottom(hint(
        &[
            ("Esc", "table"),
            ("Ctrl-s", "apply"),
            ("paste", "many lines"),
            ("Ctrl-z", "undo"),
        ],
        theme,
    ));
    let inner = b.inner(area);
    frame.render_widget(b, area);
    // Every error in full under the text (up to 5 rows), the gutter marks the lines.
    let list_h = u16::try_from(n.min(5)).unwrap_or(5).min(inner.height / 3);
    let [inner, list] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(list_h)]).areas(inner);
    if list_h > 0 {
        let shown: Vec<Line> = t
            .errors
            .iter()
            .take(usize::from(list_h))
            .enumerate()
            .map(|(i, e)| {
                let more = if i + 1 == usize::from(list_h) && n > usize::from(list_h) {
                    format!(" (+{} more)", n - usize::from(list_h))
                } else {
                    String::new()
                };
                clip(
                    Line::from(Span::styled(format!("✗ {e}{more}"), theme.error)),
                    usize::from(list.width),
                )
            })
            .collect();
        frame.render_widget(Paragraph::new(shown), list);
    }
    let err_w = if n == 0 {
        0
    } else {
        (inner.width * 2 / 5).clamp(20, 60)
    };
    let [edit, gutter] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(err_w)]).areas(inner);
    let mut ta = t.area.clone();
    ta.set_line_number_style(theme.dim);
    ta.set_cursor_line_style(Style::default());
    ta.set_cursor_style(theme.selected.add_modifier(Modifier::REVERSED));
    ta.set_placeholder_text("one rule a line, e.g. tcp 443 0.0.0.0/0,::/0 # HTTPS");
    frame.render_widget(&ta, edit);
    if err_w == 0 {
        return;
    }
    let (top, _) = ta.scroll_offset();
    let top = usize::from(top);
    let lines: Vec<Line> = (0..usize::from(gutter.height))
        .map(|i| {
            let ln = top + i + 1;
            let errs: Vec<String> = t
                .errors
                .iter()
                .filter(|e| e.line == ln)
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            if errs.is_empty() {
                Line::from("")
            } else {
                Line::from(Span::styled(
                    truncate(&format!("✗ {ln}: {}", errs.join("; ")), usize::from(err_w))
                        .into_owned(),
                    theme.error,
                ))
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), gutter);
}

fn form(frame: &mut Frame, ed: &FirewallEditor, theme: &Theme, area: Rect) {
    let Some(f) = &ed.form else {
        return;
    };
    let title = match f.row {
        Some(r) => format!("Edit rule {}", r + 1),
        None => format!("New rule {}", f.insert_at + 1),
    };
    let hints = [
        "Space: tcp / udp",
        "N or LOW-HIGH, 1-65535",
        "CIDRs or addresses, comma-separated; 0.0.0.0/0,::/0 = anywhere",
        "optional, up to 255 characters",
    ];
    let val_w = usize::from(area.width).saturating_sub(18) / 2;
    let lines: Vec<Line> = (0..4)
        .map(|i| {
            let focused = f.focus == i;
            let mut spans = vec![
                Span::styled(if focused { "› " } else { "  " }, theme.key),
                Span::styled(format!("{:<12}", FORM_FIELDS[i]), theme.label),
            ];
            let value = truncate(f.fields[i].text(), val_w.saturating_sub(1)).into_owned();
            let pad = val_w.saturating_sub(width(&value) + usize::from(focused));
            spans.push(Span::styled(
                value,
                if focused {
                    Style::default().add_modifier(Modifier::BOLD)
                } else {
                    Style::default()
                },
            ));
            if focused {
                spans.push(Span::styled("█", theme.dim));
            }
            spans.push(Span::raw(" ".repeat(pad)));
            match &f.errors[i] {
                Some(e) => spans.push(Span::styled(format!(" ✗ {e}"), theme.error)),
                None if focused => spans.push(Span::styled(format!(" {}", hints[i]), theme.dim)),
                None => {}
            }
            clip(Line::from(spans), usize::from(area.width.saturating_sub(2)))
        })
        .collect();
    let b = block(vec![Span::styled(title, theme.title)], theme)
        .border_style(theme.title)
        .title_bottom(hint(
            &[("Tab", "next field"), ("Enter", "keep"), ("Esc", "cancel")],
            theme,
        ));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(b), area);
}

/// The review's lines (also used by tests through the rendered screen).
fn review_lines<'a>(ed: &FirewallEditor, r: &Review, theme: &Theme) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = Vec::new();
    let fw = ed.server.as_ref().map_or_else(
        || format!("#{}", ed.firewall_id.unwrap_or_default()),
        |s| format!("{} #{}", s.name, s.id),
    );
    lines.push(Line::from(vec![Span::raw(format!(
        "{} rules replace the whole list of firewall {fw} ({}).",
        r.rules.len(),
        ed.vm_name
    ))]));
    lines.push(Line::from(""));
    let (a, c, d) = change_counts(&r.changes);
    lines.push(Line::from(Span::styled(
        format!("Changes: {a} added, {c} changed, {d} removed"),
        theme.header,
    )));
    if r.changes.is_empty() {
        lines.push(Line::from(Span::styled(
            "  none to the rules v1 edits",
            theme.dim,
        )));
    }
    for ch in &r.changes {
        match ch {
            Change::Added(x) => lines.push(Line::from(Span::styled(
                format!("  + {}", x.to_line()),
                theme.ok,
            ))),
            Change::Removed(x) => lines.push(Line::from(Span::styled(
                format!("  - {}", x.to_line()),
                theme.error,
            ))),
            Change::Changed { before, after } => {
                lines.push(Line::from(Span::styled(
                    format!("  ~ {}", before.to_line()),
                    theme.warn,
                )));
                lines.push(Line::from(Span::styled(
                    format!("    → {}", after.to_line()),
                    theme.warn,
                )));
            }
        }
    }
    if !r.dropped.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            format!(
                "Dropped: {} rule{} Hetzner holds that v1 cannot send (no outbound or ICMP rules at v1)",
                r.dropped.len(),
                if r.dropped.len() == 1 { "" } else { "s" }
            ),
            theme.error,
        )));
        for f in &r.dropped {
            let peers = if f.wire.direction == "out" {
                f.wire.destination_ips.join(",")
            } else {
                f.wire.source_ips.join(",")
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "  ! {} {} {} {} — {}",
                    f.wire.direction,
                    f.wire.protocol,
                    wire_port(&f.wire),
                    peers,
                    f.reason
                ),
                theme.error,
            )));
        }
        if r.dropped.iter().any(|f| f.wire.direction == "out") {
            lines.push(Line::from(Span::styled(
                "    without outbound rules Hetzner allows all outbound traffic",
                theme.dim,
            )));
        }
    }
    let warnings = usize::from(r.lockout) + r.exposures.len() + r.redundant.len();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!("Warnings: {warnings}"),
        theme.header,
    )));
    if r.lockout {
        let who = match r.operator_ip {
            Some(ip) => format!("your address {ip} (SSH_CONNECTION)"),
            None => "anywhere".to_string(),
        };
        lines.push(Line::from(Span::styled(
            format!(
                "  ⚠ LOCKOUT: no rule lets TCP/22 in from {who}: SSH to this VM will be refused"
            ),
            theme.error.add_modifier(Modifier::BOLD),
        )));
    }
    for e in &r.exposures {
        let ports: Vec<String> = e.ports.iter().map(|(p, s)| format!("{p} ({s})")).collect();
        let srcs: Vec<String> = e.sources.iter().map(|n| n.to_string()).collect();
        lines.push(Line::from(Span::styled(
            format!(
                "  ⚠ rule {} opens {} to the whole internet ({})",
                e.index + 1,
                ports.join(", "),
                srcs.join(", ")
            ),
            theme.warn,
        )));
    }
    for x in &r.redundant {
        let what = match x.kind {
            Redundancy::Duplicate => "duplicates",
            Redundancy::Shadowed => "is shadowed by",
        };
        lines.push(Line::from(Span::styled(
            format!("  ⚠ rule {} {what} rule {}", x.index + 1, x.by + 1),
            theme.warn,
        )));
    }
    if warnings == 0 {
        lines.push(Line::from(Span::styled("  none", theme.dim)));
    }
    lines.push(Line::from(Span::styled(
        "  note: ICMP (ping) and outbound rules are not available at v1; inbound is default deny",
        theme.dim,
    )));
    lines
}

fn review(
    frame: &mut Frame,
    model: &Model,
    ed: &FirewallEditor,
    r: &Review,
    theme: &Theme,
    area: Rect,
) {
    let lines = review_lines(ed, r, theme);
    let w = area.width.saturating_sub(4).min(110);
    let h = u16::try_from(lines.len() + 4)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let rect = centered(area, w, h);
    let footer = if r.lockout {
        Line::from(vec![
            Span::styled(" type ", theme.dim),
            Span::styled(LOCKOUT_CONFIRM_WORD, theme.key),
            Span::styled(" + Enter to apply anyway: ", theme.dim),
            Span::styled(format!("{}█", r.typed), theme.key),
            Span::styled(" · Esc back ", theme.dim),
        ])
    } else {
        hint(
            &[("y/Enter", "apply"), ("Esc", "back"), ("↑↓", "scroll")],
            theme,
        )
    };
    let mut footer_spans = footer.spans;
    if model.read_only {
        footer_spans.push(Span::styled(" READ-ONLY: will be refused ", theme.warn));
    }
    let b = dialog(
        Span::styled(" Review and apply ", theme.title),
        if r.lockout { theme.error } else { theme.title },
        theme,
    )
    .title_bottom(Line::from(footer_spans));
    let scroll = u16::try_from(r.scroll.min(lines.len().saturating_sub(1))).unwrap_or(0);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(b)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        rect,
    );
}

fn leave(frame: &mut Frame, ed: &FirewallEditor, l: Leave, theme: &Theme, area: Rect) {
    let (a, c, r) = change_counts(&ed.changes());
    let errors = ed.errors().len();
    let mut lines = vec![
        Line::from(format!(
            "Unsaved edits to the firewall of {}: +{a} ~{c} -{r}{}.",
            ed.vm_name,
            if errors > 0 {
                format!(", {errors} line errors")
            } else {
                String::new()
            }
        )),
        Line::from(""),
    ];
    lines.push(Line::from(vec![
        Span::styled("y", theme.key),
        Span::raw(format!(" {l}   ")),
        Span::styled("n", theme.key),
        Span::raw(" / "),
        Span::styled("Esc", theme.key),
        Span::raw(" keep editing"),
    ]));
    let rect = centered(area, 72, 5);
    let b = dialog(
        Span::styled(" Discard edits? ", theme.warn),
        theme.warn,
        theme,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(b).wrap(Wrap { trim: true }),
        rect,
    );
}

// ---------------------------------------------------------------------------------------------
// Firewall

/// The selected VM's firewall, read-only: rules as read back from Hetzner.
fn read_only(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let [info, table_area] =
        Layout::vertical([Constraint::Length(5), Constraint::Min(4)]).areas(area);
    let Some(vm) = model.selected_vm() else {
        let block = panel(
            title(vec![Span::styled("Firewall", theme.title)], theme),
            theme,
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no VM selected: pick one in the VMs pane (1)",
                theme.dim,
            ))
            .block(block),
            area,
        );
        return;
    };
    let mut lines = Vec::new();
    match &vm.firewall {
        Some(f) => {
            let applied: Vec<String> = f
                .applied_to
                .iter()
                .map(|id| {
                    match model
                        .snapshot
                        .vms
                        .iter()
                        .find(|v| v.record.hetzner_server_id == Some(*id))
                    {
                        Some(v) => format!("{} (#{id})", v.record.name),
                        None => format!("#{id}"),
                    }
                })
                .collect();
            lines.push(kv(
                "firewall",
                vec![
                    Span::styled(f.name.clone(), theme.key),
                    Span::styled(format!(" · Hetzner #{}", f.id), theme.dim),
                ],
                theme,
            ));
            lines.push(kv(
                "applied",
                vec![Span::raw(if applied.is_empty() {
                    "to no server".to_string()
                } else {
                    format!("to {}", applied.join(", "))
                })],
                theme,
            ));
        }
        None => lines.push(Line::from(Span::styled(
            "no firewall known for this VM (it should have its own)",
            theme.warn,
        ))),
    }
    lines.push(Line::from(Span::styled(
        if area.width >= 120 {
            "inbound only, default deny: only these rules let traffic in · no outbound or ICMP rules at v1 · read-only here"
        } else {
            "inbound only, default deny · no outbound/ICMP rules at v1 · read-only"
        },
        theme.dim,
    )));
    let block = panel(
        title(
            vec![
                Span::styled("Firewall", theme.title),
                Span::styled(vm.record.name.clone(), theme.key),
            ],
            theme,
        ),
        theme,
    );
    let w = usize::from(info.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), info);
    let rules = vm.firewall.as_ref().map_or(&[][..], |f| &f.rules[..]);
    let len = rules.len();
    let (offset, end) = table_window(&model.fw.list, len, table_area);
    // Sources get what they need (at least 18 columns), the description the rest.
    let avail = usize::from(table_area.width.saturating_sub(2 + 2 + 3 + 4 + 6 + 11 + 5));
    let widest = rules
        .iter()
        .map(|r| width(&r.source_ips.join(" ")))
        .max()
        .unwrap_or(0);
    let src_w = widest.clamp(18, avail.saturating_sub(16).max(18));
    let rows: Vec<Row> = rules[offset..end]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Row::new(vec![
                Cell::from(format!("{}", offset + i + 1)),
                Cell::from(r.direction.clone()),
                Cell::from(r.protocol.clone()),
                Cell::from(if r.port.is_empty() {
                    "-".to_string()
                } else {
                    r.port.clone()
                }),
                Cell::from(truncate(&r.source_ips.join(" "), src_w).into_owned()),
                Cell::from(r.description.clone()),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(u16::try_from(src_w).unwrap_or(18)),
        Constraint::Min(10),
    ];
    let block = panel(
        title(
            vec![
                Span::styled("Rules", theme.title),
                Span::styled(format!("{len} of at most 50"), theme.label),
            ],
            theme,
        ),
        theme,
    );
    let table = Table::new(rows, widths)
        .header(header_row(
            ["#", "DIR", "PROTO", "PORT", "SOURCES", "DESCRIPTION"]
                .map(String::from)
                .to_vec(),
            theme,
        ))
        .block(block)
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.fw.list, offset, len);
    frame.render_stateful_widget(table, table_area, &mut st);
    if len == 0 {
        empty_hint(
            frame,
            table_area,
            "no rules: all inbound traffic is dropped",
            theme,
        );
    }
}
