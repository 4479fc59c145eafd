//! The Vault pane's state machine (issue 6): the add dialog (a `ratatui-textarea` 0.9 text area
//! for a pasted public key or a file path, a label, the account), the delete dialog (which live
//! VMs still hold the key, with the `ssh` command for each), copying a fingerprint or public
//! key (OSC 52, written by the UI) and the worker's answers. No I/O.
//!
//! Private keys: after every keystroke and paste the text is checked
//! ([`looks_private`]); a private key clears the text area at once (a fresh one, so no undo
//! history or yank buffer keeps it) and the dialog says why. It is never sent in an effect,
//! kept in the model, stored or logged.

use crate::app::Model;
use crate::app::input::{LineInput, is_ctrl};
use crate::app::keymap::Action;
use crate::app::list::ListState;
use crate::domain::VaultEntry;
use crate::domain::sshkey::{KeyError, parse_public_key};
use crate::domain::vault::{Holder, Offer, Refusal, holders, prepare_entry};
use crate::protocol::Prebuilt;
use crate::protocol::{Effect, KeySource, Snapshot, VaultEvent};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::{TextArea, WrapMode};
use std::fmt;
use uuid::Uuid;

/// Placeholder of the key text area.
pub const KEY_PLACEHOLDER: &str = "paste a public key, or type a path like ~/.ssh/id_ed25519.pub";

/// The pasted-key text area. Equality compares the text; `Debug` shows only its size, so key
/// text never reaches a debug print.
#[derive(Clone)]
pub struct KeyInput(pub TextArea<'static>);

impl KeyInput {
    /// An empty text area with the placeholder, soft-wrapped (key lines are long).
    pub fn new() -> KeyInput {
        let mut t = TextArea::default();
        t.set_placeholder_text(KEY_PLACEHOLDER);
        t.set_wrap_mode(WrapMode::Glyph);
        t.set_cursor_line_style(ratatui::style::Style::default());
        KeyInput(t)
    }

    /// The text, lines joined with `\n`.
    pub fn text(&self) -> String {
        self.0.lines().join("\n")
    }
}

impl Default for KeyInput {
    fn default() -> Self {
        KeyInput::new()
    }
}

impl PartialEq for KeyInput {
    fn eq(&self, other: &Self) -> bool {
        self.0.lines() == other.0.lines()
    }
}

impl Eq for KeyInput {}

impl fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: usize = self.0.lines().iter().map(String::len).sum();
        write!(f, "KeyInput({} lines, {bytes} bytes)", self.0.lines().len())
    }
}

/// Which field of the add dialog has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddFocus {
    /// The key text area.
    #[default]
    Key,
    /// The label line.
    Label,
    /// The account (←/→ cycle).
    Account,
}

/// The add dialog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddDialog {
    /// Pasted key or typed path.
    pub input: KeyInput,
    /// Label typed; empty uses the key's comment.
    pub label: LineInput,
    /// The account whose Vault receives the key.
    pub account: String,
    /// Focused field.
    pub focus: AddFocus,
    /// The last refusal, shown under the fields; the typed text is kept (except a private key).
    pub error: Option<String>,
    /// An offer to accept with `y` or Enter (strip options; add each key).
    pub offer: Option<Offer>,
    /// Answers still expected from the worker.
    pub awaiting: usize,
    /// Labels added while waiting (several keys).
    pub added: Vec<String>,
    /// Esc was pressed with typed content: `y` discards it, `n` or Esc keeps it.
    pub confirm_discard: bool,
}

impl AddDialog {
    /// True when the operator typed or pasted something (key text or label) that Esc would
    /// lose.
    pub fn has_content(&self) -> bool {
        !self.input.0.is_empty() || !self.label.is_empty()
    }
}

/// The delete dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteDialog {
    /// The entry (a copy).
    pub entry: VaultEntry,
    /// Live VMs that received the key at provisioning.
    pub holders: Vec<Holder>,
    /// Waiting for the worker.
    pub awaiting: bool,
    /// A refusal from the worker.
    pub error: Option<String>,
}

