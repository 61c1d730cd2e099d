//! `flotilla sim`: run the deterministic cluster simulator of `flotilla-core` from the
//! command line.
//!
//! * `flotilla sim --seed S [--plant BUG] [--json] [--trace]` runs one auto-mode simulation
//!   (swarm options drawn from the seed) and prints a summary, one JSON object, and/or the
//!   trace. It exits non-zero if any checker found a violation.
//! * `flotilla sim --seeds N [--from F] [--jobs J] [--plant BUG]` sweeps seeds F..F+N on J
//!   threads with a progress bar, stops at the first failure, prints the command that
//!   reproduces it, and exits non-zero. It ends with the speed: events per second and seeds
//!   per minute (per core, and overall).
//! * `flotilla sim election ...` reproduces Figure 16 of the Raft paper (see
//!   `flotilla_core::sim::figure16`).

use crate::cli::CommandResult;
use clap::{Args as ClapArgs, Subcommand};
use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::{run_seed, RunReport, Scenario};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Arguments of `flotilla sim`.
#[derive(Debug, ClapArgs)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    pub experiment: Option<Experiment>,
    /// Run one simulation with this seed.
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Sweep this many seeds (from --from), stopping at the first failure.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed of a sweep.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Worker threads for a sweep (default: one per core).
    #[arg(long)]
    pub jobs: Option<u32>,
    /// Plant a bug on every node: commit-previous-term, vote-before-persist,
    /// ack-before-fsync, truncate-committed, stale-read, next-index-off-by-one.
    #[arg(long, value_name = "BUG")]
    pub plant: Option<String>,
    /// Print one JSON object (a run's report, or a sweep's summary).
    #[arg(long)]
    pub json: bool,
    /// Print the run's trace, one line per event (--seed only).
    #[arg(long)]
    pub trace: bool,
}

/// Experiments with their own options.
#[derive(Debug, Subcommand)]
pub enum Experiment {
    /// Figure 16 of the Raft paper: how long it takes to detect and replace a crashed leader,
    /// for several election timeout ranges, with pre-vote off (as in the paper) and on.
    Election(crate::sim_election::ElectionArgs),
}

/// Runs `flotilla sim`.
pub fn run(args: SimArgs) -> CommandResult {
    if let Some(Experiment::Election(election)) = args.experiment {
        return crate::sim_election::run(election);
    }
    let bug = match &args.plant {
        None => None,
        Some(name) => Some(PlantedBug::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = PlantedBug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown bug {name:?}; one of: {}", names.join(", "))
        })?),
    };
    match (args.seed, args.seeds) {
        (Some(seed), _) => one(seed, bug, args.json, args.trace),
        (None, Some(count)) => sweep(args.from, count, args.jobs, bug, args.json),
        (None, None) => Err("give --seed S, --seeds N, or an experiment (election)".into()),
    }
}

/// The command line that reproduces a run.
fn reproduce(seed: u64, bug: Option<PlantedBug>) -> String {
    let plant = bug
        .map(|b| format!(" --plant {}", b.name()))
        .unwrap_or_default();
    format!("flotilla sim --seed {seed}{plant} --trace")
}

fn one(seed: u64, bug: Option<PlantedBug>, json: bool, trace: bool) -> CommandResult {
    let mut scenario = Scenario::swarm(seed, bug);
    scenario.options.record_trace = trace;
    let mut sim = scenario.build()?;
    let started = Instant::now();
    while sim.step() {}
    let elapsed = started.elapsed();
    if trace && !print_lines(sim.trace().lines())? {
        // The reader went away (`| head`): nothing more to say.
        return Ok(());
    }
    let report = sim.finish();
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report, elapsed.as_secs_f64());
    }
    if report.passed() {
        Ok(())
    } else {
        Err(format!("seed {seed} failed; reproduce: {}", reproduce(seed, bug)).into())
    }
}

/// Prints trace lines. Returns false if stdout was closed (`| head`), which ends the
/// printing quietly.
fn print_lines(lines: &[String]) -> std::io::Result<bool> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let closed = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    for line in lines {
        match writeln!(out, "{line}") {
            Err(e) if closed(&e) => return Ok(false),
            other => other?,
        }
    }
    match out.flush() {
        Err(e) if closed(&e) => Ok(false),
        other => other.map(|()| true),
    }
}

