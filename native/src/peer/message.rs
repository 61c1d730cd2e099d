//! The messages on a peer connection.

use crate::resp::Reply;
use flotilla_core::live::protocol::{AdminAction, AdminResult};
use flotilla_core::raft::Envelope;
use flotilla_core::NodeId;
use serde::{Deserialize, Serialize};

/// One frame's content on a peer connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMessage {
    /// The first frame on a dialled connection: who is calling, and where it listens for
    /// peers. A node that does not know the caller yet (a learner that has not received
    /// the configuration) dials back to `address`, so its answers can reach the leader.
    /// `http` is the caller's HTTP/WebSocket address, which pages learn from any node.
    Hello {
        from: NodeId,
        address: String,
        http: Option<String>,
    },
    /// A Raft message.
    Raft(Envelope),
    /// A client command that a follower received and forwards to the leader. The leader
    /// runs it as it would a local client's and answers with `ForwardReply` carrying `id`.
    Forward {
        from: NodeId,
        id: u64,
        args: Vec<Vec<u8>>,
    },
    /// The leader's answer to `Forward { id, .. }`.
    ForwardReply { id: u64, reply: Reply },
    /// A fault or snapshot action for the receiving node, passed on by the node a page
    /// asked (`Cut`, `Isolate`, `Heal`, `Snapshot`). It is control traffic: the faults it
    /// sets do not drop it, so a cut can always be healed from any node.
    Admin {
        from: NodeId,
        id: u64,
        action: AdminAction,
    },
    /// The answer to `Admin { id, .. }`.
    AdminReply { id: u64, result: AdminResult },
}

/// A `PeerMessage::Raft` that borrows its envelope: it encodes to the same bytes without
/// the copy of every entry that building a `PeerMessage` would cost (the driver sends each
/// of a Ready's envelopes exactly once, straight from the Ready).
#[derive(Clone, Copy, Debug)]
pub struct RaftRef<'a>(pub &'a Envelope);

/// `PeerMessage::Raft`'s position among the variants: serde's externally tagged encoding
/// (postcard writes it as a varint) names the variant by it.
const RAFT_VARIANT_INDEX: u32 = 1;

impl Serialize for RaftRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_variant("PeerMessage", RAFT_VARIANT_INDEX, "Raft", self.0)
    }
}
