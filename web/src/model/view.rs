//! # What the panels draw, whatever drives the cluster
//!
//! The ring, the log grid, the inspector, the timeline, the client history and the message
//! layer draw a cluster through [`ClusterModel`], which two very different sources implement:
//!
//! * the simulated [`Session`](super::session::Session): the core's simulator in the page,
//!   where the page sees every node's whole state, every message and every log entry;
//! * the [`LiveCluster`](super::live::LiveCluster): real nodes over WebSockets, where the
//!   page sees what each node reports (status snapshots, events, sampled message summaries)
//!   and what its own browser peer does.
//!
//! The trait speaks in small view structs ([`NodeView`], [`Cell`], [`FlightView`],
//! [`Inspection`]), not in the core's types, so that a panel cannot depend on a detail only
//! one source has. What a panel can *do* comes back as [`NodeOp`]s, each of which is a
//! simulator [`Action`] or a [`LiveOp`] for real nodes; the page hands them to whichever
//! source produced them.

use super::session::OpTimes;
use super::trace::TraceLine;
use flotilla_core::check::linearizability::Operation;
use flotilla_core::live::protocol::AdminAction;
use flotilla_core::raft::RoleKind;
use flotilla_core::sim::Action;
use flotilla_core::types::{Millis, NodeId};
use std::collections::VecDeque;

/// How a node is doing, as far as the page can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Running and reporting.
    Up,
    /// Frozen (the simulator's pause; a live node that stopped reporting while its socket
    /// stayed open, as a SIGSTOPped process does).
    Paused,
    /// Powered off (simulated) or its socket closed and it does not answer (live).
    Down,
    /// Live only: no socket open yet.
    Connecting,
    /// Live only: a member the page has no socket to (a browser peer of another page).
    Unseen,
}

/// A node's place in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seat {
    Voter,
    Learner,
    /// Not (or no longer, or not yet) in the configuration it knows.
    Outside,
}

/// One node as the ring and the chips draw it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub id: NodeId,
    pub health: Health,
    /// The last role known (None: never seen, or down in the simulator).
    pub role: Option<RoleKind>,
    pub term: u64,
    pub vote: Option<NodeId>,
    pub seat: Seat,
    /// How much of the election timer is left, 0..=1 (None: a leader, or unknown).
    pub timer_left: Option<f64>,
    /// Hosted in this page (a browser peer).
    pub in_page: bool,
    /// A short line under the term (the vote, "crashed", "down", ...).
    pub detail: String,
}

impl NodeView {
    pub fn is_leader(&self) -> bool {
        self.role == Some(RoleKind::Leader) && self.health == Health::Up
    }
}

/// One cell of the log grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// No entry at this index.
    Empty,
    /// Compacted into the snapshot at `snapshot` (`edge`: this is its last index).
    Compacted { snapshot: u64, edge: bool },
    /// An entry.
    Entry {
        term: u64,
        committed: bool,
        durable: bool,
        /// A one-character mark: `B` bootstrap, `⚙` config, `·` noop, empty for commands.
        mark: &'static str,
        /// What it carries, when known.
        what: Option<String>,
    },
    /// In the log, but the page does not know its term (live: older than the reported tail).
    Unknown { committed: bool },
}

/// One node's row of the log grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogRow {
    /// Nothing to show, and why.
    Note(String),
    Cells {
        cells: Vec<Cell>,
        commit: u64,
        leader: bool,
    },
}

/// A message to draw travelling from `from` to `to` between two times (ms on the source's
/// clock: virtual for the simulator, since the live session began for real nodes).
#[derive(Clone, Debug, PartialEq)]
pub struct FlightView {
    pub from: NodeId,
    pub to: NodeId,
    pub sent_ms: f64,
    pub deliver_ms: f64,
    /// The CSS class of its kind (`m-append`, `m-vote resp`, ...), which picks its colour.
    pub class: &'static str,
    pub label: String,
}

/// A message lost, drawn as a fading cross.
#[derive(Clone, Debug, PartialEq)]
pub struct DropView {
    pub from: NodeId,
    pub to: NodeId,
    pub at_ms: f64,
    /// How far it has faded, 0 (just lost) to 1 (gone).
    pub age: f64,
    pub kind: String,
    /// `loss`, `partition`, `crashed`, `cut`: where on the link to draw the cross.
    pub reason: String,
}

/// Something to do to real nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveOp {
    /// An admin action, sent through the node best placed to carry it out.
    Admin(AdminAction),
    /// Cut or restore the link between two nodes (each node keeps its own set of cut peers).
    Link {
        a: NodeId,
        b: NodeId,
        cut: bool,
    },
    /// Add a learner (the form in the inspector).
    AddLearner,
    /// The page's own peer: promote it (after a confirmation), remove it.
    PromotePeer,
    RemovePeer,
}

/// What a button in a panel does: a simulator action or an operation on real nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeOp {
    Sim(Action),
    Live(LiveOp),
}

