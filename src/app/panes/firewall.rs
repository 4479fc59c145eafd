//! The firewall rule editor's state machine (issue 5). No I/O.
//!
//! One editor at a time, bound to one VM's Hetzner Cloud Firewall:
//! - opened from the VM list (`f` / Enter), with `:fw NAME`, or by entering the Firewall pane
//!   (the selected VM); it starts from the snapshot's rules and asks the worker to read the
//!   firewall and its last change ([`Effect::LoadFirewall`]);
//! - the working copy is edited as a table (add, edit field by field, duplicate, delete,
//!   reorder) or as text (`ratatui-textarea`, one rule a line in the domain text format, errors
//!   with line numbers while typing); switching keeps the edits, and text with errors stays text;
//! - `w` / Ctrl-S opens the review: the diff against what Hetzner holds, rules v1 cannot keep
//!   (dropped), and warnings (lockout needs `yes` typed, sensitive ports open to the internet,
//!   duplicate or shadowed rules); confirming sends one [`Effect::ApplyFirewall`] and sets the
//!   in-flight flag, so a held or repeated key cannot send twice;
//! - the pane then shows what the worker read back from Hetzner; a failure shows Hetzner's code
//!   and field and keeps every edit;
//! - leaving the pane, quitting, or discarding (`Esc`) with unsaved edits asks first.

use crate::app::input::{Edit, is_ctrl, plain_char};
use crate::app::keymap::FwAction;
use crate::app::list::ListState;
use crate::app::{Model, Pane};
use crate::domain::firewall::{MAX_RULES, WireRule, diff};
use crate::protocol::firewall::{FirewallFailure, FirewallLoaded, FirewallState, LoadCause};
use crate::protocol::{Effect, FirewallView};
use crossterm::event::{KeyCode, KeyEvent};

mod editor;

pub use editor::{
    FORM_FIELDS, FirewallEditor, LOCKOUT_CONFIRM_WORD, Leave, Review, RuleForm, TextMode,
    form_error,
};
use editor::{send_apply, start_review, toggle_text};
use std::net::IpAddr;
use uuid::Uuid;

/// The Firewall pane's state: the rule selection, the editor and the operator's address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirewallPane {
    /// Selection in the rule table.
    pub list: ListState,
    /// The editor, once a VM was picked.
    pub editor: Option<FirewallEditor>,
    /// The operator's address for the lockout warning (from `SSH_CONNECTION`, set by the event
    /// loop; `None`: any source counts).
    pub operator_ip: Option<IpAddr>,
}

fn wire_from_view(v: &FirewallView) -> Vec<WireRule> {
    v.rules
        .iter()
        .map(|r| WireRule {
            direction: r.direction.clone(),
            protocol: r.protocol.clone(),
            port: (!r.port.is_empty()).then(|| r.port.clone()),
            source_ips: if r.direction == "in" {
                r.source_ips.clone()
            } else {
                Vec::new()
            },
            destination_ips: Vec::new(),
            description: (!r.description.is_empty()).then(|| r.description.clone()),
        })
        .collect()
}

/// Opens the editor for a VM: rules from the snapshot at once, then a fresh read from Hetzner.
/// Asks first when the current editor holds unsaved edits for another VM.
pub fn open(model: &mut Model, vm_id: Uuid, effects: &mut Vec<Effect>) {
    if let Some(ed) = &mut model.fw.editor
        && ed.vm_id != vm_id
        && ed.dirty()
    {
        ed.leave = Some(Leave::Vm(vm_id));
        model.pane = Pane::Firewall;
        return;
    }
    if model.fw.editor.as_ref().is_some_and(|e| e.vm_id == vm_id) {
        model.pane = Pane::Firewall;
        reload(model, effects);
        return;
    }
    let Some(row) = model.snapshot.vms.iter().find(|v| v.record.id == vm_id) else {
        return;
    };
    let fw_id = row
        .firewall
        .as_ref()
        .map(|f| f.id)
        .or(row.record.hetzner_firewall_id);
    let mut ed = FirewallEditor::new(vm_id, row.record.name.clone(), fw_id);
    if let Some(view) = &row.firewall {
        ed.set_base(&wire_from_view(view));
    }
    model.fw.editor = Some(ed);
    model.fw.list = ListState::default();
    model.pane = Pane::Firewall;
    reload(model, effects);
}

