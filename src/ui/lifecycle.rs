//! Drawing the VM lifecycle dialogs (issue 4): the create dialog (fields, the tier's size for
//! the region, the image's default user, the account's Vault keys, one message per invalid
//! field), the create-success view (shown once, with the one-time password), and the
//! confirmations for stop/reboot, destroy, transfer and billing type.

use super::text::{clip, truncate, width};
use super::theme::Theme;
use super::widgets::{centered, dialog as dialog_box, discard_question};
use crate::app::Model;
use crate::app::lifecycle::{
    ConfirmDialog, ConfirmKind, CreateDialog, Field, LifeDialog, STOPPED_BILLS,
    TRANSFER_KEYS_WARNING, account_keys,
};
use crate::domain::{AccountKind, tier_size};
use crate::protocol::{PowerAction, ProvisionResult};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Draws the open lifecycle dialog, if any, centred over `area`.
pub fn dialog(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect) {
    let Some(d) = &model.life.dialog else {
        return;
    };
    let (title, lines) = match d {
        LifeDialog::Create(c) => {
            create_dialog(frame, model, theme, area, c);
            return;
        }
        LifeDialog::Success(r) => success_lines(theme, r),
        LifeDialog::Confirm(c) => confirm_lines(theme, c),
    };
    let read_only = match d {
        LifeDialog::Create(c) => c.read_only,
        LifeDialog::Confirm(c) => c.read_only,
        LifeDialog::Success(_) => false,
    };
    let title = if read_only {
        format!(" {title} (read-only: the worker will refuse) ")
    } else {
        format!(" {title} ")
    };
    let w = area.width.saturating_sub(4).min(84);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    // Rows after wrapping, so the box fits its text.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_w))
        .sum();
    let h = u16::try_from(rows + 2).unwrap_or(u16::MAX).min(area.height);
    let rect = centered(area, w, h);
    let block = dialog_box(Span::styled(title, theme.title), theme.title, theme);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn field_line<'a>(theme: &Theme, d: &CreateDialog, field: Field, value: Vec<Span<'a>>) -> Line<'a> {
    let focused = d.focus == field;
    let mut spans = vec![Span::styled(
        format!("{} {:<9}", if focused { "›" } else { " " }, field.label()),
        if focused { theme.key } else { theme.label },
    )];
    spans.extend(value);
    Line::from(spans)
}

fn choice<'a>(theme: &Theme, focused: bool, text: String) -> Span<'a> {
    if focused {
        Span::styled(format!("‹ {text} ›"), theme.selected)
    } else {
        Span::raw(text)
    }
}

/// Width of a field's label column: the focus mark, a space and the label padded to 9.
const LABEL_W: usize = 11;

/// The create dialog's lines for an inside `inner_w` columns wide: the field lines (with the
/// index of the focused one's line) and the lines that always stay visible below them (errors,
/// the in-flight note, the key hint).
struct CreateLines<'a> {
    fields: Vec<Line<'a>>,
    focus: usize,
    tail: Vec<Line<'a>>,
}

