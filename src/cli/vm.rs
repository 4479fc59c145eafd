//! Headless lifecycle and audit commands (issue 4): `vm create|start|stop|reboot|destroy|
//! transfer|billing` and `audit list|verify|export`.
//!
//! The `vm` commands send the same [`Effect`]s to the worker as the dashboard, so read-only
//! mode is refused in the worker's one authorise place and the operations are the ones in
//! `worker::lifecycle`. They wait for the operation's final event: exit 0 with what was done
//! on stdout, or exit 1 with one line on stderr (refusal or failure). The `audit` commands
//! read the store only.
//!
//! Demo mode (no token) works end to end, but each invocation starts from fresh demo data:
//! a VM created by one `crabglamp vm create` is gone for the next command. For flows across
//! invocations, point the console at a standalone `crabglamp sim` (`HCLOUD_TOKEN`,
//! `HCLOUD_ENDPOINT`) with a `--data-dir`.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use uuid::Uuid;

use crabglamp::domain::{AuditEvent, BillingType, ImageKey, Region, Tier, VmStatus};
use crabglamp::protocol::{
    Effect, PowerAction, ProvisionRequest, ProvisionResult, VmRow, WorkerEvent,
};

use super::output::{Failure, print_out, table};
use super::session::{Session, first_sync, spawn_worker, stop};

