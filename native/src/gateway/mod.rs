//! The HTTP/WebSocket gateway: a thread with a single-threaded tokio runtime, serving on the
//! node's HTTP port
//!
//! * `GET /` and other paths: the built web app from the web folder (`dist/`);
//! * `GET /status`: the node's status as JSON;
//! * `GET /metrics`: Prometheus text;
//! * `/ws`: the live protocol (`flotilla_core::live::protocol`, docs/protocol.md): status,
//!   events and message summaries out; key-value requests, commands, admin actions and a
//!   browser peer's Raft traffic in ([`ws`], [`page`]).
//!
//! The event loop never waits for the gateway: it publishes status into `watch` channels
//! (the latest value wins), events and message summaries into bounded `broadcast` channels
//! (a page that falls behind skips them and is told how many), and a browser peer's Raft
//! messages into that page's bounded queue (dropped when full: Raft retries). Requests go
//! the other way through a bounded channel plus a `mio::Waker` that wakes the loop's poll.

mod http;
mod page;
pub mod ws;

use crate::metrics::Metrics;
use crate::resp::Reply;
use flotilla_core::live::peer::PeerTiming;
use flotilla_core::live::protocol::{AdminAction, AdminResult, MemberAddress};
use flotilla_core::raft::Envelope;
use flotilla_core::NodeId;
use mio::Waker;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::{broadcast, mpsc as async_mpsc, oneshot, watch};

/// Events buffered per WebSocket subscriber before a slow one starts missing them.
const EVENTS_BUFFERED_MAX: usize = 1024;
/// Message-summary batches buffered before a slow page starts missing them.
const MESSAGE_BATCHES_BUFFERED_MAX: usize = 64;
/// Requests from the gateway waiting for the event loop; past it, a page's request is
/// answered "busy" and a browser peer's Raft message is dropped.
const GATEWAY_REQUESTS_QUEUED_MAX: usize = 4096;
/// Most Raft messages queued for one browser peer; past it, messages are dropped.
pub const RELAY_QUEUE_ENVELOPES_MAX: usize = 1024;
/// Most bytes (entry and snapshot payload) queued for one browser peer.
pub const RELAY_QUEUE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// What the gateway asks of the event loop.
#[derive(Debug)]
pub enum GatewayRequest {
    /// Run a command as a client would; the reply comes back on the channel.
    Command {
        args: Vec<Vec<u8>>,
        reply: oneshot::Sender<Reply>,
        /// Whether the page presented the cluster token (admin commands allowed).
        authed: bool,
    },
    /// A fault or snapshot action (`Cut`, `Isolate`, `Heal`, `Snapshot`) for this node or,
    /// passed on over the peer connection, for the node it names.
    Admin {
        action: AdminAction,
        reply: oneshot::Sender<AdminResult>,
    },
    /// Pick a free node id for a page's browser peer and route Raft messages for it to
    /// `outbox`. Answered with the id and the peer address to add it with.
    PeerReserve {
        page: u64,
        outbox: RelayOutbox,
        reply: oneshot::Sender<Result<(NodeId, String), String>>,
    },
    /// The page's peer leaves (`closed`: the page is gone; otherwise it asked to leave and
    /// is told [`ToPage::Left`] once the removal is committed). The node stops relaying
    /// for it and proposes its removal.
    PeerRelease {
        page: u64,
        peer: NodeId,
        closed: bool,
    },
    /// A Raft message from a page's browser peer (its `from` was checked by the gateway).
    Relay { page: u64, envelope: Envelope },
}

/// What the event loop sends to a page that hosts a browser peer.
#[derive(Debug)]
pub enum ToPage {
    Raft(Envelope),
    /// The peer is no longer a member.
    Left(String),
}

/// The event loop's end of a page's relay queue: bounded in messages and in bytes.
#[derive(Clone, Debug)]
pub struct RelayOutbox {
    pub tx: async_mpsc::Sender<(ToPage, usize)>,
    /// Payload bytes queued and not yet taken by the page's task.
    pub bytes: Arc<AtomicUsize>,
}

impl RelayOutbox {
    /// Queues a message of `size` bytes; false when it was dropped (queue full) or the page
    /// is gone.
    pub fn push(&self, item: ToPage, size: usize) -> bool {
        if self.bytes.load(Ordering::Relaxed) + size > RELAY_QUEUE_BYTES_MAX {
            return false;
        }
        match self.tx.try_send((item, size)) {
            Ok(()) => {
                self.bytes.fetch_add(size, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }
}

/// Who may open the WebSocket, and with what rights.
#[derive(Clone, Debug)]
pub struct WsAccess {
    /// The cluster token: `/ws?token=...` with it (or a later `auth` message) may run admin
    /// actions and host a browser peer; with a wrong one the upgrade is refused (401).
    pub token: String,
    /// Origins allowed besides pages served from this machine (`http://127.0.0.1:*`,
    /// `http://localhost:*`, `http://[::1]:*`) and from the gateway itself. A browser
    /// always sends `Origin` on a WebSocket upgrade; a page from any other site is refused
    /// (403), so that a site the user visits cannot drive a node on their machine.
    pub allowed_origins: Vec<String>,
}

/// How many pages are connected, and how many want message summaries: the event loop
/// skips the work of building what nobody reads.
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub pages: AtomicUsize,
    pub message_subscribers: AtomicUsize,
}

/// The latest view of the node for pages: the encoded `status` frame, and the members and
/// timing for `welcome` frames.
#[derive(Debug, Default)]
pub struct LiveSnapshot {
    pub status_frame: Option<String>,
    pub members: Vec<MemberAddress>,
    /// The node's election timeout and heartbeat (fixed for its life; set from the start).
    pub timing: Option<PeerTiming>,
}

/// The event loop's end of the gateway.
#[derive(Debug)]
pub struct GatewayLink {
    /// Where the gateway listens (port 0 resolved).
    pub address: SocketAddr,
    pub requests: mpsc::Receiver<GatewayRequest>,
    status: watch::Sender<Arc<String>>,
    live: watch::Sender<Arc<LiveSnapshot>>,
    events: broadcast::Sender<Arc<str>>,
    messages: broadcast::Sender<Arc<str>>,
    pub counters: Arc<LiveCounters>,
}

impl GatewayLink {
    /// Replaces the status `/status` serves.
    pub fn publish_status(&self, status: serde_json::Value) {
        self.status.send_replace(Arc::new(status.to_string()));
    }

    /// Replaces the status and members pages see.
    pub fn publish_live(&self, snapshot: LiveSnapshot) {
        self.live.send_replace(Arc::new(snapshot));
    }

    /// Streams an encoded `event` frame to the pages (dropped when there are none).
    pub fn event_frame(&self, frame: String) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(frame.into());
        }
    }

