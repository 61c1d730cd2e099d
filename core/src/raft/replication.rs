//! Log replication (§5.3), the commit rule (§5.4.2), heartbeats, check-quorum and
//! leadership transfer.
//!
//! A proposal does not send anything by itself: it appends to the leader's log and marks
//! an append broadcast pending, which the next Ready turns into one append per follower
//! carrying every entry proposed since the last one (group commit on the wire, as the
//! driver's one fsync per Ready is group commit on disk). Messages cannot leave before the
//! next Ready anyway, so this costs no latency, and a follower decodes, persists and
//! acknowledges a batch instead of each write. The append that answers an acknowledgement
//! or a rejection is still made by its handler, for that follower, within its in-flight
//! window.

use super::config::PlantedBug;
use super::log::Splice;
use super::message::{Entry, Message, Payload, RejectHint};
use super::node::{Node, Role, Transfer};
use super::ready::Event;
use crate::types::{Index, NodeId, Term};

/// Why an append from a peer was refused as malformed or unsafe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("append would overwrite committed entry {index} (commit {commit})")]
    ConflictWithCommitted { index: Index, commit: Index },
}

impl Node {
    // ----- Leader side -----

    pub(super) fn append_broadcast_pending(&self) -> bool {
        matches!(&self.role, Role::Leader(l) if l.append_pending)
    }

