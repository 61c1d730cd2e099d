//! Framing on peer connections: a 4-byte big-endian length, then that many bytes of a
//! postcard-encoded [`PeerMessage`].
//!
//! The design started with JSON; the profile in docs/benchmarks.md (#5a) showed serde_json
//! spending 17% of the leader's CPU writing every byte of every key, value and entry as a
//! decimal array element. postcard (already the core's storage encoding) writes a byte as a
//! byte, with varint lengths. A frame over [`FRAME_BYTES_MAX`] is refused before it is
//! buffered, so a confused or hostile peer cannot make the node allocate without bound;
//! postcard itself never preallocates more than the bytes present justify.

use super::PeerMessage;
use serde::Serialize;

/// Largest frame body, in bytes. It must fit an append of `append_bytes_max` (1 MiB by
/// default) or a snapshot chunk, with room to spare for their framing.
pub const FRAME_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Bytes of the length prefix.
const LENGTH_BYTES: usize = 4;

/// Why a peer's bytes could not be decoded; the connection is dropped.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {FRAME_BYTES_MAX}-byte limit")]
    TooLarge(usize),
    #[error("undecodable frame: {0}")]
    Decode(#[from] postcard::Error),
}

/// Appends the framed encoding of `message` to `out`.
pub fn encode<M: Serialize + ?Sized>(message: &M, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_BYTES]);
    // Serializing plain data into a Vec cannot fail: postcard only fails on a full buffer
    // or on types it cannot represent, and every peer message is plain data.
    let buffer = std::mem::take(out);
    *out = postcard::to_extend(message, buffer).expect("peer messages serialize with postcard");
    let len = (out.len() - start - LENGTH_BYTES) as u32;
    out[start..start + LENGTH_BYTES].copy_from_slice(&len.to_be_bytes());
}

/// Decodes the first frame of `buf`: the message and the bytes it used, or `Ok(None)` when
/// the frame is not complete yet.
pub fn decode(buf: &[u8]) -> Result<Option<(PeerMessage, usize)>, FrameError> {
    let Some(prefix) = buf.get(..LENGTH_BYTES) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(len));
    }
    let Some(body) = buf.get(LENGTH_BYTES..LENGTH_BYTES + len) else {
        return Ok(None);
    };
    Ok(Some((postcard::from_bytes(body)?, LENGTH_BYTES + len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Reply;
    use flotilla_core::NodeId;

    #[test]
    fn round_trips_in_any_split() {
        let mut wire = Vec::new();
        encode(
            &PeerMessage::Hello {
                from: NodeId(2),
                address: "a".into(),
                http: Some("127.0.0.1:8080".into()),
            },
            &mut wire,
        );
        let reply = Reply::bulk("v");
        encode(
            &PeerMessage::ForwardReply {
                id: 9,
                reply: reply.clone(),
            },
            &mut wire,
        );
        let (first, used) = decode(&wire).unwrap().unwrap();
        assert_eq!(
            first,
            PeerMessage::Hello {
                from: NodeId(2),
                address: "a".into(),
                http: Some("127.0.0.1:8080".into())
            }
        );
        let (second, rest) = decode(&wire[used..]).unwrap().unwrap();
        assert_eq!(second, PeerMessage::ForwardReply { id: 9, reply });
        assert_eq!(used + rest, wire.len());
        for cut in 0..used {
            assert!(decode(&wire[..cut]).unwrap().is_none());
        }
    }

    #[test]
    fn a_borrowed_raft_message_encodes_like_an_owned_one() {
        use crate::peer::RaftRef;
        use flotilla_core::raft::{Entry, Envelope, Message, Payload};
        use flotilla_core::{Index, Term};
        let envelope = Envelope {
            from: NodeId(1),
            to: NodeId(2),
            term: Term(3),
            message: Message::Append {
                prev_index: Index(4),
                prev_term: Term(3),
                entries: vec![Entry {
                    index: Index(5),
                    term: Term(3),
                    payload: Payload::Command(b"SET k v".to_vec()),
                }],
                commit: Index(4),
            },
        };
        let (mut owned, mut borrowed) = (Vec::new(), Vec::new());
        encode(&PeerMessage::Raft(envelope.clone()), &mut owned);
        encode(&RaftRef(&envelope), &mut borrowed);
        assert_eq!(owned, borrowed);
        let (decoded, _) = decode(&borrowed).unwrap().unwrap();
        assert_eq!(decoded, PeerMessage::Raft(envelope));
    }

    #[test]
    fn refuses_oversized_and_garbage_frames() {
        let huge = ((FRAME_BYTES_MAX + 1) as u32).to_be_bytes();
        assert!(matches!(decode(&huge), Err(FrameError::TooLarge(_))));
        let mut garbage = 3u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert!(matches!(decode(&garbage), Err(FrameError::Decode(_))));
    }
}