fn reload(model: &mut Model, effects: &mut Vec<Effect>) {
    if let Some(ed) = &mut model.fw.editor
        && let Some(id) = ed.firewall_id
    {
        ed.loading = true;
        effects.push(Effect::LoadFirewall {
            vm_id: ed.vm_id,
            firewall_id: id,
        });
    }
}

/// `:fw NAME`: the VM with that name (a live one first), selected in the VM list when visible.
///
/// Errors: `no VM named 'NAME'`.
pub fn open_by_name(
    model: &mut Model,
    name: &str,
    effects: &mut Vec<Effect>,
) -> Result<(), String> {
    let name = name.trim();
    let found = model
        .snapshot
        .vms
        .iter()
        .filter(|v| v.record.name == name)
        .max_by_key(|v| v.record.status.is_live())
        .map(|v| v.record.id);
    let Some(id) = found else {
        return Err(format!("no VM named '{name}'"));
    };
    model.vms.selected_id = Some(id);
    model.restore_selection();
    open(model, id, effects);
    Ok(())
}

/// True when the editor takes every key itself (text mode, the row form, the review or the
/// discard question), so the keymap is not consulted.
pub fn captures_keys(model: &Model) -> bool {
    model.pane == Pane::Firewall
        && model.fw.editor.as_ref().is_some_and(|e| {
            e.text.is_some() || e.form.is_some() || e.review.is_some() || e.leave.is_some()
        })
}

/// Runs a keymap command of the editor.
pub fn action(model: &mut Model, a: FwAction, effects: &mut Vec<Effect>) {
    if a == FwAction::Open {
        if let Some(id) = model.selected_vm().map(|v| v.record.id) {
            open(model, id, effects);
        }
        return;
    }
    if a == FwAction::Reload {
        effects.push(Effect::Refresh);
        reload(model, effects);
        return;
    }
    let selected = model.fw.list.selected;
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.firewall_id.is_none() && a != FwAction::Discard {
        ed.message = Some("this VM has no firewall known to Hetzner: nothing to edit".into());
        return;
    }
    ed.message = None;
    let on_foreign = selected >= ed.rules.len() && selected < ed.row_count();
    let foreign_note = |ed: &FirewallEditor| {
        let f = &ed.foreign[selected - ed.rules.len()];
        format!("v1 cannot edit this rule ({}); applying drops it", f.reason)
    };
    let mut select = None;
    match a {
        FwAction::Add => {
            if ed.rules.len() >= MAX_RULES {
                ed.message = Some(format!(
                    "at most {MAX_RULES} rules per firewall: delete one first"
                ));
                return;
            }
            let at = if ed.rules.is_empty() {
                0
            } else {
                (selected + 1).min(ed.rules.len())
            };
            ed.form = Some(RuleForm::new(None, at, None));
        }
        FwAction::Edit => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if let Some(r) = ed.rules.get(selected) {
                ed.form = Some(RuleForm::new(Some(selected), selected, Some(r)));
            } else {
                ed.form = Some(RuleForm::new(None, 0, None));
            }
        }
        FwAction::Duplicate => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if ed.rules.len() >= MAX_RULES {
                ed.message = Some(format!(
                    "at most {MAX_RULES} rules per firewall: delete one first"
                ));
            } else if let Some(r) = ed.rules.get(selected).cloned() {
                ed.rules.insert(selected + 1, r);
                select = Some(selected + 1);
                ed.message = Some(format!(
                    "rule {} duplicated as rule {}: edit it with e",
                    selected + 1,
                    selected + 2
                ));
            }
        }
        FwAction::Delete => {
            if on_foreign {
                ed.message = Some(foreign_note(ed));
            } else if selected < ed.rules.len() {
                let r = ed.rules.remove(selected);
                ed.message = Some(format!("deleted rule {}: {}", selected + 1, r.to_line()));
            }
        }
        FwAction::MoveUp => {
            if !on_foreign && selected > 0 && selected < ed.rules.len() {
                ed.rules.swap(selected, selected - 1);
                select = Some(selected - 1);
            }
        }
        FwAction::MoveDown => {
            if !on_foreign && selected + 1 < ed.rules.len() {
                ed.rules.swap(selected, selected + 1);
                select = Some(selected + 1);
            }
        }
        FwAction::ToggleText => toggle_text(ed),
        FwAction::Apply => start_review(ed, model.fw.operator_ip),
        FwAction::Discard => {
            if ed.dirty() {
                ed.leave = Some(Leave::Discard);
            } else {
                model.pane = Pane::Vms;
            }
        }
        FwAction::Open | FwAction::Reload => {}
    }
    let len = model
        .fw
        .editor
        .as_ref()
        .map_or(0, FirewallEditor::row_count);
    if let Some(s) = select {
        model.fw.list.selected = s;
    }
    model.fw.list.clamp(len);
}

