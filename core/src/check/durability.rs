//! Nothing is promised before it is durable (Raft paper, Figure 2, "Persistent state on all
//! servers: updated on stable storage before responding to RPCs"; thesis §3.8 and §10.2.1).
//!
//! A vote is a promise never to vote for anyone else in that term; an append acknowledgement
//! is a promise that the entries survive a crash, and the leader counts it towards a commit.
//! If either leaves before the disk has it, a crash at the wrong moment lets a node vote
//! twice in a term or lets a committed entry vanish. The node separates such messages into
//! `Ready::persisted_messages`; this checker verifies that the driver (and the node) kept
//! the promise: when a promising message is about to leave, the sender's *synced* state must
//! already back it.
//!
//! The driver keeps a [`DurableShadow`] per node: it stages the writes of each Ready as the
//! driver persists them, moves them to the durable side when the fsync completes, and drops
//! them when the node crashes. The shadow is what is *surely* durable; a crash that keeps a
//! torn prefix of unsynced writes can only leave more.
//!
//! After a restart the same shadow checks the other half of the bargain: the node came back
//! with at least the term and vote it had synced, and with every synced log entry that no
//! later (possibly surviving) truncation removed.

use super::{Findings, Invariant};
use crate::raft::{Envelope, HardState, Message, Node, Ready};
use crate::types::{Index, NodeId, Term};

/// The surely-durable log and hard state of one node, as the driver wrote and synced them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableShadow {
    durable: ShadowLog,
    staged: Vec<Staged>,
    /// After a crash: the last index the restarted log must still hold (as synced).
    kept_after_crash: Option<Index>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ShadowLog {
    hard_state: HardState,
    snapshot_index: Index,
    snapshot_term: Term,
    /// Terms of the entries after the snapshot.
    terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Staged {
    Snapshot { index: Index, term: Term },
    Truncate(Index),
    Append { first: Index, terms: Vec<Term> },
    HardState(HardState),
}

impl ShadowLog {
    fn last_index(&self) -> Index {
        Index(self.snapshot_index.0 + self.terms.len() as u64)
    }

    fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        let offset = index.0.checked_sub(self.snapshot_index.0 + 1)?;
        self.terms.get(usize::try_from(offset).ok()?).copied()
    }

    fn truncate(&mut self, from: Index) {
        let keep = from.0.saturating_sub(self.snapshot_index.0 + 1);
        self.terms
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
    }

    fn apply(&mut self, write: &Staged) {
        match write {
            Staged::Snapshot { index, term } => {
                if *index <= self.snapshot_index {
                    return;
                }
                if self.term_at(*index) == Some(*term) {
                    let drop = (index.0 - self.snapshot_index.0) as usize;
                    self.terms.drain(..drop.min(self.terms.len()));
                } else {
                    self.terms.clear();
                }
                self.snapshot_index = *index;
                self.snapshot_term = *term;
            }
            Staged::Truncate(from) => self.truncate(*from),
            Staged::Append { first, terms } => {
                self.truncate(*first);
                let skip = self.snapshot_index.0.saturating_sub(first.0 - 1);
                let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                self.terms.extend(terms.iter().skip(skip));
            }
            Staged::HardState(hard_state) => self.hard_state = *hard_state,
        }
    }
}

impl DurableShadow {
    pub fn new() -> DurableShadow {
        DurableShadow::default()
    }

    /// The shadow of a store just loaded: what it holds is durable.
    pub fn loaded(state: &crate::storage::DurableState) -> DurableShadow {
        let (snapshot_index, snapshot_term) = state
            .snapshot
            .as_ref()
            .map_or((Index(0), Term(0)), |s| (s.meta.index, s.meta.term));
        DurableShadow {
            durable: ShadowLog {
                hard_state: state.hard_state,
                snapshot_index,
                snapshot_term,
                terms: state.entries.iter().map(|e| e.term).collect(),
            },
            staged: Vec::new(),
            kept_after_crash: None,
        }
    }

    /// The driver persisted `ready`'s writes, in the order of the driver recipe: received
    /// snapshot, truncation, entries, own snapshot, hard state.
    pub fn stage(&mut self, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.staged.push(Staged::Snapshot {
                index: snapshot.meta.index,
                term: snapshot.meta.term,
            });
        }
        if let Some(from) = ready.truncate_from {
            self.staged.push(Staged::Truncate(from));
        }
        if let Some(first) = ready.entries.first() {
            let terms = ready.entries.iter().map(|e| e.term).collect();
            self.staged.push(Staged::Append {
                first: first.index,
                terms,
            });
        }
        if let Some(snapshot) = &ready.compacted {
            self.staged.push(Staged::Snapshot {
                index: snapshot.meta.index,
                term: snapshot.meta.term,
            });
        }
        if let Some(hard_state) = ready.hard_state {
            self.staged.push(Staged::HardState(hard_state));
        }
    }

    /// An fsync completed: everything staged is durable.
    pub fn sync(&mut self) {
        for write in std::mem::take(&mut self.staged) {
            self.durable.apply(&write);
        }
    }

    /// The node crashed: staged writes may be lost. A staged truncation may survive (torn
    /// writes keep a prefix of the log appends), so only entries below it must survive.
    pub fn crash(&mut self) {
        let mut kept = self.durable.last_index();
        for write in &self.staged {
            match write {
                Staged::Truncate(from) | Staged::Append { first: from, .. } => {
                    kept = kept.min(from.prev());
                }
                _ => {}
            }
        }
        self.staged.clear();
        self.kept_after_crash = Some(kept);
    }

    pub fn hard_state(&self) -> HardState {
        self.durable.hard_state
    }

    /// The last index surely durable.
    pub fn last_index(&self) -> Index {
        self.durable.last_index()
    }

    /// The term of the durable entry at `index`, if known.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.durable.term_at(index)
    }
}

