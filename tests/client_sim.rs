//! The Hetzner client against the fake API (`crabglamp::sim`) over real HTTP on 127.0.0.1.
//!
//! Every test starts its own sim on port 0 and shuts it down at the end.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::harness::{TOKEN, client_builder, start_sim};

use crabglamp::hetzner::{
    ActionStatus, ApiError, Architecture, Client, CreateFirewallRequest, CreateServerRequest,
    CreateSshKeyRequest, Direction, FirewallResource, FirewallRule, ImageListParams, ImageStatus,
    ImageType, ListParams, Protocol, ServerStatus, Token, UpdateRequest,
};
use crabglamp::sim::{Faults, Seed, SimConfig, SimHandle};

async fn sim_with(config: SimConfig) -> SimHandle {
    start_sim(config).await
}

/// A sim with an empty project (catalogue only) and fast actions.
async fn sim() -> SimHandle {
    sim_with(SimConfig {
        token: TOKEN.into(),
        seed: Seed::Empty,
        action_duration: Duration::from_millis(150),
        ..SimConfig::default()
    })
    .await
}

/// A client tuned for tests: fast polling and retries, short timeouts.
fn client(sim: &SimHandle) -> Client {
    builder(sim).build().expect("client")
}

fn builder(sim: &SimHandle) -> crabglamp::hetzner::ClientBuilder {
    client_builder(sim)
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(50))
        .poll_max_interval(Duration::from_millis(200))
        .action_timeout(Duration::from_secs(20))
        .retry_base(Duration::from_millis(20))
        .max_retry_wait(Duration::from_millis(500))
}

fn server_request(name: &str, labels: &[(&str, &str)]) -> CreateServerRequest {
    CreateServerRequest {
        name: name.into(),
        server_type: "cpx22".into(),
        image: "debian-12".into(),
        location: Some("hel1".into()),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn ssh_rule(cidr: &str) -> FirewallRule {
    FirewallRule {
        direction: Direction::In,
        protocol: Protocol::Tcp,
        port: Some("22".into()),
        source_ips: vec![cidr.into()],
        destination_ips: vec![],
        description: Some("ssh".into()),
    }
}

fn count(sim: &SimHandle, key: &str) -> u64 {
    sim.request_counts().get(key).copied().unwrap_or(0)
}

fn names(mut v: Vec<crabglamp::hetzner::Server>) -> Vec<String> {
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v.into_iter().map(|s| s.name).collect()
}

#[tokio::test]
async fn pagination_of_120_servers_takes_exactly_three_requests() {
    let sim = sim().await;
    sim.seed_bulk(120, 0);
    sim.reset_counters();
    let c = client(&sim);

    let servers = c.list_servers(&ListParams::new()).await.expect("list");
    assert_eq!(servers.len(), 120);
    let ids: BTreeSet<i64> = servers.iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), 120);
    assert_eq!(count(&sim, "GET /servers"), 3);
    assert_eq!(c.requests_made(), 3);

    // The budget from the headers is visible after any call.
    let rl = c.rate_limit().expect("rate limit headers were read");
    assert_eq!(rl.limit, SimConfig::default().rate_limit);
    assert!(rl.remaining < rl.limit);
    sim.shutdown().await;
}

