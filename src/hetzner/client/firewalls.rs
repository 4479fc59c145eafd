//! Firewall calls of [`Client`]: list, get, create, update, delete, rules, apply/remove, actions.

use reqwest::Method;
use serde::Serialize;

use crate::hetzner::error::ApiError;
use crate::hetzner::model::{
    Action, ActionsEnvelope, CreateFirewallRequest, CreateFirewallResponse, Firewall,
    FirewallEnvelope, FirewallResource, FirewallRule, Page, UpdateRequest,
};

use super::{Client, ListParams};

impl Client {
    /// All firewalls matching `params` (`GET /firewalls`, every page).
    pub async fn list_firewalls(&self, params: &ListParams) -> Result<Vec<Firewall>, ApiError> {
        self.list_all("/firewalls", params.to_query(false)).await
    }

    /// One firewall (`GET /firewalls/{id}`).
    pub async fn get_firewall(&self, id: i64) -> Result<Firewall, ApiError> {
        let env: FirewallEnvelope = self.get(&format!("/firewalls/{id}"), &[]).await?;
        Ok(env.firewall)
    }

    /// Create a firewall (`POST /firewalls`); a taken name is `409 uniqueness_error`.
    pub async fn create_firewall(
        &self,
        request: &CreateFirewallRequest,
    ) -> Result<CreateFirewallResponse, ApiError> {
        self.send_json(Method::POST, "/firewalls", Some(request))
            .await
    }

    /// Change a firewall's name and/or labels (`PUT /firewalls/{id}`).
    pub async fn update_firewall(
        &self,
        id: i64,
        update: &UpdateRequest,
    ) -> Result<Firewall, ApiError> {
        let env: FirewallEnvelope = self
            .send_json(Method::PUT, &format!("/firewalls/{id}"), Some(update))
            .await?;
        Ok(env.firewall)
    }

    /// Delete a firewall (`DELETE /firewalls/{id}` → 204). Still applied somewhere:
    /// `422 resource_in_use`.
    pub async fn delete_firewall(&self, id: i64) -> Result<(), ApiError> {
        self.send(Method::DELETE, &format!("/firewalls/{id}"), &[], None)
            .await
            .map(|_| ())
    }

    /// Replace the whole rule list (`POST /firewalls/{id}/actions/set_rules`; at most 50
    /// rules, `[]` removes all). Returns the started actions (`set_firewall_rules`, and one
    /// `apply_firewall` per server when applied). Bad input is `422 invalid_input` naming
    /// the field.
    pub async fn set_firewall_rules(
        &self,
        id: i64,
        rules: &[FirewallRule],
    ) -> Result<Vec<Action>, ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            rules: &'a [FirewallRule],
        }
        let env: ActionsEnvelope = self
            .send_json(
                Method::POST,
                &format!("/firewalls/{id}/actions/set_rules"),
                Some(&Body { rules }),
            )
            .await?;
        Ok(env.actions)
    }

    /// Apply a firewall to servers or label selectors
    /// (`POST /firewalls/{id}/actions/apply_to_resources`; extends the applied set).
    pub async fn apply_firewall_to_resources(
        &self,
        id: i64,
        resources: &[FirewallResource],
    ) -> Result<Vec<Action>, ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            apply_to: &'a [FirewallResource],
        }
        let env: ActionsEnvelope = self
            .send_json(
                Method::POST,
                &format!("/firewalls/{id}/actions/apply_to_resources"),
                Some(&Body {
                    apply_to: resources,
                }),
            )
            .await?;
        Ok(env.actions)
    }

    /// Remove a firewall from servers or label selectors
    /// (`POST /firewalls/{id}/actions/remove_from_resources`).
    pub async fn remove_firewall_from_resources(
        &self,
        id: i64,
        resources: &[FirewallResource],
    ) -> Result<Vec<Action>, ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            remove_from: &'a [FirewallResource],
        }
        let env: ActionsEnvelope = self
            .send_json(
                Method::POST,
                &format!("/firewalls/{id}/actions/remove_from_resources"),
                Some(&Body {
                    remove_from: resources,
                }),
            )
            .await?;
        Ok(env.actions)
    }

    /// All actions of a firewall (`GET /firewalls/{id}/actions`, every page).
    pub async fn list_firewall_actions(&self, id: i64) -> Result<Vec<Action>, ApiError> {
        self.list_all(&format!("/firewalls/{id}/actions"), Vec::new())
            .await
    }

    /// The newest actions of a firewall, latest finish first (`GET /firewalls/{id}/actions`
    /// with `sort=finished:desc`, one page of `per_page`, 1–50). Running actions (no finish
    /// time yet) may come first. Used for "last changed" without paging through the history.
    pub async fn list_firewall_actions_newest(
        &self,
        id: i64,
        per_page: u32,
    ) -> Result<Vec<Action>, ApiError> {
        let q = [
            ("sort", "finished:desc".to_string()),
            ("page", "1".to_string()),
            ("per_page", per_page.clamp(1, 50).to_string()),
        ];
        let p: Page<Action> = self.get(&format!("/firewalls/{id}/actions"), &q).await?;
        Ok(p.items)
    }
}
