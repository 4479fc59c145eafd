//! `crabglamp firewall show VM [--json]` and `crabglamp firewall set VM --file rules.txt
//! [--yes] [--json]` (issue 5), through the same worker as the dashboard (so read-only mode is
//! refused in the same place).
//!
//! `set` reads the text format (one rule a line, `tcp 443 0.0.0.0/0,::/0 # HTTPS`), refuses
//! bad lines with their line numbers before any API call, prints the diff and the warnings, and
//! refuses without `--yes` when the new set would lock the operator out of SSH (address from
//! `SSH_CONNECTION`, else any source) or drop rules v1 cannot keep (out, ICMP …). After applying
//! it prints the rules read back from Hetzner.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

use super::output::{Failure, print_out, table};
use super::session::{Session, first_sync, spawn_worker, stop};
use crabglamp::domain::firewall::{
    Change, ForeignRule, Redundancy, Rule, diff, duplicates_and_shadowed, from_wire, lockout,
    operator_ip_from_ssh_connection, parse_rules_text, sensitive_exposed,
};
use crabglamp::protocol::firewall::{FirewallState, LoadCause};
use crabglamp::protocol::{Effect, Snapshot, WorkerEvent};

/// `firewall` subcommands.
#[derive(Debug, Subcommand)]
pub enum FirewallCommand {
    /// Print a VM's firewall rules as read from Hetzner.
    Show {
        /// VM name (hostname) or id.
        vm: String,
        /// `{"vm", "firewallId", "rules": [...], "appliedTo": [...]}` instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Replace a VM's firewall rules with the rules in a file (whole list, docs/product-rules.md §4).
    #[command(
        about = "Replace a VM's firewall rules with the rules in a file (the whole list)",
        long_about = None
    )]
    Set {
        /// VM name (hostname) or id.
        vm: String,
        /// Rules, one a line: `PROTO PORT SOURCES [# DESCRIPTION]`; `#` lines are comments.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// Apply even when the new rules would lock you out of SSH or drop rules v1 cannot keep.
        #[arg(long)]
        yes: bool,
        /// Print the read-back as JSON (same shape as `show --json`).
        #[arg(long)]
        json: bool,
    },
}

/// One rule as `firewall show --json` prints it (CrabGlamp's field names).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleJson {
    direction: String,
    protocol: String,
    port: Option<String>,
    source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    destination_ips: Vec<String>,
    description: Option<String>,
}

/// What the firewall is applied to.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum AppliedJson {
    /// A server, with the VM name when known.
    #[serde(rename_all = "camelCase")]
    Server { server_id: i64, vm: Option<String> },
    /// A label selector and the servers it matches now.
    #[serde(rename_all = "camelCase")]
    LabelSelector {
        selector: String,
        server_ids: Vec<i64>,
    },
}

/// `firewall show --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FirewallJson {
    vm: String,
    firewall_id: i64,
    firewall_name: String,
    rules: Vec<RuleJson>,
    applied_to: Vec<AppliedJson>,
    last_changed: Option<crabglamp::protocol::firewall::LastChange>,
}

fn to_json(vm: &str, f: &FirewallState, snapshot: &Snapshot) -> FirewallJson {
    let name_of = |id: i64| {
        snapshot
            .vms
            .iter()
            .find(|v| v.record.hetzner_server_id == Some(id))
            .map(|v| v.record.name.clone())
    };
    let mut applied_to: Vec<AppliedJson> = f
        .servers
        .iter()
        .map(|id| AppliedJson::Server {
            server_id: *id,
            vm: name_of(*id),
        })
        .collect();
    applied_to.extend(
        f.label_selectors
            .iter()
            .map(|(s, ids)| AppliedJson::LabelSelector {
                selector: s.clone(),
                server_ids: ids.clone(),
            }),
    );
    FirewallJson {
        vm: vm.to_string(),
        firewall_id: f.id,
        firewall_name: f.name.clone(),
        rules: f
            .rules
            .iter()
            .map(|r| RuleJson {
                direction: r.direction.clone(),
                protocol: r.protocol.clone(),
                port: r.port.clone(),
                source_ips: r.source_ips.clone(),
                destination_ips: r.destination_ips.clone(),
                description: r.description.clone(),
            })
            .collect(),
        applied_to,
        last_changed: f.last_change.clone(),
    }
}

