//! Committed entries never change (the Raft paper's State Machine Safety, Figure 3, and the
//! guarantee of §5.4 that committed entries are durable and eventually applied by every
//! state machine).
//!
//! The checker keeps the cluster's committed log as it learns it: whenever a node's commit
//! index moves, the entries it now calls committed are recorded, and an index recorded
//! twice with different entries is a violation. It also watches each node: a Ready that
//! truncates the log at or below what that node already knew was committed is a violation,
//! as is a snapshot or an applied entry that disagrees with the committed log.

use super::fingerprint;
use super::{Findings, Invariant};
use crate::raft::{Entry, Node, SnapshotMeta};
use crate::types::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// One committed index, as first seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    pub term: Term,
    /// The payload fingerprint; `None` when only a snapshot's metadata vouched for it.
    pub payload: Option<u64>,
    /// The term of the node that first reported the commit: the entry was committed in this
    /// term or an earlier one.
    pub observed_term: Term,
}

#[derive(Debug, Default)]
pub struct CommittedLog {
    /// Index `i` is at position `i - 1`.
    entries: Vec<Option<Committed>>,
    /// The commit index each running node was last seen with.
    commits: BTreeMap<NodeId, Index>,
    /// The commit index each running node had when it produced its previous Ready: a Ready
    /// gathers the truncations of every step since, all made at or above this index.
    ready_commits: BTreeMap<NodeId, Index>,
}

impl CommittedLog {
    /// The highest index known committed.
    pub fn last(&self) -> Index {
        Index(self.entries.len() as u64)
    }

    /// The committed entry at `index`, if known.
    pub fn get(&self, index: Index) -> Option<Committed> {
        let position = usize::try_from(index.0.checked_sub(1)?).ok()?;
        self.entries.get(position).copied().flatten()
    }

    /// Records what `node` now calls committed.
    pub fn observe(&mut self, node: &Node, findings: &mut Findings) {
        let id = node.id();
        let log = node.log();
        if let Some(&seen) = self.commits.get(&id) {
            self.check_still_held(node, seen, findings);
        }
        let from = *self.commits.get(&id).unwrap_or(&log.snapshot_index());
        let to = node.commit_index();
        for index in from.0 + 1..=to.0 {
            let index = Index(index);
            let seen = match log.entry(index) {
                Some(entry) => Committed {
                    term: entry.term,
                    payload: Some(fingerprint::payload(&entry.payload)),
                    observed_term: node.term(),
                },
                None if index == log.snapshot_index() => Committed {
                    term: log.snapshot_term(),
                    payload: None,
                    observed_term: node.term(),
                },
                None => continue,
            };
            self.record(id, index, seen, findings);
        }
        if to > from || !self.commits.contains_key(&id) {
            self.commits.insert(id, to);
        }
    }

    fn record(&mut self, node: NodeId, index: Index, seen: Committed, findings: &mut Findings) {
        let position = (index.0 - 1) as usize;
        if self.entries.len() <= position {
            self.entries.resize(position + 1, None);
        }
        let slot = &mut self.entries[position];
        match slot {
            None => *slot = Some(seen),
            Some(first) => {
                let payload_differs =
                    matches!((first.payload, seen.payload), (Some(a), Some(b)) if a != b);
                if first.term != seen.term || payload_differs {
                    findings.report(
                        Invariant::CommittedImmutable,
                        Some(node),
                        format!(
                            "index {index} committed as term {} ({}) but {node} commits term {} ({})",
                            first.term,
                            show(first.payload),
                            seen.term,
                            show(seen.payload)
                        ),
                    );
                } else if first.payload.is_none() {
                    first.payload = seen.payload;
                }
            }
        }
    }

    /// Between two observations (one input), the entry at the commit index seen before
    /// must stay in the log: nothing truncates what a node knows is committed.
    fn check_still_held(&self, node: &Node, seen: Index, findings: &mut Findings) {
        let log = node.log();
        if seen <= log.snapshot_index() || seen.0 == 0 {
            return;
        }
        let expected = self.get(seen).map(|c| c.term);
        let held = log.term_at(seen);
        if expected.is_some() && held != expected {
            findings.report(
                Invariant::CommittedImmutable,
                Some(node.id()),
                format!(
                    "its committed entry {seen} (term {expected:?}) is gone: the log now holds \
                     {held:?} there"
                ),
            );
        }
    }

    /// A Ready of `node` truncates its log from `from` (`None`: no truncation). Every step
    /// since the previous Ready truncated above the commit index it had then.
    pub fn check_ready(
        &mut self,
        node: NodeId,
        from: Option<Index>,
        commit: Index,
        findings: &mut Findings,
    ) {
        let before = self.ready_commits.insert(node, commit).unwrap_or_default();
        if let Some(from) = from.filter(|from| *from <= before) {
            findings.report(
                Invariant::CommittedImmutable,
                Some(node),
                format!("truncates its log from {from}, at or below its commit index {before}"),
            );
        }
    }

    /// `node` installs a snapshot: it must agree with the committed log.
    pub fn check_snapshot(&mut self, node: NodeId, meta: &SnapshotMeta, findings: &mut Findings) {
        let seen = Committed {
            term: meta.term,
            payload: None,
            observed_term: Term(u64::MAX),
        };
        if meta.index.0 > 0 {
            self.record(node, meta.index, seen, findings);
        }
    }

    /// `node` applied `entry`: it must be the committed one.
    pub fn check_applied(&mut self, node: NodeId, entry: &Entry, findings: &mut Findings) {
        let payload = fingerprint::payload(&entry.payload);
        match self.get(entry.index) {
            Some(c) if c.term == entry.term && c.payload.is_none_or(|p| p == payload) => {}
            committed => findings.report(
                Invariant::StateMachineSafety,
                Some(node),
                format!(
                    "applies {}@{} ({payload:016x}) but the committed entry there is {committed:?}",
                    entry.index, entry.term
                ),
            ),
        }
    }

    /// The node crashed: after a restart its commit index may be lower.
    pub fn forget(&mut self, node: NodeId) {
        self.commits.remove(&node);
        self.ready_commits.remove(&node);
    }

    /// Committed entries after `index` (exclusive), with their indexes.
    pub fn after(&self, index: Index) -> impl Iterator<Item = (Index, Committed)> + '_ {
        let skip = usize::try_from(index.0).unwrap_or(usize::MAX);
        self.entries
            .iter()
            .enumerate()
            .skip(skip)
            .filter_map(|(position, c)| c.map(|c| (Index(position as u64 + 1), c)))
    }
}

fn show(payload: Option<u64>) -> String {
    payload.map_or_else(|| "snapshot".to_string(), |p| format!("{p:016x}"))
}
