//! The worker against the fake Hetzner API (`sim`) on 127.0.0.1, with a temporary store:
//! reconciliation, adoption, the OFFLINE path and recovery, read-only refusals, refresh
//! coalescing and start-up with a slow API.

mod common;

use chrono::{TimeZone, Utc};
use common::harness::{
    Harness, Options, add_org, client, is_sync_ok, label_map, spawn, start_sim_at,
};
use crabglamp::domain::{
    AccountKind, BillingPeriod, BillingType, ImageKey, OwnershipPeriod, Region, Tier, VmRecord,
    VmStatus, labels,
};
use crabglamp::protocol::{Effect, Snapshot, VmRow, WorkerEvent};
use crabglamp::sim::{Faults, ServerSeed};
use crabglamp::worker;
use std::time::Duration;
use uuid::Uuid;

const VM_A: &str = "0a000000-0000-4000-8000-00000000000a";
const VM_B: &str = "0b000000-0000-4000-8000-00000000000b";
const VM_C: &str = "0c000000-0000-4000-8000-00000000000c";
const VM_D: &str = "0d000000-0000-4000-8000-00000000000d";
const VM_E: &str = "0e000000-0000-4000-8000-00000000000e";

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn record(id: &str, name: &str, server_id: Option<i64>, status: VmStatus) -> VmRecord {
    let created = Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap();
    VmRecord {
        id: uuid(id),
        name: name.into(),
        account: "acme".into(),
        tier: Tier::Medium,
        region: Region::Eu,
        image: ImageKey::Debian12,
        billing_type: BillingType::Metered,
        status,
        created_at: created,
        provisioned_at: Some(created),
        destroyed_at: None,
        hetzner_server_id: server_id,
        hetzner_firewall_id: None,
        server_type: "cpx32".into(),
        ipv4: None,
        ipv6: None,
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

fn server_seed(name: &str, status: &str, labels: &[(&str, &str)]) -> ServerSeed {
    ServerSeed {
        name: name.into(),
        server_type: "cpx32".into(),
        location: "hel1".into(),
        image: "debian-12".into(),
        labels: label_map(labels),
        created: Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap(),
        status: status.into(),
        firewall_ids: vec![],
    }
}

fn full_labels<'a>(vm: &'a str, account: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        (labels::VM_ID, vm),
        (labels::ACCOUNT, account),
        (labels::TIER, "large"),
        (labels::REGION, "eu"),
        (labels::IMAGE, "ubuntu-24.04"),
        (labels::BILLING_TYPE, "subscription"),
    ]
}

fn last_snapshot(events: &[WorkerEvent]) -> Option<Snapshot> {
    events.iter().rev().find_map(|e| match e {
        WorkerEvent::Snapshot(s) => Some((**s).clone()),
        _ => None,
    })
}

fn row<'a>(s: &'a Snapshot, id: &str) -> &'a VmRow {
    s.vms
        .iter()
        .find(|r| r.record.id == uuid(id))
        .unwrap_or_else(|| panic!("row {id} in snapshot"))
}

