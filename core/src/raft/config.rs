//! A node's tunables. Every limit carries its unit in its name.

use crate::types::{Millis, NodeId};
use serde::{Deserialize, Serialize};

/// A classic Raft bug that can be planted on purpose, to prove that the checkers and golden
/// scripts catch it. Never on by default; only reachable through an explicit option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PlantedBug {
    /// Commit entries of earlier terms by counting replicas (the paper's Figure 8).
    CommitPreviousTerm,
    /// Send votes (and campaign) before the vote is persisted.
    VoteBeforePersist,
    /// Acknowledge appends, and let the leader count itself, before the entries are durable.
    AckBeforeFsync,
    /// A follower drops every entry after an append's entries even when they matched, so a
    /// stale, reordered append can erase committed entries.
    TruncateCommitted,
    /// A leader serves reads at once, without confirming its leadership with a quorum.
    StaleRead,
    /// The leader believes a follower holds one entry more than it acknowledged.
    NextIndexOffByOne,
}

impl PlantedBug {
    /// Every plantable bug, in a stable order.
    pub const ALL: [PlantedBug; 6] = [
        PlantedBug::CommitPreviousTerm,
        PlantedBug::VoteBeforePersist,
        PlantedBug::AckBeforeFsync,
        PlantedBug::TruncateCommitted,
        PlantedBug::StaleRead,
        PlantedBug::NextIndexOffByOne,
    ];

    /// The bug's name on command lines and in URLs.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::CommitPreviousTerm => "commit-previous-term",
            PlantedBug::VoteBeforePersist => "vote-before-persist",
            PlantedBug::AckBeforeFsync => "ack-before-fsync",
            PlantedBug::TruncateCommitted => "truncate-committed",
            PlantedBug::StaleRead => "stale-read",
            PlantedBug::NextIndexOffByOne => "next-index-off-by-one",
        }
    }

    /// Parses a bug from its name.
    pub fn from_name(name: &str) -> Option<PlantedBug> {
        PlantedBug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}

/// The configuration of one Raft node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub id: NodeId,
    /// Election timeouts are drawn uniformly from `[min, max]` each time the timer resets.
    pub election_timeout_min_ms: Millis,
    pub election_timeout_max_ms: Millis,
    /// How often a leader sends heartbeats to followers it has nothing else to send.
    pub heartbeat_interval_ms: Millis,
    /// Ask for pre-votes before campaigning (§9.6 of Ongaro's thesis).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum within an election timeout steps down.
    pub check_quorum: bool,
    /// Most entries in one append message.
    pub append_entries_max: u32,
    /// Most bytes of entry payload in one append message (at least one entry always goes).
    pub append_bytes_max: u64,
    /// Most unacknowledged appends to one follower in the replicate state.
    pub inflight_appends_max: u32,
    /// Most snapshot bytes in one InstallSnapshot chunk.
    pub snapshot_chunk_bytes_max: u64,
    /// Most committed entries handed to the driver in one Ready.
    pub apply_entries_per_ready_max: u32,
    /// Seeds this node's random choices (election timeouts).
    pub seed: u64,
    /// A bug planted on purpose; `None` in every real use.
    pub planted_bug: Option<PlantedBug>,
}

impl Config {
    /// Sensible defaults for a node on a local network.
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            heartbeat_interval_ms: 50,
            pre_vote: true,
            check_quorum: true,
            append_entries_max: 256,
            append_bytes_max: 1 << 20,
            inflight_appends_max: 32,
            snapshot_chunk_bytes_max: 64 << 10,
            apply_entries_per_ready_max: 4096,
            seed: id.0,
            planted_bug: None,
        }
    }

    /// Whether `bug` is planted.
    pub fn has_bug(&self, bug: PlantedBug) -> bool {
        self.planted_bug == Some(bug)
    }

    /// Checks the configuration; the error says which setting is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.0 == 0 {
            return Err("node id must not be 0".into());
        }
        if self.election_timeout_min_ms == 0
            || self.election_timeout_min_ms > self.election_timeout_max_ms
        {
            return Err("election timeout range must be non-empty and above 0 ms".into());
        }
        if self.heartbeat_interval_ms == 0
            || self.heartbeat_interval_ms >= self.election_timeout_min_ms
        {
            return Err("heartbeat interval must be above 0 and below the election timeout".into());
        }
        if self.append_entries_max == 0 || self.inflight_appends_max == 0 {
            return Err("append and in-flight limits must be at least 1".into());
        }
        if self.snapshot_chunk_bytes_max == 0 || self.apply_entries_per_ready_max == 0 {
            return Err("snapshot chunk and apply limits must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bug_names_round_trip() {
        for bug in PlantedBug::ALL {
            assert_eq!(PlantedBug::from_name(bug.name()), Some(bug));
        }
        assert_eq!(PlantedBug::from_name("no-such-bug"), None);
    }

    #[test]
    fn defaults_are_valid_and_bad_timeouts_are_not() {
        assert_eq!(Config::new(NodeId(1)).validate(), Ok(()));
        let mut config = Config::new(NodeId(1));
        config.heartbeat_interval_ms = config.election_timeout_min_ms;
        assert!(config.validate().is_err());
    }
}
