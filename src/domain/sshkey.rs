//! OpenSSH public keys for the Vault: parsing, the accepted types, fingerprints, and a distinct
//! refusal for each kind of wrong input (issue 6 "Add"; docs/product-rules.md §5).
//!
//! Parsing uses the `ssh-key` crate (feature `ecdsa`); the MD5 fingerprint Hetzner shows
//! (docs/hetzner-api.md §8) uses `md-5`, since `ssh-key` has none. Pure: no I/O.
//!
//! Secrets: a pasted private key is detected before anything else and refused with a message
//! that never echoes the input. [`KeyError`] only ever carries public key lines that parsed and
//! key type names that look like type names, so neither its `Display` nor its `Debug` can hold
//! private key material.

use md5::{Digest, Md5};
use ssh_key::{Algorithm, HashAlg, PublicKey};
use std::fmt;

/// The key types the Vault accepts (docs/product-rules.md §5), as they appear in key files.
pub const ACCEPTED_KEY_TYPES: &[&str] = &[
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Smallest accepted RSA modulus, in bits (issue 6). NIST SP 800-131A disallows RSA under 2048
/// bits for signatures; OpenSSH itself still accepts 1024.
pub const MIN_RSA_BITS: u32 = 2048;

/// A parsed, accepted OpenSSH public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// Key type as in key files, e.g. `ssh-ed25519` (one of [`ACCEPTED_KEY_TYPES`]).
    pub key_type: String,
    /// Canonical `type base64 [comment]` line (the form stored in the Vault and written into
    /// `authorized_keys`): single spaces, no trailing whitespace.
    pub canonical_line: String,
    /// The comment (may be empty); the default Vault label.
    pub comment: String,
    /// `SHA256:` + unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l` prints.
    pub fingerprint_sha256: String,
    /// MD5 of the key blob as 16 lowercase hex bytes joined by `:` (Hetzner's `fingerprint`,
    /// = `ssh-keygen -E md5 -l` without `MD5:`).
    pub fingerprint_md5: String,
    /// Key size in bits as `ssh-keygen -l` prints it: the RSA modulus size, 256/384/521 for
    /// ECDSA, 256 for Ed25519 and the FIDO types.
    pub bits: Option<u32>,
}

/// Why a pasted public key was refused. Every variant has its own message (see `Display`).
/// No variant holds the raw input: only canonical lines of keys that parsed, or type names.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing but whitespace.
    #[error(
        "public key: empty; paste one OpenSSH public key line (e.g. the contents of ~/.ssh/id_ed25519.pub)"
    )]
    Empty,
    /// A private key (PEM or OpenSSH armour). Never stored, logged or echoed.
    #[error(
        "public key: this is a PRIVATE key; it was not stored. Paste the public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`)"
    )]
    PrivateKey,
    /// A PuTTY private key file (`PuTTY-User-Key-File-…`, a .ppk). Never stored or echoed.
    #[error(
        "public key: this is a PuTTY private key file (.ppk); it was not stored. Export the OpenSSH public key with `puttygen KEYFILE -O public-openssh`"
    )]
    PuttyPrivateKey,
    /// An RFC 4716 / PuTTY public key (`---- BEGIN SSH2 PUBLIC KEY ----`).
    #[error(
        "public key: this is a PuTTY/SSH2-format public key; convert it to one OpenSSH line with `ssh-keygen -i -f KEYFILE` (or PuTTYgen's \"Public key for pasting into OpenSSH authorized_keys file\")"
    )]
    PuttyPublicKey,
    /// An `authorized_keys` line with options (`from=…`, `command=…`, `no-pty`, …) in front of
    /// the key. `stripped` is the canonical key line without them, to offer instead.
    #[error(
        "public key: authorized_keys options in front of the key are not stored; add the key without them?"
    )]
    WithOptions {
        /// The key line with the options removed (canonical).
        stripped: String,
    },
    /// An OpenSSH certificate (`*-cert-v01@openssh.com`).
    #[error(
        "public key: {key_type} is an OpenSSH certificate, not a public key; add the key it certifies (the .pub file without -cert)"
    )]
    Certificate {
        /// The certificate type, e.g. `ssh-ed25519-cert-v01@openssh.com`.
        key_type: String,
    },
    /// A DSA key.
    #[error(
        "public key: ssh-dss (DSA) keys are refused: too weak, and disabled by OpenSSH since 7.0; use ssh-ed25519"
    )]
    Dsa,
    /// Several lines at once. `lines` holds the canonical line of each that is an accepted key
    /// (options stripped), so the UI can offer to add each; `unreadable` counts the others.
    #[error(
        "public key: {} lines pasted ({} of them keys); add one key at a time",
        lines.len() + unreadable,
        lines.len()
    )]
    SeveralKeys {
        /// Canonical lines of the accepted keys found.
        lines: Vec<String>,
        /// Lines that were not accepted keys.
        unreadable: usize,
    },
    /// The base64 body does not decode to a key of the stated type.
    #[error("public key: the base64 body is corrupt or does not match the key type {key_type}")]
    CorruptBody {
        /// The stated type.
        key_type: String,
    },
    /// A well-formed type name that is not accepted.
    #[error(
        "public key: type {key_type} is not accepted; accepted: ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com"
    )]
    Unsupported {
        /// The type given.
        key_type: String,
    },
    /// An RSA key below [`MIN_RSA_BITS`].
    #[error(
        "public key: ssh-rsa key of {bits} bits is too short: at least 2048 bits are required (shorter RSA keys are within reach of factoring; NIST SP 800-131A)"
    )]
    RsaTooSmall {
        /// The modulus size.
        bits: u32,
    },
    /// Text that is not a key line at all.
    #[error("public key: not an OpenSSH public key line (expected `TYPE BASE64 [COMMENT]`)")]
    NotAKey,
}

