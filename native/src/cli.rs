//! The command line. To add a subcommand: add a variant to [`Command`] holding its arguments
//! struct, a module with a `run(args) -> Result`, and one arm in [`Command::run`].

use crate::serve_web;
use clap::{Parser, Subcommand};
use std::error::Error;

/// Flotilla: a Raft-replicated key-value database you can watch and break in the browser.
#[derive(Debug, Parser)]
#[command(name = "flotilla", version, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `flotilla` can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the built web app (a folder such as `dist/`) over HTTP.
    ServeWeb(serve_web::Args),
}

/// The result of a subcommand: errors are printed by `main`, which then exits non-zero.
pub type CommandResult = Result<(), Box<dyn Error>>;

impl Command {
    pub fn run(self) -> CommandResult {
        match self {
            Command::ServeWeb(args) => serve_web::run(args),
        }
    }
}
