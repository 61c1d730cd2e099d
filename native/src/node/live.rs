//! The event loop's side of live pages (docs/protocol.md): statuses, events and message
//! summaries for the gateway, fault actions, and the relay for browser peers.
//!
//! **What pages see.** A status (`flotilla_core::live::view`) is published every
//! [`LIVE_STATUS_INTERVAL_MS`] and at once when role, term, leader, membership or faults
//! change while a page is connected. Events come from each Ready; appends and commits are
//! coalesced to at most one of each per [`LIVE_EVENTS_COALESCE_MS`], so a page sees the log
//! move without one JSON frame per client write. Message summaries are built only while a
//! page subscribed (one atomic load otherwise), sampled by a token bucket to at most
//! `MESSAGE_SUMMARIES_PER_SEC_MAX` per second, and sent in batches.
//!
//! **Browser peers.** A page's peer is a learner whose member address is this node's own
//! peer address. Every other node dials that address like any member's, so envelopes for
//! the peer arrive here over ordinary peer connections, or from this node's own core; both
//! go down the page's socket. Envelopes from the page go out over this node's peer
//! connections (or into its own core). A member whose address is ours but whose page is
//! gone (closed, or this node restarted) is removed by the sweep in [`EventLoop::live_tick`];
//! one whose relay's connection to the leader broke is removed by the leader
//! (`relay_watch.rs`).

use super::event_loop::EventLoop;
use crate::gateway::{GatewayRequest, LiveSnapshot, RelayOutbox, ToPage};
use crate::metrics::Metrics;
use crate::peer::PeerMessage;
use crate::resp::Reply;
use flotilla_core::live::peer::PeerTiming;
use flotilla_core::live::protocol::{
    AdminAction, AdminResult, LiveEvent, LiveEventKind, MemberAddress, MessageSummary, NodeMessage,
    MESSAGE_SUMMARIES_PER_SEC_MAX,
};
use flotilla_core::live::view::{live_event, member_addresses, status_view, ViewContext};
use flotilla_core::raft::{Envelope, Event, Message, Ready, RoleKind};
use flotilla_core::{Index, Millis, NodeId, Term};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

/// A page's status is refreshed at least this often.
const LIVE_STATUS_INTERVAL_MS: Millis = 250;
/// Appends and commits are reported at most once per this many milliseconds each.
const LIVE_EVENTS_COALESCE_MS: Millis = 25;
/// Message summaries are sent in batches this often.
const MESSAGE_BATCH_INTERVAL_MS: Millis = 100;
/// Summaries the token bucket may release at once after a quiet spell.
const MESSAGE_SUMMARIES_BURST: u64 = (MESSAGE_SUMMARIES_PER_SEC_MAX / 10) as u64;
/// A fault action passed to another node that has not answered in this long is answered
/// for it.
const ADMIN_PASS_TIMEOUT_MS: Millis = 5000;
/// How often members relayed by this node without a page are looked for and removed.
const ORPHAN_SWEEP_INTERVAL_MS: Millis = 1000;
/// Most browser peers one node relays.
pub const BROWSER_PEERS_MAX: usize = 16;

/// The wall clock, ms since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Who waits for a fault action's result.
#[derive(Debug)]
pub enum AdminReplyTo {
    Gateway(oneshot::Sender<AdminResult>),
    Peer { from: NodeId, id: u64 },
}

/// A page's browser peer relayed by this node.
#[derive(Debug)]
struct Hosted {
    page: u64,
    outbox: RelayOutbox,
    /// Seen in the membership (the learner was added).
    member: bool,
    /// The page asked to leave: relay nothing more; tell it when the removal commits.
    leaving: bool,
}

/// Summaries waiting to be sent, and the token bucket that samples them.
#[derive(Debug, Default)]
struct Sampler {
    /// Tokens, in thousandths of a summary.
    tokens_milli: u64,
    refilled_at: Millis,
    batch: Vec<MessageSummary>,
    omitted: u32,
    flushed_at: Millis,
}

