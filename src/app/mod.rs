//! The dashboard state machine: [`Model`], [`Msg`], [`update`]`(model, msg) -> effects`. No I/O.
//!
//! The model holds the worker's last [`Snapshot`], one state struct per pane (`panes/`: VMs,
//! Firewall, Vault, Usage, Audit, each with its keys, worker answers and `derive`), the
//! lifecycle dialogs, overlays, toasts and the status (mode, last sync, budget, last error,
//! offline, stale). [`focus`] decides who gets each key, paste and mouse event. [`update`] never
//! reads a clock: time arrives in [`Msg::Tick`]. It returns the [`Effect`]s the event loop must
//! send to the worker, and sets [`Model::quit`] when the console should exit.

pub mod input;
pub mod keymap;
pub mod lifecycle;
pub mod list;
pub mod overlay;
pub mod panes;

pub use list::ListState;
pub use overlay::{
    AccountForm, AccountsOverlay, CommandLine, FilterLine, Overlay, help_line_count,
};
pub use panes::vms::VmsView;

use crate::protocol::Prebuilt;
use crate::protocol::{Budget, Effect, Mode, Snapshot, WorkerEvent};
use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use keymap::Action;
use panes::firewall::{self as firewall, Leave};
use panes::{audit, usage, vault};
use std::collections::BTreeSet;
use uuid::Uuid;

/// How long a toast stays on screen, in seconds.
pub const TOAST_SECONDS: i64 = 4;

/// A sync older than this (seconds) is shown as `stale` (our choice: ten default sync intervals
/// of 30 s).
pub const STALE_AFTER_SECONDS: i64 = 300;

/// The dashboard's panes, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// The VM list with its detail panel.
    Vms,
    /// The selected VM's firewall rules (read-only in this issue).
    Firewall,
    /// Vault keys per account.
    Vault,
    /// Usage and cost over a period (issue 7), grouped by account, VM, tier or region.
    Usage,
    /// Audit timeline.
    Audit,
}

impl Pane {
    /// Every pane, in tab order (keys `1`–`5`).
    pub const ALL: [Pane; 5] = [
        Pane::Vms,
        Pane::Firewall,
        Pane::Vault,
        Pane::Usage,
        Pane::Audit,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Vms => "VMs",
            Pane::Firewall => "Firewall",
            Pane::Vault => "Vault",
            Pane::Usage => "Usage",
            Pane::Audit => "Audit",
        }
    }

    /// Position in [`Pane::ALL`].
    pub fn index(self) -> usize {
        Pane::ALL
            .iter()
            .position(|p| *p == self)
            .unwrap_or_default()
    }

    /// The tab-bar label, e.g. ` 1 VMs `. The renderer and mouse hit-testing both use it.
    pub fn tab_label(self) -> String {
        format!(" {} {} ", self.index() + 1, self.title())
    }
}

/// The pane at column `x` of the tab bar (labels laid out from column 0, one space apart).
pub fn tab_at(x: u16) -> Option<Pane> {
    let mut start = 0u16;
    for pane in Pane::ALL {
        let w = u16::try_from(pane.tab_label().chars().count()).unwrap_or(u16::MAX);
        if x >= start && x < start.saturating_add(w) {
            return Some(pane);
        }
        start = start.saturating_add(w).saturating_add(1);
    }
    None
}

