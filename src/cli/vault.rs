//! `crabglamp vault list|add|rm|exposure` (issue 6): the per-account SSH public key Vault for
//! scripts, through the same worker as the dashboard (so read-only mode is refused in the same
//! place, and the same refusals apply).
//!
//! - `list [--account A] [--json]`: the keys in the Vault (deleted ones left out). JSON: an array
//!   of `{id, label, type, fingerprintSha256, createdAt, account, publicKey}` (docs/product-rules.md §5 entry
//!   shape plus `account` and `publicKey`), by account then creation time.
//! - `add --account A [--label L] FILE|-`: adds the key in FILE (read by the worker; `~`
//!   expanded) or on stdin (`-`); the label defaults to the key's comment. A private key on stdin
//!   is refused here, before anything is sent, and never echoed.
//! - `rm ID`: deletes a key (id or a unique id prefix of at least 4 characters) and prints the
//!   live VMs that still hold it, each with its `ssh` command.
//! - `exposure [--json]`: after a sync, the deleted keys still on live VMs. JSON: an array of
//!   `{id, label, type, fingerprintSha256, account, deletedAt, publicKey, vms: [{id, name,
//!   account, status, ipv4, ipv6, user, sshCommand}]}`.

use std::io::Read;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::Serialize;
use uuid::Uuid;

use super::output::{Failure, print_out, table};
use super::session::{Session, first_sync, spawn_worker, stop, store_snapshot};
use crabglamp::domain::VaultEntry;
use crabglamp::domain::sshkey::{KeyError, looks_private};
use crabglamp::domain::vault::{Exposure, Holder, Offer, Refusal, exposure, holders};
use crabglamp::protocol::vault::MAX_KEY_FILE_BYTES;
use crabglamp::protocol::{Effect, KeySource, VaultEvent, WorkerEvent};
use crabglamp::worker::WorkerHandle;

/// `vault` subcommands.
#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Print the keys in the Vault (deleted ones left out).
    List {
        /// Only this account's keys.
        #[arg(long)]
        account: Option<String>,
        /// An array of `{id, label, type, fingerprintSha256, createdAt, account, publicKey}`.
        #[arg(long)]
        json: bool,
    },
    /// Add an OpenSSH public key to an account's Vault.
    Add {
        /// The account slug.
        #[arg(long)]
        account: String,
        /// Label (default: the key's comment).
        #[arg(long)]
        label: Option<String>,
        /// The public key file (e.g. ~/.ssh/id_ed25519.pub), or `-` for stdin.
        file: String,
    },
    /// Delete a key from the Vault (it stays on the VMs that received it).
    Rm {
        /// The entry id, or a unique prefix of it (at least 4 characters).
        id: String,
    },
    /// Deleted keys still on live VMs (after a sync).
    Exposure {
        /// An array of keys, each with the VMs that hold it.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `vault` subcommand.
pub(super) async fn run(session: Session, cmd: VaultCommand) -> Result<ExitCode, Failure> {
    match cmd {
        VaultCommand::List { account, json } => list(session, account, json).await,
        VaultCommand::Add {
            account,
            label,
            file,
        } => add(session, account, label, file).await,
        VaultCommand::Rm { id } => rm(session, id).await,
        VaultCommand::Exposure { json } => show_exposure(session, json).await,
    }
}

/// One Vault entry as `vault list --json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    id: Uuid,
    label: String,
    #[serde(rename = "type")]
    key_type: String,
    fingerprint_sha256: String,
    created_at: DateTime<Utc>,
    account: String,
    public_key: String,
}

impl From<&VaultEntry> for EntryJson {
    fn from(e: &VaultEntry) -> Self {
        EntryJson {
            id: e.id,
            label: e.label.clone(),
            key_type: e.key_type.clone(),
            fingerprint_sha256: e.fingerprint_sha256.clone(),
            created_at: e.created_at,
            account: e.account.clone(),
            public_key: e.public_key.clone(),
        }
    }
}

/// A VM holding a key, as `vault exposure --json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HolderJson {
    id: Uuid,
    name: String,
    account: String,
    status: String,
    ipv4: Option<String>,
    ipv6: Option<String>,
    user: String,
    ssh_command: String,
}

impl From<&Holder> for HolderJson {
    fn from(h: &Holder) -> Self {
        HolderJson {
            id: h.vm_id,
            name: h.name.clone(),
            account: h.account.clone(),
            status: h.status.to_string(),
            ipv4: h.ipv4.clone(),
            ipv6: h.ipv6.clone(),
            user: h.user.clone(),
            ssh_command: h.ssh_command.clone(),
        }
    }
}

