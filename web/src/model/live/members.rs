//! Members, their health and seats on the ring, and the buttons the inspector offers.

use super::*;

impl LiveCluster {
    /// The membership as the best-informed node sees it: the leader of the highest term,
    /// else the node with the newest status.
    pub fn members(&self) -> Vec<MemberAddress> {
        let best = self
            .nodes
            .iter()
            .filter(|(id, n)| n.status.is_some() && (self.reporting(**id) || self.is_peer(**id)))
            .filter_map(|(_, n)| n.status.as_ref())
            .max_by_key(|s| (s.role == RoleKind::Leader, s.term, s.last_index))
            .or_else(|| {
                self.nodes
                    .values()
                    .filter_map(|n| n.status.as_ref())
                    .max_by_key(|s| s.unix_ms)
            });
        match best {
            Some(status) if !status.members.is_empty() => status.members.clone(),
            _ => Vec::new(),
        }
    }

    pub(super) fn cut_of(&self, node: NodeId) -> BTreeSet<NodeId> {
        self.status_of(node)
            .map(|s| s.cut.iter().copied().collect())
            .unwrap_or_default()
    }

    pub(super) fn is_peer(&self, id: NodeId) -> bool {
        self.peer_id() == Some(id)
    }

    pub(super) fn health(&self, id: NodeId) -> Health {
        if self.is_peer(id) {
            return Health::Up;
        }
        let node = self.nodes.get(&id);
        let conn = self
            .conns
            .values()
            .filter(|c| c.node == Some(id) && c.state != ConnState::Stopped)
            .max_by_key(|c| c.state == ConnState::Open);
        match conn {
            Some(c) if c.state == ConnState::Open => match node {
                Some(n) if n.status.is_some() && self.fresh(n) && !self.paused.contains(&id) => {
                    Health::Up
                }
                Some(n) if n.status.is_some() => Health::Paused,
                _ => Health::Connecting,
            },
            Some(c) if c.ever_open || c.attempts > 0 => Health::Down,
            Some(_) => Health::Connecting,
            None => match node {
                Some(n) if n.http.is_none() => Health::Unseen,
                _ => Health::Connecting,
            },
        }
    }

    pub(super) fn ids(&self) -> Vec<NodeId> {
        let mut ids: BTreeSet<NodeId> = self.members().iter().map(|m| m.id).collect();
        for conn in self.conns.values() {
            if let (Some(node), true) = (conn.node, conn.state != ConnState::Stopped) {
                ids.insert(node);
            }
        }
        if let Some(peer) = self.peer_id() {
            ids.insert(peer);
        }
        if ids.is_empty() {
            ids.extend(self.nodes.keys().copied());
        }
        ids.into_iter().collect()
    }

    pub(super) fn seat(&self, id: NodeId, members: &[MemberAddress]) -> Seat {
        match members.iter().find(|m| m.id == id) {
            Some(m) if m.voter => Seat::Voter,
            Some(_) => Seat::Learner,
            None if members.is_empty() => Seat::Voter,
            None => Seat::Outside,
        }
    }

    pub fn status_of(&self, id: NodeId) -> Option<&NodeStatusView> {
        self.nodes.get(&id).and_then(|n| n.status.as_ref())
    }

    pub fn node(&self, id: NodeId) -> Option<&LiveNode> {
        self.nodes.get(&id)
    }

    pub(super) fn enabled(&self, mut button: OpButton) -> OpButton {
        if self.token.is_empty() {
            button.enabled = false;
            button.title = format!("{} (needs the cluster token: see Connect)", button.title);
        }
        button
    }

    pub(super) fn admin_button(
        &self,
        id: &str,
        label: &str,
        title: &str,
        action: AdminAction,
    ) -> OpButton {
        self.enabled(OpButton::new(
            id,
            label,
            title,
            NodeOp::Live(LiveOp::Admin(action)),
        ))
    }
}
