//! Demo data: accounts, Vault keys, VM records, audit events, usage records and the matching
//! fake-API servers and firewalls, all consistent with each other (docs/ARCHITECTURE.md "Modes": what
//! `cargo run` shows a newcomer).
//!
//! [`generate`] is deterministic for a given `now` (a fixed-seed `StdRng`), so UI snapshot tests
//! and screenshots are stable. Contents: a personal account (`alice`) and three organizations
//! (`acme`, `globex`, `initech`); 16 Plain VM records over both regions, all three tiers and all
//! seven images — 15 at Hetzner (running, `off`, one `initializing`), one destroyed 25 days ago
//! (with its destroy audit event) and one transferred from `acme` to `globex` 12 days ago (with
//! ownership and billing periods and a transfer audit event); ten real OpenSSH public keys
//! (`assets/demo-keys/`, private halves discarded) with one deleted from the Vault but still on a
//! live VM; per-day usage records for the last 90 days; non-ASCII text (`laptop 🦀`,
//! `日本語 office`) to exercise display width.
//!
//! Demo mode: `generate(now)` → start a fresh fake API → [`seed_sim`] →
//! [`DemoData::apply_hetzner_ids`] → [`seed_store`] (into the demo database, never the live one).
//! On a fresh fake API the generated Hetzner ids and addresses already equal the assigned ones,
//! so [`snapshot`] is exactly what the dashboard shows after its first sync.

use crate::config::Config;
use crate::domain::audit::{AuditDraft, GENESIS_HASH, seal};
use crate::domain::labels;
use crate::domain::usage::{HetznerPrice, Rates, hetzner_key, vm_records};
use crate::domain::{
    Account, AccountKind, AttachedKey, AuditKind, BillingPeriod, BillingType, ImageKey,
    OwnershipPeriod, Region, Tier, UsageRecord, VaultEntry, VmRecord, VmStatus,
};
use crate::protocol::{FirewallView, RuleView, Snapshot, VmRow};
use crate::store::{Store, StoreError};
use crate::worker::usage::UsageSettings;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use uuid::Uuid;

/// Seed of the demo's random numbers (ids, minutes): fixed, so the data depends on `now` only.
const SEED: u64 = 0x00C0_FFEE_C4AB;

/// Days of usage history generated, ending with today (UTC).
pub const USAGE_DAYS: i64 = 90;

/// The operator named in demo audit events.
pub const DEMO_ACTOR: &str = "marta from 192.0.2.44";

/// One server (and its own firewall) for the fake Hetzner API, matching a live demo VM record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoServer {
    /// The Plain VM it backs.
    pub vm_id: Uuid,
    /// Hostname.
    pub name: String,
    /// Hetzner server type, e.g. `cpx22`.
    pub server_type: String,
    /// Hetzner location: `hil` or `hel1`.
    pub location: String,
    /// Image name, e.g. `debian-13`.
    pub image: String,
    /// Labels ([`labels`]: vm id, account, tier, region, image, billing type).
    pub labels: BTreeMap<String, String>,
    /// Creation time (UTC).
    pub created: DateTime<Utc>,
    /// Hetzner status: `running`, `off` or `initializing`.
    pub status: String,
    /// Name of the VM's own firewall.
    pub firewall_name: String,
    /// Labels of the firewall (vm id, account).
    pub firewall_labels: BTreeMap<String, String>,
    /// The firewall's rules (direction `in`).
    pub rules: Vec<RuleView>,
}

/// Everything the demo seeds: records for the store and servers for the fake API.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    /// Accounts, by slug.
    pub accounts: Vec<Account>,
    /// VM records (the destroyed one included), oldest first.
    pub vms: Vec<VmRecord>,
    /// Vault entries (the deleted one included), oldest first.
    pub vault: Vec<VaultEntry>,
    /// Audit events to append, oldest first.
    pub audit: Vec<AuditDraft>,
    /// Usage records, in day order.
    pub usage: Vec<UsageRecord>,
    /// Servers for the fake API: one per live VM record, same order.
    pub servers: Vec<DemoServer>,
}

struct KeySpec {
    file: &'static str,
    text: &'static str,
    account: &'static str,
    label: &'static str,
}

macro_rules! key {
    ($file:literal, $account:literal, $label:literal) => {
        KeySpec {
            file: $file,
            text: include_str!(concat!("../assets/demo-keys/", $file, ".pub")),
            account: $account,
            label: $label,
        }
    };
}

