//! What a simulated run is made of: the cluster, the network, the disks, the faults, the
//! workload. A run is fully described by a seed, these options and the user's actions
//! ([`super::Scenario`]), so every field is plain serde data (no `usize`, no floats).
//!
//! [`SimOptions::swarm`] draws the options themselves from the seed, in the spirit of swarm
//! testing (Groce et al., "Swarm Testing", ISSTA 2012; TigerBeetle's VOPR does the same): a
//! run with every fault at once explores less than many runs that each switch some faults
//! off and turn others up, because some bugs need a quiet network and others a storm.

use super::rng::{derive, Stream};
use crate::raft::PlantedBug;
use crate::types::Millis;
use serde::{Deserialize, Serialize};

/// Most nodes in a simulated cluster.
pub const NODES_MAX: u32 = 9;
/// Most simulated clients.
pub const CLIENTS_MAX: u32 = 64;
/// Most keys the workload uses.
pub const KEYS_MAX: u32 = 1_000;
/// Chance, in permille, that a swarm run uses the leader-churn profile
/// ([`SimOptions::swarm`]).
pub const CHURN_PROFILE_PERMILLE: u32 = 400;
/// Chance, in permille, that some of a swarm run's clients only read.
pub const READERS_PERMILLE: u32 = 400;
/// One permille: rates are integers out of 1000, so no floating point enters a run.
pub const PERMILLE: u32 = 1_000;

/// Whether the simulator injects faults and runs a workload by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Seeded chaos: faults and workload drawn from the seed, then a liveness phase.
    Auto,
    /// Nothing happens unless asked: scripts and the web page drive the run with actions.
    Manual,
}

/// Everything about a run except its seed and its user actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOptions {
    pub mode: Mode,
    pub nodes: u32,
    /// How long faults and the workload run (auto mode), in virtual ms.
    pub duration_ms: Millis,
    /// After `duration_ms` every fault is healed; the cluster must converge within this.
    pub liveness_ms_max: Millis,
    pub raft: RaftOptions,
    pub network: NetworkOptions,
    pub disk: DiskOptions,
    pub faults: FaultOptions,
    pub workload: WorkloadOptions,
    /// A bug planted on every node, to show the checkers catch it.
    pub planted_bug: Option<PlantedBug>,
    /// Keep every trace line in memory (the hash is always computed).
    pub record_trace: bool,
    /// End the run at the first violation.
    pub stop_on_violation: bool,
}

/// The Raft and replica settings shared by every node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftOptions {
    pub election_timeout_min_ms: Millis,
    pub election_timeout_max_ms: Millis,
    pub heartbeat_interval_ms: Millis,
    pub pre_vote: bool,
    pub check_quorum: bool,
    /// Snapshot every this many applied entries.
    pub snapshot_entries: u64,
    /// Most entries in one append message (`Config::append_entries_max`). One entry per
    /// append is how the paper's Figure 8 replicates an old entry without the new leader's
    /// own: the web page's Figure 8 scenario sets it.
    #[serde(default = "append_entries_max_default")]
    pub append_entries_max: u32,
}

fn append_entries_max_default() -> u32 {
    crate::raft::Config::new(crate::types::NodeId(1)).append_entries_max
}

/// The simulated network. A link's one-way delay is its base latency, drawn once per link
/// from `[latency_min_ms, latency_max_ms]`, plus a jitter drawn per message from
/// `[0, jitter_ms]`; jitter is what reorders messages on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOptions {
    pub latency_min_ms: Millis,
    pub latency_max_ms: Millis,
    pub jitter_ms: Millis,
    /// Chance that a message is lost, in permille.
    pub loss_permille: u32,
    /// Chance that a message is delivered twice, in permille.
    pub duplicate_permille: u32,
    /// One-way delay between a client and a node, in ms (clients are not partitioned).
    pub client_latency_ms: Millis,
}

