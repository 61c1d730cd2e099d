//! The scenario library: one-click runs that show one thing about Raft, each with a
//! narration that stops the run at every step.
//!
//! A scenario is not a canned animation: it is a seed, options and a tape of actions, the
//! same thing a replay link holds, played by the real core. The tape is written by
//! simulating: the builder runs the cluster, looks at it (who leads now?) and acts, so
//! "crash the leader" crashes whichever node really leads. The narration is pinned to the
//! virtual times at which the builder spoke.

use super::defaults::page_options;
use super::session::{Detail, Run, Session};
use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::{Action, ClientCommand, SimOptions};
use flotilla_core::types::{Millis, NodeId};

/// One narrated step: shown when the run reaches `at_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at_ms: Millis,
    pub text: String,
}

/// A built scenario, ready to play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub title: &'static str,
    pub run: Run,
    pub steps: Vec<Step>,
    /// Index into the page's speeds.
    pub speed: usize,
}

/// An entry of the library.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub key: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
}

pub const LIBRARY: [Entry; 9] = [
    Entry {
        key: "leader-crash",
        title: "Leader crash and re-election",
        summary: "The leader dies; a follower times out, wins a vote, and the old leader comes back as a follower.",
    },
    Entry {
        key: "split-vote",
        title: "Split vote",
        summary: "Three candidates at once: nobody gets a majority, and randomized timeouts break the tie.",
    },
    Entry {
        key: "partition",
        title: "Minority and majority partitions",
        summary: "The leader is cut off with one follower: its writes cannot commit, the majority elects a new leader, and healing repairs the logs.",
    },
    Entry {
        key: "figure-7",
        title: "Divergent logs (Raft paper, Figure 7)",
        summary: "Followers missing entries and holding extra ones; the new leader makes every log match its own.",
    },
    Entry {
        key: "figure-8",
        title: "Committing old entries (Figure 8, bug planted)",
        summary: "With commit-previous-term planted, a leader commits an entry of an earlier term by counting replicas, and a later leader overwrites it. The checkers turn red.",
    },
    Entry {
        key: "stale-read",
        title: "Stale read (bug planted)",
        summary: "With stale-read planted, a deposed leader answers a read from its own state without asking a quorum. The linearizability checker turns red.",
    },
    Entry {
        key: "membership",
        title: "Membership change",
        summary: "A new server joins as a learner, catches up, and is promoted to voter.",
    },
    Entry {
        key: "snapshot",
        title: "InstallSnapshot to a lagging node",
        summary: "A follower is down while the leader compacts its log; when it returns, the entries it needs are gone, so it gets the snapshot.",
    },
    Entry {
        key: "unsynced",
        title: "Unsynced write lost in a crash",
        summary: "A leader takes a write and crashes before its fsync completes: the entry is gone after restart, and nobody was ever told it committed.",
    },
];

/// Speeds, as indexes into the page's speed list.
const SLOW: usize = 3; // 1/10x
const NORMAL: usize = 4; // 1/5x

/// Builds the scenario called `key`.
pub fn build(key: &str) -> Result<Scenario, String> {
    match key {
        "leader-crash" => leader_crash(),
        "split-vote" => split_vote(),
        "partition" => partition(),
        "figure-7" => figure_7(),
        "figure-8" => figure_8(),
        "stale-read" => stale_read(),
        "membership" => membership(),
        "snapshot" => snapshot(),
        "unsynced" => unsynced(),
        _ => Err(format!("no scenario called {key}")),
    }
}

/// Writes a scenario's tape by simulating it.
struct Builder {
    title: &'static str,
    session: Session,
    steps: Vec<Step>,
}

impl Builder {
    fn new(title: &'static str, seed: u64, options: SimOptions) -> Result<Builder, String> {
        Ok(Builder {
            title,
            session: Session::new(Run {
                seed,
                options,
                tape: Vec::new(),
            })?,
            steps: Vec::new(),
        })
    }

    fn now(&self) -> Millis {
        self.session.now()
    }

    fn run_for(&mut self, ms: Millis) {
        let target = self.now() + ms;
        self.session.advance_to(target, Detail::Bulk);
    }

