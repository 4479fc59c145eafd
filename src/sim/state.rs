//! The sim's in-memory state and its JSON rendering.
//!
//! Time-dependent values (action progress, server status, firewall `pending`/`applied`) are
//! evaluated lazily from timestamps at the moment of each request (no background task).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::catalog::{self, CATALOG};
use super::error::ApiError;
use super::selector::Selector;
use super::validate::Rule;

/// Longest action duration honoured (1 day); longer configurations are clamped so timestamp
/// arithmetic cannot overflow.
const MAX_ACTION_DURATION: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Labels of a resource.
pub(crate) type Labels = BTreeMap<String, String>;

/// RFC 3339 with a `+00:00` offset, as Hetzner emits it.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An asynchronous action; its status is derived from `started`/`finishes`.
pub(crate) struct Action {
    pub id: i64,
    pub command: &'static str,
    pub started: DateTime<Utc>,
    pub finishes: DateTime<Utc>,
    /// `(id, type)` pairs, e.g. `(42, "server")`.
    pub resources: Vec<(i64, &'static str)>,
    /// `Some((code, message))`: the action ends with status `error` (injected failure).
    pub error: Option<(String, String)>,
}

impl Action {
    /// True when the action still runs at `now`.
    pub fn running(&self, now: DateTime<Utc>) -> bool {
        now < self.finishes
    }

    /// The action JSON at `now`: `running` with progress rising linearly from 0, then
    /// `success` (or `error` with `{code, message}` for an injected failure) with progress 100
    /// and `finished` set.
    pub fn json(&self, now: DateTime<Utc>) -> Value {
        let done = !self.running(now);
        let progress = if done {
            100
        } else {
            let total = (self.finishes - self.started).num_milliseconds().max(1);
            let elapsed = (now - self.started).num_milliseconds().max(0);
            (elapsed * 100 / total).clamp(0, 99)
        };
        let resources: Vec<Value> = self
            .resources
            .iter()
            .map(|(id, t)| json!({"id": id, "type": t}))
            .collect();
        let (status, error) = match (&self.error, done) {
            (_, false) => ("running", Value::Null),
            (None, true) => ("success", Value::Null),
            (Some((code, message)), true) => ("error", json!({"code": code, "message": message})),
        };
        json!({
            "id": self.id, "command": self.command, "status": status,
            "progress": progress, "started": ts(self.started),
            "finished": if done { Value::String(ts(self.finishes)) } else { Value::Null },
            "resources": resources, "error": error,
        })
    }

    /// `running`, `success` or `error` at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        match (self.running(now), &self.error) {
            (true, _) => "running",
            (false, None) => "success",
            (false, Some(_)) => "error",
        }
    }

    /// True when `(id, kind)` is among the action's resources.
    pub fn touches(&self, kind: &str, id: i64) -> bool {
        self.resources.iter().any(|(i, k)| *k == kind && *i == id)
    }

    /// True when any resource has type `kind`.
    pub fn touches_kind(&self, kind: &str) -> bool {
        self.resources.iter().any(|(_, k)| *k == kind)
    }
}

/// A server. Status follows `timeline` (the last entry at or before now).
pub(crate) struct Server {
    pub id: i64,
    pub name: String,
    pub created: DateTime<Utc>,
    /// Index into `CATALOG.server_types`.
    pub server_type: usize,
    /// Index into `CATALOG.locations`.
    pub location: usize,
    /// Index into `CATALOG.images`.
    pub image: Option<usize>,
    pub labels: Labels,
    pub timeline: Vec<(DateTime<Utc>, &'static str)>,
    /// Power actions are refused with `423 locked` until then.
    pub busy_until: DateTime<Utc>,
    /// Set by DELETE: the server disappears (404) at this time.
    pub gone_at: Option<DateTime<Utc>>,
    /// `(primary ip id, address)`.
    pub ipv4: Option<(i64, Ipv4Addr)>,
    /// `(primary ip id, /64 network address)`.
    pub ipv6: Option<(i64, Ipv6Addr)>,
    pub user_data: Option<String>,
    pub ssh_keys: Vec<i64>,
    /// A JSON object merged into the emitted JSON (test hook).
    pub patch: Option<Value>,
    pub outgoing_traffic: i64,
    pub ingoing_traffic: i64,
}

impl Server {
    /// Status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        self.timeline
            .iter()
            .rev()
            .find(|(t, _)| *t <= now)
            .map(|(_, s)| *s)
            .unwrap_or("initializing")
    }

