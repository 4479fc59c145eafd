//! Rate-limit budget and retry policy of the Hetzner client.
//!
//! Hetzner allows 3600 requests per hour per project by default, refilled gradually (one per
//! second at 3600/h), and reports the bucket on every response in `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (a UNIX timestamp, seconds, when the bucket
//! is *full* again): docs/hetzner-api.md §4.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::HeaderMap;

/// The API budget as last reported by Hetzner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per hour (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// When the bucket is full again, UTC (`RateLimit-Reset`).
    pub reset: DateTime<Utc>,
}

impl RateLimit {
    /// Read the three `RateLimit-*` headers; `None` unless all three are present and numeric.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        fn num(headers: &HeaderMap, name: &str) -> Option<i64> {
            headers.get(name)?.to_str().ok()?.trim().parse().ok()
        }
        let limit = u32::try_from(num(headers, "ratelimit-limit")?).ok()?;
        let remaining = u32::try_from(num(headers, "ratelimit-remaining")?).ok()?;
        let reset = DateTime::from_timestamp(num(headers, "ratelimit-reset")?, 0)?;
        Some(RateLimit {
            limit,
            remaining,
            reset,
        })
    }

    /// How long until at least one request is allowed again, seen from `now`.
    ///
    /// Zero while `remaining > 0`. Otherwise the time one token takes to refill at
    /// `limit` per hour (`3600 s / limit`, 1 s at the default 3600/h), but never later than
    /// `reset` (when the whole bucket is full) — Hetzner's `Reset` is not "the next token".
    pub fn wait_for_one_token(&self, now: DateTime<Utc>) -> Duration {
        if self.remaining > 0 {
            return Duration::ZERO;
        }
        let until_reset = (self.reset - now).to_std().unwrap_or(Duration::ZERO);
        let per_token = if self.limit == 0 {
            until_reset
        } else {
            Duration::from_secs_f64(3600.0 / f64::from(self.limit))
        };
        per_token.min(until_reset)
    }
}

/// Retry limits of the client: attempts are capped and every wait is capped, so a failing
/// API is never hammered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per call including the first (default 4).
    pub max_attempts: u32,
    /// Base of the exponential backoff (default 500 ms): attempt n waits a random time in
    /// `[0, min(max_wait, base · 2^n)]` ("full jitter").
    pub base: Duration,
    /// Cap of any single wait, backoff or rate-limit (default 10 s).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (0 for the first retry):
    /// `min(max_wait, base · 2^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        self.base.saturating_mul(factor).min(self.max_wait)
    }

    /// A full-jitter backoff: uniform in `[0, backoff_ceiling(retry)]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }

    /// The wait before retrying after a 429: the time until one token is back (from the
    /// rate-limit headers, if sent), or the backoff when the headers say nothing useful,
    /// whichever is longer; never more than `max_wait`.
    pub fn rate_limited_wait(
        &self,
        retry: u32,
        rate: Option<&RateLimit>,
        now: DateTime<Utc>,
    ) -> Duration {
        let token = rate.map_or(Duration::ZERO, |r| r.wait_for_one_token(now));
        token.max(self.backoff(retry)).min(self.max_wait)
    }
}

/// What came back from one attempt, as far as the retry decision cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome<'a> {
    /// An HTTP response with this status and, if the body was Hetzner's envelope, its code.
    Status(u16, Option<&'a str>),
    /// The request timed out (it may have reached the server).
    Timeout,
    /// The connection could not be opened: the request was never sent.
    ConnectFailed,
    /// The connection broke after it was opened (the request may have reached the server).
    Broken,
}

