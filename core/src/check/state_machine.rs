//! State-machine safety (Raft paper, Figure 3 and §5.4.3): if a server has applied a log entry
//! at a given index to its state machine, no other server will ever apply a different log
//! entry for the same index. The committed-log checker verifies each applied entry; this
//! checker verifies the outcome: every replica that has applied up to index `i` has the same
//! state-machine digest there. That also catches nondeterminism in the state machine and
//! broken snapshots, which identical entries alone would not.

use super::{Findings, Invariant};
use crate::types::{Index, NodeId};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct StateMachineSafety {
    /// The digest first seen at each applied index, and who had it.
    digests: BTreeMap<Index, (u64, NodeId)>,
}

impl StateMachineSafety {
    pub fn check(&mut self, node: NodeId, applied: Index, digest: u64, findings: &mut Findings) {
        match self.digests.get(&applied) {
            Some(&(first, by)) if first != digest => findings.report(
                Invariant::StateMachineSafety,
                Some(node),
                format!(
                    "state machine at index {applied} has digest {digest:016x}; {by} had \
                     {first:016x}"
                ),
            ),
            Some(_) => {}
            None => {
                self.digests.insert(applied, (digest, node));
            }
        }
    }
}
