//! `KvStore`: the ordered map, the index of the last applied entry, and the session table.

use super::session::{SessionCheck, SessionTable};
use super::{Command, CommandError, Request, Response};
use crate::raft::message::{Entry, Payload};
use crate::types::Index;
use std::collections::BTreeMap;
use thiserror::Error;

/// The replicated key-value state machine.
///
/// Invariants: `applied` only grows; the map and the session table are exactly the result of
/// applying the log (or the snapshot it was restored from) up to `applied`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    /// The data, ordered by key so that iteration, snapshots and digests are deterministic.
    pub(super) data: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The index of the last log entry applied (0 before any).
    pub(super) applied: Index,
    /// The latest response of each recent client, for at-most-once writes.
    pub(super) sessions: SessionTable,
}

/// Why [`KvStore::read`] refused a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ReadError {
    /// Only `Get` and `GetMany` can be served without going through the log.
    #[error("not a read-only command")]
    NotARead,
}

impl KvStore {
    /// An empty store at index 0.
    pub fn new() -> KvStore {
        KvStore::default()
    }

    /// The index of the last applied entry.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// Number of keys.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The value of one key.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.data.get(key).map(Vec::as_slice)
    }

    /// All pairs in key order, for the UI and for checkers.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.data
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_slice()))
    }

    /// The session table, for the UI and for checkers.
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// Applies one committed log entry. Commands are decoded and applied; other payloads
    /// (no-ops, configuration changes) only advance `applied`, and answer `None`.
    ///
    /// Bytes that do not decode are answered with [`CommandError::Malformed`] and change
    /// nothing: every replica decodes the same bytes the same way, so they stay identical.
    pub fn apply_entry(&mut self, entry: &Entry) -> Option<Response> {
        match &entry.payload {
            Payload::Command(bytes) => match Request::decode(bytes) {
                Ok(request) => Some(self.apply(entry.index, &request)),
                Err(error) => {
                    self.advance(entry.index);
                    Some(Response::Error(CommandError::Malformed(error.to_string())))
                }
            },
            Payload::Noop | Payload::Config(_) | Payload::Bootstrap(_) => {
                self.advance(entry.index);
                None
            }
        }
    }

    /// Applies `request`, committed at log `index`, and returns its response.
    ///
    /// Deterministic: the response and the new state depend only on the state and the
    /// arguments. A tagged request whose `(client_id, seq)` was already applied is answered
    /// with the response it got then, and changes nothing.
    ///
    /// # Panics
    /// If `index` is not above `applied()`: the driver applied an entry twice or out of order.
    pub fn apply(&mut self, index: Index, request: &Request) -> Response {
        self.advance(index);
        let Some(tag) = request.session else {
            return self.execute(&request.command);
        };
        match self.sessions.check(tag, index) {
            SessionCheck::Apply => {
                let response = self.execute(&request.command);
                self.sessions.record(tag, index, response.clone());
                response
            }
            SessionCheck::Duplicate(response) => response,
            SessionCheck::Stale { last_seq } => Response::Error(CommandError::StaleRequest {
                client_id: tag.client_id,
                seq: tag.seq,
                last_seq,
            }),
        }
    }

    /// Serves a read-only command from the current state. The caller is responsible for
    /// linearizability: it must have waited, through ReadIndex, until `applied()` reached the
    /// read's index.
    pub fn read(&self, command: &Command) -> Result<Response, ReadError> {
        match command {
            Command::Get { key } => Ok(Response::Value(self.data.get(key).cloned())),
            Command::GetMany { keys } => Ok(self.get_many(keys)),
            _ => Err(ReadError::NotARead),
        }
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Response {
        Response::Values(keys.iter().map(|key| self.data.get(key).cloned()).collect())
    }

    fn advance(&mut self, index: Index) {
        assert!(
            index > self.applied,
            "applying index {index} at or below applied {}",
            self.applied
        );
        self.applied = index;
        self.sessions.expire(index);
    }

    fn execute(&mut self, command: &Command) -> Response {
        match command {
            Command::Get { key } => Response::Value(self.data.get(key).cloned()),
            Command::GetMany { keys } => self.get_many(keys),
            Command::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                Response::Ok
            }
            Command::PutMany { pairs } => {
                for (key, value) in pairs {
                    self.data.insert(key.clone(), value.clone());
                }
                Response::Ok
            }
            Command::Delete { key } => Response::Deleted(self.data.remove(key).is_some()),
            Command::DeleteMany { keys } => {
                let removed = keys
                    .iter()
                    .filter(|key| self.data.remove(*key).is_some())
                    .count();
                Response::Count(removed as u64)
            }
            Command::CompareAndSet { key, expected, new } => {
                self.compare_and_set(key, expected, new)
            }
            Command::Increment { key, by } => self.increment(key, *by),
        }
    }

    fn compare_and_set(
        &mut self,
        key: &[u8],
        expected: &Option<Vec<u8>>,
        new: &Option<Vec<u8>>,
    ) -> Response {
        let current = self.data.get(key);
        if current != expected.as_ref() {
            return Response::CasResult {
                ok: false,
                current: current.cloned(),
            };
        }
        match new {
            Some(value) => self.data.insert(key.to_vec(), value.clone()),
            None => self.data.remove(key),
        };
        Response::CasResult {
            ok: true,
            current: new.clone(),
        }
    }

    fn increment(&mut self, key: &[u8], by: i64) -> Response {
        let current = match self.data.get(key) {
            None => 0,
            Some(text) => match parse_integer(text) {
                Some(value) => value,
                None => return Response::Error(CommandError::NotAnInteger),
            },
        };
        let Some(value) = current.checked_add(by) else {
            return Response::Error(CommandError::Overflow);
        };
        self.data
            .insert(key.to_vec(), value.to_string().into_bytes());
        Response::Integer(value)
    }
}

