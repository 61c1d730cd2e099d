//! # A live cluster, as its nodes report it
//!
//! In live mode the page watches real nodes over WebSockets (protocol v1, the types in
//! `flotilla_core::live::protocol`). [`LiveCluster`] is everything the page knows and does,
//! without a browser, so that it is tested on the host: feed it what the sockets say
//! ([`LiveCluster::opened`], [`LiveCluster::received`], [`LiveCluster::closed`]) and the
//! clock ([`LiveCluster::tick`]), and carry out the [`SocketCommand`]s it hands back.
//!
//! * **Discovery.** The page opens one socket, to the node that served it (or the address
//!   typed in the connect form). That node's `welcome` lists every member with its HTTP
//!   address; the page opens one socket per member, so each node reports what only it knows.
//!   A socket that closes is retried with a growing delay; a node whose socket is closed is
//!   drawn as down, one whose socket is open but silent (a paused process) as not reporting.
//! * **Time.** Nodes stamp statuses, events and message summaries with their wall clock.
//!   The page keeps its own timeline in ms since the session began, shifts node stamps by
//!   the smallest delay seen (which absorbs clock skew between the page's machine and the
//!   nodes'), and draws messages a little in the past (the display delay), so that both the
//!   sender's and the receiver's summaries of a message have arrived when it is drawn.
//! * **Client requests** are recorded as a history of [`Operation`]s, with invocation and
//!   completion order from a logical clock, so that the core's linearizability checker reads
//!   the page's own history exactly as it reads the simulator's.
//! * **The browser peer** is the core's [`HostedPeer`], run here, its Raft envelopes relayed
//!   by the node the page connected to.

mod admin;
mod client;
mod drawing;
mod frames;
mod members;
mod peer;
mod queries;
mod sockets;

use super::session::OpTimes;
use super::sim_view::node_name;
use super::trace::{TraceKind, TraceLine};
use super::view::{
    kind_look, Cell, ClusterModel, DropView, FlightView, Health, Inspection, LiveOp, LogRow,
    NodeOp, NodeView, OpButton, ProgressRow, Seat,
};
use flotilla_core::check::linearizability::{KvInput, KvOutput, Operation};
use flotilla_core::live::peer::{HostedPeer, PeerTiming};
use flotilla_core::live::protocol::{
    AdminAction, AdminResult, KvOp, KvOutcome, LiveEvent, LiveEventKind, MemberAddress,
    MessageSummary, NodeMessage, NodeStatusView, PageMessage, PROTOCOL_VERSION,
};
use flotilla_core::raft::{Envelope, RoleKind};
use flotilla_core::sim::workload::CONSOLE;
use flotilla_core::types::{Millis, NodeId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A node that sent no status for this long, with its socket still open, is drawn as not
/// reporting (a paused process keeps its sockets open and says nothing).
pub const STALE_MS: u64 = 2_500;
/// The first retry of a closed socket waits this long; each further one twice as long, up
/// to [`RETRY_MAX_MS`].
pub const RETRY_FIRST_MS: u64 = 250;
pub const RETRY_MAX_MS: u64 = 4_000;
/// A node whose socket closed while others still report is retried when one of them says
/// it is connected to it again (a leader's progress), or after this long: every failed
/// attempt is an error in the browser's console, and the cluster knows better.
pub const RETRY_SLOW_MS: u64 = 10_000;
/// A socket that has not opened after this long is given up and retried.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Every message is drawn in flight for at least this long: on one machine a real message
/// takes a fraction of a millisecond, which nobody could see.
pub const FLIGHT_MIN_MS: f64 = 160.0;
/// The display delay's bounds: drawing lags the clock by the summaries' delay plus a margin.
pub const DISPLAY_DELAY_MIN_MS: f64 = 150.0;
pub const DISPLAY_DELAY_MAX_MS: f64 = 2_000.0;
/// Timeline lines kept.
pub const TRACE_KEEP: usize = 5_000;
/// Messages kept for drawing (the rate limit keeps far fewer in the display window).
const FLIGHTS_KEEP: usize = 4_000;
/// How far back a summary looks for its other half (sender's or receiver's).
const MATCH_SCAN: usize = 400;
/// The two halves of one message are at most this far apart, in ms.
const MATCH_WINDOW_MS: f64 = 3_000.0;
const DROPS_KEEP: usize = 200;
/// How long a lost message's cross stays, in ms.
pub const DROP_SHOW_MS: f64 = 600.0;
/// Lines of the admin log kept.
const ADMIN_LOG_KEEP: usize = 40;
/// Timing of the page's peer when its relay did not say its own (in its welcome): the native
/// node's defaults (`flotilla node --help`).
pub const PEER_TIMING: PeerTiming = PeerTiming {
    election_timeout_min_ms: 300,
    election_timeout_max_ms: 600,
    heartbeat_interval_ms: 75,
};

/// The page's two clocks: the wall clock (ms since the Unix epoch, comparable with the
/// nodes' stamps) and a monotonic one (ms since the page loaded), which drives the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub unix: u64,
    pub mono: Millis,
}

