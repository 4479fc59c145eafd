//! Reading and applying a VM's Hetzner Cloud Firewall for the rule editor (issue 5).
//!
//! Both run as their own tokio tasks, so the worker keeps handling effects while Hetzner's
//! actions run (an apply takes seconds):
//! - [`Effect::LoadFirewall`](crate::protocol::Effect::LoadFirewall): `GET /firewalls/{id}`
//!   plus the newest of its actions (`GET /firewalls/{id}/actions?sort=finished:desc`), for
//!   "last changed";
//! - [`Effect::ApplyFirewall`](crate::protocol::Effect::ApplyFirewall): exactly one
//!   `POST /firewalls/{id}/actions/set_rules` with the **whole** list (docs/product-rules.md §4: full
//!   replace), every returned action followed to its end, then the firewall read back. The pane
//!   shows what Hetzner sent back, never the local copy. While an apply of a firewall runs, a
//!   second one for the same firewall is refused (a held key must not send twice).
//!
//! Results arrive as [`WorkerEvent::Firewall`] or [`WorkerEvent::FirewallFailed`]; a failure
//! carries Hetzner's status, code, message and `details.fields` (e.g. `rules[0].port`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::caller::Reply;
use uuid::Uuid;

use crate::domain::firewall::{Rule, WireRule, to_wire};
use crate::hetzner::{
    Action, ActionStatus, ApiError, Client, Firewall, FirewallResource, FirewallRule,
};
use crate::protocol::WorkerEvent;
use crate::protocol::firewall::*;

/// Builds the state from Hetzner's firewall object and its newest action.
pub fn state_from_hetzner(f: &Firewall, last_change: Option<LastChange>) -> FirewallState {
    let mut servers = Vec::new();
    let mut label_selectors = Vec::new();
    for r in &f.applied_to {
        match r {
            FirewallResource::Server { server } => servers.push(server.id),
            FirewallResource::LabelSelector {
                label_selector,
                applied_to_resources,
            } => label_selectors.push((
                label_selector.selector.clone(),
                applied_to_resources
                    .iter()
                    .filter_map(|x| match x {
                        FirewallResource::Server { server } => Some(server.id),
                        _ => None,
                    })
                    .collect(),
            )),
            FirewallResource::Unknown => {}
        }
    }
    FirewallState {
        id: f.id,
        name: f.name.clone(),
        rules: f.rules.iter().map(wire_of).collect(),
        servers,
        label_selectors,
        last_change,
    }
}

/// The failure of `step` of a load (`apply` false) or apply of firewall `firewall_id`, with
/// Hetzner's status, code, message and field errors from `e`.
pub fn failure(
    vm_id: Uuid,
    firewall_id: i64,
    apply: bool,
    step: FailedStep,
    e: &ApiError,
) -> FirewallFailure {
    let (status, code, message, fields) = match e {
        ApiError::Api {
            status,
            code,
            message,
            fields,
        } => (
            Some(*status),
            Some(code.clone()),
            message.clone(),
            fields.clone(),
        ),
        ApiError::ActionFailed { code, message, .. } => {
            (None, Some(code.clone()), message.clone(), Vec::new())
        }
        other => (
            other.status(),
            other.code().map(str::to_string),
            other.to_string(),
            Vec::new(),
        ),
    };
    FirewallFailure {
        vm_id,
        firewall_id,
        apply,
        step,
        status,
        code,
        message,
        fields,
    }
}

/// The domain's wire rule for a Hetzner client rule (same six keys).
pub fn wire_of(r: &FirewallRule) -> WireRule {
    let name = |v: serde_json::Result<serde_json::Value>| match v {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_string(),
    };
    WireRule {
        direction: name(serde_json::to_value(r.direction)),
        protocol: name(serde_json::to_value(r.protocol)),
        port: r.port.clone(),
        source_ips: r.source_ips.clone(),
        destination_ips: r.destination_ips.clone(),
        description: r.description.clone(),
    }
}

/// The Hetzner client rule for a domain rule (direction `in`, tcp/udp).
pub fn client_rule(r: &Rule) -> FirewallRule {
    let w = to_wire(r);
    let protocol = match r.protocol {
        crate::domain::firewall::Protocol::Tcp => crate::hetzner::Protocol::Tcp,
        crate::domain::firewall::Protocol::Udp => crate::hetzner::Protocol::Udp,
    };
    FirewallRule {
        direction: crate::hetzner::Direction::In,
        protocol,
        port: w.port,
        source_ips: w.source_ips,
        destination_ips: Vec::new(),
        description: w.description,
    }
}

/// The firewall's newest action by finish time (one request, `per_page` 5: running actions
/// sort first and are skipped). `None` when it has none.
pub async fn last_change(client: &Client, id: i64) -> Result<Option<LastChange>, ApiError> {
    let actions = client.list_firewall_actions_newest(id, 5).await?;
    Ok(newest_finished(&actions))
}

/// The finished action with the latest `finished` time.
pub fn newest_finished(actions: &[Action]) -> Option<LastChange> {
    actions
        .iter()
        .filter_map(|a| a.finished.map(|f| (f, a)))
        .max_by_key(|(f, a)| (*f, a.id))
        .map(|(finished, a)| LastChange {
            command: a.command.clone(),
            finished,
            status: match a.status {
                ActionStatus::Error => "error".into(),
                _ => "success".into(),
            },
        })
}

/// Reads a firewall and its last change. A failure to list actions only loses "last changed".
pub async fn read(client: &Client, id: i64) -> Result<FirewallState, ApiError> {
    let f = client.get_firewall(id).await?;
    let last = match last_change(client, id).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(firewall = id, error = %e, "listing firewall actions failed");
            None
        }
    };
    Ok(state_from_hetzner(&f, last))
}