    /// Replace future timeline entries by `entries` (drops all but the last past entry).
    pub fn schedule(&mut self, now: DateTime<Utc>, entries: &[(DateTime<Utc>, &'static str)]) {
        let current = self.status(now);
        self.timeline.clear();
        self.timeline.push((now, current));
        self.timeline.extend_from_slice(entries);
    }
}

/// A label-selector attachment of a firewall.
pub(crate) struct SelectorAttachment {
    pub text: String,
    pub selector: Selector,
    /// `pending` before, `applied` from this time.
    pub applied_at: DateTime<Utc>,
}

/// A firewall.
pub(crate) struct Firewall {
    pub id: i64,
    pub name: String,
    pub labels: Labels,
    pub created: DateTime<Utc>,
    pub rules: Vec<Rule>,
    /// Directly attached servers and the time the attachment becomes `applied`.
    pub direct: Vec<(i64, DateTime<Utc>)>,
    pub selectors: Vec<SelectorAttachment>,
}

/// An SSH key.
pub(crate) struct SshKey {
    pub id: i64,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    pub labels: Labels,
    pub created: DateTime<Utc>,
}

/// All mutable sim data.
pub(crate) struct State {
    pub action_duration: TimeDelta,
    pub max_servers: usize,
    next_server: i64,
    next_firewall: i64,
    next_ssh_key: i64,
    next_action: i64,
    next_ip: i64,
    pub servers: BTreeMap<i64, Server>,
    pub firewalls: BTreeMap<i64, Firewall>,
    pub ssh_keys: BTreeMap<i64, SshKey>,
    pub actions: BTreeMap<i64, Action>,
    deleting: BTreeSet<i64>,
    /// The next N actions created end with status `error`.
    fail_actions: u32,
    /// `(code, message)` of injected action failures.
    fail_action_error: (String, String),
}

/// A handler's successful reply.
pub(crate) struct Reply {
    pub status: u16,
    /// `None` → empty body (204).
    pub body: Option<Value>,
    /// RFC 5988 `Link` header for lists.
    pub link: Option<String>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            link: None,
        }
    }
    /// 201 with a body.
    pub fn created(body: Value) -> Reply {
        Reply {
            status: 201,
            body: Some(body),
            link: None,
        }
    }
    /// 204 without a body (and without `Content-Type`).
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            link: None,
        }
    }
}

/// RFC 7386-like merge, except that `null` sets the key to `null` instead of removing it.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A reference to a resource by id or by name.
pub(crate) enum IdOrName<'a> {
    Id(i64),
    Name(&'a str),
}

/// Read an id-or-name reference: JSON int, numeric string (id) or other string (name).
pub(crate) fn id_or_name(v: &Value) -> Option<IdOrName<'_>> {
    match v {
        Value::Number(n) => n.as_i64().map(IdOrName::Id),
        Value::String(s) => Some(match s.parse::<i64>() {
            Ok(i) => IdOrName::Id(i),
            Err(_) => IdOrName::Name(s),
        }),
        _ => None,
    }
}

