//! A fake Hetzner Cloud API server on loopback ("the sim").
//!
//! An axum HTTP server that keeps servers, firewalls, SSH keys and actions in memory and speaks
//! Hetzner's JSON under `/v1` (shapes: `shared/docs/hetzner-api.md` and Hetzner's OpenAPI
//! document). Used by demo mode, by the client's integration tests, and checked against the
//! official `hcloud` CLI and Python client. It deliberately shares no code with
//! `crate::hetzner`: it is an independent oracle.
//!
//! What it does:
//! - Bearer auth (`401 unauthorized`), pagination (`page` from 1, `per_page` 25, clamped to 50,
//!   `meta.pagination` plus an RFC 5988 `Link` header), `sort`, exact `name`, label selectors.
//! - Actions that really progress: `running` → `success` after [`SimConfig::action_duration`];
//!   server status follows them (evaluated lazily from timestamps).
//! - A token-bucket rate limit with `RateLimit-Limit/Remaining/Reset` headers on every `/v1`
//!   response and `429 rate_limit_exceeded` when empty.
//! - Test hooks: [`Faults`] (latency, injected errors, dropped connections, malformed bodies),
//!   request counters, response recording, server JSON patches, bulk seeding.
//! - Admin endpoints (loopback, no auth, no rate limit): `POST /__sim/faults`,
//!   `DELETE /__sim/faults`, `GET /__sim/requests`, `POST /__sim/reset-counters`,
//!   `POST /__sim/servers/{id}/patch`, `POST /__sim/seed`,
//!   `POST /__sim/action-failures` (`{"fail_next": N, "code"?, "message"?}`).

mod api;
mod catalog;
pub mod cli;
mod error;
mod firewalls;
mod http;
mod query;
mod reference;
mod seed;
pub mod selector;
mod servers;
mod ssh_keys;
mod state;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use http::start;

/// Sim configuration. `Debug` never shows the token.
#[derive(Clone)]
pub struct SimConfig {
    /// The accepted bearer token (any other → `401 unauthorized`). A secret: never logged.
    pub token: String,
    /// Initial data.
    pub seed: Seed,
    /// Rate-limit bucket capacity in requests (Hetzner: 3600 per hour per project).
    pub rate_limit: u32,
    /// Bucket refill in requests per second (Hetzner: 1.0 at 3600/h).
    pub refill_per_second: f64,
    /// How long each action runs before it ends `success` (server create + start take two).
    pub action_duration: Duration,
    /// Most servers the project may hold; more → `403 resource_limit_exceeded`.
    pub max_servers: usize,
    /// When set, one JSON line per `/v1` response is appended:
    /// `{"method","path" (route template),"status","body" (null when empty)}`.
    pub record: Option<PathBuf>,
}

impl Default for SimConfig {
    /// Token `sim-token`, empty, 3600 requests refilled at 1/s, 1 s actions, 10 000 servers.
    fn default() -> Self {
        SimConfig {
            token: "sim-token".into(),
            seed: Seed::Empty,
            rate_limit: 3600,
            refill_per_second: 1.0,
            action_duration: Duration::from_secs(1),
            max_servers: 10_000,
            record: None,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("token", &"<redacted>")
            .field("seed", &self.seed)
            .field("rate_limit", &self.rate_limit)
            .field("refill_per_second", &self.refill_per_second)
            .field("action_duration", &self.action_duration)
            .field("max_servers", &self.max_servers)
            .field("record", &self.record)
            .finish()
    }
}

/// Initial data of the sim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Seed {
    /// Nothing but the catalog (server types, locations, images).
    #[default]
    Empty,
    /// 15 CrabGlamp-labelled servers, each with its own `vm-<name>` firewall, and 3 SSH keys,
    /// across
    /// accounts `alice` (personal), `acme` and `globex` (organizations), regions us (`hil`)
    /// and eu (`hel1`), tiers small/medium/large; created up to 90 days ago.
    Demo,
}

/// Injected faults for `/v1` requests. Counters count down as responses are affected.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Delay added before every `/v1` response.
    pub latency: Option<Duration>,
    /// The next N responses (of `fail_method`, if set) are replaced by an error envelope.
    pub fail_next: u32,
    /// HTTP status of the injected errors (default 503).
    pub fail_status: u16,
    /// Error code of the injected errors (default `unavailable`). With `rate_limit_exceeded`
    /// the response also says `RateLimit-Remaining: 0` and a reset 2 s ahead.
    pub fail_code: String,
    /// Only inject into requests with this method (e.g. `POST`); `None` = any.
    pub fail_method: Option<String>,
    /// The next N requests get no response: the connection is aborted.
    pub drop_next: u32,
    /// The next N responses are 200 with a truncated (invalid) JSON body.
    pub malformed_next: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: None,
            fail_next: 0,
            fail_status: 503,
            fail_code: "unavailable".into(),
            fail_method: None,
            drop_next: 0,
            malformed_next: 0,
        }
    }
}

