//! The mio event loop: sockets in, driver recipe, sockets out.
//!
//! Tokens: fixed ones for the two listeners and the gateway's waker, then one fresh token
//! per connection (never reused, so a late event for a closed connection cannot reach a new
//! one). Each turn: poll with a timeout that ends at the node's next deadline; drain every
//! ready socket to `WouldBlock`; tick the node if its deadline passed; then run the driver
//! recipe until the node has nothing more to say.

use super::client::{Client, CLIENT_READ_BYTES_MAX, CLIENT_WRITE_BYTES_HARD_MAX};
use super::driver::Unsynced;
use super::requests::{Forward, InFlight};
use crate::config::NodeArgs;
use crate::gateway::{self, GatewayLink};
use crate::metrics::Metrics;
use crate::net::{interrupted, would_block, Conn, ReadOutcome};
use crate::peer::{frame, Outbound, PeerMessage, RaftRef};
use crate::wal::{FileStore, WalThread};
use flotilla_core::raft::{Envelope, HardState};
use flotilla_core::replica::Replica;
use flotilla_core::{Millis, NodeId};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PEER_LISTENER: Token = Token(0);
const RESP_LISTENER: Token = Token(1);
const WAKER: Token = Token(2);
const FIRST_CONNECTION_TOKEN: usize = 16;

/// The longest the loop sleeps, so that it notices a stop signal promptly.
const POLL_TIMEOUT_MS_MAX: Millis = 100;
/// Most events handled per poll call.
const EVENTS_CAPACITY: usize = 1024;
/// Most connections accepted on the peer port at once (a cluster needs one per member).
const INBOUND_PEERS_MAX: usize = 256;
/// How often idle clients are looked for.
const IDLE_SWEEP_INTERVAL_MS: Millis = 250;
/// Most unparsed bytes buffered from one inbound peer connection.
const PEER_READ_BYTES_MAX: usize = 2 * frame::FRAME_BYTES_MAX;

/// Everything the node's thread owns.
#[derive(Debug)]
pub struct EventLoop {
    pub(super) poll: Poll,
    start: Instant,
    pub(super) me: NodeId,
    pub(super) replica: Replica,
    /// The file store, on its own thread.
    pub(super) wal: WalThread,
    /// The Ready whose writes the WAL thread is making durable (at most one).
    pub(super) unsynced: Option<Unsynced>,
    /// The cluster token that AUTH checks.
    pub(super) token: String,
    peer_listener: TcpListener,
    resp_listener: TcpListener,
    /// One dialled connection per other member.
    pub(super) peers: BTreeMap<NodeId, Outbound>,
    pub(super) peer_write_bytes_max: usize,
    /// Connections peers dialled to us: receive only.
    inbound: BTreeMap<Token, Conn>,
    pub(super) clients: BTreeMap<Token, Client>,
    next_token: usize,
    /// Requests submitted to the replica, by request id.
    pub(super) in_flight: BTreeMap<u64, InFlight>,
    pub(super) next_request_id: u64,
    /// Commands forwarded to the leader, by forward id.
    pub(super) forwards: BTreeMap<u64, Forward>,
    pub(super) next_forward_id: u64,
    pub(super) gateway: GatewayLink,
    pub(super) metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    /// The hard state last written, and when: see `driver::should_write_hard_state`.
    pub(super) hard_state_written: (HardState, Millis),
    pub(super) status_published_at: Option<Millis>,
    pub(super) addresses: Addresses,
    /// Peers this node neither sends to nor hears from (`RAFT.PARTITION`, fault injection).
    pub(super) blocked: BTreeSet<NodeId>,
    /// Client limits from the command line.
    limits: ClientLimits,
    /// When idle clients were last looked for.
    idle_swept_at: Millis,
    /// Pages: statuses, events, summaries, fault actions, browser peers (`live.rs`).
    pub(super) live: super::live::Live,
    /// The leader's watch on the connections to browser peers' relays (`relay_watch.rs`).
    pub(super) relay_watch: super::relay_watch::RelayWatch,
}

/// File descriptors kept for everything but clients: peers, WAL segments, the gateway.
const FDS_RESERVED: usize = 256;

