//! Signed checkpoints of the audit log (docs/product-rules.md §11): a C2SP `tlog-checkpoint`
//! body in a C2SP `signed-note`, signed with Ed25519.
//!
//! A checkpoint is UTF-8 text:
//!
//! ```text
//! crabglamp/<instance>            origin (the signing key's name)
//! 42                              tree size: the number of events
//! <base64 root hash>              RFC 6962 root of those events (src/domain/merkle.rs)
//!                                 blank line
//! — crabglamp/<instance> <base64(4-byte key hash ‖ 64-byte Ed25519 signature of the body)>
//! ```
//!
//! The key hash is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key).
//! The public key is published in the note verifier form `<name>+<8 hex key hash>+<base64(0x01
//! ‖ public key)>` ([`Signer::verifier_key`]). Formatting, parsing and signatures are Cloudflare's
//! `signed_note` and `tlog_tiles`; this module only fixes our choices. Pure: no I/O (the seed
//! comes from the caller).

use super::merkle::Hash;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::Checkpoint;

/// Prefix of every origin and key name.
pub const ORIGIN_PREFIX: &str = "crabglamp/";

/// A checkpoint problem, in words: unreadable text, a key that does not parse, a signature that
/// does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckpointError(pub String);

/// The origin and key name for an instance: `crabglamp/<instance>`, with every character other
/// than ASCII letters, digits, `.`, `_` and `-` replaced by `-` (a note key name may hold no
/// space or `+`); an empty instance becomes `local`.
pub fn origin_for(instance: &str) -> String {
    let clean: String = instance
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "local".to_string()
    } else {
        clean
    };
    format!("{ORIGIN_PREFIX}{clean}")
}

/// An Ed25519 signing key with its note name. `Debug` never shows the key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    signer: StandardSigner,
    verifier_key: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("verifier_key", &self.verifier_key)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The signer for a 32-byte Ed25519 seed named `name` (e.g. [`origin_for`]). Errors: a name
    /// that is empty or holds a space or `+`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer, CheckpointError> {
        Signer::from_private_key(&Signer::private_key_text(name, seed)?)
    }

    /// Parses a note signer key `PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 ‖ seed)>` (the
    /// key file's one line). Errors: malformed, not Ed25519, or a key hash that does not match.
    pub fn from_private_key(text: &str) -> Result<Signer, CheckpointError> {
        let text = text.trim();
        let signer = StandardSigner::new(text)
            .map_err(|e| CheckpointError(format!("the checkpoint signing key is unusable: {e}")))?;
        let mut parts = text.splitn(5, '+');
        let (_, _, name) = (parts.next(), parts.next(), parts.next());
        let name = name.unwrap_or_default().to_string();
        let seed_b64 = parts.nth(1).unwrap_or_default();
        let seed = BASE64
            .decode(seed_b64)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k.get(1..)?).ok())
            .ok_or_else(|| CheckpointError("the checkpoint signing key is unusable".into()))?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier_key = signed_note::new_ed25519_verifier_key(&name, &public);
        Ok(Signer {
            name,
            signer,
            verifier_key,
        })
    }

    /// The key file's text for `seed` (one line and a newline). Secret: never print it.
    pub fn private_key_text(name: &str, seed: &[u8; 32]) -> Result<String, CheckpointError> {
        let public = ed25519_dalek::SigningKey::from_bytes(seed).verifying_key();
        let vkey = signed_note::new_ed25519_verifier_key(name, &public);
        let id = vkey
            .split('+')
            .nth(1)
            .ok_or_else(|| CheckpointError("bad key name".into()))?;
        let mut private = vec![1u8];
        private.extend_from_slice(seed);
        Ok(format!(
            "PRIVATE+KEY+{name}+{id}+{}\n",
            BASE64.encode(&private)
        ))
    }

    /// The key name (also the checkpoints' origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key in note verifier form `<name>+<hex key hash>+<base64(0x01 ‖ key)>`.
    pub fn verifier_key(&self) -> &str {
        &self.verifier_key
    }

    /// The signed checkpoint text for a tree of `size` events with root `root`, origin
    /// [`Signer::name`]. Errors: only a failing signature (not expected with Ed25519).
    pub fn sign(&self, size: u64, root: Hash) -> Result<String, CheckpointError> {
        let body = Checkpoint::new(&self.name, size, root, "")
            .map_err(|e| CheckpointError(e.to_string()))?
            .to_bytes();
        let mut note = Note::new(&body, &[]).map_err(|e| CheckpointError(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| CheckpointError(format!("signing the checkpoint: {e}")))?;
        String::from_utf8(note.to_bytes()).map_err(|e| CheckpointError(e.to_string()))
    }
}

