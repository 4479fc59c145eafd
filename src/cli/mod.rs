//! Command line of the `crabglamp` binary: global flags, modes and headless commands.
//!
//! - No subcommand: the full-screen dashboard (live with a token, demo without one or with
//!   `--demo`).
//! - `vms [--json]`, `account list [--json]`, `account add SLUG --kind org|personal`: headless
//!   commands for scripts, driven through the same worker and store as the dashboard (issue 3
//!   item 10). Exit status 0 on success, 1 with one line on stderr otherwise.
//! - `vm create|start|stop|reboot|destroy|transfer|billing` and `audit list|verify|export`:
//!   headless lifecycle and audit commands (issue 4), in [`vm`].
//! - `sim`: the fake Hetzner Cloud API alone.
//!
//! Start-up order (issue 3): parse, load config, open the store (a store in use or of a newer
//! schema is one line on stderr and exit 1, before the terminal is touched), log to a file,
//! spawn the worker, then the dashboard or the headless command.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde::Serialize;
use uuid::Uuid;

mod args;
mod audit;
mod firewall;
mod vault;

pub use args::{ArgsError, USAGE_EXIT, parse_from};

use crabglamp::config::{self};
use crabglamp::domain::{Account, AccountKind};
use crabglamp::protocol::{Effect, Mode, Snapshot, VmRow, WorkerEvent};
use crabglamp::sim::cli::SimArgs;
use crabglamp::worker::{self, WorkerHandle};

mod output;
mod serve;
mod session;
mod usage;
mod vm;

use output::print_out;
pub use output::{Failure, table};
use session::{
    Session, actor, first_sync, hetzner_client, init_logging, open_store, spawn_worker,
    spawn_worker_with, stop, store_snapshot, stored_last_sync,
};

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
    /// The team service's socket: attach to it (or, for `serve`, listen there). Default:
    /// $XDG_RUNTIME_DIR/crabglamp/crabglamp.sock when a service listens there.
    #[arg(long, global = true, env = "CRABGLAMP_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
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
    Vm(vm::VmCommand),
    /// The audit log of destroys and transfers: list, verify, prove, key, export.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Usage and cost per account, VM, tier or region over a period (UTC days).
    Usage(usage::UsageArgs),
    /// Run the fake Hetzner Cloud API on loopback.
    Sim(SimArgs),
    /// Run the team service: own the store and the Hetzner sync, and serve consoles and
    /// headless commands on a Unix socket (--socket, config `socket`, or
    /// $XDG_RUNTIME_DIR/crabglamp/crabglamp.sock). Stops on SIGTERM or SIGINT.
    Serve,
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

/// Runs every mode except `sim`. Returns the exit status; expected errors are one line.
pub async fn run(cli: Cli) -> ExitCode {
    match run_inner(cli).await {
        Ok(code) => code,
        Err(Failure(line)) => {
            // Lines echo what was typed or stored: no control byte of it reaches the terminal.
            eprintln!("crabglamp: {}", output::printable(&line));
            ExitCode::FAILURE
        }
    }
}

/// Where the service's socket is: `--socket`/`CRABGLAMP_SOCKET`, else the config's `socket`
/// (both explicit: an unreachable service is an error), else the default personal path
/// `$XDG_RUNTIME_DIR/crabglamp/crabglamp.sock` (used only when a service answers there).
fn socket_choice(cli: &Cli, config: &config::Config) -> Option<(PathBuf, bool)> {
    if let Some(p) = cli.socket.clone().filter(|p| !p.as_os_str().is_empty()) {
        return Some((p, true));
    }
    if let Some(p) = config.socket.clone() {
        return Some((p, true));
    }
    default_socket().map(|p| (p, false))
}

/// `$XDG_RUNTIME_DIR/crabglamp/crabglamp.sock`, when `XDG_RUNTIME_DIR` is set.
fn default_socket() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("crabglamp").join("crabglamp.sock"))
}

/// Decides whether this run attaches to a service: not for `--demo`; for an explicit socket
/// always (an unreachable or refusing service is an error); for the default socket only when
/// no `--data-dir` names a store to open and a service answers there (a socket file nobody
/// answers on is said on stderr, then this machine's own store is used).
async fn attach_target(
    cli: &Cli,
    config: &config::Config,
) -> Result<Option<session::AttachTarget>, Failure> {
    if cli.demo {
        return Ok(None);
    }
    let Some((socket, explicit)) = socket_choice(cli, config) else {
        return Ok(None);
    };
    if !explicit && (cli.data_dir.is_some() || !socket.exists()) {
        return Ok(None);
    }
    let mut probed = crabglamp::service::client::probe(&socket).await;
    if !explicit && probed.as_ref().is_err_and(|e| e.is_unreachable()) {
        // Once more after a moment: a service may be between binding and accepting.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        probed = crabglamp::service::client::probe(&socket).await;
    }
    match probed {
        Ok(welcome) => Ok(Some(session::AttachTarget {
            socket,
            welcome,
            read_only: cli.read_only,
        })),
        Err(e) if !explicit && e.is_unreachable() => {
            eprintln!(
                "crabglamp: no service answers at {} (a socket left by a stopped service); \
                 using this machine's own store",
                socket.display()
            );
            Ok(None)
        }
        Err(e) => Err(Failure(e.to_string())),
    }
}