/// A short message shown for [`TOAST_SECONDS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// The message.
    pub text: String,
    /// An error (shown with an `error:` prefix).
    pub error: bool,
    /// When it disappears (UTC).
    pub until: DateTime<Utc>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Live or demo.
    pub mode: Mode,
    /// `--read-only`: the worker refuses mutating effects; the badge says READ-ONLY.
    pub read_only: bool,
    /// `NO_COLOR`: render with modifiers only.
    pub no_color: bool,
    /// Operator name (shown in the status bar; the worker records it as audit actor).
    pub operator: String,
    /// The time of the last tick (UTC); all ages are relative to it.
    pub now: DateTime<Utc>,
    /// The worker's last snapshot.
    pub snapshot: Snapshot,
    /// The snapshot's ready-made views (VM table, Vault holders, audit order, sparklines): the
    /// worker's, or built once from a hand-made snapshot ([`crate::view::prebuilt`]).
    pub prebuilt: Prebuilt,
    /// The pane shown.
    pub pane: Pane,
    /// Account slug every pane is narrowed to, if any.
    pub account_filter: Option<String>,
    /// The VMs pane (`app/panes/vms.rs`).
    pub vms: VmsView,
    /// The Firewall pane: rule selection and editor (`app/panes/firewall.rs`).
    pub fw: panes::firewall::FirewallPane,
    /// The Vault pane: key table, dialogs, pending clipboard copy (`app/panes/vault.rs`).
    pub vault_ui: panes::vault::VaultUi,
    /// The Usage pane: period, grouping, store reads, report (`app/panes/usage.rs`).
    pub usage_ui: panes::usage::UsageUi,
    /// The Audit pane: timeline, filter, event detail (`app/panes/audit.rs`).
    pub audit_ui: panes::audit::AuditUi,
    /// Lifecycle dialogs (create, confirmations, success view) and operation progress: opened
    /// from the VMs pane or `:create`, drawn over any pane (`app/lifecycle.rs`).
    pub life: lifecycle::LifeUi,
    /// Last successful sync (UTC).
    pub last_sync: Option<DateTime<Utc>>,
    /// A sync is running.
    pub syncing: bool,
    /// The last error, in words, until the next successful sync.
    pub last_error: Option<String>,
    /// The API could not be reached at the last sync, or the service is unreachable.
    pub offline: bool,
    /// Local (own worker and store) or attached to a service: shown in the status bar.
    pub attachment: crate::protocol::wire::Attachment,
    /// API budget from the last response.
    pub budget: Option<Budget>,
    /// The open overlay.
    pub overlay: Option<Overlay>,
    /// Toasts, oldest first.
    pub toasts: Vec<Toast>,
    /// Mouse capture on (the event loop enables/disables it to match).
    pub mouse_capture: bool,
    /// Whether the console should exit ([`Quit::Now`], read by the event loop; only [`exit`]
    /// sets it) or waits for a second quit ([`Quit::Armed`]).
    pub quit: Quit,
    /// Set when something visible changed since the last draw; the event loop clears it.
    pub dirty: bool,
}

/// An input to [`update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A key press.
    Key(KeyEvent),
    /// Bracketed paste text.
    Paste(String),
    /// A mouse event (only while mouse capture is on).
    Mouse(MouseEvent),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// The clock: sent about once a second, and with every other batch of input.
    Tick {
        /// Current time (UTC).
        now: DateTime<Utc>,
    },
    /// A message from the worker.
    Worker(WorkerEvent),
}

impl Model {
    /// An empty model (no snapshot yet) for the given mode and options, at time `now`.
    pub fn new(
        mode: Mode,
        read_only: bool,
        no_color: bool,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Model {
        Model {
            mode,
            read_only,
            no_color,
            operator: operator.to_string(),
            now,
            snapshot: Snapshot {
                stale: true,
                ..Snapshot::default()
            },
            prebuilt: Prebuilt::default(),
            pane: Pane::Vms,
            account_filter: None,
            vms: VmsView::default(),
            fw: panes::firewall::FirewallPane::default(),
            vault_ui: panes::vault::VaultUi::default(),
            usage_ui: panes::usage::UsageUi::default(),
            audit_ui: panes::audit::AuditUi::default(),
            life: lifecycle::LifeUi::default(),
            last_sync: None,
            syncing: false,
            last_error: None,
            offline: false,
            attachment: crate::protocol::wire::Attachment::Local,
            budget: None,
            overlay: None,
            toasts: Vec::new(),
            mouse_capture: false,
            quit: Quit::No,
            dirty: true,
        }
    }

    /// Status-bar text for the sync state: `syncing…`, `synced 12s ago`, `stale (synced 6m
    /// ago)`, `stale (never synced)`.
    pub fn sync_label(&self) -> String {
        let synced = self
            .last_sync
            .map(|t| crate::view::vm_index::age(t, self.now));
        let stale = self.snapshot.stale
            || self
                .last_sync
                .is_none_or(|t| (self.now - t).num_seconds() > STALE_AFTER_SECONDS);
        let base = match (&synced, stale) {
            (Some(a), false) => format!("synced {a} ago"),
            (Some(a), true) => format!("stale (synced {a} ago)"),
            (None, _) => "stale (never synced)".to_string(),
        };
        if self.syncing {
            format!("syncing… {base}")
        } else {
            base
        }
    }

    /// The badge words for the status bar: `LIVE`/`DEMO`, then `READ-ONLY` and `OFFLINE` when
    /// they apply.
    pub fn badges(&self) -> Vec<&'static str> {
        let mut out = vec![match self.mode {
            Mode::Live => "LIVE",
            Mode::Demo => "DEMO",
        }];
        if self.read_only {
            out.push("READ-ONLY");
        }
        if self.offline {
            out.push("OFFLINE");
        }
        out
    }

