//! The HTTP side of the sim: axum app, auth, rate limit, faults, counters, recording and the
//! `/__sim` admin endpoints.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::api::{self, Call, Matched};
use super::error::ApiError;
use super::query::Query;
use super::state::{Reply, State};
use super::{Faults, Seed, SimConfig, SimHandle, seed};

/// Largest accepted request body (bytes); `user_data` alone may be 32 KiB.
const MAX_BODY: usize = 4 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Token bucket (docs/hetzner-api.md §4): capacity L, refill `refill` per second.
struct Bucket {
    capacity: f64,
    refill: f64,
    tokens: f64,
    last: Instant,
}

/// Values for the `RateLimit-*` headers.
#[derive(Clone, Copy)]
struct RateHeaders {
    limit: u64,
    remaining: u64,
    /// UNIX seconds when the bucket is full again.
    reset: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Bucket {
    fn refresh(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill).min(self.capacity);
        self.last = now;
    }

    /// Take one token; false when the bucket is empty.
    fn take(&mut self) -> (bool, RateHeaders) {
        self.refresh();
        let ok = self.tokens >= 1.0;
        if ok {
            self.tokens -= 1.0;
        }
        (ok, self.headers())
    }

    fn headers(&self) -> RateHeaders {
        let missing = (self.capacity - self.tokens).max(0.0);
        let secs = if self.refill > 0.0 {
            (missing / self.refill).ceil()
        } else {
            3600.0
        };
        RateHeaders {
            limit: self.capacity as u64,
            remaining: self.tokens.floor().max(0.0) as u64,
            reset: unix_now() + secs as u64,
        }
    }
}

/// State shared by all requests of one sim.
pub(crate) struct Shared {
    token: String,
    addr: SocketAddr,
    state: Mutex<State>,
    bucket: Mutex<Bucket>,
    faults: Mutex<Faults>,
    counters: Mutex<(u64, BTreeMap<String, u64>)>,
    recorder: Option<Mutex<BufWriter<File>>>,
}

impl Shared {
    /// Replace the injected faults.
    pub fn set_faults(&self, f: Faults) {
        *lock(&self.faults) = f;
    }

    /// `(total, per "METHOD /template")` request counters.
    pub fn counters(&self) -> (u64, BTreeMap<String, u64>) {
        lock(&self.counters).clone()
    }

    /// Zero the request counters.
    pub fn reset_counters(&self) {
        *lock(&self.counters) = (0, BTreeMap::new());
    }

    /// Run `f` with the state locked (no `.await` inside).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    fn count(&self, key: String) {
        let mut c = lock(&self.counters);
        c.0 += 1;
        *c.1.entry(key).or_insert(0) += 1;
    }

    fn record(&self, method: &str, path: &str, status: u16, body: Option<&Value>) {
        let Some(rec) = &self.recorder else { return };
        let line = json!({"method": method, "path": path, "status": status, "body": body});
        let mut w = lock(rec);
        if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
            tracing::warn!("sim: cannot write the response record: {e}");
        }
    }
}

/// What an injected fault does to one request.
enum Injected {
    Drop,
    Fail(u16, String),
    Malformed,
}

fn take_fault(sh: &Shared, method: &str) -> (Option<Duration>, Option<Injected>) {
    let mut f = lock(&sh.faults);
    let latency = f.latency;
    let injected = if f.drop_next > 0 {
        f.drop_next -= 1;
        Some(Injected::Drop)
    } else if f.fail_next > 0
        && f.fail_method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
    {
        f.fail_next -= 1;
        Some(Injected::Fail(f.fail_status, f.fail_code.clone()))
    } else if f.malformed_next > 0 {
        f.malformed_next -= 1;
        Some(Injected::Malformed)
    } else {
        None
    };
    (latency, injected)
}