#[tokio::test]
async fn reconciles_vanished_unmanaged_adopted_and_status_updates() {
    let (sim, store, _dir) = Harness::new(Options::default()).await.into_parts();
    add_org(&store, "acme");
    let a_id = sim.add_server(server_seed("vm-a", "off", &[(labels::VM_ID, VM_A)]));
    store
        .put_vm(&record(VM_A, "vm-a", None, VmStatus::Running))
        .unwrap();
    // B's server is gone (never existed in this sim); C was destroyed earlier.
    store
        .put_vm(&record(VM_B, "vm-b", Some(999_999), VmStatus::Running))
        .unwrap();
    let mut c = record(VM_C, "vm-c", Some(888_888), VmStatus::Deleted);
    c.destroyed_at = Some(Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap());
    store.put_vm(&c).unwrap();
    // D: unknown to the store, complete labels, account not yet in the store → adopted.
    let d_id = sim.add_server(server_seed("vm-d", "running", &full_labels(VM_D, "newco")));
    // E: unknown, labels incomplete → shown unmanaged, not adopted.
    sim.add_server(server_seed(
        "vm-e",
        "running",
        &[(labels::VM_ID, VM_E), (labels::ACCOUNT, "acme")],
    ));
    // Not labelled: not ours, not listed.
    sim.add_server(server_seed("other", "running", &[("env", "prod")]));

    let api = client(&sim);
    let expected_a = api.get_server(a_id).await.unwrap();
    let mut h = spawn(&sim, &store, &Options::default());
    let events = h.first_sync().await;
    let snap = last_snapshot(&events).unwrap();
    assert!(!snap.stale);
    assert_eq!(snap.vms.len(), 5);

    let a = row(&snap, VM_A);
    assert!(a.managed);
    assert_eq!(a.record.status, VmStatus::Stopped);
    assert_eq!(a.hetzner_status.as_deref(), Some("off"));
    assert_eq!(a.record.hetzner_server_id, Some(a_id));
    assert_eq!(a.record.ipv4.as_deref(), expected_a.ipv4());
    assert!(a.record.ipv4.is_some());
    assert_eq!(a.record.ipv6.as_deref(), expected_a.ipv6_network());
    assert_eq!(a.location.as_deref(), Some("hel1"));
    assert_eq!(a.cores, Some(expected_a.server_type.cores));

    assert_eq!(row(&snap, VM_B).record.status, VmStatus::Vanished);
    assert_eq!(row(&snap, VM_C).record.status, VmStatus::Deleted);

    let d = row(&snap, VM_D);
    assert!(d.managed);
    assert_eq!(
        (d.record.account.as_str(), d.record.tier, d.record.image),
        ("newco", Tier::Large, ImageKey::Ubuntu2404)
    );
    assert_eq!(d.record.billing_type, BillingType::Subscription);
    assert_eq!(d.record.hetzner_server_id, Some(d_id));

    let e = row(&snap, VM_E);
    assert!(!e.managed);
    assert_eq!(e.record.account, "acme");
    assert_eq!(e.hetzner_status.as_deref(), Some("running"));

    // The store holds the reconciled records, the adopted one and its account.
    assert_eq!(
        store.vm(uuid(VM_B)).unwrap().unwrap().status,
        VmStatus::Vanished
    );
    assert_eq!(
        store.vm(uuid(VM_C)).unwrap().unwrap().status,
        VmStatus::Deleted
    );
    assert_eq!(store.vm(uuid(VM_D)).unwrap().unwrap().account, "newco");
    assert!(store.vm(uuid(VM_E)).unwrap().is_none());
    assert!(store.account("newco").unwrap().is_some());
    assert!(
        store
            .meta_get(worker::LAST_SYNC_META_KEY)
            .unwrap()
            .is_some()
    );

    // Hetzner changes the status: the next sync follows.
    sim.patch_server(a_id, serde_json::json!({"status": "running"}));
    h.send(Effect::Refresh);
    let events = h.until(is_sync_ok).await;
    let snap = last_snapshot(&events).unwrap();
    assert_eq!(row(&snap, VM_A).record.status, VmStatus::Running);

    // The server of A is deleted at Hetzner: A becomes vanished, not dropped.
    let action = api.delete_server(a_id).await.unwrap();
    api.wait_for_action(action.id).await.unwrap();
    h.send(Effect::Refresh);
    let events = h.until(is_sync_ok).await;
    let snap = last_snapshot(&events).unwrap();
    let a = row(&snap, VM_A);
    assert_eq!(a.record.status, VmStatus::Vanished);
    assert_eq!(a.hetzner_status, None);
    assert_eq!(
        store.vm(uuid(VM_A)).unwrap().unwrap().status,
        VmStatus::Vanished
    );

    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn offline_keeps_last_data_and_recovers_on_a_restarted_api() {
    let (sim, store, _dir) = Harness::new(Options::default()).await.into_parts();
    let addr = sim.addr();
    add_org(&store, "acme");
    store
        .put_vm(&record(VM_A, "vm-a", None, VmStatus::Provisioning))
        .unwrap();
    sim.add_server(server_seed("vm-a", "running", &[(labels::VM_ID, VM_A)]));
    let mut h = spawn(&sim, &store, &Options::default());
    let events = h.first_sync().await;
    let before = last_snapshot(&events).unwrap();
    assert_eq!(
        row(&before, VM_A).hetzner_status.as_deref(),
        Some("running")
    );

    // The API goes away.
    sim.shutdown().await;
    h.send(Effect::Refresh);
    let events = h
        .until(|e| matches!(e, WorkerEvent::SyncFailed { .. }))
        .await;
    match events.last() {
        Some(WorkerEvent::SyncFailed { offline, error }) => {
            assert!(*offline, "network failure is offline: {error}");
            assert!(!error.contains("sim-token"));
        }
        other => panic!("expected SyncFailed, got {other:?}"),
    }
    assert!(
        last_snapshot(&events).is_none(),
        "no snapshot replaces the data"
    );

    // The last data is kept: a store change while offline still shows Hetzner's view.
    h.send(Effect::AddAccount {
        slug: "while-offline".into(),
        kind: AccountKind::Personal,
    });
    let events = h.until(|e| matches!(e, WorkerEvent::Snapshot(_))).await;
    let kept = last_snapshot(&events).unwrap();
    assert_eq!(row(&kept, VM_A).hetzner_status.as_deref(), Some("running"));
    assert_eq!(row(&kept, VM_A).record.status, VmStatus::Running);
    assert!(kept.accounts.iter().any(|a| a.slug == "while-offline"));

    // The API comes back on the same port: the worker's backoff retry recovers by itself.
    let sim = start_sim_at(addr, Options::default().sim_config()).await;
    sim.add_server(server_seed("vm-a", "off", &[(labels::VM_ID, VM_A)]));
    let events = h.until(is_sync_ok).await;
    let after = last_snapshot(&events).unwrap();
    assert_eq!(row(&after, VM_A).record.status, VmStatus::Stopped);

    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn read_only_refuses_add_account_and_bad_slugs_are_refused_by_field() {
    let (sim, store, _dir) = Harness::new(Options::default()).await.into_parts();
    let read_only = Options {
        read_only: true,
        ..Options::default()
    };
    let mut h = spawn(&sim, &store, &read_only);
    h.send(Effect::AddAccount {
        slug: "acme".into(),
        kind: AccountKind::Organization,
    });
    let events = h.until(|e| matches!(e, WorkerEvent::Refused { .. })).await;
    match events.last() {
        Some(WorkerEvent::Refused { reason }) => {
            assert_eq!(
                reason,
                "read-only mode: adding account 'acme' is not allowed"
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(store.accounts().unwrap().is_empty());
    h.shutdown().await;

    let mut h = spawn(&sim, &store, &Options::default());
    h.send(Effect::AddAccount {
        slug: "bad_Slug".into(),
        kind: AccountKind::Organization,
    });
    let events = h.until(|e| matches!(e, WorkerEvent::Refused { .. })).await;
    match events.last() {
        Some(WorkerEvent::Refused { reason }) => {
            assert_eq!(
                reason,
                "cannot add account 'bad_Slug': account slug: '_' not allowed (lowercase letters, digits, hyphens only)"
            );
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(store.accounts().unwrap().is_empty());
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn refreshes_during_a_sync_coalesce_into_one() {
    let (t, mut h) = Harness::start(Options::default()).await;
    let (sim, _store, _dir) = t.into_parts();
    h.first_sync().await;
    sim.reset_counters();
    sim.set_faults(Faults {
        latency: Some(Duration::from_millis(500)),
        ..Faults::default()
    });
    for _ in 0..6 {
        h.send(Effect::Refresh);
    }
    let mut events = h.until(is_sync_ok).await;
    events.extend(h.until(is_sync_ok).await);
    // Barrier: a third sync would start before this effect is handled.
    h.send(Effect::AddAccount {
        slug: "barrier".into(),
        kind: AccountKind::Personal,
    });
    events.extend(h.until(|e| matches!(e, WorkerEvent::Info(_))).await);
    let started = events
        .iter()
        .filter(|e| matches!(e, WorkerEvent::SyncStarted))
        .count();
    assert_eq!(started, 2);
    let counts = sim.request_counts();
    assert_eq!(counts.get("GET /servers"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("GET /firewalls"), Some(&2), "{counts:?}");
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_api_still_gets_the_stale_snapshot_first() {
    let (sim, store, _dir) = Harness::new(Options::default()).await.into_parts();
    sim.set_faults(Faults {
        latency: Some(Duration::from_secs(2)),
        ..Faults::default()
    });
    add_org(&store, "acme");
    store
        .put_vm(&record(VM_A, "vm-a", Some(1), VmStatus::Running))
        .unwrap();
    let mut h = spawn(&sim, &store, &Options::default());
    let events = h
        .until(|e| {
            matches!(
                e,
                WorkerEvent::SyncOk { .. } | WorkerEvent::SyncFailed { .. }
            )
        })
        .await;
    match events.first() {
        Some(WorkerEvent::Snapshot(s)) => {
            assert!(s.stale);
            assert_eq!(s.vms.len(), 1);
            assert_eq!(s.vms[0].record.status, VmStatus::Running);
            assert_eq!(s.accounts.len(), 1);
        }
        other => panic!("first event should be the stale snapshot, got {other:?}"),
    }
    assert!(is_sync_ok(events.last().unwrap()));
    let fresh = last_snapshot(&events).unwrap();
    assert!(!fresh.stale);
    // Server 1 is not in this sim: the record is now vanished.
    assert_eq!(fresh.vms[0].record.status, VmStatus::Vanished);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn budget_is_reported_and_an_empty_budget_holds_syncs_until_reset() {
    // A bucket of 4 requests that practically never refills: two syncs use it up.
    let (t, mut h) = Harness::start(Options {
        rate_limit: 4,
        refill_per_second: 0.0001,
        ..Options::default()
    })
    .await;
    let (sim, _store, _dir) = t.into_parts();
    let events = h.first_sync().await;
    let budgets: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Budget(b) => Some((b.limit, b.remaining)),
            _ => None,
        })
        .collect();
    assert_eq!(budgets, vec![(4, 2)]);

    h.send(Effect::Refresh);
    let events = h.until(is_sync_ok).await;
    let budget = events.iter().find_map(|e| match e {
        WorkerEvent::Budget(b) => Some(*b),
        _ => None,
    });
    let budget = budget.expect("a budget event after the second sync");
    assert_eq!((budget.limit, budget.remaining), (4, 0));
    assert!(budget.reset > Utc::now());

    // Empty: a refresh is not sent to the API; the operator is told why.
    sim.reset_counters();
    h.send(Effect::Refresh);
    let events = h.until(|e| matches!(e, WorkerEvent::Info(_))).await;
    match events.last() {
        Some(WorkerEvent::Info(text)) => {
            assert!(
                text.starts_with("API budget used up; next sync in "),
                "{text}"
            )
        }
        other => panic!("expected Info, got {other:?}"),
    }
    assert!(!events.iter().any(|e| matches!(e, WorkerEvent::SyncStarted)));
    assert_eq!(sim.request_count(), 0);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_destroy_cut_off_before_recording_gets_its_audit_event_at_the_next_sync() {
    let (sim, store, _dir) = Harness::new(Options::default()).await.into_parts();
    add_org(&store, "acme");
    // The console quit while destroying B; Hetzner finished deleting its server meanwhile.
    store
        .put_vm(&record(VM_B, "vm-b", Some(999_999), VmStatus::Destroying))
        .unwrap();
    // A plain vanished VM (not being destroyed) gets no audit event.
    store
        .put_vm(&record(VM_A, "vm-a", Some(777_777), VmStatus::Running))
        .unwrap();
    let mut h = spawn(&sim, &store, &Options::default());
    h.first_sync().await;
    let b = store.vm(uuid(VM_B)).unwrap().unwrap();
    assert_eq!(b.status, VmStatus::Deleted);
    assert!(b.destroyed_at.is_some());
    assert_eq!(
        store.vm(uuid(VM_A)).unwrap().unwrap().status,
        VmStatus::Vanished
    );
    let events = store.audit_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].vm_id, uuid(VM_B));
    assert_eq!(events[0].kind, crabglamp::domain::AuditKind::Destroy);
    assert_eq!(events[0].vm_name, "vm-b");
    assert_eq!(events[0].hetzner_server_id, Some(999_999));
    assert_eq!(events[0].account, "acme");
    assert_eq!(events[0].actor, "test");
    assert!(
        events[0]
            .outcome
            .starts_with("ok: the server was found gone at a sync"),
        "{}",
        events[0].outcome
    );
    assert_eq!(store.verify_audit(), Ok(1));
    // Deleted is final: later syncs add nothing.
    h.send(Effect::Refresh);
    h.until(is_sync_ok).await;
    assert_eq!(store.audit_events().unwrap().len(), 1);
    h.shutdown().await;
    sim.shutdown().await;
}
