//! Newtypes for the numbers Raft lives by.
//!
//! Every one is a fixed-size integer: these values are persisted and sent over the wire, and
//! the core also runs on wasm32, where `usize` is 32 bits wide.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's identity within a cluster. Never zero: zero means "nobody".
///
/// It is written as a plain integer. As a JSON map key (`BTreeMap<NodeId, _>` in memberships
/// and progress) it is a string such as `"2"`, which serde_json reads back into the number
/// itself.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u64);

/// A Raft term: a logical clock that increases with every election.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Term(pub u64);

/// A position in the Raft log. The first entry has index 1; index 0 is "before the log".
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Index(pub u64);

/// Milliseconds of (virtual or real) time, as given to the core by its driver.
pub type Millis = u64;

impl Term {
    /// The term after this one.
    pub fn next(self) -> Term {
        Term(self.0 + 1)
    }
}

impl Index {
    /// The index after this one.
    pub fn next(self) -> Index {
        Index(self.0 + 1)
    }

    /// The index before this one, saturating at zero.
    pub fn prev(self) -> Index {
        Index(self.0.saturating_sub(1))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
