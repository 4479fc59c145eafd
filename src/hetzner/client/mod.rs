//! The HTTP client: authentication, pagination, retries, rate-limit tracking, action polling.
//!
//! This file holds [`Client`], the token, the list parameters and the transport (pagination,
//! retries, decoding); `builder.rs` the [`ClientBuilder`]; `servers.rs`, `firewalls.rs`,
//! `catalog.rs`, `ssh_keys.rs` and `actions.rs` the calls per resource kind.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::error::{self, ApiError};
use super::model::{
    Action, ActionStatus, Architecture, ImageStatus, ImageType, Page, ServerStatus,
};
use super::ratelimit::{Outcome, RateLimit, RetryPolicy, is_retryable};

mod actions;
mod builder;
mod catalog;
mod firewalls;
mod servers;
mod ssh_keys;

pub use builder::ClientBuilder;

/// Hetzner's production endpoint (docs/hetzner-api.md §1).
pub const DEFAULT_ENDPOINT: &str = "https://api.hetzner.cloud/v1";

/// Entries requested per page when listing everything (Hetzner's maximum, §2).
pub const PER_PAGE: u32 = 50;

/// A list call stops with [`ApiError::Malformed`] after this many pages: a guard against a
/// server that never ends its pagination (500,000 entries at 50 per page).
pub const MAX_PAGES: u64 = 10_000;

/// A Hetzner Cloud API token (per project). A secret: `Debug` prints `Token(***)`, there is
/// no `Display`, and the client never puts it in an error, a log line or its own `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wrap a token (surrounding whitespace, e.g. a newline from a file, is trimmed).
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into().trim().to_string())
    }

    /// The token text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// Filters for list calls (docs/hetzner-api.md §2). Empty fields are not sent.
///
/// Values are URL-encoded by the client (`env=prod` → `env%3Dprod`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Exact name match.
    pub name: Option<String>,
    /// Label selector, e.g. `env=prod,!legacy` or `env in (dev,prod)`.
    pub label_selector: Option<String>,
    /// Server statuses (repeatable, OR-ed); only sent by [`Client::list_servers`].
    pub status: Vec<ServerStatus>,
    /// Sort keys, e.g. `id`, `name:asc`, `created:desc` (repeatable).
    pub sort: Vec<String>,
}

impl ListParams {
    /// No filters: everything, in Hetzner's default order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the resource with exactly this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only resources whose labels match `selector`.
    pub fn label_selector(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Add a server status to the filter (servers only).
    pub fn status(mut self, status: ServerStatus) -> Self {
        self.status.push(status);
        self
    }

    /// Add a sort key such as `name:asc`.
    pub fn sort(mut self, key: impl Into<String>) -> Self {
        self.sort.push(key.into());
        self
    }

    fn to_query(&self, with_status: bool) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(n) = &self.name {
            q.push(("name", n.clone()));
        }
        if let Some(s) = &self.label_selector {
            q.push(("label_selector", s.clone()));
        }
        if with_status {
            q.extend(
                self.status
                    .iter()
                    .map(|s| ("status", s.as_str().to_string())),
            );
        }
        q.extend(self.sort.iter().map(|s| ("sort", s.clone())));
        q
    }
}

/// Filters for [`Client::list_images`] (docs/hetzner-api.md §10). Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageListParams {
    /// Name, label selector and sort keys (its `status` is ignored here).
    pub common: ListParams,
    /// Image types, e.g. `[System]` (repeatable).
    pub kind: Vec<ImageType>,
    /// Image statuses, e.g. `[Available]` (repeatable).
    pub status: Vec<ImageStatus>,
    /// Only images for this architecture.
    pub architecture: Option<Architecture>,
    /// Also list deprecated images (Hetzner hides them by default).
    pub include_deprecated: Option<bool>,
}

impl ImageListParams {
    fn to_query(&self) -> Vec<(&'static str, String)> {
        let mut q = self.common.to_query(false);
        q.extend(self.kind.iter().map(|t| ("type", t.as_str().to_string())));
        q.extend(
            self.status
                .iter()
                .map(|s| ("status", s.as_str().to_string())),
        );
        if let Some(a) = self.architecture {
            q.push(("architecture", a.as_str().to_string()));
        }
        if let Some(d) = self.include_deprecated {
            q.push(("include_deprecated", d.to_string()));
        }
        q
    }
}

