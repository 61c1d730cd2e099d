//! The client session table: the latest response of each client, so that a retried write is
//! answered from memory instead of applied twice.
//!
//! The table is part of the replicated state: every replica applies the same entries in the
//! same order, so every replica evicts and expires the same sessions at the same index. That
//! is why expiry is counted in log entries and never in time: time differs between replicas,
//! the log does not.

use super::{Response, SessionTag, SESSIONS_MAX, SESSION_IDLE_ENTRIES_MAX};
use crate::types::Index;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What the table remembers about one client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The client's identity.
    pub client_id: u64,
    /// The highest request number applied for this client.
    pub seq: u64,
    /// The response to request `seq`, returned again if it is retried.
    pub response: Response,
    /// The log index of the client's latest request (applied or answered from the table):
    /// what least-recently-used eviction and idle expiry look at.
    pub last_index: Index,
}

/// What the table says about a tagged request before it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// First time this `(client, seq)` is seen: apply it, then `record` the response.
    Apply,
    /// A retry of the latest request: answer with the cached response, apply nothing.
    Duplicate(Response),
    /// Older than the latest request: refuse (its response is gone).
    Stale { last_seq: u64 },
}

/// The bounded table of client sessions.
///
/// Invariants: `by_client` and `by_last_index` hold the same sessions (`by_last_index` is the
/// set of `(last_index, client_id)` pairs); there are at most [`SESSIONS_MAX`] of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionTable {
    /// Sessions by client.
    by_client: BTreeMap<u64, Session>,
    /// The same sessions ordered by last use, oldest first, for eviction and expiry.
    by_last_index: BTreeSet<(Index, u64)>,
}

impl SessionTable {
    /// An empty table.
    pub fn new() -> SessionTable {
        SessionTable::default()
    }

    /// Rebuilds a table from sessions read from a snapshot. `None` if they break an
    /// invariant (duplicate client, too many sessions).
    pub fn from_sessions(sessions: Vec<Session>) -> Option<SessionTable> {
        if sessions.len() as u64 > SESSIONS_MAX {
            return None;
        }
        let mut table = SessionTable::new();
        for session in sessions {
            if !table
                .by_last_index
                .insert((session.last_index, session.client_id))
            {
                return None;
            }
            if table.by_client.insert(session.client_id, session).is_some() {
                return None;
            }
        }
        table.assert_invariants();
        Some(table)
    }

    /// Number of sessions held.
    pub fn len(&self) -> u64 {
        self.by_client.len() as u64
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// The sessions in client order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_client.values()
    }

    /// The session of one client, if any.
    pub fn get(&self, client_id: u64) -> Option<&Session> {
        self.by_client.get(&client_id)
    }

    /// Classifies a tagged request applied at `index`. A duplicate counts as use of the
    /// session, so a client that keeps retrying is not expired under its own feet.
    pub fn check(&mut self, tag: SessionTag, index: Index) -> SessionCheck {
        let Some(session) = self.by_client.get(&tag.client_id) else {
            return SessionCheck::Apply;
        };
        let last_seq = session.seq;
        if tag.seq > last_seq {
            return SessionCheck::Apply;
        }
        if tag.seq < last_seq {
            return SessionCheck::Stale { last_seq };
        }
        let response = session.response.clone();
        self.touch(tag.client_id, index);
        SessionCheck::Duplicate(response)
    }

    /// Records the response of a request that was just applied at `index`, evicting the
    /// least recently used session if the table is full.
    pub fn record(&mut self, tag: SessionTag, index: Index, response: Response) {
        if let Some(old) = self.by_client.remove(&tag.client_id) {
            assert!(tag.seq > old.seq, "recording seq {} over {old:?}", tag.seq);
            self.by_last_index.remove(&(old.last_index, old.client_id));
        } else if self.len() >= SESSIONS_MAX {
            self.evict_oldest();
        }
        let session = Session {
            client_id: tag.client_id,
            seq: tag.seq,
            response,
            last_index: index,
        };
        self.by_last_index.insert((index, tag.client_id));
        self.by_client.insert(tag.client_id, session);
        self.assert_invariants();
    }