    /// Runs one instant at a time until `done` holds; fails after `limit_ms`.
    fn wait(&mut self, limit_ms: Millis, done: impl Fn(&Session) -> bool) -> Result<(), String> {
        let limit = self.now() + limit_ms;
        while !done(&self.session) {
            if self.now() >= limit {
                return Err(format!(
                    "{}: gave up waiting at {} ms",
                    self.title,
                    self.now()
                ));
            }
            self.session.step_instant();
        }
        Ok(())
    }

    fn wait_leader(&mut self, limit_ms: Millis) -> Result<NodeId, String> {
        self.wait(limit_ms, |s| s.leader().is_some())?;
        self.session.leader().ok_or_else(|| "no leader".into())
    }

    fn act(&mut self, action: Action) {
        self.session.act(action);
    }

    fn put(&mut self, node: NodeId, key: &str, value: &str) {
        self.act(Action::Request {
            node,
            command: ClientCommand::Put {
                key: key.into(),
                value: value.into(),
            },
        });
    }

    fn say(&mut self, text: impl Into<String>) {
        self.steps.push(Step {
            at_ms: self.now(),
            text: text.into(),
        });
    }

    fn term(&self, node: NodeId) -> u64 {
        self.session
            .sim()
            .replica(node)
            .map_or(0, |r| r.node().term().0)
    }

    fn finish(self, speed: usize) -> Scenario {
        Scenario {
            title: self.title,
            run: self.session.run().clone(),
            steps: self.steps,
            speed,
        }
    }
}

fn n(id: NodeId) -> String {
    format!("n{}", id.0)
}

fn leader_crash() -> Result<Scenario, String> {
    let mut b = Builder::new("Leader crash and re-election", 3, page_options(5))?;
    b.say("Five followers, each with an election timer (the arc). The first timer to run out makes its node a candidate.");
    let leader = b.wait_leader(2_000)?;
    b.say(format!(
        "{} won the vote and leads term {}. Its heartbeats (HB) reset every follower's timer, so nobody else campaigns.",
        n(leader),
        b.term(leader)
    ));
    b.run_for(400);
    b.act(Action::Crash { node: leader });
    b.say(format!(
        "{} crashes. Heartbeats stop; the followers' timers keep running down.",
        n(leader)
    ));
    b.wait(2_000, |s| s.leader().is_some())?;
    let next = b.session.leader().ok_or("no new leader")?;
    b.say(format!(
        "{} timed out first, asked for pre-votes and then votes, and now leads term {}. A majority of four live nodes is enough.",
        n(next),
        b.term(next)
    ));
    b.run_for(300);
    b.act(Action::Restart { node: leader });
    b.say(format!(
        "{} restarts from its disk. It still thinks the term is {}; the first message from {} tells it otherwise.",
        n(leader),
        b.term(leader),
        n(next)
    ));
    b.run_for(400);
    b.say(format!(
        "{} is a follower again in term {}. One leader per term, always.",
        n(leader),
        b.term(leader)
    ));
    Ok(b.finish(NORMAL))
}

fn split_vote() -> Result<Scenario, String> {
    // Find a seed where three simultaneous candidates really split the vote in their term.
    for seed in 1..200 {
        let mut options = page_options(5);
        options.raft.pre_vote = false;
        let mut b = Builder::new("Split vote", seed, options)?;
        b.run_for(20);
        b.say(
            "Pre-vote is off here. Nodes n1, n3 and n5 are about to time out at the same instant.",
        );
        for i in [1, 3, 5] {
            b.act(Action::Campaign { node: NodeId(i) });
        }
        b.say("Each votes for itself and asks the others. n2 and n4 can vote only once per term, so at most one candidate can reach three votes.");
        b.run_for(80);
        if b.session.leader().is_some() {
            continue;
        }
        b.say("Nobody reached a majority of 3: the vote is split. The candidates wait for their election timers, each drawn at random between 150 and 300 ms.");
        let leader = match b.wait_leader(3_000) {
            Ok(leader) => leader,
            Err(_) => continue,
        };
        b.say(format!(
            "{} timed out first in the next round and won term {}. Randomized timeouts make repeated splits unlikely.",
            n(leader),
            b.term(leader)
        ));
        b.run_for(300);
        return Ok(b.finish(SLOW));
    }
    Err("no seed splits the vote".into())
}

