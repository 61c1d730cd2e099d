//! One page's WebSocket session (protocol v1, docs/protocol.md).
//!
//! The node speaks first: `welcome`, then the latest `status`. From then on the session
//! forwards what the event loop publishes (statuses, events, and, once the page subscribed,
//! message summaries), answers the page's requests, and relays its browser peer's Raft
//! messages.
//!
//! Nothing a page does can block the node or grow its memory without bound:
//!
//! * requests run as tasks, at most [`PAGE_REQUESTS_IN_FLIGHT_MAX`] at once per page (more
//!   are answered with an `error`), and reach the event loop through a bounded channel;
//! * statuses are a `watch` (latest wins), events and summaries bounded `broadcast`s (a
//!   page that falls behind is sent `lagged`), Raft messages for its peer a queue bounded
//!   in messages and bytes (dropped when full);
//! * every frame must be written within [`WS_SEND_TIMEOUT`]; a page that stops reading is
//!   disconnected once the socket's small send buffer is full and that time has passed.

use super::ws::{self, raft_frames, WS_MESSAGE_BYTES_MAX};
use super::{GatewayRequest, RelayOutbox, Shared, ToPage, RELAY_QUEUE_ENVELOPES_MAX};
use crate::control::{self, same_secret, Verb};
use flotilla_core::live::protocol::{
    AdminAction, AdminResult, KvOutcome, NodeMessage, PageMessage, PROTOCOL_VERSION,
};
use flotilla_core::NodeId;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

/// Requests of one page being worked on at once.
pub const PAGE_REQUESTS_IN_FLIGHT_MAX: usize = 64;
/// How long writing one frame to a page may take before the page is dropped as too slow.
pub const WS_SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// A key-value request or command without an answer after this long is answered with
/// `unknown` (it may still take effect).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a join or a leave keeps retrying while the cluster has no leader or another
/// membership change is in progress.
pub const MEMBERSHIP_RETRY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two such retries.
const MEMBERSHIP_RETRY_INTERVAL: Duration = Duration::from_millis(100);
/// Failed `auth` attempts after which the socket is closed.
pub const AUTH_FAILURES_MAX: u32 = 5;

/// What a request's task hands back to its session.
#[derive(Debug)]
enum Outcome {
    Frame(NodeMessage),
    Joined {
        request: u64,
        peer: NodeId,
        relay: mpsc::Receiver<(ToPage, usize)>,
        bytes: Arc<AtomicUsize>,
    },
}

/// The page's browser peer, once joined.
#[derive(Debug)]
struct HostedPeer {
    id: NodeId,
    relay: mpsc::Receiver<(ToPage, usize)>,
    bytes: Arc<AtomicUsize>,
    /// `peer_leave` was sent: Raft from the page is no longer relayed.
    leaving: bool,
}

/// The session's own state.
#[derive(Debug)]
struct Session {
    page: u64,
    authed: bool,
    subscribed: bool,
    peer: Option<HostedPeer>,
    joining: bool,
    auth_failures: u32,
    outcomes: mpsc::Sender<Outcome>,
    permits: Arc<Semaphore>,
    relay_dropped: u64,
}

