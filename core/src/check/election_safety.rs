//! Election safety (Raft paper, Figure 3 and §5.2): at most one leader can be elected in a
//! given term. Each node votes at most once per term (the vote is persisted before it is
//! sent) and a leader needs a majority, and two majorities of one configuration intersect.
//!
//! Checked whenever a node is observed as leader: the first leader seen for a term is
//! remembered, and any other node seen leading that term is a violation.

use super::{Findings, Invariant};
use crate::raft::Node;
use crate::types::{NodeId, Term};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct ElectionSafety {
    /// The leader of every term that had one.
    leaders: BTreeMap<Term, NodeId>,
    /// The term in which each running node was last seen leading.
    leading: BTreeMap<NodeId, Term>,
}

impl ElectionSafety {
    /// Takes note of `node`. Returns whether it has just been seen leading a term for the first
    /// time (which is when leader completeness is checked).
    pub fn observe(&mut self, node: &Node, findings: &mut Findings) -> bool {
        if !node.is_leader() {
            return false;
        }
        let (id, term) = (node.id(), node.term());
        if self.leading.get(&id) == Some(&term) {
            return false;
        }
        self.leading.insert(id, term);
        match self.leaders.get(&term) {
            Some(&other) if other != id => findings.report(
                Invariant::ElectionSafety,
                Some(id),
                format!("{id} and {other} are both leaders of term {term}"),
            ),
            Some(_) => {}
            None => {
                self.leaders.insert(term, id);
            }
        }
        true
    }

    /// The node crashed; if it leads again after a restart it is checked again.
    pub fn forget(&mut self, node: NodeId) {
        self.leading.remove(&node);
    }

    /// The leader of `term`, if one was seen.
    pub fn leader_of(&self, term: Term) -> Option<NodeId> {
        self.leaders.get(&term).copied()
    }
}
