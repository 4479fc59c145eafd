//! Store integration tests: durability across reopen, the single-opener lock, schema version,
//! idempotent usage, audit append and verify.

use chrono::{NaiveDate, TimeZone, Utc};
use crabglamp::domain::{
    Account, AccountKind, AuditKind, BillingPeriod, BillingType, ImageKey, OwnershipPeriod, Region,
    Tier, UsageRecord, VaultEntry, VmRecord, VmStatus,
};
use crabglamp::store::{AuditDraft, Store, StoreError};
use rust_decimal::Decimal;
use std::str::FromStr;
use uuid::Uuid;

fn account(slug: &str, kind: AccountKind) -> Account {
    Account {
        slug: slug.into(),
        kind,
        created_at: Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap(),
    }
}

fn vm(n: u128, name: &str, status: VmStatus) -> VmRecord {
    let created =
        Utc.with_ymd_and_hms(2026, 10, 1, 10, 30, 0).unwrap() + chrono::Duration::days(n as i64);
    VmRecord {
        id: Uuid::from_u128(n),
        name: name.into(),
        account: "acme".into(),
        tier: Tier::Small,
        region: Region::Eu,
        image: ImageKey::Debian13,
        billing_type: BillingType::Metered,
        status,
        created_at: created,
        provisioned_at: Some(created + chrono::Duration::seconds(62)),
        destroyed_at: None,
        hetzner_server_id: Some(1000 + n as i64),
        hetzner_firewall_id: Some(2000 + n as i64),
        server_type: "cpx22".into(),
        ipv4: Some("203.0.113.7".into()),
        ipv6: Some("2001:db8:1::/64".into()),
        keys: vec![],
        ownership: vec![OwnershipPeriod {
            from: created,
            account: "acme".into(),
        }],
        billing: vec![BillingPeriod {
            from: created,
            billing_type: BillingType::Metered,
        }],
        failure: None,
    }
}

fn usage(day: NaiveDate, seconds: u32, charge: &str) -> UsageRecord {
    UsageRecord {
        day,
        vm_id: Uuid::from_u128(1),
        vm_name: "web-1".into(),
        account: "acme".into(),
        tier: Tier::Small,
        region: Region::Eu,
        billing_type: BillingType::Metered,
        seconds,
        charge: Decimal::from_str(charge).unwrap(),
        cost: Decimal::from_str("0.01").unwrap(),
        is_final: seconds == 86_400,
    }
}

