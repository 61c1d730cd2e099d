//! A leader that is known to be gone: campaign when the lease ends, not a whole timeout later.
//!
//! The election timer is a failure detector for a silent leader: a follower that has heard
//! nothing for a random 150-300 ms (say) concludes the leader is gone. Often the driver knows
//! sooner: when a leader process dies, its kernel closes its TCP connections and the
//! followers read EOF at once. [`Node::leader_unreachable`] lets the driver say so, and the
//! follower then campaigns as soon as its *leader lease* ends (the minimum election timeout
//! after its last contact with the leader), plus a short delay that differs per follower so
//! that the survivors do not all campaign at the same instant and split the vote.
//!
//! That delay is a slot and a jitter: the other voters, in id order without the lost
//! leader, take turns of `(max - min) / 8 / their number` ms (4.5 ms for 5 voters with
//! 150-300 ms timeouts), and each draws a random point in the first half of its turn. So two
//! survivors never start within half a turn of each other, which on a loopback network is
//! more than a pre-vote and vote round; purely random draws in the same window would start
//! two campaigns within a round trip of each other about a third of the time. A survivor
//! whose log is behind is refused and falls back to its full random timeout, and the next
//! one's turn comes a few ms later.
//!
//! Nothing here weakens the protection against disruptive candidates: the campaign is an
//! ordinary one (a pre-vote round first, when pre-vote is on), and every other voter still
//! refuses a pre-vote while its own lease holds, so a follower that lost only its own
//! connection to a live leader cannot depose it. It only ever moves the deadline earlier,
//! and never before the lease ends, which the normal timer also never does.

use super::node::{Node, Role};
use crate::types::{Millis, NodeId};
use rand::RngExt;

/// All the survivors' turns after the lease fit in `(max - min) / this` ms of the election
/// timeout range: 18 ms with 150-300 ms timeouts, much less than the 75 ms mean that the
/// random timer adds over the lease.
pub const LEADER_LOSS_WINDOW_DIVISOR: Millis = 8;

impl Node {
    /// The driver saw this node's connection with its leader break (EOF, reset, refused).
    /// A follower then campaigns once its leader lease has ended, plus its turn among the
    /// other voters and a small random jitter (see the module docs), unless its timer fires
    /// sooner or it hears from a leader meanwhile. Does nothing on a leader, a candidate, a
    /// learner, or a follower that knows no leader. Calling it again changes nothing until
    /// the next contact with a leader.
    pub fn leader_unreachable(&mut self, now: Millis) {
        self.set_time(now);
        let (Role::Follower, Some(leader), Some(contact)) =
            (&self.role, self.leader, self.last_leader_contact)
        else {
            return;
        };
        let others: Vec<NodeId> = self
            .membership
            .voters()
            .into_iter()
            .filter(|&id| id != leader)
            .collect();
        let Some(turn) = others.iter().position(|&id| id == self.id()) else {
            return;
        };
        let (min, max) = (
            self.config.election_timeout_min_ms,
            self.config.election_timeout_max_ms,
        );
        let window = (max - min) / LEADER_LOSS_WINDOW_DIVISOR;
        let slot = (window / others.len() as Millis).max(1);
        let start = contact + min + turn as Millis * slot;
        if self.election_deadline <= start + slot {
            // Already as early as this would make it (or called before).
            return;
        }
        let jitter = self.rng.random_range(0..=slot / 2);
        self.election_deadline = (start + jitter).max(self.now);
    }
}