    /// Sends the entries proposed since the last Ready, one append per follower for all of
    /// them. Proposals only mark the broadcast pending: one append per proposal could make a
    /// follower decode, step and acknowledge each write on its own (and the leader step each
    /// acknowledgement), and the messages could not leave before the next Ready anyway.
    pub(super) fn flush_append_broadcast(&mut self) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if std::mem::take(&mut leader.append_pending) {
            self.broadcast_append();
        }
    }

    /// Sends whatever each follower is ready to take.
    pub(super) fn broadcast_append(&mut self) {
        for peer in self.other_members() {
            self.send_append(peer, false);
        }
    }

    /// Sends the next append to `to`, if its progress allows. With `allow_empty`, an append
    /// without entries still goes (to carry a new commit index).
    pub(super) fn send_append(&mut self, to: NodeId, allow_empty: bool) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(progress) = leader.progress.get(&to) else {
            return;
        };
        if !progress.can_send(self.config.inflight_appends_max) {
            if matches!(progress.state, super::progress::SendState::Snapshot { .. }) {
                self.send_snapshot_chunk(to);
            }
            return;
        }
        let next = progress.next_index;
        if next <= self.log.snapshot_index() {
            self.start_snapshot_transfer(to);
            return;
        }
        let prev_index = next.prev();
        let prev_term = self
            .log
            .term_at(prev_index)
            .expect("prev index is after the snapshot");
        let entries = self.entries_to_send(next);
        if entries.is_empty() && !allow_empty {
            return;
        }
        let last = Index(prev_index.0 + entries.len() as u64);
        let commit = self.commit;
        if let Role::Leader(leader) = &mut self.role {
            if let Some(progress) = leader.progress.get_mut(&to) {
                progress.sent(last);
                progress.commit_sent = commit;
            }
        }
        self.send(
            to,
            Message::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            },
        );
    }

    /// Entries from `next` on, within the per-message count and byte limits (at least one).
    fn entries_to_send(&self, next: Index) -> Vec<Entry> {
        let count_max = u64::from(self.config.append_entries_max);
        let last = Index(
            self.log
                .last_index()
                .0
                .min(next.0.saturating_add(count_max - 1)),
        );
        let mut bytes = 0u64;
        let mut entries = Vec::new();
        for entry in self.log.slice(next, last) {
            bytes += payload_bytes(&entry.payload);
            if !entries.is_empty() && bytes > self.config.append_bytes_max {
                break;
            }
            entries.push(entry.clone());
        }
        entries
    }

    pub(super) fn handle_append_response(
        &mut self,
        from: NodeId,
        index: Index,
        reject: Option<RejectHint>,
    ) {
        let last_index = self.log.last_index();
        let off_by_one = self.config.has_bug(PlantedBug::NextIndexOffByOne);
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        match reject {
            None => {
                let acked = if off_by_one {
                    index.next().min(last_index)
                } else {
                    index
                };
                if progress.acknowledged(acked) {
                    self.maybe_commit();
                }
                self.maybe_finish_transfer(from);
                self.send_append_burst(from);
            }
            Some(hint) => {
                let stale = index < progress.match_index
                    || (matches!(progress.state, super::progress::SendState::Probe { .. })
                        && index != progress.next_index.prev());
                if stale {
                    return;
                }
                let resume = self.log.find_conflict_by_term(hint.index, hint.term);
                if let Role::Leader(leader) = &mut self.role {
                    if let Some(progress) = leader.progress.get_mut(&from) {
                        progress.rejected(resume.next());
                    }
                }
                self.send_append(from, true);
            }
        }
    }

    /// Keeps the pipeline to `to` full, and tells it the commit index if it lags.
    fn send_append_burst(&mut self, to: NodeId) {
        let inflight_max = self.config.inflight_appends_max;
        let mut sent = false;
        for _ in 0..inflight_max {
            let before = self.out.messages.len();
            self.send_append(to, false);
            if self.out.messages.len() == before {
                break;
            }
            sent = true;
        }
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let commit_lags = leader
            .progress
            .get(&to)
            .is_some_and(|p| p.commit_sent < self.commit);
        if !sent && commit_lags {
            self.send_append(to, true);
        }
    }

    /// Advances the commit index to the highest index a majority of voters hold, but only
    /// if that entry is from the current term (§5.4.2, the paper's Figure 8): an entry of an
    /// earlier term can be on a majority and still be overwritten by a later leader.
    pub(super) fn maybe_commit(&mut self) {
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let own = if self.config.has_bug(PlantedBug::AckBeforeFsync) {
            self.log.last_index()
        } else {
            self.log.persisted()
        };
        let own = if self.membership.is_voter(self.id()) {
            own.0
        } else {
            0
        };
        let matched = |id: NodeId| leader.progress.get(&id).map(|p| p.match_index.0);
        let candidate = Index(self.quorum_value(own, matched));
        if candidate <= self.commit {
            return;
        }
        let current_term = self.log.term_at(candidate) == Some(self.term);
        if !current_term && !self.config.has_bug(PlantedBug::CommitPreviousTerm) {
            return;
        }
        self.commit = candidate;
        self.out.events.push(Event::Committed { index: candidate });
        self.on_leader_commit();
        // Followers learn the new commit index at once rather than at the next heartbeat.
        for peer in self.other_members() {
            self.send_append(peer, true);
        }
    }

    /// What a leader does when its commit index moves.
    fn on_leader_commit(&mut self) {
        self.release_reads_waiting_for_commit();
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let removed = !self.membership.is_voter(self.id());
        if removed && self.commit >= leader.config_index {
            // The change that removed (or demoted) us is committed: step down (§4.2.2).
            self.become_follower(self.term, None);
        }
    }

    /// Sends heartbeats to every member; each carries a commit index the follower is known
    /// to be able to hold, and the current read round.
    pub(super) fn broadcast_heartbeat(&mut self) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        leader.heartbeat_deadline = self.now + self.config.heartbeat_interval_ms;
        let read_round = leader.reads.round();
        let beats: Vec<(NodeId, Index)> = leader
            .progress
            .iter()
            .map(|(id, p)| (*id, self.commit.min(p.match_index)))
            .collect();
        for (to, commit) in beats {
            self.send(to, Message::Heartbeat { commit, read_round });
        }
    }

    pub(super) fn handle_heartbeat_response(
        &mut self,
        from: NodeId,
        read_round: u64,
        last_index: Index,
    ) {
        let inflight_max = self.config.inflight_appends_max;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        progress.read_round_acked = progress.read_round_acked.max(read_round);
        progress.unpause();
        let replicating = matches!(progress.state, super::progress::SendState::Replicate { .. });
        if replicating && last_index.next() < progress.next_index {
            // The follower's log ends before what we think is in flight: appends were lost
            // (or the follower restarted). Probe again from where it ends.
            progress.rejected(last_index.next());
        } else if replicating && !progress.can_send(inflight_max) {
            // The follower holds everything we sent, yet the pipeline is full: the
            // acknowledgements were lost. Free one slot so that one more append goes out and
            // its acknowledgement catches the match index up (etcd does the same).
            progress.free_one();
        }
        // The follower holds more than it is known to match: its acknowledgements were
        // lost. An append (empty if there is nothing new) makes it acknowledge again;
        // otherwise a quiet cluster would never move this follower's match index.
        let unacknowledged = last_index > progress.match_index;
        let behind = progress.match_index < self.log.last_index() || unacknowledged;
        self.release_confirmed_reads();
        if behind {
            self.send_append(from, unacknowledged);
        }
    }

    /// The leader's timers: heartbeats, check-quorum, and a transfer that took too long.
    pub(super) fn tick_leader(&mut self) {
        let now = self.now;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if leader.transfer.is_some_and(|t| now >= t.deadline) {
            leader.transfer = None;
        }
        let check_due = self.config.check_quorum && now >= leader.quorum_check_deadline;
        if check_due && !self.quorum_recently_active() {
            // We cannot reach a majority: stop acting as leader so that clients go elsewhere
            // and the rest of the cluster is free to elect someone.
            self.become_follower(self.term, None);
            return;
        }
        if let Role::Leader(leader) = &mut self.role {
            if check_due {
                leader.quorum_check_deadline = now + self.config.election_timeout_min_ms;
                leader
                    .progress
                    .values_mut()
                    .for_each(|p| p.recent_active = false);
            }
            if now >= leader.heartbeat_deadline {
                self.broadcast_heartbeat();
            }
        }
    }

    fn quorum_recently_active(&self) -> bool {
        let Role::Leader(leader) = &self.role else {
            return false;
        };
        let own = u64::from(self.membership.is_voter(self.id()));
        let active = |id: NodeId| leader.progress.get(&id).map(|p| u64::from(p.recent_active));
        self.quorum_value(own, active) == 1
    }

    // ----- Leadership transfer -----

    /// Hands leadership to `target`: once it holds the whole log, it is told to campaign at
    /// once (`TimeoutNow`). Proposals are refused meanwhile, for at most one election timeout.
    pub fn transfer_leadership(
        &mut self,
        now: crate::types::Millis,
        target: NodeId,
    ) -> Result<(), super::node::ProposeError> {
        self.set_time(now);
        let deadline = self.now + self.config.election_timeout_min_ms;
        let Role::Leader(leader) = &mut self.role else {
            return Err(super::node::ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if target == self.config.id {
            return Ok(());
        }
        if !self.membership.is_voter(target) {
            return Err(super::node::ProposeError::NotVoter(target));
        }
        leader.transfer = Some(Transfer { target, deadline });
        self.maybe_finish_transfer(target);
        self.send_append(target, false);
        Ok(())
    }

    fn maybe_finish_transfer(&mut self, peer: NodeId) {
        let last = self.log.last_index();
        let Role::Leader(leader) = &self.role else {
            return;
        };
        let Some(transfer) = leader.transfer else {
            return;
        };
        let caught_up = leader
            .progress
            .get(&peer)
            .is_some_and(|p| p.match_index == last);
        if transfer.target == peer && caught_up {
            self.send(peer, Message::TimeoutNow);
        }
    }

    // ----- Follower side -----

    /// Handles an append from the leader of the current term.
    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    ) -> Result<(), AppendError> {
        self.heard_from_leader(from);
        let (prev_index, prev_term, entries) = self.skip_committed(prev_index, prev_term, entries);
        if !self.log.matches(prev_index, prev_term) {
            let hint_index = self.log.find_conflict_by_term(prev_index, prev_term);
            let hint_term = self.log.term_at(hint_index).unwrap_or_default();
            let reject = Some(RejectHint {
                index: hint_index,
                term: hint_term,
            });
            self.send(
                from,
                Message::AppendResponse {
                    index: prev_index,
                    reject,
                },
            );
            return Ok(());
        }
        let last_new = Index(prev_index.0 + entries.len() as u64);
        self.splice(&entries)?;
        if self.config.has_bug(PlantedBug::TruncateCommitted) && last_new < self.log.last_index() {
            self.log.truncate_from(last_new.next());
            self.recompute_membership();
        }
        let commit = leader_commit.min(last_new);
        if commit > self.commit {
            self.commit = commit;
            self.out.events.push(Event::Committed { index: commit });
        }
        let response = Message::AppendResponse {
            index: last_new,
            reject: None,
        };
        if self.config.has_bug(PlantedBug::AckBeforeFsync) {
            self.send(from, response);
        } else {
            // Acknowledging promises the entries survive a crash: only once they are durable.
            self.send_after_persist(from, response);
        }
        Ok(())
    }

    /// Drops entries at or below our commit index: they are known to agree with the leader's.
    fn skip_committed(
        &self,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
    ) -> (Index, Term, Vec<Entry>) {
        if prev_index >= self.commit {
            return (prev_index, prev_term, entries);
        }
        let commit_term = self.log.term_at(self.commit).unwrap_or_default();
        let rest = entries
            .into_iter()
            .filter(|e| e.index > self.commit)
            .collect();
        (self.commit, commit_term, rest)
    }

    /// Splices matched entries into the log: keep what agrees, cut at the first conflict.
    fn splice(&mut self, entries: &[Entry]) -> Result<(), AppendError> {
        let from = match self.log.find_splice(entries) {
            Splice::NothingNew => return Ok(()),
            Splice::AppendFrom(index) => index,
            Splice::ConflictAt(index) => {
                if index <= self.commit {
                    let commit = self.commit;
                    return Err(AppendError::ConflictWithCommitted { index, commit });
                }
                self.log.truncate_from(index);
                self.drop_acks_from(index);
                self.recompute_membership();
                index
            }
        };
        let new: Vec<Entry> = entries
            .iter()
            .filter(|e| e.index >= from)
            .cloned()
            .collect();
        self.log.extend(&new);
        let changes_config =
            |e: &Entry| matches!(e.payload, Payload::Config(_) | Payload::Bootstrap(_));
        if new.iter().any(changes_config) {
            // Configurations take effect when appended (§4.1 of the thesis).
            self.recompute_membership();
        }
        Ok(())
    }

    /// Discards queued acknowledgements of entries at or after `from`, which the log no
    /// longer holds. They were queued in an earlier term (a leader never contradicts its own
    /// appends) and would otherwise leave after the next fsync and vouch, to that term's
    /// leader, for entries this node has since discarded.
    pub(super) fn drop_acks_from(&mut self, from: Index) {
        self.out.persisted_messages.retain(|envelope| {
            !matches!(
                envelope.message,
                Message::AppendResponse { index, reject: None } if index >= from
            )
        });
    }

    /// Handles a heartbeat from the leader of the current term.
    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit: Index, read_round: u64) {
        self.heard_from_leader(from);
        // The leader caps `commit` at what it knows we hold, so it is in our log.
        let commit = commit.min(self.log.last_index());
        if commit > self.commit {
            self.commit = commit;
            self.out.events.push(Event::Committed { index: commit });
        }
        let last_index = self.log.last_index();
        self.send(
            from,
            Message::HeartbeatResponse {
                read_round,
                last_index,
            },
        );
    }

    /// Notes contact with the current leader.
    pub(super) fn heard_from_leader(&mut self, leader: NodeId) {
        if !matches!(self.role, Role::Follower) {
            self.become_follower(self.term, Some(leader));
        }
        self.set_leader(Some(leader));
        self.last_leader_contact = Some(self.now);
        self.reset_election_timer();
    }
}

/// The size of an entry's payload, for the per-message byte limit.
pub(super) fn payload_bytes(payload: &Payload) -> u64 {
    match payload {
        Payload::Noop => 0,
        Payload::Command(data) => data.len() as u64,
        Payload::Config(_) | Payload::Bootstrap(_) => 64,
    }
}