    /// Accounts known to the snapshot, sorted by slug.
    pub fn account_slugs(&self) -> Vec<String> {
        let mut set: BTreeSet<String> = self
            .snapshot
            .accounts
            .iter()
            .map(|a| a.slug.clone())
            .collect();
        for vm in &self.snapshot.vms {
            set.insert(vm.record.account.clone());
        }
        set.into_iter().collect()
    }

    pub(crate) fn toast(&mut self, text: String, error: bool) {
        self.toasts.push(Toast {
            text,
            error,
            until: self.now + Duration::seconds(TOAST_SECONDS),
        });
        if self.toasts.len() > 3 {
            self.toasts.remove(0);
        }
    }

    /// Narrows every pane to `account` (`None`: all) and re-derives the panes that depend on it.
    fn set_account_filter(&mut self, account: Option<String>) {
        self.account_filter = account;
        self.refilter();
        let account = self.account_filter.as_deref();
        self.vault_ui
            .derive(&self.snapshot, &self.prebuilt, account);
        self.audit_ui
            .derive(&self.snapshot, &self.prebuilt, account);
    }

    fn list_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Vms => self.vms.index.visible().len(),
            Pane::Firewall => panes::firewall::row_count(self),
            Pane::Vault => self.vault_ui.rows.len(),
            Pane::Usage => self
                .usage_ui
                .view
                .report
                .as_ref()
                .map_or(0, |r| r.groups.len()),
            Pane::Audit => self.audit_ui.rows.len(),
        }
    }

    fn list_mut(&mut self, pane: Pane) -> &mut ListState {
        match pane {
            Pane::Vms => &mut self.vms.list,
            Pane::Firewall => &mut self.fw.list,
            Pane::Vault => &mut self.vault_ui.list,
            Pane::Usage => &mut self.usage_ui.list,
            Pane::Audit => &mut self.audit_ui.list,
        }
    }

    /// The list state of `pane`.
    pub fn list(&self, pane: Pane) -> &ListState {
        match pane {
            Pane::Vms => &self.vms.list,
            Pane::Firewall => &self.fw.list,
            Pane::Vault => &self.vault_ui.list,
            Pane::Usage => &self.usage_ui.list,
            Pane::Audit => &self.audit_ui.list,
        }
    }

    fn move_selection(&mut self, action: Action) {
        let pane = self.pane;
        let len = self.list_len(pane);
        if self.list_mut(pane).apply(action, len) && pane == Pane::Vms {
            self.remember_selection();
            self.fw.list = ListState::default();
        }
    }
}

/// Shows `pane`. Leaving the Firewall pane with unsaved edits asks first (and stays);
/// entering it opens the editor for the selected VM.
pub(crate) fn go(model: &mut Model, pane: Pane, effects: &mut Vec<Effect>) {
    let from = model.pane;
    if from == Pane::Firewall
        && pane != Pane::Firewall
        && panes::firewall::ask_before_leaving(model, Leave::Pane(pane))
    {
        model.overlay = None;
        return;
    }
    model.pane = pane;
    let len = model.list_len(pane);
    model.list_mut(pane).clamp(len);
    if pane == Pane::Firewall && from != Pane::Firewall {
        panes::firewall::entered(model, effects);
    }
}

/// Exits the console, unless the firewall editor holds unsaved edits: then it asks first
/// (`y` discards them and quits).
pub(crate) fn exit(model: &mut Model) {
    if panes::firewall::ask_before_leaving(model, Leave::Quit) {
        model.quit = Quit::No;
        return;
    }
    model.quit = Quit::Now;
}

/// Where quitting stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quit {
    /// The console runs.
    #[default]
    No,
    /// A quit was asked for while lifecycle operations ran: if the very next key asks to quit
    /// again, it quits; any other key disarms it ([`request_quit`]).
    Armed,
    /// The console exits after this message.
    Now,
}

