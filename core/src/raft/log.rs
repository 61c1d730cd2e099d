//! The in-memory view of a node's log: the entries after its latest snapshot, what of them is
//! durable, and what the driver has yet to persist.
//!
//! The node keeps the whole log after its snapshot in memory (compaction bounds its size).
//! Storage is write-only from Raft's point of view: the node says in each `Ready` what to
//! truncate and append, and learns through `advance` what became durable. This is etcd's
//! "unstable" idea, reduced to two numbers: `unstable_from` (the first index not yet handed to
//! the driver) and `persisted` (the last index known durable).

use super::message::{Entry, Payload};
use crate::types::{Index, Term};

/// The replicated log of one node.
///
/// Invariants:
/// - `entries[k].index == snapshot_index + 1 + k`: indexes are contiguous after the snapshot.
/// - Entry terms never decrease along the log, and are never below `snapshot_term`.
/// - `persisted <= last_index()` and `unstable_from <= last_index() + 1`.
/// - `persisted < unstable_from`: an entry not yet handed to the driver cannot be durable.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    snapshot_index: Index,
    snapshot_term: Term,
    entries: Vec<Entry>,
    /// The last index known to be durable on this node.
    persisted: Index,
    /// The first index that has not yet been handed to the driver for persisting.
    unstable_from: Index,
    /// Set when entries that were already handed to the driver were discarded: the next
    /// `Ready` must tell the driver to truncate its log from this index.
    pending_truncation: Option<Index>,
}

/// Where the log and an incoming append first disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Splice {
    /// Every incoming entry is already in the log.
    NothingNew,
    /// Entries from this index on are new; nothing had to be discarded.
    AppendFrom(Index),
    /// The log held a different entry at this index: it and everything after it goes.
    ConflictAt(Index),
}

impl RaftLog {
    /// A log whose durable state is `entries` after a snapshot at (`snapshot_index`,
    /// `snapshot_term`). Everything given is durable.
    pub fn restore(snapshot_index: Index, snapshot_term: Term, entries: Vec<Entry>) -> RaftLog {
        let last = Index(snapshot_index.0 + entries.len() as u64);
        RaftLog {
            snapshot_index,
            snapshot_term,
            entries,
            persisted: last,
            unstable_from: last.next(),
            pending_truncation: None,
        }
    }

    pub fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// The first index held as an entry (may be past `last_index` when the log is empty).
    pub fn first_index(&self) -> Index {
        self.snapshot_index.next()
    }

