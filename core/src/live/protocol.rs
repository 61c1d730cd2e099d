//! The WebSocket protocol between a page and a node, version [`PROTOCOL_VERSION`].
//!
//! Every frame is one JSON object with a `"type"` field naming its variant (snake_case).
//! The page sends [`PageMessage`]s, the node sends [`NodeMessage`]s. The node speaks first,
//! with [`NodeMessage::Welcome`]; a page that does not know the welcome's `protocol` number
//! should close the socket and say so. New optional fields may appear within a version;
//! anything else bumps it.
//!
//! Numbers that are persisted or cross the wire are fixed-size (`u32`, `u64`), so the wasm
//! page (32-bit) and the native node read them the same way.

use crate::raft::{Envelope, RoleKind};
use crate::types::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The protocol's version; the node announces it in [`NodeMessage::Welcome`].
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame either side accepts, in bytes (a browser peer's InstallSnapshot chunk
/// encoded as JSON fits with room to spare).
pub const FRAME_BYTES_MAX: u32 = 1024 * 1024;

/// Most message summaries a node streams to one page per second; past it, summaries are
/// counted in [`NodeMessage::Messages::omitted`] instead of sent.
pub const MESSAGE_SUMMARIES_PER_SEC_MAX: u32 = 400;

/// How many of the log's last entries a status describes (see [`LogTail`]).
pub const LOG_TAIL_ENTRIES_MAX: u32 = 64;

/// What a page sends to a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PageMessage {
    /// Choose what the node streams. Until the first `subscribe`, a node sends its status
    /// and events but no message summaries.
    Subscribe {
        /// Stream summaries of the Raft messages this node sends and receives.
        messages: bool,
    },
    /// Present the cluster token after connecting (the alternative to `/ws?token=...`).
    /// Answered with a fresh [`NodeMessage::Welcome`] whose `authed` says whether it worked.
    Auth { token: String },
    /// A key-value request, run as a client of the cluster (forwarded to the leader).
    Kv { id: u64, op: KvOp },
    /// Any RESP command, as `redis-cli` would send it; the reply is rendered as text.
    Command { id: u64, args: Vec<String> },
    /// A fault or administrative action (needs the token).
    Admin { id: u64, action: AdminAction },
    /// Ask to join the cluster as a learner hosted in this page (needs the token). The node
    /// picks a free id, adds the learner through the leader, and relays its Raft traffic.
    PeerJoin { id: u64 },
    /// Remove this page's peer from the cluster (closing the socket does the same).
    PeerLeave { id: u64 },
    /// A Raft message from this page's peer (`from` must be the id the node gave it).
    Raft { envelope: Envelope },
}

/// A key-value operation from the page. Keys and values are UTF-8 text in the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvOp {
    Get { key: String },
    Put { key: String, value: String },
    Delete { key: String },
}

/// The outcome of a [`KvOp`]. The page's linearizability check needs to know which failures
/// are definite (the operation certainly did not take effect) and which are not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvOutcome {
    /// It took effect; `value` is what a get read (None: no such key) and None for writes.
    Ok { value: Option<String> },
    /// It certainly did not take effect (no leader known, request refused before proposing).
    Failed { message: String },
    /// It may or may not have taken effect (leadership lost, timed out after proposing).
    Unknown { message: String },
}

/// A fault or administrative action. `node` names the node to act on; the node the page is
/// connected to acts itself or passes the action on (to the leader for membership changes,
/// to `node` for faults on it, to the supervising `flotilla cluster` for crash, restart,
/// pause and resume).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// `node` drops every message to and from each of `peers` (replacing its previous set).
    Cut {
        node: NodeId,
        peers: Vec<NodeId>,
    },
    /// `node` drops every message to and from every other member.
    Isolate {
        node: NodeId,
    },
    /// `node` stops dropping messages.
    Heal {
        node: NodeId,
    },
    /// Stop the process (SIGSTOP) until `resume`.
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// Kill the process (SIGKILL): what was not fsynced is lost, as in a power cut.
    Crash {
        node: NodeId,
    },
    /// Start a crashed node again from its data folder.
    Restart {
        node: NodeId,
    },
    /// Ask the leader to hand leadership to `to`.
    Transfer {
        to: NodeId,
    },
    /// Take a snapshot on `node` now (and compact its log).
    Snapshot {
        node: NodeId,
    },
    /// Add a learner that listens for peers at `address`.
    AddLearner {
        id: NodeId,
        address: String,
    },
    /// Make a caught-up learner a voter.
    Promote {
        id: NodeId,
    },
    /// Remove a member (voter or learner).
    Remove {
        id: NodeId,
    },
}