/// What the page must do with its sockets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketCommand {
    /// Open `ws://<addr>/ws`.
    Open(String),
    Send(String, String),
    Close(String),
}

/// A socket's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// To be opened at `retry_at`.
    Waiting,
    Connecting,
    Open,
    /// Closed for good: a second socket to a node already watched, an incompatible
    /// protocol.
    Stopped,
}

/// One socket, by the address it goes to.
#[derive(Clone, Debug)]
pub struct Conn {
    pub addr: String,
    pub state: ConnState,
    /// The node that welcomed us on it.
    pub node: Option<NodeId>,
    pub authed: bool,
    pub welcomed: bool,
    /// Failed attempts in a row.
    pub attempts: u32,
    pub retry_at: u64,
    /// When the current state began (page wall clock).
    pub since: u64,
    pub ever_open: bool,
    pub note: Option<String>,
    /// The node's election timeout and heartbeat, from its welcome.
    pub timing: Option<PeerTiming>,
}

/// What the page knows of one member.
#[derive(Clone, Debug, Default)]
pub struct LiveNode {
    pub http: Option<String>,
    pub peer_addr: String,
    pub relayed_by: Option<NodeId>,
    pub status: Option<NodeStatusView>,
    /// When the last status arrived (page wall clock).
    pub status_at: u64,
}

/// A line of the admin log: what the page asked, and what the nodes said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminLine {
    pub at_ms: Millis,
    pub text: String,
    /// Some(true) accepted, Some(false) refused, None a request or a note.
    pub ok: Option<bool>,
}

/// The page's own Raft peer and the node relaying it.
#[derive(Debug)]
pub struct PagePeer {
    pub peer: HostedPeer,
    pub relay: String,
    pub relay_node: Option<NodeId>,
    pub joined_ms: Millis,
    /// Leaving was asked for; the peer runs until the node says it left.
    pub leaving: bool,
}

