//! The VM lifecycle dialogs (issue 4, UI half): the create dialog, the create-success view,
//! the power / destroy / transfer / billing confirmations, and the progress of running
//! operations. Pure state machines: keys in, [`Effect`]s out, no I/O.
//!
//! The one-time password lives only in the success view ([`LifeDialog::Success`]); closing the
//! view drops it, and [`Secret`](crate::protocol::Secret)'s `Debug` never prints it.

use super::Model;
use super::input::{Edit, LineInput, is_ctrl};
pub use super::keymap::LifeAction;
use crate::domain::vmname::validate_vm_name;
use crate::domain::{AccountKind, BillingType, ImageKey, Region, Tier, VmStatus};
use crate::protocol::{Effect, PowerAction, ProvisionRequest, ProvisionResult, VmRow};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::HashMap;
use uuid::Uuid;

/// The reminder shown with stop and reboot (docs/product-rules.md §8).
pub const STOPPED_BILLS: &str = "stopped time bills the same as running";

/// The warning shown with a transfer (docs/product-rules.md §5, §7: no key push at v1).
pub const TRANSFER_KEYS_WARNING: &str = "Vault keys of the old account stay on the VM (no push at v1): the new owner edits ~/.ssh/authorized_keys";

/// A field of the create dialog, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Field {
    /// Hostname (typed).
    #[default]
    Name,
    /// Owning account (←/→).
    Account,
    /// US / EU (←/→).
    Region,
    /// small / medium / large (←/→).
    Tier,
    /// One of the seven image keys (←/→).
    Image,
    /// metered / subscription (←/→).
    Billing,
    /// Vault keys of the account (←/→ move, Space picks).
    Keys,
    /// One-time password checkbox (Space).
    Password,
}

impl Field {
    /// Every field, in focus order.
    pub const ALL: [Field; 8] = [
        Field::Name,
        Field::Account,
        Field::Region,
        Field::Tier,
        Field::Image,
        Field::Billing,
        Field::Keys,
        Field::Password,
    ];

    /// The label shown in the dialog (and named in error messages).
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Account => "account",
            Field::Region => "region",
            Field::Tier => "tier",
            Field::Image => "image",
            Field::Billing => "billing",
            Field::Keys => "keys",
            Field::Password => "password",
        }
    }

    fn step(self, forward: bool) -> Field {
        let i = Field::ALL.iter().position(|f| *f == self).unwrap_or(0);
        let n = Field::ALL.len();
        Field::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// The create dialog. What was typed is kept across refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDialog {
    /// Hostname typed so far.
    pub name: LineInput,
    /// Owning account slug (empty when there is no account).
    pub account: String,
    /// Region.
    pub region: Region,
    /// Tier.
    pub tier: Tier,
    /// Image.
    pub image: ImageKey,
    /// Billing type.
    pub billing: BillingType,
    /// Picked Vault entry ids, in pick order.
    pub keys: Vec<Uuid>,
    /// Cursor among the account's non-deleted Vault keys.
    pub key_cursor: usize,
    /// Generate a one-time password.
    pub one_time_password: bool,
    /// Focused field.
    pub focus: Field,
    /// One message per invalid field (each names its field), or the worker's refusal.
    pub errors: Vec<String>,
    /// The Provision effect was sent and no answer came yet: Enter sends nothing more.
    pub in_flight: bool,
    /// Opened in read-only mode (the title says so; the worker will refuse).
    pub read_only: bool,
    /// Esc was pressed with a name typed: `y` discards the dialog, `n` or Esc keeps it.
    pub confirm_discard: bool,
}

impl CreateDialog {
    /// True when a name was typed or pasted (Esc asks before losing it).
    pub fn has_content(&self) -> bool {
        !self.name.is_empty()
    }
}

