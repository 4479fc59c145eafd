//! Drawing the model: tab bar, the current pane, the status bar, overlays and toasts.
//!
//! [`render`] reads the model only (the list states' scroll offsets are `Cell`s it updates), so
//! it works the same on a real terminal and on ratatui's `TestBackend` (snapshot tests,
//! screenshots, the benchmark). Only the rows on screen are built.

use super::panes;
use super::text::{fit, truncate, width};
use super::theme::Theme;
use super::widgets::{centered, dialog};
use crate::app::keymap::{self, Scope};
use crate::app::{AccountsOverlay, Model, Overlay, Pane, help_line_count};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// Smallest terminal the layout supports, in columns.
pub const MIN_WIDTH: u16 = 60;
/// Smallest terminal the layout supports, in rows.
pub const MIN_HEIGHT: u16 = 15;

/// Draws the whole screen for `model` into `frame`.
pub fn render(frame: &mut Frame, model: &Model) {
    let theme = Theme::new(model.no_color);
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
            area.width, area.height
        );
        let hint = "resize, or press q to quit";
        // Rows the wrapped message needs, so that a very small terminal still shows the sizes.
        let w = usize::from(area.width.max(1));
        let rows = [msg.as_str(), hint]
            .iter()
            .map(|l| super::text::width(l).div_ceil(w))
            .sum::<usize>();
        let rows = u16::try_from(rows).unwrap_or(u16::MAX).min(area.height);
        let lines = vec![Line::from(msg), Line::from(hint)];
        let rect = Rect::new(area.x, area.y + (area.height - rows) / 2, area.width, rows);
        frame.render_widget(
            Paragraph::new(lines).centered().wrap(Wrap { trim: true }),
            rect,
        );
        return;
    }
    let [tabs, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_tabs(frame, model, &theme, tabs);
    // The filter / command line takes the last body row(s) while open.
    let (body, input_area) = match &model.overlay {
        Some(Overlay::Command(c)) if c.error.is_some() => split_bottom(body, 2),
        Some(Overlay::Command(_)) | Some(Overlay::Filter(_)) => split_bottom(body, 1),
        _ => (body, None),
    };
    match model.pane {
        Pane::Vms => panes::vms::draw(frame, model, &theme, body),
        Pane::Firewall => panes::firewall::draw(frame, model, &theme, body),
        Pane::Vault => panes::vault::draw(frame, model, &theme, body),
        Pane::Usage => panes::usage::draw(frame, model, &theme, body),
        Pane::Audit => panes::audit::draw(frame, model, &theme, body),
    }
    if let Some(input) = input_area {
        render_input_line(frame, model, &theme, input);
    }
    render_status(frame, model, &theme, bottom);
    match &model.overlay {
        Some(Overlay::Help { scroll }) => render_help(frame, &theme, body, *scroll),
        Some(Overlay::Accounts(a)) => render_accounts(frame, model, &theme, body, a),
        _ => {}
    }
    panes::vault::dialog(frame, model, &theme, body);
    super::lifecycle::dialog(frame, model, &theme, body);
}

fn split_bottom(area: Rect, rows: u16) -> (Rect, Option<Rect>) {
    let [top, bottom] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(rows)]).areas(area);
    (top, Some(bottom))
}

fn render_tabs(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let mut spans = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let style = if *pane == model.pane {
            theme.tab_active
        } else {
            theme.tab
        };
        spans.push(Span::styled(pane.tab_label(), style));
    }
    let left = Line::from(spans);
    let account = match &model.account_filter {
        Some(a) => format!("account: {a}"),
        None => "all accounts".to_string(),
    };
    let right = Line::from(vec![
        Span::styled(account, theme.label),
        Span::styled("  crabglamp ", theme.dim),
    ])
    .right_aligned();
    let fits = right.width() + left.width() + 2 <= usize::from(area.width);
    frame.render_widget(left, area);
    if fits {
        frame.render_widget(right, area);
    }
}

