//! Liveness (Raft paper §5.2 and §9.3; TigerBeetle's VOPR and openraft's fuzzer do the same):
//! safety alone is satisfied by a cluster that does nothing, so after the faults stop (the
//! network heals, crashed nodes restart, paused ones resume) the cluster must, within a
//! bound, elect one leader that every node follows, commit everything in its log, and
//! bring every replica to the same applied index and the same state-machine digest.

use crate::raft::Node;
use crate::types::NodeId;

/// One running replica as the liveness check sees it.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaView<'a> {
    pub node: &'a Node,
    /// The state machine's applied index and digest.
    pub kv_applied: u64,
    pub kv_digest: u64,
}

/// Whether the replicas have converged; the error says what is still missing. `expected`
/// is how many replicas must take part (every member of the cluster).
pub fn converged(replicas: &[ReplicaView<'_>], expected: usize) -> Result<NodeId, String> {
    if replicas.len() != expected {
        return Err(format!("{} of {expected} replicas running", replicas.len()));
    }
    let leaders: Vec<&ReplicaView<'_>> = replicas.iter().filter(|r| r.node.is_leader()).collect();
    let [leader] = leaders.as_slice() else {
        return Err(format!("{} leaders", leaders.len()));
    };
    let (id, term) = (leader.node.id(), leader.node.term());
    let last = leader.node.log().last_index();
    for replica in replicas {
        let node = replica.node;
        if node.term() != term || node.leader() != Some(id) {
            return Err(format!(
                "{} at term {} follows {:?}; {id} leads term {term}",
                node.id(),
                node.term(),
                node.leader()
            ));
        }
        if node.commit_index() != last || replica.kv_applied != last.0 {
            return Err(format!(
                "{} committed {} applied {}; the leader's log ends at {last}",
                node.id(),
                node.commit_index(),
                replica.kv_applied
            ));
        }
        if replica.kv_digest != leader.kv_digest {
            return Err(format!("{} has another state-machine digest", node.id()));
        }
    }
    Ok(id)
}
