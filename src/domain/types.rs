//! The platform's own record types: accounts, Plain VMs, Vault entries.
//!
//! These are plain data with serde derives (camelCase, CrabGlamp's documented field names where
//! docs/product-rules.md gives them). They carry no I/O; the `store` module persists them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Label keys the console puts on every Hetzner resource it creates, so that a fresh store can
/// rebuild its VM records from what Hetzner holds (docs/ARCHITECTURE.md "Data"; issue 3 item 9).
pub mod labels {
    /// The Plain VM's UUID.
    pub const VM_ID: &str = "crabglamp/vm-id";
    /// The owning account's slug.
    pub const ACCOUNT: &str = "crabglamp/account";
    /// `small` | `medium` | `large`.
    pub const TIER: &str = "crabglamp/tier";
    /// `us` | `eu`.
    pub const REGION: &str = "crabglamp/region";
    /// The image key, e.g. `ubuntu-24.04`.
    pub const IMAGE: &str = "crabglamp/image";
    /// `metered` | `subscription`.
    pub const BILLING_TYPE: &str = "crabglamp/billing-type";
    /// Label selector matching every resource the console manages.
    pub const MANAGED_SELECTOR: &str = "crabglamp/vm-id";
}

/// Error for a value that is not one of a closed set; names the field and what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: '{given}' is not one of {allowed}")]
pub struct ParseEnumError {
    /// The field being parsed, e.g. `region`.
    pub field: &'static str,
    /// What the user typed.
    pub given: String,
    /// The accepted values, comma separated.
    pub allowed: &'static str,
}

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident, $field:literal, { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $var),+ }
        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The wire/display spelling.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok($name::$var),)+
                    _ => Err(ParseEnumError { field: $field, given: s.to_string(),
                        allowed: concat!($($s, " "),+) }),
                }
            }
        }
    };
}

closed_enum!(
    /// Kind of account: personal or organization (one slug namespace for both: docs/product-rules.md §2).
    AccountKind, "kind", { Personal => "personal", Organization => "org" }
);

closed_enum!(
    /// Region of a Plain VM, fixed for its life: US = Hetzner `hil`, EU = `hel1` (docs/product-rules.md §2).
    Region, "region", { Us => "us", Eu => "eu" }
);

closed_enum!(
    /// Size tier of a Plain VM (docs/product-rules.md §2).
    Tier, "tier", { Small => "small", Medium => "medium", Large => "large" }
);

closed_enum!(
    /// How a Plain VM is billed (docs/product-rules.md §8): `metered` (hourly) or `subscription` (flat monthly).
    BillingType, "billing type", { Metered => "metered", Subscription => "subscription" }
);

closed_enum!(
    /// The seven images a Plain VM can be built from (docs/product-rules.md §2).
    ImageKey, "image", {
        Ubuntu2404 => "ubuntu-24.04", Ubuntu2204 => "ubuntu-22.04", Debian13 => "debian-13",
        Debian12 => "debian-12", Fedora43 => "fedora-43", Rocky10 => "rocky-10", Alma10 => "alma-10"
    }
);

closed_enum!(
    /// Lifecycle status of a Plain VM (docs/product-rules.md §2), plus the console's own `failed` (provisioning
    /// failed), `vanished` (the store knows it but its Hetzner server is gone) and `unknown`
    /// (Hetzner reported a status this console does not know).
    VmStatus, "status", {
        Provisioning => "provisioning", Running => "running", Starting => "starting",
        Stopping => "stopping", Stopped => "stopped", Destroying => "destroying",
        Deleted => "deleted", Failed => "failed", Vanished => "vanished", Unknown => "unknown"
    }
);

impl Region {
    /// The Hetzner location name behind the region: `hil` (Hillsboro, Oregon) or `hel1`
    /// (Helsinki). docs/product-rules.md §2.
    pub fn location(self) -> &'static str {
        match self {
            Region::Us => "hil",
            Region::Eu => "hel1",
        }
    }

    /// The region for a Hetzner location name, if it is one of ours.
    pub fn from_location(location: &str) -> Option<Region> {
        match location {
            "hil" => Some(Region::Us),
            "hel1" => Some(Region::Eu),
            _ => None,
        }
    }
}

/// Documented size of a tier in a region: (vCPU, RAM GB, disk GB). docs/product-rules.md §2.
/// Show Hetzner's real figures where known; these are the catalogue's promise.
pub fn tier_size(tier: Tier, region: Region) -> (u32, u32, u32) {
    match (tier, region) {
        (Tier::Small, Region::Us) => (3, 4, 80),
        (Tier::Small, Region::Eu) => (2, 4, 80),
        (Tier::Medium, _) => (4, 8, 160),
        (Tier::Large, Region::Us) => (8, 16, 240),
        (Tier::Large, Region::Eu) => (8, 16, 320),
    }
}

