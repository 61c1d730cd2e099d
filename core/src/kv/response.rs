//! What the state machine answers. Responses are data (serde), so that a driver can send them
//! to a client over any wire, and so that the session table can keep them in a snapshot.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The answer to one [`Command`](super::Command).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The value of one key (`Get`), `None` when absent.
    Value(Option<Vec<u8>>),
    /// The values of several keys (`GetMany`), in the order they were asked for.
    Values(Vec<Option<Vec<u8>>>),
    /// A write that always succeeds (`Put`, `PutMany`).
    Ok,
    /// Whether `Delete` removed a key.
    Deleted(bool),
    /// How many of the keys of `DeleteMany` existed.
    Count(u64),
    /// The result of `CompareAndSet`: whether it swapped, and the value the key holds now
    /// (the new value on success, the value that did not match on failure).
    CasResult { ok: bool, current: Option<Vec<u8>> },
    /// The new value of an `Increment`.
    Integer(i64),
    /// The command was refused; the map is unchanged.
    Error(CommandError),
}

/// Why a command was refused. The texts follow Redis's, so that a RESP driver can send them
/// as they are after "ERR ".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum CommandError {
    /// `Increment` found a value that is not the canonical decimal text of an `i64`.
    #[error("value is not an integer or out of range")]
    NotAnInteger,
    /// `Increment` would leave the `i64` range.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// A tagged request older than the latest one applied for its client: its response is
    /// no longer kept, and applying it now could undo a later write.
    #[error(
        "stale request: client {client_id} seq {seq} is older than its last applied seq {last_seq}"
    )]
    StaleRequest {
        client_id: u64,
        seq: u64,
        last_seq: u64,
    },
    /// The bytes of a log entry were not a request (a driver or version bug: every replica
    /// answers the same way, so the state machines stay identical).
    #[error("malformed request: {0}")]
    Malformed(String),
}
