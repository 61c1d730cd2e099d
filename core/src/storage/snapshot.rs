//! The snapshot file: a Raft snapshot (metadata and state-machine bytes) with a checksum.
//!
//! ```text
//! "FLSNAP" | version: u32 LE | meta_len: u32 LE | meta: postcard(SnapshotMeta)
//!          | data_len: u64 LE | data | crc: u32 LE = CRC32C(every byte before it)
//! ```
//!
//! Lengths come first so that a reader knows where each part ends before reading it, and
//! each is checked against what the buffer holds before it is used, so a garbled length of
//! 4 GB allocates nothing. The checksum is at the end because a snapshot is written in one
//! pass (and, by a file store, renamed into place once complete); it covers the header too.

use super::error::{decode_exact, encode, DecodeError};
use super::record::CRC32C;
use crate::raft::message::{Snapshot, SnapshotMeta};

/// The first bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 6] = *b"FLSNAP";
/// The layout version written by [`encode_snapshot`].
pub const SNAPSHOT_VERSION: u32 = 1;
/// Largest encoded metadata (mostly the membership with its addresses), in bytes.
pub const SNAPSHOT_META_BYTES_MAX: u64 = 1024 * 1024;
/// Largest state-machine data in one snapshot, in bytes.
pub const SNAPSHOT_DATA_BYTES_MAX: u64 = 1024 * 1024 * 1024;

const WHAT: &str = "snapshot";
const CRC_BYTES: usize = 4;

/// The bytes of a snapshot file.
///
/// # Panics
/// If the metadata or the data exceed their limits: the state machine bounds its size.
pub fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let meta = encode(&snapshot.meta);
    let meta_bytes = meta.len() as u64;
    let data_bytes = snapshot.data.len() as u64;
    assert!(
        meta_bytes <= SNAPSHOT_META_BYTES_MAX,
        "snapshot meta of {meta_bytes} bytes"
    );
    assert!(
        data_bytes <= SNAPSHOT_DATA_BYTES_MAX,
        "snapshot data of {data_bytes} bytes"
    );
    let mut bytes = Vec::with_capacity(6 + 4 + 4 + meta.len() + 8 + snapshot.data.len() + 4);
    bytes.extend_from_slice(&SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(meta_bytes as u32).to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&data_bytes.to_le_bytes());
    bytes.extend_from_slice(&snapshot.data);
    let crc = CRC32C.checksum(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// Reads a snapshot file. Never panics; allocates only the data it returns.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, DecodeError> {
    let mut reader = Reader { bytes, offset: 0 };
    if reader.take(SNAPSHOT_MAGIC.len() as u64)? != SNAPSHOT_MAGIC {
        return Err(DecodeError::BadMagic { what: WHAT });
    }
    let version = reader.u32()?;
    if version != SNAPSHOT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            what: WHAT,
            version,
        });
    }
    let Some(body_bytes) = bytes.len().checked_sub(CRC_BYTES) else {
        return Err(reader.truncated(CRC_BYTES as u64));
    };
    let (body, crc) = bytes.split_at(body_bytes);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = CRC32C.checksum(body);
    if stored != computed {
        return Err(DecodeError::ChecksumMismatch {
            what: WHAT,
            stored,
            computed,
        });
    }
    let mut reader = Reader {
        bytes: body,
        offset: reader.offset,
    };
    let meta_bytes = u64::from(reader.u32()?);
    let meta_bytes = reader.length(meta_bytes, SNAPSHOT_META_BYTES_MAX)?;
    let meta: SnapshotMeta = decode_exact("snapshot meta", reader.take(meta_bytes)?)?;
    let data_bytes = reader.u64()?;
    let data_bytes = reader.length(data_bytes, SNAPSHOT_DATA_BYTES_MAX)?;
    let data = reader.take(data_bytes)?.to_vec();
    let count = reader.remaining();
    if count != 0 {
        return Err(DecodeError::TrailingBytes { what: WHAT, count });
    }
    Ok(Snapshot { meta, data })
}

/// A cursor that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.offset) as u64
    }

    fn truncated(&self, needed: u64) -> DecodeError {
        DecodeError::Truncated {
            what: WHAT,
            needed,
            available: self.remaining(),
        }
    }

    fn take(&mut self, count: u64) -> Result<&'a [u8], DecodeError> {
        if count > self.remaining() {
            return Err(self.truncated(count));
        }
        // count <= remaining, which is a usize.
        let end = self.offset + count as usize;
        let taken = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(taken)
    }

    /// Checks a length field against its limit and against the bytes left.
    fn length(&self, bytes: u64, max: u64) -> Result<u64, DecodeError> {
        if bytes > max {
            return Err(DecodeError::TooLarge {
                what: WHAT,
                bytes,
                max,
            });
        }
        if bytes > self.remaining() {
            return Err(self.truncated(bytes));
        }
        Ok(bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::{Member, MemberRole, Membership};
    use crate::types::{Index, NodeId, Term};

    fn sample() -> Snapshot {
        let mut membership = Membership::default();
        let member = Member {
            role: MemberRole::Voter,
            address: "a".into(),
        };
        membership.members.insert(NodeId(1), member);
        Snapshot {
            meta: SnapshotMeta {
                index: Index(7),
                term: Term(3),
                membership,
            },
            data: b"kv".to_vec(),
        }
    }

    #[test]
    fn layout_is_exact() {
        let bytes = encode_snapshot(&sample());
        let mut expected = b"FLSNAP\x01\x00\x00\x00".to_vec();
        // meta: index 7, term 3, one member: id 1, Voter = 0, address "a".
        expected.extend_from_slice(&[7, 0, 0, 0, 7, 3, 1, 1, 0, 1, b'a']);
        expected.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, b'k', b'v']);
        let crc = CRC32C.checksum(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(decode_snapshot(&bytes), Ok(sample()));
    }

    #[test]
    fn refuses_damage_without_panicking() {
        let bytes = encode_snapshot(&sample());
        for cut in 0..bytes.len() {
            assert!(decode_snapshot(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(decode_snapshot(&flipped).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn huge_lengths_are_refused_not_allocated() {
        let mut bytes = b"FLSNAP\x01\x00\x00\x00\x00\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        let crc = CRC32C.checksum(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        // Meta length 0 does not decode as SnapshotMeta.
        assert!(matches!(
            decode_snapshot(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
        let meta = encode(&SnapshotMeta::default());
        let mut bytes = b"FLSNAP\x01\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        let crc = CRC32C.checksum(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode_snapshot(&bytes),
            Err(DecodeError::TooLarge {
                what: WHAT,
                bytes: u64::MAX,
                max: SNAPSHOT_DATA_BYTES_MAX
            })
        );
    }
}
