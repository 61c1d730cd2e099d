//! Linearizable reads through ReadIndex (§6.4 of Ongaro's thesis).
//!
//! A leader may serve a read from its state machine only if it is still the leader when the
//! read arrives: a deposed leader that does not know it yet would serve stale data. So the
//! leader notes its commit index as the read's index, then confirms its leadership with a
//! round of heartbeats; once a majority has answered that round (or a later one), the read
//! may be served as soon as the state machine has applied the read's index. Reads that arrive
//! together share a round. A fresh leader first waits until it has committed an entry of its
//! own term, since only then does it know the cluster's commit index.

use super::config::PlantedBug;
use super::node::{Node, ProposeError, Role};
use super::ready::ReadState;
use crate::types::{Index, NodeId};

/// A read waiting for its heartbeat round to be confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingRead {
    request_id: u64,
    index: Index,
    round: u64,
}

/// The leader's ReadIndex bookkeeping.
#[derive(Clone, Debug, Default)]
pub struct ReadIndexState {
    /// The last heartbeat round started.
    round: u64,
    /// Whether `round` still has to be broadcast.
    broadcast_pending: bool,
    pending: Vec<PendingRead>,
    /// Reads that arrived before the leader committed an entry of its term.
    waiting_for_commit: Vec<u64>,
}

impl ReadIndexState {
    pub fn round(&self) -> u64 {
        self.round
    }

    /// Every read not yet released, for failing them when leadership is lost.
    pub fn drain_all(&mut self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.pending.drain(..).map(|r| r.request_id).collect();
        ids.append(&mut self.waiting_for_commit);
        ids
    }
}

impl Node {
    /// Asks for a linearizable read. When it is safe, `Ready::reads` carries `request_id`
    /// with the index the state machine must have applied before serving it.
    pub fn read(&mut self, request_id: u64) -> Result<(), ProposeError> {
        let stale_reads = self.config.has_bug(PlantedBug::StaleRead);
        let committed_in_term = self.log.term_at(self.commit) == Some(self.term);
        let single_voter = self.membership.voters().len() <= 1;
        let commit = self.commit;
        let Role::Leader(leader) = &mut self.role else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if stale_reads || (single_voter && committed_in_term) {
            self.out.reads.push(ReadState {
                request_id,
                index: commit,
            });
        } else if !committed_in_term {
            leader.reads.waiting_for_commit.push(request_id);
        } else {
            Self::start_read_round(&mut leader.reads, request_id, commit);
        }
        Ok(())
    }

    fn start_read_round(reads: &mut ReadIndexState, request_id: u64, index: Index) {
        if !reads.broadcast_pending {
            reads.round += 1;
            reads.broadcast_pending = true;
        }
        reads.pending.push(PendingRead {
            request_id,
            index,
            round: reads.round,
        });
    }

    pub(super) fn read_broadcast_pending(&self) -> bool {
        matches!(&self.role, Role::Leader(l) if l.reads.broadcast_pending)
    }

    /// Sends the heartbeats of a newly started read round.
    pub(super) fn flush_read_broadcast(&mut self) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if leader.reads.broadcast_pending {
            leader.reads.broadcast_pending = false;
            self.broadcast_heartbeat();
            self.release_confirmed_reads();
        }
    }

    /// The leader committed an entry: reads that waited for its first commit in this term
    /// can start their round.
    pub(super) fn release_reads_waiting_for_commit(&mut self) {
        if self.log.term_at(self.commit) != Some(self.term) {
            return;
        }
        let commit = self.commit;
        let single_voter = self.membership.voters().len() <= 1;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        for request_id in std::mem::take(&mut leader.reads.waiting_for_commit) {
            if single_voter {
                self.out.reads.push(ReadState {
                    request_id,
                    index: commit,
                });
            } else {
                Self::start_read_round(&mut leader.reads, request_id, commit);
            }
        }
    }

    /// Releases the reads whose round a majority of voters has confirmed.
    pub(super) fn release_confirmed_reads(&mut self) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let own = leader.reads.round;
        let acked = |id: NodeId| leader.progress.get(&id).map(|p| p.read_round_acked);
        let confirmed = self.quorum_value(own, acked);
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) = leader
            .reads
            .pending
            .drain(..)
            .partition(|r| r.round <= confirmed);
        leader.reads.pending = waiting;
        for read in ready {
            self.out.reads.push(ReadState {
                request_id: read.request_id,
                index: read.index,
            });
        }
    }
}