fn key_specs() -> [KeySpec; 10] {
    [
        key!("alice-laptop", "alice", "laptop 🦀"),
        key!("alice-phone", "alice", "phone"),
        key!("acme-deploy", "acme", "CI deploy"),
        key!("acme-ops", "acme", "ops (RSA)"),
        key!("acme-bob", "acme", "bob's MacBook"),
        key!("acme-contractor", "acme", "contractor, Q3"),
        key!("globex-svc", "globex", "service account"),
        key!("globex-hank", "globex", "hank"),
        key!("initech-peter", "initech", "peter"),
        key!("initech-milton", "initech", "milton's workstation"),
    ]
}

/// Which rule set a demo VM's firewall gets.
#[derive(Clone, Copy)]
enum Role {
    Ssh,
    Web,
    Db,
    Ci,
    Vpn,
    Mail,
    Api,
    Mosh,
}

struct VmSpec {
    name: &'static str,
    account: &'static str,
    tier: Tier,
    region: Region,
    image: ImageKey,
    billing: BillingType,
    /// `running`, `off`, `initializing` or `deleted`.
    status: &'static str,
    age_days: i64,
    keys: &'static [&'static str],
    role: Role,
}

#[rustfmt::skip]
fn vm_specs() -> Vec<VmSpec> {
    use BillingType::{Metered as M, Subscription as S};
    use ImageKey::*;
    use Region::{Eu, Us};
    use Tier::{Large, Medium, Small};
    #[allow(clippy::too_many_arguments)]
    fn v(name: &'static str, account: &'static str, tier: Tier, region: Region, image: ImageKey,
         billing: BillingType, status: &'static str, age_days: i64,
         keys: &'static [&'static str], role: Role) -> VmSpec {
        VmSpec { name, account, tier, region, image, billing, status, age_days, keys, role }
    }
    vec![
        v("acme-legacy", "acme", Medium, Us, Ubuntu2204, M, "deleted", 89, &["acme-ops"], Role::Web),
        v("acme-web-1", "acme", Medium, Eu, Ubuntu2404, S, "running", 88, &["acme-deploy", "acme-contractor"], Role::Web),
        v("acme-web-2", "acme", Medium, Eu, Ubuntu2404, S, "running", 88, &["acme-deploy"], Role::Web),
        v("acme-db", "acme", Large, Eu, Debian13, S, "running", 85, &["acme-ops"], Role::Db),
        v("alice-dev", "alice", Small, Eu, Ubuntu2404, M, "running", 80, &["alice-laptop"], Role::Ssh),
        v("globex-api", "globex", Medium, Us, Rocky10, S, "running", 70, &["globex-svc"], Role::Api),
        v("blog", "alice", Small, Us, Debian12, S, "running", 62, &["alice-laptop", "alice-phone"], Role::Web),
        v("reports-01", "acme", Medium, Eu, Debian12, S, "running", 60, &["acme-ops"], Role::Ssh),
        v("initech-mail", "initech", Medium, Eu, Alma10, S, "off", 50, &["initech-milton"], Role::Mail),
        v("globex-worker-1", "globex", Large, Us, Alma10, M, "running", 45, &["globex-svc", "globex-hank"], Role::Ssh),
        v("acme-ci-runner", "acme", Large, Us, Fedora43, M, "off", 40, &["acme-deploy", "acme-bob"], Role::Ci),
        v("initech-tps", "initech", Small, Us, Ubuntu2404, M, "running", 33, &["initech-peter"], Role::Mosh),
        v("acme-staging", "acme", Small, Us, Ubuntu2204, M, "off", 30, &["acme-bob"], Role::Web),
        v("globex-vpn", "globex", Small, Eu, Debian12, M, "running", 15, &["globex-hank"], Role::Vpn),
        v("scratch", "alice", Small, Eu, Rocky10, M, "off", 2, &["alice-laptop"], Role::Ssh),
        v("initech-build", "initech", Medium, Us, Fedora43, M, "initializing", 0, &["initech-peter", "initech-milton"], Role::Ssh),
    ]
}

fn rule(protocol: &str, port: &str, sources: &[&str], description: &str) -> RuleView {
    RuleView {
        direction: "in".into(),
        protocol: protocol.into(),
        port: port.into(),
        source_ips: sources.iter().map(|s| s.to_string()).collect(),
        description: description.into(),
    }
}

const ANY: &[&str] = &["0.0.0.0/0", "::/0"];

