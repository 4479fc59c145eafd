//! Joining the store's Plain VM records with what Hetzner reports, and reconciling the two.
//!
//! Pure functions (no I/O): the worker fetches servers and firewalls with the label selector
//! `crabglamp/vm-id` ([`labels::MANAGED_SELECTOR`]), then
//! - [`reconcile`] says which store records to rewrite (status, IPs, server type from Hetzner;
//!   `vanished` when the server is gone) and which labelled servers to adopt into the store
//!   (issue 3 item 9: "a fresh store can rebuild its VM records from what Hetzner holds");
//! - [`rows`] joins records and servers into the [`VmRow`]s the dashboard shows, including
//!   unmanaged rows for labelled servers the store does not know (docs/ARCHITECTURE.md "Data": shown, not
//!   dropped).
//!
//! Hetzner is the source of truth for servers and firewalls; the store keeps what Hetzner does
//! not (account, tier, billing, keys, history).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{
    BillingPeriod, BillingType, ImageKey, OwnershipPeriod, Region, Tier, VmRecord, VmStatus,
    default_server_type, labels, validate_account_slug,
};
use crate::hetzner::{Firewall, FirewallResource, Server};
use crate::protocol::{FirewallView, RuleView, VmRow};

/// What Hetzner held at the last successful sync: the labelled servers and firewalls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HetznerView {
    /// Servers matching the label selector `crabglamp/vm-id`.
    pub servers: Vec<Server>,
    /// Firewalls matching the label selector `crabglamp/vm-id`.
    pub firewalls: Vec<Firewall>,
}

/// The store changes one sync implies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    /// Known records whose fields changed (status, IPs, server type, server/firewall ids,
    /// `vanished`, `deleted`), to be written back.
    pub updates: Vec<VmRecord>,
    /// Records rebuilt from the labels of servers the store did not know, with complete labels
    /// (VM id, account, tier, region, image, billing type), to be added to the store.
    pub adopted: Vec<VmRecord>,
    /// Ids of known records whose Hetzner server is gone (now `vanished` or, when a destroy
    /// was under way, `deleted`).
    pub vanished: Vec<Uuid>,
}

/// A server's labels parsed into the platform's fields; `None` where a label is missing or
/// not a valid value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFields {
    /// `crabglamp/vm-id` as a UUID.
    pub vm_id: Option<Uuid>,
    /// `crabglamp/account`, a valid account slug (docs/product-rules.md §2).
    pub account: Option<String>,
    /// `crabglamp/tier`.
    pub tier: Option<Tier>,
    /// `crabglamp/region`.
    pub region: Option<Region>,
    /// `crabglamp/image`.
    pub image: Option<ImageKey>,
    /// `crabglamp/billing-type`.
    pub billing_type: Option<BillingType>,
}

impl LabelFields {
    /// Parse the `crabglamp/*` labels of a server (docs/ARCHITECTURE.md "Data"; domain [`labels`]).
    pub fn parse(map: &BTreeMap<String, String>) -> LabelFields {
        let get = |k: &str| map.get(k).map(String::as_str);
        LabelFields {
            vm_id: get(labels::VM_ID).and_then(|v| Uuid::parse_str(v).ok()),
            account: get(labels::ACCOUNT)
                .filter(|s| validate_account_slug(s).is_ok())
                .map(str::to_string),
            tier: get(labels::TIER).and_then(|v| v.parse().ok()),
            region: get(labels::REGION).and_then(|v| v.parse().ok()),
            image: get(labels::IMAGE).and_then(|v| v.parse().ok()),
            billing_type: get(labels::BILLING_TYPE).and_then(|v| v.parse().ok()),
        }
    }

    /// True when every field needed to rebuild a VM record is present and valid.
    pub fn is_complete(&self) -> bool {
        self.vm_id.is_some()
            && self.account.is_some()
            && self.tier.is_some()
            && self.region.is_some()
            && self.image.is_some()
            && self.billing_type.is_some()
    }
}

