//! A simulated run as the page plays it: the core's [`Sim`] plus the "tape" of user actions
//! with their virtual times, which is everything a replay link holds.
//!
//! Replay semantics, shared by playing, seeking and links: an action taped at `t` is applied
//! with [`Sim::act`] right after [`Sim::run_until`]`(t)`, i.e. after every event due at or
//! before `t`. Since `run_until(a); run_until(b)` handles exactly the events of
//! `run_until(b)`, it does not matter in how many frames the page got to `t`: playing live,
//! seeking back (re-simulating from time 0) and opening a link all give the same run, event
//! for event, and the same trace hash.
//!
//! The session also keeps what the drawing needs but the simulator does not: when each
//! message in flight was first seen (to animate it from sender to receiver), recent dropped
//! messages, the last trace lines, and virtual times for the client history.

use super::trace::{parse_drop, DropLine, TraceLine};
use flotilla_core::check::linearizability::KvOutput;
use flotilla_core::sim::{Action, Mode, Phase, ScheduledAction, Sim, SimOptions};
use flotilla_core::types::{Millis, NodeId};
use std::collections::{BTreeMap, VecDeque};

/// Trace lines the page keeps for the event timeline (older ones are only hashed).
pub const TRACE_KEEP: usize = 20_000;
/// Dropped messages kept for the animation.
const DROPS_KEEP: usize = 200;
/// How long a dropped message stays on screen, in virtual ms.
pub const DROP_SHOW_MS: Millis = 40;
/// When running ahead in bulk (seeking, fast-forward), the last this many virtual ms are
/// still simulated one instant at a time, so messages in flight at the end were seen when
/// they were sent and are drawn where they really are.
const DETAIL_TAIL_MS: Millis = 300;
/// Bulk runs go in chunks of this many virtual ms, draining the trace between chunks so
/// memory stays flat however long the run.
const CHUNK_MS: Millis = 500;

/// How closely [`Session::advance_to`] watches the simulator as it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// After every instant: exact send times for every message (slow playback).
    Every,
    /// Only over the last [`DETAIL_TAIL_MS`]: messages still in flight at the end are drawn
    /// where they are (seeking, fast playback).
    Tail,
    /// Never: nothing is drawn from this run (fast-forward at full speed, scenario
    /// building).
    Bulk,
}

/// Everything that determines a run: what a replay link holds (with a time to stop at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub seed: u64,
    pub options: SimOptions,
    /// User actions in time order.
    pub tape: Vec<ScheduledAction>,
}

/// Virtual times of one client operation (the history itself has logical times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpTimes {
    pub invoke_ms: Millis,
    pub complete_ms: Option<Millis>,
}

/// A message in flight.
#[derive(Clone, Copy, Debug)]
pub struct Flight<'a> {
    pub id: u64,
    pub sent_ms: Millis,
    pub deliver_ms: Millis,
    pub envelope: &'a flotilla_core::raft::Envelope,
}

/// A simulated run being played.
#[derive(Debug)]
pub struct Session {
    run: Run,
    /// How many tape actions have been applied.
    applied: usize,
    sim: Sim,
    /// The furthest virtual time simulated since the last fork: the scrubber's range.
    horizon: Millis,
    sent_at: BTreeMap<u64, Millis>,
    scanned_sends: u64,
    trace: VecDeque<TraceLine>,
    drops: VecDeque<DropLine>,
    ops: Vec<OpTimes>,
    /// Operations not yet settled, with the output they had when invoked: an operation has
    /// ended once it completes or its output changes (failed, unknown).
    pending_ops: Vec<(usize, KvOutput)>,
}

impl Session {
    pub fn new(run: Run) -> Result<Session, String> {
        let mut options = run.options.clone();
        // Keeping lines does not change the hash; the page drains them every frame.
        options.record_trace = true;
        let sim = Sim::new(run.seed, options)?;
        let mut session = Session {
            run,
            applied: 0,
            sim,
            horizon: 0,
            sent_at: BTreeMap::new(),
            scanned_sends: 0,
            trace: VecDeque::new(),
            drops: VecDeque::new(),
            ops: Vec::new(),
            pending_ops: Vec::new(),
        };
        session.observe(true);
        Ok(session)
    }

    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    pub fn run(&self) -> &Run {
        &self.run
    }

    pub fn now(&self) -> Millis {
        self.sim.now()
    }

    /// The end of the scrubber: the furthest time simulated, or the last taped action.
    pub fn horizon(&self) -> Millis {
        let last_action = self.run.tape.last().map_or(0, |a| a.at_ms);
        self.horizon.max(last_action).max(self.sim.now())
    }