#[tokio::test]
async fn label_selectors_and_name_filter() {
    let sim = sim().await;
    let c = client(&sim);
    for (name, labels) in [
        ("a-prod", vec![("env", "prod")]),
        ("b-prod-legacy", vec![("env", "prod"), ("legacy", "")]),
        ("c-dev", vec![("env", "dev")]),
        ("d-none", vec![]),
    ] {
        c.create_server(&server_request(name, &labels))
            .await
            .expect("create");
    }

    let by = |sel: &str| {
        let c = c.clone();
        let p = ListParams::new().label_selector(sel);
        async move { names(c.list_servers(&p).await.expect("list")) }
    };
    assert_eq!(by("env=prod").await, ["a-prod", "b-prod-legacy"]);
    assert_eq!(by("env=prod,!legacy").await, ["a-prod"]);
    assert_eq!(
        by("env in (dev,prod)").await,
        ["a-prod", "b-prod-legacy", "c-dev"]
    );
    assert_eq!(by("env notin (prod)").await, ["c-dev", "d-none"]);
    assert_eq!(by("!env").await, ["d-none"]);

    let one = c
        .list_servers(&ListParams::new().name("c-dev"))
        .await
        .expect("by name");
    assert_eq!(names(one), ["c-dev"]);
    let none = c
        .list_servers(&ListParams::new().name("c-de"))
        .await
        .expect("by name");
    assert!(none.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn error_codes_are_mapped() {
    let sim = sim().await;
    let c = client(&sim);

    // 401: wrong token.
    let wrong = Client::builder()
        .endpoint(sim.endpoint())
        .token(Token::new("not-the-token"))
        .build()
        .expect("client");
    let err = wrong
        .list_servers(&ListParams::new())
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("unauthorized"));
    assert!(!err.to_string().contains("not-the-token"));
    assert!(!format!("{err:?}").contains("not-the-token"));

    // 404.
    let err = c.get_server(999_999).await.expect_err("404");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("not_found"));
    assert!(err.is_not_found());

    // 409 uniqueness_error on a duplicate name, naming the field.
    c.create_server(&server_request("dup", &[]))
        .await
        .expect("first");
    let err = c
        .create_server(&server_request("dup", &[]))
        .await
        .expect_err("409");
    match &err {
        ApiError::Api {
            status,
            code,
            fields,
            ..
        } => {
            assert_eq!(*status, 409);
            assert_eq!(code, "uniqueness_error");
            assert!(fields.iter().any(|f| f.name == "name"), "{fields:?}");
        }
        other => panic!("expected Api error, got {other:?}"),
    }

    // 422 invalid_input from set_rules with host bits set, naming the field.
    let fw = c
        .create_firewall(&CreateFirewallRequest {
            name: "fw-422".into(),
            ..Default::default()
        })
        .await
        .expect("firewall");
    let err = c
        .set_firewall_rules(fw.firewall.id, &[ssh_rule("10.0.0.1/24")])
        .await
        .expect_err("422");
    match &err {
        ApiError::Api {
            status,
            code,
            fields,
            ..
        } => {
            assert_eq!(*status, 422);
            assert_eq!(code, "invalid_input");
            assert!(
                fields.iter().any(|f| f.name.contains("source_ips")),
                "{fields:?}"
            );
            assert!(err.to_string().contains("source_ips"), "{err}");
        }
        other => panic!("expected Api error, got {other:?}"),
    }
    // The rules are unchanged after the refusal.
    let back = c.get_firewall(fw.firewall.id).await.expect("get");
    assert!(back.rules.is_empty());

    // 429 once the retries are used up.
    sim.set_faults(Faults {
        fail_next: 10,
        fail_status: 429,
        fail_code: "rate_limit_exceeded".into(),
        ..Faults::default()
    });
    let before = c.requests_made();
    let err = c.get_server(999_999).await.expect_err("429");
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err:?}");
    assert_eq!(c.requests_made() - before, 4, "4 attempts, then give up");
    sim.clear_faults();
    sim.shutdown().await;
}