    /// Streams an encoded `messages` frame to the pages that subscribed.
    pub fn messages_frame(&self, frame: String) {
        if self.messages.receiver_count() > 0 {
            let _ = self.messages.send(frame.into());
        }
    }

    pub fn has_pages(&self) -> bool {
        self.counters.pages.load(Ordering::Relaxed) > 0
    }

    pub fn has_message_subscribers(&self) -> bool {
        self.counters.message_subscribers.load(Ordering::Relaxed) > 0
    }
}

/// What the gateway's tasks share.
#[derive(Debug)]
struct Shared {
    node: NodeId,
    status: watch::Receiver<Arc<String>>,
    live: watch::Receiver<Arc<LiveSnapshot>>,
    events: broadcast::Sender<Arc<str>>,
    messages: broadcast::Sender<Arc<str>>,
    counters: Arc<LiveCounters>,
    requests: mpsc::SyncSender<GatewayRequest>,
    waker: Arc<Waker>,
    metrics: Arc<Metrics>,
    web_dir: Option<PathBuf>,
    access: WsAccess,
    /// The `flotilla cluster` control address, when this node has a supervisor.
    supervisor: Option<String>,
    next_page: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Hands a request to the event loop; false when the loop is gone or too busy.
    fn request(&self, request: GatewayRequest) -> bool {
        match self.requests.try_send(request) {
            Ok(()) => {
                let _ = self.waker.wake();
                true
            }
            Err(_) => false,
        }
    }

    /// Hands a command to the event loop and waits for its reply. `None` when the request
    /// never reached the loop (certainly not run).
    async fn run_command(&self, args: Vec<Vec<u8>>, authed: bool) -> Result<Reply, Reply> {
        let (reply, answer) = oneshot::channel();
        let request = GatewayRequest::Command {
            args,
            reply,
            authed,
        };
        if !self.request(request) {
            return Err(Reply::Error(
                "BUSY the node is stopping or too busy; retry".into(),
            ));
        }
        Ok(answer.await.unwrap_or_else(|_| {
            Reply::Error("UNKNOWN the node dropped the request; it may or may not have run".into())
        }))
    }
}

/// The gateway's settings.
#[derive(Debug)]
pub struct GatewayConfig {
    pub address: SocketAddr,
    pub node: NodeId,
    pub web_dir: PathBuf,
    pub access: WsAccess,
    pub supervisor: Option<String>,
    /// The node's timers, in every `welcome` from the first one on.
    pub timing: PeerTiming,
}

/// Binds the HTTP port and starts the gateway thread.
pub fn spawn(
    config: GatewayConfig,
    waker: Arc<Waker>,
    metrics: Arc<Metrics>,
) -> std::io::Result<GatewayLink> {
    let GatewayConfig {
        address,
        node,
        web_dir,
        access,
        supervisor,
        timing,
    } = config;
    let listener = std::net::TcpListener::bind(address)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let web_dir = match web_dir.join("index.html").is_file() {
        true => web_dir.canonicalize().ok(),
        false => {
            tracing::info!(dir = %web_dir.display(), "no built web app there; / will say so");
            None
        }
    };
    let (status_tx, status_rx) = watch::channel(Arc::new("{}".to_string()));
    let (live_tx, live_rx) = watch::channel(Arc::new(LiveSnapshot {
        timing: Some(timing),
        ..LiveSnapshot::default()
    }));
    let (events_tx, _) = broadcast::channel(EVENTS_BUFFERED_MAX);
    let (messages_tx, _) = broadcast::channel(MESSAGE_BATCHES_BUFFERED_MAX);
    let (requests_tx, requests_rx) = mpsc::sync_channel(GATEWAY_REQUESTS_QUEUED_MAX);
    let counters = Arc::new(LiveCounters::default());
    let shared = Arc::new(Shared {
        node,
        status: status_rx,
        live: live_rx,
        events: events_tx.clone(),
        messages: messages_tx.clone(),
        counters: counters.clone(),
        requests: requests_tx,
        waker,
        metrics,
        web_dir,
        access,
        supervisor,
        next_page: std::sync::atomic::AtomicU64::new(1),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => return tracing::error!(%error, "gateway cannot listen"),
                };
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            tokio::spawn(http::serve(stream, shared.clone()));
                        }
                        Err(error) => {
                            tracing::warn!(%error, "gateway accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        })?;
    Ok(GatewayLink {
        address,
        requests: requests_rx,
        status: status_tx,
        live: live_tx,
        events: events_tx,
        messages: messages_tx,
        counters,
    })
}
