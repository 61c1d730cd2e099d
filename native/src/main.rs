//! The `flotilla` command. Parsing lives in `cli`, each subcommand in its own module.

mod cli;
mod serve_web;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::Cli::parse().command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("flotilla: {error}");
            ExitCode::FAILURE
        }
    }
}
