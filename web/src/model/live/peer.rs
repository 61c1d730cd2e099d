//! The browser peer: the core's `HostedPeer` run in the page, joined through a relay node
//! that carries its Raft envelopes.

use super::*;

impl LiveCluster {
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

    pub(super) fn peer_joined(&mut self, addr: &str, _id: u64, peer: NodeId) {
        let seed = self.now.unix ^ (peer.0 << 48);
        // The relay's own timers, so that once promoted the peer keeps the cluster's time.
        let announced = self.conns.get(addr).and_then(|c| c.timing);
        let timing = announced.unwrap_or(PEER_TIMING);
        match HostedPeer::new(peer, seed, timing, self.now.mono) {
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
                    "browser peer {} joined as a learner, relayed by {via}; election timeout \
                     {}–{} ms, heartbeat {} ms ({})",
                    node_name(peer),
                    timing.election_timeout_min_ms,
                    timing.election_timeout_max_ms,
                    timing.heartbeat_interval_ms,
                    if announced.is_some() {
                        "the cluster's"
                    } else {
                        "defaults: the node did not say its own"
                    }
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

    pub(super) fn peer_left(&mut self, peer: NodeId, reason: &str) {
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

    pub(super) fn peer_receive(&mut self, addr: &str, envelope: Envelope) {
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

    pub(super) fn peer_tick(&mut self) {
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

    pub(super) fn peer_after(&mut self, result: Result<(), flotilla_core::live::peer::PeerError>) {
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
            self.send(&relay, &PageMessage::Raft(envelope));
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

    pub(super) fn refresh_peer_status(&mut self) {
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
}