fn to_text(vm: &str, f: &FirewallState, snapshot: &Snapshot) -> String {
    let j = to_json(vm, f, snapshot);
    let applied: Vec<String> = j
        .applied_to
        .iter()
        .map(|a| match a {
            AppliedJson::Server { server_id, vm } => match vm {
                Some(n) => format!("{n} (#{server_id})"),
                None => format!("#{server_id}"),
            },
            AppliedJson::LabelSelector {
                selector,
                server_ids,
            } => format!("label selector {selector} ({} servers)", server_ids.len()),
        })
        .collect();
    let last = match &f.last_change {
        Some(c) => format!(
            "{} UTC ({})",
            c.finished.format("%Y-%m-%d %H:%M:%S"),
            c.command
        ),
        None => "unknown".into(),
    };
    let body: Vec<Vec<String>> = f
        .rules
        .iter()
        .map(|r| {
            let peers = if r.direction == "out" {
                r.destination_ips.join(",")
            } else {
                r.source_ips.join(",")
            };
            vec![
                r.direction.clone(),
                r.protocol.clone(),
                r.port.clone().unwrap_or_else(|| "-".into()),
                peers,
                r.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format!(
        "VM {vm} · firewall {} #{}\napplied to: {}\nlast changed: {last}\n\n{}",
        f.name,
        f.id,
        if applied.is_empty() {
            "no server".to_string()
        } else {
            applied.join(", ")
        },
        table(&["DIR", "PROTO", "PORT", "SOURCES", "DESCRIPTION"], &body)
    )
}

/// The VM (name or id; a live one first) and its firewall id.
fn find_vm(snapshot: &Snapshot, vm: &str) -> Result<(Uuid, String, i64), Failure> {
    let row = snapshot
        .vms
        .iter()
        .filter(|v| v.record.name == vm || v.record.id.to_string() == vm)
        .max_by_key(|v| v.record.status.is_live())
        .ok_or_else(|| Failure(format!("no VM named '{vm}'")))?;
    let id = row
        .firewall
        .as_ref()
        .map(|f| f.id)
        .or(row.record.hetzner_firewall_id)
        .ok_or_else(|| {
            Failure(format!(
                "VM '{}' has no firewall known to Hetzner",
                row.record.name
            ))
        })?;
    Ok((row.record.id, row.record.name.clone(), id))
}

/// Waits for the worker's answer about `vm_id`'s firewall: the state with the wanted cause, or
/// the failure / refusal as one line.
async fn answer(
    events: &mut UnboundedReceiver<WorkerEvent>,
    vm_id: Uuid,
    want: LoadCause,
) -> Result<FirewallState, Failure> {
    while let Some(ev) = events.recv().await {
        match ev {
            WorkerEvent::Firewall(l) if l.vm_id == vm_id && l.cause == want => {
                return Ok(l.firewall);
            }
            WorkerEvent::FirewallFailed(f) if f.vm_id == vm_id => {
                return Err(Failure(f.summary()));
            }
            WorkerEvent::Refused { reason } => return Err(Failure(reason)),
            _ => {}
        }
    }
    Err(Failure("the worker stopped unexpectedly".into()))
}

/// Runs a `firewall` subcommand.
pub async fn run(session: Session, cmd: FirewallCommand) -> Result<ExitCode, Failure> {
    // Parse the file before anything touches the API.
    let parsed = match &cmd {
        FirewallCommand::Set { file, .. } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?;
            let (rules, errors) = parse_rules_text(&text);
            if !errors.is_empty() {
                for e in &errors {
                    eprintln!("{}:{}: {}: {}", file.display(), e.line, e.field, e.message);
                }
                return Err(Failure(format!(
                    "{} error{} in {}: nothing was sent",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                    file.display()
                )));
            }
            Some(rules)
        }
        FirewallCommand::Show { .. } => None,
    };
    let mut handle = spawn_worker(&session).await?;
    let result: Result<(String, FirewallState, Snapshot), Failure> = async {
        let snapshot = first_sync(&mut handle.events).await?;
        let vm = match &cmd {
            FirewallCommand::Show { vm, .. } | FirewallCommand::Set { vm, .. } => vm,
        };
        let (vm_id, name, firewall_id) = find_vm(&snapshot, vm)?;
        let _ = handle
            .effects
            .send(Effect::LoadFirewall { vm_id, firewall_id });
        let current = answer(&mut handle.events, vm_id, LoadCause::Loaded).await?;
        let Some(rules) = parsed else {
            return Ok((name, current, snapshot));
        };
        let yes = matches!(cmd, FirewallCommand::Set { yes: true, .. });
        check_and_report(&current, &rules, yes)?;
        let _ = handle.effects.send(Effect::ApplyFirewall {
            vm_id,
            firewall_id,
            rules,
        });
        let back = answer(&mut handle.events, vm_id, LoadCause::Applied).await?;
        Ok((name, back, snapshot))
    }
    .await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let (name, state, snapshot) = result?;
    let json = matches!(
        cmd,
        FirewallCommand::Show { json: true, .. } | FirewallCommand::Set { json: true, .. }
    );
    let text = if json {
        serde_json::to_string_pretty(&to_json(&name, &state, &snapshot))?
    } else {
        to_text(&name, &state, &snapshot)
    };
    if matches!(cmd, FirewallCommand::Set { .. }) {
        eprintln!("applied; Hetzner now holds (read back):");
    }
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the diff and warnings to stderr; refuses a lockout or dropped rules without `--yes`,
/// and an unchanged set.
fn check_and_report(current: &FirewallState, rules: &[Rule], yes: bool) -> Result<(), Failure> {
    let mut base = Vec::new();
    let mut foreign: Vec<ForeignRule> = Vec::new();
    for w in &current.rules {
        match from_wire(w) {
            Ok(r) => base.push(r),
            Err(f) => foreign.push(*f),
        }
    }
    let changes = diff(&base, rules);
    if changes.is_empty() && foreign.is_empty() {
        return Err(Failure(
            "nothing to apply: the rules equal what Hetzner holds".into(),
        ));
    }
    for c in &changes {
        match c {
            Change::Added(r) => eprintln!("+ {}", r.to_line()),
            Change::Removed(r) => eprintln!("- {}", r.to_line()),
            Change::Changed { before, after } => {
                eprintln!("~ {}", before.to_line());
                eprintln!("  → {}", after.to_line());
            }
        }
    }
    for f in &foreign {
        eprintln!(
            "! dropped (v1 cannot keep it: no outbound or ICMP rules at v1): {} {} {} — {}",
            f.wire.direction,
            f.wire.protocol,
            f.wire.port.as_deref().unwrap_or("-"),
            f.reason
        );
    }
    for e in sensitive_exposed(rules) {
        let ports: Vec<String> = e.ports.iter().map(|(p, s)| format!("{p} ({s})")).collect();
        eprintln!(
            "warning: rule {} opens {} to the whole internet",
            e.index + 1,
            ports.join(", ")
        );
    }
    for x in duplicates_and_shadowed(rules) {
        let what = match x.kind {
            Redundancy::Duplicate => "duplicates",
            Redundancy::Shadowed => "is shadowed by",
        };
        eprintln!("warning: rule {} {what} rule {}", x.index + 1, x.by + 1);
    }
    let me = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|v| operator_ip_from_ssh_connection(&v));
    let locked = lockout(rules, me);
    if locked {
        let who = me.map_or("anywhere".to_string(), |ip| ip.to_string());
        eprintln!("warning: LOCKOUT: no rule lets TCP/22 in from {who}");
    }
    if !yes && (locked || !foreign.is_empty()) {
        let why = match (locked, foreign.is_empty()) {
            (true, true) => "these rules would lock you out of SSH".to_string(),
            (true, false) => format!(
                "these rules would lock you out of SSH and drop {} rule(s) v1 cannot keep",
                foreign.len()
            ),
            _ => format!(
                "applying would drop {} rule(s) v1 cannot keep",
                foreign.len()
            ),
        };
        return Err(Failure(format!(
            "refusing: {why}; nothing was sent (pass --yes to apply anyway)"
        )));
    }
    Ok(())
}
