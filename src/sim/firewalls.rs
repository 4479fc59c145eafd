//! `/firewalls` endpoints (docs/hetzner-api.md §7).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{Query, SortKey, paginate, sort_items};
use super::selector;
use super::state::{Firewall, Reply, SelectorAttachment, State, body_object};
use super::validate;

/// Firewall name limit (characters): docs/hetzner-api.md §7.3.
const MAX_NAME: usize = 128;

/// A parsed `apply_to` / `remove_from` entry.
enum Resource {
    Server(i64),
    Selector(String, selector::Selector),
}

/// Which endpoint parses the resources: unknown servers are 422 on create, 404 on actions.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    Create,
    Action,
}

fn parse_resources(
    state: &State,
    v: Option<&Value>,
    field: &str,
    ctx: Context,
) -> Result<Vec<Resource>, ApiError> {
    let arr = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ApiError::invalid_field(field, "must be an array")),
    };
    let mut out: Vec<Resource> = Vec::new();
    for (i, r) in arr.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match r.get("type").and_then(Value::as_str) {
            Some("server") => {
                let Some(id) = r.pointer("/server/id").and_then(Value::as_i64) else {
                    return Err(ApiError::invalid_field(
                        &format!("{f}.server.id"),
                        "is required",
                    ));
                };
                if state.servers.get(&id).is_none_or(|s| s.gone_at.is_some()) {
                    let status = if ctx == Context::Create { 422 } else { 404 };
                    return Err(ApiError::new(
                        status,
                        "firewall_resource_not_found",
                        format!("server {id} not found"),
                    ));
                }
                if out
                    .iter()
                    .any(|x| matches!(x, Resource::Server(s) if *s == id))
                {
                    return Err(ApiError::new(
                        422,
                        "server_already_added",
                        format!("server {id} is listed more than once"),
                    ));
                }
                out.push(Resource::Server(id));
            }
            Some("label_selector") => {
                let Some(text) = r
                    .pointer("/label_selector/selector")
                    .and_then(Value::as_str)
                else {
                    return Err(ApiError::invalid_field(
                        &format!("{f}.label_selector.selector"),
                        "is required",
                    ));
                };
                let sel = selector::parse(text).map_err(|e| {
                    ApiError::invalid_field(&format!("{f}.label_selector.selector"), e.to_string())
                })?;
                if sel.requirements.is_empty() {
                    return Err(ApiError::invalid_field(
                        &format!("{f}.label_selector.selector"),
                        "must not be empty",
                    ));
                }
                out.push(Resource::Selector(text.to_string(), sel));
            }
            Some(t) => {
                return Err(ApiError::invalid_field(
                    &format!("{f}.type"),
                    format!("'{t}' is not one of server, label_selector"),
                ));
            }
            None => return Err(ApiError::invalid_field(&format!("{f}.type"), "is required")),
        }
    }
    Ok(out)
}

impl State {
    /// `GET /firewalls`: filters `name`, `label_selector`; sort `id|name|created`.
    pub fn list_firewalls(&self, q: &Query, base: &str) -> Result<Reply, ApiError> {
        let sel = q.selector()?;
        let name = q.get("name");
        let mut items: Vec<&Firewall> = self
            .firewalls
            .values()
            .filter(|f| name.is_none_or(|n| f.name == n))
            .filter(|f| sel.as_ref().is_none_or(|s| s.matches(&f.labels)))
            .collect();
        sort_items(&mut items, q, &["id", "name", "created"], |f, k| match k {
            "name" => SortKey::Str(f.name.clone()),
            "created" => SortKey::Int(f.created.timestamp_micros()),
            _ => SortKey::Int(f.id),
        })?;
        let page = paginate(items, q, base)?;
        let list: Vec<Value> = page.items.iter().map(|f| self.firewall_json(f)).collect();
        Ok(Reply {
            status: 200,
            body: Some(json!({"firewalls": list, "meta": page.meta})),
            link: page.link,
        })
    }

    /// `GET /firewalls/{id}`.
    pub fn get_firewall(&self, id: i64) -> Result<Reply, ApiError> {
        let fw = self.firewall(id)?;
        Ok(Reply::ok(json!({"firewall": self.firewall_json(fw)})))
    }