/// A Vault dialog; it takes every key while open.
/// (At most one exists at a time, so the variants' size difference does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultDialog {
    /// Add a key.
    Add(AddDialog),
    /// Delete a key (or, for a deleted one, where it still is).
    Delete(DeleteDialog),
}

/// One row of the Vault pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRow {
    /// Index into `snapshot.vault`.
    pub entry: usize,
    /// Names of the live VMs that received this key at provisioning (they still hold it, even
    /// when the key was deleted from the Vault: docs/product-rules.md §5).
    pub holders: Vec<String>,
}

/// The Vault pane's own state in the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VaultUi {
    /// Selection in the key table.
    pub list: ListState,
    /// The key table: by account, then creation time.
    pub rows: Vec<VaultRow>,
    /// How many times [`VaultUi::derive`] ran (observable by tests and benchmarks).
    pub derives: u64,
    /// The open dialog.
    pub dialog: Option<VaultDialog>,
    /// Text for the terminal clipboard; the event loop writes it as OSC 52 and clears it.
    pub clipboard: Option<String>,
}

pub use crate::domain::sshkey::looks_private;

/// True when the input is a file path rather than key text: one line starting with `/`, `~` or
/// `.`, or one whitespace-free token ending in `.pub`.
pub fn is_path(text: &str) -> bool {
    let t = text.trim();
    !t.contains('\n')
        && (t.starts_with('/')
            || t.starts_with('~')
            || t.starts_with("./")
            || t.starts_with("../")
            || (!t.contains(char::is_whitespace) && t.ends_with(".pub")))
}

/// The message shown when a private key was pasted: the domain's own (it never echoes input).
pub fn private_key_message() -> String {
    KeyError::PrivateKey.to_string()
}

impl VaultUi {
    /// Recomputes the key table from the snapshot and the account filter: a deleted key stays
    /// listed only while a live VM still holds it (docs/product-rules.md §5). Keeps the
    /// selection in range.
    pub fn derive(&mut self, snap: &Snapshot, pre: &Prebuilt, account: Option<&str>) {
        // Which live VMs hold each Vault key: the worker's map, names sorted.
        let holders = &pre.holders;
        let mut rows: Vec<VaultRow> = snap
            .vault
            .iter()
            .enumerate()
            .filter(|(_, e)| account.is_none_or(|a| e.account == a))
            .filter(|(_, e)| e.deleted_at.is_none() || holders.contains_key(&e.id))
            .map(|(i, e)| VaultRow {
                entry: i,
                holders: holders.get(&e.id).cloned().unwrap_or_default(),
            })
            .collect();
        rows.sort_by(|a, b| {
            let (ea, eb) = (&snap.vault[a.entry], &snap.vault[b.entry]);
            (&ea.account, ea.created_at, &ea.label).cmp(&(&eb.account, eb.created_at, &eb.label))
        });
        self.rows = rows;
        self.list.clamp(self.rows.len());
        self.derives += 1;
    }
}

impl Model {
    /// The Vault entry of a Vault row.
    pub fn vault_entry(&self, row: &VaultRow) -> Option<&VaultEntry> {
        self.snapshot.vault.get(row.entry)
    }

    /// The Vault entry of the selected Vault row.
    pub fn selected_vault_entry(&self) -> Option<&VaultEntry> {
        let row = self.vault_ui.rows.get(self.vault_ui.list.selected)?;
        self.vault_entry(row)
    }

    /// The live VMs holding the Vault key `id` (from the snapshot).
    pub fn vault_holders(&self, id: Uuid) -> Vec<Holder> {
        holders(id, self.snapshot.vms.iter().map(|v| &v.record))
    }

    fn default_vault_account(&self) -> String {
        self.account_filter
            .clone()
            .or_else(|| self.selected_vault_entry().map(|e| e.account.clone()))
            .or_else(|| self.account_slugs().into_iter().next())
            .unwrap_or_default()
    }
}

