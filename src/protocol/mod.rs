//! The messages between the dashboard (`app`/`ui`) and the background worker.
//!
//! The UI never does I/O: it sends [`Effect`]s over an unbounded channel and receives
//! [`WorkerEvent`]s. Effects are authorised in one place (the worker's `authorise`), which is
//! where read-only mode refuses every mutating effect.

pub mod firewall;
pub mod ready;
pub mod shared;
pub mod vault;
pub mod wire;

use crate::domain::usage_report::{GroupBy, MonthEnd, Report};
use crate::domain::{
    Account, AccountKind, AttachedKey, AuditEvent, BillingType, ImageKey, Region, Tier,
    UsageRecord, VaultEntry, VmRecord,
};
use chrono::{DateTime, NaiveDate, Utc};
pub use ready::{Prebuilt, Sparklines, VmTable};
use serde::{Deserialize, Serialize};
pub use shared::Shared;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;
pub use vault::{KeySource, VaultEvent};

/// Days of usage records (up to today, UTC) included in each snapshot; older months are
/// summed by the worker from the store ([`Effect::UsageQuery`]).
pub const USAGE_WINDOW_DAYS: i64 = 92;

/// How the console reaches Hetzner, shown as a badge in the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// A real token against the real (or `HCLOUD_ENDPOINT`) API.
    Live,
    /// The built-in fake API with seeded data.
    Demo,
}

/// Something the UI asks the worker to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Sync servers and firewalls now (`r`). At most one refresh is queued.
    Refresh,
    /// Add an account (accounts overlay). Mutating.
    AddAccount {
        /// Slug: lowercase letters, digits, hyphens.
        slug: String,
        /// Personal or organization.
        kind: AccountKind,
    },
    /// Stop the worker (the UI is quitting). From a client of `crabglamp serve` it ends that
    /// client's connection only.
    Shutdown,
    /// Provision a Plain VM (docs/product-rules.md §3). Mutating. Invalid input is answered with
    /// [`WorkerEvent::Refused`] naming the field, before any API call; otherwise the VM record
    /// appears at once with status `provisioning` (a snapshot), [`WorkerEvent::Progress`]
    /// follows, and the operation ends with [`WorkerEvent::Provisioned`] or
    /// [`WorkerEvent::OperationFailed`].
    Provision(ProvisionRequest),
    /// Power a live VM on, off or reboot it. Mutating. Ends with [`WorkerEvent::OperationDone`]
    /// or [`WorkerEvent::OperationFailed`].
    Power {
        /// The Plain VM.
        vm_id: Uuid,
        /// What to do.
        action: PowerAction,
    },
    /// Destroy a VM: delete its server, then its firewall; the record stays `deleted` and a
    /// destroy audit event is appended (docs/product-rules.md §2, §6). Not cancellable. Mutating.
    Destroy {
        /// The Plain VM.
        vm_id: Uuid,
    },
    /// Transfer a VM to another account, which must be an organization, while `running` or
    /// `stopped` (docs/product-rules.md §7); billing becomes metered; a transfer audit event is appended.
    /// Mutating.
    Transfer {
        /// The Plain VM.
        vm_id: Uuid,
        /// Destination account slug.
        to: String,
    },
    /// Switch a VM's billing type, only while `running` or `stopped`; effective at once
    /// (docs/product-rules.md §8). Mutating.
    SetBilling {
        /// The Plain VM.
        vm_id: Uuid,
        /// The new billing type.
        billing_type: BillingType,
    },
    /// Read a VM's firewall and when it last changed (issue 5); answered with
    /// [`WorkerEvent::Firewall`] or [`WorkerEvent::FirewallFailed`]. Read-only.
    LoadFirewall {
        /// The Plain VM.
        vm_id: Uuid,
        /// Its Hetzner firewall id.
        firewall_id: i64,
    },
    /// Replace a VM's firewall rules (issue 5, docs/product-rules.md §4): one `set_rules` with the whole
    /// list, the actions followed to the end, then the firewall read back and sent as
    /// [`WorkerEvent::Firewall`] (what Hetzner now has, never this list); on failure
    /// [`WorkerEvent::FirewallFailed`] with Hetzner's code and field. Mutating.
    ApplyFirewall {
        /// The Plain VM.
        vm_id: Uuid,
        /// Its Hetzner firewall id.
        firewall_id: i64,
        /// The complete new rule set (inbound tcp/udp only, at most 50).
        rules: Vec<crate::domain::firewall::Rule>,
    },
    /// Add a public key to `account`'s Vault (docs/product-rules.md §5). Mutating. Answered with
    /// [`WorkerEvent::Vault`]: `Added` (after a snapshot) or `Refused` with the message and any
    /// offer ([`vault`]).
    AddVaultKey {
        /// The account slug (must exist).
        account: String,
        /// Label; `None` (or blank) uses the key's comment.
        label: Option<String>,
        /// Pasted text or a file path the worker reads.
        source: KeySource,
    },
    /// Delete a key from the Vault: sets `deleted_at`; the key stays on the VMs that received it
    /// (docs/product-rules.md §5). Mutating. Answered with [`WorkerEvent::Vault`]: `Deleted` with the live VMs
    /// that still hold it, or `Refused`.
    DeleteVaultKey {
        /// The Vault entry id.
        id: Uuid,
    },
    /// Sum the usage of a period for the Usage pane (docs/product-rules.md §8). Read-only;
    /// answered with [`WorkerEvent::Usage`] carrying the same query. The worker reads the
    /// snapshot's records for periods inside its window of [`USAGE_WINDOW_DAYS`] days and the
    /// store's otherwise, and sums off its async threads; it keeps the query and answers it
    /// again after each snapshot that changes usage records, VMs or prices.
    UsageQuery(UsageQuery),
}

