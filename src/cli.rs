//! Command line of the `crabglamp` binary: global flags, modes and headless commands.
//!
//! - No subcommand: the full-screen dashboard (live with a token, demo without one or with
//!   `--demo`).
//! - `vms [--json]`, `account list [--json]`, `account add SLUG --kind org|personal`: headless
//!   commands for scripts, driven through the same worker and store as the dashboard (issue 3
//!   item 10). Exit status 0 on success, 1 with one line on stderr otherwise.
//! - `vm create|start|stop|reboot|destroy|transfer|billing` and `audit list|verify|export`:
//!   headless lifecycle and audit commands (issue 4), in [`vm_cmds`].
//! - `sim`: the fake Hetzner Cloud API alone.
//!
//! Start-up order (issue 3): parse, load config, open the store (a store in use or of a newer
//! schema is one line on stderr and exit 1, before the terminal is touched), log to a file,
//! spawn the worker, then the dashboard or the headless command.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde::Serialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use unicode_width::UnicodeWidthStr;
use uuid::Uuid;

mod args;
mod firewall;
mod vault;

pub use args::{ArgsError, USAGE_EXIT, parse_from};

use crabglamp::config::{self, Config, Paths};
use crabglamp::domain::{Account, AccountKind};
use crabglamp::hetzner::{Client, DEFAULT_ENDPOINT, Token};
use crabglamp::sim::cli::SimArgs;
use crabglamp::store::{Store, StoreError};
use crabglamp::worker::protocol::{Effect, Mode, Snapshot, VmRow, WorkerEvent};
use crabglamp::worker::{self, WorkerConfig, WorkerHandle};

#[path = "cli_vm.rs"]
mod vm_cmds;

/// Token the in-process demo sim accepts (not a secret: it only opens a loopback fake).
const DEMO_TOKEN: &str = "demo-token";

/// How long each demo sim action runs: long enough to watch progress, short enough to wait for.
const DEMO_ACTION_DURATION: Duration = Duration::from_millis(1500);

/// How long to wait for the worker to stop after [`Effect::Shutdown`].
const WORKER_STOP_WAIT: Duration = Duration::from_secs(2);

/// CrabGlamp Plain VMs operator console (Hetzner Cloud).
#[derive(Parser)]
#[command(
    name = "crabglamp",
    version,
    about,
    after_help = "Environment:\n  HCLOUD_TOKEN     Hetzner Cloud API token (else the hcloud CLI's active context, \
                  else the config file; none: demo mode)\n  HCLOUD_ENDPOINT  API base URL (default \
                  https://api.hetzner.cloud/v1)\n  NO_COLOR         disable colours"
)]
pub struct Cli {
    /// Directory for the databases and the log file (default: the platform's data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Config file (TOML; default: the platform's config dir).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Refuse every mutating action.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Demo mode even when a token is configured: an in-process fake API with seeded data.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Test-only: the clock (RFC 3339, UTC) for demo data and `usage`, so tests get fixed
    /// output. Also from `CRABGLAMP_NOW`. Not for operators.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "CRABGLAMP_NOW",
        value_name = "RFC3339"
    )]
    pub now: Option<DateTime<Utc>>,
    /// What to do; none opens the dashboard.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Sync once and print the Plain VMs.
    Vms {
        /// An array of VM objects (camelCase field names) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Accounts (personal and organization).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Plain VM lifecycle: create, start, stop, reboot, destroy, transfer, billing type.
    /// In demo mode (no token) each invocation starts from fresh demo data, so a VM created by
    /// one command is gone for the next: use a standalone `crabglamp sim` with HCLOUD_TOKEN,
    /// HCLOUD_ENDPOINT and --data-dir for multi-step flows.
    #[command(subcommand)]
    Vm(vm_cmds::VmCommand),
    /// The audit log of destroys and transfers: list, verify the hash chain, export.
    #[command(subcommand)]
    Audit(vm_cmds::AuditCommand),
    /// Usage and cost per account, VM, tier or region over a period (UTC days).
    Usage(crate::cli_usage::UsageArgs),
    /// Run the fake Hetzner Cloud API on loopback.
    Sim(SimArgs),
    /// A VM's firewall rules: show, or replace from a file (issue 5).
    #[command(subcommand, about = "A VM's firewall rules: show, or replace from a file", long_about = None)]
    Firewall(firewall::FirewallCommand),
    /// The per-account SSH public key Vault: list, add, rm, exposure (issue 6).
    #[command(subcommand, about = "The per-account SSH public key Vault: list, add, rm, exposure", long_about = None)]
    Vault(vault::VaultCommand),
}

