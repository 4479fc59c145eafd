//! A headless command's or the dashboard's session: the store opened for the mode, the Hetzner
//! client, the worker started on them, the first (store-only or synced) snapshot, and the stop.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use super::output::Failure;
use crabglamp::config::{Config, Paths};
use crabglamp::hetzner::Client;
use crabglamp::protocol::wire::Welcome;
use crabglamp::protocol::{Effect, Mode, Snapshot, WorkerEvent};
use crabglamp::store::{Store, StoreError};
use crabglamp::worker::{self, WorkerConfig, WorkerHandle};

/// Token the in-process demo sim accepts (not a secret: it only opens a loopback fake).
pub(super) const DEMO_TOKEN: &str = "demo-token";

/// How long each demo sim action runs: long enough to watch progress, short enough to wait for.
const DEMO_ACTION_DURATION: Duration = Duration::from_millis(1500);

/// How long to wait for the worker to stop after [`Effect::Shutdown`].
const WORKER_STOP_WAIT: Duration = Duration::from_secs(2);

/// A service to attach to instead of opening the store.
#[derive(Debug, Clone)]
pub(super) struct AttachTarget {
    /// The socket.
    pub(super) socket: std::path::PathBuf,
    /// What the service said when it was probed.
    pub(super) welcome: Welcome,
    /// This client's `--read-only`: its changes are refused before they are sent.
    pub(super) read_only: bool,
}

/// Everything the modes share once the store is open (embedded) or the service answered
/// (attached: `store` and `client` are `None`, `attach` is set).
pub(super) struct Session {
    pub(super) mode: Mode,
    pub(super) read_only: bool,
    pub(super) store: Option<Store>,
    pub(super) client: Option<Client>,
    pub(super) attach: Option<AttachTarget>,
    pub(super) config: Config,
    /// The in-process demo sim, kept alive for the session.
    pub(super) sim: Option<crabglamp::sim::SimHandle>,
    /// Keeps the non-blocking log writer flushing until the end.
    pub(super) _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Opens the mode's database. Demo mode wipes and reseeds its own database on every start (so
/// demo always looks the same); it is first opened as-is so that a demo console already
/// running on the same data directory is reported as "in use" instead of being wiped.
pub(super) fn open_store(paths: &Paths, mode: Mode) -> Result<Store, Failure> {
    private_data_dir(&paths.data_dir)?;
    match mode {
        Mode::Live => Ok(Store::open(&paths.live_db)?),
        Mode::Demo => {
            let db = &paths.demo_db;
            if db.exists() {
                match Store::open(db) {
                    Ok(store) => drop(store),
                    Err(e @ StoreError::InUse { .. }) => return Err(e.into()),
                    // Anything else (a newer schema, corruption) is wiped below: it is demo data.
                    Err(_) => {}
                }
                std::fs::remove_dir_all(db).map_err(|e| {
                    Failure(format!("cannot reset demo database {}: {e}", db.display()))
                })?;
            }
            Ok(Store::open(db)?)
        }
    }
}

/// Creates the data directory 0700, or tightens an existing one to 0700 (with one log line):
/// only the directory itself, not what else an operator keeps in it; the databases in it are
/// tightened by [`Store::open`].
///
/// Errors: the directory cannot be created or its mode set.
pub(super) fn private_data_dir(dir: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let before = std::fs::metadata(dir)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777);
    crabglamp::store::files::private_dir(dir)
        .map_err(|e| Failure(format!("data directory {}: {e}", dir.display())))?;
    if let Some(mode) = before.filter(|m| *m != crabglamp::store::files::DIR_MODE) {
        tracing::warn!(dir = %dir.display(), was = format!("{mode:o}"), "data directory was open to others; tightened to 0700");
    }
    Ok(())
}

/// Logs to `log_file` through a non-blocking writer (never to the terminal); `log` records
/// (sled's) are forwarded to `tracing`. Level from `RUST_LOG`, default `info`. Returns `None`
/// (no logging) when the file cannot be opened or a subscriber is already set.
pub(super) fn init_logging(log_file: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::util::SubscriberInitExt;
    let dir = log_file.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .ok()?;
    // The log names VMs, accounts and operators: private like the store.
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(
            crabglamp::store::files::FILE_MODE,
        ));
    }
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sled=warn,hyper=warn,reqwest=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .finish()
        .try_init()
        .ok()?;
    Some(guard)
}