/// What a confirmation does once confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmKind {
    /// Stop (Enter graceful, `F` forced) or reboot.
    Power(PowerAction),
    /// Destroy: the operator types the VM's exact name.
    Destroy,
    /// Transfer: pick an organization, then type the VM's exact name.
    Transfer {
        /// Accounts other than the current owner: (slug, kind), by slug.
        accounts: Vec<(String, AccountKind)>,
        /// Cursor in `accounts`.
        cursor: usize,
        /// The organization picked (then the name is typed).
        chosen: Option<String>,
    },
    /// Switch to this billing type.
    Billing(BillingType),
}

/// A confirmation about one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    /// The Plain VM.
    pub vm_id: Uuid,
    /// Its name (what must be typed for destroy and transfer).
    pub vm_name: String,
    /// Its owning account.
    pub account: String,
    /// What it does.
    pub kind: ConfirmKind,
    /// The name typed so far (destroy, transfer).
    pub typed: LineInput,
    /// Why the last Enter did nothing.
    pub error: Option<String>,
    /// Opened in read-only mode.
    pub read_only: bool,
}

impl ConfirmDialog {
    /// True when the operator must type the VM's name to confirm.
    pub fn needs_name(&self) -> bool {
        match &self.kind {
            ConfirmKind::Destroy => true,
            ConfirmKind::Transfer { chosen, .. } => chosen.is_some(),
            _ => false,
        }
    }
}

/// An open lifecycle dialog; it takes every key.
#[derive(Debug, Clone, PartialEq)]
pub enum LifeDialog {
    /// The create dialog.
    Create(CreateDialog),
    /// The create-success view, the only holder of the one-time password.
    Success(Box<ProvisionResult>),
    /// A confirmation.
    Confirm(ConfirmDialog),
}

/// Progress of a running operation on one VM (from [`crate::protocol::WorkerEvent::Progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// 0–100 %.
    pub percent: u8,
    /// The current step in words.
    pub step: String,
}

/// The lifecycle state in the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifeUi {
    /// The open dialog.
    pub dialog: Option<LifeDialog>,
    /// Progress per VM id, until the operation ends.
    pub progress: HashMap<Uuid, Progress>,
    /// VMs whose operation was sent to the worker but not yet heard of (no progress, end or
    /// refusal yet): they count as running when quitting.
    pub sent: std::collections::HashSet<Uuid>,
    /// Success views that arrived while another dialog was open, oldest first: each opens when
    /// the dialog before it closes, so no one-time password is dropped unseen.
    pub waiting: std::collections::VecDeque<Box<ProvisionResult>>,
}

/// Non-deleted Vault entries of `account`: (id, label, fingerprint), by creation time.
pub fn account_keys(model: &Model, account: &str) -> Vec<(Uuid, String, String)> {
    let mut v: Vec<_> = model
        .snapshot
        .vault
        .iter()
        .filter(|e| e.account == account && e.deleted_at.is_none())
        .collect();
    v.sort_by_key(|e| (e.created_at, e.id));
    v.into_iter()
        .map(|e| (e.id, e.label.clone(), e.fingerprint_sha256.clone()))
        .collect()
}

/// Names of live VMs (a new name must differ from them: docs/product-rules.md §2, issue 4).
pub fn live_names(model: &Model) -> Vec<String> {
    model
        .snapshot
        .vms
        .iter()
        .filter(|v| v.record.status.is_live())
        .map(|v| v.record.name.clone())
        .collect()
}

/// Checks every field of the create dialog; one message per invalid field, each naming it.
pub fn validate(model: &Model, d: &CreateDialog) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = validate_vm_name(d.name.text(), &live_names(model)) {
        errors.push(e);
    }
    if d.account.is_empty() || !model.account_slugs().contains(&d.account) {
        errors.push("account: pick an account (A adds one)".to_string());
    } else {
        let keys = account_keys(model, &d.account);
        if keys.is_empty() {
            errors.push(format!(
                "keys: account {} has no Vault keys: add one in the Vault pane (3)",
                d.account
            ));
        } else if d.keys.is_empty() {
            errors.push("keys: pick at least one Vault key (Space)".to_string());
        } else if let Some(bad) = d.keys.iter().find(|id| !keys.iter().any(|k| k.0 == **id)) {
            errors.push(format!(
                "keys: Vault key {bad} is not a live key of {}",
                d.account
            ));
        }
    }
    errors
}

