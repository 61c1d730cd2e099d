//! What clients ask of the state machine, and how it travels inside a Raft log entry.
//!
//! A [`Request`] is a [`Command`] plus an optional [`SessionTag`]. It is encoded with postcard
//! into the bytes of `Payload::Command`. Decoding takes bytes that came from a log, a network
//! or a file, so it returns an error for anything malformed and never panics.

use super::{BATCH_KEYS_MAX, KEY_BYTES_MAX, REQUEST_BYTES_MAX, VALUE_BYTES_MAX};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Identifies one request of one client, so that a retry of it applies at most once.
///
/// A client picks a `client_id` that no other client uses (drivers derive it from a seed or
/// from the OS RNG) and numbers its writes with `seq`, one more for each new request. A retry
/// reuses the `seq` of the request it repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionTag {
    /// The client's identity, unique among the cluster's clients.
    pub client_id: u64,
    /// The client's request number; a new request has a higher number than the previous one.
    pub seq: u64,
}

/// One operation on the key-value map.
///
/// The multi-key variants exist for Redis's MGET, MSET and DEL: each applies atomically, in
/// one log entry, which is what Redis promises for them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Reads one key. Answered with [`Response::Value`](super::Response::Value).
    Get {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Reads several keys at once (MGET). Answered with
    /// [`Response::Values`](super::Response::Values), in the order of `keys`.
    GetMany { keys: Vec<Vec<u8>> },
    /// Sets one key. Answered with [`Response::Ok`](super::Response::Ok).
    Put {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// Sets several keys atomically (MSET); a key named twice takes its last value.
    /// Answered with [`Response::Ok`](super::Response::Ok).
    PutMany { pairs: Vec<(Vec<u8>, Vec<u8>)> },
    /// Removes one key. Answered with [`Response::Deleted`](super::Response::Deleted).
    Delete {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Removes several keys atomically (DEL k1 k2 ...). Answered with
    /// [`Response::Count`](super::Response::Count): how many keys existed (a key named twice
    /// counts once, as in Redis).
    DeleteMany { keys: Vec<Vec<u8>> },
    /// Sets `key` to `new` (or removes it when `new` is `None`) only if its current value is
    /// `expected` (`None`: the key must be absent). Answered with
    /// [`Response::CasResult`](super::Response::CasResult).
    CompareAndSet {
        key: Vec<u8>,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
    /// Adds `by` to the integer stored at `key` (an absent key counts as 0), like Redis INCRBY.
    /// The value must be the canonical decimal text of an `i64`. Answered with
    /// [`Response::Integer`](super::Response::Integer), the new value.
    Increment { key: Vec<u8>, by: i64 },
}

/// A command as proposed to Raft: the command and, for writes that must apply at most once,
/// the client's session tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Set by clients that retry: the state machine applies a tagged request at most once.
    pub session: Option<SessionTag>,
    /// What to do.
    pub command: Command,
}

/// Why bytes could not be decoded into a [`Request`], or why a request is refused before it
/// is proposed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The bytes are not a postcard-encoded `Request`.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The bytes hold a request followed by more bytes.
    #[error("malformed request: {0} trailing bytes")]
    TrailingBytes(u64),
    /// A limit was exceeded; `what` names it.
    #[error("request too large: {what} is {bytes} bytes or items, the limit is {max}")]
    TooLarge {
        what: &'static str,
        bytes: u64,
        max: u64,
    },
}

impl Command {
    /// Whether this command only reads, and so may be served by ReadIndex without a log entry.
    pub fn is_read(&self) -> bool {
        matches!(self, Command::Get { .. } | Command::GetMany { .. })
    }

    /// The keys this command touches, in the order it names them (with repeats). Checkers use
    /// this to split a history by key.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Command::Get { key }
            | Command::Put { key, .. }
            | Command::Delete { key }
            | Command::CompareAndSet { key, .. }
            | Command::Increment { key, .. } => vec![key.as_slice()],
            Command::GetMany { keys } | Command::DeleteMany { keys } => {
                keys.iter().map(Vec::as_slice).collect()
            }
            Command::PutMany { pairs } => pairs.iter().map(|(key, _)| key.as_slice()).collect(),
        }
    }

    /// Checks the command against the size limits. Drivers call this before proposing;
    /// `apply` does not, so that a change of limits never changes how an old log replays.
    pub fn validate(&self) -> Result<(), RequestError> {
        match self {
            Command::Get { key } | Command::Delete { key } | Command::Increment { key, .. } => {
                check_key(key)
            }
            Command::Put { key, value } => {
                check_key(key)?;
                check_value(value)
            }
            Command::GetMany { keys } | Command::DeleteMany { keys } => {
                check_batch(keys.len())?;
                keys.iter().try_for_each(|key| check_key(key))
            }
            Command::PutMany { pairs } => {
                check_batch(pairs.len())?;
                pairs.iter().try_for_each(|(key, value)| {
                    check_key(key)?;
                    check_value(value)
                })
            }
            Command::CompareAndSet { key, expected, new } => {
                check_key(key)?;
                expected
                    .iter()
                    .chain(new.iter())
                    .try_for_each(|value| check_value(value))
            }
        }
    }
}

