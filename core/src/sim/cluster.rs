//! `Sim`: the cluster, the network, the disks, the clients, the checkers and the event
//! queue, and the loop that pops one event at a time. The driver recipe for each node is in
//! `driver.rs`; what actions do is in `apply.rs`.

use super::action::{Action, ScheduledAction};
use super::event::Event;
use super::faults::{Faults, NodeState};
use super::host::Host;
use super::network::Network;
use super::options::{Mode, SimOptions};
use super::queue::EventQueue;
use super::report::{RunReport, Stats};
use super::rng::{derive, derive_numbered, Stream};
use super::trace::Trace;
use super::workload::{Ctx, Workload};
use crate::check::linearizability::Operation;
use crate::check::{liveness, Checkers, Invariant, Violation};
use crate::raft::{Config, Envelope, Membership};
use crate::replica::{Replica, ReplicaConfig, Reply};
use crate::types::{Millis, NodeId};
use serde::{Deserialize, Serialize};

/// How often the liveness phase checks for convergence, in virtual ms.
pub const PROBE_INTERVAL_MS: Millis = 25;

/// Most events one auto-mode run may take. Healthy 10-second runs take tens of thousands;
/// a run past this is a message storm (a livelock that feeds on itself), reported as a
/// liveness violation rather than left to run for hours.
pub const RUN_EVENTS_MAX: u64 = 1_000_000;

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Manual mode: driven by actions, no end of its own.
    Manual,
    /// Auto mode: faults and workload.
    Safety,
    /// Auto mode: every fault healed, waiting for convergence since `since_ms`.
    Liveness { since_ms: Millis },
    /// Finished (converged, timed out, or stopped at a violation).
    Done,
}

/// A simulated cluster. See the module documentation of [`crate::sim`].
#[derive(Debug)]
pub struct Sim {
    pub(super) seed: u64,
    pub(super) options: SimOptions,
    pub(super) now: Millis,
    /// The sequence number of the event being handled: the history's logical clock.
    pub(super) seq: u64,
    pub(super) queue: EventQueue<Event>,
    pub(super) hosts: Vec<Host>,
    pub(super) membership: Membership,
    pub(super) network: Network,
    pub(super) disk_rng: Stream,
    pub(super) faults: Faults,
    pub(super) workload: Workload,
    pub(super) checkers: Checkers,
    pub(super) trace: Trace,
    pub(super) stats: Stats,
    pub(super) phase: Phase,
    pub(super) replies: Vec<Reply>,
    /// User actions applied so far, with their times: with the seed and the options, a
    /// complete description of the run.
    pub(super) actions: Vec<ScheduledAction>,
    /// How long the liveness phase took to converge.
    pub(super) converged_after_ms: Option<Millis>,
    pub(super) last_probe: String,
}

impl Sim {
    /// A cluster at time 0, every node a follower with an empty log.
    pub fn new(seed: u64, options: SimOptions) -> Result<Sim, String> {
        options.validate()?;
        let n = options.nodes;
        let membership = Membership::with_voters((1..=u64::from(n)).map(|i| (NodeId(i), "")));
        let replica_config = ReplicaConfig {
            snapshot_entries: options.raft.snapshot_entries,
        };
        let mut hosts = Vec::with_capacity(n as usize);
        for i in 1..=u64::from(n) {
            let config = node_config(seed, &options, NodeId(i));
            let replica = Replica::new(config.clone(), replica_config, membership.clone(), 0)
                .map_err(|e| e.to_string())?;
            hosts.push(Host::new(config, replica));
        }
        let workload = Workload::new(
            options.workload,
            n,
            options.network.client_latency_ms,
            derive(seed, "workload"),
        );
        let mut sim = Sim {
            seed,
            network: Network::new(n, options.network, derive(seed, "network")),
            disk_rng: Stream::new(derive(seed, "disk")),
            faults: Faults::new(options.faults, derive(seed, "faults")),
            workload,
            checkers: Checkers::new(),
            trace: Trace::new(options.record_trace),
            stats: Stats::default(),
            phase: Phase::Manual,
            replies: Vec::new(),
            actions: Vec::new(),
            converged_after_ms: None,
            last_probe: String::new(),
            now: 0,
            seq: 0,
            queue: EventQueue::default(),
            hosts,
            membership,
            options,
        };
        sim.start();
        Ok(sim)
    }

    fn start(&mut self) {
        let o = &self.options;
        self.trace.line(
            0,
            format_args!(
                "seed {} nodes {} mode {:?} bug {:?}",
                self.seed,
                o.nodes,
                o.mode,
                o.planted_bug.map(|b| b.name())
            ),
        );
        for i in 0..self.hosts.len() {
            self.schedule_timer(i);
        }
        if self.options.mode == Mode::Auto {
            self.phase = Phase::Safety;
            self.workload.begin(&mut self.queue, 0);
            if self.faults.any() {
                let first = self.faults.interval();
                self.queue.push(first, Event::Fault);
            }
            self.queue.push(self.options.duration_ms, Event::Liveness);
        }
    }