fn draft(n: u32, kind: AuditKind) -> AuditDraft {
    AuditDraft {
        at: Utc.with_ymd_and_hms(2026, 11, n, 9, 15, 0).unwrap(),
        kind,
        vm_id: Uuid::from_u128(n as u128),
        vm_name: format!("web-{n}"),
        hetzner_server_id: Some(1000 + n as i64),
        tier: Tier::Small,
        region: Region::Eu,
        account: "acme".into(),
        to_account: (kind == AuditKind::Transfer).then(|| "globex".into()),
        actor: "ops".into(),
        outcome: "ok".into(),
        requested_at: None,
        origin: None,
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let key = VaultEntry {
        id: Uuid::from_u128(77),
        account: "acme".into(),
        label: "laptop 🦀".into(),
        key_type: "ssh-ed25519".into(),
        fingerprint_sha256: "SHA256:abc".into(),
        public_key: "ssh-ed25519 AAAA laptop".into(),
        created_at: Utc.with_ymd_and_hms(2026, 10, 2, 0, 0, 0).unwrap(),
        deleted_at: None,
    };
    let first_event;
    {
        let store = Store::open(&path).unwrap();
        store
            .add_account(&account("acme", AccountKind::Organization))
            .unwrap();
        store.put_vm(&vm(1, "web-1", VmStatus::Running)).unwrap();
        store.put_vault_entry(&key).unwrap();
        first_event = store.append_audit(draft(3, AuditKind::Destroy)).unwrap();
        store
            .put_usage(&usage(day(2026, 11, 1), 86_400, "0.24"))
            .unwrap();
        store
            .meta_set("sync.last_ok", "2026-11-30T08:00:00Z")
            .unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.accounts().unwrap(),
        vec![account("acme", AccountKind::Organization)]
    );
    assert_eq!(
        store.vms().unwrap(),
        vec![vm(1, "web-1", VmStatus::Running)]
    );
    assert_eq!(store.vault(Some("acme")).unwrap(), vec![key.clone()]);
    assert_eq!(store.vault_entry(key.id).unwrap(), Some(key));
    assert_eq!(store.audit_events().unwrap(), vec![first_event]);
    assert_eq!(store.verify_audit(), Ok(1));
    assert_eq!(
        store.usage(day(2026, 11, 1), day(2026, 11, 1)).unwrap(),
        vec![usage(day(2026, 11, 1), 86_400, "0.24")]
    );
    assert_eq!(
        store.meta_get("sync.last_ok").unwrap().as_deref(),
        Some("2026-11-30T08:00:00Z")
    );
    assert_eq!(
        store.meta_get("schema_version").unwrap().as_deref(),
        Some("2")
    );
}

#[test]
fn second_opener_gets_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let first = Store::open(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err,
        StoreError::InUse {
            path: path.display().to_string()
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "database {} is in use by another running crabglamp console or service",
            path.display()
        )
    );
    drop(first);
    // Once the first is closed, the database opens again.
    assert!(Store::open(&path).is_ok());
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    {
        let store = Store::open(&path).unwrap();
        store.meta_set("schema_version", "99").unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert_eq!(
        err,
        StoreError::NewerSchema {
            found: 99,
            supported: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "database schema version 99 is newer than this console supports (2); upgrade crabglamp"
    );
}

#[test]
fn usage_put_twice_replaces_and_ranges_in_day_order() {
    let store = Store::open_temporary().unwrap();
    store
        .put_usage(&usage(day(2026, 11, 3), 3_600, "0.01"))
        .unwrap();
    store
        .put_usage(&usage(day(2026, 11, 1), 86_400, "0.24"))
        .unwrap();
    store
        .put_usage(&usage(day(2026, 11, 3), 7_200, "0.02"))
        .unwrap();
    store
        .put_usage(&usage(day(2026, 10, 31), 86_400, "0.24"))
        .unwrap();
    let mut other_billing = usage(day(2026, 11, 3), 100, "0.50");
    other_billing.billing_type = BillingType::Subscription;
    store.put_usage(&other_billing).unwrap();

    let got = store.usage(day(2026, 11, 1), day(2026, 11, 3)).unwrap();
    let summary: Vec<(NaiveDate, BillingType, u32)> = got
        .iter()
        .map(|r| (r.day, r.billing_type, r.seconds))
        .collect();
    assert_eq!(
        summary,
        vec![
            (day(2026, 11, 1), BillingType::Metered, 86_400),
            (day(2026, 11, 3), BillingType::Metered, 7_200),
            (day(2026, 11, 3), BillingType::Subscription, 100),
        ]
    );
    assert_eq!(got[1].charge, Decimal::from_str("0.02").unwrap());
    assert_eq!(
        store
            .usage(day(2026, 10, 1), day(2026, 12, 31))
            .unwrap()
            .len(),
        4
    );
    assert!(
        store
            .usage(day(2026, 11, 4), day(2026, 11, 1))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.put_usage(&usage(day(2026, 11, 5), 90_000, "1")),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn audit_append_chains_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.verify_audit(), Ok(0));
        let a = store.append_audit(draft(1, AuditKind::Destroy)).unwrap();
        let b = store.append_audit(draft(2, AuditKind::Transfer)).unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(
            a.prev_hash,
            "0000000000000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.to_account.as_deref(), Some("globex"));
        assert_eq!(a.hash, crabglamp::domain::audit::compute_hash(&a));
    }
    // append_audit flushed: the events survive a reopen without an explicit flush.
    let store = Store::open(&path).unwrap();
    let c = store.append_audit(draft(3, AuditKind::Destroy)).unwrap();
    assert_eq!(c.seq, 3);
    assert_eq!(store.verify_audit(), Ok(3));
    let seqs: Vec<u64> = store
        .audit_events()
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn accounts_are_validated_and_unique() {
    let store = Store::open_temporary().unwrap();
    store
        .add_account(&account("alice", AccountKind::Personal))
        .unwrap();
    assert_eq!(
        store
            .add_account(&account("alice", AccountKind::Organization))
            .unwrap_err()
            .to_string(),
        "account 'alice' already exists"
    );
    assert_eq!(
        store
            .add_account(&account("Bad_Slug", AccountKind::Organization))
            .unwrap_err(),
        StoreError::Invalid(
            "account slug: 'B' not allowed (lowercase letters, digits, hyphens only)".into()
        )
    );
    assert_eq!(
        store.account("alice").unwrap().map(|a| a.kind),
        Some(AccountKind::Personal)
    );
    assert_eq!(store.account("bob").unwrap(), None);
}

#[test]
fn vm_by_name_prefers_the_live_one() {
    let store = Store::open_temporary().unwrap();
    let mut old = vm(1, "db", VmStatus::Deleted);
    old.destroyed_at = Some(old.created_at + chrono::Duration::days(2));
    store.put_vm(&old).unwrap();
    store.put_vm(&vm(2, "db", VmStatus::Stopped)).unwrap();
    store.put_vm(&vm(3, "web", VmStatus::Running)).unwrap();
    assert_eq!(
        store.vm_by_name("db").unwrap().map(|v| v.id),
        Some(Uuid::from_u128(2))
    );
    assert_eq!(store.vm_by_name("nope").unwrap(), None);
    assert_eq!(
        store.vm(Uuid::from_u128(3)).unwrap().map(|v| v.name),
        Some("web".into())
    );
    let names: Vec<String> = store.vms().unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, vec!["db", "db", "web"]);
    // put_vm replaces.
    let mut changed = vm(3, "web", VmStatus::Stopped);
    changed.billing_type = BillingType::Subscription;
    store.put_vm(&changed).unwrap();
    assert_eq!(store.vm(Uuid::from_u128(3)).unwrap(), Some(changed));
}

#[test]
fn a_schema_1_database_has_its_usage_records_moved_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let old = [
        usage(day(2026, 10, 31), 86_400, "0.24"),
        usage(day(2026, 11, 1), 3_600, "0.01"),
    ];
    {
        // What schema 1 wrote: one JSON value per record in tree `usage`.
        let db = sled::open(&path).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", "1")
            .unwrap();
        let tree = db.open_tree("usage").unwrap();
        for (i, r) in old.iter().enumerate() {
            tree.insert([i as u8], serde_json::to_vec(r).unwrap())
                .unwrap();
        }
        db.flush().unwrap();
    }
    for _ in 0..2 {
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.usage(day(2026, 10, 1), day(2026, 11, 30)).unwrap(),
            old.to_vec()
        );
        assert_eq!(
            store.meta_get("schema_version").unwrap().as_deref(),
            Some("2")
        );
    }
    let db = sled::open(&path).unwrap();
    assert!(!db.tree_names().iter().any(|n| n.as_ref() == b"usage"));
}