/// `--clients-max`, lowered to fit the process's open-file limit: past that, `accept`
/// would fail with EMFILE and connections would wait in the backlog without an answer,
/// instead of being told the server is full.
fn clients_max_within_fd_limit(clients_max: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft {
        Some(soft) if soft.saturating_sub(FDS_RESERVED) < clients_max => {
            let fitted = soft.saturating_sub(FDS_RESERVED).max(1);
            tracing::warn!(
                clients_max,
                open_files = soft,
                "--clients-max lowered to {fitted} to fit the open-file limit (ulimit -n)"
            );
            fitted
        }
        _ => clients_max,
    }
}

/// Limits on RESP clients.
#[derive(Clone, Copy, Debug)]
pub struct ClientLimits {
    /// Most RESP connections at once; more are answered with an error and closed.
    pub clients_max: usize,
    /// A client with nothing in flight that sent nothing for this long is disconnected
    /// (0: never).
    pub idle_timeout_ms: Millis,
}

/// The node's own addresses, for status views.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Addresses {
    pub peer: String,
    pub resp: String,
    pub http: String,
}

impl EventLoop {
    pub fn new(args: &NodeArgs, replica: Replica, store: FileStore) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        let bind = |addr| {
            TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
        };
        let mut peer_listener = bind(args.peer_addr)?;
        let mut resp_listener = bind(args.resp_addr)?;
        poll.registry()
            .register(&mut peer_listener, PEER_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut resp_listener, RESP_LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let metrics = Arc::new(Metrics::default());
        let me = replica.node().id();
        let gateway_config = gateway::GatewayConfig {
            address: args.http_addr,
            node: me,
            web_dir: args.web_dir.clone(),
            access: gateway::WsAccess {
                token: args.token.clone(),
                allowed_origins: args.allowed_origins.clone(),
            },
            supervisor: args.supervisor.clone(),
            timing: flotilla_core::live::peer::PeerTiming::of(replica.node().config()),
        };
        let wal_waker = waker.clone();
        let wal = WalThread::spawn(
            store,
            Box::new(move || {
                // A failed wake leaves the answer queued; the loop's 100 ms poll timeout
                // still picks it up.
                let _ = wal_waker.wake();
            }),
        )?;
        let gateway = gateway::spawn(gateway_config, waker, metrics.clone())?;
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, stop.clone())?;
        }
        let hard_state = HardState {
            term: replica.node().term(),
            vote: replica.node().vote(),
            commit: replica.node().commit_index(),
        };
        let addresses = Addresses {
            peer: args.peer_addr.to_string(),
            resp: args.resp_addr.to_string(),
            http: gateway.address.to_string(),
        };
        tracing::info!(
            node = %me,
            peer = %addresses.peer,
            resp = %addresses.resp,
            http = %addresses.http,
            "listening"
        );
        let mut event_loop = EventLoop {
            poll,
            start: Instant::now(),
            me,
            replica,
            wal,
            unsynced: None,
            token: args.token.clone(),
            peer_listener,
            resp_listener,
            peers: BTreeMap::new(),
            peer_write_bytes_max: args.peer_write_bytes_max,
            inbound: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_token: FIRST_CONNECTION_TOKEN,
            in_flight: BTreeMap::new(),
            next_request_id: 1,
            forwards: BTreeMap::new(),
            next_forward_id: 1,
            gateway,
            metrics,
            stop,
            hard_state_written: (hard_state, 0),
            status_published_at: None,
            addresses,
            blocked: BTreeSet::new(),
            limits: ClientLimits {
                clients_max: clients_max_within_fd_limit(args.clients_max),
                idle_timeout_ms: args.client_idle_timeout_ms,
            },
            idle_swept_at: 0,
            live: super::live::Live::default(),
            relay_watch: super::relay_watch::RelayWatch::default(),
        };
        event_loop.sync_peers();
        Ok(event_loop)
    }

    /// Milliseconds since the loop started: the node's clock.
    pub(super) fn now(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }

    pub(super) fn fresh_token(&mut self) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        token
    }

    /// Runs until a stop signal. Errors only for failures the node cannot survive (the disk).
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        while !self.stop.load(Ordering::Relaxed) {
            let timeout = self.poll_timeout();
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if interrupted(&error) {
                    continue;
                }
                return Err(error);
            }
            for event in events.iter() {
                match event.token() {
                    PEER_LISTENER => self.accept_peers(),
                    RESP_LISTENER => self.accept_clients(),
                    WAKER => self.drain_gateway(),
                    token => self.connection_event(token),
                }
            }
            self.on_timers();
            self.wal_done()?;
            self.drive()?;
            self.resume_clients();
            self.live_tick();
            self.watch_relays();
            self.flush_peers();
        }
        tracing::info!(node = %self.me, "stopping on signal");
        Ok(())
    }

    fn poll_timeout(&self) -> Duration {
        let now = self.now();
        let mut deadline = self
            .replica
            .node()
            .next_deadline()
            .min(now + POLL_TIMEOUT_MS_MAX);
        for peer in self.peers.values() {
            if let Some(at) = peer.next_deadline() {
                deadline = deadline.min(at);
            }
        }
        Duration::from_millis(deadline.saturating_sub(now))
    }

    /// Ticks the node, redials peers and expires forwards whose time has come.
    fn on_timers(&mut self) {
        let now = self.now();
        if now >= self.replica.node().next_deadline() {
            self.replica.node_mut().tick(now);
        }
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            let token = Token(self.next_token);
            let registry = self.poll.registry();
            if let Some(peer) = self.peers.get_mut(&id) {
                if peer.maybe_dial(registry, now, token) {
                    self.next_token += 1;
                }
            }
        }
        self.expire_forwards(now);
        if now >= self.idle_swept_at + IDLE_SWEEP_INTERVAL_MS {
            self.idle_swept_at = now;
            self.close_idle_clients(now);
        }
    }

    /// Disconnects clients that have nothing in flight and sent nothing for too long.
    fn close_idle_clients(&mut self, now: Millis) {
        let timeout = self.limits.idle_timeout_ms;
        if timeout == 0 {
            return;
        }
        let idle: Vec<Token> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.all_answered()
                    && c.conn.pending_write_bytes() == 0
                    && now.saturating_sub(c.last_active) >= timeout
            })
            .map(|(t, _)| *t)
            .collect();
        for token in idle {
            if let Some(mut client) = self.clients.remove(&token) {
                tracing::debug!(?token, "closing an idle client");
                client.conn.deregister(self.poll.registry());
            }
        }
    }

    fn accept_peers(&mut self) {
        loop {
            match self.peer_listener.accept() {
                Ok((_, address)) if self.inbound.len() >= INBOUND_PEERS_MAX => {
                    tracing::warn!(%address, "refusing a peer connection: too many");
                }
                Ok((stream, address)) => {
                    let token = self.fresh_token();
                    match Conn::register(self.poll.registry(), stream, token, false) {
                        Ok(conn) => {
                            tracing::debug!(%address, "peer connected");
                            self.inbound.insert(token, conn);
                            // Bytes may already be waiting; edge-triggered readiness would
                            // not report them again.
                            self.inbound_event(token);
                        }
                        Err(error) => tracing::warn!(%error, "cannot register a peer connection"),
                    }
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                Err(error) => {
                    tracing::warn!(%error, "accepting a peer failed");
                    return;
                }
            }
        }
    }

    fn accept_clients(&mut self) {
        loop {
            match self.resp_listener.accept() {
                Ok((mut stream, address)) => {
                    if self.clients.len() >= self.limits.clients_max {
                        // As Redis does: say why, then hang up. The socket is blocking-free
                        // and the line is short, so one write either fits or is dropped.
                        let _ = std::io::Write::write(
                            &mut stream,
                            b"-ERR max number of clients reached\r\n",
                        );
                        Metrics::add(&self.metrics.clients_refused, 1);
                        tracing::warn!(%address, max = self.limits.clients_max, "refusing a client: too many");
                        continue;
                    }
                    // Replies are small and latency matters more than packet count.
                    let _ = stream.set_nodelay(true);
                    let token = self.fresh_token();
                    match Conn::register(self.poll.registry(), stream, token, false) {
                        Ok(conn) => {
                            let now = self.now();
                            self.clients.insert(token, Client::new(conn, now));
                            self.client_event(token);
                        }
                        Err(error) => tracing::warn!(%error, "cannot register a client"),
                    }
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => {}
                Err(error) => {
                    tracing::warn!(%error, "accepting a client failed");
                    return;
                }
            }
        }
    }

    fn connection_event(&mut self, token: Token) {
        if self.clients.contains_key(&token) {
            self.client_event(token);
        } else if self.inbound.contains_key(&token) {
            self.inbound_event(token);
        } else {
            let now = self.now();
            let hello = PeerMessage::Hello {
                from: self.me,
                address: self.addresses.peer.clone(),
                http: Some(self.addresses.http.clone()),
            };
            let registry = self.poll.registry();
            let Some(peer) = self.peers.values_mut().find(|p| p.token() == Some(token)) else {
                return;
            };
            let was_connected = peer.is_connected();
            peer.on_event(registry, now, &hello);
            if was_connected && !peer.is_connected() {
                let id = peer.id;
                self.fail_forwards_to(id);
                // A killed leader's kernel closes its sockets: campaign when the lease ends
                // instead of a whole election timeout later.
                if self.replica.node().leader() == Some(id) {
                    self.replica.node_mut().leader_unreachable(now);
                }
            }
        }
    }

    /// Reads frames from a peer's connection and acts on them.
    fn inbound_event(&mut self, token: Token) {
        let Some(conn) = self.inbound.get_mut(&token) else {
            return;
        };
        let outcome = conn.read_available(PEER_READ_BYTES_MAX);
        let mut messages = Vec::new();
        let mut broken = outcome == ReadOutcome::Closed;
        let mut used = 0;
        loop {
            match frame::decode(&conn.read_buf[used..]) {
                Ok(Some((message, length))) => {
                    messages.push(message);
                    used += length;
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "dropping a peer connection that sent a bad frame");
                    broken = true;
                    break;
                }
            }
        }
        conn.read_buf.drain(..used);
        if broken {
            conn.deregister(self.poll.registry());
            self.inbound.remove(&token);
        }
        for message in messages {
            self.peer_message(message);
        }
    }

    fn peer_message(&mut self, message: PeerMessage) {
        let from = match &message {
            PeerMessage::Hello { from, .. } | PeerMessage::Forward { from, .. } => Some(*from),
            PeerMessage::Raft(envelope) => Some(envelope.from),
            // Control traffic: faults must not stop the actions that clear them.
            PeerMessage::ForwardReply { .. }
            | PeerMessage::Admin { .. }
            | PeerMessage::AdminReply { .. } => None,
        };
        if from.is_some_and(|from| self.blocked.contains(&from)) {
            if let PeerMessage::Raft(envelope) = &message {
                self.observe_message(envelope, false, true);
            }
            Metrics::add(&self.metrics.peer_messages_dropped, 1);
            return;
        }
        let now = self.now();
        match message {
            PeerMessage::Hello {
                from,
                address,
                http,
            } => {
                self.live_hello(from, http);
                self.introduced(from, address);
            }
            PeerMessage::Raft(envelope) if envelope.to != self.me => self.relay_inbound(envelope),
            PeerMessage::Raft(envelope) => {
                self.observe_message(&envelope, false, false);
                let from = envelope.from;
                if let Err(error) = self.replica.node_mut().step(now, envelope) {
                    tracing::debug!(peer = %from, %error, "refused a message");
                }
            }
            PeerMessage::Forward { from, id, args } => self.forwarded_command(from, id, args),
            PeerMessage::ForwardReply { id, reply } => self.forward_replied(id, reply),
            PeerMessage::Admin { from, id, action } => {
                self.live_admin(action, super::live::AdminReplyTo::Peer { from, id });
            }
            PeerMessage::AdminReply { id, result } => self.live_admin_reply(id, result),
        }
    }

    /// Reads and runs a client's commands.
    pub(super) fn client_event(&mut self, token: Token) {
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let mut closed = false;
        if client.accepts_more() {
            let before = client.conn.read_buf.len();
            closed = client.conn.read_available(CLIENT_READ_BYTES_MAX) == ReadOutcome::Closed;
            if client.conn.read_buf.len() != before {
                client.last_active = self.start.elapsed().as_millis() as Millis;
            }
        }
        self.run_client_commands(token);
        let registry = self.poll.registry();
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let flushed = client.conn.flush(registry);
        let done =
            client.closing && client.all_answered() && client.conn.pending_write_bytes() == 0;
        let hoarding =
            client.overflowed || client.conn.pending_write_bytes() > CLIENT_WRITE_BYTES_HARD_MAX;
        if hoarding {
            tracing::warn!(
                ?token,
                bytes = client.conn.pending_write_bytes(),
                "closing a client that does not read its replies"
            );
        }
        if closed || flushed.is_err() || done || hoarding {
            client.conn.deregister(registry);
            self.clients.remove(&token);
        }
    }

    /// Clients that stopped reading because of backpressure, and whose replies drained,
    /// read again (their sockets will not signal readiness for bytes already waiting).
    fn resume_clients(&mut self) {
        let waiting: Vec<Token> = self
            .clients
            .iter()
            .filter(|(_, c)| c.accepts_more() && !c.conn.read_buf.is_empty() || c.closing)
            .map(|(t, _)| *t)
            .collect();
        for token in waiting {
            self.client_event(token);
        }
        let registry = self.poll.registry();
        let mut broken = Vec::new();
        for (token, client) in &mut self.clients {
            let hoarding = client.overflowed
                || client.conn.pending_write_bytes() > CLIENT_WRITE_BYTES_HARD_MAX;
            if client.conn.flush(registry).is_err() || hoarding {
                broken.push(*token);
            }
        }
        for token in broken {
            if let Some(mut client) = self.clients.remove(&token) {
                client.conn.deregister(self.poll.registry());
            }
        }
    }

    /// Sends a message to a peer (dropped if it is unreachable or its buffer is full).
    pub(super) fn send_to_peer(&mut self, to: NodeId, message: &PeerMessage) -> bool {
        if let Some(sent) = self.relay_send(to, message) {
            return sent;
        }
        let sent = self.transmit(to, message);
        if let PeerMessage::Raft(envelope) = message {
            self.observe_message(envelope, true, !sent);
        }
        sent
    }

    /// Sends one of a Ready's Raft messages: encoded straight from the Ready (no copy of its
    /// entries) to an ordinary peer, or handed to the relay for a browser peer.
    pub(super) fn send_raft(&mut self, envelope: &Envelope) -> bool {
        let to = envelope.to;
        if let Some(sent) = self.relay_raft(to, envelope) {
            return sent;
        }
        let sent = self.transmit(to, &RaftRef(envelope));
        self.observe_message(envelope, true, !sent);
        sent
    }

    /// Queues a frame on the connection to `to` (false: unreachable, cut, or buffer full);
    /// `flush_peers` sends it at the end of the turn.
    fn transmit<M: serde::Serialize + ?Sized>(&mut self, to: NodeId, message: &M) -> bool {
        let Some(peer) = self.peers.get_mut(&to) else {
            return false;
        };
        let sent = !self.blocked.contains(&to) && peer.send(message);
        if !sent {
            Metrics::add(&self.metrics.peer_messages_dropped, 1);
        }
        sent
    }

    /// Sends what this turn queued for each peer: one `send` per peer per turn, however
    /// many messages the turn produced for it.
    fn flush_peers(&mut self) {
        let now = self.now();
        let registry = self.poll.registry();
        for peer in self.peers.values_mut() {
            peer.flush(registry, now);
        }
    }

    /// A peer dialled us. If it is not a member we know of (this node may not have received
    /// the configuration yet), dial it back so that our answers reach it.
    fn introduced(&mut self, from: NodeId, address: String) {
        tracing::debug!(peer = %from, %address, "peer introduced itself");
        if from != self.me && !self.peers.contains_key(&from) {
            let peer = Outbound::new(from, address, self.peer_write_bytes_max);
            self.peers.insert(from, peer);
        }
    }

    /// Makes the outbound connections match the membership: dial new members, hang up on
    /// removed ones.
    pub(super) fn sync_peers(&mut self) {
        let members = self.replica.node().membership().members.clone();
        let registry = self.poll.registry();
        let now = self.start.elapsed().as_millis() as Millis;
        // A node outside the configuration (a learner not yet told about it) keeps the peers
        // that introduced themselves; a member drops everyone who is not a member.
        let outside = !members.contains_key(&self.me);
        // Members at this node's own address are browser peers it relays: no connection.
        let own = self.addresses.peer.clone();
        self.peers.retain(|id, peer| {
            let keep = match members.get(id) {
                Some(member) => member.address == peer.address && member.address != own,
                None => outside,
            };
            if !keep {
                peer.fail(registry, now);
            }
            keep
        });
        for (id, member) in members {
            if id != self.me && !self.peers.contains_key(&id) && member.address != own {
                let peer = Outbound::new(id, member.address.clone(), self.peer_write_bytes_max);
                self.peers.insert(id, peer);
            }
        }
        self.live_members_changed();
    }
}
