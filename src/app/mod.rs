//! The dashboard state machine: [`Model`], [`Msg`], [`update`]`(model, msg) -> effects`. No I/O.
//!
//! The model holds the worker's last [`Snapshot`] plus view state per pane (selection, scroll,
//! sort, filter, account filter), the status (mode, last sync, budget, last error, offline,
//! stale), overlays and toasts. [`update`] never reads a clock: time arrives in
//! [`Msg::Tick`]. It returns the [`Effect`]s the event loop must send to the worker, and sets
//! [`Model::quit`] when the console should exit.

pub mod audit;
pub mod firewall;
pub mod keymap;
pub mod lifecycle;
pub mod usage;
pub mod vault;
pub mod vms;

use crate::domain::{AccountKind, VaultEntry, validate_account_slug};
use crate::protocol::{Budget, Effect, Mode, Snapshot, VmRow, WorkerEvent};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use keymap::Action;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;
use vms::{SortColumn, VmIndex};

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

/// Selection and scroll state of one list. `offset`, `viewport` and `top` are written by the
/// renderer (which alone knows the screen) and read by [`update`] for paging and mouse clicks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListState {
    /// Selected position in the list (0-based), clamped to the list length.
    pub selected: usize,
    /// First row shown.
    pub offset: Cell<usize>,
    /// Rows that fit on screen at the last render (0 before the first render).
    pub viewport: Cell<usize>,
    /// Screen row of the first list row at the last render.
    pub top: Cell<u16>,
}

impl ListState {
    fn page(&self) -> usize {
        self.viewport.get().max(2)
    }

    fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    fn apply(&mut self, action: Action, len: usize) -> bool {
        let before = self.selected;
        let page = self.page();
        self.selected = match action {
            Action::Down => self.selected.saturating_add(1),
            Action::Up => self.selected.saturating_sub(1),
            Action::Top => 0,
            Action::Bottom => len.saturating_sub(1),
            Action::PageDown => self.selected.saturating_add(page),
            Action::PageUp => self.selected.saturating_sub(page),
            Action::HalfPageDown => self.selected.saturating_add(page / 2),
            Action::HalfPageUp => self.selected.saturating_sub(page / 2),
            _ => self.selected,
        };
        self.clamp(len);
        self.selected != before
    }

    /// The first row to show so that the selection is visible in `height` rows, starting from
    /// the previous offset (scrolls only as far as needed). Stores it in `offset`.
    pub fn scroll_to(&self, len: usize, height: usize) -> usize {
        let height = height.max(1);
        let mut offset = self.offset.get().min(len.saturating_sub(height));
        if self.selected < offset {
            offset = self.selected;
        } else if self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        self.offset.set(offset);
        self.viewport.set(height);
        offset
    }
}

/// View state of the VM list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmsView {
    /// Cached haystacks, sort order and visible rows.
    pub index: VmIndex,
    /// Selection among the visible rows.
    pub list: ListState,
    /// Sort column.
    pub sort: SortColumn,
    /// Descending when true.
    pub reverse: bool,
    /// Filter text (whitespace-separated terms, all must match).
    pub filter: String,
    /// The selected VM's id, kept across re-sorts, re-filters and new snapshots.
    pub selected_id: Option<Uuid>,
    /// Show VMs with status `deleted` (hidden by default; `d` toggles).
    pub show_deleted: bool,
}

/// The command line (`:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    /// What was typed after the `:`.
    pub input: String,
    /// Error of the last run, in words; the input is kept so it can be corrected.
    pub error: Option<String>,
}

/// The filter line (`/`): edits [`VmsView::filter`] live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterLine {
    /// The filter before the line was opened (restored by Esc).
    pub previous: String,
}

/// The form that adds an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountForm {
    /// Slug typed so far.
    pub slug: String,
    /// Personal or organization (Tab switches).
    pub kind: AccountKind,
    /// Why the last submit was refused; the input is kept.
    pub error: Option<String>,
}

/// The accounts overlay: the account list, optionally with the add form open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsOverlay {
    /// Selected account (index into the sorted account list).
    pub selected: usize,
    /// The add form, when open.
    pub form: Option<AccountForm>,
}