#[test]
fn replace_usage_spans_months_and_keeps_other_days_and_vms() {
    let store = Store::open_temporary().unwrap();
    let mut other_vm = usage(day(2026, 11, 2), 86_400, "0.24");
    other_vm.vm_id = Uuid::from_u128(2);
    other_vm.vm_name = "web-2".into();
    store
        .put_usage_records(&[
            usage(day(2026, 10, 29), 86_400, "0.24"),
            usage(day(2026, 10, 30), 86_400, "0.24"),
            usage(day(2026, 11, 2), 86_400, "0.24"),
            usage(day(2026, 11, 3), 86_400, "0.24"),
            other_vm.clone(),
        ])
        .unwrap();
    // Recompute 30 Oct – 2 Nov of VM 1: 31 Oct is new, 30 Oct and 2 Nov change, 1 Nov is empty.
    store
        .replace_usage(
            Uuid::from_u128(1),
            day(2026, 10, 30),
            day(2026, 11, 2),
            &[
                usage(day(2026, 10, 30), 43_200, "0.12"),
                usage(day(2026, 10, 31), 3_600, "0.01"),
                usage(day(2026, 11, 2), 7_200, "0.02"),
            ],
        )
        .unwrap();
    let got: Vec<(NaiveDate, u128, u32)> = store
        .usage(day(2026, 10, 1), day(2026, 11, 30))
        .unwrap()
        .iter()
        .map(|r| (r.day, r.vm_id.as_u128(), r.seconds))
        .collect();
    assert_eq!(
        got,
        vec![
            (day(2026, 10, 29), 1, 86_400),
            (day(2026, 10, 30), 1, 43_200),
            (day(2026, 10, 31), 1, 3_600),
            (day(2026, 11, 2), 1, 7_200),
            (day(2026, 11, 2), 2, 86_400),
            (day(2026, 11, 3), 1, 86_400),
        ]
    );
    // A record outside the days or of another VM is refused and nothing changes.
    let err = store
        .replace_usage(
            Uuid::from_u128(1),
            day(2026, 11, 3),
            day(2026, 11, 3),
            &[usage(day(2026, 11, 4), 60, "0.01")],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(
        store
            .usage(day(2026, 11, 3), day(2026, 11, 3))
            .unwrap()
            .len(),
        1
    );
    // Replacing with nothing removes the days (and the bundle when it empties).
    store
        .replace_usage(Uuid::from_u128(2), day(2026, 11, 1), day(2026, 11, 30), &[])
        .unwrap();
    assert_eq!(
        store
            .usage(day(2026, 11, 1), day(2026, 11, 30))
            .unwrap()
            .iter()
            .map(|r| r.vm_id.as_u128())
            .collect::<Vec<_>>(),
        vec![1, 1]
    );
}

proptest::proptest! {
    /// Whatever records go in come back out exactly: money to the last decimal place, names,
    /// days across month ends, and one record per (day, VM, account, billing type).
    #[test]
    fn usage_records_round_trip_exactly(
        rows in proptest::collection::vec(
            (0u32..70, 0u128..3, 0usize..3, proptest::bool::ANY, 0u32..=86_400,
             -10_000_000_000i64..10_000_000_000, 0u32..=16, 0i64..1_000_000, 0u32..=10),
            0..40,
        )
    ) {
        let store = Store::open_temporary().unwrap();
        let accounts = ["acme", "org-b", "personal-c"];
        let mut expected = std::collections::BTreeMap::new();
        for (d, vm, account, sub, seconds, charge, charge_dp, cost, cost_dp) in rows {
            let record = UsageRecord {
                day: day(2026, 10, 1) + chrono::Duration::days(i64::from(d)),
                vm_id: Uuid::from_u128(vm),
                vm_name: format!("vm-{vm}-{}", d % 2),
                account: accounts[account].into(),
                tier: Tier::Medium,
                region: Region::Us,
                billing_type: if sub { BillingType::Subscription } else { BillingType::Metered },
                seconds,
                charge: Decimal::new(charge, charge_dp),
                cost: Decimal::new(cost, cost_dp),
                is_final: d % 3 == 0,
            };
            store.put_usage(&record).unwrap();
            expected.insert(
                (record.day, record.vm_id, record.account.clone(), sub),
                record,
            );
        }
        let got = store.usage(day(2026, 10, 1), day(2026, 12, 31)).unwrap();
        let want: Vec<UsageRecord> = expected.into_values().collect();
        proptest::prop_assert_eq!(got, want);
    }
}

#[test]
fn an_audit_log_written_with_spelled_out_fields_reads_and_verifies() {
    // The JSON an audit event had before its facts became an embedded draft: every field at the
    // top level, in this order. The hash is the SHA-256 of the canonical encoding (unchanged).
    const HASH: &str = "24dcdea54a13094a9507ca35da11a777bd896daf192aa96a5c2894eaa716e28b";
    let json = format!(
        "{{\"seq\":1,\"id\":\"00000000-0000-0000-0000-000000000007\",\
         \"at\":\"2026-11-03T12:00:00Z\",\"kind\":\"transfer\",\
         \"vmId\":\"00000000-0000-0000-0000-000000000003\",\"vmName\":\"vm-3\",\
         \"hetznerServerId\":1003,\"tier\":\"small\",\"region\":\"eu\",\"account\":\"acme\",\
         \"toAccount\":\"globex\",\"actor\":\"alice\",\"outcome\":\"ok\",\
         \"prevHash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\
         \"hash\":\"{HASH}\"}}"
    );
    let event: crabglamp::domain::AuditEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(crabglamp::domain::audit::compute_hash(&event), HASH);
    assert_eq!(event.vm_name, "vm-3");
    assert_eq!(event.draft.to_account.as_deref(), Some("globex"));
    // Written back, the JSON is byte-identical.
    assert_eq!(serde_json::to_string(&event).unwrap(), json);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", "2").unwrap();
        meta.insert("audit.last_seq", "1").unwrap();
        db.open_tree("audit")
            .unwrap()
            .insert(1u64.to_be_bytes(), json.as_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.verify_audit(), Ok(1));
    assert_eq!(store.audit_events().unwrap(), vec![event.clone()]);
    // Appending chains onto the old event.
    let next = store.append_audit(draft(4, AuditKind::Destroy)).unwrap();
    assert_eq!((next.seq, next.prev_hash.as_str()), (2, HASH));
    assert_eq!(store.verify_audit(), Ok(2));
}
