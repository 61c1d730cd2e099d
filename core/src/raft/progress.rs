//! What a leader knows about each follower's log, and how it sends to it.
//!
//! Each follower is in one of three states, and all transitions between them live here rather
//! than being strewn around the node:
//! - `Probe`: the leader does not know where the follower's log matches its own. It sends one
//!   append at a time and waits for the answer (or a heartbeat answer) before sending more.
//! - `Replicate`: the follower is known to match up to `match_index`. The leader streams
//!   appends optimistically (pipelining), with at most `inflight_max` unacknowledged messages.
//! - `Snapshot`: the entries the follower needs were compacted away; the leader streams a
//!   snapshot in chunks, one chunk in flight at a time.

use crate::types::Index;
use std::collections::VecDeque;

/// How the leader currently sends to a follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendState {
    /// One append in flight at most; `paused` while it is.
    Probe { paused: bool },
    /// Appends in flight, by the last index each carried.
    Replicate { inflight: VecDeque<Index> },
    /// A snapshot at `index` is being sent; `next_offset` is the next byte the follower wants.
    Snapshot {
        index: Index,
        next_offset: u64,
        chunk_in_flight: bool,
    },
}

/// The leader's view of one follower.
///
/// Invariant: `match_index < next_index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The highest index known to be durable on the follower and equal to the leader's.
    pub match_index: Index,
    /// The next index to send.
    pub next_index: Index,
    pub state: SendState,
    /// Whether the follower answered anything since the last check-quorum round.
    pub recent_active: bool,
    /// The last ReadIndex round the follower confirmed.
    pub read_round_acked: u64,
    /// The highest commit index sent to the follower in an append.
    pub commit_sent: Index,
}

impl Progress {
    /// A follower the leader knows nothing about yet: probe from the end of the leader's log.
    pub fn new(next_index: Index) -> Progress {
        Progress {
            match_index: Index(0),
            next_index,
            state: SendState::Probe { paused: false },
            recent_active: false,
            read_round_acked: 0,
            commit_sent: Index(0),
        }
    }

    /// Whether the leader may send another append now.
    pub fn can_send(&self, inflight_max: u32) -> bool {
        match &self.state {
            SendState::Probe { paused } => !paused,
            SendState::Replicate { inflight } => (inflight.len() as u64) < u64::from(inflight_max),
            SendState::Snapshot { .. } => false,
        }
    }

    /// Records that an append carrying entries up to `last` was sent.
    pub fn sent(&mut self, last: Index) {
        match &mut self.state {
            SendState::Probe { paused } => *paused = true,
            SendState::Replicate { inflight } => {
                inflight.push_back(last);
                self.next_index = last.next();
            }
            SendState::Snapshot { .. } => {}
        }
    }

    /// The follower holds everything up to `index`. Returns whether anything changed.
    pub fn acknowledged(&mut self, index: Index) -> bool {
        let advanced = index > self.match_index;
        if advanced {
            self.match_index = index;
        }
        if self.next_index <= index {
            self.next_index = index.next();
        }
        match &mut self.state {
            SendState::Probe { .. } => self.become_replicate(),
            SendState::Replicate { inflight } => {
                while inflight.front().is_some_and(|&last| last <= index) {
                    inflight.pop_front();
                }
            }
            SendState::Snapshot { .. } => {}
        }
        advanced
    }

    /// The follower rejected an append; resume from `next` (never at or below the match).
    pub fn rejected(&mut self, next: Index) {
        self.next_index = next.max(self.match_index.next());
        self.state = SendState::Probe { paused: false };
    }

    /// The follower answered a heartbeat: a paused probe may try again.
    pub fn unpause(&mut self) {
        match &mut self.state {
            SendState::Probe { paused } => *paused = false,
            SendState::Snapshot {
                chunk_in_flight, ..
            } => *chunk_in_flight = false,
            SendState::Replicate { .. } => {}
        }
    }

    /// Forgets the oldest append in flight, whose acknowledgement is presumed lost.
    pub fn free_one(&mut self) {
        if let SendState::Replicate { inflight } = &mut self.state {
            inflight.pop_front();
        }
    }

    /// Starts sending the snapshot at `index`.
    pub fn become_snapshot(&mut self, index: Index) {
        self.state = SendState::Snapshot {
            index,
            next_offset: 0,
            chunk_in_flight: false,
        };
    }

    /// The follower installed a snapshot at `index`: resume appends after it.
    pub fn snapshot_installed(&mut self, index: Index) {
        self.match_index = self.match_index.max(index);
        self.next_index = self.match_index.next();
        self.become_replicate();
    }

    fn become_replicate(&mut self) {
        self.next_index = self.next_index.max(self.match_index.next());
        self.state = SendState::Replicate {
            inflight: VecDeque::new(),
        };
    }

    /// A short name of the state, for status views.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            SendState::Probe { .. } => "probe",
            SendState::Replicate { .. } => "replicate",
            SendState::Snapshot { .. } => "snapshot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_pauses_until_answer_then_replicates() {
        let mut p = Progress::new(Index(5));
        assert!(p.can_send(4));
        p.sent(Index(6));
        assert!(!p.can_send(4));
        p.acknowledged(Index(6));
        assert_eq!(p.state_name(), "replicate");
        assert_eq!((p.match_index, p.next_index), (Index(6), Index(7)));
    }

    #[test]
    fn replicate_limits_inflight_and_frees_on_ack() {
        let mut p = Progress::new(Index(1));
        p.acknowledged(Index(0));
        p.sent(Index(3));
        p.sent(Index(5));
        assert!(!p.can_send(2));
        assert_eq!(p.next_index, Index(6));
        p.acknowledged(Index(3));
        assert!(p.can_send(2));
    }

    #[test]
    fn rejection_never_goes_below_match() {
        let mut p = Progress::new(Index(1));
        p.acknowledged(Index(4));
        p.rejected(Index(2));
        assert_eq!(p.next_index, Index(5));
        assert_eq!(p.state_name(), "probe");
    }
}
