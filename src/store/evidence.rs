//! The audit log's evidence on disk (docs/product-rules.md §11, docs/ARCHITECTURE.md "Data"):
//! the RFC 6962 tree's stored hashes in the `audit_tree` sled tree, the Ed25519 checkpoint key
//! beside the store, and the witness: every new checkpoint appended to a file outside the store
//! directory and, optionally, piped to a command.
//!
//! - `audit_tree`: big-endian u64 stored-hash index (tlog order,
//!   [`tlog_tiles::stored_hash_index`]) → 32-byte hash; written in the same transaction as the
//!   event. A log written before the tree existed is migrated once on open (event bytes and
//!   order unchanged), recorded as `meta/audit.tree = rfc6962-v1`.
//! - The key file: one line, the note signer key `PRIVATE+KEY+<name>+<hex>+<base64>`, mode 0600,
//!   in a 0700 directory, created on first use by whoever opens the store.
//! - The witness file: signed notes one after another, newest last. A witness that fails is
//!   logged, recorded in `meta/audit.witness_error` and retried with the next append (and at
//!   the next [`Store::set_anchor`]); the event is already durable by then.

use super::{AUDIT_LAST_SEQ_KEY, Store, StoreError, from_json};
use crate::domain::AuditEvent;
use crate::domain::checkpoint::{self, Signer};
use crate::domain::evidence::{self, Finding, FindingKind, Report};
use crate::domain::merkle::{Hash, Tree, leaf_hash};
use chrono::{DateTime, Utc};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tlog_tiles::HashReader;

/// sled tree of the stored hashes.
pub(super) const TREE: &str = "audit_tree";
/// `meta` key marking the tree as built; value [`TREE_FORMAT`].
const TREE_KEY: &str = "audit.tree";
const TREE_FORMAT: &str = "rfc6962-v1";
/// `meta`: the newest checkpoint this store signed, and when (RFC 3339 UTC).
const CHECKPOINT_KEY: &str = "audit.checkpoint";
const CHECKPOINT_AT_KEY: &str = "audit.checkpoint_at";
/// `meta`: the last witness failure (absent when the last publication succeeded).
const WITNESS_ERROR_KEY: &str = "audit.witness_error";
/// How long a witness command may run before it is killed and counted as failed.
pub const WITNESS_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from the end of the witness file to find its newest checkpoint (a checkpoint is
/// about 200 bytes).
const WITNESS_TAIL_BYTES: u64 = 16 * 1024;

/// Where the checkpoints go and which key signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The signing key file (created on first use, 0600, in a 0700 directory).
    pub key_file: PathBuf,
    /// Key name (and checkpoint origin) for a new key, `crabglamp/<instance>`
    /// ([`checkpoint::origin_for`]); an existing key keeps its own name.
    pub key_name: String,
    /// The witness file: each new checkpoint is appended to it.
    pub witness_file: PathBuf,
    /// A shell command (`sh -c`) that receives each new checkpoint on stdin; it fails when it
    /// exits non-zero or runs longer than [`WITNESS_COMMAND_TIMEOUT`].
    pub witness_command: Option<String>,
}

impl Anchor {
    /// The default key file of the store at `db` (a directory such as `<data>/live.db`):
    /// `<data>/audit-keys/live.key`, beside the store, not in it.
    pub fn key_file_beside(db: &Path) -> PathBuf {
        let stem = db
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        db.parent()
            .unwrap_or(Path::new("."))
            .join("audit-keys")
            .join(format!("{stem}.key"))
    }
}

/// What the store knows about its last publication.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WitnessState {
    /// The newest checkpoint this store signed (text), if any.
    pub checkpoint: Option<String>,
    /// When it was signed.
    pub signed_at: Option<DateTime<Utc>>,
    /// The last witness failure, if the last publication failed.
    pub error: Option<String>,
}

pub(super) struct Sled<'a>(pub(super) &'a sled::Tree);

impl HashReader for Sled<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                let v = self
                    .0
                    .get(i.to_be_bytes())
                    .ok()
                    .flatten()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)?;
                <[u8; 32]>::try_from(v.as_ref())
                    .map(Hash)
                    .map_err(|_| tlog_tiles::Error::MalformedHash)
            })
            .collect()
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!(
        "{what} {}: {}",
        path.display(),
        super::io_words(&e)
    ))
}