/// Runs a Vault pane action (`a`, `d`, `c`, `C`).
pub(crate) fn action(model: &mut Model, action: Action) {
    match action {
        Action::VaultAdd => {
            let account = model.default_vault_account();
            if account.is_empty() {
                model.toast("no account yet: add one first (A)".into(), true);
                return;
            }
            model.vault_ui.dialog = Some(VaultDialog::Add(AddDialog {
                account,
                ..AddDialog::default()
            }));
        }
        Action::VaultDelete => {
            let Some(entry) = model.selected_vault_entry().cloned() else {
                model.toast("no Vault key selected".into(), true);
                return;
            };
            let holders = model.vault_holders(entry.id);
            model.vault_ui.dialog = Some(VaultDialog::Delete(DeleteDialog {
                entry,
                holders,
                awaiting: false,
                error: None,
            }));
        }
        Action::VaultCopyFingerprint | Action::VaultCopyKey => {
            let Some(entry) = model.selected_vault_entry().cloned() else {
                model.toast("no Vault key selected".into(), true);
                return;
            };
            let (what, text) = if action == Action::VaultCopyFingerprint {
                ("fingerprint", entry.fingerprint_sha256.clone())
            } else {
                ("public key", entry.public_key.clone())
            };
            model.vault_ui.clipboard = Some(text);
            model.toast(
                format!("copied the {what} of '{}' (OSC 52 clipboard)", entry.label),
                false,
            );
        }
        _ => {}
    }
}

/// Handles a key while a Vault dialog is open. Returns the effects to send.
pub(crate) fn dialog_key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(dialog) = model.vault_ui.dialog.take() else {
        return;
    };
    model.vault_ui.dialog = match dialog {
        VaultDialog::Add(d) => add_key(model, d, key, effects).map(VaultDialog::Add),
        VaultDialog::Delete(d) => delete_key(model, d, key, effects).map(VaultDialog::Delete),
    };
}

fn delete_key(
    model: &mut Model,
    mut d: DeleteDialog,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) -> Option<DeleteDialog> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter if d.entry.deleted_at.is_none() && !d.awaiting => {
            effects.push(Effect::DeleteVaultKey { id: d.entry.id });
            d.awaiting = true;
            d.error = None;
            Some(d)
        }
        KeyCode::Char('c') => {
            model.vault_ui.clipboard = Some(d.entry.fingerprint_sha256.clone());
            model.toast("copied the fingerprint (OSC 52 clipboard)".into(), false);
            Some(d)
        }
        _ if d.awaiting && !is_ctrl(&key, 'c') && key.code != KeyCode::Esc => Some(d),
        _ => None,
    }
}

fn add_key(
    model: &mut Model,
    mut d: AddDialog,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) -> Option<AddDialog> {
    if is_ctrl(&key, 'c') {
        if d.focus == AddFocus::Key && !d.input.0.is_empty() {
            d.input = KeyInput::new();
            d.error = None;
            d.offer = None;
            return Some(d);
        }
        return None;
    }
    if d.awaiting > 0 {
        // Waiting for the worker: only Esc closes (the answer then arrives as a toast).
        return (key.code != KeyCode::Esc).then_some(d);
    }
    if d.confirm_discard {
        // `y` discards what was typed; `n` or Esc keeps it; any other key (the rest of a
        // split escape sequence, say) changes nothing.
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => return None,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => d.confirm_discard = false,
            _ => {}
        }
        return Some(d);
    }
    if let Some(offer) = d.offer.take() {
        match key.code {
            KeyCode::Char('y') | KeyCode::Enter => {
                accept_offer(&mut d, offer, effects);
                return Some(d);
            }
            KeyCode::Esc => {
                d.error = None;
                return Some(d);
            }
            _ => d.error = None,
        }
    }
    match key.code {
        KeyCode::Esc if d.has_content() => {
            d.confirm_discard = true;
            return Some(d);
        }
        KeyCode::Esc => return None,
        KeyCode::Tab => {
            d.focus = match d.focus {
                AddFocus::Key => AddFocus::Label,
                AddFocus::Label => AddFocus::Account,
                AddFocus::Account => AddFocus::Key,
            };
            return Some(d);
        }
        KeyCode::BackTab => {
            d.focus = match d.focus {
                AddFocus::Key => AddFocus::Account,
                AddFocus::Label => AddFocus::Key,
                AddFocus::Account => AddFocus::Label,
            };
            return Some(d);
        }
        KeyCode::Enter => {
            submit(model, &mut d, effects);
            return Some(d);
        }
        _ => {}
    }
    match d.focus {
        AddFocus::Key => {
            d.input.0.input(key);
            d.error = None;
            screen_private(&mut d);
        }
        AddFocus::Label => {
            d.label.on_key(&key);
        }
        AddFocus::Account => {
            let slugs = model.account_slugs();
            if let Some(i) = slugs.iter().position(|s| *s == d.account) {
                let n = slugs.len();
                let next = match key.code {
                    KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('k') | KeyCode::Up => {
                        (i + n - 1) % n
                    }
                    KeyCode::Right
                    | KeyCode::Char('l')
                    | KeyCode::Char('j')
                    | KeyCode::Down
                    | KeyCode::Char(' ') => (i + 1) % n,
                    _ => i,
                };
                d.account = slugs[next].clone();
            } else if let Some(first) = slugs.first() {
                d.account = first.clone();
            }
        }
    }
    Some(d)
}

