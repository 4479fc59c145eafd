//! The one harness for the integration tests that run the fake Hetzner API
//! (`crabglamp::sim`), a store and the worker.
//!
//! [`Harness::start`] brings up sim + store + worker in one call; [`Harness::new`] stops
//! before the worker, for tests that seed the sim or the store first ([`Harness::spawn`]
//! then starts it). A [`Worker`] waits for events under a guard and is shut down when
//! dropped. The fixtures several test files used to copy — the real binary with a clean
//! environment ([`cli`]), temporary directories ([`Dirs`]), demo accounts, output checks,
//! label maps — live here once.
//!
//! Every call into `src/` that the tests' set-up depends on (`sim::start`,
//! `worker::spawn_with`, `WorkerConfig`, `LifecycleSettings`, `Store::open`, the client
//! builder, the worker handle's channels) is made in exactly one place in this file: when
//! one of those changes, this file is the one to adapt.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use chrono::Utc;
use crabglamp::domain::{
    Account, AccountKind, BillingType, ImageKey, Region, Tier, VaultEntry, labels,
};
use crabglamp::hetzner::{Client, ClientBuilder, Token};
use crabglamp::protocol::{Effect, Mode, ProvisionRequest, WorkerEvent};
use crabglamp::sim::{self, SimConfig, SimHandle};
use crabglamp::store::Store;
use crabglamp::worker::lifecycle::LifecycleSettings;
use crabglamp::worker::{self, WorkerConfig, WorkerHandle};
use tempfile::TempDir;
use uuid::Uuid;

/// Upper bound on waiting for one event or a shutdown: a guard against a hung test, not a
/// timing assertion.
pub const GUARD: Duration = Duration::from_secs(60);

/// The bearer token the sim accepts by default ([`SimConfig::default`]).
pub const TOKEN: &str = "sim-token";

/// The real binary, built by Cargo for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_crabglamp");

/// What a test wants from its sim, store and worker. [`Options::default`]: 100 ms actions,
/// the sim's own limits, an empty store, a live-mode worker that may change things, actor
/// `test`.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long each sim action runs before it ends `success`.
    pub action_duration: Duration,
    /// Most servers the sim's project may hold; more → `403 resource_limit_exceeded`.
    pub max_servers: usize,
    /// The sim's rate-limit bucket capacity, in requests.
    pub rate_limit: u32,
    /// The sim's bucket refill, in requests per second.
    pub refill_per_second: f64,
    /// Seed the store with the demo accounts (acme, globex, initech: organizations; alice:
    /// personal) and their Vault keys before the worker starts.
    pub demo_accounts: bool,
    /// The worker refuses every mutating effect (`--read-only`).
    pub read_only: bool,
    /// The operator recorded as the actor of audit events.
    pub actor: &'static str,
    /// Live or demo (the worker only logs it).
    pub mode: Mode,
}

impl Default for Options {
    fn default() -> Self {
        let sim = SimConfig::default();
        Options {
            action_duration: Duration::from_millis(100),
            max_servers: sim.max_servers,
            rate_limit: sim.rate_limit,
            refill_per_second: sim.refill_per_second,
            demo_accounts: false,
            read_only: false,
            actor: "test",
            mode: Mode::Live,
        }
    }
}

impl Options {
    /// The sim's configuration for these options.
    pub fn sim_config(&self) -> SimConfig {
        SimConfig {
            action_duration: self.action_duration,
            max_servers: self.max_servers,
            rate_limit: self.rate_limit,
            refill_per_second: self.refill_per_second,
            ..SimConfig::default()
        }
    }
}