/// Keeps the counters of connected pages and subscribers right however the session ends.
#[derive(Debug)]
struct Registration {
    shared: Arc<Shared>,
    subscribed: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.counters.pages.fetch_sub(1, Ordering::Relaxed);
        if self.subscribed {
            self.shared
                .counters
                .message_subscribers
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn encode(message: &NodeMessage) -> String {
    // Plain data: serde_json cannot fail on it.
    serde_json::to_string(message).unwrap_or_default()
}

fn welcome(shared: &Shared, authed: bool) -> String {
    let members = shared.live.borrow().members.clone();
    encode(&NodeMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        node: shared.node,
        authed,
        members,
    })
}

fn error(id: Option<u64>, message: impl Into<String>) -> String {
    encode(&NodeMessage::Error {
        id,
        message: message.into(),
    })
}

/// Runs a page's session until it closes, fails, or is too slow.
pub(super) async fn run(ws: WebSocketStream<TcpStream>, authed: bool, shared: Arc<Shared>) {
    shared.counters.pages.fetch_add(1, Ordering::Relaxed);
    let mut registration = Registration {
        shared: shared.clone(),
        subscribed: false,
    };
    let page = shared.next_page.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut incoming) = ws.split();
    let (outcomes_tx, mut outcomes) = mpsc::channel(PAGE_REQUESTS_IN_FLIGHT_MAX + 1);
    let mut session = Session {
        page,
        authed,
        subscribed: false,
        peer: None,
        joining: false,
        auth_failures: 0,
        outcomes: outcomes_tx,
        permits: Arc::new(Semaphore::new(PAGE_REQUESTS_IN_FLIGHT_MAX)),
        relay_dropped: 0,
    };
    let mut live = shared.live.clone();
    let mut events = shared.events.subscribe();
    let mut messages = shared.messages.subscribe();
    let mut first = vec![welcome(&shared, authed)];
    if let Some(status) = live.borrow_and_update().status_frame.clone() {
        first.push(status);
    }
    tracing::debug!(page, authed, "page connected");
    'session: {
        for frame in first {
            if !send(&mut sink, frame).await {
                break 'session;
            }
        }
        loop {
            let frames: Vec<String> = tokio::select! {
                incoming = incoming.next() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => {
                        let (frames, close) = session.on_text(&shared, text.as_str()).await;
                        if registration.subscribed != session.subscribed {
                            let counter = &shared.counters.message_subscribers;
                            if session.subscribed {
                                counter.fetch_add(1, Ordering::Relaxed);
                            } else {
                                counter.fetch_sub(1, Ordering::Relaxed);
                            }
                            registration.subscribed = session.subscribed;
                        }
                        for frame in frames {
                            if !send(&mut sink, frame).await {
                                break 'session;
                            }
                        }
                        if close {
                            break 'session;
                        }
                        continue;
                    }
                    Some(Ok(WsMessage::Binary(_))) => {
                        vec![error(None, "binary frames are not part of protocol v1; send JSON text")]
                    }
                    Some(Ok(WsMessage::Close(_))) | None => break 'session,
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        tracing::info!(page, %error, "closing a page's socket");
                        break 'session;
                    }
                },
                Some(outcome) = outcomes.recv() => session.on_outcome(outcome),
                Some((item, size)) = recv_relay(&mut session.peer) => session.on_relay(item, size),
                changed = live.changed() => match changed {
                    Ok(()) => live.borrow_and_update().status_frame.clone().into_iter().collect(),
                    Err(_) => break 'session,
                },
                event = events.recv() => match event {
                    Ok(frame) => vec![frame.to_string()],
                    Err(RecvError::Lagged(missed)) => vec![encode(&NodeMessage::Lagged { missed })],
                    Err(RecvError::Closed) => break 'session,
                },
                batch = messages.recv(), if session.subscribed => match batch {
                    Ok(frame) => vec![frame.to_string()],
                    Err(RecvError::Lagged(missed)) => vec![encode(&NodeMessage::Lagged { missed })],
                    Err(RecvError::Closed) => break 'session,
                },
            };
            for frame in frames {
                if !send(&mut sink, frame).await {
                    break 'session;
                }
            }
        }
    }
    // Requests still running answer into a closed channel; a join that completed in the
    // meantime is undone below, like the page's current peer.
    outcomes.close();
    while let Ok(outcome) = outcomes.try_recv() {
        if let Outcome::Joined { peer, .. } = outcome {
            release(&shared, page, peer, true);
        }
    }
    if let Some(peer) = session.peer.take() {
        release(&shared, page, peer.id, true);
    }
    let _ = sink.close().await;
    tracing::debug!(page, "page disconnected");
}

/// Writes one frame, or says the page is gone or too slow.
async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocketStream<TcpStream>, WsMessage>,
    frame: String,
) -> bool {
    match tokio::time::timeout(WS_SEND_TIMEOUT, sink.send(WsMessage::text(frame))).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!(
                timeout_ms = WS_SEND_TIMEOUT.as_millis() as u64,
                "dropping a page that does not read what it is sent"
            );
            false
        }
    }
}

