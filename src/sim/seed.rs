//! Direct seeding of the sim state (no actions): the built-in demo set, bulk data for
//! benchmarks, and single servers/firewalls for the demo data generator.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use super::catalog::CATALOG;
use super::ssh_keys::md5_fingerprint;
use super::state::{Firewall, Server, SshKey, State, merge};
use super::validate;
use super::{FirewallSeed, ServerSeed};

/// Server status values of Hetzner's enum.
const STATUSES: &[&str] = &[
    "running",
    "initializing",
    "starting",
    "stopping",
    "off",
    "deleting",
    "migrating",
    "rebuilding",
    "unknown",
];

/// Default server type per (tier, region): docs/product-rules.md §2.
pub(crate) fn tier_type(tier: &str, region: &str) -> &'static str {
    match (tier, region) {
        ("small", "us") => "cpx21",
        ("medium", "us") => "cpx31",
        ("large", "us") => "cpx41",
        ("small", _) => "cpx22",
        ("medium", _) => "cpx32",
        _ => "cpx42",
    }
}

/// Hetzner location of a CrabGlamp region: docs/product-rules.md §2 (US = `hil`, EU = `hel1`).
pub(crate) fn region_location(region: &str) -> &'static str {
    if region == "us" { "hil" } else { "hel1" }
}