/// Default Hetzner server type for a (tier, region): US `cpx21/31/41`, EU `cpx22/32/42`
/// (docs/product-rules.md §2; overridable in config).
pub fn default_server_type(tier: Tier, region: Region) -> &'static str {
    match (tier, region) {
        (Tier::Small, Region::Us) => "cpx21",
        (Tier::Medium, Region::Us) => "cpx31",
        (Tier::Large, Region::Us) => "cpx41",
        (Tier::Small, Region::Eu) => "cpx22",
        (Tier::Medium, Region::Eu) => "cpx32",
        (Tier::Large, Region::Eu) => "cpx42",
    }
}

impl ImageKey {
    /// The image's default login user, who receives the Vault keys (docs/product-rules.md §2).
    pub fn default_user(self) -> &'static str {
        match self {
            ImageKey::Ubuntu2404 | ImageKey::Ubuntu2204 => "ubuntu",
            ImageKey::Debian13 | ImageKey::Debian12 => "debian",
            ImageKey::Fedora43 | ImageKey::Rocky10 | ImageKey::Alma10 => "root",
        }
    }

    /// Human name, e.g. `Ubuntu 24.04 LTS`.
    pub fn description(self) -> &'static str {
        match self {
            ImageKey::Ubuntu2404 => "Ubuntu 24.04 LTS",
            ImageKey::Ubuntu2204 => "Ubuntu 22.04 LTS",
            ImageKey::Debian13 => "Debian 13",
            ImageKey::Debian12 => "Debian 12",
            ImageKey::Fedora43 => "Fedora 43",
            ImageKey::Rocky10 => "Rocky Linux 10",
            ImageKey::Alma10 => "AlmaLinux 10",
        }
    }
}

impl VmStatus {
    /// True while the VM exists at Hetzner and is billed (docs/product-rules.md §8: stopped bills like running).
    pub fn is_live(self) -> bool {
        !matches!(
            self,
            VmStatus::Deleted | VmStatus::Failed | VmStatus::Vanished
        )
    }

    /// The console's status for a Hetzner server status string (docs/hetzner-api.md §6.1). `off` is shown as
    /// `stopped`; `initializing` as `provisioning`; `deleting` as `destroying`; anything unknown
    /// as `unknown`.
    pub fn from_hetzner(status: &str) -> VmStatus {
        match status {
            "running" => VmStatus::Running,
            "initializing" => VmStatus::Provisioning,
            "starting" => VmStatus::Starting,
            "stopping" => VmStatus::Stopping,
            "off" => VmStatus::Stopped,
            "deleting" => VmStatus::Destroying,
            "migrating" | "rebuilding" => VmStatus::Provisioning,
            _ => VmStatus::Unknown,
        }
    }
}

/// An account: personal or organization. Slug: lowercase letters, digits, hyphens (docs/product-rules.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Unique slug across both kinds.
    pub slug: String,
    /// Personal or organization.
    pub kind: AccountKind,
    /// When it was added (UTC).
    pub created_at: DateTime<Utc>,
}

/// Checks an account slug: 1–63 characters of lowercase letters, digits and hyphens, not
/// starting or ending with a hyphen (docs/product-rules.md §2; the length bound is ours, to fit a Hetzner
/// label value). Returns the reason on error.
pub fn validate_account_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("account slug: must not be empty".into());
    }
    if slug.len() > 63 {
        return Err(format!(
            "account slug: {} characters, at most 63",
            slug.len()
        ));
    }
    if let Some(c) = slug
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "account slug: '{c}' not allowed (lowercase letters, digits, hyphens only)"
        ));
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return Err("account slug: must not start or end with a hyphen".into());
    }
    Ok(())
}

/// A Vault key written into a VM at provisioning: which key, with which fingerprint, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedKey {
    /// The Vault entry id.
    pub vault_key_id: Uuid,
    /// `SHA256:` + unpadded base64, as `ssh-keygen -l` prints.
    pub fingerprint_sha256: String,
    /// The entry's label at the time.
    pub label: String,
    /// When it was written into the cloud-init document (UTC).
    pub attached_at: DateTime<Utc>,
}

/// A period during which the VM was owned by `account`, from `from` (UTC) to the next period's
/// start (or now / destruction). Transfers add a period (docs/product-rules.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnershipPeriod {
    /// Start of the period (UTC).
    pub from: DateTime<Utc>,
    /// Owning account slug.
    pub account: String,
}

/// A period during which the VM was billed as `billing_type`, from `from` (UTC). Switches add a
/// period (docs/product-rules.md §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingPeriod {
    /// Start of the period (UTC).
    pub from: DateTime<Utc>,
    /// Billing type in force from then on.
    pub billing_type: BillingType,
}

