//! [`ClientBuilder`]: the settings of a [`Client`] and their checks.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::sync::watch;

use crate::hetzner::error::ApiError;
use crate::hetzner::ratelimit::RetryPolicy;

use super::{Client, DEFAULT_ENDPOINT, Inner, Token};

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
