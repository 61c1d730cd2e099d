//! What a user (the web page, a script, the fault injector) can do to a running cluster.
//! Actions are serde data with virtual times, so that a run is reproducible from
//! (seed, options, actions): the page keeps exactly that in its URL.

use crate::types::{Millis, NodeId};
use serde::{Deserialize, Serialize};

/// One thing done to the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Power loss: the node stops at once and loses what it had not synced (and, with torn
    /// writes on, may keep a torn prefix of it).
    Crash {
        node: NodeId,
    },
    /// Starts a crashed node again from what its disk holds.
    Restart {
        node: NodeId,
    },
    /// Freezes a node (a long GC pause, a stopped VM): it handles nothing until resumed, and
    /// then handles everything that arrived meanwhile.
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// Cuts every link between nodes of different groups, both ways. Nodes in no group keep
    /// all their links (a bridge that sees both sides).
    Partition {
        groups: Vec<Vec<NodeId>>,
    },
    /// Cuts the link from `from` to `to` in that direction only.
    CutLink {
        from: NodeId,
        to: NodeId,
    },
    /// Restores the link from `from` to `to` (that direction only).
    RestoreLink {
        from: NodeId,
        to: NodeId,
    },
    /// Cuts every link to and from `node`.
    Isolate {
        node: NodeId,
    },
    /// Restores every link.
    Heal,
    /// Sets the chance that a message is lost, in permille.
    SetLoss {
        permille: u32,
    },
    /// Sets the chance that a message is delivered twice, in permille.
    SetDuplication {
        permille: u32,
    },
    /// Sets the most jitter added to each message's delay, in ms.
    SetJitter {
        ms: Millis,
    },
    /// Redraws every link's base latency from `[min_ms, max_ms]`.
    SetLatency {
        min_ms: Millis,
        max_ms: Millis,
    },
    /// Makes a node's clock run at `permille` / 1000 of real speed.
    SetClockRate {
        node: NodeId,
        permille: u32,
    },
    /// Makes a node start an election now.
    Campaign {
        node: NodeId,
    },
    /// Asks the leader `node` to hand leadership to `to`.
    TransferLeadership {
        node: NodeId,
        to: NodeId,
    },
    /// A client request sent to `node` by the console client.
    Request {
        node: NodeId,
        command: ClientCommand,
    },
    /// Starts a brand-new server `node` (the next unused id, at most
    /// [`NODES_MAX`](super::options::NODES_MAX)) with an empty disk, and asks the leader to
    /// add it as a learner. It then catches up from the leader's log or snapshot.
    AddNode {
        node: NodeId,
    },
    /// Asks the leader to turn the learner `node` into a voter.
    Promote {
        node: NodeId,
    },
    /// Asks the leader to remove `node` from the configuration (the node keeps running,
    /// outside the cluster).
    Remove {
        node: NodeId,
    },
    /// Makes `node` snapshot its state machine at its applied index and compact its log.
    Snapshot {
        node: NodeId,
    },
    /// Starts or stops the simulated clients of [`super::WorkloadOptions`] (manual mode).
    Autopilot {
        on: bool,
    },
}

/// A request typed by a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientCommand {
    Get {
        key: String,
    },
    Put {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    Cas {
        key: String,
        expected: Option<String>,
        new: Option<String>,
    },
}

/// An action at a virtual time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledAction {
    pub at_ms: Millis,
    pub action: Action,
}

impl Action {
    /// The nodes the action names, to validate them against the cluster size.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Action::Crash { node }
            | Action::Restart { node }
            | Action::Pause { node }
            | Action::Resume { node }
            | Action::Isolate { node }
            | Action::SetClockRate { node, .. }
            | Action::Campaign { node }
            | Action::Request { node, .. }
            | Action::Promote { node }
            | Action::Remove { node }
            | Action::Snapshot { node } => vec![*node],
            Action::CutLink { from, to } | Action::RestoreLink { from, to } => vec![*from, *to],
            Action::TransferLeadership { node, to } => vec![*node, *to],
            Action::Partition { groups } => groups.iter().flatten().copied().collect(),
            // A node to add does not exist yet: `apply` checks its id.
            Action::AddNode { .. }
            | Action::Autopilot { .. }
            | Action::Heal
            | Action::SetLoss { .. }
            | Action::SetDuplication { .. }
            | Action::SetJitter { .. }
            | Action::SetLatency { .. } => Vec::new(),
        }
    }
}