fn partition() -> Result<Scenario, String> {
    let mut b = Builder::new("Minority and majority partitions", 5, page_options(5))?;
    let leader = b.wait_leader(2_000)?;
    b.run_for(200);
    let others: Vec<NodeId> = (1..=5).map(NodeId).filter(|&i| i != leader).collect();
    let buddy = others[0];
    let majority: Vec<NodeId> = others[1..].to_vec();
    b.put(leader, "x", "1");
    b.run_for(150);
    b.say(format!(
        "{} leads; x=1 is committed on all five logs.",
        n(leader)
    ));
    b.act(Action::Partition {
        groups: vec![vec![leader, buddy], majority.clone()],
    });
    b.say(format!(
        "The network splits: {} and {} on one side, three nodes on the other.",
        n(leader),
        n(buddy)
    ));
    b.put(leader, "x", "2");
    b.run_for(150);
    b.say(format!(
        "A client writes x=2 to {}. It appends the entry and replicates it to {}, but two of five is no majority: the entry stays uncommitted (pale).",
        n(leader),
        n(buddy)
    ));
    b.wait(2_000, |s| s.leader().is_some_and(|l| majority.contains(&l)))?;
    let new_leader = b.session.leader().ok_or("no leader")?;
    b.say(format!(
        "On the majority side the timers ran out: {} leads term {}. With check-quorum, {} noticed it lost its majority and stepped down.",
        n(new_leader),
        b.term(new_leader),
        n(leader)
    ));
    b.put(new_leader, "x", "3");
    b.run_for(150);
    b.say(format!(
        "x=3 written to {} commits: three of five is a majority.",
        n(new_leader)
    ));
    b.act(Action::Heal);
    b.say("The partition heals.");
    b.run_for(300);
    b.say(format!(
        "{} and {} learn of term {}. Their uncommitted x=2 conflicts with the new leader's log and is replaced; every log now matches and x is 3 everywhere.",
        n(leader),
        n(buddy),
        b.term(new_leader)
    ));
    Ok(b.finish(NORMAL))
}

fn figure_7() -> Result<Scenario, String> {
    let mut options = page_options(5);
    options.raft.pre_vote = false;
    let mut b = Builder::new("Divergent logs (Figure 7)", 7, options)?;
    let first = b.wait_leader(2_000)?;
    b.run_for(100);
    for i in 1..=2 {
        b.put(first, &format!("a{i}"), "1");
    }
    b.run_for(150);
    let others: Vec<NodeId> = (1..=5).map(NodeId).filter(|&i| i != first).collect();
    let (lagger, rest) = (others[0], others[1..].to_vec());
    b.say(format!(
        "{} leads term {}; everyone holds the first entries.",
        n(first),
        b.term(first)
    ));
    b.act(Action::Isolate { node: lagger });
    for i in 1..=3 {
        b.put(first, &format!("b{i}"), "1");
    }
    b.run_for(150);
    b.say(format!(
        "{} is cut off and misses the next three entries, like follower (a) in the paper's Figure 7.",
        n(lagger)
    ));
    // The leader alone takes writes nobody else sees, then dies.
    b.act(Action::Partition {
        groups: vec![vec![first], rest.clone(), vec![lagger]],
    });
    for i in 1..=2 {
        b.put(first, &format!("c{i}"), "1");
    }
    b.run_for(60);
    b.say(format!(
        "Now {} is cut off too and takes two writes nobody else sees: extra, uncommitted entries of term {}, like followers (c) and (d).",
        n(first),
        b.term(first)
    ));
    b.act(Action::Crash { node: first });
    b.wait(3_000, |s| s.leader().is_some_and(|l| rest.contains(&l)))?;
    let second = b.session.leader().ok_or("no leader")?;
    for i in 1..=2 {
        b.put(second, &format!("d{i}"), "1");
    }
    b.run_for(150);
    b.say(format!(
        "{} crashed; {} leads term {} with the three nodes it can reach and commits two more entries.",
        n(first),
        n(second),
        b.term(second)
    ));
    b.act(Action::Heal);
    b.act(Action::Restart { node: first });
    b.say(format!(
        "Heal and restart. Three shapes of log: {} is missing entries, {} has entries from term {} at indexes the leader filled differently, the rest match.",
        n(lagger),
        n(first),
        b.term(first)
    ));
    b.run_for(500);
    b.say(format!(
        "{} found, for each follower, the last index where their logs agree (a rejected append carries a hint), deleted what conflicts and sent what is missing. Every log now matches the leader's.",
        n(second)
    ));
    Ok(b.finish(NORMAL))
}

