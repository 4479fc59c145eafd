//! The `crabglamp` binary: picks a mode from the command line (see [`cli`]).

mod cli;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("crabglamp: cannot install the error reporter: {e}");
        return ExitCode::FAILURE;
    }
    // Everything this process creates is private to its user (docs/product-rules.md §10);
    // the service's socket gets its own mode explicitly.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    // Parse errors are one line and exit status 2; help and version are clap's output.
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(cli::ArgsError::Display(e)) => e.exit(),
        Err(cli::ArgsError::Line(line)) => {
            eprintln!("crabglamp: {line}");
            return ExitCode::from(cli::USAGE_EXIT);
        }
    };
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
