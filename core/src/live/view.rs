//! How a node describes itself to a page: a [`NodeStatusView`] built from the core's own
//! state, the same way for a native node and for a peer hosted in a page, so that both draw
//! identically.

use super::protocol::{
    LiveEventKind, LogTail, MemberAddress, NodeStatusView, PeerProgressView, LOG_TAIL_ENTRIES_MAX,
};
use crate::raft::{Event, MemberRole, Membership, Node, RoleKind};
use crate::types::{Index, Millis, NodeId};
use std::collections::BTreeMap;

/// What the caller knows and the core does not.
#[derive(Clone, Debug, Default)]
pub struct ViewContext {
    /// The caller's clock in the node's time base (what it passes to `tick`).
    pub now: Millis,
    /// The wall clock, ms since the Unix epoch.
    pub unix_ms: u64,
    /// Keys in the state machine.
    pub keys: u64,
    /// Peers whose traffic a fault drops.
    pub cut: Vec<NodeId>,
    /// The members with their addresses (see [`member_addresses`]).
    pub members: Vec<MemberAddress>,
    /// Peers the caller has a working connection to; `None`: the caller cannot tell.
    pub connected: Option<Vec<NodeId>>,
}

/// The node's state as a page draws it.
pub fn status_view(node: &Node, context: ViewContext) -> NodeStatusView {
    let status = node.status();
    let progress = status
        .progress
        .iter()
        .map(|(id, p)| {
            let view = PeerProgressView {
                match_index: p.match_index,
                next_index: p.next_index,
                state: p.state.clone(),
                connected: context
                    .connected
                    .as_ref()
                    .is_none_or(|peers| peers.contains(id)),
            };
            (*id, view)
        })
        .collect::<BTreeMap<_, _>>();
    NodeStatusView {
        id: status.id,
        role: status.role,
        term: status.term,
        vote: status.vote,
        leader: status.leader,
        commit: status.commit,
        applied: status.applied,
        persisted: status.persisted,
        first_index: status.first_index,
        last_index: status.last_index,
        snapshot_index: status.snapshot_index,
        unix_ms: context.unix_ms,
        timer_fraction: timer_fraction(node, context.now),
        keys: context.keys,
        log_tail: log_tail(node),
        progress,
        cut: context.cut,
        members: context.members,
    }
}

/// How far the node's timer has run, 0..=1: a follower's or candidate's election timer
/// against the longest timeout it may have drawn (the core does not expose the drawn one),
/// a leader's time to its next heartbeat against the heartbeat interval.
pub fn timer_fraction(node: &Node, now: Millis) -> f32 {
    let config = node.config();
    let span = match node.role() {
        RoleKind::Leader => config.heartbeat_interval_ms,
        _ => config.election_timeout_max_ms,
    };
    let remaining = node.next_deadline().saturating_sub(now);
    if span == 0 {
        return 1.0;
    }
    let left = remaining.min(span) as f64 / span as f64;
    (1.0 - left) as f32
}

/// The terms of the last [`LOG_TAIL_ENTRIES_MAX`] entries of the node's log, as runs.
pub fn log_tail(node: &Node) -> LogTail {
    let log = node.log();
    let last = log.last_index().0;
    let first = log
        .first_index()
        .0
        .max(last.saturating_sub(u64::from(LOG_TAIL_ENTRIES_MAX) - 1))
        .max(1);
    let mut runs: Vec<(Index, crate::types::Term)> = Vec::new();
    for index in first..=last {
        let Some(term) = log.term_at(Index(index)) else {
            continue;
        };
        if runs.last().is_none_or(|(_, t)| *t != term) {
            runs.push((Index(index), term));
        }
    }
    LogTail { runs }
}

/// How a page hears of one of the core's events (`None`: pages do not show it). Members are
/// given with their Raft addresses only; a driver that knows more replaces them.
pub fn live_event(event: &Event) -> Option<LiveEventKind> {
    let kind = match event {
        Event::RoleChanged { role, term } => LiveEventKind::Role {
            role: *role,
            term: *term,
        },
        Event::LeaderChanged { leader, term } => LiveEventKind::Leader {
            leader: *leader,
            term: *term,
        },
        Event::Committed { index } => LiveEventKind::Committed { index: *index },
        Event::MembershipChanged { membership } => LiveEventKind::Membership {
            members: member_addresses(membership),
        },
        Event::SnapshotInstalled { index, term } => LiveEventKind::SnapshotInstalled {
            index: *index,
            term: *term,
        },
        Event::Compacted { index } => LiveEventKind::SnapshotTaken { index: *index },
        Event::ReadDropped { .. } => return None,
    };
    Some(kind)
}

/// The members of `membership` with their Raft addresses; HTTP addresses and relays are
/// left for the caller, which knows them.
pub fn member_addresses(membership: &Membership) -> Vec<MemberAddress> {
    membership
        .members
        .iter()
        .map(|(id, member)| MemberAddress {
            id: *id,
            peer: member.address.clone(),
            http: None,
            voter: member.role == MemberRole::Voter,
            relayed_by: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::Config;

    fn founding_node() -> Node {
        let membership = Membership::with_voters([(NodeId(1), "a"), (NodeId(2), "b")]);
        Node::new(Config::new(NodeId(1)), membership, 0).unwrap()
    }

    #[test]
    fn a_fresh_node_shows_its_bootstrap_entry_and_voters() {
        let node = founding_node();
        let members = member_addresses(node.membership());
        let view = status_view(
            &node,
            ViewContext {
                members: members.clone(),
                ..ViewContext::default()
            },
        );
        assert_eq!(view.id, NodeId(1));
        assert_eq!(view.role, RoleKind::Follower);
        assert_eq!(view.log_tail.runs, vec![(Index(1), crate::types::Term(0))]);
        assert_eq!(members.len(), 2);
        assert!(members.iter().all(|m| m.voter && m.http.is_none()));
    }

    #[test]
    fn the_election_timer_runs_from_zero_towards_one() {
        let node = founding_node();
        let deadline = node.next_deadline();
        assert!(timer_fraction(&node, 0) < 0.5);
        assert!((timer_fraction(&node, deadline) - 1.0).abs() < f32::EPSILON);
        assert!(timer_fraction(&node, deadline / 2) < timer_fraction(&node, deadline));
    }

    #[test]
    fn log_tail_runs_split_where_the_term_changes() {
        let membership = Membership::with_voters([(NodeId(1), "a")]);
        let mut node = Node::new(Config::new(NodeId(1)), membership, 0).unwrap();
        node.campaign(0);
        while let Some(ready) = node.ready() {
            node.advance(0, ready.id);
        }
        assert_eq!(node.role(), RoleKind::Leader);
        let term = node.term();
        assert_eq!(
            log_tail(&node).runs,
            vec![(Index(1), crate::types::Term(0)), (Index(2), term)]
        );
    }
}
