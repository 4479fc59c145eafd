//! The Vault's pure rules (docs/product-rules.md §5): which live VMs hold a key
//! ([`holders`], [`exposure`]), label checks, the entry to store for a pasted key
//! ([`prepare_entry`]) and the refusals with what the operator may accept ([`Refusal`],
//! [`Offer`]). Shared by the dashboard, the headless commands and the worker; no I/O.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::sshkey::{KeyError, ParsedKey, parse_public_key};
use crate::domain::{VaultEntry, VmRecord, VmStatus};

/// Longest label, in characters (ours: fits a table column and a cloud-init comment).
pub const MAX_LABEL_CHARS: usize = 100;

/// What the operator may accept after a refusal, with one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Offer {
    /// The line had `authorized_keys` options in front; add this canonical key line instead.
    StripOptions {
        /// The key without the options (canonical `type base64 [comment]`).
        line: String,
    },
    /// Several keys at once; add each of these canonical lines (labels from their comments).
    AddEach {
        /// One canonical public key line per key found.
        lines: Vec<String>,
    },
}

/// Why an add was refused: the message shown in the dialog (or printed), and an offer when
/// there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// One line, e.g. the domain's `public key: …` message; never contains private key text.
    pub message: String,
    /// Something to accept with one key, if any.
    pub offer: Option<Offer>,
}

impl Refusal {
    /// A refusal with no offer.
    pub fn plain(message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            offer: None,
        }
    }
}

impl From<KeyError> for Refusal {
    fn from(e: KeyError) -> Refusal {
        let offer = match &e {
            KeyError::WithOptions { stripped } => Some(Offer::StripOptions {
                line: stripped.clone(),
            }),
            KeyError::SeveralKeys { lines, .. } if !lines.is_empty() => Some(Offer::AddEach {
                lines: lines.clone(),
            }),
            _ => None,
        };
        Refusal {
            message: e.to_string(),
            offer,
        }
    }
}

/// A live VM that received a Vault key at provisioning (attribution in [`VmRecord::keys`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The Plain VM's id.
    pub vm_id: Uuid,
    /// Hostname.
    pub name: String,
    /// The VM's current account (after a transfer, not the key's account).
    pub account: String,
    /// Current status (a live one: [`VmStatus::is_live`]).
    pub status: VmStatus,
    /// Public IPv4, when known.
    pub ipv4: Option<String>,
    /// Public IPv6 network (`…::/64`), when known.
    pub ipv6: Option<String>,
    /// The image's default user, whose `~/.ssh/authorized_keys` received the key (docs/product-rules.md §2).
    pub user: String,
    /// `ssh USER@HOST` to log in and remove the key.
    pub ssh_command: String,
}

/// A key deleted from the Vault that is still on live VMs (docs/product-rules.md §5: the console must show
/// which live VMs still hold a deleted key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// The deleted entry (`deleted_at` set).
    pub entry: VaultEntry,
    /// The live VMs that received it, by name.
    pub holders: Vec<Holder>,
}

/// `ssh USER@HOST`: the IPv4 address, else the conventional IPv6 host `<net>::1`.
pub fn ssh_command(user: &str, ipv4: Option<&str>, ipv6_net: Option<&str>) -> String {
    let host = match (ipv4, ipv6_net) {
        (Some(v4), _) => v4.to_string(),
        (None, Some(v6)) => {
            let net = v6.split('/').next().unwrap_or(v6);
            if net.ends_with("::") {
                format!("{net}1")
            } else {
                net.to_string()
            }
        }
        (None, None) => "<address pending>".to_string(),
    };
    format!("ssh {user}@{host}")
}