/// Who gets keys, pastes and mouse events, in this order: an open lifecycle dialog, an open
/// Vault dialog, an overlay, a pane mode that takes every key, else the keymap of the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// A lifecycle dialog (create, confirmation, success view).
    Lifecycle,
    /// A Vault dialog (add, delete).
    VaultDialog,
    /// The open overlay (help, command line, filter line, accounts).
    Overlay,
    /// The Audit pane's filter line or event detail.
    AuditInput,
    /// The firewall editor's text mode, row form, review or discard question.
    FirewallEditor,
    /// The keymap ([`keymap::lookup`]) for the shown pane.
    Keymap,
}

/// The one place that decides where input goes (see [`Focus`]).
pub fn focus(model: &Model) -> Focus {
    if model.life.dialog.is_some() {
        Focus::Lifecycle
    } else if model.vault_ui.dialog.is_some() {
        Focus::VaultDialog
    } else if model.overlay.is_some() {
        Focus::Overlay
    } else if panes::audit::captures_keys(model) {
        Focus::AuditInput
    } else if panes::firewall::captures_keys(model) {
        Focus::FirewallEditor
    } else {
        Focus::Keymap
    }
}

/// Applies one message to the model and returns the effects to send to the worker, in order.
/// Sets [`Model::quit`] when the console should exit and [`Model::dirty`] when the screen must
/// be redrawn.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    match msg {
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return effects;
            }
            model.dirty = true;
            let was_armed = model.quit == Quit::Armed;
            match focus(model) {
                Focus::Lifecycle => lifecycle::key(model, key, &mut effects),
                Focus::VaultDialog => panes::vault::dialog_key(model, key, &mut effects),
                Focus::Overlay => overlay::key(model, key, &mut effects),
                Focus::AuditInput => panes::audit::key(model, key),
                Focus::FirewallEditor => panes::firewall::key(model, key, &mut effects),
                Focus::Keymap => {
                    if let Some(action) = keymap::lookup(&key, model.pane) {
                        apply(model, action, &mut effects);
                    }
                }
            }
            // An operation sent with this key runs from now on, before the worker's first
            // progress event (a quit in the same burst of keys must not cut it off unseen).
            model
                .life
                .sent
                .extend(effects.iter().filter_map(Effect::vm_id));
            // Armed by the previous key and not confirmed by this one: disarmed.
            if was_armed && model.quit == Quit::Armed {
                model.quit = Quit::No;
            }
        }
        Msg::Paste(text) => {
            model.dirty = true;
            match focus(model) {
                Focus::Lifecycle => lifecycle::paste(model, &text),
                Focus::VaultDialog => {
                    panes::vault::paste(model, &text);
                }
                Focus::Overlay => overlay::paste(model, &text),
                Focus::AuditInput => panes::audit::paste(model, &text),
                Focus::FirewallEditor => {
                    panes::firewall::paste(model, &text);
                }
                Focus::Keymap => {}
            }
        }
        Msg::Mouse(ev) => match focus(model) {
            Focus::Keymap | Focus::AuditInput | Focus::FirewallEditor => {
                mouse(model, ev, &mut effects)
            }
            Focus::Lifecycle | Focus::VaultDialog | Focus::Overlay => {}
        },
        Msg::Resize(_, _) => model.dirty = true,
        Msg::Tick { now } => tick(model, now),
        Msg::Worker(ev) => {
            model.dirty = true;
            worker_event(model, ev);
        }
    }
    // The Usage pane asks the worker when its choices, the day or the minute moved (O(1)).
    usage::ask(model, &mut effects);
    effects
}

/// A new snapshot from the worker: every pane re-derives from it, each its own data.
fn on_snapshot(model: &mut Model, snap: Snapshot) {
    model.prebuilt = crate::view::prebuilt(&snap, model.now.date_naive());
    model.snapshot = snap;
    model.reindex();
    let account = model.account_filter.as_deref();
    model
        .vault_ui
        .derive(&model.snapshot, &model.prebuilt, account);
    model
        .audit_ui
        .derive(&model.snapshot, &model.prebuilt, account);
    let rules = panes::firewall::row_count(model);
    model.fw.list.clamp(rules);
    lifecycle::snapshot(model);
}

fn tick(model: &mut Model, now: DateTime<Utc>) {
    let label = model.sync_label();
    let minute = model.now.timestamp() / 60;
    let toasts = model.toasts.len();
    model.now = now;
    model.toasts.retain(|t| t.until > now);
    if label != model.sync_label() || minute != now.timestamp() / 60 || toasts != model.toasts.len()
    {
        model.dirty = true;
    }
}

