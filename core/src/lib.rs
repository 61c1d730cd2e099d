//! # flotilla-core
//!
//! Everything in Flotilla that can be deterministic is here: the Raft consensus algorithm,
//! the key-value state machine, the formats of what is stored on disk, the cluster simulator
//! and the safety checkers. The same code runs in the simulator, in the browser (wasm32) and
//! in the native node.
//!
//! The core performs no I/O: it never reads a clock, a socket, a file, the environment or a
//! global random number generator. Time, randomness (a seed), messages and "this is durable
//! now" acknowledgements are inputs; messages to send, bytes to persist and entries to apply
//! are outputs. That is what makes a run reproducible from its seed.

pub mod check;
pub mod kv;
pub mod live;
pub mod raft;
pub mod replica;
pub mod sim;
pub mod storage;
pub mod types;

pub use types::{Index, Millis, NodeId, Term};

/// The version of the core crate, shown by every driver.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
