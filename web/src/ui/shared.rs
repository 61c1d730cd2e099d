//! What every panel shares: handles on the session or the live cluster that compare by
//! version (so a panel re-renders only when what it shows may have changed), and small
//! formatting helpers.

use crate::model::live::LiveCluster;
use crate::model::session::Session;
use crate::model::view::ClusterModel;
use flotilla_core::types::{Millis, NodeId};
use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;

/// A value shared by the app and its panels. Two handles are equal when they point at the
/// same value at the same version: the owner bumps the version when the value changed.
#[derive(Debug)]
pub struct Shared<T> {
    inner: Rc<RefCell<T>>,
    version: u64,
}

/// The simulated session.
pub type SessionRef = Shared<Session>;
/// The live cluster.
pub type LiveRef = Shared<LiveCluster>;

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            inner: Rc::clone(&self.inner),
            version: self.version,
        }
    }
}

impl<T> Shared<T> {
    pub fn new(value: T) -> Shared<T> {
        Shared {
            inner: Rc::new(RefCell::new(value)),
            version: 0,
        }
    }

    pub fn borrow(&self) -> Ref<'_, T> {
        self.inner.borrow()
    }

    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.inner.borrow_mut()
    }

    /// The same value at a new version (after it changed).
    pub fn bumped(&self) -> Shared<T> {
        Shared {
            inner: Rc::clone(&self.inner),
            version: self.version + 1,
        }
    }

    /// Replaces the value (a new run) and bumps the version.
    pub fn replace(&self, value: T) -> Shared<T> {
        *self.inner.borrow_mut() = value;
        self.bumped()
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner) && self.version == other.version
    }
}

/// The cluster a shared panel draws: the simulated one or a live one.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterRef {
    Sim(SessionRef),
    Live(LiveRef),
}

impl ClusterRef {
    /// Runs `f` on the cluster, borrowed for the call.
    pub fn with<R>(&self, f: impl FnOnce(&dyn ClusterModel) -> R) -> R {
        match self {
            ClusterRef::Sim(session) => f(&*session.borrow()),
            ClusterRef::Live(live) => f(&*live.borrow()),
        }
    }
}

/// Virtual milliseconds as the page shows them: `1.234 s`.
pub fn fmt_ms(ms: Millis) -> String {
    format!("{}.{:03} s", ms / 1_000, ms % 1_000)
}

/// A node's name as the trace writes it.
pub fn node_name(id: NodeId) -> String {
    format!("n{}", id.0)
}

/// The CSS class of a term's colour: eight hues, repeating.
pub fn term_class(term: u64) -> String {
    format!("term-{}", term % 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_seconds_and_milliseconds() {
        assert_eq!(fmt_ms(0), "0.000 s");
        assert_eq!(fmt_ms(12_345), "12.345 s");
    }
}
