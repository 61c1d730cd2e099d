//! The leader removes browser peers whose relay's connection broke.
//!
//! A browser peer reaches the cluster only through its relay, the native node its page is
//! connected to. When that node crashes, the peer is cut off with it, and a promoted browser
//! peer counts against the quorum as a second dead voter: with three nodes and one browser
//! voter, two of four voters are left, no majority. Waiting to see whether the relay comes
//! back does not work: check-quorum deposes the leader within an election timeout, and then
//! nobody can be elected under the four-voter configuration. So the leader acts the moment
//! its connection to a relay breaks (a crashed process's sockets close at once): it
//! proposes the removal of that relay's browser peers, one membership change at a time.
//! Under single-server changes the leader counts the new configuration as soon as it
//! appends it, so the removal commits with the survivors (two of three) and check-quorum
//! then counts the new configuration too. (If the relay dies while another membership
//! change is still uncommitted, the removal must wait for it, and that change may need the
//! dead voters: the cluster then waits for the relay.)
//!
//! A browser peer is expendable by design (its page can close at any moment); a native
//! member is never removed this way. A connection that breaks for another reason costs the
//! page its peer, which it can add again.

use super::event_loop::EventLoop;
use flotilla_core::{Millis, NodeId};
use std::collections::BTreeSet;
use tokio::sync::oneshot;

/// How often the removal is proposed again while it is refused (another membership change
/// still uncommitted, most often the previous removal).
const RELAY_REMOVE_RETRY_MS: Millis = 200;

/// What the leader knows about its connections to relays, from one loop turn to the next.
#[derive(Debug, Default)]
pub struct RelayWatch {
    /// Peers whose outbound connection was up at the end of the last turn.
    connected: BTreeSet<NodeId>,
    /// Relays whose connection broke while this node led, and which have not reconnected.
    lost: BTreeSet<NodeId>,
    /// The browser peer whose removal was last proposed, and when.
    proposed: Option<(NodeId, Millis)>,
}

impl EventLoop {
    /// Notes broken relay connections and proposes the removal of one browser peer relayed
    /// by a lost relay (a refusal is retried after [`RELAY_REMOVE_RETRY_MS`]).
    pub(super) fn watch_relays(&mut self) {
        let connected: BTreeSet<NodeId> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.is_connected())
            .map(|(id, _)| *id)
            .collect();
        let now = self.now();
        let leading = self.replica.node().is_leader();
        let watch = &mut self.relay_watch;
        if !leading {
            watch.lost.clear();
            watch.connected = connected;
            return;
        }
        watch.lost.extend(watch.connected.difference(&connected));
        watch.lost.retain(|id| !connected.contains(id));
        watch.connected = connected;
        let recently = watch
            .proposed
            .is_some_and(|(_, at)| now < at + RELAY_REMOVE_RETRY_MS);
        if watch.lost.is_empty() || recently {
            return;
        }
        let doomed = self.member_addresses().into_iter().find(|m| {
            m.relayed_by
                .is_some_and(|r| self.relay_watch.lost.contains(&r))
        });
        if let Some(member) = doomed {
            let again = self
                .relay_watch
                .proposed
                .is_some_and(|(id, _)| id == member.id);
            self.relay_watch.proposed = Some((member.id, now));
            if !again {
                tracing::warn!(peer = %member.id, relay = ?member.relayed_by, "removing a browser peer: the connection to its relay broke");
            }
            let (reply, _ignored) = oneshot::channel();
            let args = vec![
                b"RAFT.REMOVE".to_vec(),
                member.id.0.to_string().into_bytes(),
            ];
            self.gateway_command(args, reply, true);
        }
    }
}