fn rules_for(role: Role) -> Vec<RuleView> {
    let ssh = rule("tcp", "22", ANY, "SSH");
    match role {
        Role::Ssh => vec![ssh],
        Role::Web => vec![
            ssh,
            rule("tcp", "80", ANY, "HTTP"),
            rule("tcp", "443", ANY, "HTTPS"),
        ],
        Role::Db => vec![
            rule("tcp", "22", &["203.0.113.0/24"], "日本語 office"),
            rule(
                "tcp",
                "5432",
                &["10.0.0.0/16", "203.0.113.0/24"],
                "PostgreSQL",
            ),
        ],
        Role::Ci => vec![
            ssh,
            rule("tcp", "8000-8100", &["192.0.2.0/24"], "build agents"),
        ],
        Role::Vpn => vec![ssh, rule("udp", "51820", ANY, "WireGuard")],
        Role::Mail => vec![
            ssh,
            rule("tcp", "25", ANY, "SMTP"),
            rule("tcp", "587", ANY, "submission"),
            rule("tcp", "993", ANY, "IMAPS"),
        ],
        Role::Api => vec![
            ssh,
            rule("tcp", "443", ANY, "HTTPS"),
            rule("tcp", "9090", &["2001:db8:42::/48"], "metrics (IPv6 only)"),
        ],
        Role::Mosh => vec![ssh, rule("udp", "60000-61000", ANY, "mosh")],
    }
}

/// Hetzner's net price (EUR) of a server type in the location our region uses: (hourly,
/// monthly cap). The same figures as the fake API's catalogue; `None` for other types.
pub fn hetzner_price(server_type: &str) -> Option<(Decimal, Decimal)> {
    let (h, m) = match server_type {
        "cpx21" => ("0.0160", "9.99"),
        "cpx31" => ("0.0288", "17.99"),
        "cpx41" => ("0.0536", "33.49"),
        "cpx22" => ("0.0128", "7.99"),
        "cpx32" => ("0.0224", "13.99"),
        "cpx42" => ("0.0408", "25.49"),
        _ => return None,
    };
    Some((Decimal::from_str(h).ok()?, Decimal::from_str(m).ok()?))
}

