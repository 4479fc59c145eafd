//! Actions: [`Action`], its status, resources and error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::null_as_default;

/// Status of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Still in progress.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with an error (see `Action::error`).
    Error,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

/// A resource an action works on (`resources[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResource {
    /// Resource ID.
    pub id: i64,
    /// Resource type, a free string: `server`, `firewall`, `image`, …
    #[serde(rename = "type")]
    pub kind: String,
}

/// `error` of a failed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionError {
    /// Error code, e.g. `action_failed`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// An asynchronous Hetzner action (docs/hetzner-api.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Action ID.
    pub id: i64,
    /// Command, an opaque string such as `create_server` or `set_firewall_rules`.
    pub command: String,
    /// Running, success or error.
    pub status: ActionStatus,
    /// Progress in percent, 0–100.
    #[serde(default)]
    pub progress: u32,
    /// Start time, UTC.
    pub started: DateTime<Utc>,
    /// End time (UTC); `None` while running.
    #[serde(default)]
    pub finished: Option<DateTime<Utc>>,
    /// Resources the action works on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<ActionResource>,
    /// Set when `status` is `error`.
    #[serde(default)]
    pub error: Option<ActionError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_states() {
        let json = r#"{"id": 13, "command": "start_server", "status": "running", "progress": 0,
            "started": "2016-01-30T23:50:00+00:00", "finished": null,
            "resources": [{"id": 42, "type": "server"}], "error": null}"#;
        let a: Action = serde_json::from_str(json).expect("action");
        assert_eq!(a.status, ActionStatus::Running);
        assert_eq!(a.finished, None);
        assert_eq!(
            a.resources,
            vec![ActionResource {
                id: 42,
                kind: "server".into()
            }]
        );
        let json = r#"{"id": 42, "command": "start_resource", "status": "error",
            "started": "2016-01-30T23:55:00Z", "finished": "2016-01-30T23:55:00Z", "progress": 100,
            "resources": [{"id": 42, "type": "server"}],
            "error": {"code": "action_failed", "message": "Action failed"}}"#;
        let a: Action = serde_json::from_str(json).expect("failed action");
        assert_eq!(a.status, ActionStatus::Error);
        assert_eq!(a.progress, 100);
        assert_eq!(
            a.error,
            Some(ActionError {
                code: "action_failed".into(),
                message: "Action failed".into()
            })
        );
        let s: ActionStatus = serde_json::from_str("\"cancelled\"").expect("unknown status");
        assert_eq!(s, ActionStatus::Unknown);
    }
}
