//! `crabglamp sim`: run the fake Hetzner API alone (for scripts, the official clients and
//! manual testing).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{Result, WrapErr, bail};

use super::{Seed, SimConfig, start};

/// Initial data (`--seed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeedArg {
    /// Catalog only.
    Empty,
    /// 15 CrabGlamp VMs with their firewalls, and 3 SSH keys.
    Demo,
}

/// Arguments of `crabglamp sim`. No `Debug`: it holds the token.
#[derive(Clone, Args)]
pub struct SimArgs {
    /// Loopback address to listen on (port 0 picks a free port). Non-loopback is refused.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Bearer token clients must send (a secret: never printed).
    #[arg(
        long,
        env = "HCLOUD_TOKEN",
        hide_env_values = true,
        default_value = "sim-token",
        hide_default_value = true
    )]
    pub token: String,
    /// Initial data.
    #[arg(long, value_enum, default_value_t = SeedArg::Empty)]
    pub seed: SeedArg,
    /// Rate-limit bucket capacity in requests (Hetzner: 3600).
    #[arg(long, default_value_t = 3600)]
    pub rate_limit: u32,
    /// Rate-limit refill in requests per second (Hetzner: 1).
    #[arg(long, default_value_t = 1.0)]
    pub refill_per_second: f64,
    /// How long each action runs, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub action_ms: u64,
    /// Append one JSON line per /v1 response to this file.
    #[arg(long)]
    pub record: Option<PathBuf>,
}

/// Start the sim, print `crabglamp sim listening on http://ADDR/v1` (flushed) and serve until
/// Ctrl-C or SIGTERM.
///
/// Errors: a non-loopback `--listen`, a bind failure, an unwritable `--record` file.
pub async fn run(args: SimArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "--listen {}: the sim only listens on loopback addresses (127.0.0.1 or ::1)",
            args.listen
        );
    }
    if !args.refill_per_second.is_finite() || args.refill_per_second < 0.0 {
        bail!("--refill-per-second must be a non-negative number");
    }
    let config = SimConfig {
        token: args.token,
        seed: match args.seed {
            SeedArg::Empty => Seed::Empty,
            SeedArg::Demo => Seed::Demo,
        },
        rate_limit: args.rate_limit,
        refill_per_second: args.refill_per_second,
        action_duration: Duration::from_millis(args.action_ms),
        record: args.record,
        ..SimConfig::default()
    };
    let handle = start(args.listen, config)
        .await
        .wrap_err_with(|| format!("cannot start the sim on {}", args.listen))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "crabglamp sim listening on {}", handle.endpoint())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    handle.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).wrap_err("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.wrap_err("cannot listen for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> Result<()> {
    tokio::signal::ctrl_c()
        .await
        .wrap_err("cannot listen for Ctrl-C")
}