fn figure_8() -> Result<Scenario, String> {
    // Elections and acknowledgements race; some seeds let another node win a step's
    // election. The first seed that plays the figure out is the scenario.
    let mut last_error = String::new();
    for seed in 1..100 {
        match figure_8_with(seed) {
            Ok(scenario) => return Ok(scenario),
            Err(error) => last_error = error,
        }
    }
    Err(format!("no seed plays Figure 8 out: {last_error}"))
}

fn figure_8_with(seed: u64) -> Result<Scenario, String> {
    let mut options = page_options(5);
    options.planted_bug = Some(PlantedBug::CommitPreviousTerm);
    options.raft.pre_vote = false;
    options.raft.check_quorum = false;
    // One entry per append, as in the paper's figure: n1 can then place its old entry on a
    // third node before its new term's first entry reaches anyone.
    options.raft.append_entries_max = 1;
    let mut b = Builder::new("Committing old entries (Figure 8)", seed, options)?;
    let (s1, s2, s3, s4, s5) = (NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5));
    let leads =
        |id: NodeId| move |s: &Session| s.sim().replica(id).is_some_and(|r| r.node().is_leader());
    b.run_for(5);
    b.act(Action::Campaign { node: s1 });
    b.wait(1_000, leads(s1))?;
    b.run_for(100);
    b.say("The commit-previous-term bug is planted: a leader commits any entry stored on a majority, whatever its term. n1 leads term 1.");
    b.act(Action::Partition {
        groups: vec![vec![s1, s2], vec![s3, s4, s5]],
    });
    b.put(s1, "x", "1");
    b.run_for(80);
    b.say("(a) n1 appends x=1 and replicates it to n2 only: the others are cut off.");
    b.act(Action::Crash { node: s1 });
    b.act(Action::Campaign { node: s5 });
    b.wait(1_000, leads(s5))?;
    // Cut n5 off at once: its own entries reach nobody.
    b.act(Action::Isolate { node: s5 });
    b.put(s5, "x", "5");
    b.run_for(30);
    b.act(Action::Crash { node: s5 });
    b.say(format!(
        "(b) n1 crashes. n5 wins term {} with votes from n3 and n4, writes x=5 at the same index, and crashes before anyone gets it.",
        b.term(s3)
    ));
    b.act(Action::Heal);
    b.act(Action::Restart { node: s1 });
    // Its first campaign is for term 2, in which n3 and n4 already voted for n5; the second
    // one, for term 3, gets their votes, as in the paper.
    b.act(Action::Campaign { node: s1 });
    b.run_for(80);
    b.act(Action::Campaign { node: s1 });
    b.wait(400, leads(s1))?;
    // Its first append to n2 never arrives: n2 keeps x=1 as its last entry.
    b.act(Action::CutLink { from: s1, to: s2 });
    b.wait(1_000, |s| {
        s.sim()
            .replica(NodeId(1))
            .is_some_and(|r| r.node().commit_index().0 >= 3)
    })?;
    // Nothing else n1 sends gets anywhere: its own new entry stays on n1.
    b.act(Action::Isolate { node: s1 });
    b.say(format!(
        "(c) n1 restarts and wins term {}. n3 and n4 lack x=1, so n1 sends it to them, one entry per message. x=1 is now on n1, n3 and n4, a majority. With the bug, n1 counts that majority and commits x=1, an entry of term 1 (index 3).",
        b.term(s1)
    ));
    b.act(Action::Crash { node: s1 });
    b.act(Action::Restart { node: s5 });
    // Term 3 is taken (n2, n3 and n4 voted for n1); n5's second campaign is for term 4.
    b.act(Action::Campaign { node: s5 });
    b.run_for(80);
    b.act(Action::Campaign { node: s5 });
    b.wait(400, leads(s5))?;
    b.run_for(250);
    if b.session.sim().violations().is_empty() {
        return Err(format!("seed {seed}: no violation"));
    }
    b.say("(d) n1 crashes; n5 returns. Its last entry is from term 2, later than x=1's term 1, so n2, n4 (and n3) find its log up to date and elect it. It overwrites index 3 everywhere: a committed entry changed. The checkers turn red; Raft's real rule commits only entries of the leader's own term.");
    Ok(b.finish(SLOW))
}

