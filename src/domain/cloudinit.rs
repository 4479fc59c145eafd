//! The one cloud-init document the platform writes for a new Plain VM (docs/product-rules.md §3, issue 4).
//!
//! It sets the hostname, writes the chosen Vault keys into the image's default user's
//! `~/.ssh/authorized_keys`, and optionally sets a one-time password on that user with a forced
//! change at first login. Nothing else: no `runcmd`, no packages, no agent.
//!
//! **Run once.** The document is Hetzner `user_data`; cloud-init applies these modules once per
//! instance (its `per-instance` frequency, keyed on the instance id from Hetzner's metadata
//! service), at first boot. Reboots, stops and starts do not apply it again, and the platform
//! has no other way into the OS afterwards.
//!
//! **Who the default user is on Hetzner images** (docs/hetzner-api.md §12): Hetzner's images
//! configure cloud-init with `system_info.default_user.name: root` and `disable_root: false`, so
//! there is no `ubuntu` or `debian` user until someone creates it. Hence:
//! - for images whose default user (docs/product-rules.md §2) is `root`, the keys go in the top-level
//!   `ssh_authorized_keys`, which cloud-init's `ssh` module writes for the configured default
//!   user (root there), and `disable_root: false` is repeated so that those keys are written
//!   plainly rather than behind cloud-init's "Please login as …" command prefix. `users` is left
//!   out so root is not touched by the `users_groups` module (which would lock its password);
//! - for `ubuntu`/`debian` the user is created through `users:` with the image's admin group
//!   (`sudo`), `/bin/bash`, passwordless sudo, its keys, and `lock_passwd` false only when a
//!   password is set. `default` is not listed, so root's own handling stays the image's.
//!
//! The one-time password uses cloud-init ≥ 22.3's `chpasswd.users` with `type: text` (without
//! it the password would be taken as a hash) and `expire: true`, plus `ssh_pwauth: true` so the
//! operator can log in with it once. The document therefore holds a secret: callers send it to
//! Hetzner and must not log or store it.
//!
//! The YAML is emitted by `serde-saphyr` from serde structs (never by string concatenation), so
//! keys and passwords are quoted as YAML needs.

use super::sshkey::parse_public_key;
use super::types::ImageKey;
use super::vmname::validate_vm_name;
use rand::Rng;
use serde::Serialize;

/// Hetzner's `user_data` limit: 32 KiB = 32 768 bytes (docs/hetzner-api.md §12, docs/product-rules.md §3).
pub const USER_DATA_LIMIT: usize = 32 * 1024;

/// Length of a generated one-time password, in characters.
pub const ONE_TIME_PASSWORD_LEN: usize = 20;

/// Characters of a generated one-time password: ASCII letters and digits without the easily
/// confused `0 O o 1 l I`.
pub const ONE_TIME_PASSWORD_ALPHABET: &[u8] =
    b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// Why no document was produced. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudInitError {
    /// The hostname is not a valid VM name; the message names the field `name`.
    #[error("{0}")]
    Hostname(String),
    /// No key was chosen (docs/product-rules.md §5: one or more keys at provisioning).
    #[error("keys: pick at least one Vault key")]
    NoKeys,
    /// Key number `index` (1-based) is not an accepted public key line.
    #[error("keys: key {index}: {reason}")]
    Key {
        /// 1-based position in the keys given.
        index: usize,
        /// Why (the Vault's own refusal message).
        reason: String,
    },
    /// The one-time password is empty or holds control characters (not echoed).
    #[error("one-time password: must be 1-72 characters without control characters")]
    Password,
    /// The document is over Hetzner's 32 KiB limit.
    #[error(
        "cloud-init document would be {bytes} bytes, over Hetzner's {USER_DATA_LIMIT}-byte user_data limit; {keys_fit} of the {keys_given} keys given would fit"
    )]
    TooLarge {
        /// Size of the document with every key, in bytes.
        bytes: usize,
        /// Number of keys given.
        keys_given: usize,
        /// How many of the given keys (in order) fit within the limit.
        keys_fit: usize,
    },
    /// The YAML emitter failed (not expected).
    #[error("cloud-init document: {0}")]
    Yaml(String),
}

