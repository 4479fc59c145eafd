//! Firewalls: [`Firewall`], its rules and resources, and the create request and response.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::action::Action;
use super::{Labels, null_as_default};

/// Direction of a firewall rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Inbound traffic (uses `source_ips`).
    In,
    /// Outbound traffic (uses `destination_ips`).
    Out,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// Protocol of a firewall rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP (needs a `port`).
    Tcp,
    /// UDP (needs a `port`).
    Udp,
    /// ICMP (no port).
    Icmp,
    /// ESP (no port).
    Esp,
    /// GRE (no port).
    Gre,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// A firewall rule (docs/hetzner-api.md §7.2). Responses always carry all six keys; this type
/// also serialises all six (`port`/`description` as `null` when absent), which Hetzner accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `in` or `out`.
    pub direction: Direction,
    /// Protocol.
    pub protocol: Protocol,
    /// Port `"80"`, range `"1024-5000"` or `"any"`; `None` for icmp/esp/gre.
    #[serde(default)]
    pub port: Option<String>,
    /// Source CIDRs (in rules; at most 100).
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_ips: Vec<String>,
    /// Destination CIDRs (out rules; at most 100).
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_ips: Vec<String>,
    /// Free text, at most 255 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// `{"selector": "env=prod"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelector {
    /// Label selector expression (docs/hetzner-api.md §2 grammar).
    pub selector: String,
}

/// `{"id": 42}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// Resource ID.
    pub id: i64,
}

/// Something a firewall is applied to (`applied_to[]`, and the `apply_to` / `remove_from`
/// request lists). Unknown `type`s (Hetzner may add some) become [`FirewallResource::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FirewallResource {
    /// A single server: `{"type":"server","server":{"id":42}}`.
    Server {
        /// The server.
        server: IdRef,
    },
    /// All servers matching a label selector.
    LabelSelector {
        /// The selector.
        label_selector: LabelSelector,
        /// Read-only: the servers currently matched (responses only).
        #[serde(
            default,
            deserialize_with = "null_as_default",
            skip_serializing_if = "Vec::is_empty"
        )]
        applied_to_resources: Vec<FirewallResource>,
    },
    /// A resource type this client does not know.
    #[serde(other)]
    Unknown,
}

impl FirewallResource {
    /// `{"type":"server","server":{"id":id}}`.
    pub fn server(id: i64) -> Self {
        FirewallResource::Server {
            server: IdRef { id },
        }
    }

    /// `{"type":"label_selector","label_selector":{"selector":…}}`.
    pub fn label_selector(selector: impl Into<String>) -> Self {
        FirewallResource::LabelSelector {
            label_selector: LabelSelector {
                selector: selector.into(),
            },
            applied_to_resources: Vec::new(),
        }
    }
}

/// A Hetzner Cloud Firewall (`GET /firewalls/{id}` → `{"firewall": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// Firewall ID.
    pub id: i64,
    /// Name (unique per project, at most 128 characters).
    pub name: String,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// Creation time, UTC.
    pub created: DateTime<Utc>,
    /// Rules (at most 50: Hetzner `maxItems`, docs/product-rules.md §4).
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: Vec<FirewallRule>,
    /// What it is applied to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub applied_to: Vec<FirewallResource>,
}

impl Firewall {
    /// IDs of servers the firewall is applied to directly (not via label selector).
    pub fn server_ids(&self) -> Vec<i64> {
        self.applied_to
            .iter()
            .filter_map(|r| match r {
                FirewallResource::Server { server } => Some(server.id),
                _ => None,
            })
            .collect()
    }
}

/// Request body of `POST /firewalls`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFirewallRequest {
    /// Name (unique per project, at most 128 characters).
    pub name: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    /// Initial rules (at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FirewallRule>,
    /// Resources to apply it to at creation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apply_to: Vec<FirewallResource>,
}

/// Response of `POST /firewalls` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFirewallResponse {
    /// The new firewall.
    pub firewall: Firewall,
    /// Actions started by the creation (`set_firewall_rules`, `apply_firewall`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub actions: Vec<Action>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_with_typed_and_unknown_resources() {
        let json = r#"{"id": 7, "name": "web-fw", "labels": {}, "created": "2024-05-01T10:00:00+00:00",
          "rules": [
            {"direction": "in", "protocol": "tcp", "port": "22",
             "source_ips": ["0.0.0.0/0", "::/0"], "destination_ips": [], "description": "ssh"},
            {"direction": "in", "protocol": "icmp", "port": null,
             "source_ips": ["0.0.0.0/0"], "destination_ips": null, "description": null},
            {"direction": "sideways", "protocol": "sctp", "port": null,
             "source_ips": [], "destination_ips": [], "description": null}],
          "applied_to": [
            {"type": "server", "server": {"id": 42}},
            {"type": "label_selector", "label_selector": {"selector": "env=prod"},
             "applied_to_resources": [{"type": "server", "server": {"id": 43}}]},
            {"type": "load_balancer", "load_balancer": {"id": 5}}]}"#;
        let fw: Firewall = serde_json::from_str(json).expect("firewall");
        assert_eq!(fw.rules.len(), 3);
        assert_eq!(
            fw.rules[0],
            FirewallRule {
                direction: Direction::In,
                protocol: Protocol::Tcp,
                port: Some("22".into()),
                source_ips: vec!["0.0.0.0/0".into(), "::/0".into()],
                destination_ips: vec![],
                description: Some("ssh".into()),
            }
        );
        assert_eq!(fw.rules[1].protocol, Protocol::Icmp);
        assert_eq!(fw.rules[1].port, None);
        assert!(fw.rules[1].destination_ips.is_empty());
        assert_eq!(fw.rules[2].direction, Direction::Unknown);
        assert_eq!(fw.rules[2].protocol, Protocol::Unknown);
        assert_eq!(fw.applied_to[0], FirewallResource::server(42));
        assert_eq!(
            fw.applied_to[1],
            FirewallResource::LabelSelector {
                label_selector: LabelSelector {
                    selector: "env=prod".into()
                },
                applied_to_resources: vec![FirewallResource::server(43)],
            }
        );
        assert_eq!(fw.applied_to[2], FirewallResource::Unknown);
        assert_eq!(fw.server_ids(), vec![42]);
    }

    #[test]
    fn firewall_request_shapes() {
        let rule = FirewallRule {
            direction: Direction::In,
            protocol: Protocol::Tcp,
            port: Some("22".into()),
            source_ips: vec!["0.0.0.0/0".into()],
            destination_ips: vec![],
            description: None,
        };
        assert_eq!(
            serde_json::to_value(&rule).expect("rule"),
            serde_json::json!({"direction":"in","protocol":"tcp","port":"22",
                "source_ips":["0.0.0.0/0"],"destination_ips":[],"description":null})
        );
        assert_eq!(
            serde_json::to_value(FirewallResource::server(42)).expect("res"),
            serde_json::json!({"type":"server","server":{"id":42}})
        );
        assert_eq!(
            serde_json::to_value(FirewallResource::label_selector("env=prod")).expect("res"),
            serde_json::json!({"type":"label_selector","label_selector":{"selector":"env=prod"}})
        );
    }
}