/// An overlay drawn over the current pane; it takes every key while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Key help generated from [`keymap::BINDINGS`].
    Help {
        /// First help line shown.
        scroll: usize,
    },
    /// The `:` command line.
    Command(CommandLine),
    /// The `/` filter line.
    Filter(FilterLine),
    /// Accounts list and add form.
    Accounts(AccountsOverlay),
}

impl Overlay {
    /// True when the overlay is a text field (Ctrl-C clears or cancels instead of quitting).
    pub fn is_text_field(&self) -> bool {
        match self {
            Overlay::Command(_) | Overlay::Filter(_) => true,
            Overlay::Accounts(a) => a.form.is_some(),
            Overlay::Help { .. } => false,
        }
    }
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

/// One row of the Vault pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRow {
    /// Index into `snapshot.vault`.
    pub entry: usize,
    /// Names of the live VMs that received this key at provisioning (they still hold it, even
    /// when the key was deleted from the Vault: docs/product-rules.md §5).
    pub holders: Vec<String>,
}

/// Data derived from the snapshot and the account filter, recomputed only when those change
/// (or the UTC day changes, for usage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// Vault rows, by account then creation time.
    pub vault: Vec<VaultRow>,
    /// Audit events as indices into `snapshot.audit`, newest first.
    pub audit: Vec<usize>,
    /// The Usage pane's report, month-end and the VM sparklines (issue 7).
    pub usage: usage::UsageView,
    /// The UTC day the derived data was computed for (a new day re-derives).
    pub usage_day: Option<NaiveDate>,
    /// The minute (Unix seconds / 60) the usage view was computed (month-end projections
    /// follow the clock).
    pub usage_minute: Option<i64>,
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
    /// The pane shown.
    pub pane: Pane,
    /// VM list state.
    pub vms: VmsView,
    /// Account slug every pane is narrowed to, if any.
    pub account_filter: Option<String>,
    /// Rule selection of the Firewall pane.
    pub firewall: ListState,
    /// The firewall rule editor (issue 5).
    pub fw: firewall::FirewallPane,
    /// Selection of the Vault pane.
    pub vault: ListState,
    /// Selection of the Usage pane's group table.
    pub usage: ListState,
    /// The Usage pane's period, grouping and store reads (issue 7).
    pub usage_ui: usage::UsageUi,
    /// Selection of the Audit pane.
    pub audit: ListState,
    /// Derived per-pane data.
    pub derived: Derived,
    /// Last successful sync (UTC).
    pub last_sync: Option<DateTime<Utc>>,
    /// A sync is running.
    pub syncing: bool,
    /// The last error, in words, until the next successful sync.
    pub last_error: Option<String>,
    /// The API could not be reached at the last sync.
    pub offline: bool,
    /// API budget from the last response.
    pub budget: Option<Budget>,
    /// The open overlay.
    pub overlay: Option<Overlay>,
    /// Toasts, oldest first.
    pub toasts: Vec<Toast>,
    /// Mouse capture on (the event loop enables/disables it to match).
    pub mouse_capture: bool,
    /// Set when the console should exit.
    pub quit: bool,
    /// A quit was asked for while lifecycle operations ran: the next key, if it asks to quit
    /// again, quits; any other key disarms it ([`request_quit`]).
    pub quit_armed: bool,
    /// Set by a key that asks to quit; [`update`] turns it into `quit` or an armed warning.
    quit_requested: bool,
    /// Set when something visible changed since the last draw; the event loop clears it.
    pub dirty: bool,
    /// Vault pane dialogs and the pending clipboard copy (issue 6).
    pub vault_ui: vault::VaultUi,
    /// Lifecycle dialogs and operation progress (issue 4).
    pub life: lifecycle::LifeUi,
    /// Audit pane filter and event detail (issue 4).
    pub audit_ui: audit::AuditUi,
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
            pane: Pane::Vms,
            vms: VmsView::default(),
            account_filter: None,
            firewall: ListState::default(),
            fw: firewall::FirewallPane::default(),
            vault: ListState::default(),
            usage: ListState::default(),
            usage_ui: usage::UsageUi::default(),
            audit: ListState::default(),
            derived: Derived::default(),
            last_sync: None,
            syncing: false,
            last_error: None,
            offline: false,
            budget: None,
            overlay: None,
            toasts: Vec::new(),
            mouse_capture: false,
            quit: false,
            quit_armed: false,
            quit_requested: false,
            dirty: true,
            vault_ui: vault::VaultUi::default(),
            life: lifecycle::LifeUi::default(),
            audit_ui: audit::AuditUi::default(),
        }
    }

    /// The VM rows visible in the VM list, in order.
    pub fn visible_vms(&self) -> impl Iterator<Item = &VmRow> + '_ {
        self.vms
            .index
            .visible()
            .iter()
            .filter_map(|&i| self.snapshot.vms.get(i))
    }

    /// The selected VM, if any.
    pub fn selected_vm(&self) -> Option<&VmRow> {
        let i = *self.vms.index.visible().get(self.vms.list.selected)?;
        self.snapshot.vms.get(i)
    }

    /// The Vault entry of a Vault row.
    pub fn vault_entry(&self, row: &VaultRow) -> Option<&VaultEntry> {
        self.snapshot.vault.get(row.entry)
    }

    /// Status-bar text for the sync state: `syncing…`, `synced 12s ago`, `stale (synced 6m
    /// ago)`, `stale (never synced)`.
    pub fn sync_label(&self) -> String {
        let synced = self.last_sync.map(|t| vms::age(t, self.now));
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

    fn remember_selection(&mut self) {
        self.vms.selected_id = self.selected_vm().map(|v| v.record.id);
    }

    /// Puts the selection back on the remembered VM after the visible rows changed (first row
    /// when it is gone).
    fn restore_selection(&mut self) {
        let found = self.vms.selected_id.and_then(|id| {
            self.vms
                .index
                .visible()
                .iter()
                .position(|&i| self.snapshot.vms.get(i).is_some_and(|v| v.record.id == id))
        });
        self.vms.list.selected = found.unwrap_or(0);
        let len = self.vms.index.visible().len();
        self.vms.list.clamp(len);
        self.remember_selection();
    }

    fn refilter(&mut self) {
        self.vms.index.refilter(
            &self.snapshot.vms,
            &self.vms.filter,
            self.account_filter.as_deref(),
            self.vms.show_deleted,
        );
        self.restore_selection();
    }

    fn resort(&mut self) {
        self.vms
            .index
            .resort(&self.snapshot.vms, self.vms.sort, self.vms.reverse);
        self.restore_selection();
    }

    fn reindex(&mut self) {
        self.vms.index = VmIndex::new(
            &self.snapshot.vms,
            self.vms.sort,
            self.vms.reverse,
            &self.vms.filter,
            self.account_filter.as_deref(),
            self.vms.show_deleted,
        );
        self.restore_selection();
        self.derive();
    }

    /// Recomputes [`Derived`] from the snapshot, the account filter and `now`'s UTC day.
    fn derive(&mut self) {
        let account = self.account_filter.as_deref();
        let snap = &self.snapshot;
        // Which live VMs hold each Vault key.
        let mut holders: HashMap<Uuid, Vec<String>> = HashMap::new();
        for vm in &snap.vms {
            if vm.record.status.is_live() {
                for key in vm.keys() {
                    holders
                        .entry(key.vault_key_id)
                        .or_default()
                        .push(vm.record.name.clone());
                }
            }
        }
        let mut vault: Vec<VaultRow> = snap
            .vault
            .iter()
            .enumerate()
            .filter(|(_, e)| account.is_none_or(|a| e.account == a))
            // A deleted key stays listed only while a live VM still holds it (docs/product-rules.md §5).
            .filter(|(_, e)| e.deleted_at.is_none() || holders.contains_key(&e.id))
            .map(|(i, e)| {
                let mut h = holders.get(&e.id).cloned().unwrap_or_default();
                h.sort();
                VaultRow {
                    entry: i,
                    holders: h,
                }
            })
            .collect();
        vault.sort_by(|a, b| {
            let (ea, eb) = (&snap.vault[a.entry], &snap.vault[b.entry]);
            (&ea.account, ea.created_at, &ea.label).cmp(&(&eb.account, eb.created_at, &eb.label))
        });
        let mut audit: Vec<usize> = snap
            .audit
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                account.is_none_or(|a| e.account == a || e.to_account.as_deref() == Some(a))
                    && audit::matches(&self.audit_ui, e)
            })
            .map(|(i, _)| i)
            .collect();
        audit.sort_by(|&a, &b| {
            (snap.audit[b].at, snap.audit[b].seq).cmp(&(snap.audit[a].at, snap.audit[a].seq))
        });
        let today = self.now.date_naive();
        self.derived.vault = vault;
        self.derived.audit = audit;
        self.derived.usage_day = Some(today);
        usage::derive(self);
        let (vl, al) = (self.derived.vault.len(), self.derived.audit.len());
        self.vault.clamp(vl);
        self.audit.clamp(al);
        let rules = firewall::row_count(self);
        self.firewall.clamp(rules);
    }

    fn set_account_filter(&mut self, account: Option<String>) {
        self.account_filter = account;
        self.refilter();
        self.derive();
    }

    fn list_len(&self, pane: Pane) -> usize {
        match pane {
            Pane::Vms => self.vms.index.visible().len(),
            Pane::Firewall => firewall::row_count(self),
            Pane::Vault => self.derived.vault.len(),
            Pane::Usage => self
                .derived
                .usage
                .report
                .as_ref()
                .map_or(0, |r| r.groups.len()),
            Pane::Audit => self.derived.audit.len(),
        }
    }

    fn list_mut(&mut self, pane: Pane) -> &mut ListState {
        match pane {
            Pane::Vms => &mut self.vms.list,
            Pane::Firewall => &mut self.firewall,
            Pane::Vault => &mut self.vault,
            Pane::Usage => &mut self.usage,
            Pane::Audit => &mut self.audit,
        }
    }

    /// The list state of `pane`.
    pub fn list(&self, pane: Pane) -> &ListState {
        match pane {
            Pane::Vms => &self.vms.list,
            Pane::Firewall => &self.firewall,
            Pane::Vault => &self.vault,
            Pane::Usage => &self.usage,
            Pane::Audit => &self.audit,
        }
    }

    fn move_selection(&mut self, action: Action) {
        let pane = self.pane;
        let len = self.list_len(pane);
        if self.list_mut(pane).apply(action, len) && pane == Pane::Vms {
            self.remember_selection();
            self.firewall = ListState::default();
        }
    }

    fn go(&mut self, pane: Pane) {
        self.pane = pane;
        let len = self.list_len(pane);
        self.list_mut(pane).clamp(len);
    }
}