/// Appends and commits waiting to be reported.
#[derive(Debug, Default)]
struct Coalesced {
    appended: Option<(Index, Index, Term)>,
    committed: Option<Index>,
    flushed_at: Millis,
}

/// What decides that a status must go out at once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StatusKey {
    role: RoleKind,
    term: Term,
    leader: Option<NodeId>,
    members: usize,
    voters: usize,
    cut: usize,
}

/// The event loop's live state.
#[derive(Debug, Default)]
pub struct Live {
    /// HTTP addresses of the nodes that said hello.
    http_of: BTreeMap<NodeId, String>,
    hosted: BTreeMap<NodeId, Hosted>,
    /// Members whose address is this node's peer address: browser peers it relays (or did).
    relayed_here: BTreeSet<NodeId>,
    admin_waiting: BTreeMap<u64, (oneshot::Sender<AdminResult>, NodeId, Millis)>,
    next_admin_id: u64,
    sampler: Sampler,
    coalesced: Coalesced,
    status_key: Option<StatusKey>,
    status_at: Option<Millis>,
    swept_at: Millis,
    /// Envelopes for browser peers dropped (queue full, page gone, or too large).
    pub relay_dropped: u64,
}

/// The name a page animates a message by.
pub fn message_kind(message: &Message) -> &'static str {
    match message {
        Message::PreVote { .. } => "pre_vote",
        Message::PreVoteResponse { .. } => "pre_vote_response",
        Message::Vote { .. } => "vote",
        Message::VoteResponse { .. } => "vote_response",
        Message::Append { .. } => "append",
        Message::AppendResponse { .. } => "append_response",
        Message::Heartbeat { .. } => "heartbeat",
        Message::HeartbeatResponse { .. } => "heartbeat_response",
        Message::InstallSnapshot { .. } => "install_snapshot",
        Message::InstallSnapshotResponse { .. } => "install_snapshot_response",
        Message::TimeoutNow => "timeout_now",
    }
}

/// A summary of one envelope.
pub fn summarize(envelope: &Envelope, sent: bool, dropped: bool, unix_ms: u64) -> MessageSummary {
    let (entries, index) = match &envelope.message {
        Message::Append {
            entries,
            prev_index,
            ..
        } => (
            entries.len() as u32,
            Some(entries.last().map_or(*prev_index, |e| e.index)),
        ),
        Message::AppendResponse { index, .. } => (0, Some(*index)),
        Message::Heartbeat { commit, .. } => (0, Some(*commit)),
        Message::HeartbeatResponse { last_index, .. } => (0, Some(*last_index)),
        Message::PreVote { last_index, .. } | Message::Vote { last_index, .. } => {
            (0, Some(*last_index))
        }
        Message::InstallSnapshot { meta, .. } => (0, Some(meta.index)),
        Message::InstallSnapshotResponse { installed, .. } => (0, *installed),
        _ => (0, None),
    };
    MessageSummary {
        from: envelope.from,
        to: envelope.to,
        sent,
        unix_ms,
        kind: message_kind(&envelope.message).to_string(),
        term: envelope.term,
        entries,
        index,
        dropped,
    }
}

/// Payload bytes of an envelope, for the relay queue's byte bound.
fn envelope_bytes(envelope: &Envelope) -> usize {
    const OVERHEAD_BYTES: usize = 64;
    OVERHEAD_BYTES
        + match &envelope.message {
            Message::Append { entries, .. } => entries
                .iter()
                .map(|e| match &e.payload {
                    flotilla_core::raft::Payload::Command(data) => data.len() + 32,
                    _ => 128,
                })
                .sum(),
            Message::InstallSnapshot { data, .. } => data.len(),
            _ => 0,
        }
}

fn event_frame(node: NodeId, what: LiveEventKind) -> String {
    let event = LiveEvent {
        node,
        unix_ms: unix_ms(),
        what,
    };
    serde_json::to_string(&NodeMessage::Event(event)).unwrap_or_default()
}