/// Matches records to servers: by the `crabglamp/vm-id` label first, then by the record's
/// Hetzner server id (only when that server carries no other VM's id).
struct Matcher<'a> {
    by_vm_id: HashMap<Uuid, &'a Server>,
    by_server_id: HashMap<i64, &'a Server>,
}

impl<'a> Matcher<'a> {
    fn new(servers: &'a [Server]) -> Self {
        let mut by_vm_id = HashMap::new();
        let mut by_server_id = HashMap::new();
        for s in servers {
            if let Some(id) = LabelFields::parse(&s.labels).vm_id {
                by_vm_id.entry(id).or_insert(s);
            }
            by_server_id.insert(s.id, s);
        }
        Matcher {
            by_vm_id,
            by_server_id,
        }
    }

    fn server_for(&self, rec: &VmRecord) -> Option<&'a Server> {
        if let Some(s) = self.by_vm_id.get(&rec.id) {
            return Some(s);
        }
        let s = self.by_server_id.get(&rec.hetzner_server_id?)?;
        match LabelFields::parse(&s.labels).vm_id {
            Some(other) if other != rec.id => None,
            _ => Some(s),
        }
    }
}

/// The store changes implied by `view`, for the records `records`, at `now` (UTC).
///
/// Rules:
/// - a `deleted` record is final and never rewritten;
/// - a record whose server is listed takes status (domain [`VmStatus::from_hetzner`]), IPv4,
///   IPv6 network, server type name, server id and — when it had none — firewall id from
///   Hetzner; `deleted`, `destroying` and `failed` are kept (a destroy cannot be cancelled:
///   docs/product-rules.md §2); `provisionedAt` is set to `now` the first time the server is seen past
///   provisioning;
/// - a record whose server is not listed becomes `vanished` — or `deleted` with
///   `destroyedAt = now` when it was `destroying`; records already `deleted`, `vanished` or
///   `failed`, and `provisioning` records without a server id yet (create in flight), are left
///   alone;
/// - a labelled server no record matches is adopted when its labels are complete
///   ([`LabelFields::is_complete`]) and its VM id is not already in the store.
pub fn reconcile(records: &[VmRecord], view: &HetznerView, now: DateTime<Utc>) -> Reconciliation {
    let matcher = Matcher::new(&view.servers);
    let mut out = Reconciliation::default();
    let mut matched: HashSet<i64> = HashSet::new();
    let known: HashSet<Uuid> = records.iter().map(|r| r.id).collect();

    for rec in records {
        if rec.status == VmStatus::Deleted {
            // Deleted is final (docs/product-rules.md §2): never rewritten, even if its old server id is
            // reused by another server.
            if let Some(server) = matcher.server_for(rec) {
                matched.insert(server.id);
            }
            continue;
        }
        match matcher.server_for(rec) {
            Some(server) => {
                matched.insert(server.id);
                let fw = firewall_for(rec, server, &view.firewalls).map(|f| f.id);
                let updated = refresh_from_server(rec, server, fw, now);
                if updated != *rec {
                    out.updates.push(updated);
                }
            }
            None => {
                let leave = matches!(rec.status, VmStatus::Vanished | VmStatus::Failed)
                    || (rec.status == VmStatus::Provisioning && rec.hetzner_server_id.is_none());
                if leave {
                    continue;
                }
                let mut updated = rec.clone();
                if rec.status == VmStatus::Destroying {
                    updated.status = VmStatus::Deleted;
                    updated.destroyed_at = Some(now);
                } else {
                    updated.status = VmStatus::Vanished;
                }
                out.vanished.push(rec.id);
                out.updates.push(updated);
            }
        }
    }

    for server in &view.servers {
        if matched.contains(&server.id) {
            continue;
        }
        let fields = LabelFields::parse(&server.labels);
        let id_free = fields.vm_id.is_some_and(|id| !known.contains(&id));
        if fields.is_complete() && id_free {
            let fw = firewall_for_server(server, fields.vm_id, None, &view.firewalls).map(|f| f.id);
            let mut rec = record_from_labels(server);
            rec.hetzner_firewall_id = fw;
            out.adopted.push(rec);
        }
    }
    out
}

