//! Fingerprints and refusals of `domain::sshkey` against real `ssh-keygen` output: keys of every
//! accepted type that ssh-keygen can make without a hardware token are generated at test time;
//! the FIDO (`sk-*`) types use committed public test vectors (RustCrypto ssh-key's
//! tests/examples), fingerprinted by ssh-keygen here too.

use crabglamp::domain::sshkey::{KeyError, parse_public_key};
use std::path::Path;
use std::process::Command;

const SK_ED25519: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com";
const SK_ECDSA: &str = "sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBIELQJ2DgvaX1yQlKFokfWM2suuaCFI2qp0eJodHyg6O4ifxc3XpRKd1OS8dNYQtE/YjdXSrA+AOnMF5ns2Nkx4AAAAEc3NoOg== user@example.com";

fn run(args: &[&str]) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("ssh-keygen must be installed for this test");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn generate(dir: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    let p = path.to_str().unwrap();
    let mut args = vec!["-q", "-N", "", "-C", "test@crabglamp", "-f", p];
    args.extend_from_slice(extra);
    run(&args);
    path
}

/// (bits, "SHA256:…", md5 colon hex) as ssh-keygen prints them for a public key file.
fn keygen_fingerprints(pub_path: &Path) -> (u32, String, String) {
    let p = pub_path.to_str().unwrap();
    let sha = run(&["-l", "-f", p]);
    let md5 = run(&["-l", "-E", "md5", "-f", p]);
    let mut sha_f = sha.split_whitespace();
    let bits: u32 = sha_f.next().unwrap().parse().unwrap();
    let sha256 = sha_f.next().unwrap().to_string();
    let md5 = md5
        .split_whitespace()
        .nth(1)
        .unwrap()
        .strip_prefix("MD5:")
        .unwrap()
        .to_string();
    (bits, sha256, md5)
}

#[test]
fn fingerprints_equal_ssh_keygen_for_every_accepted_type() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str], &str)] = &[
        ("ed", &["-t", "ed25519"], "ssh-ed25519"),
        ("rsa2048", &["-t", "rsa", "-b", "2048"], "ssh-rsa"),
        ("rsa3072", &["-t", "rsa", "-b", "3072"], "ssh-rsa"),
        ("rsa4096", &["-t", "rsa", "-b", "4096"], "ssh-rsa"),
        ("p256", &["-t", "ecdsa", "-b", "256"], "ecdsa-sha2-nistp256"),
        ("p384", &["-t", "ecdsa", "-b", "384"], "ecdsa-sha2-nistp384"),
        ("p521", &["-t", "ecdsa", "-b", "521"], "ecdsa-sha2-nistp521"),
    ];
    for (name, args, key_type) in cases {
        let key = generate(dir.path(), name, args);
        let pub_path = key.with_extension("pub");
        let text = std::fs::read_to_string(&pub_path).unwrap();
        let parsed = parse_public_key(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (bits, sha256, md5) = keygen_fingerprints(&pub_path);
        assert_eq!(parsed.key_type, *key_type, "{name}");
        assert_eq!(parsed.fingerprint_sha256, sha256, "{name}");
        assert_eq!(parsed.fingerprint_md5, md5, "{name}");
        assert_eq!(parsed.bits, Some(bits), "{name}");
        assert_eq!(parsed.canonical_line, text.trim_end(), "{name}");
        assert_eq!(parsed.comment, "test@crabglamp");
    }
    for (name, line) in [("sk-ed", SK_ED25519), ("sk-ecdsa", SK_ECDSA)] {
        let pub_path = dir.path().join(format!("{name}.pub"));
        std::fs::write(&pub_path, format!("{line}\n")).unwrap();
        let parsed = parse_public_key(line).unwrap();
        let (bits, sha256, md5) = keygen_fingerprints(&pub_path);
        assert_eq!(parsed.fingerprint_sha256, sha256, "{name}");
        assert_eq!(parsed.fingerprint_md5, md5, "{name}");
        assert_eq!(parsed.bits, Some(bits), "{name}");
    }
}

#[test]
fn short_rsa_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key = generate(dir.path(), "rsa1024", &["-t", "rsa", "-b", "1024"]);
    let text = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let err = parse_public_key(&text).unwrap_err();
    assert_eq!(err, KeyError::RsaTooSmall { bits: 1024 });
    assert_eq!(
        err.to_string(),
        "public key: ssh-rsa key of 1024 bits is too short: at least 2048 bits are required (shorter RSA keys are within reach of factoring; NIST SP 800-131A)"
    );
}

#[test]
fn certificates_and_rfc4716_from_ssh_keygen_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = generate(dir.path(), "ca", &["-t", "ed25519"]);
    let user = generate(dir.path(), "user", &["-t", "ed25519"]);
    let user_pub = user.with_extension("pub");
    run(&[
        "-q",
        "-s",
        ca.to_str().unwrap(),
        "-I",
        "id",
        "-n",
        "root",
        user_pub.to_str().unwrap(),
    ]);
    let cert = std::fs::read_to_string(dir.path().join("user-cert.pub")).unwrap();
    assert_eq!(
        parse_public_key(&cert),
        Err(KeyError::Certificate {
            key_type: "ssh-ed25519-cert-v01@openssh.com".into()
        })
    );
    let rfc4716 = run(&["-e", "-f", user_pub.to_str().unwrap()]);
    assert_eq!(parse_public_key(&rfc4716), Err(KeyError::PuttyPublicKey));
}

#[test]
fn real_private_keys_never_appear_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("openssh", &["-t", "ed25519"]),
        ("pem_rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        ("pem_ec", &["-t", "ecdsa", "-m", "PEM"]),
        ("pkcs8", &["-t", "rsa", "-b", "2048", "-m", "PKCS8"]),
    ];
    for (name, args) in cases {
        let key = generate(dir.path(), name, args);
        let private = std::fs::read_to_string(&key).unwrap();
        assert!(private.contains("PRIVATE KEY-----"), "{name}");
        for input in [
            private.clone(),
            format!("  {private}\n\n"),
            // Header lost in the copy: only the body lines.
            private
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .join("\n"),
        ] {
            let err = parse_public_key(&input).unwrap_err();
            let shown = format!("{err}\n{err:?}");
            for line in private.lines().filter(|l| !l.starts_with("-----")) {
                // Every body line, and any 16-character piece of it, is absent.
                for chunk in line.as_bytes().chunks(16).filter(|c| c.len() == 16) {
                    let chunk = std::str::from_utf8(chunk).unwrap();
                    assert!(!shown.contains(chunk), "{name}: leaked {chunk}");
                }
            }
            assert!(
                matches!(err, KeyError::PrivateKey | KeyError::NotAKey),
                "{name}: {err:?}"
            );
        }
    }
}
