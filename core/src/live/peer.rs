//! A Raft peer hosted in a web page that joins a live cluster.
//!
//! The page cannot open TCP connections, so its peer talks to the cluster through one native
//! node over a WebSocket: that node relays envelopes both ways (see `docs/protocol.md`). The
//! peer itself is the ordinary core — the same [`Replica`] a native node runs — with storage
//! in memory and time from the browser's clock. It starts with an empty configuration, as any
//! node added with "add learner" does, and learns the cluster from the log (or the snapshot)
//! the leader sends it.
//!
//! Its storage is memory, so "durable" means "until the tab closes": fsync is immediate. That
//! is honest for a learner, which never counts towards a quorum. A page peer promoted to a
//! voter does count, and closing the tab then is a crash that loses the disk; the page warns
//! before promoting, and the relay removes the peer when its socket closes.
//!
//! Driving it is the recipe every driver follows, in one place so the page and the native
//! tests that stand in for a page run exactly the same code: persist, send, sync, send what
//! waited for the sync, apply, advance.

use super::protocol::{LiveEventKind, NodeStatusView};
use super::view::{live_event, member_addresses, status_view, ViewContext};
use crate::raft::{Config, Envelope, Membership, Ready};
use crate::replica::{Replica, ReplicaConfig, ReplicaError};
use crate::storage::{persist_ready, MemStorage, Storage, StorageError};
use crate::types::{Millis, NodeId};
use serde::{Deserialize, Serialize};

/// Most envelopes waiting in the outbox; past it the oldest are dropped (Raft resends what
/// matters), so a page that stops sending cannot grow without bound.
pub const OUTBOX_ENVELOPES_MAX: u32 = 4_096;

/// Most events waiting for the page to take them.
pub const EVENTS_MAX: u32 = 1_024;

/// Timing of a hosted peer; take it from the cluster's own settings so that, once promoted,
/// it behaves like the other voters. A node announces its own in its welcome
/// ([`super::protocol::NodeMessage::Welcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerTiming {
    pub election_timeout_min_ms: Millis,
    pub election_timeout_max_ms: Millis,
    pub heartbeat_interval_ms: Millis,
}

impl PeerTiming {
    /// The timing of a node configured with `config`.
    pub fn of(config: &Config) -> PeerTiming {
        PeerTiming {
            election_timeout_min_ms: config.election_timeout_min_ms,
            election_timeout_max_ms: config.election_timeout_max_ms,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
        }
    }
}