impl Effect {
    /// True for effects that change anything (refused in read-only mode).
    pub fn is_mutating(&self) -> bool {
        matches!(
            self,
            Effect::AddAccount { .. }
                | Effect::Provision(_)
                | Effect::Power { .. }
                | Effect::Destroy { .. }
                | Effect::Transfer { .. }
                | Effect::SetBilling { .. }
                | Effect::ApplyFirewall { .. }
                | Effect::AddVaultKey { .. }
                | Effect::DeleteVaultKey { .. }
        )
    }

    /// The VM an effect works on, if any (for the one-operation-per-VM rule).
    pub fn vm_id(&self) -> Option<Uuid> {
        match self {
            Effect::Power { vm_id, .. }
            | Effect::Destroy { vm_id }
            | Effect::Transfer { vm_id, .. }
            | Effect::SetBilling { vm_id, .. } => Some(*vm_id),
            _ => None,
        }
    }
}

/// What the operator asks for in the create dialog or `crabglamp vm create` (issue 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    /// Hostname: an RFC 1123 label (lowercase letters, digits, hyphens, at most 63), unique
    /// among live VMs and Hetzner servers.
    pub name: String,
    /// Owning account slug (must exist).
    pub account: String,
    /// Region (US = `hil`, EU = `hel1`).
    pub region: Region,
    /// Size tier.
    pub tier: Tier,
    /// Image key.
    pub image: ImageKey,
    /// Billing type from the start.
    pub billing_type: BillingType,
    /// Vault entries of `account` to write into the default user's `authorized_keys` (at
    /// least one; not deleted).
    pub key_ids: Vec<Uuid>,
    /// Generate a one-time password for the default user (forced change at first login).
    pub one_time_password: bool,
}

/// Power operations on a live VM (docs/hetzner-api.md §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerAction {
    /// `poweron`; the VM shows `starting` meanwhile.
    Start,
    /// `shutdown` (ACPI, graceful; waits for the server to be `off`), or `poweroff` (hard cut,
    /// may lose data) with `force`; the VM shows `stopping` meanwhile.
    Stop {
        /// Hard power off instead of a graceful shutdown.
        force: bool,
    },
    /// `reboot` (ACPI); the VM shows `starting` meanwhile.
    Reboot,
}

