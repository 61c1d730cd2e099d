//! Runs one phase of load: the threads, their single-threaded runtimes with the clients as
//! tasks, the progress line, and the merged measurements.

use super::conn::{Client, Clock, Source};
use super::protocol::Protocol;
use super::report::Recorder;
use super::workload::Workload;
use super::{etcd, resp, BenchArgs, Target};
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the progress line is refreshed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// How often the main thread looks at the load threads and the progress counter.
const WATCH_INTERVAL: Duration = Duration::from_millis(20);

/// One phase of load: its length and where its operations come from.
pub(super) struct Plan {
    pub(super) duration: Duration,
    pub(super) warmup: Duration,
    pub(super) pipeline: usize,
    pub(super) source: Box<dyn Fn(u32) -> Source + Send + Sync>,
    pub(super) quiet: bool,
}

/// Runs `plan` on `threads` threads; returns the merged recorder and the measured time.
pub(super) fn drive(
    args: &BenchArgs,
    threads: u32,
    workload: &Arc<Workload>,
    endpoints: &[(String, SocketAddr)],
    plan: Plan,
) -> Result<(Recorder, Duration), String> {
    let start = tokio::time::Instant::now();
    let clock = Clock {
        measure_from: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let progress = Arc::new(AtomicU64::new(0));
    let plan = Arc::new(plan);
    let mut handles = Vec::new();
    for thread in 0..threads {
        let clients: Vec<u32> = (thread..args.clients).step_by(threads as usize).collect();
        let (args, workload, endpoints, plan, progress) = (
            args.clone(),
            workload.clone(),
            endpoints.to_vec(),
            plan.clone(),
            progress.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("bench-{thread}"))
            .spawn(move || {
                run_thread(
                    &args, &clients, &workload, &endpoints, &plan, clock, &progress,
                )
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        handles.push(handle);
    }
    let mut last = 0;
    let mut tick = std::time::Instant::now();
    let terminal = std::io::stderr().is_terminal();
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(WATCH_INTERVAL);
        if tick.elapsed() >= PROGRESS_INTERVAL {
            let done = progress.load(Ordering::Relaxed);
            let rate = (done - last) as f64 / tick.elapsed().as_secs_f64();
            (last, tick) = (done, std::time::Instant::now());
            if !plan.quiet {
                let phase = if tokio::time::Instant::now() < clock.measure_from {
                    "warm-up"
                } else {
                    "measuring"
                };
                let line = format!(
                    "[{:>5.1} s] {phase}: {rate:>9.0} ops/s, {done} ops",
                    start.elapsed().as_secs_f64()
                );
                let mut err = std::io::stderr();
                let _ = if terminal {
                    write!(err, "\r{line}   ")
                } else {
                    writeln!(err, "{line}")
                };
            }
        }
    }
    if terminal && !plan.quiet {
        eprintln!();
    }
    let mut total = Recorder::new();
    for handle in handles {
        let rec = handle
            .join()
            .map_err(|_| "a load thread panicked".to_string())??;
        total.merge(&rec);
    }
    let measured = tokio::time::Instant::now()
        .min(clock.end)
        .saturating_duration_since(clock.measure_from);
    Ok((total, measured))
}

/// One thread: a current-thread runtime running its share of the clients.
fn run_thread(
    args: &BenchArgs,
    clients: &[u32],
    workload: &Arc<Workload>,
    endpoints: &[(String, SocketAddr)],
    plan: &Plan,
    clock: Clock,
    progress: &Arc<AtomicU64>,
) -> Result<Recorder, String> {
    let etcd = (args.target == Target::Etcd).then(|| etcd::Etcd::new(workload));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let recorder = Rc::new(RefCell::new(Recorder::new()));
    let local = tokio::task::LocalSet::new();
    for &client in clients {
        let (host, addr) = &endpoints[client as usize % endpoints.len()];
        let client_of = |source| ClientParts {
            addr: *addr,
            source,
            pipeline: plan.pipeline,
            request_timeout: Duration::from_millis(args.timeout_ms),
            clock,
        };
        let parts = client_of((plan.source)(client));
        match &etcd {
            None => spawn(
                &local,
                parts.with(
                    resp::Resp::new(workload.clone()),
                    workload,
                    &recorder,
                    progress,
                ),
            ),
            Some(etcd) => spawn(
                &local,
                parts.with(etcd.for_host(host), workload, &recorder, progress),
            ),
        }
    }
    runtime.block_on(local);
    let recorder = recorder.take();
    Ok(recorder)
}

/// A client's settings, before its protocol is chosen.
struct ClientParts {
    addr: SocketAddr,
    source: Source,
    pipeline: usize,
    request_timeout: Duration,
    clock: Clock,
}

impl ClientParts {
    fn with<P: Protocol>(
        self,
        protocol: P,
        workload: &Arc<Workload>,
        recorder: &Rc<RefCell<Recorder>>,
        progress: &Arc<AtomicU64>,
    ) -> Client<P> {
        Client {
            protocol,
            addr: self.addr,
            workload: workload.clone(),
            source: self.source,
            pipeline: self.pipeline,
            request_timeout: self.request_timeout,
            clock: self.clock,
            recorder: recorder.clone(),
            progress: progress.clone(),
        }
    }
}

fn spawn<P: Protocol>(local: &tokio::task::LocalSet, client: Client<P>) {
    local.spawn_local(client.run());
}