/// The simulated disks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskOptions {
    pub fsync_min_ms: Millis,
    pub fsync_max_ms: Millis,
    /// Whether a crash may keep a torn prefix of the unsynced log writes.
    pub torn_writes: bool,
}

/// Which faults the auto mode injects, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultOptions {
    /// A fault is considered every `[interval_min_ms, interval_max_ms]` ms.
    pub interval_min_ms: Millis,
    pub interval_max_ms: Millis,
    pub partitions: bool,
    pub crashes: bool,
    pub pauses: bool,
    pub clock_skew: bool,
    /// How long a partition, a crash or a pause lasts at most, in ms.
    pub fault_ms_max: Millis,
    /// Most nodes down (crashed or paused) at once.
    pub down_max: u32,
    /// Clock rates are drawn from `[1000 - skew, 1000 + skew]` permille.
    pub skew_permille_max: u32,
    /// Chance, in permille, that a node that just became leader is crashed or isolated
    /// within a round trip and an fsync: the leader churn that leaves logs diverging at the
    /// same index across terms (the paper's Figure 8).
    #[serde(default)]
    pub leader_churn_permille: u32,
}

/// The simulated clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadOptions {
    pub clients: u32,
    pub keys: u32,
    /// Pause between a client's operations, drawn from `[0, think_ms_max]`.
    pub think_ms_max: Millis,
    /// A request unanswered for this long is retried elsewhere.
    pub request_timeout_ms: Millis,
    /// An operation still unanswered this long after it began is given up (its outcome
    /// becomes unknown).
    pub operation_timeout_ms: Millis,
    /// Operation mix, in permille of operations: reads, deletes, compare-and-sets; the rest
    /// are puts.
    pub read_permille: u32,
    pub delete_permille: u32,
    pub cas_permille: u32,
    /// How many of the clients (the first ones) only read. A reader that stays with a
    /// deposed leader keeps asking it, which is what exposes reads served without
    /// confirming leadership; clients that also write move on after a write times out.
    #[serde(default)]
    pub readers: u32,
}

impl Default for RaftOptions {
    fn default() -> RaftOptions {
        RaftOptions {
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            heartbeat_interval_ms: 50,
            pre_vote: true,
            check_quorum: true,
            snapshot_entries: 128,
            append_entries_max: append_entries_max_default(),
        }
    }
}

impl Default for NetworkOptions {
    fn default() -> NetworkOptions {
        NetworkOptions {
            latency_min_ms: 1,
            latency_max_ms: 5,
            jitter_ms: 2,
            loss_permille: 0,
            duplicate_permille: 0,
            client_latency_ms: 1,
        }
    }
}

impl Default for DiskOptions {
    fn default() -> DiskOptions {
        DiskOptions {
            fsync_min_ms: 1,
            fsync_max_ms: 3,
            torn_writes: true,
        }
    }
}

impl FaultOptions {
    /// No faults at all.
    pub fn none() -> FaultOptions {
        FaultOptions {
            interval_min_ms: 200,
            interval_max_ms: 1_000,
            partitions: false,
            crashes: false,
            pauses: false,
            clock_skew: false,
            fault_ms_max: 2_000,
            down_max: 1,
            skew_permille_max: 0,
            leader_churn_permille: 0,
        }
    }
}

impl Default for WorkloadOptions {
    fn default() -> WorkloadOptions {
        WorkloadOptions {
            clients: 4,
            keys: 4,
            think_ms_max: 20,
            request_timeout_ms: 400,
            operation_timeout_ms: 2_000,
            read_permille: 400,
            delete_permille: 100,
            cas_permille: 200,
            readers: 0,
        }
    }
}

impl SimOptions {
    /// A quiet cluster of `nodes` driven only by actions.
    pub fn manual(nodes: u32) -> SimOptions {
        SimOptions {
            mode: Mode::Manual,
            nodes,
            duration_ms: 10_000,
            liveness_ms_max: 10_000,
            raft: RaftOptions::default(),
            network: NetworkOptions::default(),
            disk: DiskOptions::default(),
            faults: FaultOptions::none(),
            workload: WorkloadOptions {
                clients: 0,
                ..WorkloadOptions::default()
            },
            planted_bug: None,
            record_trace: false,
            stop_on_violation: false,
        }
    }