impl State {
    /// Empty state.
    pub fn new(action_duration: std::time::Duration, max_servers: usize) -> State {
        State {
            action_duration: TimeDelta::from_std(action_duration.min(MAX_ACTION_DURATION))
                .unwrap_or_else(|_| TimeDelta::seconds(1)),
            max_servers,
            next_server: 10_000_001,
            next_firewall: 2_000_001,
            next_ssh_key: 3_000_001,
            next_action: 50_000_001,
            next_ip: 0,
            servers: BTreeMap::new(),
            firewalls: BTreeMap::new(),
            ssh_keys: BTreeMap::new(),
            actions: BTreeMap::new(),
            deleting: BTreeSet::new(),
            fail_actions: 0,
            fail_action_error: (String::new(), String::new()),
        }
    }

    /// Next server id (ids start at 10 000 001).
    pub fn new_server_id(&mut self) -> i64 {
        let id = self.next_server;
        self.next_server += 1;
        id
    }
    /// Next firewall id (ids start at 2 000 001).
    pub fn new_firewall_id(&mut self) -> i64 {
        let id = self.next_firewall;
        self.next_firewall += 1;
        id
    }
    /// Next SSH key id (ids start at 3 000 001).
    pub fn new_ssh_key_id(&mut self) -> i64 {
        let id = self.next_ssh_key;
        self.next_ssh_key += 1;
        id
    }