fn json_response(status: u16, body: Option<&Value>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        Some(v) => {
            let bytes = serde_json::to_vec(v).unwrap_or_default();
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *resp.status_mut() = status;
    resp
}

fn set_rate_headers(h: &mut HeaderMap, r: RateHeaders) {
    h.insert("RateLimit-Limit", HeaderValue::from(r.limit));
    h.insert("RateLimit-Remaining", HeaderValue::from(r.remaining));
    h.insert("RateLimit-Reset", HeaderValue::from(r.reset));
}

/// A response whose body fails at once: hyper aborts the connection without a complete
/// response.
fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "sim: injected connection drop",
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Every request outside `/__sim`: the Hetzner API (and 404 envelopes for anything else).
async fn v1(AxState(sh): AxState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let rel = path
        .strip_prefix("/v1")
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .map(|r| if r.is_empty() { "/" } else { r });
    let matched = match rel {
        Some(r) => api::route(&method, r),
        None => Matched::NotFound,
    };
    let template = match &matched {
        Matched::Route(_, t, _) | Matched::MethodNotAllowed(t, _) => (*t).to_string(),
        Matched::NotFound => rel.unwrap_or(&path).to_string(),
    };
    if rel.is_some() {
        sh.count(format!("{method} {template}"));
    }
    let (latency, injected) = take_fault(&sh, &method);
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let (allowed, mut rate) = lock(&sh.bucket).take();

    if matches!(injected, Some(Injected::Drop)) {
        return dropped_response();
    }
    let authorized = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == sh.token);
    let mut allow = None;
    let result: Result<Reply, ApiError> = match (&injected, &matched) {
        (Some(Injected::Fail(status, code)), _) => {
            if code == "rate_limit_exceeded" {
                rate.remaining = 0;
                rate.reset = unix_now() + 2;
            }
            Err(ApiError::new(*status, code, "injected fault"))
        }
        _ if !allowed => Err(ApiError::new(
            429,
            "rate_limit_exceeded",
            "limit of requests per hour reached",
        )),
        _ if !authorized => Err(ApiError::new(401, "unauthorized", "unable to authenticate")),
        (_, Matched::NotFound) => Err(ApiError::not_found("route")),
        (_, Matched::MethodNotAllowed(_, methods)) => {
            allow = Some(methods.join(", "));
            Err(ApiError::new(
                405,
                "method_not_allowed",
                "method not allowed",
            ))
        }
        (_, Matched::Route(route, _, params)) => match &body {
            Err(e) => Err(ApiError::json_error(format!(
                "cannot read request body: {e}"
            ))),
            Ok(bytes) => {
                let query = Query::parse(parts.uri.query());
                let base_url = format!("http://{}{}", sh.addr, path);
                let now = Utc::now();
                let mut st = lock(&sh.state);
                st.purge(now);
                api::dispatch(
                    &mut st,
                    Call {
                        route: *route,
                        params,
                        query: &query,
                        body: bytes,
                        base_url: &base_url,
                        now,
                    },
                )
            }
        },
    };
    let (status, body, link) = match result {
        Ok(r) => (r.status, r.body, r.link),
        Err(e) => (e.status, Some(e.body()), None),
    };
    let mut resp = if matches!(injected, Some(Injected::Malformed)) {
        let full = body
            .as_ref()
            .map(|b| serde_json::to_vec(b).unwrap_or_default())
            .unwrap_or_default();
        let cut = (full.len() / 2).max(2).min(full.len().saturating_sub(1));
        let truncated = if full.len() > 2 {
            full[..cut].to_vec()
        } else {
            b"{\"".to_vec()
        };
        let mut r = Response::new(Body::from(truncated));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else {
        sh.record(&method, &template, status, body.as_ref());
        json_response(status, body.as_ref())
    };
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    if let Some(a) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        resp.headers_mut().insert(header::ALLOW, a);
    }
    set_rate_headers(resp.headers_mut(), rate);
    resp
}

/// Body of `POST /__sim/faults` (all optional; absent = default, i.e. off).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FaultsBody {
    latency_ms: Option<u64>,
    fail_next: u32,
    fail_status: Option<u16>,
    fail_code: Option<String>,
    fail_method: Option<String>,
    drop_next: u32,
    malformed_next: u32,
}

fn admin_error(e: ApiError) -> Response {
    json_response(e.status, Some(&e.body()))
}

fn faults_json(f: &Faults) -> Value {
    json!({
        "latency_ms": f.latency.map(|d| d.as_millis() as u64),
        "fail_next": f.fail_next, "fail_status": f.fail_status, "fail_code": f.fail_code,
        "fail_method": f.fail_method, "drop_next": f.drop_next,
        "malformed_next": f.malformed_next,
    })
}

async fn admin_set_faults(AxState(sh): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let b: FaultsBody = if body.is_empty() {
        FaultsBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return admin_error(ApiError::json_error(e.to_string())),
        }
    };
    let d = Faults::default();
    let f = Faults {
        latency: b.latency_ms.map(Duration::from_millis),
        fail_next: b.fail_next,
        fail_status: b.fail_status.unwrap_or(d.fail_status),
        fail_code: b.fail_code.unwrap_or(d.fail_code),
        fail_method: b.fail_method,
        drop_next: b.drop_next,
        malformed_next: b.malformed_next,
    };
    if StatusCode::from_u16(f.fail_status).is_err() {
        return admin_error(ApiError::invalid_field(
            "fail_status",
            "is not an HTTP status",
        ));
    }
    let v = faults_json(&f);
    sh.set_faults(f);
    json_response(200, Some(&json!({ "faults": v })))
}

