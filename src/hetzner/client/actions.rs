//! Action calls of [`Client`]: get an action, wait for one or several to end.

use std::time::Instant;

use crate::hetzner::error::ApiError;
use crate::hetzner::model::{Action, ActionEnvelope};

use super::{Client, finished};

impl Client {
    /// One action (`GET /actions/{id}`).
    pub async fn get_action(&self, id: i64) -> Result<Action, ApiError> {
        let env: ActionEnvelope = self.get(&format!("/actions/{id}"), &[]).await?;
        Ok(env.action)
    }

    /// Poll an action until it ends (`GET /actions/{id}`).
    ///
    /// Waits the poll interval (default 1 s) before the first poll, then 1.5× longer each
    /// time up to the maximum (default 5 s), for at most the action timeout (default 300 s).
    /// Errors: [`ApiError::ActionFailed`] with the action's error code and message when it
    /// ends `error`; [`ApiError::ActionTimeout`] when it is still running at the deadline;
    /// any error of the poll requests themselves.
    pub async fn wait_for_action(&self, id: i64) -> Result<Action, ApiError> {
        let started = Instant::now();
        let deadline = started + self.inner.action_timeout;
        let mut interval = self.inner.poll_interval;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ApiError::ActionTimeout {
                    id,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(interval.min(deadline - now)).await;
            let action = self.get_action(id).await?;
            if let Some(done) = finished(action)? {
                return Ok(done);
            }
            interval = interval
                .saturating_mul(3)
                .checked_div(2)
                .unwrap_or(interval)
                .min(self.inner.poll_max_interval);
        }
    }

    /// Wait for each of `actions` in turn (those already finished are not polled again).
    /// Errors as [`Client::wait_for_action`], for the first one that fails.
    pub async fn wait_for_actions(&self, actions: &[Action]) -> Result<Vec<Action>, ApiError> {
        let mut done = Vec::with_capacity(actions.len());
        for a in actions {
            match finished(a.clone())? {
                Some(a) => done.push(a),
                None => done.push(self.wait_for_action(a.id).await?),
            }
        }
        Ok(done)
    }
}