/// The browser peer, from asking to join to leaving.
#[derive(Debug, Default)]
pub enum PeerState {
    #[default]
    None,
    Joining {
        id: u64,
        relay: String,
    },
    Running(Box<PagePeer>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FlightKey {
    from: NodeId,
    to: NodeId,
    kind: String,
    term: u64,
    entries: u32,
    index: Option<u64>,
}

#[derive(Clone, Debug)]
struct LiveFlight {
    key: FlightKey,
    /// Page ms (since the session began) when sent and received, as reported.
    sent: Option<f64>,
    received: Option<f64>,
}

impl LiveFlight {
    fn span(&self) -> (f64, f64) {
        let start = match (self.sent, self.received) {
            (Some(s), _) => s,
            (None, Some(r)) => r - FLIGHT_MIN_MS,
            (None, None) => 0.0,
        };
        let end = self.received.unwrap_or(start).max(start + FLIGHT_MIN_MS);
        (start, end)
    }
}

#[derive(Clone, Debug)]
struct PendingKv {
    op: usize,
    addr: String,
}

#[derive(Clone, Debug)]
struct PendingAdmin {
    action: Option<AdminAction>,
    text: String,
    addr: String,
}

/// Everything the page knows about a live cluster; see the module's description.
#[derive(Debug)]
pub struct LiveCluster {
    /// Page wall clock when the session began: time 0 of the timeline and the history.
    base_unix: u64,
    now: Now,
    home: Option<String>,
    conns: BTreeMap<String, Conn>,
    nodes: BTreeMap<NodeId, LiveNode>,
    token: String,
    commands: Vec<SocketCommand>,
    trace: VecDeque<TraceLine>,
    trace_count: u64,
    flights: VecDeque<LiveFlight>,
    drops: VecDeque<DropView>,
    history: Vec<Operation>,
    times: Vec<OpTimes>,
    /// The logical clock of the history: one tick per invocation or completion.
    logical: u64,
    next_id: u64,
    pending_kv: BTreeMap<u64, PendingKv>,
    pending_admin: BTreeMap<u64, PendingAdmin>,
    admin_log: VecDeque<AdminLine>,
    /// Page wall clock minus node stamps, the smallest seen: skew plus the shortest delay.
    offset_ms: Option<i64>,
    /// How late message summaries arrive, decaying: what the display delay covers.
    lag_ms: f64,
    summaries: u64,
    omitted: u64,
    /// Nodes the page paused (a paused process cannot say so itself).
    paused: BTreeSet<NodeId>,
    peer: PeerState,
    problem: Option<String>,
}

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn names(ids: impl IntoIterator<Item = NodeId>) -> String {
    let list: Vec<String> = ids.into_iter().map(node_name).collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(" ")
    }
}

/// An admin action in words.
pub fn describe_admin(action: &AdminAction) -> String {
    match action {
        AdminAction::Cut { node, peers } if peers.is_empty() => {
            format!("{} stops cutting links", node_name(*node))
        }
        AdminAction::Cut { node, peers } => {
            format!(
                "{} cuts its links to {}",
                node_name(*node),
                names(peers.clone())
            )
        }
        AdminAction::Isolate { node } => format!("isolate {}", node_name(*node)),
        AdminAction::Heal { node } => format!("heal {}", node_name(*node)),
        AdminAction::Pause { node } => format!("pause {}", node_name(*node)),
        AdminAction::Resume { node } => format!("resume {}", node_name(*node)),
        AdminAction::Crash { node } => format!("crash {} (kill -9)", node_name(*node)),
        AdminAction::Restart { node } => format!("restart {}", node_name(*node)),
        AdminAction::Transfer { to } => format!("transfer leadership to {}", node_name(*to)),
        AdminAction::Snapshot { node } => format!("snapshot {}", node_name(*node)),
        AdminAction::AddLearner { id, address } => {
            format!("add learner {} at {address}", node_name(*id))
        }
        AdminAction::Promote { id } => format!("promote {}", node_name(*id)),
        AdminAction::Remove { id } => format!("remove {}", node_name(*id)),
    }
}

/// A key-value operation in words.
pub fn describe_kv(op: &KvOp) -> String {
    match op {
        KvOp::Get { key } => format!("get {key}"),
        KvOp::Put { key, value } => format!("put {key}={value}"),
        KvOp::Delete { key } => format!("delete {key}"),
    }
}

impl LiveCluster {
    pub fn new(now: Now) -> LiveCluster {
        LiveCluster {
            base_unix: now.unix,
            now,
            home: None,
            conns: BTreeMap::new(),
            nodes: BTreeMap::new(),
            token: String::new(),
            commands: Vec::new(),
            trace: VecDeque::new(),
            trace_count: 0,
            flights: VecDeque::new(),
            drops: VecDeque::new(),
            history: Vec::new(),
            times: Vec::new(),
            logical: 0,
            next_id: 1,
            pending_kv: BTreeMap::new(),
            pending_admin: BTreeMap::new(),
            admin_log: VecDeque::new(),
            offset_ms: None,
            lag_ms: 0.0,
            summaries: 0,
            omitted: 0,
            paused: BTreeSet::new(),
            peer: PeerState::None,
            problem: None,
        }
    }

    // ----- clock -----

    /// The page's wall clock at the last call, ms since the Unix epoch.
    pub fn now_unix(&self) -> u64 {
        self.now.unix
    }

    /// Page ms since the session began.
    pub fn page_ms(&self) -> Millis {
        self.now.unix.saturating_sub(self.base_unix)
    }

    /// A node's wall-clock stamp on the page's timeline (ms since the session began).
    fn node_ms(&self, unix_ms: u64) -> f64 {
        let offset = self.offset_ms.unwrap_or(0);
        (unix_ms as i64 + offset - self.base_unix as i64) as f64
    }

    fn observe_stamp(&mut self, unix_ms: u64) {
        let seen = self.now.unix as i64 - unix_ms as i64;
        self.offset_ms = Some(self.offset_ms.map_or(seen, |o| o.min(seen)));
    }

    /// How far in the past messages are drawn, in ms.
    pub fn display_delay_ms(&self) -> f64 {
        (self.lag_ms + 80.0).clamp(DISPLAY_DELAY_MIN_MS, DISPLAY_DELAY_MAX_MS)
    }

    /// The time to draw messages at, on the page's timeline.
    pub fn display_ms(&self, unix_ms: f64) -> f64 {
        unix_ms - self.base_unix as f64 - self.display_delay_ms()
    }