/// A checkpoint whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The origin line.
    pub origin: String,
    /// Tree size: the number of events the checkpoint covers (also its number, `#size`).
    pub size: u64,
    /// The signed root hash.
    pub root: Hash,
    /// The name of the key that signed it.
    pub key_name: String,
}

/// Checks `text` (one signed note) against the verifier key `key`
/// (`<name>+<hex>+<base64>`): the key's signature must be present and valid and the body must
/// be a checkpoint whose origin is the key's name. Errors in words: `the checkpoint is not a
/// signed note`, `the checkpoint is not signed by <key>`, `the checkpoint's signature by <name>
/// does not verify`, ….
pub fn verify(text: &str, key: &str) -> Result<Verified, CheckpointError> {
    // The text is never echoed: a mistaken `--key` may name a private key file.
    let verifier = StandardVerifier::new(key.trim()).map_err(|e| {
        CheckpointError(format!(
            "the verifier key is unusable ({e}); give the public key as `audit key` prints it \
             (NAME+HASH+KEY)"
        ))
    })?;
    let key_name = signed_note::Verifier::name(&verifier).to_string();
    let key_id = signed_note::Verifier::key_id(&verifier);
    let note = Note::from_bytes(text.as_bytes())
        .map_err(|_| CheckpointError("the checkpoint is not a well-formed signed note".into()))?;
    let list = VerifierList::new(vec![Box::new(verifier)]);
    note.verify(&list).map_err(|e| match e {
        signed_note::NoteError::UnverifiedNote => CheckpointError(format!(
            "the checkpoint is not signed by the key {key_name}+{key_id:08x}"
        )),
        signed_note::NoteError::InvalidSignature { name, .. } => CheckpointError(format!(
            "the checkpoint's signature by {name} does not verify (its text was changed or \
             it was signed by another key)"
        )),
        other => CheckpointError(format!("the checkpoint does not verify: {other}")),
    })?;
    let body = Checkpoint::from_bytes(note.text())
        .map_err(|_| CheckpointError("the checkpoint's body is not a tlog checkpoint".into()))?;
    if body.origin() != key_name {
        return Err(CheckpointError(format!(
            "the checkpoint's origin {} is not the key's name {key_name}",
            body.origin()
        )));
    }
    Ok(Verified {
        origin: body.origin().to_string(),
        size: body.size(),
        root: *body.hash(),
        key_name,
    })
}

/// The signed notes in a witness file's text, oldest first: each a body, a blank line and
/// signature lines (`— …`); blank lines between notes and anything unreadable are skipped.
pub fn split_notes(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut in_sigs = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        match (start, in_sigs) {
            (None, _) => {
                if !bare.is_empty() && !bare.starts_with('—') {
                    start = Some(pos);
                }
            }
            (Some(_), false) => {
                if bare.is_empty() {
                    in_sigs = true;
                }
            }
            (Some(s), true) => {
                if !bare.starts_with("— ") {
                    if pos > s {
                        out.push(&text[s..pos]);
                    }
                    in_sigs = false;
                    start = (!bare.is_empty()).then_some(pos);
                }
            }
        }
        pos += line.len();
    }
    if let (Some(s), true) = (start, in_sigs)
        && text[s..].ends_with('\n')
    {
        out.push(&text[s..]);
    }
    out
}