/// Parses the canonical decimal text of an `i64`, as Redis does for INCR: an optional `-`,
/// no `+`, no spaces, no leading zeros, no `-0`. Canonical means printing the number gives
/// the text back, which is exactly what we check.
pub fn parse_integer(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let value: i64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Term;

    fn put(key: &str, value: &str) -> Request {
        Request::untagged(Command::Put {
            key: key.into(),
            value: value.into(),
        })
    }

    fn incr(key: &str, by: i64) -> Request {
        Request::untagged(Command::Increment {
            key: key.into(),
            by,
        })
    }

    #[test]
    fn basic_commands_answer_exactly() {
        let mut kv = KvStore::new();
        assert_eq!(kv.apply(Index(1), &put("a", "1")), Response::Ok);
        let get = Command::Get { key: b"a".to_vec() };
        assert_eq!(kv.read(&get), Ok(Response::Value(Some(b"1".to_vec()))));
        let many = Command::GetMany {
            keys: vec![b"a".to_vec(), b"b".to_vec()],
        };
        assert_eq!(
            kv.read(&many),
            Ok(Response::Values(vec![Some(b"1".to_vec()), None]))
        );
        let del = Request::untagged(Command::DeleteMany {
            keys: vec![b"a".to_vec(), b"a".to_vec(), b"z".to_vec()],
        });
        assert_eq!(kv.apply(Index(2), &del), Response::Count(1));
        let del_one = Request::untagged(Command::Delete { key: b"a".to_vec() });
        assert_eq!(kv.apply(Index(3), &del_one), Response::Deleted(false));
        assert_eq!(
            kv.read(&Command::Delete { key: vec![] }),
            Err(ReadError::NotARead)
        );
        assert_eq!(kv.applied(), Index(3));
        assert!(kv.is_empty());
    }

    #[test]
    fn compare_and_set_reports_current_value() {
        let mut kv = KvStore::new();
        let cas = |expected: Option<&str>, new: Option<&str>| {
            Request::untagged(Command::CompareAndSet {
                key: b"k".to_vec(),
                expected: expected.map(Into::into),
                new: new.map(Into::into),
            })
        };
        assert_eq!(
            kv.apply(Index(1), &cas(None, Some("x"))),
            Response::CasResult {
                ok: true,
                current: Some(b"x".to_vec())
            }
        );
        assert_eq!(
            kv.apply(Index(2), &cas(None, Some("y"))),
            Response::CasResult {
                ok: false,
                current: Some(b"x".to_vec())
            }
        );
        assert_eq!(
            kv.apply(Index(3), &cas(Some("x"), None)),
            Response::CasResult {
                ok: true,
                current: None
            }
        );
        assert_eq!(kv.get(b"k"), None);
    }

    #[test]
    fn increment_follows_redis() {
        let mut kv = KvStore::new();
        assert_eq!(kv.apply(Index(1), &incr("n", 5)), Response::Integer(5));
        assert_eq!(kv.apply(Index(2), &incr("n", -7)), Response::Integer(-2));
        assert_eq!(kv.get(b"n"), Some(b"-2".as_slice()));
        for (i, bad) in ["007", "+1", " 1", "-0", "1.5", "", "x"].iter().enumerate() {
            kv.apply(Index(10 + 2 * i as u64), &put("s", bad));
            assert_eq!(
                kv.apply(Index(11 + 2 * i as u64), &incr("s", 1)),
                Response::Error(CommandError::NotAnInteger),
                "{bad:?}"
            );
        }
        kv.apply(Index(100), &put("m", &i64::MAX.to_string()));
        assert_eq!(
            kv.apply(Index(101), &incr("m", 1)),
            Response::Error(CommandError::Overflow)
        );
        assert_eq!(kv.get(b"m"), Some(i64::MAX.to_string().as_bytes()));
        assert_eq!(
            parse_integer(i64::MIN.to_string().as_bytes()),
            Some(i64::MIN)
        );
    }

    #[test]
    fn tagged_write_applies_once() {
        let mut kv = KvStore::new();
        let request = Request::tagged(
            9,
            1,
            Command::Increment {
                key: b"n".to_vec(),
                by: 1,
            },
        );
        assert_eq!(kv.apply(Index(1), &request), Response::Integer(1));
        assert_eq!(kv.apply(Index(2), &request), Response::Integer(1));
        assert_eq!(kv.get(b"n"), Some(b"1".as_slice()));
        let next = Request::tagged(
            9,
            2,
            Command::Increment {
                key: b"n".to_vec(),
                by: 1,
            },
        );
        assert_eq!(kv.apply(Index(3), &next), Response::Integer(2));
        assert_eq!(
            kv.apply(Index(4), &request),
            Response::Error(CommandError::StaleRequest {
                client_id: 9,
                seq: 1,
                last_seq: 2
            })
        );
        assert_eq!(kv.get(b"n"), Some(b"2".as_slice()));
    }

    #[test]
    fn apply_entry_handles_every_payload() {
        let mut kv = KvStore::new();
        let noop = Entry {
            index: Index(1),
            term: Term(1),
            payload: Payload::Noop,
        };
        assert_eq!(kv.apply_entry(&noop), None);
        let cmd = Entry {
            index: Index(2),
            term: Term(1),
            payload: Payload::Command(put("a", "b").encode()),
        };
        assert_eq!(kv.apply_entry(&cmd), Some(Response::Ok));
        let junk = Entry {
            index: Index(3),
            term: Term(1),
            payload: Payload::Command(vec![9, 9, 9]),
        };
        assert!(matches!(
            kv.apply_entry(&junk),
            Some(Response::Error(CommandError::Malformed(_)))
        ));
        assert_eq!(kv.applied(), Index(3));
        assert_eq!(kv.len(), 1);
    }

    #[test]
    #[should_panic(expected = "at or below applied")]
    fn applying_twice_is_a_driver_bug() {
        let mut kv = KvStore::new();
        kv.apply(Index(1), &put("a", "1"));
        kv.apply(Index(1), &put("a", "1"));
    }
}
