//! SSH keys: [`SshKey`] and the create request.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Labels, null_as_default};

/// An SSH key stored at Hetzner (`GET /ssh_keys`), installed into root's `authorized_keys`
/// at server creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    /// SSH key ID.
    pub id: i64,
    /// Name (unique per project).
    pub name: String,
    /// MD5 fingerprint, colon-separated hex (Hetzner's format, docs/hetzner-api.md §8).
    pub fingerprint: String,
    /// OpenSSH public key text.
    pub public_key: String,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: Labels,
    /// Creation time, UTC.
    pub created: DateTime<Utc>,
}

/// Request body of `POST /ssh_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSshKeyRequest {
    /// Name (unique per project).
    pub name: String,
    /// OpenSSH public key text (a trailing newline is accepted).
    pub public_key: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::model::{Architecture, Image};

    #[test]
    fn ssh_key_and_image_samples() {
        let json = r#"{"id": 9, "name": "laptop", "fingerprint": "d0:10:5b:e7:db:1d:19:47:c3:20:7e:f1:d9:bf:5e:aa",
            "public_key": "ssh-ed25519 AAAAC3Nza user@host", "labels": {},
            "created": "2024-05-01T10:00:00+00:00"}"#;
        let k: SshKey = serde_json::from_str(json).expect("ssh key");
        assert_eq!(k.name, "laptop");
        assert_eq!(
            k.fingerprint,
            "d0:10:5b:e7:db:1d:19:47:c3:20:7e:f1:d9:bf:5e:aa"
        );
        let json = r#"{"id": 114690387, "type": "system", "status": "available", "name": "debian-12",
            "description": "Debian 12", "image_size": null, "disk_size": 5, "created": "2023-06-13T06:00:02+00:00",
            "created_from": null, "bound_to": null, "os_flavor": "debian", "os_version": "12",
            "rapid_deploy": true, "protection": {"delete": false}, "deprecated": null, "deleted": null,
            "labels": {}, "architecture": "x86"}"#;
        let i: Image = serde_json::from_str(json).expect("image");
        assert_eq!(i.name.as_deref(), Some("debian-12"));
        assert_eq!(i.os_flavor, "debian");
        assert_eq!(i.deprecated, None);
        assert_eq!(i.architecture, Architecture::X86);
    }
}