/// The Hetzner client of a mode: live against `HCLOUD_ENDPOINT`, the config's `endpoint` or
/// Hetzner's, with `token`; demo against a fresh in-process sim seeded with the demo data
/// (kept alive by the returned handle), whose records `store` gets.
///
/// Errors: the client cannot be built, or the demo sim cannot start or be seeded.
pub(super) async fn hetzner_client(
    mode: Mode,
    token: Option<(String, crabglamp::config::TokenSource)>,
    config: &Config,
    store: &Store,
    now: Option<DateTime<Utc>>,
) -> Result<(Client, Option<crabglamp::sim::SimHandle>), Failure> {
    use crabglamp::hetzner::{DEFAULT_ENDPOINT, Token};
    match (mode, token) {
        (Mode::Live, Some((token, source))) => {
            let endpoint = std::env::var("HCLOUD_ENDPOINT")
                .ok()
                .filter(|e| !e.trim().is_empty())
                .or_else(|| config.endpoint.clone())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
            tracing::info!(%endpoint, token_source = %source, "live mode");
            Ok((Client::new(endpoint, Token::new(token))?, None))
        }
        _ => {
            let sim = start_demo(store, now.unwrap_or_else(Utc::now)).await?;
            let client = Client::new(sim.endpoint(), Token::new(DEMO_TOKEN))?;
            Ok((client, Some(sim)))
        }
    }
}

/// Starts the in-process demo sim on a loopback port, seeds it with the demo servers and
/// firewalls, then seeds the (fresh) demo store with the matching records (Hetzner ids as the
/// sim assigned them).
pub(super) async fn start_demo(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<crabglamp::sim::SimHandle, Failure> {
    use crabglamp::sim::{Seed, SimConfig};
    let mut data = crabglamp::demo::generate(now);
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = crabglamp::sim::start(
        addr,
        SimConfig {
            token: DEMO_TOKEN.into(),
            seed: Seed::Empty,
            action_duration: DEMO_ACTION_DURATION,
            ..SimConfig::default()
        },
    )
    .await
    .map_err(|e| Failure(format!("cannot start the demo API on 127.0.0.1: {e}")))?;
    let ids = crabglamp::demo::seed_sim(&sim, &data).await;
    data.apply_hetzner_ids(&ids);
    crabglamp::demo::seed_store(store, &data)
        .map_err(|e| Failure(format!("seeding the demo database: {e}")))?;
    tracing::info!(endpoint = %sim.endpoint(), "demo API started");
    Ok(sim)
}

/// The operator of this process as the kernel names it (its real uid's user name): the
/// audit actor of an embedded console. Attached, the service names the caller itself.
pub(super) fn actor() -> String {
    crabglamp::service::identity::own_user_name()
}

/// The worker configuration of an embedded session or a service on `store` with `client`.
pub(super) fn worker_config(
    config: &Config,
    mode: Mode,
    read_only: bool,
    store: Store,
    client: Client,
) -> (WorkerConfig, worker::lifecycle::LifecycleSettings) {
    let lifecycle = worker::lifecycle::LifecycleSettings {
        server_types: config.server_types.clone(),
        ..Default::default()
    };
    (
        WorkerConfig {
            client,
            store,
            mode,
            read_only,
            sync_interval: Duration::from_secs(config.sync_interval_seconds),
            actor: actor(),
            usage: worker::usage::UsageSettings::from_config(config),
        },
        lifecycle,
    )
}

/// The client-reported origin of this console's operator: the address in `SSH_CONNECTION`.
pub(super) fn origin() -> Option<String> {
    std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|v| worker::lifecycle::ssh_origin(&v))
}

/// Starts the session's worker: the embedded one on the store, or a connection to the
/// service (`reconnect` for the dashboard) that behaves the same.
///
/// Errors: attached, the service could not be reached or refused.
pub(super) async fn spawn_worker_with(
    s: &Session,
    reconnect: bool,
) -> Result<WorkerHandle, Failure> {
    match (&s.attach, &s.store, &s.client) {
        (Some(target), _, _) => {
            let (handle, _welcome) = crabglamp::service::client::attach(
                &target.socket,
                origin(),
                reconnect,
                target.read_only,
            )
            .await?;
            Ok(handle)
        }
        (None, Some(store), Some(client)) => {
            let (cfg, lifecycle) = worker_config(
                &s.config,
                s.mode,
                s.read_only,
                store.clone(),
                client.clone(),
            );
            Ok(worker::spawn_with(cfg, lifecycle))
        }
        _ => Err(Failure("no store and no service".into())),
    }
}