impl PowerAction {
    /// `start`, `stop`, `force stop` or `reboot`.
    pub fn verb(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Stop { force: false } => "stop",
            PowerAction::Stop { force: true } => "force stop",
            PowerAction::Reboot => "reboot",
        }
    }
}

/// A secret shown once (the one-time password). `Debug` prints `Secret(***)`; it has no
/// `Serialize` or `Display`, so it cannot reach the store, the log or an error by accident.
/// Read it with [`Secret::expose`] only to show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret text: show it once, never log or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What the create-success view shows (docs/product-rules.md §3, issue 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionResult {
    /// The Plain VM's id.
    pub vm_id: Uuid,
    /// Hostname.
    pub name: String,
    /// Owning account.
    pub account: String,
    /// Public IPv4 address, when known.
    pub ipv4: Option<String>,
    /// Public IPv6 network (`…::/64`), when known.
    pub ipv6: Option<String>,
    /// The image's default user (receives the keys).
    pub default_user: String,
    /// `ssh USER@IPV4` (or the IPv6 host `…::1` when there is no IPv4).
    pub ssh_command: String,
    /// SHA256 fingerprints of the keys written, in request order.
    pub key_fingerprints: Vec<String>,
    /// The one-time password, present once, when asked for; never stored or logged.
    pub one_time_password: Option<Secret>,
}

/// A firewall rule as shown (read back from Hetzner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    /// `in` or `out`.
    pub direction: String,
    /// `tcp`, `udp`, `icmp`, …
    pub protocol: String,
    /// `"22"`, `"8000-8100"`, `any`, or empty when not applicable.
    pub port: String,
    /// Source CIDRs.
    pub source_ips: Vec<String>,
    /// Free text, may be empty.
    pub description: String,
}

/// The VM's own Hetzner Cloud Firewall, as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallView {
    /// Hetzner firewall id.
    pub id: i64,
    /// Firewall name.
    pub name: String,
    /// Rules, in Hetzner's order.
    pub rules: Vec<RuleView>,
    /// Server ids the firewall is applied to (directly or by label selector).
    pub applied_to: Vec<i64>,
}

/// One row of the VM list: the store's record joined with what Hetzner reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmRow {
    /// The platform's record. For an unmanaged server (labelled, unknown to the store) this is
    /// rebuilt from the labels.
    pub record: VmRecord,
    /// False when Hetzner holds a labelled server the store did not know (shown, not dropped).
    pub managed: bool,
    /// Hetzner's server status string as reported (e.g. `off`), when the server was seen.
    pub hetzner_status: Option<String>,
    /// Hetzner location name (e.g. `hel1`).
    pub location: Option<String>,
    /// Real vCPU count Hetzner reports for the server type.
    pub cores: Option<u32>,
    /// Real RAM in GB.
    pub memory_gb: Option<f64>,
    /// Real disk in GB.
    pub disk_gb: Option<u64>,
    /// The server's labels.
    pub labels: BTreeMap<String, String>,
    /// The VM's own firewall.
    pub firewall: Option<FirewallView>,
}

impl VmRow {
    /// Keys written at provisioning.
    pub fn keys(&self) -> &[AttachedKey] {
        &self.record.keys
    }
}

/// API budget from the last response's `RateLimit-*` headers (docs/hetzner-api.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Requests per hour.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// When the bucket is full again (UTC).
    pub reset: DateTime<Utc>,
}