#[tokio::test]
async fn locked_while_an_action_runs() {
    let sim = sim_with(SimConfig {
        token: TOKEN.into(),
        seed: Seed::Empty,
        action_duration: Duration::from_secs(30),
        ..SimConfig::default()
    })
    .await;
    let c = client(&sim);
    let created = c
        .create_server(&server_request("busy", &[]))
        .await
        .expect("create");
    let err = c.poweroff_server(created.server.id).await.expect_err("423");
    assert_eq!(err.status(), Some(423));
    assert_eq!(err.code(), Some("locked"));
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limited_get_recovers_after_reset() {
    let sim = sim().await;
    sim.seed_bulk(3, 0);
    let c = client(&sim);
    sim.reset_counters();
    sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 429,
        fail_code: "rate_limit_exceeded".into(),
        ..Faults::default()
    });
    let servers = c.list_servers(&ListParams::new()).await.expect("recovers");
    assert_eq!(servers.len(), 3);
    assert_eq!(c.requests_made(), 2);
    assert_eq!(count(&sim, "GET /servers"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn real_token_bucket_is_respected() {
    // A bucket of 3 refilled at 5 per second: ten back-to-back GETs must hit 429 (they would
    // need 7 refills, 1.4 s) and all still succeed by waiting for a token.
    let sim = sim_with(SimConfig {
        token: TOKEN.into(),
        seed: Seed::Empty,
        rate_limit: 3,
        refill_per_second: 5.0,
        ..SimConfig::default()
    })
    .await;
    let c = builder(&sim)
        .max_attempts(8)
        .max_retry_wait(Duration::from_millis(250))
        .build()
        .expect("client");
    for _ in 0..10 {
        c.list_locations().await.expect("eventually allowed");
    }
    assert!(
        c.requests_made() > 10,
        "some requests were retried after 429"
    );
    assert_eq!(sim.request_count(), c.requests_made());
    let rl = c.rate_limit().expect("budget");
    assert_eq!(rl.limit, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn post_is_not_retried_on_503_but_get_is() {
    let sim = sim().await;
    let c = client(&sim);

    sim.reset_counters();
    sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 503,
        fail_code: "unavailable".into(),
        fail_method: Some("POST".into()),
        ..Faults::default()
    });
    let err = c
        .create_firewall(&CreateFirewallRequest {
            name: "fw-503".into(),
            ..Default::default()
        })
        .await
        .expect_err("503 surfaces");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.code(), Some("unavailable"));
    assert_eq!(c.requests_made(), 1);
    assert_eq!(count(&sim, "POST /firewalls"), 1);

    sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 503,
        fail_code: "unavailable".into(),
        ..Faults::default()
    });
    let before = c.requests_made();
    let fws = c.list_firewalls(&ListParams::new()).await.expect("retried");
    assert!(fws.is_empty());
    assert_eq!(c.requests_made() - before, 2);
    assert_eq!(count(&sim, "GET /firewalls"), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn timeout_is_an_error_not_a_hang() {
    let sim = sim().await;
    let c = builder(&sim)
        .timeout(Duration::from_millis(300))
        .max_attempts(2)
        .build()
        .expect("client");
    sim.set_faults(Faults {
        latency: Some(Duration::from_secs(3)),
        ..Faults::default()
    });
    let err = c
        .list_servers(&ListParams::new())
        .await
        .expect_err("timeout");
    assert_eq!(err, ApiError::Timeout);
    assert_eq!(c.requests_made(), 2, "a GET is retried once, then gives up");

    // A POST that times out is not repeated (it may have happened).
    let err = c
        .create_firewall(&CreateFirewallRequest {
            name: "slow".into(),
            ..Default::default()
        })
        .await
        .expect_err("timeout");
    assert_eq!(err, ApiError::Timeout);
    assert_eq!(c.requests_made(), 3);
    sim.clear_faults();
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_and_dropped_responses() {
    let sim = sim().await;
    sim.seed_bulk(2, 0);
    let c = client(&sim);

    sim.set_faults(Faults {
        malformed_next: 1,
        ..Faults::default()
    });
    let err = c
        .list_servers(&ListParams::new())
        .await
        .expect_err("malformed");
    assert!(matches!(err, ApiError::Malformed { .. }), "{err:?}");

    // A dropped connection on a POST is reported, not repeated.
    sim.set_faults(Faults {
        drop_next: 1,
        fail_method: Some("POST".into()),
        ..Faults::default()
    });
    let before = c.requests_made();
    let err = c
        .create_firewall(&CreateFirewallRequest {
            name: "dropped".into(),
            ..Default::default()
        })
        .await
        .expect_err("dropped");
    assert!(matches!(err, ApiError::Network(_)), "{err:?}");
    assert_eq!(c.requests_made() - before, 1);

    // A dropped GET is retried and succeeds.
    sim.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });
    let before = c.requests_made();
    assert_eq!(
        c.list_servers(&ListParams::new())
            .await
            .expect("retried")
            .len(),
        2
    );
    assert_eq!(c.requests_made() - before, 2);

    // Dropped every time: an error after the capped attempts.
    sim.set_faults(Faults {
        drop_next: 100,
        ..Faults::default()
    });
    let before = c.requests_made();
    let err = c
        .list_servers(&ListParams::new())
        .await
        .expect_err("dropped");
    assert!(matches!(err, ApiError::Network(_)), "{err:?}");
    assert_eq!(c.requests_made() - before, 4);
    sim.clear_faults();

    // Nothing listening any more: a network error, never a panic.
    let endpoint = sim.endpoint();
    sim.shutdown().await;
    let gone = Client::builder()
        .endpoint(endpoint)
        .token(Token::new(TOKEN))
        .max_attempts(2)
        .retry_base(Duration::from_millis(10))
        .build()
        .expect("client");
    let err = gone
        .list_servers(&ListParams::new())
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::Network(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn unknown_status_and_missing_ipv4_are_tolerated() {
    let sim = sim().await;
    sim.seed_bulk(5, 0);
    let c = client(&sim);
    let all = c.list_servers(&ListParams::new()).await.expect("list");
    let odd = all[1].id;
    let no_v4 = all[2].id;
    sim.patch_server(odd, serde_json::json!({"status": "frobnicating"}));
    sim.patch_server(no_v4, serde_json::json!({"public_net": {"ipv4": null}}));

    let all = c.list_servers(&ListParams::new()).await.expect("list");
    assert_eq!(all.len(), 5);
    let by_id: BTreeMap<i64, _> = all.into_iter().map(|s| (s.id, s)).collect();
    assert_eq!(by_id[&odd].status, ServerStatus::Unknown);
    assert_eq!(
        by_id
            .values()
            .filter(|s| s.status == ServerStatus::Unknown)
            .count(),
        1
    );
    assert_eq!(by_id[&no_v4].public_net.ipv4, None);
    assert_eq!(by_id[&no_v4].ipv4(), None);
    assert!(by_id[&no_v4].public_net.ipv6.is_some());
    let s = c.get_server(no_v4).await.expect("get");
    assert_eq!(s.public_net.ipv4, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn server_and_firewall_lifecycle() {
    let sim = sim().await;
    let c = client(&sim);

    // Catalogue.
    let types = c.list_server_types().await.expect("server types");
    let cpx22 = types
        .iter()
        .find(|t| t.name == "cpx22")
        .expect("cpx22 exists");
    assert_eq!(cpx22.cores, 2);
    assert!(cpx22.price_in("hel1").is_some());
    assert_eq!(
        c.get_server_type(cpx22.id).await.expect("one type").name,
        "cpx22"
    );
    let locations = c.list_locations().await.expect("locations");
    assert!(locations.iter().any(|l| l.name == "hel1"));
    assert!(locations.iter().any(|l| l.name == "hil"));
    let pricing = c.get_pricing().await.expect("pricing");
    assert!(pricing.server_types.iter().any(|t| t.name == "cpx22"));
    let arm = c
        .list_images(&ImageListParams {
            kind: vec![ImageType::System],
            status: vec![ImageStatus::Available],
            architecture: Some(Architecture::Arm),
            ..Default::default()
        })
        .await
        .expect("images");
    assert!(!arm.is_empty());
    assert!(arm.iter().all(|i| i.architecture == Architecture::Arm));

    // Firewall first, then a server with it.
    let fw = c
        .create_firewall(&CreateFirewallRequest {
            name: "vm-1-fw".into(),
            rules: vec![ssh_rule("0.0.0.0/0")],
            ..Default::default()
        })
        .await
        .expect("create firewall");
    c.wait_for_actions(&fw.actions).await.expect("fw actions");
    let fw_id = fw.firewall.id;

    let mut req = server_request("vm-1", &[("crabglamp/account", "acme")]);
    req.firewalls = vec![crabglamp::hetzner::FirewallRef { firewall: fw_id }];
    req.user_data = Some("#cloud-config\nhostname: vm-1\n".into());
    let created = c.create_server(&req).await.expect("create server");
    let id = created.server.id;
    assert_eq!(created.server.status, ServerStatus::Initializing);
    let done = c
        .wait_for_action(created.action.id)
        .await
        .expect("create action");
    assert_eq!(done.status, ActionStatus::Success);
    c.wait_for_actions(&created.next_actions)
        .await
        .expect("next actions");
    let server = c.get_server(id).await.expect("get");
    assert_eq!(server.status, ServerStatus::Running);
    assert_eq!(server.location_name(), Some("hel1"));
    assert!(server.ipv4().is_some());
    assert!(server.public_net.firewalls.iter().any(|f| f.id == fw_id));

    // Rules: full replace, read back.
    let rules = vec![
        ssh_rule("0.0.0.0/0"),
        FirewallRule {
            direction: Direction::In,
            protocol: Protocol::Tcp,
            port: Some("8000-8100".into()),
            source_ips: vec!["2001:db8::/32".into()],
            destination_ips: vec![],
            description: None,
        },
    ];
    let actions = c
        .set_firewall_rules(fw_id, &rules)
        .await
        .expect("set_rules");
    assert!(!actions.is_empty());
    c.wait_for_actions(&actions).await.expect("rules applied");
    let back = c.get_firewall(fw_id).await.expect("get firewall");
    assert_eq!(back.rules, rules);
    assert_eq!(back.server_ids(), vec![id]);
    let fw_actions = c.list_firewall_actions(fw_id).await.expect("fw actions");
    assert!(fw_actions.iter().any(|a| a.command == "set_firewall_rules"));

    // Remove and re-apply by server.
    let acts = c
        .remove_firewall_from_resources(fw_id, &[FirewallResource::server(id)])
        .await
        .expect("remove");
    c.wait_for_actions(&acts).await.expect("removed");
    assert!(
        c.get_firewall(fw_id)
            .await
            .expect("get")
            .server_ids()
            .is_empty()
    );
    let acts = c
        .apply_firewall_to_resources(fw_id, &[FirewallResource::server(id)])
        .await
        .expect("apply");
    c.wait_for_actions(&acts).await.expect("applied");
    assert_eq!(
        c.get_firewall(fw_id).await.expect("get").server_ids(),
        vec![id]
    );

    // Update name and labels.
    let renamed = c
        .update_server(
            id,
            &UpdateRequest {
                name: Some("vm-1b".into()),
                labels: Some(BTreeMap::from([("env".to_string(), "prod".to_string())])),
            },
        )
        .await
        .expect("update");
    assert_eq!(renamed.name, "vm-1b");
    assert_eq!(renamed.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(renamed.labels.len(), 1);
    let fw_renamed = c
        .update_firewall(
            fw_id,
            &UpdateRequest {
                name: Some("vm-1b-fw".into()),
                labels: None,
            },
        )
        .await
        .expect("update firewall");
    assert_eq!(fw_renamed.name, "vm-1b-fw");

    // Power cycle.
    let a = c.poweroff_server(id).await.expect("poweroff");
    c.wait_for_action(a.id).await.expect("off");
    assert_eq!(
        c.get_server(id).await.expect("get").status,
        ServerStatus::Off
    );
    let a = c.poweron_server(id).await.expect("poweron");
    c.wait_for_action(a.id).await.expect("on");
    assert_eq!(
        c.get_server(id).await.expect("get").status,
        ServerStatus::Running
    );
    for op in ["reboot", "reset", "shutdown"] {
        let a = match op {
            "reboot" => c.reboot_server(id).await,
            "reset" => c.reset_server(id).await,
            _ => c.shutdown_server(id).await,
        }
        .expect(op);
        assert_eq!(
            c.wait_for_action(a.id).await.expect(op).status,
            ActionStatus::Success
        );
    }

    // A firewall still applied cannot be deleted.
    let err = c.delete_firewall(fw_id).await.expect_err("in use");
    assert_eq!(err.code(), Some("resource_in_use"));

    // Delete the server, then the firewall.
    let a = c.delete_server(id).await.expect("delete");
    c.wait_for_action(a.id).await.expect("deleted");
    let err = c.get_server(id).await.expect_err("gone");
    assert!(err.is_not_found(), "{err:?}");
    c.delete_firewall(fw_id).await.expect("delete firewall");
    assert!(
        c.get_firewall(fw_id)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn action_wait_times_out() {
    let sim = sim_with(SimConfig {
        token: TOKEN.into(),
        seed: Seed::Empty,
        action_duration: Duration::from_secs(30),
        ..SimConfig::default()
    })
    .await;
    let c = builder(&sim)
        .action_timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let created = c
        .create_server(&server_request("slow", &[]))
        .await
        .expect("create");
    let err = c
        .wait_for_action(created.action.id)
        .await
        .expect_err("still running");
    assert!(
        matches!(err, ApiError::ActionTimeout { id, .. } if id == created.action.id),
        "{err:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn failed_action_becomes_a_typed_error() {
    let sim = sim().await;
    let c = client(&sim);
    sim.seed_bulk(1, 0);
    let id = c.list_servers(&ListParams::new()).await.expect("list")[0].id;
    sim.fail_next_actions(1, "action_failed", "the hypervisor said no");
    let action = c.poweroff_server(id).await.expect("accepted");
    let err = c.wait_for_action(action.id).await.expect_err("fails");
    assert_eq!(
        err,
        ApiError::ActionFailed {
            id: action.id,
            code: "action_failed".into(),
            message: "the hypervisor said no".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "action {} failed: action_failed: the hypervisor said no",
            action.id
        )
    );
    // The failed power action left the server as it was.
    assert_eq!(
        c.get_server(id).await.expect("get").status,
        ServerStatus::Running
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ssh_keys_create_list_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let key = c
        .create_ssh_key(&CreateSshKeyRequest {
            name: "laptop".into(),
            public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFsvVFlpznIm2T/rcFEEikMIlqUSYjpbbDl8yeptGRaP me@laptop\n".into(),
            labels: BTreeMap::new(),
        })
        .await
        .expect("create key");
    assert_eq!(key.name, "laptop");
    assert_eq!(
        key.fingerprint,
        "ae:e9:25:a8:35:89:0f:1f:f1:98:4c:1e:77:ea:17:20"
    );
    let keys = c
        .list_ssh_keys(&ListParams::new().name("laptop"))
        .await
        .expect("list");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, key.id);
    c.delete_ssh_key(key.id).await.expect("delete");
    assert!(
        c.list_ssh_keys(&ListParams::new())
            .await
            .expect("list")
            .is_empty()
    );
    sim.shutdown().await;
}

/// A minimal misbehaving server for what the sim does not do (pagination that goes back,
/// non-JSON error pages). Bound to 127.0.0.1 port 0, stopped at the end of the test.
struct Stub {
    endpoint: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    async fn start() -> Stub {
        use axum::http::{StatusCode, header};
        use axum::routing::get;
        let router = axum::Router::new()
            .route(
                "/v1/servers",
                get(|| async {
                    // Always claims the next page is page 1: would loop forever.
                    axum::Json(serde_json::json!({"servers": [], "meta": {"pagination":
                        {"page": 1, "per_page": 50, "previous_page": null, "next_page": 1,
                         "last_page": null, "total_entries": null}}}))
                }),
            )
            .route(
                "/v1/server_types",
                // Not paginated at all: one request, the list as is.
                get(|| async { axum::Json(serde_json::json!({"server_types": []})) }),
            )
            .route(
                "/v1/locations",
                get(|| async {
                    (
                        StatusCode::BAD_GATEWAY,
                        [(header::CONTENT_TYPE, "text/html")],
                        "<html><body>502 Bad Gateway</body></html>",
                    )
                }),
            )
            .route(
                "/v1/firewalls",
                axum::routing::post(|| async {
                    (
                        StatusCode::BAD_GATEWAY,
                        [(header::CONTENT_TYPE, "text/html")],
                        "<html><body>502 Bad Gateway</body></html>",
                    )
                }),
            );
        // Echo request headers inside an action: `command` = User-Agent, `resources[0].type`
        // = whether the Authorization header is right, `progress` = 1 if a Content-Type was
        // sent.
        async fn echo(headers: axum::http::HeaderMap) -> axum::Json<serde_json::Value> {
            let h = |name: header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let auth_ok = h(header::AUTHORIZATION).as_deref() == Some("Bearer sim-token");
            axum::Json(serde_json::json!({"action": {
                "id": 1, "command": h(header::USER_AGENT), "status": "success",
                "progress": u8::from(h(header::CONTENT_TYPE).is_some()),
                "started": "2024-05-01T10:00:00+00:00", "finished": "2024-05-01T10:00:01Z",
                "resources": [{"id": 1, "type": if auth_ok { "auth-ok" } else { "auth-bad" }}],
                "error": null}}))
        }
        let router = router.route("/v1/actions/{id}", get(echo)).route(
            "/v1/servers/{id}/actions/poweron",
            axum::routing::post(echo),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Stub {
            endpoint: format!("http://{addr}/v1"),
            stop,
            task,
        }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[tokio::test]
async fn pagination_guard_and_non_json_errors() {
    let stub = Stub::start().await;
    let c = Client::builder()
        .endpoint(stub.endpoint.clone())
        .token(Token::new(TOKEN))
        .retry_base(Duration::from_millis(10))
        .build()
        .expect("client");

    let err = c.list_servers(&ListParams::new()).await.expect_err("loop");
    assert!(
        matches!(&err, ApiError::Malformed { detail, .. } if detail.contains("next page is 1")),
        "{err:?}"
    );
    assert_eq!(c.requests_made(), 1);

    assert!(c.list_server_types().await.expect("no meta").is_empty());
    assert_eq!(c.requests_made(), 2);

    // An HTML 502 on a GET: retried (4 attempts), then an Api error with code http_502.
    let err = c.list_locations().await.expect_err("502");
    assert_eq!(err.code(), Some("http_502"));
    assert_eq!(err.status(), Some(502));
    assert_eq!(c.requests_made(), 6);

    // The same on a POST: not retried.
    let err = c
        .create_firewall(&CreateFirewallRequest {
            name: "x".into(),
            ..Default::default()
        })
        .await
        .expect_err("502");
    assert_eq!(err.code(), Some("http_502"));
    assert_eq!(c.requests_made(), 7);

    // Headers: User-Agent crabglamp/<version>, Bearer token; no Content-Type on a POST
    // without a body (docs/hetzner-api.md §6.6), none on a GET.
    let a = c.get_action(1).await.expect("echo");
    assert_eq!(a.command, concat!("crabglamp/", env!("CARGO_PKG_VERSION")));
    assert_eq!(a.resources[0].kind, "auth-ok");
    assert_eq!(a.progress, 0);
    let a = c.poweron_server(1).await.expect("echo");
    assert_eq!(a.resources[0].kind, "auth-ok");
    assert_eq!(a.progress, 0);
    stub.shutdown().await;
}