async fn recv_relay(peer: &mut Option<HostedPeer>) -> Option<(ToPage, usize)> {
    match peer {
        Some(peer) => peer.relay.recv().await,
        None => std::future::pending().await,
    }
}

/// Stops relaying for the page's peer and has the node propose its removal.
fn release(shared: &Shared, page: u64, peer: NodeId, closed: bool) {
    let request = GatewayRequest::PeerRelease { page, peer, closed };
    if !shared.request(request) {
        tracing::warn!(%peer, "could not ask the node to remove a browser peer; it will sweep it later");
    }
}

impl Session {
    /// Handles one text frame: the frames to send at once, and whether to close.
    async fn on_text(&mut self, shared: &Arc<Shared>, text: &str) -> (Vec<String>, bool) {
        let message = match ws::parse_page_message(text) {
            Ok(message) => message,
            Err((id, message)) => return (vec![error(id, message)], false),
        };
        match message {
            PageMessage::Subscribe { messages } => {
                self.subscribed = messages;
                (Vec::new(), false)
            }
            PageMessage::Auth { token } => {
                if same_secret(token.as_bytes(), shared.access.token.as_bytes()) {
                    self.authed = true;
                    (vec![welcome(shared, true)], false)
                } else {
                    self.auth_failures += 1;
                    // Slows down guessing: this page's session waits, nobody else's.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let close = self.auth_failures >= AUTH_FAILURES_MAX;
                    (vec![welcome(shared, self.authed)], close)
                }
            }
            PageMessage::Raft { envelope } => match &self.peer {
                Some(peer) if peer.id == envelope.from && !peer.leaving => {
                    let request = GatewayRequest::Relay {
                        page: self.page,
                        envelope,
                    };
                    // A full queue drops the message: Raft resends what matters.
                    if !shared.request(request) {
                        self.relay_dropped += 1;
                    }
                    (Vec::new(), false)
                }
                Some(peer) if peer.leaving => (Vec::new(), false),
                Some(peer) => (
                    vec![error(
                        None,
                        format!(
                            "raft message from {} refused: this page's peer is {}",
                            envelope.from.0, peer.id.0
                        ),
                    )],
                    false,
                ),
                None => (
                    vec![error(
                        None,
                        "raft message refused: this page has no peer (send peer_join first)",
                    )],
                    false,
                ),
            },
            PageMessage::PeerLeave { id } => match self.peer.as_mut() {
                Some(peer) if !peer.leaving => {
                    peer.leaving = true;
                    release(shared, self.page, peer.id, false);
                    (Vec::new(), false)
                }
                Some(_) => (vec![error(Some(id), "the peer is already leaving")], false),
                None => (vec![error(Some(id), "this page has no peer")], false),
            },
            PageMessage::PeerJoin { id } => {
                if !self.authed {
                    return (
                        vec![error(
                            Some(id),
                            "peer_join needs the cluster token (auth first)",
                        )],
                        false,
                    );
                }
                if self.peer.is_some() || self.joining {
                    return (vec![error(Some(id), "this page already has a peer")], false);
                }
                match self.permit(id) {
                    Ok(permit) => {
                        self.joining = true;
                        let task = join(shared.clone(), self.page, id);
                        self.spawn(permit, task);
                        (Vec::new(), false)
                    }
                    Err(frame) => (vec![frame], false),
                }
            }
            PageMessage::Kv { id, op } => match self.permit(id) {
                Ok(permit) => {
                    let shared = shared.clone();
                    self.spawn(permit, async move {
                        let outcome = match tokio::time::timeout(
                            REQUEST_TIMEOUT,
                            shared.run_command(ws::kv_args(&op), false),
                        )
                        .await
                        {
                            Ok(Ok(reply)) => ws::kv_outcome(reply),
                            Ok(Err(reply)) => ws::kv_outcome(reply),
                            Err(_) => KvOutcome::Unknown {
                                message: format!(
                                    "no answer within {} s; it may or may not have taken effect",
                                    REQUEST_TIMEOUT.as_secs()
                                ),
                            },
                        };
                        Outcome::Frame(NodeMessage::KvReply { id, outcome })
                    });
                    (Vec::new(), false)
                }
                Err(frame) => (vec![frame], false),
            },
            PageMessage::Command { id, args } => {
                if args.is_empty() {
                    return (vec![error(Some(id), "empty command")], false);
                }
                match self.permit(id) {
                    Ok(permit) => {
                        let shared = shared.clone();
                        let authed = self.authed;
                        self.spawn(permit, async move {
                            let args = args.into_iter().map(String::into_bytes).collect();
                            let reply = match tokio::time::timeout(
                                REQUEST_TIMEOUT,
                                shared.run_command(args, authed),
                            )
                            .await
                            {
                                Ok(Ok(reply) | Err(reply)) => ws::render_reply(&reply),
                                Err(_) => "(error) UNKNOWN no answer in time".to_string(),
                            };
                            Outcome::Frame(NodeMessage::CommandReply { id, reply })
                        });
                        (Vec::new(), false)
                    }
                    Err(frame) => (vec![frame], false),
                }
            }
            PageMessage::Admin { id, action } => {
                if !self.authed {
                    let result = AdminResult::Refused {
                        message: "admin actions need the cluster token (auth first)".into(),
                    };
                    return (vec![encode(&NodeMessage::AdminReply { id, result })], false);
                }
                match self.permit(id) {
                    Ok(permit) => {
                        let shared = shared.clone();
                        self.spawn(permit, async move {
                            let result = admin(&shared, action).await;
                            Outcome::Frame(NodeMessage::AdminReply { id, result })
                        });
                        (Vec::new(), false)
                    }
                    Err(frame) => (vec![frame], false),
                }
            }
        }
    }

