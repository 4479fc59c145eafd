//! The sim over real HTTP (127.0.0.1, port 0) with reqwest.

mod common;

use std::time::Duration;

use common::harness::{label_map as labels, start_sim as start};
use crabglamp::sim::{self, Faults, FirewallSeed, ServerSeed, SimConfig, SimHandle};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "test-token";

/// Actions finish after 50 ms: for tests that only wait for final states.
fn config() -> SimConfig {
    SimConfig {
        token: TOKEN.into(),
        action_duration: Duration::from_millis(50),
        ..SimConfig::default()
    }
}

/// Actions take 1 s: for tests that also check intermediate states.
fn slow_config() -> SimConfig {
    SimConfig {
        action_duration: Duration::from_secs(1),
        ..config()
    }
}

struct Api {
    sim: SimHandle,
    http: Client,
}

impl Api {
    async fn new(config: SimConfig) -> Api {
        Api {
            sim: start(config).await,
            http: Client::new(),
        }
    }

    async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.endpoint()))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let r = self.raw(method, path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, v)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Poll `GET path` until `pick(body) == want` (at most ~10 s); returns the last value seen.
    async fn wait_for(&self, path: &str, pick: impl Fn(&Value) -> Value, want: Value) -> Value {
        let mut last = Value::Null;
        for _ in 0..500 {
            let (_, v) = self.get(path).await;
            last = pick(&v);
            if last == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        last
    }
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pagination_of_120_servers_at_50_per_page() {
    let api = Api::new(config()).await;
    api.sim.seed_bulk(120, 0);
    let r = api.raw(Method::GET, "/servers?per_page=50", None).await;
    assert_eq!(r.status(), 200);
    let link = r.headers()["link"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["servers"].as_array().unwrap().len(), 50);
    assert_eq!(
        v["meta"]["pagination"],
        json!({"page": 1, "per_page": 50, "previous_page": null, "next_page": 2,
               "last_page": 3, "total_entries": 120})
    );
    let e = api.sim.endpoint();
    assert_eq!(
        link,
        format!(
            "<{e}/servers?page=2&per_page=50>; rel=\"next\", <{e}/servers?page=3&per_page=50>; rel=\"last\""
        )
    );
    let (_, v) = api.get("/servers?per_page=50&page=2").await;
    assert_eq!(
        v["meta"]["pagination"],
        json!({"page": 2, "per_page": 50, "previous_page": 1, "next_page": 3,
               "last_page": 3, "total_entries": 120})
    );
    let (_, v) = api.get("/servers?per_page=50&page=3").await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 20);
    assert_eq!(v["meta"]["pagination"]["next_page"], Value::Null);
    assert_eq!(v["meta"]["pagination"]["previous_page"], 2);
    let (_, v) = api.get("/servers").await;
    assert_eq!(v["meta"]["pagination"]["per_page"], 25);
    assert_eq!(v["meta"]["pagination"]["last_page"], 5);
    let (_, v) = api.get("/servers?per_page=500").await;
    assert_eq!(v["meta"]["pagination"]["per_page"], 50);
}

#[tokio::test]
async fn label_selectors_filter_servers() {
    let api = Api::new(config()).await;
    for (name, l) in [
        ("a", vec![("env", "prod"), ("tier", "small")]),
        ("b", vec![("env", "dev"), ("tier", "large")]),
        ("c", vec![("env", "test"), ("legacy", "")]),
        ("d", vec![]),
    ] {
        api.sim.add_server(ServerSeed {
            name: name.into(),
            labels: labels(&l),
            ..ServerSeed::default()
        });
    }
    let cases = [
        ("env%3Dprod", vec!["a"]),
        ("env%3D%3Dprod", vec!["a"]),
        ("env!%3Dprod", vec!["b", "c", "d"]),
        ("legacy", vec!["c"]),
        ("!env", vec!["d"]),
        ("env%20in%20(dev,prod)", vec!["a", "b"]),
        ("env%20notin%20(dev,prod)", vec!["c", "d"]),
        ("env%20in%20(dev,prod,test),!legacy", vec!["a", "b"]),
        ("env%3Ddev,tier%3Dsmall", vec![]),
    ];
    for (sel, want) in cases {
        let (status, v) = api.get(&format!("/servers?label_selector={sel}")).await;
        assert_eq!(status, 200, "{sel}");
        assert_eq!(names(&v, "servers"), want, "{sel}");
    }
    let (status, v) = api.get("/servers?label_selector=env%20in%20(dev").await;
    assert_eq!(status, 422);
    assert_eq!(v["error"]["code"], "invalid_input");
    assert_eq!(v["error"]["details"]["fields"][0]["name"], "label_selector");
    let (_, v) = api.get("/servers?name=b").await;
    assert_eq!(names(&v, "servers"), vec!["b"]);
    let (_, v) = api.get("/servers?sort=name:desc").await;
    assert_eq!(names(&v, "servers"), vec!["d", "c", "b", "a"]);
}