/// A running sim, a store in a temporary directory, and the options a worker is spawned with.
///
/// No `Drop` of its own: a test may move fields out (e.g. `sim` to shut it down). The store
/// is `live.db` in [`Harness::dir`]; tests that run the real binary use [`Dirs`] instead, so
/// that the binary can open its own store.
pub struct Harness {
    /// The fake Hetzner API on 127.0.0.1.
    pub sim: SimHandle,
    /// The store the worker writes (`live.db` in [`Harness::dir`]).
    pub store: Store,
    /// The temporary directory; removed when the harness is dropped.
    pub dir: TempDir,
    /// What this harness was started with; [`Harness::spawn`] uses it.
    pub options: Options,
}

impl Harness {
    /// Sim + store (seeded as `options` says), no worker yet: seed the sim or the store, then
    /// [`Harness::spawn`] (or take them with [`Harness::into_parts`] and call [`spawn`]).
    pub async fn new(options: Options) -> Harness {
        let dir = TempDir::new().unwrap();
        let sim = start_sim(options.sim_config()).await;
        let store = open_store(&dir.path().join("live.db"));
        if options.demo_accounts {
            add_demo_accounts(&store);
        }
        Harness {
            sim,
            store,
            dir,
            options,
        }
    }

    /// Sim + store + worker in one call.
    pub async fn start(options: Options) -> (Harness, Worker) {
        let h = Harness::new(options).await;
        let w = h.spawn();
        (h, w)
    }

    /// A worker on this harness's sim and store, as [`Harness::options`] say.
    pub fn spawn(&self) -> Worker {
        spawn(&self.sim, &self.store, &self.options)
    }

    /// The sim, the store and the directory, owned (keep the directory alive: dropping it
    /// removes the store's files).
    pub fn into_parts(self) -> (SimHandle, Store, TempDir) {
        (self.sim, self.store, self.dir)
    }

    /// Stops the sim (the worker, if any, is shut down by its own [`Worker::shutdown`]).
    pub async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

/// Starts a sim on 127.0.0.1 with a free port.
pub async fn start_sim(config: SimConfig) -> SimHandle {
    start_sim_at(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
}

/// Starts a sim on `addr` (to bring one back on the port of a stopped one).
pub async fn start_sim_at(addr: SocketAddr, config: SimConfig) -> SimHandle {
    sim::start(addr, config).await.expect("sim starts")
}

/// A client builder for `sim`: its endpoint and the default token, nothing else set.
pub fn client_builder(sim: &SimHandle) -> ClientBuilder {
    Client::builder()
        .endpoint(sim.endpoint())
        .token(Token::new(TOKEN))
}

/// A client of `sim` as the worker gets it: 10 s timeout, 2 s connect timeout, 50 ms action
/// polling, no retries.
pub fn client(sim: &SimHandle) -> Client {
    client_builder(sim)
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(50))
        .max_attempts(1)
        .build()
        .unwrap()
}

/// Opens (or creates) the store at `path`.
pub fn open_store(path: &Path) -> Store {
    Store::open(path).unwrap()
}

/// A store in a temporary file, removed when dropped.
pub fn temporary_store() -> Store {
    Store::open_temporary().unwrap()
}

/// Spawns a worker on `sim` and `store`: syncs only when asked (and at start-up), lifecycle
/// polling at 50–200 ms with a 30 s operation timeout.
pub fn spawn(sim: &SimHandle, store: &Store, options: &Options) -> Worker {
    let handle = worker::spawn_with(
        WorkerConfig {
            client: client(sim),
            store: store.clone(),
            mode: options.mode,
            read_only: options.read_only,
            // Long: the tests drive syncs with Refresh (and the start-up sync).
            sync_interval: Duration::from_secs(3600),
            actor: options.actor.into(),
            usage: Default::default(),
        },
        LifecycleSettings {
            poll_interval: Duration::from_millis(50),
            poll_max_interval: Duration::from_millis(200),
            operation_timeout: Duration::from_secs(30),
            ..LifecycleSettings::default()
        },
    );
    Worker {
        handle: Some(handle),
    }
}

/// A running worker. Dropping it sends [`Effect::Shutdown`]; [`Worker::shutdown`] also waits.
#[derive(Debug)]
pub struct Worker {
    handle: Option<WorkerHandle>,
}

impl Worker {
    fn handle(&mut self) -> &mut WorkerHandle {
        self.handle.as_mut().expect("worker not shut down")
    }

