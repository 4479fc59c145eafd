//! Routing of `/v1` requests: the route table (templates exactly as in Hetzner's OpenAPI
//! `paths`) and the dispatch to handlers.

use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::query::Query;
use super::reference::{self, ActionScope};
use super::state::{Reply, State};

/// Every endpoint the sim serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    ServersList,
    ServersCreate,
    ServerGet,
    ServerUpdate,
    ServerDelete,
    ServerPower(&'static str),
    ServerActions,
    ServerAction,
    ServersActions,
    ServersAction,
    FirewallsList,
    FirewallsCreate,
    FirewallGet,
    FirewallUpdate,
    FirewallDelete,
    FirewallSetRules,
    FirewallApply,
    FirewallRemove,
    FirewallActions,
    FirewallAction,
    FirewallsActions,
    FirewallsAction,
    SshKeysList,
    SshKeysCreate,
    SshKeyGet,
    SshKeyUpdate,
    SshKeyDelete,
    ServerTypes,
    ServerType,
    Locations,
    Location,
    Datacenters,
    Datacenter,
    Images,
    Image,
    Pricing,
    Actions,
    Action,
}

use Route::*;

type Methods = &'static [(&'static str, Route)];

/// `(template, [(method, route)])`; templates are OpenAPI paths relative to `/v1`.
const ROUTES: &[(&str, Methods)] = &[
    ("/servers", &[("GET", ServersList), ("POST", ServersCreate)]),
    ("/servers/actions", &[("GET", ServersActions)]),
    ("/servers/actions/{id}", &[("GET", ServersAction)]),
    (
        "/servers/{id}",
        &[
            ("GET", ServerGet),
            ("PUT", ServerUpdate),
            ("DELETE", ServerDelete),
        ],
    ),
    ("/servers/{id}/actions", &[("GET", ServerActions)]),
    (
        "/servers/{id}/actions/poweron",
        &[("POST", ServerPower("poweron"))],
    ),
    (
        "/servers/{id}/actions/poweroff",
        &[("POST", ServerPower("poweroff"))],
    ),
    (
        "/servers/{id}/actions/shutdown",
        &[("POST", ServerPower("shutdown"))],
    ),
    (
        "/servers/{id}/actions/reboot",
        &[("POST", ServerPower("reboot"))],
    ),
    (
        "/servers/{id}/actions/reset",
        &[("POST", ServerPower("reset"))],
    ),
    (
        "/servers/{id}/actions/{action_id}",
        &[("GET", ServerAction)],
    ),
    (
        "/firewalls",
        &[("GET", FirewallsList), ("POST", FirewallsCreate)],
    ),
    ("/firewalls/actions", &[("GET", FirewallsActions)]),
    ("/firewalls/actions/{id}", &[("GET", FirewallsAction)]),
    (
        "/firewalls/{id}",
        &[
            ("GET", FirewallGet),
            ("PUT", FirewallUpdate),
            ("DELETE", FirewallDelete),
        ],
    ),
    ("/firewalls/{id}/actions", &[("GET", FirewallActions)]),
    (
        "/firewalls/{id}/actions/set_rules",
        &[("POST", FirewallSetRules)],
    ),
    (
        "/firewalls/{id}/actions/apply_to_resources",
        &[("POST", FirewallApply)],
    ),
    (
        "/firewalls/{id}/actions/remove_from_resources",
        &[("POST", FirewallRemove)],
    ),
    (
        "/firewalls/{id}/actions/{action_id}",
        &[("GET", FirewallAction)],
    ),
    (
        "/ssh_keys",
        &[("GET", SshKeysList), ("POST", SshKeysCreate)],
    ),
    (
        "/ssh_keys/{id}",
        &[
            ("GET", SshKeyGet),
            ("PUT", SshKeyUpdate),
            ("DELETE", SshKeyDelete),
        ],
    ),
    ("/server_types", &[("GET", ServerTypes)]),
    ("/server_types/{id}", &[("GET", ServerType)]),
    ("/locations", &[("GET", Locations)]),
    ("/locations/{id}", &[("GET", Location)]),
    ("/datacenters", &[("GET", Datacenters)]),
    ("/datacenters/{id}", &[("GET", Datacenter)]),
    ("/images", &[("GET", Images)]),
    ("/images/{id}", &[("GET", Image)]),
    ("/pricing", &[("GET", Pricing)]),
    ("/actions", &[("GET", Actions)]),
    ("/actions/{id}", &[("GET", Action)]),
];

/// A routing result.
pub(crate) enum Matched {
    /// A route, its template and its raw path parameters.
    Route(Route, &'static str, Vec<String>),
    /// The path exists but not for this method; carries the template and allowed methods.
    MethodNotAllowed(&'static str, Vec<&'static str>),
    /// No template matches.
    NotFound,
}

/// Match `path` (relative to `/v1`, e.g. `/servers/42`) and `method`. Literal segments win
/// over placeholders (`/servers/actions` is not `/servers/{id}`).
pub(crate) fn route(method: &str, path: &str) -> Matched {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let mut best: Option<(usize, &'static str, Methods, Vec<String>)> = None;
    for (template, methods) in ROUTES {
        let tsegs: Vec<&str> = template.split('/').skip(1).collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literals = 0;
        let mut params = Vec::new();
        let ok = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                params.push(s.to_string());
                !s.is_empty()
            } else {
                literals += 1;
                t == s
            }
        });
        if ok && best.as_ref().is_none_or(|(l, ..)| literals > *l) {
            best = Some((literals, template, methods, params));
        }
    }
    match best {
        None => Matched::NotFound,
        Some((_, template, methods, params)) => match methods.iter().find(|(m, _)| *m == method) {
            Some((_, r)) => Matched::Route(*r, template, params),
            None => Matched::MethodNotAllowed(template, methods.iter().map(|(m, _)| *m).collect()),
        },
    }
}

