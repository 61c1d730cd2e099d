//! The driver recipe for each simulated node, exactly as `raft::ready` prescribes:
//!
//! 1. persist the Ready to the node's `MemStorage` (received snapshot, truncation, entries,
//!    own snapshot, hard state), and stage the same writes in the durability shadow;
//! 2. send `messages` at once;
//! 3. if the Ready must be synced, start an fsync that completes after a simulated latency
//!    (the node keeps taking messages and ticks meanwhile, but produces no new Ready);
//! 4. when the fsync completes: send `persisted_messages`, apply to the state machine and
//!    answer clients, then `advance`, and look for the next Ready.
//!
//! Every peer message passes the durability checker on its way out, and every Ready and
//! apply passes the log checkers. Timers: a node is ticked only when its `next_deadline`
//! (on its own, possibly skewed, clock) is due, never every millisecond.

use super::cluster::Sim;
use super::describe::{Env, Req};
use super::event::Event;
use super::network::{DropReason, Fate};
use crate::check::Invariant;
use crate::kv::Request;
use crate::raft::{Envelope, Event as RaftEvent, Message, Ready, StepError};
use crate::storage::{Storage, StorageError};

impl Sim {
    pub(super) fn deliver(&mut self, envelope: Envelope) {
        let Some(i) = self.index_of(envelope.to) else {
            return;
        };
        let host = &mut self.hosts[i];
        let reason = if host.replica.is_none() {
            Some(DropReason::Crashed)
        } else if self.network.is_cut(envelope.from, envelope.to) {
            Some(DropReason::Partition)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.messages_dropped += 1;
            self.trace.line(
                self.now,
                format_args!("{} ✗ {}", Env(&envelope), reason.name()),
            );
            return;
        }
        if host.paused {
            host.inbox.push(Event::Deliver(envelope));
            return;
        }
        self.stats.messages_delivered += 1;
        self.trace
            .line(self.now, format_args!("{}", Env(&envelope)));
        let local = host.local(self.now);
        let Some(replica) = host.replica.as_mut() else {
            return;
        };
        if let Err(error) = replica.node_mut().step(local, envelope) {
            let invariant = match error {
                StepError::Append(_) => Invariant::CommittedImmutable,
                _ => Invariant::Driver,
            };
            let node = self.hosts[i].id;
            self.violation(invariant, Some(node), format!("step refused: {error}"));
        }
        self.after_input(i);
    }

    pub(super) fn timer(&mut self, i: usize) {
        let now = self.now;
        let host = &mut self.hosts[i];
        if host.timer.is_some_and(|t| t <= now) {
            host.timer = None;
        }
        if host.paused {
            return;
        }
        let local = host.local(now);
        let Some(replica) = host.replica.as_mut() else {
            return;
        };
        if local < replica.node().next_deadline() {
            self.schedule_timer(i);
            return;
        }
        replica.node_mut().tick(local);
        self.after_input(i);
    }

    pub(super) fn fsync_done(&mut self, i: usize, token: u64) {
        let host = &mut self.hosts[i];
        if token != host.fsync_token || host.replica.is_none() {
            return;
        }
        if host.paused {
            host.inbox.push(Event::FsyncDone {
                node: i as u32,
                token,
            });
            return;
        }
        let Some(ready) = host.pending.take() else {
            return;
        };
        self.stats.fsyncs += 1;
        if let Err(error) = host.storage.sync() {
            self.storage_failed(i, error);
            return;
        }
        host.shadow.sync();
        self.finish_ready(i, ready);
        self.after_input(i);
    }

    pub(super) fn client_arrive(&mut self, i: usize, request_id: u64, request: Request) {
        let Some(host) = self.hosts.get_mut(i) else {
            return;
        };
        if host.paused {
            host.inbox.push(Event::ClientArrive {
                node: i as u32,
                request_id,
                request,
            });
            return;
        }
        let id = host.id;
        let Some(replica) = host.replica.as_mut() else {
            return;
        };
        self.trace
            .line(self.now, format_args!("{id} ← {}", Req(&request)));
        if let Some(reply) = replica.submit(request_id, request) {
            self.replies.push(reply);
        }
        self.after_input(i);
    }

    /// After any input to node `i`: run the recipe, check, and set its timer.
    pub(super) fn after_input(&mut self, i: usize) {
        self.drive(i);
        if let Some(replica) = self.hosts[i].replica.as_ref() {
            self.checkers.observe(self.now, replica.node());
        }
        self.schedule_timer(i);
        self.dispatch_replies();
    }

    /// Takes and handles Readys until one must wait for an fsync or none is left.
    pub(super) fn drive(&mut self, i: usize) {
        loop {
            let host = &mut self.hosts[i];
            if host.paused || host.pending.is_some() {
                return;
            }
            let Some(replica) = host.replica.as_mut() else {
                return;
            };
            let Some(mut ready) = replica.node_mut().ready() else {
                return;
            };
            self.stats.readies += 1;
            self.checkers
                .before_persist(self.now, replica.node(), &ready);
            if let Err(error) = crate::storage::persist_ready(&mut host.storage, &ready) {
                self.storage_failed(i, error);
                return;
            }
            host.shadow.stage(&ready);
            for envelope in std::mem::take(&mut ready.messages) {
                self.send(i, envelope);
            }
            if ready.must_sync {
                let o = &self.options.disk;
                let latency = self.disk_rng.range(o.fsync_min_ms, o.fsync_max_ms);
                let host = &mut self.hosts[i];
                host.fsync_token += 1;
                let token = host.fsync_token;
                host.pending = Some(ready);
                self.queue.push(
                    self.now + latency,
                    Event::FsyncDone {
                        node: i as u32,
                        token,
                    },
                );
                return;
            }
            self.finish_ready(i, ready);
        }
    }