    /// Sends `effect`; panics if the worker has stopped.
    pub fn send(&self, effect: Effect) {
        let h = self.handle.as_ref().expect("worker not shut down");
        h.effects.send(effect).expect("worker still running");
    }

    /// The next event, within [`GUARD`].
    pub async fn next(&mut self) -> WorkerEvent {
        tokio::time::timeout(GUARD, self.handle().events.recv())
            .await
            .expect("worker event within the guard time")
            .expect("worker still running")
    }

    /// Receives events until `pred` matches one; returns every event seen, that one last.
    pub async fn until(&mut self, mut pred: impl FnMut(&WorkerEvent) -> bool) -> Vec<WorkerEvent> {
        let mut seen = Vec::new();
        loop {
            let ev = self.next().await;
            let done = pred(&ev);
            seen.push(ev);
            if done {
                return seen;
            }
        }
    }

    /// The events up to the end of the next successful sync (the first one, right after a
    /// spawn).
    pub async fn first_sync(&mut self) -> Vec<WorkerEvent> {
        self.until(is_sync_ok).await
    }

    /// Sends [`Effect::Shutdown`] and waits (within [`GUARD`]) for the worker to end; panics
    /// if it does not, or if it panicked.
    pub async fn shutdown(mut self) {
        let h = self.handle.take().expect("worker not shut down");
        let _ = h.effects.send(Effect::Shutdown);
        tokio::time::timeout(GUARD, h.join)
            .await
            .expect("worker ends within the guard time")
            .expect("worker did not panic");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.effects.send(Effect::Shutdown);
        }
    }
}

/// A successful sync ended.
pub fn is_sync_ok(e: &WorkerEvent) -> bool {
    matches!(e, WorkerEvent::SyncOk { .. })
}

/// A lifecycle operation ended: provisioned, done, failed or refused.
pub fn is_final(e: &WorkerEvent) -> bool {
    matches!(
        e,
        WorkerEvent::Provisioned(_)
            | WorkerEvent::OperationDone { .. }
            | WorkerEvent::OperationFailed { .. }
            | WorkerEvent::Refused { .. }
    )
}

// ---------------------------------------------------------------------------------------------
// Store and request fixtures

/// Adds the demo accounts (acme, globex, initech: organizations; alice: personal) and their
/// Vault keys to `store`.
pub fn add_demo_accounts(store: &Store) {
    let data = crabglamp::demo::generate(Utc::now());
    for a in &data.accounts {
        store.add_account(a).unwrap();
    }
    for k in &data.vault {
        store.put_vault_entry(k).unwrap();
    }
}

/// Adds the organization account `slug`, created now.
pub fn add_org(store: &Store, slug: &str) {
    store
        .add_account(&Account {
            slug: slug.into(),
            kind: AccountKind::Organization,
            created_at: Utc::now(),
        })
        .unwrap();
}

/// The Vault keys of `account` that are not deleted.
pub fn keys_of(store: &Store, account: &str) -> Vec<VaultEntry> {
    store
        .vault(Some(account))
        .unwrap()
        .into_iter()
        .filter(|k| k.deleted_at.is_none())
        .collect()
}

/// A request for a small Debian 12 VM in the EU, billed by subscription, no one-time
/// password.
pub fn provision_request(name: &str, account: &str, key_ids: Vec<Uuid>) -> ProvisionRequest {
    ProvisionRequest {
        name: name.into(),
        account: account.into(),
        region: Region::Eu,
        tier: Tier::Small,
        image: ImageKey::Debian12,
        billing_type: BillingType::Subscription,
        key_ids,
        one_time_password: false,
    }
}