    // ----- sockets -----
}

/// Reads a node's frame (serde, nothing by hand).
pub fn decode(text: &str) -> Result<NodeMessage, serde_json::Error> {
    serde_json::from_str(text)
}

/// The page peer's envelopes summarized as a node summarizes its own (`native/src/node/
/// live.rs`), so that both halves of a message between a node and the page pair up.
fn envelope_key(envelope: &Envelope) -> FlightKey {
    use flotilla_core::raft::Message;
    let (kind, entries, index) = match &envelope.message {
        Message::PreVote { last_index, .. } => ("pre_vote", 0, Some(last_index.0)),
        Message::PreVoteResponse { .. } => ("pre_vote_response", 0, None),
        Message::Vote { last_index, .. } => ("vote", 0, Some(last_index.0)),
        Message::VoteResponse { .. } => ("vote_response", 0, None),
        Message::Append {
            entries,
            prev_index,
            ..
        } => (
            "append",
            entries.len() as u32,
            Some(entries.last().map_or(prev_index.0, |e| e.index.0)),
        ),
        Message::AppendResponse { index, .. } => ("append_response", 0, Some(index.0)),
        Message::Heartbeat { commit, .. } => ("heartbeat", 0, Some(commit.0)),
        Message::HeartbeatResponse { last_index, .. } => {
            ("heartbeat_response", 0, Some(last_index.0))
        }
        Message::InstallSnapshot { meta, .. } => ("install_snapshot", 0, Some(meta.index.0)),
        Message::InstallSnapshotResponse { installed, .. } => {
            ("install_snapshot_response", 0, installed.map(|i| i.0))
        }
        Message::TimeoutNow => ("timeout_now", 0, None),
    };
    FlightKey {
        from: envelope.from,
        to: envelope.to,
        kind: kind.to_string(),
        term: envelope.term.0,
        entries,
        index,
    }
}

fn summary_text(key: &FlightKey) -> String {
    let mut text = format!(
        "{}→{} t{} {}",
        node_name(key.from),
        node_name(key.to),
        key.term,
        key.kind.replace('_', "-")
    );
    if key.entries > 0 {
        text.push_str(&format!(" +{}", key.entries));
    }
    if let Some(index) = key.index {
        text.push_str(&format!(" @{index}"));
    }
    text
}

fn flight_label(key: &FlightKey) -> String {
    let (class, short) = kind_look(&key.kind);
    if class.contains("resp") {
        match key.index {
            Some(index) if class.starts_with("m-append") => format!("{short} {index}"),
            _ => short.to_string(),
        }
    } else if key.entries > 0 {
        format!("{short} t{} +{}", key.term, key.entries)
    } else {
        format!("{short} t{}", key.term)
    }
}

/// A node's event as a timeline line.
fn event_line(node: NodeId, what: &LiveEventKind) -> (TraceKind, String) {
    let n = node_name(node);
    match what {
        LiveEventKind::Role { role, term } => {
            (TraceKind::Node, format!("{n} {} t{}", role.name(), term.0))
        }
        LiveEventKind::Leader {
            leader: Some(l),
            term,
        } => (
            TraceKind::Node,
            format!("{n} follows leader {} t{}", node_name(*l), term.0),
        ),
        LiveEventKind::Leader { leader: None, term } => {
            (TraceKind::Node, format!("{n} knows no leader t{}", term.0))
        }
        LiveEventKind::Appended { from, to, term } if from == to => (
            TraceKind::Node,
            format!("{n} appended {} t{}", from.0, term.0),
        ),
        LiveEventKind::Appended { from, to, term } => (
            TraceKind::Node,
            format!("{n} appended {}..={} t{}", from.0, to.0, term.0),
        ),
        LiveEventKind::Committed { index } => (TraceKind::Node, format!("{n} commits {}", index.0)),
        LiveEventKind::SnapshotTaken { index } => (
            TraceKind::Node,
            format!("{n} took a snapshot at {}", index.0),
        ),
        LiveEventKind::SnapshotInstalled { index, term } => (
            TraceKind::Node,
            format!("{n} installed a snapshot at {} t{}", index.0, term.0),
        ),
        LiveEventKind::Membership { members } => {
            let list: Vec<String> = members
                .iter()
                .map(|m| {
                    if m.voter {
                        node_name(m.id)
                    } else {
                        format!("{} (learner)", node_name(m.id))
                    }
                })
                .collect();
            (
                TraceKind::Membership,
                format!("{n} membership: {}", list.join(" ")),
            )
        }
        LiveEventKind::Cut { peers } if peers.is_empty() => {
            (TraceKind::Fault, format!("{n} heals: no link cut"))
        }
        LiveEventKind::Cut { peers } => (
            TraceKind::Fault,
            format!("{n} cuts its links to {}", names(peers.clone())),
        ),
        LiveEventKind::BrowserPeer { peer, joined: true } => (
            TraceKind::Membership,
            format!("{n} relays browser peer {}", node_name(*peer)),
        ),
        LiveEventKind::BrowserPeer {
            peer,
            joined: false,
        } => (
            TraceKind::Membership,
            format!("{n} no longer relays browser peer {}", node_name(*peer)),
        ),
    }
}

fn age(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms ago")
    } else {
        format!("{:.1} s ago", ms as f64 / 1_000.0)
    }
}

#[cfg(test)]
mod tests;