/// A deleted key still on live VMs, as `vault exposure --json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExposureJson {
    id: Uuid,
    label: String,
    #[serde(rename = "type")]
    key_type: String,
    fingerprint_sha256: String,
    account: String,
    deleted_at: Option<DateTime<Utc>>,
    public_key: String,
    vms: Vec<HolderJson>,
}

impl From<&Exposure> for ExposureJson {
    fn from(x: &Exposure) -> Self {
        let e = &x.entry;
        ExposureJson {
            id: e.id,
            label: e.label.clone(),
            key_type: e.key_type.clone(),
            fingerprint_sha256: e.fingerprint_sha256.clone(),
            account: e.account.clone(),
            deleted_at: e.deleted_at,
            public_key: e.public_key.clone(),
            vms: x.holders.iter().map(HolderJson::from).collect(),
        }
    }
}

async fn list(session: Session, account: Option<String>, json: bool) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session).await?;
    let result = store_snapshot(&mut handle.events).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let snapshot = result?;
    if let Some(slug) = account.as_deref()
        && !snapshot.accounts.iter().any(|a| a.slug == slug)
    {
        return Err(Failure(format!("--account: '{slug}' does not exist")));
    }
    let mut entries: Vec<&VaultEntry> = snapshot
        .vault
        .iter()
        .filter(|e| e.deleted_at.is_none())
        .filter(|e| account.as_deref().is_none_or(|a| e.account == a))
        .collect();
    entries.sort_by(|a, b| (&a.account, a.created_at, a.id).cmp(&(&b.account, b.created_at, b.id)));
    let text = if json {
        let items: Vec<EntryJson> = entries.iter().map(|e| EntryJson::from(*e)).collect();
        serde_json::to_string_pretty(&items)?
    } else {
        let records: Vec<_> = snapshot.vms.iter().map(|v| v.record.clone()).collect();
        let body: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    e.id.to_string(),
                    e.account.clone(),
                    e.label.clone(),
                    e.key_type.clone(),
                    e.fingerprint_sha256.clone(),
                    e.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    holders(e.id, &records).len().to_string(),
                ]
            })
            .collect();
        table(
            &[
                "ID",
                "ACCOUNT",
                "LABEL",
                "TYPE",
                "FINGERPRINT",
                "CREATED",
                "LIVE VMS",
            ],
            &body,
        )
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads stdin (at most 1 MiB) for `vault add -`.
fn read_stdin() -> Result<String, Failure> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure(format!("reading stdin: {e}")))?;
    if buf.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(Failure(
            "stdin: larger than a public key file can be (1 MiB)".into(),
        ));
    }
    String::from_utf8(buf).map_err(|_| Failure("stdin: not text".into()))
}

/// The refusal as one line, with what to do about an offer.
fn refusal_line(r: Refusal) -> String {
    match r.offer {
        None => r.message,
        Some(Offer::StripOptions { .. }) => format!(
            "{} (give the key line alone, without the options)",
            r.message
        ),
        Some(Offer::AddEach { lines }) => format!(
            "{} (found {} keys: add them one by one)",
            r.message,
            lines.len()
        ),
    }
}

/// Waits for the answer to a Vault effect (or a generic refusal, e.g. read-only mode).
async fn vault_answer(handle: &mut WorkerHandle) -> Result<VaultEvent, Failure> {
    while let Some(event) = handle.events.recv().await {
        match event {
            WorkerEvent::Vault(ev) => return Ok(ev),
            WorkerEvent::Refused { reason } => return Err(Failure(reason)),
            _ => {}
        }
    }
    Err(Failure("the worker stopped unexpectedly".into()))
}

