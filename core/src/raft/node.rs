//! The Raft node: its state, its public inputs, and the Ready/advance hand-off.
//!
//! The protocol's handlers live next door, one concern per file: `election.rs` (timeouts,
//! pre-votes, votes), `replication.rs` (appends, heartbeats, commit), `snapshot_transfer.rs`
//! (InstallSnapshot), `read_index.rs` (linearizable reads) and `step.rs` (validating and
//! dispatching incoming messages).

use super::config::Config;
use super::log::RaftLog;
use super::membership::MembershipError;
use super::message::{
    ConfChange, Entry, Envelope, HardState, Membership, Message, Payload, Snapshot, SnapshotMeta,
};
use super::progress::Progress;
use super::quorum;
use super::read_index::ReadIndexState;
use super::ready::{Event, ReadState, Ready, RoleKind};
use crate::types::{Index, Millis, NodeId, Term};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a proposal or admin request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
    #[error("a leadership transfer is in progress")]
    TransferInProgress,
    #[error("another membership change is not yet committed")]
    ConfigChangePending,
    #[error("{0}")]
    Membership(#[from] MembershipError),
    #[error("learner {id} has not caught up (match {match_index}, commit {commit})")]
    LearnerBehind {
        id: NodeId,
        match_index: Index,
        commit: Index,
    },
    #[error("{0} is not a voter")]
    NotVoter(NodeId),
}

/// Why a snapshot could not be taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("index {0} is already covered by the snapshot")]
    AlreadyCompacted(Index),
    #[error("index {index} has not been applied (applied: {applied})")]
    NotApplied { index: Index, applied: Index },
}

/// Why durable state could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("stored log is not contiguous after index {0}")]
    LogGap(Index),
}

/// The role-specific state of a node.
#[derive(Clone, Debug)]
pub(super) enum Role {
    Follower,
    /// Collecting pre-votes for the term after the current one.
    PreCandidate {
        votes: BTreeMap<NodeId, bool>,
    },
    Candidate {
        votes: BTreeMap<NodeId, bool>,
    },
    Leader(Box<LeaderState>),
}

/// What only a leader keeps.
#[derive(Clone, Debug)]
pub(super) struct LeaderState {
    /// One entry per other member (voters and learners).
    pub progress: BTreeMap<NodeId, Progress>,
    pub heartbeat_deadline: Millis,
    pub quorum_check_deadline: Millis,
    pub reads: ReadIndexState,
    pub transfer: Option<Transfer>,
    /// The index of the last membership change appended; only one may be uncommitted.
    pub config_index: Index,
    /// Entries were appended since the last Ready: the followers get them in one append
    /// each when the next Ready is made (see `flush_append_broadcast`).
    pub append_pending: bool,
}

/// A leadership transfer under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Transfer {
    pub target: NodeId,
    pub deadline: Millis,
}

/// What the driver was handed in the outstanding Ready, to be marked durable on `advance`.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    id: u64,
    last_entry: Option<(Index, Term)>,
    snapshot_index: Option<Index>,
}

/// Outputs gathered between two Readys.
#[derive(Clone, Debug, Default)]
pub(super) struct Outbox {
    pub messages: Vec<Envelope>,
    pub persisted_messages: Vec<Envelope>,
    pub reads: Vec<ReadState>,
    pub events: Vec<Event>,
    pub snapshot_received: Option<Snapshot>,
    pub compacted: Option<Snapshot>,
}

/// A snapshot being received in chunks.
#[derive(Clone, Debug)]
pub(super) struct IncomingSnapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

/// A Raft node: a pure state machine driven by `step`, `tick`, `propose`, `read` and admin
/// inputs, whose outputs come out of `ready` and are confirmed with `advance`.
///
/// Invariants:
/// - `commit <= log.last_index()`, and `applied <= min(commit, log.persisted())` except right
///   after a snapshot was installed, when all three equal the snapshot index.
/// - `membership` is the configuration of the last configuration entry in the log (or of the
///   snapshot): configurations take effect when appended.
/// - At most one Ready is outstanding.
#[derive(Debug)]
pub struct Node {
    pub(super) config: Config,
    pub(super) rng: Pcg64,
    pub(super) now: Millis,
    pub(super) term: Term,
    pub(super) vote: Option<NodeId>,
    pub(super) commit: Index,
    /// The last index handed to the driver to apply.
    pub(super) applied: Index,
    pub(super) log: RaftLog,
    pub(super) membership: Membership,
    /// The membership at the snapshot index, the base from which `membership` is recomputed.
    pub(super) snapshot_membership: Membership,
    pub(super) role: Role,
    pub(super) leader: Option<NodeId>,
    pub(super) election_deadline: Millis,
    /// When this node last heard from the leader of its term (for leader stickiness).
    pub(super) last_leader_contact: Option<Millis>,
    /// The latest snapshot, kept to send to followers that fell behind the compacted log.
    pub(super) snapshot: Option<Snapshot>,
    pub(super) incoming_snapshot: Option<IncomingSnapshot>,
    pub(super) out: Outbox,
    last_hard_state: HardState,
    outstanding: Option<Outstanding>,
    next_ready_id: u64,
}

