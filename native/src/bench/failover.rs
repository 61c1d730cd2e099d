//! Failover timing: kill -9 the leader, then measure how long until a write through any of
//! the surviving members succeeds. The same probe drives Flotilla and etcd.
//!
//! Every [`PROBE_INTERVAL`], and for every surviving endpoint, a new write attempt starts, on
//! an idle connection or a new one. Attempts are independent: one that hangs (a follower
//! still forwarding to the dead leader, an etcd proposal waiting for a leader) does not hold
//! back the next, so the first success is seen within about one interval of the moment a new
//! leader can commit.

use super::etcd::Etcd;
use super::protocol::{Outcome, Protocol};
use super::resp::Resp;
use super::workload::{Op, Workload};
use super::{BenchArgs, Target};
use crate::cli::CommandResult;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

/// How often a new write attempt starts, per endpoint.
const PROBE_INTERVAL: Duration = Duration::from_millis(2);
/// How long one attempt (connect, write, read the reply) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Most attempts waiting at once per endpoint.
const ATTEMPTS_IN_FLIGHT_MAX: usize = 256;
/// Connections opened to each endpoint before the kill.
const WARM_CONNECTIONS: usize = 4;
/// How long to wait for a new leader at most.
const FAILOVER_WAIT_MAX: Duration = Duration::from_secs(30);
/// Bytes read at a time by an attempt.
const READ_CHUNK_BYTES: usize = 4096;

/// Shared by the attempts of one probe.
#[derive(Debug, Default)]
struct Race {
    won: Cell<Option<(Instant, usize)>>,
    attempts: Cell<u64>,
    failed: Cell<u64>,
}

pub fn run(
    args: &BenchArgs,
    pid: i32,
    workload: &Arc<Workload>,
    endpoints: &[(String, SocketAddr)],
) -> CommandResult {
    if pid <= 1 {
        return Err("--failover-kill-pid must be a process id above 1".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&runtime, async {
        match args.target {
            Target::Resp => {
                let resp = Resp::new(workload.clone());
                let probes = endpoints.iter().map(|(_, a)| (resp.clone(), *a)).collect();
                race(probes, pid, workload).await
            }
            Target::Etcd => {
                let etcd = Etcd::new(workload);
                let probes = endpoints
                    .iter()
                    .map(|(h, a)| (etcd.for_host(h), *a))
                    .collect();
                race(probes, pid, workload).await
            }
        }
    });
    let (elapsed, winner, race) = result?;
    let ms = elapsed.as_secs_f64() * 1000.0;
    let endpoint = &endpoints[winner].0;
    if args.json {
        let out = serde_json::json!({
            "failover_ms": (ms * 1000.0).round() / 1000.0,
            "endpoint": endpoint,
            "attempts": race.attempts.get(),
            "failed_attempts": race.failed.get(),
        });
        println!("{out}");
    } else {
        println!(
            "killed {pid}; first write after {ms:.1} ms through {endpoint} ({} attempts, {} failed)",
            race.attempts.get(),
            race.failed.get()
        );
    }
    Ok(())
}

/// Kills `pid` and races attempts on every endpoint; returns the time to the first success
/// and which endpoint it came through.
async fn race<P: Protocol>(
    probes: Vec<(P, SocketAddr)>,
    pid: i32,
    workload: &Arc<Workload>,
) -> Result<(Duration, usize, Rc<Race>), String> {
    let mut pools = Vec::new();
    for (_, addr) in &probes {
        let mut pool = Vec::new();
        for _ in 0..WARM_CONNECTIONS {
            if let Ok(Ok(stream)) = timeout(ATTEMPT_TIMEOUT, TcpStream::connect(addr)).await {
                let _ = stream.set_nodelay(true);
                pool.push(stream);
            }
        }
        pools.push(Rc::new(RefCell::new(pool)));
    }
    let race = Rc::new(Race::default());
    let start = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL).map_err(|e| format!("kill -9 {pid}: {e}"))?;
    let mut next_key = 0u32;
    let busy: Vec<Rc<Cell<usize>>> = probes.iter().map(|_| Rc::default()).collect();
    while start.elapsed() < FAILOVER_WAIT_MAX {
        if let Some((at, winner)) = race.won.get() {
            return Ok((at - start, winner, race));
        }
        for (index, (protocol, addr)) in probes.iter().enumerate() {
            if busy[index].get() >= ATTEMPTS_IN_FLIGHT_MAX {
                continue;
            }
            let key = next_key % workload.key_count();
            next_key = next_key.wrapping_add(1);
            let attempt = Attempt {
                protocol: protocol.clone(),
                addr: *addr,
                index,
                op: Op::Write { key },
                pool: pools[index].clone(),
                busy: busy[index].clone(),
                race: race.clone(),
            };
            tokio::task::spawn_local(attempt.run());
        }
        sleep(PROBE_INTERVAL).await;
    }
    Err(format!(
        "no write succeeded within {FAILOVER_WAIT_MAX:?} of the kill ({} attempts)",
        race.attempts.get()
    ))
}

/// One write attempt.
struct Attempt<P> {
    protocol: P,
    addr: SocketAddr,
    index: usize,
    op: Op,
    pool: Rc<RefCell<Vec<TcpStream>>>,
    busy: Rc<Cell<usize>>,
    race: Rc<Race>,
}

impl<P: Protocol> Attempt<P> {
    async fn run(self) {
        self.busy.set(self.busy.get() + 1);
        self.race.attempts.set(self.race.attempts.get() + 1);
        let outcome = timeout(ATTEMPT_TIMEOUT, self.try_once()).await;
        self.busy.set(self.busy.get() - 1);
        match outcome {
            Ok(Some(stream)) => {
                if self.race.won.get().is_none() {
                    self.race.won.set(Some((Instant::now(), self.index)));
                }
                self.pool.borrow_mut().push(stream);
            }
            Ok(None) | Err(_) => self.race.failed.set(self.race.failed.get() + 1),
        }
    }

    /// The connection back when the write succeeded; `None` on any failure (an error reply
    /// gives the connection back to the pool, a broken one is dropped).
    async fn try_once(&self) -> Option<TcpStream> {
        let pooled = self.pool.borrow_mut().pop();
        let mut stream = match pooled {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.addr).await.ok()?;
                let _ = stream.set_nodelay(true);
                stream
            }
        };
        let mut out = Vec::new();
        self.protocol.encode(self.op, &mut out);
        stream.write_all(&out).await.ok()?;
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; READ_CHUNK_BYTES];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            match self.protocol.parse(&buf) {
                Ok(Some((Outcome::Ok, _))) => return Some(stream),
                Ok(Some((Outcome::Failed(_), _))) => {
                    self.pool.borrow_mut().push(stream);
                    return None;
                }
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }
}