impl EventLoop {
    /// The members with every address this node knows, and which of them are relayed.
    pub(super) fn member_addresses(&self) -> Vec<MemberAddress> {
        let membership = self.replica.node().membership();
        let mut members = member_addresses(membership);
        // A browser peer's address is its relay's peer address; the relay is the member
        // with that address that was there first (browser ids are picked above every
        // member's), which this node also knows from its own relays.
        let mut first_at: BTreeMap<&str, NodeId> = BTreeMap::new();
        for (id, member) in &membership.members {
            first_at.entry(member.address.as_str()).or_insert(*id);
        }
        for member in &mut members {
            if member.id == self.me {
                member.http = Some(self.addresses.http.clone());
            } else if self.live.hosted.contains_key(&member.id)
                || self.live.relayed_here.contains(&member.id)
            {
                member.relayed_by = Some(self.me);
            } else if let Some(&first) = first_at.get(member.peer.as_str()) {
                if first != member.id {
                    member.relayed_by = Some(first);
                } else {
                    member.http = self.live.http_of.get(&member.id).cloned();
                }
            }
        }
        members
    }

    /// A peer said hello with its HTTP address.
    pub(super) fn live_hello(&mut self, from: NodeId, http: Option<String>) {
        if let Some(http) = http {
            self.live.http_of.insert(from, http);
        }
    }

    /// Recomputes which members this node relays (after a membership change).
    pub(super) fn live_members_changed(&mut self) {
        let membership = self.replica.node().membership();
        self.live.relayed_here = membership
            .members
            .iter()
            .filter(|(id, m)| **id != self.me && m.address == self.addresses.peer)
            .map(|(id, _)| *id)
            .collect();
        let mut frames = Vec::new();
        let mut gone = Vec::new();
        for (id, hosted) in &mut self.live.hosted {
            let member = membership.contains(*id);
            if member && !hosted.member {
                hosted.member = true;
                frames.push(LiveEventKind::BrowserPeer {
                    peer: *id,
                    joined: true,
                });
            } else if !member && hosted.member {
                let reason = if hosted.leaving {
                    "left the cluster (peer_leave)"
                } else {
                    "removed from the cluster"
                };
                hosted.outbox.push(ToPage::Left(reason.into()), 0);
                gone.push(*id);
                frames.push(LiveEventKind::BrowserPeer {
                    peer: *id,
                    joined: false,
                });
            }
        }
        for id in gone {
            self.live.hosted.remove(&id);
        }
        for what in frames {
            self.gateway.event_frame(event_frame(self.me, what));
        }
    }

    /// Reports what a Ready did (after it was persisted); `appended` is the range of entries
    /// it appended, `(first, last, last's term)`.
    pub(super) fn live_ready(&mut self, ready: &Ready, appended: Option<(Index, Index, Term)>) {
        let membership_changed = ready.snapshot.is_some()
            || ready
                .events
                .iter()
                .any(|e| matches!(e, Event::MembershipChanged { .. }));
        if membership_changed {
            self.live_members_changed();
        }
        if !self.gateway.has_pages() {
            return;
        }
        let now = self.now();
        for event in &ready.events {
            let what = match event {
                Event::Committed { index } => {
                    let pending = &mut self.live.coalesced.committed;
                    *pending = Some(pending.map_or(*index, |p| p.max(*index)));
                    continue;
                }
                // With the HTTP addresses and relays this node knows.
                Event::MembershipChanged { .. } => LiveEventKind::Membership {
                    members: self.member_addresses(),
                },
                other => match live_event(other) {
                    Some(what) => what,
                    None => continue,
                },
            };
            // Keep the page's order: what was coalesced before this event goes first.
            self.flush_coalesced(now);
            self.gateway.event_frame(event_frame(self.me, what));
        }
        if let Some((first, last, last_term)) = appended {
            let pending = &mut self.live.coalesced.appended;
            match pending {
                Some((from, to, term)) if *term == last_term && first <= to.next() => {
                    *from = (*from).min(first);
                    *to = last;
                }
                _ => {
                    self.flush_coalesced(now);
                    self.live.coalesced.appended = Some((first, last, last_term));
                }
            }
        }
        if now >= self.live.coalesced.flushed_at + LIVE_EVENTS_COALESCE_MS {
            self.flush_coalesced(now);
        }
    }