/// A label map from pairs.
pub fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The six labels of a managed VM (ids and values as Hetzner holds them, e.g. `debian-12`).
pub fn vm_labels(
    vm_id: &str,
    account: &str,
    tier: &str,
    region: &str,
    image: &str,
    billing_type: &str,
) -> BTreeMap<String, String> {
    label_map(&[
        (labels::VM_ID, vm_id),
        (labels::ACCOUNT, account),
        (labels::TIER, tier),
        (labels::REGION, region),
        (labels::IMAGE, image),
        (labels::BILLING_TYPE, billing_type),
    ])
}

// ---------------------------------------------------------------------------------------------
// The real binary

/// A temporary directory with an empty `home/` and a `data/` path (not created).
pub struct Dirs {
    /// Removed when dropped.
    pub tmp: TempDir,
    /// `$HOME` of the runs.
    pub home: PathBuf,
    /// `--data-dir` of the runs.
    pub data: PathBuf,
}

impl Dirs {
    /// Creates the directory and `home/`.
    pub fn create() -> Dirs {
        let tmp = TempDir::new().unwrap();
        let home = tmp.path().join("home");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&home).unwrap();
        Dirs { tmp, home, data }
    }
}

/// The real binary with a clean environment: no token, endpoint, hcloud CLI config,
/// `SSH_CONNECTION`, `RUST_LOG` or `CRABGLAMP_SOCKET`; `HOME` and the XDG directories
/// (`XDG_RUNTIME_DIR` too, so no personal service of the machine is found) under `home`;
/// `--data-dir data`. Later `.env(…)` calls override.
pub fn cli(home: &Path, data: &Path) -> tokio::process::Command {
    tokio::process::Command::from(cli_blocking(home, data))
}

/// [`cli`] as a blocking `std::process::Command`, for tests without a runtime.
pub fn cli_blocking(home: &Path, data: &Path) -> std::process::Command {
    let mut c = cli_blocking_home(home);
    c.arg("--data-dir").arg(data);
    c
}

/// [`cli_blocking`] without `--data-dir`: the data directory is the default one under `home`
/// (and a personal service's socket under `home/run` is looked for).
pub fn cli_blocking_home(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.env_remove("HCLOUD_TOKEN")
        .env_remove("HCLOUD_ENDPOINT")
        .env_remove("HCLOUD_CONFIG")
        .env_remove("SSH_CONNECTION")
        .env_remove("RUST_LOG")
        .env_remove("CRABGLAMP_SOCKET")
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"));
    c
}

/// [`cli`] in live mode against `sim` (`HCLOUD_TOKEN`, `HCLOUD_ENDPOINT`).
pub fn cli_against(sim: &SimHandle, home: &Path, data: &Path) -> tokio::process::Command {
    let mut c = cli(home, data);
    c.env("HCLOUD_TOKEN", TOKEN)
        .env("HCLOUD_ENDPOINT", sim.endpoint());
    c
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a successful run; returns its stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts a failed run: exit status 1, nothing on stdout, exactly one line on stderr;
/// returns that line without its line end.
pub fn one_line_failure(out: &Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert_eq!(text(&out.stdout), "");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    err.trim_end().to_string()
}

/// [`one_line_failure`], and the line contains `needle`.
pub fn assert_one_line_failure(out: &Output, needle: &str) {
    let err = one_line_failure(out);
    assert!(err.contains(needle), "{needle:?} in {err:?}");
}

/// Every file under `dir` with its bytes (to look for secrets).
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out
}

/// Every file under `dir`, concatenated.
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    files_under(dir).into_iter().flat_map(|(_, b)| b).collect()
}

/// `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Opens the sled files directly, retrying briefly: a process another test just spawned may
/// hold the file lock for a moment until it execs (as `Store::open` does).
pub fn raw_open(path: &Path) -> sled::Db {
    let mut attempt = 0;
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) if attempt < 100 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("opening {}: {e}", path.display()),
        }
    }
}
