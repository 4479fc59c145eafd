//! Hetzner's error envelope (docs/hetzner-api.md §3):
//! `{"error": {"code", "message", "details"}}` with the HTTP status of the table in docs/hetzner-api.md §3.

use serde_json::{Value, json};

/// One API error, rendered as the envelope with `Content-Type: application/json`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    /// HTTP status (e.g. 422).
    pub status: u16,
    /// Machine code (e.g. `invalid_input`).
    pub code: String,
    /// Human message.
    pub message: String,
    /// `details`: `null` or an object whose shape depends on `code`.
    pub details: Value,
}

impl ApiError {
    /// Any status and code, `details: null`.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Value::Null,
        }
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} not found"))
    }

    /// 400 `json_error`.
    pub fn json_error(message: impl Into<String>) -> Self {
        Self::new(400, "json_error", message)
    }

    /// 422 `invalid_input` with `details.fields = [{name, messages}]` (one entry per field,
    /// messages of the same field grouped in order).
    pub fn invalid(fields: Vec<(String, String)>) -> Self {
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for (name, msg) in fields {
            match grouped.iter_mut().find(|(n, _)| *n == name) {
                Some((_, msgs)) => msgs.push(msg),
                None => grouped.push((name, vec![msg])),
            }
        }
        let message = match grouped.first() {
            Some((name, msgs)) => format!(
                "invalid input in field '{name}': {}",
                msgs.first().map(String::as_str).unwrap_or("is invalid")
            ),
            None => "invalid input".to_string(),
        };
        let fields: Vec<Value> = grouped
            .into_iter()
            .map(|(name, messages)| json!({"name": name, "messages": messages}))
            .collect();
        ApiError {
            status: 422,
            code: "invalid_input".into(),
            message,
            details: json!({ "fields": fields }),
        }
    }

    /// 422 `invalid_input` for a single field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![(field.to_string(), message.into())])
    }

    /// 409 `uniqueness_error` with `details.fields = [{name}]`.
    pub fn uniqueness(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            details: json!({"fields": [{"name": field}]}),
            ..Self::new(409, "uniqueness_error", message)
        }
    }

    /// The JSON envelope.
    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "details": self.details}})
    }
}