/// Typed client of the Hetzner Cloud API.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`; clones share the request counter and the
/// rate-limit budget.
///
/// **Retries** (at most `max_attempts`, default 4, each preceded by a capped, full-jitter
/// exponential backoff): any method on `409 conflict`, on `429` (Hetzner rejects it before
/// processing; the wait is the time until one token is back per the `RateLimit-*` headers)
/// and when the connection cannot be opened; `GET` also on 502/503/504, timeouts and broken
/// connections. A `POST`/`PUT`/`DELETE` is never repeated after a 5xx, a timeout or a broken
/// connection, since it may have taken effect.
///
/// **Timeouts**: every request has a total and a connect timeout (default 30 s / 5 s).
///
/// **Rate limit**: the `RateLimit-*` headers of every response (success or error) update
/// [`Client::rate_limit`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    timeout: Duration,
    connect_timeout: Duration,
    poll_interval: Duration,
    poll_max_interval: Duration,
    action_timeout: Duration,
    retry: RetryPolicy,
    requests: AtomicU64,
    rate: watch::Sender<Option<RateLimit>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("endpoint", &i.base)
            .field("token", &"***")
            .field("timeout", &i.timeout)
            .field("connect_timeout", &i.connect_timeout)
            .field("poll_interval", &i.poll_interval)
            .field("poll_max_interval", &i.poll_max_interval)
            .field("action_timeout", &i.action_timeout)
            .field("retry", &i.retry)
            .field("requests_made", &i.requests.load(Ordering::Relaxed))
            .finish()
    }
}

impl Client {
    /// A client with default settings for `endpoint` (e.g. [`DEFAULT_ENDPOINT`]).
    ///
    /// Errors as [`ClientBuilder::build`].
    pub fn new(endpoint: impl Into<String>, token: Token) -> Result<Client, ApiError> {
        Client::builder().endpoint(endpoint).token(token).build()
    }

    /// A builder with the defaults (production endpoint, 30 s / 5 s timeouts, 1 s → 5 s
    /// action polling, 4 attempts); a token must be set.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The API base URL, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.inner.base
    }

    /// Number of HTTP requests this client and its clones have made: every attempt counts,
    /// retries and action polls included (also an attempt whose connection failed).
    pub fn requests_made(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// The rate-limit budget from the most recent response that carried the `RateLimit-*`
    /// headers; `None` before the first one.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.inner.rate.borrow()
    }

    /// A receiver that sees every rate-limit update (for a status bar).
    pub fn subscribe_rate_limit(&self) -> watch::Receiver<Option<RateLimit>> {
        self.inner.rate.subscribe()
    }
}