/// Reads the key file, `None` when it does not exist. Errors: unreadable or malformed.
pub fn load_key(path: &Path) -> Result<Option<Signer>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Signer::from_private_key(&text)
            .map(Some)
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading the checkpoint key", path, e)),
    }
}

/// Reads the key file, creating a new Ed25519 key named `name` first when there is none: the
/// directory 0700, the file 0600, written and synced before use.
pub fn load_or_create_key(path: &Path, name: &str) -> Result<Signer, StoreError> {
    if let Some(signer) = load_key(path)? {
        return Ok(signer);
    }
    use rand::TryRngCore;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_err("creating the key directory", dir, e))?;
    }
    let mut seed = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| StoreError::Io(format!("no randomness for a new key: {e}")))?;
    let text = Signer::private_key_text(name, &seed).map_err(|e| StoreError::Invalid(e.0))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("creating the checkpoint key", path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("writing the checkpoint key", path, e))?;
    tracing::info!(path = %path.display(), key = name, "created the audit checkpoint key");
    Signer::from_private_key(&text).map_err(|e| StoreError::Invalid(e.0))
}

/// The whole witness file's text (`None` when it does not exist).
pub fn read_witness(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading the witness file", path, e)),
    }
}

/// The newest signed note in the witness file (read from its last 16 KiB), `None` when the file
/// does not exist or holds none.
pub fn newest_checkpoint(path: &Path) -> Result<Option<String>, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading the witness file", path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| io_err("reading the witness file", path, e))?
        .len();
    let from = len.saturating_sub(WITNESS_TAIL_BYTES);
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(from))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| io_err("reading the witness file", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(checkpoint::split_notes(&text).last().map(|s| s.to_string()))
}

fn run_witness_command(command: &str, checkpoint: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("the witness command could not start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is its own business; its exit status tells.
        let _ = stdin.write_all(checkpoint.as_bytes());
    }
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let first = err.lines().next().unwrap_or("").trim().to_string();
                let code = status
                    .code()
                    .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
                return Err(if first.is_empty() {
                    format!("the witness command exited with {code}")
                } else {
                    format!("the witness command exited with {code}: {first}")
                });
            }
            Ok(None) if started.elapsed() > WITNESS_COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the witness command did not finish within {} s",
                    WITNESS_COMMAND_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for the witness command: {e}")),
        }
    }
}

fn append_witness(path: &Path, checkpoint: &str) -> Result<(), String> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("the witness file {} cannot be written: {e}", path.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("the witness file {} cannot be written: {e}", path.display()))?;
    file.write_all(checkpoint.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("the witness file {} cannot be written: {e}", path.display()))
}

impl Store {
    /// Builds the tree's stored hashes from the events when the store has none yet (a log
    /// written before the tree existed): once, idempotently, logged. Called on open.
    pub(super) fn migrate_audit_tree(&self) -> Result<(), StoreError> {
        if self.meta_get(TREE_KEY)?.as_deref() == Some(TREE_FORMAT) {
            return Ok(());
        }
        let count = self.rebuild_audit_tree()?;
        self.meta_set(TREE_KEY, TREE_FORMAT)?;
        self.flush()?;
        if count > 0 {
            tracing::info!(
                events = count,
                "audit log migrated to a Merkle tree (RFC 6962); event bytes and order unchanged"
            );
        }
        Ok(())
    }

    /// Recomputes every stored hash from the events as stored. Returns the number of events.
    fn rebuild_audit_tree(&self) -> Result<u64, StoreError> {
        let events = self.audit_events()?;
        let stored = &self.inner.audit_tree;
        stored.clear()?;
        let mut batch = sled::Batch::default();
        let mut index = 0u64;
        let mut rebuilt = Tree::new();
        for e in &events {
            for h in rebuilt.push_leaf(leaf_hash(e)) {
                batch.insert(&index.to_be_bytes()[..], &h.0[..]);
                index += 1;
            }
        }
        stored.apply_batch(batch)?;
        Ok(rebuilt.size())
    }