/// What a node sends to a page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeMessage {
    /// The first frame on every socket (and the answer to `auth`).
    Welcome {
        protocol: u32,
        /// The flotilla version of the node.
        version: String,
        node: NodeId,
        /// Whether this socket presented the cluster token (admin actions and peer joins).
        authed: bool,
        /// Every member this node knows of, with where to reach it; the page opens a socket
        /// to each `http` address to watch the whole cluster.
        members: Vec<MemberAddress>,
    },
    /// The node's state now; sent on connect, on every change of role, term, leader or
    /// membership, and at least every few hundred milliseconds.
    Status {
        status: NodeStatusView,
    },
    /// Something happened on the node.
    Event {
        event: LiveEvent,
    },
    /// Summaries of Raft messages this node sent or received since the last batch.
    Messages {
        messages: Vec<MessageSummary>,
        /// Summaries left out by the rate limit since the last batch.
        omitted: u32,
    },
    /// This socket fell behind and missed `missed` events or statuses.
    Lagged {
        missed: u64,
    },
    KvReply {
        id: u64,
        outcome: KvOutcome,
    },
    /// The RESP reply rendered as redis-cli shows it.
    CommandReply {
        id: u64,
        reply: String,
    },
    AdminReply {
        id: u64,
        result: AdminResult,
    },
    /// The page's peer was added as a learner with id `peer`; Raft messages for it follow as
    /// [`NodeMessage::Raft`].
    PeerJoined {
        id: u64,
        peer: NodeId,
    },
    /// The page's peer is no longer a member (after `peer_leave`, or removed by an admin).
    PeerLeft {
        peer: NodeId,
        reason: String,
    },
    /// A Raft message for the page's peer.
    Raft {
        envelope: Envelope,
    },
    /// A request that could not be understood or carried out (`id` when it had one).
    Error {
        id: Option<u64>,
        message: String,
    },
}

/// An admin action's result: `Ok` with a short description, or the reason it was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminResult {
    Ok { message: String },
    Refused { message: String },
}

/// Where a member can be reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAddress {
    pub id: NodeId,
    /// Its Raft peer address (`host:port`).
    pub peer: String,
    /// Its HTTP/WebSocket address (`host:port`), when known (None for a browser peer or a
    /// node that has not said hello yet).
    pub http: Option<String>,
    pub voter: bool,
    /// Hosted in a page and relayed by the node with this id.
    pub relayed_by: Option<NodeId>,
}

/// A node's state as a page draws it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatusView {
    pub id: NodeId,
    pub role: RoleKind,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit: Index,
    pub applied: Index,
    /// The last index fsynced to this node's log.
    pub persisted: Index,
    pub first_index: Index,
    pub last_index: Index,
    pub snapshot_index: Index,
    /// The node's wall clock, ms since the Unix epoch, when the status was taken.
    pub unix_ms: u64,
    /// How far the election timer has run, 0..=1 (a leader: how far to its next heartbeat).
    pub timer_fraction: f32,
    pub keys: u64,
    pub log_tail: LogTail,
    /// What the leader knows of each follower's log (empty on followers).
    pub progress: BTreeMap<NodeId, PeerProgressView>,
    /// Peers this node currently drops all traffic to and from (a fault).
    pub cut: Vec<NodeId>,
    pub members: Vec<MemberAddress>,
}

/// The terms of the log's last entries (at most [`LOG_TAIL_ENTRIES_MAX`]), as runs:
/// `runs[i] = (first index of the run, term)`; the last run ends at `last_index`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTail {
    pub runs: Vec<(Index, Term)>,
}

/// The leader's view of one follower.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerProgressView {
    pub match_index: Index,
    pub next_index: Index,
    /// `probe`, `replicate` or `snapshot`.
    pub state: String,
    pub connected: bool,
}

