//! The platform's own records in an embedded sled 0.34.7 database: accounts, the Vault, VM
//! records, the audit log, per-day usage records and a schema version (docs/ARCHITECTURE.md "Data").
//!
//! sled never leaks out of this module: callers see [`Store`] and [`StoreError`] only, so the
//! engine can be replaced (sled is unmaintained: docs/dependencies.md).
//!
//! Layout, one sled tree each; values are JSON (serde_json) of the domain types:
//! - `meta`: UTF-8 key → UTF-8 value (`schema_version`, `audit.last_seq`, caller keys such as the
//!   last sync time).
//! - `accounts`: slug → [`Account`].
//! - `vms`: 16 UUID bytes → [`VmRecord`].
//! - `vault`: 16 UUID bytes → [`VaultEntry`].
//! - `audit`: big-endian u64 sequence number → [`AuditEvent`], so a scan is in sequence order.
//! - `audit_tree`: the audit log's RFC 6962 Merkle tree, stored hashes by index (see the `evidence`
//!   submodule: checkpoint key, witness file and command, migration of older logs).
//! - `usage_months`: big-endian (first day of the month, VM UUID) → every
//!   [`UsageRecord`](crate::domain::UsageRecord) of that
//!   VM in that month, compact binary (see the `usage` submodule), so a month's range scan is
//!   one entry per VM and one (day, VM, account, billing type) has exactly one record.
//!
//! Durability: [`Store::append_audit`] flushes to disk (blocking `flush()`, never `flush_async`:
//! docs/dependencies.md) before returning. Other writes are flushed by sled in the background or by
//! [`Store::flush`]. All calls block: from async code, call them in `spawn_blocking`.

use crate::domain::audit::{ChainHead, GENESIS_HASH, seal, verify_tail};
use crate::domain::{Account, AuditEvent, VaultEntry, VmRecord, validate_account_slug};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

mod evidence;
pub mod files;
mod intents;
mod usage;

pub use evidence::{
    Anchor, WitnessState, load_key, load_or_create_key, newest_checkpoint, read_witness,
};
pub use intents::Intent;

pub use crate::domain::audit::AuditDraft;

/// sled page cache size: 32 MiB (docs/dependencies.md: 16–64 MiB; sled's default is 1 GiB).
const CACHE_CAPACITY_BYTES: u64 = 32 * 1024 * 1024;
/// Extra attempts to take the database lock before [`StoreError::InUse`] (see [`Store::open`]).
const OPEN_LOCK_RETRIES: u32 = 10;
/// Pause between those attempts: 10 × 50 ms = at most half a second.
const OPEN_LOCK_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
const SCHEMA_KEY: &str = "schema_version";
const AUDIT_LAST_SEQ_KEY: &str = "audit.last_seq";

/// Everything that can go wrong in the store. `Display` is one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another process (normally another running console) holds the database's file lock.
    #[error("database {path} is in use by another running crabglamp console or service")]
    InUse {
        /// The database directory.
        path: String,
    },
    /// The database was written by a newer console with a schema this build does not know.
    #[error(
        "database schema version {found} is newer than this console supports ({supported}); upgrade crabglamp"
    )]
    NewerSchema {
        /// Version found in the database.
        found: u32,
        /// [`Store::SCHEMA_VERSION`].
        supported: u32,
    },
    /// A file-system or sled error, in words.
    #[error("database I/O error: {0}")]
    Io(String),
    /// A file-system error on the database at a known path (opening it), e.g. `database
    /// /data/live.db: permission denied (os error 13)`.
    #[error("database {path}: {detail}")]
    File {
        /// The database directory.
        path: String,
        /// The operating system's words, first letter lower-case.
        detail: String,
    },
    /// sled found its storage file damaged (not one record: the file itself). One line with
    /// the path, when known, and what the operator can do.
    #[error(
        "database {}is damaged (sled found a corrupt storage file); move it aside to start \
         afresh or restore a backup",
        .path.as_deref().map(|p| format!("{p} ")).unwrap_or_default()
    )]
    Damaged {
        /// The database directory; `None` when the error came from a call that does not know it.
        path: Option<String>,
    },
    /// A stored value that does not decode.
    #[error("database record {tree}/{key} is corrupt: {detail}")]
    Corrupt {
        /// The sled tree.
        tree: &'static str,
        /// The key, printable (hex for binary keys).
        key: String,
        /// What failed.
        detail: String,
    },
    /// A record that should exist does not.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `account 'acme'`.
        what: String,
    },
    /// A record that must be unique already exists.
    #[error("{what} already exists")]
    Exists {
        /// What clashed, e.g. `account 'acme'`.
        what: String,
    },
    /// Input refused before writing, with the reason (naming the field).
    #[error("{0}")]
    Invalid(String),
    /// The audit hash chain is broken at `seq` (the first bad sequence number).
    #[error("audit log broken at event {seq}: {reason}")]
    AuditChain {
        /// The first bad sequence number.
        seq: u64,
        /// Hash mismatch, prev_hash mismatch or gap, in words.
        reason: String,
    },
}