/// Clears the text area when it holds a private key, with the reason.
fn screen_private(d: &mut AddDialog) {
    if looks_private(&d.input.text()) {
        d.input = KeyInput::new();
        d.offer = None;
        d.error = Some(private_key_message());
    }
}

/// Inserts pasted text (bracketed paste) into the open add dialog: newlines kept in the key
/// area, never submitting; control characters become spaces in the label. True when a Vault
/// dialog took it.
pub(crate) fn paste(model: &mut Model, text: &str) -> bool {
    let Some(dialog) = model.vault_ui.dialog.as_mut() else {
        return false;
    };
    if let VaultDialog::Add(d) = dialog
        && d.awaiting == 0
        && !d.confirm_discard
    {
        d.offer = None;
        d.error = None;
        match d.focus {
            AddFocus::Key => {
                d.input
                    .0
                    .insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
                screen_private(d);
            }
            AddFocus::Label => {
                // A copied line often ends in a newline: trim that; any other control
                // character (an escape sequence, a tab) is refused with the reason, and nothing
                // of the paste reaches the screen.
                let text = text.trim_matches(|c: char| c == '\n' || c == '\r');
                if text.chars().any(char::is_control) {
                    d.error = Some(
                        "label: control characters (tabs, newlines, escapes) are not allowed; \
                         the paste was not inserted"
                            .into(),
                    );
                } else {
                    d.label.paste(text);
                }
            }
            AddFocus::Account => {}
        }
    }
    true
}

fn label_of(d: &AddDialog) -> Option<String> {
    let l = d.label.text().trim();
    (!l.is_empty()).then(|| l.to_string())
}

fn submit(model: &mut Model, d: &mut AddDialog, effects: &mut Vec<Effect>) {
    let text = d.input.text();
    if looks_private(&text) {
        screen_private(d);
        return;
    }
    if is_path(&text) {
        effects.push(Effect::AddVaultKey {
            account: d.account.clone(),
            label: label_of(d),
            source: KeySource::Path(text.trim().to_string()),
        });
        d.awaiting = 1;
        d.added.clear();
        d.error = None;
        return;
    }
    let existing: Vec<VaultEntry> = model
        .snapshot
        .vault
        .iter()
        .filter(|e| e.account == d.account)
        .cloned()
        .collect();
    match prepare_entry(
        &d.account,
        Some(d.label.text()),
        &text,
        &existing,
        model.now,
        Uuid::nil(),
    ) {
        Ok(entry) => {
            effects.push(Effect::AddVaultKey {
                account: d.account.clone(),
                label: label_of(d),
                source: KeySource::Text(entry.public_key),
            });
            d.awaiting = 1;
            d.added.clear();
            d.error = None;
        }
        Err(Refusal { message, offer }) => {
            if matches!(
                parse_public_key(&text),
                Err(KeyError::PrivateKey | KeyError::PuttyPrivateKey)
            ) {
                d.input = KeyInput::new();
            }
            d.error = Some(message);
            d.offer = offer;
        }
    }
}

