//! What crosses between the dashboard and the worker about a VM's firewall: what Hetzner holds
//! ([`FirewallState`]), why it was read ([`LoadCause`]) and how a load or apply failed
//! ([`FirewallFailure`]). Types and their wording only; the reads and applies are in
//! `worker::firewall`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::firewall::WireRule;
use crate::hetzner::FieldError;

/// Why a firewall was (re)read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadCause {
    /// The editor asked for it ([`Effect::LoadFirewall`](crate::protocol::Effect::LoadFirewall)).
    Loaded,
    /// Read back after a successful apply: this is what Hetzner now holds.
    Applied,
    /// Read back after an apply failed part-way (the actions failed or timed out), so the pane
    /// shows what Hetzner holds now; a [`WorkerEvent::FirewallFailed`](crate::protocol::WorkerEvent::FirewallFailed) follows.
    AfterFailure,
}

/// The newest finished action of a firewall: when its rules or attachments last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastChange {
    /// Hetzner's command, e.g. `set_firewall_rules`, `apply_firewall`.
    pub command: String,
    /// When it finished (UTC).
    pub finished: DateTime<Utc>,
    /// `success` or `error`.
    pub status: String,
}

/// A firewall exactly as Hetzner returned it, for the editor and `firewall show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallState {
    /// Hetzner firewall id.
    pub id: i64,
    /// Firewall name.
    pub name: String,
    /// Every rule in Hetzner's order, `out` and ICMP ones included (the editor flags those).
    pub rules: Vec<WireRule>,
    /// Servers it is applied to directly.
    pub servers: Vec<i64>,
    /// Label selectors it is applied through, with the servers each matches now.
    pub label_selectors: Vec<(String, Vec<i64>)>,
    /// The newest finished action, `None` when Hetzner lists none (or listing them failed).
    pub last_change: Option<LastChange>,
}

/// A firewall read back from Hetzner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallLoaded {
    /// The Plain VM it belongs to.
    pub vm_id: Uuid,
    /// What Hetzner holds.
    pub firewall: FirewallState,
    /// Why it was read.
    pub cause: LoadCause,
}

/// The step of a load or apply that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailedStep {
    /// Reading the firewall (`GET /firewalls/{id}`).
    Read,
    /// `set_rules` was refused; nothing changed at Hetzner.
    SetRules,
    /// `set_rules` was accepted but an action failed or did not end in time.
    Action,
    /// The rules were applied but reading them back failed.
    ReadBack,
    /// Refused before any API call (another apply of this firewall is running).
    Busy,
}

impl FailedStep {
    /// In words, e.g. `set_rules refused`.
    pub fn describe(self) -> &'static str {
        match self {
            FailedStep::Read => "reading the firewall failed",
            FailedStep::SetRules => "set_rules refused, nothing changed",
            FailedStep::Action => "Hetzner's action failed",
            FailedStep::ReadBack => "applied, but reading it back failed",
            FailedStep::Busy => "an apply of this firewall is already running",
        }
    }
}

/// Reading or applying a firewall failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallFailure {
    /// The Plain VM.
    pub vm_id: Uuid,
    /// Its Hetzner firewall id.
    pub firewall_id: i64,
    /// True for an apply (the editor clears its in-flight flag), false for a load.
    pub apply: bool,
    /// Which step failed.
    pub step: FailedStep,
    /// HTTP status, when Hetzner answered (e.g. 422).
    pub status: Option<u16>,
    /// Hetzner's error code (e.g. `invalid_input`), or the action's error code.
    pub code: Option<String>,
    /// Hetzner's message (or the transport error in words; never the token).
    pub message: String,
    /// `details.fields` of the error, e.g. `rules[0].port: port must be 1-65535`.
    pub fields: Vec<FieldError>,
}

impl FirewallFailure {
    /// One line, the field Hetzner names first when it names one (its message then only
    /// repeats it): `set_rules refused, nothing changed: invalid_input (422): rule 1 port: is
    /// invalid`; otherwise `…: conflict (409): resource changed`.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: ", self.step.describe());
        match (&self.code, self.status) {
            (Some(c), Some(st)) => s.push_str(&format!("{c} ({st}): ")),
            (Some(c), None) => s.push_str(&format!("{c}: ")),
            _ => {}
        }
        let fields: Vec<String> = self.fields.iter().map(describe_field).collect();
        if fields.is_empty() {
            s.push_str(&self.message);
        } else {
            s.push_str(&fields.join("; "));
        }
        s
    }
}

/// A Hetzner field error in the editor's terms: `rules[2].port` becomes `rule 3 port`.
pub fn describe_field(f: &FieldError) -> String {
    let name = match rule_field(&f.name) {
        Some((row, field)) => format!("rule {row} {field}"),
        None => f.name.clone(),
    };
    if f.messages.is_empty() {
        name
    } else {
        format!("{name}: {}", f.messages.join(", "))
    }
}

/// `rules[2].port` → `(3, "port")` (1-based rule number, field name); `None` for other names.
pub fn rule_field(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("rules[")?;
    let (idx, rest) = rest.split_once(']')?;
    let idx: usize = idx.parse().ok()?;
    let field = rest.strip_prefix('.').unwrap_or("rule");
    Some((idx + 1, if field.is_empty() { "rule" } else { field }))
}