    fn flush_coalesced(&mut self, now: Millis) {
        let coalesced = &mut self.live.coalesced;
        let appended = coalesced.appended.take();
        let committed = coalesced.committed.take();
        coalesced.flushed_at = now;
        if let Some((from, to, term)) = appended {
            let what = LiveEventKind::Appended { from, to, term };
            self.gateway.event_frame(event_frame(self.me, what));
        }
        if let Some(index) = committed {
            let what = LiveEventKind::Committed { index };
            self.gateway.event_frame(event_frame(self.me, what));
        }
    }

    /// Timers of the live side: coalesced events, summary batches, fault actions passed
    /// on, and the sweep of browser peers whose page is gone.
    pub(super) fn live_tick(&mut self) {
        let now = self.now();
        if now >= self.live.coalesced.flushed_at + LIVE_EVENTS_COALESCE_MS {
            self.flush_coalesced(now);
        }
        if now >= self.live.sampler.flushed_at + MESSAGE_BATCH_INTERVAL_MS {
            let sampler = &mut self.live.sampler;
            sampler.flushed_at = now;
            if !sampler.batch.is_empty() || sampler.omitted > 0 {
                let summaries = std::mem::take(&mut sampler.batch);
                let omitted = std::mem::take(&mut sampler.omitted);
                let frame = NodeMessage::Messages { summaries, omitted };
                self.gateway
                    .messages_frame(serde_json::to_string(&frame).unwrap_or_default());
            }
        }
        let expired: Vec<u64> = self
            .live
            .admin_waiting
            .iter()
            .filter(|(_, (_, _, deadline))| now >= *deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some((reply, node, _)) = self.live.admin_waiting.remove(&id) {
                let _ = reply.send(AdminResult::Refused {
                    message: format!(
                        "node {} did not answer within {} s; the action may or may not have been applied",
                        node.0,
                        ADMIN_PASS_TIMEOUT_MS / 1000
                    ),
                });
            }
        }
        if now >= self.live.swept_at + ORPHAN_SWEEP_INTERVAL_MS {
            self.live.swept_at = now;
            self.sweep_orphans();
        }
    }

    /// Proposes the removal of every member relayed by this node that no page hosts (its
    /// page closed or left, or this node restarted). Refusals (no leader, another change in
    /// progress) are retried at the next sweep.
    fn sweep_orphans(&mut self) {
        // A page whose session ended without telling the loop (it closed while its join was
        // still being proposed) left a queue nobody reads.
        let abandoned: Vec<NodeId> = self
            .live
            .hosted
            .iter()
            .filter(|(_, h)| h.outbox.tx.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in abandoned {
            tracing::info!(peer = %id, "a browser peer's page is gone");
            self.live.hosted.remove(&id);
        }
        let orphans: Vec<NodeId> = self
            .live
            .relayed_here
            .iter()
            .filter(|id| self.live.hosted.get(id).is_none_or(|h| h.leaving))
            .copied()
            .collect();
        if let Some(&id) = orphans.first() {
            tracing::info!(peer = %id, "removing a browser peer whose page is gone");
            let (reply, _ignored) = oneshot::channel();
            let args = vec![b"RAFT.REMOVE".to_vec(), id.0.to_string().into_bytes()];
            self.gateway_command(args, reply, true);
        }
    }

    /// Publishes the status for pages when due, or at once when its shape changed.
    pub(super) fn publish_live(&mut self) {
        let now = self.now();
        let node = self.replica.node();
        let key = StatusKey {
            role: node.role(),
            term: node.term(),
            leader: node.leader(),
            members: node.membership().members.len(),
            voters: node
                .membership()
                .members
                .values()
                .filter(|m| m.role == flotilla_core::raft::MemberRole::Voter)
                .count(),
            cut: self.blocked.len(),
        };
        let due = self
            .live
            .status_at
            .is_none_or(|at| now >= at + LIVE_STATUS_INTERVAL_MS);
        // Shape changes are rare, so they are published even with no page connected: the
        // next page's welcome then lists the members as they are.
        let changed = self.live.status_key.as_ref() != Some(&key);
        if !(due || changed) {
            return;
        }
        self.live.status_at = Some(now);
        self.live.status_key = Some(key);
        let members = self.member_addresses();
        let connected = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_connected())
            .map(|(id, _)| *id)
            .chain(
                self.live
                    .hosted
                    .iter()
                    .filter(|(_, h)| !h.leaving)
                    .map(|(id, _)| *id),
            )
            .collect();
        let context = ViewContext {
            now,
            unix_ms: unix_ms(),
            keys: self.replica.kv().len(),
            cut: self.blocked.iter().copied().collect(),
            members: members.clone(),
            connected: Some(connected),
        };
        let status = status_view(self.replica.node(), context);
        let frame = serde_json::to_string(&NodeMessage::Status(status)).ok();
        self.gateway.publish_live(LiveSnapshot {
            status_frame: frame,
            members,
            timing: Some(PeerTiming::of(self.replica.node().config())),
        });
    }