/// The platform's record of one Plain VM (docs/product-rules.md §2). Hetzner is the source of truth for the
/// server; this record keeps what Hetzner does not (account, tier, billing, keys, history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmRecord {
    /// Plain VM id.
    pub id: Uuid,
    /// Hostname (RFC 1123 label).
    pub name: String,
    /// Current owning account slug.
    pub account: String,
    /// Size tier.
    pub tier: Tier,
    /// Region (fixed for the VM's life).
    pub region: Region,
    /// Image key.
    pub image: ImageKey,
    /// Current billing type.
    pub billing_type: BillingType,
    /// Last known status.
    pub status: VmStatus,
    /// When the record was created (the create request), UTC.
    pub created_at: DateTime<Utc>,
    /// When provisioning finished (server running for the first time), UTC. Not an audit event.
    pub provisioned_at: Option<DateTime<Utc>>,
    /// When the VM was destroyed, UTC.
    pub destroyed_at: Option<DateTime<Utc>>,
    /// Hetzner server id, once created.
    pub hetzner_server_id: Option<i64>,
    /// Hetzner firewall id of the VM's own firewall, once created.
    pub hetzner_firewall_id: Option<i64>,
    /// Hetzner server type name backing the VM (e.g. `cpx22`).
    pub server_type: String,
    /// Public IPv4 address, when known.
    pub ipv4: Option<String>,
    /// Public IPv6 network (`…::/64`), when known.
    pub ipv6: Option<String>,
    /// Vault keys written at provisioning.
    pub keys: Vec<AttachedKey>,
    /// Ownership history, oldest first; the last one is `account`.
    pub ownership: Vec<OwnershipPeriod>,
    /// Billing-type history, oldest first; the last one is `billing_type`.
    pub billing: Vec<BillingPeriod>,
    /// Why provisioning failed, in words (status `failed`).
    pub failure: Option<String>,
}

/// One entry of an account's Vault: a customer-owned OpenSSH public key (docs/product-rules.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultEntry {
    /// Entry id.
    pub id: Uuid,
    /// Owning account slug.
    pub account: String,
    /// Label (defaults to the key's comment).
    pub label: String,
    /// Key type, e.g. `ssh-ed25519`.
    #[serde(rename = "type")]
    pub key_type: String,
    /// `SHA256:` + unpadded base64.
    pub fingerprint_sha256: String,
    /// Canonical `type base64 [comment]` line.
    pub public_key: String,
    /// When added (UTC).
    pub created_at: DateTime<Utc>,
    /// When deleted from the Vault (UTC); the key may still be on live VMs (docs/product-rules.md §5).
    pub deleted_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_name_the_field() {
        assert_eq!("eu".parse::<Region>(), Ok(Region::Eu));
        assert_eq!(Region::Us.location(), "hil");
        assert_eq!(Region::from_location("hel1"), Some(Region::Eu));
        assert_eq!(Region::from_location("fsn1"), None);
        let err = "mars".parse::<Region>().unwrap_err();
        assert_eq!(err.to_string(), "region: 'mars' is not one of us eu ");
        assert_eq!(
            serde_json::to_string(&ImageKey::Ubuntu2404).unwrap(),
            "\"ubuntu-24.04\""
        );
        assert_eq!(ImageKey::Fedora43.default_user(), "root");
        assert_eq!(ImageKey::Debian12.default_user(), "debian");
        assert_eq!(ImageKey::ALL.len(), 7);
    }

    #[test]
    fn tier_defaults_match_spec() {
        assert_eq!(default_server_type(Tier::Small, Region::Us), "cpx21");
        assert_eq!(default_server_type(Tier::Large, Region::Eu), "cpx42");
        assert_eq!(tier_size(Tier::Small, Region::Us), (3, 4, 80));
        assert_eq!(tier_size(Tier::Large, Region::Eu), (8, 16, 320));
    }

    #[test]
    fn hetzner_status_mapping() {
        assert_eq!(VmStatus::from_hetzner("off"), VmStatus::Stopped);
        assert_eq!(
            VmStatus::from_hetzner("initializing"),
            VmStatus::Provisioning
        );
        assert_eq!(VmStatus::from_hetzner("frobnicating"), VmStatus::Unknown);
        assert!(VmStatus::Stopped.is_live());
        assert!(!VmStatus::Deleted.is_live());
    }

    #[test]
    fn account_slugs() {
        assert_eq!(validate_account_slug("acme-2"), Ok(()));
        assert_eq!(
            validate_account_slug("Acme"),
            Err("account slug: 'A' not allowed (lowercase letters, digits, hyphens only)".into())
        );
        assert_eq!(
            validate_account_slug("-x"),
            Err("account slug: must not start or end with a hyphen".into())
        );
        assert_eq!(
            validate_account_slug(""),
            Err("account slug: must not be empty".into())
        );
    }
}

