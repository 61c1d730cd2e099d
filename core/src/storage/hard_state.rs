//! The hard state file: term, vote and commit index, as one record.
//!
//! ```text
//! record( "FLHS" | version: u32 LE | postcard(HardState) )
//! ```
//!
//! The file is replaced as a whole (a file store writes a temporary file, syncs it and
//! renames it over the old one), so it is never torn in place; the record's checksum catches
//! the rest. The magic tells a hard state file from any other file put in its place.

use super::error::{decode_exact, encode, DecodeError};
use super::record::{decode_record, encode_record};
use crate::raft::message::HardState;

/// The first payload bytes of a hard state record.
pub const HARD_STATE_MAGIC: [u8; 4] = *b"FLHS";
/// The layout version written by [`encode_hard_state`].
pub const HARD_STATE_VERSION: u32 = 1;
const WHAT: &str = "hard state";

/// The bytes of a hard state file.
pub fn encode_hard_state(hard_state: &HardState) -> Vec<u8> {
    let mut payload = HARD_STATE_MAGIC.to_vec();
    payload.extend_from_slice(&HARD_STATE_VERSION.to_le_bytes());
    payload.extend(encode(hard_state));
    encode_record(&payload)
}

/// Reads a hard state file. The bytes must be exactly one record. Never panics.
pub fn decode_hard_state(bytes: &[u8]) -> Result<HardState, DecodeError> {
    let (payload, consumed) =
        decode_record(bytes).map_err(|error| DecodeError::Record { what: WHAT, error })?;
    if consumed != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            what: WHAT,
            count: (bytes.len() - consumed) as u64,
        });
    }
    let Some((header, body)) = payload.split_first_chunk::<8>() else {
        return Err(DecodeError::Truncated {
            what: WHAT,
            needed: 8,
            available: payload.len() as u64,
        });
    };
    if header[..4] != HARD_STATE_MAGIC {
        return Err(DecodeError::BadMagic { what: WHAT });
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if version != HARD_STATE_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            what: WHAT,
            version,
        });
    }
    decode_exact(WHAT, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::record::RecordError;
    use crate::types::{Index, NodeId, Term};

    #[test]
    fn round_trip_with_exact_payload() {
        let hard_state = HardState {
            term: Term(5),
            vote: Some(NodeId(2)),
            commit: Index(300),
        };
        let bytes = encode_hard_state(&hard_state);
        // Header 8, magic 4, version 4, term 5, Some, node 2, commit 300 as varint (2 bytes).
        assert_eq!(&bytes[8..], b"FLHS\x01\x00\x00\x00\x05\x01\x02\xac\x02");
        assert_eq!(decode_hard_state(&bytes), Ok(hard_state));
    }

    #[test]
    fn refuses_damage() {
        let bytes = encode_hard_state(&HardState::default());
        let mut flipped = bytes.clone();
        flipped[10] ^= 1;
        assert!(matches!(
            decode_hard_state(&flipped),
            Err(DecodeError::Record {
                error: RecordError::ChecksumMismatch { .. },
                ..
            })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            decode_hard_state(&longer),
            Err(DecodeError::TrailingBytes {
                what: WHAT,
                count: 1
            })
        );
        assert!(decode_hard_state(&bytes[..bytes.len() - 1]).is_err());
        let mut other_version = b"FLHS\x02\x00\x00\x00".to_vec();
        other_version.extend([0, 0, 0]);
        assert_eq!(
            decode_hard_state(&encode_record(&other_version)),
            Err(DecodeError::UnsupportedVersion {
                what: WHAT,
                version: 2
            })
        );
        assert_eq!(
            decode_hard_state(&encode_record(b"FLXX\x01\x00\x00\x00\x00\x00\x00")),
            Err(DecodeError::BadMagic { what: WHAT })
        );
    }
}
