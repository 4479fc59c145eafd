//! The frames on the service's Unix socket (`crabglamp serve`, docs/ARCHITECTURE.md "One
//! process owns the store"): the [`Effect`]s and [`WorkerEvent`]s of this module's parent, as
//! serde JSON, each frame a 4-byte big-endian length then that many bytes (tokio-util's
//! `LengthDelimitedCodec`).
//!
//! A connection is: the client sends [`ClientFrame::Hello`]; the service answers
//! [`ServiceFrame::Welcome`] (then a full [`ServiceFrame::Snapshot`]) or
//! [`ServiceFrame::Refused`] and closes. After that the client sends
//! [`ClientFrame::Effect`]s and the service sends events and snapshot updates, in order.
//! Anything else (a frame before the hello, a second hello, a frame that does not parse, a
//! frame over [`MAX_CLIENT_FRAME`]) closes that client's connection only.

use super::{Effect, Shared, Snapshot, VmRow, WorkerEvent};
use crate::domain::{Account, AuditEvent, VaultEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of this frame set. A client and a service of different versions refuse each other
/// at hello with one line naming both.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame the service reads from a client: 1 MiB (an effect is at most a pasted key or
/// 50 firewall rules: a few KiB).
pub const MAX_CLIENT_FRAME: usize = 1 << 20;

/// Largest frame a client reads from the service: 256 MiB (a full snapshot of 10,000 VMs).
pub const MAX_SERVICE_FRAME: usize = 256 << 20;

/// The product version (`Cargo.toml`), sent in both hellos.
pub const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a caller may do, from the service's `[access]` config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Everything.
    Operator,
    /// Everything read-only: every mutating effect is refused.
    Reader,
}

impl Role {
    /// `operator` or `reader`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Reader => "reader",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the console's data comes from, for the status bar: `local` (the worker runs in this
/// process on its own store) or `shared · HOST SOCKET` (attached to `crabglamp serve`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Attachment {
    /// Embedded worker, own store.
    #[default]
    Local,
    /// Attached to a service.
    Shared {
        /// The service host's name (as the service reports it).
        host: String,
        /// The socket's path.
        socket: String,
    },
}

impl Attachment {
    /// `local`, or `shared · HOST:SOCKET`.
    pub fn label(&self) -> String {
        match self {
            Attachment::Local => "local".to_string(),
            Attachment::Shared { host, socket } => format!("shared · {host}:{socket}"),
        }
    }
}

/// A client's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the client.
    pub protocol: u32,
    /// The client's [`PRODUCT_VERSION`].
    pub product: String,
    /// Where the client says its operator comes from (the address in its `SSH_CONNECTION`):
    /// client-reported, kept apart from the actor, never used for identity.
    pub origin: Option<String>,
}

/// The service's answer to an accepted [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// [`PROTOCOL_VERSION`] of the service.
    pub protocol: u32,
    /// The service's [`PRODUCT_VERSION`].
    pub product: String,
    /// The caller's Unix user name as the kernel names it (`SO_PEERCRED`).
    pub user: String,
    /// The caller's uid.
    pub uid: u32,
    /// The caller's role.
    pub role: Role,
    /// The service's host name.
    pub host: String,
    /// Live or demo.
    pub mode: super::Mode,
    /// The service refuses every mutating effect (`serve --read-only`).
    pub read_only: bool,
    /// The service's last successful sync (UTC), if any.
    pub last_sync: Option<chrono::DateTime<chrono::Utc>>,
}

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientFrame {
    /// First frame, once.
    Hello(Hello),
    /// An effect for the service's worker. `Shutdown` ends this client's connection (it never
    /// stops the service).
    Effect(Effect),
}

/// A frame from the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServiceFrame {
    /// The hello was accepted.
    Welcome(Welcome),
    /// The hello was refused (unknown user, other protocol version): the line to show; the
    /// connection closes.
    Refused(String),
    /// What changed in the snapshot since the last one this client got (the first is full).
    Snapshot(Box<SnapshotUpdate>),
    /// Any other worker event (a snapshot never travels as one).
    Event(WorkerEvent),
}

/// The parts of a [`Snapshot`] that changed, each `None` when the client's copy is current.
/// The usage records are never sent: the Usage pane and `crabglamp usage` ask the service
/// ([`Effect::UsageQuery`]) and the sparklines come prebuilt.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SnapshotUpdate {
    /// VM rows.
    pub vms: Option<Shared<Vec<VmRow>>>,
    /// Accounts.
    pub accounts: Option<Shared<Vec<Account>>>,
    /// Vault entries.
    pub vault: Option<Shared<Vec<VaultEntry>>>,
    /// Audit events, whole.
    pub audit: Option<Shared<Vec<AuditEvent>>>,
    /// Hetzner prices.
    pub hetzner_prices: Option<Shared<BTreeMap<String, crate::domain::usage::HetznerPrice>>>,
    /// The prebuilt views that changed; `None` when the service's snapshot has none.
    pub prebuilt: Option<PrebuiltUpdate>,
    /// Always sent.
    pub audit_verified: Option<bool>,
    /// Always sent: the checkpoint state (with the newest checkpoint and the public key).
    #[serde(default)]
    pub audit_status: Option<crate::domain::evidence::AuditStatus>,
    /// Always sent.
    pub usage_currency: String,
    /// Always sent.
    pub stale: bool,
}

/// The parts of a [`Prebuilt`](super::Prebuilt) that changed, each `None` when current.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrebuiltUpdate {
    /// The VM list's index.
    pub vm_table: Option<Shared<super::VmTable>>,
    /// Vault key holders.
    pub holders: Option<Shared<BTreeMap<uuid::Uuid, Vec<String>>>>,
    /// Audit order.
    pub audit_newest_first: Option<Shared<Vec<usize>>>,
    /// Audit filter haystacks.
    pub audit_haystacks: Option<Shared<Vec<String>>>,
    /// VM sparklines.
    pub spark: Option<Shared<super::Sparklines>>,
}

