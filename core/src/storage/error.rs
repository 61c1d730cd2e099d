//! The errors of the storage layer: decoding errors for each format, and what a [`Storage`]
//! implementation reports to its driver.
//!
//! [`Storage`]: super::Storage

use super::record::RecordError;
use crate::types::Index;
use thiserror::Error;

/// Why bytes could not be decoded as one of the storage formats. `what` names the format
/// ("hard state", "snapshot", "log record").
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The record framing around the payload is bad.
    #[error("{what}: {error}")]
    Record {
        what: &'static str,
        error: RecordError,
    },
    /// The bytes do not start with the format's magic.
    #[error("{what}: bad magic")]
    BadMagic { what: &'static str },
    /// Written by a version of Flotilla this one does not read.
    #[error("{what}: unsupported version {version}")]
    UnsupportedVersion { what: &'static str, version: u32 },
    /// The bytes end before a field the format announces.
    #[error("{what}: truncated: {needed} bytes needed, {available} available")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    /// A length field exceeds its limit.
    #[error("{what}: {bytes} bytes exceeds the limit of {max}")]
    TooLarge {
        what: &'static str,
        bytes: u64,
        max: u64,
    },
    /// The checksum does not match.
    #[error("{what}: checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        what: &'static str,
        stored: u32,
        computed: u32,
    },
    /// Bytes left over after a complete value.
    #[error("{what}: {count} trailing bytes")]
    TrailingBytes { what: &'static str, count: u64 },
    /// The payload is not valid postcard for the type.
    #[error("{what}: malformed: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// What a [`Storage`](super::Storage) call can fail with.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StorageError {
    /// The log is damaged before its end (see `ScanStop::Corrupt`), or its records decode
    /// to an impossible log (a gap). The node must not start: data it acknowledged may be
    /// gone, and only an operator can decide what to do.
    #[error("the log is corrupt at byte {offset}: {reason}")]
    CorruptLog { offset: u64, reason: String },
    /// The hard state or snapshot file does not decode.
    #[error("corrupt {file}: {error}")]
    CorruptFile {
        file: &'static str,
        error: DecodeError,
    },
    /// `append` was given entries that would leave a hole: the first is past the last
    /// index + 1.
    #[error("append would leave a gap: the next index is {expected}, got {found}")]
    Gap { expected: Index, found: Index },
    /// `append` was given entries whose indexes do not follow each other.
    #[error("entries to append are not contiguous at index {0}")]
    NotContiguous(Index),
    /// An entry or snapshot index of 0 or `u64::MAX`.
    #[error("index {0} is out of range")]
    IndexOutOfRange(Index),
    /// The store crashed or restarted and `load` has not been called since.
    #[error("the store must be loaded before it is used")]
    NotLoaded,
    /// An operating-system error (file stores only).
    #[error("I/O error: {0}")]
    Io(String),
}

impl StorageError {
    /// Whether durable data is damaged (as opposed to a caller or I/O error).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            StorageError::CorruptLog { .. } | StorageError::CorruptFile { .. }
        )
    }
}

/// Decodes one postcard value that must fill `bytes` exactly.
pub(crate) fn decode_exact<'a, T: serde::Deserialize<'a>>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<T, DecodeError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|error| DecodeError::Malformed {
            what,
            reason: error.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what,
            count: rest.len() as u64,
        });
    }
    Ok(value)
}

/// Encodes plain data with postcard. Serializing owned data into a growable `Vec` has no
/// failure case in postcard, so this cannot fail.
pub(crate) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard encodes plain data into a Vec")
}
