//! Lifecycle operations (issue 4) through the worker against the fake Hetzner API on
//! 127.0.0.1: provision → running (server, user_data, labels, firewall read back), destroy
//! (server and firewall gone, audit event, chain verified), transfer (personal refused, org
//! done), billing and power, failures injected mid-provision leaving nothing behind, field
//! refusals before any API call, and read-only refusals.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::harness::{
    Harness, Options, Worker, all_bytes, client, contains, is_final, keys_of, provision_request,
};
use crabglamp::domain::{AuditKind, BillingType, VmRecord, VmStatus, labels};
use crabglamp::hetzner::ListParams;
use crabglamp::protocol::{Effect, PowerAction, ProvisionRequest, ProvisionResult, WorkerEvent};
use crabglamp::sim::{self, SimHandle};
use crabglamp::store::Store;
use uuid::Uuid;

/// The demo accounts (acme, globex, initech: organizations; alice: personal) and their Vault
/// keys in a store on disk; 100 ms actions, at most 100 servers; the operator from an SSH
/// address.
fn opts() -> Options {
    Options {
        max_servers: 100,
        demo_accounts: true,
        actor: "tester from 192.0.2.9",
        ..Options::default()
    }
}

fn request(name: &str, account: &str, key_ids: Vec<Uuid>, otp: bool) -> ProvisionRequest {
    ProvisionRequest {
        one_time_password: otp,
        ..provision_request(name, account, key_ids)
    }
}

async fn provision_ok(
    h: &mut Worker,
    req: ProvisionRequest,
) -> (ProvisionResult, Vec<WorkerEvent>) {
    h.send(Effect::Provision(req));
    let events = h.until(is_final).await;
    match events.last() {
        Some(WorkerEvent::Provisioned(r)) => ((**r).clone(), events),
        other => panic!("expected Provisioned, got {other:?}"),
    }
}

async fn run(h: &mut Worker, effect: Effect) -> WorkerEvent {
    h.send(effect);
    h.until(is_final).await.pop().unwrap()
}

