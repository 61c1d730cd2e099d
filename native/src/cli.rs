//! The command line. To add a subcommand: add a variant to [`Command`] holding its arguments
//! struct, a module with a `run(args) -> Result`, and one arm in [`Command::run`].

use crate::{bench, client, cluster, config, faults, node, serve_web, sim_cmd};
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
    /// Run one node: Raft peers, RESP clients, WAL, HTTP/WebSocket gateway.
    Node(config::NodeArgs),
    /// Start a local cluster (node i: RESP 6378+i, HTTP 8079+i, peers 7000+i).
    Cluster(cluster::ClusterArgs),
    /// Set a key (SET over RESP).
    Put(client::PutArgs),
    /// Read a key (GET over RESP; linearizable).
    Get(client::KeyArgs),
    /// Delete a key (DEL over RESP).
    Del(client::KeyArgs),
    /// Show a table of the nodes' Raft state.
    Status(client::StatusArgs),
    /// Load-test Flotilla (RESP) or etcd (v3 JSON gateway) with the same workload.
    Bench(bench::BenchArgs),
    /// Fault run: a local cluster under kills, pauses, partitions, leadership transfers
    /// and membership changes, with a client history checked for linearizability.
    Faults(faults::FaultArgs),
    /// Deterministic simulation: one seed (--seed), a sweep (--seeds), or an experiment
    /// (election: the Raft paper's Figure 16).
    Sim(sim_cmd::SimArgs),
}

/// The result of a subcommand: errors are printed by `main`, which then exits non-zero.
pub type CommandResult = Result<(), Box<dyn Error>>;

impl Command {
    pub fn run(self) -> CommandResult {
        match self {
            Command::ServeWeb(args) => serve_web::run(args),
            Command::Node(args) => node::run(args),
            Command::Cluster(args) => cluster::run(args),
            Command::Put(args) => client::put(args),
            Command::Get(args) => client::get(args),
            Command::Del(args) => client::del(args),
            Command::Status(args) => client::status(args),
            Command::Bench(args) => bench::run(args),
            Command::Faults(args) => faults::run(args),
            Command::Sim(args) => sim_cmd::run(args),
        }
    }
}