#[tokio::test]
async fn auth_errors_and_unknown_routes_use_the_envelope() {
    let api = Api::new(config()).await;
    for auth in [None, Some("Bearer nope"), Some("test-token")] {
        let mut req = api.http.get(format!("{}/servers", api.sim.endpoint()));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert!(r.headers().contains_key("ratelimit-remaining"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized");
        assert_eq!(v["error"]["details"], Value::Null);
    }
    let r = api.raw(Method::GET, "/servers/424242", None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let (status, v) = api.get("/volumes").await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let (status, v) = api.call(Method::PATCH, "/servers", None).await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (405, json!("method_not_allowed"))
    );
    let r = api
        .http
        .post(format!("{}/ssh_keys", api.sim.endpoint()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{bad json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "json_error");
}

#[tokio::test]
async fn firewall_delete_is_204_without_content_type() {
    let api = Api::new(config()).await;
    let (status, v) = api.post("/firewalls", json!({"name": "fw"})).await;
    assert_eq!(status, 201);
    assert_eq!(v["actions"], json!([]));
    let id = v["firewall"]["id"].as_i64().unwrap();
    let r = api
        .raw(Method::DELETE, &format!("/firewalls/{id}"), None)
        .await;
    assert_eq!(r.status(), 204);
    assert!(!r.headers().contains_key("content-type"));
    assert!(r.headers().contains_key("ratelimit-limit"));
    assert_eq!(r.text().await.unwrap(), "");
    let (status, _) = api.get(&format!("/firewalls/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn set_rules_replaces_and_validates() {
    let api = Api::new(config()).await;
    let (_, v) = api
        .post(
            "/firewalls",
            json!({"name": "fw", "rules": [{"direction": "in", "protocol": "tcp", "port": "22",
                   "source_ips": ["0.0.0.0/0", "::/0"]}]}),
        )
        .await;
    let id = v["firewall"]["id"].as_i64().unwrap();
    assert_eq!(v["actions"][0]["command"], "set_firewall_rules");
    let (status, v) = api
        .post(
            &format!("/firewalls/{id}/actions/set_rules"),
            json!({"rules": [
                {"direction": "in", "protocol": "udp", "port": "60000-61000",
                 "source_ips": ["2001:0db8:0000:0000::/64"], "description": "mosh"},
                {"direction": "in", "protocol": "icmp", "source_ips": ["10.0.0.0/8"]},
            ]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(v["actions"][0]["command"], "set_firewall_rules");
    let (_, v) = api.get(&format!("/firewalls/{id}")).await;
    assert_eq!(
        v["firewall"]["rules"],
        json!([
            {"direction": "in", "protocol": "udp", "port": "60000-61000",
             "source_ips": ["2001:db8::/64"], "destination_ips": [], "description": "mosh"},
            {"direction": "in", "protocol": "icmp", "port": null,
             "source_ips": ["10.0.0.0/8"], "destination_ips": [], "description": null},
        ])
    );
    let (status, v) = api
        .post(
            &format!("/firewalls/{id}/actions/set_rules"),
            json!({"rules": [
                {"direction": "in", "protocol": "tcp", "source_ips": ["0.0.0.0/0"]},
                {"direction": "in", "protocol": "gre", "port": "1", "source_ips": ["10.0.0.1/8"]},
                {"direction": "up", "protocol": "tcp", "port": "99999", "source_ips": ["::/0"]},
            ]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(v["error"]["code"], "invalid_input");
    let fields: Vec<&str> = v["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "rules[0].port",
            "rules[1].port",
            "rules[1].source_ips[0]",
            "rules[2].direction",
            "rules[2].port",
        ]
    );
    assert_eq!(
        v["error"]["message"],
        "invalid input in field 'rules[0].port': is required for protocol tcp"
    );
    let too_many: Vec<Value> = (0..51)
        .map(|p| json!({"direction": "in", "protocol": "tcp", "port": (p + 1).to_string(), "source_ips": ["::/0"]}))
        .collect();
    let (status, v) = api
        .post(
            &format!("/firewalls/{id}/actions/set_rules"),
            json!({"rules": too_many}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(v["error"]["details"]["fields"][0]["name"], "rules");
    // The failed requests left the rules untouched.
    let (_, v) = api.get(&format!("/firewalls/{id}")).await;
    assert_eq!(v["firewall"]["rules"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn actions_progress_and_server_status_follows() {
    // Long enough that the intermediate states (stopping, locked, deleting) are observable
    // right after the request even on a loaded machine.
    let api = Api::new(slow_config()).await;
    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "web-1", "server_type": "cpx22", "image": "debian-12",
                   "location": "hel1", "labels": {"env": "dev"}}),
        )
        .await;
    assert_eq!(status, 201);
    let id = v["server"]["id"].as_i64().unwrap();
    assert_eq!(v["server"]["status"], "initializing");
    assert_eq!(v["action"]["command"], "create_server");
    assert_eq!(v["action"]["status"], "running");
    assert_eq!(v["action"]["finished"], Value::Null);
    assert_eq!(v["next_actions"][0]["command"], "start_server");
    assert!(v["root_password"].as_str().is_some_and(|p| p.len() >= 16));
    assert_eq!(v["server"]["location"]["name"], "hel1");
    assert_eq!(v["server"]["datacenter"]["location"]["name"], "hel1");
    assert_eq!(v["server"]["server_type"]["cores"], 2);
    assert_eq!(v["server"]["primary_disk_size"], 80);
    let action = v["action"]["id"].as_i64().unwrap();
    let start = v["next_actions"][0]["id"].as_i64().unwrap();
    let done = api
        .wait_for(
            &format!("/actions/{action}"),
            |v| v["action"]["status"].clone(),
            json!("success"),
        )
        .await;
    assert_eq!(done, "success");
    let (_, v) = api
        .get(&format!("/actions?id={action}&id={start}&page=1"))
        .await;
    assert_eq!(v["actions"].as_array().unwrap().len(), 2);
    assert_eq!(v["actions"][0]["progress"], 100);
    assert!(v["actions"][0]["finished"].is_string());
    let status = api
        .wait_for(
            &format!("/servers/{id}"),
            |v| v["server"]["status"].clone(),
            json!("running"),
        )
        .await;
    assert_eq!(status, "running");

    let r = api
        .http
        .post(format!(
            "{}/servers/{id}/actions/poweroff",
            api.sim.endpoint()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["action"]["command"], "stop_server");
    let (_, s) = api.get(&format!("/servers/{id}")).await;
    assert_eq!(s["server"]["status"], "stopping");
    let (status, v) = api
        .post(&format!("/servers/{id}/actions/poweron"), json!({}))
        .await;
    assert_eq!(status, 423);
    assert_eq!(v["error"]["code"], "locked");
    let status = api
        .wait_for(
            &format!("/servers/{id}"),
            |v| v["server"]["status"].clone(),
            json!("off"),
        )
        .await;
    assert_eq!(status, "off");
    let (status, _) = api
        .post(&format!("/servers/{id}/actions/poweron"), json!({}))
        .await;
    assert_eq!(status, 201);
    let status = api
        .wait_for(
            &format!("/servers/{id}"),
            |v| v["server"]["status"].clone(),
            json!("running"),
        )
        .await;
    assert_eq!(status, "running");
    let (_, v) = api.get(&format!("/servers/{id}/actions?sort=id:asc")).await;
    let commands: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        vec![
            "create_server",
            "start_server",
            "stop_server",
            "start_server"
        ]
    );

    let (status, v) = api
        .call(Method::DELETE, &format!("/servers/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["action"]["command"], "delete_server");
    let (_, s) = api.get(&format!("/servers/{id}")).await;
    assert_eq!(s["server"]["status"], "deleting");
    let code = api
        .wait_for(
            &format!("/servers/{id}"),
            |v| v["error"]["code"].clone(),
            json!("not_found"),
        )
        .await;
    assert_eq!(code, "not_found");
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let api = Api::new(SimConfig {
        rate_limit: 3,
        refill_per_second: 0.001,
        ..config()
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = api.raw(Method::GET, "/locations", None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-limit"], "3");
        remaining.push(
            r.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let r = api.raw(Method::GET, "/locations", None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    let reset: u64 = r.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now + 2000,
        "bucket needs ~3000 s to refill at 0.001/s"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn injected_faults() {
    let api = Api::new(config()).await;
    api.sim.set_faults(Faults {
        latency: Some(Duration::from_millis(30)),
        ..Faults::default()
    });
    let (status, _) = api.get("/locations").await;
    assert_eq!(status, 200);

    api.sim.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    let r = api.raw(Method::GET, "/locations", None).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    let (status, _) = api.get("/locations").await;
    assert_eq!(status, 200);

    api.sim.set_faults(Faults {
        fail_next: 1,
        fail_status: 429,
        fail_code: "rate_limit_exceeded".into(),
        fail_method: Some("POST".into()),
        ..Faults::default()
    });
    let (status, _) = api.get("/locations").await;
    assert_eq!(status, 200, "GET is not affected by a POST-only fault");
    let r = api
        .raw(Method::POST, "/firewalls", Some(json!({"name": "x"})))
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["ratelimit-remaining"], "0");

    api.sim.set_faults(Faults {
        malformed_next: 1,
        ..Faults::default()
    });
    let r = api.raw(Method::GET, "/locations", None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert!(text.starts_with('{'));

    api.sim.set_faults(Faults {
        drop_next: 1,
        ..Faults::default()
    });
    let result = async {
        let r = api
            .http
            .get(format!("{}/locations", api.sim.endpoint()))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        r.text().await
    }
    .await;
    assert!(
        result.is_err(),
        "a dropped connection must surface as a client error"
    );
    api.sim.clear_faults();
    let (status, _) = api.get("/locations").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deleting_a_server_removes_it_from_firewalls() {
    let api = Api::new(config()).await;
    let sid = api.sim.add_server(ServerSeed {
        name: "vm-a".into(),
        ..ServerSeed::default()
    });
    let other = api.sim.add_server(ServerSeed {
        name: "vm-b".into(),
        ..ServerSeed::default()
    });
    let fid = api.sim.add_firewall(FirewallSeed {
        name: "vm-a".into(),
        rules: json!([{"direction": "in", "protocol": "tcp", "port": "22",
                       "source_ips": ["0.0.0.0/0", "::/0"]}]),
        applied_to: vec![sid, other],
        ..FirewallSeed::default()
    });
    let (_, s) = api.get(&format!("/servers/{sid}")).await;
    assert_eq!(
        s["server"]["public_net"]["firewalls"],
        json!([{"id": fid, "status": "applied"}])
    );
    let (status, _) = api
        .call(Method::DELETE, &format!("/firewalls/{fid}"), None)
        .await;
    assert_eq!(status, 422);
    let (status, _) = api
        .call(Method::DELETE, &format!("/servers/{sid}"), None)
        .await;
    assert_eq!(status, 200);
    let (_, f) = api.get(&format!("/firewalls/{fid}")).await;
    assert_eq!(
        f["firewall"]["applied_to"],
        json!([{"type": "server", "server": {"id": other}}])
    );
}

#[tokio::test]
async fn firewall_apply_and_remove_rules() {
    let api = Api::new(slow_config()).await;
    let a = api.sim.add_server(ServerSeed {
        name: "a".into(),
        labels: labels(&[("env", "dev")]),
        ..ServerSeed::default()
    });
    let (_, v) = api.post("/firewalls", json!({"name": "fw"})).await;
    let fid = v["firewall"]["id"].as_i64().unwrap();
    let path = format!("/firewalls/{fid}/actions/apply_to_resources");
    let server = json!({"type": "server", "server": {"id": a}});
    let (status, v) = api.post(&path, json!({"apply_to": [server]})).await;
    assert_eq!(status, 201);
    assert_eq!(v["actions"][0]["command"], "apply_firewall");
    let (_, s) = api.get(&format!("/servers/{a}")).await;
    assert_eq!(
        s["server"]["public_net"]["firewalls"][0]["status"],
        "pending"
    );
    let st = api
        .wait_for(
            &format!("/servers/{a}"),
            |v| v["server"]["public_net"]["firewalls"][0]["status"].clone(),
            json!("applied"),
        )
        .await;
    assert_eq!(st, "applied");
    let (status, v) = api.post(&path, json!({"apply_to": [server]})).await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (422, json!("firewall_already_applied"))
    );
    let missing = json!({"type": "server", "server": {"id": 999}});
    let (status, v) = api.post(&path, json!({"apply_to": [missing]})).await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (404, json!("firewall_resource_not_found"))
    );
    let (status, v) = api
        .post("/firewalls", json!({"name": "fw2", "apply_to": [missing]}))
        .await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (422, json!("firewall_resource_not_found"))
    );
    let (status, v) = api
        .post(
            "/firewalls",
            json!({"name": "fw2", "apply_to": [server, server]}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (422, json!("server_already_added"))
    );
    let remove = format!("/firewalls/{fid}/actions/remove_from_resources");
    let (status, _) = api.post(&remove, json!({"remove_from": [server]})).await;
    assert_eq!(status, 201);
    let sel = json!({"type": "label_selector", "label_selector": {"selector": "env=dev"}});
    let (status, _) = api.post(&path, json!({"apply_to": [sel]})).await;
    assert_eq!(status, 201);
    let (_, f) = api.get(&format!("/firewalls/{fid}")).await;
    assert_eq!(
        f["firewall"]["applied_to"],
        json!([{"type": "label_selector", "label_selector": {"selector": "env=dev"},
                "applied_to_resources": [{"type": "server", "server": {"id": a}}]}])
    );
    let (status, v) = api.post(&remove, json!({"remove_from": [server]})).await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (422, json!("firewall_managed_by_label_selector"))
    );
}

#[tokio::test]
async fn ssh_keys_and_server_create_details() {
    let api = Api::new(config()).await;
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICBNTewUM8X+bJvh1p7WvjF/juAcBPPjg2jfeEalh7Av test@example\n";
    let (status, v) = api
        .post("/ssh_keys", json!({"name": "k1", "public_key": key}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        v["ssh_key"]["fingerprint"],
        "2e:72:ec:a4:a5:55:46:7f:4f:62:f4:74:d9:96:2e:d3"
    );
    assert_eq!(v["ssh_key"]["public_key"], key.trim_end());
    let kid = v["ssh_key"]["id"].as_i64().unwrap();
    let (status, v) = api
        .post("/ssh_keys", json!({"name": "k2", "public_key": key}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["code"], "uniqueness_error");
    assert_eq!(
        v["error"]["details"],
        json!({"fields": [{"name": "public_key"}]})
    );
    let (status, v) = api
        .post(
            "/ssh_keys",
            json!({"name": "k3", "public_key": "ssh-rsa nope"}),
        )
        .await;
    assert_eq!(
        (
            status.as_u16(),
            v["error"]["details"]["fields"][0]["name"].clone()
        ),
        (422, json!("public_key"))
    );
    let (_, v) = api
        .get("/ssh_keys?fingerprint=2e:72:ec:a4:a5:55:46:7f:4f:62:f4:74:d9:96:2e:d3")
        .await;
    assert_eq!(names(&v, "ssh_keys"), vec!["k1"]);

    let (_, fw) = api.post("/firewalls", json!({"name": "vm-fw"})).await;
    let fid = fw["firewall"]["id"].as_i64().unwrap();
    let user_data = "#cloud-config\nhostname: web-2\n";
    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "web-2", "server_type": "104", "image": 161547320,
                   "location": "1", "ssh_keys": ["k1"], "firewalls": [{"firewall": fid}],
                   "user_data": user_data, "start_after_create": false,
                   "public_net": {"enable_ipv4": false, "enable_ipv6": true}}),
        )
        .await;
    assert_eq!(status, 201);
    let sid = v["server"]["id"].as_i64().unwrap();
    assert_eq!(v["root_password"], Value::Null);
    assert_eq!(v["next_actions"], json!([]));
    assert_eq!(v["server"]["server_type"]["name"], "cx22");
    assert_eq!(v["server"]["image"]["name"], "debian-12");
    assert_eq!(v["server"]["location"]["name"], "fsn1");
    assert_eq!(v["server"]["public_net"]["ipv4"], Value::Null);
    assert!(
        v["server"]["public_net"]["ipv6"]["ip"]
            .as_str()
            .unwrap()
            .ends_with("::/64")
    );
    assert_eq!(
        v["server"]["public_net"]["firewalls"],
        json!([{"id": fid, "status": "pending"}])
    );
    assert_eq!(api.sim.server_user_data(sid).as_deref(), Some(user_data));
    assert_eq!(api.sim.server_ssh_keys(sid), vec![kid]);
    let status = api
        .wait_for(
            &format!("/servers/{sid}"),
            |v| v["server"]["status"].clone(),
            json!("off"),
        )
        .await;
    assert_eq!(status, "off");

    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "web-2", "server_type": "cx22", "image": "debian-12"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["error"]["details"].clone()),
        (409, json!({"fields": [{"name": "name"}]}))
    );
    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "bad_name", "server_type": "cx22", "image": "debian-12"}),
        )
        .await;
    assert_eq!(
        (
            status.as_u16(),
            v["error"]["details"]["fields"][0]["name"].clone()
        ),
        (422, json!("name"))
    );
    let big = "x".repeat(32 * 1024 + 1);
    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "big", "server_type": "cx22", "image": "debian-12", "user_data": big}),
        )
        .await;
    assert_eq!(
        (
            status.as_u16(),
            v["error"]["details"]["fields"][0]["name"].clone()
        ),
        (422, json!("user_data"))
    );
    let (status, v) = api
        .call(
            Method::PUT,
            &format!("/servers/{sid}"),
            Some(json!({"name": "web-3", "labels": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["server"]["name"], "web-3");
    let (status, v) = api
        .call(
            Method::PUT,
            &format!("/servers/{sid}"),
            Some(json!({"labels": {"a": "b"}})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["server"]["labels"].clone()),
        (200, json!({"a": "b"}))
    );
    let (status, _) = api
        .call(Method::DELETE, &format!("/ssh_keys/{kid}"), None)
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn server_limit_is_403() {
    let api = Api::new(SimConfig {
        max_servers: 1,
        ..config()
    })
    .await;
    let body =
        |n: &str| json!({"name": n, "server_type": "cx22", "image": "debian-12", "ssh_keys": []});
    let (status, _) = api.post("/servers", body("a")).await;
    assert_eq!(status, 201);
    let (status, v) = api.post("/servers", body("b")).await;
    assert_eq!(status, 403);
    assert_eq!(v["error"]["code"], "resource_limit_exceeded");
}

#[tokio::test]
async fn admin_endpoints_counters_patch_and_recording() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("responses.jsonl");
    let api = Api::new(SimConfig {
        seed: sim::Seed::Demo,
        record: Some(record.clone()),
        ..config()
    })
    .await;
    let (_, v) = api
        .get("/servers?label_selector=crabglamp%2Faccount%3Dacme")
        .await;
    assert_eq!(v["servers"].as_array().unwrap().len(), 6);
    let id = v["servers"][0]["id"].as_i64().unwrap();
    api.get(&format!("/servers/{id}")).await;
    api.get(&format!("/servers/{id}")).await;
    assert_eq!(api.sim.request_count(), 3);
    let counts = api.sim.request_counts();
    assert_eq!(counts.get("GET /servers/{id}"), Some(&2));
    assert_eq!(counts.get("GET /servers"), Some(&1));

    let base = format!("http://{}", api.sim.addr());
    let r: Value = api
        .http
        .get(format!("{base}/__sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["total"], 3);
    assert_eq!(r["requests"]["GET /servers/{id}"], 2);
    let r = api
        .http
        .post(format!("{base}/__sim/reset-counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(api.sim.request_count(), 0);

    let r = api
        .http
        .post(format!("{base}/__sim/servers/{id}/patch"))
        .json(&json!({"status": "frobnicating", "public_net": {"ipv4": null}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, s) = api.get(&format!("/servers/{id}")).await;
    assert_eq!(s["server"]["status"], "frobnicating");
    assert_eq!(s["server"]["public_net"]["ipv4"], Value::Null);
    assert!(s["server"]["public_net"]["ipv6"].is_object());

    let r = api
        .http
        .post(format!("{base}/__sim/faults"))
        .json(&json!({"fail_next": 1, "fail_status": 500, "fail_code": "server_error"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, v) = api.get("/locations").await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (500, json!("server_error"))
    );

    let r = api
        .http
        .post(format!("{base}/__sim/seed"))
        .json(&json!({"servers": 5, "firewalls": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, v) = api.get("/servers?label_selector=bulk").await;
    assert_eq!(v["meta"]["pagination"]["total_entries"], 5);

    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["path"], "/servers");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[1]["path"], "/servers/{id}");
    assert!(lines[1]["body"]["server"].is_object());
    assert!(lines.iter().any(|l| l["status"] == 500));
}

#[tokio::test]
async fn catalog_endpoints() {
    let api = Api::new(config()).await;
    let (_, v) = api.get("/server_types?name=cpx21").await;
    let t = &v["server_types"][0];
    assert_eq!(
        (t["cores"].clone(), t["memory"].clone(), t["disk"].clone()),
        (json!(3), json!(4.0), json!(80))
    );
    assert!(
        t["prices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["location"] == "hil")
    );
    let (_, v) = api.get("/images?type=system&architecture=x86").await;
    assert_eq!(
        names(&v, "images"),
        vec![
            "ubuntu-24.04",
            "ubuntu-22.04",
            "debian-13",
            "debian-12",
            "fedora-43",
            "rocky-10",
            "alma-10"
        ]
    );
    let (_, v) = api.get("/images?name=debian-12").await;
    assert_eq!(v["images"][0]["architecture"], "x86");
    assert_eq!(v["images"][1]["architecture"], "arm");
    let (_, v) = api.get("/locations").await;
    let locs = names(&v, "locations");
    for l in ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] {
        assert!(locs.contains(&l.to_string()), "{l}");
    }
    let (status, v) = api.get("/pricing").await;
    assert_eq!(status, 200);
    assert_eq!(v["pricing"]["currency"], "EUR");
    assert!(v["pricing"]["server_types"].as_array().unwrap().len() >= 6);
    let (_, v) = api.get("/datacenters").await;
    assert!(v["recommendation"].is_i64());
    let (status, v) = api.get("/actions").await;
    assert_eq!(
        (status.as_u16(), v["error"]["code"].clone()),
        (422, json!("invalid_input"))
    );
}

#[tokio::test]
async fn injected_action_failures() {
    let api = Api::new(config()).await;
    api.sim.fail_next_actions(1, "action_failed", "boom");
    let (status, v) = api
        .post(
            "/servers",
            json!({"name": "doomed", "server_type": "cx22", "image": "debian-12"}),
        )
        .await;
    assert_eq!(status, 201);
    let sid = v["server"]["id"].as_i64().unwrap();
    let create = v["action"]["id"].as_i64().unwrap();
    let start = v["next_actions"][0]["id"].as_i64().unwrap();
    let st = api
        .wait_for(
            &format!("/actions/{start}"),
            |v| v["action"]["status"].clone(),
            json!("error"),
        )
        .await;
    assert_eq!(st, "error");
    let (_, v) = api.get(&format!("/actions/{create}")).await;
    assert_eq!(v["action"]["status"], "error");
    assert_eq!(
        v["action"]["error"],
        json!({"code": "action_failed", "message": "boom"})
    );
    assert!(v["action"]["finished"].is_string());
    let (_, s) = api.get(&format!("/servers/{sid}")).await;
    assert_eq!(s["server"]["status"], "off");
    let (_, v) = api
        .get(&format!("/servers/{sid}/actions?status=error"))
        .await;
    assert_eq!(v["actions"].as_array().unwrap().len(), 2);

    // A failed delete leaves the server in place; the next one works.
    let base = format!("http://{}", api.sim.addr());
    let r = api
        .http
        .post(format!("{base}/__sim/action-failures"))
        .json(&json!({"fail_next": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, v) = api
        .call(Method::DELETE, &format!("/servers/{sid}"), None)
        .await;
    assert_eq!(status, 200);
    let del = v["action"]["id"].as_i64().unwrap();
    let st = api
        .wait_for(
            &format!("/actions/{del}"),
            |v| v["action"]["status"].clone(),
            json!("error"),
        )
        .await;
    assert_eq!(st, "error");
    let (status, s) = api.get(&format!("/servers/{sid}")).await;
    assert_eq!(
        (status.as_u16(), s["server"]["status"].clone()),
        (200, json!("off"))
    );
    let (status, _) = api
        .call(Method::DELETE, &format!("/servers/{sid}"), None)
        .await;
    assert_eq!(status, 200);
    let code = api
        .wait_for(
            &format!("/servers/{sid}"),
            |v| v["error"]["code"].clone(),
            json!("not_found"),
        )
        .await;
    assert_eq!(code, "not_found");
}