    /// The rest of the recipe, once the Ready's writes are durable.
    fn finish_ready(&mut self, i: usize, mut ready: Ready) {
        for envelope in std::mem::take(&mut ready.persisted_messages) {
            self.send(i, envelope);
        }
        let now = self.now;
        let host = &mut self.hosts[i];
        let id = host.id;
        let local = host.local(now);
        let Some(replica) = host.replica.as_mut() else {
            return;
        };
        if let Err(error) = replica.apply(&ready, &mut self.replies) {
            self.violation(
                Invariant::Driver,
                Some(id),
                format!("apply failed: {error}"),
            );
            return;
        }
        if !ready.committed.is_empty() || ready.snapshot.is_some() {
            let kv = replica.kv();
            self.checkers
                .after_apply(now, id, &ready.committed, kv.applied(), kv.digest());
        }
        replica.advance(local, ready.id);
        for event in &ready.events {
            match event {
                RaftEvent::RoleChanged { role, term } => {
                    self.trace
                        .line(now, format_args!("{id} {} t{term}", role.name()));
                    if *role == crate::raft::RoleKind::Leader {
                        self.new_leader(i);
                    }
                }
                RaftEvent::SnapshotInstalled { index, term } => {
                    self.trace
                        .line(now, format_args!("{id} installs snapshot {index}@{term}"));
                }
                RaftEvent::Compacted { index } => {
                    self.trace
                        .line(now, format_args!("{id} snapshots at {index}"));
                }
                _ => {}
            }
        }
        if let (Some(first), Some(last)) = (ready.committed.first(), ready.committed.last()) {
            self.trace.line(
                now,
                format_args!("{id} applies {}..={}", first.index, last.index),
            );
        }
    }

    /// Sends a peer message from node `i` through the network.
    fn send(&mut self, i: usize, envelope: Envelope) {
        let host = &self.hosts[i];
        if let Some(replica) = host.replica.as_ref() {
            self.checkers
                .before_send(self.now, &envelope, replica.node(), &host.shadow);
        }
        self.stats.messages_sent += 1;
        let carries_entries =
            matches!(&envelope.message, Message::Append { entries, .. } if !entries.is_empty());
        let fate = if carries_entries && self.network.entries_blocked(envelope.from, envelope.to) {
            Fate::Dropped(DropReason::Partition)
        } else {
            self.network.send(envelope.from, envelope.to)
        };
        match fate {
            Fate::Dropped(reason) => {
                self.stats.messages_dropped += 1;
                self.trace.line(
                    self.now,
                    format_args!("{} ✗ {}", Env(&envelope), reason.name()),
                );
            }
            Fate::Delivered(first, second) => {
                if let Some(second) = second {
                    self.queue
                        .push(self.now + second, Event::Deliver(envelope.clone()));
                }
                self.queue.push(self.now + first, Event::Deliver(envelope));
            }
        }
    }

    /// Makes sure a timer event is queued for node `i`'s next deadline. An earlier queued
    /// timer is left in place: when it fires early, the node is not ticked and the timer is
    /// set again; this keeps the queue from filling with timers that heartbeats pushed back.
    pub(super) fn schedule_timer(&mut self, i: usize) {
        let now = self.now;
        let host = &mut self.hosts[i];
        if host.paused {
            return;
        }
        let Some(replica) = host.replica.as_ref() else {
            return;
        };
        let deadline = replica.node().next_deadline();
        let mut at = host.clock.virtual_at(deadline).max(now);
        if at == now && host.clock.local(now) >= deadline {
            // Due already (a tick just happened at this instant): try again next ms.
            at = now + 1;
        }
        if host.timer.is_some_and(|t| t <= at) {
            return;
        }
        host.timer = Some(at);
        self.queue.push(at, Event::Timer { node: i as u32 });
    }

    /// Sends the replies the replicas produced to their clients.
    pub(super) fn dispatch_replies(&mut self) {
        let latency = self.options.network.client_latency_ms;
        for reply in self.replies.drain(..) {
            self.queue.push(
                self.now + latency,
                Event::ClientReply {
                    request_id: reply.request_id,
                    outcome: reply.outcome,
                },
            );
        }
    }

    fn storage_failed(&mut self, i: usize, error: StorageError) {
        let id = self.hosts[i].id;
        self.violation(Invariant::Driver, Some(id), format!("storage: {error}"));
    }

    pub(super) fn index_of(&self, node: crate::types::NodeId) -> Option<usize> {
        let i = usize::try_from(node.0.checked_sub(1)?).ok()?;
        (i < self.hosts.len()).then_some(i)
    }
}
