//! The Audit pane's additions (issue 4): the filter line under the timeline (substring and
//! kind) and the detail view of one event with every field, hashes included.

use super::panes;
use super::theme::Theme;
use crate::app::Model;
use crate::app::audit::selected_event;
use crate::app::vms::age;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

/// The timeline, a filter line under it while a filter is set or edited, and the detail view.
pub fn pane(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let ui = &model.audit_ui;
    let filtering = ui.editing || !ui.filter.is_empty() || ui.kind.is_some();
    let table = if filtering && area.height > 4 {
        let [top, line] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let kind = ui.kind.map_or("all", |k| k.as_str());
        let mut spans = vec![
            Span::styled(" filter ", theme.label),
            Span::styled(ui.filter.clone(), theme.title),
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
    panes::audit(frame, model, theme, table);
    if ui.detail {
        detail(frame, model, theme, area);
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
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .border_type(BorderType::Rounded)
                    .border_style(theme.title)
                    .title(Span::styled(
                        format!(" Audit event {} ", e.seq),
                        theme.title,
                    ))
                    .style(theme.overlay),
            )
            .wrap(Wrap { trim: false }),
        rect,
    );
}