/// Debug shows the variant and the same public data as Display; written by hand so that a
/// future variant cannot leak input through a derive by accident.
impl fmt::Debug for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            KeyError::Empty => "Empty",
            KeyError::PrivateKey => "PrivateKey",
            KeyError::PuttyPrivateKey => "PuttyPrivateKey",
            KeyError::PuttyPublicKey => "PuttyPublicKey",
            KeyError::WithOptions { .. } => "WithOptions",
            KeyError::Certificate { .. } => "Certificate",
            KeyError::Dsa => "Dsa",
            KeyError::SeveralKeys { .. } => "SeveralKeys",
            KeyError::CorruptBody { .. } => "CorruptBody",
            KeyError::Unsupported { .. } => "Unsupported",
            KeyError::RsaTooSmall { .. } => "RsaTooSmall",
            KeyError::NotAKey => "NotAKey",
        };
        write!(f, "KeyError::{name}({self})")?;
        match self {
            KeyError::WithOptions { stripped } => write!(f, " stripped={stripped:?}"),
            KeyError::SeveralKeys { lines, .. } => write!(f, " lines={lines:?}"),
            _ => Ok(()),
        }
    }
}

/// True for text that holds private key material in any armour we know: PEM
/// (`-----BEGIN RSA PRIVATE KEY-----`, `EC`, `DSA`, PKCS#8 `PRIVATE KEY`, `ENCRYPTED PRIVATE
/// KEY`), OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`) and SSH.com
/// (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`). Case-insensitive.
pub fn looks_like_private_key(input: &str) -> bool {
    let upper = input.to_ascii_uppercase();
    upper.contains("PRIVATE KEY") && upper.contains("BEGIN")
        || upper.contains("PRIVATE-LINES:")
        || upper.contains("OPENSSH-KEY-V1")
        || input.contains("b3BlbnNzaC1rZXktdjE")
}

/// A token shaped like a key type name (`ssh-…`, `ecdsa-…`, `sk-…@openssh.com`): short, lowercase
/// ASCII letters, digits, `-`, `@`, `.`, with a hyphen. Base64 key material never has `-`.
fn looks_like_type(token: &str) -> bool {
    (3..=64).contains(&token.len())
        && token.contains('-')
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-@.".contains(&b))
}

fn is_known_type(token: &str) -> bool {
    ACCEPTED_KEY_TYPES.contains(&token)
        || token == "ssh-dss"
        || token.ends_with("-cert-v01@openssh.com")
}

