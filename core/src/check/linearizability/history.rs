//! The client history the checker reads: one record per operation, with its invocation and
//! completion times and what the client saw.

use serde::{Deserialize, Serialize};

/// What a client asked for, on one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvInput {
    Get,
    Put(Vec<u8>),
    Delete,
    /// Set to `new` (absent when `None`) if the value is `expected` (absent when `None`).
    CompareAndSet {
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
}

/// What the client was told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOutput {
    /// The value read by `Get`.
    Value(Option<Vec<u8>>),
    /// `Put` took effect.
    Ok,
    /// `Delete` took effect; whether a value was there.
    Deleted(bool),
    /// `CompareAndSet` took effect: whether it swapped, and the value after it (the new value
    /// on success, the value that did not match on failure).
    CasResult { ok: bool, current: Option<Vec<u8>> },
    /// The operation surely did not take effect.
    Failed,
    /// The client does not know whether the operation took effect (it timed out, or the
    /// server lost leadership before answering). It may take effect at any time after its
    /// invocation, even after the history ends.
    Unknown,
}

/// One client operation.
///
/// `invoke` and `complete` are logical times: any increasing counter of the events the client
/// history was built from (the simulator uses its event sequence number), so that two
/// different events never share a time. An operation that completed at `t` precedes every
/// operation invoked after `t`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub client: u64,
    pub key: Vec<u8>,
    pub input: KvInput,
    pub output: KvOutput,
    pub invoke: u64,
    /// `None` when the outcome is unknown or failed.
    pub complete: Option<u64>,
}

impl Operation {
    /// Whether the operation can take part in the search at all: failed operations and reads
    /// without an answer had no effect and saw nothing.
    pub(super) fn constrains(&self) -> bool {
        match self.output {
            KvOutput::Failed => false,
            KvOutput::Unknown => !matches!(self.input, KvInput::Get),
            _ => self.complete.is_some(),
        }
    }

    /// Whether the search must linearize this operation before its completion.
    pub(super) fn completed(&self) -> bool {
        !matches!(self.output, KvOutput::Unknown | KvOutput::Failed) && self.complete.is_some()
    }
}
