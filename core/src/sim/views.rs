//! Read-only views of a running simulation for the web page (and anything else that draws
//! a cluster): which messages are in flight and how to tell them apart from one frame to
//! the next, when the next event is due, each node's own clock.

use super::cluster::Sim;
use super::event::Event;
use crate::raft::Envelope;
use crate::types::{Millis, NodeId};

impl Sim {
    /// Peer messages in flight as `(id, deliver_at, envelope)`. The id (the queue's sequence
    /// number) stays the same while the message is in flight, so a view can remember when it
    /// first saw each message and animate it from sender to receiver.
    pub fn in_flight_ids(&self) -> impl Iterator<Item = (u64, Millis, &Envelope)> {
        self.queue
            .iter_seq()
            .filter_map(|(at, seq, event)| match event {
                Event::Deliver(envelope) => Some((seq, at, envelope)),
                _ => None,
            })
    }

    /// When the next event is due: running up to that time handles one instant.
    pub fn next_event_time(&self) -> Option<Millis> {
        self.queue.peek_time()
    }

    /// How many servers exist, founding members and added ones (ids are 1..=this).
    pub fn node_count(&self) -> u32 {
        self.hosts.len() as u32
    }

    /// The time on `node`'s own clock now: the clock its election deadline is set on.
    pub fn local_time(&self, node: NodeId) -> Option<Millis> {
        Some(self.host(node)?.local(self.now))
    }

    /// Whether `node` is waiting for an fsync to complete.
    pub fn fsync_pending(&self, node: NodeId) -> bool {
        self.host(node).is_some_and(|h| h.pending.is_some())
    }

    /// How many times `node` was started (1 until its first restart).
    pub fn incarnation(&self, node: NodeId) -> Option<u32> {
        Some(self.host(node)?.incarnation)
    }
}