    /// Schedules a user action at virtual time `at_ms` (not before now).
    pub fn schedule(&mut self, at_ms: Millis, action: Action) {
        self.queue.push(at_ms.max(self.now), Event::User(action));
    }

    /// Applies a user action now.
    pub fn act(&mut self, action: Action) {
        self.user_action(action);
    }

    /// Handles the next event. Returns false when the run is over or nothing is left.
    pub fn step(&mut self) -> bool {
        if self.phase == Phase::Done {
            return false;
        }
        let Some((at, seq, event)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(at);
        self.seq = seq;
        self.stats.events += 1;
        self.handle(event);
        if self.options.stop_on_violation && !self.checkers.violations().is_empty() {
            self.phase = Phase::Done;
        }
        if self.options.mode == Mode::Auto && self.stats.events >= RUN_EVENTS_MAX {
            let detail = format!(
                "message storm: {RUN_EVENTS_MAX} events by {} ms, {} messages sent",
                self.now, self.stats.messages_sent
            );
            self.violation(Invariant::Liveness, None, detail);
            self.phase = Phase::Done;
        }
        true
    }

    /// Handles every event up to virtual time `until`, then sets the clock there.
    pub fn run_until(&mut self, until: Millis) {
        while self.phase != Phase::Done && self.queue.peek_time().is_some_and(|t| t <= until) {
            self.step();
        }
        if self.phase != Phase::Done {
            self.now = self.now.max(until);
        }
    }

    /// Runs an auto-mode simulation to its end and reports on it.
    pub fn run(mut self) -> RunReport {
        while self.step() {}
        self.finish()
    }

    pub(super) fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver(envelope) => self.deliver(envelope),
            Event::Timer { node } => self.timer(node as usize),
            Event::FsyncDone { node, token } => self.fsync_done(node as usize, token),
            Event::ClientArrive {
                node,
                request_id,
                request,
            } => self.client_arrive(node as usize, request_id, request),
            Event::ClientReply {
                request_id,
                outcome,
            } => {
                let (workload, mut ctx) = self.ctx();
                workload.on_reply(request_id, outcome, &mut ctx);
            }
            Event::ClientTimeout {
                client,
                seq,
                attempt,
            } => {
                let (workload, mut ctx) = self.ctx();
                workload.on_timeout(client, seq, attempt, &mut ctx);
            }
            Event::ClientStart { client } => {
                let (workload, mut ctx) = self.ctx();
                workload.start(client, &mut ctx);
            }
            Event::ClientRetry { client, seq } => {
                let (workload, mut ctx) = self.ctx();
                workload.on_retry(client, seq, &mut ctx);
            }
            Event::Fault => self.fault(),
            Event::Inject(action) => {
                if self.phase == Phase::Safety {
                    self.apply(action);
                }
            }
            Event::User(action) => self.user_action(action),
            Event::Liveness => self.begin_liveness(),
            Event::Probe => self.probe(),
        }
    }

    pub(super) fn ctx(&mut self) -> (&mut Workload, Ctx<'_>) {
        let ctx = Ctx {
            queue: &mut self.queue,
            trace: &mut self.trace,
            now: self.now,
            seq: self.seq,
        };
        (&mut self.workload, ctx)
    }

    fn user_action(&mut self, action: Action) {
        self.actions.push(ScheduledAction {
            at_ms: self.now,
            action: action.clone(),
        });
        self.apply(action);
    }

    fn node_states(&self) -> Vec<NodeState> {
        self.hosts
            .iter()
            .map(|h| NodeState {
                crashed: h.replica.is_none(),
                paused: h.paused,
                leader: h.replica.as_ref().is_some_and(|r| r.node().is_leader()),
            })
            .collect()
    }

    /// Node `i` just became leader: the injector may aim a fault at it (leader churn).
    pub(super) fn new_leader(&mut self, i: usize) {
        if self.phase != Phase::Safety {
            return;
        }
        // Long enough to catch the leader before its first entries arrive, after a probe
        // and a resend, or between a follower's acknowledgement and the next append (up to
        // five one-way trips and two fsyncs); down for at least an election.
        let o = &self.options;
        let one_way_ms = o.network.latency_max_ms + o.network.jitter_ms;
        let window_ms = 6 * one_way_ms + 2 * o.disk.fsync_max_ms;
        let down_ms_min = o.raft.election_timeout_max_ms;
        let states = self.node_states();
        let node = NodeId(i as u64 + 1);
        let churn = self.faults.churn(node, &states, window_ms, down_ms_min);
        if let Some(injection) = churn {
            let at = self.now + injection.delay_ms;
            self.queue.push(at, Event::Inject(injection.fault));
            for undo in injection.undo {
                self.queue
                    .push(at + injection.undo_after_ms, Event::Inject(undo));
            }
        }
    }

    fn fault(&mut self) {
        if self.phase != Phase::Safety {
            return;
        }
        let states = self.node_states();
        if let Some((action, undo)) = self.faults.pick(&states) {
            self.apply(action);
            if let Some((after, undo)) = undo {
                self.queue.push(self.now + after, Event::Inject(undo));
            }
        }
        let next = self.faults.interval();
        self.queue.push(self.now + next, Event::Fault);
    }

    /// The end of the safety phase: every fault healed, no new operations.
    fn begin_liveness(&mut self) {
        if self.phase != Phase::Safety {
            return;
        }
        self.phase = Phase::Liveness { since_ms: self.now };
        self.faults.active = false;
        self.workload.accepting = false;
        self.trace
            .line(self.now, format_args!("liveness: heal everything"));
        self.apply(Action::Heal);
        self.apply(Action::SetLoss { permille: 0 });
        self.apply(Action::SetDuplication { permille: 0 });
        for i in 0..self.hosts.len() {
            let node = NodeId(i as u64 + 1);
            self.apply(Action::Restart { node });
            self.apply(Action::Resume { node });
        }
        self.queue.push(self.now + PROBE_INTERVAL_MS, Event::Probe);
    }

    fn probe(&mut self) {
        let Phase::Liveness { since_ms } = self.phase else {
            return;
        };
        let digests: Vec<(u64, u64)> = self
            .hosts
            .iter()
            .filter_map(|h| h.replica.as_ref())
            .map(|r| (r.kv().applied().0, r.kv().digest()))
            .collect();
        let views: Vec<liveness::ReplicaView<'_>> = self
            .hosts
            .iter()
            .filter_map(|h| h.replica.as_ref())
            .zip(&digests)
            .map(|(r, &(applied, digest))| liveness::ReplicaView {
                node: r.node(),
                kv_applied: applied,
                kv_digest: digest,
            })
            .collect();
        let verdict = liveness::converged(&views, self.hosts.len());
        let settled = self.workload.in_flight() == 0;
        match verdict {
            Ok(leader) if settled => {
                self.converged_after_ms = Some(self.now - since_ms);
                self.trace
                    .line(self.now, format_args!("converged: {leader} leads"));
                self.phase = Phase::Done;
                return;
            }
            Ok(_) => self.last_probe = "client operations still in flight".into(),
            Err(why) => self.last_probe = why,
        }
        if self.now >= since_ms + self.options.liveness_ms_max {
            let detail = format!(
                "not converged {} ms after healing: {}",
                self.options.liveness_ms_max, self.last_probe
            );
            self.violation(Invariant::Liveness, None, detail);
            self.phase = Phase::Done;
        } else {
            self.queue.push(self.now + PROBE_INTERVAL_MS, Event::Probe);
        }
    }

    pub(super) fn violation(&mut self, invariant: Invariant, node: Option<NodeId>, detail: String) {
        self.trace.line(
            self.now,
            format_args!("VIOLATION {} {detail}", invariant.name()),
        );
        self.checkers.findings.violations.push(Violation {
            invariant,
            at_ms: self.now,
            node,
            detail,
        });
    }

    // ----- Views, for tests, the command line and the web page -----

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn options(&self) -> &SimOptions {
        &self.options
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The replica of `node`, unless it is crashed.
    pub fn replica(&self, node: NodeId) -> Option<&Replica> {
        self.host(node)?.replica.as_ref()
    }

    pub fn is_paused(&self, node: NodeId) -> bool {
        self.host(node).is_some_and(|h| h.paused)
    }

    /// A node's clock rate, in permille.
    pub fn clock_rate(&self, node: NodeId) -> Option<u32> {
        Some(self.host(node)?.clock.rate_permille())
    }

    pub(super) fn host(&self, node: NodeId) -> Option<&Host> {
        self.hosts
            .get(usize::try_from(node.0.checked_sub(1)?).ok()?)
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The network, for experiments that shape it beyond what actions do.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.network
    }

    /// Peer messages in flight, with their delivery times.
    pub fn in_flight(&self) -> impl Iterator<Item = (Millis, &Envelope)> {
        self.queue.iter().filter_map(|(at, event)| match event {
            Event::Deliver(envelope) => Some((at, envelope)),
            _ => None,
        })
    }

    pub fn history(&self) -> &[Operation] {
        self.workload.history()
    }

    pub fn violations(&self) -> &[Violation] {
        self.checkers.violations()
    }

    /// The trace lines kept (when recording) and the hash of all of them.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Starts or stops keeping trace lines.
    pub fn set_recording(&mut self, record: bool) {
        self.trace.set_recording(record);
    }

    /// The user actions applied so far.
    pub fn actions(&self) -> &[ScheduledAction] {
        &self.actions
    }

    /// Ends the run: settles the clients' history, checks it, and reports.
    pub fn finish(&mut self) -> RunReport {
        self.workload.finish();
        RunReport::new(self)
    }
}

/// The Raft configuration of node `id` in a run.
pub fn node_config(seed: u64, options: &SimOptions, id: NodeId) -> Config {
    let r = &options.raft;
    Config {
        election_timeout_min_ms: r.election_timeout_min_ms,
        election_timeout_max_ms: r.election_timeout_max_ms,
        heartbeat_interval_ms: r.heartbeat_interval_ms,
        pre_vote: r.pre_vote,
        check_quorum: r.check_quorum,
        append_entries_max: r.append_entries_max,
        seed: derive_numbered(seed, "node", id.0),
        planted_bug: options.planted_bug,
        ..Config::new(id)
    }
}