    /// Records a summary of a Raft message sent (or dropped on the way out) or received,
    /// if a page subscribed and the sampler lets it through.
    pub(super) fn observe_message(&mut self, envelope: &Envelope, sent: bool, dropped: bool) {
        if !self.gateway.has_message_subscribers() {
            return;
        }
        let now = self.now();
        let sampler = &mut self.live.sampler;
        let refill =
            now.saturating_sub(sampler.refilled_at) * u64::from(MESSAGE_SUMMARIES_PER_SEC_MAX);
        sampler.refilled_at = now;
        sampler.tokens_milli = (sampler.tokens_milli + refill).min(MESSAGE_SUMMARIES_BURST * 1000);
        if sampler.tokens_milli >= 1000 {
            sampler.tokens_milli -= 1000;
            sampler
                .batch
                .push(summarize(envelope, sent, dropped, unix_ms()));
        } else {
            sampler.omitted = sampler.omitted.saturating_add(1);
        }
    }

    /// The relay's part of sending: `Some(sent)` when `to` is a browser peer relayed here
    /// (its messages go down its page's socket, or nowhere if its page is gone), `None`
    /// for an ordinary peer.
    pub(super) fn relay_send(&mut self, to: NodeId, message: &PeerMessage) -> Option<bool> {
        match message {
            PeerMessage::Raft(envelope) => self.relay_raft(to, envelope),
            _ if self.relays(to) => {
                // Forwards and the like cannot reach a page: a browser peer serves no clients.
                Metrics::add(&self.metrics.peer_messages_dropped, 1);
                Some(false)
            }
            _ => None,
        }
    }

    /// Whether `to` is a browser peer whose traffic goes through this node.
    fn relays(&self, to: NodeId) -> bool {
        self.live.relayed_here.contains(&to) || self.live.hosted.contains_key(&to)
    }

    /// [`EventLoop::relay_send`] for a Raft message: `Some(sent)` when `to` is a browser
    /// peer relayed here.
    pub(super) fn relay_raft(&mut self, to: NodeId, envelope: &Envelope) -> Option<bool> {
        if !self.relays(to) {
            return None;
        }
        let never = matches!(envelope.message, Message::TimeoutNow);
        let sent = !never
            && !self.blocked.contains(&to)
            && self.live.hosted.get(&to).is_some_and(|hosted| {
                !hosted.leaving
                    && hosted
                        .outbox
                        .push(ToPage::Raft(envelope.clone()), envelope_bytes(envelope))
            });
        if !sent {
            self.live.relay_dropped += 1;
            Metrics::add(&self.metrics.peer_messages_dropped, 1);
        }
        self.observe_message(envelope, true, !sent);
        Some(sent)
    }

    /// An envelope from another node for someone else: a browser peer relayed here.
    pub(super) fn relay_inbound(&mut self, envelope: Envelope) {
        let to = envelope.to;
        if self.relay_send(to, &PeerMessage::Raft(envelope)).is_none() {
            tracing::debug!(%to, "dropped a message for a node this one does not relay");
        }
    }