    /// Forgets sessions idle for more than [`SESSION_IDLE_ENTRIES_MAX`] entries as of
    /// `index`. Called for every applied entry, so all replicas expire at the same index.
    pub fn expire(&mut self, index: Index) {
        while let Some(&(last_index, client_id)) = self.by_last_index.first() {
            if last_index.0.saturating_add(SESSION_IDLE_ENTRIES_MAX) >= index.0 {
                break;
            }
            self.by_last_index.remove(&(last_index, client_id));
            self.by_client.remove(&client_id);
        }
    }

    fn touch(&mut self, client_id: u64, index: Index) {
        let Some(session) = self.by_client.get_mut(&client_id) else {
            return;
        };
        self.by_last_index.remove(&(session.last_index, client_id));
        session.last_index = session.last_index.max(index);
        self.by_last_index.insert((session.last_index, client_id));
    }

    fn evict_oldest(&mut self) {
        if let Some((_, client_id)) = self.by_last_index.pop_first() {
            self.by_client.remove(&client_id);
        }
    }

    fn assert_invariants(&self) {
        assert_eq!(
            self.by_client.len(),
            self.by_last_index.len(),
            "session indexes disagree"
        );
        assert!(self.len() <= SESSIONS_MAX, "{} sessions", self.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(client_id: u64, seq: u64) -> SessionTag {
        SessionTag { client_id, seq }
    }

    #[test]
    fn duplicate_stale_and_new() {
        let mut table = SessionTable::new();
        assert_eq!(table.check(tag(1, 5), Index(1)), SessionCheck::Apply);
        table.record(tag(1, 5), Index(1), Response::Ok);
        assert_eq!(
            table.check(tag(1, 5), Index(2)),
            SessionCheck::Duplicate(Response::Ok)
        );
        assert_eq!(
            table.check(tag(1, 4), Index(3)),
            SessionCheck::Stale { last_seq: 5 }
        );
        assert_eq!(table.check(tag(1, 6), Index(4)), SessionCheck::Apply);
        assert_eq!(table.check(tag(2, 1), Index(4)), SessionCheck::Apply);
        // The duplicate at index 2 refreshed the session.
        assert_eq!(table.get(1).map(|s| s.last_index), Some(Index(2)));
    }

    #[test]
    fn full_table_evicts_least_recently_used() {
        let mut table = SessionTable::new();
        for client in 0..SESSIONS_MAX {
            table.record(tag(client, 1), Index(client + 1), Response::Ok);
        }
        // Client 0 retries, so client 1 becomes the least recently used.
        let _ = table.check(tag(0, 1), Index(SESSIONS_MAX + 1));
        table.record(tag(SESSIONS_MAX, 1), Index(SESSIONS_MAX + 2), Response::Ok);
        assert_eq!(table.len(), SESSIONS_MAX);
        assert!(table.get(0).is_some());
        assert!(table.get(1).is_none());
    }

    #[test]
    fn idle_sessions_expire_by_log_index() {
        let mut table = SessionTable::new();
        table.record(tag(1, 1), Index(10), Response::Ok);
        table.record(tag(2, 1), Index(20), Response::Ok);
        table.expire(Index(10 + SESSION_IDLE_ENTRIES_MAX));
        assert_eq!(table.len(), 2);
        table.expire(Index(11 + SESSION_IDLE_ENTRIES_MAX));
        assert_eq!(table.len(), 1);
        assert!(table.get(2).is_some());
    }

    #[test]
    fn from_sessions_refuses_duplicates() {
        let session = Session {
            client_id: 1,
            seq: 1,
            response: Response::Ok,
            last_index: Index(1),
        };
        let mut other = session.clone();
        other.last_index = Index(2);
        assert_eq!(SessionTable::from_sessions(vec![session, other]), None);
    }
}