/// `account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Print all accounts.
    List {
        /// An array of account objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add an account.
    Add {
        /// Slug: lowercase letters, digits, hyphens (one namespace for both kinds).
        slug: String,
        /// `org` or `personal`.
        #[arg(long)]
        kind: AccountKind,
    },
}

/// An expected failure: printed as one line on stderr, exit status 1, no report.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Everything the modes share once the store is open.
struct Session {
    mode: Mode,
    read_only: bool,
    store: Store,
    client: Client,
    config: Config,
    /// The in-process demo sim, kept alive for the session.
    sim: Option<crabglamp::sim::SimHandle>,
    /// Keeps the non-blocking log writer flushing until the end.
    _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Runs every mode except `sim`. Returns the exit status; expected errors are one line.
pub async fn run(cli: Cli) -> ExitCode {
    match run_inner(cli).await {
        Ok(code) => code,
        Err(Failure(line)) => {
            eprintln!("crabglamp: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(cli: Cli) -> Result<ExitCode, Failure> {
    let paths = config::paths(cli.data_dir.as_deref(), cli.config.as_deref())?;
    let (config, _config_file) = config::load(cli.config.as_deref())?;
    let env_token = std::env::var("HCLOUD_TOKEN").ok();
    let token = config::resolve_token(env_token, None, &config);
    let mode = if cli.demo || token.is_none() {
        Mode::Demo
    } else {
        Mode::Live
    };

    let store = open_store(&paths, mode)?;
    let log_guard = init_logging(&paths.log_file);
    for w in &config.warnings {
        tracing::warn!(warning = %w, "config");
    }
    tracing::info!(?mode, read_only = cli.read_only, "starting");

    let (client, sim) = match (mode, token) {
        (Mode::Live, Some((token, source))) => {
            let endpoint = std::env::var("HCLOUD_ENDPOINT")
                .ok()
                .filter(|e| !e.trim().is_empty())
                .or_else(|| config.endpoint.clone())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
            tracing::info!(%endpoint, token_source = %source, "live mode");
            (Client::new(endpoint, Token::new(token))?, None)
        }
        _ => {
            let sim = start_demo(&store, cli.now.unwrap_or_else(Utc::now)).await?;
            let client = Client::new(sim.endpoint(), Token::new(DEMO_TOKEN))?;
            (client, Some(sim))
        }
    };

    let session = Session {
        mode,
        read_only: cli.read_only,
        store,
        client,
        config,
        sim,
        _log_guard: log_guard,
    };
    let code = match cli.command {
        None => dashboard(session).await?,
        Some(Command::Vms { json }) => headless_vms(session, json).await?,
        Some(Command::Account(AccountCommand::List { json })) => {
            headless_accounts(session, json).await?
        }
        Some(Command::Account(AccountCommand::Add { slug, kind })) => {
            headless_add_account(session, slug, kind).await?
        }
        Some(Command::Firewall(cmd)) => firewall::run(session, cmd).await?,
        Some(Command::Vault(cmd)) => vault::run(session, cmd).await?,
        Some(Command::Vm(command)) => vm_cmds::vm(session, command).await?,
        Some(Command::Audit(command)) => vm_cmds::audit(session, command).await?,
        Some(Command::Usage(args)) => {
            let (store, config) = (session.store.clone(), session.config.clone());
            let text =
                crate::cli_usage::run(store, config, args, cli.now.unwrap_or_else(Utc::now)).await;
            if let Some(sim) = session.sim {
                sim.shutdown().await;
            }
            print_out(&text?)?;
            ExitCode::SUCCESS
        }
        Some(Command::Sim(_)) => {
            return Err(Failure("the sim subcommand runs on its own".into()));
        }
    };
    Ok(code)
}

/// Opens the mode's database. Demo mode wipes and reseeds its own database on every start (so
/// demo always looks the same); it is first opened as-is so that a demo console already
/// running on the same data directory is reported as "in use" instead of being wiped.
fn open_store(paths: &Paths, mode: Mode) -> Result<Store, Failure> {
    std::fs::create_dir_all(&paths.data_dir).map_err(|e| {
        Failure(format!(
            "cannot create data directory {}: {e}",
            paths.data_dir.display()
        ))
    })?;
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

/// Logs to `log_file` through a non-blocking writer (never to the terminal); `log` records
/// (sled's) are forwarded to `tracing`. Level from `RUST_LOG`, default `info`. Returns `None`
/// (no logging) when the file cannot be opened or a subscriber is already set.
fn init_logging(log_file: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::util::SubscriberInitExt;
    let dir = log_file.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .ok()?;
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

/// Starts the in-process demo sim on a loopback port, seeds it with the demo servers and
/// firewalls, then seeds the (fresh) demo store with the matching records (Hetzner ids as the
/// sim assigned them).
async fn start_demo(
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

fn actor(config: &Config) -> String {
    worker::lifecycle::actor_from_env(config.operator.as_deref())
}

fn spawn_worker(s: &Session) -> WorkerHandle {
    let lifecycle = worker::lifecycle::LifecycleSettings {
        server_types: s.config.server_types.clone(),
        ..Default::default()
    };
    worker::spawn_with(
        WorkerConfig {
            client: s.client.clone(),
            store: s.store.clone(),
            mode: s.mode,
            read_only: s.read_only,
            sync_interval: Duration::from_secs(s.config.sync_interval_seconds),
            actor: actor(&s.config),
            usage: worker::usage::UsageSettings::from_config(&s.config),
        },
        lifecycle,
    )
}

/// Sends [`Effect::Shutdown`] and waits briefly for the worker, then stops the demo sim.
async fn stop(
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
fn stored_last_sync(store: &Store) -> Option<DateTime<Utc>> {
    let text = store.meta_get(worker::LAST_SYNC_META_KEY).ok().flatten()?;
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The full-screen dashboard.
async fn dashboard(session: Session) -> Result<ExitCode, Failure> {
    let handle = spawn_worker(&session);
    let WorkerHandle {
        effects,
        events,
        join,
    } = handle;
    let opts = crabglamp::ui::UiOptions {
        mode: session.mode,
        read_only: session.read_only,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        operator: actor(&session.config),
        last_sync: stored_last_sync(&session.store),
    };
    let mut join = join;
    let mut worker_ended = false;
    let ui = crabglamp::ui::run(opts, effects.clone(), events);
    tokio::pin!(ui);
    let result = loop {
        tokio::select! {
            r = &mut ui => break r,
            j = &mut join, if !worker_ended => {
                worker_ended = true;
                if let Err(e) = j {
                    // A panic in the worker is fatal (STACK.md): returning drops the dashboard,
                    // whose terminal guard restores the terminal before the line is printed.
                    tracing::error!(error = %e, "worker task failed");
                    return Err(Failure(format!("the background worker failed: {e}")));
                }
            }
        }
    };
    stop(&effects, (!worker_ended).then_some(join), session.sim).await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(report) => {
            tracing::error!(error = ?report, "dashboard failed");
            Err(Failure(format!("{report:#}")))
        }
    }
}

/// Waits for the first sync to end: the last snapshot on success, the error line otherwise.
async fn first_sync(events: &mut UnboundedReceiver<WorkerEvent>) -> Result<Snapshot, Failure> {
    let mut last: Option<Snapshot> = None;
    while let Some(event) = events.recv().await {
        match event {
            WorkerEvent::Snapshot(s) => last = Some(*s),
            WorkerEvent::SyncOk { .. } => {
                return last.ok_or_else(|| Failure("no data after the sync".into()));
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
async fn store_snapshot(events: &mut UnboundedReceiver<WorkerEvent>) -> Result<Snapshot, Failure> {
    while let Some(event) = events.recv().await {
        match event {
            WorkerEvent::Snapshot(s) => return Ok(*s),
            WorkerEvent::SyncFailed { error, .. } if error.starts_with("store:") => {
                return Err(Failure(error));
            }
            _ => {}
        }
    }
    Err(Failure("the worker stopped unexpectedly".into()))
}

/// One VM as `vms --json` prints it (CrabGlamp's field names in camelCase: SPEC.md §2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VmJson {
    id: Uuid,
    name: String,
    account: String,
    tier: String,
    region: String,
    image: String,
    billing_type: String,
    status: String,
    ipv4: Option<String>,
    ipv6: Option<String>,
    created_at: DateTime<Utc>,
    provisioned_at: Option<DateTime<Utc>>,
    destroyed_at: Option<DateTime<Utc>>,
    server_type: String,
    hetzner_server_id: Option<i64>,
    hetzner_firewall_id: Option<i64>,
    hetzner_status: Option<String>,
    location: Option<String>,
    cores: Option<u32>,
    memory_gb: Option<f64>,
    disk_gb: Option<u64>,
    default_user: String,
    vault_key_ids: Vec<Uuid>,
    managed: bool,
}

impl From<&VmRow> for VmJson {
    fn from(row: &VmRow) -> Self {
        let r = &row.record;
        VmJson {
            id: r.id,
            name: r.name.clone(),
            account: r.account.clone(),
            tier: r.tier.to_string(),
            region: r.region.to_string(),
            image: r.image.to_string(),
            billing_type: r.billing_type.to_string(),
            status: r.status.to_string(),
            ipv4: r.ipv4.clone(),
            ipv6: r.ipv6.clone(),
            created_at: r.created_at,
            provisioned_at: r.provisioned_at,
            destroyed_at: r.destroyed_at,
            server_type: r.server_type.clone(),
            hetzner_server_id: r.hetzner_server_id,
            hetzner_firewall_id: r.hetzner_firewall_id,
            hetzner_status: row.hetzner_status.clone(),
            location: row.location.clone(),
            cores: row.cores,
            memory_gb: row.memory_gb,
            disk_gb: row.disk_gb,
            default_user: r.image.default_user().to_string(),
            vault_key_ids: r.keys.iter().map(|k| k.vault_key_id).collect(),
            managed: row.managed,
        }
    }
}

fn sorted_rows(snapshot: &Snapshot) -> Vec<&VmRow> {
    let mut rows: Vec<&VmRow> = snapshot.vms.iter().collect();
    rows.sort_by(|a, b| {
        (&a.record.account, &a.record.name, a.record.id).cmp(&(
            &b.record.account,
            &b.record.name,
            b.record.id,
        ))
    });
    rows
}

/// `crabglamp vms [--json]`.
async fn headless_vms(session: Session, json: bool) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session);
    let result = first_sync(&mut handle.events).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let snapshot = result?;
    let rows = sorted_rows(&snapshot);
    let text = if json {
        let items: Vec<VmJson> = rows.iter().map(|r| VmJson::from(*r)).collect();
        serde_json::to_string_pretty(&items)?
    } else {
        let header = [
            "NAME",
            "ACCOUNT",
            "REGION",
            "TIER",
            "IMAGE",
            "STATUS",
            "IPV4",
            "IPV6",
            "BILLING",
            "PROVISIONED",
            "MANAGED",
        ];
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                let r = &row.record;
                vec![
                    r.name.clone(),
                    r.account.clone(),
                    r.region.to_string(),
                    r.tier.to_string(),
                    r.image.to_string(),
                    r.status.to_string(),
                    r.ipv4.clone().unwrap_or_else(|| "-".into()),
                    r.ipv6.clone().unwrap_or_else(|| "-".into()),
                    r.billing_type.to_string(),
                    r.provisioned_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "-".into()),
                    if row.managed { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        table(&header, &body)
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `crabglamp account list [--json]`.
async fn headless_accounts(session: Session, json: bool) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session);
    let result = store_snapshot(&mut handle.events).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let mut accounts: Vec<Account> = result?.accounts;
    accounts.sort_by(|a, b| a.slug.cmp(&b.slug));
    let text = if json {
        serde_json::to_string_pretty(&accounts)?
    } else {
        let body: Vec<Vec<String>> = accounts
            .iter()
            .map(|a| {
                vec![
                    a.slug.clone(),
                    a.kind.to_string(),
                    a.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                ]
            })
            .collect();
        table(&["SLUG", "KIND", "CREATED"], &body)
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `crabglamp account add SLUG --kind org|personal`.
async fn headless_add_account(
    session: Session,
    slug: String,
    kind: AccountKind,
) -> Result<ExitCode, Failure> {
    let mut handle = spawn_worker(&session);
    let _ = handle.effects.send(Effect::AddAccount {
        slug: slug.clone(),
        kind,
    });
    let done = worker::account_added_info(&slug, kind);
    let mut outcome = Err(Failure("the worker stopped unexpectedly".into()));
    while let Some(event) = handle.events.recv().await {
        match event {
            WorkerEvent::Refused { reason } => {
                outcome = Err(Failure(reason));
                break;
            }
            WorkerEvent::Info(line) if line == done => {
                outcome = Ok(());
                break;
            }
            _ => {}
        }
    }
    stop(&handle.effects, Some(handle.join), session.sim).await;
    outcome?;
    print_out(&done)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` and a newline to stdout; a closed pipe is not an error worth a report.
fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(format!("writing to stdout: {e}"))),
    }
}

/// A plain-text table: columns separated by two spaces, padded by display width (so CJK and
/// emoji keep columns aligned), no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.width());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.width());
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
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

    #[test]
    fn table_aligns_by_display_width() {
        let t = table(
            &["NAME", "IP"],
            &[
                vec!["日本".into(), "1.2.3.4".into()],
                vec!["web-1".into(), "-".into()],
            ],
        );
        assert_eq!(t, "NAME   IP\n日本   1.2.3.4\nweb-1  -");
    }
}