    /// Handles the gateway's live requests.
    pub(super) fn live_request(&mut self, request: GatewayRequest) {
        match request {
            GatewayRequest::Command { .. } => {}
            GatewayRequest::Admin { action, reply } => {
                self.live_admin(action, AdminReplyTo::Gateway(reply));
            }
            GatewayRequest::PeerReserve {
                page,
                outbox,
                reply,
            } => {
                let _ = reply.send(self.reserve_peer(page, outbox));
            }
            GatewayRequest::PeerRelease { page, peer, closed } => {
                let Some(hosted) = self.live.hosted.get_mut(&peer) else {
                    return;
                };
                if hosted.page != page {
                    return;
                }
                tracing::info!(%peer, closed, "a browser peer leaves");
                let was_member = hosted.member;
                if closed || !hosted.member {
                    self.live.hosted.remove(&peer);
                } else {
                    hosted.leaving = true;
                }
                if was_member {
                    let what = LiveEventKind::BrowserPeer {
                        peer,
                        joined: false,
                    };
                    self.gateway.event_frame(event_frame(self.me, what));
                }
                self.sweep_orphans();
            }
            GatewayRequest::Relay { page, envelope } => {
                let from = envelope.from;
                if self
                    .live
                    .hosted
                    .get(&from)
                    .is_none_or(|h| h.page != page || h.leaving)
                {
                    return;
                }
                // A browser peer never leads: it serves no clients, and a throttled tab would
                // be a poor leader. Its vote requests are not relayed, so it cannot win an
                // election (it still votes, so a promoted peer helps elect a native node).
                // Dropping messages is always safe in Raft.
                if matches!(
                    envelope.message,
                    Message::PreVote { .. } | Message::Vote { .. }
                ) {
                    self.observe_message(&envelope, true, true);
                    return;
                }
                if envelope.to == self.me {
                    self.observe_message(&envelope, false, self.blocked.contains(&from));
                    if self.blocked.contains(&from) {
                        return;
                    }
                    let now = self.now();
                    if let Err(error) = self.replica.node_mut().step(now, envelope) {
                        tracing::debug!(peer = %from, %error, "refused a relayed message");
                    }
                } else {
                    let to = envelope.to;
                    self.send_to_peer(to, &PeerMessage::Raft(envelope));
                }
            }
        }
    }

    /// Picks an id for a page's peer: above every member and every id reserved here.
    fn reserve_peer(&mut self, page: u64, outbox: RelayOutbox) -> Result<(NodeId, String), String> {
        if self.live.hosted.len() >= BROWSER_PEERS_MAX {
            return Err(format!(
                "node {} already relays {BROWSER_PEERS_MAX} browser peers",
                self.me.0
            ));
        }
        if !self.replica.node().membership().contains(self.me) {
            return Err(format!(
                "node {} is not a member yet; connect to another node",
                self.me.0
            ));
        }
        let highest = self
            .replica
            .node()
            .membership()
            .members
            .keys()
            .chain(self.live.hosted.keys())
            .chain(self.live.relayed_here.iter())
            .map(|id| id.0)
            .max()
            .unwrap_or(self.me.0);
        let id = NodeId(highest.max(self.me.0) + 1);
        self.live.hosted.insert(
            id,
            Hosted {
                page,
                outbox,
                member: false,
                leaving: false,
            },
        );
        tracing::info!(peer = %id, page, "reserved an id for a browser peer");
        Ok((id, self.addresses.peer.clone()))
    }