    /// The stored hashes that appending `event` as leaf `n` (0-based) adds, keyed by their
    /// index. Rebuilds the tree from the events first if its stored hashes are incomplete.
    pub(super) fn next_tree_hashes(
        &self,
        n: u64,
        event: &AuditEvent,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        let leaf = leaf_hash(event);
        let compute =
            || tlog_tiles::stored_hashes_for_record_hash(n, leaf, &Sled(&self.inner.audit_tree));
        let hashes = match compute() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "audit tree incomplete; rebuilding it from the events");
                self.rebuild_audit_tree()?;
                compute().map_err(|e| StoreError::Io(format!("audit tree: {e}")))?
            }
        };
        let start = tlog_tiles::stored_hash_index(0, n);
        Ok(hashes
            .into_iter()
            .enumerate()
            .map(|(i, h)| (start + i as u64, h))
            .collect())
    }

    /// The root hash of the first `size` events from the stored tree.
    pub fn audit_tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        tlog_tiles::tree_hash(size, &Sled(&self.inner.audit_tree))
            .map_err(|e| StoreError::Io(format!("audit tree: {e}")))
    }

    fn audit_size(&self) -> Result<u64, StoreError> {
        Ok(match self.inner.audit.last()? {
            Some((k, v)) => from_json::<AuditEvent>("audit", &k, &v)?.seq,
            None => 0,
        })
    }

    /// Sets where checkpoints go and which key signs them: loads the key (creating it on first
    /// use), then publishes a checkpoint now if the last publication failed or none was made
    /// for the current log (a migrated log). Errors: the key cannot be read or created, or it
    /// is missing although this store has signed checkpoints before (a new key would vouch for
    /// whatever the log holds now: the old one must be restored).
    pub fn set_anchor(&self, anchor: Anchor) -> Result<Signer, StoreError> {
        if load_key(&anchor.key_file)?.is_none() && self.witness_state()?.checkpoint.is_some() {
            return Err(StoreError::Invalid(format!(
                "the checkpoint key {} is missing, but this store has signed checkpoints with it: \
                 restore the key from a backup (a new key would vouch for whatever the log holds \
                 now)",
                anchor.key_file.display()
            )));
        }
        let signer = load_or_create_key(&anchor.key_file, &anchor.key_name)?;
        {
            let mut slot = self
                .inner
                .anchor
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *slot = Some((anchor, signer.clone()));
        }
        let state = self.witness_state()?;
        let size = self.audit_size()?;
        let signed = state
            .checkpoint
            .as_deref()
            .and_then(checkpoint::claimed_size);
        if state.error.is_some() || (size > 0 && signed != Some(size)) {
            let _guard = self
                .inner
                .audit_lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.publish_checkpoint();
        }
        Ok(signer)
    }

    /// The anchor set by [`Store::set_anchor`] and its signer's public key, if any.
    pub fn anchor(&self) -> Option<(Anchor, String)> {
        let slot = self
            .inner
            .anchor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref()
            .map(|(a, s)| (a.clone(), s.verifier_key().to_string()))
    }

    /// The last publication: newest checkpoint signed, when, and the witness failure if any.
    pub fn witness_state(&self) -> Result<WitnessState, StoreError> {
        Ok(WitnessState {
            checkpoint: self.meta_get(CHECKPOINT_KEY)?,
            signed_at: self
                .meta_get(CHECKPOINT_AT_KEY)?
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            error: self.meta_get(WITNESS_ERROR_KEY)?,
        })
    }

    /// Signs a checkpoint of the current log and hands it to the witness file and command.
    /// Never fails the append that called it: a failure is logged and recorded
    /// ([`WitnessState::error`]) and retried next time. Refuses to sign a log that does not
    /// extend the witness file's newest checkpoint (shorter, or another history), so the key
    /// never vouches for a log altered behind the store's back. Call with the audit lock held.
    pub(super) fn publish_checkpoint(&self) {
        let Some((anchor, signer)) = self
            .inner
            .anchor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
        else {
            return;
        };
        let result = self.try_publish(&anchor, &signer);
        let recorded = match &result {
            Ok(()) => self
                .inner
                .meta
                .remove(WITNESS_ERROR_KEY.as_bytes())
                .map(|_| ()),
            Err(e) => {
                tracing::warn!(error = %e, "audit checkpoint not witnessed; retried with the next event");
                self.inner
                    .meta
                    .insert(WITNESS_ERROR_KEY.as_bytes(), e.as_bytes())
                    .map(|_| ())
            }
        };
        if let Err(e) = recorded
            .map_err(StoreError::from)
            .and_then(|()| self.flush())
        {
            tracing::warn!(error = %e, "recording the witness state");
        }
    }

    fn try_publish(&self, anchor: &Anchor, signer: &Signer) -> Result<(), String> {
        let size = self.audit_size().map_err(|e| e.to_string())?;
        let root = self.audit_tree_root(size).map_err(|e| e.to_string())?;
        // An unreadable witness is reported by the append below.
        if let Ok(Some(newest)) = newest_checkpoint(&anchor.witness_file)
            && let Ok(v) = checkpoint::verify(&newest, signer.verifier_key())
        {
            if v.size > size {
                return Err(format!(
                    "not signed: the log has {size} events but the witness holds checkpoint \
                     #{} (events were removed)",
                    v.size
                ));
            }
            if self.audit_tree_root(v.size).ok() != Some(v.root) {
                return Err(format!(
                    "not signed: the log does not extend the witnessed checkpoint #{} (its \
                     history was rewritten)",
                    v.size
                ));
            }
        }
        let text = signer.sign(size, root).map_err(|e| e.0)?;
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.meta_set(CHECKPOINT_KEY, &text)
            .and_then(|()| self.meta_set(CHECKPOINT_AT_KEY, &now))
            .map_err(|e| e.to_string())?;
        let mut errors = Vec::new();
        if let Err(e) = append_witness(&anchor.witness_file, &text) {
            errors.push(e);
        }
        if let Some(command) = &anchor.witness_command
            && let Err(e) = run_witness_command(command, &text)
        {
            errors.push(e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// What the dashboard shows about `events` (the snapshot's audit log): verified against the
    /// witness file's newest checkpoint (no history: the CLI names rewritten events), when this
    /// store signed it, and a pending witness failure. `None` without an [`Anchor`]. Reads the
    /// witness file's tail and hashes every event (about 0.1 s per 100,000 events).
    pub fn audit_status(&self, events: &[AuditEvent]) -> Option<evidence::AuditStatus> {
        let (anchor, key) = self.anchor()?;
        let state = self.witness_state().unwrap_or_default();
        let mut status = evidence::AuditStatus {
            witness_error: state.error.clone(),
            key: Some(key.clone()),
            ..Default::default()
        };
        match newest_checkpoint(&anchor.witness_file) {
            Ok(Some(newest)) => {
                status.checkpoint_text = Some(newest.clone());
                let report = evidence::verify(events, Some(&newest), &key, None);
                status.checkpoint = report.checkpoint.as_ref().map(|c| c.size);
                if state.checkpoint.as_deref() == Some(newest.as_str()) {
                    status.signed_at = state.signed_at;
                }
                status.problem = report.findings.first().map(|f| f.to_string());
            }
            Ok(None) if events.is_empty() => {}
            Ok(None) => {
                status.problem = Some("no signed checkpoint in the witness file".into());
            }
            Err(e) => status.problem = Some(e.to_string()),
        }
        Some(status)
    }

    /// Verifies the stored events ([`evidence::verify`]) against `checkpoint` signed by `key`
    /// (`history`: the witness file's text, to name the first rewritten event), and that the
    /// newest event is the one recorded in `meta/audit.last_seq`.
    pub fn verify_evidence(
        &self,
        checkpoint: Option<&str>,
        key: &str,
        history: Option<&str>,
    ) -> Result<Report, StoreError> {
        let events = self.audit_events()?;
        let mut report = evidence::verify(&events, checkpoint, key, history);
        let recorded: u64 = self
            .meta_get(AUDIT_LAST_SEQ_KEY)?
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let newest = events.last().map_or(0, |e| e.seq);
        if recorded != newest {
            report.findings.push(Finding {
                seq: Some(recorded.min(newest) + 1),
                kind: FindingKind::NotRecorded,
                message: format!(
                    "the store recorded {recorded} events but its newest is event {newest}"
                ),
            });
        }
        Ok(report)
    }
}
