//! The driver recipe (see `flotilla_core::raft::ready`), on real files and sockets, with the
//! disk work on the WAL thread (`crate::wal::WalThread`):
//!
//! 0. send `messages` at once: they promise nothing about this node's disk, so a leader's
//!    appends reach the followers while it is still syncing its own copy (the leader's and
//!    the followers' fsyncs overlap instead of adding up);
//! 1. apply what the Ready hands out (committed entries, confirmed reads) and answer the
//!    clients: the core only hands out entries that are committed *and* already durable
//!    here, so they do not depend on this Ready's writes. Only a received snapshot must be
//!    on disk before the state machine is replaced by it: that apply waits for step 3;
//! 2. hand the writes (a received snapshot, the truncation, the entries, a snapshot this
//!    node took, the hard state) to the WAL thread, which makes them durable with one write
//!    and one fdatasync (group commit). The loop goes back to its sockets meanwhile: acks,
//!    new commands and reads are stepped into the node and wait there for the next Ready;
//! 3. when the thread reports the job durable: send `persisted_messages` (votes, append
//!    acknowledgements: they promise step 2), apply a received snapshot, and advance (the
//!    replica snapshots once enough entries have been applied). The next Ready follows.

use super::event_loop::EventLoop;
use crate::metrics::Metrics;
use crate::wal::{WalDone, WalJob};
use flotilla_core::raft::{Envelope, Event, HardState, Ready, RoleKind};
use flotilla_core::storage::StorageError;
use flotilla_core::{Index, Millis, Term};
use std::io;

/// A hard state whose only change is the commit index is written at most this often.
/// Term and vote are written at once (safety needs them); the commit index only saves work
/// after a restart (a node that forgot it re-learns it from the leader). It is a small
/// record in the WAL batch, but a Ready whose only news is the commit index (a follower
/// learning it from a heartbeat) would otherwise cost an fdatasync of its own.
const HARD_STATE_COMMIT_INTERVAL_MS: Millis = 1000;

/// The Ready whose writes are on the WAL thread: what is left to do once they are durable.
#[derive(Debug)]
pub(super) struct Unsynced {
    ready: Ready,
    /// Whether its entries and reads were applied already (everything but a received
    /// snapshot is applied before the sync).
    applied: bool,
    /// The entries it appends, `(first, last, last's term)`, for the live view: the WAL job
    /// takes the entries themselves.
    appended: Option<(Index, Index, Term)>,
}

impl EventLoop {
    /// Runs the recipe until the node has no Ready left or one is waiting for the disk.
    /// A storage error is fatal: after a failed write or fsync nothing is known about what
    /// is on disk.
    pub(super) fn drive(&mut self) -> io::Result<()> {
        while self.unsynced.is_none() {
            let Some(mut ready) = self.replica.node_mut().ready() else {
                break;
            };
            self.send_messages(&ready.messages);
            let applied = ready.snapshot.is_none();
            if applied {
                self.apply(&ready);
            }
            let appended = match (ready.entries.first(), ready.entries.last()) {
                (Some(first), Some(last)) => Some((first.index, last.index, last.term)),
                _ => None,
            };
            let job = self.wal_job(&mut ready);
            self.unsynced = Some(Unsynced {
                ready,
                applied,
                appended,
            });
            if job.is_empty() {
                self.finish_ready();
            } else {
                self.wal.submit(job).map_err(storage_failed)?;
            }
        }
        self.publish_status(false);
        Ok(())
    }

    /// Takes the WAL thread's answers: a durable job completes its Ready.
    pub(super) fn wal_done(&mut self) -> io::Result<()> {
        while let Some(done) = self.wal.try_done() {
            self.observe_sync(&done);
            done.result.map_err(storage_failed)?;
            if self
                .unsynced
                .as_ref()
                .is_some_and(|u| u.ready.id == done.ready_id)
            {
                self.finish_ready();
            }
        }
        Ok(())
    }

