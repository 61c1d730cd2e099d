//! # Figure 16 of the Raft paper, reproduced
//!
//! Ongaro and Ousterhout measured how long a Raft cluster takes to detect and replace a
//! crashed leader (§9.3, Figure 16): five servers with a broadcast time of about 15 ms,
//! heartbeats every half minimum election timeout, a leader crashed at a uniformly random
//! point of its heartbeat interval right after a heartbeat round, servers with logs of
//! different lengths so that some cannot win, and the time measured until the other servers
//! hear from a new leader. Without randomness in election timeouts (150-150 ms), split votes
//! made every election take more than 10 s; 5 ms of randomness (150-155) gave a median of
//! 287 ms; with 150-200 the worst of 1,000 trials was 513 ms; and 12-24 ms timeouts gave a
//! mean of 35 ms and a worst case of 152 ms.
//!
//! Each trial here is a simulation in manual mode, driven as follows:
//!
//! 1. node 1 campaigns at once and wins;
//! 2. appends carrying entries are blocked from the leader to the last (n-1)/2 nodes (they
//!    still get heartbeats), and three writes commit on the others: the survivors now have
//!    unequal logs, and the laggards cannot win an election;
//! 3. a read makes the leader send a heartbeat round at a known instant (ReadIndex confirms
//!    leadership with one), and the leader crashes at a uniformly random point of the
//!    heartbeat interval that follows;
//! 4. the trial ends when every surviving server follows a new leader (has received its
//!    first append or heartbeat), or after [`TRIAL_MS_MAX`].
//!
//! The network delays each message by 5 to 10 ms (uniform), so a broadcast round trip takes
//! 10 to 20 ms, about 15 ms on average; disks sync in 0 to 1 ms.

use super::action::{Action, ClientCommand};
use super::cluster::Sim;
use super::options::{DiskOptions, NetworkOptions, SimOptions};
use super::rng::{derive_numbered, Stream};
use crate::types::{Millis, NodeId, Term};

/// A trial still without a new leader after this long is counted as "more than this".
pub const TRIAL_MS_MAX: Millis = 10_000;

/// The election timeout ranges of the paper's Figure 16 (ms) and their trial counts.
pub const PAPER_ROWS: [(Millis, Millis, u32); 10] = [
    (150, 150, 100),
    (150, 151, 1_000),
    (150, 155, 1_000),
    (150, 175, 1_000),
    (150, 200, 1_000),
    (150, 300, 1_000),
    (12, 24, 1_000),
    (25, 50, 1_000),
    (50, 100, 1_000),
    (100, 200, 1_000),
];

/// One row of the experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Election {
    pub servers: u32,
    pub timeout_min_ms: Millis,
    pub timeout_max_ms: Millis,
    /// Pre-vote (and check-quorum) on; the paper's Raft had neither.
    pub pre_vote: bool,
    pub trials: u32,
    pub seed: u64,
    /// One-way message delays are uniform in `[delay_min_ms, delay_max_ms]` (the paper's
    /// broadcast time of about 15 ms: 5 to 10 ms).
    pub delay_min_ms: Millis,
    pub delay_max_ms: Millis,
}

/// The paper's one-way delays: 5 to 10 ms, a broadcast round trip of about 15 ms.
pub const PAPER_DELAY_MS: (Millis, Millis) = (5, 10);

/// The measured times of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionResult {
    pub row: Election,
    /// Times from the crash until every survivor follows a new leader, sorted, in ms.
    pub times_ms: Vec<Millis>,
    /// Trials that took longer than [`TRIAL_MS_MAX`].
    pub over_limit: u32,
}