/// Real figures of a default server type as Hetzner reports them: (cores, memory GB, disk GB).
fn server_type_figures(server_type: &str) -> Option<(u32, f64, u64)> {
    match server_type {
        "cpx21" => Some((3, 4.0, 80)),
        "cpx22" => Some((2, 4.0, 80)),
        "cpx31" | "cpx32" => Some((4, 8.0, 160)),
        "cpx41" => Some((8, 16.0, 240)),
        "cpx42" => Some((8, 16.0, 320)),
        _ => None,
    }
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn at_day(now: DateTime<Utc>, days_ago: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    let day = now.date_naive() - Duration::days(days_ago);
    day.and_hms_opt(hour, minute, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

/// Hetzner server id a fresh fake API gives its first server; the k-th demo server gets
/// `+ k` (sim `State`). [`DemoData::apply_hetzner_ids`] sets the ids actually assigned.
const SERVER_ID_BASE: i64 = 10_000_001;
/// Firewall id a fresh fake API gives its first firewall; the k-th demo firewall gets `+ k`.
const FIREWALL_ID_BASE: i64 = 2_000_001;
/// Ids of the destroyed VM's long-gone server and firewall (below the fake API's ranges).
const GONE_IDS: (i64, i64) = (9_876_543, 1_999_321);

/// Builds the demo data for the moment `now` (UTC). Deterministic: the same `now` gives the
/// same data (ids included).
pub fn generate(now: DateTime<Utc>) -> DemoData {
    let mut rng = StdRng::seed_from_u64(SEED);
    let config = Config::default();

    // Accounts, created 120 days ago.
    let accounts: Vec<Account> = [
        ("acme", AccountKind::Organization, 120),
        ("alice", AccountKind::Personal, 118),
        ("globex", AccountKind::Organization, 110),
        ("initech", AccountKind::Organization, 100),
    ]
    .into_iter()
    .map(|(slug, kind, days)| Account {
        slug: slug.into(),
        kind,
        created_at: at_day(now, days, 9, 0),
    })
    .collect();

    // Vault: real keys, added 95–99 days ago; the contractor's key deleted 20 days ago.
    let mut vault = Vec::new();
    for (i, spec) in key_specs().iter().enumerate() {
        let id = uuid(&mut rng);
        let minute = rng.random_range(0..60);
        let Ok(key) = ssh_key::PublicKey::from_openssh(spec.text.trim()) else {
            continue; // the committed files all parse (tested)
        };
        let public_key = key.to_openssh().unwrap_or_else(|_| spec.text.trim().into());
        vault.push(VaultEntry {
            id,
            account: spec.account.into(),
            label: spec.label.into(),
            key_type: key.algorithm().as_str().to_string(),
            fingerprint_sha256: key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            public_key,
            created_at: at_day(now, 99 - (i as i64 % 5), 10 + i as u32 % 8, minute),
            deleted_at: (spec.file == "acme-contractor").then(|| at_day(now, 20, 14, 5)),
        });
    }
    let key_ids: HashMap<&'static str, usize> = key_specs()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.file, i))
        .collect();

    let mut vms = Vec::new();
    let mut servers = Vec::new();
    let mut audit = Vec::new();
    for spec in vm_specs() {
        let id = uuid(&mut rng);
        let minutes: i64 = rng.random_range(5..1400);
        let created = if spec.status == "initializing" {
            now - Duration::seconds(40)
        } else {
            now - Duration::days(spec.age_days) - Duration::minutes(minutes)
        };
        let boot_seconds: i64 = rng.random_range(48..75);
        let provisioned_at =
            (spec.status != "initializing").then(|| created + Duration::seconds(boot_seconds));
        // The addresses a fresh fake API assigns to its k-th server (documentation ranges), so
        // records and servers agree from the first screen; the destroyed VM's are elsewhere.
        let (ipv4, ipv6, server_id, firewall_id) = if spec.status == "deleted" {
            let (sid, fid) = GONE_IDS;
            (
                "192.0.2.200".to_string(),
                "2001:db8:ffff::/64".to_string(),
                sid,
                fid,
            )
        } else {
            let k = servers.len();
            let (v4, v6) = live_ips(k);
            (
                v4,
                v6,
                SERVER_ID_BASE + k as i64,
                FIREWALL_ID_BASE + k as i64,
            )
        };
        let server_type = config.server_type(spec.tier, spec.region).to_string();
        let keys = spec
            .keys
            .iter()
            .filter_map(|k| key_ids.get(k).and_then(|&j| vault.get(j)))
            .map(|e: &VaultEntry| AttachedKey {
                vault_key_id: e.id,
                fingerprint_sha256: e.fingerprint_sha256.clone(),
                label: e.label.clone(),
                attached_at: created,
            })
            .collect();
        let mut record = VmRecord {
            id,
            name: spec.name.into(),
            account: spec.account.into(),
            tier: spec.tier,
            region: spec.region,
            image: spec.image,
            billing_type: spec.billing,
            status: match spec.status {
                "running" => VmStatus::Running,
                "off" => VmStatus::Stopped,
                "initializing" => VmStatus::Provisioning,
                _ => VmStatus::Deleted,
            },
            created_at: created,
            provisioned_at,
            destroyed_at: None,
            hetzner_server_id: Some(server_id),
            hetzner_firewall_id: Some(firewall_id),
            server_type: server_type.clone(),
            ipv4: Some(ipv4),
            ipv6: Some(ipv6),
            keys,
            ownership: vec![OwnershipPeriod {
                from: created,
                account: spec.account.into(),
            }],
            billing: vec![BillingPeriod {
                from: created,
                billing_type: spec.billing,
            }],
            failure: None,
        };
        match spec.name {
            "acme-legacy" => {
                let destroyed = at_day(now, 25, 16, 42);
                record.destroyed_at = Some(destroyed);
                audit.push(AuditDraft::for_vm(
                    &record,
                    AuditKind::Destroy,
                    DEMO_ACTOR,
                    destroyed,
                    "ok",
                ));
            }
            "reports-01" => {
                // Transferred to globex at noon 12 days ago; metered afterwards (docs/product-rules.md §7).
                let moved = at_day(now, 12, 12, 0);
                record.account = "globex".into();
                record.billing_type = BillingType::Metered;
                record.ownership.push(OwnershipPeriod {
                    from: moved,
                    account: "globex".into(),
                });
                record.billing.push(BillingPeriod {
                    from: moved,
                    billing_type: BillingType::Metered,
                });
                audit.push(
                    AuditDraft::for_vm(&record, AuditKind::Transfer, DEMO_ACTOR, moved, "ok")
                        .transferred("acme", "globex"),
                );
            }
            "alice-dev" => {
                // Switched to subscription 30 days ago at 08:15 (docs/product-rules.md §8).
                record.billing_type = BillingType::Subscription;
                record.billing.push(BillingPeriod {
                    from: at_day(now, 30, 8, 15),
                    billing_type: BillingType::Subscription,
                });
            }
            _ => {}
        }
        if spec.status != "deleted" {
            servers.push(DemoServer {
                vm_id: id,
                name: record.name.clone(),
                server_type,
                location: record.region.location().into(),
                image: record.image.as_str().into(),
                labels: server_labels(&record),
                created,
                status: spec.status.into(),
                firewall_name: format!("crabglamp-{}", record.name),
                firewall_labels: BTreeMap::from([
                    (labels::VM_ID.to_string(), id.to_string()),
                    (labels::ACCOUNT.to_string(), record.account.clone()),
                ]),
                rules: rules_for(spec.role),
            });
        }
        vms.push(record);
    }
    vms.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    vault.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    audit.sort_by_key(|d| d.at);

    let usage = usage_records(&vms, now);
    DemoData {
        accounts,
        vms,
        vault,
        audit,
        usage,
        servers,
    }
}

/// (IPv4, IPv6 network) of the k-th server (from 0) of a fresh fake API: `203.0.113.(k+1)` and
/// `2001:db8:1:k::/64` (sim `State::new_ips`).
fn live_ips(k: usize) -> (String, String) {
    let v6 = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, k as u16, 0, 0, 0, 0);
    (format!("203.0.113.{}", k + 1), format!("{v6}/64"))
}

/// The labels the console puts on a VM's server ([`labels`]).
fn server_labels(vm: &VmRecord) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::VM_ID.to_string(), vm.id.to_string()),
        (labels::ACCOUNT.to_string(), vm.account.clone()),
        (labels::TIER.to_string(), vm.tier.as_str().to_string()),
        (labels::REGION.to_string(), vm.region.as_str().to_string()),
        (labels::IMAGE.to_string(), vm.image.as_str().to_string()),
        (
            labels::BILLING_TYPE.to_string(),
            vm.billing_type.as_str().to_string(),
        ),
    ])
}