/// Applies one message to the model and returns the effects to send to the worker, in order.
/// Sets [`Model::quit`] when the console should exit and [`Model::dirty`] when the screen must
/// be redrawn.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    let before_pane = model.pane;
    let before_vm = model.fw.editor.as_ref().map(|e| e.vm_id);
    match msg {
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return effects;
            }
            model.dirty = true;
            let armed = std::mem::take(&mut model.quit_armed);
            if lifecycle::has_dialog(model) {
                lifecycle::key(model, key, &mut effects);
            } else if vault::has_dialog(model) {
                vault::dialog_key(model, key, &mut effects);
            } else if model.overlay.is_some() {
                overlay_key(model, key, &mut effects);
            } else if audit::captures_keys(model) {
                audit::key(model, key);
            } else if firewall::captures_keys(model) {
                firewall::key(model, key, &mut effects);
            } else if let Some(action) = keymap::lookup(&key, model.pane) {
                apply(model, action, &mut effects);
            }
            // An operation sent with this key runs from now on, before the worker's first
            // progress event (a quit in the same burst of keys must not cut it off unseen).
            model
                .life
                .sent
                .extend(effects.iter().filter_map(Effect::vm_id));
            if std::mem::take(&mut model.quit_requested) {
                confirm_quit(model, armed);
            }
        }
        Msg::Paste(text) if model.overlay.is_none() && firewall::paste(model, &text) => {
            model.dirty = true;
        }
        Msg::Paste(text) => {
            model.dirty = true;
            if vault::paste(model, &text) {
                return effects;
            }
            let line: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            type_text(model, &line);
        }
        Msg::Mouse(ev) => mouse(model, ev, &mut effects),
        Msg::Resize(_, _) => model.dirty = true,
        Msg::Tick { now } => tick(model, now, &mut effects),
        Msg::Worker(ev) => {
            model.dirty = true;
            worker_event(model, ev);
        }
    }
    firewall::after_update(model, before_pane, before_vm, &mut effects);
    effects
}