    fn observe_sync(&self, done: &WalDone) {
        if let Some(time) = done.sync_time {
            self.metrics.fsync_seconds.observe(time.as_secs_f64());
        }
        if done.entries > 0 {
            self.metrics
                .append_batch_entries
                .observe(done.entries as f64);
        }
    }

    /// What the Ready asks to persist, moved out of it (the entries are not copied).
    fn wal_job(&mut self, ready: &mut Ready) -> WalJob {
        let now = self.now();
        let hard_state = ready
            .hard_state
            .filter(|hard_state| self.should_write_hard_state(hard_state, now));
        if let Some(hard_state) = hard_state {
            self.hard_state_written = (hard_state, now);
        }
        WalJob {
            ready_id: ready.id,
            // A received snapshot is rare; the loop keeps its copy to restore the state
            // machine from once the thread has made it durable.
            snapshot: ready.snapshot.clone(),
            truncate_from: ready.truncate_from,
            entries: std::mem::take(&mut ready.entries),
            compacted: ready.compacted.take(),
            hard_state,
            must_sync: ready.must_sync,
        }
    }

    /// The rest of the recipe, once the Ready's writes are durable.
    fn finish_ready(&mut self) {
        let Some(Unsynced {
            ready,
            applied,
            appended,
        }) = self.unsynced.take()
        else {
            return;
        };
        self.send_messages(&ready.persisted_messages);
        if !applied {
            self.apply(&ready);
        }
        let now = self.now();
        self.replica.advance(now, ready.id);
        self.observe_events(&ready);
        self.live_ready(&ready, appended);
    }

    fn should_write_hard_state(&self, hard_state: &HardState, now: Millis) -> bool {
        let (written, at) = &self.hard_state_written;
        (hard_state.term, hard_state.vote) != (written.term, written.vote)
            || (hard_state.commit != written.commit && now >= at + HARD_STATE_COMMIT_INTERVAL_MS)
    }

    fn send_messages(&mut self, messages: &[Envelope]) {
        for envelope in messages {
            self.send_raft(envelope);
        }
    }

    fn apply(&mut self, ready: &Ready) {
        let mut replies = Vec::new();
        if let Err(error) = self.replica.apply(ready, &mut replies) {
            // A snapshot from the leader that does not decode: keep running on the old state;
            // the leader will send it again.
            tracing::error!(%error, "could not apply a Ready");
        }
        Metrics::add(&self.metrics.commits, ready.committed.len() as u64);
        for reply in replies {
            self.settle(reply);
        }
    }

    fn observe_events(&mut self, ready: &Ready) {
        let mut membership_changed = false;
        for event in &ready.events {
            match event {
                Event::RoleChanged { role, term } => {
                    tracing::info!(node = %self.me, role = role.name(), %term, "role changed");
                    if *role == RoleKind::Candidate {
                        Metrics::add(&self.metrics.elections, 1);
                    }
                    let leader = u64::from(*role == RoleKind::Leader);
                    self.metrics
                        .is_leader
                        .store(leader, std::sync::atomic::Ordering::Relaxed);
                }
                Event::LeaderChanged { leader, term } => {
                    tracing::info!(node = %self.me, leader = ?leader.map(|l| l.0), %term, "leader changed");
                }
                Event::MembershipChanged { .. } => membership_changed = true,
                Event::SnapshotInstalled { index, .. } => {
                    tracing::info!(node = %self.me, %index, "installed a snapshot from the leader");
                }
                Event::Compacted { index } => {
                    tracing::info!(node = %self.me, %index, "took a snapshot, compacted the log");
                }
                Event::Committed { .. } | Event::ReadDropped { .. } => {}
            }
        }
        self.metrics.term.store(
            self.replica.node().term().0,
            std::sync::atomic::Ordering::Relaxed,
        );
        if membership_changed {
            self.sync_peers();
        }
        if !ready.events.is_empty() {
            self.publish_status(true);
        }
    }
}

fn storage_failed(error: StorageError) -> io::Error {
    io::Error::other(format!("storage failed: {error}"))
}