fn cycle<T: Copy + PartialEq>(all: &[T], cur: T, forward: bool) -> T {
    let n = all.len();
    let i = all.iter().position(|x| *x == cur).unwrap_or(0);
    all[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

fn selected_row(model: &Model) -> Option<VmRow> {
    model.selected_vm().cloned()
}

/// Opens the create dialog (account: the account filter, else the selected VM's, else the first).
pub fn open_create(model: &mut Model) {
    let account = model
        .account_filter
        .clone()
        .or_else(|| model.selected_vm().map(|v| v.record.account.clone()))
        .or_else(|| model.account_slugs().into_iter().next())
        .unwrap_or_default();
    model.life.dialog = Some(LifeDialog::Create(CreateDialog {
        name: LineInput::default(),
        account,
        region: Region::Eu,
        tier: Tier::Small,
        image: ImageKey::Ubuntu2404,
        billing: BillingType::Metered,
        keys: Vec::new(),
        key_cursor: 0,
        one_time_password: false,
        focus: Field::Name,
        errors: Vec::new(),
        in_flight: false,
        read_only: model.read_only,
        confirm_discard: false,
    }));
}

/// Runs a lifecycle key of the VM list.
pub(crate) fn action(model: &mut Model, action: LifeAction, effects: &mut Vec<Effect>) {
    if action == LifeAction::Create {
        open_create(model);
        return;
    }
    let Some(row) = selected_row(model) else {
        model.toast("no VM selected".into(), true);
        return;
    };
    let rec = &row.record;
    if !row.managed {
        model.toast(
            format!(
                "{} is not managed by CrabGlamp (labelled server unknown to the store)",
                rec.name
            ),
            true,
        );
        return;
    }
    let status = rec.status;
    let steady = matches!(status, VmStatus::Running | VmStatus::Stopped);
    let refuse = |model: &mut Model, what: &str, need: &str| {
        model.toast(format!("{what} {}: it is {status}; {need}", rec.name), true);
    };
    let confirm = |kind: ConfirmKind| ConfirmDialog {
        vm_id: rec.id,
        vm_name: rec.name.clone(),
        account: rec.account.clone(),
        kind,
        typed: LineInput::default(),
        error: None,
        read_only: model.read_only,
    };
    let dialog = match action {
        LifeAction::Create => return,
        LifeAction::Start => {
            if status != VmStatus::Stopped {
                refuse(model, "start", "only a stopped VM starts");
                return;
            }
            effects.push(Effect::Power {
                vm_id: rec.id,
                action: PowerAction::Start,
            });
            model.toast(format!("starting {}", rec.name), false);
            return;
        }
        LifeAction::Stop | LifeAction::Reboot => {
            if status != VmStatus::Running {
                refuse(model, "stop/reboot", "only a running VM");
                return;
            }
            let a = if action == LifeAction::Stop {
                PowerAction::Stop { force: false }
            } else {
                PowerAction::Reboot
            };
            confirm(ConfirmKind::Power(a))
        }
        LifeAction::Destroy => {
            // A VM left `destroying` by a destroy that was cut off (console killed) may be
            // destroyed again; one this console is destroying now may not.
            let running =
                model.life.progress.contains_key(&rec.id) || model.life.sent.contains(&rec.id);
            if status == VmStatus::Deleted || (status == VmStatus::Destroying && running) {
                refuse(model, "destroy", "already destroyed or being destroyed");
                return;
            }
            confirm(ConfirmKind::Destroy)
        }
        LifeAction::Transfer => {
            if !steady {
                refuse(model, "transfer", "only while running or stopped");
                return;
            }
            let mut accounts: Vec<(String, AccountKind)> = model
                .snapshot
                .accounts
                .iter()
                .filter(|a| a.slug != rec.account)
                .map(|a| (a.slug.clone(), a.kind))
                .collect();
            accounts.sort();
            confirm(ConfirmKind::Transfer {
                accounts,
                cursor: 0,
                chosen: None,
            })
        }
        LifeAction::Billing => {
            if !steady {
                refuse(model, "billing type of", "only while running or stopped");
                return;
            }
            let to = match rec.billing_type {
                BillingType::Metered => BillingType::Subscription,
                BillingType::Subscription => BillingType::Metered,
            };
            confirm(ConfirmKind::Billing(to))
        }
    };
    model.life.dialog = Some(LifeDialog::Confirm(dialog));
}

/// A key while a lifecycle dialog is open.
pub(super) fn key(model: &mut Model, key: KeyEvent, effects: &mut Vec<Effect>) {
    let Some(dialog) = model.life.dialog.take() else {
        return;
    };
    model.life.dialog = match dialog {
        LifeDialog::Success(result) => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => {
                // Dropping the view drops the one-time password: it is kept nowhere else.
                drop(result);
                None
            }
            _ => Some(LifeDialog::Success(result)),
        },
        LifeDialog::Create(d) => create_key(model, d, key, effects).map(LifeDialog::Create),
        LifeDialog::Confirm(d) => confirm_key(model, d, key, effects).map(LifeDialog::Confirm),
    };
    show_waiting(model);
}

fn create_key(
    model: &mut Model,
    mut d: CreateDialog,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) -> Option<CreateDialog> {
    if d.confirm_discard {
        // `y` discards the dialog; `n` or Esc keeps everything typed; any other key (the rest
        // of a split escape sequence, say) changes nothing.
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => return None,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => d.confirm_discard = false,
            _ => {}
        }
        return Some(d);
    }
    if key.code == KeyCode::Esc && d.has_content() && !d.in_flight {
        d.confirm_discard = true;
        return Some(d);
    }
    if key.code == KeyCode::Esc || (is_ctrl(&key, 'c') && d.name.is_empty()) {
        return None;
    }
    if is_ctrl(&key, 'c') || is_ctrl(&key, 'u') {
        if d.focus == Field::Name {
            d.name.clear();
        }
        return Some(d);
    }
    let forward = matches!(
        key.code,
        KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('l')
    );
    match key.code {
        KeyCode::Tab | KeyCode::Down => d.focus = d.focus.step(true),
        KeyCode::BackTab | KeyCode::Up => d.focus = d.focus.step(false),
        KeyCode::Enter => {
            if d.in_flight {
                return Some(d);
            }
            d.errors = validate(model, &d);
            if d.errors.is_empty() {
                d.in_flight = true;
                effects.push(Effect::Provision(ProvisionRequest {
                    name: d.name.text().to_string(),
                    account: d.account.clone(),
                    region: d.region,
                    tier: d.tier,
                    image: d.image,
                    billing_type: d.billing,
                    key_ids: d.keys.clone(),
                    one_time_password: d.one_time_password,
                }));
            }
        }
        _ if d.focus == Field::Name => {
            d.name.on_key(&key);
        }
        KeyCode::Left
        | KeyCode::Right
        | KeyCode::Char(' ')
        | KeyCode::Char('h')
        | KeyCode::Char('l') => match d.focus {
            Field::Name => {}
            Field::Account if key.code != KeyCode::Char(' ') => {
                let slugs = model.account_slugs();
                if !slugs.is_empty() {
                    let i = slugs.iter().position(|s| *s == d.account);
                    let n = slugs.len();
                    let j = match (i, forward) {
                        (None, _) => 0,
                        (Some(i), true) => (i + 1) % n,
                        (Some(i), false) => (i + n - 1) % n,
                    };
                    d.account.clone_from(&slugs[j]);
                    d.keys.clear();
                    d.key_cursor = 0;
                }
            }
            Field::Region if key.code != KeyCode::Char(' ') => {
                d.region = cycle(Region::ALL, d.region, forward)
            }
            Field::Tier if key.code != KeyCode::Char(' ') => {
                d.tier = cycle(Tier::ALL, d.tier, forward)
            }
            Field::Image if key.code != KeyCode::Char(' ') => {
                d.image = cycle(ImageKey::ALL, d.image, forward)
            }
            Field::Billing if key.code != KeyCode::Char(' ') => {
                d.billing = cycle(BillingType::ALL, d.billing, forward)
            }
            Field::Keys => {
                let keys = account_keys(model, &d.account);
                if key.code == KeyCode::Char(' ') {
                    if let Some((id, _, _)) = keys.get(d.key_cursor) {
                        if let Some(p) = d.keys.iter().position(|k| k == id) {
                            d.keys.remove(p);
                        } else {
                            d.keys.push(*id);
                        }
                    }
                } else if !keys.is_empty() {
                    let n = keys.len();
                    d.key_cursor = if forward {
                        (d.key_cursor + 1) % n
                    } else {
                        (d.key_cursor + n - 1) % n
                    };
                }
            }
            Field::Password => d.one_time_password = !d.one_time_password,
            _ => {}
        },
        _ => {}
    }
    Some(d)
}

