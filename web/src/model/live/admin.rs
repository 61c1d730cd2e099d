//! Fault and membership actions on real nodes (they need the token), and their replies.

use super::*;

impl LiveCluster {
    /// Sends an admin action to the node best placed to carry it out. Returns its id.
    pub fn admin(&mut self, action: AdminAction) -> Result<u64, String> {
        let text = describe_admin(&action);
        if self.token.is_empty() {
            let message = format!("{text}: needs the cluster token (connect form)");
            self.admin_line(message.clone(), Some(false));
            return Err(message);
        }
        let healthy_other = |me: NodeId| {
            self.conns
                .values()
                .filter(|c| c.state == ConnState::Open && c.welcomed)
                .find(|c| c.node.is_some_and(|n| n != me && self.reporting(n)))
                .map(|c| c.addr.as_str())
        };
        let addr = match &action {
            // The supervisor carries these out; the node itself may be dead or frozen.
            AdminAction::Crash { node }
            | AdminAction::Restart { node }
            | AdminAction::Pause { node }
            | AdminAction::Resume { node } => healthy_other(*node)
                .or_else(|| self.conn_of(*node))
                .or_else(|| self.any_conn()),
            AdminAction::Cut { node, .. }
            | AdminAction::Isolate { node }
            | AdminAction::Heal { node }
            | AdminAction::Snapshot { node } => self.conn_of(*node).or_else(|| self.any_conn()),
            AdminAction::Transfer { .. }
            | AdminAction::AddLearner { .. }
            | AdminAction::Promote { .. }
            | AdminAction::Remove { .. } => self.leader_conn().or_else(|| self.any_conn()),
        }
        .map(str::to_string);
        let Some(addr) = addr else {
            let message = format!("{text}: no node to send it to");
            self.admin_line(message.clone(), Some(false));
            return Err(message);
        };
        let id = self.next_id;
        self.next_id += 1;
        let via = self
            .conns
            .get(&addr)
            .and_then(|c| c.node)
            .map_or(addr.clone(), node_name);
        self.admin_line(format!("{text} (through {via})"), None);
        self.line(
            self.page_ms() as f64,
            TraceKind::Fault,
            format!("admin → {via}: {text}"),
        );
        self.pending_admin.insert(
            id,
            PendingAdmin {
                action: Some(action.clone()),
                text,
                addr: addr.clone(),
            },
        );
        self.send(&addr, &PageMessage::Admin { id, action });
        Ok(id)
    }

    pub(super) fn admin_reply(&mut self, addr: &str, id: u64, result: AdminResult) {
        let who = self
            .conns
            .get(addr)
            .and_then(|c| c.node)
            .map_or(addr.to_string(), node_name);
        let Some(pending) = self.pending_admin.remove(&id) else {
            return;
        };
        match result {
            AdminResult::Ok { message } => {
                match pending.action {
                    Some(AdminAction::Pause { node }) => {
                        self.paused.insert(node);
                    }
                    Some(AdminAction::Resume { node } | AdminAction::Crash { node }) => {
                        self.paused.remove(&node);
                    }
                    _ => {}
                }
                self.admin_line(format!("{who}: {}: {message}", pending.text), Some(true));
            }
            AdminResult::Refused { message } => {
                self.line(
                    self.page_ms() as f64,
                    TraceKind::Fault,
                    format!("{who} refused {}: {message}", pending.text),
                );
                self.admin_line(
                    format!("{who} refused {}: {message}", pending.text),
                    Some(false),
                );
            }
        }
    }

    // ----- the browser peer -----
}
