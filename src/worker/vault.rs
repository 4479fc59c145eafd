//! The Vault in the worker: adding a customer's OpenSSH public key to an account's Vault (pasted
//! text, or a file the worker reads), soft-deleting one, and which live VMs still hold a key
//! (docs/product-rules.md §5; issue 6).
//!
//! - Adding parses with [`crate::domain::sshkey::parse_public_key`]; each refusal keeps the
//!   domain's own message. `authorized_keys` options in front of the key and several keys at once
//!   come back with an [`Offer`] (strip the options; add each key) that the caller can accept by
//!   sending the offered public lines. A key already in the account's Vault (same SHA256
//!   fingerprint, not deleted) is refused naming the existing label.
//! - A private key is never stored, logged or echoed: the refusal carries only the domain's fixed
//!   message, and file contents are dropped as soon as they are parsed.
//! - Deleting sets `deleted_at` (the entry stays in the store for the exposure view); the key
//!   stays on every VM that received it at provisioning, because the platform has no way into a
//!   running VM (docs/product-rules.md §3, §5). [`holders`] and [`exposure`] say which live VMs hold a key.
//!
//! The pure functions here ([`holders`], [`exposure`], [`prepare_entry`], [`ssh_command`]) are
//! shared by the dashboard (`app`), the headless commands and the worker.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::blocking;
use crate::domain::sshkey::KeyError;
use crate::domain::vault::*;
use crate::protocol::vault::{KeySource, MAX_KEY_FILE_BYTES, VaultEvent};
use crate::store::Store;

/// Expands a leading `~` or `~/` to the home directory.
pub fn expand_home(path: &str) -> Result<PathBuf, String> {
    let path = path.trim();
    if path == "~" || path.starts_with("~/") {
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .ok_or_else(|| format!("{path}: cannot expand ~ (no home directory)"))?;
        return Ok(match path.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => home,
        });
    }
    if path.starts_with('~') {
        return Err(format!(
            "{path}: only ~ and ~/ are expanded (~user is not supported)"
        ));
    }
    Ok(PathBuf::from(path))
}

