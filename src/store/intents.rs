//! Recorded requests: who asked for a destroy or transfer and when, written and flushed before
//! the first Hetzner call (docs/product-rules.md §10), removed once the audit event is
//! recorded. A destroy cut off by a stop (the server gone when the service looks again) gets
//! its audit event at the next sync with the requester and request time kept here.
//!
//! One sled tree, `intents`: key = the Plain VM's id (16 bytes), value = the [`Intent`] as JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::AuditKind;

const TREE: &str = "intents";

/// An operation requested on a Plain VM and not yet recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// The Plain VM.
    pub vm_id: Uuid,
    /// `destroy` or `transfer`.
    pub kind: AuditKind,
    /// Destination account of a transfer.
    pub to_account: Option<String>,
    /// The requester's Unix user name (the audit actor).
    pub requester: String,
    /// The requester's client-reported origin.
    pub origin: Option<String>,
    /// When the request reached the worker (UTC).
    pub requested_at: DateTime<Utc>,
}

impl Store {
    fn intents(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.inner.db.open_tree(TREE)?)
    }

    /// Records `intent` for its VM, replacing an older one (not flushed: the caller flushes).
    ///
    /// Errors: [`StoreError::Io`] and the like from sled.
    pub fn put_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        let value = serde_json::to_vec(intent).map_err(|e| StoreError::Io(e.to_string()))?;
        self.intents()?.insert(intent.vm_id.as_bytes(), value)?;
        Ok(())
    }

    /// The recorded request for `vm_id`, if any.
    ///
    /// Errors: [`StoreError::Corrupt`] when the value does not read.
    pub fn intent(&self, vm_id: Uuid) -> Result<Option<Intent>, StoreError> {
        let Some(bytes) = self.intents()?.get(vm_id.as_bytes())? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                tree: TREE,
                key: vm_id.to_string(),
                detail: e.to_string(),
            })
    }

    /// Every recorded request, in VM id order.
    ///
    /// Errors: [`StoreError::Corrupt`] for a value that does not read.
    pub fn intents_all(&self) -> Result<Vec<Intent>, StoreError> {
        let mut out = Vec::new();
        for item in self.intents()?.iter() {
            let (key, value) = item?;
            out.push(
                serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                    tree: TREE,
                    key: format!("{key:?}"),
                    detail: e.to_string(),
                })?,
            );
        }
        Ok(out)
    }

    /// Forgets the recorded request for `vm_id` (none: nothing happens).
    pub fn remove_intent(&self, vm_id: Uuid) -> Result<(), StoreError> {
        self.intents()?.remove(vm_id.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_kept_until_removed() {
        let store = Store::open_temporary().unwrap();
        let id = Uuid::from_u128(9);
        assert_eq!(store.intent(id).unwrap(), None);
        let intent = Intent {
            vm_id: id,
            kind: AuditKind::Destroy,
            to_account: None,
            requester: "alice".into(),
            origin: Some("198.51.100.7".into()),
            requested_at: "2026-12-08T10:00:00Z".parse().unwrap(),
        };
        store.put_intent(&intent).unwrap();
        assert_eq!(store.intent(id).unwrap(), Some(intent.clone()));
        assert_eq!(store.intents_all().unwrap(), vec![intent]);
        store.remove_intent(id).unwrap();
        assert_eq!(store.intent(id).unwrap(), None);
    }
}
