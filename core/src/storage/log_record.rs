//! What the write-ahead log holds: a sequence of operations on the entry log, each encoded
//! with postcard and framed as one record.
//!
//! Replaying the operations in order rebuilds the log. An entry at index `i` discards every
//! entry at `i` or above before it is added, exactly as Raft overwrites a conflicting suffix,
//! so a log that only ever appends still expresses overwrites. A truncation without a
//! following append needs its own record.
//!
//! A store may also keep the hard state (term, vote, commit) in the log, as a record that
//! replaces the previous one: then a vote costs one fdatasync of the log, which the Ready's
//! entries share, instead of a file replaced atomically (three syncs). Recovery takes the
//! last such record over the hard-state file.
//!
//! Compatibility: variants are only ever added at the end of [`LogRecord`], never reordered
//! or changed, because postcard identifies a variant by its position.

use super::error::{decode_exact, encode, DecodeError};
use super::record::append_record;
use crate::raft::message::{Entry, HardState};
use crate::types::Index;
use serde::{Deserialize, Serialize};

/// One operation of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogRecord {
    /// Adds an entry, first discarding every entry at its index or above.
    Entry(Entry),
    /// Discards every entry at index `from` or above.
    Truncate { from: Index },
    /// Replaces the hard state.
    HardState(HardState),
}

/// A borrowed [`LogRecord`], so that writing an entry does not clone it. Serde writes a
/// reference exactly like the value, so both have the same encoding.
#[derive(Clone, Copy, Debug, Serialize)]
pub enum LogRecordRef<'a> {
    /// See [`LogRecord::Entry`].
    Entry(&'a Entry),
    /// See [`LogRecord::Truncate`].
    Truncate { from: Index },
    /// See [`LogRecord::HardState`].
    HardState(&'a HardState),
}

impl LogRecord {
    /// Decodes a record payload (the framing already checked). Never panics.
    pub fn decode(payload: &[u8]) -> Result<LogRecord, DecodeError> {
        decode_exact("log record", payload)
    }
}

impl LogRecordRef<'_> {
    /// The postcard payload of this operation, without framing.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Appends this operation to `buffer` as one framed record.
    pub fn append_to(&self, buffer: &mut Vec<u8>) {
        append_record(buffer, &self.encode());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::Payload;
    use crate::types::Term;

    #[test]
    fn borrowed_and_owned_encodings_agree() {
        let entry = Entry {
            index: Index(3),
            term: Term(2),
            payload: Payload::Command(vec![7]),
        };
        let bytes = LogRecordRef::Entry(&entry).encode();
        // Variant Entry = 0, index 3, term 2, payload Command = 1, length 1, byte 7.
        assert_eq!(bytes, vec![0, 3, 2, 1, 1, 7]);
        assert_eq!(LogRecord::decode(&bytes), Ok(LogRecord::Entry(entry)));
        let truncate = LogRecordRef::Truncate { from: Index(9) }.encode();
        assert_eq!(truncate, vec![1, 9]);
        assert_eq!(
            LogRecord::decode(&truncate),
            Ok(LogRecord::Truncate { from: Index(9) })
        );
        let hard_state = HardState {
            term: Term(5),
            vote: Some(crate::types::NodeId(2)),
            commit: Index(7),
        };
        let bytes = LogRecordRef::HardState(&hard_state).encode();
        // Variant HardState = 2, term 5, vote Some(2), commit 7.
        assert_eq!(bytes, vec![2, 5, 1, 2, 7]);
        assert_eq!(
            LogRecord::decode(&bytes),
            Ok(LogRecord::HardState(hard_state))
        );
    }

    #[test]
    fn decode_refuses_garbage() {
        assert!(matches!(
            LogRecord::decode(&[]),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            LogRecord::decode(&[5]),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            LogRecord::decode(&[1, 9, 0]),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }
}