async fn add(
    session: Session,
    account: String,
    label: Option<String>,
    file: String,
) -> Result<ExitCode, Failure> {
    let source = if file == "-" {
        let text = read_stdin()?;
        if looks_private(&text) {
            // Never sent, stored or echoed.
            return Err(Failure(format!("stdin: {}", KeyError::PrivateKey)));
        }
        KeySource::Text(text)
    } else {
        KeySource::Path(file)
    };
    let mut handle = spawn_worker(&session).await?;
    let _ = handle.effects.send(Effect::AddVaultKey {
        account,
        label,
        source,
    });
    let answer = vault_answer(&mut handle).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    match answer? {
        VaultEvent::Added { entry } => {
            print_out(&format!(
                "added '{}' to {}'s Vault: {} {} {}",
                entry.label, entry.account, entry.id, entry.key_type, entry.fingerprint_sha256
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        VaultEvent::Refused(r) => Err(Failure(refusal_line(r))),
        VaultEvent::Deleted { .. } => Err(Failure("unexpected answer from the worker".into())),
    }
}

/// Finds the entry for an id or a unique id prefix (at least 4 characters) among entries that
/// are not deleted.
fn resolve_id(entries: &[VaultEntry], given: &str) -> Result<Uuid, Failure> {
    if let Ok(id) = Uuid::parse_str(given.trim()) {
        return Ok(id);
    }
    let prefix = given.trim().to_ascii_lowercase();
    if prefix.len() < 4 {
        return Err(Failure(format!(
            "vault key id: '{given}' is too short (give the id or at least 4 characters of it)"
        )));
    }
    let found: Vec<&VaultEntry> = entries
        .iter()
        .filter(|e| e.deleted_at.is_none() && e.id.to_string().starts_with(&prefix))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => Err(Failure(format!("Vault key {given} not found"))),
        many => Err(Failure(format!(
            "vault key id: '{given}' matches {} keys; give more of the id",
            many.len()
        ))),
    }
}

/// The text `vault rm` prints after deleting `entry`: the live VMs that still hold it, each with
/// its ssh command, and what to remove there.
pub fn deleted_report(entry: &VaultEntry, holders: &[Holder]) -> String {
    let mut out = vec![format!(
        "deleted '{}' ({}) from {}'s Vault",
        entry.label, entry.fingerprint_sha256, entry.account
    )];
    if holders.is_empty() {
        out.push("No live VM received this key at provisioning.".into());
        return out.join("\n");
    }
    out.push(format!(
        "Deleting a key from the Vault does not remove it from the VMs that received it. Still on {} live VM{}:",
        holders.len(),
        if holders.len() == 1 { "" } else { "s" }
    ));
    let rows: Vec<Vec<String>> = holders
        .iter()
        .map(|h| vec![format!("  {}", h.name), h.ssh_command.clone()])
        .collect();
    let t = table(&["  VM", "LOG IN WITH"], &rows);
    out.push(t);
    out.push(format!(
        "On each, remove the line with fingerprint {} from ~/.ssh/authorized_keys (`ssh-keygen -lf ~/.ssh/authorized_keys` lists them).",
        entry.fingerprint_sha256
    ));
    out.join("\n")
}

async fn rm(session: Session, id: String) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session).await?;
    let resolved = match store_snapshot(&mut handle.events).await {
        Ok(snapshot) => resolve_id(&snapshot.vault, &id),
        Err(e) => Err(e),
    };
    let answer = match resolved {
        Ok(id) => {
            let _ = handle.effects.send(Effect::DeleteVaultKey { id });
            vault_answer(&mut handle).await
        }
        Err(e) => Err(e),
    };
    stop(&handle.effects, Some(handle.join), session.sim).await;
    match answer? {
        VaultEvent::Deleted { entry, holders } => {
            print_out(&deleted_report(&entry, &holders))?;
            Ok(ExitCode::SUCCESS)
        }
        VaultEvent::Refused(r) => Err(Failure(refusal_line(r))),
        VaultEvent::Added { .. } => Err(Failure("unexpected answer from the worker".into())),
    }
}

async fn show_exposure(session: Session, json: bool) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session).await?;
    let result = first_sync(&mut handle.events).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let snapshot = result?;
    let exposed = exposure(&snapshot.vault, snapshot.vms.iter().map(|v| &v.record));
    let text = if json {
        let items: Vec<ExposureJson> = exposed.iter().map(ExposureJson::from).collect();
        serde_json::to_string_pretty(&items)?
    } else if exposed.is_empty() {
        "No deleted key is on a live VM.".to_string()
    } else {
        let mut out = Vec::new();
        for x in &exposed {
            let e = &x.entry;
            out.push(format!(
                "{} '{}' {} {} (deleted {}): {}",
                e.account,
                e.label,
                e.key_type,
                e.fingerprint_sha256,
                e.deleted_at
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
                crabglamp::domain::vault::exposure_line(&x.holders)
            ));
            for h in &x.holders {
                out.push(format!("  {}  {}", h.name, h.ssh_command));
            }
        }
        out.join("\n")
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}