    fn firewall_name(
        &self,
        v: Option<&Value>,
        except: Option<i64>,
    ) -> Result<Option<String>, ApiError> {
        let name = match v {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(n)) => n.clone(),
            Some(_) => return Err(ApiError::invalid_field("name", "must be a string")),
        };
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ApiError::invalid_field(
                "name",
                format!("must be 1 to {MAX_NAME} characters"),
            ));
        }
        if self
            .firewalls
            .values()
            .any(|f| Some(f.id) != except && f.name == name)
        {
            return Err(ApiError::uniqueness("name", "name is already used"));
        }
        Ok(Some(name))
    }

    /// Apply resources to a firewall, creating one `apply_firewall` action each.
    fn apply(&mut self, fw_id: i64, resources: Vec<Resource>, now: DateTime<Utc>) -> Vec<i64> {
        let done = now + self.action_duration;
        let mut actions = Vec::new();
        for r in resources {
            match r {
                Resource::Server(sid) => {
                    actions.push(self.new_action(
                        now,
                        "apply_firewall",
                        1,
                        vec![(fw_id, "firewall"), (sid, "server")],
                    ));
                    if let Some(fw) = self.firewalls.get_mut(&fw_id) {
                        fw.direct.push((sid, done));
                    }
                }
                Resource::Selector(text, selector) => {
                    actions.push(self.new_action(
                        now,
                        "apply_firewall",
                        1,
                        vec![(fw_id, "firewall")],
                    ));
                    if let Some(fw) = self.firewalls.get_mut(&fw_id) {
                        fw.selectors.push(SelectorAttachment {
                            text,
                            selector,
                            applied_at: done,
                        });
                    }
                }
            }
        }
        actions
    }

    fn actions_json(&self, ids: &[i64], now: DateTime<Utc>) -> Vec<Value> {
        ids.iter().map(|a| self.action_json(*a, now)).collect()
    }

    /// `POST /firewalls` → 201 `{"firewall", "actions"}`.
    pub fn create_firewall(&mut self, body: &[u8], now: DateTime<Utc>) -> Result<Reply, ApiError> {
        let o = body_object(body)?;
        let Some(name) = self.firewall_name(o.get("name"), None)? else {
            return Err(ApiError::invalid_field("name", "is required"));
        };
        let labels = validate::labels(o.get("labels"))
            .map_err(|(f, m)| ApiError::invalid_field(&f, m))?
            .unwrap_or_default();
        let rules = validate::rules(o.get("rules")).map_err(ApiError::invalid)?;
        let resources = parse_resources(self, o.get("apply_to"), "apply_to", Context::Create)?;
        let id = self.new_firewall_id();
        let has_rules = !rules.is_empty();
        self.firewalls.insert(
            id,
            Firewall {
                id,
                name,
                labels,
                created: now,
                rules,
                direct: Vec::new(),
                selectors: Vec::new(),
            },
        );
        let mut actions = Vec::new();
        if has_rules {
            actions.push(self.new_action(now, "set_firewall_rules", 1, vec![(id, "firewall")]));
        }
        actions.extend(self.apply(id, resources, now));
        let fw = self.firewall(id).map(|f| self.firewall_json(f))?;
        Ok(Reply::created(
            json!({"firewall": fw, "actions": self.actions_json(&actions, now)}),
        ))
    }

    /// `PUT /firewalls/{id}`: `name`, `labels` (replace).
    pub fn update_firewall(&mut self, id: i64, body: &[u8]) -> Result<Reply, ApiError> {
        self.firewall(id)?;
        let o = body_object(body)?;
        let name = self.firewall_name(o.get("name"), Some(id))?;
        let labels =
            validate::labels(o.get("labels")).map_err(|(f, m)| ApiError::invalid_field(&f, m))?;
        if let Some(fw) = self.firewalls.get_mut(&id) {
            if let Some(n) = name {
                fw.name = n;
            }
            if let Some(l) = labels {
                fw.labels = l;
            }
        }
        self.get_firewall(id)
    }

    /// `DELETE /firewalls/{id}` → 204; `422 resource_in_use` while applied.
    pub fn delete_firewall(&mut self, id: i64) -> Result<Reply, ApiError> {
        let fw = self.firewall(id)?;
        if !fw.direct.is_empty() || !fw.selectors.is_empty() {
            return Err(ApiError::new(
                422,
                "resource_in_use",
                "firewall is still applied to resources",
            ));
        }
        self.firewalls.remove(&id);
        Ok(Reply::no_content())
    }

    /// `POST /firewalls/{id}/actions/set_rules` → 201 `{"actions"}` (full replace).
    pub fn set_rules(
        &mut self,
        id: i64,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        self.firewall(id)?;
        let o = body_object(body)?;
        if !o.contains_key("rules") {
            return Err(ApiError::invalid_field("rules", "is required"));
        }
        let rules = validate::rules(o.get("rules")).map_err(ApiError::invalid)?;
        let servers: Vec<i64> = {
            let fw = self.firewall(id)?;
            let mut s: Vec<i64> = fw.direct.iter().map(|(sid, _)| *sid).collect();
            for a in &fw.selectors {
                for m in self.selector_matches(&a.selector) {
                    if !s.contains(&m) {
                        s.push(m);
                    }
                }
            }
            s
        };
        if let Some(fw) = self.firewalls.get_mut(&id) {
            fw.rules = rules;
        }
        let mut actions =
            vec![self.new_action(now, "set_firewall_rules", 1, vec![(id, "firewall")])];
        for sid in servers {
            actions.push(self.new_action(
                now,
                "apply_firewall",
                1,
                vec![(id, "firewall"), (sid, "server")],
            ));
        }
        Ok(Reply::created(
            json!({"actions": self.actions_json(&actions, now)}),
        ))
    }

    /// `POST /firewalls/{id}/actions/apply_to_resources` → 201 `{"actions"}`.
    pub fn apply_to_resources(
        &mut self,
        id: i64,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        self.firewall(id)?;
        let o = body_object(body)?;
        if !o.contains_key("apply_to") {
            return Err(ApiError::invalid_field("apply_to", "is required"));
        }
        let resources = parse_resources(self, o.get("apply_to"), "apply_to", Context::Action)?;
        let fw = self.firewall(id)?;
        for r in &resources {
            let already = match r {
                Resource::Server(sid) => fw.direct.iter().any(|(s, _)| s == sid),
                Resource::Selector(text, _) => fw.selectors.iter().any(|a| &a.text == text),
            };
            if already {
                return Err(ApiError::new(
                    422,
                    "firewall_already_applied",
                    "firewall is already applied to the resource",
                ));
            }
        }
        let actions = self.apply(id, resources, now);
        Ok(Reply::created(
            json!({"actions": self.actions_json(&actions, now)}),
        ))
    }

    /// `POST /firewalls/{id}/actions/remove_from_resources` → 201 `{"actions"}`.
    pub fn remove_from_resources(
        &mut self,
        id: i64,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        self.firewall(id)?;
        let o = body_object(body)?;
        if !o.contains_key("remove_from") {
            return Err(ApiError::invalid_field("remove_from", "is required"));
        }
        let resources =
            parse_resources(self, o.get("remove_from"), "remove_from", Context::Action)?;
        let fw = self.firewall(id)?;
        for r in &resources {
            match r {
                Resource::Server(sid) => {
                    if fw.direct.iter().any(|(s, _)| s == sid) {
                        continue;
                    }
                    let labels = self.servers.get(sid).map(|s| &s.labels);
                    if labels.is_some_and(|l| fw.selectors.iter().any(|a| a.selector.matches(l))) {
                        return Err(ApiError::new(
                            422,
                            "firewall_managed_by_label_selector",
                            format!("server {sid} is managed by a label selector of this firewall"),
                        ));
                    }
                    return Err(ApiError::new(
                        422,
                        "firewall_already_removed",
                        format!("firewall is not applied to server {sid}"),
                    ));
                }
                Resource::Selector(text, _) => {
                    if !fw.selectors.iter().any(|a| &a.text == text) {
                        return Err(ApiError::new(
                            422,
                            "firewall_already_removed",
                            format!("firewall is not applied to label selector '{text}'"),
                        ));
                    }
                }
            }
        }
        let mut actions = Vec::new();
        for r in resources {
            match r {
                Resource::Server(sid) => {
                    actions.push(self.new_action(
                        now,
                        "remove_firewall",
                        1,
                        vec![(id, "firewall"), (sid, "server")],
                    ));
                    if let Some(fw) = self.firewalls.get_mut(&id) {
                        fw.direct.retain(|(s, _)| *s != sid);
                    }
                }
                Resource::Selector(text, _) => {
                    actions.push(self.new_action(
                        now,
                        "remove_firewall",
                        1,
                        vec![(id, "firewall")],
                    ));
                    if let Some(fw) = self.firewalls.get_mut(&id) {
                        fw.selectors.retain(|a| a.text != text);
                    }
                }
            }
        }
        Ok(Reply::created(
            json!({"actions": self.actions_json(&actions, now)}),
        ))
    }
}
