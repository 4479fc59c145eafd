//! A small deterministic fixture for the UI tests: three accounts, eight VMs (one unmanaged, one
//! vanished, one provisioning), Vault keys (one deleted but still on a live VM), two audit
//! events and a week of usage.
#![allow(dead_code)]
pub mod harness;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crabglamp::app::{Model, Msg, update};
use crabglamp::domain::*;
use crabglamp::protocol::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The fixed "now" of every UI test: 2026-11-30 09:00:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0c4a_b000_0000_4000_8000_0000_0000_0000 + n)
}

pub fn key(n: u128, account: &str, label: &str, deleted: bool) -> VaultEntry {
    VaultEntry {
        id: uuid(1000 + n),
        account: account.into(),
        label: label.into(),
        key_type: "ssh-ed25519".into(),
        fingerprint_sha256: format!("SHA256:{:0>43}", format!("k{n}fingerprintAbCdEf")),
        public_key: format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{n} {label}"),
        created_at: now() - Duration::days(60 - n as i64),
        deleted_at: deleted.then(|| now() - Duration::days(3)),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn vm(
    n: u128,
    name: &str,
    account: &str,
    tier: Tier,
    region: Region,
    image: ImageKey,
    status: VmStatus,
    days_ago: i64,
    keys: &[&VaultEntry],
) -> VmRow {
    let server_id = 40_000 + n as i64;
    let provisioned = (status != VmStatus::Provisioning)
        .then(|| now() - Duration::days(days_ago) - Duration::hours(n as i64));
    let record = VmRecord {
        id: uuid(n),
        name: name.into(),
        account: account.into(),
        tier,
        region,
        image,
        billing_type: if n.is_multiple_of(3) {
            BillingType::Subscription
        } else {
            BillingType::Metered
        },
        status,
        created_at: now() - Duration::days(days_ago) - Duration::hours(n as i64 + 1),
        provisioned_at: provisioned,
        destroyed_at: None,
        hetzner_server_id: Some(server_id),
        hetzner_firewall_id: Some(90_000 + n as i64),
        server_type: default_server_type(tier, region).into(),
        ipv4: (status != VmStatus::Provisioning).then(|| format!("203.0.113.{}", 10 + n)),
        ipv6: (status != VmStatus::Provisioning)
            .then(|| format!("2a01:4f9:c012:{:x}::/64", 0x100 + n)),
        keys: keys
            .iter()
            .map(|k| AttachedKey {
                vault_key_id: k.id,
                fingerprint_sha256: k.fingerprint_sha256.clone(),
                label: k.label.clone(),
                attached_at: now() - Duration::days(days_ago),
            })
            .collect(),
        ownership: vec![OwnershipPeriod {
            from: now() - Duration::days(days_ago),
            account: account.into(),
        }],
        billing: vec![],
        failure: None,
    };
    let (c, m, d) = tier_size(tier, region);
    let mut labels = BTreeMap::new();
    labels.insert(labels::ACCOUNT.to_string(), account.to_string());
    labels.insert(labels::TIER.to_string(), tier.to_string());
    VmRow {
        record,
        managed: true,
        hetzner_status: Some(match status {
            VmStatus::Stopped => "off".into(),
            VmStatus::Provisioning => "initializing".into(),
            s => s.to_string(),
        }),
        location: Some(region.location().into()),
        cores: Some(c),
        memory_gb: Some(f64::from(m)),
        disk_gb: Some(u64::from(d)),
        labels,
        firewall: Some(FirewallView {
            id: 90_000 + n as i64,
            name: format!("crabglamp-{name}"),
            rules: vec![
                RuleView {
                    direction: "in".into(),
                    protocol: "tcp".into(),
                    port: "22".into(),
                    source_ips: vec!["0.0.0.0/0".into(), "::/0".into()],
                    description: "ssh".into(),
                },
                RuleView {
                    direction: "in".into(),
                    protocol: "tcp".into(),
                    port: "8000-8100".into(),
                    source_ips: vec!["198.51.100.0/24".into()],
                    description: "app ports".into(),
                },
            ],
            applied_to: vec![server_id],
        }),
    }
}

pub fn snapshot() -> Snapshot {
    let k1 = key(1, "acme", "ops-laptop", false);
    let k2 = key(2, "acme", "old-ci", true);
    let k3 = key(3, "alice", "alice@home", false);
    let k4 = key(4, "globex", "deploy", false);
    use ImageKey::*;
    use Region::*;
    use Tier::*;
    let mut vms = vec![
        vm(
            1,
            "web-01",
            "acme",
            Small,
            Eu,
            Ubuntu2404,
            VmStatus::Running,
            40,
            &[&k1, &k2],
        ),
        vm(
            2,
            "web-02",
            "acme",
            Small,
            Us,
            Ubuntu2404,
            VmStatus::Running,
            39,
            &[&k1],
        ),
        vm(
            3,
            "db-main",
            "acme",
            Large,
            Eu,
            Debian12,
            VmStatus::Stopped,
            80,
            &[&k1],
        ),
        vm(
            4,
            "build-box",
            "globex",
            Medium,
            Us,
            Fedora43,
            VmStatus::Running,
            12,
            &[&k4],
        ),
        vm(
            5,
            "scratch",
            "alice",
            Small,
            Eu,
            Rocky10,
            VmStatus::Provisioning,
            0,
            &[&k3],
        ),
        vm(
            6,
            "gpu-less",
            "globex",
            Large,
            Us,
            Alma10,
            VmStatus::Running,
            5,
            &[&k4],
        ),
        vm(
            7,
            "legacy",
            "alice",
            Medium,
            Eu,
            Debian13,
            VmStatus::Vanished,
            70,
            &[&k3],
        ),
        vm(
            8,
            "stray",
            "globex",
            Small,
            Eu,
            Ubuntu2204,
            VmStatus::Running,
            2,
            &[],
        ),
    ];
    vms[7].managed = false;
    vms[6].hetzner_status = None;
    vms[6].firewall = None;
    let accounts = vec![
        Account {
            slug: "alice".into(),
            kind: AccountKind::Personal,
            created_at: now() - Duration::days(100),
        },
        Account {
            slug: "acme".into(),
            kind: AccountKind::Organization,
            created_at: now() - Duration::days(100),
        },
        Account {
            slug: "globex".into(),
            kind: AccountKind::Organization,
            created_at: now() - Duration::days(90),
        },
    ];
    let audit = vec![
        AuditEvent {
            seq: 1,
            id: uuid(5001),
            draft: AuditDraft {
                at: now() - Duration::days(20),
                kind: AuditKind::Destroy,
                vm_id: uuid(99),
                vm_name: "old-web".into(),
                hetzner_server_id: Some(39_999),
                tier: Small,
                region: Eu,
                account: "acme".into(),
                to_account: None,
                actor: "ops".into(),
                outcome: "ok".into(),
                requested_at: None,
                origin: None,
            },
            prev_hash: "0".repeat(64),
            hash: "a".repeat(64),
        },
        AuditEvent {
            seq: 2,
            id: uuid(5002),
            draft: AuditDraft {
                at: now() - Duration::days(2) - Duration::hours(3),
                kind: AuditKind::Transfer,
                vm_id: uuid(4),
                vm_name: "build-box".into(),
                hetzner_server_id: Some(40_004),
                tier: Medium,
                region: Us,
                account: "alice".into(),
                to_account: Some("globex".into()),
                actor: "ops".into(),
                outcome: "ok".into(),
                requested_at: None,
                origin: None,
            },
            prev_hash: "a".repeat(64),
            hash: "b".repeat(64),
        },
    ];
    let mut usage = Vec::new();
    for d in 0..7i64 {
        for v in vms.iter().take(4) {
            let secs = if d == 0 { 9 * 3600 } else { 86_400 };
            usage.push(UsageRecord {
                day: (now() - Duration::days(d)).date_naive(),
                vm_id: v.record.id,
                vm_name: v.record.name.clone(),
                account: v.record.account.clone(),
                tier: v.record.tier,
                region: v.record.region,
                billing_type: v.record.billing_type,
                seconds: secs,
                charge: Decimal::new(i64::from(secs) / 36, 4) * Decimal::new(3, 0),
                cost: Decimal::new(i64::from(secs) / 36, 4) * Decimal::new(2, 0),
                is_final: d > 0,
            });
        }
    }
    usage.sort_by_key(|u| u.day);
    Snapshot {
        vms: vms.into(),
        accounts: accounts.into(),
        vault: vec![k1, k2, k3, k4].into(),
        audit: audit.into(),
        audit_verified: Some(true),
        audit_status: None,
        usage: usage.into(),
        usage_currency: "EUR".into(),
        hetzner_prices: crabglamp::demo::rates().hetzner.into(),
        stale: false,
        prebuilt: None,
    }
}

/// A demo-mode model at [`now`] with [`snapshot`] loaded, synced 12 s ago, budget 3580/3600.
pub fn model_with(snap: Snapshot, no_color: bool) -> Model {
    let mut m = Model::new(Mode::Demo, false, no_color, "ops", now());
    let effects = update(&mut m, Msg::Worker(WorkerEvent::Snapshot(Box::new(snap))));
    answer_usage(&mut m, effects);
    update(
        &mut m,
        Msg::Worker(WorkerEvent::SyncOk {
            at: now() - Duration::seconds(12),
        }),
    );
    update(
        &mut m,
        Msg::Worker(WorkerEvent::Budget(Budget {
            limit: 3600,
            remaining: 3580,
            reset: now() + Duration::minutes(5),
        })),
    );
    m
}

/// Plays the worker's part for the Usage pane: answers each [`Effect::UsageQuery`] among
/// `effects` whose period lies in the snapshot's window with what the worker computes
/// (`crabglamp::view::usage::from_snapshot`, over `m.snapshot`) and feeds the answer back
/// through `update`, until no such query is left. Returns every other effect, in order
/// (queries that need the store included: the test answers those itself).
pub fn answer_usage(m: &mut Model, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    let mut queue: std::collections::VecDeque<Effect> = effects.into();
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::UsageQuery(q) if !crabglamp::view::usage::needs_store(&q) => {
                let view = crabglamp::view::usage::from_snapshot(&q, &m.snapshot);
                queue.extend(update(m, Msg::Worker(WorkerEvent::Usage(Box::new(view)))));
            }
            other => rest.push(other),
        }
    }
    rest
}

pub fn model() -> Model {
    model_with(snapshot(), false)
}

/// The demo data (`crabglamp::demo::snapshot`) at [`now`], as the dashboard shows it.
pub fn demo_model() -> Model {
    model_with(crabglamp::demo::snapshot(now()), false)
}