async fn admin_clear_faults(AxState(sh): AxState<Arc<Shared>>) -> Response {
    sh.set_faults(Faults::default());
    json_response(204, None)
}

async fn admin_requests(AxState(sh): AxState<Arc<Shared>>) -> Response {
    let (total, per) = sh.counters();
    json_response(200, Some(&json!({"total": total, "requests": per})))
}

async fn admin_reset_counters(AxState(sh): AxState<Arc<Shared>>) -> Response {
    sh.reset_counters();
    json_response(204, None)
}

async fn admin_patch(
    AxState(sh): AxState<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return admin_error(ApiError::not_found("server"));
    };
    let patch: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return admin_error(ApiError::json_error("patch must be a JSON object")),
        Err(e) => return admin_error(ApiError::json_error(e.to_string())),
    };
    let now = Utc::now();
    sh.with_state(|st| {
        if !st.servers.contains_key(&id) {
            return admin_error(ApiError::not_found("server"));
        }
        seed::patch_server(st, id, &patch);
        match st.servers.get(&id) {
            Some(s) => json_response(200, Some(&json!({"server": st.server_json(s, now)}))),
            None => admin_error(ApiError::not_found("server")),
        }
    })
}

/// Body of `POST /__sim/action-failures`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionFailuresBody {
    fail_next: u32,
    #[serde(default = "default_action_error_code")]
    code: String,
    #[serde(default = "default_action_error_message")]
    message: String,
}

fn default_action_error_code() -> String {
    "action_failed".into()
}

fn default_action_error_message() -> String {
    "Action failed (injected by the sim)".into()
}

async fn admin_action_failures(AxState(sh): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let b: ActionFailuresBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(ApiError::json_error(e.to_string())),
    };
    sh.with_state(|st| st.fail_next_actions(b.fail_next, &b.code, &b.message));
    json_response(
        200,
        Some(&json!({"fail_next": b.fail_next, "code": b.code, "message": b.message})),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    #[serde(default)]
    servers: usize,
    #[serde(default)]
    firewalls: usize,
}

/// Upper bound for one bulk seed request (memory safety).
const MAX_BULK: usize = 200_000;

async fn admin_seed(AxState(sh): AxState<Arc<Shared>>, body: Bytes) -> Response {
    let b: SeedBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(ApiError::json_error(e.to_string())),
    };
    if b.servers > MAX_BULK || b.firewalls > MAX_BULK {
        return admin_error(ApiError::invalid_field(
            "servers",
            format!("at most {MAX_BULK} per request"),
        ));
    }
    sh.with_state(|st| seed::bulk(st, b.servers, b.firewalls));
    json_response(
        200,
        Some(&json!({"servers": b.servers, "firewalls": b.firewalls})),
    )
}

/// Start a sim on `listen` (must be a loopback address; port 0 picks a free port) on the
/// current tokio runtime.
///
/// Errors: `InvalidInput` for a non-loopback address; bind errors; the record file cannot be
/// opened for appending.
pub async fn start(listen: SocketAddr, config: SimConfig) -> io::Result<SimHandle> {
    if !listen.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to listen on {listen}: the sim serves loopback addresses only \
                 (use 127.0.0.1 or ::1)"
            ),
        ));
    }
    let recorder = match &config.record {
        Some(p) => Some(Mutex::new(BufWriter::new(
            OpenOptions::new().create(true).append(true).open(p)?,
        ))),
        None => None,
    };
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let mut state = State::new(config.action_duration, config.max_servers);
    if config.seed == Seed::Demo {
        seed::demo(&mut state);
    }
    let capacity = f64::from(config.rate_limit);
    let shared = Arc::new(Shared {
        token: config.token.clone(),
        addr,
        state: Mutex::new(state),
        bucket: Mutex::new(Bucket {
            capacity,
            refill: config.refill_per_second.max(0.0),
            tokens: capacity,
            last: Instant::now(),
        }),
        faults: Mutex::new(Faults::default()),
        counters: Mutex::new((0, BTreeMap::new())),
        recorder,
    });
    let app = Router::new()
        .route(
            "/__sim/faults",
            post(admin_set_faults).delete(admin_clear_faults),
        )
        .route("/__sim/requests", get(admin_requests))
        .route("/__sim/reset-counters", post(admin_reset_counters))
        .route("/__sim/servers/{id}/patch", post(admin_patch))
        .route("/__sim/seed", post(admin_seed))
        .route("/__sim/action-failures", post(admin_action_failures))
        .fallback(v1)
        .with_state(shared.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!("sim: server stopped with an error: {e}");
        }
    });
    Ok(SimHandle {
        shared,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
