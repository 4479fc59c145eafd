//! `crabglamp serve`: the team service (src/service/mod.rs) on this run's store.
//!
//! Start-up: the socket path (`--socket`, `CRABGLAMP_SOCKET`, config `socket`, else
//! `$XDG_RUNTIME_DIR/crabglamp/crabglamp.sock`, a personal service), the store opened as the
//! console opens it (a second service or a console on the same store is refused in one line),
//! logging to `serve.log` beside the console's log (to stderr under systemd), the worker, then
//! the socket. SIGTERM or SIGINT stops it: no new connections, the worker finishes its store
//! write and flushes, the socket file is removed.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};

use super::Cli;
use super::output::Failure;
use super::session::{hetzner_client, open_store, stored_last_sync, worker_config};
use crabglamp::config::{self, Config, Paths};
use crabglamp::protocol::Mode;
use crabglamp::service::{self, ServeOptions, identity};

/// Logs to stderr when systemd runs the service (it sets `INVOCATION_ID`, and
/// `JOURNAL_STREAM` when stderr is the journal), else to `serve.log` in the log directory.
fn init_serve_logging(paths: &Paths) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sled=warn,hyper=warn,reqwest=warn"))
    };
    if std::env::var_os("INVOCATION_ID").is_some() || std::env::var_os("JOURNAL_STREAM").is_some() {
        let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(writer)
            .with_ansi(false)
            .without_time()
            .finish()
            .try_init()
            .ok()?;
        return Some(guard);
    }
    let file = paths.log_file.with_file_name("serve.log");
    super::session::init_logging(&file)
}

/// Runs the service until SIGTERM or SIGINT. Errors are one line (exit 1).
pub(super) async fn run(
    cli: &Cli,
    paths: Paths,
    config: Config,
    config_file: PathBuf,
) -> Result<ExitCode, Failure> {
    let (socket, personal) = match (cli.socket.clone(), config.socket.clone()) {
        (Some(p), _) | (None, Some(p)) => (p, false),
        (None, None) => match super::default_socket() {
            Some(p) => (p, true),
            None => {
                return Err(Failure(
                    "no socket: give --socket PATH (or set `socket` in the config, or \
                     XDG_RUNTIME_DIR for a personal service)"
                        .into(),
                ));
            }
        },
    };
    let env_token = std::env::var("HCLOUD_TOKEN").ok();
    let token = config::resolve_token(env_token, None, &config);
    // A team's service never falls back to fake data: demo only when asked for.
    if token.is_none() && !cli.demo {
        return Err(Failure(
            "no Hetzner API token: set HCLOUD_TOKEN (or `token` in the config), or run \
             `crabglamp serve --demo` for a service on fake demo data"
                .into(),
        ));
    }
    let mode = if cli.demo { Mode::Demo } else { Mode::Live };
    // Logging first: opening the store may log (a loose store tightened to 0700/0600).
    let log_guard = init_serve_logging(&paths);
    let store = open_store(&paths, mode)?;
    super::audit::attach(&store, &paths, &config, mode)?;
    for w in &config.warnings {
        tracing::warn!(warning = %w, "config");
    }
    let (client, sim) = hetzner_client(mode, token, &config, &store, cli.now).await?;
    let listener = service::bind(&socket, personal).await?;
    let service_user = identity::own_user_name();
    let opts = ServeOptions {
        socket: socket.clone(),
        access: config.access.clone(),
        service_user: service_user.clone(),
        host: host_name(),
        mode,
        read_only: cli.read_only,
        last_sync: stored_last_sync(&store),
        config_file,
    };
    for entry in config
        .access
        .operators
        .iter()
        .chain(config.access.readers.iter())
    {
        if !identity::names_someone(entry) {
            tracing::warn!(%entry, "[access] names no user or group of this host");
        }
    }
    if !config.access.configured {
        tracing::info!(user = %service_user, "no [access] table: the service's own user is its only operator");
    }
    let (cfg, lifecycle) = worker_config(&config, mode, cli.read_only, store.clone(), client);
    let worker = crabglamp::worker::spawn_service(cfg, lifecycle);
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Failure(format!("installing the SIGTERM handler: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| Failure(format!("installing the SIGINT handler: {e}")))?;
    eprintln!(
        "crabglamp serve: listening on {} ({} mode, store {}); SIGTERM or Ctrl-C stops",
        socket.display(),
        match mode {
            Mode::Live => "live",
            Mode::Demo => "demo",
        },
        store
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    let stop = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    };
    service::serve(listener, worker, opts, stop).await;
    drop(store);
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    drop(log_guard);
    Ok(ExitCode::SUCCESS)
}

/// This host's name (`/etc/hostname`'s first line, else `localhost`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