#[derive(Serialize)]
struct CloudConfig<'a> {
    hostname: &'a str,
    preserve_hostname: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_root: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_authorized_keys: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<[User<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_pwauth: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chpasswd: Option<Chpasswd<'a>>,
}

#[derive(Serialize)]
struct User<'a> {
    name: &'a str,
    groups: [&'a str; 1],
    shell: &'a str,
    sudo: &'a str,
    lock_passwd: bool,
    ssh_authorized_keys: &'a [String],
}

#[derive(Serialize)]
struct Chpasswd<'a> {
    expire: bool,
    users: [PasswordEntry<'a>; 1],
}

#[derive(Serialize)]
struct PasswordEntry<'a> {
    name: &'a str,
    password: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// The admin group of an image's created default user: `sudo` on Ubuntu and Debian, `wheel` on
/// the Red Hat family (whose default user is root, so it is not used for them today).
fn admin_group(image: ImageKey) -> &'static str {
    match image {
        ImageKey::Ubuntu2404 | ImageKey::Ubuntu2204 | ImageKey::Debian13 | ImageKey::Debian12 => {
            "sudo"
        }
        ImageKey::Fedora43 | ImageKey::Rocky10 | ImageKey::Alma10 => "wheel",
    }
}

fn render(
    hostname: &str,
    image: ImageKey,
    keys: &[String],
    password: Option<&str>,
) -> Result<String, CloudInitError> {
    let user = image.default_user();
    let is_root = user == "root";
    let doc = CloudConfig {
        hostname,
        preserve_hostname: false,
        disable_root: is_root.then_some(false),
        ssh_authorized_keys: is_root.then_some(keys),
        users: (!is_root).then(|| {
            [User {
                name: user,
                groups: [admin_group(image)],
                shell: "/bin/bash",
                sudo: "ALL=(ALL) NOPASSWD:ALL",
                lock_passwd: password.is_none(),
                ssh_authorized_keys: keys,
            }]
        }),
        ssh_pwauth: password.map(|_| true),
        chpasswd: password.map(|pw| Chpasswd {
            expire: true,
            users: [PasswordEntry {
                name: user,
                password: pw,
                kind: "text",
            }],
        }),
    };
    let mut options = serde_saphyr::SerializerOptions::default();
    // One line per key: no folded block scalars.
    options.prefer_block_scalars = false;
    options.compact_list_indent = false;
    let yaml = serde_saphyr::to_string_with_options(&doc, options)
        .map_err(|e| CloudInitError::Yaml(e.to_string()))?;
    Ok(format!("#cloud-config\n{yaml}"))
}