/// The size a note claims (its second line), without checking anything: to find a note by
/// size quickly before verifying it.
pub fn claimed_size(note: &str) -> Option<u64> {
    note.lines().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::merkle::EMPTY_HASH;
    use sha2::{Digest, Sha256};

    const SEED: [u8; 32] = [7u8; 32];

    #[test]
    fn a_checkpoint_has_the_c2sp_shape_and_verifies() {
        let signer = Signer::from_seed("crabglamp/test", &SEED).unwrap();
        let text = signer.sign(0, EMPTY_HASH).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "crabglamp/test");
        assert_eq!(lines[1], "0");
        assert_eq!(lines[2], "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("— crabglamp/test "), "{}", lines[4]);
        assert_eq!(lines.len(), 5);
        // Key hash = SHA-256(name ‖ \n ‖ 0x01 ‖ key)[..4], the first 4 signature bytes too.
        let vkey = signer.verifier_key();
        let parts: Vec<&str> = vkey.split('+').collect();
        let key = BASE64.decode(parts[2]).unwrap();
        assert_eq!(key.len(), 33);
        assert_eq!(key[0], 1);
        let mut h = Sha256::new();
        h.update(b"crabglamp/test\n");
        h.update(&key);
        let id = &h.finalize()[..4];
        assert_eq!(
            parts[1],
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let sig = BASE64.decode(lines[4].rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(&sig[..4], id);
        assert_eq!(sig.len(), 68);

        let v = verify(&text, vkey).unwrap();
        assert_eq!(
            (v.size, v.root, v.origin.as_str()),
            (0, EMPTY_HASH, "crabglamp/test")
        );
        // The private key text round-trips.
        let again =
            Signer::from_private_key(&Signer::private_key_text("crabglamp/test", &SEED).unwrap())
                .unwrap();
        assert_eq!(again.verifier_key(), vkey);
    }

    #[test]
    fn a_changed_checkpoint_or_another_key_fails_in_words() {
        let signer = Signer::from_seed("crabglamp/test", &SEED).unwrap();
        let text = signer.sign(5, EMPTY_HASH).unwrap();
        let edited = text.replacen("\n5\n", "\n4\n", 1);
        assert_eq!(
            verify(&edited, signer.verifier_key()).unwrap_err().0,
            "the checkpoint's signature by crabglamp/test does not verify (its text was changed \
             or it was signed by another key)"
        );
        let other = Signer::from_seed("crabglamp/test", &[8u8; 32]).unwrap();
        let err = verify(&text, other.verifier_key()).unwrap_err().0;
        assert!(
            err.starts_with("the checkpoint is not signed by the key crabglamp/test+"),
            "{err}"
        );
        assert!(verify("nonsense", signer.verifier_key()).is_err());
    }

    #[test]
    fn notes_split_from_a_witness_file() {
        let signer = Signer::from_seed("crabglamp/test", &SEED).unwrap();
        let a = signer.sign(1, EMPTY_HASH).unwrap();
        let b = signer.sign(2, EMPTY_HASH).unwrap();
        let file = format!("{a}\n{b}{a}");
        let notes = split_notes(&file);
        assert_eq!(notes, vec![a.as_str(), b.as_str(), a.as_str()]);
        assert_eq!(claimed_size(notes[1]), Some(2));
        // A torn last note (no newline) is left out.
        let torn = format!("{a}{}", &b[..b.len() - 1]);
        assert_eq!(split_notes(&torn), vec![a.as_str()]);
        assert_eq!(origin_for("web host+1"), "crabglamp/web-host-1");
        assert_eq!(origin_for(""), "crabglamp/local");
    }
}
