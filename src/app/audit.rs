//! The Audit pane's filter and event detail (issue 4): `/` edits a substring filter (VM name,
//! accounts, actor, outcome, kind), `K` cycles the kind (all → destroy → transfer), Enter opens
//! the selected event with every field (sequence, id, hashes). Pure state, no I/O.

use super::Model;
use crate::domain::{AuditEvent, AuditKind};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Audit pane state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditUi {
    /// Substring filter, case-insensitive, over kind, VM name and id, accounts, actor, outcome.
    pub filter: String,
    /// Only events of this kind (`None`: all).
    pub kind: Option<AuditKind>,
    /// The filter line has the keyboard.
    pub editing: bool,
    /// The detail view of the selected event is open.
    pub detail: bool,
}

/// True when `e` passes the kind and substring filter.
pub fn matches(ui: &AuditUi, e: &AuditEvent) -> bool {
    if ui.kind.is_some_and(|k| k != e.kind) {
        return false;
    }
    let needle = ui.filter.trim().to_lowercase();
    if needle.is_empty() {
        return true;
    }
    let hay = format!(
        "{} {} {} {} {} {} {}",
        e.kind,
        e.vm_name,
        e.vm_id,
        e.account,
        e.to_account.as_deref().unwrap_or(""),
        e.actor,
        e.outcome
    )
    .to_lowercase();
    needle.split_whitespace().all(|w| hay.contains(w))
}

/// True when the Audit pane takes every key (filter line or detail view open).
pub fn captures_keys(model: &Model) -> bool {
    model.pane == super::Pane::Audit && (model.audit_ui.editing || model.audit_ui.detail)
}

/// The selected audit event, if any.
pub fn selected_event(model: &Model) -> Option<&AuditEvent> {
    let i = *model.derived.audit.get(model.audit.selected)?;
    model.snapshot.audit.get(i)
}

/// `/` in the Audit pane: edit the filter.
pub(super) fn start_filter(model: &mut Model) {
    model.audit_ui.editing = true;
}

/// `K` in the Audit pane: all → destroy → transfer → all.
pub(super) fn cycle_kind(model: &mut Model) {
    model.audit_ui.kind = match model.audit_ui.kind {
        None => Some(AuditKind::Destroy),
        Some(AuditKind::Destroy) => Some(AuditKind::Transfer),
        Some(AuditKind::Transfer) => None,
    };
    model.derive();
}

/// Enter in the Audit pane: open the selected event.
pub(super) fn open_detail(model: &mut Model) {
    if selected_event(model).is_some() {
        model.audit_ui.detail = true;
    }
}

/// A key while the filter line or the detail view is open.
pub(super) fn key(model: &mut Model, key: KeyEvent) {
    if model.audit_ui.detail {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
            model.audit_ui.detail = false;
        }
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Enter => model.audit_ui.editing = false,
        KeyCode::Esc => {
            model.audit_ui.editing = false;
            model.audit_ui.filter.clear();
        }
        KeyCode::Char('c') | KeyCode::Char('u') if ctrl => {
            if model.audit_ui.filter.is_empty() {
                model.audit_ui.editing = false;
            }
            model.audit_ui.filter.clear();
        }
        KeyCode::Backspace => {
            model.audit_ui.filter.pop();
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            model.audit_ui.filter.push(c)
        }
        _ => return,
    }
    model.derive();
}