/// `vm` subcommands.
#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// Provision a Plain VM: its own firewall (SSH only), the server with the cloud-init
    /// document, labels; waits until it runs.
    Create {
        /// Hostname: lowercase letters, digits, hyphens, at most 63; unique in the project.
        #[arg(long)]
        name: String,
        /// Owning account slug.
        #[arg(long)]
        account: String,
        /// `us` (Hetzner hil) or `eu` (hel1).
        #[arg(long)]
        region: Region,
        /// `small`, `medium` or `large`.
        #[arg(long)]
        tier: Tier,
        /// Image key, e.g. `ubuntu-24.04`, `debian-12`, `fedora-43`.
        #[arg(long)]
        image: ImageKey,
        /// `metered` or `subscription`.
        #[arg(long)]
        billing: BillingType,
        /// Vault key of the account to install for the default user: its id, or its exact
        /// SHA256 fingerprint or label (repeatable; at least one).
        #[arg(long = "key", value_name = "VAULT_ID")]
        keys: Vec<String>,
        /// Set a generated one-time password on the default user (shown once, must be
        /// changed at first login).
        #[arg(long)]
        one_time_password: bool,
        /// Print the result as a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Power on a stopped VM.
    Start {
        /// VM name.
        name: String,
    },
    /// Shut a VM down gracefully (ACPI); `--force` cuts the power (may lose data). Stopped
    /// VMs bill the same as running ones.
    Stop {
        /// VM name.
        name: String,
        /// Hard power off instead of a graceful shutdown.
        #[arg(long)]
        force: bool,
    },
    /// Reboot a VM (ACPI).
    Reboot {
        /// VM name.
        name: String,
    },
    /// Destroy a VM: deletes its server and firewall, keeps the record as deleted, writes a
    /// destroy audit event. Cannot be undone or cancelled.
    Destroy {
        /// VM name.
        name: String,
        /// Confirm (required).
        #[arg(long)]
        yes: bool,
    },
    /// Transfer a VM to an organization account (billing becomes metered; the old account's
    /// Vault keys stay on the VM). Writes a transfer audit event.
    Transfer {
        /// VM name.
        name: String,
        /// Destination organization account slug.
        #[arg(long)]
        to: String,
        /// Confirm (required).
        #[arg(long)]
        yes: bool,
    },
    /// Switch a VM's billing type (effective at once; accrued usage keeps its type).
    Billing {
        /// VM name.
        name: String,
        /// `metered` or `subscription`.
        billing: BillingType,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit events (destroy and transfer), oldest first.
    List {
        /// An array of event objects (camelCase) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Verify the hash chain: exit 0 with the count, or 1 naming the first bad event.
    Verify,
    /// Print every event as JSON lines or CSV (with a header row).
    Export {
        /// `jsonl` or `csv`.
        #[arg(long, value_enum)]
        format: ExportFormat,
    },
}

/// Export formats of `audit export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Runs a `vm` subcommand.
pub async fn vm(session: Session, command: VmCommand) -> Result<ExitCode, Failure> {
    match command {
        VmCommand::Create {
            name,
            account,
            region,
            tier,
            image,
            billing,
            keys,
            one_time_password,
            json,
        } => {
            let key_ids = resolve_keys(&session, &account, &keys).await?;
            let request = ProvisionRequest {
                name,
                account,
                region,
                tier,
                image,
                billing_type: billing,
                key_ids,
                one_time_password,
            };
            create(session, request, json).await
        }
        VmCommand::Start { name } => power(session, name, PowerAction::Start).await,
        VmCommand::Stop { name, force } => power(session, name, PowerAction::Stop { force }).await,
        VmCommand::Reboot { name } => power(session, name, PowerAction::Reboot).await,
        VmCommand::Destroy { name, yes } => {
            if !yes {
                return Err(Failure(format!(
                    "refusing to destroy {name} without --yes (a destroy cannot be undone or cancelled)"
                )));
            }
            on_vm(session, &name, |vm_id| Effect::Destroy { vm_id }).await
        }
        VmCommand::Transfer { name, to, yes } => {
            if !yes {
                return Err(Failure(format!(
                    "refusing to transfer {name} to '{to}' without --yes"
                )));
            }
            on_vm(session, &name, move |vm_id| Effect::Transfer { vm_id, to }).await
        }
        VmCommand::Billing { name, billing } => {
            on_vm(session, &name, move |vm_id| Effect::SetBilling {
                vm_id,
                billing_type: billing,
            })
            .await
        }
    }
}

/// Vault key ids for `--key` values: a UUID is taken as is (the worker checks it); anything
/// else must be the exact SHA256 fingerprint or label of exactly one live key of `account`.
async fn resolve_keys(
    session: &Session,
    account: &str,
    keys: &[String],
) -> Result<Vec<Uuid>, Failure> {
    let mut vault = None;
    if keys.iter().any(|k| Uuid::parse_str(k.trim()).is_err()) {
        vault = Some(session.vault(account).await?);
    }
    keys.iter()
        .map(|k| {
            if let Ok(id) = Uuid::parse_str(k.trim()) {
                return Ok(id);
            }
            let found: Vec<Uuid> = vault
                .iter()
                .flatten()
                .filter(|e| e.deleted_at.is_none())
                .filter(|e| e.fingerprint_sha256 == *k || e.label == *k)
                .map(|e| e.id)
                .collect();
            match found.as_slice() {
                [id] => Ok(*id),
                [] => Err(Failure(format!(
                    "keys: no Vault key of account '{account}' has the id, fingerprint or label '{k}'"
                ))),
                _ => Err(Failure(format!(
                    "keys: several Vault keys of account '{account}' are labelled '{k}'; give the id"
                ))),
            }
        })
        .collect()
}

/// The create result as `vm create --json` prints it (camelCase). `oneTimePassword` appears
/// only when one was asked for; it is printed once and kept nowhere.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedJson<'a> {
    id: Uuid,
    name: &'a str,
    account: &'a str,
    region: Region,
    tier: Tier,
    image: ImageKey,
    billing_type: BillingType,
    status: VmStatus,
    ipv4: Option<&'a str>,
    ipv6: Option<&'a str>,
    default_user: &'a str,
    ssh_command: &'a str,
    key_fingerprints: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    one_time_password: Option<&'a str>,
}

async fn create(
    session: Session,
    request: ProvisionRequest,
    json: bool,
) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session).await?;
    let _ = handle.effects.send(Effect::Provision(request.clone()));
    let mut outcome: Result<ProvisionResult, Failure> =
        Err(Failure("the worker stopped unexpectedly".into()));
    while let Some(event) = handle.events.recv().await {
        match event {
            WorkerEvent::Refused { reason } => {
                outcome = Err(Failure(reason));
                break;
            }
            WorkerEvent::OperationFailed { error, .. } => {
                outcome = Err(Failure(error));
                break;
            }
            WorkerEvent::Provisioned(result) if result.name == request.name => {
                outcome = Ok(*result);
                break;
            }
            _ => {}
        }
    }
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let r = outcome?;
    let password = r.one_time_password.as_ref().map(|p| p.expose());
    let text = if json {
        serde_json::to_string_pretty(&CreatedJson {
            id: r.vm_id,
            name: &r.name,
            account: &r.account,
            region: request.region,
            tier: request.tier,
            image: request.image,
            billing_type: request.billing_type,
            status: VmStatus::Running,
            ipv4: r.ipv4.as_deref(),
            ipv6: r.ipv6.as_deref(),
            default_user: &r.default_user,
            ssh_command: &r.ssh_command,
            key_fingerprints: &r.key_fingerprints,
            one_time_password: password,
        })?
    } else {
        let mut lines = vec![
            format!(
                "{} is running ({}, {}, {}, {}, {})",
                r.name,
                r.account,
                request.region,
                request.tier,
                request.image,
                request.billing_type
            ),
            format!("IPv4:         {}", r.ipv4.as_deref().unwrap_or("-")),
            format!("IPv6:         {}", r.ipv6.as_deref().unwrap_or("-")),
            format!("Default user: {}", r.default_user),
            format!("SSH:          {}", r.ssh_command),
        ];
        for fp in &r.key_fingerprints {
            lines.push(format!("Key:          {fp}"));
        }
        if let Some(p) = password {
            lines.push(format!(
                "One-time password (shown once; must be changed at first login): {p}"
            ));
        }
        lines.join("\n")
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn power(session: Session, name: String, action: PowerAction) -> Result<ExitCode, Failure> {
    on_vm(session, &name, move |vm_id| Effect::Power { vm_id, action }).await
}

/// The VM named `name` in a snapshot: a managed live one first, else the newest record.
fn find<'a>(rows: &'a [VmRow], name: &str) -> Option<&'a VmRow> {
    let mut matches: Vec<&VmRow> = rows
        .iter()
        .filter(|r| r.managed && r.record.name == name)
        .collect();
    matches.sort_by_key(|r| (r.record.status.is_live(), r.record.created_at));
    matches.pop()
}