fn stale_read() -> Result<Scenario, String> {
    let mut options = page_options(5);
    options.planted_bug = Some(PlantedBug::StaleRead);
    options.raft.check_quorum = false;
    let mut b = Builder::new("Stale read", 11, options)?;
    let old = b.wait_leader(2_000)?;
    b.run_for(100);
    b.put(old, "x", "1");
    b.run_for(150);
    b.say(format!(
        "The stale-read bug is planted, and check-quorum is off. {} leads and x=1 is committed.",
        n(old)
    ));
    b.act(Action::Isolate { node: old });
    b.say(format!(
        "{} is cut off. Without check-quorum it goes on believing it leads.",
        n(old)
    ));
    b.wait(2_000, |s| s.leader().is_some_and(|l| l != old))?;
    let new = (1..=5)
        .map(NodeId)
        .filter(|&i| i != old)
        .find(|&i| {
            b.session
                .sim()
                .replica(i)
                .is_some_and(|r| r.node().is_leader())
        })
        .ok_or("no new leader")?;
    b.put(new, "x", "2");
    b.run_for(150);
    b.say(format!(
        "The others elect {} (term {}) and commit x=2. The write is acknowledged: every later read must see 2.",
        n(new),
        b.term(new)
    ));
    b.act(Action::Request {
        node: old,
        command: ClientCommand::Get { key: "x".into() },
    });
    b.run_for(100);
    b.say(format!(
        "A client reads x from {}. A correct leader would first confirm with a quorum (ReadIndex) and, cut off, never answer. With the bug it answers at once from its own state: x=1. The linearizability checker finds no order of these operations that explains it.",
        n(old)
    ));
    Ok(b.finish(NORMAL))
}

fn membership() -> Result<Scenario, String> {
    let mut b = Builder::new("Membership change", 4, page_options(3))?;
    let leader = b.wait_leader(2_000)?;
    b.act(Action::Autopilot { on: true });
    b.run_for(600);
    b.say(format!(
        "Three voters; {} leads, and the autopilot clients are writing.",
        n(leader)
    ));
    b.act(Action::AddNode { node: NodeId(4) });
    b.say("A fresh server n4 starts with an empty disk, and the leader appends a configuration entry (⚙) adding it as a learner: it receives the log but does not vote, so a majority is still two of three.");
    b.wait(3_000, |s| {
        let sim = s.sim();
        let leader_commit = s
            .leader()
            .and_then(|l| sim.replica(l))
            .map_or(0, |r| r.node().commit_index().0);
        sim.replica(NodeId(4))
            .is_some_and(|r| r.node().commit_index().0 >= leader_commit && leader_commit > 0)
    })?;
    b.run_for(100);
    b.say("n4 has caught up with the leader's log.");
    b.act(Action::Promote { node: NodeId(4) });
    b.run_for(200);
    b.say("The leader appends a second configuration entry promoting n4 to voter. Four voters now: a majority is three. One server at a time keeps old and new majorities overlapping.");
    b.run_for(400);
    b.act(Action::Autopilot { on: false });
    Ok(b.finish(NORMAL))
}

fn snapshot() -> Result<Scenario, String> {
    let mut options = page_options(3);
    options.raft.snapshot_entries = 1_000;
    let mut b = Builder::new("InstallSnapshot", 6, options)?;
    let leader = b.wait_leader(2_000)?;
    let lagger = (1..=3)
        .map(NodeId)
        .find(|&i| i != leader)
        .ok_or("no follower")?;
    b.run_for(100);
    b.act(Action::Crash { node: lagger });
    b.say(format!("{} leads; {} crashes.", n(leader), n(lagger)));
    b.act(Action::Autopilot { on: true });
    b.run_for(2_000);
    b.act(Action::Autopilot { on: false });
    b.run_for(300);
    b.say(format!(
        "Meanwhile the clients wrote many entries, committed by {} and the other follower.",
        n(leader)
    ));
    b.act(Action::Snapshot { node: leader });
    b.run_for(50);
    b.say(format!(
        "{} snapshots its state machine and drops the log up to there (the grey block): the entries {} is missing no longer exist as entries.",
        n(leader),
        n(lagger)
    ));
    b.act(Action::Restart { node: lagger });
    b.run_for(60);
    b.say(format!(
        "{} restarts. The leader cannot send it the entries it needs, so it sends the snapshot (IS messages, in chunks).",
        n(lagger)
    ));
    b.run_for(400);
    b.say(format!(
        "{} installed the snapshot: its log now starts at the snapshot and its key-value state matches.",
        n(lagger)
    ));
    Ok(b.finish(SLOW))
}