fn tick(model: &mut Model, now: DateTime<Utc>, effects: &mut Vec<Effect>) {
    let label = model.sync_label();
    let minute = model.now.timestamp() / 60;
    let toasts = model.toasts.len();
    model.now = now;
    model.toasts.retain(|t| t.until > now);
    if model.derived.usage_day != Some(now.date_naive()) {
        // A new UTC day moves the snapshot's window and the relative periods: the shown period
        // may now need records from the store.
        usage::request(model, effects);
        model.derive();
        model.dirty = true;
    } else if model.derived.usage_minute != Some(now.timestamp() / 60)
        && model.derived.usage.month_end.is_some()
    {
        // The month-end projection counts today's remaining seconds.
        usage::derive(model);
        model.dirty |= model.pane == Pane::Usage;
    }
    if label != model.sync_label() || minute != now.timestamp() / 60 || toasts != model.toasts.len()
    {
        model.dirty = true;
    }
}

fn worker_event(model: &mut Model, ev: WorkerEvent) {
    match ev {
        WorkerEvent::Snapshot(snap) => {
            model.snapshot = *snap;
            model.reindex();
            lifecycle::snapshot(model);
        }
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
        WorkerEvent::UsageRange(range) => usage::loaded(model, *range),
    }
}

/// Asks to quit (a key did: `q`, Ctrl-c, `:q`, or leaving the firewall editor to quit).
/// [`update`] decides after the key: see [`confirm_quit`].
pub(crate) fn request_quit(model: &mut Model) {
    model.quit_requested = true;
}