/// Reads a key file for the Vault (blocking): at most [`MAX_KEY_FILE_BYTES`], UTF-8. Errors
/// name the path as typed.
pub fn read_key_file(typed: &str) -> Result<String, String> {
    let path = expand_home(typed)?;
    let shown = typed.trim();
    let meta = std::fs::metadata(&path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    if meta.is_dir() {
        return Err(format!("{shown}: is a directory, not a key file"));
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "{shown}: {} bytes, larger than a public key file can be (1 MiB)",
            meta.len()
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{shown}: not a text file"))
}

/// Reads a key file on the client's side (an attached console or headless command, whose
/// files the service cannot and must not read): the file's text to send as
/// [`KeySource::Text`], or the refusal to show without sending anything — an unreadable file,
/// or a private key (which never leaves the client's machine).
pub fn read_key_file_for_sending(typed: &str) -> Result<String, Refusal> {
    let text = read_key_file(typed).map_err(Refusal::plain)?;
    if crate::domain::sshkey::looks_private(&text) {
        let err = if text.contains("PuTTY-User-Key-File") {
            KeyError::PuttyPrivateKey
        } else {
            KeyError::PrivateKey
        };
        return Err(file_refusal(typed, err));
    }
    Ok(text)
}

/// A refusal for the contents of file `typed`: the domain's message prefixed with the path, and
/// for a private key a pointer to `PATH.pub` when that file exists.
fn file_refusal(typed: &str, err: KeyError) -> Refusal {
    let shown = typed.trim();
    let private = matches!(err, KeyError::PrivateKey | KeyError::PuttyPrivateKey);
    let mut refusal = Refusal::from(err);
    refusal.message = format!("{shown}: {}", refusal.message);
    if private
        && !shown.ends_with(".pub")
        && expand_home(&format!("{shown}.pub")).is_ok_and(|p| p.is_file())
    {
        refusal
            .message
            .push_str(&format!(" (did you mean {shown}.pub?)"));
    }
    refusal
}

/// Handles an add: reads the source, prepares the entry against the store and writes it.
/// Returns [`VaultEvent::Added`] or [`VaultEvent::Refused`].
pub(super) async fn add(
    store: &Store,
    account: String,
    label: Option<String>,
    source: KeySource,
    now: DateTime<Utc>,
) -> VaultEvent {
    let result = blocking(store, move |s| {
        if s.account(&account)?.is_none() {
            return Ok(Err(Refusal::plain(format!(
                "account '{account}' not found; add it first (A)"
            ))));
        }
        let (text, path) = match source {
            KeySource::Text(t) => (t, None),
            KeySource::Path(p) => match read_key_file(&p) {
                Ok(t) => (t, Some(p)),
                Err(e) => return Ok(Err(Refusal::plain(e))),
            },
        };
        let existing = s.vault(Some(&account))?;
        let prepared = prepare_entry(
            &account,
            label.as_deref(),
            &text,
            &existing,
            now,
            Uuid::new_v4(),
        );
        drop(text);
        let entry = match prepared {
            Ok(e) => e,
            Err(r) => {
                return Ok(Err(match (&path, parse_error_for_path(&r)) {
                    (Some(p), Some(err)) => file_refusal(p, err),
                    (Some(p), None) => Refusal {
                        message: format!("{}: {}", p.trim(), r.message),
                        offer: r.offer,
                    },
                    (None, _) => r,
                }));
            }
        };
        s.put_vault_entry(&entry)?;
        s.flush()?;
        Ok(Ok(entry))
    })
    .await;
    match result {
        Ok(Ok(entry)) => {
            tracing::info!(
                account = %entry.account,
                id = %entry.id,
                fingerprint = %entry.fingerprint_sha256,
                "Vault key added"
            );
            VaultEvent::Added { entry }
        }
        Ok(Err(refusal)) => {
            tracing::info!(reason = %refusal.message, "Vault key refused");
            VaultEvent::Refused(refusal)
        }
        Err(e) => VaultEvent::Refused(Refusal::plain(format!("cannot add the key: {e}"))),
    }
}

/// The private-key refusals, recognised by their fixed messages, for the file hint.
fn parse_error_for_path(r: &Refusal) -> Option<KeyError> {
    [KeyError::PrivateKey, KeyError::PuttyPrivateKey]
        .into_iter()
        .find(|e| e.to_string() == r.message)
}

/// Handles a delete: sets `deleted_at` (soft delete: docs/product-rules.md §5) and reports the live VMs that
/// still hold the key. Refused for an unknown or already deleted entry.
pub(super) async fn delete(store: &Store, id: Uuid, now: DateTime<Utc>) -> VaultEvent {
    let result = blocking(store, move |s| {
        let Some(mut entry) = s.vault_entry(id)? else {
            return Ok(Err(format!("Vault key {id} not found")));
        };
        if let Some(at) = entry.deleted_at {
            return Ok(Err(format!(
                "Vault key '{}' was already deleted on {}",
                entry.label,
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        entry.deleted_at = Some(now);
        s.put_vault_entry(&entry)?;
        s.flush()?;
        let vms = s.vms()?;
        let holders = holders(id, &vms);
        Ok(Ok((entry, holders)))
    })
    .await;
    match result {
        Ok(Ok((entry, holders))) => {
            tracing::info!(
                account = %entry.account,
                id = %entry.id,
                still_on = holders.len(),
                "Vault key deleted"
            );
            VaultEvent::Deleted { entry, holders }
        }
        Ok(Err(reason)) => VaultEvent::Refused(Refusal::plain(reason)),
        Err(e) => VaultEvent::Refused(Refusal::plain(format!("cannot delete the key: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ssh_command_prefers_ipv4() {
        assert_eq!(
            ssh_command("ubuntu", Some("203.0.113.5"), Some("2a01:4f9::/64")),
            "ssh ubuntu@203.0.113.5"
        );
        assert_eq!(
            ssh_command("root", None, Some("2a01:4f9:c012:1::/64")),
            "ssh root@2a01:4f9:c012:1::1"
        );
        assert_eq!(
            ssh_command("debian", None, None),
            "ssh debian@<address pending>"
        );
    }

    #[test]
    fn labels_default_to_the_comment() {
        let e = prepare_entry("acme", None, ED25519, &[], now(), Uuid::nil()).unwrap();
        assert_eq!(e.label, "user@example.com");
        assert!(e.fingerprint_sha256.starts_with("SHA256:"));
        assert_eq!(e.public_key, ED25519);
        let bare = &ED25519[..ED25519.len() - " user@example.com".len()];
        let e = prepare_entry("acme", Some("  "), bare, &[], now(), Uuid::nil()).unwrap();
        assert_eq!(
            e.label,
            format!("ssh-ed25519 {}", &e.fingerprint_sha256[..15])
        );
        assert_eq!(e.public_key, bare);
        let e = prepare_entry("acme", Some(" laptop "), ED25519, &[], now(), Uuid::nil()).unwrap();
        assert_eq!(e.label, "laptop");
    }

    #[test]
    fn duplicates_name_the_existing_label_and_deleted_ones_do_not_count() {
        let mut first =
            prepare_entry("acme", Some("laptop"), ED25519, &[], now(), Uuid::nil()).unwrap();
        let err = prepare_entry(
            "acme",
            None,
            ED25519,
            std::slice::from_ref(&first),
            now(),
            Uuid::max(),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "public key: already in acme's Vault as 'laptop' ({})",
                first.fingerprint_sha256
            )
        );
        // Another account may hold the same key.
        assert!(
            prepare_entry(
                "globex",
                None,
                ED25519,
                std::slice::from_ref(&first),
                now(),
                Uuid::max()
            )
            .is_ok()
        );
        first.deleted_at = Some(now());
        assert!(prepare_entry("acme", None, ED25519, &[first], now(), Uuid::max()).is_ok());
    }

    #[test]
    fn offers_come_with_options_and_several_keys() {
        let err = prepare_entry(
            "acme",
            None,
            &format!("no-pty {ED25519}"),
            &[],
            now(),
            Uuid::nil(),
        )
        .unwrap_err();
        assert_eq!(
            err.offer,
            Some(Offer::StripOptions {
                line: ED25519.into()
            })
        );
        let err = prepare_entry(
            "acme",
            None,
            &format!("{ED25519}\n{ED25519}"),
            &[],
            now(),
            Uuid::nil(),
        )
        .unwrap_err();
        assert_eq!(
            err.offer,
            Some(Offer::AddEach {
                lines: vec![ED25519.into(), ED25519.into()]
            })
        );
        assert_eq!(
            err.message,
            "public key: 2 lines pasted (2 of them keys); add one key at a time"
        );
    }

    #[test]
    fn labels_are_checked() {
        assert_eq!(
            validate_label(&"x".repeat(101)),
            Err("label: 101 characters, at most 100".into())
        );
        assert_eq!(
            validate_label("a\tb"),
            Err("label: control characters (tabs, newlines) are not allowed".into())
        );
        assert_eq!(validate_label(" ok "), Ok("ok".into()));
    }

    #[test]
    fn key_source_debug_hides_text() {
        let s = KeySource::Text("-----BEGIN OPENSSH PRIVATE KEY-----".into());
        assert_eq!(format!("{s:?}"), "Text(35 bytes)");
    }

    #[test]
    fn home_is_expanded() {
        assert_eq!(expand_home("/etc/x.pub"), Ok(PathBuf::from("/etc/x.pub")));
        assert_eq!(
            expand_home("~bob/x.pub"),
            Err("~bob/x.pub: only ~ and ~/ are expanded (~user is not supported)".into())
        );
        if let Some(b) = directories::BaseDirs::new() {
            assert_eq!(
                expand_home("~/.ssh/id_ed25519.pub"),
                Ok(b.home_dir().join(".ssh/id_ed25519.pub"))
            );
        }
    }
}
