//! Raft (placeholder essay; being written).

pub mod message;

pub use message::*;
