//! The connection a node dials to one peer, and only sends on.
//!
//! States: `Idle` (waiting for the next attempt) → `Connecting` (a non-blocking connect was
//! started; its outcome shows as writability, then `take_error`) → `Connected`. Any failure
//! goes back to `Idle` with a doubled delay, so a dead peer costs one connect attempt per
//! backoff period, not a busy loop. While not connected, messages are dropped: Raft retries
//! on its own (heartbeats, append retries), and queueing for a dead peer would only grow
//! memory and deliver stale messages later.

use super::frame;
use super::PeerMessage;
use crate::net::Conn;
use flotilla_core::{Millis, NodeId};

use mio::net::TcpStream;
use mio::{Registry, Token};
use std::net::SocketAddr;

/// First delay before redialling a peer.
const RECONNECT_BACKOFF_MS_MIN: Millis = 50;
/// Longest delay between two dial attempts.
const RECONNECT_BACKOFF_MS_MAX: Millis = 1000;
/// A connect that has not completed in this long is abandoned.
const CONNECT_TIMEOUT_MS: Millis = 1000;

/// Where an outbound connection stands.
#[derive(Debug)]
pub enum OutboundState {
    Idle { retry_at: Millis },
    Connecting { conn: Conn, deadline: Millis },
    Connected(Conn),
}

/// The dialled connection to one peer.
#[derive(Debug)]
pub struct Outbound {
    pub id: NodeId,
    pub address: String,
    pub state: OutboundState,
    backoff_ms: Millis,
    /// Most bytes queued for this peer; past it, messages are dropped.
    write_bytes_max: usize,
    /// Messages dropped because the peer was unreachable or slow (for metrics and logs).
    pub dropped: u64,
}

impl Outbound {
    pub fn new(id: NodeId, address: String, write_bytes_max: usize) -> Outbound {
        Outbound {
            id,
            address,
            state: OutboundState::Idle { retry_at: 0 },
            backoff_ms: RECONNECT_BACKOFF_MS_MIN,
            write_bytes_max,
            dropped: 0,
        }
    }

    pub fn token(&self) -> Option<Token> {
        match &self.state {
            OutboundState::Idle { .. } => None,
            OutboundState::Connecting { conn, .. } | OutboundState::Connected(conn) => {
                Some(conn.token)
            }
        }
    }

    pub fn is_connected(&self) -> bool {
        matches!(self.state, OutboundState::Connected(_))
    }

    /// Starts a connection attempt if one is due; `token` is the token to register it under.
    /// Returns whether it used the token.
    pub fn maybe_dial(&mut self, registry: &Registry, now: Millis, token: Token) -> bool {
        match self.state {
            OutboundState::Idle { retry_at } if now >= retry_at => {}
            OutboundState::Connecting { deadline, .. } if now >= deadline => {
                tracing::debug!(peer = %self.id, "connect timed out");
                self.fail(registry, now);
                return false;
            }
            _ => return false,
        }
        let dialled = self
            .address
            .parse::<SocketAddr>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
            .and_then(TcpStream::connect)
            .and_then(|stream| {
                // Appends are small frames sent back to back: without TCP_NODELAY, Nagle's
                // algorithm holds them for the follower's delayed ACK (40 ms on Linux).
                stream.set_nodelay(true)?;
                Conn::register(registry, stream, token, true)
            });
        match dialled {
            Ok(conn) => {
                let deadline = now + CONNECT_TIMEOUT_MS;
                self.state = OutboundState::Connecting { conn, deadline };
                true
            }
            Err(error) => {
                tracing::debug!(peer = %self.id, address = %self.address, %error, "dial failed");
                self.fail(registry, now);
                false
            }
        }
    }

    /// Handles a readiness event; `hello` is sent first when the connection completes.
    pub fn on_event(&mut self, registry: &Registry, now: Millis, hello: &PeerMessage) {
        match &mut self.state {
            OutboundState::Idle { .. } => {}
            OutboundState::Connecting { conn, .. } => {
                let connected = match conn.stream.take_error() {
                    Ok(None) => match conn.stream.peer_addr() {
                        Ok(_) => true,
                        // Still in progress: a spurious wake-up; the deadline bounds the wait.
                        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return,
                        Err(_) => false,
                    },
                    Ok(Some(_)) | Err(_) => false,
                };
                if !connected {
                    self.fail(registry, now);
                    return;
                }
                let OutboundState::Connecting { conn, .. } =
                    std::mem::replace(&mut self.state, OutboundState::Idle { retry_at: now })
                else {
                    unreachable!("matched above")
                };
                tracing::info!(peer = %self.id, address = %self.address, "connected");
                self.backoff_ms = RECONNECT_BACKOFF_MS_MIN;
                self.state = OutboundState::Connected(conn);
                self.send(hello);
                self.flush(registry, now);
            }
            OutboundState::Connected(conn) => {
                // Peers never send on this connection; reading only notices a close.
                let closed = conn.read_available(1) == crate::net::ReadOutcome::Closed
                    || conn.flush(registry).is_err();
                conn.read_buf.clear();
                if closed {
                    tracing::info!(peer = %self.id, "connection lost");
                    self.fail(registry, now);
                }
            }
        }
    }

    /// Queues a message; `flush` sends it. Returns false when it was dropped (not connected,
    /// or the write buffer is full).
    ///
    /// Queueing instead of sending at once lets the loop send everything one turn produced
    /// for this peer with one `send`: a follower acknowledges every append it received while
    /// its disk synced, and sending each acknowledgement by itself cost a system call each
    /// (at ~80,000 writes/s a follower made 2.5 `sendto` per fdatasync; now 1.1).
    pub fn send<M: serde::Serialize + ?Sized>(&mut self, message: &M) -> bool {
        let OutboundState::Connected(conn) = &mut self.state else {
            self.dropped += 1;
            return false;
        };
        if conn.pending_write_bytes() >= self.write_bytes_max {
            self.dropped += 1;
            return false;
        }
        frame::encode(message, conn.write_buf_mut());
        true
    }

    /// Sends what `send` queued, as far as the socket takes it (the rest goes when it is
    /// writable). A broken connection is dropped and redialled later.
    pub fn flush(&mut self, registry: &Registry, now: Millis) {
        let OutboundState::Connected(conn) = &mut self.state else {
            return;
        };
        if conn.pending_write_bytes() > 0 && conn.flush(registry).is_err() {
            tracing::info!(peer = %self.id, "connection lost while sending");
            self.fail(registry, now);
        }
    }

    /// Drops the connection (if any) and schedules the next attempt.
    pub fn fail(&mut self, registry: &Registry, now: Millis) {
        if let OutboundState::Connecting { conn, .. } | OutboundState::Connected(conn) =
            &mut self.state
        {
            conn.deregister(registry);
        }
        self.state = OutboundState::Idle {
            retry_at: now + self.backoff_ms,
        };
        self.backoff_ms = (self.backoff_ms * 2).min(RECONNECT_BACKOFF_MS_MAX);
    }

    /// The next time `maybe_dial` has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        match self.state {
            OutboundState::Idle { retry_at } => Some(retry_at),
            OutboundState::Connecting { deadline, .. } => Some(deadline),
            OutboundState::Connected(_) => None,
        }
    }
}
