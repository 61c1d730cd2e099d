//! Newtypes for the numbers Raft lives by.
//!
//! Every one is a fixed-size integer: these values are persisted and sent over the wire, and
//! the core also runs on wasm32, where `usize` is 32 bits wide.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's identity within a cluster. Never zero: zero means "nobody".
///
/// It is written as a plain integer. It is read from an integer, or, in human-readable
/// formats, also from its decimal text: JSON writes map keys (`BTreeMap<NodeId, _>` in
/// memberships and progress) as strings, and serde reads the messages of an internally
/// tagged enum (the live protocol's `{"type": ...}`) through a buffer that no longer knows
/// such a string was a key, so a derived `Deserialize` would refuse `"2"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeId(pub u64);

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NodeId, D::Error> {
        struct IdVisitor;
        impl serde::de::Visitor<'_> for IdVisitor {
            type Value = NodeId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a node id: an unsigned integer or its decimal text")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodeId, E> {
                Ok(NodeId(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NodeId, E> {
                u64::try_from(v)
                    .map(NodeId)
                    .map_err(|_| E::custom(format!("node id {v} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeId, E> {
                v.parse::<u64>()
                    .map(NodeId)
                    .map_err(|_| E::custom(format!("node id {v:?} is not an unsigned integer")))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(IdVisitor)
        } else {
            deserializer.deserialize_u64(IdVisitor)
        }
    }
}

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
