//! The Vault pane (issue 6): the key table with the selected key's detail, the exposure panel under it
//! (deleted keys still on live VMs), the add dialog (text area, label, account, the refusal and
//! any offer) and the delete dialog (every live VM that keeps the key, with its `ssh` command
//! and the fingerprint to look for); and the OSC 52 clipboard sequence.

use crate::app::Model;
use crate::app::panes::vault::{AddDialog, AddFocus, DeleteDialog, VaultDialog};
use crate::domain::vault::{Exposure, Offer, exposure, exposure_line};
use crate::ui::text::{clip, fit, truncate};
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    HIGHLIGHT, centered, dialog as dialog_box, discard_question, empty_hint, header, key_hint, kv,
    panel, table_state, table_window, title,
};
use crate::view::vm_index::age;
use base64::Engine;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Cell, Clear, HighlightSpacing, Paragraph, Row, Table, Wrap,
};

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (selection `c`):
/// `ESC ] 52 ; c ; <base64> BEL`. Works over SSH in terminals that allow it (in tmux:
/// `set -g set-clipboard on`).
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Deleted keys of the shown account(s) still on live VMs.
pub fn shown_exposure(model: &Model) -> Vec<Exposure> {
    let account = model.account_filter.as_deref();
    let vault: Vec<_> = model
        .snapshot
        .vault
        .iter()
        .filter(|e| account.is_none_or(|a| e.account == a))
        .cloned()
        .collect();
    exposure(&vault, model.snapshot.vms.iter().map(|v| &v.record))
}

/// The Vault pane: the key table, and under it the exposure panel when a deleted key is still
/// on a live VM.
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let exposed = shown_exposure(model);
    if exposed.is_empty() || area.height < 12 {
        table(frame, model, theme, area);
        return;
    }
    let want = u16::try_from(exposed.len() + 3).unwrap_or(u16::MAX);
    let h = want.min(area.height / 3).max(4);
    let [top, bottom] = Layout::vertical([Constraint::Min(6), Constraint::Length(h)]).areas(area);
    table(frame, model, theme, top);
    let w = usize::from(bottom.width.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    for x in &exposed {
        let head = if w >= 120 {
            format!(
                "{} '{}' {} ",
                x.entry.account, x.entry.label, x.entry.fingerprint_sha256
            )
        } else {
            format!("{} '{}' ", x.entry.account, x.entry.label)
        };
        lines.push(clip(
            Line::from(vec![
                Span::styled(head, theme.warn),
                Span::styled(exposure_line(&x.holders), theme.error),
            ]),
            w,
        ));
    }
    lines.push(clip(
        Line::from(Span::styled(
            "d on the key: the ssh command per VM; remove it from ~/.ssh/authorized_keys there",
            theme.dim,
        )),
        w,
    ));
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(theme.error)
        .title(Span::styled(
            format!(
                " Exposure: {} deleted key{} still on live VMs ",
                exposed.len(),
                if exposed.len() == 1 { "" } else { "s" }
            ),
            theme.error,
        ));
    frame.render_widget(Paragraph::new(lines).block(block), bottom);
}

fn dialog_block<'a>(title: String, theme: &Theme) -> Block<'a> {
    dialog_box(
        Span::styled(format!(" {title} "), theme.title),
        theme.title,
        theme,
    )
}

/// Draws the open Vault dialog, if any, over `area`.
pub fn dialog(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    match &model.vault_ui.dialog {
        Some(VaultDialog::Add(d)) => add_dialog(frame, model, theme, area, d),
        Some(VaultDialog::Delete(d)) => delete_dialog(frame, model, theme, area, d),
        None => {}
    }
}

