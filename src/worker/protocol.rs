//! The messages between the dashboard (`app`/`ui`) and the background worker.
//!
//! The UI never does I/O: it sends [`Effect`]s over an unbounded channel and receives
//! [`WorkerEvent`]s. Effects are authorised in one place (the worker's `authorise`), which is
//! where read-only mode refuses every mutating effect.

use crate::domain::{
    Account, AccountKind, AttachedKey, AuditEvent, UsageRecord, VaultEntry, VmRecord,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How the console reaches Hetzner, shown as a badge in the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A real token against the real (or `HCLOUD_ENDPOINT`) API.
    Live,
    /// The built-in fake API with seeded data.
    Demo,
}

/// Something the UI asks the worker to do.
#[derive(Debug, Clone, PartialEq)]
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
    /// Stop the worker (the UI is quitting).
    Shutdown,
}

impl Effect {
    /// True for effects that change anything (refused in read-only mode).
    pub fn is_mutating(&self) -> bool {
        matches!(self, Effect::AddAccount { .. })
    }
}

/// A firewall rule as shown (read back from Hetzner).
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq)]
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

/// API budget from the last response's `RateLimit-*` headers (notes §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests per hour.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// When the bucket is full again (UTC).
    pub reset: DateTime<Utc>,
}

/// Everything the dashboard shows, as one immutable value sent after each change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// VM rows, in no particular order (the UI sorts).
    pub vms: Vec<VmRow>,
    /// All accounts.
    pub accounts: Vec<Account>,
    /// All Vault entries, deleted ones included (`deleted_at` set).
    pub vault: Vec<VaultEntry>,
    /// Audit events, oldest first.
    pub audit: Vec<AuditEvent>,
    /// Whether the audit chain verified when this snapshot was taken.
    pub audit_verified: Option<bool>,
    /// Usage records (recent window), oldest first.
    pub usage: Vec<UsageRecord>,
    /// True until the first successful sync of this session (data is from the store only).
    pub stale: bool,
}

/// Something the worker tells the UI.
#[derive(Debug, Clone, PartialEq)]
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
}