    pub fn last_index(&self) -> Index {
        Index(self.snapshot_index.0 + self.entries.len() as u64)
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    pub fn persisted(&self) -> Index {
        self.persisted
    }

    /// The term of the entry at `index`, if the log knows it (the snapshot's last entry
    /// counts; index 0 has term 0).
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if it is held (not compacted, not past the end).
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        let offset = index.0.checked_sub(self.first_index().0)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// Entries in `[from, to]`, clamped to what is held.
    pub fn slice(&self, from: Index, to: Index) -> &[Entry] {
        let first = self.first_index().0;
        let lo = from.0.max(first) - first;
        let hi = (to.0.min(self.last_index().0) + 1).saturating_sub(first);
        if lo >= hi {
            return &[];
        }
        &self.entries[lo as usize..hi as usize]
    }

    /// All held entries, for views and checkers.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether the log holds an entry at `index` with `term` (Raft's consistency check).
    pub fn matches(&self, index: Index, term: Term) -> bool {
        self.term_at(index) == Some(term)
    }

    /// Whether a candidate whose log ends at (`last_index`, `last_term`) is at least as
    /// up to date as this log (§5.4.1): a later last term wins, then a longer log.
    pub fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Appends one entry at the end (the leader's path).
    pub fn push(&mut self, term: Term, payload: Payload) -> Index {
        let index = self.last_index().next();
        self.entries.push(Entry {
            index,
            term,
            payload,
        });
        index
    }

    /// Finds how `incoming` (entries following a matched prefix) relates to the log.
    pub fn find_splice(&self, incoming: &[Entry]) -> Splice {
        for entry in incoming {
            match self.term_at(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => return Splice::ConflictAt(entry.index),
                None if entry.index <= self.snapshot_index => continue,
                None => return Splice::AppendFrom(entry.index),
            }
        }
        Splice::NothingNew
    }

    /// Discards every entry at or after `from`. The caller guarantees they are not committed.
    pub fn truncate_from(&mut self, from: Index) {
        if from > self.last_index() {
            return;
        }
        assert!(
            from > self.snapshot_index,
            "truncating into the snapshot at {from}"
        );
        let keep = (from.0 - self.first_index().0) as usize;
        self.entries.truncate(keep);
        if from < self.unstable_from {
            // The driver already has (some of) these entries: it must drop them too.
            let earlier = self.pending_truncation.map_or(from, |t| t.min(from));
            self.pending_truncation = Some(earlier);
            self.unstable_from = from;
        }
        self.persisted = self.persisted.min(from.prev());
    }

    /// Appends entries that directly follow the last entry.
    pub fn extend(&mut self, entries: &[Entry]) {
        for entry in entries {
            assert_eq!(
                entry.index,
                self.last_index().next(),
                "gap in log at {entry:?}"
            );
            self.entries.push(entry.clone());
        }
    }

    /// Drops the entries up to and including `index`, which a snapshot now stands for.
    /// Requires `index` to be held and durable.
    pub fn compact(&mut self, index: Index, term: Term) {
        assert!(
            index <= self.persisted,
            "compacting past durable index {index}"
        );
        let drop = (index.0 - self.snapshot_index.0) as usize;
        self.entries.drain(..drop.min(self.entries.len()));
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// Replaces the whole log with a snapshot received from the leader. Nothing after it is
    /// kept: the snapshot is the leader's word on the prefix, and the leader will send the rest.
    pub fn reset_to_snapshot(&mut self, index: Index, term: Term) {
        self.entries.clear();
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.pending_truncation = None;
        self.unstable_from = index.next();
        // Durable once the driver has persisted the snapshot (see `mark_persisted`).
        self.persisted = self.persisted.min(index);
    }

    /// Takes what the driver must persist next: a truncation point and the new entries.
    pub fn take_unstable(&mut self) -> (Option<Index>, Vec<Entry>) {
        let truncation = self.pending_truncation.take();
        let entries = self.slice(self.unstable_from, self.last_index()).to_vec();
        self.unstable_from = self.last_index().next();
        (truncation, entries)
    }

    /// Whether there is anything for the driver to persist.
    pub fn has_unstable(&self) -> bool {
        self.pending_truncation.is_some() || self.unstable_from <= self.last_index()
    }

    /// Records that the driver made entries up to `index` (with `term`) durable. Entries
    /// discarded since they were handed out are not counted.
    pub fn mark_persisted(&mut self, index: Index, term: Term) {
        let limit = index.min(self.unstable_from.prev());
        if self.term_at(index) == Some(term) && limit > self.persisted {
            self.persisted = limit;
        }
    }

    /// Records that the driver made the snapshot at `index` durable.
    pub fn mark_snapshot_persisted(&mut self, index: Index) {
        if self.snapshot_index >= index {
            self.persisted = self.persisted.max(index);
        }
    }

    /// The largest index at or below `index` whose term is at most `term`: where a leader
    /// resumes after a follower's rejection hint (fast backtracking). When even the
    /// snapshot's last entry has a later term, the answer lies inside the snapshot: the index
    /// before it is returned, so that a leader resuming after it sends the snapshot.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> Index {
        let mut at = index.min(self.last_index());
        while at > self.snapshot_index {
            match self.term_at(at) {
                Some(t) if t <= term => return at,
                _ => at = at.prev(),
            }
        }
        if at == self.snapshot_index && self.snapshot_term > term {
            return at.prev();
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: Index(index),
            term: Term(term),
            payload: Payload::Noop,
        }
    }

    fn log_with_terms(terms: &[u64]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(i as u64 + 1, *t))
            .collect();
        RaftLog::restore(Index(0), Term(0), entries)
    }

    #[test]
    fn splice_finds_conflicts_and_new_entries() {
        let log = log_with_terms(&[1, 1, 2]);
        assert_eq!(
            log.find_splice(&[entry(2, 1), entry(3, 2)]),
            Splice::NothingNew
        );
        assert_eq!(
            log.find_splice(&[entry(3, 2), entry(4, 2)]),
            Splice::AppendFrom(Index(4))
        );
        assert_eq!(
            log.find_splice(&[entry(2, 1), entry(3, 3)]),
            Splice::ConflictAt(Index(3))
        );
    }

    #[test]
    fn truncation_of_handed_out_entries_is_reported() {
        let mut log = log_with_terms(&[1]);
        log.push(Term(1), Payload::Noop);
        log.push(Term(1), Payload::Noop);
        let (truncation, entries) = log.take_unstable();
        assert_eq!((truncation, entries.len()), (None, 2));
        log.truncate_from(Index(3));
        log.extend(&[entry(3, 2)]);
        let (truncation, entries) = log.take_unstable();
        assert_eq!(truncation, Some(Index(3)));
        assert_eq!(entries, vec![entry(3, 2)]);
    }

    #[test]
    fn persisted_ignores_entries_replaced_after_hand_out() {
        let mut log = log_with_terms(&[]);
        log.push(Term(1), Payload::Noop);
        log.push(Term(1), Payload::Noop);
        let _ = log.take_unstable();
        log.truncate_from(Index(2));
        log.extend(&[entry(2, 2)]);
        log.mark_persisted(Index(2), Term(1));
        assert_eq!(log.persisted(), Index(0));
        log.mark_persisted(Index(1), Term(1));
        assert_eq!(log.persisted(), Index(1));
    }

    #[test]
    fn conflict_by_term_skips_whole_terms() {
        let log = log_with_terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
        assert_eq!(log.find_conflict_by_term(Index(10), Term(3)), Index(3));
        assert_eq!(log.find_conflict_by_term(Index(10), Term(6)), Index(10));
        assert_eq!(log.find_conflict_by_term(Index(7), Term(0)), Index(0));
    }

    #[test]
    fn conflict_by_term_points_into_a_newer_snapshot() {
        // Snapshot at 64 (term 3), then 65@3: a follower holding 64@2 needs the snapshot.
        let log = RaftLog::restore(Index(64), Term(3), vec![entry(65, 3)]);
        assert_eq!(log.find_conflict_by_term(Index(64), Term(2)), Index(63));
        assert_eq!(log.find_conflict_by_term(Index(64), Term(3)), Index(64));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u64),
        Truncate(u64),
        HandOff,
        Persist,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u64..2).prop_map(Op::Push),
            1 => (1u64..12).prop_map(Op::Truncate),
            2 => Just(Op::HandOff),
            1 => Just(Op::Persist),
        ]
    }

    proptest::proptest! {
        /// The log, driven by appends, truncations and hand-offs to a driver, always agrees
        /// with a plain Vec; the driver's copy (built only from what `take_unstable` hands
        /// out) equals the log after every hand-off; and `persisted` never claims an entry
        /// the driver's copy does not hold.
        #[test]
        fn splicing_matches_a_vec_model(ops in proptest::collection::vec(op(), 1..60)) {
            let mut log = RaftLog::default();
            let mut model: Vec<Entry> = Vec::new();
            let mut disk: Vec<Entry> = Vec::new();
            let mut handed: Option<(Index, Term)> = None;
            let mut term = 1;
            for op in ops {
                match op {
                    Op::Push(bump) => {
                        term += bump;
                        let index = log.push(Term(term), Payload::Noop);
                        model.push(entry(index.0, term));
                    }
                    Op::Truncate(from) => {
                        if from <= log.last_index().0 {
                            log.truncate_from(Index(from));
                            model.truncate(from as usize - 1);
                        }
                    }
                    Op::HandOff => {
                        if handed.is_none() {
                            let (truncation, entries) = log.take_unstable();
                            if let Some(from) = truncation {
                                disk.retain(|e| e.index < from);
                            }
                            for e in &entries {
                                disk.retain(|d| d.index < e.index);
                                disk.push(e.clone());
                            }
                            proptest::prop_assert_eq!(&disk, &model);
                            handed = entries.last().map(|e| (e.index, e.term));
                        }
                    }
                    Op::Persist => {
                        if let Some((index, term)) = handed.take() {
                            log.mark_persisted(index, term);
                        }
                    }
                }
                proptest::prop_assert_eq!(log.entries(), model.as_slice());
                let persisted = log.persisted().0 as usize;
                proptest::prop_assert!(persisted <= disk.len());
                proptest::prop_assert_eq!(&disk[..persisted], &model[..persisted]);
            }
        }
    }

    #[test]
    fn compaction_keeps_indexes_and_terms() {
        let mut log = log_with_terms(&[1, 2, 3]);
        log.compact(Index(2), Term(2));
        assert_eq!(log.first_index(), Index(3));
        assert_eq!(log.term_at(Index(2)), Some(Term(2)));
        assert_eq!(log.term_at(Index(1)), None);
        assert_eq!(log.slice(Index(1), Index(9)), &[entry(3, 3)]);
    }
}
