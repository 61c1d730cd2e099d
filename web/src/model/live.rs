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
/// Timing of the page's peer: the native node's defaults (`flotilla node --help`), so that
/// once promoted it behaves like the other voters.
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

    /// Starts watching the cluster that the node at `addr` (`host:port`) belongs to.
    pub fn connect(&mut self, addr: &str, now: Now) {
        self.now = now;
        let addr = addr.trim().trim_end_matches('/').to_string();
        if self.home.is_none() {
            self.home = Some(addr.clone());
        }
        self.want(&addr);
        self.poll_sockets();
    }

    fn want(&mut self, addr: &str) {
        if self.conns.contains_key(addr) {
            return;
        }
        self.conns.insert(
            addr.to_string(),
            Conn {
                addr: addr.to_string(),
                state: ConnState::Waiting,
                node: None,
                authed: false,
                welcomed: false,
                attempts: 0,
                retry_at: self.now.unix,
                since: self.now.unix,
                ever_open: false,
                note: None,
            },
        );
    }

    /// When a reporting node last said it is connected to each peer (its progress).
    fn reported_back(&self) -> BTreeMap<NodeId, u64> {
        let mut back = BTreeMap::new();
        for (id, node) in &self.nodes {
            if !self.reporting(*id) {
                continue;
            }
            let Some(status) = &node.status else {
                continue;
            };
            for (peer, progress) in &status.progress {
                if progress.connected {
                    let at = back.entry(*peer).or_insert(0);
                    *at = node.status_at.max(*at);
                }
            }
        }
        back
    }

    fn poll_sockets(&mut self) {
        let now = self.now.unix;
        let back = self.reported_back();
        let someone_reports = self.nodes.keys().any(|&id| self.reporting(id));
        let mut commands = Vec::new();
        for conn in self.conns.values_mut() {
            // A node that went down while others report: wait for their word.
            let wait = conn.ever_open
                && someone_reports
                && now < conn.since + RETRY_SLOW_MS
                && conn
                    .node
                    .is_some_and(|n| back.get(&n).is_none_or(|&at| at <= conn.since));
            match conn.state {
                ConnState::Waiting if now >= conn.retry_at && !wait => {
                    conn.state = ConnState::Connecting;
                    conn.since = now;
                    commands.push(SocketCommand::Open(conn.addr.clone()));
                }
                ConnState::Connecting if now.saturating_sub(conn.since) > CONNECT_TIMEOUT_MS => {
                    commands.push(SocketCommand::Close(conn.addr.clone()));
                    conn.note = Some("no answer".into());
                    Self::schedule_retry(conn, now);
                }
                _ => {}
            }
        }
        self.commands.extend(commands);
    }

    fn schedule_retry(conn: &mut Conn, now: u64) {
        conn.attempts = conn.attempts.saturating_add(1);
        let delay = RETRY_FIRST_MS
            .saturating_mul(1 << conn.attempts.saturating_sub(1).min(5))
            .min(RETRY_MAX_MS);
        conn.state = ConnState::Waiting;
        conn.retry_at = now + delay;
        conn.since = now;
        conn.welcomed = false;
        conn.authed = false;
    }

    /// The socket to `addr` opened (the node speaks first, with its welcome).
    pub fn opened(&mut self, addr: &str, now: Now) {
        self.now = now;
        if let Some(conn) = self.conns.get_mut(addr) {
            conn.state = ConnState::Open;
            conn.since = now.unix;
            conn.ever_open = true;
            conn.note = None;
        }
    }

    /// The socket to `addr` closed (or failed to open).
    pub fn closed(&mut self, addr: &str, reason: &str, now: Now) {
        self.now = now;
        let Some(conn) = self.conns.get_mut(addr) else {
            return;
        };
        let was_open = conn.state == ConnState::Open;
        let node = conn.node;
        if conn.state == ConnState::Stopped {
            return;
        }
        if !reason.is_empty() {
            conn.note = Some(reason.to_string());
        }
        if was_open {
            // It was up: try again soon.
            conn.attempts = 0;
        }
        Self::schedule_retry(conn, now.unix);
        if was_open {
            let who = node.map_or(addr.to_string(), node_name);
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            self.line(
                self.page_ms() as f64,
                TraceKind::Fault,
                format!("lost {who} ({addr}){why}"),
            );
        }
        self.settle_pending_on(addr);
        if let PeerState::Running(peer) = &self.peer {
            if peer.relay == addr {
                let id = peer.peer.id();
                self.peer = PeerState::None;
                self.nodes.remove(&id);
                self.admin_note(format!(
                    "the browser peer {} stopped: its relay's socket closed",
                    node_name(id)
                ));
                // A relay that is still up removes the peer itself; one that crashed cannot,
                // and a dead member would stay in the configuration: ask another node.
                if !self.token.is_empty() && self.any_conn().is_some() {
                    let _ = self.admin(AdminAction::Remove { id });
                }
            }
        }
        if let PeerState::Joining { relay, .. } = &self.peer {
            if relay == addr {
                self.peer = PeerState::None;
                self.admin_note("joining failed: the relay's socket closed".into());
            }
        }
    }

    /// Requests that were waiting on a socket that closed: a write may or may not have
    /// happened (unknown), an admin action is unanswered.
    fn settle_pending_on(&mut self, addr: &str) {
        let lost: Vec<u64> = self
            .pending_kv
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.complete_kv(
                id,
                KvOutcome::Unknown {
                    message: "the connection closed before the answer".into(),
                },
            );
        }
        let lost: Vec<u64> = self
            .pending_admin
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some(p) = self.pending_admin.remove(&id) {
                // A crash through the node itself closes the socket that carried it.
                self.admin_line(
                    format!("{}: no answer, the connection closed", p.text),
                    None,
                );
            }
        }
    }

    /// A frame from the socket to `addr`.
    pub fn received(&mut self, addr: &str, text: &str, now: Now) {
        self.now = now;
        match decode(text) {
            Ok(message) => self.handle(addr, message),
            Err(error) => {
                let snippet: String = text.chars().take(80).collect();
                self.line(
                    self.page_ms() as f64,
                    TraceKind::Other,
                    format!("{addr}: a frame the page does not understand ({error}): {snippet}"),
                );
            }
        }
    }

    fn send(&mut self, addr: &str, message: &PageMessage) {
        match serde_json::to_string(message) {
            Ok(text) => self
                .commands
                .push(SocketCommand::Send(addr.to_string(), text)),
            Err(error) => self.problem = Some(format!("cannot encode a message: {error}")),
        }
    }

    /// What the page must do with its sockets now.
    pub fn take_commands(&mut self) -> Vec<SocketCommand> {
        std::mem::take(&mut self.commands)
    }

    fn handle(&mut self, addr: &str, message: NodeMessage) {
        let from = self.conns.get(addr).and_then(|c| c.node);
        match message {
            NodeMessage::Welcome {
                protocol,
                version,
                node,
                authed,
                members,
            } => self.welcome(addr, protocol, &version, node, authed, members),
            NodeMessage::Status { status } => self.status(addr, status),
            NodeMessage::Event { event } => self.event(event),
            NodeMessage::Messages { messages, omitted } => {
                self.omitted += u64::from(omitted);
                for summary in messages {
                    self.summary(summary);
                }
            }
            NodeMessage::Lagged { missed } => {
                let who = from.map_or(addr.to_string(), node_name);
                self.line(
                    self.page_ms() as f64,
                    TraceKind::Other,
                    format!("{who}: this page fell behind and missed {missed} reports"),
                );
            }
            NodeMessage::KvReply { id, outcome } => self.complete_kv(id, outcome),
            NodeMessage::CommandReply { id, reply } => {
                self.admin_line(format!("#{id}: {reply}"), None);
            }
            NodeMessage::AdminReply { id, result } => self.admin_reply(addr, id, result),
            NodeMessage::PeerJoined { id, peer } => self.peer_joined(addr, id, peer),
            NodeMessage::PeerLeft { peer, reason } => self.peer_left(peer, &reason),
            NodeMessage::Raft { envelope } => self.peer_receive(addr, envelope),
            NodeMessage::Error { id, message } => self.error(addr, id, message),
        }
    }

    fn welcome(
        &mut self,
        addr: &str,
        protocol: u32,
        version: &str,
        node: NodeId,
        authed: bool,
        members: Vec<MemberAddress>,
    ) {
        if protocol != PROTOCOL_VERSION {
            self.problem = Some(format!(
                "{addr} speaks protocol {protocol} (flotilla {version}); this page speaks {PROTOCOL_VERSION}"
            ));
            if let Some(conn) = self.conns.get_mut(addr) {
                conn.state = ConnState::Stopped;
                conn.note = Some(format!("protocol {protocol}"));
            }
            self.commands.push(SocketCommand::Close(addr.to_string()));
            return;
        }
        // A second socket to a node already watched (one address typed, another listed).
        let duplicate = self
            .conns
            .values()
            .any(|c| c.addr != addr && c.node == Some(node) && c.state == ConnState::Open);
        let token = self.token.clone();
        let Some(conn) = self.conns.get_mut(addr) else {
            return;
        };
        if duplicate {
            conn.state = ConnState::Stopped;
            conn.node = Some(node);
            conn.note = Some(format!(
                "{} is watched through another address",
                node_name(node)
            ));
            self.commands.push(SocketCommand::Close(addr.to_string()));
            return;
        }
        let first = !conn.welcomed;
        let was_authed = conn.authed;
        conn.node = Some(node);
        conn.authed = authed;
        conn.welcomed = true;
        conn.attempts = 0;
        let entry = self.nodes.entry(node).or_default();
        entry.http.get_or_insert_with(|| addr.to_string());
        if first {
            self.send(addr, &PageMessage::Subscribe { messages: true });
            if !token.is_empty() && !authed {
                self.send(addr, &PageMessage::Auth { token });
            }
            self.line(
                self.page_ms() as f64,
                TraceKind::Other,
                format!(
                    "connected to {} at {addr} (flotilla {version})",
                    node_name(node)
                ),
            );
        } else if !token.is_empty() {
            // The answer to `auth`.
            if authed && !was_authed {
                self.admin_line(
                    format!("{} accepted the token", node_name(node)),
                    Some(true),
                );
            } else if !authed {
                self.admin_line(
                    format!("{} refused the token", node_name(node)),
                    Some(false),
                );
            }
        }
        self.learn_members(&members);
    }

    fn learn_members(&mut self, members: &[MemberAddress]) {
        let mut wanted = Vec::new();
        for member in members {
            let entry = self.nodes.entry(member.id).or_default();
            if let Some(http) = &member.http {
                entry.http = Some(http.clone());
            }
            if !member.peer.is_empty() {
                entry.peer_addr = member.peer.clone();
            }
            entry.relayed_by = member.relayed_by;
            if let Some(http) = &member.http {
                wanted.push((member.id, http.clone()));
            }
        }
        for (id, http) in wanted {
            let watched = self
                .conns
                .values()
                .any(|c| c.node == Some(id) && c.state != ConnState::Stopped);
            if !watched {
                self.want(&http);
            }
        }
        self.poll_sockets();
    }

    fn status(&mut self, addr: &str, status: NodeStatusView) {
        self.observe_stamp(status.unix_ms);
        let id = status.id;
        let members = status.members.clone();
        // A node's process answers again: it is no longer paused.
        self.paused.remove(&id);
        if let Some(conn) = self.conns.get_mut(addr) {
            conn.node.get_or_insert(id);
        }
        let entry = self.nodes.entry(id).or_default();
        entry.http.get_or_insert_with(|| addr.to_string());
        entry.status = Some(status);
        entry.status_at = self.now.unix;
        self.learn_members(&members);
    }

    fn event(&mut self, event: LiveEvent) {
        self.observe_stamp(event.unix_ms);
        let at = self.node_ms(event.unix_ms);
        let (kind, text) = event_line(event.node, &event.what);
        if let LiveEventKind::Membership { members } = &event.what {
            self.learn_members(members);
        }
        self.line(at, kind, text);
    }

    fn summary(&mut self, summary: MessageSummary) {
        self.summaries += 1;
        let at = self.node_ms(summary.unix_ms);
        let lag = self.page_ms() as f64 - at;
        if lag > self.lag_ms {
            self.lag_ms = lag.min(DISPLAY_DELAY_MAX_MS);
        }
        let key = FlightKey {
            from: summary.from,
            to: summary.to,
            kind: summary.kind.clone(),
            term: summary.term.0,
            entries: summary.entries,
            index: summary.index.map(|i| i.0),
        };
        if summary.dropped {
            // A cut link, or a peer the sender cannot reach (down, unconnected).
            let reason = if ClusterModel::is_cut(self, key.from, key.to) {
                "cut"
            } else {
                "unreachable"
            };
            self.drop_line(&key, at, reason);
            return;
        }
        if summary.sent {
            let (kind, _) = kind_look(&summary.kind);
            if !kind.starts_with("m-heartbeat") {
                self.line(at, TraceKind::Message, summary_text(&key));
            }
        }
        self.flight(key, at, summary.sent);
    }

    fn drop_line(&mut self, key: &FlightKey, at: f64, reason: &str) {
        if self.drops.len() >= DROPS_KEEP {
            self.drops.pop_front();
        }
        self.drops.push_back(DropView {
            from: key.from,
            to: key.to,
            at_ms: at,
            age: 0.0,
            kind: kind_look(&key.kind).1.to_string(),
            reason: reason.to_string(),
        });
        self.line(
            at,
            TraceKind::Drop,
            format!("{} ✗ {reason}", summary_text(key)),
        );
    }

    /// One half of a message: pairs it with the other half if that arrived already.
    fn flight(&mut self, key: FlightKey, at: f64, sent: bool) {
        let found = self
            .flights
            .iter_mut()
            .rev()
            .take(MATCH_SCAN)
            .filter(|f| f.key == key)
            .filter(|f| {
                if sent {
                    f.sent.is_none()
                        && f.received
                            .is_some_and(|r| r >= at - 50.0 && r - at < MATCH_WINDOW_MS)
                } else {
                    f.received.is_none()
                        && f.sent
                            .is_some_and(|s| s <= at + 50.0 && at - s < MATCH_WINDOW_MS)
                }
            })
            .last();
        match found {
            Some(f) if sent => f.sent = Some(at),
            Some(f) => f.received = Some(at),
            None => {
                if self.flights.len() >= FLIGHTS_KEEP {
                    self.flights.pop_front();
                }
                self.flights.push_back(LiveFlight {
                    key,
                    sent: sent.then_some(at),
                    received: (!sent).then_some(at),
                });
            }
        }
    }

    fn line(&mut self, at: f64, kind: TraceKind, text: String) {
        let at = at.max(0.0) as Millis;
        let line = TraceLine {
            number: self.trace_count,
            at,
            text,
            kind,
        };
        self.trace_count += 1;
        if self.trace.len() >= TRACE_KEEP {
            self.trace.pop_front();
        }
        // Nodes report in batches: keep the timeline in time order.
        let mut position = self.trace.len();
        while position > 0 && self.trace.len() - position < 64 && self.trace[position - 1].at > at {
            position -= 1;
        }
        self.trace.insert(position, line);
    }

    fn admin_line(&mut self, text: String, ok: Option<bool>) {
        if self.admin_log.len() >= ADMIN_LOG_KEEP {
            self.admin_log.pop_front();
        }
        let at_ms = self.page_ms();
        self.admin_log.push_back(AdminLine { at_ms, text, ok });
    }

    fn admin_note(&mut self, text: String) {
        self.line(self.page_ms() as f64, TraceKind::Membership, text.clone());
        self.admin_line(text, None);
    }

    fn error(&mut self, addr: &str, id: Option<u64>, message: String) {
        let who = self
            .conns
            .get(addr)
            .and_then(|c| c.node)
            .map_or(addr.to_string(), node_name);
        if let Some(id) = id {
            if self.pending_kv.contains_key(&id) {
                self.complete_kv(id, KvOutcome::Failed { message });
                return;
            }
            if let Some(p) = self.pending_admin.remove(&id) {
                self.admin_line(format!("{who} refused {}: {message}", p.text), Some(false));
                return;
            }
            if matches!(&self.peer, PeerState::Joining { id: j, .. } if *j == id) {
                self.peer = PeerState::None;
                self.admin_line(
                    format!("{who} refused the browser peer: {message}"),
                    Some(false),
                );
                return;
            }
        }
        self.admin_line(format!("{who}: {message}"), Some(false));
    }

    /// Advances the clock: retries sockets, ticks the browser peer, forgets old messages.
    pub fn tick(&mut self, now: Now) {
        self.now = now;
        self.poll_sockets();
        self.peer_tick();
        let horizon = self.display_ms(now.unix as f64) - 2_000.0;
        while self.flights.front().is_some_and(|f| f.span().1 < horizon) {
            self.flights.pop_front();
        }
        self.lag_ms *= 0.995;
    }

    // ----- what the page shows besides the panels -----

    pub fn connections(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    pub fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether some node accepted the token.
    pub fn authed(&self) -> bool {
        self.conns
            .values()
            .any(|c| c.state == ConnState::Open && c.authed)
    }

    pub fn admin_log(&self) -> &VecDeque<AdminLine> {
        &self.admin_log
    }

    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Message summaries received, and those the nodes' rate limit left out.
    pub fn summary_counts(&self) -> (u64, u64) {
        (self.summaries, self.omitted)
    }

    pub fn peer(&self) -> &PeerState {
        &self.peer
    }

    /// The open, welcomed socket to `node`.
    fn conn_of(&self, node: NodeId) -> Option<&str> {
        self.conns
            .values()
            .find(|c| c.node == Some(node) && c.state == ConnState::Open && c.welcomed)
            .map(|c| c.addr.as_str())
    }

    fn reporting(&self, node: NodeId) -> bool {
        self.conn_of(node).is_some()
            && self
                .nodes
                .get(&node)
                .is_some_and(|n| n.status.is_some() && self.fresh(n))
    }

    fn fresh(&self, node: &LiveNode) -> bool {
        self.now.unix.saturating_sub(node.status_at) <= STALE_MS
    }

    /// Any open, welcomed socket, the home one first.
    fn any_conn(&self) -> Option<&str> {
        let open = |c: &&Conn| c.state == ConnState::Open && c.welcomed;
        self.home
            .as_ref()
            .and_then(|h| self.conns.get(h))
            .filter(open)
            .or_else(|| {
                self.conns
                    .values()
                    .filter(open)
                    .find(|c| c.node.is_some_and(|n| self.reporting(n)))
            })
            .or_else(|| self.conns.values().find(open))
            .map(|c| c.addr.as_str())
    }

    fn leader_conn(&self) -> Option<&str> {
        ClusterModel::leader(self).and_then(|(l, _)| self.conn_of(l))
    }

    // ----- client requests -----

    /// Sends a key-value request through `target` (None: the leader), recording it in the
    /// page's history. Returns its request id.
    pub fn kv(&mut self, op: KvOp, target: Option<NodeId>, now: Now) -> u64 {
        self.now = now;
        let id = self.next_id;
        self.next_id += 1;
        let (key, input) = match &op {
            KvOp::Get { key } => (key.clone(), KvInput::Get),
            KvOp::Put { key, value } => (key.clone(), KvInput::Put(bytes(value))),
            KvOp::Delete { key } => (key.clone(), KvInput::Delete),
        };
        self.logical += 1;
        let index = self.history.len();
        self.history.push(Operation {
            client: u64::from(CONSOLE),
            key: bytes(&key),
            input,
            output: KvOutput::Unknown,
            invoke: self.logical,
            complete: None,
        });
        self.times.push(OpTimes {
            invoke_ms: self.page_ms(),
            complete_ms: None,
        });
        let addr = target
            .and_then(|t| self.conn_of(t))
            .or_else(|| self.leader_conn())
            .or_else(|| self.any_conn())
            .map(str::to_string);
        let Some(addr) = addr else {
            self.pending_kv.insert(
                id,
                PendingKv {
                    op: index,
                    addr: String::new(),
                },
            );
            self.complete_kv(
                id,
                KvOutcome::Failed {
                    message: "no node to send it to".into(),
                },
            );
            return id;
        };
        let via = self
            .conns
            .get(&addr)
            .and_then(|c| c.node)
            .map_or(addr.clone(), node_name);
        self.line(
            self.page_ms() as f64,
            TraceKind::Client,
            format!("you → {via}: {}", describe_kv(&op)),
        );
        self.pending_kv.insert(
            id,
            PendingKv {
                op: index,
                addr: addr.clone(),
            },
        );
        self.send(&addr, &PageMessage::Kv { id, op });
        id
    }

    fn complete_kv(&mut self, id: u64, outcome: KvOutcome) {
        let Some(pending) = self.pending_kv.remove(&id) else {
            return;
        };
        let Some(op) = self.history.get_mut(pending.op) else {
            return;
        };
        self.logical += 1;
        let (output, complete, text) = match &outcome {
            KvOutcome::Ok { value } => {
                let output = match (&op.input, value) {
                    (KvInput::Get, value) => KvOutput::Value(value.as_deref().map(bytes)),
                    (KvInput::Put(_), _) => KvOutput::Ok,
                    // RESP DEL answers how many keys it removed; without it, whether the
                    // key existed is not known, and the delete may be placed anywhere.
                    (KvInput::Delete, Some(n)) if n == "1" || n == "true" => {
                        KvOutput::Deleted(true)
                    }
                    (KvInput::Delete, Some(n)) if n == "0" || n == "false" => {
                        KvOutput::Deleted(false)
                    }
                    (KvInput::Delete, _) => KvOutput::Unknown,
                    (KvInput::CompareAndSet { .. }, _) => KvOutput::Unknown,
                };
                let shown = match (&op.input, value) {
                    (KvInput::Get, None) => "(nil)".to_string(),
                    (KvInput::Get, Some(v)) => format!("\"{v}\""),
                    _ => "ok".to_string(),
                };
                let complete = (output != KvOutput::Unknown).then_some(self.logical);
                (output, complete, shown)
            }
            KvOutcome::Failed { message } => (KvOutput::Failed, None, format!("failed: {message}")),
            KvOutcome::Unknown { message } => {
                (KvOutput::Unknown, None, format!("unknown: {message}"))
            }
        };
        op.output = output;
        op.complete = complete;
        let what = match &op.input {
            KvInput::Get => format!("get {}", String::from_utf8_lossy(&op.key)),
            KvInput::Put(v) => format!(
                "put {}={}",
                String::from_utf8_lossy(&op.key),
                String::from_utf8_lossy(v)
            ),
            KvInput::Delete => format!("delete {}", String::from_utf8_lossy(&op.key)),
            KvInput::CompareAndSet { .. } => "cas".into(),
        };
        let page_ms = self.page_ms();
        if let Some(times) = self.times.get_mut(pending.op) {
            times.complete_ms = Some(page_ms);
        }
        self.line(
            self.page_ms() as f64,
            TraceKind::Client,
            format!("you ← {what}: {text}"),
        );
    }

    /// Operations still waiting for an answer.
    pub fn pending_kv(&self) -> usize {
        self.pending_kv.len()
    }

    // ----- admin -----

    /// Uses `token` (the cluster's admin token) on every socket, now and later.
    pub fn set_token(&mut self, token: &str, now: Now) {
        self.now = now;
        self.token = token.trim().to_string();
        if self.token.is_empty() {
            return;
        }
        let open: Vec<String> = self
            .conns
            .values()
            .filter(|c| c.state == ConnState::Open && c.welcomed)
            .map(|c| c.addr.clone())
            .collect();
        let token = self.token.clone();
        for addr in open {
            self.send(
                &addr,
                &PageMessage::Auth {
                    token: token.clone(),
                },
            );
        }
        self.admin_line("token sent to every node".into(), None);
    }

    /// Carries out an operation from a panel.
    pub fn op(&mut self, op: LiveOp, now: Now) -> Result<(), String> {
        self.now = now;
        match op {
            LiveOp::Admin(action) => self.admin(action).map(|_| ()),
            LiveOp::Link { a, b, cut } => {
                if cut {
                    // The native end of the link drops traffic both ways.
                    let (node, other) = if self.is_peer(a) { (b, a) } else { (a, b) };
                    let mut peers = self.cut_of(node);
                    peers.insert(other);
                    self.admin(AdminAction::Cut {
                        node,
                        peers: peers.into_iter().collect(),
                    })
                    .map(|_| ())
                } else {
                    for (node, other) in [(a, b), (b, a)] {
                        let mut peers = self.cut_of(node);
                        if peers.remove(&other) {
                            self.admin(AdminAction::Cut {
                                node,
                                peers: peers.into_iter().collect(),
                            })?;
                        }
                    }
                    Ok(())
                }
            }
            LiveOp::AddLearner => Err("use the form to add a learner".into()),
            LiveOp::PromotePeer => {
                let id = self.peer_id().ok_or("no browser peer")?;
                self.admin(AdminAction::Promote { id }).map(|_| ())
            }
            LiveOp::RemovePeer => self.peer_leave(),
        }
    }

    /// Sends an admin action to the node best placed to carry it out. Returns its id.
    pub fn admin(&mut self, action: AdminAction) -> Result<u64, String> {
        let text = describe_admin(&action);
        if self.token.is_empty() {
            let message = format!("{text}: needs the cluster token (connect form)");
            self.admin_line(message.clone(), Some(false));
            return Err(message);
        }
        let healthy_other = |me: NodeId| {
            self.conns
                .values()
                .filter(|c| c.state == ConnState::Open && c.welcomed)
                .find(|c| c.node.is_some_and(|n| n != me && self.reporting(n)))
                .map(|c| c.addr.as_str())
        };
        let addr = match &action {
            // The supervisor carries these out; the node itself may be dead or frozen.
            AdminAction::Crash { node }
            | AdminAction::Restart { node }
            | AdminAction::Pause { node }
            | AdminAction::Resume { node } => healthy_other(*node)
                .or_else(|| self.conn_of(*node))
                .or_else(|| self.any_conn()),
            AdminAction::Cut { node, .. }
            | AdminAction::Isolate { node }
            | AdminAction::Heal { node }
            | AdminAction::Snapshot { node } => self.conn_of(*node).or_else(|| self.any_conn()),
            AdminAction::Transfer { .. }
            | AdminAction::AddLearner { .. }
            | AdminAction::Promote { .. }
            | AdminAction::Remove { .. } => self.leader_conn().or_else(|| self.any_conn()),
        }
        .map(str::to_string);
        let Some(addr) = addr else {
            let message = format!("{text}: no node to send it to");
            self.admin_line(message.clone(), Some(false));
            return Err(message);
        };
        let id = self.next_id;
        self.next_id += 1;
        let via = self
            .conns
            .get(&addr)
            .and_then(|c| c.node)
            .map_or(addr.clone(), node_name);
        self.admin_line(format!("{text} (through {via})"), None);
        self.line(
            self.page_ms() as f64,
            TraceKind::Fault,
            format!("admin → {via}: {text}"),
        );
        self.pending_admin.insert(
            id,
            PendingAdmin {
                action: Some(action.clone()),
                text,
                addr: addr.clone(),
            },
        );
        self.send(&addr, &PageMessage::Admin { id, action });
        Ok(id)
    }

    fn admin_reply(&mut self, addr: &str, id: u64, result: AdminResult) {
        let who = self
            .conns
            .get(addr)
            .and_then(|c| c.node)
            .map_or(addr.to_string(), node_name);
        let Some(pending) = self.pending_admin.remove(&id) else {
            return;
        };
        match result {
            AdminResult::Ok { message } => {
                match pending.action {
                    Some(AdminAction::Pause { node }) => {
                        self.paused.insert(node);
                    }
                    Some(AdminAction::Resume { node } | AdminAction::Crash { node }) => {
                        self.paused.remove(&node);
                    }
                    _ => {}
                }
                self.admin_line(format!("{who}: {}: {message}", pending.text), Some(true));
            }
            AdminResult::Refused { message } => {
                self.line(
                    self.page_ms() as f64,
                    TraceKind::Fault,
                    format!("{who} refused {}: {message}", pending.text),
                );
                self.admin_line(
                    format!("{who} refused {}: {message}", pending.text),
                    Some(false),
                );
            }
        }
    }

    // ----- the browser peer -----

    pub fn peer_id(&self) -> Option<NodeId> {
        match &self.peer {
            PeerState::Running(p) => Some(p.peer.id()),
            _ => None,
        }
    }

    /// Asks the home node to add a peer hosted in this page as a learner.
    pub fn peer_join(&mut self, now: Now) -> Result<(), String> {
        self.now = now;
        if !matches!(self.peer, PeerState::None) {
            return Err("this page already runs a peer".into());
        }
        if self.token.is_empty() {
            let message = "adding a browser peer needs the cluster token".to_string();
            self.admin_line(message.clone(), Some(false));
            return Err(message);
        }
        let relay = self
            .any_conn()
            .map(str::to_string)
            .ok_or("no node to join through")?;
        let id = self.next_id;
        self.next_id += 1;
        self.peer = PeerState::Joining {
            id,
            relay: relay.clone(),
        };
        let via = self
            .conns
            .get(&relay)
            .and_then(|c| c.node)
            .map_or(relay.clone(), node_name);
        self.admin_line(format!("asking {via} to add a browser peer"), None);
        self.send(&relay, &PageMessage::PeerJoin { id });
        Ok(())
    }

    fn peer_joined(&mut self, addr: &str, _id: u64, peer: NodeId) {
        let seed = self.now.unix ^ (peer.0 << 48);
        match HostedPeer::new(peer, seed, PEER_TIMING, self.now.mono) {
            Ok(hosted) => {
                let relay_node = self.conns.get(addr).and_then(|c| c.node);
                self.peer = PeerState::Running(Box::new(PagePeer {
                    peer: hosted,
                    relay: addr.to_string(),
                    relay_node,
                    joined_ms: self.page_ms(),
                    leaving: false,
                }));
                let via = relay_node.map_or(addr.to_string(), node_name);
                self.admin_note(format!(
                    "browser peer {} joined as a learner, relayed by {via}",
                    node_name(peer)
                ));
                self.refresh_peer_status();
            }
            Err(error) => {
                self.peer = PeerState::None;
                self.admin_line(
                    format!("the browser peer could not start: {error}"),
                    Some(false),
                );
            }
        }
    }

    fn peer_left(&mut self, peer: NodeId, reason: &str) {
        if self.peer_id() == Some(peer) {
            self.peer = PeerState::None;
            self.nodes.remove(&peer);
        }
        self.admin_note(format!("browser peer {} left: {reason}", node_name(peer)));
    }

    /// Removes the page's peer from the cluster.
    pub fn peer_leave(&mut self) -> Result<(), String> {
        let PeerState::Running(peer) = &mut self.peer else {
            return Err("no browser peer".into());
        };
        peer.leaving = true;
        let relay = peer.relay.clone();
        let id = self.next_id;
        self.next_id += 1;
        self.admin_line("asking to remove the browser peer".into(), None);
        self.send(&relay, &PageMessage::PeerLeave { id });
        Ok(())
    }

    fn peer_receive(&mut self, addr: &str, envelope: Envelope) {
        let now = self.now;
        let at = self.page_ms() as f64;
        let PeerState::Running(peer) = &mut self.peer else {
            return;
        };
        if peer.relay != addr {
            return;
        }
        let key = envelope_key(&envelope);
        let result = peer.peer.receive(envelope, now.mono);
        self.flight(key, at, false);
        self.peer_after(result);
    }

    fn peer_tick(&mut self) {
        let now = self.now;
        let PeerState::Running(peer) = &mut self.peer else {
            return;
        };
        if now.mono < peer.peer.next_deadline() {
            // Still refresh what the page draws (the timer runs down).
            self.refresh_peer_status();
            return;
        }
        let result = peer.peer.tick(now.mono);
        self.peer_after(result);
    }

    /// When the peer next needs a tick (monotonic ms), if there is one.
    pub fn peer_deadline(&self) -> Option<Millis> {
        match &self.peer {
            PeerState::Running(p) => Some(p.peer.next_deadline()),
            _ => None,
        }
    }

    fn peer_after(&mut self, result: Result<(), flotilla_core::live::peer::PeerError>) {
        let at = self.page_ms() as f64;
        let PeerState::Running(peer) = &mut self.peer else {
            return;
        };
        let id = peer.peer.id();
        let relay = peer.relay.clone();
        let outbox = peer.peer.take_outbox();
        let events = peer.peer.take_events();
        for envelope in outbox {
            let key = envelope_key(&envelope);
            self.flight(key, at, true);
            self.send(&relay, &PageMessage::Raft { envelope });
        }
        for what in events {
            let (kind, text) = event_line(id, &what);
            self.line(at, kind, text);
        }
        if let Err(error) = result {
            self.peer = PeerState::None;
            self.nodes.remove(&id);
            self.admin_line(format!("the browser peer stopped: {error}"), Some(false));
            self.send(&relay, &PageMessage::PeerLeave { id: 0 });
            return;
        }
        self.refresh_peer_status();
    }

    fn refresh_peer_status(&mut self) {
        let (now, unix) = (self.now.mono, self.now.unix);
        let PeerState::Running(peer) = &self.peer else {
            return;
        };
        let status = peer.peer.status(now, unix);
        let relay = peer.relay_node;
        let entry = self.nodes.entry(status.id).or_default();
        entry.relayed_by = relay;
        entry.status = Some(status);
        entry.status_at = unix;
    }

    // ----- views -----

    /// The membership as the best-informed node sees it: the leader of the highest term,
    /// else the node with the newest status.
    pub fn members(&self) -> Vec<MemberAddress> {
        let best = self
            .nodes
            .iter()
            .filter(|(id, n)| n.status.is_some() && (self.reporting(**id) || self.is_peer(**id)))
            .filter_map(|(_, n)| n.status.as_ref())
            .max_by_key(|s| (s.role == RoleKind::Leader, s.term, s.last_index))
            .or_else(|| {
                self.nodes
                    .values()
                    .filter_map(|n| n.status.as_ref())
                    .max_by_key(|s| s.unix_ms)
            });
        match best {
            Some(status) if !status.members.is_empty() => status.members.clone(),
            _ => Vec::new(),
        }
    }

    fn cut_of(&self, node: NodeId) -> BTreeSet<NodeId> {
        self.status_of(node)
            .map(|s| s.cut.iter().copied().collect())
            .unwrap_or_default()
    }

    fn is_peer(&self, id: NodeId) -> bool {
        self.peer_id() == Some(id)
    }

    fn health(&self, id: NodeId) -> Health {
        if self.is_peer(id) {
            return Health::Up;
        }
        let node = self.nodes.get(&id);
        let conn = self
            .conns
            .values()
            .filter(|c| c.node == Some(id) && c.state != ConnState::Stopped)
            .max_by_key(|c| c.state == ConnState::Open);
        match conn {
            Some(c) if c.state == ConnState::Open => match node {
                Some(n) if n.status.is_some() && self.fresh(n) && !self.paused.contains(&id) => {
                    Health::Up
                }
                Some(n) if n.status.is_some() => Health::Paused,
                _ => Health::Connecting,
            },
            Some(c) if c.ever_open || c.attempts > 0 => Health::Down,
            Some(_) => Health::Connecting,
            None => match node {
                Some(n) if n.http.is_none() => Health::Unseen,
                _ => Health::Connecting,
            },
        }
    }

    fn ids(&self) -> Vec<NodeId> {
        let mut ids: BTreeSet<NodeId> = self.members().iter().map(|m| m.id).collect();
        for conn in self.conns.values() {
            if let (Some(node), true) = (conn.node, conn.state != ConnState::Stopped) {
                ids.insert(node);
            }
        }
        if let Some(peer) = self.peer_id() {
            ids.insert(peer);
        }
        if ids.is_empty() {
            ids.extend(self.nodes.keys().copied());
        }
        ids.into_iter().collect()
    }

    fn seat(&self, id: NodeId, members: &[MemberAddress]) -> Seat {
        match members.iter().find(|m| m.id == id) {
            Some(m) if m.voter => Seat::Voter,
            Some(_) => Seat::Learner,
            None if members.is_empty() => Seat::Voter,
            None => Seat::Outside,
        }
    }

    pub fn status_of(&self, id: NodeId) -> Option<&NodeStatusView> {
        self.nodes.get(&id).and_then(|n| n.status.as_ref())
    }

    pub fn node(&self, id: NodeId) -> Option<&LiveNode> {
        self.nodes.get(&id)
    }

    fn enabled(&self, mut button: OpButton) -> OpButton {
        if self.token.is_empty() {
            button.enabled = false;
            button.title = format!("{} (needs the cluster token: see Connect)", button.title);
        }
        button
    }

    fn admin_button(&self, id: &str, label: &str, title: &str, action: AdminAction) -> OpButton {
        self.enabled(OpButton::new(
            id,
            label,
            title,
            NodeOp::Live(LiveOp::Admin(action)),
        ))
    }
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

impl ClusterModel for LiveCluster {
    fn is_live(&self) -> bool {
        true
    }

    fn nodes(&self) -> Vec<NodeView> {
        let members = self.members();
        self.ids()
            .into_iter()
            .map(|id| {
                let health = self.health(id);
                let status = self.status_of(id);
                let in_page = self.is_peer(id);
                let role = status.map(|s| s.role);
                let timer_left = match (status, health) {
                    (Some(s), Health::Up) if s.role != RoleKind::Leader => {
                        Some(f64::from(1.0 - s.timer_fraction).clamp(0.0, 1.0))
                    }
                    _ => None,
                };
                let detail = match health {
                    Health::Up => match status.and_then(|s| s.vote) {
                        _ if in_page => "in this page".to_string(),
                        Some(v) if v == id => "voted self".to_string(),
                        Some(v) => format!("voted {}", node_name(v)),
                        None => String::new(),
                    },
                    Health::Paused => "not reporting".into(),
                    Health::Down => "down".into(),
                    Health::Connecting => "connecting".into(),
                    Health::Unseen => match self.nodes.get(&id).and_then(|n| n.relayed_by) {
                        Some(r) => format!("via {}", node_name(r)),
                        None => "not watched".into(),
                    },
                };
                NodeView {
                    id,
                    health,
                    role,
                    term: status.map_or(0, |s| s.term.0),
                    vote: status.and_then(|s| s.vote),
                    seat: self.seat(id, &members),
                    timer_left,
                    in_page,
                    detail,
                }
            })
            .collect()
    }

    fn leader(&self) -> Option<(NodeId, u64)> {
        self.nodes
            .iter()
            .filter(|(id, _)| self.health(**id) == Health::Up)
            .filter_map(|(id, n)| Some((*id, n.status.as_ref()?)))
            .filter(|(_, s)| s.role == RoleKind::Leader)
            .max_by_key(|(_, s)| s.term)
            .map(|(id, s)| (id, s.term.0))
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        let cuts = |a: NodeId, b: NodeId| self.status_of(a).is_some_and(|s| s.cut.contains(&b));
        cuts(from, to) || cuts(to, from)
    }

    fn link_ops(&self, a: NodeId, b: NodeId) -> Vec<NodeOp> {
        let cut = !self.is_cut(a, b);
        vec![NodeOp::Live(LiveOp::Link { a, b, cut })]
    }

    fn log_last_index(&self) -> u64 {
        self.nodes
            .iter()
            .filter(|(id, _)| matches!(self.health(**id), Health::Up | Health::Paused))
            .filter_map(|(_, n)| n.status.as_ref())
            .map(|s| s.last_index.0)
            .max()
            .unwrap_or(0)
    }

    fn log_row(&self, id: NodeId, columns: &[u64]) -> LogRow {
        let health = self.health(id);
        let Some(status) = self.status_of(id) else {
            return LogRow::Note(match health {
                Health::Unseen => "hosted in another page: the page cannot watch it".into(),
                _ => "no report yet".into(),
            });
        };
        if health == Health::Down {
            return LogRow::Note(format!(
                "down: its last report was {}; its log is on its disk",
                age(self
                    .now
                    .unix
                    .saturating_sub(self.nodes.get(&id).map_or(0, |n| n.status_at)))
            ));
        }
        let runs = &status.log_tail.runs;
        let term_at = |i: u64| {
            runs.iter()
                .rev()
                .find(|(start, _)| start.0 <= i)
                .map(|(_, t)| t.0)
        };
        let tail_start = runs.first().map_or(u64::MAX, |(s, _)| s.0);
        let (commit, persisted, snapshot) =
            (status.commit.0, status.persisted.0, status.snapshot_index.0);
        let cells = columns
            .iter()
            .map(|&i| {
                if i <= snapshot {
                    Cell::Compacted {
                        snapshot,
                        edge: i == snapshot,
                    }
                } else if i > status.last_index.0 || i < status.first_index.0 {
                    Cell::Empty
                } else if i >= tail_start {
                    match term_at(i) {
                        Some(term) => Cell::Entry {
                            term,
                            committed: i <= commit,
                            durable: i <= persisted,
                            mark: if term == 0 { "B" } else { "" },
                            what: None,
                        },
                        None => Cell::Unknown {
                            committed: i <= commit,
                        },
                    }
                } else {
                    Cell::Unknown {
                        committed: i <= commit,
                    }
                }
            })
            .collect();
        LogRow::Cells {
            cells,
            commit,
            leader: status.role == RoleKind::Leader && health == Health::Up,
        }
    }

    fn inspect(&self, id: NodeId) -> Inspection {
        let health = self.health(id);
        let node = self.nodes.get(&id);
        let status = node.and_then(|n| n.status.as_ref());
        let in_page = self.is_peer(id);
        let members = self.members();
        let seat = self.seat(id, &members);
        let mut buttons = Vec::new();
        let mut transfer = Vec::new();
        let state = match (health, status) {
            (Health::Down, _) => "down".to_string(),
            (Health::Paused, _) => "not reporting".to_string(),
            (Health::Connecting, None) => "connecting".to_string(),
            (Health::Unseen, None) => "browser peer".to_string(),
            (_, Some(s)) => s.role.name().to_string(),
            (_, None) => "unknown".to_string(),
        };
        let note = match health {
            Health::Down => Some(format!(
                "Its socket is closed and it does not answer: the process crashed, was stopped, or cannot be reached.{}",
                node.map_or(String::new(), |n| format!(
                    " Last report {}.",
                    age(self.now.unix.saturating_sub(n.status_at))
                ))
            )),
            Health::Paused => Some(
                "Its socket is open but it has stopped reporting, as a paused (SIGSTOPped) process does."
                    .into(),
            ),
            Health::Unseen => Some(
                "A peer hosted in another page: the page has no socket to it, and sees it only through the leader's progress."
                    .into(),
            ),
            _ => None,
        };
        if in_page {
            if seat == Seat::Learner {
                let mut promote = OpButton::new(
                    "btn-peer-promote",
                    "Promote to voter…",
                    "Make this page's peer a voter (asks for confirmation)",
                    NodeOp::Live(LiveOp::PromotePeer),
                );
                promote.danger = true;
                buttons.push(self.enabled(promote));
            }
            buttons.push(OpButton::new(
                "btn-peer-remove",
                "Remove",
                "Take this page's peer out of the cluster",
                NodeOp::Live(LiveOp::RemovePeer),
            ));
        } else {
            match health {
                Health::Down => buttons.push(self.admin_button(
                    "btn-restart",
                    "Restart",
                    "Start its process again from its data folder (through flotilla cluster)",
                    AdminAction::Restart { node: id },
                )),
                Health::Up | Health::Paused | Health::Connecting if status.is_some() => {
                    buttons.push(self.admin_button(
                        "btn-crash",
                        "Crash",
                        "kill -9 its process: what was not fsynced is lost",
                        AdminAction::Crash { node: id },
                    ));
                    if health == Health::Paused || self.paused.contains(&id) {
                        buttons.push(self.admin_button(
                            "btn-resume",
                            "Resume",
                            "SIGCONT: let the process run again",
                            AdminAction::Resume { node: id },
                        ));
                    } else {
                        buttons.push(self.admin_button(
                            "btn-pause",
                            "Pause",
                            "SIGSTOP: freeze the process, like a long GC pause",
                            AdminAction::Pause { node: id },
                        ));
                    }
                    buttons.push(self.admin_button(
                        "btn-isolate",
                        "Isolate",
                        "Drop every message to and from the other members",
                        AdminAction::Isolate { node: id },
                    ));
                    if status.is_some_and(|s| !s.cut.is_empty()) {
                        buttons.push(self.admin_button(
                            "btn-heal",
                            "Heal",
                            "Stop dropping messages",
                            AdminAction::Heal { node: id },
                        ));
                    }
                    buttons.push(self.admin_button(
                        "btn-snapshot",
                        "Snapshot",
                        "Snapshot the state machine now and compact the log",
                        AdminAction::Snapshot { node: id },
                    ));
                }
                _ => {}
            }
            if seat == Seat::Learner {
                buttons.push(self.admin_button(
                    "btn-promote",
                    "Promote",
                    "Ask the leader to make this learner a voter",
                    AdminAction::Promote { id },
                ));
            }
            if seat != Seat::Outside {
                buttons.push(self.admin_button(
                    "btn-remove",
                    "Remove",
                    "Ask the leader to take it out of the configuration",
                    AdminAction::Remove { id },
                ));
            }
        }
        let mut rows = Vec::new();
        let mut progress = Vec::new();
        if let Some(s) = status {
            let is_leader = s.role == RoleKind::Leader;
            if is_leader && health == Health::Up {
                transfer = members
                    .iter()
                    .filter(|m| m.voter && m.id != id)
                    .map(|m| {
                        self.admin_button(
                            &format!("btn-transfer-{}", m.id.0),
                            &format!("→ {}", node_name(m.id)),
                            &format!("Hand leadership to {}", node_name(m.id)),
                            AdminAction::Transfer { to: m.id },
                        )
                    })
                    .collect();
            }
            let voters = names(members.iter().filter(|m| m.voter).map(|m| m.id));
            let learners = names(members.iter().filter(|m| !m.voter).map(|m| m.id));
            let timer = if is_leader {
                "— (leads)".to_string()
            } else {
                format!("{:.0}% run", 100.0 * s.timer_fraction)
            };
            let mut add = |k: &str, v: String| rows.push((k.to_string(), v));
            add("role", s.role.name().to_string());
            add("term", s.term.0.to_string());
            add("voted for", s.vote.map_or("nobody".into(), node_name));
            add("leader", s.leader.map_or("unknown".into(), node_name));
            add("commit", s.commit.0.to_string());
            add("applied", s.applied.0.to_string());
            add("durable (fsynced)", s.persisted.0.to_string());
            add("log", format!("{}..={}", s.first_index.0, s.last_index.0));
            add("snapshot", s.snapshot_index.0.to_string());
            add("election timer", timer);
            add("voters", voters);
            add("learners", learners);
            add("keys", s.keys.to_string());
            add("links cut", names(s.cut.iter().copied()));
            if in_page {
                add("hosted", "in this page (memory only)".into());
            }
            if let Some(n) = node {
                if let Some(http) = &n.http {
                    add("web", http.clone());
                }
                if !n.peer_addr.is_empty() {
                    add("raft", n.peer_addr.clone());
                }
                if let Some(r) = n.relayed_by {
                    add("relayed by", node_name(r));
                }
                add(
                    "last report",
                    age(self.now.unix.saturating_sub(n.status_at)),
                );
            }
            progress = s
                .progress
                .iter()
                .map(|(peer, p)| ProgressRow {
                    peer: *peer,
                    match_index: p.match_index.0,
                    next_index: p.next_index.0,
                    state: if p.connected {
                        p.state.clone()
                    } else {
                        format!("{} · unreachable", p.state)
                    },
                })
                .collect();
        }
        Inspection {
            state,
            note,
            rows,
            progress,
            buttons,
            transfer,
        }
    }

    fn cluster_buttons(&self) -> Vec<OpButton> {
        Vec::new()
    }

    fn trace_lines(&self) -> &VecDeque<TraceLine> {
        &self.trace
    }

    fn trace_count(&self) -> u64 {
        self.trace_count
    }

    fn trace_note(&self) -> String {
        format!(
            "{} lines: the nodes' events and sampled messages, on this page's clock",
            self.trace_count
        )
    }

    fn history(&self) -> &[Operation] {
        &self.history
    }

    fn op_times(&self) -> &[OpTimes] {
        &self.times
    }

    fn now(&self) -> Millis {
        self.page_ms()
    }

    fn flights(&self, at_ms: f64) -> Vec<FlightView> {
        self.flights
            .iter()
            .filter_map(|f| {
                let (start, end) = f.span();
                (start <= at_ms && at_ms <= end).then(|| FlightView {
                    from: f.key.from,
                    to: f.key.to,
                    sent_ms: start,
                    deliver_ms: end,
                    class: kind_look(&f.key.kind).0,
                    label: flight_label(&f.key),
                })
            })
            .collect()
    }

    fn drops(&self, at_ms: f64) -> Vec<DropView> {
        self.drops
            .iter()
            .filter(|d| (0.0..DROP_SHOW_MS).contains(&(at_ms - d.at_ms)))
            .map(|d| DropView {
                age: (at_ms - d.at_ms) / DROP_SHOW_MS,
                ..d.clone()
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
