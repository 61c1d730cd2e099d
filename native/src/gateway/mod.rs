//! The HTTP/WebSocket gateway: a thread with a single-threaded tokio runtime, serving on the
//! node's HTTP port
//!
//! * `GET /` and other paths: the built web app from the web folder (`dist/`);
//! * `GET /status`: the node's status as JSON;
//! * `GET /metrics`: Prometheus text;
//! * `/ws`: a WebSocket that streams `{"type":"status",...}` and `{"type":"event",...}`
//!   messages, and runs `{"command":["SET","k","v"],"id":1}` requests through the node.
//!
//! The event loop never waits for the gateway: it publishes status into a `watch` channel
//! (the latest value wins) and events into a bounded `broadcast` channel (a browser that
//! falls behind skips events and is told how many). Requests go the other way through a
//! channel plus a `mio::Waker` that wakes the loop's poll.

mod http;
pub mod ws;

use crate::metrics::Metrics;
use crate::resp::Reply;
use flotilla_core::raft::Event;
use mio::Waker;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use tokio::sync::{broadcast, oneshot, watch};

/// Events buffered per WebSocket subscriber before a slow one starts missing them.
const EVENTS_BUFFERED_MAX: usize = 1024;

/// What the gateway asks of the event loop.
#[derive(Debug)]
pub enum GatewayRequest {
    /// Run a command as a client would; the reply comes back on the channel.
    Command {
        args: Vec<Vec<u8>>,
        reply: oneshot::Sender<Reply>,
        /// Whether the WebSocket presented the cluster token (admin commands allowed).
        authed: bool,
    },
}

/// Who may open the WebSocket, and with what rights.
#[derive(Clone, Debug)]
pub struct WsAccess {
    /// The cluster token: `/ws?token=...` with it may run admin commands; with a wrong one
    /// the upgrade is refused (401).
    pub token: String,
    /// Origins allowed besides pages served from this machine (`http://127.0.0.1:*`,
    /// `http://localhost:*`, `http://[::1]:*`) and from the gateway itself. A browser
    /// always sends `Origin` on a WebSocket upgrade; a page from any other site is refused
    /// (403), so that a site the user visits cannot drive a node on their machine.
    pub allowed_origins: Vec<String>,
}

/// The event loop's end of the gateway.
#[derive(Debug)]
pub struct GatewayLink {
    /// Where the gateway listens (port 0 resolved).
    pub address: SocketAddr,
    pub requests: mpsc::Receiver<GatewayRequest>,
    status: watch::Sender<Arc<String>>,
    events: broadcast::Sender<Arc<String>>,
}

impl GatewayLink {
    /// Replaces the status the gateway serves.
    pub fn publish_status(&self, status: serde_json::Value) {
        self.status.send_replace(Arc::new(status.to_string()));
    }

    /// Streams an event to WebSocket subscribers (dropped when there are none).
    pub fn event(&self, event: &Event) {
        if self.events.receiver_count() > 0 {
            let text = serde_json::json!({ "type": "event", "event": event }).to_string();
            let _ = self.events.send(Arc::new(text));
        }
    }
}

/// What the gateway's tasks share.
#[derive(Debug)]
struct Shared {
    status: watch::Receiver<Arc<String>>,
    events: broadcast::Sender<Arc<String>>,
    requests: mpsc::Sender<GatewayRequest>,
    waker: Arc<Waker>,
    metrics: Arc<Metrics>,
    web_dir: Option<PathBuf>,
    access: WsAccess,
}

impl Shared {
    /// Hands a command to the event loop and waits for its reply.
    async fn run_command(&self, args: Vec<Vec<u8>>, authed: bool) -> Reply {
        let (reply, answer) = oneshot::channel();
        if self
            .requests
            .send(GatewayRequest::Command {
                args,
                reply,
                authed,
            })
            .is_err()
        {
            return Reply::err("the node is stopping");
        }
        let _ = self.waker.wake();
        answer
            .await
            .unwrap_or_else(|_| Reply::err("the node dropped the request"))
    }
}

/// Binds the HTTP port and starts the gateway thread.
pub fn spawn(
    address: SocketAddr,
    web_dir: PathBuf,
    waker: Arc<Waker>,
    metrics: Arc<Metrics>,
    access: WsAccess,
) -> std::io::Result<GatewayLink> {
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
    let (events_tx, _) = broadcast::channel(EVENTS_BUFFERED_MAX);
    let (requests_tx, requests_rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        status: status_rx,
        events: events_tx.clone(),
        requests: requests_tx,
        waker,
        metrics,
        web_dir,
        access,
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
        events: events_tx,
    })
}
