//! # Raft, as a pure state machine
//!
//! Raft keeps a log replicated on a cluster of nodes so that every node applies the same
//! commands in the same order, and nothing a client was told is committed is ever lost, as
//! long as a majority of the voters is alive and can talk. This module is the whole
//! algorithm, with no I/O: the driver (simulator, browser page or native node) feeds it
//! messages, time and "this is durable now", and carries out what it asks.
//!
//! ## Roles and terms
//!
//! Time is divided into *terms*, numbered upwards. In each term at most one node is
//! *leader* (Election Safety); the others are *followers*, or *candidates* while an election
//! runs. A follower that hears nothing from a leader for a randomized election timeout
//! starts an election: it increments its term, votes for itself and asks the others. A node
//! grants at most one vote per term, and only to a candidate whose log is at least as up to
//! date as its own (later last term, or same last term and at least as long) — this is what
//! makes a new leader hold every committed entry (Leader Completeness). Any message with a
//! higher term turns its receiver into a follower of that term; a lower term marks a stale
//! sender, which is told so. As in the paper's Figure 2, the election timer restarts only
//! when a node hears the current leader, grants a vote or starts an election: adopting a
//! higher term alone (say from a vote request it refuses) leaves it running, so a candidate
//! whose log is too short to win does not hold back the servers that can
//! (docs/figure16.md).
//!
//! Before a real election a node runs a *pre-vote* round (`Config::pre_vote`): it asks
//! whether it *would* win, without raising any term, and voters say no while they still hear
//! from a live leader. A node cut off by a partition therefore cannot inflate its term and
//! depose a healthy leader when it comes back. With *check-quorum*, a leader that has not
//! heard from a majority within an election timeout steps down, so a leader on the minority
//! side of a partition stops accepting work that can never commit.
//!
//! ## Replication and the commit rule
//!
//! The leader appends client commands to its log and sends them with the index and term of
//! the entry before them; a follower accepts only if its log has that entry (Log Matching:
//! logs that agree on an entry agree on everything before it), and otherwise answers with a
//! hint that lets the leader skip back a whole term at a time. The leader streams appends
//! optimistically, at most `inflight_appends_max` unanswered, each holding at most
//! `append_entries_max` entries and `append_bytes_max` bytes (`progress.rs` keeps the
//! per-follower state machine: probe, replicate, snapshot).
//!
//! An entry is *committed* once the leader knows a majority of voters hold it durably — but
//! only entries of the leader's own term are committed by counting; earlier ones commit
//! implicitly with them. The paper's Figure 8 shows why: an old entry stored on a majority
//! can still be overwritten by a leader that never saw it. A new leader appends a no-op at
//! once so that it has a current-term entry to commit (see `tests/scripts/figure8*`).
//!
//! ## The fsync contract
//!
//! Raft's promises are about durable state. A vote is a promise for the whole term, and an
//! append acknowledgement is a promise that the entries survive a crash; so both may only
//! leave once the driver has made the node's state durable. `Ready` separates `messages`
//! (may leave at once — a leader's appends go out *before* its own fsync, in parallel with
//! it) from `persisted_messages` (only after the fsync). A candidate's vote requests are
//! persisted messages too: its self-vote must be on disk before an election can be won with
//! it. A leader counts itself towards a majority only up to what it has itself made durable.
//! The driver reports durability with `advance`; only one Ready is outstanding at a time,
//! which gives group commit for free: whatever arrives during an fsync goes in the next one.
//!
//! ## What else is here
//!
//! - Linearizable reads through ReadIndex (`read_index.rs`): the leader confirms it is still
//!   leader with a heartbeat round before a read is served.
//! - Snapshots and log compaction (`Node::compact`), and InstallSnapshot in chunks
//!   (`snapshot_transfer.rs`) for followers whose entries were compacted away.
//! - Single-server membership changes with learners (`membership.rs`).
//! - Leadership transfer (`Node::transfer_leadership`, `TimeoutNow`).
//! - Planted bugs (`PlantedBug`), off unless explicitly asked for, that bring back classic
//!   mistakes so the checkers can be shown to catch them.
//!
//! ## What is left out, and why
//!
//! - Joint consensus: single-server changes are simpler and enough for adding and removing
//!   one node at a time, which is all Flotilla's users do.
//! - Lease-based reads: they trade safety for latency by trusting clocks; ReadIndex costs a
//!   heartbeat round but relies on nothing but messages.
//! - Follower reads: followers forward reads to the leader (the drivers do it).
//! - Persistent storage access from Raft: the node keeps the log after its snapshot in
//!   memory; compaction bounds it.
//!
//! ## Invariants the drivers and checkers rely on
//!
//! Election Safety, Leader Append-Only, Log Matching, Leader Completeness and State Machine
//! Safety (the paper's Figure 3) hold between correct nodes; `assert!` guards only those.
//! Everything that comes from a peer is validated and refused with an `Err`, never a panic.

pub mod config;
mod election;
mod leader_loss;
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