/// Quits, unless lifecycle operations are still running and the previous key did not already
/// ask: then nothing quits, the toast names what would be cut off (a destroy cut off may leave
/// the server or its firewall behind), and asking again with the very next key quits.
fn confirm_quit(model: &mut Model, armed: bool) {
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
    if let Some(lifecycle::LifeDialog::Create(d)) = &model.life.dialog
        && d.in_flight
    {
        running.push(format!("{} (creating)", d.name));
    }
    if armed || running.is_empty() {
        model.quit = true;
        return;
    }
    running.sort();
    model.quit_armed = true;
    // The instruction first: a narrow status bar cuts the end of a toast.
    model.toast(
        format!(
            "q again to quit and cut off: {} (or wait for it to end)",
            running.join(", ")
        ),
        true,
    );
}

fn apply(model: &mut Model, action: Action, effects: &mut Vec<Effect>) {
    match action {
        Action::Quit => request_quit(model),
        Action::Help => model.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::Command => model.overlay = Some(Overlay::Command(CommandLine::default())),
        Action::Filter => {
            model.overlay = Some(Overlay::Filter(FilterLine {
                previous: model.vms.filter.clone(),
            }))
        }
        Action::ClearFilter => {
            if !model.vms.filter.is_empty() {
                model.vms.filter.clear();
                model.refilter();
            } else if model.account_filter.is_some() {
                model.set_account_filter(None);
            }
        }
        Action::NextPane => model.go(Pane::ALL[(model.pane.index() + 1) % Pane::ALL.len()]),
        Action::PrevPane => {
            model.go(Pane::ALL[(model.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()])
        }
        Action::GoPane(p) => model.go(p),
        Action::Down
        | Action::Up
        | Action::Top
        | Action::Bottom
        | Action::PageDown
        | Action::PageUp
        | Action::HalfPageDown
        | Action::HalfPageUp => model.move_selection(action),
        Action::SortNext => {
            model.vms.sort = model.vms.sort.next();
            model.vms.reverse = false;
            model.resort();
        }
        Action::ToggleDeleted => {
            model.vms.show_deleted = !model.vms.show_deleted;
            model.refilter();
        }
        Action::SortReverse => {
            model.vms.reverse = !model.vms.reverse;
            model.resort();
        }
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
        Action::UsagePeriod => usage::cycle_period(model, effects),
        Action::UsageMonthBack => usage::step_month(model, -1, effects),
        Action::UsageMonthForward => usage::step_month(model, 1, effects),
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

/// Runs a command-line command. `Err` carries the message shown under the kept input.
fn run_command(model: &mut Model, input: &str, effects: &mut Vec<Effect>) -> Result<(), String> {
    let cmd = input.trim().trim_start_matches(':').trim();
    match cmd {
        "" => {}
        "vms" | "vm" => model.go(Pane::Vms),
        "fw" | "firewall" => model.go(Pane::Firewall),
        "vault" => model.go(Pane::Vault),
        "usage" => model.go(Pane::Usage),
        "audit" => model.go(Pane::Audit),
        "q" | "quit" | "qa" => request_quit(model),
        // Vim's "quit, whatever is running".
        "q!" | "qa!" => model.quit = true,
        "r" | "refresh" => apply(model, Action::Refresh, effects),
        "create" | "new" => {
            model.overlay = None;
            lifecycle::open_create(model);
            return Ok(());
        }
        "help" | "h" => {
            model.overlay = Some(Overlay::Help { scroll: 0 });
            return Ok(());
        }
        fw if fw.starts_with("fw ") || fw.starts_with("firewall ") => {
            let name = fw.split_once(' ').map_or("", |(_, n)| n);
            firewall::open_by_name(model, name, effects)?;
        }
        "accounts" | "account" => {
            model.overlay = Some(Overlay::Accounts(AccountsOverlay::default()));
            return Ok(());
        }
        other => {
            let known: Vec<&str> = keymap::COMMANDS.iter().map(|(c, _)| *c).collect();
            return Err(format!(
                "unknown command ':{other}' (known: {})",
                known.join(" ")
            ));
        }
    }
    model.overlay = None;
    Ok(())
}

fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

/// Appends typed or pasted text to the open text field, if any.
fn type_text(model: &mut Model, text: &str) {
    match &mut model.overlay {
        Some(Overlay::Command(c)) => {
            c.input.push_str(text);
            c.error = None;
        }
        Some(Overlay::Filter(_)) => {
            model.vms.filter.push_str(text);
            model.refilter();
        }
        Some(Overlay::Accounts(AccountsOverlay {
            form: Some(form), ..
        })) => {
            form.slug.push_str(text.trim());
            form.error = None;
        }
        _ => {}
    }
}

fn overlay_key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(overlay) = model.overlay.clone() else {
        return;
    };
    let plain_char = match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    };
    match overlay {
        Overlay::Help { scroll } => {
            let scroll = match key.code {
                KeyCode::Char('j') | KeyCode::Down => scroll + 1,
                KeyCode::Char('k') | KeyCode::Up => scroll.saturating_sub(1),
                KeyCode::PageDown => scroll + 10,
                KeyCode::PageUp => scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => 0,
                _ if is_ctrl(&key, 'c') => {
                    request_quit(model);
                    return;
                }
                _ => {
                    model.overlay = None;
                    return;
                }
            };
            model.overlay = Some(Overlay::Help {
                scroll: scroll.min(help_line_count()),
            });
        }
        Overlay::Command(mut c) => {
            if is_ctrl(&key, 'c') {
                if c.input.is_empty() {
                    model.overlay = None;
                } else {
                    model.overlay = Some(Overlay::Command(CommandLine::default()));
                }
                return;
            }
            if is_ctrl(&key, 'u') {
                model.overlay = Some(Overlay::Command(CommandLine::default()));
                return;
            }
            match key.code {
                KeyCode::Esc => model.overlay = None,
                KeyCode::Enter => {
                    if let Err(e) = run_command(model, &c.input, effects) {
                        c.error = Some(e);
                        model.overlay = Some(Overlay::Command(c));
                    }
                }
                KeyCode::Backspace => {
                    if c.input.pop().is_none() {
                        model.overlay = None;
                    } else {
                        c.error = None;
                        model.overlay = Some(Overlay::Command(c));
                    }
                }
                _ => {
                    if c.error.is_some() && plain_char == Some(':') {
                        // After a failed command, `:` starts a fresh line (no `:cmd:cmd`).
                        model.overlay = Some(Overlay::Command(CommandLine::default()));
                    } else if let Some(ch) = plain_char {
                        type_text(model, &ch.to_string());
                    }
                }
            }
        }
        Overlay::Filter(f) => {
            if is_ctrl(&key, 'c') || is_ctrl(&key, 'u') {
                if model.vms.filter.is_empty() && is_ctrl(&key, 'c') {
                    model.overlay = None;
                } else {
                    model.vms.filter.clear();
                    model.refilter();
                }
                return;
            }
            match key.code {
                KeyCode::Esc => {
                    model.vms.filter = f.previous;
                    model.overlay = None;
                    model.refilter();
                }
                KeyCode::Enter => model.overlay = None,
                KeyCode::Down | KeyCode::Up => {
                    let action = if key.code == KeyCode::Down {
                        Action::Down
                    } else {
                        Action::Up
                    };
                    model.move_selection(action);
                }
                KeyCode::Backspace => {
                    model.vms.filter.pop();
                    model.refilter();
                }
                _ => {
                    if let Some(ch) = plain_char {
                        type_text(model, &ch.to_string());
                    }
                }
            }
        }
        Overlay::Accounts(mut a) => {
            let slugs = model.account_slugs();
            if let Some(mut form) = a.form.take() {
                if is_ctrl(&key, 'c') || is_ctrl(&key, 'u') {
                    if form.slug.is_empty() && is_ctrl(&key, 'c') {
                        a.form = None;
                    } else {
                        form.slug.clear();
                        form.error = None;
                        a.form = Some(form);
                    }
                    model.overlay = Some(Overlay::Accounts(a));
                    return;
                }
                match key.code {
                    KeyCode::Esc => a.form = None,
                    KeyCode::Tab | KeyCode::BackTab => {
                        form.kind = match form.kind {
                            AccountKind::Personal => AccountKind::Organization,
                            AccountKind::Organization => AccountKind::Personal,
                        };
                        a.form = Some(form);
                    }
                    KeyCode::Backspace => {
                        form.slug.pop();
                        form.error = None;
                        a.form = Some(form);
                    }
                    KeyCode::Enter => {
                        let slug = form.slug.trim().to_string();
                        let check = validate_account_slug(&slug).and_then(|()| {
                            if slugs.contains(&slug) {
                                Err(format!("account slug: '{slug}' already exists"))
                            } else {
                                Ok(())
                            }
                        });
                        match check {
                            Ok(()) => {
                                effects.push(Effect::AddAccount {
                                    slug: slug.clone(),
                                    kind: form.kind,
                                });
                                model
                                    .toast(format!("adding account {slug} ({})", form.kind), false);
                                a.form = None;
                            }
                            Err(e) => {
                                form.error = Some(e);
                                a.form = Some(form);
                            }
                        }
                    }
                    _ => {
                        if let Some(ch) = plain_char {
                            form.slug.push(ch);
                            form.error = None;
                        }
                        a.form = Some(form);
                    }
                }
                model.overlay = Some(Overlay::Accounts(a));
                return;
            }
            if is_ctrl(&key, 'c') {
                request_quit(model);
                return;
            }
            match key.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    a.selected = (a.selected + 1).min(slugs.len().saturating_sub(1));
                }
                KeyCode::Char('k') | KeyCode::Up => a.selected = a.selected.saturating_sub(1),
                KeyCode::Char('n') | KeyCode::Char('+') => {
                    a.form = Some(AccountForm {
                        slug: String::new(),
                        kind: AccountKind::Organization,
                        error: None,
                    });
                }
                KeyCode::Enter => {
                    let pick = slugs.get(a.selected).cloned();
                    let pick = if pick == model.account_filter {
                        None
                    } else {
                        pick
                    };
                    model.overlay = None;
                    model.set_account_filter(pick);
                    return;
                }
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('A') => {
                    model.overlay = None;
                    return;
                }
                _ => {}
            }
            model.overlay = Some(Overlay::Accounts(a));
        }
    }
}

/// Number of lines of the help overlay's body (for scroll clamping): a heading per section
/// (keys in every pane, each pane with keys of its own, text fields, commands), a blank line
/// between sections, and one line per binding, text-field key and command.
pub fn help_line_count() -> usize {
    let pane_sections = Pane::ALL
        .iter()
        .filter(|p| {
            keymap::BINDINGS
                .iter()
                .any(|b| b.scope == keymap::Scope::Pane(**p))
        })
        .count();
    let sections = 1 + pane_sections + 2;
    keymap::BINDINGS.len()
        + keymap::TEXT_FIELD_KEYS.len()
        + keymap::COMMANDS.len()
        + sections
        + (sections - 1)
}

fn mouse(model: &mut Model, ev: MouseEvent, effects: &mut Vec<Effect>) {
    if model.overlay.is_some() || vault::has_dialog(model) || lifecycle::has_dialog(model) {
        return;
    }
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
                    model.go(p);
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
                        model.firewall = ListState::default();
                    }
                }
            }
        }
        _ => {}
    }
}
