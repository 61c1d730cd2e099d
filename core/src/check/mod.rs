//! # Checkers: what must always hold, watched while a cluster runs
//!
//! A simulation is only as good as what it checks. Each invariant below is one file, named
//! after the property in the Raft paper (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", Figure 3 and §5) or in Ongaro's thesis, and each is
//! checked *incrementally*: the driver reports what it sees (a Ready about to be persisted,
//! entries applied, a message about to leave, a node after an input) and every checker
//! updates a small summary instead of rescanning every log after every event. That keeps
//! checking cheap enough to leave on in every simulated run.
//!
//! | file | property | paper |
//! |---|---|---|
//! | [`election_safety`] | at most one leader per term | Fig. 3, §5.2 |
//! | [`log_matching`] | same index and term ⇒ same entry and same history before it | Fig. 3, §5.3 |
//! | [`committed`] | a committed index never holds another entry; no node truncates what it knows is committed | Fig. 3 (state machine safety), §5.4 |
//! | [`leader_completeness`] | a leader holds every entry committed in earlier terms | Fig. 3, §5.4.1 |
//! | [`state_machine`] | same applied index ⇒ same state-machine digest | Fig. 3, §5.4.3 |
//! | [`monotonic`] | a running node's term and commit index never go back | §5.1, §5.3 |
//! | [`durability`] | no vote or append acknowledgement leaves before what it promises is durable; a restart keeps what was synced | §5.1 ("persistent state"), thesis §3.8 |
//! | [`liveness`] | once faults stop, one leader and converged replicas within a bound | §5.2, §9 |
//! | [`linearizability`] | the client history is linearizable | thesis §6 |
//!
//! Checkers never panic on what they observe: a broken invariant becomes a [`Violation`],
//! which the simulator reports with the seed that reproduces it.

pub mod committed;
pub mod durability;
pub mod election_safety;
pub mod fingerprint;
pub mod leader_completeness;
pub mod linearizability;
pub mod liveness;
pub mod log_matching;
pub mod monotonic;
pub mod state_machine;

use crate::raft::{Entry, Envelope, Node, Ready};
use crate::types::{Index, Millis, NodeId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The property a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Invariant {
    ElectionSafety,
    LogMatching,
    CommittedImmutable,
    LeaderCompleteness,
    StateMachineSafety,
    MonotonicTerm,
    MonotonicCommit,
    DurableBeforeSend,
    SyncedSurvivesCrash,
    Liveness,
    Linearizability,
    /// The driver itself failed (storage refused a write, a snapshot did not decode): a bug
    /// in the core or the simulator rather than a Raft property.
    Driver,
}

impl Invariant {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::ElectionSafety => "election-safety",
            Invariant::LogMatching => "log-matching",
            Invariant::CommittedImmutable => "committed-immutable",
            Invariant::LeaderCompleteness => "leader-completeness",
            Invariant::StateMachineSafety => "state-machine-safety",
            Invariant::MonotonicTerm => "monotonic-term",
            Invariant::MonotonicCommit => "monotonic-commit",
            Invariant::DurableBeforeSend => "durable-before-send",
            Invariant::SyncedSurvivesCrash => "synced-survives-crash",
            Invariant::Liveness => "liveness",
            Invariant::Linearizability => "linearizability",
            Invariant::Driver => "driver",
        }
    }
}

/// One broken invariant, with what was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: Invariant,
    /// Virtual time, in ms.
    pub at_ms: Millis,
    pub node: Option<NodeId>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} ms", self.invariant.name(), self.at_ms)?;
        if let Some(node) = self.node {
            write!(f, " on {node}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Where checkers put what they find.
#[derive(Debug, Default)]
pub struct Findings {
    pub violations: Vec<Violation>,
    now: Millis,
}

impl Findings {
    pub(crate) fn report(&mut self, invariant: Invariant, node: Option<NodeId>, detail: String) {
        self.violations.push(Violation {
            invariant,
            at_ms: self.now,
            node,
            detail,
        });
    }
}

/// Every per-step checker, fed by a driver. See the module documentation for who checks what.
#[derive(Debug, Default)]
pub struct Checkers {
    pub findings: Findings,
    elections: election_safety::ElectionSafety,
    matching: log_matching::LogMatching,
    committed: committed::CommittedLog,
    monotonic: monotonic::Monotonic,
    machines: state_machine::StateMachineSafety,
}

impl Checkers {
    pub fn new() -> Checkers {
        Checkers::default()
    }

    pub fn violations(&self) -> &[Violation] {
        &self.findings.violations
    }

    /// A node produced `ready` and the driver is about to persist it. Checks what the Ready
    /// changes in the node's log, then takes note of the node's state.
    pub fn before_persist(&mut self, now: Millis, node: &Node, ready: &Ready) {
        self.findings.now = now;
        self.committed.check_ready(
            node.id(),
            ready.truncate_from,
            node.commit_index(),
            &mut self.findings,
        );
        self.matching
            .check_appended(node, &ready.entries, &mut self.findings);
        if let Some(snapshot) = &ready.snapshot {
            self.committed
                .check_snapshot(node.id(), &snapshot.meta, &mut self.findings);
        }
        self.observe(now, node);
    }

    /// A node's state after an input and the driver's work on it.
    pub fn observe(&mut self, now: Millis, node: &Node) {
        self.findings.now = now;
        self.monotonic.observe(node, &mut self.findings);
        self.committed.observe(node, &mut self.findings);
        if self.elections.observe(node, &mut self.findings) {
            leader_completeness::check(node, &self.committed, &mut self.findings);
        }
    }

    /// The driver applied `entries` (and maybe restored a snapshot first); the state machine
    /// is now at `applied` with `digest`.
    pub fn after_apply(
        &mut self,
        now: Millis,
        node: NodeId,
        entries: &[Entry],
        applied: Index,
        digest: u64,
    ) {
        self.findings.now = now;
        for entry in entries {
            self.committed
                .check_applied(node, entry, &mut self.findings);
        }
        self.machines
            .check(node, applied, digest, &mut self.findings);
    }

    /// A message is about to leave `shadow`'s node.
    pub fn before_send(
        &mut self,
        now: Millis,
        envelope: &Envelope,
        node: &Node,
        shadow: &durability::DurableShadow,
    ) {
        self.findings.now = now;
        durability::check_send(envelope, node, shadow, &mut self.findings);
    }

    /// A node crashed: its in-memory state is gone, and terms and commit indexes may go back
    /// to what was durable.
    pub fn crashed(&mut self, node: NodeId) {
        self.monotonic.forget(node);
        self.committed.forget(node);
        self.elections.forget(node);
    }

    /// A node restarted from storage; `shadow` is what was surely durable before the crash.
    pub fn restarted(&mut self, now: Millis, node: &Node, shadow: &durability::DurableShadow) {
        self.findings.now = now;
        durability::check_restart(node, shadow, &mut self.findings);
        self.observe(now, node);
    }

    /// The highest index known committed anywhere.
    pub fn committed_index(&self) -> Index {
        self.committed.last()
    }
}