fn confirm_key(
    model: &mut Model,
    mut d: ConfirmDialog,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) -> Option<ConfirmDialog> {
    if key.code == KeyCode::Esc || is_ctrl(&key, 'c') {
        if let ConfirmKind::Transfer { chosen, .. } = &mut d.kind
            && chosen.is_some()
            && key.code == KeyCode::Esc
        {
            *chosen = None;
            d.typed.clear();
            d.error = None;
            return Some(d);
        }
        return None;
    }
    if d.needs_name() {
        match key.code {
            KeyCode::Enter => {
                if d.typed.text() != d.vm_name {
                    d.error = Some(format!(
                        "the name does not match: type {} exactly (Esc cancels)",
                        d.vm_name
                    ));
                    return Some(d);
                }
                let (effect, msg) = match &d.kind {
                    ConfirmKind::Transfer {
                        chosen: Some(to), ..
                    } => (
                        Effect::Transfer {
                            vm_id: d.vm_id,
                            to: to.clone(),
                        },
                        format!("transferring {} to {to}", d.vm_name),
                    ),
                    _ => (
                        Effect::Destroy { vm_id: d.vm_id },
                        format!("destroying {} — this cannot be cancelled", d.vm_name),
                    ),
                };
                effects.push(effect);
                model.toast(msg, false);
                return None;
            }
            _ => {
                d.typed.on_key(&key);
            }
        }
        d.error = None;
        return Some(d);
    }
    match &mut d.kind {
        ConfirmKind::Transfer {
            accounts,
            cursor,
            chosen,
        } => match key.code {
            KeyCode::Down | KeyCode::Char('j') => {
                *cursor = (*cursor + 1).min(accounts.len().saturating_sub(1))
            }
            KeyCode::Up | KeyCode::Char('k') => *cursor = cursor.saturating_sub(1),
            KeyCode::Enter => match accounts.get(*cursor) {
                None => d.error = Some("no other account: add an organization (A)".into()),
                Some((slug, AccountKind::Personal)) => {
                    d.error = Some(format!(
                        "to: {slug} is a personal account; a VM moves only to an organization"
                    ))
                }
                Some((slug, AccountKind::Organization)) => {
                    *chosen = Some(slug.clone());
                    d.error = None;
                }
            },
            _ => {}
        },
        ConfirmKind::Power(action) => {
            let force = matches!(key.code, KeyCode::Char('F'));
            let yes = matches!(key.code, KeyCode::Enter | KeyCode::Char('y'));
            if force && matches!(action, PowerAction::Stop { .. }) {
                *action = PowerAction::Stop { force: true };
            }
            if yes || (force && matches!(action, PowerAction::Stop { .. })) {
                effects.push(Effect::Power {
                    vm_id: d.vm_id,
                    action: *action,
                });
                model.toast(format!("{}: {}", action.verb(), d.vm_name), false);
                return None;
            }
            if key.code == KeyCode::Char('n') {
                return None;
            }
        }
        ConfirmKind::Billing(to) => match key.code {
            KeyCode::Enter | KeyCode::Char('y') => {
                effects.push(Effect::SetBilling {
                    vm_id: d.vm_id,
                    billing_type: *to,
                });
                model.toast(format!("billing of {} → {to}", d.vm_name), false);
                return None;
            }
            KeyCode::Char('n') => return None,
            _ => {}
        },
        ConfirmKind::Destroy => {}
    }
    Some(d)
}

