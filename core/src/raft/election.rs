//! Elections: timeouts, pre-votes, votes, and becoming leader (§5.2, and §9.6 of Ongaro's
//! thesis for pre-vote and leader stickiness).

use super::message::{Message, Payload};
use super::node::{LeaderState, Node, Role};
use super::progress::Progress;
use super::quorum::{self, VoteResult};
use super::read_index::ReadIndexState;
use crate::raft::config::PlantedBug;
use crate::types::{Index, NodeId, Term};
use std::collections::BTreeMap;

impl Node {
    /// The election timer fired, or an election was forced.
    pub(super) fn start_election(&mut self, transfer: bool) {
        if !self.membership.is_voter(self.id()) {
            // Learners and removed nodes never campaign.
            self.reset_election_timer();
            return;
        }
        if self.config.pre_vote && !transfer {
            self.start_pre_vote();
        } else {
            self.campaign_now(transfer);
        }
    }

    fn start_pre_vote(&mut self) {
        self.role = Role::PreCandidate {
            votes: BTreeMap::from([(self.id(), true)]),
        };
        self.set_leader(None);
        self.reset_election_timer();
        self.role_changed();
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let next_term = self.term.next();
        for peer in self.other_voters() {
            let envelope = super::message::Envelope {
                from: self.id(),
                to: peer,
                term: next_term,
                message: Message::PreVote {
                    last_index,
                    last_term,
                },
            };
            self.out.messages.push(envelope);
        }
        self.check_election();
    }

    /// Becomes a candidate in the next term and asks every voter for its vote.
    pub(super) fn campaign_now(&mut self, transfer: bool) {
        self.term = self.term.next();
        self.vote = Some(self.id());
        self.role = Role::Candidate {
            votes: BTreeMap::from([(self.id(), true)]),
        };
        self.set_leader(None);
        self.reset_election_timer();
        self.role_changed();
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let early = self.config.has_bug(PlantedBug::VoteBeforePersist);
        for peer in self.other_voters() {
            let message = Message::Vote {
                last_index,
                last_term,
                transfer,
            };
            // Our own vote must be durable before anyone can count on this election.
            if early {
                self.send(peer, message);
            } else {
                self.send_after_persist(peer, message);
            }
        }
        self.check_election();
    }

    fn other_voters(&self) -> Vec<NodeId> {
        self.membership
            .voters()
            .into_iter()
            .filter(|id| *id != self.id())
            .collect()
    }

    /// Handles a pre-vote request. It changes nothing here, so the answer may go at once.
    pub(super) fn handle_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
    ) {
        let granted = term > self.term
            && !self.in_leader_lease()
            && self.log.is_up_to_date(last_index, last_term);
        let envelope = super::message::Envelope {
            from: self.id(),
            to: from,
            // A grant is stamped with the requested term so the pre-candidate counts it; a
            // refusal carries ours, so a pre-candidate behind us catches up.
            term: if granted { term } else { self.term },
            message: Message::PreVoteResponse { granted },
        };
        self.out.messages.push(envelope);
    }

    /// Handles a vote request in our current term (terms were reconciled by `step`).
    pub(super) fn handle_vote(
        &mut self,
        from: NodeId,
        last_index: Index,
        last_term: Term,
        transfer: bool,
    ) {
        let free = self.vote.is_none() && (self.leader.is_none() || transfer);
        let can_vote = free || self.vote == Some(from);
        let granted = can_vote && self.log.is_up_to_date(last_index, last_term);
        if granted {
            self.vote = Some(from);
            self.reset_election_timer();
            let message = Message::VoteResponse { granted };
            // The vote must be on disk before the candidate may count it (§5.1: a node votes
            // at most once per term, even across crashes).
            if self.config.has_bug(PlantedBug::VoteBeforePersist) {
                self.send(from, message);
            } else {
                self.send_after_persist(from, message);
            }
        } else {
            self.send(from, Message::VoteResponse { granted });
        }
    }

    pub(super) fn handle_pre_vote_response(&mut self, from: NodeId, term: Term, granted: bool) {
        if term != self.term.next() {
            return;
        }
        if let Role::PreCandidate { votes } = &mut self.role {
            votes.insert(from, granted);
            self.check_election();
        }
    }

    pub(super) fn handle_vote_response(&mut self, from: NodeId, granted: bool) {
        if let Role::Candidate { votes } = &mut self.role {
            votes.insert(from, granted);
            self.check_election();
        }
    }

    /// Acts on the tally of the current (pre-)election.
    fn check_election(&mut self) {
        let voters = self.membership.voters();
        match &self.role {
            Role::PreCandidate { votes } => match quorum::vote_result(&voters, votes) {
                VoteResult::Won => self.campaign_now(false),
                VoteResult::Lost => self.become_follower(self.term, None),
                VoteResult::Pending => {}
            },
            Role::Candidate { votes } => match quorum::vote_result(&voters, votes) {
                VoteResult::Won => self.become_leader(),
                VoteResult::Lost => self.become_follower(self.term, None),
                VoteResult::Pending => {}
            },
            _ => {}
        }
    }

    fn become_leader(&mut self) {
        let next = self.log.last_index().next();
        let progress = self
            .other_members()
            .into_iter()
            .map(|id| (id, Progress::new(next)))
            .collect();
        let now = self.now;
        self.role = Role::Leader(Box::new(LeaderState {
            progress,
            heartbeat_deadline: now + self.config.heartbeat_interval_ms,
            quorum_check_deadline: now + self.config.election_timeout_min_ms,
            reads: ReadIndexState::default(),
            transfer: None,
            config_index: Index(0),
            append_pending: false,
        }));
        self.set_leader(Some(self.id()));
        self.role_changed();
        // A new leader can only commit entries of its own term by counting replicas, so it
        // appends one at once (§8); that also settles the config index it starts from.
        let pending_config = self
            .log
            .slice(self.commit.next(), self.log.last_index())
            .iter()
            .rev()
            .find(|e| matches!(e.payload, Payload::Config(_)))
            .map(|e| e.index);
        if let (Some(index), Role::Leader(leader)) = (pending_config, &mut self.role) {
            leader.config_index = index;
        }
        self.append_as_leader(Payload::Noop);
    }

    /// The election timer, for nodes that are not leaders.
    pub(super) fn tick_election(&mut self) {
        if self.now >= self.election_deadline {
            self.start_election(false);
        }
    }
}