fn create_lines<'a>(
    model: &Model,
    theme: &Theme,
    d: &'a CreateDialog,
    inner_w: usize,
) -> CreateLines<'a> {
    let f = |x| d.focus == x;
    let (cpu, ram, disk) = tier_size(d.tier, d.region);
    // Fields before Keys have one line each, in order.
    let mut focus = match d.focus {
        Field::Name => 0,
        Field::Account => 1,
        Field::Region => 2,
        Field::Tier => 3,
        Field::Image => 4,
        Field::Billing => 5,
        Field::Keys | Field::Password => 6,
    };
    let mut lines = vec![
        field_line(
            theme,
            d,
            Field::Name,
            vec![
                Span::styled(
                    if d.name.is_empty() && !f(Field::Name) {
                        "(hostname)".to_string()
                    } else {
                        d.name.to_string()
                    },
                    if d.name.is_empty() {
                        theme.dim
                    } else {
                        theme.title
                    },
                ),
                Span::styled(if f(Field::Name) { "▏" } else { "" }, theme.key),
            ],
        ),
        field_line(
            theme,
            d,
            Field::Account,
            vec![choice(
                theme,
                f(Field::Account),
                if d.account.is_empty() {
                    "(none: A adds one)".into()
                } else {
                    d.account.clone()
                },
            )],
        ),
        field_line(
            theme,
            d,
            Field::Region,
            vec![
                choice(theme, f(Field::Region), d.region.as_str().to_uppercase()),
                Span::styled(format!("  Hetzner {}", d.region.location()), theme.dim),
            ],
        ),
        field_line(
            theme,
            d,
            Field::Tier,
            vec![
                choice(theme, f(Field::Tier), d.tier.to_string()),
                Span::styled(
                    format!("  {cpu} vCPU · {ram} GB RAM · {disk} GB disk"),
                    theme.dim,
                ),
            ],
        ),
        field_line(
            theme,
            d,
            Field::Image,
            vec![
                choice(theme, f(Field::Image), d.image.to_string()),
                Span::styled(
                    format!(
                        "  {} · user {}",
                        d.image.description(),
                        d.image.default_user()
                    ),
                    theme.dim,
                ),
            ],
        ),
        field_line(
            theme,
            d,
            Field::Billing,
            vec![choice(theme, f(Field::Billing), d.billing.to_string())],
        ),
    ];
    let keys = account_keys(model, &d.account);
    if keys.is_empty() {
        lines.push(field_line(
            theme,
            d,
            Field::Keys,
            vec![Span::styled(
                "no Vault keys in this account (Vault pane: a adds one)",
                theme.warn,
            )],
        ));
    } else {
        for (i, (id, label, fp)) in keys.iter().enumerate() {
            let picked = d.keys.contains(id);
            let cursor = f(Field::Keys) && i == d.key_cursor;
            // The fingerprint gives way first (shortened with `…`), the label stays.
            let head = format!("[{}] {label} ", if picked { "x" } else { " " });
            let room = inner_w.saturating_sub(LABEL_W + width(&head));
            let text = format!("{head}{}", truncate(fp, room.max(8)));
            let span = if cursor {
                Span::styled(text, theme.selected)
            } else {
                Span::raw(text)
            };
            if cursor {
                focus = lines.len();
            }
            if i == 0 {
                lines.push(field_line(theme, d, Field::Keys, vec![span]));
            } else {
                lines.push(Line::from(vec![Span::raw(" ".repeat(LABEL_W)), span]));
            }
        }
    }
    if f(Field::Password) {
        focus = lines.len();
    }
    let pw = format!(
        "[{}] one-time password for {}",
        if d.one_time_password { "x" } else { " " },
        d.image.default_user()
    );
    let note = "(shown once, change forced at first login)";
    let pw_w = width(&pw) + if f(Field::Password) { 4 } else { 0 };
    // The note beside the checkbox when it fits, else on its own line under it, aligned with
    // the values.
    if LABEL_W + pw_w + 1 + width(note) <= inner_w {
        lines.push(field_line(
            theme,
            d,
            Field::Password,
            vec![
                choice(theme, f(Field::Password), pw),
                Span::styled(format!(" {note}"), theme.dim),
            ],
        ));
    } else {
        lines.push(field_line(
            theme,
            d,
            Field::Password,
            vec![choice(theme, f(Field::Password), pw)],
        ));
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(LABEL_W)),
            Span::styled(note, theme.dim),
        ]));
    }
    let mut tail = Vec::new();
    for e in &d.errors {
        tail.push(Line::from(Span::styled(format!("✗ {e}"), theme.error)));
    }
    if d.in_flight {
        tail.push(Line::from(Span::styled(
            "submitted: waiting for the worker…",
            theme.warn,
        )));
    }
    let long = "Tab/↑↓ field · ←→ change · Space pick key/toggle · Enter create · Esc cancel";
    let short = "Tab/↑↓ · ←→ · Space pick · Enter create · Esc cancel";
    tail.push(Line::from(Span::styled(
        if width(long) <= inner_w { long } else { short },
        theme.dim,
    )));
    CreateLines {
        fields: lines,
        focus,
        tail,
    }
}

/// The create dialog: as tall as its lines when they fit; otherwise the field lines scroll to
/// keep the focused one visible while the errors and the key hint stay at the bottom (so the
/// dialog works at the minimum size, 60×15). No line wraps: each is cut at the border.
fn create_dialog(frame: &mut Frame, model: &Model, theme: &Theme, area: Rect, d: &CreateDialog) {
    let w = area.width.saturating_sub(4).min(84);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    let CreateLines {
        mut fields,
        focus,
        tail,
    } = create_lines(model, theme, d, inner_w);
    let room = usize::from(area.height.saturating_sub(2));
    // A blank line between the fields and the tail when everything fits with it.
    let all = fields.len() + tail.len();
    let (offset, shown) = if all < room {
        fields.push(Line::from(""));
        (0, fields.len())
    } else if all <= room {
        (0, fields.len())
    } else {
        let window = room.saturating_sub(tail.len()).max(1);
        // Keep the focused line in the window, with the line after it when there is one.
        let want = (focus + 2).min(fields.len());
        (want.saturating_sub(window), window)
    };
    let total = fields.len();
    let mut lines: Vec<Line> = fields.into_iter().skip(offset).take(shown).collect();
    let below = total.saturating_sub(offset + shown);
    lines.extend(tail);
    let lines: Vec<Line> = lines.into_iter().map(|l| clip(l, inner_w)).collect();
    // Fields above or below the window: said in the title.
    let mut title = "Create a Plain VM".to_string();
    match (offset > 0, below > 0) {
        (true, true) => title.push_str(" · ↑↓ more"),
        (true, false) => title.push_str(" · ↑ more"),
        (false, true) => title.push_str(" · ↓ more"),
        (false, false) => {}
    }
    if d.read_only {
        title.push_str(" (read-only: the worker will refuse)");
    }
    let title = format!(" {title} ");
    let h = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let rect = centered(area, w, h);
    let block = dialog_box(Span::styled(title, theme.title), theme.title, theme);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    if d.confirm_discard {
        discard_question(frame, area, "the create dialog and the name typed", theme);
    }
}

