//! The clock's tick, and what the panels ask of the live cluster.

use super::*;

impl LiveCluster {
    /// Advances the clock: retries sockets, ticks the browser peer, forgets old messages.
    pub fn tick(&mut self, now: Now) {
        self.now = now;
        self.poll_sockets();
        self.peer_tick();
        let horizon = self.display_ms(now.unix as f64) - 2_000.0;
        while self.flights.front().is_some_and(|f| f.span().1 < horizon) {
            self.flights.pop_front();
        }
        self.lag_ms *= 0.995;
    }

    // ----- what the page shows besides the panels -----

    pub fn connections(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    pub fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether some node accepted the token.
    pub fn authed(&self) -> bool {
        self.conns
            .values()
            .any(|c| c.state == ConnState::Open && c.authed)
    }

    pub fn admin_log(&self) -> &VecDeque<AdminLine> {
        &self.admin_log
    }

    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// Message summaries received, and those the nodes' rate limit left out.
    pub fn summary_counts(&self) -> (u64, u64) {
        (self.summaries, self.omitted)
    }

    pub fn peer(&self) -> &PeerState {
        &self.peer
    }

    /// The open, welcomed socket to `node`.
    pub(super) fn conn_of(&self, node: NodeId) -> Option<&str> {
        self.conns
            .values()
            .find(|c| c.node == Some(node) && c.state == ConnState::Open && c.welcomed)
            .map(|c| c.addr.as_str())
    }

    pub(super) fn reporting(&self, node: NodeId) -> bool {
        self.conn_of(node).is_some()
            && self
                .nodes
                .get(&node)
                .is_some_and(|n| n.status.is_some() && self.fresh(n))
    }

    pub(super) fn fresh(&self, node: &LiveNode) -> bool {
        self.now.unix.saturating_sub(node.status_at) <= STALE_MS
    }

    /// Any open, welcomed socket, the home one first.
    pub(super) fn any_conn(&self) -> Option<&str> {
        let open = |c: &&Conn| c.state == ConnState::Open && c.welcomed;
        self.home
            .as_ref()
            .and_then(|h| self.conns.get(h))
            .filter(open)
            .or_else(|| {
                self.conns
                    .values()
                    .filter(open)
                    .find(|c| c.node.is_some_and(|n| self.reporting(n)))
            })
            .or_else(|| self.conns.values().find(open))
            .map(|c| c.addr.as_str())
    }

    pub(super) fn leader_conn(&self) -> Option<&str> {
        ClusterModel::leader(self).and_then(|(l, _)| self.conn_of(l))
    }

    // ----- client requests -----
}
