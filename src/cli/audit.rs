//! Headless audit commands: `audit list|verify|prove|key|export` (docs/product-rules.md §6,
//! §11), and [`attach`], which gives the store its checkpoint key and witness at start-up.
//!
//! `verify` checks the events against the tree and a signed checkpoint kept outside the store
//! (the newest in the witness file, or `--checkpoint FILE`), with the pure
//! [`crabglamp::domain::evidence::verify`]; `prove` prints an event's RFC 6962 inclusion proof
//! against the newest checkpoint; `key` prints the public key in note verifier form; `export
//! --with-checkpoint` ends a JSON lines export with the checkpoint and key, so that `verify
//! --export FILE` checks it on another machine without the store. They read the store only
//! (opening it may migrate an older log and publish a pending checkpoint).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use crabglamp::config::{Config, Paths};
use crabglamp::domain::AuditEvent;
use crabglamp::domain::audit::canonical_bytes;
use crabglamp::domain::checkpoint::{self, origin_for};
use crabglamp::domain::evidence::{self, Report};
use crabglamp::domain::merkle::{Hash, Tree, hex};
use crabglamp::protocol::Mode;
use crabglamp::store::{self, Anchor, Store};

use super::output::{Failure, print_out, table};
use super::session::Session;

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit events (destroy and transfer), oldest first.
    List {
        /// An array of event objects (camelCase) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Verify every event against the hash chain, the Merkle tree and a signed checkpoint kept
    /// outside the store: exit 0 with the count, or 1 naming each bad event.
    Verify {
        /// A checkpoint kept elsewhere (its newest signed note): prove the log extends it.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The verifier key (`name+hash+key`, or a file holding it); default: this store's key.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Verify a file written by `audit export --format jsonl --with-checkpoint` instead of
        /// the store.
        #[arg(long, value_name = "FILE", conflicts_with = "checkpoint")]
        export: Option<PathBuf>,
    },
    /// Print an event, its inclusion proof and the signed checkpoint it is proved against.
    Prove {
        /// The event's sequence number.
        seq: u64,
        /// One JSON object (base64 hashes) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the checkpoint key's public half (`name+hash+base64 key`), for verifiers.
    Key,
    /// Print every event as JSON lines or CSV (with a header row).
    Export {
        /// `jsonl` or `csv`.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// End the JSON lines with the newest checkpoint and the public key, so the file can be
        /// verified elsewhere (`audit verify --export FILE`).
        #[arg(long)]
        with_checkpoint: bool,
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

/// The last line of `audit export --with-checkpoint`: `{"checkpoint": "<signed note>", "key":
/// "<verifier key>"}`.
#[derive(Debug, Serialize, Deserialize)]
struct ExportProof {
    checkpoint: String,
    key: String,
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            std::fs::read_to_string(p)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| "local".into())
}

/// The default witness file of the store at `db`: `<stem>-audit-checkpoints.txt` beside the log
/// file (Linux `~/.local/state/crabglamp/`; the data directory when `--data-dir` is given),
/// never inside the store directory.
pub fn default_witness_file(paths: &Paths, db: &Path) -> PathBuf {
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    paths
        .log_file
        .parent()
        .unwrap_or(&paths.data_dir)
        .join(format!("{stem}-audit-checkpoints.txt"))
}

/// Gives the store its checkpoint key (created on first use beside the store) and its witness
/// (`[audit]` in the config; demo mode always uses its own file, emptied with the demo data,
/// and runs no command). Nothing for a temporary store. Errors: the key cannot be read or
/// created, in one line.
pub fn attach(store: &Store, paths: &Paths, config: &Config, mode: Mode) -> Result<(), Failure> {
    let Some(db) = store.path() else {
        return Ok(());
    };
    let instance = config.audit.instance.clone().unwrap_or_else(host_name);
    let (witness_file, witness_command, key_name) = match mode {
        Mode::Live => (
            config
                .audit
                .witness_file
                .clone()
                .unwrap_or_else(|| default_witness_file(paths, db)),
            config.audit.witness_command.clone(),
            origin_for(&instance),
        ),
        Mode::Demo => {
            let file = default_witness_file(paths, db);
            // The demo database was just recreated: its old checkpoints describe another log.
            if store.audit_events().map(|e| e.is_empty()).unwrap_or(false) {
                let _ = std::fs::remove_file(&file);
            }
            (file, None, origin_for(&format!("{instance}-demo")))
        }
    };
    store
        .set_anchor(Anchor {
            key_file: Anchor::key_file_beside(db),
            key_name,
            witness_file,
            witness_command,
        })
        .map(|_| ())
        .map_err(|e| Failure(format!("audit checkpoint key: {e}")))
}

/// A `--key` value: the key itself, or a file holding it.
fn read_key_arg(key: &str) -> Result<String, Failure> {
    let path = Path::new(key);
    if !key.contains('+') && path.exists() {
        return std::fs::read_to_string(path)
            .map(|t| t.trim().to_string())
            .map_err(|e| Failure(format!("cannot read the key file {key}: {e}")));
    }
    Ok(key.trim().to_string())
}

fn store_key(store: &Store) -> Result<(Anchor, String), Failure> {
    store
        .anchor()
        .ok_or_else(|| Failure("this store has no checkpoint key".into()))
}

/// The report as the operator reads it: the summary, or every finding (exit 1).
fn report_result(report: &Report) -> Result<String, Failure> {
    if report.ok() {
        return Ok(report.summary());
    }
    let n = report.findings.len();
    let mut text = format!(
        "audit log does not verify ({n} {}):",
        if n == 1 { "problem" } else { "problems" }
    );
    for f in &report.findings {
        text.push_str("\n  ");
        text.push_str(&f.to_string());
    }
    Err(Failure(text))
}

fn b64(h: &Hash) -> String {
    BASE64.encode(h.0)
}

/// `audit prove SEQ --json`: everything an independent verifier needs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProofJson<'a> {
    seq: u64,
    event: &'a AuditEvent,
    /// Base64 of the canonical event bytes the leaf hashes.
    event_bytes: String,
    leaf_index: u64,
    leaf_hash: String,
    tree_size: u64,
    root_hash: String,
    /// RFC 6962 audit path, leaf side first, base64.
    inclusion_proof: Vec<String>,
    checkpoint: String,
    key: String,
}

fn prove(store: &Store, seq: u64, json: bool) -> Result<String, Failure> {
    let (anchor, key) = store_key(store)?;
    let events = store.audit_events()?;
    let cp_text = store::newest_checkpoint(&anchor.witness_file)?.ok_or_else(|| {
        Failure(format!(
            "no checkpoint in the witness file {}",
            anchor.witness_file.display()
        ))
    })?;
    prove_events(&events, cp_text, key, seq, json)
}

/// The proof of event `seq` in `events` against the checkpoint `cp_text` signed by `key`.
fn prove_events(
    events: &[AuditEvent],
    cp_text: String,
    key: String,
    seq: u64,
    json: bool,
) -> Result<String, Failure> {
    let cp = checkpoint::verify(&cp_text, &key).map_err(|e| Failure(e.0))?;
    let index = seq
        .checked_sub(1)
        .ok_or_else(|| Failure("sequence numbers start at 1".into()))?;
    let event = events
        .get(usize::try_from(index).unwrap_or(usize::MAX))
        .filter(|e| e.seq == seq)
        .ok_or_else(|| Failure(format!("event {seq} is not in the log")))?;
    if seq > cp.size {
        return Err(Failure(format!(
            "event {seq} is newer than the newest checkpoint (#{})",
            cp.size
        )));
    }
    let tree = Tree::from_events(events);
    if tree.root_at(cp.size).ok() != Some(cp.root) {
        return Err(Failure(format!(
            "the log does not match checkpoint #{}: run `crabglamp audit verify`",
            cp.size
        )));
    }
    let proof = tree
        .inclusion_proof(index, cp.size)
        .map_err(|e| Failure(e.0))?;
    let leaf = tree
        .leaf(index)
        .ok_or_else(|| Failure(format!("event {seq} is not in the tree")))?;
    if json {
        let out = ProofJson {
            seq,
            event,
            event_bytes: BASE64.encode(canonical_bytes(event)),
            leaf_index: index,
            leaf_hash: b64(&leaf),
            tree_size: cp.size,
            root_hash: b64(&cp.root),
            inclusion_proof: proof.iter().map(b64).collect(),
            checkpoint: cp_text,
            key,
        };
        return Ok(serde_json::to_string_pretty(&out)?);
    }
    let mut text = format!(
        "event {seq}: {} {} (account {}) by {} at {}\nleaf hash  {}\ntree size  {}\nroot hash  {}\ninclusion proof ({} hashes, leaf side first):",
        event.kind,
        event.vm_name,
        event.account,
        event.actor,
        event.at.format("%Y-%m-%d %H:%M:%S UTC"),
        hex(&leaf),
        cp.size,
        hex(&cp.root),
        proof.len()
    );
    for h in &proof {
        text.push_str("\n  ");
        text.push_str(&hex(h));
    }
    text.push_str("\ncheckpoint:\n");
    text.push_str(cp_text.trim_end());
    Ok(text)
}

fn verify_export(path: &Path, key: Option<&str>) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let mut events = Vec::new();
    let mut proof: Option<ExportProof> = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        if let Ok(p) = serde_json::from_str::<ExportProof>(line) {
            proof = Some(p);
            continue;
        }
        let event: AuditEvent = serde_json::from_str(line).map_err(|e| {
            Failure(format!(
                "{} line {}: not an audit event: {e}",
                path.display(),
                i + 1
            ))
        })?;
        events.push(event);
    }
    let proof = proof.ok_or_else(|| {
        Failure(format!(
            "{} holds no checkpoint (export it with --with-checkpoint)",
            path.display()
        ))
    })?;
    let key = match key {
        Some(k) => read_key_arg(k)?,
        None => proof.key.clone(),
    };
    let report = evidence::verify(&events, Some(&proof.checkpoint), &key, None);
    report_result(&report).map(|s| format!("{s} (key {key})"))
}