impl Election {
    fn options(&self) -> SimOptions {
        let mut options = SimOptions::manual(self.servers);
        options.raft.election_timeout_min_ms = self.timeout_min_ms;
        options.raft.election_timeout_max_ms = self.timeout_max_ms;
        options.raft.heartbeat_interval_ms = (self.timeout_min_ms / 2).max(1);
        options.raft.pre_vote = self.pre_vote;
        options.raft.check_quorum = self.pre_vote;
        options.raft.snapshot_entries = 1_000_000;
        options.network = NetworkOptions {
            latency_min_ms: self.delay_min_ms,
            latency_max_ms: self.delay_min_ms,
            jitter_ms: self.delay_max_ms.saturating_sub(self.delay_min_ms),
            loss_permille: 0,
            duplicate_permille: 0,
            client_latency_ms: 1,
        };
        options.disk = DiskOptions {
            fsync_min_ms: 0,
            fsync_max_ms: 1,
            torn_writes: false,
        };
        options
    }

    /// Runs every trial.
    pub fn run(&self) -> Result<ElectionResult, String> {
        let mut times_ms = Vec::with_capacity(self.trials as usize);
        let mut over_limit = 0;
        for trial in 0..self.trials {
            match self.trial(trial)? {
                Some(ms) => times_ms.push(ms),
                None => over_limit += 1,
            }
        }
        times_ms.sort_unstable();
        Ok(ElectionResult {
            row: *self,
            times_ms,
            over_limit,
        })
    }

    /// One trial: the time from the leader's crash until every survivor follows a new
    /// leader, or `None` past [`TRIAL_MS_MAX`].
    pub fn trial(&self, trial: u32) -> Result<Option<Millis>, String> {
        let (mut sim, mut rng) = self.setup(trial)?;
        // With short timeouts leadership may have moved meanwhile: crash whoever leads now.
        let (leader, term) =
            run_until_leader(&mut sim, TRIAL_MS_MAX).ok_or("no leader before the crash")?;
        // A heartbeat round at a known instant, then a crash within the next interval.
        sim.act(Action::Request {
            node: leader,
            command: ClientCommand::Get { key: "k0".into() },
        });
        let heartbeat_at = sim.now() + sim.options().network.client_latency_ms;
        let interval = sim.options().raft.heartbeat_interval_ms;
        let crash_at = heartbeat_at + rng.range(0, interval.saturating_sub(1));
        sim.run_until(crash_at);
        sim.act(Action::Crash { node: leader });
        let crashed_at = sim.now();
        let deadline = crashed_at + TRIAL_MS_MAX;
        while sim.now() <= deadline {
            if replaced(&sim, leader, term) {
                return Ok(Some(sim.now() - crashed_at));
            }
            if !sim.step() {
                break;
            }
        }
        Ok(None)
    }

    /// Steps 1 and 2 of a trial: a leader, and survivors with unequal logs.
    pub fn setup(&self, trial: u32) -> Result<(Sim, Stream), String> {
        let row = self.timeout_min_ms * 1_000_003 + self.timeout_max_ms;
        let seed = derive_numbered(self.seed ^ row, "figure16-trial", u64::from(trial));
        let rng = Stream::new(seed);
        let mut sim = Sim::new(seed, self.options())?;
        let first = NodeId(1);
        sim.act(Action::Campaign { node: first });
        let (leader, _) = run_until_leader(&mut sim, TRIAL_MS_MAX).ok_or("no first leader")?;
        // Unequal logs: the last (n-1)/2 servers get heartbeats but no entries.
        let n = u64::from(self.servers);
        for lagging in (n - (n - 1) / 2 + 1)..=n {
            sim.network_mut().block_entries(leader, NodeId(lagging));
        }
        for i in 0..3 {
            let put = ClientCommand::Put {
                key: format!("k{i}"),
                value: format!("v{i}"),
            };
            sim.act(Action::Request {
                node: leader,
                command: put,
            });
        }
        sim.run_until(sim.now() + 4 * self.timeout_min_ms.max(50));
        Ok((sim, rng))
    }
}