/// Applies `rules` with one `set_rules`, waits for every action, reads the firewall back.
/// Returns the read-back state, or the failure (with the state read after a failed action,
/// when that read worked).
pub async fn apply(
    client: &Client,
    vm_id: Uuid,
    id: i64,
    rules: &[Rule],
) -> Result<FirewallState, (Box<FirewallFailure>, Option<FirewallState>)> {
    let fail = |step, e: &ApiError| Box::new(failure(vm_id, id, true, step, e));
    let body: Vec<FirewallRule> = rules.iter().map(client_rule).collect();
    let actions = client
        .set_firewall_rules(id, &body)
        .await
        .map_err(|e| (fail(FailedStep::SetRules, &e), None))?;
    let done = match client.wait_for_actions(&actions).await {
        Ok(done) => done,
        Err(e) => {
            let now = read(client, id).await.ok();
            return Err((fail(FailedStep::Action, &e), now));
        }
    };
    let f = client
        .get_firewall(id)
        .await
        .map_err(|e| (fail(FailedStep::ReadBack, &e), None))?;
    // The set_firewall_rules action just finished: that is the last change (no extra request).
    let last = newest_finished(&done);
    Ok(state_from_hetzner(&f, last))
}

/// Firewalls with an apply running (shared with the apply tasks).
#[derive(Debug, Clone, Default)]
pub struct Jobs(Arc<Mutex<HashSet<i64>>>);

impl Jobs {
    fn start(&self, id: i64) -> bool {
        match self.0.lock() {
            Ok(mut set) => set.insert(id),
            Err(poisoned) => poisoned.into_inner().insert(id),
        }
    }

    fn end(&self, id: i64) {
        match self.0.lock() {
            Ok(mut set) => set.remove(&id),
            Err(poisoned) => poisoned.into_inner().remove(&id),
        };
    }
}

/// Starts a load task; its result arrives as an event.
pub fn spawn_load(client: Client, events: Reply, vm_id: Uuid, id: i64) {
    tokio::spawn(async move {
        let event = match read(&client, id).await {
            Ok(firewall) => WorkerEvent::Firewall(Box::new(FirewallLoaded {
                vm_id,
                firewall,
                cause: LoadCause::Loaded,
            })),
            Err(e) => {
                tracing::warn!(firewall = id, error = %e, "reading firewall failed");
                WorkerEvent::FirewallFailed(Box::new(failure(
                    vm_id,
                    id,
                    false,
                    FailedStep::Read,
                    &e,
                )))
            }
        };
        events.send(event);
    });
}

/// Starts an apply task unless one for the same firewall is running (then a `Busy` failure
/// is sent at once and nothing reaches Hetzner). `applied` runs once Hetzner holds new rules
/// (after a success, or a failure that still changed them), so every console gets to see them.
pub fn spawn_apply(
    client: Client,
    events: Reply,
    jobs: Jobs,
    target: (Uuid, i64),
    rules: Vec<Rule>,
    applied: impl FnOnce() + Send + 'static,
) {
    let (vm_id, id) = target;
    if !jobs.start(id) {
        tracing::info!(firewall = id, "apply refused: one is already running");
        events.send(WorkerEvent::FirewallFailed(Box::new(FirewallFailure {
            vm_id,
            firewall_id: id,
            apply: true,
            step: FailedStep::Busy,
            status: None,
            code: None,
            message: "wait for it to finish".into(),
            fields: Vec::new(),
        })));
        return;
    }
    tokio::spawn(async move {
        tracing::info!(
            firewall = id,
            rules = rules.len(),
            "applying firewall rules"
        );
        let result = apply(&client, vm_id, id, &rules).await;
        jobs.end(id);
        match result {
            Ok(firewall) => {
                tracing::info!(
                    firewall = id,
                    rules = firewall.rules.len(),
                    "firewall applied"
                );
                applied();
                events.send(WorkerEvent::Firewall(Box::new(FirewallLoaded {
                    vm_id,
                    firewall,
                    cause: LoadCause::Applied,
                })));
            }
            Err((failure, now)) => {
                tracing::warn!(firewall = id, error = %failure.summary(), "firewall apply failed");
                if let Some(firewall) = now {
                    applied();
                    events.send(WorkerEvent::Firewall(Box::new(FirewallLoaded {
                        vm_id,
                        firewall,
                        cause: LoadCause::AfterFailure,
                    })));
                }
                events.send(WorkerEvent::FirewallFailed(failure));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::FieldError;

    #[test]
    fn rule_fields_map_to_rows() {
        assert_eq!(rule_field("rules[0].port"), Some((1, "port")));
        assert_eq!(rule_field("rules[12].source_ips"), Some((13, "source_ips")));
        assert_eq!(rule_field("rules[3]"), Some((4, "rule")));
        assert_eq!(rule_field("rules"), None);
        assert_eq!(rule_field("name"), None);
        let f = FieldError {
            name: "rules[1].port".into(),
            messages: vec!["is invalid".into()],
        };
        assert_eq!(describe_field(&f), "rule 2 port: is invalid");
    }

    #[test]
    fn failure_summary_names_code_status_and_field() {
        let e = ApiError::Api {
            status: 422,
            code: "invalid_input".into(),
            message: "invalid input in field 'rules[0].port'".into(),
            fields: vec![FieldError {
                name: "rules[0].port".into(),
                messages: vec!["9-3: low port above high port".into()],
            }],
        };
        let f = failure(Uuid::nil(), 7, true, FailedStep::SetRules, &e);
        assert_eq!(
            f.summary(),
            "set_rules refused, nothing changed: invalid_input (422): rule 1 port: 9-3: low \
             port above high port"
        );
    }
}