    /// Whether the run can go on (an auto-mode run ends by itself).
    pub fn finished(&self) -> bool {
        self.sim.phase() == Phase::Done
    }

    pub fn trace_hash(&self) -> String {
        format!("{:016x}", self.sim.trace().hash())
    }

    pub fn trace_lines(&self) -> &VecDeque<TraceLine> {
        &self.trace
    }

    pub fn trace_count(&self) -> u64 {
        self.sim.trace().count()
    }

    pub fn drops(&self) -> impl Iterator<Item = &DropLine> {
        self.drops.iter()
    }

    pub fn op_times(&self) -> &[OpTimes] {
        &self.ops
    }

    /// The tape actions still ahead of the current time (replayed when playing on).
    pub fn future_actions(&self) -> &[ScheduledAction] {
        &self.run.tape[self.applied.min(self.run.tape.len())..]
    }

    /// Messages in flight, with the time each was first seen.
    pub fn flights(&self) -> Vec<Flight<'_>> {
        let mut flights: Vec<Flight<'_>> = self
            .sim
            .in_flight_ids()
            .map(|(id, deliver_ms, envelope)| Flight {
                id,
                sent_ms: self.sent_at.get(&id).copied().unwrap_or(self.sim.now()),
                deliver_ms,
                envelope,
            })
            .collect();
        flights.sort_by_key(|f| f.id);
        flights
    }

    /// Simulates up to virtual time `target`, applying taped actions on the way, watching
    /// as closely as `detail` says.
    pub fn advance_to(&mut self, target: Millis, detail: Detail) {
        loop {
            if self.finished() {
                break;
            }
            let due = self
                .run
                .tape
                .get(self.applied)
                .filter(|a| a.at_ms <= target)
                .map(|a| a.at_ms);
            self.run_events(due.unwrap_or(target), detail);
            let Some(_) = due else { break };
            let action = self.run.tape[self.applied].action.clone();
            self.sim.act(action);
            self.applied += 1;
            self.observe(true);
        }
        self.horizon = self.horizon.max(self.sim.now());
    }

    /// Runs to the next instant at which something happens (an event or a taped action).
    pub fn step_instant(&mut self) {
        let next_event = self.sim.next_event_time();
        let next_action = self.run.tape.get(self.applied).map(|a| a.at_ms);
        let next = match (next_event, next_action) {
            (Some(e), Some(a)) => e.min(a),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return,
        };
        self.advance_to(next.max(self.sim.now()), Detail::Every);
    }

    /// Applies a user action now. Taped actions after now are discarded: acting in the past
    /// forks the run.
    pub fn act(&mut self, action: Action) {
        if self.finished() {
            return;
        }
        self.run.tape.truncate(self.applied);
        let at_ms = self.sim.now();
        self.run.tape.push(ScheduledAction {
            at_ms,
            action: action.clone(),
        });
        self.sim.act(action);
        self.applied += 1;
        self.horizon = at_ms;
        self.observe(true);
    }

    /// Moves to virtual time `t`: forward by simulating, backward by simulating again from
    /// time 0 (the tape is kept, so playing on replays the same future).
    pub fn seek(&mut self, t: Millis) -> Result<(), String> {
        if t < self.sim.now() {
            let horizon = self.horizon;
            let mut fresh = Session::new(self.run.clone())?;
            fresh.horizon = horizon;
            *self = fresh;
        }
        self.advance_to(t, Detail::Tail);
        Ok(())
    }

    /// Runs until `deadline_left()` says time is up (fast-forward as fast as the wasm
    /// runs), at most to `limit`. Returns the virtual time reached.
    pub fn run_for(&mut self, limit: Millis, deadline_left: &mut dyn FnMut() -> bool) -> Millis {
        while self.sim.now() < limit && !self.finished() && deadline_left() {
            let next = (self.sim.now() + 20).min(limit);
            self.advance_to(next, Detail::Bulk);
        }
        self.sim.now()
    }

    fn run_events(&mut self, stop: Millis, detail: Detail) {
        if detail != Detail::Every {
            let tail_from = match detail {
                Detail::Tail => stop.saturating_sub(DETAIL_TAIL_MS),
                _ => stop,
            };
            while self.sim.now() + CHUNK_MS < tail_from && !self.finished() {
                self.sim.run_until(self.sim.now() + CHUNK_MS);
                self.observe(false);
            }
            if self.sim.now() < tail_from {
                self.sim.run_until(tail_from);
                self.observe(false);
            }
        }
        while let Some(next) = self.sim.next_event_time() {
            if next > stop || self.finished() {
                break;
            }
            self.sim.run_until(next);
            self.observe(true);
        }
        self.sim.run_until(stop);
        self.observe(true);
    }

    /// Bookkeeping after the simulator moved: trace lines, message send times, client
    /// operation times.
    fn observe(&mut self, messages: bool) {
        let now = self.sim.now();
        let lines = self.sim.trace().lines();
        if !lines.is_empty() {
            let first = self.sim.trace().count() - lines.len() as u64;
            for (i, line) in lines.iter().enumerate() {
                let parsed = TraceLine::parse(first + i as u64, line);
                if let Some(drop) = parse_drop(&parsed) {
                    if self.drops.len() >= DROPS_KEEP {
                        self.drops.pop_front();
                    }
                    self.drops.push_back(drop);
                }
                if self.trace.len() >= TRACE_KEEP {
                    self.trace.pop_front();
                }
                self.trace.push_back(parsed);
            }
            // Empties the kept lines; the hash goes on over every line.
            self.sim.set_recording(false);
            self.sim.set_recording(true);
        }
        let sent = self.sim.stats().messages_sent;
        if messages {
            if sent != self.scanned_sends || self.sent_at.len() > 4 * 1024 {
                let mut live: Vec<u64> = self.sim.in_flight_ids().map(|(id, _, _)| id).collect();
                live.sort_unstable();
                self.sent_at.retain(|id, _| live.binary_search(id).is_ok());
                for id in live {
                    self.sent_at.entry(id).or_insert(now);
                }
            }
        } else {
            self.sent_at.clear();
        }
        self.scanned_sends = sent;
        let history = self.sim.history();
        for (i, op) in history.iter().enumerate().skip(self.ops.len()) {
            self.ops.push(OpTimes {
                invoke_ms: now,
                complete_ms: None,
            });
            self.pending_ops.push((i, op.output.clone()));
        }
        let ops = &mut self.ops;
        self.pending_ops.retain(|(i, initial)| {
            let i = *i;
            if history[i].complete.is_some() || history[i].output != *initial {
                ops[i].complete_ms = Some(now);
                false
            } else {
                true
            }
        });
    }

    /// The running, unpaused leader of the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        (1..=u64::from(self.sim.node_count()))
            .map(NodeId)
            .filter(|&id| !self.sim.is_paused(id))
            .filter_map(|id| Some((self.sim.replica(id)?.node(), id)))
            .filter(|(node, _)| node.is_leader())
            .max_by_key(|(node, _)| node.term())
            .map(|(_, id)| id)
    }

    /// Whether the autopilot clients are on (the last autopilot action applied says so).
    pub fn autopilot(&self) -> bool {
        self.run.tape[..self.applied.min(self.run.tape.len())]
            .iter()
            .rev()
            .find_map(|a| match a.action {
                Action::Autopilot { on } => Some(on),
                _ => None,
            })
            .unwrap_or(false)
    }

    /// Whether the run is in the simulator's auto (chaos) mode.
    pub fn is_auto(&self) -> bool {
        self.run.options.mode == Mode::Auto
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::defaults::page_options;

    #[test]
    fn a_chaos_run_in_the_page_hashes_like_the_simulator_run_of_its_seed() {
        for seed in 1..=3 {
            let run = Run {
                seed,
                options: SimOptions::swarm(seed),
                tape: Vec::new(),
            };
            let mut session = Session::new(run).expect("swarm options are valid");
            session.advance_to(Millis::MAX / 2, Detail::Bulk);
            assert!(session.finished(), "seed {seed} did not finish");
            let report = flotilla_core::sim::run_seed(seed, None);
            assert_eq!(session.trace_hash(), report.trace_hash, "seed {seed}");
        }
    }

    #[test]
    fn seeking_back_and_acting_forks_the_run() {
        let run = Run {
            seed: 1,
            options: page_options(3),
            tape: Vec::new(),
        };
        let mut session = Session::new(run).expect("valid");
        session.advance_to(500, Detail::Every);
        session.act(Action::Crash { node: NodeId(1) });
        session.advance_to(1_000, Detail::Tail);
        assert_eq!(session.horizon(), 1_000);
        session.seek(200).expect("seek");
        assert_eq!(session.now(), 200);
        assert_eq!(
            session.future_actions().len(),
            1,
            "the crash is still ahead"
        );
        session.act(Action::Crash { node: NodeId(2) });
        assert!(
            session.future_actions().is_empty(),
            "acting in the past drops the future"
        );
        assert_eq!(session.run().tape.len(), 1);
    }
}
