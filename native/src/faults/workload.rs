//! The clients of a fault run: threads that send GET, SET and DEL over RESP to random nodes
//! and record every operation's invocation, completion and outcome, for the checker.
//!
//! Times are logical: one counter shared by every client, taken just before a command is
//! sent and just after its reply arrives, so an operation that completed before another was
//! invoked has a smaller completion time than the other's invocation (real-time order, which
//! is what linearizability respects). Every SET writes a value no other operation writes.

use super::conn::RespConn;
use crate::resp::Reply;
use flotilla_core::check::linearizability::{KvInput, KvOutput, Operation};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a client waits for a reply before it gives up (the outcome is then unknown).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after an error before the next operation, so clients do not spin on a dead node.
const ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// What the clients share.
#[derive(Debug)]
pub struct Shared {
    pub clock: AtomicU64,
    pub stop: AtomicBool,
    pub history: Mutex<Vec<Operation>>,
    /// RESP ports of the nodes.
    pub ports: Vec<u16>,
    pub keys: u64,
}

impl Shared {
    pub fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    pub fn record(&self, operation: Operation) {
        if let Ok(mut history) = self.history.lock() {
            history.push(operation);
        }
    }
}

/// A small deterministic generator (xorshift64*), one per client.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What one reply means for the history.
fn outcome(input: &KvInput, reply: std::io::Result<Reply>) -> KvOutput {
    let error_means = |text: &str| {
        // NOLEADER and TRYAGAIN promise the command had no effect; anything else may hide
        // a write that happened (UNKNOWN, a timeout, a closed connection, BUSY, ...).
        if text.starts_with("NOLEADER") || text.starts_with("TRYAGAIN") {
            KvOutput::Failed
        } else {
            KvOutput::Unknown
        }
    };
    match (input, reply) {
        (KvInput::Get, Ok(Reply::Bulk(value))) => KvOutput::Value(value),
        (KvInput::Put(_), Ok(Reply::Simple(ok))) if ok == "OK" => KvOutput::Ok,
        (KvInput::Delete, Ok(Reply::Integer(n))) => KvOutput::Deleted(n > 0),
        (_, Ok(Reply::Error(text))) => error_means(&text),
        _ => KvOutput::Unknown,
    }
}

/// Runs one operation on `conn` and records it. Returns whether the connection is still
/// usable.
pub fn run_operation(
    shared: &Shared,
    client: u64,
    conn: &mut RespConn,
    key: &str,
    input: KvInput,
) -> bool {
    let value = match &input {
        KvInput::Put(value) => String::from_utf8_lossy(value).into_owned(),
        _ => String::new(),
    };
    let args: Vec<&str> = match &input {
        KvInput::Get => vec!["GET", key],
        KvInput::Put(_) => vec!["SET", key, &value],
        _ => vec!["DEL", key],
    };
    let invoke = shared.tick();
    let reply = conn.call(&args);
    let complete = shared.tick();
    let usable = reply.is_ok();
    let output = outcome(&input, reply);
    let complete = match output {
        KvOutput::Unknown | KvOutput::Failed => None,
        _ => Some(complete),
    };
    shared.record(Operation {
        client,
        key: key.as_bytes().to_vec(),
        input,
        output,
        invoke,
        complete,
    });
    usable
}

/// One client thread: random operations on random keys through random nodes until told to
/// stop. A connection that failed is dropped (a late reply must not be taken for the next
/// command's) and the next operation goes through another node.
pub fn client(shared: Arc<Shared>, client: u64, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut conn: Option<RespConn> = None;
    let mut writes = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        if conn.is_none() {
            let port = shared.ports[rng.below(shared.ports.len() as u64) as usize];
            conn = RespConn::connect(port, REPLY_TIMEOUT).ok();
            if conn.is_none() {
                std::thread::sleep(ERROR_BACKOFF);
                continue;
            }
        }
        let key = format!("k{}", rng.below(shared.keys));
        let input = match rng.below(10) {
            0..=4 => KvInput::Get,
            5..=8 => {
                writes += 1;
                KvInput::Put(format!("c{client}w{writes}").into_bytes())
            }
            _ => KvInput::Delete,
        };
        let Some(open) = conn.as_mut() else {
            continue;
        };
        if !run_operation(&shared, client, open, &key, input) {
            conn = None;
            std::thread::sleep(ERROR_BACKOFF);
        } else if rng.below(20) == 0 {
            // Move to another node now and then, so every node serves (and forwards).
            conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_map_to_outcomes() {
        let put = KvInput::Put(b"v".to_vec());
        let error = |text: &str| Ok(Reply::Error(text.into()));
        assert_eq!(outcome(&put, Ok(Reply::ok())), KvOutput::Ok);
        assert_eq!(outcome(&put, error("NOLEADER no leader")), KvOutput::Failed);
        assert_eq!(outcome(&put, error("TRYAGAIN dropped")), KvOutput::Failed);
        assert_eq!(outcome(&put, error("UNKNOWN maybe")), KvOutput::Unknown);
        assert_eq!(outcome(&put, error("BUSY later")), KvOutput::Unknown);
        assert_eq!(
            outcome(&put, Err(std::io::ErrorKind::TimedOut.into())),
            KvOutput::Unknown
        );
        assert_eq!(
            outcome(&KvInput::Get, Ok(Reply::Bulk(None))),
            KvOutput::Value(None)
        );
        assert_eq!(
            outcome(&KvInput::Delete, Ok(Reply::Integer(1))),
            KvOutput::Deleted(true)
        );
        // A reply of the wrong shape proves nothing either way.
        assert_eq!(outcome(&KvInput::Get, Ok(Reply::ok())), KvOutput::Unknown);
    }
}