fn vm(store: &Store, id: Uuid) -> VmRecord {
    store.vm(id).unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_reaches_running_with_server_firewall_labels_and_user_data() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, tmp) = t.into_parts();
    let keys = keys_of(&store, "acme");
    let key_ids: Vec<Uuid> = keys.iter().take(2).map(|k| k.id).collect();

    let (result, events) =
        provision_ok(&mut h, request("web-7", "acme", key_ids.clone(), true)).await;

    // The VM showed `provisioning` at once, and progress was reported with its id.
    let first_snapshot_with_vm = events.iter().find_map(|e| match e {
        WorkerEvent::Snapshot(s) => s.vms.iter().find(|r| r.record.name == "web-7").cloned(),
        _ => None,
    });
    assert_eq!(
        first_snapshot_with_vm.map(|r| r.record.status),
        Some(VmStatus::Provisioning)
    );
    let percents: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Progress { vm_id, percent, .. } if *vm_id == result.vm_id => {
                Some(*percent)
            }
            _ => None,
        })
        .collect();
    assert_eq!(percents.first(), Some(&0));
    assert_eq!(percents.last(), Some(&100));
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");

    // The record.
    let rec = vm(&store, result.vm_id);
    assert_eq!(rec.status, VmStatus::Running);
    assert!(rec.provisioned_at.is_some());
    assert_eq!(rec.server_type, "cpx22");
    assert_eq!(rec.keys.len(), 2);
    assert_eq!(rec.ownership.len(), 1);
    assert_eq!(rec.billing[0].billing_type, BillingType::Subscription);
    let server_id = rec.hetzner_server_id.unwrap();
    let fw_id = rec.hetzner_firewall_id.unwrap();

    // The result (create-success view).
    assert_eq!(result.name, "web-7");
    assert_eq!(result.default_user, "debian");
    assert_eq!(result.ipv4, rec.ipv4);
    assert_eq!(result.ipv6, rec.ipv6);
    assert_eq!(
        result.ssh_command,
        format!("ssh debian@{}", rec.ipv4.clone().unwrap())
    );
    assert_eq!(
        result.key_fingerprints,
        keys.iter()
            .take(2)
            .map(|k| k.fingerprint_sha256.clone())
            .collect::<Vec<_>>()
    );
    let password = result.one_time_password.clone().unwrap();
    assert_eq!(password.expose().len(), 20);
    assert!(!format!("{result:?}").contains(password.expose()));

    // What Hetzner holds, read back through the client.
    let c = client(&sim);
    let server = c.get_server(server_id).await.unwrap();
    assert_eq!(server.status.as_str(), "running");
    assert_eq!(server.name, "web-7");
    assert_eq!(server.location_name(), Some("hel1"));
    assert_eq!(server.server_type.name, "cpx22");
    let expected_labels: BTreeMap<String, String> = [
        (labels::VM_ID, rec.id.to_string()),
        (labels::ACCOUNT, "acme".to_string()),
        (labels::TIER, "small".to_string()),
        (labels::REGION, "eu".to_string()),
        (labels::IMAGE, "debian-12".to_string()),
        (labels::BILLING_TYPE, "subscription".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(server.labels, expected_labels);
    assert_eq!(
        server
            .public_net
            .firewalls
            .iter()
            .map(|f| f.id)
            .collect::<Vec<_>>(),
        vec![fw_id]
    );
    let user_data = sim.server_user_data(server_id).unwrap();
    assert!(user_data.starts_with("#cloud-config"), "{user_data}");
    assert!(user_data.contains("web-7"));
    for k in keys.iter().take(2) {
        let body = k.public_key.split_whitespace().nth(1).unwrap();
        assert!(user_data.contains(body), "key {} in user_data", k.label);
    }
    assert!(
        user_data.contains(password.expose()),
        "password sent in user_data"
    );
    assert!(sim.server_ssh_keys(server_id).is_empty());

    let fw = c.get_firewall(fw_id).await.unwrap();
    assert_eq!(fw.labels.get(labels::VM_ID), Some(&rec.id.to_string()));
    assert_eq!(
        fw.labels.get(labels::ACCOUNT).map(String::as_str),
        Some("acme")
    );
    assert_eq!(fw.rules.len(), 1);
    let rule = serde_json::to_value(&fw.rules[0]).unwrap();
    assert_eq!(rule["direction"], "in");
    assert_eq!(rule["protocol"], "tcp");
    assert_eq!(rule["port"], "22");
    assert_eq!(rule["source_ips"], serde_json::json!(["0.0.0.0/0", "::/0"]));
    assert_eq!(fw.server_ids(), vec![server_id]);

    // The one-time password never reaches the store.
    h.shutdown().await;
    store.flush().unwrap();
    drop(store);
    assert!(!contains(&all_bytes(tmp.path()), password.expose()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_are_refused_by_name_before_any_api_call() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, _dir) = t.into_parts();
    let acme = keys_of(&store, "acme")[0].id;
    let globex = keys_of(&store, "globex")[0].id;
    let deleted = store
        .vault(None)
        .unwrap()
        .into_iter()
        .find(|k| k.deleted_at.is_some())
        .map(|k| (k.id, k.account));
    h.first_sync().await;
    sim.reset_counters();

    let mut cases = vec![
        (request("Web_1", "acme", vec![acme], false), "name:"),
        (
            request("web-1", "nobody", vec![acme], false),
            "account: 'nobody'",
        ),
        (request("web-1", "acme", vec![], false), "keys:"),
        (
            request("web-1", "acme", vec![globex], false),
            "belongs to account 'globex'",
        ),
        (
            request("web-1", "acme", vec![Uuid::nil()], false),
            "does not exist",
        ),
    ];
    if let Some((id, account)) = deleted {
        cases.push((request("web-1", &account, vec![id], false), "was deleted"));
    }
    for (req, needle) in cases {
        match run(&mut h, Effect::Provision(req.clone())).await {
            WorkerEvent::Refused { reason } => {
                assert!(
                    reason.contains(needle),
                    "{needle:?} in {reason:?} for {req:?}"
                )
            }
            other => panic!("expected Refused for {req:?}, got {other:?}"),
        }
    }
    let counts = sim.request_counts();
    assert_eq!(counts.get("POST /servers"), None, "{counts:?}");
    assert_eq!(counts.get("POST /firewalls"), None, "{counts:?}");
    assert!(store.vms().unwrap().is_empty());

    // A name already used by a live VM, then by a Hetzner server unknown to the store.
    provision_ok(&mut h, request("web-1", "acme", vec![acme], false)).await;
    match run(
        &mut h,
        Effect::Provision(request("web-1", "acme", vec![acme], false)),
    )
    .await
    {
        WorkerEvent::Refused { reason } => {
            assert_eq!(reason, "name: web-1 is already used in this project")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    sim.add_server(sim::ServerSeed {
        name: "outside".into(),
        ..sim::ServerSeed::default()
    });
    match run(
        &mut h,
        Effect::Provision(request("outside", "acme", vec![acme], false)),
    )
    .await
    {
        WorkerEvent::Refused { reason } => assert!(
            reason.starts_with("name: outside is already used by a Hetzner server"),
            "{reason}"
        ),
        other => panic!("expected Refused, got {other:?}"),
    }
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_removes_server_and_firewall_and_records_a_verified_event() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "globex")[0].id;
    let (result, _) = provision_ok(&mut h, request("db-1", "globex", vec![key], false)).await;
    let before = vm(&store, result.vm_id);
    let (server_id, fw_id) = (
        before.hetzner_server_id.unwrap(),
        before.hetzner_firewall_id.unwrap(),
    );

    let done = run(
        &mut h,
        Effect::Destroy {
            vm_id: result.vm_id,
        },
    )
    .await;
    match &done {
        WorkerEvent::OperationDone { vm_id, what, .. } => {
            assert_eq!(*vm_id, result.vm_id);
            assert_eq!(what, "db-1 destroyed; audit event 1 recorded");
        }
        other => panic!("expected OperationDone, got {other:?}"),
    }
    let c = client(&sim);
    assert!(c.get_server(server_id).await.unwrap_err().is_not_found());
    assert!(c.get_firewall(fw_id).await.unwrap_err().is_not_found());
    let after = vm(&store, result.vm_id);
    assert_eq!(after.status, VmStatus::Deleted);
    assert!(after.destroyed_at.is_some());
    let events = store.audit_events().unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, AuditKind::Destroy);
    assert_eq!(e.vm_id, result.vm_id);
    assert_eq!(e.vm_name, "db-1");
    assert_eq!(e.hetzner_server_id, Some(server_id));
    assert_eq!(e.account, "globex");
    assert_eq!(e.to_account, None);
    assert_eq!(e.actor, "tester from 192.0.2.9");
    assert_eq!(e.outcome, "ok");
    assert_eq!(store.verify_audit(), Ok(1));

    // Deleted is final: a second destroy and a power action are refused.
    match run(
        &mut h,
        Effect::Destroy {
            vm_id: result.vm_id,
        },
    )
    .await
    {
        WorkerEvent::Refused { reason } => assert!(reason.contains("already deleted"), "{reason}"),
        other => panic!("expected Refused, got {other:?}"),
    }
    match run(
        &mut h,
        Effect::Power {
            vm_id: result.vm_id,
            action: PowerAction::Start,
        },
    )
    .await
    {
        WorkerEvent::Refused { reason } => assert!(reason.contains("it is deleted"), "{reason}"),
        other => panic!("expected Refused, got {other:?}"),
    }
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_to_personal_is_refused_and_to_an_org_relabels_and_meters() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    let (result, _) = provision_ok(&mut h, request("app-1", "acme", vec![key], false)).await;
    let id = result.vm_id;

    match run(
        &mut h,
        Effect::Transfer {
            vm_id: id,
            to: "alice".into(),
        },
    )
    .await
    {
        WorkerEvent::Refused { reason } => assert!(
            reason.starts_with("to: 'alice' is a personal account"),
            "{reason}"
        ),
        other => panic!("expected Refused, got {other:?}"),
    }
    assert_eq!(vm(&store, id).account, "acme");
    assert!(store.audit_events().unwrap().is_empty());

    match run(
        &mut h,
        Effect::Transfer {
            vm_id: id,
            to: "globex".into(),
        },
    )
    .await
    {
        WorkerEvent::OperationDone { what, warning, .. } => {
            assert!(
                what.starts_with("app-1 transferred from 'acme' to 'globex'"),
                "{what}"
            );
            assert!(
                warning
                    .as_deref()
                    .unwrap_or("")
                    .contains("Vault keys of account 'acme' stay"),
                "{warning:?}"
            );
        }
        other => panic!("expected OperationDone, got {other:?}"),
    }
    let rec = vm(&store, id);
    assert_eq!(rec.account, "globex");
    assert_eq!(rec.billing_type, BillingType::Metered);
    assert_eq!(rec.status, VmStatus::Running);
    assert_eq!(rec.ownership.len(), 2);
    assert_eq!(rec.billing.len(), 2);
    assert_eq!(rec.ownership[1].account, "globex");
    assert_eq!(rec.ownership[1].from, rec.billing[1].from);
    let c = client(&sim);
    let server = c.get_server(rec.hetzner_server_id.unwrap()).await.unwrap();
    assert_eq!(server.status.as_str(), "running");
    assert_eq!(
        server.labels.get(labels::ACCOUNT).map(String::as_str),
        Some("globex")
    );
    assert_eq!(
        server.labels.get(labels::BILLING_TYPE).map(String::as_str),
        Some("metered")
    );
    assert_eq!(server.labels.get(labels::VM_ID), Some(&id.to_string()));
    assert_eq!(server.labels.len(), 6);
    let fw = c
        .get_firewall(rec.hetzner_firewall_id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        fw.labels.get(labels::ACCOUNT).map(String::as_str),
        Some("globex")
    );
    let events = store.audit_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, AuditKind::Transfer);
    assert_eq!(events[0].account, "acme");
    assert_eq!(events[0].to_account.as_deref(), Some("globex"));
    assert_eq!(store.verify_audit(), Ok(1));
    // The labelled server is found by the label selector the worker syncs with.
    let listed = c
        .list_servers(&ListParams::new().label_selector(format!("{}=globex", labels::ACCOUNT)))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_and_billing_follow_hetzner() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    let (result, _) = provision_ok(&mut h, request("job-1", "acme", vec![key], false)).await;
    let id = result.vm_id;
    // The sync that follows every operation, so its snapshot comes before the stop's.
    h.until(|e| matches!(e, WorkerEvent::SyncOk { .. })).await;

    h.send(Effect::Power {
        vm_id: id,
        action: PowerAction::Stop { force: false },
    });
    let events = h.until(is_final).await;
    // Each snapshot shows the VM's status (syncs add snapshots: repeated values collapse).
    let mut statuses: Vec<VmStatus> = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Snapshot(s) => s
                .vms
                .iter()
                .find(|r| r.record.id == id)
                .map(|r| r.record.status),
            _ => None,
        })
        .collect();
    statuses.dedup();
    assert_eq!(statuses, vec![VmStatus::Stopping, VmStatus::Stopped]);
    assert!(matches!(
        events.last(),
        Some(WorkerEvent::OperationDone { .. })
    ));
    assert_eq!(vm(&store, id).status, VmStatus::Stopped);

    match run(
        &mut h,
        Effect::SetBilling {
            vm_id: id,
            billing_type: BillingType::Metered,
        },
    )
    .await
    {
        WorkerEvent::OperationDone { what, .. } => {
            assert!(what.starts_with("job-1 is now billed metered"), "{what}")
        }
        other => panic!("expected OperationDone, got {other:?}"),
    }
    let rec = vm(&store, id);
    assert_eq!(rec.billing_type, BillingType::Metered);
    assert_eq!(rec.billing.len(), 2);
    let server = client(&sim)
        .get_server(rec.hetzner_server_id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        server.labels.get(labels::BILLING_TYPE).map(String::as_str),
        Some("metered")
    );
    match run(
        &mut h,
        Effect::SetBilling {
            vm_id: id,
            billing_type: BillingType::Metered,
        },
    )
    .await
    {
        WorkerEvent::Refused { reason } => assert_eq!(reason, "billing: job-1 is already metered"),
        other => panic!("expected Refused, got {other:?}"),
    }

    let start = run(
        &mut h,
        Effect::Power {
            vm_id: id,
            action: PowerAction::Start,
        },
    )
    .await;
    assert!(
        matches!(start, WorkerEvent::OperationDone { .. }),
        "{start:?}"
    );
    assert_eq!(vm(&store, id).status, VmStatus::Running);
    let force = run(
        &mut h,
        Effect::Power {
            vm_id: id,
            action: PowerAction::Stop { force: true },
        },
    )
    .await;
    assert!(
        matches!(force, WorkerEvent::OperationDone { .. }),
        "{force:?}"
    );
    assert_eq!(vm(&store, id).status, VmStatus::Stopped);
    // No audit events for power or billing (docs/product-rules.md §6).
    assert!(store.audit_events().unwrap().is_empty());
    h.shutdown().await;
    sim.shutdown().await;
}

