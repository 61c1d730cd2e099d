//! What every panel shares: a handle on the session that compares by version (so a panel
//! re-renders only when what it shows may have changed), and small formatting helpers.

use crate::model::session::Session;
use flotilla_core::types::{Millis, NodeId};
use std::cell::{Ref, RefCell};
use std::rc::Rc;

/// The session, shared by the app and its panels. Two handles are equal when they point at
/// the same session at the same version: the app bumps the version when the run changed.
#[derive(Clone, Debug)]
pub struct SessionRef {
    inner: Rc<RefCell<Session>>,
    version: u64,
}

impl SessionRef {
    pub fn new(session: Session) -> SessionRef {
        SessionRef {
            inner: Rc::new(RefCell::new(session)),
            version: 0,
        }
    }

    pub fn borrow(&self) -> Ref<'_, Session> {
        self.inner.borrow()
    }

    pub fn borrow_mut(&self) -> std::cell::RefMut<'_, Session> {
        self.inner.borrow_mut()
    }

    /// The same session at a new version (after it changed).
    pub fn bumped(&self) -> SessionRef {
        SessionRef {
            inner: Rc::clone(&self.inner),
            version: self.version + 1,
        }
    }

    /// Replaces the session (a new run) and bumps the version.
    pub fn replace(&self, session: Session) -> SessionRef {
        *self.inner.borrow_mut() = session;
        self.bumped()
    }
}

impl PartialEq for SessionRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner) && self.version == other.version
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