/// Handles a key while the editor captures keys (see [`captures_keys`]).
pub fn key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if let Some(leave) = ed.leave {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                ed.leave = None;
                ed.drop_edits();
                ed.message = Some("edits discarded".into());
                match leave {
                    Leave::Discard => {}
                    Leave::Pane(p) => model.pane = p,
                    Leave::Quit => crate::app::request_quit(model),
                    Leave::Vm(id) => open(model, id, effects),
                }
            }
            _ if is_ctrl(&key, 'c') => ed.leave = None,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => ed.leave = None,
            _ => {}
        }
        return;
    }
    if let Some(review) = &mut ed.review {
        match key.code {
            KeyCode::Esc => ed.review = None,
            _ if is_ctrl(&key, 'c') => ed.review = None,
            KeyCode::Down => review.scroll += 1,
            KeyCode::Up => review.scroll = review.scroll.saturating_sub(1),
            KeyCode::PageDown => review.scroll += 10,
            KeyCode::PageUp => review.scroll = review.scroll.saturating_sub(10),
            KeyCode::Enter => {
                if review.lockout && review.typed.text().trim() != LOCKOUT_CONFIRM_WORD {
                    ed.message = Some(format!(
                        "type {LOCKOUT_CONFIRM_WORD} and Enter to apply anyway, or Esc to go back"
                    ));
                } else {
                    send_apply(ed, effects);
                }
            }
            _ if is_ctrl(&key, 's') && !review.lockout => send_apply(ed, effects),
            _ if review.lockout => {
                review.typed.on_key(&key);
            }
            _ => match plain_char(&key) {
                Some('y') | Some('w') => send_apply(ed, effects),
                Some('n') | Some('q') => ed.review = None,
                Some('j') => review.scroll += 1,
                Some('k') => review.scroll = review.scroll.saturating_sub(1),
                _ => {}
            },
        }
        return;
    }
    if let Some(form) = &mut ed.form {
        if is_ctrl(&key, 'c') {
            ed.form = None;
            return;
        }
        match key.code {
            KeyCode::Tab | KeyCode::Down => {
                form.focus = (form.focus + 1) % 4;
                return;
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = (form.focus + 3) % 4;
                return;
            }
            KeyCode::Char(' ') if form.focus == 0 && plain_char(&key).is_some() => {
                let next = if form.fields[0].text().trim().eq_ignore_ascii_case("tcp") {
                    "udp"
                } else {
                    "tcp"
                };
                form.fields[0].set(next);
                form.check();
                return;
            }
            _ => {}
        }
        match form.fields[form.focus].on_key(&key) {
            Edit::Changed => form.check(),
            Edit::Cancel => {
                ed.form = None;
                ed.message = Some("edit cancelled".into());
            }
            Edit::Ignored => {}
            Edit::Submit => {
                form.submitted = true;
                form.check();
                match form.rule() {
                    Ok(rule) => {
                        let (row, at) = (form.row, form.insert_at);
                        let n = match row {
                            Some(i) if i < ed.rules.len() => {
                                ed.rules[i] = rule;
                                i
                            }
                            _ => {
                                let at = at.min(ed.rules.len());
                                ed.rules.insert(at, rule);
                                at
                            }
                        };
                        ed.form = None;
                        ed.message = Some(format!(
                            "rule {} {}: w to review and apply",
                            n + 1,
                            if row.is_some() { "changed" } else { "added" }
                        ));
                        let len = ed.row_count();
                        model.fw.list.selected = n;
                        model.fw.list.clamp(len);
                    }
                    Err(_) => {
                        if let Some(i) = form.errors.iter().position(Option::is_some) {
                            form.focus = i;
                        }
                    }
                }
            }
        }
        return;
    }
    if let Some(t) = &mut ed.text {
        if is_ctrl(&key, 's') {
            start_review(ed, model.fw.operator_ip);
            return;
        }
        if key.code == KeyCode::Esc && t.discard_armed {
            // Second Esc with errors: drop the text edits, back to the table as it was.
            ed.text = None;
            ed.message = Some("text edits discarded: back to the table".into());
            return;
        }
        if key.code == KeyCode::Esc || is_ctrl(&key, 't') {
            let esc = key.code == KeyCode::Esc;
            toggle_text(ed);
            if let (true, Some(t)) = (esc, &mut ed.text) {
                t.discard_armed = true;
                if let Some(m) = &mut ed.message {
                    m.push_str("; Esc again discards the text edits");
                }
            }
            return;
        }
        t.discard_armed = false;
        if is_ctrl(&key, 'z') {
            t.area.undo();
            t.reparse();
            ed.message = None;
            return;
        }
        if t.area.input(key) {
            t.reparse();
            ed.message = None;
        }
    }
}