fn accept_offer(d: &mut AddDialog, offer: Offer, effects: &mut Vec<Effect>) {
    let (lines, label) = match offer {
        Offer::StripOptions { line } => (vec![line], label_of(d)),
        Offer::AddEach { lines } => (lines, None),
    };
    d.awaiting = lines.len();
    d.added.clear();
    d.error = None;
    for line in lines {
        effects.push(Effect::AddVaultKey {
            account: d.account.clone(),
            label: label.clone(),
            source: KeySource::Text(line),
        });
    }
}

/// A generic refusal (read-only mode) while a Vault dialog waits: shown in the dialog.
pub(crate) fn refused(model: &mut Model, reason: &str) {
    if !reason.contains("Vault") {
        return;
    }
    match model.vault_ui.dialog.as_mut() {
        Some(VaultDialog::Add(d)) if d.awaiting > 0 => {
            d.awaiting = 0;
            d.error = Some(reason.to_string());
        }
        Some(VaultDialog::Delete(d)) if d.awaiting => {
            d.awaiting = false;
            d.error = Some(reason.to_string());
        }
        _ => {}
    }
}

/// Applies a Vault answer from the worker.
pub(crate) fn worker_event(model: &mut Model, ev: VaultEvent) {
    match ev {
        VaultEvent::Added { entry } => {
            select_entry(model, entry.id);
            let summary = format!(
                "added '{}' to {}'s Vault ({})",
                entry.label, entry.account, entry.fingerprint_sha256
            );
            match model.vault_ui.dialog.as_mut() {
                Some(VaultDialog::Add(d)) if d.awaiting > 0 => {
                    d.awaiting -= 1;
                    d.added.push(entry.label.clone());
                    if d.awaiting == 0 && d.error.is_none() {
                        let n = d.added.len();
                        model.vault_ui.dialog = None;
                        if n > 1 {
                            model.toast(
                                format!("added {n} keys to {}'s Vault", entry.account),
                                false,
                            );
                        } else {
                            model.toast(summary, false);
                        }
                    }
                }
                _ => model.toast(summary, false),
            }
        }
        VaultEvent::Refused(Refusal { message, offer }) => match model.vault_ui.dialog.as_mut() {
            Some(VaultDialog::Add(d)) if d.awaiting > 0 => {
                d.awaiting -= 1;
                d.error = Some(match d.error.take() {
                    Some(prev) => format!("{prev}\n{message}"),
                    None => message,
                });
                if d.offer.is_none() {
                    d.offer = offer;
                }
            }
            Some(VaultDialog::Delete(d)) if d.awaiting => {
                d.awaiting = false;
                d.error = Some(message);
            }
            _ => model.toast(format!("refused: {message}"), true),
        },
        VaultEvent::Deleted { entry, holders } => {
            if matches!(model.vault_ui.dialog, Some(VaultDialog::Delete(_))) {
                model.vault_ui.dialog = None;
            }
            let text = if holders.is_empty() {
                format!("deleted '{}' from {}'s Vault", entry.label, entry.account)
            } else {
                format!(
                    "deleted '{}' from the Vault; still on {} live VM{} until removed there",
                    entry.label,
                    holders.len(),
                    if holders.len() == 1 { "" } else { "s" }
                )
            };
            model.toast(text, false);
        }
    }
}

fn select_entry(model: &mut Model, id: Uuid) {
    if let Some(pos) = model.vault_ui.rows.iter().position(|r| {
        model
            .snapshot
            .vault
            .get(r.entry)
            .is_some_and(|e| e.id == id)
    }) {
        model.vault_ui.list.selected = pos;
    }
}