fn worker_event(model: &mut Model, ev: WorkerEvent) {
    match ev {
        WorkerEvent::Snapshot(snap) => on_snapshot(model, *snap),
        WorkerEvent::SyncStarted => model.syncing = true,
        WorkerEvent::SyncOk { at } => {
            model.syncing = false;
            model.offline = false;
            model.last_sync = Some(at);
            model.last_error = None;
        }
        WorkerEvent::SyncFailed { error, offline } => {
            model.syncing = false;
            model.offline = offline;
            model.last_error = Some(error);
        }
        WorkerEvent::Budget(b) => model.budget = Some(b),
        WorkerEvent::ServiceLost { error } => {
            model.syncing = false;
            model.offline = true;
            model.last_error = Some(format!("service unreachable: {error}; reconnecting"));
        }
        WorkerEvent::ServiceBack => {
            model.offline = false;
            model.last_error = None;
            model.toast("reconnected to the service".to_string(), false);
        }
        WorkerEvent::Refused { reason } => {
            // A refused operation never ran (the worker refuses before starting one).
            model.life.sent.clear();
            firewall::refused(model, &reason);
            vault::refused(model, &reason);
            lifecycle::refused(model, &reason);
            model.toast(format!("refused: {reason}"), true);
            model.last_error = Some(reason);
        }
        WorkerEvent::Info(text) => model.toast(text, false),
        WorkerEvent::Progress {
            vm_id,
            percent,
            step,
        } => lifecycle::progress(model, vm_id, percent, step),
        WorkerEvent::Provisioned(result) => lifecycle::provisioned(model, result),
        WorkerEvent::OperationDone {
            vm_id,
            what,
            warning,
        } => {
            lifecycle::operation_ended(model, vm_id);
            match warning {
                Some(w) => model.toast(format!("{what} — {w}"), false),
                None => model.toast(what, false),
            }
        }
        WorkerEvent::OperationFailed { vm_id, error } => {
            lifecycle::operation_ended(model, vm_id);
            model.toast(error, true)
        }
        WorkerEvent::Firewall(loaded) => firewall::loaded(model, *loaded),
        WorkerEvent::FirewallFailed(f) => {
            if !f.apply {
                model.toast(format!("firewall {}: {}", f.firewall_id, f.summary()), true);
            }
            firewall::failed(model, *f);
        }
        WorkerEvent::Vault(ev) => vault::worker_event(model, ev),
        WorkerEvent::Usage(view) => usage::answered(model, *view),
    }
}

/// Asks to quit (`q`, Ctrl-c, `:q`, or `y` to discarding firewall edits before quitting).
/// Quits ([`exit`]), unless lifecycle operations are still running and the previous key did not
/// already ask: then nothing quits, the toast names what would be cut off (a destroy cut off
/// may leave the server or its firewall behind), and asking again with the very next key quits.
pub(crate) fn request_quit(model: &mut Model) {
    let name_of = |id: &Uuid| {
        model
            .snapshot
            .vms
            .iter()
            .find(|v| v.record.id == *id)
            .map_or_else(|| id.to_string(), |v| v.record.name.clone())
    };
    let mut running: Vec<String> = model
        .life
        .progress
        .iter()
        .map(|(id, p)| format!("{} ({})", name_of(id), p.step))
        .chain(
            model
                .life
                .sent
                .iter()
                .filter(|id| !model.life.progress.contains_key(id))
                .map(|id| format!("{} (starting)", name_of(id))),
        )
        .collect();
    let creating = match &model.life.dialog {
        Some(lifecycle::LifeDialog::Create(d)) if d.in_flight => Some(d.name.clone()),
        _ => None,
    };
    if let Some(name) = &creating {
        running.push(format!("{name} (creating)"));
    }
    // Attached, the service runs the operations to their end whoever quits; only a create's
    // result (and its one-time password, shown to this console alone) would be missed.
    if matches!(
        model.attachment,
        crate::protocol::wire::Attachment::Shared { .. }
    ) {
        match creating {
            Some(name) if model.quit != Quit::Armed => {
                model.quit = Quit::Armed;
                model.toast(
                    format!(
                        "q again to quit: the service finishes creating {name}, but its result \
                         and one-time password would not be shown"
                    ),
                    false,
                );
            }
            _ => exit(model),
        }
        return;
    }
    if model.quit == Quit::Armed || running.is_empty() {
        exit(model);
        return;
    }
    running.sort();
    model.quit = Quit::Armed;
    // The instruction first: a narrow status bar cuts the end of a toast.
    model.toast(
        format!(
            "q again to quit and cut off: {} (or wait for it to end)",
            running.join(", ")
        ),
        true,
    );
}

