//! The `crabglamp` binary: picks a mode from the command line.

use clap::{Parser, Subcommand};
use crabglamp::sim::cli::SimArgs;

/// CrabGlamp Plain VMs operator console.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the fake Hetzner Cloud API on loopback.
    Sim(SimArgs),
}

#[tokio::main]
async fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sim(args)) => crabglamp::sim::cli::run(args).await,
        None => Ok(()),
    }
}
