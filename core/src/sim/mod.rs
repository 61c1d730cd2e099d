//! # The deterministic cluster simulator
//!
//! Flotilla is proved correct the way TigerBeetle (VOPR) and FoundationDB are: by running
//! the real code (the same Raft node, state machine, storage format and replica
//! bookkeeping the native node runs) in a simulated world whose every random choice comes
//! from one seed, with the checkers of [`crate::check`] watching every step. A failing seed
//! reproduces the failure exactly, as often as needed, in a debugger, in a test, or in the
//! browser.
//!
//! ## The world
//!
//! * **Time** is virtual, in milliseconds, and advances only when the next event is due. An
//!   [event queue](queue) orders events by (time, sequence number): nothing else decides
//!   what happens next, so there is no hidden entropy. Nodes are ticked only at their
//!   `next_deadline()`, which is what makes a 10-second run take milliseconds.
//! * **The network** ([`network`]) gives each directed link a base latency and each message
//!   a jitter (so messages on a link reorder), loses and duplicates messages at seeded rates,
//!   and cuts links in partitions: symmetric, one-way, one node isolated, majority/minority,
//!   or a bridge node that sees both sides.
//! * **Disks** are [`crate::storage::MemStorage`]: writes are pending until an fsync, which
//!   completes after a simulated latency; a crash loses what was not synced and may keep a
//!   torn, even garbled, prefix of it, which recovery must cut off; a restart rebuilds the
//!   node from what recovery finds.
//! * **Nodes** crash, restart, pause (a frozen process that then handles everything at once)
//!   and run on clocks with skewed rates ([`clock`]).
//! * **Clients** ([`workload`]) run gets, puts, deletes and compare-and-sets with timeouts,
//!   retries and sessions, and record the history the linearizability checker reads.
//!
//! ## Two modes
//!
//! *Auto* ([`SimOptions::swarm`]): the seed also draws which faults are on and how hard
//! (swarm testing), the fault injector ([`faults`]) applies them during a safety phase
//! (default 10 s), and then everything is healed and the cluster must converge within a
//! bound (the liveness phase), as in VOPR and openraft's fuzzer. *Manual*
//! ([`SimOptions::manual`]): nothing happens unless asked; scripts and the web page call
//! [`Sim::act`], [`Sim::schedule`], [`Sim::step`] and [`Sim::run_until`].
//!
//! ## Reproducibility
//!
//! A run is fully described by a [`Scenario`]: seed, options, and user actions with their
//! virtual times. Every trace line is hashed ([`trace`]); the same scenario gives the same
//! `trace_hash`, run after run and (there is no `HashMap`, no clock, no thread, no float in
//! here) on every platform, wasm32 included.
//!
//! ## What is left out
//!
//! * Membership changes are not part of the auto mode yet (the node supports them).
//! * Disk faults beyond crashes (latent sector errors, misdirected writes) are not injected,
//!   although `MemStorage` can corrupt bytes.
//! * Clients are never partitioned from nodes; a crashed node just never answers.

pub mod action;
mod apply;
pub mod clock;
mod cluster;
mod describe;
mod driver;
pub mod event;
pub mod faults;
pub mod figure16;
mod host;
mod members;
pub mod network;
pub mod options;
pub mod queue;
pub mod report;
pub mod rng;
pub mod trace;
mod views;
pub mod workload;

pub use action::{Action, ClientCommand, ScheduledAction};
pub use cluster::{node_config, Phase, Sim, PROBE_INTERVAL_MS, RUN_EVENTS_MAX};
pub use options::{
    DiskOptions, FaultOptions, Mode, NetworkOptions, RaftOptions, SimOptions, WorkloadOptions,
};
pub use report::{RunReport, Stats};

use serde::{Deserialize, Serialize};

/// Everything that determines a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub seed: u64,
    pub options: SimOptions,
    pub actions: Vec<ScheduledAction>,
}

impl Scenario {
    /// The auto-mode scenario for `seed`, with `bug` planted.
    pub fn swarm(seed: u64, bug: Option<crate::raft::PlantedBug>) -> Scenario {
        let mut options = SimOptions::swarm(seed);
        options.planted_bug = bug;
        Scenario {
            seed,
            options,
            actions: Vec::new(),
        }
    }

    /// A simulator for this scenario, with its actions scheduled.
    pub fn build(&self) -> Result<Sim, String> {
        let mut sim = Sim::new(self.seed, self.options.clone())?;
        for action in &self.actions {
            sim.schedule(action.at_ms, action.action.clone());
        }
        Ok(sim)
    }

    /// Runs the scenario to its end.
    pub fn run(&self) -> Result<RunReport, String> {
        Ok(self.build()?.run())
    }
}

/// Runs the auto-mode simulation of `seed` (with `bug` planted) and reports.
pub fn run_seed(seed: u64, bug: Option<crate::raft::PlantedBug>) -> RunReport {
    // Swarm options always validate.
    Scenario::swarm(seed, bug)
        .run()
        .expect("swarm options are valid")
}