fn unsynced() -> Result<Scenario, String> {
    let mut options = page_options(3);
    // A slow disk, so the crash can land between the write and the fsync.
    options.disk.fsync_min_ms = 60;
    options.disk.fsync_max_ms = 80;
    options.disk.torn_writes = false;
    let mut b = Builder::new("Unsynced write lost", 9, options)?;
    let leader = b.wait_leader(3_000)?;
    b.run_for(300);
    b.act(Action::Isolate { node: leader });
    b.say(format!(
        "{} leads on a slow disk (fsyncs take 60–80 ms). It is cut off from the others for a moment.",
        n(leader)
    ));
    b.put(leader, "x", "lost");
    b.run_for(20);
    b.say(format!(
        "A client writes x=lost. {} appends it (dashed outline: written, not yet fsynced) and cannot replicate it.",
        n(leader)
    ));
    b.act(Action::Crash { node: leader });
    b.say("Power loss before the fsync completes: the page cache is gone, and with it the entry. The client never got an answer, so it knows the outcome is unknown.");
    b.act(Action::Heal);
    b.run_for(100);
    b.act(Action::Restart { node: leader });
    b.run_for(50);
    b.say(format!(
        "{} restarts from its disk: x=lost is not there. Nothing broke: only durable entries count towards a commit, and this one never was.",
        n(leader)
    ));
    b.run_for(400);
    Ok(b.finish(SLOW))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_builds_and_replays_to_the_same_hash() {
        for entry in LIBRARY {
            let scenario = build(entry.key).unwrap_or_else(|e| panic!("{}: {e}", entry.key));
            assert!(!scenario.steps.is_empty(), "{}", entry.key);
            let end = scenario.steps.last().map_or(0, |s| s.at_ms) + 100;
            let mut a = Session::new(scenario.run.clone()).expect("valid");
            a.advance_to(end, Detail::Bulk);
            let mut b = Session::new(scenario.run.clone()).expect("valid");
            for step in &scenario.steps {
                b.advance_to(step.at_ms, Detail::Every);
            }
            b.advance_to(end, Detail::Every);
            assert_eq!(a.trace_hash(), b.trace_hash(), "{}", entry.key);
        }
    }

    #[test]
    fn safe_scenarios_break_nothing() {
        for key in [
            "leader-crash",
            "split-vote",
            "partition",
            "figure-7",
            "membership",
            "snapshot",
            "unsynced",
        ] {
            let scenario = build(key).expect("builds");
            let end = scenario.steps.last().map_or(0, |s| s.at_ms) + 500;
            let mut s = Session::new(scenario.run).expect("valid");
            s.advance_to(end, Detail::Tail);
            assert!(
                s.sim().violations().is_empty(),
                "{key}: {:?}",
                s.sim().violations()
            );
        }
    }

    #[test]
    fn figure_8_turns_the_checkers_red() {
        let scenario = build("figure-8").expect("builds");
        let end = scenario.steps.last().map_or(0, |s| s.at_ms) + 100;
        let mut s = Session::new(scenario.run).expect("valid");
        s.advance_to(end, Detail::Tail);
        assert!(!s.sim().violations().is_empty(), "no violation");
    }

    #[test]
    fn stale_read_is_not_linearizable() {
        let scenario = build("stale-read").expect("builds");
        let end = scenario.steps.last().map_or(0, |s| s.at_ms) + 100;
        let mut s = Session::new(scenario.run).expect("valid");
        s.advance_to(end, Detail::Tail);
        let verdict = flotilla_core::check::linearizability::check(s.sim().history());
        assert!(!verdict.is_linearizable(), "{verdict:?}");
    }
}
