//! Incoming messages: validated (they come from outside, so they may be malformed), their
//! terms reconciled (§5.1: a higher term makes any node a follower; a lower one is stale),
//! then dispatched to the handler for the node's role.

use super::message::{Entry, Envelope, Message};
use super::node::{Node, Role};
use super::replication::AppendError;
use super::snapshot_transfer::SnapshotError;
use crate::types::{Index, Millis, NodeId, Term};

/// Why an incoming message was refused. The node's state is unchanged by a refused message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("message for {to} delivered to {me}")]
    WrongRecipient { to: NodeId, me: NodeId },
    #[error("message claims to come from {0}")]
    BadSender(NodeId),
    #[error("malformed append: {0}")]
    MalformedAppend(&'static str),
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

impl Node {
    /// Handles a message from a peer.
    pub fn step(&mut self, now: Millis, envelope: Envelope) -> Result<(), StepError> {
        self.set_time(now);
        self.validate(&envelope)?;
        let Envelope {
            from,
            term,
            message,
            ..
        } = envelope;
        if term > self.term {
            if !self.accept_higher_term(from, term, &message) {
                return Ok(());
            }
        } else if term < self.term {
            self.answer_stale(from, &message);
            return Ok(());
        }
        self.dispatch(from, term, message)
    }

    /// The timers: elections for followers and candidates, heartbeats and check-quorum for
    /// leaders. Call it at `next_deadline()` (calling it more often is harmless).
    pub fn tick(&mut self, now: Millis) {
        self.set_time(now);
        if self.is_leader() {
            self.tick_leader();
        } else {
            self.tick_election();
        }
    }

    fn validate(&self, envelope: &Envelope) -> Result<(), StepError> {
        if envelope.to != self.id() {
            return Err(StepError::WrongRecipient {
                to: envelope.to,
                me: self.id(),
            });
        }
        if envelope.from == self.id() || envelope.from.0 == 0 {
            return Err(StepError::BadSender(envelope.from));
        }
        if let Message::Append {
            prev_index,
            prev_term,
            entries,
            ..
        } = &envelope.message
        {
            validate_entries(*prev_index, *prev_term, envelope.term, entries)?;
        }
        Ok(())
    }

    /// Reconciles a message from a later term. Returns whether to go on handling it.
    fn accept_higher_term(&mut self, from: NodeId, term: Term, message: &Message) -> bool {
        match message {
            // Pre-votes change nothing until an election is actually won.
            Message::PreVote { .. } => true,
            Message::PreVoteResponse { granted: true } => true,
            // Leader stickiness: while we hear from a live leader, a vote request for a later
            // term is from a node that was cut off; ignore it rather than be deposed.
            Message::Vote {
                transfer: false, ..
            } if self.config.check_quorum && self.in_leader_lease() => false,
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. } => {
                self.become_follower(term, Some(from));
                true
            }
            _ => {
                self.become_follower(term, None);
                true
            }
        }
    }

    /// Answers a message from an earlier term so that its sender learns it is behind.
    fn answer_stale(&mut self, from: NodeId, message: &Message) {
        match message {
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. } => {
                let reject = Some(super::message::RejectHint {
                    index: Index(0),
                    term: Term(0),
                });
                self.send(
                    from,
                    Message::AppendResponse {
                        index: Index(0),
                        reject,
                    },
                );
            }
            Message::PreVote { .. } => self.send(from, Message::PreVoteResponse { granted: false }),
            Message::Vote { .. } => self.send(from, Message::VoteResponse { granted: false }),
            _ => {}
        }
    }

    fn dispatch(&mut self, from: NodeId, term: Term, message: Message) -> Result<(), StepError> {
        match message {
            Message::PreVote {
                last_index,
                last_term,
            } => self.handle_pre_vote(from, term, last_index, last_term),
            Message::PreVoteResponse { granted } => {
                self.handle_pre_vote_response(from, term, granted)
            }
            Message::Vote {
                last_index,
                last_term,
                transfer,
            } => self.handle_vote(from, last_index, last_term, transfer),
            Message::VoteResponse { granted } => self.handle_vote_response(from, granted),
            Message::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                if !self.is_leader() {
                    self.handle_append(from, prev_index, prev_term, entries, commit)?;
                }
            }
            Message::AppendResponse { index, reject } => {
                self.handle_append_response(from, index, reject)
            }
            Message::Heartbeat { commit, read_round } => {
                if !self.is_leader() {
                    self.handle_heartbeat(from, commit, read_round);
                }
            }
            Message::HeartbeatResponse {
                read_round,
                last_index,
            } => self.handle_heartbeat_response(from, read_round, last_index),
            Message::InstallSnapshot {
                meta,
                offset,
                data,
                done,
            } => {
                if !self.is_leader() {
                    self.handle_install_snapshot(from, meta, offset, data, done)?;
                }
            }
            Message::InstallSnapshotResponse {
                next_offset,
                installed,
            } => self.handle_install_snapshot_response(from, next_offset, installed),
            Message::TimeoutNow => {
                if matches!(self.role, Role::Follower) {
                    self.start_election(true);
                }
            }
        }
        Ok(())
    }
}

/// Entries in an append must follow `prev_index` without gaps, with terms that never
/// decrease, starting at `prev_term` or later and never past the leader's term.
fn validate_entries(
    prev_index: Index,
    prev_term: Term,
    leader_term: Term,
    entries: &[Entry],
) -> Result<(), StepError> {
    let mut expected_index = prev_index.next();
    let mut min_term = prev_term;
    for entry in entries {
        if entry.index != expected_index {
            return Err(StepError::MalformedAppend(
                "entry indexes are not contiguous",
            ));
        }
        if entry.term < min_term || entry.term > leader_term {
            return Err(StepError::MalformedAppend("entry terms out of order"));
        }
        expected_index = expected_index.next();
        min_term = entry.term;
    }
    Ok(())
}