    fn permit(&self, id: u64) -> Result<OwnedSemaphorePermit, String> {
        self.permits.clone().try_acquire_owned().map_err(|_| {
            error(
                Some(id),
                format!(
                    "too many requests in flight (at most {PAGE_REQUESTS_IN_FLIGHT_MAX}); wait for answers"
                ),
            )
        })
    }

    fn spawn(
        &self,
        permit: OwnedSemaphorePermit,
        task: impl std::future::Future<Output = Outcome> + Send + 'static,
    ) {
        let outcomes = self.outcomes.clone();
        tokio::spawn(async move {
            let outcome = task.await;
            drop(permit);
            let _ = outcomes.send(outcome).await;
        });
    }

    fn on_outcome(&mut self, outcome: Outcome) -> Vec<String> {
        match outcome {
            Outcome::Frame(message) => {
                if let NodeMessage::Error { .. } = &message {
                    self.joining = false;
                }
                vec![encode(&message)]
            }
            Outcome::Joined {
                request,
                peer,
                relay,
                bytes,
            } => {
                self.joining = false;
                self.peer = Some(HostedPeer {
                    id: peer,
                    relay,
                    bytes,
                    leaving: false,
                });
                vec![encode(&NodeMessage::PeerJoined { id: request, peer })]
            }
        }
    }

    fn on_relay(&mut self, item: ToPage, size: usize) -> Vec<String> {
        let Some(peer) = self.peer.as_mut() else {
            return Vec::new();
        };
        peer.bytes.fetch_sub(size, Ordering::Relaxed);
        match item {
            ToPage::Raft(envelope) => {
                let frames = raft_frames(envelope);
                if frames.is_empty() {
                    self.relay_dropped += 1;
                    tracing::debug!(
                        limit = WS_MESSAGE_BYTES_MAX,
                        "dropped a raft message too large for one frame"
                    );
                }
                frames
            }
            ToPage::Left(reason) => {
                let id = peer.id;
                self.peer = None;
                vec![encode(&NodeMessage::PeerLeft { peer: id, reason })]
            }
        }
    }
}

/// Whether a membership proposal that was refused may succeed if tried again shortly.
fn retryable(message: &str) -> bool {
    message.starts_with("NOLEADER")
        || message.starts_with("TRYAGAIN")
        || message.contains("not yet committed")
        || message.contains("transfer is in progress")
}