/// An I/O error in words, first letter lower-case. sled hands back a *copy* of an earlier
/// failure (a background flush) whose text is Rust's debug form (`Os { code: 28, kind:
/// StorageFull, message: "…" }`); such an error has no OS code left but keeps its kind, whose
/// description (`no storage space`) is used instead.
fn io_words(io: &std::io::Error) -> String {
    let text = if io.raw_os_error().is_none()
        && io.get_ref().is_some()
        && io.kind() != std::io::ErrorKind::Other
    {
        io.kind().to_string()
    } else {
        io.to_string()
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// A sled error as the operator reads it: the database `path` (when known) named, no Rust
/// debug values. Lock held → [`StoreError::InUse`]; other I/O at a known path →
/// [`StoreError::File`] (`database <path>: permission denied (os error 13)`); corruption →
/// [`StoreError::Damaged`].
fn sled_err(path: Option<&Path>, e: sled::Error) -> StoreError {
    let shown = path.map(|p| p.display().to_string());
    match e {
        sled::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("could not acquire lock")
                || io.kind() == std::io::ErrorKind::WouldBlock
            {
                StoreError::InUse {
                    path: shown.unwrap_or_default(),
                }
            } else if let Some(path) = shown {
                StoreError::File {
                    path,
                    detail: io_words(&io),
                }
            } else {
                StoreError::Io(io_words(&io))
            }
        }
        sled::Error::Corruption { .. } => StoreError::Damaged { path: shown },
        other => StoreError::Io(other.to_string()),
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        sled_err(None, e)
    }
}

struct Inner {
    db: sled::Db,
    path: Option<PathBuf>,
    meta: sled::Tree,
    accounts: sled::Tree,
    vms: sled::Tree,
    vault: sled::Tree,
    audit: sled::Tree,
    usage: sled::Tree,
    /// The Merkle tree's stored hashes (`evidence` submodule).
    audit_tree: sled::Tree,
    /// Serialises audit appends (sequence assignment) between clones of the store.
    audit_lock: Mutex<()>,
    /// Where checkpoints go and the key that signs them ([`Store::set_anchor`]).
    anchor: Mutex<Option<(Anchor, crate::domain::checkpoint::Signer)>>,
}

/// Handle to the database. Cheap to clone (an `Arc` inside); the database closes when the last
/// clone is dropped. Only the worker writes (docs/ARCHITECTURE.md).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Io(format!("encoding a record: {e}")))
}

fn from_json<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        key: printable_key(key),
        detail: e.to_string(),
    })
}

fn printable_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => key.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Days since 1970-01-01 as an order-preserving big-endian u32 (sign bit flipped).
fn day_key(day: NaiveDate) -> [u8; 4] {
    let days = day.num_days_from_ce() - EPOCH_DAYS_FROM_CE;
    ((days as u32) ^ 0x8000_0000).to_be_bytes()
}

/// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

impl Store {
    /// Schema version this build writes and reads. A database with a higher version is refused
    /// ([`StoreError::NewerSchema`]); a fresh database gets this one.
    /// 2: usage records in (month, VM) bundles (1: one JSON value per record, migrated on open).
    pub const SCHEMA_VERSION: u32 = 2;

