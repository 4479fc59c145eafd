//! What crosses between the dashboard and the worker about the Vault: the key source of an
//! add, and the worker's answer. The pure rules and result types live in
//! [`crate::domain::vault`] and are re-exported here.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::domain::VaultEntry;
pub use crate::domain::vault::{Exposure, Holder, Offer, Refusal};

/// Largest key file the worker reads: 1 MiB (ours; a public key line is under 1 KiB, a big
/// `authorized_keys` file a few hundred KiB).
pub const MAX_KEY_FILE_BYTES: u64 = 1024 * 1024;

/// Where the public key to add comes from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySource {
    /// Pasted or piped text (one OpenSSH public key line). The dashboard and the headless
    /// command send it only after checking it is not a private key.
    Text(String),
    /// A file path as typed (`~` and `~/` are expanded to the home directory); the worker reads
    /// it (at most [`MAX_KEY_FILE_BYTES`], UTF-8).
    Path(String),
}

/// Debug never shows pasted text (only its length), so an effect in a log or panic message
/// cannot carry key material.
impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Text(t) => write!(f, "Text({} bytes)", t.len()),
            KeySource::Path(p) => write!(f, "Path({p:?})"),
        }
    }
}

/// What the worker reports about a Vault effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VaultEvent {
    /// A key was added (the store is written; a snapshot was sent just before).
    Added {
        /// The new entry.
        entry: VaultEntry,
    },
    /// An add or delete was refused; nothing changed.
    Refused(Refusal),
    /// A key was deleted from the Vault; `holders` are the live VMs that still hold it.
    Deleted {
        /// The entry, `deleted_at` set.
        entry: VaultEntry,
        /// Live VMs that received it at provisioning.
        holders: Vec<Holder>,
    },
}