/// Joins the page's peer: reserve an id at the node, add it as a learner through the
/// leader (with this node's peer address), retrying while the cluster is busy.
async fn join(shared: Arc<Shared>, page: u64, request: u64) -> Outcome {
    let failed = |message: String| {
        Outcome::Frame(NodeMessage::Error {
            id: Some(request),
            message,
        })
    };
    let deadline = tokio::time::Instant::now() + MEMBERSHIP_RETRY_TIMEOUT;
    loop {
        let (tx, relay) = mpsc::channel(RELAY_QUEUE_ENVELOPES_MAX);
        let bytes = Arc::new(AtomicUsize::new(0));
        let outbox = RelayOutbox {
            tx,
            bytes: bytes.clone(),
        };
        let (reply, answer) = oneshot::channel();
        if !shared.request(GatewayRequest::PeerReserve {
            page,
            outbox,
            reply,
        }) {
            return failed("the node is too busy; retry".into());
        }
        let (peer, address) = match answer.await {
            Ok(Ok(reserved)) => reserved,
            Ok(Err(message)) => return failed(message),
            Err(_) => return failed("the node is stopping".into()),
        };
        loop {
            let args = vec![
                b"RAFT.ADDLEARNER".to_vec(),
                peer.0.to_string().into_bytes(),
                address.clone().into_bytes(),
            ];
            let reply = match shared.run_command(args, true).await {
                Ok(reply) | Err(reply) => reply,
            };
            match reply {
                crate::resp::Reply::Error(message) => {
                    let late = tokio::time::Instant::now() >= deadline;
                    if message.contains("already a member") && !late {
                        // Another relay took the id first: reserve another one.
                        release(&shared, page, peer, true);
                        break;
                    }
                    if retryable(&message) && !late {
                        tokio::time::sleep(MEMBERSHIP_RETRY_INTERVAL).await;
                        continue;
                    }
                    release(&shared, page, peer, true);
                    return failed(format!("could not add the peer as a learner: {message}"));
                }
                _ => {
                    tracing::info!(%peer, %address, "browser peer added as a learner");
                    return Outcome::Joined {
                        request,
                        peer,
                        relay,
                        bytes,
                    };
                }
            }
        }
    }
}

/// Carries out an admin action of an authenticated page.
async fn admin(shared: &Shared, action: AdminAction) -> AdminResult {
    let supervised = |verb: Verb, node: NodeId| async move {
        let Some(address) = &shared.supervisor else {
            return AdminResult::Refused {
                message: format!(
                    "cannot {} node {}: node {} was not started by `flotilla cluster`, so \
                     no supervisor can stop or start processes",
                    verb.name(),
                    node.0,
                    shared.node.0
                ),
            };
        };
        match control::call(address, &shared.access.token, verb, node.0).await {
            Ok(message) => AdminResult::Ok { message },
            Err(message) => AdminResult::Refused { message },
        }
    };
    match action {
        AdminAction::Pause { node } => supervised(Verb::Pause, node).await,
        AdminAction::Resume { node } => supervised(Verb::Resume, node).await,
        AdminAction::Crash { node } => supervised(Verb::Crash, node).await,
        AdminAction::Restart { node } => supervised(Verb::Restart, node).await,
        AdminAction::Transfer { to }
            if shared
                .live
                .borrow()
                .members
                .iter()
                .any(|m| m.id == to && m.relayed_by.is_some()) =>
        {
            AdminResult::Refused {
                message: format!(
                    "node {} is a browser peer, which never leads (docs/protocol.md)",
                    to.0
                ),
            }
        }
        action => {
            if let Some(args) = ws::admin_args(&action) {
                return match tokio::time::timeout(REQUEST_TIMEOUT, shared.run_command(args, true))
                    .await
                {
                    Ok(Ok(reply) | Err(reply)) => ws::admin_result(reply),
                    Err(_) => AdminResult::Refused {
                        message: "no answer in time; the action may or may not have been applied"
                            .into(),
                    },
                };
            }
            let (reply, answer) = oneshot::channel();
            if !shared.request(GatewayRequest::Admin { action, reply }) {
                return AdminResult::Refused {
                    message: "the node is too busy; retry".into(),
                };
            }
            match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => AdminResult::Refused {
                    message: "the node dropped the request".into(),
                },
                Err(_) => AdminResult::Refused {
                    message: "no answer in time; the action may or may not have been applied"
                        .into(),
                },
            }
        }
    }
}