/// Why the hosted peer stopped.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the peer could not start: {0}")]
    Start(#[from] ReplicaError),
    #[error("the peer's in-memory storage failed: {0}")]
    Storage(#[from] StorageError),
}

/// A Raft peer living in a page; see the module's description.
#[derive(Debug)]
pub struct HostedPeer {
    replica: Replica,
    storage: MemStorage,
    outbox: Vec<Envelope>,
    events: Vec<LiveEventKind>,
    /// Envelopes dropped because the outbox was full, and refused by the core.
    dropped: u64,
    refused: u64,
}

impl HostedPeer {
    /// A new, empty peer with id `id` (the one the relay assigned), random choices seeded
    /// with `seed`, started at `now` on the caller's clock.
    pub fn new(id: NodeId, seed: u64, timing: PeerTiming, now: Millis) -> Result<Self, PeerError> {
        let mut config = Config::new(id);
        config.election_timeout_min_ms = timing.election_timeout_min_ms;
        config.election_timeout_max_ms = timing.election_timeout_max_ms;
        config.heartbeat_interval_ms = timing.heartbeat_interval_ms;
        config.seed = seed;
        let replica = Replica::new(config, ReplicaConfig::default(), Membership::default(), now)?;
        Ok(HostedPeer::around(replica))
    }

    fn around(replica: Replica) -> HostedPeer {
        HostedPeer {
            replica,
            storage: MemStorage::new(),
            outbox: Vec::new(),
            events: Vec::new(),
            dropped: 0,
            refused: 0,
        }
    }

    /// A founding member with its own configuration: for tests that need a cluster for a
    /// hosted peer to join, without a simulator.
    #[cfg(test)]
    pub(crate) fn founding(
        id: NodeId,
        membership: Membership,
        snapshot_entries: u64,
        now: Millis,
    ) -> Result<Self, PeerError> {
        let replica = Replica::new(
            Config::new(id),
            ReplicaConfig { snapshot_entries },
            membership,
            now,
        )?;
        Ok(HostedPeer::around(replica))
    }

    #[cfg(test)]
    pub(crate) fn replica_mut(&mut self) -> &mut Replica {
        &mut self.replica
    }

    pub fn id(&self) -> NodeId {
        self.replica.node().id()
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// A message from the cluster. Envelopes for another node, or that the core refuses
    /// (malformed, from a stale configuration), are counted and dropped.
    pub fn receive(&mut self, envelope: Envelope, now: Millis) -> Result<(), PeerError> {
        if envelope.to != self.id() {
            self.refused += 1;
            return Ok(());
        }
        if self.replica.node_mut().step(now, envelope).is_err() {
            self.refused += 1;
        }
        self.drive(now)
    }

    /// Lets time pass: call at [`HostedPeer::next_deadline`] or later.
    pub fn tick(&mut self, now: Millis) -> Result<(), PeerError> {
        self.replica.node_mut().tick(now);
        self.drive(now)
    }

    /// When the peer next has something to do on its own.
    pub fn next_deadline(&self) -> Millis {
        self.replica.node().next_deadline()
    }

    /// The envelopes to send, oldest first.
    pub fn take_outbox(&mut self) -> Vec<Envelope> {
        std::mem::take(&mut self.outbox)
    }

    /// What happened since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<LiveEventKind> {
        std::mem::take(&mut self.events)
    }

    /// Envelopes lost to a full outbox, and envelopes not for this peer or refused by it.
    pub fn losses(&self) -> (u64, u64) {
        (self.dropped, self.refused)
    }

    /// The peer's state as the page draws it.
    pub fn status(&self, now: Millis, unix_ms: u64) -> NodeStatusView {
        let node = self.replica.node();
        let members = member_addresses(node.membership());
        status_view(
            node,
            ViewContext {
                now,
                unix_ms,
                keys: self.replica.kv().len(),
                cut: Vec::new(),
                members,
                connected: None,
            },
        )
    }

    /// Runs the driver recipe until the core has nothing more to hand out.
    fn drive(&mut self, now: Millis) -> Result<(), PeerError> {
        while let Some(mut ready) = self.replica.node_mut().ready() {
            persist_ready(&mut self.storage, &ready)?;
            let messages = std::mem::take(&mut ready.messages);
            self.send(messages);
            if ready.must_sync {
                self.storage.sync()?;
            }
            let persisted = std::mem::take(&mut ready.persisted_messages);
            self.send(persisted);
            // A hosted peer has no clients of its own; replies are for requests it never took.
            let mut replies = Vec::new();
            self.replica.apply(&ready, &mut replies)?;
            self.record_events(&ready);
            self.replica.advance(now, ready.id);
        }
        Ok(())
    }

    fn send(&mut self, envelopes: Vec<Envelope>) {
        self.outbox.extend(envelopes);
        let max = OUTBOX_ENVELOPES_MAX as usize;
        if self.outbox.len() > max {
            let excess = self.outbox.len() - max;
            self.outbox.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    fn record_events(&mut self, ready: &Ready) {
        if let (Some(first), Some(last)) = (ready.entries.first(), ready.entries.last()) {
            self.events.push(LiveEventKind::Appended {
                from: first.index,
                to: last.index,
                term: last.term,
            });
        }
        self.events
            .extend(ready.events.iter().filter_map(live_event));
        let max = EVENTS_MAX as usize;
        if self.events.len() > max {
            let excess = self.events.len() - max;
            self.events.drain(..excess);
        }
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
