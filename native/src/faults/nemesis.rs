//! The faults of a fault run, one after another: kill -9 and restart, SIGSTOP and SIGCONT,
//! partitions (through the nodes' `RAFT.PARTITION`), leadership transfers, and membership
//! changes (a follower removed, wiped, restarted with `--join`, added back as a learner
//! and promoted). [`Nemesis::restore`] undoes everything at the end.

use super::procs::Proc;
use super::workload::Rng;
use crate::resp::Reply;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a membership step may take before the run moves on.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the end of the run waits for each node to be a voter again.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the nemesis polls a node's status while it waits.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The fault injector and the cluster it owns.
#[derive(Debug)]
pub struct Nemesis {
    pub procs: Vec<Proc>,
    bin: PathBuf,
    token: String,
    rng: Rng,
    /// How many faults of each kind were injected.
    pub counts: BTreeMap<&'static str, u64>,
    /// A line per fault, for the report.
    pub journal: Vec<String>,
    /// Nodes that exited by themselves (a crash, a refusal to start), with their last log
    /// lines: each one is a finding.
    pub crashes: Vec<String>,
    started: Instant,
}

impl Nemesis {
    pub fn new(procs: Vec<Proc>, bin: PathBuf, token: String, seed: u64) -> Nemesis {
        Nemesis {
            procs,
            bin,
            token,
            rng: Rng(seed | 1),
            counts: BTreeMap::new(),
            journal: Vec::new(),
            crashes: Vec::new(),
            started: Instant::now(),
        }
    }

    fn note(&mut self, kind: &'static str, text: String) {
        *self.counts.entry(kind).or_default() += 1;
        let line = format!(
            "{:>7.1}s {kind}: {text}",
            self.started.elapsed().as_secs_f64()
        );
        tracing::info!("{line}");
        self.journal.push(line);
    }

    fn millis(&mut self, min: u64, max: u64) -> Duration {
        Duration::from_millis(min + self.rng.below(max - min + 1))
    }

    fn proc_index(&self, id: u64) -> Option<usize> {
        self.procs.iter().position(|p| p.id == id)
    }

    /// The leader with the highest term among the nodes that answer, with its status.
    pub fn leader(&self) -> Option<(u64, Value)> {
        self.procs
            .iter()
            .filter_map(|p| p.status(&self.token).map(|s| (p.id, s)))
            .filter(|(_, s)| s["role"] == "leader")
            .max_by_key(|(_, s)| s["term"].as_u64().unwrap_or(0))
    }

    /// Records nodes that exited by themselves, and starts them again.
    pub fn check_exits(&mut self) {
        for index in 0..self.procs.len() {
            if let Some(status) = self.procs[index].exited() {
                let id = self.procs[index].id;
                let tail = self.procs[index].log_tail(5);
                self.crashes
                    .push(format!("node {id} exited by itself ({status}):\n{tail}"));
                self.note("error", format!("node {id} exited by itself ({status})"));
                self.procs[index].kill();
                let _ = self.procs[index].start(&self.bin);
            }
        }
    }

    /// Runs one random fault to its end, then waits a moment.
    pub fn step(&mut self) {
        self.check_exits();
        match self.rng.below(12) {
            0..=2 => self.kill_and_restart(false),
            3 => self.kill_and_restart(true),
            4 | 5 => self.pause_and_resume(),
            6..=8 => self.partition_and_heal(),
            9 | 10 => self.transfer(),
            _ => self.membership_change(),
        }
        let gap = self.millis(200, 800);
        sleep(gap);
    }

    fn random_running(&mut self) -> Option<usize> {
        let running: Vec<usize> = (0..self.procs.len())
            .filter(|&i| self.procs[i].is_running() && !self.procs[i].paused)
            .collect();
        (!running.is_empty()).then(|| running[self.rng.below(running.len() as u64) as usize])
    }

    fn kill_and_restart(&mut self, leader: bool) {
        let target = if leader {
            self.leader().and_then(|(id, _)| self.proc_index(id))
        } else {
            self.random_running()
        };
        let Some(index) = target else {
            return;
        };
        let down = self.millis(300, 2500);
        let id = self.procs[index].id;
        let what = if leader { "the leader" } else { "node" };
        self.note("kill -9", format!("{what} {id}, restart after {down:?}"));
        self.procs[index].kill();
        sleep(down);
        if let Err(error) = self.procs[index].start(&self.bin) {
            self.note("error", format!("cannot restart node {id}: {error}"));
        }
    }

    fn pause_and_resume(&mut self) {
        let Some(index) = self.random_running() else {
            return;
        };
        let pause = self.millis(300, 2500);
        let id = self.procs[index].id;
        self.note("pause", format!("SIGSTOP node {id} for {pause:?}"));
        self.procs[index].pause();
        sleep(pause);
        self.procs[index].resume();
    }

    fn partition_and_heal(&mut self) {
        let mut ids: Vec<u64> = self.procs.iter().map(|p| p.id).collect();
        for i in (1..ids.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            ids.swap(i, j);
        }
        let minority = 1 + self.rng.below((ids.len() as u64 - 1) / 2) as usize;
        let (small, large) = ids.split_at(minority);
        let (small, large) = (small.to_vec(), large.to_vec());
        let length = self.millis(500, 3000);
        self.note("partition", format!("{small:?} | {large:?} for {length:?}"));
        for proc in &self.procs {
            let other = if small.contains(&proc.id) {
                &large
            } else {
                &small
            };
            let ids: Vec<String> = other.iter().map(u64::to_string).collect();
            let mut args = vec!["RAFT.PARTITION"];
            args.extend(ids.iter().map(String::as_str));
            let _ = proc.admin(&self.token, &args);
        }
        sleep(length);
        self.heal();
    }

