//! Terms and commit indexes never go back on a running node (Raft paper §5.1: "current terms
//! are exchanged whenever servers communicate; if one server's current term is smaller than
//! the other's, then it updates its current term to the larger value"; §5.3: the commit index
//! only grows). A crash may legitimately lose what was not yet durable, so the history of a
//! node restarts with each incarnation; what a restart must keep is the durability checker's
//! business.

use super::{Findings, Invariant};
use crate::raft::Node;
use crate::types::{Index, NodeId, Term};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Monotonic {
    last: BTreeMap<NodeId, (Term, Index)>,
}

impl Monotonic {
    pub fn observe(&mut self, node: &Node, findings: &mut Findings) {
        let now = (node.term(), node.commit_index());
        let id = node.id();
        if let Some(&(term, commit)) = self.last.get(&id) {
            if now.0 < term {
                findings.report(
                    Invariant::MonotonicTerm,
                    Some(id),
                    format!("term went back from {term} to {}", now.0),
                );
            }
            if now.1 < commit {
                findings.report(
                    Invariant::MonotonicCommit,
                    Some(id),
                    format!("commit index went back from {commit} to {}", now.1),
                );
            }
        }
        self.last.insert(id, now);
    }

    pub fn forget(&mut self, node: NodeId) {
        self.last.remove(&node);
    }
}
