//! SSH key calls of [`Client`]: list, create, delete.

use reqwest::Method;

use crate::hetzner::error::ApiError;
use crate::hetzner::model::{CreateSshKeyRequest, SshKey, SshKeyEnvelope};

use super::{Client, ListParams};

impl Client {
    /// All SSH keys matching `params` (`GET /ssh_keys`, every page).
    pub async fn list_ssh_keys(&self, params: &ListParams) -> Result<Vec<SshKey>, ApiError> {
        self.list_all("/ssh_keys", params.to_query(false)).await
    }

    /// Upload an SSH key (`POST /ssh_keys`); same name or same fingerprint is
    /// `409 uniqueness_error`.
    pub async fn create_ssh_key(&self, request: &CreateSshKeyRequest) -> Result<SshKey, ApiError> {
        let env: SshKeyEnvelope = self
            .send_json(Method::POST, "/ssh_keys", Some(request))
            .await?;
        Ok(env.ssh_key)
    }

    /// Delete an SSH key (`DELETE /ssh_keys/{id}` → 204). Servers that got it keep it.
    pub async fn delete_ssh_key(&self, id: i64) -> Result<(), ApiError> {
        self.send(Method::DELETE, &format!("/ssh_keys/{id}"), &[], None)
            .await
            .map(|_| ())
    }
}