/// Runs a keymap action.
pub(crate) fn apply(model: &mut Model, action: Action, effects: &mut Vec<Effect>) {
    match action {
        Action::Quit => request_quit(model),
        Action::Help => model.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::Command => model.overlay = Some(Overlay::Command(CommandLine::default())),
        Action::Filter | Action::SortNext | Action::SortReverse | Action::ToggleDeleted => {
            panes::vms::action(model, action)
        }
        Action::ClearFilter => {
            // In the Audit pane its own filters go first (the text, then the kind).
            if model.pane == Pane::Audit
                && (!model.audit_ui.filter.is_empty() || model.audit_ui.kind.is_some())
            {
                panes::audit::clear_filters(model);
            } else if !model.vms.filter.is_empty() {
                model.vms.filter.clear();
                model.refilter();
            } else if model.account_filter.is_some() {
                model.set_account_filter(None);
            }
        }
        Action::NextPane => {
            let next = Pane::ALL[(model.pane.index() + 1) % Pane::ALL.len()];
            go(model, next, effects)
        }
        Action::PrevPane => {
            let prev = Pane::ALL[(model.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()];
            go(model, prev, effects)
        }
        Action::GoPane(p) => go(model, p, effects),
        Action::Down
        | Action::Up
        | Action::Top
        | Action::Bottom
        | Action::PageDown
        | Action::PageUp
        | Action::HalfPageDown
        | Action::HalfPageUp => model.move_selection(action),
        Action::CycleAccount => {
            let slugs = model.account_slugs();
            let next = match &model.account_filter {
                None => slugs.first().cloned(),
                Some(cur) => slugs
                    .iter()
                    .position(|s| s == cur)
                    .and_then(|i| slugs.get(i + 1))
                    .cloned(),
            };
            model.set_account_filter(next);
        }
        Action::VaultAdd
        | Action::VaultDelete
        | Action::VaultCopyFingerprint
        | Action::VaultCopyKey => vault::action(model, action),
        Action::Accounts => model.overlay = Some(Overlay::Accounts(AccountsOverlay::default())),
        Action::Refresh => {
            effects.push(Effect::Refresh);
            model.toast("refresh requested".into(), false);
        }
        Action::Firewall(a) => firewall::action(model, a, effects),
        Action::Life(a) => lifecycle::action(model, a, effects),
        Action::AuditFilter => audit::start_filter(model),
        Action::AuditKind => audit::cycle_kind(model),
        Action::AuditDetail => audit::open_detail(model),
        Action::UsagePeriod => usage::cycle_period(model),
        Action::UsageMonthBack => usage::step_month(model, -1),
        Action::UsageMonthForward => usage::step_month(model, 1),
        Action::UsageGroup => usage::cycle_group(model),
        Action::ToggleMouse => {
            model.mouse_capture = !model.mouse_capture;
            let state = if model.mouse_capture {
                "mouse on (hold Shift to select text)"
            } else {
                "mouse off"
            };
            model.toast(state.into(), false);
        }
    }
}

/// A mouse event for the pane (scroll moves the selection, a click picks a tab or a row).
fn mouse(model: &mut Model, ev: MouseEvent, effects: &mut Vec<Effect>) {
    match ev.kind {
        MouseEventKind::ScrollDown => {
            model.dirty = true;
            apply(model, Action::Down, effects);
        }
        MouseEventKind::ScrollUp => {
            model.dirty = true;
            apply(model, Action::Up, effects);
        }
        MouseEventKind::Down(crossterm::event::MouseButton::Left) => {
            if ev.row == 0 {
                if let Some(p) = tab_at(ev.column) {
                    model.dirty = true;
                    go(model, p, effects);
                }
                return;
            }
            let pane = model.pane;
            let list = model.list(pane);
            let (top, height) = (list.top.get(), list.viewport.get());
            if ev.row >= top && usize::from(ev.row - top) < height {
                let pos = list.offset.get() + usize::from(ev.row - top);
                if pos < model.list_len(pane) {
                    model.dirty = true;
                    model.list_mut(pane).selected = pos;
                    if pane == Pane::Vms {
                        model.remember_selection();
                        model.fw.list = ListState::default();
                    }
                }
            }
        }
        _ => {}
    }
}
