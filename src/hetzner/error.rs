//! Errors returned by the Hetzner Cloud API client.
//!
//! Every failure of a call is a value of [`ApiError`]; the client never panics on network
//! errors or on what a server sends. No variant ever carries the API token: messages are built
//! from Hetzner's error envelope, HTTP status codes and transport error kinds only.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One entry of Hetzner's `error.details.fields[]`: the request field that failed validation
/// and, for `invalid_input`, the reasons (docs/hetzner-api.md §3).
///
/// `uniqueness_error` details carry only the `name` (e.g. `{"name":"public_key"}`), so
/// `messages` is then empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Name of the request field, e.g. `name`, `rules`, `public_key`.
    pub name: String,
    /// Validation messages for that field, e.g. `["is invalid"]`; empty when Hetzner gives none.
    #[serde(default, deserialize_with = "crate::hetzner::model::null_as_default")]
    pub messages: Vec<String>,
}

/// Everything that can go wrong in a Hetzner Cloud API call.
///
/// Which errors are retried before they reach the caller is described on
/// [`crate::hetzner::Client`]; the variants here are what is left after retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Hetzner answered with an error status (4xx/5xx).
    ///
    /// `code` and `message` come from the JSON envelope `{"error":{"code","message","details"}}`
    /// (docs/hetzner-api.md §3), e.g. `unauthorized` (401), `not_found` (404),
    /// `uniqueness_error` (409), `invalid_input` (422), `locked` (423). When the body is not
    /// that envelope (an HTML page from a proxy, an empty body), `code` is `http_<status>`
    /// (e.g. `http_502`) and `message` is the HTTP reason phrase.
    #[error("{}", format_api(code, message, fields))]
    Api {
        /// HTTP status code, e.g. 422.
        status: u16,
        /// Hetzner's machine-readable error code, e.g. `invalid_input`.
        code: String,
        /// Hetzner's human-readable message.
        message: String,
        /// `details.fields[]` of the envelope (empty when absent).
        fields: Vec<FieldError>,
    },
    /// HTTP 429 `rate_limit_exceeded` and the retries allowed for it were used up.
    #[error("{}", format_rate_limited(reset_at))]
    RateLimited {
        /// When the bucket is full again (Hetzner's `RateLimit-Reset`, UTC), if it was sent.
        reset_at: Option<DateTime<Utc>>,
    },
    /// The request did not complete within the client's timeout (connect or total).
    #[error("request to the Hetzner API timed out")]
    Timeout,
    /// The connection failed or broke (refused, reset, closed before a response).
    ///
    /// The text names the transport error, never the token.
    #[error("network error talking to the Hetzner API: {0}")]
    Network(String),
    /// A response that is not JSON or not the expected shape (including a pagination that
    /// never ends).
    #[error("malformed response from the Hetzner API (HTTP {status}): {detail}")]
    Malformed {
        /// HTTP status code of the response (0 when no single response is to blame).
        status: u16,
        /// What did not parse, e.g. `missing field \`servers\` at line 1 column 2`.
        detail: String,
    },
    /// An action ended with status `error`; `code`/`message` are the action's `error` object.
    #[error("action {id} failed: {code}: {message}")]
    ActionFailed {
        /// ID of the action.
        id: i64,
        /// Hetzner's error code of the action, e.g. `action_failed`.
        code: String,
        /// Hetzner's message for it.
        message: String,
    },
    /// An action was still `running` when the wait limit ran out.
    #[error("action {id} still running after {waited_secs} s")]
    ActionTimeout {
        /// ID of the action.
        id: i64,
        /// How long the client waited, in whole seconds.
        waited_secs: u64,
    },
    /// The client could not be built (bad endpoint URL, TLS setup, invalid token characters).
    #[error("invalid Hetzner client configuration: {0}")]
    Config(String),
}

impl ApiError {
    /// Hetzner's error code when this is an [`ApiError::Api`] (e.g. `not_found`), or
    /// `rate_limit_exceeded` for [`ApiError::RateLimited`]; `None` for other variants.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Api { code, .. } => Some(code),
            ApiError::RateLimited { .. } => Some("rate_limit_exceeded"),
            _ => None,
        }
    }

    /// HTTP status of an [`ApiError::Api`] or [`ApiError::Malformed`] error (429 for
    /// [`ApiError::RateLimited`]); `None` for the others.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } | ApiError::Malformed { status, .. } => Some(*status),
            ApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True for a 404 `not_found` (the resource does not exist or was deleted).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Api { status: 404, .. }) || self.code() == Some("not_found")
    }
}