/// `rec` with the fields Hetzner owns taken from `server` (see [`reconcile`] for the rules).
fn refresh_from_server(
    rec: &VmRecord,
    server: &Server,
    firewall_id: Option<i64>,
    now: DateTime<Utc>,
) -> VmRecord {
    let mut r = rec.clone();
    if !matches!(rec.status, VmStatus::Destroying | VmStatus::Failed) {
        r.status = VmStatus::from_hetzner(server.status.as_str());
    }
    if r.provisioned_at.is_none() && past_provisioning(r.status) {
        r.provisioned_at = Some(now);
    }
    r.ipv4 = server.ipv4().map(str::to_string);
    r.ipv6 = server.ipv6_network().map(str::to_string);
    r.server_type = server.server_type.name.clone();
    r.hetzner_server_id = Some(server.id);
    if r.hetzner_firewall_id.is_none() {
        r.hetzner_firewall_id = firewall_id;
    }
    r
}

fn past_provisioning(status: VmStatus) -> bool {
    matches!(
        status,
        VmStatus::Running | VmStatus::Starting | VmStatus::Stopping | VmStatus::Stopped
    )
}

/// A VM record rebuilt from a server's labels. Missing or invalid labels fall back to what the
/// server itself says (tier from the default server-type table, region from the location,
/// image from the server's image name) and otherwise to `small` / `eu` / `ubuntu-24.04` /
/// `metered`; a missing VM id becomes a UUID derived from the server id; a missing account is
/// the raw label text or empty. Such a record is only shown (unmanaged), never stored.
pub fn record_from_labels(server: &Server) -> VmRecord {
    let f = LabelFields::parse(&server.labels);
    let location_region = server.location_name().and_then(Region::from_location);
    let region = f.region.or(location_region).unwrap_or(Region::Eu);
    let tier = f
        .tier
        .or_else(|| tier_for_server_type(&server.server_type.name, region))
        .unwrap_or(Tier::Small);
    let image = f
        .image
        .or_else(|| {
            server
                .image
                .as_ref()
                .and_then(|i| i.name.as_deref())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(ImageKey::Ubuntu2404);
    let billing_type = f.billing_type.unwrap_or(BillingType::Metered);
    let account = f.account.clone().unwrap_or_else(|| {
        server
            .labels
            .get(labels::ACCOUNT)
            .cloned()
            .unwrap_or_default()
    });
    let id = f
        .vm_id
        .unwrap_or_else(|| Uuid::from_u64_pair(0, server.id.unsigned_abs()));
    let status = VmStatus::from_hetzner(server.status.as_str());
    let created = server.created;
    VmRecord {
        id,
        name: server.name.clone(),
        account: account.clone(),
        tier,
        region,
        image,
        billing_type,
        status,
        created_at: created,
        provisioned_at: past_provisioning(status).then_some(created),
        destroyed_at: None,
        hetzner_server_id: Some(server.id),
        hetzner_firewall_id: None,
        server_type: server.server_type.name.clone(),
        ipv4: server.ipv4().map(str::to_string),
        ipv6: server.ipv6_network().map(str::to_string),
        keys: Vec::new(),
        ownership: vec![OwnershipPeriod {
            from: created,
            account,
        }],
        billing: vec![BillingPeriod {
            from: created,
            billing_type,
        }],
        failure: None,
    }
}

/// The tier whose default server type in `region` is `name` (docs/product-rules.md §2 defaults).
fn tier_for_server_type(name: &str, region: Region) -> Option<Tier> {
    Tier::ALL
        .iter()
        .copied()
        .find(|t| default_server_type(*t, region) == name)
}

/// The VM's own firewall: the record's firewall id when listed, else one applied to the server
/// (directly or via a label selector), else one labelled with the VM's id.
fn firewall_for<'a>(
    rec: &VmRecord,
    server: &Server,
    firewalls: &'a [Firewall],
) -> Option<&'a Firewall> {
    firewall_for_server(server, Some(rec.id), rec.hetzner_firewall_id, firewalls)
}