fn verify(
    store: &Store,
    checkpoint_file: Option<&Path>,
    key: Option<&str>,
) -> Result<String, Failure> {
    let (anchor, own_key) = store_key(store)?;
    let key = match key {
        Some(k) => read_key_arg(k)?,
        None => own_key,
    };
    let (source, history) = match checkpoint_file {
        Some(file) => (
            file.to_path_buf(),
            std::fs::read_to_string(file)
                .map(Some)
                .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?,
        ),
        None => (
            anchor.witness_file.clone(),
            store::read_witness(&anchor.witness_file)?,
        ),
    };
    let newest = history
        .as_deref()
        .and_then(|h| checkpoint::split_notes(h).last().map(|s| s.to_string()));
    let events = store.audit_events()?;
    if newest.is_none() && !events.is_empty() {
        return Err(Failure(format!(
            "audit log does not verify (1 problem):\n  no signed checkpoint in {}: the log's \
             {} events cannot be checked against one",
            source.display(),
            events.len()
        )));
    }
    let report = store.verify_evidence(newest.as_deref(), &key, history.as_deref())?;
    report_result(&report)
}

fn export(store: &Store, format: ExportFormat, with_checkpoint: bool) -> Result<String, Failure> {
    let events = store.audit_events()?;
    export_events(&events, format, with_checkpoint, || {
        let (anchor, key) = store_key(store)?;
        let checkpoint = store::newest_checkpoint(&anchor.witness_file)?.ok_or_else(|| {
            Failure(format!(
                "no checkpoint in the witness file {}",
                anchor.witness_file.display()
            ))
        })?;
        Ok(ExportProof { checkpoint, key })
    })
}