/// `envelope` is about to leave `node`: if it promises durability, `shadow` must back it.
pub fn check_send(
    envelope: &Envelope,
    node: &Node,
    shadow: &DurableShadow,
    findings: &mut Findings,
) {
    let term = envelope.term;
    let problem = match &envelope.message {
        Message::Vote { .. } => vote_missing(shadow, term, envelope.from),
        Message::VoteResponse { granted: true } => vote_missing(shadow, term, envelope.to),
        Message::AppendResponse {
            index,
            reject: None,
        } => entries_missing(shadow, node, term, *index),
        Message::InstallSnapshotResponse {
            installed: Some(index),
            ..
        } => entries_missing(shadow, node, term, *index),
        _ => None,
    };
    if let Some(problem) = problem {
        findings.report(
            Invariant::DurableBeforeSend,
            Some(envelope.from),
            format!(
                "{:?} to {} in term {term} leaves before it is durable: {problem}",
                envelope.message, envelope.to
            ),
        );
    }
}

fn vote_missing(shadow: &DurableShadow, term: Term, candidate: NodeId) -> Option<String> {
    let durable = shadow.hard_state();
    let backed = durable.term > term || (durable.term == term && durable.vote == Some(candidate));
    (!backed).then(|| format!("durable term {} vote {:?}", durable.term, durable.vote))
}

/// Whether an acknowledgement of the log up to `index`, made in `term`, is backed.
///
/// One case is exempt: the node has since moved to a later term and no longer holds (the
/// same) entry at `index`, because that term's leader made it discard it. Drivers that keep
/// stepping the node while an fsync is in flight can deliver such a late acknowledgement.
/// It is harmless: it was made while the node held the entries, and a leader of a later term
/// that lacks them could only be elected because no majority had acknowledged them before
/// voting (the leader-completeness argument, which reasons about when acknowledgements are
/// made, not when they arrive). A truncation within the same term, by contrast, is a bug.
fn entries_missing(
    shadow: &DurableShadow,
    node: &Node,
    term: Term,
    index: Index,
) -> Option<String> {
    if index.0 == 0 || index <= shadow.durable.snapshot_index {
        return None;
    }
    let moved_on = node.term() > term;
    let held = node.log().term_at(index);
    if moved_on && (held.is_none() || held != shadow.term_at(index)) {
        return None;
    }
    if shadow.last_index() < index {
        return Some(format!("durable log ends at {}", shadow.last_index()));
    }
    let (durable, held) = (shadow.term_at(index), node.log().term_at(index));
    match (durable, held) {
        (Some(d), Some(h)) if d != h => Some(format!(
            "durable entry {index} has term {d}, the log in memory has {h}"
        )),
        // Covered by a snapshot in memory (compacted): still held.
        (_, None) if index <= node.log().snapshot_index() => None,
        (_, None) => Some(format!(
            "the node no longer holds entry {index} (its log ends at {})",
            node.log().last_index()
        )),
        _ => None,
    }
}

/// `node` was just rebuilt from storage after a crash: it must have kept what was synced.
pub fn check_restart(node: &Node, shadow: &DurableShadow, findings: &mut Findings) {
    let durable = shadow.hard_state();
    let mut report = |detail: String| {
        findings.report(Invariant::SyncedSurvivesCrash, Some(node.id()), detail);
    };
    if node.term() < durable.term || (node.term() == durable.term && node.vote() != durable.vote) {
        report(format!(
            "restarted at term {} vote {:?}; synced term {} vote {:?}",
            node.term(),
            node.vote(),
            durable.term,
            durable.vote
        ));
    }
    let kept = shadow.kept_after_crash.unwrap_or(shadow.last_index());
    let log = node.log();
    let from = log.snapshot_index().max(shadow.durable.snapshot_index).0 + 1;
    for index in from..=kept.0 {
        let index = Index(index);
        let (synced, restored) = (shadow.term_at(index), log.term_at(index));
        if synced.is_some() && restored != synced {
            report(format!(
                "restarted with {restored:?} at index {index}; term {synced:?} was synced"
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Entry, Payload};

    fn ready(entries: &[(u64, u64)], hard_state: Option<(u64, Option<u64>)>) -> Ready {
        Ready {
            entries: entries
                .iter()
                .map(|&(index, term)| Entry {
                    index: Index(index),
                    term: Term(term),
                    payload: Payload::Noop,
                })
                .collect(),
            hard_state: hard_state.map(|(term, vote)| HardState {
                term: Term(term),
                vote: vote.map(NodeId),
                commit: Index(0),
            }),
            ..Ready::default()
        }
    }

    #[test]
    fn only_synced_writes_are_durable() {
        let mut shadow = DurableShadow::new();
        shadow.stage(&ready(&[(1, 1), (2, 1)], Some((1, Some(2)))));
        assert_eq!(shadow.last_index(), Index(0));
        assert!(vote_missing(&shadow, Term(1), NodeId(2)).is_some());
        shadow.sync();
        assert_eq!(shadow.last_index(), Index(2));
        assert_eq!(vote_missing(&shadow, Term(1), NodeId(2)), None);
        assert!(vote_missing(&shadow, Term(1), NodeId(3)).is_some());
        shadow.stage(&Ready {
            truncate_from: Some(Index(2)),
            ..ready(&[(2, 2), (3, 2)], None)
        });
        shadow.crash();
        assert_eq!(shadow.kept_after_crash, Some(Index(1)));
        assert_eq!(shadow.term_at(Index(2)), Some(Term(1)));
    }
}