fn md5_colon_hex(blob: &[u8]) -> String {
    let digest = Md5::digest(blob);
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rsa_bits(n: &ssh_key::Mpint) -> u32 {
    let bytes = n.as_positive_bytes().unwrap_or(&[]);
    match bytes.first() {
        None => 0,
        Some(first) => (bytes.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
    }
}

/// Parses one line that starts with a key type token.
fn parse_key_line(key_type: &str, line: &str) -> Result<ParsedKey, KeyError> {
    if key_type.ends_with("-cert-v01@openssh.com") {
        return Err(KeyError::Certificate {
            key_type: key_type.to_string(),
        });
    }
    if key_type == "ssh-dss" {
        return Err(KeyError::Dsa);
    }
    if !ACCEPTED_KEY_TYPES.contains(&key_type) {
        return Err(KeyError::Unsupported {
            key_type: key_type.to_string(),
        });
    }
    // Rebuild with single spaces between type, body and comment (ssh-key wants spaces).
    let mut parts = line.split_whitespace();
    let _ = parts.next();
    let body = parts.next().unwrap_or("");
    let comment = parts.collect::<Vec<_>>().join(" ");
    let corrupt = || KeyError::CorruptBody {
        key_type: key_type.to_string(),
    };
    if body.is_empty() {
        return Err(corrupt());
    }
    let normalised = if comment.is_empty() {
        format!("{key_type} {body}")
    } else {
        format!("{key_type} {body} {comment}")
    };
    let key = PublicKey::from_openssh(&normalised).map_err(|_| corrupt())?;
    if key.algorithm().as_str() != key_type {
        return Err(corrupt());
    }
    let bits = match key.algorithm() {
        Algorithm::Rsa { .. } => key.key_data().rsa().map(|r| rsa_bits(&r.n)),
        Algorithm::Ecdsa { curve } => Some(match curve {
            ssh_key::EcdsaCurve::NistP256 => 256,
            ssh_key::EcdsaCurve::NistP384 => 384,
            ssh_key::EcdsaCurve::NistP521 => 521,
        }),
        Algorithm::Ed25519 | Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256 => Some(256),
        _ => None,
    };
    if let (Algorithm::Rsa { .. }, Some(b)) = (key.algorithm(), bits)
        && b < MIN_RSA_BITS
    {
        return Err(KeyError::RsaTooSmall { bits: b });
    }
    let canonical_line = key.to_openssh().map_err(|_| corrupt())?;
    let blob = key.to_bytes().map_err(|_| corrupt())?;
    Ok(ParsedKey {
        key_type: key_type.to_string(),
        canonical_line,
        comment: key.comment().to_string(),
        fingerprint_sha256: key.fingerprint(HashAlg::Sha256).to_string(),
        fingerprint_md5: md5_colon_hex(&blob),
        bits,
    })
}

/// Parses one non-empty line: a key line, or a key line with authorized_keys options in front.
fn parse_single_line(line: &str) -> Result<ParsedKey, KeyError> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let Some(first) = tokens.first() else {
        return Err(KeyError::Empty);
    };
    if is_known_type(first) {
        return parse_key_line(first, line);
    }
    // Options in front: find the first known key type token after the first token and start
    // the line there (options may contain quoted spaces, so the position is found by token).
    if let Some(pos) = tokens.iter().skip(1).position(|t| is_known_type(t)) {
        let start = tokens[pos + 1];
        // Byte offset of that token within the line.
        let offset = line
            .match_indices(start)
            .map(|(i, _)| i)
            .find(|&i| {
                i > 0
                    && line[..i].ends_with(char::is_whitespace)
                    && line[..i].split_whitespace().count() == pos + 1
            })
            .unwrap_or(0);
        if offset == 0 {
            return Err(KeyError::NotAKey);
        }
        let key = parse_key_line(start, &line[offset..])?;
        return Err(KeyError::WithOptions {
            stripped: key.canonical_line,
        });
    }
    if looks_like_type(first) && tokens.len() >= 2 {
        return parse_key_line(first, line);
    }
    Err(KeyError::NotAKey)
}

/// Parses a pasted OpenSSH public key (surrounding whitespace and newlines trimmed).
///
/// Accepts the types in [`ACCEPTED_KEY_TYPES`] (RSA only from [`MIN_RSA_BITS`] bits) and
/// returns the canonical `type base64 [comment]` line with both fingerprints.
///
/// Errors, each with its own message ([`KeyError`]): empty input; a private key (PEM/OpenSSH/
/// PKCS#8, or a PuTTY .ppk) — never echoed; a PuTTY/RFC 4716 public key; a line with
/// `authorized_keys` options (carries the stripped line); a certificate; `ssh-dss`; several
/// lines at once (carries each key line found); a corrupt base64 body; an unaccepted type; a
/// short RSA key; anything else.
pub fn parse_public_key(input: &str) -> Result<ParsedKey, KeyError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if text.contains("PuTTY-User-Key-File") {
        return Err(KeyError::PuttyPrivateKey);
    }
    if looks_like_private_key(text) {
        return Err(KeyError::PrivateKey);
    }
    if text.to_ascii_uppercase().contains("BEGIN SSH2 PUBLIC KEY") {
        return Err(KeyError::PuttyPublicKey);
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    match lines.as_slice() {
        [] => Err(KeyError::Empty),
        [line] => parse_single_line(line),
        many => {
            let mut found = Vec::new();
            let mut unreadable = 0;
            for line in many {
                match parse_single_line(line) {
                    Ok(k) => found.push(k.canonical_line),
                    Err(KeyError::WithOptions { stripped }) => found.push(stripped),
                    Err(_) => unreadable += 1,
                }
            }
            if found.is_empty() {
                Err(KeyError::NotAKey)
            } else {
                Err(KeyError::SeveralKeys {
                    lines: found,
                    unreadable,
                })
            }
        }
    }
}

/// True when `text` holds private key material in any armour the domain knows (PEM, OpenSSH,
/// PuTTY .ppk).
pub fn looks_private(text: &str) -> bool {
    looks_like_private_key(text) || text.contains("PuTTY-User-Key-File")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RustCrypto ssh-key's public test vectors (tests/examples), fingerprints checked with
    // `ssh-keygen -lf` / `ssh-keygen -E md5 -lf`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com";
    const SK_ED25519: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com";
    const SK_ECDSA: &str = "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBIELQJ2DgvaX1yQlKFokfWM2suuaCFI2qp0eJodHyg6O4ifxc3XpRKd1OS8dNYQtE/YjdXSrA+AOnMF5ns2Nkx4AAAAEc3NoOg== user@example.com";

    fn msg(input: &str) -> String {
        parse_public_key(input).unwrap_err().to_string()
    }

    #[test]
    fn sk_test_vectors() {
        let k = parse_public_key(SK_ED25519).unwrap();
        assert_eq!(k.key_type, "sk-ssh-ed25519@openssh.com");
        assert_eq!(
            k.fingerprint_sha256,
            "SHA256:6WZVJ44bqhAWLVP4Ns0TDkoSQSsZo/h2K+mEvOaNFbw"
        );
        assert_eq!(
            k.fingerprint_md5,
            "82:72:2d:96:a2:2c:45:34:0d:1a:21:f3:9a:e7:69:35"
        );
        assert_eq!(k.bits, Some(256));
        let k = parse_public_key(SK_ECDSA).unwrap();
        assert_eq!(
            k.fingerprint_sha256,
            "SHA256:UINe2WXFh3SiqwLxsBv34fBO2ei+g7uOeJJXVEK95iE"
        );
        assert_eq!(
            k.fingerprint_md5,
            "1e:cd:f3:cd:99:68:3f:38:15:84:de:df:bb:c5:c1:75"
        );
        assert_eq!(k.comment, "user@example.com");
    }

    #[test]
    fn canonical_line_trims_and_normalises() {
        let messy = format!(
            "  {}\t  my   laptop  \r\n\n",
            &ED25519[..ED25519.len() - " user@example.com".len()]
        );
        let k = parse_public_key(&messy).unwrap();
        assert_eq!(
            k.canonical_line,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti my laptop"
        );
        assert_eq!(k.comment, "my laptop");
        let bare = parse_public_key(&ED25519[..ED25519.len() - 17]).unwrap();
        assert_eq!(bare.comment, "");
        assert_eq!(
            bare.canonical_line,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti"
        );
    }

    #[test]
    fn refusals_have_their_own_messages() {
        assert_eq!(
            msg(" \n\t"),
            "public key: empty; paste one OpenSSH public key line (e.g. the contents of ~/.ssh/id_ed25519.pub)"
        );
        assert_eq!(
            msg(
                "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\"\nAAAAB3NzaC1yc2E=\n---- END SSH2 PUBLIC KEY ----"
            ),
            "public key: this is a PuTTY/SSH2-format public key; convert it to one OpenSSH line with `ssh-keygen -i -f KEYFILE` (or PuTTYgen's \"Public key for pasting into OpenSSH authorized_keys file\")"
        );
        assert_eq!(
            msg("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAAIBA="),
            "public key: this is a PuTTY private key file (.ppk); it was not stored. Export the OpenSSH public key with `puttygen KEYFILE -O public-openssh`"
        );
        assert_eq!(
            msg(&format!("from=\"10.0.0.0/8\",no-pty {ED25519}")),
            "public key: authorized_keys options in front of the key are not stored; add the key without them?"
        );
        assert_eq!(
            parse_public_key(&format!("command=\"echo a b\",no-pty {ED25519}")),
            Err(KeyError::WithOptions {
                stripped: ED25519.to_string()
            })
        );
        assert_eq!(
            msg(
                "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t x"
            ),
            "public key: ssh-ed25519-cert-v01@openssh.com is an OpenSSH certificate, not a public key; add the key it certifies (the .pub file without -cert)"
        );
        assert_eq!(
            msg("ssh-dss AAAAB3NzaC1kc3MAAACBAP= me"),
            "public key: ssh-dss (DSA) keys are refused: too weak, and disabled by OpenSSH since 7.0; use ssh-ed25519"
        );
        assert_eq!(
            parse_public_key(&format!("{ED25519}\n# comment\n{SK_ED25519}\nnot a key\n")),
            Err(KeyError::SeveralKeys {
                lines: vec![ED25519.to_string(), SK_ED25519.to_string()],
                unreadable: 1
            })
        );
        assert_eq!(
            msg(&format!("{ED25519}\n{SK_ED25519}")),
            "public key: 2 lines pasted (2 of them keys); add one key at a time"
        );
        assert_eq!(
            msg(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSq me"
            ),
            "public key: the base64 body is corrupt or does not match the key type ssh-ed25519"
        );
        assert_eq!(
            msg("ssh-ed25519 !!!notbase64 me"),
            "public key: the base64 body is corrupt or does not match the key type ssh-ed25519"
        );
        // Type text says RSA, blob says Ed25519.
        assert_eq!(
            msg("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti"),
            "public key: the base64 body is corrupt or does not match the key type ssh-rsa"
        );
        assert_eq!(
            msg("ssh-ed25519"),
            "public key: the base64 body is corrupt or does not match the key type ssh-ed25519"
        );
        assert_eq!(
            msg("ssh-ed448 AAAA me"),
            "public key: type ssh-ed448 is not accepted; accepted: ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com"
        );
        assert_eq!(
            parse_public_key(&format!("no-pty {SK_ECDSA}")),
            Err(KeyError::WithOptions {
                stripped: SK_ECDSA.to_string()
            })
        );
        assert_eq!(
            msg("hello world"),
            "public key: not an OpenSSH public key line (expected `TYPE BASE64 [COMMENT]`)"
        );
    }

    const FAKE_PEM_BODY: &str = "MIIEowIBAAKCAQEAzSECRETSECRETSECRETdGhpcyBpcyBub3QgYSByZWFsIGtleQ";

    #[test]
    fn private_keys_in_any_armour_are_refused_without_echo() {
        for armour in [
            "OPENSSH PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "DSA PRIVATE KEY",
            "PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let pem =
                format!("-----BEGIN {armour}-----\n{FAKE_PEM_BODY}\n-----END {armour}-----\n");
            let err = parse_public_key(&pem).unwrap_err();
            assert_eq!(err, KeyError::PrivateKey);
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(!shown.contains(FAKE_PEM_BODY));
        }
        // Body only (header lost in the copy): several unreadable lines, no echo.
        let err = parse_public_key(&format!("{FAKE_PEM_BODY}\n{FAKE_PEM_BODY}")).unwrap_err();
        assert_eq!(err, KeyError::NotAKey);
        assert!(!format!("{err} {err:?}").contains("SECRET"));
        // A private key pasted together with a public one.
        let err = parse_public_key(&format!(
            "{ED25519}\n-----BEGIN OPENSSH PRIVATE KEY-----\n{FAKE_PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----"
        ))
        .unwrap_err();
        assert_eq!(err, KeyError::PrivateKey);
        assert_eq!(
            format!("{err:?}"),
            "KeyError::PrivateKey(public key: this is a PRIVATE key; it was not stored. Paste the public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`))"
        );
    }

    #[test]
    fn type_shape() {
        assert!(looks_like_type("ssh-ed448"));
        assert!(!looks_like_type("AAAAC3NzaC1lZDI1NTE5"));
        assert!(!looks_like_type("from=\"x\""));
    }
}