/// Runs until some node leads; returns it and its term.
fn run_until_leader(sim: &mut Sim, limit_ms: Millis) -> Option<(NodeId, Term)> {
    let deadline = sim.now() + limit_ms;
    while sim.now() <= deadline {
        let leader = (1..=u64::from(sim.options().nodes))
            .map(NodeId)
            .filter_map(|id| sim.replica(id))
            .find(|r| r.node().is_leader());
        if let Some(replica) = leader {
            return Some((replica.node().id(), replica.node().term()));
        }
        if !sim.step() {
            return None;
        }
    }
    None
}

/// Whether every server but `old` follows one new leader of a term after `term`.
fn replaced(sim: &Sim, old: NodeId, term: Term) -> bool {
    let mut new_leader = None;
    for id in (1..=u64::from(sim.options().nodes)).map(NodeId) {
        if id == old {
            continue;
        }
        let Some(node) = sim.replica(id).map(|r| r.node()) else {
            return false;
        };
        let Some(leader) = node.leader() else {
            return false;
        };
        if leader == old || node.term() <= term || new_leader.is_some_and(|l| l != leader) {
            return false;
        }
        new_leader = Some(leader);
    }
    new_leader.is_some()
}

impl ElectionResult {
    /// The `p`-th percentile (0 to 100) of all trials, counting those over the limit as
    /// longer than any measured; `None` if it falls among them.
    pub fn percentile(&self, p: u32) -> Option<Millis> {
        let total = self.times_ms.len() + self.over_limit as usize;
        if total == 0 {
            return None;
        }
        let rank = (total * p as usize).div_ceil(100).clamp(1, total);
        self.times_ms.get(rank - 1).copied()
    }

    pub fn min(&self) -> Option<Millis> {
        self.percentile(0)
    }

    pub fn max(&self) -> Option<Millis> {
        self.percentile(100)
    }

    /// The mean of all trials, or `None` if some went over the limit.
    pub fn mean(&self) -> Option<u64> {
        if self.over_limit > 0 || self.times_ms.is_empty() {
            return None;
        }
        Some(self.times_ms.iter().sum::<u64>() / self.times_ms.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashed_leader_is_replaced_within_a_few_timeouts() {
        let row = Election {
            servers: 5,
            timeout_min_ms: 150,
            timeout_max_ms: 300,
            pre_vote: false,
            trials: 20,
            seed: 1,
            delay_min_ms: PAPER_DELAY_MS.0,
            delay_max_ms: PAPER_DELAY_MS.1,
        };
        let result = row.run().expect("runs");
        assert_eq!(result.over_limit, 0);
        let (min, max) = (result.min().expect("min"), result.max().expect("max"));
        // At least the time for a survivor's timer to fire after the last heartbeat.
        assert!(min >= 150 - 75, "min {min}");
        assert!(max < 1_500, "max {max}");
        assert_eq!(row.trial(3), row.trial(3), "trials are deterministic");
    }

    #[test]
    fn survivors_have_unequal_logs_before_the_crash() {
        let row = Election {
            servers: 5,
            timeout_min_ms: 150,
            timeout_max_ms: 300,
            pre_vote: true,
            trials: 1,
            seed: 2,
            delay_min_ms: PAPER_DELAY_MS.0,
            delay_max_ms: PAPER_DELAY_MS.1,
        };
        let (sim, _) = row.setup(0).expect("sets up");
        let last = |id: u64| {
            let node = sim.replica(NodeId(id)).expect("running").node();
            (node.log().last_index(), node.leader())
        };
        let (leader_last, leader) = last(1);
        assert_eq!(leader, Some(NodeId(1)));
        assert_eq!(last(2), (leader_last, leader));
        assert_eq!(last(3), (leader_last, leader));
        // The laggards follow the leader (heartbeats arrive) but lack its three writes.
        for laggard in [4, 5] {
            let (index, follows) = last(laggard);
            assert_eq!(follows, Some(NodeId(1)));
            assert!(index.0 + 3 <= leader_last.0, "n{laggard} at {index}");
        }
    }
}