/// Everything a handler needs from the request.
pub(crate) struct Call<'a> {
    pub route: Route,
    pub params: &'a [String],
    pub query: &'a Query,
    pub body: &'a [u8],
    /// Absolute URL of the requested path, for `Link` headers.
    pub base_url: &'a str,
    pub now: DateTime<Utc>,
}

fn param(params: &[String], i: usize, what: &str) -> Result<i64, ApiError> {
    params
        .get(i)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(what))
}

/// Run a matched route against the state.
pub(crate) fn dispatch(state: &mut State, c: Call<'_>) -> Result<Reply, ApiError> {
    let (q, base, now, body) = (c.query, c.base_url, c.now, c.body);
    let p = |i: usize, what: &str| param(c.params, i, what);
    match c.route {
        ServersList => state.list_servers(q, base, now),
        ServersCreate => state.create_server(body, now),
        ServerGet => state.get_server(p(0, "server")?, now),
        ServerUpdate => state.update_server(p(0, "server")?, body, now),
        ServerDelete => state.delete_server(p(0, "server")?, now),
        ServerPower(cmd) => state.server_power(p(0, "server")?, cmd, body, now),
        ServerActions => {
            state.list_actions(ActionScope::One("server", p(0, "server")?), q, base, now)
        }
        ServerAction => {
            let sid = p(0, "server")?;
            state.server(sid)?;
            state.get_action(ActionScope::One("server", sid), p(1, "action")?, now)
        }
        ServersActions => state.list_actions(ActionScope::Kind("server"), q, base, now),
        ServersAction => state.get_action(ActionScope::Kind("server"), p(0, "action")?, now),
        FirewallsList => state.list_firewalls(q, base),
        FirewallsCreate => state.create_firewall(body, now),
        FirewallGet => state.get_firewall(p(0, "firewall")?),
        FirewallUpdate => state.update_firewall(p(0, "firewall")?, body),
        FirewallDelete => state.delete_firewall(p(0, "firewall")?),
        FirewallSetRules => state.set_rules(p(0, "firewall")?, body, now),
        FirewallApply => state.apply_to_resources(p(0, "firewall")?, body, now),
        FirewallRemove => state.remove_from_resources(p(0, "firewall")?, body, now),
        FirewallActions => state.list_actions(
            ActionScope::One("firewall", p(0, "firewall")?),
            q,
            base,
            now,
        ),
        FirewallAction => {
            let fid = p(0, "firewall")?;
            state.firewall(fid)?;
            state.get_action(ActionScope::One("firewall", fid), p(1, "action")?, now)
        }
        FirewallsActions => state.list_actions(ActionScope::Kind("firewall"), q, base, now),
        FirewallsAction => state.get_action(ActionScope::Kind("firewall"), p(0, "action")?, now),
        SshKeysList => state.list_ssh_keys(q, base),
        SshKeysCreate => state.create_ssh_key(body, now),
        SshKeyGet => state.get_ssh_key(p(0, "ssh key")?),
        SshKeyUpdate => state.update_ssh_key(p(0, "ssh key")?, body),
        SshKeyDelete => state.delete_ssh_key(p(0, "ssh key")?),
        ServerTypes => reference::list_server_types(q, base),
        ServerType => reference::get_server_type(p(0, "server type")?),
        Locations => reference::list_locations(q, base),
        Location => reference::get_location(p(0, "location")?),
        Datacenters => reference::list_datacenters(q, base),
        Datacenter => reference::get_datacenter(p(0, "datacenter")?),
        Images => reference::list_images(q, base),
        Image => reference::get_image(p(0, "image")?),
        Pricing => Ok(reference::pricing()),
        Actions => state.list_actions(ActionScope::Ids, q, base, now),
        Action => state.get_action(ActionScope::Ids, p(0, "action")?, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(method: &str, path: &str) -> String {
        match route(method, path) {
            Matched::Route(_, t, _) => t.to_string(),
            Matched::MethodNotAllowed(t, _) => format!("405 {t}"),
            Matched::NotFound => "404".to_string(),
        }
    }

    #[test]
    fn literal_segments_win() {
        assert_eq!(template("GET", "/servers/actions"), "/servers/actions");
        assert_eq!(template("GET", "/servers/42"), "/servers/{id}");
        assert_eq!(template("GET", "/servers/42/"), "/servers/{id}");
        assert_eq!(
            template("POST", "/servers/42/actions/poweron"),
            "/servers/{id}/actions/poweron"
        );
        assert_eq!(
            template("GET", "/servers/42/actions/7"),
            "/servers/{id}/actions/{action_id}"
        );
        assert_eq!(
            template("GET", "/servers/42/actions/poweron"),
            "405 /servers/{id}/actions/poweron"
        );
        assert_eq!(template("PATCH", "/servers"), "405 /servers");
        assert_eq!(template("GET", "/volumes"), "404");
        assert_eq!(template("GET", "/"), "404");
    }
}