async fn run_inner(cli: Cli) -> Result<ExitCode, Failure> {
    let paths = config::paths(cli.data_dir.as_deref(), cli.config.as_deref())?;
    let (config, config_file) = config::load(cli.config.as_deref())?;
    if matches!(cli.command, Some(Command::Serve)) {
        return serve::run(&cli, paths, config, config_file).await;
    }
    if let Some(target) = attach_target(&cli, &config).await? {
        return run_attached(cli, config, target).await;
    }
    let env_token = std::env::var("HCLOUD_TOKEN").ok();
    let token = config::resolve_token(env_token, None, &config);
    let mode = if cli.demo || token.is_none() {
        Mode::Demo
    } else {
        Mode::Live
    };

    // Logging first, so that tightening a loose data directory is logged.
    let log_guard = init_logging(&paths.log_file);
    let store = open_store(&paths, mode)?;
    audit::attach(&store, &paths, &config, mode)?;
    for w in &config.warnings {
        tracing::warn!(warning = %w, "config");
    }
    tracing::info!(?mode, read_only = cli.read_only, "starting");

    let (client, sim) = hetzner_client(mode, token, &config, &store, cli.now).await?;

    let session = Session {
        mode,
        read_only: cli.read_only,
        store: Some(store),
        client: Some(client),
        attach: None,
        config,
        sim,
        _log_guard: log_guard,
    };
    run_command(cli.command, cli.now, session).await
}

/// Runs a command attached to the service at `target`: no store is opened, no Hetzner client
/// made; every command goes through the service.
async fn run_attached(
    cli: Cli,
    config: config::Config,
    target: session::AttachTarget,
) -> Result<ExitCode, Failure> {
    let session = Session {
        mode: target.welcome.mode,
        // `--read-only` here refuses changes on this side; a reader's console (or one of a
        // read-only service) shows READ-ONLY and the service refuses their changes.
        read_only: cli.read_only
            || target.welcome.read_only
            || target.welcome.role == crabglamp::protocol::wire::Role::Reader,
        store: None,
        client: None,
        attach: Some(target),
        config,
        sim: None,
        _log_guard: None,
    };
    run_command(cli.command, cli.now, session).await
}

/// Runs the dashboard or a headless command on an open session.
async fn run_command(
    command: Option<Command>,
    now: Option<DateTime<Utc>>,
    session: Session,
) -> Result<ExitCode, Failure> {
    let code = match command {
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
        Some(Command::Vm(command)) => vm::vm(session, command).await?,
        Some(Command::Audit(command)) => audit::audit(session, command).await?,
        Some(Command::Usage(args)) => {
            let now = now.unwrap_or_else(Utc::now);
            let text = match session.store.clone() {
                Some(store) => usage::run(store, session.config.clone(), args, now).await,
                None => {
                    let mut handle = spawn_worker(&session).await?;
                    let text = usage::run_attached(&mut handle, args, now).await;
                    stop(&handle.effects, Some(handle.join), None).await;
                    text
                }
            };
            if let Some(sim) = session.sim {
                sim.shutdown().await;
            }
            print_out(&text?)?;
            ExitCode::SUCCESS
        }
        Some(Command::Sim(_)) | Some(Command::Serve) => {
            return Err(Failure("this subcommand runs on its own".into()));
        }
    };
    Ok(code)
}

/// The full-screen dashboard.
async fn dashboard(session: Session) -> Result<ExitCode, Failure> {
    let handle = spawn_worker_with(&session, true).await?;
    let WorkerHandle {
        effects,
        events,
        join,
    } = handle;
    let opts = crabglamp::ui::UiOptions {
        mode: session.mode,
        read_only: session.read_only,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        operator: match &session.attach {
            Some(t) => t.welcome.user.clone(),
            None => actor(),
        },
        last_sync: match (&session.store, &session.attach) {
            (Some(store), _) => stored_last_sync(store),
            (None, Some(t)) => t.welcome.last_sync,
            (None, None) => None,
        },
        attachment: match &session.attach {
            Some(t) => crabglamp::protocol::wire::Attachment::Shared {
                host: t.welcome.host.clone(),
                socket: t.socket.display().to_string(),
            },
            None => crabglamp::protocol::wire::Attachment::Local,
        },
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
                    // A panic in the worker is fatal (docs/dependencies.md): returning drops the dashboard,
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

/// One VM as `vms --json` prints it (CrabGlamp's field names in camelCase: docs/product-rules.md §2).
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
    let mut handle = spawn_worker(&session).await?;
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
    let mut handle = spawn_worker(&session).await?;
    let result = store_snapshot(&mut handle.events).await;
    stop(&handle.effects, Some(handle.join), session.sim).await;
    let mut accounts: Vec<Account> = result?.accounts.into_inner();
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
    let mut handle = spawn_worker(&session).await?;
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