/// A server to add directly (no actions), e.g. by the demo data generator.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSeed {
    /// Hostname (not validated; keep it RFC 1123).
    pub name: String,
    /// Server type name, e.g. `cpx22`; unknown names fall back to the first type sold in
    /// `location`.
    pub server_type: String,
    /// Location name, e.g. `hel1`; unknown names fall back to `fsn1`.
    pub location: String,
    /// Image name, e.g. `debian-12` (matched to the type's architecture); unknown → no image.
    pub image: String,
    /// Labels (not validated).
    pub labels: BTreeMap<String, String>,
    /// Creation time (UTC).
    pub created: DateTime<Utc>,
    /// Server status (`running`, `off`, `initializing`, … from Hetzner's enum); unknown values
    /// become `running`.
    pub status: String,
    /// Firewalls directly applied to the server (status `applied`); unknown ids are ignored.
    pub firewall_ids: Vec<i64>,
}

impl Default for ServerSeed {
    fn default() -> Self {
        ServerSeed {
            name: "seed-1".into(),
            server_type: "cx22".into(),
            location: "fsn1".into(),
            image: "debian-12".into(),
            labels: BTreeMap::new(),
            created: Utc::now(),
            status: "running".into(),
            firewall_ids: Vec::new(),
        }
    }
}

/// A firewall to add directly (no actions).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FirewallSeed {
    /// Name (should be unique).
    pub name: String,
    /// Labels (not validated).
    pub labels: BTreeMap<String, String>,
    /// Rules in Hetzner's request shape (a JSON array); invalid rules are dropped with a
    /// warning.
    pub rules: serde_json::Value,
    /// Servers the firewall is directly applied to (status `applied`); unknown ids ignored.
    pub applied_to: Vec<i64>,
}

/// A running sim. Dropping it stops the server (as does [`SimHandle::shutdown`]).
pub struct SimHandle {
    shared: Arc<http::Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SimHandle {
    /// The bound loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API endpoint, `http://127.0.0.1:PORT/v1` (what `HCLOUD_ENDPOINT` takes).
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Replace the injected faults.
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f);
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        self.shared.set_faults(Faults::default());
    }

    /// Total `/v1` requests received since start or the last reset.
    pub fn request_count(&self) -> u64 {
        self.shared.counters().0
    }

    /// `/v1` requests per `"METHOD /route/template"` (e.g. `"GET /servers/{id}"`).
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.counters().1
    }

    /// Zero the request counters.
    pub fn reset_counters(&self) {
        self.shared.reset_counters();
    }

    /// Add `servers` servers (`bulk-NNNNNN`, running, various types/locations/labels) and
    /// `firewalls` firewalls (`bulk-fw-NNNNNN`, SSH rule, firewall i applied to server i when
    /// it exists), all finished (no actions).
    pub fn seed_bulk(&self, servers: usize, firewalls: usize) {
        self.shared
            .with_state(|s| seed::bulk(s, servers, firewalls));
    }

    /// Add one server directly; returns its id.
    pub fn add_server(&self, s: ServerSeed) -> i64 {
        self.shared.with_state(|st| seed::add_server(st, &s))
    }

    /// Add one firewall directly; returns its id.
    pub fn add_firewall(&self, f: FirewallSeed) -> i64 {
        self.shared.with_state(|st| seed::add_firewall(st, &f))
    }

    /// Add an SSH key directly (MD5 fingerprint computed as for `POST /ssh_keys`); `None` when
    /// the key does not parse or its fingerprint or name is already stored.
    pub fn add_ssh_key(
        &self,
        name: &str,
        public_key: &str,
        labels: BTreeMap<String, String>,
    ) -> Option<i64> {
        self.shared
            .with_state(|st| seed::add_ssh_key(st, name, public_key, labels))
    }

    /// Make the next `n` actions (any command) end with status `error` and
    /// `error: {code, message}` once their duration has passed. A failed `create_server` leaves
    /// the server `off` (its `start_server` fails too); a failed power action leaves the status
    /// where it was; a failed `delete_server` leaves the server in place.
    pub fn fail_next_actions(&self, n: u32, code: &str, message: &str) {
        self.shared
            .with_state(|st| st.fail_next_actions(n, code, message));
    }

    /// Merge `patch` (a JSON object; `null` values set `null`) into the server's emitted JSON,
    /// e.g. `{"status":"frobnicating","public_net":{"ipv4":null}}`. Unknown ids are ignored.
    pub fn patch_server(&self, id: i64, patch: serde_json::Value) {
        self.shared
            .with_state(|st| seed::patch_server(st, id, &patch));
    }

    /// The `user_data` (cloud-init document) the server was created with, exactly as
    /// received; `None` for unknown servers or when none was sent.
    pub fn server_user_data(&self, id: i64) -> Option<String> {
        self.shared
            .with_state(|st| st.servers.get(&id).and_then(|s| s.user_data.clone()))
    }

    /// Ids of the SSH keys the server was created with (empty for unknown servers).
    pub fn server_ssh_keys(&self, id: i64) -> Vec<i64> {
        self.shared.with_state(|st| {
            st.servers
                .get(&id)
                .map(|s| s.ssh_keys.clone())
                .unwrap_or_default()
        })
    }

    /// Stop serving and wait (at most 5 s) for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
