//! The state machine's snapshot, and the digest that checkers compare between replicas.
//!
//! Layout (postcard after a fixed header):
//!
//! ```text
//! "FLKV" | version: u32 LE | postcard { applied, data: [(key, value)] in key order,
//!                                       sessions: [Session] in client order }
//! ```
//!
//! The encoding is canonical: one state has exactly one encoding, because the map and the
//! sessions are written in order and `restore` refuses anything out of order. That is what
//! lets the digest be a checksum of the same bytes, streamed so that nothing is allocated.
//! The snapshot carries no checksum of its own: the storage layer's snapshot file and the
//! Raft transfer wrap it in theirs.

use super::session::{Session, SessionTable};
use super::KvStore;
use crate::types::Index;
use crc::{Crc, CRC_64_XZ};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The first bytes of every KV snapshot.
pub const KV_SNAPSHOT_MAGIC: [u8; 4] = *b"FLKV";
/// The version of the layout written by [`KvStore::snapshot`].
pub const KV_SNAPSHOT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 8;

/// CRC-64/XZ: a well-known 64-bit CRC. A digest only has to make two different states
/// collide with negligible probability, not resist an adversary, so a CRC is enough.
static DIGEST_CRC: Crc<u64> = Crc::<u64>::new(&CRC_64_XZ);

/// Why snapshot bytes could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KvSnapshotError {
    /// The bytes do not start with [`KV_SNAPSHOT_MAGIC`].
    #[error("not a KV snapshot (bad magic)")]
    BadMagic,
    /// Written by a newer (or unknown) version of Flotilla.
    #[error("unsupported KV snapshot version {0}")]
    UnsupportedVersion(u32),
    /// The body is not valid postcard for the layout.
    #[error("malformed KV snapshot: {0}")]
    Malformed(String),
    /// Well-formed, but breaks an invariant of the store.
    #[error("invalid KV snapshot: {0}")]
    Invalid(&'static str),
}

#[derive(Serialize)]
struct BodyOut<'a> {
    applied: Index,
    data: BytesMap<'a>,
    sessions: Vec<&'a Session>,
}

/// The data map with keys and values written as byte strings. Postcard writes a byte string
/// exactly like a sequence of `u8` (a length, then the bytes), so the layout is unchanged,
/// but serde hands a `Vec<u8>` over one byte at a time and a byte string in one copy: a
/// snapshot of 10,000 values of 256 bytes is encoded on the node's event loop.
struct BytesMap<'a>(&'a BTreeMap<Vec<u8>, Vec<u8>>);

impl Serialize for BytesMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde_bytes::Bytes;
        serializer.collect_map(
            self.0
                .iter()
                .map(|(key, value)| (Bytes::new(key), Bytes::new(value))),
        )
    }
}

/// The same layout as `BodyOut`: postcard writes a map exactly like a sequence of pairs,
/// and reading a sequence lets `restore` check the order instead of silently re-sorting.
#[derive(Deserialize)]
struct BodyIn {
    applied: Index,
    data: Vec<(Vec<u8>, Vec<u8>)>,
    sessions: Vec<Session>,
}

