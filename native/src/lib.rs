//! The `flotilla` crate: the native node and its command line. The binary (`main.rs`) only
//! sets up logging and runs [`cli::Cli`]; everything else lives here so that tests, the fuzz
//! targets in `fuzz/` and the fault run can reach the decoders and the file store directly.

pub mod bench;
pub mod cli;
mod client;
mod cluster;
mod config;
pub mod control;
pub mod faults;
pub mod fuzzing;
pub mod gateway;
mod metrics;
mod net;
mod node;
pub mod peer;
pub mod resp;
mod serve_web;
mod sim_cmd;
mod sim_election;
pub mod wal;
