//! `flotilla faults`: a fault run on real processes, with a checked client history.
//!
//! Starts a cluster of `flotilla node` processes on 127.0.0.1 (fresh ports and folders),
//! runs client threads that send GET, SET and DEL over RESP to random nodes and record every
//! operation ([`workload`]), and meanwhile injects one fault after another ([`nemesis`]):
//! kill -9 and restart (of random nodes and of the leader), SIGSTOP/SIGCONT pauses,
//! partitions, leadership transfers, and membership changes. At the end it undoes every
//! fault, reads every key once more through the leader, and checks ([`verdict`]):
//!
//! * the history is linearizable (the core's Wing–Gong checker,
//!   `flotilla_core::check::linearizability`);
//! * no acknowledged write is lost (each key's final value was written by an operation that
//!   no acknowledged write to that key followed);
//! * all nodes converge: every node is a voter and has applied the same index, with the same
//!   state-machine digest;
//! * no node exited by itself (a panic, or a refusal to start on its own data).
//!
//! It exits non-zero if any check fails. The test command runs a short one; see
//! docs/reliability.md for longer runs.

mod conn;
mod nemesis;
mod procs;
mod verdict;
mod workload;

use crate::cli::CommandResult;
use nemesis::Nemesis;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Flags of `flotilla faults`.
#[derive(Clone, Debug, clap::Args)]
pub struct FaultArgs {
    /// How long faults are injected, in seconds (the checks take a few seconds more).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 5)]
    pub nodes: u64,
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    pub clients: u64,
    /// Distinct keys the clients use (fewer keys: more contention per key).
    #[arg(long, default_value_t = 12)]
    pub keys: u64,
    /// Seed for the clients' and the faults' random choices (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder for the nodes' data and logs, and the history (default: a fresh temporary one,
    /// removed after a run that passed).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Snapshot every this many entries (small, so that snapshots and InstallSnapshot happen).
    #[arg(long, default_value_t = 300)]
    pub snapshot_entries: u64,
}

/// Runs the fault run; an error if any check failed.
pub fn run(args: FaultArgs) -> CommandResult {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let temporary = args.dir.is_none();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("flotilla-faults-{}-{seed}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let bin = std::env::current_exe()?;
    let token = format!("faults-{seed}");
    let extra = vec![format!("--snapshot-entries={}", args.snapshot_entries)];
    println!(
        "fault run: {} nodes, {} clients, {} keys, {} s, seed {seed}, folder {}",
        args.nodes,
        args.clients,
        args.keys,
        args.seconds,
        dir.display()
    );
    let procs = procs::start_cluster(&bin, &dir, args.nodes, &token, &extra)?;
    let ports: Vec<u16> = procs.iter().map(|p| p.resp).collect();
    let mut nemesis = Nemesis::new(procs, bin, token.clone(), seed);
    wait_for_leader(&nemesis)?;

    let shared = Arc::new(workload::Shared {
        clock: AtomicU64::new(1),
        stop: AtomicBool::new(false),
        history: Mutex::new(Vec::new()),
        ports,
        keys: args.keys,
    });
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let shared = shared.clone();
            let seed = seed.wrapping_add(c.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            std::thread::spawn(move || workload::client(shared, c + 1, seed))
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(args.seconds) {
        nemesis.step();
    }
    println!(
        "faults done after {:.1} s; restoring the cluster",
        started.elapsed().as_secs_f64()
    );
    nemesis.restore();
    // Let the clients see the healed cluster for a moment, then stop them.
    std::thread::sleep(Duration::from_secs(2));
    shared.stop.store(true, Ordering::SeqCst);
    for client in clients {
        let _ = client.join();
    }
    let verdict = verdict::judge(&mut nemesis, &shared, &token);
    let history = shared.history.lock().map(|h| h.clone()).unwrap_or_default();
    let _ = std::fs::write(
        dir.join("history.json"),
        serde_json::to_vec(&history).unwrap_or_default(),
    );
    let _ = std::fs::write(dir.join("faults.txt"), nemesis.journal.join("\n"));
    println!("{}", verdict.report(&nemesis));
    if verdict.passed() {
        drop(nemesis);
        if temporary {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(())
    } else {
        Err(format!(
            "the fault run failed (seed {seed}); history, faults and node logs in {}",
            dir.display()
        )
        .into())
    }
}

fn wait_for_leader(nemesis: &Nemesis) -> CommandResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if nemesis.leader().is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("no leader within 20 s of the start".into())
}