impl PrebuiltUpdate {
    fn between(old: Option<&super::Prebuilt>, new: &super::Prebuilt) -> PrebuiltUpdate {
        match old {
            None => PrebuiltUpdate {
                vm_table: Some(new.vm_table.clone()),
                holders: Some(new.holders.clone()),
                audit_newest_first: Some(new.audit_newest_first.clone()),
                audit_haystacks: Some(new.audit_haystacks.clone()),
                spark: Some(new.spark.clone()),
            },
            Some(old) => PrebuiltUpdate {
                vm_table: changed(&old.vm_table, &new.vm_table),
                holders: changed(&old.holders, &new.holders),
                audit_newest_first: changed(&old.audit_newest_first, &new.audit_newest_first),
                audit_haystacks: changed(&old.audit_haystacks, &new.audit_haystacks),
                spark: changed(&old.spark, &new.spark),
            },
        }
    }

    fn apply(self, base: Option<&super::Prebuilt>) -> super::Prebuilt {
        let mut p = base.cloned().unwrap_or_default();
        if let Some(v) = self.vm_table {
            p.vm_table = v;
        }
        if let Some(v) = self.holders {
            p.holders = v;
        }
        if let Some(v) = self.audit_newest_first {
            p.audit_newest_first = v;
        }
        if let Some(v) = self.audit_haystacks {
            p.audit_haystacks = v;
        }
        if let Some(v) = self.spark {
            p.spark = v;
        }
        p
    }
}

fn changed<T: PartialEq>(old: &Shared<T>, new: &Shared<T>) -> Option<Shared<T>> {
    (!Shared::ptr_eq(old, new) && **old != **new).then(|| new.clone())
}

impl SnapshotUpdate {
    /// Everything in `new` (usage records aside): the first frame a client gets.
    pub fn full(new: &Snapshot) -> SnapshotUpdate {
        SnapshotUpdate {
            vms: Some(new.vms.clone()),
            accounts: Some(new.accounts.clone()),
            vault: Some(new.vault.clone()),
            audit: Some(new.audit.clone()),
            hetzner_prices: Some(new.hetzner_prices.clone()),
            prebuilt: new
                .prebuilt
                .as_ref()
                .map(|p| PrebuiltUpdate::between(None, p)),
            audit_verified: new.audit_verified,
            audit_status: new.audit_status.clone(),
            usage_currency: new.usage_currency.clone(),
            stale: new.stale,
        }
    }

    /// What changed from `old` to `new`: parts that are neither shared nor equal.
    pub fn between(old: &Snapshot, new: &Snapshot) -> SnapshotUpdate {
        let prebuilt = new
            .prebuilt
            .as_ref()
            .map(|p| PrebuiltUpdate::between(old.prebuilt.as_ref(), p));
        SnapshotUpdate {
            vms: changed(&old.vms, &new.vms),
            accounts: changed(&old.accounts, &new.accounts),
            vault: changed(&old.vault, &new.vault),
            audit: changed(&old.audit, &new.audit),
            hetzner_prices: changed(&old.hetzner_prices, &new.hetzner_prices),
            prebuilt,
            audit_verified: new.audit_verified,
            audit_status: new.audit_status.clone(),
            usage_currency: new.usage_currency.clone(),
            stale: new.stale,
        }
    }

    /// `base` with this update's parts replaced: the client's next snapshot. The usage
    /// records stay empty.
    pub fn apply(self, base: &Snapshot) -> Snapshot {
        let mut s = base.clone();
        if let Some(v) = self.vms {
            s.vms = v;
        }
        if let Some(v) = self.accounts {
            s.accounts = v;
        }
        if let Some(v) = self.vault {
            s.vault = v;
        }
        if let Some(v) = self.audit {
            s.audit = v;
        }
        if let Some(v) = self.hetzner_prices {
            s.hetzner_prices = v;
        }
        s.prebuilt = self.prebuilt.map(|p| p.apply(base.prebuilt.as_ref()));
        s.audit_verified = self.audit_verified;
        s.audit_status = self.audit_status;
        s.usage_currency = self.usage_currency;
        s.stale = self.stale;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_carries_only_what_changed_and_rebuilds_the_snapshot() {
        let a = Snapshot {
            accounts: Shared::new(vec![]),
            stale: true,
            ..Snapshot::default()
        };
        let mut b = a.clone();
        b.stale = false;
        b.usage_currency = "EUR".into();
        // Equal contents in a new allocation: not sent.
        b.vault = Shared::new(vec![]);
        let update = SnapshotUpdate::between(&a, &b);
        assert_eq!(update.vms, None);
        assert_eq!(update.vault, None);
        assert!(!update.stale);
        let rebuilt = update.apply(&a);
        assert_eq!(rebuilt, b);
        let json = serde_json::to_string(&SnapshotUpdate::between(&a, &a)).unwrap();
        assert_eq!(
            json,
            r#"{"vms":null,"accounts":null,"vault":null,"audit":null,"hetzner_prices":null,"prebuilt":null,"audit_verified":null,"audit_status":null,"usage_currency":"","stale":true}"#
        );
    }

    #[test]
    fn attachment_labels() {
        assert_eq!(Attachment::Local.label(), "local");
        let shared = Attachment::Shared {
            host: "ops1".into(),
            socket: "/run/crabglamp/crabglamp.sock".into(),
        };
        assert_eq!(
            shared.label(),
            "shared · ops1:/run/crabglamp/crabglamp.sock"
        );
    }
}