    /// Heals every partition (nodes that are down start healed anyway).
    pub fn heal(&mut self) {
        for proc in &self.procs {
            let _ = proc.admin(&self.token, &["RAFT.HEAL"]);
        }
    }

    fn transfer(&mut self) {
        let Some((leader, status)) = self.leader() else {
            return;
        };
        let voters = voters(&status);
        let others: Vec<u64> = voters.into_iter().filter(|&v| v != leader).collect();
        if others.is_empty() {
            return;
        }
        let target = others[self.rng.below(others.len() as u64) as usize];
        let Some(index) = self.proc_index(leader) else {
            return;
        };
        let target_text = target.to_string();
        let reply = self.procs[index].admin(&self.token, &["RAFT.TRANSFER", &target_text]);
        self.note(
            "transfer",
            format!("leader {leader} -> {target}: {reply:?}"),
        );
    }

    /// Removes a follower, wipes it, and brings it back as a learner, then a voter.
    fn membership_change(&mut self) {
        let Some((leader, status)) = self.leader() else {
            return;
        };
        let candidates: Vec<u64> = voters(&status)
            .into_iter()
            .filter(|&v| v != leader)
            .filter(|&v| {
                self.proc_index(v)
                    .is_some_and(|i| self.procs[i].is_running())
            })
            .collect();
        if candidates.len() < 4 {
            return;
        }
        let victim = candidates[self.rng.below(candidates.len() as u64) as usize];
        let text = victim.to_string();
        let reply = self.call_leader(&["RAFT.REMOVE", &text]);
        self.note("remove and rejoin", format!("remove {victim}: {reply:?}"));
        if !self.wait_for(|status| !members(status).contains_key(&victim)) {
            self.note(
                "membership step",
                format!("removal of {victim} not seen in time"),
            );
            return;
        }
        let Some(index) = self.proc_index(victim) else {
            return;
        };
        self.procs[index].kill();
        if let Err(error) = self.procs[index].wipe() {
            self.note("error", format!("cannot wipe node {victim}: {error}"));
        }
        self.procs[index].joining = true;
        if let Err(error) = self.procs[index].start(&self.bin) {
            self.note("error", format!("cannot restart node {victim}: {error}"));
        }
        self.add_back(victim, STEP_TIMEOUT);
    }

    /// Adds `id` back as a learner if it is not a member, and promotes it once it caught up.
    fn add_back(&mut self, id: u64, within: Duration) {
        let Some(index) = self.proc_index(id) else {
            return;
        };
        let address = self.procs[index].peer_address();
        let text = id.to_string();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let role = self.leader().map(|(_, s)| members(&s).get(&id).cloned());
            match role {
                Some(None) => {
                    let reply = self.call_leader(&["RAFT.ADDLEARNER", &text, &address]);
                    self.note("membership step", format!("add learner {id}: {reply:?}"));
                }
                Some(Some(role)) if role == "Learner" => {
                    let caught_up = self.leader().is_some_and(|(_, s)| {
                        let matched = s["peers"][&text]["match"].as_u64().unwrap_or(0);
                        matched + 10 >= s["commit"].as_u64().unwrap_or(0)
                    });
                    if caught_up {
                        let reply = self.call_leader(&["RAFT.PROMOTE", &text]);
                        self.note("membership step", format!("promote {id}: {reply:?}"));
                    }
                }
                Some(Some(_)) => return,
                None => {}
            }
            sleep(POLL_INTERVAL * 3);
        }
        self.note(
            "membership step",
            format!("node {id} is not a voter again yet"),
        );
    }

    fn call_leader(&self, args: &[&str]) -> Option<Reply> {
        let (leader, _) = self.leader()?;
        self.procs[self.proc_index(leader)?].admin(&self.token, args)
    }

    /// Waits until the leader's status satisfies `done`.
    fn wait_for(&self, done: impl Fn(&Value) -> bool) -> bool {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while Instant::now() < deadline {
            if self.leader().is_some_and(|(_, s)| done(&s)) {
                return true;
            }
            sleep(POLL_INTERVAL);
        }
        false
    }

    /// Ends every fault: heals partitions, resumes paused nodes, restarts stopped ones, and
    /// makes every node a voter again.
    pub fn restore(&mut self) {
        for proc in &mut self.procs {
            proc.resume();
        }
        self.check_exits();
        for index in 0..self.procs.len() {
            if !self.procs[index].is_running() || self.procs[index].exited().is_some() {
                self.procs[index].kill();
                let _ = self.procs[index].start(&self.bin);
            }
        }
        self.heal();
        let ids: Vec<u64> = self.procs.iter().map(|p| p.id).collect();
        for id in ids {
            self.add_back(id, RESTORE_TIMEOUT);
        }
    }
}

/// The members of a status's configuration, by id, with their role ("Voter", "Learner").
pub fn members(status: &Value) -> BTreeMap<u64, String> {
    status["membership"]["members"]
        .as_object()
        .map(|members| {
            members
                .iter()
                .filter_map(|(id, m)| {
                    Some((
                        id.parse().ok()?,
                        m["role"].as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn voters(status: &Value) -> Vec<u64> {
    members(status)
        .into_iter()
        .filter(|(_, role)| role == "Voter")
        .map(|(id, _)| id)
        .collect()
}