/// `code: message (field: messages; field2: messages)`, e.g.
/// `invalid_input: invalid input in field 'name' (name: is invalid)`.
fn format_api(code: &str, message: &str, fields: &[FieldError]) -> String {
    let mut out = format!("{code}: {message}");
    if !fields.is_empty() {
        let parts: Vec<String> = fields
            .iter()
            .map(|f| {
                if f.messages.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}: {}", f.name, f.messages.join(", "))
                }
            })
            .collect();
        out.push_str(&format!(" ({})", parts.join("; ")));
    }
    out
}

fn format_rate_limited(reset_at: &Option<DateTime<Utc>>) -> String {
    match reset_at {
        Some(t) => format!(
            "Hetzner API rate limit exceeded; the budget is full again at {} UTC",
            t.format("%Y-%m-%d %H:%M:%S")
        ),
        None => "Hetzner API rate limit exceeded".to_string(),
    }
}

/// Hetzner's error envelope `{"error": {"code", "message", "details"}}` (wire form).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: ErrorBody,
}

/// The `error` object of [`ErrorEnvelope`].
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) details: Option<ErrorDetails>,
}

/// `error.details`; only `fields` is kept (its shape depends on the code).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorDetails {
    #[serde(default, deserialize_with = "crate::hetzner::model::null_as_default")]
    pub(crate) fields: Vec<FieldError>,
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Turn an error response (status ≥ 400) into an [`ApiError::Api`].
///
/// A body that is Hetzner's envelope keeps its code, message and `details.fields`; anything
/// else (HTML, plain text, empty, a JSON object of another shape) becomes code `http_<status>`
/// with the HTTP reason phrase as message. The body text itself is never copied into the error.
pub(crate) fn from_error_response(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(env) => ApiError::Api {
            status,
            code: env.error.code,
            message: env.error.message,
            fields: env.error.details.map(|d| d.fields).unwrap_or_default(),
        },
        Err(_) => {
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("unexpected response");
            ApiError::Api {
                status,
                code: format!("http_{status}"),
                message: format!("HTTP {status} {reason} (no Hetzner error body)"),
                fields: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_display_names_the_field() {
        let body = br#"{"error":{"code":"invalid_input","message":"invalid input in field 'name'",
            "details":{"fields":[{"name":"name","messages":["is invalid"]}]}}}"#;
        let err = from_error_response(422, body);
        assert_eq!(
            err.to_string(),
            "invalid_input: invalid input in field 'name' (name: is invalid)"
        );
        assert_eq!(err.code(), Some("invalid_input"));
        assert_eq!(err.status(), Some(422));
    }

    #[test]
    fn uniqueness_error_keeps_field_without_messages() {
        let body = br#"{"error":{"code":"uniqueness_error","message":"SSH key with the same fingerprint already exists",
            "details":{"fields":[{"name":"public_key"}]}}}"#;
        let err = from_error_response(409, body);
        assert_eq!(
            err,
            ApiError::Api {
                status: 409,
                code: "uniqueness_error".into(),
                message: "SSH key with the same fingerprint already exists".into(),
                fields: vec![FieldError {
                    name: "public_key".into(),
                    messages: vec![]
                }],
            }
        );
        assert_eq!(
            err.to_string(),
            "uniqueness_error: SSH key with the same fingerprint already exists (public_key)"
        );
    }

    #[test]
    fn null_details_and_multiple_fields() {
        let err = from_error_response(
            404,
            br#"{"error":{"code":"not_found","message":"server not found","details":null}}"#,
        );
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), "not_found: server not found");

        let err = from_error_response(
            422,
            br#"{"error":{"code":"invalid_input","message":"bad","details":{"fields":[
                {"name":"rules","messages":["a","b"]},{"name":"name","messages":null}]}}}"#,
        );
        assert_eq!(err.to_string(), "invalid_input: bad (rules: a, b; name)");
    }

    #[test]
    fn non_json_error_body_becomes_http_code() {
        let err = from_error_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(err.code(), Some("http_502"));
        assert_eq!(err.status(), Some(502));
        assert_eq!(
            err.to_string(),
            "http_502: HTTP 502 Bad Gateway (no Hetzner error body)"
        );
        // JSON, but not the envelope.
        let err = from_error_response(500, br#"{"oops":1}"#);
        assert_eq!(err.code(), Some("http_500"));
        let err = from_error_response(503, b"");
        assert_eq!(err.code(), Some("http_503"));
    }

    #[test]
    fn rate_limited_display_names_reset_time() {
        let reset = DateTime::from_timestamp(1_700_000_000, 0);
        let err = ApiError::RateLimited { reset_at: reset };
        assert_eq!(
            err.to_string(),
            "Hetzner API rate limit exceeded; the budget is full again at 2023-11-14 22:13:20 UTC"
        );
        assert_eq!(err.code(), Some("rate_limit_exceeded"));
    }
}