/// A button of the inspector.
#[derive(Clone, Debug, PartialEq)]
pub struct OpButton {
    pub id: String,
    pub label: String,
    pub title: String,
    pub op: NodeOp,
    pub enabled: bool,
    /// Drawn as a warning (it costs the cluster something).
    pub danger: bool,
}

impl OpButton {
    pub fn new(id: &str, label: &str, title: &str, op: NodeOp) -> OpButton {
        OpButton {
            id: id.to_string(),
            label: label.to_string(),
            title: title.to_string(),
            op,
            enabled: true,
            danger: false,
        }
    }
}

/// A leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressRow {
    pub peer: NodeId,
    pub match_index: u64,
    pub next_index: u64,
    pub state: String,
}

/// Everything the inspector shows about one node.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspection {
    /// `leader`, `follower`, `crashed`, `down`, ...: the heading and its dot's class.
    pub state: String,
    /// A sentence instead of the table (a crashed or unreachable node).
    pub note: Option<String>,
    pub rows: Vec<(String, String)>,
    pub progress: Vec<ProgressRow>,
    pub buttons: Vec<OpButton>,
    /// Transfer-leadership buttons (shown on a leader).
    pub transfer: Vec<OpButton>,
}

/// A cluster as the shared panels see it.
pub trait ClusterModel {
    /// Real nodes (true) or the simulator (false).
    fn is_live(&self) -> bool;
    /// The nodes in ring order.
    fn nodes(&self) -> Vec<NodeView>;
    /// Who leads now, as the page judges it, and in which term.
    fn leader(&self) -> Option<(NodeId, u64)>;
    /// Whether messages from `from` to `to` are being dropped on purpose.
    fn is_cut(&self, from: NodeId, to: NodeId) -> bool;
    /// What clicking the link between `a` and `b` does.
    fn link_ops(&self, a: NodeId, b: NodeId) -> Vec<NodeOp>;
    /// The highest log index any node holds (the log grid's last column).
    fn log_last_index(&self) -> u64;
    /// One node's log at `columns`.
    fn log_row(&self, id: NodeId, columns: &[u64]) -> LogRow;
    /// One node, for the inspector.
    fn inspect(&self, id: NodeId) -> Inspection;
    /// Buttons shown even when no node is selected (adding a server).
    fn cluster_buttons(&self) -> Vec<OpButton>;
    /// The event timeline, oldest first, and how many lines there were in all.
    fn trace_lines(&self) -> &VecDeque<TraceLine>;
    fn trace_count(&self) -> u64;
    /// A few words under the timeline's title.
    fn trace_note(&self) -> String;
    /// The page's client history and when each operation began and ended (ms).
    fn history(&self) -> &[Operation];
    fn op_times(&self) -> &[OpTimes];
    /// Now, on the clock the timeline and the history use (ms).
    fn now(&self) -> Millis;
    /// Messages to draw around display time `at_ms`.
    fn flights(&self, at_ms: f64) -> Vec<FlightView>;
    fn drops(&self, at_ms: f64) -> Vec<DropView>;
}

/// Message kinds as the page names and colours them. `kind` is the core's name for a
/// message (`append`, `append_response`, `pre_vote`, ...; dashes, underscores and case do
/// not matter).
pub fn kind_look(kind: &str) -> (&'static str, &'static str) {
    let k: String = kind
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match k.as_str() {
        "prevote" => ("m-prevote", "PV"),
        "prevoteresponse" | "prevoteyes" | "prevoteno" => ("m-prevote resp", "pv"),
        "vote" | "requestvote" => ("m-vote", "RV"),
        "voteresponse" | "voteyes" | "voteno" => ("m-vote resp", "rv"),
        "append" | "appendentries" => ("m-append", "AE"),
        "appendresponse" | "appendok" => ("m-append resp", "ok"),
        "appendreject" | "appendnack" => ("m-append resp nack", "✗"),
        "heartbeat" => ("m-heartbeat", "HB"),
        "heartbeatresponse" => ("m-heartbeat resp", "♥"),
        "installsnapshot" | "snapshot" => ("m-snapshot", "IS"),
        "installsnapshotresponse" | "snapshotresponse" => ("m-snapshot resp", "ok"),
        "timeoutnow" => ("m-timeout", "TN"),
        _ => ("m-append", "?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_kinds_are_read_in_any_spelling() {
        assert_eq!(kind_look("append").0, "m-append");
        assert_eq!(kind_look("append_response").0, "m-append resp");
        assert_eq!(kind_look("PreVote").0, "m-prevote");
        assert_eq!(kind_look("pre-vote-response").0, "m-prevote resp");
        assert_eq!(kind_look("install_snapshot").0, "m-snapshot");
        assert_eq!(kind_look("timeout_now").0, "m-timeout");
        assert_eq!(kind_look("something new").1, "?");
    }
}