/// Everything the dashboard shows, as one immutable value sent after each change. Each part is
/// [`Shared`]: the worker re-reads only the parts a store change touched and shares the others
/// with the previous snapshot, so sending one is a few reference-count increments.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// VM rows, in no particular order (the UI sorts).
    pub vms: Shared<Vec<VmRow>>,
    /// All accounts.
    pub accounts: Shared<Vec<Account>>,
    /// All Vault entries, deleted ones included (`deleted_at` set).
    pub vault: Shared<Vec<VaultEntry>>,
    /// Audit events, oldest first.
    pub audit: Shared<Vec<AuditEvent>>,
    /// Whether the audit chain verified when this snapshot was taken.
    pub audit_verified: Option<bool>,
    /// The audit log checked against its newest signed checkpoint, and the witness's state
    /// (`None`: no checkpoint key, e.g. a temporary store).
    #[serde(default)]
    pub audit_status: Option<crate::domain::evidence::AuditStatus>,
    /// Usage records (recent window), oldest first.
    pub usage: Shared<Vec<UsageRecord>>,
    /// Currency of the usage charges (config `currency`, e.g. `EUR`); empty when unknown.
    pub usage_currency: String,
    /// Hetzner's net prices keyed by `server_type@location` (the worker's cache, from the
    /// server types the syncs listed), for projecting the month's cost.
    pub hetzner_prices: Shared<BTreeMap<String, crate::domain::usage::HetznerPrice>>,
    /// True until the first successful sync of this session (data is from the store only).
    pub stale: bool,
    /// What the worker derived from the parts above, ready to draw; `None` in a snapshot built
    /// by hand (tests, demo screenshots): `prebuilt` in `src/view/mod.rs` builds it then.
    #[serde(default)]
    pub prebuilt: Option<Prebuilt>,
}

/// Something the worker tells the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerEvent {
    /// New data to show.
    Snapshot(Box<Snapshot>),
    /// A sync began.
    SyncStarted,
    /// A sync finished; `at` is the time of the last successful sync (UTC).
    SyncOk {
        /// When it succeeded.
        at: DateTime<Utc>,
    },
    /// A sync failed. `offline` is true when the API could not be reached at all.
    SyncFailed {
        /// The error in words (never contains the token).
        error: String,
        /// Network-level failure (no HTTP answer).
        offline: bool,
    },
    /// The API budget changed.
    Budget(Budget),
    /// An effect was refused (read-only mode, or invalid input), with the reason.
    Refused {
        /// Why, naming the field where there is one.
        reason: String,
    },
    /// A short message for a toast.
    Info(String),
    /// Progress of a long operation on a VM (provisioning follows Hetzner's actions).
    Progress {
        /// The Plain VM.
        vm_id: Uuid,
        /// Overall progress, 0–100 %.
        percent: u8,
        /// The current step in words, e.g. `creating firewall`.
        step: String,
    },
    /// A VM finished provisioning: what the create-success view shows (once).
    Provisioned(Box<ProvisionResult>),
    /// An operation on a VM finished (power, destroy, transfer, billing). For destroy and
    /// transfer the audit event is already flushed to disk when this is sent.
    OperationDone {
        /// The Plain VM.
        vm_id: Uuid,
        /// What was done, in words, e.g. `destroyed web-1; audit event 4 recorded`.
        what: String,
        /// Something the operator must know, e.g. after a transfer: the old account's Vault
        /// keys stay on the VM.
        warning: Option<String>,
    },
    /// An operation on a VM failed after it started (API error, action failed); the VM record
    /// says what state it was left in.
    OperationFailed {
        /// The Plain VM.
        vm_id: Uuid,
        /// What went wrong, in words (never a secret).
        error: String,
    },
    /// A firewall as read back from Hetzner (after [`Effect::LoadFirewall`] or
    /// [`Effect::ApplyFirewall`]).
    Firewall(Box<firewall::FirewallLoaded>),
    /// Reading or applying a firewall failed; the editor keeps its edits.
    FirewallFailed(Box<firewall::FirewallFailure>),
    /// The outcome of a Vault effect ([`Effect::AddVaultKey`], [`Effect::DeleteVaultKey`]).
    Vault(VaultEvent),
    /// The answer to [`Effect::UsageQuery`] (and the worker's fresh answer to the last query
    /// after a snapshot that changed what it sums).
    Usage(Box<UsageView>),
    /// An attached console lost its service (the socket closed or refuses): the last data
    /// stays on screen, marked offline, and the console reconnects on its own. Never sent by a
    /// worker.
    ServiceLost {
        /// Why, in words.
        error: String,
    },
    /// An attached console reached its service again after [`WorkerEvent::ServiceLost`]; a
    /// full snapshot follows.
    ServiceBack,
}