    /// Options drawn from `seed`: which faults are on, their rates, the cluster size, the
    /// timeouts and the workload (swarm testing).
    pub fn swarm(seed: u64) -> SimOptions {
        let mut rng = Stream::new(derive(seed, "swarm"));
        let nodes = if rng.chance(600) { 3 } else { 5 };
        let latency_min_ms = rng.range(0, 10);
        let latency_max_ms = latency_min_ms + rng.range(0, 90);
        let jitter_ms = rng.range(0, (latency_max_ms - latency_min_ms).max(2));
        let slowest_ms = latency_max_ms + jitter_ms;
        // Elections must be able to finish a round trip well within a timeout.
        let election_timeout_min_ms = (150 + rng.range(0, 150)).max(4 * slowest_ms);
        let network = NetworkOptions {
            latency_min_ms,
            latency_max_ms,
            jitter_ms,
            loss_permille: pick(&mut rng, 400, 300),
            duplicate_permille: pick(&mut rng, 500, 500),
            client_latency_ms: rng.range(0, 5),
        };
        let raft = RaftOptions {
            election_timeout_min_ms,
            election_timeout_max_ms: election_timeout_min_ms * 2,
            heartbeat_interval_ms: (election_timeout_min_ms / 3).max(1),
            pre_vote: rng.chance(700),
            check_quorum: rng.chance(700),
            snapshot_entries: [8, 32, 128, 1_024][rng.range(0, 3) as usize],
            // One entry per append now and then: a new leader then replicates an old entry
            // before its own no-op reaches a follower (the paper's Figure 8).
            append_entries_max: if rng.chance(250) {
                1
            } else {
                append_entries_max_default()
            },
        };
        // Sometimes a disk slower than the network: then followers acknowledge before the
        // leader's own write is durable, which is when commit rules matter most.
        let fsync_max_ms = if rng.chance(300) {
            rng.range(20, 80)
        } else {
            rng.range(3, 12)
        };
        let disk = DiskOptions {
            fsync_min_ms: rng.range(0, 3),
            fsync_max_ms,
            torn_writes: rng.chance(500),
        };
        let faults = FaultOptions {
            interval_min_ms: 50,
            interval_max_ms: 50 + rng.range(0, 1_000),
            partitions: rng.chance(600),
            crashes: rng.chance(600),
            pauses: rng.chance(400),
            clock_skew: rng.chance(400),
            fault_ms_max: rng.range(200, 3_000),
            down_max: if rng.chance(800) {
                (nodes - 1) / 2
            } else {
                nodes
            },
            skew_permille_max: rng.range(0, 200) as u32,
            leader_churn_permille: pick(&mut rng, 500, 600),
        };
        let workload = WorkloadOptions {
            clients: rng.range(1, 6) as u32,
            keys: rng.range(1, 8) as u32,
            think_ms_max: rng.range(0, 50),
            request_timeout_ms: 2 * election_timeout_min_ms + 4 * slowest_ms,
            operation_timeout_ms: 8 * election_timeout_min_ms + 16 * slowest_ms,
            read_permille: rng.range(100, 550) as u32,
            delete_permille: rng.range(0, 150) as u32,
            cas_permille: rng.range(0, 300) as u32,
            readers: 0,
        };
        let mut options = SimOptions {
            mode: Mode::Auto,
            nodes,
            duration_ms: 10_000,
            liveness_ms_max: 20_000,
            raft,
            network,
            disk,
            faults,
            workload,
            planted_bug: None,
            record_trace: false,
            stop_on_violation: true,
        };
        if rng.chance(CHURN_PROFILE_PERMILLE) {
            options.churn_profile(&mut rng);
        }
        if rng.chance(READERS_PERMILLE) {
            options.workload.clients = options.workload.clients.max(2);
            options.workload.readers = rng.range(1, u64::from(options.workload.clients) - 1) as u32;
        }
        options
    }