/// Pasted text (bracketed paste) into the open dialog's text field: the create dialog's name
/// (when focused) or a destroy / transfer confirmation's name (see [`LineInput::paste`]).
pub(super) fn paste(model: &mut Model, text: &str) {
    match &mut model.life.dialog {
        Some(LifeDialog::Create(d)) if d.focus == Field::Name && !d.confirm_discard => {
            d.name.paste(text);
        }
        Some(LifeDialog::Confirm(d)) if d.needs_name() => {
            let changed = d.typed.paste(text) == Edit::Changed;
            if changed {
                d.error = None;
            }
        }
        _ => {}
    }
}

/// Worker progress for a VM.
pub(super) fn progress(model: &mut Model, vm_id: Uuid, percent: u8, step: String) {
    model.life.sent.remove(&vm_id);
    model.life.progress.insert(
        vm_id,
        Progress {
            percent: percent.min(100),
            step,
        },
    );
}

/// A VM finished provisioning: the success view opens (replacing a waiting create dialog).
pub(super) fn provisioned(model: &mut Model, result: Box<ProvisionResult>) {
    model.life.progress.remove(&result.vm_id);
    // The view replaces no dialog but a create dialog that was already sent (it closes by
    // itself once its VM appears); otherwise it waits until the open dialog closes.
    let free = match &model.life.dialog {
        None => true,
        Some(LifeDialog::Create(d)) => d.in_flight,
        Some(_) => false,
    };
    if free && model.life.waiting.is_empty() {
        model.toast(format!("{} provisioned", result.name), false);
        model.life.dialog = Some(LifeDialog::Success(result));
    } else {
        model.toast(
            format!(
                "{} provisioned: its details open when this dialog closes",
                result.name
            ),
            false,
        );
        model.life.waiting.push_back(result);
        show_waiting(model);
    }
}