// Transport (pagination, requests with retries, decoding): every call in the files per
// resource kind goes through these.
impl Client {
    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Vec<(&'static str, String)>,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut page: u64 = 1;
        for _ in 0..MAX_PAGES {
            let mut q = query.clone();
            q.push(("page", page.to_string()));
            q.push(("per_page", PER_PAGE.to_string()));
            let p: Page<T> = self.get(path, &q).await?;
            out.extend(p.items);
            match p.meta.and_then(|m| m.pagination).and_then(|p| p.next_page) {
                None | Some(0) => return Ok(out),
                Some(next) if next > page => page = next,
                Some(next) => {
                    return Err(ApiError::Malformed {
                        status: 200,
                        detail: format!("GET {path}: page {page} says the next page is {next}"),
                    });
                }
            }
        }
        Err(ApiError::Malformed {
            status: 200,
            detail: format!("GET {path}: pagination did not end after {MAX_PAGES} pages"),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&'static str, String)],
    ) -> Result<T, ApiError> {
        let (status, body) = self.send(Method::GET, path, query, None).await?;
        decode(status, &body)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| {
                ApiError::Config(format!("request body for {path} cannot be serialised: {e}"))
            })?),
            None => None,
        };
        let (status, body) = self.send(method, path, &[], bytes).await?;
        decode(status, &body)
    }

    fn url(&self, path: &str, query: &[(&'static str, String)]) -> Result<Url, ApiError> {
        let mut url = Url::parse(&format!("{}{}", self.inner.base, path))
            .map_err(|e| ApiError::Config(format!("bad request URL for {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Send one request with retries; returns the status and body of a success (< 400).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let url = self.url(path, query)?;
        let is_get = method == Method::GET;
        let policy = self.inner.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let retries_left = attempt < policy.max_attempts;
            let mut req = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, self.inner.auth.clone());
            if let Some(b) = &body {
                req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let (status, rate, bytes) = match self.exchange(req).await {
                Ok(r) => r,
                Err(e) => {
                    let (outcome, err) = classify(&method, path, e);
                    tracing::debug!(%method, path, attempt, error = %err, "Hetzner request failed");
                    if retries_left && is_retryable(is_get, outcome) {
                        let wait = policy.backoff(attempt - 1);
                        tracing::warn!(%method, path, attempt, ?wait, error = %err, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            tracing::debug!(
                %method, path, status, attempt,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "Hetzner request"
            );
            if status < 400 {
                return Ok((status, bytes));
            }
            let err = error::from_error_response(status, &bytes);
            let code = match &err {
                ApiError::Api { code, .. } => Some(code.as_str()),
                _ => None,
            };
            if retries_left && is_retryable(is_get, Outcome::Status(status, code)) {
                let wait = if status == 429 {
                    policy.rate_limited_wait(attempt - 1, rate.as_ref(), Utc::now())
                } else {
                    policy.backoff(attempt - 1)
                };
                tracing::warn!(%method, path, attempt, status, ?wait, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == 429 {
                return Err(ApiError::RateLimited {
                    reset_at: rate.map(|r| r.reset),
                });
            }
            return Err(err);
        }
    }

    /// One HTTP exchange: send, record the rate-limit headers, read the whole body.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, Option<RateLimit>, Vec<u8>), reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let rate = RateLimit::from_headers(resp.headers());
        if let Some(r) = rate {
            self.inner.rate.send_replace(Some(r));
        }
        let bytes = resp.bytes().await?;
        Ok((status, rate, bytes.to_vec()))
    }
}

/// `Some(action)` when it ended successfully, `None` while it runs, an error when it failed.
fn finished(action: Action) -> Result<Option<Action>, ApiError> {
    match action.status {
        ActionStatus::Success => Ok(Some(action)),
        ActionStatus::Error => {
            let (code, message) = action
                .error
                .map(|e| (e.code, e.message))
                .unwrap_or_else(|| {
                    (
                        "action_failed".into(),
                        "action ended with status error".into(),
                    )
                });
            Err(ApiError::ActionFailed {
                id: action.id,
                code,
                message,
            })
        }
        ActionStatus::Running | ActionStatus::Unknown => Ok(None),
    }
}

/// Parse a success body; anything that is not the expected JSON is [`ApiError::Malformed`].
fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed {
        status,
        detail: e.to_string(),
    })
}

/// Map a transport error to a retry outcome and the error value the caller sees. The text
/// names the method, path and error kinds (never headers, hence never the token).
fn classify(method: &Method, path: &str, e: reqwest::Error) -> (Outcome<'static>, ApiError) {
    let outcome = if e.is_connect() {
        Outcome::ConnectFailed
    } else if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::Broken
    };
    if e.is_timeout() {
        return (outcome, ApiError::Timeout);
    }
    let e = e.without_url();
    let mut text = format!("{method} {path}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    (outcome, ApiError::Network(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("secret-token-123\n");
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert_eq!(t.expose(), "secret-token-123");
        let c = Client::new("http://127.0.0.1:9/v1/", t).expect("client");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret-token-123"), "{dbg}");
        assert!(dbg.contains("endpoint: \"http://127.0.0.1:9/v1\""), "{dbg}");
        let b = Client::builder().token(Token::new("secret-token-123"));
        assert!(!format!("{b:?}").contains("secret-token-123"));
    }

    #[test]
    fn builder_rejects_bad_config() {
        assert_eq!(
            Client::builder().build().err(),
            Some(ApiError::Config("no API token given".into()))
        );
        let err = Client::new("not a url", Token::new("t")).expect_err("error");
        assert!(matches!(err, ApiError::Config(_)), "{err:?}");
        let err = Client::new("ftp://example.com/v1", Token::new("t")).expect_err("error");
        assert!(matches!(err, ApiError::Config(_)), "{err:?}");
        let err = Client::new(DEFAULT_ENDPOINT, Token::new("bad\u{7f}tok")).expect_err("error");
        assert_eq!(
            err,
            ApiError::Config(
                "the API token contains characters not allowed in an HTTP header".into()
            )
        );
        assert!(!err.to_string().contains("bad"));
    }

    #[test]
    fn query_is_url_encoded_and_repeats_keys() {
        let c = Client::new("http://127.0.0.1:9/v1", Token::new("t")).expect("client");
        let p = ListParams::new()
            .label_selector("env in (dev,prod),!legacy")
            .name("web 1&x")
            .status(ServerStatus::Running)
            .status(ServerStatus::Off)
            .sort("id:asc");
        let url = c.url("/servers", &p.to_query(true)).expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/v1/servers?name=web+1%26x&label_selector=env+in+%28dev%2Cprod%29%2C%21legacy&status=running&status=off&sort=id%3Aasc"
        );
        // Decoding gives back exactly the values.
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[1].1, "env in (dev,prod),!legacy");
        assert_eq!(pairs[0].1, "web 1&x");
        // Status is only sent for servers.
        assert!(!p.to_query(false).iter().any(|(k, _)| *k == "status"));

        let ip = ImageListParams {
            kind: vec![ImageType::System],
            status: vec![ImageStatus::Available],
            architecture: Some(Architecture::Arm),
            include_deprecated: Some(false),
            ..Default::default()
        };
        let url = c.url("/images", &ip.to_query()).expect("url");
        assert_eq!(
            url.query(),
            Some("type=system&status=available&architecture=arm&include_deprecated=false")
        );
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Client>();
    }

    #[test]
    fn finished_maps_action_states() {
        let mut a: Action = serde_json::from_str(
            r#"{"id": 5, "command": "create_server", "status": "running", "progress": 10,
            "started": "2024-05-01T10:00:00+00:00", "finished": null, "resources": [], "error": null}"#,
        )
        .expect("action");
        assert_eq!(finished(a.clone()), Ok(None));
        a.status = ActionStatus::Success;
        assert_eq!(finished(a.clone()).map(|o| o.map(|a| a.id)), Ok(Some(5)));
        a.status = ActionStatus::Error;
        a.error = Some(super::super::model::ActionError {
            code: "server_error".into(),
            message: "boom".into(),
        });
        assert_eq!(
            finished(a),
            Err(ApiError::ActionFailed {
                id: 5,
                code: "server_error".into(),
                message: "boom".into()
            })
        );
    }
}