/// `events` as JSON lines (ended, `with_checkpoint`, by the checkpoint and key `proof` gives)
/// or CSV.
fn export_events(
    events: &[AuditEvent],
    format: ExportFormat,
    with_checkpoint: bool,
    proof: impl FnOnce() -> Result<ExportProof, Failure>,
) -> Result<String, Failure> {
    match format {
        ExportFormat::Jsonl => {
            let mut lines = events
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<Vec<_>, _>>()?;
            if with_checkpoint {
                lines.push(serde_json::to_string(&proof()?)?);
            }
            Ok(lines.join("\n"))
        }
        ExportFormat::Csv if with_checkpoint => Err(Failure(
            "--with-checkpoint needs --format jsonl (CSV has no place for it)".into(),
        )),
        ExportFormat::Csv => Ok(audit_csv(events)),
    }
}

/// An `audit` subcommand attached to a service: the events, the newest checkpoint and the
/// public key as the service sent them, checked here with the same pure functions. A
/// checkpoint kept elsewhere (`--checkpoint FILE`, or the `[audit] witness_file` of this
/// client's config when it can read it) and `--key` make the check independent of the
/// service.
async fn audit_attached(session: &Session, command: AuditCommand) -> Result<String, Failure> {
    let snapshot = session.service_snapshot().await?;
    let events: Vec<AuditEvent> = snapshot.audit.to_vec();
    let status = snapshot.audit_status.clone().unwrap_or_default();
    let service_key = || {
        status
            .key
            .clone()
            .ok_or_else(|| Failure("the service's audit log has no checkpoint key".into()))
    };
    let service_checkpoint = || {
        status
            .checkpoint_text
            .clone()
            .ok_or_else(|| Failure("the service has published no checkpoint yet".into()))
    };
    match command {
        AuditCommand::List { json: true } => Ok(serde_json::to_string_pretty(&events)?),
        AuditCommand::List { json: false } => Ok(audit_table(&events)),
        AuditCommand::Verify {
            key,
            export: Some(file),
            ..
        } => verify_export(&file, key.as_deref()),
        AuditCommand::Verify {
            checkpoint, key, ..
        } => {
            let key = match key {
                Some(k) => read_key_arg(&k)?,
                None => service_key()?,
            };
            // Nothing logged and nothing signed yet: nothing to contradict.
            if events.is_empty() && status.checkpoint_text.is_none() && checkpoint.is_none() {
                return Ok(evidence::verify(&events, None, &key, None).summary());
            }
            let kept = checkpoint
                .clone()
                .or_else(|| session.config.audit.witness_file.clone());
            let (history, source) = match kept {
                Some(file) => match std::fs::read_to_string(&file) {
                    Ok(text) => (text, file.display().to_string()),
                    Err(e) if checkpoint.is_some() => {
                        return Err(Failure(format!("cannot read {}: {e}", file.display())));
                    }
                    Err(_) => (service_checkpoint()?, "the service".to_string()),
                },
                None => (service_checkpoint()?, "the service".to_string()),
            };
            let newest = checkpoint::split_notes(&history)
                .last()
                .map(|s| s.to_string());
            if newest.is_none() && !events.is_empty() {
                return Err(Failure(format!(
                    "audit log does not verify (1 problem):\n  no signed checkpoint in {source}"
                )));
            }
            let report = evidence::verify(&events, newest.as_deref(), &key, Some(&history));
            report_result(&report).map(|s| format!("{s} (checkpoint from {source})"))
        }
        AuditCommand::Prove { seq, json } => {
            prove_events(&events, service_checkpoint()?, service_key()?, seq, json)
        }
        AuditCommand::Key => service_key(),
        AuditCommand::Export {
            format,
            with_checkpoint,
        } => export_events(&events, format, with_checkpoint, || {
            Ok(ExportProof {
                checkpoint: service_checkpoint()?,
                key: service_key()?,
            })
        }),
    }
}