impl KvStore {
    /// The whole state (data, applied index, sessions) as bytes for a Raft snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_BYTES);
        bytes.extend_from_slice(&KV_SNAPSHOT_MAGIC);
        bytes.extend_from_slice(&KV_SNAPSHOT_VERSION.to_le_bytes());
        // Serializing plain data into a growable Vec has no failure case in postcard.
        postcard::to_extend(&self.body(), bytes).expect("postcard encodes a snapshot into a Vec")
    }

    /// Rebuilds a store from [`KvStore::snapshot`] bytes. Never panics on bad input.
    pub fn restore(bytes: &[u8]) -> Result<KvStore, KvSnapshotError> {
        let body = read_header(bytes)?;
        let (body, rest) = postcard::take_from_bytes::<BodyIn>(body)
            .map_err(|error| KvSnapshotError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(KvSnapshotError::Malformed(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        let data_sorted = body.data.windows(2).all(|pair| pair[0].0 < pair[1].0);
        if !data_sorted {
            return Err(KvSnapshotError::Invalid(
                "keys not in strictly increasing order",
            ));
        }
        let sessions_sorted = body
            .sessions
            .windows(2)
            .all(|pair| pair[0].client_id < pair[1].client_id);
        if !sessions_sorted {
            return Err(KvSnapshotError::Invalid("sessions not in client order"));
        }
        if body
            .sessions
            .iter()
            .any(|session| session.last_index > body.applied)
        {
            return Err(KvSnapshotError::Invalid(
                "session used after the applied index",
            ));
        }
        let sessions = SessionTable::from_sessions(body.sessions).ok_or(
            KvSnapshotError::Invalid("session table breaks its invariants"),
        )?;
        Ok(KvStore {
            data: body.data.into_iter().collect(),
            applied: body.applied,
            sessions,
        })
    }

    /// A 64-bit digest of the whole state (data, applied index, sessions): equal states have
    /// equal digests on every platform. Checkers compare it between replicas at the same
    /// applied index. It is the CRC-64 of the snapshot encoding, computed without building it.
    pub fn digest(&self) -> u64 {
        let mut digest = DigestWriter {
            digest: DIGEST_CRC.digest(),
        };
        digest.digest.update(&KV_SNAPSHOT_MAGIC);
        digest.digest.update(&KV_SNAPSHOT_VERSION.to_le_bytes());
        let digest =
            postcard::to_extend(&self.body(), digest).expect("postcard writes to a digest");
        digest.digest.finalize()
    }

    fn body(&self) -> BodyOut<'_> {
        BodyOut {
            applied: self.applied,
            data: BytesMap(&self.data),
            sessions: self.sessions.iter().collect(),
        }
    }
}

fn read_header(bytes: &[u8]) -> Result<&[u8], KvSnapshotError> {
    let Some((header, body)) = bytes.split_at_checked(HEADER_BYTES) else {
        return Err(KvSnapshotError::Malformed("shorter than the header".into()));
    };
    if header[..4] != KV_SNAPSHOT_MAGIC {
        return Err(KvSnapshotError::BadMagic);
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if version != KV_SNAPSHOT_VERSION {
        return Err(KvSnapshotError::UnsupportedVersion(version));
    }
    Ok(body)
}

/// Feeds postcard's output into a CRC instead of a buffer.
struct DigestWriter {
    digest: crc::Digest<'static, u64>,
}

impl Extend<u8> for DigestWriter {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        let mut chunk = [0u8; 64];
        let mut filled = 0;
        for byte in bytes {
            chunk[filled] = byte;
            filled += 1;
            if filled == chunk.len() {
                self.digest.update(&chunk);
                filled = 0;
            }
        }
        self.digest.update(&chunk[..filled]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Command, Request};

    #[test]
    fn byte_strings_encode_like_the_byte_sequences_they_replace() {
        // The layout written before keys and values were byte strings: plain `Vec<u8>`s.
        #[derive(Serialize)]
        struct Plain<'a> {
            applied: Index,
            data: &'a BTreeMap<Vec<u8>, Vec<u8>>,
            sessions: Vec<&'a Session>,
        }
        let mut kv = sample();
        kv.apply(
            Index(3),
            &Request::untagged(Command::Put {
                key: vec![0, 200, 7],
                value: vec![255; 300],
            }),
        );
        let body = kv.body();
        let plain = Plain {
            applied: body.applied,
            data: body.data.0,
            sessions: body.sessions.clone(),
        };
        assert_eq!(
            postcard::to_allocvec(&body).unwrap(),
            postcard::to_allocvec(&plain).unwrap()
        );
        assert_eq!(KvStore::restore(&kv.snapshot()).unwrap(), kv);
    }

    fn sample() -> KvStore {
        let mut kv = KvStore::new();
        kv.apply(
            Index(1),
            &Request::untagged(Command::Put {
                key: b"b".to_vec(),
                value: b"2".to_vec(),
            }),
        );
        kv.apply(
            Index(2),
            &Request::tagged(
                5,
                1,
                Command::Put {
                    key: b"a".to_vec(),
                    value: b"1".to_vec(),
                },
            ),
        );
        kv
    }

    #[test]
    fn snapshot_layout_is_exact() {
        let bytes = sample().snapshot();
        let mut expected = b"FLKV\x01\x00\x00\x00".to_vec();
        expected.extend_from_slice(&[2]); // applied
        expected.extend_from_slice(&[2, 1, b'a', 1, b'1', 1, b'b', 1, b'2']); // data
        expected.extend_from_slice(&[1, 5, 1, 2, 2]); // session: client 5, seq 1, Ok, index 2
        assert_eq!(bytes, expected);
    }

    #[test]
    fn restore_round_trips_and_keeps_digest() {
        let kv = sample();
        let restored = KvStore::restore(&kv.snapshot()).expect("restores");
        assert_eq!(restored, kv);
        assert_eq!(restored.digest(), kv.digest());
        assert_eq!(kv.digest(), DIGEST_CRC.checksum(&kv.snapshot()));
        assert_ne!(KvStore::new().digest(), kv.digest());
    }

    #[test]
    fn restore_refuses_bad_input() {
        assert_eq!(
            KvStore::restore(b"FLKX\x01\x00\x00\x00\x00\x00\x00"),
            Err(KvSnapshotError::BadMagic)
        );
        assert_eq!(
            KvStore::restore(b"FLKV\x02\x00\x00\x00"),
            Err(KvSnapshotError::UnsupportedVersion(2))
        );
        assert!(matches!(
            KvStore::restore(b"FLKV"),
            Err(KvSnapshotError::Malformed(_))
        ));
        // Keys out of order: "b" then "a".
        let unsorted = b"FLKV\x01\x00\x00\x00\x00\x02\x01b\x00\x01a\x00\x00";
        assert_eq!(
            KvStore::restore(unsorted),
            Err(KvSnapshotError::Invalid(
                "keys not in strictly increasing order"
            ))
        );
        let mut trailing = sample().snapshot();
        trailing.push(0);
        assert!(matches!(
            KvStore::restore(&trailing),
            Err(KvSnapshotError::Malformed(_))
        ));
    }
}