fn success_lines<'a>(theme: &Theme, r: &'a ProvisionResult) -> (&'static str, Vec<Line<'a>>) {
    let kv = |k: &'static str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<12}"), theme.label),
            Span::raw(v),
        ])
    };
    let mut lines = vec![
        kv("name", r.name.clone()),
        kv("account", r.account.clone()),
        kv(
            "IPv4",
            r.ipv4.clone().unwrap_or_else(|| "not known yet".into()),
        ),
        kv(
            "IPv6",
            r.ipv6.clone().unwrap_or_else(|| "not known yet".into()),
        ),
        kv("user", r.default_user.clone()),
        Line::from(vec![
            Span::styled(format!("{:<12}", "ssh"), theme.label),
            Span::styled(r.ssh_command.clone(), theme.key),
        ]),
    ];
    for (i, fp) in r.key_fingerprints.iter().enumerate() {
        lines.push(kv(if i == 0 { "keys" } else { "" }, fp.clone()));
    }
    if let Some(p) = &r.one_time_password {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled(format!("{:<12}", "password"), theme.label),
            Span::styled(p.expose().to_string(), theme.warn),
        ]));
        lines.push(Line::from(Span::styled(
            "shown ONCE: copy it now; it is not stored and must be changed at first login",
            theme.error,
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "SSH answers about 60 s after provisioning · Enter/Esc close",
        theme.dim,
    )));
    ("VM provisioned", lines)
}

fn confirm_lines<'a>(theme: &Theme, d: &'a ConfirmDialog) -> (&'static str, Vec<Line<'a>>) {
    let mut lines = Vec::new();
    let title = match &d.kind {
        ConfirmKind::Power(a) => {
            lines.push(Line::from(format!(
                "{} {} (account {})?",
                a.verb(),
                d.vm_name,
                d.account
            )));
            lines.push(Line::from(Span::styled(STOPPED_BILLS, theme.warn)));
            if matches!(a, PowerAction::Stop { .. }) {
                lines.push(Line::from(Span::styled(
                    "Enter/y graceful shutdown · F force poweroff (may lose data) · Esc cancel",
                    theme.dim,
                )));
                "Stop VM"
            } else {
                lines.push(Line::from(Span::styled(
                    "Enter/y reboot · Esc cancel",
                    theme.dim,
                )));
                "Reboot VM"
            }
        }
        ConfirmKind::Billing(to) => {
            lines.push(Line::from(format!(
                "switch billing of {} to {to}? Effective at once; usage already accrued stays under the old type.",
                d.vm_name
            )));
            lines.push(Line::from(Span::styled(
                "Enter/y switch · Esc cancel",
                theme.dim,
            )));
            "Billing type"
        }
        ConfirmKind::Destroy => {
            lines.push(Line::from(vec![
                Span::raw("Destroy "),
                Span::styled(d.vm_name.clone(), theme.error),
                Span::raw(format!(
                    " (account {}): deletes the server and its firewall; an audit event is recorded.",
                    d.account
                )),
            ]));
            lines.push(Line::from(Span::styled(
                "Once confirmed this cannot be cancelled.",
                theme.error,
            )));
            "Destroy VM"
        }
        ConfirmKind::Transfer {
            accounts,
            cursor,
            chosen,
        } => {
            lines.push(Line::from(format!(
                "Transfer {} from {}: the VM keeps running; billing becomes metered.",
                d.vm_name, d.account
            )));
            lines.push(Line::from(Span::styled(TRANSFER_KEYS_WARNING, theme.warn)));
            match chosen {
                None => {
                    if accounts.is_empty() {
                        lines.push(Line::from(Span::styled("no other account", theme.dim)));
                    }
                    for (i, (slug, kind)) in accounts.iter().enumerate() {
                        let text = match kind {
                            AccountKind::Personal => {
                                format!("{slug} (personal: refused, organizations only)")
                            }
                            AccountKind::Organization => format!("{slug} (org)"),
                        };
                        let style = if i == *cursor {
                            theme.selected
                        } else if *kind == AccountKind::Personal {
                            theme.dim
                        } else {
                            theme.overlay
                        };
                        let mark = if i == *cursor { "› " } else { "  " };
                        lines.push(Line::from(Span::styled(format!("{mark}{text}"), style)));
                    }
                    lines.push(Line::from(Span::styled(
                        "↑↓ pick the destination · Enter choose · Esc cancel",
                        theme.dim,
                    )));
                }
                Some(to) => {
                    lines.push(Line::from(vec![
                        Span::raw("to "),
                        Span::styled(to.clone(), theme.title),
                    ]));
                }
            }
            "Transfer VM"
        }
    };
    if d.needs_name() {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::raw("type the VM's name to confirm: "),
            Span::styled(d.typed.to_string(), theme.title),
            Span::styled("▏", theme.key),
        ]));
        lines.push(Line::from(Span::styled(
            "Enter confirm (exact name only) · Esc cancel",
            theme.dim,
        )));
    }
    if let Some(e) = &d.error {
        lines.push(Line::from(Span::styled(format!("✗ {e}"), theme.error)));
    }
    (title, lines)
}