/// The demo's Hetzner prices (net, EUR) per `server_type@location` for the six default
/// server types in their region's location ([`hetzner_price`]; the fake API's catalogue).
pub fn hetzner_prices() -> BTreeMap<String, HetznerPrice> {
    let mut out = BTreeMap::new();
    for region in Region::ALL {
        for tier in Tier::ALL {
            let server_type = crate::domain::default_server_type(*tier, *region);
            if let Some((hourly, monthly)) = hetzner_price(server_type) {
                out.insert(
                    hetzner_key(server_type, region.location()),
                    HetznerPrice { hourly, monthly },
                );
            }
        }
    }
    out
}

/// The rates the demo accrues with: the default config's table (EUR) and [`hetzner_prices`].
pub fn rates() -> Rates {
    UsageSettings::default().rates(hetzner_prices())
}

/// Usage records for the last [`USAGE_DAYS`] days up to `now`: [`vm_records`] per VM with
/// [`rates`] (the same function the worker's accrual uses, so accrual over demo data rewrites
/// identical records).
fn usage_records(vms: &[VmRecord], now: DateTime<Utc>) -> Vec<UsageRecord> {
    let today = now.date_naive();
    let first = today - Duration::days(USAGE_DAYS - 1);
    let rates = rates();
    let mut out: Vec<UsageRecord> = vms
        .iter()
        .flat_map(|vm| vm_records(vm, first, today, now, &rates))
        .collect();
    out.sort_by(|a, b| {
        (a.day, a.vm_id, &a.account, a.billing_type).cmp(&(
            b.day,
            b.vm_id,
            &b.account,
            b.billing_type,
        ))
    });
    out
}

impl DemoData {
    /// Replaces the placeholder Hetzner ids with those the fake API assigned (from
    /// [`seed_sim`]: `(vm id, server id, firewall id)`), in the VM records and audit drafts.
    pub fn apply_hetzner_ids(&mut self, ids: &[(Uuid, i64, i64)]) {
        for (vm_id, server_id, firewall_id) in ids {
            for vm in self.vms.iter_mut().filter(|v| v.id == *vm_id) {
                vm.hetzner_server_id = Some(*server_id);
                vm.hetzner_firewall_id = Some(*firewall_id);
            }
            for d in self.audit.iter_mut().filter(|d| d.vm_id == *vm_id) {
                d.hetzner_server_id = Some(*server_id);
            }
        }
    }

    /// The audit events as the store would seal them (sequence from 1, chained hashes), with
    /// ids derived from the demo seed instead of fresh random ones.
    pub fn sealed_audit(&self) -> Vec<crate::domain::AuditEvent> {
        let mut rng = StdRng::seed_from_u64(SEED ^ 0xA0D1);
        let mut prev = GENESIS_HASH.to_string();
        let mut out = Vec::new();
        for (i, draft) in self.audit.iter().enumerate() {
            let event = seal(draft.clone(), i as u64 + 1, uuid(&mut rng), &prev);
            prev = event.hash.clone();
            out.push(event);
        }
        out
    }
}