/// Something that happened on a node, stamped with its wall clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub node: NodeId,
    pub unix_ms: u64,
    pub what: LiveEventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveEventKind {
    Role {
        role: RoleKind,
        term: Term,
    },
    Leader {
        leader: Option<NodeId>,
        term: Term,
    },
    /// Entries `from..=to` were appended to the log (and fsynced).
    Appended {
        from: Index,
        to: Index,
        term: Term,
    },
    Committed {
        index: Index,
    },
    SnapshotTaken {
        index: Index,
    },
    SnapshotInstalled {
        index: Index,
        term: Term,
    },
    Membership {
        members: Vec<MemberAddress>,
    },
    /// A fault was set or cleared on this node (`cut` is the new set of cut peers).
    Cut {
        peers: Vec<NodeId>,
    },
    /// A page's peer joined or left through this node.
    BrowserPeer {
        peer: NodeId,
        joined: bool,
    },
}

/// One Raft message as the page animates it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    pub from: NodeId,
    pub to: NodeId,
    /// `sent` by this node or `received` by it.
    pub sent: bool,
    pub unix_ms: u64,
    /// The message kind as the core names it (`append`, `append_response`, `vote`, ...).
    pub kind: String,
    pub term: Term,
    /// Entries carried (append) or acknowledged index (responses), when it has one.
    pub entries: u32,
    pub index: Option<Index>,
    /// Dropped by a fault instead of delivered.
    pub dropped: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_messages_are_tagged_snake_case_json() {
        let text = serde_json::to_string(&PageMessage::Kv {
            id: 7,
            op: KvOp::Put {
                key: "k".into(),
                value: "v".into(),
            },
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"type":"kv","id":7,"op":{"put":{"key":"k","value":"v"}}}"#
        );
        let back: PageMessage = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, PageMessage::Kv { id: 7, .. }));
    }

    #[test]
    fn admin_actions_read_from_the_documented_shape() {
        let text = r#"{"type":"admin","id":3,"action":{"cut":{"node":2,"peers":[1,3]}}}"#;
        let message: PageMessage = serde_json::from_str(text).unwrap();
        assert_eq!(
            message,
            PageMessage::Admin {
                id: 3,
                action: AdminAction::Cut {
                    node: NodeId(2),
                    peers: vec![NodeId(1), NodeId(3)]
                }
            }
        );
    }

    #[test]
    fn maps_keyed_by_node_id_survive_the_tagged_enums() {
        // JSON writes map keys as strings; serde reads an internally tagged enum through a
        // buffer, so this only works because `NodeId` also reads its decimal text.
        use crate::raft::{Member, MemberRole, Membership, Message, SnapshotMeta};
        let mut members = BTreeMap::new();
        members.insert(
            NodeId(2),
            Member {
                role: MemberRole::Voter,
                address: "127.0.0.1:7002".into(),
            },
        );
        let message = NodeMessage::Raft {
            envelope: Envelope {
                from: NodeId(1),
                to: NodeId(4),
                term: Term(3),
                message: Message::InstallSnapshot {
                    meta: SnapshotMeta {
                        index: Index(9),
                        term: Term(3),
                        membership: Membership { members },
                    },
                    offset: 0,
                    data: vec![1, 2],
                    done: true,
                },
            },
        };
        let text = serde_json::to_string(&message).unwrap();
        assert!(text.contains(r#""members":{"2":"#), "{text}");
        assert_eq!(serde_json::from_str::<NodeMessage>(&text).unwrap(), message);
        let mut progress = BTreeMap::new();
        progress.insert(
            NodeId(3),
            PeerProgressView {
                match_index: Index(5),
                next_index: Index(6),
                state: "replicate".into(),
                connected: true,
            },
        );
        let text =
            r#"{"type":"raft","envelope":{"from":"1","to":4,"term":1,"message":"TimeoutNow"}}"#;
        assert!(serde_json::from_str::<PageMessage>(text).is_ok());
        for bad in [r#""x""#, "-1", "1.5", "null"] {
            assert!(serde_json::from_str::<NodeId>(bad).is_err(), "{bad}");
        }
        let bytes = postcard::to_allocvec(&progress).unwrap();
        let back: BTreeMap<NodeId, PeerProgressView> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, progress);
    }

    #[test]
    fn unknown_types_are_errors_not_panics() {
        for text in [
            "{}",
            r#"{"type":"nope"}"#,
            "[1,2]",
            "\"x\"",
            r#"{"type":"kv"}"#,
        ] {
            assert!(serde_json::from_str::<PageMessage>(text).is_err(), "{text}");
        }
    }
}