fn print_summary(report: &RunReport, seconds: f64) {
    let o = &report.options;
    println!(
        "seed {}: {} nodes, {} events in {} virtual ms ({:.0} ms real), {} ops ({} ok, {} \
         failed, {} unknown)",
        report.seed,
        report.nodes,
        report.events,
        report.virtual_ms,
        seconds * 1e3,
        report.ops,
        report.ops_ok,
        report.ops_failed,
        report.ops_unknown
    );
    println!(
        "  network {}-{} ms +{} jitter, loss {}‰, duplication {}‰; faults: partitions {}, \
         crashes {}, pauses {}, skew {}, leader churn {}‰; bug: {}",
        o.network.latency_min_ms,
        o.network.latency_max_ms,
        o.network.jitter_ms,
        o.network.loss_permille,
        o.network.duplicate_permille,
        o.faults.partitions,
        o.faults.crashes,
        o.faults.pauses,
        o.faults.clock_skew,
        o.faults.leader_churn_permille,
        report.planted_bug.as_deref().unwrap_or("none")
    );
    match report.converged_after_ms {
        Some(ms) => println!("  converged {ms} ms after the faults stopped"),
        None => println!("  did not converge"),
    }
    println!("  history: {}", report.linearizability);
    println!(
        "  trace hash {} ({} lines)",
        report.trace_hash, report.trace_lines
    );
    for violation in &report.violations {
        println!("  VIOLATION {violation}");
    }
}

/// What a sweep found.
#[derive(Debug, Default, serde::Serialize)]
struct SweepSummary {
    seeds: u64,
    passed: u64,
    failed_seed: Option<u64>,
    violations: Vec<String>,
    events: u64,
    virtual_ms: u64,
    ops: u64,
    seconds: f64,
    jobs: u32,
    events_per_second_per_core: f64,
    seeds_per_minute_per_core: f64,
}

fn sweep(
    from: u64,
    count: u64,
    jobs: Option<u32>,
    bug: Option<PlantedBug>,
    json: bool,
) -> CommandResult {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let jobs = jobs.unwrap_or(cores).clamp(1, 256);
    let next = AtomicU64::new(from);
    let end = from.saturating_add(count);
    let stop = AtomicBool::new(false);
    let found: Mutex<Option<RunReport>> = Mutex::new(None);
    let totals = Mutex::new(SweepSummary::default());
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(count)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta} {msg}")
            .map_err(|e| e.to_string())?,
    );
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    return;
                }
                let report = run_seed(seed, bug);
                if let Ok(mut t) = totals.lock() {
                    t.seeds += 1;
                    t.events += report.events;
                    t.virtual_ms += report.virtual_ms;
                    t.ops += report.ops;
                    t.passed += u64::from(report.passed());
                }
                bar.inc(1);
                if !report.passed() {
                    stop.store(true, Ordering::Relaxed);
                    if let Ok(mut f) = found.lock() {
                        // Report the lowest failing seed among those that ran.
                        if f.as_ref().is_none_or(|r| r.seed > seed) {
                            *f = Some(report);
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut summary = totals.into_inner().map_err(|e| e.to_string())?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.jobs = jobs;
    let core_seconds = summary.seconds * f64::from(jobs.min(cores));
    summary.events_per_second_per_core = summary.events as f64 / core_seconds;
    summary.seeds_per_minute_per_core = summary.seeds as f64 * 60.0 / core_seconds;
    let failure = found.into_inner().map_err(|e| e.to_string())?;
    if let Some(report) = &failure {
        summary.failed_seed = Some(report.seed);
        summary.violations = report.violations.iter().map(|v| v.to_string()).collect();
    }
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} seeds, {} passed; {} events, {:.0} virtual s, {} ops in {:.1} s on {} threads",
            summary.seeds,
            summary.passed,
            summary.events,
            summary.virtual_ms as f64 / 1e3,
            summary.ops,
            summary.seconds,
            jobs
        );
        println!(
            "speed: {:.0} events/s and {:.0} seeds/min per core",
            summary.events_per_second_per_core, summary.seeds_per_minute_per_core
        );
    }
    match failure {
        None => Ok(()),
        Some(report) => {
            if !json {
                for violation in &report.violations {
                    println!("VIOLATION seed {}: {violation}", report.seed);
                }
            }
            let command = reproduce(report.seed, bug);
            Err(format!("seed {} failed; reproduce: {command}", report.seed).into())
        }
    }
}