    /// Allocate a distinct IPv4 address (documentation ranges first, then 100.64.0.0/10),
    /// an IPv6 /64 in 2001:db8::/32 and two primary IP ids.
    pub fn new_ips(&mut self) -> ((i64, Ipv4Addr), (i64, Ipv6Addr)) {
        let i = self.next_ip;
        self.next_ip += 1;
        let v4 = match i {
            0..=253 => Ipv4Addr::new(203, 0, 113, (i + 1) as u8),
            254..=507 => Ipv4Addr::new(198, 51, 100, (i - 253) as u8),
            508..=761 => Ipv4Addr::new(192, 0, 2, (i - 507) as u8),
            _ => Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 1)).wrapping_add(i as u32)),
        };
        let v6 = Ipv6Addr::new(
            0x2001,
            0xdb8,
            ((i >> 16) & 0xffff) as u16 + 1,
            (i & 0xffff) as u16,
            0,
            0,
            0,
            0,
        );
        let base = 70_000_001 + 2 * i;
        ((base, v4), (base + 1, v6))
    }

    /// Make the next `n` actions end with status `error` and `{code, message}`.
    pub fn fail_next_actions(&mut self, n: u32, code: &str, message: &str) {
        self.fail_actions = n;
        self.fail_action_error = (code.to_string(), message.to_string());
    }

    /// True when the next action created will fail (see [`State::fail_next_actions`]).
    pub fn next_action_fails(&self) -> bool {
        self.fail_actions > 0
    }

    /// Record an action running from `now` for `duration_factor` × the action duration.
    pub fn new_action(
        &mut self,
        now: DateTime<Utc>,
        command: &'static str,
        duration_factor: i32,
        resources: Vec<(i64, &'static str)>,
    ) -> i64 {
        let id = self.next_action;
        self.next_action += 1;
        let finishes = now + self.action_duration * duration_factor;
        let error = (self.fail_actions > 0).then(|| {
            self.fail_actions -= 1;
            self.fail_action_error.clone()
        });
        self.actions.insert(
            id,
            Action {
                id,
                command,
                started: now,
                finishes,
                resources,
                error,
            },
        );
        id
    }

    /// Action JSON by id (`Value::Null` if unknown).
    pub fn action_json(&self, id: i64, now: DateTime<Utc>) -> Value {
        self.actions
            .get(&id)
            .map(|a| a.json(now))
            .unwrap_or(Value::Null)
    }

    /// Mark a server as deleting; it is dropped once `gone_at` passed.
    pub fn mark_deleting(&mut self, id: i64) {
        self.deleting.insert(id);
    }

    /// Drop servers whose delete action finished.
    pub fn purge(&mut self, now: DateTime<Utc>) {
        let gone: Vec<i64> = self
            .deleting
            .iter()
            .copied()
            .filter(|id| {
                self.servers
                    .get(id)
                    .and_then(|s| s.gone_at)
                    .is_none_or(|t| t <= now)
            })
            .collect();
        for id in gone {
            self.deleting.remove(&id);
            self.servers.remove(&id);
            for fw in self.firewalls.values_mut() {
                fw.direct.retain(|(sid, _)| *sid != id);
            }
        }
    }

    /// A live (not yet gone) server or 404.
    pub fn server(&self, id: i64) -> Result<&Server, ApiError> {
        self.servers
            .get(&id)
            .ok_or_else(|| ApiError::not_found("server"))
    }

    /// A firewall or 404.
    pub fn firewall(&self, id: i64) -> Result<&Firewall, ApiError> {
        self.firewalls
            .get(&id)
            .ok_or_else(|| ApiError::not_found("firewall"))
    }

    /// `public_net.firewalls` of several servers at once (one pass over all firewalls):
    /// direct attachments and label-selector matches, `pending` until the apply finished.
    pub fn servers_firewalls(
        &self,
        servers: &[&Server],
        now: DateTime<Utc>,
    ) -> BTreeMap<i64, Vec<Value>> {
        let live: BTreeMap<i64, &Server> = servers
            .iter()
            .filter(|s| s.gone_at.is_none())
            .map(|s| (s.id, *s))
            .collect();
        let mut out: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for fw in self.firewalls.values() {
            let mut hits: BTreeMap<i64, DateTime<Utc>> = BTreeMap::new();
            for (sid, at) in &fw.direct {
                if live.contains_key(sid) {
                    hits.insert(*sid, *at);
                }
            }
            for a in &fw.selectors {
                for s in live.values() {
                    if !hits.contains_key(&s.id) && a.selector.matches(&s.labels) {
                        hits.insert(s.id, a.applied_at);
                    }
                }
            }
            for (sid, at) in hits {
                let status = if now >= at { "applied" } else { "pending" };
                out.entry(sid)
                    .or_default()
                    .push(json!({"id": fw.id, "status": status}));
            }
        }
        out
    }

    /// Server ids matched by a selector (live servers only).
    pub fn selector_matches(&self, sel: &Selector) -> Vec<i64> {
        self.servers
            .values()
            .filter(|s| s.gone_at.is_none() && sel.matches(&s.labels))
            .map(|s| s.id)
            .collect()
    }

    /// The full server JSON at `now`, with every required-but-nullable key present.
    pub fn server_json(&self, s: &Server, now: DateTime<Utc>) -> Value {
        let firewalls = self
            .servers_firewalls(&[s], now)
            .remove(&s.id)
            .unwrap_or_default();
        self.server_json_with(s, now, firewalls)
    }

    /// [`State::server_json`] with `public_net.firewalls` already computed.
    pub fn server_json_with(&self, s: &Server, now: DateTime<Utc>, firewalls: Vec<Value>) -> Value {
        let st = &CATALOG.server_types[s.server_type.min(CATALOG.server_types.len() - 1)];
        let loc = &CATALOG.locations[s.location.min(CATALOG.locations.len() - 1)];
        let image = s
            .image
            .and_then(|i| CATALOG.images.get(i))
            .map(catalog::image_json)
            .unwrap_or(Value::Null);
        let ipv4 = s.ipv4.map(|(id, ip)| {
            let o = ip.octets();
            json!({"id": id, "ip": ip.to_string(), "blocked": false,
                   "dns_ptr": format!("static.{}.{}.{}.{}.clients.your-server.de", o[3], o[2], o[1], o[0])})
        });
        let ipv6 = s.ipv6.map(|(id, net)| {
            json!({"id": id, "ip": format!("{net}/64"), "blocked": false, "dns_ptr": []})
        });
        let mut v = json!({
            "id": s.id, "name": s.name, "status": s.status(now), "created": ts(s.created),
            "public_net": {
                "ipv4": ipv4, "ipv6": ipv6, "floating_ips": [],
                "firewalls": firewalls,
            },
            "private_net": [],
            "server_type": catalog::server_type_json(st),
            "datacenter": catalog::datacenter_json(loc),
            "location": catalog::location_json(loc),
            "image": image,
            "iso": null,
            "rescue_enabled": false, "locked": false, "backup_window": null,
            "outgoing_traffic": s.outgoing_traffic, "ingoing_traffic": s.ingoing_traffic,
            "included_traffic": catalog::included_traffic(loc.name),
            "protection": {"delete": false, "rebuild": false},
            "labels": s.labels,
            "volumes": [], "load_balancers": [],
            "primary_disk_size": st.disk_gb,
            "placement_group": null,
        });
        if let Some(p) = &s.patch {
            merge(&mut v, p);
        }
        v
    }

    /// The firewall JSON at `now` (`applied_to` with `applied_to_resources` for selectors).
    pub fn firewall_json(&self, fw: &Firewall) -> Value {
        let mut applied: Vec<Value> = fw
            .direct
            .iter()
            .map(|(sid, _)| json!({"type": "server", "server": {"id": sid}}))
            .collect();
        for a in &fw.selectors {
            let resources: Vec<Value> = self
                .selector_matches(&a.selector)
                .into_iter()
                .map(|id| json!({"type": "server", "server": {"id": id}}))
                .collect();
            applied.push(json!({
                "type": "label_selector", "label_selector": {"selector": a.text},
                "applied_to_resources": resources,
            }));
        }
        let rules: Vec<Value> = fw.rules.iter().map(Rule::json).collect();
        json!({
            "id": fw.id, "name": fw.name, "labels": fw.labels, "created": ts(fw.created),
            "rules": rules, "applied_to": applied,
        })
    }

    /// The SSH key JSON.
    pub fn ssh_key_json(k: &SshKey) -> Value {
        json!({"id": k.id, "name": k.name, "fingerprint": k.fingerprint,
               "public_key": k.public_key, "labels": k.labels, "created": ts(k.created)})
    }
}