fn add_dialog(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect, d: &AddDialog) {
    let w = area.width.saturating_sub(4).min(100);
    let inner_w = usize::from(w.saturating_sub(2));
    let mut below: Vec<Line> = Vec::new();
    let field = |name: &'static str, focused: bool| {
        Span::styled(
            format!("{}{name:<8}", if focused { "›" } else { " " }),
            if focused { theme.key } else { theme.label },
        )
    };
    let label = if d.label.is_empty() && d.focus != AddFocus::Label {
        Span::styled("(the key's comment)", theme.dim)
    } else {
        Span::raw(truncate(d.label.text(), inner_w.saturating_sub(12)).into_owned())
    };
    let mut label_line = vec![field("label", d.focus == AddFocus::Label), label];
    if d.focus == AddFocus::Label {
        label_line.push(Span::styled("█", theme.dim));
    }
    below.push(Line::from(label_line));
    let mut account_line = vec![
        field("account", d.focus == AddFocus::Account),
        Span::raw(d.account.clone()),
    ];
    if d.focus == AddFocus::Account {
        account_line.push(Span::styled("  ←/→ change", theme.dim));
    }
    below.push(Line::from(account_line));
    if model.read_only {
        below.push(Line::from(Span::styled(
            "read-only mode: adding a key will be refused",
            theme.warn,
        )));
    }
    let mut message_rows: u16 = 0;
    if let Some(e) = &d.error {
        for part in e.lines() {
            let text = format!("error: {part}");
            // Rows beyond the first that the wrapped message takes.
            message_rows += u16::try_from(text.chars().count().div_ceil(inner_w.max(1)))
                .unwrap_or(1)
                .saturating_sub(1);
            below.push(Line::from(Span::styled(text, theme.error)));
        }
    }
    match &d.offer {
        Some(Offer::StripOptions { .. }) => {
            below.push(key_hint(
                &[
                    ("y/Enter", "add the key without the options"),
                    ("Esc", "no"),
                ],
                theme,
            ));
        }
        Some(Offer::AddEach { lines }) => {
            let text = format!(
                "add each of the {} keys (labels from comments)",
                lines.len()
            );
            below.push(Line::from(vec![
                Span::styled("y/Enter", theme.key),
                Span::raw(format!(" {text}")),
                Span::styled(" · ", theme.dim),
                Span::styled("Esc", theme.key),
                Span::raw(" no"),
            ]));
        }
        None => {}
    }
    if d.awaiting > 0 {
        below.push(Line::from(Span::styled("adding…", theme.dim)));
    }
    below.push(key_hint(
        &[
            ("Enter", "add"),
            ("Tab", "next field"),
            ("Ctrl-C", "clear"),
            ("Esc", "cancel"),
        ],
        theme,
    ));
    let extra = u16::try_from(below.len()).unwrap_or(u16::MAX) + message_rows;
    let key_rows: u16 = if area.height < 30 { 4 } else { 6 };
    let h = (key_rows + extra + 2).min(area.height);
    let rect = centered(area, w, h);
    frame.render_widget(Clear, rect);
    let block = dialog_block(format!("Add a public key to {}'s Vault", d.account), theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [key_area, rest] = Layout::vertical([
        Constraint::Length(key_rows.min(inner.height)),
        Constraint::Min(0),
    ])
    .areas(inner);
    let mut ta = d.input.0.clone();
    let key_title = if d.focus == AddFocus::Key {
        Span::styled("›public key or file path", theme.key)
    } else {
        Span::styled(" public key or file path", theme.label)
    };
    ta.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Plain)
            .border_style(theme.border)
            .title(key_title),
    );
    ta.set_placeholder_style(theme.dim);
    if d.focus != AddFocus::Key {
        ta.set_cursor_style(ratatui::style::Style::default());
    }
    frame.render_widget(&ta, key_area);
    frame.render_widget(Paragraph::new(below).wrap(Wrap { trim: false }), rest);
    if d.confirm_discard {
        discard_question(frame, area, "the key and label typed", theme);
    }
}