    /// A fault or snapshot action: carried out here if it names this node, else passed to
    /// the node it names (only when it came from a page: a passed action is never passed
    /// again).
    pub(super) fn live_admin(&mut self, action: AdminAction, reply_to: AdminReplyTo) {
        let target = match &action {
            AdminAction::Cut { node, .. }
            | AdminAction::Isolate { node }
            | AdminAction::Heal { node }
            | AdminAction::Snapshot { node } => *node,
            _ => {
                let result = AdminResult::Refused {
                    message: "not a node-level action".into(),
                };
                return self.admin_answer(reply_to, result);
            }
        };
        if target == self.me {
            let result = self.apply_admin(action);
            return self.admin_answer(reply_to, result);
        }
        let AdminReplyTo::Gateway(reply) = reply_to else {
            let result = AdminResult::Refused {
                message: format!("node {} is not node {}", self.me.0, target.0),
            };
            return self.admin_answer(reply_to, result);
        };
        if self.live.relayed_here.contains(&target) || !self.peers.contains_key(&target) {
            let _ = reply.send(AdminResult::Refused {
                message: format!(
                    "node {} is not a native member this node can reach (browser peers have no transport of their own to cut)",
                    target.0
                ),
            });
            return;
        }
        let id = self.live.next_admin_id;
        self.live.next_admin_id += 1;
        let message = PeerMessage::Admin {
            from: self.me,
            id,
            action,
        };
        if self.send_control(target, &message) {
            let deadline = self.now() + ADMIN_PASS_TIMEOUT_MS;
            self.live
                .admin_waiting
                .insert(id, (reply, target, deadline));
        } else {
            let _ = reply.send(AdminResult::Refused {
                message: format!("node {} is unreachable from node {}", target.0, self.me.0),
            });
        }
    }

    /// Another node's answer to an action this node passed on.
    pub(super) fn live_admin_reply(&mut self, id: u64, result: AdminResult) {
        if let Some((reply, _, _)) = self.live.admin_waiting.remove(&id) {
            let _ = reply.send(result);
        }
    }

    fn admin_answer(&mut self, reply_to: AdminReplyTo, result: AdminResult) {
        match reply_to {
            AdminReplyTo::Gateway(reply) => {
                let _ = reply.send(result);
            }
            AdminReplyTo::Peer { from, id } => {
                self.send_control(from, &PeerMessage::AdminReply { id, result });
            }
        }
    }

    /// Sends control traffic, which faults do not drop.
    fn send_control(&mut self, to: NodeId, message: &PeerMessage) -> bool {
        self.peers
            .get_mut(&to)
            .is_some_and(|peer| peer.send(message))
    }

    fn apply_admin(&mut self, action: AdminAction) -> AdminResult {
        let cut: BTreeSet<NodeId> = match action {
            AdminAction::Cut { peers, .. } => peers.into_iter().filter(|p| *p != self.me).collect(),
            AdminAction::Isolate { .. } => self
                .replica
                .node()
                .membership()
                .members
                .keys()
                .copied()
                .filter(|p| *p != self.me)
                .collect(),
            AdminAction::Heal { .. } => BTreeSet::new(),
            AdminAction::Snapshot { .. } => {
                return match self.snapshot_now() {
                    Reply::Error(message) => AdminResult::Refused { message },
                    reply => AdminResult::Ok {
                        message: format!(
                            "node {}: {}",
                            self.me.0,
                            crate::gateway::ws::render_reply(&reply)
                        ),
                    },
                };
            }
            _ => {
                return AdminResult::Refused {
                    message: "not a node-level action".into(),
                }
            }
        };
        let message = self.set_cut(cut);
        AdminResult::Ok { message }
    }

    /// Drops all traffic with `cut` from now on (an empty set heals), tells the pages, and
    /// says what it did. Shared by the page's admin actions and RESP's RAFT.PARTITION/HEAL.
    pub(super) fn set_cut(&mut self, cut: BTreeSet<NodeId>) -> String {
        tracing::warn!(node = %self.me, cut = ?cut, "fault injection: dropping all traffic with these peers");
        self.blocked = cut.clone();
        let peers: Vec<NodeId> = cut.into_iter().collect();
        let message = if peers.is_empty() {
            format!("node {} healed: no traffic is dropped", self.me.0)
        } else {
            let ids: Vec<String> = peers.iter().map(|p| p.0.to_string()).collect();
            format!(
                "node {} drops all traffic with {}",
                self.me.0,
                ids.join(", ")
            )
        };
        let what = LiveEventKind::Cut { peers };
        self.gateway.event_frame(event_frame(self.me, what));
        self.publish_live();
        message
    }
}
