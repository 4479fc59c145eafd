//! The HTTP client: authentication, pagination, retries, rate-limit tracking, action polling.

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
    Action, ActionEnvelope, ActionStatus, ActionsEnvelope, Architecture, CreateFirewallRequest,
    CreateFirewallResponse, CreateServerRequest, CreateServerResponse, CreateSshKeyRequest,
    Firewall, FirewallEnvelope, FirewallResource, FirewallRule, Image, ImageStatus, ImageType,
    Location, Page, Pricing, PricingEnvelope, Server, ServerEnvelope, ServerStatus, ServerType,
    ServerTypeEnvelope, SshKey, SshKeyEnvelope, UpdateRequest,
};
use super::ratelimit::{Outcome, RateLimit, RetryPolicy, is_retryable};

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

/// Settings of a [`Client`]; build one with [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    endpoint: String,
    token: Option<Token>,
    timeout: Duration,
    connect_timeout: Duration,
    poll_interval: Duration,
    poll_max_interval: Option<Duration>,
    action_timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("poll_interval", &self.poll_interval)
            .field("poll_max_interval", &self.poll_max_interval)
            .field("action_timeout", &self.action_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            poll_max_interval: None,
            action_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientBuilder {
    /// API base URL including `/v1` (default [`DEFAULT_ENDPOINT`]; the sim's is
    /// `http://127.0.0.1:PORT/v1`). A trailing `/` is ignored.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The project's API token (required).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Total time limit of one HTTP request, connect to last body byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit for opening a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// First wait of [`Client::wait_for_action`] (default 1 s). Each further wait is 1.5×
    /// the previous one, up to the maximum, which is 5× this value unless set with
    /// [`ClientBuilder::poll_max_interval`].
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Longest wait between two polls of an action (default 5× the poll interval, 5 s).
    pub fn poll_max_interval(mut self, interval: Duration) -> Self {
        self.poll_max_interval = Some(interval);
        self
    }

    /// How long [`Client::wait_for_action`] waits before [`ApiError::ActionTimeout`]
    /// (default 300 s).
    pub fn action_timeout(mut self, timeout: Duration) -> Self {
        self.action_timeout = timeout;
        self
    }

    /// Attempts per call including the first (default 4; 1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts.max(1);
        self
    }

    /// Base of the exponential retry backoff (default 500 ms).
    pub fn retry_base(mut self, base: Duration) -> Self {
        self.retry.base = base;
        self
    }

    /// Cap of any single retry wait, including waits for the rate limit (default 10 s).
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.retry.max_wait = wait;
        self
    }

    /// Build the client.
    ///
    /// Errors with [`ApiError::Config`] when no token was given, the token has characters
    /// not allowed in an HTTP header, the endpoint is not an `http`/`https` URL, or the TLS
    /// stack cannot be set up.
    pub fn build(self) -> Result<Client, ApiError> {
        let token = self
            .token
            .as_ref()
            .ok_or_else(|| ApiError::Config("no API token given".into()))?;
        if token.expose().is_empty() {
            return Err(ApiError::Config("the API token is empty".into()));
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                ApiError::Config(
                    "the API token contains characters not allowed in an HTTP header".into(),
                )
            })?;
        auth.set_sensitive(true);

        let base = self.endpoint.trim().trim_end_matches('/').to_string();
        let parsed = Url::parse(&base)
            .map_err(|e| ApiError::Config(format!("endpoint {base:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "endpoint {base:?} must use http or https"
            )));
        }

        let http = reqwest::Client::builder()
            .user_agent(concat!("crabglamp/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .build()
            .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;

        let poll_max = self
            .poll_max_interval
            .unwrap_or(self.poll_interval.saturating_mul(5))
            .max(self.poll_interval);
        let (rate, _) = watch::channel(None);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                poll_interval: self.poll_interval,
                poll_max_interval: poll_max,
                action_timeout: self.action_timeout,
                retry: self.retry,
                requests: AtomicU64::new(0),
                rate,
            }),
        })
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

    // --------------------------------------------------------------------------------------
    // Servers

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

    // --------------------------------------------------------------------------------------
    // Firewalls

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

    // --------------------------------------------------------------------------------------
    // Catalog

    /// All server types (`GET /server_types`, every page).
    pub async fn list_server_types(&self) -> Result<Vec<ServerType>, ApiError> {
        self.list_all("/server_types", Vec::new()).await
    }

    /// One server type (`GET /server_types/{id}`).
    pub async fn get_server_type(&self, id: i64) -> Result<ServerType, ApiError> {
        let env: ServerTypeEnvelope = self.get(&format!("/server_types/{id}"), &[]).await?;
        Ok(env.server_type)
    }

    /// All locations (`GET /locations`, every page).
    pub async fn list_locations(&self) -> Result<Vec<Location>, ApiError> {
        self.list_all("/locations", Vec::new()).await
    }

    /// Images matching `params` (`GET /images`, every page), e.g. system images for x86.
    pub async fn list_images(&self, params: &ImageListParams) -> Result<Vec<Image>, ApiError> {
        self.list_all("/images", params.to_query()).await
    }

    /// Prices of everything in the project's currency (`GET /pricing`).
    pub async fn get_pricing(&self) -> Result<Pricing, ApiError> {
        let env: PricingEnvelope = self.get("/pricing", &[]).await?;
        Ok(env.pricing)
    }

    // --------------------------------------------------------------------------------------
    // SSH keys

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

    // --------------------------------------------------------------------------------------
    // Actions

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

    // --------------------------------------------------------------------------------------
    // Transport

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
