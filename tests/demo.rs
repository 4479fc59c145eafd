//! Demo data against the fake Hetzner API: the seeded servers and firewalls are what the
//! records say, and the store seeded afterwards carries the API's ids.

mod common;

use chrono::{TimeZone, Utc};
use common::harness::{TOKEN, start_sim, temporary_store};
use crabglamp::demo;
use crabglamp::domain::labels;
use crabglamp::sim::SimConfig;
use serde_json::Value;

async fn get(client: &reqwest::Client, url: String) -> Value {
    client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn seeded_sim_matches_the_records() {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap();
    let sim = start_sim(SimConfig::default()).await;
    let mut data = demo::generate(now);
    let ids = demo::seed_sim(&sim, &data).await;
    assert_eq!(ids.len(), 15);
    // On a fresh fake API the generated ids are already the assigned ones.
    let before = data.clone();
    data.apply_hetzner_ids(&ids);
    assert_eq!(data, before);

    let client = reqwest::Client::new();
    let base = sim.endpoint();
    let servers = get(
        &client,
        format!(
            "{base}/servers?label_selector={}&per_page=50",
            labels::VM_ID
        ),
    )
    .await;
    let servers = servers["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 15);

    let db = data.vms.iter().find(|v| v.name == "acme-db").unwrap();
    let server = get(
        &client,
        format!("{base}/servers/{}", db.hetzner_server_id.unwrap()),
    )
    .await;
    let server = &server["server"];
    assert_eq!(server["name"], "acme-db");
    assert_eq!(server["server_type"]["name"], "cpx42");
    assert_eq!(server["server_type"]["cores"], 8);
    assert_eq!(server["location"]["name"], "hel1");
    assert_eq!(server["status"], "running");
    assert_eq!(server["labels"][labels::VM_ID], db.id.to_string());
    assert_eq!(server["labels"][labels::ACCOUNT], "acme");
    assert_eq!(
        server["public_net"]["ipv4"]["ip"].as_str(),
        db.ipv4.as_deref()
    );
    assert_eq!(
        server["public_net"]["ipv6"]["ip"].as_str(),
        db.ipv6.as_deref()
    );

    let fw = get(
        &client,
        format!("{base}/firewalls/{}", db.hetzner_firewall_id.unwrap()),
    )
    .await;
    let fw = &fw["firewall"];
    assert_eq!(fw["name"], "crabglamp-acme-db");
    assert_eq!(fw["rules"][0]["description"], "日本語 office");
    assert_eq!(fw["rules"][1]["port"], "5432");
    assert_eq!(
        fw["applied_to"][0]["server"]["id"],
        db.hetzner_server_id.unwrap()
    );

    let off = data
        .vms
        .iter()
        .find(|v| v.name == "acme-ci-runner")
        .unwrap();
    let server = get(
        &client,
        format!("{base}/servers/{}", off.hetzner_server_id.unwrap()),
    )
    .await;
    assert_eq!(server["server"]["status"], "off");

    // The store seeded afterwards carries the fake API's ids.
    let store = temporary_store();
    demo::seed_store(&store, &data).unwrap();
    let stored = store.vm(db.id).unwrap().unwrap();
    assert_eq!(stored.hetzner_server_id, db.hetzner_server_id);
    assert_eq!(stored.hetzner_firewall_id, db.hetzner_firewall_id);
    sim.shutdown().await;
}