/// Read a JSON object body; `{}` when the body is empty (action POSTs send none).
pub(crate) fn body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::json_error("request body must be a JSON object")),
        Err(e) => Err(ApiError::json_error(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_sets_nulls_and_recurses() {
        let mut v = json!({"status": "running", "public_net": {"ipv4": {"ip": "x"}, "ipv6": 1}});
        merge(
            &mut v,
            &json!({"status": "frobnicating", "public_net": {"ipv4": null}}),
        );
        assert_eq!(
            v,
            json!({"status": "frobnicating", "public_net": {"ipv4": null, "ipv6": 1}})
        );
    }

    #[test]
    fn action_progress_and_success() {
        let t0 = Utc::now();
        let a = Action {
            id: 1,
            command: "start_server",
            started: t0,
            finishes: t0 + TimeDelta::milliseconds(100),
            resources: vec![(7, "server")],
            error: None,
        };
        let v = a.json(t0 + TimeDelta::milliseconds(50));
        assert_eq!(v["status"], "running");
        assert_eq!(v["progress"], 50);
        assert_eq!(v["finished"], Value::Null);
        let v = a.json(t0 + TimeDelta::milliseconds(100));
        assert_eq!(v["status"], "success");
        assert_eq!(v["progress"], 100);
        assert_eq!(v["resources"], json!([{"id": 7, "type": "server"}]));
    }

    #[test]
    fn ips_are_distinct() {
        let mut s = State::new(std::time::Duration::from_secs(1), 10);
        let mut seen = BTreeSet::new();
        for _ in 0..2000 {
            let ((_, v4), (_, v6)) = s.new_ips();
            assert!(seen.insert(v4.to_string()));
            assert!(seen.insert(v6.to_string()));
        }
        let mut s = State::new(std::time::Duration::from_secs(1), 10);
        let ((id4, v4), (id6, v6)) = s.new_ips();
        assert_eq!(v4.to_string(), "203.0.113.1");
        assert_eq!(v6.to_string(), "2001:db8:1::");
        assert_ne!(id4, id6);
    }
}