fn firewall_for_server<'a>(
    server: &Server,
    vm_id: Option<Uuid>,
    firewall_id: Option<i64>,
    firewalls: &'a [Firewall],
) -> Option<&'a Firewall> {
    if let Some(f) = firewall_id.and_then(|id| firewalls.iter().find(|f| f.id == id)) {
        return Some(f);
    }
    if let Some(f) = firewalls
        .iter()
        .find(|f| applied_server_ids(f).contains(&server.id))
    {
        return Some(f);
    }
    let vm = vm_id?.to_string();
    firewalls
        .iter()
        .find(|f| f.labels.get(labels::VM_ID) == Some(&vm))
}

/// Server ids a firewall is applied to, directly or through a label selector.
pub fn applied_server_ids(f: &Firewall) -> Vec<i64> {
    let mut ids = Vec::new();
    for r in &f.applied_to {
        match r {
            FirewallResource::Server { server } => ids.push(server.id),
            FirewallResource::LabelSelector {
                applied_to_resources,
                ..
            } => {
                for inner in applied_to_resources {
                    if let FirewallResource::Server { server } = inner {
                        ids.push(server.id);
                    }
                }
            }
            FirewallResource::Unknown => {}
        }
    }
    ids
}

/// The wire spelling of a serde enum value (e.g. `Direction::In` → `in`).
fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("unknown"),
    }
}

/// A firewall as the dashboard shows it (rules in Hetzner's order).
pub fn firewall_view(f: &Firewall) -> FirewallView {
    FirewallView {
        id: f.id,
        name: f.name.clone(),
        rules: f
            .rules
            .iter()
            .map(|r| RuleView {
                direction: wire_name(&r.direction),
                protocol: wire_name(&r.protocol),
                port: r.port.clone().unwrap_or_default(),
                source_ips: r.source_ips.clone(),
                description: r.description.clone().unwrap_or_default(),
            })
            .collect(),
        applied_to: applied_server_ids(f),
    }
}

fn row_with_server(
    record: VmRecord,
    managed: bool,
    server: &Server,
    fw: Option<&Firewall>,
) -> VmRow {
    VmRow {
        record,
        managed,
        hetzner_status: Some(server.status.as_str().to_string()),
        location: server.location_name().map(str::to_string),
        cores: Some(server.server_type.cores),
        memory_gb: Some(server.server_type.memory),
        disk_gb: Some(server.server_type.disk),
        labels: server.labels.clone(),
        firewall: fw.map(firewall_view),
    }
}