async fn assert_nothing_left(sim: &SimHandle) {
    let c = client(sim);
    assert_eq!(c.list_servers(&ListParams::new()).await.unwrap().len(), 0);
    assert_eq!(c.list_firewalls(&ListParams::new()).await.unwrap().len(), 0);
}

fn failed_vm(store: &Store) -> VmRecord {
    let vms = store.vms().unwrap();
    assert_eq!(vms.len(), 1);
    let rec = vms[0].clone();
    assert_eq!(rec.status, VmStatus::Failed);
    assert_eq!(rec.hetzner_server_id, None);
    assert_eq!(rec.hetzner_firewall_id, None);
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_limit_mid_provision_leaves_no_firewall() {
    let (t, mut h) = Harness::start(Options {
        max_servers: 0,
        ..opts()
    })
    .await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    match run(
        &mut h,
        Effect::Provision(request("big-1", "acme", vec![key], false)),
    )
    .await
    {
        WorkerEvent::OperationFailed { error, .. } => {
            assert!(
                error.contains("creating the server: resource_limit_exceeded"),
                "{error}"
            );
            assert!(error.ends_with("nothing was left behind"), "{error}");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert_eq!(sim.request_counts().get("POST /firewalls"), Some(&1));
    assert_nothing_left(&sim).await;
    let rec = failed_vm(&store);
    assert!(rec.failure.unwrap().contains("resource_limit_exceeded"));
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_firewall_action_leaves_nothing_behind() {
    let (t, mut h) = Harness::start(opts()).await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    sim.fail_next_actions(1, "action_failed", "injected");
    match run(
        &mut h,
        Effect::Provision(request("fw-1", "acme", vec![key], false)),
    )
    .await
    {
        WorkerEvent::OperationFailed { error, .. } => {
            assert!(error.contains("creating the firewall"), "{error}");
            assert!(error.contains("injected"), "{error}");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert_eq!(sim.request_counts().get("POST /servers"), None);
    assert_nothing_left(&sim).await;
    failed_vm(&store);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_server_build_deletes_server_then_firewall() {
    // Long actions: the failure is armed while the firewall's action runs, so it hits the
    // server's create action.
    let (t, mut h) = Harness::start(Options {
        action_duration: Duration::from_millis(500),
        ..opts()
    })
    .await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    h.send(Effect::Provision(request(
        "srv-1",
        "acme",
        vec![key],
        false,
    )));
    h.until(|e| match e {
        WorkerEvent::Snapshot(s) => s.vms.iter().any(|r| {
            r.record.hetzner_firewall_id.is_some() && r.record.hetzner_server_id.is_none()
        }),
        _ => false,
    })
    .await;
    sim.fail_next_actions(1, "action_failed", "disk on fire");
    let events = h.until(is_final).await;
    match events.last() {
        Some(WorkerEvent::OperationFailed { error, .. }) => {
            assert!(error.contains("building the server"), "{error}");
            assert!(error.contains("disk on fire"), "{error}");
            assert!(error.ends_with("nothing was left behind"), "{error}");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert_eq!(sim.request_counts().get("POST /servers"), Some(&1));
    assert_eq!(sim.request_counts().get("DELETE /servers/{id}"), Some(&1));
    assert_nothing_left(&sim).await;
    let rec = failed_vm(&store);
    assert!(
        rec.failure
            .unwrap()
            .starts_with("provisioning failed: building the server")
    );
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_lifecycle_effect() {
    let (t, mut h) = Harness::start(Options {
        read_only: true,
        ..opts()
    })
    .await;
    let (sim, store, _dir) = t.into_parts();
    let key = keys_of(&store, "acme")[0].id;
    let id = Uuid::from_u128(42);
    let effects = [
        Effect::Provision(request("ro-1", "acme", vec![key], false)),
        Effect::Power {
            vm_id: id,
            action: PowerAction::Reboot,
        },
        Effect::Destroy { vm_id: id },
        Effect::Transfer {
            vm_id: id,
            to: "globex".into(),
        },
        Effect::SetBilling {
            vm_id: id,
            billing_type: BillingType::Metered,
        },
    ];
    for effect in effects {
        match run(&mut h, effect.clone()).await {
            WorkerEvent::Refused { reason } => {
                assert!(reason.starts_with("read-only mode: "), "{reason}")
            }
            other => panic!("expected Refused for {effect:?}, got {other:?}"),
        }
    }
    let counts = sim.request_counts();
    assert!(
        counts.keys().all(|k| k.starts_with("GET ")),
        "only reads: {counts:?}"
    );
    h.shutdown().await;
    sim.shutdown().await;
}