/// Handles pasted text (bracketed paste): inserted into the text editor (many lines at once) or
/// the focused form field (newlines become spaces). Returns false when the editor is not
/// taking text, so the caller can route it elsewhere.
pub fn paste(model: &mut Model, text: &str) -> bool {
    if model.pane != Pane::Firewall {
        return false;
    }
    let Some(ed) = &mut model.fw.editor else {
        return false;
    };
    if ed.leave.is_some() || ed.review.is_some() {
        return true;
    }
    if let Some(form) = &mut ed.form {
        if form.fields[form.focus].paste(text.trim()) == Edit::Changed {
            form.check();
        }
        return true;
    }
    if let Some(t) = &mut ed.text {
        t.paste(text);
        ed.message = None;
        return true;
    }
    false
}

/// Applies a worker event about a firewall. Another VM's firewall only refreshes the snapshot.
pub fn loaded(model: &mut Model, ev: FirewallLoaded) {
    // Keep the VM list's copy in step with what Hetzner holds.
    if let Some(row) = model
        .snapshot
        .vms
        .iter_mut()
        .find(|v| v.record.id == ev.vm_id)
    {
        row.firewall = Some(view_of(&ev.firewall));
    }
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.vm_id != ev.vm_id {
        return;
    }
    ed.loading = false;
    ed.firewall_id = Some(ev.firewall.id);
    match ev.cause {
        LoadCause::Applied => {
            ed.applying = false;
            ed.failure = None;
            // The edits are now Hetzner's: start again from what it sent back.
            ed.base.clear();
            ed.rules.clear();
            ed.text = ed.text.as_ref().map(|_| TextMode::new(&[]));
            ed.set_base(&ev.firewall.rules);
            ed.rules = ed.base.clone();
            if ed.text.is_some() {
                ed.text = Some(TextMode::new(&ed.rules));
            }
            let sent = ed.sent.take().unwrap_or_default();
            let differs = !diff(&sent, &ed.base).is_empty();
            ed.message = Some(if differs {
                format!(
                    "applied, but Hetzner holds something else: showing its {} rules",
                    ev.firewall.rules.len()
                )
            } else {
                format!(
                    "applied: Hetzner now holds these {} rules (read back)",
                    ev.firewall.rules.len()
                )
            });
        }
        LoadCause::Loaded | LoadCause::AfterFailure => {
            let was_dirty = ed.dirty();
            let before = ed.base.clone();
            ed.set_base(&ev.firewall.rules);
            if was_dirty && before != ed.base && ev.cause == LoadCause::Loaded {
                ed.message = Some(
                    "Hetzner's rules changed since editing began: the diff is against the new ones"
                        .into(),
                );
            }
            if ev.cause == LoadCause::Loaded {
                ed.failure = None;
            }
        }
    }
    ed.server = Some(ev.firewall);
    let len = ed.row_count();
    model.fw.list.clamp(len);
}

