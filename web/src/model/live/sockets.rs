//! Discovery and the sockets: which nodes the page wants a socket to; opening, retrying and
//! closing them; the frames that go out.

use super::*;

impl LiveCluster {
    /// Starts watching the cluster that the node at `addr` (`host:port`) belongs to.
    pub fn connect(&mut self, addr: &str, now: Now) {
        self.now = now;
        let addr = addr.trim().trim_end_matches('/').to_string();
        if self.home.is_none() {
            self.home = Some(addr.clone());
        }
        self.want(&addr);
        self.poll_sockets();
    }

    pub(super) fn want(&mut self, addr: &str) {
        if self.conns.contains_key(addr) {
            return;
        }
        self.conns.insert(
            addr.to_string(),
            Conn {
                addr: addr.to_string(),
                state: ConnState::Waiting,
                node: None,
                authed: false,
                welcomed: false,
                attempts: 0,
                retry_at: self.now.unix,
                since: self.now.unix,
                ever_open: false,
                note: None,
                timing: None,
            },
        );
    }

    /// When a reporting node last said it is connected to each peer (its progress).
    pub(super) fn reported_back(&self) -> BTreeMap<NodeId, u64> {
        let mut back = BTreeMap::new();
        for (id, node) in &self.nodes {
            if !self.reporting(*id) {
                continue;
            }
            let Some(status) = &node.status else {
                continue;
            };
            for (peer, progress) in &status.progress {
                if progress.connected {
                    let at = back.entry(*peer).or_insert(0);
                    *at = node.status_at.max(*at);
                }
            }
        }
        back
    }

    pub(super) fn poll_sockets(&mut self) {
        let now = self.now.unix;
        let back = self.reported_back();
        let someone_reports = self.nodes.keys().any(|&id| self.reporting(id));
        let mut commands = Vec::new();
        for conn in self.conns.values_mut() {
            // A node that went down while others report: wait for their word.
            let wait = conn.ever_open
                && someone_reports
                && now < conn.since + RETRY_SLOW_MS
                && conn
                    .node
                    .is_some_and(|n| back.get(&n).is_none_or(|&at| at <= conn.since));
            match conn.state {
                ConnState::Waiting if now >= conn.retry_at && !wait => {
                    conn.state = ConnState::Connecting;
                    conn.since = now;
                    commands.push(SocketCommand::Open(conn.addr.clone()));
                }
                ConnState::Connecting if now.saturating_sub(conn.since) > CONNECT_TIMEOUT_MS => {
                    commands.push(SocketCommand::Close(conn.addr.clone()));
                    conn.note = Some("no answer".into());
                    Self::schedule_retry(conn, now);
                }
                _ => {}
            }
        }
        self.commands.extend(commands);
    }

    pub(super) fn schedule_retry(conn: &mut Conn, now: u64) {
        conn.attempts = conn.attempts.saturating_add(1);
        let delay = RETRY_FIRST_MS
            .saturating_mul(1 << conn.attempts.saturating_sub(1).min(5))
            .min(RETRY_MAX_MS);
        conn.state = ConnState::Waiting;
        conn.retry_at = now + delay;
        conn.since = now;
        conn.welcomed = false;
        conn.authed = false;
    }

    /// The socket to `addr` opened (the node speaks first, with its welcome).
    pub fn opened(&mut self, addr: &str, now: Now) {
        self.now = now;
        if let Some(conn) = self.conns.get_mut(addr) {
            conn.state = ConnState::Open;
            conn.since = now.unix;
            conn.ever_open = true;
            conn.note = None;
        }
    }

    /// The socket to `addr` closed (or failed to open).
    pub fn closed(&mut self, addr: &str, reason: &str, now: Now) {
        self.now = now;
        let Some(conn) = self.conns.get_mut(addr) else {
            return;
        };
        let was_open = conn.state == ConnState::Open;
        let node = conn.node;
        if conn.state == ConnState::Stopped {
            return;
        }
        if !reason.is_empty() {
            conn.note = Some(reason.to_string());
        }
        if was_open {
            // It was up: try again soon.
            conn.attempts = 0;
        }
        Self::schedule_retry(conn, now.unix);
        if was_open {
            let who = node.map_or(addr.to_string(), node_name);
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            self.line(
                self.page_ms() as f64,
                TraceKind::Fault,
                format!("lost {who} ({addr}){why}"),
            );
        }
        self.settle_pending_on(addr);
        if let PeerState::Running(peer) = &self.peer {
            if peer.relay == addr {
                let id = peer.peer.id();
                self.peer = PeerState::None;
                self.nodes.remove(&id);
                self.admin_note(format!(
                    "the browser peer {} stopped: its relay's socket closed",
                    node_name(id)
                ));
                // A relay that is still up removes the peer itself; one that crashed cannot,
                // and a dead member would stay in the configuration: ask another node.
                if !self.token.is_empty() && self.any_conn().is_some() {
                    let _ = self.admin(AdminAction::Remove { id });
                }
            }
        }
        if let PeerState::Joining { relay, .. } = &self.peer {
            if relay == addr {
                self.peer = PeerState::None;
                self.admin_note("joining failed: the relay's socket closed".into());
            }
        }
    }

    /// Requests that were waiting on a socket that closed: a write may or may not have
    /// happened (unknown), an admin action is unanswered.
    pub(super) fn settle_pending_on(&mut self, addr: &str) {
        let lost: Vec<u64> = self
            .pending_kv
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.complete_kv(
                id,
                KvOutcome::Unknown {
                    message: "the connection closed before the answer".into(),
                },
            );
        }
        let lost: Vec<u64> = self
            .pending_admin
            .iter()
            .filter(|(_, p)| p.addr == addr)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some(p) = self.pending_admin.remove(&id) {
                // A crash through the node itself closes the socket that carried it.
                self.admin_line(
                    format!("{}: no answer, the connection closed", p.text),
                    None,
                );
            }
        }
    }

    /// A frame from the socket to `addr`.
    pub fn received(&mut self, addr: &str, text: &str, now: Now) {
        self.now = now;
        match decode(text) {
            Ok(message) => self.handle(addr, message),
            Err(error) => {
                let snippet: String = text.chars().take(80).collect();
                self.line(
                    self.page_ms() as f64,
                    TraceKind::Other,
                    format!("{addr}: a frame the page does not understand ({error}): {snippet}"),
                );
            }
        }
    }

    pub(super) fn send(&mut self, addr: &str, message: &PageMessage) {
        match serde_json::to_string(message) {
            Ok(text) => self
                .commands
                .push(SocketCommand::Send(addr.to_string(), text)),
            Err(error) => self.problem = Some(format!("cannot encode a message: {error}")),
        }
    }

    /// What the page must do with its sockets now.
    pub fn take_commands(&mut self) -> Vec<SocketCommand> {
        std::mem::take(&mut self.commands)
    }
}