    /// The leader-churn profile: nearly every new leader is crashed or cut off within a
    /// round trip, comes back soon, and appends carry one entry each, on a clean network.
    /// Three such failures in a row, at the right moments, are the paper's Figure 8: an
    /// entry of an old term replicated to a majority, then overwritten.
    fn churn_profile(&mut self, rng: &mut Stream) {
        // A fast, clean network and short timeouts: many elections per run. Pre-vote keeps
        // a node with a stale log from bumping terms and stalling the chain of elections.
        self.network = NetworkOptions {
            latency_min_ms: 1,
            latency_max_ms: rng.range(2, 10),
            jitter_ms: rng.range(0, 5),
            loss_permille: 0,
            duplicate_permille: 0,
            client_latency_ms: 1,
        };
        self.raft.election_timeout_min_ms = 150;
        self.raft.election_timeout_max_ms = 300;
        self.raft.heartbeat_interval_ms = 50;
        self.raft.pre_vote = true;
        self.raft.append_entries_max = 1;
        // Five servers, as in the paper's Figure 8: more ways for a majority to form.
        self.nodes = 5;
        self.faults.down_max = 2;
        let f = &mut self.faults;
        f.leader_churn_permille = 1_000;
        f.crashes = true;
        f.partitions = true;
        f.fault_ms_max = self.raft.election_timeout_max_ms * rng.range(1, 3);
        f.interval_min_ms = 1_000;
        f.interval_max_ms = 3_000;
        self.workload.read_permille = self.workload.read_permille.min(200);
        self.workload.request_timeout_ms = 700;
        self.workload.operation_timeout_ms = 3_000;
    }

    /// Checks the options; the error names the setting that is out of range.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        check(
            (1..=NODES_MAX).contains(&self.nodes),
            "nodes must be 1 to 9",
        )?;
        check(self.workload.clients <= CLIENTS_MAX, "at most 64 clients")?;
        check(
            (1..=KEYS_MAX).contains(&self.workload.keys),
            "keys must be 1 to 1000",
        )?;
        let n = &self.network;
        check(
            n.latency_min_ms <= n.latency_max_ms,
            "latency min above max",
        )?;
        check(
            n.loss_permille <= PERMILLE && n.duplicate_permille <= PERMILLE,
            "rates are permille (0 to 1000)",
        )?;
        check(
            self.disk.fsync_min_ms <= self.disk.fsync_max_ms,
            "fsync min above max",
        )?;
        let f = &self.faults;
        check(
            f.interval_min_ms >= 1 && f.interval_min_ms <= f.interval_max_ms,
            "fault interval must be at least 1 ms, min not above max",
        )?;
        check(
            f.skew_permille_max < PERMILLE,
            "clock skew below 1000 permille",
        )?;
        let w = &self.workload;
        check(
            w.read_permille + w.delete_permille + w.cas_permille <= PERMILLE,
            "operation mix above 1000 permille",
        )?;
        check(w.readers <= w.clients, "more readers than clients")?;
        check(w.request_timeout_ms >= 1, "request timeout at least 1 ms")?;
        let r = &self.raft;
        check(
            r.election_timeout_min_ms >= 1
                && r.election_timeout_min_ms <= r.election_timeout_max_ms
                && r.heartbeat_interval_ms >= 1
                && r.heartbeat_interval_ms < r.election_timeout_min_ms,
            "timeouts: 0 < heartbeat < election min <= election max",
        )?;
        check(r.append_entries_max >= 1, "append_entries_max at least 1")
    }
}

/// Zero with chance `zero_permille`, else uniform in `[0, max]`.
fn pick(rng: &mut Stream, zero_permille: u32, max: u64) -> u32 {
    if rng.chance(zero_permille) {
        0
    } else {
        rng.range(0, max) as u32
    }
}
