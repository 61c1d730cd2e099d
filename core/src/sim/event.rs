//! The events of a run. Everything that happens is one of these, popped from the queue in
//! (time, sequence) order.

use super::action::Action;
use crate::kv::Request;
use crate::raft::Envelope;
use crate::replica::Outcome;

#[derive(Clone, Debug)]
pub enum Event {
    /// A peer message reaches its destination.
    Deliver(Envelope),
    /// A node's timer (its `next_deadline`) may be due. Nodes are numbered from 0 here.
    Timer {
        node: u32,
    },
    /// A node's fsync completes; `token` tells a completion from before a crash.
    FsyncDone {
        node: u32,
        token: u64,
    },
    /// A client request reaches a node.
    ClientArrive {
        node: u32,
        request_id: u64,
        request: Request,
    },
    /// A node's answer reaches its client.
    ClientReply {
        request_id: u64,
        outcome: Outcome,
    },
    /// A client gives up waiting for one attempt.
    ClientTimeout {
        client: u32,
        seq: u64,
        attempt: u32,
    },
    /// A client starts its next operation, or retries its current one.
    ClientStart {
        client: u32,
    },
    ClientRetry {
        client: u32,
        seq: u64,
    },
    /// The fault injector considers a fault (auto mode).
    Fault,
    /// An action the fault injector scheduled: a fault aimed at a new leader, or the undoing
    /// of an earlier fault (restart, resume, heal). Dropped once the safety phase is over.
    Inject(Action),
    /// A user action scheduled at this time.
    User(Action),
    /// The end of the safety phase: heal everything, then wait for convergence.
    Liveness,
    /// Checks whether the cluster has converged (liveness phase).
    Probe,
}