/// What the Usage pane shows: a period, a grouping and an account filter, at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// First UTC day of the period (inclusive).
    pub from: NaiveDate,
    /// Last UTC day of the period (inclusive).
    pub to: NaiveDate,
    /// The grouping of the report.
    pub by: GroupBy,
    /// Only this account's records (`None`: every account).
    pub account: Option<String>,
    /// The period is today's calendar month: each group gets a projected month-end.
    pub this_month: bool,
    /// The moment the answer is for: its UTC day is "today" (the snapshot's window ends on it)
    /// and the month-end projection counts the seconds left of it.
    pub at: DateTime<Utc>,
}

impl UsageQuery {
    /// True when `other` asks for the same period, grouping and account (the moment aside).
    pub fn same_choice(&self, other: &UsageQuery) -> bool {
        (self.from, self.to, self.by, &self.account, self.this_month)
            == (
                other.from,
                other.to,
                other.by,
                &other.account,
                other.this_month,
            )
    }
}

/// The worker's answer to a [`UsageQuery`]: the report and projections, computed by
/// `usage` in `src/view/usage.rs` (the numbers `crabglamp usage` prints).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageView {
    /// The query answered; `None` before the first answer.
    pub query: Option<UsageQuery>,
    /// The period's report; `None` while loading or when the store could not be read.
    pub report: Option<Report>,
    /// Month-to-date and the projected month-end (all groups), when the period includes the
    /// query's day.
    pub month_end: Option<MonthEnd>,
    /// Projected month-end charge per group key (keyed as the report's groups), when the
    /// query is for this month.
    pub projected: Option<BTreeMap<String, rust_decimal::Decimal>>,
    /// Why the store could not be read, in words.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_effects_are_mutating_and_name_their_vm() {
        let id = Uuid::from_u128(7);
        let effects = [
            Effect::Provision(ProvisionRequest {
                name: "web-1".into(),
                account: "acme".into(),
                region: Region::Eu,
                tier: Tier::Small,
                image: ImageKey::Debian12,
                billing_type: BillingType::Metered,
                key_ids: vec![],
                one_time_password: false,
            }),
            Effect::Power {
                vm_id: id,
                action: PowerAction::Stop { force: true },
            },
            Effect::Destroy { vm_id: id },
            Effect::Transfer {
                vm_id: id,
                to: "globex".into(),
            },
            Effect::SetBilling {
                vm_id: id,
                billing_type: BillingType::Subscription,
            },
        ];
        assert!(effects.iter().all(Effect::is_mutating));
        let ids: Vec<Option<Uuid>> = effects.iter().map(Effect::vm_id).collect();
        assert_eq!(ids, vec![None, Some(id), Some(id), Some(id), Some(id)]);
        assert!(!Effect::Refresh.is_mutating());
        // Reading usage from the store is allowed in read-only mode and names no VM.
        let load = Effect::UsageQuery(UsageQuery {
            from: chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2026, 8, 31).unwrap(),
            by: GroupBy::Account,
            account: None,
            this_month: false,
            at: Utc::now(),
        });
        assert!(!load.is_mutating());
        assert_eq!(load.vm_id(), None);
        assert_eq!(PowerAction::Stop { force: true }.verb(), "force stop");
    }

    #[test]
    fn secret_debug_is_redacted() {
        let result = ProvisionResult {
            vm_id: Uuid::nil(),
            name: "web-1".into(),
            account: "acme".into(),
            ipv4: None,
            ipv6: None,
            default_user: "debian".into(),
            ssh_command: "ssh debian@203.0.113.1".into(),
            key_fingerprints: vec![],
            one_time_password: Some(Secret::new("hunter2-xyz")),
        };
        let debug = format!("{result:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
        assert_eq!(
            result.one_time_password.as_ref().map(Secret::expose),
            Some("hunter2-xyz")
        );
    }
}