/// The VM list: every store record (managed), joined with its server and firewall when `view`
/// holds them, then one unmanaged row per labelled server no record matches (record rebuilt by
/// [`record_from_labels`]). Without a view (start-up, before the first sync) rows carry the
/// store's data only.
pub fn rows(records: &[VmRecord], view: Option<&HetznerView>) -> Vec<VmRow> {
    let Some(view) = view else {
        return records
            .iter()
            .map(|r| VmRow {
                record: r.clone(),
                managed: true,
                hetzner_status: None,
                location: Some(r.region.location().to_string()),
                cores: None,
                memory_gb: None,
                disk_gb: None,
                labels: BTreeMap::new(),
                firewall: None,
            })
            .collect();
    };
    let matcher = Matcher::new(&view.servers);
    let mut matched: HashSet<i64> = HashSet::new();
    let mut out = Vec::with_capacity(records.len());
    for rec in records {
        match matcher.server_for(rec) {
            Some(server) if rec.status != VmStatus::Deleted => {
                matched.insert(server.id);
                let fw = firewall_for(rec, server, &view.firewalls);
                out.push(row_with_server(rec.clone(), true, server, fw));
            }
            other => {
                if let Some(s) = other {
                    matched.insert(s.id);
                }
                let firewall = rec
                    .hetzner_firewall_id
                    .and_then(|id| view.firewalls.iter().find(|f| f.id == id))
                    .map(firewall_view);
                out.push(VmRow {
                    record: rec.clone(),
                    managed: true,
                    hetzner_status: None,
                    location: Some(rec.region.location().to_string()),
                    cores: None,
                    memory_gb: None,
                    disk_gb: None,
                    labels: BTreeMap::new(),
                    firewall,
                });
            }
        }
    }
    for server in &view.servers {
        if matched.contains(&server.id) {
            continue;
        }
        let vm_id = LabelFields::parse(&server.labels).vm_id;
        let fw = firewall_for_server(server, vm_id, None, &view.firewalls);
        out.push(row_with_server(
            record_from_labels(server),
            false,
            server,
            fw,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const VM1: &str = "6f1c1d2e-0000-4000-8000-000000000001";
    const VM2: &str = "6f1c1d2e-0000-4000-8000-000000000002";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
    }

    fn full_labels(vm: &str, account: &str) -> serde_json::Value {
        serde_json::json!({
            "crabglamp/vm-id": vm, "crabglamp/account": account, "crabglamp/tier": "medium",
            "crabglamp/region": "eu", "crabglamp/image": "debian-12",
            "crabglamp/billing-type": "subscription"
        })
    }

    fn server(id: i64, status: &str, labels: serde_json::Value) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("srv-{id}"), "status": status,
            "created": "2026-11-01T10:00:00+00:00",
            "public_net": {
                "ipv4": {"id": 1, "ip": format!("203.0.113.{id}"), "blocked": false, "dns_ptr": "x"},
                "ipv6": {"id": 2, "ip": "2001:db8::/64", "blocked": false, "dns_ptr": []},
                "floating_ips": [], "firewalls": []
            },
            "server_type": {"id": 3, "name": "cpx32", "description": "CPX32", "cores": 4,
                "memory": 8.0, "disk": 160, "cpu_type": "shared", "architecture": "x86",
                "prices": []},
            "location": {"id": 3, "name": "hel1", "description": "Helsinki", "country": "FI",
                "city": "Helsinki", "latitude": 60.1, "longitude": 24.9,
                "network_zone": "eu-central"},
            "datacenter": null, "image": null, "labels": labels, "primary_disk_size": 160
        }))
        .unwrap()
    }

    fn firewall(id: i64, server_id: i64) -> Firewall {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("fw-{id}"), "labels": {}, "created": "2026-11-01T10:00:00+00:00",
            "rules": [{"direction": "in", "protocol": "tcp", "port": "22",
                "source_ips": ["0.0.0.0/0", "::/0"], "destination_ips": [], "description": null}],
            "applied_to": [{"type": "server", "server": {"id": server_id}}]
        }))
        .unwrap()
    }

    fn record(vm: &str, server_id: Option<i64>, status: VmStatus) -> VmRecord {
        let created = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        VmRecord {
            id: Uuid::parse_str(vm).unwrap(),
            name: "web-1".into(),
            account: "acme".into(),
            tier: Tier::Medium,
            region: Region::Eu,
            image: ImageKey::Debian12,
            billing_type: BillingType::Metered,
            status,
            created_at: created,
            provisioned_at: None,
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

    #[test]
    fn known_vm_takes_status_ips_and_firewall_from_hetzner() {
        let view = HetznerView {
            servers: vec![server(
                7,
                "off",
                serde_json::json!({"crabglamp/vm-id": VM1}),
            )],
            firewalls: vec![firewall(70, 7)],
        };
        let recs = vec![record(VM1, None, VmStatus::Provisioning)];
        let r = reconcile(&recs, &view, now());
        assert_eq!(r.updates.len(), 1);
        let u = &r.updates[0];
        assert_eq!(u.status, VmStatus::Stopped);
        assert_eq!(u.ipv4.as_deref(), Some("203.0.113.7"));
        assert_eq!(u.ipv6.as_deref(), Some("2001:db8::/64"));
        assert_eq!(u.hetzner_server_id, Some(7));
        assert_eq!(u.hetzner_firewall_id, Some(70));
        assert_eq!(u.provisioned_at, Some(now()));
        assert!(r.adopted.is_empty() && r.vanished.is_empty());

        let rows = rows(&r.updates, Some(&view));
        assert_eq!(rows.len(), 1);
        assert!(rows[0].managed);
        assert_eq!(rows[0].hetzner_status.as_deref(), Some("off"));
        assert_eq!(rows[0].location.as_deref(), Some("hel1"));
        assert_eq!((rows[0].cores, rows[0].disk_gb), (Some(4), Some(160)));
        let fw = rows[0].firewall.as_ref().unwrap();
        assert_eq!((fw.id, fw.applied_to.clone()), (70, vec![7]));
        assert_eq!(fw.rules[0].protocol, "tcp");
        assert_eq!(fw.rules[0].port, "22");
    }

    #[test]
    fn gone_server_marks_vanished_and_destroying_becomes_deleted() {
        let view = HetznerView::default();
        let recs = vec![
            record(VM1, Some(7), VmStatus::Running),
            record(VM2, Some(8), VmStatus::Destroying),
            record(
                "6f1c1d2e-0000-4000-8000-000000000003",
                Some(9),
                VmStatus::Deleted,
            ),
            record(
                "6f1c1d2e-0000-4000-8000-000000000004",
                None,
                VmStatus::Provisioning,
            ),
        ];
        let r = reconcile(&recs, &view, now());
        let statuses: Vec<(Uuid, VmStatus)> = r.updates.iter().map(|u| (u.id, u.status)).collect();
        assert_eq!(
            statuses,
            vec![
                (Uuid::parse_str(VM1).unwrap(), VmStatus::Vanished),
                (Uuid::parse_str(VM2).unwrap(), VmStatus::Deleted)
            ]
        );
        assert_eq!(r.updates[1].destroyed_at, Some(now()));
        assert_eq!(r.vanished.len(), 2);
    }

    #[test]
    fn unknown_labelled_servers_are_adopted_only_with_complete_labels() {
        let view = HetznerView {
            servers: vec![
                server(7, "running", full_labels(VM1, "acme")),
                server(8, "running", serde_json::json!({"crabglamp/vm-id": VM2})),
            ],
            firewalls: vec![firewall(71, 7)],
        };
        let r = reconcile(&[], &view, now());
        assert_eq!(r.adopted.len(), 1);
        let a = &r.adopted[0];
        assert_eq!(a.id, Uuid::parse_str(VM1).unwrap());
        assert_eq!(
            (a.account.as_str(), a.tier, a.region),
            ("acme", Tier::Medium, Region::Eu)
        );
        assert_eq!(
            (a.image, a.billing_type),
            (ImageKey::Debian12, BillingType::Subscription)
        );
        assert_eq!(a.hetzner_firewall_id, Some(71));
        assert_eq!(a.status, VmStatus::Running);

        let shown = rows(&[], Some(&view));
        assert_eq!(shown.len(), 2);
        assert!(shown.iter().all(|r| !r.managed));
        let partial = &shown[1].record;
        assert_eq!(partial.id, Uuid::parse_str(VM2).unwrap());
        assert_eq!(partial.account, "");
        assert_eq!((partial.tier, partial.region), (Tier::Medium, Region::Eu));
    }

    #[test]
    fn deleted_records_are_final_even_when_their_server_id_is_reused() {
        let view = HetznerView {
            servers: vec![server(9, "running", serde_json::json!({}))],
            firewalls: vec![],
        };
        let recs = vec![record(VM1, Some(9), VmStatus::Deleted)];
        let r = reconcile(&recs, &view, now());
        assert_eq!(r, Reconciliation::default());
        let shown = rows(&recs, Some(&view));
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].record.status, VmStatus::Deleted);
        assert_eq!(shown[0].hetzner_status, None);
    }

    #[test]
    fn rows_without_a_view_come_from_the_store_only() {
        let recs = vec![record(VM1, Some(7), VmStatus::Running)];
        let shown = rows(&recs, None);
        assert_eq!(shown.len(), 1);
        assert!(shown[0].managed);
        assert_eq!(shown[0].hetzner_status, None);
        assert_eq!(shown[0].location.as_deref(), Some("hel1"));
    }
}
