//! Leader completeness (Raft paper, Figure 3 and §5.4.1): if an entry is committed in a given
//! term, it is present in the logs of the leaders of all later terms. The election
//! restriction (vote only for candidates whose log is at least as up to date) and the commit
//! rule (count replicas only for entries of the current term, §5.4.2) together ensure it.
//!
//! Checked when a node is first seen leading a term: every entry known committed, and
//! reported committed by a node whose term was below the new leader's (so it surely was
//! committed in an earlier term), must be in the new leader's log. Entries that its snapshot
//! covers are checked by the committed-log checker when the snapshot is installed.

use super::committed::CommittedLog;
use super::{Findings, Invariant};
use crate::raft::Node;

pub fn check(leader: &Node, committed: &CommittedLog, findings: &mut Findings) {
    let log = leader.log();
    for (index, entry) in committed.after(log.snapshot_index()) {
        if entry.observed_term >= leader.term() {
            continue;
        }
        let held = log.term_at(index);
        if held != Some(entry.term) {
            findings.report(
                Invariant::LeaderCompleteness,
                Some(leader.id()),
                format!(
                    "leader of term {} holds {held:?} at index {index}, committed in term {} or \
                     before with term {}",
                    leader.term(),
                    entry.observed_term,
                    entry.term
                ),
            );
            return;
        }
    }
}
