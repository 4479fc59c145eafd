//! The Audit pane (issue 4): the timeline (newest first, narrowed by the account filter), `/`
//! edits a substring filter (VM name, accounts, actor, outcome, kind), `K` cycles the kind
//! (all → destroy → transfer), Enter opens the selected event with every field (sequence, id,
//! hashes). Pure state, no I/O; drawing is in `ui/panes/audit.rs`.

use crate::app::input::{Edit, LineInput, is_ctrl};
use crate::app::list::ListState;
use crate::app::{Model, Pane};
use crate::domain::{AuditEvent, AuditKind};
use crate::protocol::Prebuilt;
use crate::protocol::Snapshot;
use crossterm::event::{KeyCode, KeyEvent};

/// Audit pane state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditUi {
    /// Selection in the timeline.
    pub list: ListState,
    /// The timeline: indices into `snapshot.audit` that pass the filters, newest first.
    pub rows: Vec<usize>,
    /// How many times [`AuditUi::derive`] ran (observable by tests and benchmarks).
    pub derives: u64,
    /// Substring filter, case-insensitive, over kind, VM name and id, accounts, actor, outcome.
    pub filter: LineInput,
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
    let needle = ui.filter.text().trim().to_lowercase();
    needle.is_empty() || {
        let hay = crate::view::derived::audit_haystack(e);
        needle.split_whitespace().all(|w| hay.contains(w))
    }
}

impl AuditUi {
    /// Recomputes the timeline from the snapshot, the account filter (`account`: an event of
    /// it, or transferred to it) and this pane's own filters; keeps the selection in range.
    pub fn derive(&mut self, snap: &Snapshot, pre: &Prebuilt, account: Option<&str>) {
        // The worker's newest-first order and lowercase haystacks: one filtering pass, no sort,
        // no allocation per event.
        let needle = self.filter.text().trim().to_lowercase();
        let words: Vec<&str> = needle.split_whitespace().collect();
        let kind = self.kind;
        self.rows = pre
            .audit_newest_first
            .iter()
            .copied()
            .filter(|&i| {
                snap.audit.get(i).is_some_and(|e| {
                    account.is_none_or(|a| e.account == a || e.to_account.as_deref() == Some(a))
                        && kind.is_none_or(|k| k == e.kind)
                        && (words.is_empty()
                            || match pre.audit_haystacks.get(i) {
                                Some(hay) => words.iter().all(|w| hay.contains(w)),
                                None => matches(self, e),
                            })
                })
            })
            .collect();
        self.list.clamp(self.rows.len());
        self.derives += 1;
    }
}

/// True when the Audit pane takes every key (filter line or detail view open).
pub fn captures_keys(model: &Model) -> bool {
    model.pane == Pane::Audit && (model.audit_ui.editing || model.audit_ui.detail)
}

/// The selected audit event, if any.
pub fn selected_event(model: &Model) -> Option<&AuditEvent> {
    let i = *model.audit_ui.rows.get(model.audit_ui.list.selected)?;
    model.snapshot.audit.get(i)
}

fn derive(model: &mut Model) {
    model.audit_ui.derive(
        &model.snapshot,
        &model.prebuilt,
        model.account_filter.as_deref(),
    );
}

/// Esc in the Audit pane: clears its text filter and kind filter.
pub(crate) fn clear_filters(model: &mut Model) {
    model.audit_ui.filter.clear();
    model.audit_ui.kind = None;
    derive(model);
}

/// `/` in the Audit pane: edit the filter.
pub(crate) fn start_filter(model: &mut Model) {
    model.audit_ui.editing = true;
}

/// `K` in the Audit pane: all → destroy → transfer → all.
pub(crate) fn cycle_kind(model: &mut Model) {
    model.audit_ui.kind = match model.audit_ui.kind {
        None => Some(AuditKind::Destroy),
        Some(AuditKind::Destroy) => Some(AuditKind::Transfer),
        Some(AuditKind::Transfer) => None,
    };
    derive(model);
}

/// Enter in the Audit pane: open the selected event.
pub(crate) fn open_detail(model: &mut Model) {
    if selected_event(model).is_some() {
        model.audit_ui.detail = true;
    }
}

/// A key while the filter line or the detail view is open. Re-derives only the timeline.
pub(crate) fn key(model: &mut Model, key: KeyEvent) {
    let ui = &mut model.audit_ui;
    if ui.detail {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
            ui.detail = false;
        }
        return;
    }
    if is_ctrl(&key, 'u') && ui.filter.is_empty() {
        ui.editing = false;
    }
    match ui.filter.on_key(&key) {
        Edit::Submit => ui.editing = false,
        Edit::Cancel => {
            ui.editing = false;
            ui.filter.clear();
        }
        Edit::Changed => {}
        Edit::Ignored if key.code == KeyCode::Backspace => {}
        Edit::Ignored => return,
    }
    derive(model);
}

/// Pasted text into the filter line (see [`LineInput::paste`]).
pub(crate) fn paste(model: &mut Model, text: &str) {
    if model.audit_ui.editing && model.audit_ui.filter.paste(text) == Edit::Changed {
        derive(model);
    }
}