/// A deterministic v4-format UUID derived from `seed` (stable demo data across runs).
fn stable_uuid(seed: &str) -> String {
    let mut bytes = [0u8; 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, b) in bytes.iter_mut().enumerate() {
        for c in seed.bytes().chain([i as u8]) {
            h ^= u64::from(c);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        *b = (h >> 24) as u8;
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Add a server as described (status as given, no actions); returns its id.
pub(crate) fn add_server(st: &mut State, s: &ServerSeed) -> i64 {
    let location = CATALOG
        .locations
        .iter()
        .position(|l| l.name == s.location)
        .unwrap_or(0);
    let loc_name = CATALOG.locations[location].name;
    let server_type = CATALOG
        .server_types
        .iter()
        .position(|t| t.name == s.server_type)
        .or_else(|| {
            CATALOG
                .server_types
                .iter()
                .position(|t| t.sold_in(loc_name))
        })
        .unwrap_or(0);
    let arch = CATALOG.server_types[server_type].architecture;
    let image = CATALOG
        .images
        .iter()
        .position(|i| i.name == s.image && i.architecture == arch);
    let status = STATUSES
        .iter()
        .find(|x| **x == s.status)
        .copied()
        .unwrap_or("running");
    let id = st.new_server_id();
    let (v4, v6) = st.new_ips();
    let age_days = (Utc::now() - s.created).num_days().max(0);
    st.servers.insert(
        id,
        Server {
            id,
            name: s.name.clone(),
            created: s.created,
            server_type,
            location,
            image,
            labels: s.labels.clone(),
            timeline: vec![(s.created, status)],
            busy_until: s.created,
            gone_at: None,
            ipv4: Some(v4),
            ipv6: Some(v6),
            user_data: None,
            ssh_keys: Vec::new(),
            patch: None,
            outgoing_traffic: age_days * 1_250_000_000 + id % 1000 * 1_000_000,
            ingoing_traffic: age_days * 380_000_000 + id % 777 * 1_000_000,
        },
    );
    for fid in &s.firewall_ids {
        if let Some(fw) = st.firewalls.get_mut(fid)
            && !fw.direct.iter().any(|(sid, _)| *sid == id)
        {
            fw.direct.push((id, s.created));
        }
    }
    id
}

/// Add a firewall as described (applied at once, no actions); returns its id.
pub(crate) fn add_firewall(st: &mut State, f: &FirewallSeed) -> i64 {
    let rules = match validate::rules(Some(&f.rules)) {
        Ok(r) => r,
        Err(errs) => {
            tracing::warn!(
                "sim: dropping invalid seed rules of firewall {}: {errs:?}",
                f.name
            );
            Vec::new()
        }
    };
    let id = st.new_firewall_id();
    let now = Utc::now();
    let direct = f
        .applied_to
        .iter()
        .filter(|sid| st.servers.contains_key(sid))
        .map(|sid| {
            let at = st.servers.get(sid).map(|s| s.created).unwrap_or(now);
            (*sid, at)
        })
        .collect();
    st.firewalls.insert(
        id,
        Firewall {
            id,
            name: f.name.clone(),
            labels: f.labels.clone(),
            created: now,
            rules,
            direct,
            selectors: Vec::new(),
        },
    );
    id
}

/// Add an SSH key directly; `None` when the key does not parse or its fingerprint or name is
/// already stored.
pub(crate) fn add_ssh_key(
    st: &mut State,
    name: &str,
    public_key: &str,
    labels: BTreeMap<String, String>,
) -> Option<i64> {
    let public_key = public_key.trim_end().to_string();
    let fingerprint = md5_fingerprint(&public_key).ok()?;
    if st
        .ssh_keys
        .values()
        .any(|k| k.fingerprint == fingerprint || k.name == name)
    {
        return None;
    }
    let id = st.new_ssh_key_id();
    st.ssh_keys.insert(
        id,
        SshKey {
            id,
            name: name.to_string(),
            fingerprint,
            public_key,
            labels,
            created: Utc::now() - TimeDelta::days(95),
        },
    );
    Some(id)
}

/// Demo SSH keys: (name, account, OpenSSH public key).
const DEMO_KEYS: [(&str, &str, &str); 3] = [
    (
        "alice-laptop",
        "alice",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMFc4QP6yCA7SZZakamk2kZVlcNAoRsQrh8oZkH9znSc alice@laptop",
    ),
    (
        "acme-deploy",
        "acme",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJI5F4p/Xts3gaux7LaVN4BYeIBP0XgBPQr4+Zrp4SpypiiqYarJOuFp4+bEvHxB9KrqRhNXZ/pO+JYyxjIiUQ8= deploy@acme",
    ),
    (
        "globex-ops",
        "globex",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHLcOVcmVOSYR/T04cdne240mdPdo1Qw88LlzdTp2K9J ops@globex",
    ),
];

/// Merge `patch` into the server's stored JSON patch.
pub(crate) fn patch_server(st: &mut State, id: i64, patch: &Value) {
    if let Some(s) = st.servers.get_mut(&id) {
        match &mut s.patch {
            Some(existing) => merge(existing, patch),
            None => s.patch = Some(patch.clone()),
        }
    }
}

fn ssh_rule() -> Value {
    json!({"direction": "in", "protocol": "tcp", "port": "22",
           "source_ips": ["0.0.0.0/0", "::/0"], "description": "ssh"})
}

/// `servers` running servers and `firewalls` firewalls, quickly (for benchmarks).
pub(crate) fn bulk(st: &mut State, servers: usize, firewalls: usize) {
    let now = Utc::now();
    let tiers = ["small", "medium", "large"];
    let regions = ["us", "eu"];
    let mut ids = Vec::with_capacity(servers);
    let base = st.servers.len() + 1;
    for i in 0..servers {
        let tier = tiers[i % 3];
        let region = regions[(i / 3) % 2];
        let mut labels = BTreeMap::new();
        labels.insert("crabglamp/account".into(), format!("acct-{}", i % 50));
        labels.insert("crabglamp/tier".into(), tier.into());
        labels.insert("crabglamp/region".into(), region.into());
        labels.insert("bulk".into(), "true".into());
        ids.push(add_server(
            st,
            &ServerSeed {
                name: format!("bulk-{:06}", base + i),
                server_type: tier_type(tier, region).into(),
                location: region_location(region).into(),
                image: "debian-12".into(),
                labels,
                created: now - TimeDelta::hours((i % (90 * 24)) as i64),
                status: if i % 7 == 6 { "off" } else { "running" }.into(),
                firewall_ids: Vec::new(),
            },
        ));
    }
    let fw_base = st.firewalls.len() + 1;
    for j in 0..firewalls {
        add_firewall(
            st,
            &FirewallSeed {
                name: format!("bulk-fw-{:06}", fw_base + j),
                labels: BTreeMap::from([("bulk".to_string(), "true".to_string())]),
                rules: json!([ssh_rule()]),
                applied_to: ids.get(j).copied().into_iter().collect(),
            },
        );
    }
}

/// A demo VM: (name, account, tier, region, image, billing type, status, days ago).
type DemoVm = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

/// The built-in demo set: 15 Plain VMs with their `vm-<name>` firewalls, and 3 SSH keys.
pub(crate) fn demo(st: &mut State) {
    for (name, account, key) in DEMO_KEYS {
        let labels = BTreeMap::from([("crabglamp/account".to_string(), account.to_string())]);
        add_ssh_key(st, name, key, labels);
    }
    let vms: [DemoVm; 15] = [
        (
            "alice-dev",
            "alice",
            "small",
            "eu",
            "debian-12",
            "metered",
            "running",
            3,
        ),
        (
            "alice-blog",
            "alice",
            "small",
            "us",
            "ubuntu-24.04",
            "subscription",
            "running",
            61,
        ),
        (
            "alice-scratch",
            "alice",
            "small",
            "eu",
            "fedora-43",
            "metered",
            "off",
            12,
        ),
        (
            "acme-web-1",
            "acme",
            "medium",
            "us",
            "ubuntu-24.04",
            "subscription",
            "running",
            88,
        ),
        (
            "acme-web-2",
            "acme",
            "medium",
            "us",
            "ubuntu-24.04",
            "subscription",
            "running",
            88,
        ),
        (
            "acme-db",
            "acme",
            "large",
            "us",
            "debian-13",
            "subscription",
            "running",
            75,
        ),
        (
            "acme-ci",
            "acme",
            "large",
            "eu",
            "ubuntu-22.04",
            "metered",
            "running",
            30,
        ),
        (
            "acme-staging",
            "acme",
            "small",
            "eu",
            "debian-12",
            "metered",
            "off",
            21,
        ),
        (
            "acme-vpn", "acme", "small", "us", "alma-10", "metered", "running", 45,
        ),
        (
            "globex-api",
            "globex",
            "medium",
            "eu",
            "rocky-10",
            "subscription",
            "running",
            52,
        ),
        (
            "globex-worker-1",
            "globex",
            "large",
            "eu",
            "debian-13",
            "metered",
            "running",
            9,
        ),
        (
            "globex-worker-2",
            "globex",
            "large",
            "eu",
            "debian-13",
            "metered",
            "running",
            9,
        ),
        (
            "globex-analytics",
            "globex",
            "medium",
            "us",
            "fedora-43",
            "metered",
            "off",
            40,
        ),
        (
            "globex-mail",
            "globex",
            "small",
            "eu",
            "alma-10",
            "subscription",
            "running",
            66,
        ),
        (
            "globex-legacy",
            "globex",
            "small",
            "us",
            "ubuntu-22.04",
            "subscription",
            "off",
            90,
        ),
    ];
    let now = Utc::now();
    for (i, (name, account, tier, region, image, billing, status, days)) in
        vms.into_iter().enumerate()
    {
        let vm_id = stable_uuid(name);
        let labels: BTreeMap<String, String> = [
            ("crabglamp/vm-id", vm_id.as_str()),
            ("crabglamp/account", account),
            ("crabglamp/tier", tier),
            ("crabglamp/region", region),
            ("crabglamp/image", image),
            ("crabglamp/billing-type", billing),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let created = now - TimeDelta::days(days) - TimeDelta::minutes(37 * i as i64);
        let sid = add_server(
            st,
            &ServerSeed {
                name: name.to_string(),
                server_type: tier_type(tier, region).into(),
                location: region_location(region).into(),
                image: image.to_string(),
                labels: labels.clone(),
                created,
                status: status.to_string(),
                firewall_ids: Vec::new(),
            },
        );
        let mut rules = vec![ssh_rule()];
        match i % 4 {
            0 => {
                rules.push(json!({"direction": "in", "protocol": "tcp", "port": "443",
                    "source_ips": ["0.0.0.0/0", "::/0"], "description": "https"}));
                rules.push(json!({"direction": "in", "protocol": "tcp", "port": "80",
                    "source_ips": ["0.0.0.0/0", "::/0"], "description": "http"}));
            }
            1 => rules.push(
                json!({"direction": "in", "protocol": "udp", "port": "60000-61000",
                "source_ips": ["0.0.0.0/0", "::/0"], "description": "mosh"}),
            ),
            2 => rules.push(
                json!({"direction": "in", "protocol": "tcp", "port": "8000-8100",
                "source_ips": ["10.0.0.0/8", "2001:db8::/32"], "description": "internal apps"}),
            ),
            _ => {}
        }
        let fw_labels: BTreeMap<String, String> = labels
            .iter()
            .filter(|(k, _)| *k == "crabglamp/vm-id" || *k == "crabglamp/account")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        add_firewall(
            st,
            &FirewallSeed {
                name: format!("vm-{name}"),
                labels: fw_labels,
                rules: Value::Array(rules),
                applied_to: vec![sid],
            },
        );
        if let Some(fw) = st.firewalls.values_mut().last() {
            fw.created = created;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_shape() {
        let mut st = State::new(std::time::Duration::from_millis(50), 100);
        demo(&mut st);
        assert_eq!(st.servers.len(), 15);
        assert_eq!(st.firewalls.len(), 15);
        let fps: Vec<&str> = st
            .ssh_keys
            .values()
            .map(|k| k.fingerprint.as_str())
            .collect();
        assert_eq!(
            fps,
            vec![
                "1c:76:ae:0c:3c:e5:2e:94:f4:54:fd:c3:fc:06:1a:e9",
                "34:40:82:db:c0:9b:a3:35:8e:90:0a:3b:4d:46:80:f0",
                "05:99:af:ec:63:e7:a0:05:95:57:5d:c3:c9:02:ed:87",
            ]
        );
        let now = Utc::now();
        let off = st
            .servers
            .values()
            .filter(|s| s.status(now) == "off")
            .count();
        assert_eq!(off, 4);
        for s in st.servers.values() {
            let fw = st
                .firewalls
                .values()
                .find(|f| f.name == format!("vm-{}", s.name))
                .unwrap();
            assert_eq!(
                fw.direct.iter().map(|d| d.0).collect::<Vec<_>>(),
                vec![s.id]
            );
            assert_eq!(fw.rules[0].port.as_deref(), Some("22"));
            assert_eq!(fw.rules[0].source_ips, vec!["0.0.0.0/0", "::/0"]);
            let loc = CATALOG.locations[s.location].name;
            let region = &s.labels["crabglamp/region"];
            assert_eq!(loc, region_location(region));
            assert_eq!(s.labels["crabglamp/vm-id"].len(), 36);
            assert!((now - s.created).num_days() <= 90);
        }
        assert_eq!(stable_uuid("x"), stable_uuid("x"));
        assert_ne!(stable_uuid("x"), stable_uuid("y"));
    }

    #[test]
    fn bulk_seed_counts() {
        let mut st = State::new(std::time::Duration::from_millis(50), 100);
        bulk(&mut st, 120, 10);
        assert_eq!(st.servers.len(), 120);
        assert_eq!(st.firewalls.len(), 10);
        assert!(st.firewalls.values().all(|f| f.direct.len() == 1));
    }
}