    /// Opens (creating if needed) the database directory at `path` with a 32 MiB cache, then
    /// sets or checks the schema version.
    ///
    /// Errors: [`StoreError::InUse`] when another process holds the database (sled's file lock;
    /// retried for up to half a second first, because a just-forked child process can hold the
    /// lock for a moment),
    /// [`StoreError::NewerSchema`], [`StoreError::Corrupt`] for an unreadable schema version,
    /// [`StoreError::Io`].
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if path.exists() {
            let changed = files::tighten(path)?;
            if changed > 0 {
                tracing::warn!(path = %path.display(), changed, "store was readable by others; tightened to 0700/0600");
            }
        } else {
            files::private_dir(path)?;
        }
        let mut attempt = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(path)
                .cache_capacity(CACHE_CAPACITY_BYTES)
                .open()
                .map_err(|e| sled_err(Some(path), e));
            match opened {
                // The lock is an flock on the database file: a process forked by this one (any
                // `Command::spawn`) briefly shares its open files until it execs, so a lock just
                // released can look held for a moment. Retry a few times before calling the
                // database in use; another running console keeps it far longer.
                Err(StoreError::InUse { .. }) if attempt < OPEN_LOCK_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(OPEN_LOCK_RETRY_PAUSE);
                }
                other => break other?,
            }
        };
        Store::init(db, Some(path.to_path_buf())).map_err(|e| match e {
            // Found while opening the trees: the path is known here.
            StoreError::Damaged { path: None } => StoreError::Damaged {
                path: Some(path.display().to_string()),
            },
            other => other,
        })
    }

    /// Opens a throw-away database that is deleted when dropped (tests, demo without a data
    /// directory).
    pub fn open_temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_CAPACITY_BYTES)
            .open()?;
        Store::init(db, None)
    }

    fn init(db: sled::Db, path: Option<PathBuf>) -> Result<Store, StoreError> {
        let store = Store {
            inner: Arc::new(Inner {
                meta: db.open_tree("meta")?,
                accounts: db.open_tree("accounts")?,
                vms: db.open_tree("vms")?,
                vault: db.open_tree("vault")?,
                audit: db.open_tree("audit")?,
                usage: db.open_tree(usage::TREE)?,
                audit_tree: db.open_tree(evidence::TREE)?,
                db,
                path,
                audit_lock: Mutex::new(()),
                anchor: Mutex::new(None),
            }),
        };
        match store.meta_get(SCHEMA_KEY)? {
            None => {
                store.meta_set(SCHEMA_KEY, &Store::SCHEMA_VERSION.to_string())?;
                store.flush()?;
            }
            Some(text) => {
                let found: u32 = text.trim().parse().map_err(|_| StoreError::Corrupt {
                    tree: "meta",
                    key: SCHEMA_KEY.into(),
                    detail: format!("'{text}' is not a version number"),
                })?;
                if found > Store::SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        supported: Store::SCHEMA_VERSION,
                    });
                }
                if found < Store::SCHEMA_VERSION {
                    usage::migrate_v1(&store)?;
                    store.meta_set(SCHEMA_KEY, &Store::SCHEMA_VERSION.to_string())?;
                    store.flush()?;
                }
            }
        }
        store.migrate_audit_tree()?;
        Ok(store)
    }

    /// The database directory, `None` for a temporary store.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    fn all<T: DeserializeOwned>(
        tree: &sled::Tree,
        name: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        tree.iter()
            .map(|item| {
                let (k, v) = item?;
                from_json(name, &k, &v)
            })
            .collect()
    }

    fn get<T: DeserializeOwned>(
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key)? {
            Some(v) => Ok(Some(from_json(name, key, &v)?)),
            None => Ok(None),
        }
    }

    /// All accounts, by slug.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        Store::all(&self.inner.accounts, "accounts")
    }

    /// The account with this slug, if any.
    pub fn account(&self, slug: &str) -> Result<Option<Account>, StoreError> {
        Store::get(&self.inner.accounts, "accounts", slug.as_bytes())
    }

    /// Adds an account. Errors: [`StoreError::Invalid`] for a bad slug (rule:
    /// [`validate_account_slug`], docs/product-rules.md §2), [`StoreError::Exists`] when the slug is taken
    /// (one namespace for personal and organization accounts).
    pub fn add_account(&self, account: &Account) -> Result<(), StoreError> {
        validate_account_slug(&account.slug).map_err(StoreError::Invalid)?;
        let value = to_json(account)?;
        let swapped = self.inner.accounts.compare_and_swap(
            account.slug.as_bytes(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        swapped.map_err(|_| StoreError::Exists {
            what: format!("account '{}'", account.slug),
        })
    }

    /// All VM records (deleted ones included), oldest `created_at` first (ties by id).
    pub fn vms(&self) -> Result<Vec<VmRecord>, StoreError> {
        let mut vms: Vec<VmRecord> = Store::all(&self.inner.vms, "vms")?;
        vms.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(vms)
    }

    /// The VM record with this id, if any.
    pub fn vm(&self, id: Uuid) -> Result<Option<VmRecord>, StoreError> {
        Store::get(&self.inner.vms, "vms", id.as_bytes())
    }

    /// The VM record named `name`. Names can be reused after a destroy: a live record
    /// ([`crate::domain::VmStatus::is_live`]) wins, otherwise the most recently created one.
    pub fn vm_by_name(&self, name: &str) -> Result<Option<VmRecord>, StoreError> {
        let mut matches: Vec<VmRecord> =
            self.vms()?.into_iter().filter(|v| v.name == name).collect();
        matches.sort_by_key(|v| (v.status.is_live(), v.created_at));
        Ok(matches.pop())
    }

    /// Inserts or replaces a VM record (keyed by its id). Errors: [`StoreError::Invalid`] when
    /// its account slug is malformed.
    pub fn put_vm(&self, vm: &VmRecord) -> Result<(), StoreError> {
        validate_account_slug(&vm.account).map_err(StoreError::Invalid)?;
        self.inner.vms.insert(vm.id.as_bytes(), to_json(vm)?)?;
        Ok(())
    }

    /// Vault entries (deleted ones included, `deleted_at` set), of one account or of all,
    /// oldest `created_at` first (ties by id).
    pub fn vault(&self, account: Option<&str>) -> Result<Vec<VaultEntry>, StoreError> {
        let mut entries: Vec<VaultEntry> = Store::all(&self.inner.vault, "vault")?;
        if let Some(account) = account {
            entries.retain(|e| e.account == account);
        }
        entries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(entries)
    }

    /// The Vault entry with this id, if any.
    pub fn vault_entry(&self, id: Uuid) -> Result<Option<VaultEntry>, StoreError> {
        Store::get(&self.inner.vault, "vault", id.as_bytes())
    }

    /// Inserts or replaces a Vault entry (keyed by its id); deleting from the Vault is a put with
    /// `deleted_at` set (docs/product-rules.md §5: the key stays visible on VMs that hold it).
    pub fn put_vault_entry(&self, entry: &VaultEntry) -> Result<(), StoreError> {
        validate_account_slug(&entry.account).map_err(StoreError::Invalid)?;
        self.inner
            .vault
            .insert(entry.id.as_bytes(), to_json(entry)?)?;
        Ok(())
    }

    /// Appends an audit event: assigns the next sequence number (from 1), a fresh id, the
    /// previous event's hash and its own hash ([`crate::domain::audit`]), writes it together with
    /// `meta/audit.last_seq` in one transaction, and flushes to disk (blocking) before returning
    /// (docs/ARCHITECTURE.md: audit appends are durable before they are reported). There is no update or
    /// delete. The event's leaf and the subtrees it completes go into the Merkle tree in the same
    /// transaction; then, with an [`Anchor`] set, a signed checkpoint is published (a witness
    /// failure is logged and recorded in [`Store::witness_state`], never returned).
    ///
    /// Errors: [`StoreError::Corrupt`] if the last stored event does not decode, I/O errors.
    pub fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError> {
        let _guard = self
            .inner
            .audit_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (seq, prev_hash) = match self.inner.audit.last()? {
            Some((k, v)) => {
                let last: AuditEvent = from_json("audit", &k, &v)?;
                (last.seq + 1, last.hash)
            }
            None => (1, GENESIS_HASH.to_string()),
        };
        let event = seal(draft, seq, Uuid::new_v4(), &prev_hash);
        let value = to_json(&event)?;
        let seq_text = seq.to_string();
        let tree_hashes = self.next_tree_hashes(seq - 1, &event)?;
        (&self.inner.audit, &self.inner.meta, &self.inner.audit_tree)
            .transaction(|(audit, meta, tree)| {
                audit.insert(&seq.to_be_bytes()[..], value.as_slice())?;
                meta.insert(AUDIT_LAST_SEQ_KEY.as_bytes(), seq_text.as_bytes())?;
                for (index, hash) in &tree_hashes {
                    tree.insert(&index.to_be_bytes()[..], &hash.0[..])?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::from(e),
                TransactionError::Abort(()) => StoreError::Io("audit append aborted".into()),
            })?;
        self.flush()?;
        // The event is durable; now the checkpoint (its failure is recorded, never returned).
        self.publish_checkpoint();
        Ok(event)
    }

    /// Every audit event, in sequence order. Errors: [`StoreError::Corrupt`] for a value that
    /// does not decode.
    pub fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        Store::all(&self.inner.audit, "audit")
    }

    /// Audit events with a sequence number above `after`, in sequence order (a range scan).
    /// Errors: [`StoreError::Corrupt`] for a value that does not decode.
    pub fn audit_events_after(&self, after: u64) -> Result<Vec<AuditEvent>, StoreError> {
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.inner
            .audit
            .range(from.to_be_bytes()..)
            .map(|item| {
                let (k, v) = item?;
                from_json("audit", &k, &v)
            })
            .collect()
    }

    /// Verifies the audit hash chain ([`crate::domain::audit::verify_chain`]) and that the
    /// newest event is the one recorded in `meta/audit.last_seq` (so removing the newest event
    /// is detected too). Returns the number of events, or [`StoreError::AuditChain`] naming the
    /// first bad sequence number.
    pub fn verify_audit(&self) -> Result<u64, StoreError> {
        let events = self.audit_events()?;
        self.check_audit(&ChainHead::genesis(), &events)
            .map(|head| head.seq)
    }

    /// Checks `tail`, the events after the verified `head` (all events when `head` is
    /// [`ChainHead::genesis`]), as [`Store::verify_audit`] checks the whole log: the chain
    /// continues from `head` ([`verify_tail`]), and the newest event is the one recorded in
    /// `meta/audit.last_seq`. Returns the new head.
    pub fn check_audit(
        &self,
        head: &ChainHead,
        tail: &[AuditEvent],
    ) -> Result<ChainHead, StoreError> {
        let head = verify_tail(head, tail)
            .map_err(|(seq, reason)| StoreError::AuditChain { seq, reason })?;
        let count = head.seq;
        let recorded: u64 = match self.meta_get(AUDIT_LAST_SEQ_KEY)? {
            Some(text) => text.parse().map_err(|_| StoreError::Corrupt {
                tree: "meta",
                key: AUDIT_LAST_SEQ_KEY.into(),
                detail: format!("'{text}' is not a sequence number"),
            })?,
            None => 0,
        };
        if recorded > count {
            return Err(StoreError::AuditChain {
                seq: count + 1,
                reason: format!(
                    "event {} is missing (the log recorded {recorded} events)",
                    count + 1
                ),
            });
        }
        if recorded < count {
            return Err(StoreError::AuditChain {
                seq: recorded + 1,
                reason: format!(
                    "event {} was not appended through the store (the log recorded {recorded} events)",
                    recorded + 1
                ),
            });
        }
        Ok(head)
    }

    /// The audit events appended since the verified `head`, verified against it
    /// ([`Store::check_audit`]), with the new head: incremental verification, reading only the
    /// new tail. The event at `head.seq` must still carry `head.hash` (else
    /// [`StoreError::AuditChain`] at that sequence number).
    pub fn audit_tail_since(
        &self,
        head: &ChainHead,
    ) -> Result<(Vec<AuditEvent>, ChainHead), StoreError> {
        if head.seq > 0 {
            let stored: Option<AuditEvent> = match self.inner.audit.get(head.seq.to_be_bytes())? {
                Some(v) => Some(from_json("audit", &head.seq.to_be_bytes(), &v)?),
                None => None,
            };
            if stored.as_ref().map(|e| e.hash.as_str()) != Some(head.hash.as_str()) {
                return Err(StoreError::AuditChain {
                    seq: head.seq,
                    reason: format!(
                        "event {} changed or disappeared after it was verified",
                        head.seq
                    ),
                });
            }
        }
        let tail = self.audit_events_after(head.seq)?;
        let new_head = self.check_audit(head, &tail)?;
        Ok((tail, new_head))
    }

    /// A free-form metadata value (e.g. the last sync time), if set.
    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.inner.meta.get(key.as_bytes())? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    tree: "meta",
                    key: key.to_string(),
                    detail: e.to_string(),
                }),
            None => Ok(None),
        }
    }

    /// Sets a metadata value. The keys `schema_version` and `audit.last_seq` belong to the store
    /// itself; callers should use their own names (e.g. `sync.last_ok`).
    pub fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.meta.insert(key.as_bytes(), value.as_bytes())?;
        Ok(())
    }

    /// Writes everything buffered to disk and returns once it is durable (blocking; never
    /// sled's `flush_async`: docs/dependencies.md). Errors: [`StoreError::Io`].
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sled_errors_name_the_database_without_debug_values() {
        let path = Path::new("/data/live.db");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let os = std::io::Error::from_raw_os_error(13);
        assert_eq!(
            sled_err(Some(path), sled::Error::Io(os)).to_string(),
            "database /data/live.db: permission denied (os error 13)"
        );
        assert_eq!(
            sled_err(None, sled::Error::Io(denied)).to_string(),
            "database I/O error: permission denied"
        );
        // sled's clone of a background flush failure: Rust's debug text inside.
        let full = sled::Error::Io(std::io::Error::from_raw_os_error(28)).clone();
        assert_eq!(
            sled_err(None, full.clone()).to_string(),
            "database I/O error: no storage space"
        );
        assert_eq!(
            sled_err(Some(path), full).to_string(),
            "database /data/live.db: no storage space"
        );
        let corrupt = || sled::Error::Corruption { at: None, bt: () };
        assert_eq!(
            sled_err(Some(path), corrupt()).to_string(),
            "database /data/live.db is damaged (sled found a corrupt storage file); move it \
             aside to start afresh or restore a backup"
        );
        assert_eq!(
            sled_err(None, corrupt()).to_string(),
            "database is damaged (sled found a corrupt storage file); move it aside to start \
             afresh or restore a backup"
        );
    }
    use crate::domain::{AuditKind, Region, Tier};
    use chrono::{TimeZone, Utc};

    fn draft(n: u32) -> AuditDraft {
        AuditDraft {
            at: Utc.with_ymd_and_hms(2026, 11, n, 9, 0, 0).unwrap(),
            kind: AuditKind::Destroy,
            vm_id: Uuid::from_u128(n as u128),
            vm_name: format!("web-{n}"),
            hetzner_server_id: Some(40 + n as i64),
            tier: Tier::Medium,
            region: Region::Us,
            account: "acme".into(),
            to_account: None,
            actor: "ops".into(),
            outcome: "ok".into(),
            requested_at: None,
            origin: None,
        }
    }

    fn store_with_events(n: u32) -> Store {
        let store = Store::open_temporary().unwrap();
        for i in 1..=n {
            store.append_audit(draft(i)).unwrap();
        }
        store
    }

    #[test]
    fn day_keys_sort_like_days() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(day_key(d(1970, 1, 1)), [0x80, 0, 0, 0]);
        assert_eq!(day_key(d(1970, 1, 2)), [0x80, 0, 0, 1]);
        assert_eq!(day_key(d(1969, 12, 31)), [0x7f, 0xff, 0xff, 0xff]);
        assert!(day_key(d(2026, 11, 30)) < day_key(d(2026, 12, 1)));
    }

    #[test]
    fn tampered_event_is_named() {
        let store = store_with_events(4);
        let key = 3u64.to_be_bytes();
        let raw = store.inner.audit.get(key).unwrap().unwrap();
        let mut event: AuditEvent = serde_json::from_slice(&raw).unwrap();
        event.account = "acmf".into();
        store
            .inner
            .audit
            .insert(key, serde_json::to_vec(&event).unwrap())
            .unwrap();
        match store.verify_audit() {
            Err(StoreError::AuditChain { seq, reason }) => {
                assert_eq!(seq, 3);
                assert!(reason.starts_with("hash mismatch"), "{reason}");
            }
            other => panic!("expected AuditChain, got {other:?}"),
        }
    }

    #[test]
    fn removed_events_are_named() {
        let store = store_with_events(4);
        store.inner.audit.remove(2u64.to_be_bytes()).unwrap();
        assert_eq!(
            store.verify_audit(),
            Err(StoreError::AuditChain {
                seq: 2,
                reason: "event 2 is missing (the next event found is 3)".into()
            })
        );
        let store = store_with_events(4);
        store.inner.audit.remove(4u64.to_be_bytes()).unwrap();
        assert_eq!(
            store.verify_audit(),
            Err(StoreError::AuditChain {
                seq: 4,
                reason: "event 4 is missing (the log recorded 4 events)".into()
            })
        );
    }

    #[test]
    fn undecodable_value_is_corrupt_with_key() {
        let store = store_with_events(1);
        store
            .inner
            .audit
            .insert(1u64.to_be_bytes(), &b"{nope"[..])
            .unwrap();
        match store.audit_events() {
            Err(StoreError::Corrupt { tree, key, .. }) => {
                assert_eq!(tree, "audit");
                assert_eq!(key, "0000000000000001");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn the_tail_since_a_verified_head_is_read_and_verified_alone() {
        let store = store_with_events(3);
        let events = store.audit_events().unwrap();
        let head = store.check_audit(&ChainHead::genesis(), &events).unwrap();
        assert_eq!(head.seq, 3);
        let (tail, same) = store.audit_tail_since(&head).unwrap();
        assert!(tail.is_empty());
        assert_eq!(same, head);
        let e4 = store.append_audit(draft(4)).unwrap();
        let e5 = store.append_audit(draft(5)).unwrap();
        let (tail, new_head) = store.audit_tail_since(&head).unwrap();
        assert_eq!(tail, vec![e4, e5.clone()]);
        assert_eq!((new_head.seq, new_head.hash), (5, e5.hash));
        assert_eq!(store.audit_events_after(4).unwrap().len(), 1);
        assert_eq!(store.audit_events_after(u64::MAX).unwrap(), vec![]);
        // The verified head replaced (rehashed, so its own hash checks out) is caught.
        let key = 3u64.to_be_bytes();
        let raw = store.inner.audit.get(key).unwrap().unwrap();
        let mut e3: AuditEvent = serde_json::from_slice(&raw).unwrap();
        e3.outcome = "failed".into();
        e3.hash = crate::domain::audit::compute_hash(&e3);
        store
            .inner
            .audit
            .insert(key, serde_json::to_vec(&e3).unwrap())
            .unwrap();
        match store.audit_tail_since(&head) {
            Err(StoreError::AuditChain { seq, .. }) => assert_eq!(seq, 3),
            other => panic!("expected a broken chain at 3, got {other:?}"),
        }
        // An event slipped in after the head without the store: its link is checked, and
        // `audit.last_seq` tells.
        let store = store_with_events(2);
        let head = store
            .check_audit(&ChainHead::genesis(), &store.audit_events().unwrap())
            .unwrap();
        let mut forged = store.audit_events().unwrap()[1].clone();
        forged.seq = 3;
        store
            .inner
            .audit
            .insert(3u64.to_be_bytes(), serde_json::to_vec(&forged).unwrap())
            .unwrap();
        match store.audit_tail_since(&head) {
            Err(StoreError::AuditChain { seq, .. }) => assert_eq!(seq, 3),
            other => panic!("expected a broken chain at 3, got {other:?}"),
        }
    }
}
