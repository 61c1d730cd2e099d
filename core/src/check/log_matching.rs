//! Log matching (Raft paper, Figure 3 and §5.3): if two logs contain an entry with the same
//! index and term, the logs are identical in all entries up through that index.
//!
//! Comparing whole logs after every step would cost O(nodes × log length) per event. Instead
//! we use an equivalent local form: every `(index, term)` that appears in any log must always
//! carry the same payload and follow an entry of the same term. By induction on the index,
//! two logs that agree on `(index, term)` then agree on every earlier entry. Each entry is
//! checked once, when a Ready hands it to the driver to persist.

use super::fingerprint;
use super::{Findings, Invariant};
use crate::raft::{Entry, Node};
use crate::types::{Index, Term};
use std::collections::BTreeMap;

/// What an `(index, term)` stands for: the term of the entry before it, and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    prev_term: Term,
    payload: u64,
}

#[derive(Debug, Default)]
pub struct LogMatching {
    seen: BTreeMap<(Index, Term), Seen>,
}

impl LogMatching {
    /// `entries` were just added to `node`'s log (they are the tail of its log).
    pub fn check_appended(&mut self, node: &Node, entries: &[Entry], findings: &mut Findings) {
        let Some(first) = entries.first() else {
            return;
        };
        let mut prev_term = node.log().term_at(first.index.prev()).unwrap_or_default();
        for entry in entries {
            let seen = Seen {
                prev_term,
                payload: fingerprint::payload(&entry.payload),
            };
            match self.seen.get(&(entry.index, entry.term)) {
                Some(earlier) if *earlier != seen => findings.report(
                    Invariant::LogMatching,
                    Some(node.id()),
                    format!(
                        "entry {}@{} follows term {} with payload {:016x}; elsewhere it follows \
                         term {} with payload {:016x}",
                        entry.index,
                        entry.term,
                        seen.prev_term,
                        seen.payload,
                        earlier.prev_term,
                        earlier.payload
                    ),
                ),
                Some(_) => {}
                None => {
                    self.seen.insert((entry.index, entry.term), seen);
                }
            }
            prev_term = entry.term;
        }
    }
}