fn delete_dialog(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect, d: &DeleteDialog) {
    let w = area.width.saturating_sub(4).min(110);
    let inner_w = usize::from(w.saturating_sub(2));
    let e = &d.entry;
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(vec![
        Span::styled("key  ", theme.label),
        Span::raw(format!("{} · {}", e.key_type, e.fingerprint_sha256)),
    ]));
    lines.push(Line::from(""));
    let n = d.holders.len();
    if let Some(at) = e.deleted_at {
        lines.push(Line::from(Span::styled(
            format!(
                "Deleted from the Vault on {}.",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            theme.warn,
        )));
    } else {
        lines.push(Line::from(Span::styled(
            "Deleting a key from the Vault does NOT remove it from the VMs that received it.",
            theme.warn,
        )));
    }
    if n == 0 {
        lines.push(Line::from("No live VM received this key at provisioning."));
    } else {
        lines.push(Line::from(format!(
            "It stays in ~/.ssh/authorized_keys on {n} live VM{} until someone removes it there:",
            if n == 1 { "" } else { "s" }
        )));
        let name_w = d
            .holders
            .iter()
            .map(|h| h.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(30);
        for h in &d.holders {
            let mut spans = vec![
                Span::raw(format!("  {}  ", fit(&h.name, name_w))),
                Span::styled(h.ssh_command.clone(), theme.key),
            ];
            if h.account != e.account {
                spans.push(Span::styled(format!("  (now {})", h.account), theme.dim));
            }
            lines.push(clip(Line::from(spans), inner_w));
        }
        lines.push(Line::from(vec![
            Span::raw("On each, remove the line with fingerprint "),
            Span::styled(e.fingerprint_sha256.clone(), theme.key),
        ]));
        lines.push(Line::from(Span::styled(
            "(ssh-keygen -lf ~/.ssh/authorized_keys lists the fingerprint of every line)",
            theme.dim,
        )));
    }
    if model.read_only && e.deleted_at.is_none() {
        lines.push(Line::from(Span::styled(
            "read-only mode: deleting will be refused",
            theme.warn,
        )));
    }
    if let Some(err) = &d.error {
        lines.push(Line::from(Span::styled(
            format!("error: {err}"),
            theme.error,
        )));
    }
    lines.push(Line::from(""));
    if d.awaiting {
        lines.push(Line::from(Span::styled("deleting…", theme.dim)));
    } else if e.deleted_at.is_none() {
        lines.push(key_hint(
            &[
                ("y/Enter", "delete from the Vault"),
                ("c", "copy fingerprint"),
                ("Esc", "cancel"),
            ],
            theme,
        ));
    } else {
        lines.push(key_hint(
            &[("c", "copy fingerprint"), ("Esc", "close")],
            theme,
        ));
    }
    let rows: u16 = lines
        .iter()
        .map(|l| {
            u16::try_from(l.width().div_ceil(inner_w.max(1)))
                .unwrap_or(1)
                .max(1)
        })
        .sum();
    let rect = centered(area, w, rows + 2);
    frame.render_widget(Clear, rect);
    let title = if e.deleted_at.is_some() {
        format!("'{}' ({}): where it still is", e.label, e.account)
    } else {
        format!("Delete '{}' from {}'s Vault?", e.label, e.account)
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(dialog_block(title, theme))
            .wrap(Wrap { trim: false }),
        rect,
    );
}

// ---------------------------------------------------------------------------------------------
// Vault

fn vault_detail(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some((row, e)) = model
        .vault_ui
        .rows
        .get(model.vault_ui.list.selected)
        .and_then(|r| model.vault_entry(r).map(|e| (r, e)))
    else {
        return;
    };
    let mut lines = vec![
        kv(
            "key",
            vec![
                Span::styled(e.label.clone(), theme.key),
                Span::raw(format!(" · {} · account {}", e.key_type, e.account)),
            ],
            theme,
        ),
        kv(
            "sha256",
            vec![Span::raw(e.fingerprint_sha256.clone())],
            theme,
        ),
    ];
    let mut dates = vec![Span::raw(format!(
        "added {} UTC",
        e.created_at.format("%Y-%m-%d %H:%M")
    ))];
    if let Some(d) = e.deleted_at {
        dates.push(Span::styled(
            format!(
                " · deleted from the Vault {} UTC ({} ago)",
                d.format("%Y-%m-%d %H:%M"),
                age(d, model.now)
            ),
            theme.warn,
        ));
    }
    lines.push(kv("dates", dates, theme));
    lines.push(kv(
        "on VMs",
        vec![if row.holders.is_empty() {
            Span::styled("no live VM received this key", theme.dim)
        } else {
            Span::raw(row.holders.join(", "))
        }],
        theme,
    ));
    if e.deleted_at.is_some() && !row.holders.is_empty() {
        lines.push(Line::from(Span::styled(
            "EXPOSED: deleted here but still in ~/.ssh/authorized_keys on the VMs above; only their owner can remove it",
            theme.error,
        )));
    }
    lines.push(kv(
        "public",
        vec![Span::styled(e.public_key.clone(), theme.dim)],
        theme,
    ));
    let block = panel(title(vec![Span::styled("Key", theme.title)], theme), theme);
    let w = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, w)).collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A short name for an OpenSSH key type, e.g. `ecdsa-sha2-nistp256` → `ecdsa-p256`.
fn short_key_type(t: &str) -> String {
    let t = t.strip_suffix("@openssh.com").unwrap_or(t);
    let (sk, t) = match t.strip_prefix("sk-") {
        Some(rest) => ("sk-", rest),
        None => ("", t),
    };
    let base = match t {
        "ssh-ed25519" => "ed25519".to_string(),
        "ssh-rsa" => "rsa".to_string(),
        other => other.replace("ecdsa-sha2-nist", "ecdsa-"),
    };
    format!("{sk}{base}")
}

