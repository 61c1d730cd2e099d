//! What Raft nodes persist and say to each other: log entries, membership, hard state,
//! snapshots, and the messages of the protocol.
//!
//! All of these are persisted or sent, so they hold only fixed-size integers, owned bytes and
//! ordered maps: their encoding is the same on every platform and in every run.

use crate::types::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One entry of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub index: Index,
    pub term: Term,
    pub payload: Payload,
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader, so that it can commit an entry of its own term
    /// (the commit rule only counts replicas of current-term entries).
    Noop,
    /// An opaque state-machine command (for Flotilla, an encoded `kv::Command`).
    Command(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A single-server membership change. It takes effect as soon as it is appended.
    Config(ConfChange),
    /// The cluster's initial configuration: entry 1 of every cluster's log, written by each
    /// founding member when it first starts. Keeping it in the log (rather than in each
    /// node's flags) is what lets a node that joins later learn who votes by replicating
    /// the log like everyone else.
    Bootstrap(Membership),
}

/// A single-server membership change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfChange {
    /// Adds a non-voting member that receives the log. `address` is opaque to Raft: drivers
    /// use it to reach the node (a TCP address, or a relay name for a browser peer).
    AddLearner { id: NodeId, address: String },
    /// Turns a learner into a voter.
    Promote { id: NodeId },
    /// Removes a learner or a voter. Removing the leader makes it step down once committed.
    Remove { id: NodeId },
}

/// Whether a member votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberRole {
    Voter,
    Learner,
}

/// One member of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub role: MemberRole,
    /// How drivers reach this member; opaque to Raft.
    pub address: String,
}

/// The cluster's configuration: who is in it and who votes.
///
/// Invariant: a configuration reached through single-server changes always has at least one
/// voter (removing the last voter is refused when proposed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub members: BTreeMap<NodeId, Member>,
}

/// The state a node must persist before it acts on it: its term, its vote in that term and
/// the highest index it knows to be committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: Index,
}

/// What a snapshot stands for: the log up to and including `index`, whose term was `term`,
/// and the membership in force at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: Index,
    pub term: Term,
    pub membership: Membership,
}

/// A state-machine snapshot with its metadata. `data` is opaque to Raft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A message between two nodes, stamped with the sender's term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub message: Message,
}

/// A follower's hint after rejecting an append: the last index at which its log might agree
/// with the leader's (the largest index not past the rejected one whose term is at most the
/// rejected `prev_term`), and that entry's term. The leader skips whole terms with it
/// instead of walking back one entry per round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectHint {
    pub index: Index,
    pub term: Term,
}

/// The messages of the protocol. Each request names the response that answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// "Would you vote for me in `term`?" sent before campaigning, without raising any term,
    /// so that a node cut off from the cluster cannot disrupt it when it returns. The
    /// envelope's term is the term the candidate would campaign in.
    PreVote { last_index: Index, last_term: Term },
    /// Answer to `PreVote`.
    PreVoteResponse { granted: bool },
    /// A candidate asks for a vote. `transfer` is set when the election was started by a
    /// leadership transfer, which lets it through a voter's leader-stickiness check.
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    /// Answer to `Vote`. Only sent once the vote is durable.
    VoteResponse { granted: bool },
    /// Entries to append after (`prev_index`, `prev_term`), and the leader's commit index.
    Append {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// Answer to `Append`. On success (`reject` is `None`) `index` is the last index the
    /// follower now holds in agreement with the leader; it is only sent once durable. On
    /// rejection `index` is the `prev_index` that did not match, and the hint tells the leader
    /// where to look for the point of agreement.
    AppendResponse {
        index: Index,
        reject: Option<RejectHint>,
    },
    /// The leader's heartbeat: keeps followers from campaigning, carries the commit index
    /// (capped at what the follower is known to hold) and a read round number for ReadIndex.
    Heartbeat { commit: Index, read_round: u64 },
    /// Answer to `Heartbeat`, echoing the read round.
    HeartbeatResponse { read_round: u64, last_index: Index },
    /// A chunk of a snapshot, starting at byte `offset` of its data.
    InstallSnapshot {
        meta: SnapshotMeta,
        offset: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        done: bool,
    },
    /// Answer to `InstallSnapshot`: the next byte offset wanted, or, when the snapshot was
    /// installed (and is durable), `installed` with its index.
    InstallSnapshotResponse {
        next_offset: u64,
        installed: Option<Index>,
    },
    /// A leadership transfer: the leader tells its chosen successor to campaign right away.
    TimeoutNow,
}
