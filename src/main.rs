//! The `crabglamp` binary: picks a mode from the command line (see [`cli`]).

mod cli;
mod cli_usage;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("crabglamp: cannot install the error reporter: {e}");
        return ExitCode::FAILURE;
    }
    let cli = cli::Cli::parse();
    match cli.command {
        Some(cli::Command::Sim(args)) => match crabglamp::sim::cli::run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(report) => {
                eprintln!("crabglamp sim: {report:#}");
                ExitCode::FAILURE
            }
        },
        _ => cli::run(cli).await,
    }
}