fn render_status(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    frame.render_widget(Block::default().style(theme.bar), area);
    let mut spans: Vec<Span> = Vec::new();
    for badge in model.badges() {
        let style = match badge {
            "LIVE" => theme.badge_live,
            "DEMO" => theme.badge_demo,
            "READ-ONLY" => theme.badge_read_only,
            _ => theme.badge_offline,
        };
        spans.push(Span::styled(format!(" {badge} "), style));
        spans.push(Span::raw(" "));
    }
    // Where the data comes from; the socket path only when the bar is wide.
    let attachment = match &model.attachment {
        crate::protocol::wire::Attachment::Shared { host, .. } if area.width < 120 => {
            format!("shared · {host}")
        }
        other => other.label(),
    };
    let attachment: String = attachment
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    spans.push(Span::styled(attachment, theme.dim));
    spans.push(Span::styled(" │ ", theme.bar));
    let sync = model.sync_label();
    let sync_style = if sync.contains("stale") {
        theme.warn
    } else {
        theme.bar
    };
    spans.push(Span::styled(sync, sync_style));
    if let Some(b) = model.budget {
        spans.push(Span::styled(" │ ", theme.bar));
        spans.push(Span::styled(
            format!("API {}/{}", b.remaining, b.limit),
            if b.remaining < b.limit / 10 {
                theme.warn
            } else {
                theme.bar
            },
        ));
    }
    // A checkpoint that could not leave the store is evidence at risk: said on every pane
    // (the Audit pane's title says why).
    if model
        .snapshot
        .audit_status
        .as_ref()
        .is_some_and(|s| s.witness_error.is_some())
    {
        spans.push(Span::styled(" │ ", theme.bar));
        spans.push(Span::styled("audit witness failing", theme.error));
    }
    if let Some(err) = &model.last_error {
        spans.push(Span::styled(" │ ", theme.bar));
        spans.push(Span::styled(format!("error: {err}"), theme.error));
    }
    let left = Line::from(spans).style(theme.bar);
    let hint = Line::from(vec![
        Span::styled("?", theme.key),
        Span::styled(" help  ", theme.bar),
        Span::styled(":", theme.key),
        Span::styled(" cmd  ", theme.bar),
        Span::styled("q", theme.key),
        Span::styled(" quit ", theme.bar),
    ])
    .right_aligned();
    let lw = left.width();
    let total = usize::from(area.width);
    frame.render_widget(left, area);
    // The newest toast goes in the free middle of the status bar, so it hides no pane
    // text; when it does not fit beside the key hint, the hint gives way.
    let mut show_hint = lw + hint.width() < total;
    if let Some(toast) = model.toasts.last() {
        let text = if toast.error {
            format!(" error: {} ", toast.text)
        } else {
            format!(" {} ", toast.text)
        };
        let x = lw + 1;
        let beside_hint = total.saturating_sub(x + hint.width());
        let room = if show_hint && width(&text) <= beside_hint {
            beside_hint
        } else {
            show_hint = false;
            total.saturating_sub(x)
        };
        let text = truncate(&text, room).into_owned();
        let w = u16::try_from(width(&text)).unwrap_or(0);
        if w > 0 {
            let style = if toast.error {
                theme.badge_offline
            } else {
                theme.badge_read_only
            };
            let rect = Rect::new(
                area.x + u16::try_from(x).unwrap_or(area.width),
                area.y,
                w,
                1,
            )
            .intersection(area);
            frame.render_widget(Paragraph::new(text).style(style), rect);
        }
    }
    if show_hint {
        frame.render_widget(hint, area);
    }
}

fn render_input_line(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    frame.render_widget(Clear, area);
    let w = usize::from(area.width);
    let mut lines = Vec::new();
    match &model.overlay {
        Some(Overlay::Filter(_)) => {
            let shown = model.vms.index.visible().len();
            let total = model.vms.index.total()
                - if model.vms.show_deleted {
                    0
                } else {
                    model.vms.index.deleted()
                };
            let info = format!("  {shown} of {total} VMs · Enter keep · Esc cancel");
            let room = w.saturating_sub(width(&info) + 3);
            lines.push(Line::from(vec![
                Span::styled("/", theme.key),
                Span::raw(truncate_left(model.vms.filter.text(), room)),
                Span::styled("█", theme.dim),
                Span::styled(info, theme.dim),
            ]));
        }
        Some(Overlay::Command(c)) => {
            lines.push(Line::from(vec![
                Span::styled(":", theme.key),
                Span::raw(truncate_left(c.input.text(), w.saturating_sub(3))),
                Span::styled("█", theme.dim),
            ]));
            if let Some(e) = &c.error {
                lines.push(Line::from(Span::styled(
                    truncate(&format!("error: {e}"), w).into_owned(),
                    theme.error,
                )));
            }
        }
        _ => {}
    }
    frame.render_widget(Paragraph::new(lines).style(theme.overlay), area);
}

/// The last `max` columns of `s` (what was typed most recently stays visible), with a leading
/// `…` when cut.
fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut used = 1;
    for c in s.chars().rev() {
        let cw = width(c.encode_utf8(&mut [0; 4]));
        if used + cw > max {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
}

fn overlay_block<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    dialog(
        Span::styled(format!(" {title} "), theme.title),
        theme.title,
        theme,
    )
}