/// Vault keys per account, with the live VMs holding each; a deleted key still on live VMs is
/// shown as EXPOSED (docs/product-rules.md §5). Below 140 columns the type and creation date are left out and
/// fingerprints shortened.
fn table(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let [area, note] = Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area);
    let (table_area, detail_area) = if area.height >= 26 {
        let [t, d] = Layout::vertical([Constraint::Min(6), Constraint::Length(9)]).areas(area);
        (t, Some(d))
    } else {
        (area, None)
    };
    let rows_data = &model.vault_ui.rows;
    let len = rows_data.len();
    let exposed = rows_data
        .iter()
        .filter(|r| {
            !r.holders.is_empty() && model.vault_entry(r).is_some_and(|e| e.deleted_at.is_some())
        })
        .count();
    let (offset, end) = table_window(&model.vault_ui.list, len, table_area);
    let wide = table_area.width >= 140;
    // A full fingerprint is 50 columns; narrower panes shorten it (at least 18 columns), keeping
    // about 24 for the holders.
    let fp_w: u16 = if wide {
        51
    } else {
        table_area
            .width
            .saturating_sub(2 + 2 + 12 + 16 + 7 + 24 + 5)
            .clamp(18, 51)
    };
    let rows: Vec<Row> = rows_data[offset..end]
        .iter()
        .filter_map(|r| model.vault_entry(r).map(|e| (r, e)))
        .map(|(r, e)| {
            let n = r.holders.len();
            let state = match (e.deleted_at, n) {
                (None, _) => Span::styled("active", theme.ok),
                (Some(_), 0) => Span::styled("deleted", theme.dim),
                (Some(_), _) if wide => Span::styled(
                    format!("EXPOSED ({n} live VM{})", if n == 1 { "" } else { "s" }),
                    theme.error,
                ),
                (Some(_), _) => Span::styled("EXPOSED", theme.error),
            };
            let holders = if n == 0 {
                "-".to_string()
            } else {
                format!("{n}: {}", r.holders.join(", "))
            };
            let mut cells = vec![
                Cell::from(e.account.clone()),
                Cell::from(truncate(&e.label, 16).into_owned()),
            ];
            if wide {
                cells.push(Cell::from(short_key_type(&e.key_type)));
            }
            cells.push(Cell::from(Span::styled(
                truncate(&e.fingerprint_sha256, usize::from(fp_w)).into_owned(),
                theme.dim,
            )));
            if wide {
                cells.push(Cell::from(e.created_at.format("%Y-%m-%d").to_string()));
            }
            cells.push(Cell::from(state));
            cells.push(Cell::from(holders));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(12), Constraint::Length(16)];
    let mut head = vec!["ACCOUNT", "LABEL"];
    if wide {
        widths.push(Constraint::Length(13));
        head.push("TYPE");
    }
    widths.push(Constraint::Length(fp_w));
    head.push("FINGERPRINT");
    if wide {
        widths.push(Constraint::Length(10));
        head.push("CREATED");
    }
    widths.push(Constraint::Length(if wide { 20 } else { 7 }));
    head.push("STATE");
    widths.push(Constraint::Min(8));
    head.push("LIVE VMS HOLDING IT");
    let mut parts = vec![
        Span::styled("Vault", theme.title),
        Span::styled(
            format!("{len} key{}", if len == 1 { "" } else { "s" }),
            theme.label,
        ),
    ];
    if exposed > 0 {
        parts.push(Span::styled(
            format!(
                "{exposed} deleted key{} still on live VMs",
                if exposed == 1 { "" } else { "s" }
            ),
            theme.error,
        ));
    }
    if let Some(a) = &model.account_filter {
        parts.push(Span::styled(format!("account {a}"), theme.warn));
    }
    let table = Table::new(rows, widths)
        .header(header(head.into_iter().map(String::from).collect(), theme))
        .block(panel(title(parts, theme), theme))
        .row_highlight_style(theme.selected)
        .highlight_symbol(HIGHLIGHT)
        .highlight_spacing(HighlightSpacing::Always);
    let mut st = table_state(&model.vault_ui.list, offset, len);
    frame.render_stateful_widget(table, table_area, &mut st);
    if len == 0 {
        empty_hint(frame, table_area, "no Vault keys", theme);
    }
    if let Some(d) = detail_area {
        vault_detail(frame, model, theme, d);
    }
    let text = if note.width >= 150 {
        " Public keys only, written at provisioning. Deleting a key from the Vault does not remove it from VMs that received it: the owner edits ~/.ssh/authorized_keys."
    } else {
        " Deleting a key does not remove it from VMs that got it."
    };
    frame.render_widget(
        Paragraph::new(clip(
            Line::from(Span::styled(text, theme.dim)),
            usize::from(note.width),
        )),
        note,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_is_base64_between_esc_and_bel() {
        assert_eq!(osc52("SHA256:abc"), "\x1b]52;c;U0hBMjU2OmFiYw==\x07");
    }
}