/// Applies a failed read or apply: the in-flight flag clears, every edit stays.
pub fn failed(model: &mut Model, f: FirewallFailure) {
    let Some(ed) = &mut model.fw.editor else {
        return;
    };
    if ed.vm_id != f.vm_id {
        return;
    }
    if f.apply {
        ed.applying = false;
        ed.sent = None;
        ed.message = Some("apply failed: your edits are kept; fix and apply again".into());
    } else {
        ed.loading = false;
    }
    ed.failure = Some(f);
}

/// A refusal from the worker while an apply is in flight ends it (read-only mode).
pub fn refused(model: &mut Model, reason: &str) {
    if let Some(ed) = &mut model.fw.editor
        && ed.applying
    {
        ed.applying = false;
        ed.sent = None;
        ed.message = Some(format!("not applied: {reason}; your edits are kept"));
    }
}

fn view_of(f: &FirewallState) -> FirewallView {
    let mut applied_to = f.servers.clone();
    for (_, ids) in &f.label_selectors {
        applied_to.extend(ids);
    }
    FirewallView {
        id: f.id,
        name: f.name.clone(),
        rules: f
            .rules
            .iter()
            .map(|r| crate::protocol::RuleView {
                direction: r.direction.clone(),
                protocol: r.protocol.clone(),
                port: r.port.clone().unwrap_or_default(),
                source_ips: if r.direction == "out" {
                    r.destination_ips.clone()
                } else {
                    r.source_ips.clone()
                },
                description: r.description.clone().unwrap_or_default(),
            })
            .collect(),
        applied_to,
    }
}

/// Asks before unsaved edits are lost by `leave` (going to another pane, or quitting): opens
/// the discard question on the Firewall pane and returns true. False when there is nothing to
/// lose (the caller goes ahead).
pub(crate) fn ask_before_leaving(model: &mut Model, leave: Leave) -> bool {
    let Some(ed) = model.fw.editor.as_mut().filter(|e| e.dirty()) else {
        return false;
    };
    ed.leave = Some(leave);
    model.pane = Pane::Firewall;
    true
}

/// The pane was entered from another one: the editor opens for the selected VM (unless it
/// holds unsaved edits of another VM, which stay).
pub(crate) fn entered(model: &mut Model, effects: &mut Vec<Effect>) {
    let dirty = model.fw.editor.as_ref().is_some_and(FirewallEditor::dirty);
    let now_vm = model.fw.editor.as_ref().map(|e| e.vm_id);
    if let Some(id) = model.selected_vm().map(|v| v.record.id)
        && now_vm != Some(id)
        && !dirty
    {
        open(model, id, effects);
    }
}

/// Number of table rows (for the pane's selection).
pub fn row_count(model: &Model) -> usize {
    model
        .fw
        .editor
        .as_ref()
        .map_or(0, FirewallEditor::row_count)
}