/// The state of a node as shown by status views (`/status`, the page's inspector).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub role: RoleKind,
    pub term: Term,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit: Index,
    pub applied: Index,
    pub persisted: Index,
    pub first_index: Index,
    pub last_index: Index,
    pub snapshot_index: Index,
    pub membership: Membership,
    pub election_deadline: Millis,
    /// Per follower, when this node leads.
    pub progress: BTreeMap<NodeId, PeerStatus>,
}

/// A leader's view of one follower, for status views.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub match_index: Index,
    pub next_index: Index,
    pub state: String,
}

impl Node {
    /// A brand-new node. A founding member is given the cluster's initial `membership`,
    /// which becomes entry 1 of its log (`Payload::Bootstrap`, term 0, identical on every
    /// founding member); a node that will join later as a learner is given an empty one and
    /// learns the configuration from the log it receives.
    pub fn new(config: Config, membership: Membership, now: Millis) -> Result<Node, RestoreError> {
        Node::restore(
            config,
            membership,
            HardState::default(),
            None,
            Vec::new(),
            now,
        )
    }

    /// A node rebuilt from what its storage holds. The driver restores its state machine
    /// from the same `snapshot`. `initial_membership` only matters when storage is empty (a
    /// founding member that crashed before persisting anything): the bootstrap entry is then
    /// written again.
    pub fn restore(
        config: Config,
        initial_membership: Membership,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
        now: Millis,
    ) -> Result<Node, RestoreError> {
        config.validate().map_err(RestoreError::Config)?;
        let (snapshot_index, snapshot_term) = snapshot
            .as_ref()
            .map_or((Index(0), Term(0)), |s| (s.meta.index, s.meta.term));
        let mut expected = snapshot_index.next();
        for entry in &entries {
            if entry.index != expected {
                return Err(RestoreError::LogGap(expected.prev()));
            }
            expected = expected.next();
        }
        let bootstrap =
            snapshot.is_none() && entries.is_empty() && !initial_membership.members.is_empty();
        let snapshot_membership = snapshot
            .as_ref()
            .map_or_else(Membership::default, |s| s.meta.membership.clone());
        let mut log = RaftLog::restore(snapshot_index, snapshot_term, entries);
        if bootstrap {
            log.push(Term(0), Payload::Bootstrap(initial_membership));
        }
        let commit = hard_state.commit.max(snapshot_index).min(log.persisted());
        let rng = Pcg64::seed_from_u64(config.seed);
        let mut node = Node {
            rng,
            now,
            term: hard_state.term,
            vote: hard_state.vote,
            commit,
            applied: snapshot_index,
            membership: snapshot_membership.clone(),
            snapshot_membership,
            log,
            role: Role::Follower,
            leader: None,
            election_deadline: now,
            last_leader_contact: None,
            snapshot,
            incoming_snapshot: None,
            out: Outbox::default(),
            last_hard_state: HardState {
                commit,
                ..hard_state
            },
            outstanding: None,
            next_ready_id: 1,
            config,
        };
        node.recompute_membership();
        node.reset_election_timer();
        Ok(node)
    }

    // ----- Getters -----

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn term(&self) -> Term {
        self.term
    }

    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> Index {
        self.commit
    }

