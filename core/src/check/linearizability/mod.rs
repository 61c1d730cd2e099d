//! # Linearizability of a key-value client history
//!
//! The checkers that run during a simulation look at the servers. This one looks only at what
//! clients saw, which is what users care about: every operation must appear to take effect
//! at one instant between its invocation and its completion, in an order that a single,
//! sequential key-value map could have produced (Herlihy and Wing, 1990).
//!
//! ## How
//!
//! Deciding linearizability is NP-complete in general, but histories of a key-value map
//! split by key: a history is linearizable exactly when the sub-history of each key is
//! (linearizability is *local*, Herlihy and Wing's theorem 1; Porcupine calls using this
//! "P-compositionality"). The workload only issues single-key commands, so we split the
//! history by key and check each part on its own: many small searches instead of one huge
//! one.
//!
//! Each part is checked with the Wing–Gong search as improved by Lowe ("Testing for
//! linearizability", 2017) and used by Porcupine and Knossos: walk the invocations and
//! completions in time order; at an invocation, try to linearize that operation now (apply
//! it to the model; its output must match what the client saw) and restart from the
//! earliest remaining event; at the completion of an operation not yet linearized, backtrack
//! to the last choice. A cache of (set of linearized operations, model state) pairs already
//! explored prunes the search: reaching the same pair again cannot lead anywhere new. The
//! model state of one key is a small integer (values are interned), so the cache is cheap.
//!
//! ## Unknown outcomes
//!
//! A client that timed out does not know whether its write took effect, and it may take
//! effect long after the client gave up (the entry was in a log and commits later). Such an
//! operation is *unknown*: it has an invocation and no completion. The search may linearize
//! it at any point after its invocation, or never; success only requires every completed
//! operation to be linearized. Operations that surely did not take effect (refused before
//! being proposed, or whose log slot went to another entry) and reads without an answer are
//! dropped before the search, since they constrain nothing.
//!
//! ## Limits
//!
//! The search is exponential in the worst case. [`SEARCH_STEPS_MAX`] bounds the work per key;
//! a key that exceeds it is reported as [`Verdict::GaveUp`], never as a violation.

mod generate;
mod history;
mod search;

pub use generate::random_history;
pub use history::{KvInput, KvOutput, Operation};
pub use search::SEARCH_STEPS_MAX;

use std::collections::BTreeMap;

/// The checker's answer for a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's sub-history is linearizable.
    Linearizable,
    /// Some key's sub-history is not.
    Violation(Counterexample),
    /// No violation was found, but the search on `key` hit [`SEARCH_STEPS_MAX`].
    GaveUp { key: Vec<u8> },
}

/// Where a violation was found: the key, and the operation (an index into the history
/// given to [`check`]) that could not be linearized when the search got furthest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    pub key: Vec<u8>,
    /// The completed operation that no explored order could place before its completion.
    pub operation: u64,
    /// How many of the key's operations the longest partial linearization held.
    pub linearized: u64,
    /// How many operations on this key took part in the search.
    pub operations: u64,
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        !matches!(self, Verdict::Violation(_))
    }
}

/// Checks a whole history. Keys are checked in order, and the first violation is returned.
pub fn check(history: &[Operation]) -> Verdict {
    let mut by_key: BTreeMap<&[u8], Vec<u32>> = BTreeMap::new();
    for (position, operation) in history.iter().enumerate() {
        if operation.constrains() {
            let position = u32::try_from(position).expect("histories hold fewer than 2^32 ops");
            by_key.entry(&operation.key).or_default().push(position);
        }
    }
    let mut gave_up = None;
    for (key, positions) in by_key {
        let operations: Vec<&Operation> = positions.iter().map(|&p| &history[p as usize]).collect();
        match search::check_key(&operations) {
            search::KeyVerdict::Linearizable => {}
            search::KeyVerdict::GaveUp => {
                gave_up.get_or_insert_with(|| key.to_vec());
            }
            search::KeyVerdict::Violation {
                operation,
                linearized,
            } => {
                return Verdict::Violation(Counterexample {
                    key: key.to_vec(),
                    operation: u64::from(positions[operation as usize]),
                    linearized: u64::from(linearized),
                    operations: positions.len() as u64,
                });
            }
        }
    }
    match gave_up {
        Some(key) => Verdict::GaveUp { key },
        None => Verdict::Linearizable,
    }
}

#[cfg(test)]
mod tests;
