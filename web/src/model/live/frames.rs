//! What the nodes say (welcome, status, events, message summaries), turned into the page's
//! nodes, timeline and messages in flight.

use super::*;

impl LiveCluster {
    pub(super) fn handle(&mut self, addr: &str, message: NodeMessage) {
        let from = self.conns.get(addr).and_then(|c| c.node);
        match message {
            NodeMessage::Welcome {
                protocol,
                version,
                node,
                authed,
                members,
                timing,
            } => {
                self.welcome(addr, protocol, &version, node, authed, members);
                if let Some(conn) = self.conns.get_mut(addr).filter(|c| c.welcomed) {
                    conn.timing = timing;
                }
            }
            NodeMessage::Status(status) => self.status(addr, status),
            NodeMessage::Event(event) => self.event(event),
            NodeMessage::Messages { summaries, omitted } => {
                self.omitted += u64::from(omitted);
                for summary in summaries {
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
            NodeMessage::Raft(envelope) => self.peer_receive(addr, envelope),
            NodeMessage::Error { id, message } => self.error(addr, id, message),
        }
    }

    pub(super) fn welcome(
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

    pub(super) fn learn_members(&mut self, members: &[MemberAddress]) {
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

    pub(super) fn status(&mut self, addr: &str, status: NodeStatusView) {
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

    pub(super) fn event(&mut self, event: LiveEvent) {
        self.observe_stamp(event.unix_ms);
        let at = self.node_ms(event.unix_ms);
        let (kind, text) = event_line(event.node, &event.what);
        if let LiveEventKind::Membership { members } = &event.what {
            self.learn_members(members);
        }
        self.line(at, kind, text);
    }

    pub(super) fn summary(&mut self, summary: MessageSummary) {
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

    pub(super) fn drop_line(&mut self, key: &FlightKey, at: f64, reason: &str) {
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
    pub(super) fn flight(&mut self, key: FlightKey, at: f64, sent: bool) {
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

    pub(super) fn line(&mut self, at: f64, kind: TraceKind, text: String) {
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

    pub(super) fn admin_line(&mut self, text: String, ok: Option<bool>) {
        if self.admin_log.len() >= ADMIN_LOG_KEEP {
            self.admin_log.pop_front();
        }
        let at_ms = self.page_ms();
        self.admin_log.push_back(AdminLine { at_ms, text, ok });
    }

    pub(super) fn admin_note(&mut self, text: String) {
        self.line(self.page_ms() as f64, TraceKind::Membership, text.clone());
        self.admin_line(text, None);
    }

    pub(super) fn error(&mut self, addr: &str, id: Option<u64>, message: String) {
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
}