impl Session {
    /// The live and deleted Vault entries of `account`: from the store, or attached from
    /// the service's snapshot.
    pub(super) async fn vault(
        &self,
        account: &str,
    ) -> Result<Vec<crabglamp::domain::VaultEntry>, Failure> {
        if let Some(store) = &self.store {
            return Ok(store.vault(Some(account))?);
        }
        let snapshot = self.service_snapshot().await?;
        Ok(snapshot
            .vault
            .iter()
            .filter(|e| e.account == account)
            .cloned()
            .collect())
    }

    /// The service's current snapshot (one short connection).
    pub(super) async fn service_snapshot(&self) -> Result<Snapshot, Failure> {
        let mut handle = spawn_worker(self).await?;
        let snapshot = store_snapshot(&mut handle.events).await;
        stop(&handle.effects, Some(handle.join), None).await;
        snapshot
    }
}

/// [`spawn_worker_with`] for a headless command (no reconnection).
pub(super) async fn spawn_worker(s: &Session) -> Result<WorkerHandle, Failure> {
    spawn_worker_with(s, false).await
}

/// Sends [`Effect::Shutdown`] and waits briefly for the worker, then stops the demo sim.
pub(super) async fn stop(
    effects: &UnboundedSender<Effect>,
    join: Option<JoinHandle<()>>,
    sim: Option<crabglamp::sim::SimHandle>,
) {
    let _ = effects.send(Effect::Shutdown);
    if let Some(join) = join
        && tokio::time::timeout(WORKER_STOP_WAIT, join).await.is_err()
    {
        tracing::warn!("worker did not stop in time");
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
}

/// When the last successful sync was, as the worker stored it (in any earlier session), so the
/// status bar does not say "never synced" before this session's first sync. `None` when there
/// was none or the stored value does not read (RFC 3339, UTC).
pub(super) fn stored_last_sync(store: &Store) -> Option<DateTime<Utc>> {
    let text = store.meta_get(worker::LAST_SYNC_META_KEY).ok().flatten()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Waits for the first sync to end: the last snapshot on success, the error line otherwise.
pub(super) async fn first_sync(
    events: &mut UnboundedReceiver<WorkerEvent>,
) -> Result<Snapshot, Failure> {
    let mut last: Option<Snapshot> = None;
    while let Some(event) = events.recv().await {
        match event {
            WorkerEvent::Snapshot(s) => last = Some(*s),
            WorkerEvent::SyncOk { .. } => {
                return last.ok_or_else(|| Failure("no data after the sync".into()));
            }
            WorkerEvent::ServiceLost { error } => {
                return Err(Failure(format!("lost the service: {error}")));
            }
            WorkerEvent::SyncFailed { error, offline } => {
                return Err(Failure(if offline {
                    format!("Hetzner API unreachable: {error}")
                } else {
                    format!("sync failed: {error}")
                }));
            }
            _ => {}
        }
    }
    Err(Failure("the worker stopped unexpectedly".into()))
}

/// Waits for the worker's first (store-only) snapshot.
pub(super) async fn store_snapshot(
    events: &mut UnboundedReceiver<WorkerEvent>,
) -> Result<Snapshot, Failure> {
    while let Some(event) = events.recv().await {
        match event {
            WorkerEvent::Snapshot(s) => return Ok(*s),
            WorkerEvent::SyncFailed { error, .. } if error.starts_with("store:") => {
                return Err(Failure(error));
            }
            WorkerEvent::ServiceLost { error } => {
                return Err(Failure(format!("lost the service: {error}")));
            }
            _ => {}
        }
    }
    Err(Failure("the worker stopped unexpectedly".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sync_of_an_earlier_session_is_read_from_the_store() {
        let store = Store::open_temporary().unwrap();
        assert_eq!(stored_last_sync(&store), None);
        store
            .meta_set(worker::LAST_SYNC_META_KEY, "2026-11-30T07:30:00+00:00")
            .unwrap();
        assert_eq!(
            stored_last_sync(&store).map(|t| t.to_rfc3339()),
            Some("2026-11-30T07:30:00+00:00".to_string())
        );
        store
            .meta_set(worker::LAST_SYNC_META_KEY, "yesterday")
            .unwrap();
        assert_eq!(stored_last_sync(&store), None);
    }
}