/// Syncs once, finds the VM by name, sends `effect(vm_id)` and waits for its final event.
async fn on_vm(
    session: Session,
    name: &str,
    effect: impl FnOnce(Uuid) -> Effect,
) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session).await?;
    let outcome = async {
        let snapshot = first_sync(&mut handle.events).await?;
        let vm_id = find(&snapshot.vms, name)
            .map(|r| r.record.id)
            .ok_or_else(|| Failure(format!("no VM named '{name}'")))?;
        let _ = handle.effects.send(effect(vm_id));
        while let Some(event) = handle.events.recv().await {
            match event {
                WorkerEvent::Refused { reason } => return Err(Failure(reason)),
                WorkerEvent::OperationFailed { vm_id: id, error } if id == vm_id => {
                    return Err(Failure(error));
                }
                WorkerEvent::OperationDone {
                    vm_id: id,
                    what,
                    warning,
                } if id == vm_id => return Ok((what, warning)),
                _ => {}
            }
        }
        Err(Failure("the worker stopped unexpectedly".into()))
    }
    .await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let (what, warning) = outcome?;
    print_out(&what)?;
    if let Some(w) = warning {
        eprintln!("crabglamp: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an `audit` subcommand (reads the store only; attached, the service's log as it sent
/// it, verified here).
pub async fn audit(session: Session, command: AuditCommand) -> Result<ExitCode, Failure> {
    let Some(store) = session.store.clone() else {
        let events = session.audit_events().await?;
        let text = match command {
            AuditCommand::List { json: true } => serde_json::to_string_pretty(&events)?,
            AuditCommand::List { json: false } => audit_table(&events),
            AuditCommand::Verify => {
                let count = crabglamp::domain::audit::verify_chain(&events)
                    .map_err(|(seq, reason)| Failure(format!("audit event {seq}: {reason}")))?;
                let noun = if count == 1 { "event" } else { "events" };
                format!("audit log verified: {count} {noun}, hash chain intact")
            }
            AuditCommand::Export { format } => match format {
                ExportFormat::Jsonl => events
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<Vec<_>, _>>()?
                    .join("\n"),
                ExportFormat::Csv => audit_csv(&events),
            },
        };
        if !text.is_empty() {
            print_out(&text)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let result = tokio::task::spawn_blocking(move || match command {
        AuditCommand::List { json } => {
            let events = store.audit_events()?;
            if json {
                Ok(serde_json::to_string_pretty(&events)?)
            } else {
                Ok(audit_table(&events))
            }
        }
        AuditCommand::Verify => {
            let count = store.verify_audit()?;
            let noun = if count == 1 { "event" } else { "events" };
            Ok(format!(
                "audit log verified: {count} {noun}, hash chain intact"
            ))
        }
        AuditCommand::Export { format } => {
            let events = store.audit_events()?;
            match format {
                ExportFormat::Jsonl => events
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<Vec<_>, _>>()
                    .map(|lines| lines.join("\n"))
                    .map_err(Failure::from),
                ExportFormat::Csv => Ok(audit_csv(&events)),
            }
        }
    })
    .await
    .map_err(|e| Failure(format!("reading the audit log: {e}")))
    .and_then(|r: Result<String, Failure>| r);
    if let Some(sim) = session.sim {
        sim.shutdown().await;
    }
    let text = result?;
    if !text.is_empty() {
        print_out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_table(events: &[AuditEvent]) -> String {
    let body: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                e.kind.to_string(),
                e.vm_name.clone(),
                e.account.clone(),
                e.to_account.clone().unwrap_or_else(|| "-".into()),
                e.actor.clone(),
                e.outcome.clone(),
            ]
        })
        .collect();
    table(
        &[
            "SEQ", "AT", "KIND", "VM", "ACCOUNT", "TO", "ACTOR", "OUTCOME",
        ],
        &body,
    )
}

/// Header of `audit export --format csv`: the event's JSON field names, in order.
pub const CSV_HEADER: [&str; 15] = [
    "seq",
    "id",
    "at",
    "kind",
    "vmId",
    "vmName",
    "hetznerServerId",
    "tier",
    "region",
    "account",
    "toAccount",
    "actor",
    "outcome",
    "prevHash",
    "hash",
];

/// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a quote, CR or
/// LF (or leading/trailing spaces); as is otherwise.
pub fn csv_field(value: &str) -> String {
    let needs =
        value.contains([',', '"', '\r', '\n']) || value.starts_with(' ') || value.ends_with(' ');
    if needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The CSV export: [`CSV_HEADER`], then one row per event; lines end with CRLF (RFC 4180).
pub fn audit_csv(events: &[AuditEvent]) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    for e in events {
        let fields = [
            e.seq.to_string(),
            e.id.to_string(),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            e.kind.to_string(),
            e.vm_id.to_string(),
            e.vm_name.clone(),
            e.hetzner_server_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
            e.tier.to_string(),
            e.region.to_string(),
            e.account.clone(),
            e.to_account.clone().unwrap_or_default(),
            e.actor.clone(),
            e.outcome.clone(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    // print_out adds the final newline.
    out.truncate(out.trim_end_matches(['\r', '\n']).len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use crabglamp::domain::AuditKind;
    use crabglamp::domain::audit::{AuditDraft, GENESIS_HASH, seal};

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_field("acme"), "acme");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn csv_export_has_a_header_and_one_row_per_event() {
        let event = seal(
            AuditDraft {
                at: Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap(),
                kind: AuditKind::Transfer,
                vm_id: Uuid::from_u128(1),
                vm_name: "web-1".into(),
                hetzner_server_id: Some(42),
                tier: Tier::Small,
                region: Region::Eu,
                account: "acme".into(),
                to_account: Some("globex".into()),
                actor: "anna from 192.0.2.1".into(),
                outcome: "failed: \"x\", y".into(),
                requested_at: None,
                origin: None,
            },
            1,
            Uuid::from_u128(2),
            GENESIS_HASH,
        );
        let csv = audit_csv(std::slice::from_ref(&event));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "seq,id,at,kind,vmId,vmName,hetznerServerId,tier,region,account,toAccount,actor,outcome,prevHash,hash"
        );
        assert_eq!(
            lines[1],
            format!(
                "1,00000000-0000-0000-0000-000000000002,2026-11-30T09:00:00Z,transfer,\
                 00000000-0000-0000-0000-000000000001,web-1,42,small,eu,acme,globex,\
                 anna from 192.0.2.1,\"failed: \"\"x\"\", y\",{GENESIS_HASH},{}",
                event.hash
            )
        );
    }
}
