//! `/ssh_keys` endpoints (docs/hetzner-api.md §8).

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde_json::{Value, json};
use ssh_key::{Algorithm, PublicKey};

use super::error::ApiError;
use super::query::{Query, SortKey, paginate, sort_items};
use super::state::{Reply, SshKey, State, body_object};
use super::validate;

/// Hetzner's fingerprint: MD5 of the key blob as 16 lowercase hex bytes joined by `:`.
///
/// Errors: a message for `public_key` when the text is not an OpenSSH public key of a type
/// Hetzner accepts (ed25519, rsa, ecdsa, dss and the FIDO `sk-` types).
pub(crate) fn md5_fingerprint(public_key: &str) -> Result<String, String> {
    let key = PublicKey::from_openssh(public_key.trim())
        .map_err(|e| format!("SSH key is invalid: {e}"))?;
    if matches!(key.algorithm(), Algorithm::Other(_)) {
        return Err(
            "SSH key type is invalid (supported types: ssh-ed25519, ssh-rsa, \
                    ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-dss, \
                    sk-ssh-ed25519, sk-ecdsa-sha2-nistp256)"
                .into(),
        );
    }
    let blob = key
        .to_bytes()
        .map_err(|e| format!("SSH key is invalid: {e}"))?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn key_name(v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if !n.is_empty() && n.chars().count() <= 128 => Ok(Some(n.clone())),
        Some(_) => Err(ApiError::invalid_field(
            "name",
            "must be a string of 1 to 128 characters",
        )),
    }
}

impl State {
    /// `GET /ssh_keys`: filters `name`, `fingerprint`, `label_selector`; sort `id|name`.
    pub fn list_ssh_keys(&self, q: &Query, base: &str) -> Result<Reply, ApiError> {
        let sel = q.selector()?;
        let name = q.get("name");
        let fp = q.get("fingerprint");
        let mut items: Vec<&SshKey> = self
            .ssh_keys
            .values()
            .filter(|k| name.is_none_or(|n| k.name == n))
            .filter(|k| fp.is_none_or(|f| k.fingerprint == f))
            .filter(|k| sel.as_ref().is_none_or(|s| s.matches(&k.labels)))
            .collect();
        sort_items(&mut items, q, &["id", "name"], |k, f| match f {
            "name" => SortKey::Str(k.name.clone()),
            _ => SortKey::Int(k.id),
        })?;
        let page = paginate(items, q, base)?;
        let list: Vec<Value> = page.items.iter().map(|k| State::ssh_key_json(k)).collect();
        Ok(Reply {
            status: 200,
            body: Some(json!({"ssh_keys": list, "meta": page.meta})),
            link: page.link,
        })
    }

    /// `GET /ssh_keys/{id}`.
    pub fn get_ssh_key(&self, id: i64) -> Result<Reply, ApiError> {
        let k = self
            .ssh_keys
            .get(&id)
            .ok_or_else(|| ApiError::not_found("ssh key"))?;
        Ok(Reply::ok(json!({"ssh_key": State::ssh_key_json(k)})))
    }

    /// `POST /ssh_keys` → 201 `{"ssh_key"}`; 409 `uniqueness_error` on the same fingerprint
    /// (`public_key`) or name.
    pub fn create_ssh_key(&mut self, body: &[u8], now: DateTime<Utc>) -> Result<Reply, ApiError> {
        let o = body_object(body)?;
        let Some(name) = key_name(o.get("name"))? else {
            return Err(ApiError::invalid_field("name", "is required"));
        };
        let public_key = match o.get("public_key") {
            Some(Value::String(k)) => k.trim_end().to_string(),
            _ => return Err(ApiError::invalid_field("public_key", "is required")),
        };
        let fingerprint =
            md5_fingerprint(&public_key).map_err(|m| ApiError::invalid_field("public_key", m))?;
        let labels = validate::labels(o.get("labels"))
            .map_err(|(f, m)| ApiError::invalid_field(&f, m))?
            .unwrap_or_default();
        if self.ssh_keys.values().any(|k| k.fingerprint == fingerprint) {
            return Err(ApiError::uniqueness(
                "public_key",
                "SSH key with the same fingerprint already exists",
            ));
        }
        if self.ssh_keys.values().any(|k| k.name == name) {
            return Err(ApiError::uniqueness("name", "SSH key name is already used"));
        }
        let id = self.new_ssh_key_id();
        let key = SshKey {
            id,
            name,
            fingerprint,
            public_key,
            labels,
            created: now,
        };
        let v = State::ssh_key_json(&key);
        self.ssh_keys.insert(id, key);
        Ok(Reply::created(json!({ "ssh_key": v })))
    }

    /// `PUT /ssh_keys/{id}`: `name`, `labels` (replace).
    pub fn update_ssh_key(&mut self, id: i64, body: &[u8]) -> Result<Reply, ApiError> {
        self.get_ssh_key(id)?;
        let o = body_object(body)?;
        let name = key_name(o.get("name"))?;
        let labels =
            validate::labels(o.get("labels")).map_err(|(f, m)| ApiError::invalid_field(&f, m))?;
        if let Some(n) = &name
            && self.ssh_keys.values().any(|k| k.id != id && &k.name == n)
        {
            return Err(ApiError::uniqueness("name", "SSH key name is already used"));
        }
        if let Some(k) = self.ssh_keys.get_mut(&id) {
            if let Some(n) = name {
                k.name = n;
            }
            if let Some(l) = labels {
                k.labels = l;
            }
        }
        self.get_ssh_key(id)
    }

    /// `DELETE /ssh_keys/{id}` → 204.
    pub fn delete_ssh_key(&mut self, id: i64) -> Result<Reply, ApiError> {
        self.ssh_keys
            .remove(&id)
            .ok_or_else(|| ApiError::not_found("ssh key"))?;
        Ok(Reply::no_content())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_fingerprint_matches_ssh_keygen() {
        // `ssh-keygen -E md5 -lf` on this key prints
        // `MD5:2e:72:ec:a4:a5:55:46:7f:4f:62:f4:74:d9:96:2e:d3`.
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICBNTewUM8X+bJvh1p7WvjF/juAcBPPjg2jfeEalh7Av test@example\n";
        assert_eq!(
            md5_fingerprint(key).unwrap(),
            "2e:72:ec:a4:a5:55:46:7f:4f:62:f4:74:d9:96:2e:d3"
        );
        assert!(md5_fingerprint("ssh-foo AAAA").is_err());
        assert!(md5_fingerprint("not a key").is_err());
    }
}