fn render_help(frame: &mut Frame, theme: &Theme, area: Rect, scroll: usize) {
    let key_w = 22;
    let mut lines: Vec<Line> = Vec::with_capacity(help_line_count());
    // Keys of every pane first (moving, panes, filters, quitting), then each pane's own.
    let mut sections: Vec<(String, Scope)> = vec![("Keys in every pane".into(), Scope::Global)];
    sections.extend(
        Pane::ALL
            .iter()
            .map(|p| (format!("{} pane", p.title()), Scope::Pane(*p))),
    );
    for (i, (name, scope)) in sections.into_iter().enumerate() {
        let bindings: Vec<_> = keymap::BINDINGS
            .iter()
            .filter(|b| b.scope == scope)
            .collect();
        if bindings.is_empty() {
            continue;
        }
        if i > 0 {
            lines.push(Line::from(""));
        }
        lines.push(Line::from(Span::styled(name, theme.header)));
        for b in bindings {
            lines.push(Line::from(vec![
                Span::styled(fit(&keymap::keys_label(b), key_w), theme.key),
                Span::raw(b.description),
            ]));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("In text fields", theme.header)));
    for (k, d) in keymap::TEXT_FIELD_KEYS {
        lines.push(Line::from(vec![
            Span::styled(fit(k, key_w), theme.key),
            Span::raw(*d),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Commands", theme.header)));
    for (c, d) in keymap::COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(fit(c, key_w), theme.key),
            Span::raw(*d),
        ]));
    }
    let h = u16::try_from(lines.len() + 3).unwrap_or(u16::MAX);
    let rect = centered(area, 80, h);
    frame.render_widget(Clear, rect);
    let block = overlay_block("Help · j/k scroll · any other key closes", theme);
    let scroll = u16::try_from(scroll.min(lines.len().saturating_sub(1))).unwrap_or(0);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}

fn render_accounts(
    frame: &mut Frame,
    model: &Model,
    theme: &Theme,
    area: Rect,
    a: &AccountsOverlay,
) {
    let slugs = model.account_slugs();
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(
        format!(
            "  {:<24} {:<9} {:>4} {:>5}",
            "ACCOUNT", "KIND", "VMS", "KEYS"
        ),
        theme.header,
    )));
    for (i, slug) in slugs.iter().enumerate() {
        let kind = model
            .snapshot
            .accounts
            .iter()
            .find(|x| &x.slug == slug)
            .map_or("?", |x| x.kind.as_str());
        let kind = match kind {
            "org" => "org",
            "personal" => "personal",
            _ => "unknown",
        };
        let vms = model
            .snapshot
            .vms
            .iter()
            .filter(|v| &v.record.account == slug && v.record.status.is_live())
            .count();
        let keys = model
            .snapshot
            .vault
            .iter()
            .filter(|k| &k.account == slug && k.deleted_at.is_none())
            .count();
        let mark = if model.account_filter.as_deref() == Some(slug.as_str()) {
            " (filter)"
        } else {
            ""
        };
        let text = format!(
            "{} {} {kind:<9} {vms:>4} {keys:>5}{mark}",
            if i == a.selected && a.form.is_none() {
                "›"
            } else {
                " "
            },
            fit(slug, 24)
        );
        let style = if i == a.selected && a.form.is_none() {
            theme.selected
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    if slugs.is_empty() {
        lines.push(Line::from(Span::styled("  no accounts yet", theme.dim)));
    }
    lines.push(Line::from(""));
    match &a.form {
        Some(form) => {
            lines.push(Line::from(Span::styled("Add an account", theme.header)));
            lines.push(Line::from(vec![
                Span::styled("  slug  ", theme.label),
                Span::raw(form.slug.to_string()),
                Span::styled("█", theme.dim),
            ]));
            lines.push(Line::from(vec![
                Span::styled("  kind  ", theme.label),
                Span::styled(
                    match form.kind {
                        crate::domain::AccountKind::Personal => "personal",
                        crate::domain::AccountKind::Organization => "org (organization)",
                    },
                    theme.key,
                ),
                Span::styled("   Tab switches", theme.dim),
            ]));
            if let Some(e) = &form.error {
                lines.push(Line::from(Span::styled(
                    format!("  error: {e}"),
                    theme.error,
                )));
            }
            lines.push(Line::from(Span::styled(
                "  Enter add · Esc back · lowercase letters, digits, hyphens",
                theme.dim,
            )));
        }
        None => {
            let mut hint = vec![
                Span::styled("Enter", theme.key),
                Span::raw(" filter by account  "),
                Span::styled("n", theme.key),
                Span::raw(" add  "),
                Span::styled("Esc", theme.key),
                Span::raw(" close"),
            ];
            if model.read_only {
                hint.push(Span::styled("  (read-only: adding is refused)", theme.warn));
            }
            lines.push(Line::from(hint));
        }
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, 86, h);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(overlay_block("Accounts", theme)),
        rect,
    );
}
