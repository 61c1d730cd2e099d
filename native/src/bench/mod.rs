//! `flotilla bench`: a load generator for Flotilla (RESP) and, with the identical workload,
//! for etcd (its v3 JSON gateway), so that both can be measured side by side.
//!
//! Many client connections run as tasks on a few threads, each thread a single-threaded tokio
//! runtime. Each client keeps `--pipeline` requests in flight (closed loop). Latencies go
//! into an HDR histogram; the report is text, or one JSON object with `--json`. With
//! `--failover-kill-pid` the tool instead kills the leader and times the failover (see
//! [`failover`]).

mod conn;
mod etcd;
mod failover;
mod protocol;
mod report;
mod resp;
mod runner;
mod workload;

use crate::cli::CommandResult;
use conn::Source;
use report::Summary;
use runner::{drive, Plan};
use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;
use workload::{Rng, Workload};

/// Most client connections in one run.
const CLIENTS_MAX: u32 = 100_000;
/// Most requests in flight on one connection.
const PIPELINE_MAX: u32 = 1024;
/// Most load-generating threads.
const THREADS_MAX: u32 = 64;
/// Longest run accepted, in seconds.
const DURATION_S_MAX: f64 = 24.0 * 3600.0;
/// How long the prefill may take at most.
const PREFILL_TIME_MAX: Duration = Duration::from_secs(600);
/// Requests each client keeps in flight while prefilling.
const PREFILL_PIPELINE: usize = 64;
/// How long the first connection to each endpoint may take before the run is refused.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which system is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Flotilla (or any Redis-compatible server): SET and GET over RESP.
    Resp,
    /// etcd's v3 JSON gateway: POST /v3/kv/put and /v3/kv/range (linearizable) over HTTP/1.1.
    Etcd,
}

/// Load-test a Flotilla cluster (RESP) or etcd (v3 JSON gateway) with the same workload.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// What to drive.
    #[arg(long, value_enum, default_value_t = Target::Resp)]
    pub target: Target,
    /// HOST:PORT of the servers; clients are spread over them in turn (etcd: the client URL's
    /// host and port, e.g. 127.0.0.1:2379).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:6379")]
    pub endpoints: Vec<String>,
    /// Client connections.
    #[arg(long, default_value_t = 16)]
    pub clients: u32,
    /// Seconds of measuring (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Distinct keys, chosen uniformly at random.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u32,
    /// Bytes per key.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// Fraction of operations that are (linearizable) reads; the rest are writes.
    #[arg(long, default_value_t = 0.0)]
    pub read_ratio: f64,
    /// Requests each client keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub pipeline: u32,
    /// Load-generating threads (default: half the machine's cores, at least 1, at most one
    /// per client).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Write every key once before the run (so that reads find values).
    #[arg(long)]
    pub prefill: bool,
    /// A request without an answer after this many milliseconds is an error.
    #[arg(long, default_value_t = 5_000)]
    pub timeout_ms: u64,
    /// Seed of the workload's random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Failover mode: kill -9 this process (the leader), then time until a write through
    /// any of --endpoints (the survivors) succeeds.
    #[arg(long)]
    pub failover_kill_pid: Option<i32>,
}

pub fn run(args: BenchArgs) -> CommandResult {
    if !(1..=CLIENTS_MAX).contains(&args.clients) {
        return Err(format!("--clients must be between 1 and {CLIENTS_MAX}").into());
    }
    if !(1..=PIPELINE_MAX).contains(&args.pipeline) {
        return Err(format!("--pipeline must be between 1 and {PIPELINE_MAX}").into());
    }
    let seconds = 0.0..=DURATION_S_MAX;
    if args.duration <= 0.0 || !seconds.contains(&args.duration) || !seconds.contains(&args.warmup)
    {
        return Err(format!("--duration and --warmup are at most {DURATION_S_MAX} s").into());
    }
    let threads = args
        .threads
        .unwrap_or_else(default_threads)
        .min(args.clients);
    if !(1..=THREADS_MAX).contains(&threads) {
        return Err(format!("--threads must be between 1 and {THREADS_MAX}").into());
    }
    let workload = Workload::new(args.keys, args.key_size, args.value_size, args.read_ratio)?;
    let endpoints = resolve(&args.endpoints)?;
    if let Some(pid) = args.failover_kill_pid {
        return failover::run(&args, pid, &workload, &endpoints);
    }
    check_reachable(&endpoints)?;
    if args.prefill {
        let next = Arc::new(AtomicU32::new(0));
        let prefill = Plan {
            duration: PREFILL_TIME_MAX,
            warmup: Duration::ZERO,
            pipeline: PREFILL_PIPELINE,
            source: Box::new(move |_| Source::EachKeyOnce(next.clone())),
            quiet: args.json && !std::io::stderr().is_terminal(),
        };
        let (rec, _) = drive(&args, threads, &workload, &endpoints, prefill)?;
        if rec.errors > 0 {
            return Err(format!("prefill: {} errors: {:?}", rec.errors, rec.error_kinds).into());
        }
    }
    let seed = args.seed;
    let plan = Plan {
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        pipeline: args.pipeline as usize,
        source: Box::new(move |client| Source::Random(Rng::new(seed ^ (u64::from(client) << 32)))),
        quiet: args.json && !std::io::stderr().is_terminal(),
    };
    let (rec, elapsed) = drive(&args, threads, &workload, &endpoints, plan)?;
    let summary = Summary {
        target: format!("{:?}", args.target).to_lowercase(),
        endpoints: args.endpoints.clone(),
        clients: args.clients,
        threads,
        pipeline: args.pipeline,
        read_ratio: args.read_ratio,
        keys: args.keys,
        key_size: args.key_size,
        value_size: args.value_size,
        duration_s: 0.0,
        ops: 0,
        ops_per_sec: 0.0,
        errors: 0,
        mean_ms: 0.0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        error_kinds: Default::default(),
    }
    .measured(&rec, elapsed);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.text());
    }
    Ok(())
}

/// Half the cores: the servers under test usually share the machine, and on two cores one
/// load thread left them more CPU than two did (256 clients, writes: 84,465 and 86,467/s
/// against 77,160 and 80,397/s; reads 142,666 and 155,244/s against 135,202 and 152,638/s,
/// runs alternating), with fewer context switches and less CPU per operation.
fn default_threads() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores / 2)
        .unwrap_or(THREADS_MAX)
        .clamp(1, THREADS_MAX)
}

/// Refuses to start when an endpoint does not accept connections: clients would otherwise
/// count refusals as errors for the whole run, and a prefill, which ends only when every key
/// is written, would wait for its ten-minute limit.
fn check_reachable(endpoints: &[(String, SocketAddr)]) -> Result<(), String> {
    for (name, addr) in endpoints {
        std::net::TcpStream::connect_timeout(addr, REACHABLE_TIMEOUT)
            .map_err(|e| format!("cannot connect to {name}: {e} (is the server running?)"))?;
    }
    Ok(())
}

/// Resolves HOST:PORT (an `http://` prefix and a trailing `/` are allowed).
fn resolve(endpoints: &[String]) -> Result<Vec<(String, SocketAddr)>, String> {
    if endpoints.is_empty() {
        return Err("--endpoints is empty".into());
    }
    endpoints
        .iter()
        .map(|e| {
            let host = e.trim_start_matches("http://").trim_end_matches('/');
            let addr = host
                .to_socket_addrs()
                .map_err(|err| format!("endpoint {e}: {err}"))?
                .next()
                .ok_or_else(|| format!("endpoint {e}: no address"))?;
            Ok((host.to_string(), addr))
        })
        .collect()
}