closed_enum!(
    /// Kind of audit event: an ownership transition of a Plain VM (docs/product-rules.md §6).
    AuditKind, "kind", { Destroy => "destroy", Transfer => "transfer" }
);

/// An audit event before the store gives it a sequence number, id and hashes: what happened to
/// which Plain VM, by whom (docs/product-rules.md §6). [`AuditEvent`] embeds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditDraft {
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// `destroy` or `transfer`.
    pub kind: AuditKind,
    /// The Plain VM's id.
    pub vm_id: Uuid,
    /// The Plain VM's name at the time.
    pub vm_name: String,
    /// Hetzner server id, when there was one.
    pub hetzner_server_id: Option<i64>,
    /// Tier at the time.
    pub tier: Tier,
    /// Region.
    pub region: Region,
    /// Owning account (the source, for a transfer).
    pub account: String,
    /// Destination account (transfer only).
    pub to_account: Option<String>,
    /// Who asked: the Unix user name of the requesting process, as the kernel names it
    /// (`SO_PEERCRED` for a client of `crabglamp serve`, the process's own uid embedded).
    pub actor: String,
    /// Outcome in words, e.g. `ok` or `failed: <reason>`.
    pub outcome: String,
    /// When the operation was requested (UTC), when it differs from `at` (an event written at a
    /// later sync for a destroy cut off mid-way). Absent in events written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// Where the requester said they came from (the client's `SSH_CONNECTION` address):
    /// reported by the client, never checked, never part of `actor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl AuditDraft {
    /// A draft about `vm` as it is now: its id, name, Hetzner server id, tier, region and
    /// owning account, with no destination account (see [`AuditDraft::transferred`]).
    pub fn for_vm(
        vm: &VmRecord,
        kind: AuditKind,
        actor: impl Into<String>,
        at: DateTime<Utc>,
        outcome: impl Into<String>,
    ) -> AuditDraft {
        AuditDraft {
            at,
            kind,
            vm_id: vm.id,
            vm_name: vm.name.clone(),
            hetzner_server_id: vm.hetzner_server_id,
            tier: vm.tier,
            region: vm.region,
            account: vm.account.clone(),
            to_account: None,
            actor: actor.into(),
            outcome: outcome.into(),
            requested_at: None,
            origin: None,
        }
    }

    /// The same draft for a transfer from account `from` to account `to` (docs/product-rules.md
    /// §7): `account` becomes the source, `to_account` the destination.
    pub fn transferred(mut self, from: impl Into<String>, to: impl Into<String>) -> AuditDraft {
        self.account = from.into();
        self.to_account = Some(to.into());
        self
    }
}

/// An immutable audit event: a destroy or transfer of a Plain VM (docs/product-rules.md §6). Appended to the
/// store's audit log, never updated or deleted; `prev_hash`/`hash` chain the log (SHA-256 over a
/// canonical encoding) so that an edit or a removal is detectable.
///
/// The event's facts are its [`AuditDraft`], stored flattened (the JSON has the same fields in
/// the same order as when they were spelled out here); `event.vm_name` and the like read
/// through [`Deref`](std::ops::Deref).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Sequence number, from 1, without gaps.
    pub seq: u64,
    /// Event id.
    pub id: Uuid,
    /// What happened, to which VM, by whom.
    #[serde(flatten)]
    pub draft: AuditDraft,
    /// Hex SHA-256 of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this event's canonical encoding including `prev_hash`.
    pub hash: String,
}

impl std::ops::Deref for AuditEvent {
    type Target = AuditDraft;

    fn deref(&self) -> &AuditDraft {
        &self.draft
    }
}

impl std::ops::DerefMut for AuditEvent {
    fn deref_mut(&mut self) -> &mut AuditDraft {
        &mut self.draft
    }
}

/// One usage record: billable seconds of one VM on one UTC day, attributed to the account that
/// owned it then and the billing type in force (docs/product-rules.md §8). Stopped time counts like running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    /// The UTC day.
    pub day: chrono::NaiveDate,
    /// Plain VM id.
    pub vm_id: Uuid,
    /// VM name at the time.
    pub vm_name: String,
    /// Account billed.
    pub account: String,
    /// Tier.
    pub tier: Tier,
    /// Region.
    pub region: Region,
    /// Billing type in force.
    pub billing_type: BillingType,
    /// Billable seconds within the day (0..=86 400).
    pub seconds: u32,
    /// Charge to the account for these seconds, in the configured currency.
    pub charge: rust_decimal::Decimal,
    /// Hetzner's cost for these seconds, in EUR.
    pub cost: rust_decimal::Decimal,
    /// False while the day is still running (today's record is provisional).
    pub is_final: bool,
}
