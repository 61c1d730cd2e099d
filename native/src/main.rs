//! The `flotilla` command. Parsing lives in `cli`, each subcommand in its own module.

mod bench;
mod cli;
mod client;
mod cluster;
mod config;
mod gateway;
mod metrics;
mod net;
mod node;
mod peer;
mod resp;
mod serve_web;
mod wal;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Logs go to stderr, filtered by RUST_LOG (default: info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: log files and test captures stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    match cli::Cli::parse().command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flotilla: {error}");
            ExitCode::FAILURE
        }
    }
}
