//! The node's output: what the driver must do, in order.
//!
//! The driver recipe, identical in the simulator, the browser and the native node:
//!
//! 1. persist: truncate the log at `truncate_from`, append `entries`, save `snapshot` or
//!    `compacted`, write `hard_state`;
//! 2. fsync, when `must_sync`;
//! 3. send `messages` (these could even go before step 1) and then `persisted_messages`
//!    (only now: they promise that what step 1 wrote is durable: votes, append
//!    acknowledgements);
//! 4. restore the state machine from `snapshot` if there is one, apply `committed`, answer
//!    clients, serve `reads` once the state machine has applied their index;
//! 5. call `Node::advance` with `id`.

use super::message::{Entry, Envelope, HardState, Membership, Snapshot};
use crate::types::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};

/// A batch of work for the driver. Only one is outstanding at a time: the node hands out the
/// next one after `advance`.
#[must_use = "a Ready must be persisted, sent, applied and then advanced"]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Passed back to `Node::advance`.
    pub id: u64,
    /// The hard state to write, when it changed.
    pub hard_state: Option<HardState>,
    /// Discard every stored entry at or after this index before appending.
    pub truncate_from: Option<Index>,
    /// Entries to append to the stored log.
    pub entries: Vec<Entry>,
    /// A snapshot received from the leader: store it, replace the whole stored log with it
    /// and restore the state machine from it.
    pub snapshot: Option<Snapshot>,
    /// A snapshot this node took (`Node::compact`): store it and drop stored entries up to it.
    pub compacted: Option<Snapshot>,
    /// Whether the writes above must be durable (fsync) before `persisted_messages` go out.
    pub must_sync: bool,
    /// Messages that may be sent at once.
    pub messages: Vec<Envelope>,
    /// Messages that may only be sent once the writes above are durable.
    pub persisted_messages: Vec<Envelope>,
    /// Committed, locally durable entries to apply to the state machine, in order.
    pub committed: Vec<Entry>,
    /// Linearizable reads that may be served once the state machine has applied `index`.
    pub reads: Vec<ReadState>,
    /// What happened, for logs, metrics and views.
    pub events: Vec<Event>,
}

/// A read that ReadIndex has confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub request_id: u64,
    pub index: Index,
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RoleKind {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl RoleKind {
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Follower => "follower",
            RoleKind::PreCandidate => "pre-candidate",
            RoleKind::Candidate => "candidate",
            RoleKind::Leader => "leader",
        }
    }
}

/// Something that happened inside the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    RoleChanged {
        role: RoleKind,
        term: Term,
    },
    LeaderChanged {
        leader: Option<NodeId>,
        term: Term,
    },
    Committed {
        index: Index,
    },
    MembershipChanged {
        membership: Membership,
    },
    SnapshotInstalled {
        index: Index,
        term: Term,
    },
    Compacted {
        index: Index,
    },
    /// A read could not be confirmed (leadership lost); the driver should fail it.
    ReadDropped {
        request_id: u64,
    },
}

impl Ready {
    /// Whether the Ready asks nothing of the driver.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.truncate_from.is_none()
            && self.entries.is_empty()
            && self.snapshot.is_none()
            && self.compacted.is_none()
            && self.messages.is_empty()
            && self.persisted_messages.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.events.is_empty()
    }
}
