//! Raft (placeholder essay; being written).

pub mod config;
mod election;
pub mod log;
pub mod membership;
pub mod message;
pub mod node;
pub mod progress;
pub mod quorum;
pub mod read_index;
pub mod ready;
mod replication;
mod snapshot_transfer;
mod step;

pub use config::{Config, PlantedBug};
pub use membership::MembershipError;
pub use message::*;
pub use node::{CompactError, Node, NodeStatus, PeerStatus, ProposeError, RestoreError};
pub use ready::{Event, ReadState, Ready, RoleKind};
pub use replication::AppendError;
pub use snapshot_transfer::{SnapshotError, SNAPSHOT_BYTES_MAX};
pub use step::StepError;
#[cfg(test)]
mod tests;
