//! Server calls of [`Client`]: list, get, create, update, delete, power actions.

use reqwest::Method;

use crate::hetzner::error::ApiError;
use crate::hetzner::model::{
    Action, ActionEnvelope, CreateServerRequest, CreateServerResponse, Server, ServerEnvelope,
    UpdateRequest,
};

use super::{Client, ListParams};

impl Client {
    /// All servers matching `params` (`GET /servers`, every page, `per_page=50`).
    pub async fn list_servers(&self, params: &ListParams) -> Result<Vec<Server>, ApiError> {
        self.list_all("/servers", params.to_query(true)).await
    }

    /// One server (`GET /servers/{id}`); a missing server is `Api { code: "not_found" }`.
    pub async fn get_server(&self, id: i64) -> Result<Server, ApiError> {
        let env: ServerEnvelope = self.get(&format!("/servers/{id}"), &[]).await?;
        Ok(env.server)
    }

    /// Create a server (`POST /servers`). The returned `action` (and `next_actions`) can be
    /// awaited with [`Client::wait_for_action`]. The response's `root_password` is a secret.
    pub async fn create_server(
        &self,
        request: &CreateServerRequest,
    ) -> Result<CreateServerResponse, ApiError> {
        self.send_json(Method::POST, "/servers", Some(request))
            .await
    }

    /// Change a server's name and/or labels (`PUT /servers/{id}`; labels replace the set).
    pub async fn update_server(&self, id: i64, update: &UpdateRequest) -> Result<Server, ApiError> {
        let env: ServerEnvelope = self
            .send_json(Method::PUT, &format!("/servers/{id}"), Some(update))
            .await?;
        Ok(env.server)
    }

    /// Delete a server (`DELETE /servers/{id}` → its `delete_server` action).
    pub async fn delete_server(&self, id: i64) -> Result<Action, ApiError> {
        let env: ActionEnvelope = self
            .send_json::<(), _>(Method::DELETE, &format!("/servers/{id}"), None)
            .await?;
        Ok(env.action)
    }

    /// Power on (`POST /servers/{id}/actions/poweron`, action `start_server`).
    pub async fn poweron_server(&self, id: i64) -> Result<Action, ApiError> {
        self.server_action(id, "poweron").await
    }

    /// Hard power off, may lose data (`…/actions/poweroff`, action `stop_server`).
    pub async fn poweroff_server(&self, id: i64) -> Result<Action, ApiError> {
        self.server_action(id, "poweroff").await
    }

    /// ACPI shutdown (`…/actions/shutdown`); the action's success only means the signal
    /// was sent: poll the server status to see it `off`.
    pub async fn shutdown_server(&self, id: i64) -> Result<Action, ApiError> {
        self.server_action(id, "shutdown").await
    }

    /// ACPI reboot (`…/actions/reboot`).
    pub async fn reboot_server(&self, id: i64) -> Result<Action, ApiError> {
        self.server_action(id, "reboot").await
    }

    /// Hard reset (`…/actions/reset`).
    pub async fn reset_server(&self, id: i64) -> Result<Action, ApiError> {
        self.server_action(id, "reset").await
    }

    async fn server_action(&self, id: i64, command: &str) -> Result<Action, ApiError> {
        let env: ActionEnvelope = self
            .send_json::<(), _>(
                Method::POST,
                &format!("/servers/{id}/actions/{command}"),
                None,
            )
            .await?;
        Ok(env.action)
    }
}
