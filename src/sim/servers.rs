//! `/servers` endpoints (docs/hetzner-api.md §6).

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};

use super::catalog::CATALOG;
use super::error::ApiError;
use super::query::{Query, SortKey, paginate, sort_items};
use super::state::{IdOrName, Reply, Server, State, body_object, id_or_name};
use super::validate;

/// `user_data` limit in bytes: 32 KiB (docs/hetzner-api.md §12).
pub(crate) const MAX_USER_DATA: usize = 32 * 1024;

/// Status values accepted by the `status` filter (server status enum).
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

fn bool_field(o: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ApiError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid_field(key, "must be a boolean")),
    }
}

fn root_password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

impl State {
    /// `GET /servers`: filters `name`, `label_selector`, `status` (repeatable); sort
    /// `id|name|created`.
    pub fn list_servers(
        &self,
        q: &Query,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        let sel = q.selector()?;
        let statuses = q.all("status");
        if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(s)) {
            return Err(ApiError::invalid_field(
                "status",
                format!("'{bad}' is not a valid server status"),
            ));
        }
        let name = q.get("name");
        let mut items: Vec<&Server> = self
            .servers
            .values()
            .filter(|s| name.is_none_or(|n| s.name == n))
            .filter(|s| sel.as_ref().is_none_or(|sel| sel.matches(&s.labels)))
            .filter(|s| statuses.is_empty() || statuses.contains(&s.status(now)))
            .collect();
        sort_items(&mut items, q, &["id", "name", "created"], |s, f| match f {
            "name" => SortKey::Str(s.name.clone()),
            "created" => SortKey::Int(s.created.timestamp_micros()),
            _ => SortKey::Int(s.id),
        })?;
        let page = paginate(items, q, base)?;
        let mut firewalls = self.servers_firewalls(&page.items, now);
        let servers: Vec<Value> = page
            .items
            .iter()
            .map(|s| {
                let fws = firewalls.remove(&s.id).unwrap_or_default();
                self.server_json_with(s, now, fws)
            })
            .collect();
        Ok(Reply {
            status: 200,
            body: Some(json!({"servers": servers, "meta": page.meta})),
            link: page.link,
        })
    }

    /// `GET /servers/{id}`.
    pub fn get_server(&self, id: i64, now: DateTime<Utc>) -> Result<Reply, ApiError> {
        let s = self.server(id)?;
        Ok(Reply::ok(json!({"server": self.server_json(s, now)})))
    }

    /// `POST /servers` → 201 `{"server","action","next_actions","root_password"}`.
    pub fn create_server(&mut self, body: &[u8], now: DateTime<Utc>) -> Result<Reply, ApiError> {
        let o = body_object(body)?;
        let name = match o.get("name") {
            Some(Value::String(n)) => n.clone(),
            None | Some(Value::Null) => return Err(ApiError::invalid_field("name", "is required")),
            Some(_) => return Err(ApiError::invalid_field("name", "must be a string")),
        };
        if !validate::valid_hostname(&name) {
            return Err(ApiError::invalid_field(
                "name",
                "must be a valid hostname (RFC 1123: letters, digits, '.' and '-')",
            ));
        }
        let st_idx = match o.get("server_type").and_then(id_or_name) {
            Some(IdOrName::Id(i)) => CATALOG.server_types.iter().position(|t| t.id == i),
            Some(IdOrName::Name(n)) => CATALOG.server_types.iter().position(|t| t.name == n),
            None => return Err(ApiError::invalid_field("server_type", "is required")),
        }
        .ok_or_else(|| ApiError::invalid_field("server_type", "server type not found"))?;
        let st = &CATALOG.server_types[st_idx];
        let loc_idx = match (o.get("location"), o.get("datacenter")) {
            (Some(v), _) if !v.is_null() => match id_or_name(v) {
                Some(IdOrName::Id(i)) => CATALOG.locations.iter().position(|l| l.id == i),
                Some(IdOrName::Name(n)) => CATALOG.locations.iter().position(|l| l.name == n),
                None => None,
            }
            .ok_or_else(|| ApiError::invalid_field("location", "location not found"))?,
            (_, Some(v)) if !v.is_null() => match id_or_name(v) {
                Some(IdOrName::Id(i)) => {
                    CATALOG.locations.iter().position(|l| l.datacenter_id == i)
                }
                Some(IdOrName::Name(n)) => CATALOG
                    .locations
                    .iter()
                    .position(|l| l.datacenter_name == n),
                None => None,
            }
            .ok_or_else(|| ApiError::invalid_field("datacenter", "datacenter not found"))?,
            _ => CATALOG
                .locations
                .iter()
                .position(|l| st.sold_in(l.name))
                .unwrap_or(0),
        };
        let loc = &CATALOG.locations[loc_idx];
        if !st.sold_in(loc.name) {
            return Err(ApiError::new(
                412,
                "resource_unavailable",
                format!(
                    "server type {} is not available in location {}",
                    st.name, loc.name
                ),
            ));
        }
        let img_idx = match o.get("image").and_then(id_or_name) {
            Some(IdOrName::Id(i)) => CATALOG.images.iter().position(|im| im.id == i),
            Some(IdOrName::Name(n)) => CATALOG
                .images
                .iter()
                .position(|im| im.name == n && im.architecture == st.architecture),
            None => return Err(ApiError::invalid_field("image", "is required")),
        }
        .ok_or_else(|| ApiError::invalid_field("image", "image not found"))?;
        if CATALOG.images[img_idx].architecture != st.architecture {
            return Err(ApiError::invalid_field(
                "image",
                "image architecture does not match the server type",
            ));
        }
        let mut ssh_keys = Vec::new();
        match o.get("ssh_keys") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for v in a {
                    let found = match id_or_name(v) {
                        Some(IdOrName::Id(i)) => self.ssh_keys.get(&i).map(|k| k.id),
                        Some(IdOrName::Name(n)) => {
                            self.ssh_keys.values().find(|k| k.name == n).map(|k| k.id)
                        }
                        None => None,
                    };
                    match found {
                        Some(id) => ssh_keys.push(id),
                        None => {
                            return Err(ApiError::invalid_field(
                                "ssh_keys",
                                format!("ssh key {v} not found"),
                            ));
                        }
                    }
                }
            }
            Some(_) => return Err(ApiError::invalid_field("ssh_keys", "must be an array")),
        }
        let mut firewalls = Vec::new();
        match o.get("firewalls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for v in a {
                    let id = v.get("firewall").and_then(id_or_name);
                    let found = match id {
                        Some(IdOrName::Id(i)) => self.firewalls.get(&i).map(|f| f.id),
                        Some(IdOrName::Name(n)) => {
                            self.firewalls.values().find(|f| f.name == n).map(|f| f.id)
                        }
                        None => None,
                    };
                    match found {
                        Some(id) if !firewalls.contains(&id) => firewalls.push(id),
                        Some(_) => {}
                        None => {
                            return Err(ApiError::invalid_field(
                                "firewalls",
                                format!("firewall {v} not found"),
                            ));
                        }
                    }
                }
            }
            Some(_) => return Err(ApiError::invalid_field("firewalls", "must be an array")),
        }
        let user_data = match o.get("user_data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() > MAX_USER_DATA => {
                return Err(ApiError::invalid_field(
                    "user_data",
                    format!("must be at most {MAX_USER_DATA} bytes"),
                ));
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::invalid_field("user_data", "must be a string")),
        };
        let labels = validate::labels(o.get("labels"))
            .map_err(|(f, m)| ApiError::invalid_field(&f, m))?
            .unwrap_or_default();
        let start = bool_field(&o, "start_after_create", true)?;
        let (enable_v4, enable_v6) = match o.get("public_net") {
            Some(Value::Object(p)) => (
                bool_field(p, "enable_ipv4", true)?,
                bool_field(p, "enable_ipv6", true)?,
            ),
            _ => (true, true),
        };
        if self.servers.values().any(|s| s.name == name) {
            return Err(ApiError::uniqueness("name", "server name is already used"));
        }
        if self.servers.len() >= self.max_servers {
            return Err(ApiError {
                details: json!({"limits": [{"name": "server_limit"}]}),
                ..ApiError::new(
                    403,
                    "resource_limit_exceeded",
                    format!("server limit of {} reached", self.max_servers),
                )
            });
        }

        let id = self.new_server_id();
        let (v4, v6) = self.new_ips();
        let d = self.action_duration;
        let create_fails = self.next_action_fails();
        let create = self.new_action(now, "create_server", 1, vec![(id, "server")]);
        let mut next = Vec::new();
        let timeline = if create_fails {
            // A failed create leaves the server off; its start action fails too.
            if start {
                let error = self.actions.get(&create).and_then(|a| a.error.clone());
                let start_id = self.new_action(now, "start_server", 2, vec![(id, "server")]);
                if let Some(a) = self.actions.get_mut(&start_id) {
                    a.error = error;
                }
                next.push(start_id);
            }
            vec![(now, "initializing"), (now + d, "off")]
        } else if start {
            next.push(self.new_action(now, "start_server", 2, vec![(id, "server")]));
            vec![
                (now, "initializing"),
                (now + d, "starting"),
                (now + d * 2, "running"),
            ]
        } else {
            vec![(now, "initializing"), (now + d, "off")]
        };
        let busy_until = timeline.last().map(|(t, _)| *t).unwrap_or(now);
        let no_keys = ssh_keys.is_empty();
        self.servers.insert(
            id,
            Server {
                id,
                name,
                created: now,
                server_type: st_idx,
                location: loc_idx,
                image: Some(img_idx),
                labels,
                timeline,
                busy_until,
                gone_at: None,
                ipv4: enable_v4.then_some(v4),
                ipv6: enable_v6.then_some(v6),
                user_data,
                ssh_keys,
                patch: None,
                outgoing_traffic: 0,
                ingoing_traffic: 0,
            },
        );
        for fw_id in firewalls {
            if let Some(fw) = self.firewalls.get_mut(&fw_id) {
                fw.direct.push((id, now + d));
            }
        }
        let server = self.server(id).map(|s| self.server_json(s, now))?;
        let next_actions: Vec<Value> = next.iter().map(|a| self.action_json(*a, now)).collect();
        let password = if no_keys {
            Value::String(root_password())
        } else {
            Value::Null
        };
        Ok(Reply::created(json!({
            "server": server,
            "action": self.action_json(create, now),
            "next_actions": next_actions,
            "root_password": password,
        })))
    }

    /// `PUT /servers/{id}`: `name`, `labels` (replace; `null` leaves them unchanged).
    pub fn update_server(
        &mut self,
        id: i64,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        self.server(id)?;
        let o = body_object(body)?;
        let name = match o.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) if validate::valid_hostname(n) => Some(n.clone()),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "name",
                    "must be a valid hostname (RFC 1123: letters, digits, '.' and '-')",
                ));
            }
        };
        let labels =
            validate::labels(o.get("labels")).map_err(|(f, m)| ApiError::invalid_field(&f, m))?;
        if let Some(n) = &name
            && self.servers.values().any(|s| s.id != id && &s.name == n)
        {
            return Err(ApiError::uniqueness("name", "server name is already used"));
        }
        if let Some(s) = self.servers.get_mut(&id) {
            if let Some(n) = name {
                s.name = n;
            }
            if let Some(l) = labels {
                s.labels = l;
            }
        }
        self.get_server(id, now)
    }

    /// `DELETE /servers/{id}` → 200 `{"action": delete_server}`; the server shows `deleting`
    /// and is gone (404) once the action finished; firewalls drop it at once.
    pub fn delete_server(&mut self, id: i64, now: DateTime<Utc>) -> Result<Reply, ApiError> {
        let s = self.server(id)?;
        if s.gone_at.is_some() {
            return Err(ApiError::new(423, "locked", "server is being deleted"));
        }
        let fails = self.next_action_fails();
        let status = s.status(now);
        let action = self.new_action(now, "delete_server", 1, vec![(id, "server")]);
        let gone = now + self.action_duration;
        if fails {
            // A failed delete leaves the server as it was.
            if let Some(s) = self.servers.get_mut(&id) {
                s.schedule(now, &[(now, "deleting"), (gone, status)]);
                s.busy_until = gone;
            }
            return Ok(Reply::ok(json!({"action": self.action_json(action, now)})));
        }
        if let Some(s) = self.servers.get_mut(&id) {
            s.schedule(now, &[(now, "deleting")]);
            s.gone_at = Some(gone);
            s.busy_until = gone;
        }
        self.mark_deleting(id);
        for fw in self.firewalls.values_mut() {
            fw.direct.retain(|(sid, _)| *sid != id);
        }
        Ok(Reply::ok(json!({"action": self.action_json(action, now)})))
    }

    /// `POST /servers/{id}/actions/{poweron|poweroff|shutdown|reboot|reset}` → 201
    /// `{"action"}`; `423 locked` while another server action runs.
    pub fn server_power(
        &mut self,
        id: i64,
        cmd: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        let s = self.server(id)?;
        body_object(body)?;
        if now < s.busy_until {
            return Err(ApiError::new(
                423,
                "locked",
                "server is locked: another action is running",
            ));
        }
        let status = s.status(now);
        let d = self.action_duration;
        let (command, entries): (&'static str, Vec<(DateTime<Utc>, &'static str)>) = match cmd {
            "poweron" if status == "off" => (
                "start_server",
                vec![(now, "starting"), (now + d, "running")],
            ),
            "poweron" => ("start_server", vec![]),
            "poweroff" if status == "running" => {
                ("stop_server", vec![(now, "stopping"), (now + d, "off")])
            }
            "poweroff" => ("stop_server", vec![]),
            "shutdown" if status == "running" => {
                ("shutdown_server", vec![(now, "stopping"), (now + d, "off")])
            }
            "shutdown" => ("shutdown_server", vec![]),
            "reboot" => ("reboot_server", vec![]),
            "reset" => ("reset_server", vec![]),
            _ => return Err(ApiError::not_found("action")),
        };
        let mut entries = entries;
        if self.next_action_fails()
            && let Some(last) = entries.last_mut()
        {
            // A failed power action ends where it started.
            last.1 = status;
        }
        let action = self.new_action(now, command, 1, vec![(id, "server")]);
        if let Some(s) = self.servers.get_mut(&id) {
            if !entries.is_empty() {
                s.schedule(now, &entries);
            }
            s.busy_until = now + d;
        }
        Ok(Reply::created(
            json!({"action": self.action_json(action, now)}),
        ))
    }
}