/// Builds the cloud-init `user_data` for a new VM: `#cloud-config`, then YAML setting
/// `hostname` (with `preserve_hostname: false`), the keys for `image`'s default user, and, when
/// `one_time_password` is given, that user's password with a forced change at first login.
/// See the module documentation for the exact shape per image and why.
///
/// `keys` are Vault public key lines; each is checked by [`parse_public_key`] and written in
/// its canonical form.
///
/// Errors: [`CloudInitError`] — bad hostname, no keys, a key that is not an accepted public key,
/// a bad password, or a document over [`USER_DATA_LIMIT`] bytes (saying how many of the keys
/// would fit). Checked before any API call.
pub fn cloud_init(
    hostname: &str,
    image: ImageKey,
    keys: &[String],
    one_time_password: Option<&str>,
) -> Result<String, CloudInitError> {
    validate_vm_name::<&str>(hostname, &[]).map_err(CloudInitError::Hostname)?;
    if keys.is_empty() {
        return Err(CloudInitError::NoKeys);
    }
    let canonical = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            parse_public_key(k)
                .map(|p| p.canonical_line)
                .map_err(|e| CloudInitError::Key {
                    index: i + 1,
                    reason: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(pw) = one_time_password
        && (pw.is_empty() || pw.chars().count() > 72 || pw.chars().any(char::is_control))
    {
        return Err(CloudInitError::Password);
    }
    let doc = render(hostname, image, &canonical, one_time_password)?;
    if doc.len() <= USER_DATA_LIMIT {
        return Ok(doc);
    }
    // Largest prefix of the keys that fits (size grows with each key): binary search.
    let (mut lo, mut hi) = (0usize, canonical.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if render(hostname, image, &canonical[..mid], one_time_password)?.len() <= USER_DATA_LIMIT {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Err(CloudInitError::TooLarge {
        bytes: doc.len(),
        keys_given: canonical.len(),
        keys_fit: lo,
    })
}

/// A fresh one-time password: [`ONE_TIME_PASSWORD_LEN`] characters drawn uniformly from
/// [`ONE_TIME_PASSWORD_ALPHABET`] with the thread-local CSPRNG (`rand::rng()`, seeded from the
/// OS). Show it once; never store or log it (docs/product-rules.md §3).
pub fn generate_one_time_password() -> String {
    let mut rng = rand::rng();
    (0..ONE_TIME_PASSWORD_LEN)
        .map(|_| {
            let i = rng.random_range(0..ONE_TIME_PASSWORD_ALPHABET.len());
            char::from(ONE_TIME_PASSWORD_ALPHABET[i])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com";
    const SK: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com";

    fn keys() -> Vec<String> {
        vec![ED.to_string(), SK.to_string()]
    }

    const UBUNTU_NO_PW: &str = "#cloud-config
hostname: web-1
preserve_hostname: false
users:
  - name: ubuntu
    groups:
      - sudo
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    lock_passwd: true
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com
      - sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com
";

    #[test]
    fn ubuntu_without_password() {
        assert_eq!(
            cloud_init("web-1", ImageKey::Ubuntu2404, &keys(), None).unwrap(),
            UBUNTU_NO_PW
        );
        assert_eq!(
            cloud_init("web-1", ImageKey::Ubuntu2204, &keys(), None).unwrap(),
            UBUNTU_NO_PW
        );
    }

    #[test]
    fn ubuntu_with_password() {
        assert_eq!(
            cloud_init("web-1", ImageKey::Ubuntu2404, &keys(), Some("Kq7mNp3xRt9wVb2cHj4s")).unwrap(),
            "#cloud-config
hostname: web-1
preserve_hostname: false
users:
  - name: ubuntu
    groups:
      - sudo
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    lock_passwd: false
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com
      - sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com
ssh_pwauth: true
chpasswd:
  expire: true
  users:
    - name: ubuntu
      password: Kq7mNp3xRt9wVb2cHj4s
      type: text
"
        );
    }

    #[test]
    fn debian_without_and_with_password() {
        let one_key = vec![ED.to_string()];
        assert_eq!(
            cloud_init("db-2", ImageKey::Debian13, &one_key, None).unwrap(),
            "#cloud-config
hostname: db-2
preserve_hostname: false
users:
  - name: debian
    groups:
      - sudo
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    lock_passwd: true
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com
"
        );
        // A password YAML 1.1 would read as a boolean is quoted.
        assert_eq!(
            cloud_init("db-2", ImageKey::Debian12, &one_key, Some("no")).unwrap(),
            "#cloud-config
hostname: db-2
preserve_hostname: false
users:
  - name: debian
    groups:
      - sudo
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    lock_passwd: false
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com
ssh_pwauth: true
chpasswd:
  expire: true
  users:
    - name: debian
      password: \"no\"
      type: text
"
        );
    }

    #[test]
    fn root_without_and_with_password() {
        let root_doc = "#cloud-config
hostname: build-7
preserve_hostname: false
disable_root: false
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti user@example.com
  - sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAICFo/k5LU8863u66YC9eUO2170QduohPURkQnbLa/dczAAAABHNzaDo= user@example.com
";
        for img in [ImageKey::Fedora43, ImageKey::Rocky10, ImageKey::Alma10] {
            assert_eq!(cloud_init("build-7", img, &keys(), None).unwrap(), root_doc);
        }
        assert_eq!(
            cloud_init(
                "build-7",
                ImageKey::Rocky10,
                &keys(),
                Some("Kq7mNp3xRt9wVb2cHj4s")
            )
            .unwrap(),
            format!(
                "{root_doc}ssh_pwauth: true
chpasswd:
  expire: true
  users:
    - name: root
      password: Kq7mNp3xRt9wVb2cHj4s
      type: text
"
            )
        );
    }

    #[test]
    fn canonicalises_keys_and_quotes_tricky_comments() {
        let messy = vec![format!("  {ED}  \n")];
        assert_eq!(
            cloud_init("web-1", ImageKey::Fedora43, &messy, None).unwrap(),
            cloud_init("web-1", ImageKey::Fedora43, &[ED.to_string()], None).unwrap()
        );
        // A comment that looks like YAML stays one string, read back exactly.
        let body =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";
        let tricky = format!("{body} a: b # c - [d] {{e}} 'f' \"g\"");
        let doc = cloud_init(
            "web-1",
            ImageKey::Fedora43,
            std::slice::from_ref(&tricky),
            None,
        )
        .unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&doc).unwrap();
        assert_eq!(back["ssh_authorized_keys"], serde_json::json!([tricky]));
        assert_eq!(back["hostname"], "web-1");
        assert_eq!(back["disable_root"], false);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            cloud_init("Web", ImageKey::Debian12, &keys(), None),
            Err(CloudInitError::Hostname(
                "name: 'W' is not allowed (lowercase letters, digits and hyphens only)".into()
            ))
        );
        assert_eq!(
            cloud_init("web", ImageKey::Debian12, &[], None)
                .unwrap_err()
                .to_string(),
            "keys: pick at least one Vault key"
        );
        assert_eq!(
            cloud_init(
                "web",
                ImageKey::Debian12,
                &[ED.to_string(), "ssh-dss AAAA x".to_string()],
                None
            )
            .unwrap_err()
            .to_string(),
            "keys: key 2: public key: ssh-dss (DSA) keys are refused: too weak, and disabled by OpenSSH since 7.0; use ssh-ed25519"
        );
        for bad in ["", "line\nbreak", &"x".repeat(73)] {
            let err = cloud_init("web", ImageKey::Debian12, &keys(), Some(bad)).unwrap_err();
            assert_eq!(err, CloudInitError::Password);
            assert_eq!(
                err.to_string(),
                "one-time password: must be 1-72 characters without control characters"
            );
        }
    }

    /// A key whose comment pads the Fedora (root) document to exactly `target` bytes.
    fn padded_key(target: usize, prefix_keys: &[String]) -> String {
        let body =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";
        let with = |n: usize| {
            let mut ks = prefix_keys.to_vec();
            ks.push(format!("{body} {}", "x".repeat(n)));
            ks
        };
        let base = render("web-1", ImageKey::Fedora43, &with(1), None)
            .unwrap()
            .len();
        let key = with(1 + target - base).pop().unwrap();
        let mut ks = prefix_keys.to_vec();
        ks.push(key.clone());
        assert_eq!(
            render("web-1", ImageKey::Fedora43, &ks, None)
                .unwrap()
                .len(),
            target
        );
        key
    }

    #[test]
    fn user_data_limit_boundary() {
        let exact = padded_key(USER_DATA_LIMIT, &[]);
        let doc = cloud_init(
            "web-1",
            ImageKey::Fedora43,
            std::slice::from_ref(&exact),
            None,
        )
        .unwrap();
        assert_eq!(doc.len(), 32768);
        let over = padded_key(USER_DATA_LIMIT + 1, &[]);
        assert_eq!(
            cloud_init("web-1", ImageKey::Fedora43, &[over], None),
            Err(CloudInitError::TooLarge {
                bytes: 32769,
                keys_given: 1,
                keys_fit: 0
            })
        );
        // Three small keys then one that tips it over: three of four fit.
        let small = vec![ED.to_string(), SK.to_string(), ED.to_string()];
        let mut all = small.clone();
        all.push(padded_key(USER_DATA_LIMIT + 1, &small));
        let err = cloud_init("web-1", ImageKey::Fedora43, &all, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cloud-init document would be 32769 bytes, over Hetzner's 32768-byte user_data limit; 3 of the 4 keys given would fit"
        );
    }

    #[test]
    fn one_time_passwords() {
        let a = generate_one_time_password();
        let b = generate_one_time_password();
        assert_eq!(a.chars().count(), 20);
        assert!(a.bytes().all(|c| ONE_TIME_PASSWORD_ALPHABET.contains(&c)));
        assert!(!a.contains(['0', 'O', 'o', '1', 'l', 'I']));
        assert_ne!(a, b);
        assert_eq!(ONE_TIME_PASSWORD_ALPHABET.len(), 56);
    }
}