/// Writes the demo records into `store`: accounts (existing slugs are kept), VM records, Vault
/// entries and usage records (puts: replacing the same keys), and the audit drafts only when the
/// audit log is still empty (it is append-only; re-seeding must not duplicate events).
pub fn seed_store(store: &Store, data: &DemoData) -> Result<(), StoreError> {
    for account in &data.accounts {
        match store.add_account(account) {
            Ok(()) | Err(StoreError::Exists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    for vm in &data.vms {
        store.put_vm(vm)?;
    }
    for entry in &data.vault {
        store.put_vault_entry(entry)?;
    }
    store.put_usage_records(&data.usage)?;
    crate::worker::usage::save_hetzner_prices(store, &hetzner_prices())?;
    if store.audit_events()?.is_empty() {
        for draft in &data.audit {
            store.append_audit(draft.clone())?;
        }
    }
    store.flush()
}

/// A rule in Hetzner's request shape (`direction`, `protocol`, `port`, `source_ips`,
/// `description`), as `set_rules` and the fake API's seeds take it.
fn rule_json(r: &RuleView) -> serde_json::Value {
    serde_json::json!({
        "direction": r.direction,
        "protocol": r.protocol,
        "port": r.port,
        "source_ips": r.source_ips,
        "description": r.description,
    })
}

/// Adds every demo server and its own firewall (applied to that server only) to the fake API.
/// Returns `(vm id, server id, firewall id)` per server, in `data.servers` order; pass it to
/// [`DemoData::apply_hetzner_ids`] before [`seed_store`] so the records match the fake API.
pub async fn seed_sim(sim: &crate::sim::SimHandle, data: &DemoData) -> Vec<(Uuid, i64, i64)> {
    let mut ids = Vec::with_capacity(data.servers.len());
    for server in &data.servers {
        let server_id = sim.add_server(crate::sim::ServerSeed {
            name: server.name.clone(),
            server_type: server.server_type.clone(),
            location: server.location.clone(),
            image: server.image.clone(),
            labels: server.labels.clone(),
            created: server.created,
            status: server.status.clone(),
            firewall_ids: Vec::new(),
        });
        let firewall_id = sim.add_firewall(crate::sim::FirewallSeed {
            name: server.firewall_name.clone(),
            labels: server.firewall_labels.clone(),
            rules: serde_json::Value::Array(server.rules.iter().map(rule_json).collect()),
            applied_to: vec![server_id],
        });
        ids.push((server.vm_id, server_id, firewall_id));
    }
    ids
}

/// What the dashboard shows after a sync of the demo data at `now`: every VM record joined with
/// its server's figures (real cores, memory and disk of the server type, location, labels,
/// status) and its firewall; deleted VMs without Hetzner fields. Deterministic; used by UI
/// snapshot tests and screenshots.
pub fn snapshot(now: DateTime<Utc>) -> Snapshot {
    let data = generate(now);
    let audit = data.sealed_audit();
    let servers: HashMap<Uuid, &DemoServer> = data.servers.iter().map(|s| (s.vm_id, s)).collect();
    let vms = data
        .vms
        .iter()
        .map(|vm| match servers.get(&vm.id) {
            Some(server) => {
                let figures = server_type_figures(&server.server_type);
                VmRow {
                    record: vm.clone(),
                    managed: true,
                    hetzner_status: Some(server.status.clone()),
                    location: Some(server.location.clone()),
                    cores: figures.map(|f| f.0),
                    memory_gb: figures.map(|f| f.1),
                    disk_gb: figures.map(|f| f.2),
                    labels: server.labels.clone(),
                    firewall: vm.hetzner_firewall_id.map(|fid| FirewallView {
                        id: fid,
                        name: server.firewall_name.clone(),
                        rules: server.rules.clone(),
                        applied_to: vm.hetzner_server_id.into_iter().collect(),
                    }),
                }
            }
            None => VmRow {
                record: vm.clone(),
                managed: true,
                hetzner_status: None,
                location: None,
                cores: None,
                memory_gb: None,
                disk_gb: None,
                labels: BTreeMap::new(),
                firewall: None,
            },
        })
        .collect();
    Snapshot {
        vms,
        accounts: data.accounts.into(),
        vault: data.vault.into(),
        audit: audit.into(),
        audit_verified: Some(true),
        audit_status: None,
        usage: data.usage.into(),
        usage_currency: rates().currency,
        hetzner_prices: hetzner_prices().into(),
        stale: false,
        prebuilt: None,
    }
}

/// The usage window start for `now`: the first day with demo usage records.
pub fn first_usage_day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive() - Duration::days(USAGE_DAYS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::verify_chain;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap()
    }

    #[test]
    fn generate_is_deterministic() {
        assert_eq!(generate(now()), generate(now()));
        assert_eq!(snapshot(now()), snapshot(now()));
        assert_ne!(
            generate(now()).vms[0].created_at,
            generate(now() + Duration::hours(1)).vms[0].created_at
        );
    }

    #[test]
    fn contents() {
        let d = generate(now());
        let slugs: Vec<(&str, AccountKind)> = d
            .accounts
            .iter()
            .map(|a| (a.slug.as_str(), a.kind))
            .collect();
        assert_eq!(
            slugs,
            vec![
                ("acme", AccountKind::Organization),
                ("alice", AccountKind::Personal),
                ("globex", AccountKind::Organization),
                ("initech", AccountKind::Organization),
            ]
        );
        assert_eq!(d.vms.len(), 16);
        assert_eq!(d.servers.len(), 15);
        let count = |s: VmStatus| d.vms.iter().filter(|v| v.status == s).count();
        assert_eq!(count(VmStatus::Running), 10);
        assert_eq!(count(VmStatus::Stopped), 4);
        assert_eq!(count(VmStatus::Provisioning), 1);
        assert_eq!(count(VmStatus::Deleted), 1);
        for tier in Tier::ALL {
            assert!(d.vms.iter().any(|v| v.tier == *tier));
        }
        for image in ImageKey::ALL {
            assert!(d.vms.iter().any(|v| v.image == *image), "{image}");
        }
        assert!(d.vms.iter().any(|v| v.region == Region::Us));
        assert!(d.vms.iter().any(|v| v.region == Region::Eu));
        let oldest = d.vms.iter().map(|v| v.created_at).min().unwrap();
        assert!(now() - oldest <= Duration::days(90));

        let destroyed = d
            .vms
            .iter()
            .find(|v| v.status == VmStatus::Deleted)
            .unwrap();
        assert_eq!(destroyed.name, "acme-legacy");
        assert_eq!(destroyed.destroyed_at, Some(at_day(now(), 25, 16, 42)));
        let moved = d.vms.iter().find(|v| v.name == "reports-01").unwrap();
        assert_eq!(moved.account, "globex");
        assert_eq!(moved.ownership.len(), 2);
        assert_eq!(moved.ownership[0].account, "acme");
        assert_eq!(moved.billing_type, BillingType::Metered);
        let kinds: Vec<(AuditKind, &str)> = d
            .audit
            .iter()
            .map(|a| (a.kind, a.vm_name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (AuditKind::Destroy, "acme-legacy"),
                (AuditKind::Transfer, "reports-01")
            ]
        );
        assert_eq!(d.audit[1].to_account.as_deref(), Some("globex"));

        let statuses: Vec<&str> = d.servers.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == "off").count(), 4);
        assert_eq!(statuses.iter().filter(|s| **s == "initializing").count(), 1);
        let db = d.servers.iter().find(|s| s.name == "acme-db").unwrap();
        assert_eq!(db.rules[0].description, "日本語 office");
        assert_eq!(db.labels[labels::TIER], "large");
        assert_eq!(db.labels[labels::REGION], "eu");
        assert_eq!(db.location, "hel1");
        assert_eq!(db.server_type, "cpx42");
        assert_eq!(db.labels.len(), 6);
    }

    #[test]
    fn vault_keys_are_real_with_exact_fingerprints() {
        let d = generate(now());
        assert_eq!(d.vault.len(), 10);
        let by_label = |l: &str| d.vault.iter().find(|e| e.label == l).unwrap();
        let laptop = by_label("laptop 🦀");
        assert_eq!(laptop.key_type, "ssh-ed25519");
        assert_eq!(
            laptop.fingerprint_sha256,
            "SHA256:Pr9V4LqnuC848cjYQmVAsjXFlEsCkdTD9hVn5fkhATA"
        );
        assert!(laptop.public_key.ends_with(" alice@thinkpad"));
        let ops = by_label("ops (RSA)");
        assert_eq!(ops.key_type, "ssh-rsa");
        assert_eq!(
            ops.fingerprint_sha256,
            "SHA256:XKUqAUrMx6UFY6GxsyctcOcIQPP0dP36NvE750r02vg"
        );
        assert_eq!(
            by_label("milton's workstation").key_type,
            "ecdsa-sha2-nistp521"
        );
        assert_eq!(by_label("service account").key_type, "ecdsa-sha2-nistp384");
        // The deleted key is still on a live VM.
        let deleted: Vec<&VaultEntry> = d.vault.iter().filter(|e| e.deleted_at.is_some()).collect();
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            deleted[0].fingerprint_sha256,
            "SHA256:R6PUeXcSZUthQSoHbm17m72FQyPNLvwMjUVICdetvRc"
        );
        let holders: Vec<&str> = d
            .vms
            .iter()
            .filter(|v| v.status.is_live())
            .filter(|v| v.keys.iter().any(|k| k.vault_key_id == deleted[0].id))
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(holders, vec!["acme-web-1"]);
        // Every attached key was in the Vault before the VM was created.
        for vm in &d.vms {
            for k in &vm.keys {
                let entry = d.vault.iter().find(|e| e.id == k.vault_key_id).unwrap();
                assert!(entry.created_at < vm.created_at, "{}", vm.name);
                assert_eq!(entry.account, vm.ownership[0].account, "{}", vm.name);
            }
        }
    }

    #[test]
    fn usage_follows_the_rules() {
        let d = generate(now());
        let today = now().date_naive();
        assert!(
            d.usage
                .iter()
                .all(|u| u.day >= first_usage_day(now()) && u.day <= today)
        );
        assert!(d.usage.windows(2).all(|w| w[0].day <= w[1].day));
        // The transferred VM: the transfer day splits 12 h + 12 h, acme subscription then
        // globex metered.
        let moved = d.vms.iter().find(|v| v.name == "reports-01").unwrap();
        let transfer_day = now().date_naive() - Duration::days(12);
        let split: Vec<(&str, BillingType, u32)> = d
            .usage
            .iter()
            .filter(|u| u.vm_id == moved.id && u.day == transfer_day)
            .map(|u| (u.account.as_str(), u.billing_type, u.seconds))
            .collect();
        assert_eq!(
            split,
            vec![
                ("acme", BillingType::Subscription, 43_200),
                ("globex", BillingType::Metered, 43_200)
            ]
        );
        // A stopped VM bills full days; today is provisional and ends at now (09:30).
        let stopped = d.vms.iter().find(|v| v.name == "acme-ci-runner").unwrap();
        let days: Vec<(u32, bool)> = d
            .usage
            .iter()
            .filter(|u| u.vm_id == stopped.id && u.day >= today - Duration::days(1))
            .map(|u| (u.seconds, u.is_final))
            .collect();
        assert_eq!(days, vec![(86_400, true), (34_200, false)]);
        // Charge: medium EU... here large US metered at 0.0950/h for a full day.
        let full = d
            .usage
            .iter()
            .find(|u| u.vm_id == stopped.id && u.day == today - Duration::days(1))
            .unwrap();
        assert_eq!(full.charge, Decimal::from_str("2.28").unwrap());
        // The destroyed VM stops accruing at its destruction; the provisioning one has none.
        let gone = d.vms.iter().find(|v| v.name == "acme-legacy").unwrap();
        let last = d.usage.iter().rfind(|u| u.vm_id == gone.id).unwrap();
        assert_eq!(last.day, today - Duration::days(25));
        assert_eq!(last.seconds, 16 * 3600 + 42 * 60);
        let building = d.vms.iter().find(|v| v.name == "initech-build").unwrap();
        assert!(d.usage.iter().all(|u| u.vm_id != building.id));
    }

    #[test]
    fn snapshot_joins_hetzner_figures() {
        let s = snapshot(now());
        assert_eq!(s.vms.len(), 16);
        assert_eq!(verify_chain(&s.audit), Ok(2));
        let row = s.vms.iter().find(|r| r.record.name == "blog").unwrap();
        assert_eq!(row.hetzner_status.as_deref(), Some("running"));
        assert_eq!(row.location.as_deref(), Some("hil"));
        assert_eq!(
            (row.cores, row.memory_gb, row.disk_gb),
            (Some(3), Some(4.0), Some(80))
        );
        let fw = row.firewall.as_ref().unwrap();
        assert_eq!(fw.rules.len(), 3);
        assert_eq!(fw.applied_to, vec![row.record.hetzner_server_id.unwrap()]);
        let gone = s
            .vms
            .iter()
            .find(|r| r.record.name == "acme-legacy")
            .unwrap();
        assert_eq!(gone.hetzner_status, None);
        assert!(gone.firewall.is_none());
    }

    #[test]
    fn seed_store_reads_back_the_same_records() {
        let d = generate(now());
        let store = Store::open_temporary().unwrap();
        seed_store(&store, &d).unwrap();
        assert_eq!(store.accounts().unwrap(), d.accounts);
        assert_eq!(store.vms().unwrap(), d.vms);
        assert_eq!(store.vault(None).unwrap(), d.vault);
        let today = now().date_naive();
        assert_eq!(store.usage(first_usage_day(now()), today).unwrap(), d.usage);
        assert_eq!(store.verify_audit(), Ok(2));
        let events = store.audit_events().unwrap();
        let sealed = d.sealed_audit();
        for (e, s) in events.iter().zip(&sealed) {
            assert_eq!(
                (e.seq, e.kind, &e.vm_name, e.at),
                (s.seq, s.kind, &s.vm_name, s.at)
            );
        }
        // Re-seeding neither fails nor duplicates audit events.
        seed_store(&store, &d).unwrap();
        assert_eq!(store.audit_events().unwrap().len(), 2);
        assert_eq!(store.accounts().unwrap().len(), 4);
    }

    #[test]
    fn apply_ids_updates_records_and_drafts() {
        let mut d = generate(now());
        let legacy = d.vms.iter().find(|v| v.name == "acme-legacy").unwrap().id;
        d.apply_hetzner_ids(&[(legacy, 42, 43)]);
        let v = d.vms.iter().find(|v| v.id == legacy).unwrap();
        assert_eq!(
            (v.hetzner_server_id, v.hetzner_firewall_id),
            (Some(42), Some(43))
        );
        assert_eq!(d.audit[0].hetzner_server_id, Some(42));
    }
}