/// The live VMs ([`VmStatus::is_live`]) whose provisioning wrote the Vault key `key_id`, by
/// name then id.
pub fn holders<'a>(key_id: Uuid, vms: impl IntoIterator<Item = &'a VmRecord>) -> Vec<Holder> {
    let mut out: Vec<Holder> = vms
        .into_iter()
        .filter(|vm| vm.status.is_live() && vm.keys.iter().any(|k| k.vault_key_id == key_id))
        .map(|vm| {
            let user = vm.image.default_user().to_string();
            Holder {
                vm_id: vm.id,
                name: vm.name.clone(),
                account: vm.account.clone(),
                status: vm.status,
                ipv4: vm.ipv4.clone(),
                ipv6: vm.ipv6.clone(),
                ssh_command: ssh_command(&user, vm.ipv4.as_deref(), vm.ipv6.as_deref()),
                user,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.name, a.vm_id).cmp(&(&b.name, b.vm_id)));
    out
}

/// Deleted Vault entries still on at least one live VM, by account then deletion time. An
/// entry drops out once every VM that received it is destroyed (or vanished).
pub fn exposure<'a>(
    vault: &[VaultEntry],
    vms: impl IntoIterator<Item = &'a VmRecord> + Clone,
) -> Vec<Exposure> {
    let mut out: Vec<Exposure> = vault
        .iter()
        .filter(|e| e.deleted_at.is_some())
        .filter_map(|e| {
            let holders = holders(e.id, vms.clone());
            (!holders.is_empty()).then(|| Exposure {
                entry: e.clone(),
                holders,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.entry.account, a.entry.deleted_at, a.entry.id).cmp(&(
            &b.entry.account,
            b.entry.deleted_at,
            b.entry.id,
        ))
    });
    out
}

/// One line for an exposure: `deleted from Vault, still on N live VM(s): a, b`.
pub fn exposure_line(holders: &[Holder]) -> String {
    let names: Vec<&str> = holders.iter().map(|h| h.name.as_str()).collect();
    format!(
        "deleted from Vault, still on {} live VM{}: {}",
        holders.len(),
        if holders.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}

/// The label a key gets when none is typed: its comment, else `TYPE SHA256:first-8`.
pub fn default_label(key: &ParsedKey) -> String {
    // The comment is whatever the key file says: held to a typed label's rules (no control
    // characters, at most MAX_LABEL_CHARS), so it cannot carry escape sequences to a terminal.
    let cleaned: String = key
        .comment
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let comment: String = cleaned.trim().chars().take(MAX_LABEL_CHARS).collect();
    let comment = comment.trim();
    if comment.is_empty() {
        let short: String = key.fingerprint_sha256.chars().take(15).collect();
        format!("{} {short}", key.key_type)
    } else {
        comment.to_string()
    }
}

/// Checks a typed label: trimmed, not empty, at most [`MAX_LABEL_CHARS`] characters, no control
/// characters. Returns the trimmed label or the reason (`label: …`).
pub fn validate_label(label: &str) -> Result<String, String> {
    let label = label.trim();
    if label.is_empty() {
        return Err("label: empty; type a label or leave it out to use the key's comment".into());
    }
    let n = label.chars().count();
    if n > MAX_LABEL_CHARS {
        return Err(format!("label: {n} characters, at most {MAX_LABEL_CHARS}"));
    }
    if label.chars().any(char::is_control) {
        return Err("label: control characters (tabs, newlines) are not allowed".into());
    }
    Ok(label.to_string())
}

/// The refusal for a key whose fingerprint is already in this account's Vault.
pub fn duplicate_message(account: &str, existing: &VaultEntry) -> String {
    format!(
        "public key: already in {account}'s Vault as '{}' ({})",
        existing.label, existing.fingerprint_sha256
    )
}

/// Builds the entry to store for `text` in `account`'s Vault: parse (every refusal with its own
/// message and, where there is one, an [`Offer`]), label (typed, else [`default_label`]),
/// duplicate check against the account's entries that are not deleted (same SHA256
/// fingerprint: refused naming the existing label). Pure.
pub fn prepare_entry(
    account: &str,
    label: Option<&str>,
    text: &str,
    existing: &[VaultEntry],
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<VaultEntry, Refusal> {
    let key = parse_public_key(text)?;
    let label = match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => validate_label(l).map_err(Refusal::plain)?,
        None => default_label(&key),
    };
    if let Some(dup) = existing.iter().find(|e| {
        e.account == account
            && e.deleted_at.is_none()
            && e.fingerprint_sha256 == key.fingerprint_sha256
    }) {
        return Err(Refusal::plain(duplicate_message(account, dup)));
    }
    Ok(VaultEntry {
        id,
        account: account.to_string(),
        label,
        key_type: key.key_type,
        fingerprint_sha256: key.fingerprint_sha256,
        public_key: key.canonical_line,
        created_at: now,
        deleted_at: None,
    })
}

#[cfg(test)]
mod label_tests {
    use super::*;
    use crate::domain::sshkey::parse_public_key;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    #[test]
    fn a_comment_label_carries_no_escape_and_has_a_typed_labels_length() {
        let key = parse_public_key(&format!("{KEY} \u{1b}]0;PWNED\u{7}\u{1b}[31mbob")).unwrap();
        let label = default_label(&key);
        assert!(!label.chars().any(char::is_control), "{label:?}");
        assert_eq!(label, "]0;PWNED  [31mbob");
        let long = parse_public_key(&format!("{KEY} {}", "x".repeat(5000))).unwrap();
        assert_eq!(default_label(&long).chars().count(), MAX_LABEL_CHARS);
        assert_eq!(validate_label(&default_label(&long)).map(|_| ()), Ok(()));
    }
}
