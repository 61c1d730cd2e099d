//! One load-generating client: a connection that keeps `pipeline` requests in flight, issues
//! the next operation as soon as a reply frees a slot (closed loop), and reconnects after an
//! error. Many of them run as tasks on each thread's single-threaded tokio runtime.

use super::protocol::{Outcome, Protocol};
use super::report::Recorder;
use super::workload::{Op, Rng, Workload};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout_at, Instant};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a failed connection before the next attempt.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// Initial size of a connection's read buffer, in bytes.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Where the operations come from.
#[derive(Debug)]
pub enum Source {
    /// Random keys, reads and writes by the workload's ratio.
    Random(Rng),
    /// Every key written once, shared by all clients (prefill); ends after the last key.
    EachKeyOnce(Arc<AtomicU32>),
}

impl Source {
    fn next(&mut self, workload: &Workload) -> Option<Op> {
        match self {
            Source::Random(rng) => Some(workload.next_op(rng)),
            Source::EachKeyOnce(next) => {
                let key = next.fetch_add(1, Ordering::Relaxed);
                (key < workload.key_count()).then_some(Op::Write { key })
            }
        }
    }
}

/// When the run's phases end.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// Replies before this are not recorded (warm-up).
    pub measure_from: Instant,
    /// No operation is issued after this, and the connection is left.
    pub end: Instant,
}

/// What one client needs.
#[derive(Debug)]
pub struct Client<P> {
    pub protocol: P,
    pub addr: SocketAddr,
    pub workload: Arc<Workload>,
    pub source: Source,
    pub pipeline: usize,
    pub request_timeout: Duration,
    pub clock: Clock,
    pub recorder: Rc<RefCell<Recorder>>,
    /// Completed operations (ok or failed), for the progress line.
    pub progress: Arc<AtomicU64>,
}

/// Why a connection was given up.
enum Broken {
    /// The run is over (or the source ran dry and nothing is in flight).
    Done,
    /// Reconnect after counting the in-flight requests as errors with this text.
    Error(String),
}

impl<P: Protocol> Client<P> {
    pub async fn run(mut self) {
        while Instant::now() < self.clock.end {
            let stream =
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.addr)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        self.failed(&format!("connect: {}", e.kind()), 1);
                        sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                    Err(_) => {
                        self.failed("connect: timed out", 1);
                        continue;
                    }
                };
            let _ = stream.set_nodelay(true);
            let mut in_flight = VecDeque::with_capacity(self.pipeline);
            match self.session(stream, &mut in_flight).await {
                Broken::Done => return,
                Broken::Error(text) => {
                    self.failed(&text, in_flight.len().max(1) as u64);
                    sleep(RECONNECT_PAUSE).await;
                }
            }
        }
    }

    /// Runs requests on one connection until the run ends or the connection breaks.
    async fn session(
        &mut self,
        mut stream: TcpStream,
        in_flight: &mut VecDeque<Instant>,
    ) -> Broken {
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(READ_BUFFER_BYTES);
        let mut dry = false;
        loop {
            let now = Instant::now();
            if now >= self.clock.end {
                return Broken::Done;
            }
            while !dry && in_flight.len() < self.pipeline {
                match self.source.next(&self.workload) {
                    Some(op) => {
                        self.protocol.encode(op, &mut out);
                        in_flight.push_back(now);
                    }
                    None => dry = true,
                }
            }
            if in_flight.is_empty() {
                return Broken::Done;
            }
            if !out.is_empty() {
                match timeout_at(self.clock.end, stream.write_all(&out)).await {
                    Ok(Ok(())) => out.clear(),
                    Ok(Err(e)) => return Broken::Error(format!("write: {}", e.kind())),
                    Err(_) => return Broken::Done,
                }
            }
            let oldest = in_flight.front().copied().unwrap_or(now);
            let give_up = (oldest + self.request_timeout).min(self.clock.end);
            match timeout_at(give_up, stream.read_buf(&mut buf)).await {
                Err(_) if Instant::now() >= self.clock.end => return Broken::Done,
                Err(_) => return Broken::Error("timed out".into()),
                Ok(Err(e)) => return Broken::Error(format!("read: {}", e.kind())),
                Ok(Ok(0)) => return Broken::Error("closed by the server".into()),
                Ok(Ok(_)) => {}
            }
            let done = Instant::now();
            let mut used = 0;
            loop {
                match self.protocol.parse(&buf[used..]) {
                    Ok(Some((outcome, len))) => {
                        used += len;
                        let Some(sent) = in_flight.pop_front() else {
                            return Broken::Error("reply to no request".into());
                        };
                        self.record(sent, done, outcome);
                    }
                    Ok(None) => break,
                    Err(garbled) => return Broken::Error(format!("bad reply: {}", garbled.0)),
                }
            }
            buf.drain(..used);
        }
    }

    fn record(&self, sent: Instant, done: Instant, outcome: Outcome) {
        self.progress.fetch_add(1, Ordering::Relaxed);
        if sent < self.clock.measure_from {
            return;
        }
        let mut recorder = self.recorder.borrow_mut();
        match outcome {
            Outcome::Ok => recorder.ok(done - sent),
            Outcome::Failed(text) => recorder.error(&text, 1),
        }
    }

    fn failed(&self, text: &str, count: u64) {
        self.progress.fetch_add(count, Ordering::Relaxed);
        if Instant::now() >= self.clock.measure_from {
            self.recorder.borrow_mut().error(text, count);
        }
    }
}
