//! Read-only endpoints: actions, server types, locations, datacenters, images and pricing
//! (docs/hetzner-api.md §5, §9, §10).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::catalog::{self, CATALOG, Image, Location, ServerType};
use super::error::ApiError;
use super::query::{Query, SortKey, paginate, sort_items};
use super::state::{Action, Reply, State};

/// Which actions a list covers.
#[derive(Clone, Copy)]
pub(crate) enum ActionScope {
    /// `/actions?id=…` (ids required).
    Ids,
    /// `/servers/actions`, `/firewalls/actions`: every action touching that resource type.
    Kind(&'static str),
    /// `/servers/{id}/actions`: actions touching one resource.
    One(&'static str, i64),
}

fn list_reply(key: &str, items: Vec<Value>, page_meta: Value, link: Option<String>) -> Reply {
    Reply {
        status: 200,
        body: Some(json!({ key: items, "meta": page_meta })),
        link,
    }
}

impl State {
    /// Action lists: filters `id` (repeatable), `status` (repeatable); sort
    /// `id|command|status|started|finished`.
    pub fn list_actions(
        &self,
        scope: ActionScope,
        q: &Query,
        base: &str,
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        let mut ids = Vec::new();
        for s in q.all("id") {
            ids.push(
                s.parse::<i64>()
                    .map_err(|_| ApiError::invalid_field("id", "must be an integer"))?,
            );
        }
        if matches!(scope, ActionScope::Ids) && ids.is_empty() {
            return Err(ApiError::invalid_field(
                "id",
                "is required (listing all actions was removed on 2025-01-30)",
            ));
        }
        if let ActionScope::One(kind, id) = scope {
            let exists = match kind {
                "server" => self.servers.contains_key(&id),
                _ => self.firewalls.contains_key(&id),
            };
            if !exists {
                return Err(ApiError::not_found(kind));
            }
        }
        let statuses = q.all("status");
        let status_of = |a: &Action| a.status(now);
        let mut items: Vec<&Action> = self
            .actions
            .values()
            .filter(|a| match scope {
                ActionScope::Ids => true,
                ActionScope::Kind(k) => a.touches_kind(k),
                ActionScope::One(k, id) => a.touches(k, id),
            })
            .filter(|a| ids.is_empty() || ids.contains(&a.id))
            .filter(|a| statuses.is_empty() || statuses.contains(&status_of(a)))
            .collect();
        sort_items(
            &mut items,
            q,
            &["id", "command", "status", "started", "finished"],
            |a, f| match f {
                "command" => SortKey::Str(a.command.to_string()),
                "status" => SortKey::Str(status_of(a).to_string()),
                "started" => SortKey::Int(a.started.timestamp_micros()),
                "finished" => SortKey::Int(if a.running(now) {
                    i64::MAX
                } else {
                    a.finishes.timestamp_micros()
                }),
                _ => SortKey::Int(a.id),
            },
        )?;
        let page = paginate(items, q, base)?;
        let list = page.items.iter().map(|a| a.json(now)).collect();
        Ok(list_reply("actions", list, page.meta, page.link))
    }

    /// One action; with a scope, the action must touch that resource (type) or it is 404.
    pub fn get_action(
        &self,
        scope: ActionScope,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Reply, ApiError> {
        let a = self
            .actions
            .get(&id)
            .filter(|a| match scope {
                ActionScope::Ids => true,
                ActionScope::Kind(k) => a.touches_kind(k),
                ActionScope::One(k, rid) => a.touches(k, rid),
            })
            .ok_or_else(|| ApiError::not_found("action"))?;
        Ok(Reply::ok(json!({"action": a.json(now)})))
    }
}

/// `GET /server_types` (filter `name`).
pub(crate) fn list_server_types(q: &Query, base: &str) -> Result<Reply, ApiError> {
    let name = q.get("name");
    let mut items: Vec<&ServerType> = CATALOG
        .server_types
        .iter()
        .filter(|t| name.is_none_or(|n| t.name == n))
        .collect();
    sort_items(&mut items, q, &["id", "name"], |t, f| match f {
        "name" => SortKey::Str(t.name.to_string()),
        _ => SortKey::Int(t.id),
    })?;
    let page = paginate(items, q, base)?;
    let list = page
        .items
        .iter()
        .map(|t| catalog::server_type_json(t))
        .collect();
    Ok(list_reply("server_types", list, page.meta, page.link))
}

/// `GET /server_types/{id}`.
pub(crate) fn get_server_type(id: i64) -> Result<Reply, ApiError> {
    let t = CATALOG
        .server_type_by_id(id)
        .ok_or_else(|| ApiError::not_found("server type"))?;
    Ok(Reply::ok(
        json!({"server_type": catalog::server_type_json(t)}),
    ))
}

fn filtered_locations(
    q: &Query,
    name_of: fn(&Location) -> &str,
) -> Result<Vec<&'static Location>, ApiError> {
    let name = q.get("name");
    let mut items: Vec<&Location> = CATALOG
        .locations
        .iter()
        .filter(|l| name.is_none_or(|n| name_of(l) == n))
        .collect();
    sort_items(&mut items, q, &["id", "name"], |l, f| match f {
        "name" => SortKey::Str(name_of(l).to_string()),
        _ => SortKey::Int(l.id),
    })?;
    Ok(items)
}

/// `GET /locations` (filter `name`; sort `id|name`).
pub(crate) fn list_locations(q: &Query, base: &str) -> Result<Reply, ApiError> {
    let page = paginate(filtered_locations(q, |l| l.name)?, q, base)?;
    let list = page
        .items
        .iter()
        .map(|l| catalog::location_json(l))
        .collect();
    Ok(list_reply("locations", list, page.meta, page.link))
}

/// `GET /locations/{id}`.
pub(crate) fn get_location(id: i64) -> Result<Reply, ApiError> {
    let l = CATALOG
        .location_by_id(id)
        .ok_or_else(|| ApiError::not_found("location"))?;
    Ok(Reply::ok(json!({"location": catalog::location_json(l)})))
}

/// `GET /datacenters` (deprecated; filter `name`; adds `recommendation`).
pub(crate) fn list_datacenters(q: &Query, base: &str) -> Result<Reply, ApiError> {
    let mut items = filtered_locations(q, |l| l.datacenter_name)?;
    if q.all("sort").is_empty() {
        items.sort_by_key(|l| l.datacenter_id);
    }
    let page = paginate(items, q, base)?;
    let list: Vec<Value> = page
        .items
        .iter()
        .map(|l| catalog::datacenter_json(l))
        .collect();
    let recommendation = CATALOG
        .locations
        .first()
        .map(|l| l.datacenter_id)
        .unwrap_or(1);
    Ok(Reply {
        status: 200,
        body: Some(
            json!({"datacenters": list, "recommendation": recommendation, "meta": page.meta}),
        ),
        link: page.link,
    })
}

/// `GET /datacenters/{id}`.
pub(crate) fn get_datacenter(id: i64) -> Result<Reply, ApiError> {
    let l = CATALOG
        .locations
        .iter()
        .find(|l| l.datacenter_id == id)
        .ok_or_else(|| ApiError::not_found("datacenter"))?;
    Ok(Reply::ok(
        json!({"datacenter": catalog::datacenter_json(l)}),
    ))
}

/// `GET /images`: filters `type`, `status`, `architecture` (repeatable), `name`,
/// `include_deprecated`, `label_selector`, `bound_to`; sort `id|name|created`.
pub(crate) fn list_images(q: &Query, base: &str) -> Result<Reply, ApiError> {
    let sel = q.selector()?;
    let types = q.all("type");
    let statuses = q.all("status");
    let archs = q.all("architecture");
    let name = q.get("name");
    let include_deprecated = q.bool("include_deprecated", false)?;
    let no_labels = Default::default();
    let bound = q.get("bound_to").is_some();
    let mut items: Vec<&Image> = CATALOG
        .images
        .iter()
        .filter(|_| !bound)
        .filter(|_| types.is_empty() || types.contains(&"system"))
        .filter(|_| statuses.is_empty() || statuses.contains(&"available"))
        .filter(|i| archs.is_empty() || archs.contains(&i.architecture))
        .filter(|i| name.is_none_or(|n| i.name == n))
        .filter(|i| include_deprecated || i.deprecated.is_none())
        .filter(|_| sel.as_ref().is_none_or(|s| s.matches(&no_labels)))
        .collect();
    sort_items(&mut items, q, &["id", "name", "created"], |i, f| match f {
        "name" => SortKey::Str(i.name.to_string()),
        "created" => SortKey::Str(i.created.to_string()),
        _ => SortKey::Int(i.id),
    })?;
    let page = paginate(items, q, base)?;
    let list = page.items.iter().map(|i| catalog::image_json(i)).collect();
    Ok(list_reply("images", list, page.meta, page.link))
}

/// `GET /images/{id}`.
pub(crate) fn get_image(id: i64) -> Result<Reply, ApiError> {
    let i = CATALOG
        .image_by_id(id)
        .ok_or_else(|| ApiError::not_found("image"))?;
    Ok(Reply::ok(json!({"image": catalog::image_json(i)})))
}

/// `GET /pricing`.
pub(crate) fn pricing() -> Reply {
    Reply::ok(json!({"pricing": catalog::pricing_json()}))
}