    pub fn applied_index(&self) -> Index {
        self.applied
    }

    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    pub fn role(&self) -> RoleKind {
        match self.role {
            Role::Follower => RoleKind::Follower,
            Role::PreCandidate { .. } => RoleKind::PreCandidate,
            Role::Candidate { .. } => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The earliest time at which `tick` has something to do.
    pub fn next_deadline(&self) -> Millis {
        match &self.role {
            Role::Leader(leader) => {
                let mut deadline = leader.heartbeat_deadline;
                if self.config.check_quorum {
                    deadline = deadline.min(leader.quorum_check_deadline);
                }
                if let Some(transfer) = leader.transfer {
                    deadline = deadline.min(transfer.deadline);
                }
                deadline
            }
            _ => self.election_deadline,
        }
    }

    /// A snapshot of the node's state for status views.
    pub fn status(&self) -> NodeStatus {
        let progress = match &self.role {
            Role::Leader(leader) => leader
                .progress
                .iter()
                .map(|(id, p)| {
                    let peer = PeerStatus {
                        match_index: p.match_index,
                        next_index: p.next_index,
                        state: p.state_name().to_string(),
                    };
                    (*id, peer)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        NodeStatus {
            id: self.id(),
            role: self.role(),
            term: self.term,
            vote: self.vote,
            leader: self.leader,
            commit: self.commit,
            applied: self.applied,
            persisted: self.log.persisted(),
            first_index: self.log.first_index(),
            last_index: self.log.last_index(),
            snapshot_index: self.log.snapshot_index(),
            membership: self.membership.clone(),
            election_deadline: self.election_deadline,
            progress,
        }
    }

    // ----- Inputs -----

    /// Moves the node's clock forward; time never goes back.
    pub(super) fn set_time(&mut self, now: Millis) {
        self.now = self.now.max(now);
    }

    /// Proposes a state-machine command. Returns the index it will have if it commits; the
    /// driver answers the client when an entry with this index and term is applied (and tells
    /// it the outcome is unknown if a different entry gets that index).
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term), ProposeError> {
        self.leader_accepting_proposals()?;
        Ok(self.append_as_leader(Payload::Command(data)))
    }

    /// Proposes a single-server membership change.
    pub fn propose_conf_change(&mut self, change: ConfChange) -> Result<Index, ProposeError> {
        self.leader_accepting_proposals()?;
        let Role::Leader(leader) = &self.role else {
            unreachable!("checked above")
        };
        if leader.config_index > self.commit {
            return Err(ProposeError::ConfigChangePending);
        }
        self.membership.validate(&change)?;
        if let ConfChange::Promote { id } = change {
            let match_index = leader.progress.get(&id).map_or(Index(0), |p| p.match_index);
            if match_index < self.commit {
                return Err(ProposeError::LearnerBehind {
                    id,
                    match_index,
                    commit: self.commit,
                });
            }
        }
        let (index, _) = self.append_as_leader(Payload::Config(change));
        Ok(index)
    }

    fn leader_accepting_proposals(&self) -> Result<(), ProposeError> {
        match &self.role {
            Role::Leader(leader) if leader.transfer.is_some() => {
                Err(ProposeError::TransferInProgress)
            }
            Role::Leader(_) => Ok(()),
            _ => Err(ProposeError::NotLeader {
                leader: self.leader,
            }),
        }
    }

    /// Starts an election now, as if the election timer had fired ("force a timeout").
    pub fn campaign(&mut self, now: Millis) {
        self.set_time(now);
        if !self.is_leader() {
            self.start_election(false);
        }
    }

    /// Takes a snapshot: `data` is the state machine's snapshot at `index`, which it has
    /// applied. Entries up to `index` are dropped from the log.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) -> Result<(), CompactError> {
        if index <= self.log.snapshot_index() {
            return Err(CompactError::AlreadyCompacted(index));
        }
        if index > self.applied {
            return Err(CompactError::NotApplied {
                index,
                applied: self.applied,
            });
        }
        let term = self
            .log
            .term_at(index)
            .expect("applied entries are in the log");
        let membership = self.membership_at(index);
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index,
                term,
                membership,
            },
            data,
        };
        self.log.compact(index, term);
        self.snapshot_membership = snapshot.meta.membership.clone();
        self.snapshot = Some(snapshot.clone());
        self.out.compacted = Some(snapshot);
        self.out.events.push(Event::Compacted { index });
        Ok(())
    }

    // ----- Output -----

    /// Whether `ready` would return something.
    pub fn has_ready(&self) -> bool {
        self.outstanding.is_none()
            && (self.hard_state() != self.last_hard_state
                || self.log.has_unstable()
                || self.out.snapshot_received.is_some()
                || self.out.compacted.is_some()
                || !self.out.messages.is_empty()
                || !self.out.persisted_messages.is_empty()
                || !self.out.reads.is_empty()
                || !self.out.events.is_empty()
                || self.apply_limit() > self.applied
                || self.append_broadcast_pending()
                || self.read_broadcast_pending())
    }

    /// The next batch of work for the driver, if there is any and the previous one was
    /// advanced.
    pub fn ready(&mut self) -> Option<Ready> {
        if !self.has_ready() {
            return None;
        }
        self.flush_append_broadcast();
        self.flush_read_broadcast();
        let hard_state = self.hard_state();
        let hard_state_changed = hard_state != self.last_hard_state;
        let vote_changed = (hard_state.term, hard_state.vote)
            != (self.last_hard_state.term, self.last_hard_state.vote);
        let (truncate_from, entries) = self.log.take_unstable();
        let snapshot = self.out.snapshot_received.take();
        let compacted = self.out.compacted.take();
        let committed = self.take_committed();
        let must_sync = vote_changed
            || truncate_from.is_some()
            || !entries.is_empty()
            || snapshot.is_some()
            || compacted.is_some();
        let id = self.next_ready_id;
        self.next_ready_id += 1;
        self.outstanding = Some(Outstanding {
            id,
            last_entry: entries.last().map(|e| (e.index, e.term)),
            snapshot_index: snapshot.as_ref().map(|s| s.meta.index),
        });
        self.last_hard_state = hard_state;
        let out = std::mem::take(&mut self.out);
        Some(Ready {
            id,
            hard_state: hard_state_changed.then_some(hard_state),
            truncate_from,
            entries,
            snapshot,
            compacted,
            must_sync,
            messages: out.messages,
            persisted_messages: out.persisted_messages,
            committed,
            reads: out.reads,
            events: out.events,
        })
    }

    /// The driver has done everything the Ready `ready_id` asked: what it persisted is now
    /// durable. Unknown ids are ignored.
    pub fn advance(&mut self, now: Millis, ready_id: u64) {
        self.set_time(now);
        let Some(outstanding) = self.outstanding else {
            return;
        };
        if outstanding.id != ready_id {
            return;
        }
        self.outstanding = None;
        if let Some(index) = outstanding.snapshot_index {
            self.log.mark_snapshot_persisted(index);
        }
        if let Some((index, term)) = outstanding.last_entry {
            self.log.mark_persisted(index, term);
        }
        if self.is_leader() {
            self.maybe_commit();
        }
    }

    fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.commit,
        }
    }

    /// The highest index the driver may apply: committed and durable here.
    fn apply_limit(&self) -> Index {
        self.commit.min(self.log.persisted())
    }

    fn take_committed(&mut self) -> Vec<Entry> {
        let limit = self.apply_limit();
        if limit <= self.applied {
            return Vec::new();
        }
        let max = u64::from(self.config.apply_entries_per_ready_max);
        let to = Index(limit.0.min(self.applied.0 + max));
        let entries = self.log.slice(self.applied.next(), to).to_vec();
        if let Some(last) = entries.last() {
            self.applied = last.index;
        }
        entries
    }

    // ----- Shared helpers for the handlers -----

    /// Queues a message that may leave at once.
    pub(super) fn send(&mut self, to: NodeId, message: Message) {
        let envelope = Envelope {
            from: self.id(),
            to,
            term: self.term,
            message,
        };
        self.out.messages.push(envelope);
    }

    /// Queues a message that may only leave once this node's state is durable.
    pub(super) fn send_after_persist(&mut self, to: NodeId, message: Message) {
        let envelope = Envelope {
            from: self.id(),
            to,
            term: self.term,
            message,
        };
        self.out.persisted_messages.push(envelope);
    }

    /// Every member but this node, in id order (voters and learners).
    pub(super) fn other_members(&self) -> Vec<NodeId> {
        self.membership
            .members
            .keys()
            .copied()
            .filter(|id| *id != self.id())
            .collect()
    }

    pub(super) fn reset_election_timer(&mut self) {
        let (min, max) = (
            self.config.election_timeout_min_ms,
            self.config.election_timeout_max_ms,
        );
        let timeout = self.rng.random_range(min..=max);
        self.election_deadline = self.now + timeout;
    }

    /// Becomes a follower in `term` (which may be the current one), following `leader`.
    ///
    /// The election timer keeps running, as in the paper's Figure 2: it restarts only when
    /// the node hears the current leader (`heard_from_leader`), grants a vote
    /// (`handle_vote`) or starts an election. Adopting a higher term alone, say from a vote
    /// request it refuses, does not restart it; otherwise a server that cannot win (its log
    /// is behind) would keep pushing back the timers of the servers that can, and a stale
    /// candidate would delay every failover it takes part in (docs/figure16.md). A leader is
    /// the exception: its election timer was not running, so stepping down starts one.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        let old_role = self.role();
        let old_term = self.term;
        let was_leader = old_role == RoleKind::Leader;
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        if let Role::Leader(leader_state) = &mut self.role {
            let dropped = leader_state.reads.drain_all();
            for request_id in dropped {
                self.out.events.push(Event::ReadDropped { request_id });
            }
        }
        self.role = Role::Follower;
        self.set_leader(leader);
        if was_leader {
            self.reset_election_timer();
        }
        if old_role != RoleKind::Follower || old_term != self.term {
            self.role_changed();
        }
    }

    pub(super) fn set_leader(&mut self, leader: Option<NodeId>) {
        if self.leader != leader {
            self.leader = leader;
            self.out.events.push(Event::LeaderChanged {
                leader,
                term: self.term,
            });
        }
    }

    pub(super) fn role_changed(&mut self) {
        self.out.events.push(Event::RoleChanged {
            role: self.role(),
            term: self.term,
        });
    }

    /// Whether this node has recently heard from a live leader and so refuses to help anyone
    /// depose it (leader stickiness).
    pub(super) fn in_leader_lease(&self) -> bool {
        match (&self.role, self.last_leader_contact) {
            (Role::Leader(_), _) => true,
            (_, Some(contact)) if self.leader.is_some() => {
                self.now < contact + self.config.election_timeout_min_ms
            }
            _ => false,
        }
    }

    /// Appends an entry to the leader's own log and starts replicating it.
    pub(super) fn append_as_leader(&mut self, payload: Payload) -> (Index, Term) {
        let change = match &payload {
            Payload::Config(change) => Some(change.clone()),
            _ => None,
        };
        let index = self.log.push(self.term, payload);
        if let Some(change) = change {
            self.apply_conf_change(index, &change);
        }
        if let Role::Leader(leader) = &mut self.role {
            leader.append_pending = true;
        }
        if self.membership.voters().len() <= 1 {
            // A single voter commits as soon as its own append is durable (see `advance`).
            self.maybe_commit();
        }
        (index, self.term)
    }

    /// Puts an appended configuration entry into force.
    pub(super) fn apply_conf_change(&mut self, index: Index, change: &ConfChange) {
        self.membership.apply(change);
        let last = self.log.last_index();
        if let Role::Leader(leader) = &mut self.role {
            leader.config_index = index;
            let members: Vec<NodeId> = self.membership.members.keys().copied().collect();
            leader.progress.retain(|id, _| members.contains(id));
            for id in members {
                if id != self.config.id {
                    leader
                        .progress
                        .entry(id)
                        .or_insert_with(|| Progress::new(last));
                }
            }
        }
        let membership = self.membership.clone();
        self.out
            .events
            .push(Event::MembershipChanged { membership });
    }

    /// Recomputes the configuration in force from the snapshot's and the log's entries,
    /// after the log was truncated or restored.
    pub(super) fn recompute_membership(&mut self) {
        let membership = self.membership_at(self.log.last_index());
        if membership != self.membership {
            self.membership = membership.clone();
            self.out
                .events
                .push(Event::MembershipChanged { membership });
        }
    }

    /// The configuration in force at `index`.
    pub(super) fn membership_at(&self, index: Index) -> Membership {
        let mut membership = self.snapshot_membership.clone();
        for entry in self.log.slice(self.log.first_index(), index) {
            match &entry.payload {
                Payload::Config(change) => membership.apply(change),
                Payload::Bootstrap(initial) => membership = initial.clone(),
                Payload::Noop | Payload::Command(_) => {}
            }
        }
        membership
    }

    /// The voters' agreement on a value that each voter reports (match indexes, read
    /// rounds): the largest value a majority has reached.
    pub(super) fn quorum_value(&self, own: u64, of_peer: impl Fn(NodeId) -> Option<u64>) -> u64 {
        let voters = self.membership.voters();
        let reported: BTreeMap<NodeId, Index> = voters
            .iter()
            .map(|&id| {
                let value = if id == self.id() {
                    own
                } else {
                    of_peer(id).unwrap_or(0)
                };
                (id, Index(value))
            })
            .collect();
        quorum::committed_index(&voters, &reported).0
    }
}