impl Request {
    /// A request without a session: it applies every time it is committed.
    pub fn untagged(command: Command) -> Request {
        Request {
            session: None,
            command,
        }
    }

    /// A request that applies at most once for `(client_id, seq)`.
    pub fn tagged(client_id: u64, seq: u64, command: Command) -> Request {
        Request {
            session: Some(SessionTag { client_id, seq }),
            command,
        }
    }

    /// Encodes the request for `Payload::Command`.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain owned data into a growable Vec has no failure case in postcard.
        postcard::to_allocvec(self).expect("postcard encodes a Request into a Vec")
    }

    /// Decodes a request from `Payload::Command` bytes. Never panics; a declared length larger
    /// than the bytes fails instead of allocating (serde preallocates at most 1 MiB for a
    /// sequence, and postcard stops at the end of the input). It checks no size limit: it also runs in `apply`, whose answer
    /// must not depend on limits that may change between releases ([`Request::validate`]
    /// checks them before a proposal).
    pub fn decode(bytes: &[u8]) -> Result<Request, RequestError> {
        let (request, rest) = postcard::take_from_bytes::<Request>(bytes)
            .map_err(|error| RequestError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(RequestError::TrailingBytes(rest.len() as u64));
        }
        Ok(request)
    }

    /// Checks the request against the size limits, including its encoded size.
    pub fn validate(&self) -> Result<(), RequestError> {
        self.encode_checked().map(drop)
    }

    /// Checks the request against the size limits and returns its encoding: a write is
    /// proposed with exactly these bytes, so it is encoded once, not once to measure it and
    /// once to propose it.
    pub fn encode_checked(&self) -> Result<Vec<u8>, RequestError> {
        self.command.validate()?;
        let encoded = self.encode();
        let bytes = encoded.len() as u64;
        if bytes > REQUEST_BYTES_MAX {
            return Err(RequestError::TooLarge {
                what: "encoded request",
                bytes,
                max: REQUEST_BYTES_MAX,
            });
        }
        Ok(encoded)
    }
}

fn check_key(key: &[u8]) -> Result<(), RequestError> {
    check_len("key", key.len(), KEY_BYTES_MAX)
}

fn check_value(value: &[u8]) -> Result<(), RequestError> {
    check_len("value", value.len(), VALUE_BYTES_MAX)
}

fn check_batch(count: usize) -> Result<(), RequestError> {
    check_len("batch", count, BATCH_KEYS_MAX)
}

fn check_len(what: &'static str, len: usize, max: u64) -> Result<(), RequestError> {
    let bytes = len as u64;
    if bytes > max {
        return Err(RequestError::TooLarge { what, bytes, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_compact_and_exact() {
        let request = Request::tagged(
            7,
            1,
            Command::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            },
        );
        // Some(tag) = 1, client 7, seq 1, variant Put = 2, key len 1, 'k', value len 1, 'v'.
        assert_eq!(request.encode(), vec![1, 7, 1, 2, 1, b'k', 1, b'v']);
        assert_eq!(Request::decode(&request.encode()), Ok(request));
    }

    #[test]
    fn decode_refuses_garbage_and_trailing_bytes() {
        assert!(matches!(
            Request::decode(&[]),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            Request::decode(&[0, 200]),
            Err(RequestError::Malformed(_))
        ));
        let mut bytes = Request::untagged(Command::Get { key: vec![1] }).encode();
        bytes.push(0);
        assert_eq!(Request::decode(&bytes), Err(RequestError::TrailingBytes(1)));
    }

    #[test]
    fn validate_enforces_limits() {
        let big_key = vec![0; KEY_BYTES_MAX as usize + 1];
        assert_eq!(
            Command::Get { key: big_key }.validate(),
            Err(RequestError::TooLarge {
                what: "key",
                bytes: KEY_BYTES_MAX + 1,
                max: KEY_BYTES_MAX
            })
        );
        let many = vec![vec![1]; BATCH_KEYS_MAX as usize + 1];
        assert!(Command::DeleteMany { keys: many }.validate().is_err());
        assert_eq!(
            Command::Increment {
                key: b"n".to_vec(),
                by: -3
            }
            .validate(),
            Ok(())
        );
    }

    #[test]
    fn keys_lists_every_key() {
        let command = Command::PutMany {
            pairs: vec![(b"a".to_vec(), vec![]), (b"b".to_vec(), vec![])],
        };
        assert_eq!(command.keys(), vec![b"a".as_slice(), b"b".as_slice()]);
        assert!(Command::GetMany { keys: vec![] }.is_read());
        assert!(!command.is_read());
    }
}
