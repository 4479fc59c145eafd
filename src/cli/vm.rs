//! Headless lifecycle commands: `vm create|start|stop|reboot|destroy|transfer|billing` (the
//! `audit` commands are in `src/cli/audit.rs`).
//!
//! The `vm` commands send the same [`Effect`]s to the worker as the dashboard, so read-only
//! mode is refused in the worker's one authorise place and the operations are the ones in
//! `worker::lifecycle`. They wait for the operation's final event: exit 0 with what was done
//! on stdout, or exit 1 with one line on stderr (refusal or failure).
//!
//! Demo mode (no token) works end to end, but each invocation starts from fresh demo data:
//! a VM created by one `crabglamp vm create` is gone for the next command. For flows across
//! invocations, point the console at a standalone `crabglamp sim` (`HCLOUD_TOKEN`,
//! `HCLOUD_ENDPOINT`) with a `--data-dir`.

use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use uuid::Uuid;

use crabglamp::domain::{BillingType, ImageKey, Region, Tier, VmStatus};
use crabglamp::protocol::{
    Effect, PowerAction, ProvisionRequest, ProvisionResult, VmRow, WorkerEvent,
};

use super::output::{Failure, print_out};
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
