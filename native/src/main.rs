//! The `flotilla` command. Parsing lives in `flotilla::cli`, each subcommand in its own module.

use clap::Parser;
use flotilla::cli;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: each write allocates and frees its command, entry,
/// frame and reply buffers on one thread and its WAL copy on another, and glibc's
/// allocator was 10-18% of a node's CPU per write.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