/// Opens the oldest waiting success view when no lifecycle dialog is open.
fn show_waiting(model: &mut Model) {
    if model.life.dialog.is_none()
        && let Some(next) = model.life.waiting.pop_front()
    {
        model.life.dialog = Some(LifeDialog::Success(next));
    }
}

/// An operation on a VM ended (done or failed): its progress is cleared.
pub(super) fn operation_ended(model: &mut Model, vm_id: Uuid) {
    model.life.sent.remove(&vm_id);
    model.life.progress.remove(&vm_id);
}

/// A refusal from the worker: shown in a waiting create dialog (the typed values are kept).
pub(super) fn refused(model: &mut Model, reason: &str) {
    if let Some(LifeDialog::Create(d)) = &mut model.life.dialog
        && d.in_flight
    {
        d.in_flight = false;
        d.errors = vec![reason.to_string()];
    }
}

/// A new snapshot: a waiting create dialog closes once its VM appears (status `provisioning`).
pub(super) fn snapshot(model: &mut Model) {
    let appeared = match &model.life.dialog {
        Some(LifeDialog::Create(d)) if d.in_flight => model
            .snapshot
            .vms
            .iter()
            .find(|v| v.record.name == d.name.text() && v.record.status.is_live())
            .map(|v| v.record.name.clone()),
        _ => None,
    };
    if let Some(name) = appeared {
        model.life.dialog = None;
        model.toast(format!("provisioning {name}…"), false);
    }
    show_waiting(model);
}