/// Runs an `audit` subcommand (reads the store only; attached, asks the service).
pub async fn audit(session: Session, command: AuditCommand) -> Result<ExitCode, Failure> {
    let Some(store) = session.store.clone() else {
        let text = audit_attached(&session, command).await?;
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
        AuditCommand::Verify {
            checkpoint,
            key,
            export: Some(file),
        } => {
            let _ = checkpoint;
            verify_export(&file, key.as_deref())
        }
        AuditCommand::Verify {
            checkpoint, key, ..
        } => verify(&store, checkpoint.as_deref(), key.as_deref()),
        AuditCommand::Prove { seq, json } => prove(&store, seq, json),
        AuditCommand::Key => store_key(&store).map(|(_, key)| key),
        AuditCommand::Export {
            format,
            with_checkpoint,
        } => export(&store, format, with_checkpoint),
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
                e.origin.clone().unwrap_or_else(|| "-".into()),
                e.outcome.clone(),
            ]
        })
        .collect();
    // ORIGIN is what the requester's client reported (its SSH_CONNECTION address), unchecked.
    table(
        &[
            "SEQ", "AT", "KIND", "VM", "ACCOUNT", "TO", "ACTOR", "ORIGIN", "OUTCOME",
        ],
        &body,
    )
}

/// Header of `audit export --format csv`: the event's JSON field names, in order (the two
/// fields added later, `requestedAt` and `origin`, last; empty when absent).
pub const CSV_HEADER: [&str; 17] = [
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
    "requestedAt",
    "origin",
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
            e.requested_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                .unwrap_or_default(),
            e.origin.clone().unwrap_or_default(),
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
    use crabglamp::domain::audit::{AuditDraft, GENESIS_HASH, seal};
    use crabglamp::domain::{AuditKind, Region, Tier};
    use uuid::Uuid;

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
                actor: "anna".into(),
                outcome: "failed: \"x\", y".into(),
                requested_at: Some(Utc.with_ymd_and_hms(2026, 11, 30, 8, 59, 58).unwrap()),
                origin: Some("192.0.2.1".into()),
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
            "seq,id,at,kind,vmId,vmName,hetznerServerId,tier,region,account,toAccount,actor,outcome,prevHash,hash,requestedAt,origin"
        );
        assert_eq!(
            lines[1],
            format!(
                "1,00000000-0000-0000-0000-000000000002,2026-11-30T09:00:00Z,transfer,\
                 00000000-0000-0000-0000-000000000001,web-1,42,small,eu,acme,globex,\
                 anna,\"failed: \"\"x\"\", y\",{GENESIS_HASH},{},2026-11-30T08:59:58Z,192.0.2.1",
                event.hash
            )
        );
    }
}