/// Whether an attempt that ended in `outcome` may be retried for a request of this method.
///
/// - any method: `409 conflict` (Hetzner: "resource changed during the request; retry"),
///   `429` (rejected before processing), and a connection that could not be opened;
/// - `GET` only: 502/503/504 and timeouts or broken connections — a `POST`, `PUT` or
///   `DELETE` may already have happened, so it is never repeated on those.
pub(crate) fn is_retryable(is_get: bool, outcome: Outcome<'_>) -> bool {
    match outcome {
        Outcome::Status(409, Some("conflict")) => true,
        Outcome::Status(429, _) => true,
        Outcome::Status(502..=504, _) => is_get,
        Outcome::Status(..) => false,
        Outcome::ConnectFailed => true,
        Outcome::Timeout | Outcome::Broken => is_get,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(limit: &str, remaining: &str, reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("RateLimit-Limit", HeaderValue::from_str(limit).expect("hv"));
        h.insert(
            "RateLimit-Remaining",
            HeaderValue::from_str(remaining).expect("hv"),
        );
        h.insert("RateLimit-Reset", HeaderValue::from_str(reset).expect("hv"));
        h
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    #[test]
    fn parses_headers() {
        let rl = RateLimit::from_headers(&headers("3600", "3599", "1700000001")).expect("rl");
        assert_eq!(
            rl,
            RateLimit {
                limit: 3600,
                remaining: 3599,
                reset: at(1_700_000_001)
            }
        );
        assert_eq!(RateLimit::from_headers(&HeaderMap::new()), None);
        assert_eq!(
            RateLimit::from_headers(&headers("3600", "x", "1700000001")),
            None
        );
        assert_eq!(
            RateLimit::from_headers(&headers("3600", "-1", "1700000001")),
            None
        );
    }

    #[test]
    fn one_token_wait() {
        let now = at(1_700_000_000);
        // Empty bucket at 3600/h, full in an hour: one token is back in 1 s.
        let rl = RateLimit {
            limit: 3600,
            remaining: 0,
            reset: at(1_700_003_600),
        };
        assert_eq!(rl.wait_for_one_token(now), Duration::from_secs(1));
        // 360/h → 10 s per token; but if Reset is sooner, Reset wins.
        let rl = RateLimit {
            limit: 360,
            remaining: 0,
            reset: at(1_700_000_004),
        };
        assert_eq!(rl.wait_for_one_token(now), Duration::from_secs(4));
        // Tokens left: no wait. Reset in the past: no wait.
        let rl = RateLimit {
            limit: 3600,
            remaining: 5,
            reset: at(1_700_000_100),
        };
        assert_eq!(rl.wait_for_one_token(now), Duration::ZERO);
        let rl = RateLimit {
            limit: 3600,
            remaining: 0,
            reset: at(1_699_999_000),
        };
        assert_eq!(rl.wait_for_one_token(now), Duration::ZERO);
    }

    #[test]
    fn backoff_is_capped_and_jittered_within_ceiling() {
        let p = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
        };
        assert_eq!(p.backoff_ceiling(0), Duration::from_millis(500));
        assert_eq!(p.backoff_ceiling(1), Duration::from_secs(1));
        assert_eq!(p.backoff_ceiling(3), Duration::from_secs(4));
        assert_eq!(p.backoff_ceiling(5), Duration::from_secs(10));
        assert_eq!(p.backoff_ceiling(1000), Duration::from_secs(10));
        for retry in 0..6 {
            for _ in 0..50 {
                assert!(p.backoff(retry) <= p.backoff_ceiling(retry));
            }
        }
        // A rate-limit wait is at least the token wait and at most max_wait.
        let now = at(1_700_000_000);
        let rl = RateLimit {
            limit: 60,
            remaining: 0,
            reset: at(1_700_003_600),
        };
        assert_eq!(
            p.rate_limited_wait(0, Some(&rl), now),
            Duration::from_secs(10)
        );
        let rl = RateLimit {
            limit: 3600,
            remaining: 0,
            reset: at(1_700_003_600),
        };
        let w = p.rate_limited_wait(0, Some(&rl), now);
        assert!(w >= Duration::from_secs(1) && w <= Duration::from_secs(10));
    }

    #[test]
    fn retry_rules() {
        // GET: transient statuses, timeouts and broken connections are retried.
        for o in [
            Outcome::Status(429, Some("rate_limit_exceeded")),
            Outcome::Status(502, None),
            Outcome::Status(503, Some("unavailable")),
            Outcome::Status(504, Some("timeout")),
            Outcome::Status(409, Some("conflict")),
            Outcome::Timeout,
            Outcome::ConnectFailed,
            Outcome::Broken,
        ] {
            assert!(is_retryable(true, o), "{o:?}");
        }
        // POST: never on 5xx, timeouts or broken connections.
        for o in [
            Outcome::Status(500, Some("server_error")),
            Outcome::Status(502, None),
            Outcome::Status(503, Some("unavailable")),
            Outcome::Status(504, Some("timeout")),
            Outcome::Timeout,
            Outcome::Broken,
        ] {
            assert!(!is_retryable(false, o), "{o:?}");
        }
        assert!(is_retryable(false, Outcome::Status(409, Some("conflict"))));
        assert!(is_retryable(false, Outcome::Status(429, None)));
        assert!(is_retryable(false, Outcome::ConnectFailed));
        // Never: client errors and uniqueness conflicts.
        for o in [
            Outcome::Status(409, Some("uniqueness_error")),
            Outcome::Status(404, Some("not_found")),
            Outcome::Status(422, Some("invalid_input")),
            Outcome::Status(401, Some("unauthorized")),
            Outcome::Status(423, Some("locked")),
            Outcome::Status(500, Some("server_error")),
        ] {
            assert!(!is_retryable(true, o), "{o:?}");
            assert!(!is_retryable(false, o), "{o:?}");
        }
    }
}
