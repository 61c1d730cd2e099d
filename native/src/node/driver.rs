//! The driver recipe (see `flotilla_core::raft::ready`), on real files and sockets:
//!
//! 0. send `messages` at once: they promise nothing about this node's disk, so a leader's
//!    appends reach the followers while it is still syncing its own copy (the leader's and
//!    the followers' fsyncs overlap instead of adding up);
//! 1. persist: a received snapshot first (the entries that follow it build on it), then the
//!    truncation, the new entries, a snapshot this node took, the hard state;
//! 2. one `sync` of the store: one write and one fdatasync of the WAL for the whole Ready
//!    (group commit: every client write that arrived since the last Ready shares it);
//! 3. send `persisted_messages` (votes, append acknowledgements: they promise step 2);
//! 4. apply: restore/apply/serve reads in the replica, and answer the clients;
//! 5. advance (the replica snapshots once enough entries have been applied).

use super::event_loop::EventLoop;
use crate::metrics::Metrics;
use crate::peer::PeerMessage;
use flotilla_core::raft::{Envelope, Event, HardState, Ready, RoleKind};
use flotilla_core::storage::Storage;
use flotilla_core::Millis;
use std::io;
use std::time::Instant;

/// A hard state whose only change is the commit index is written at most this often.
/// Term and vote are written at once (safety needs them); the commit index only saves work
/// after a restart (a node that forgot it re-learns it from the leader), and writing it on
/// every Ready would triple the fsyncs per client write.
const HARD_STATE_COMMIT_INTERVAL_MS: Millis = 1000;

impl EventLoop {
    /// Runs the recipe until the node has no Ready left. A storage error is fatal: after a
    /// failed write or fsync nothing is known about what is on disk.
    pub(super) fn drive(&mut self) -> io::Result<()> {
        while let Some(ready) = self.replica.node_mut().ready() {
            self.send_messages(&ready.messages);
            // The core hands out only entries that are committed *and* already durable here,
            // so they can be applied and answered before this Ready's own fsync; only a
            // received snapshot must be on disk before the state machine is replaced by it.
            let apply_early = ready.snapshot.is_none();
            if apply_early {
                self.apply(&ready);
            }
            self.persist(&ready)
                .map_err(|e| io::Error::other(format!("storage failed: {e}")))?;
            self.send_messages(&ready.persisted_messages);
            if !apply_early {
                self.apply(&ready);
            }
            let now = self.now();
            self.replica.advance(now, ready.id);
            self.observe_events(&ready);
            self.live_ready(&ready);
        }
        self.publish_status(false);
        Ok(())
    }

    fn persist(&mut self, ready: &Ready) -> Result<(), flotilla_core::storage::StorageError> {
        let mut wrote = false;
        if let Some(snapshot) = &ready.snapshot {
            self.store.save_snapshot(snapshot)?;
            wrote = true;
        }
        if let Some(from) = ready.truncate_from {
            self.store.truncate_from(from)?;
            wrote = true;
        }
        if !ready.entries.is_empty() {
            self.store.append(&ready.entries)?;
            self.metrics
                .append_batch_entries
                .observe(ready.entries.len() as f64);
            wrote = true;
        }
        if let Some(snapshot) = &ready.compacted {
            self.store.save_snapshot(snapshot)?;
            wrote = true;
        }
        if let Some(hard_state) = ready.hard_state {
            let now = self.now();
            if self.should_write_hard_state(&hard_state, now) {
                self.store.set_hard_state(&hard_state)?;
                self.hard_state_written = (hard_state, now);
                wrote = true;
            }
        }
        if wrote || ready.must_sync {
            let started = Instant::now();
            self.store.sync()?;
            self.metrics
                .fsync_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    fn should_write_hard_state(&self, hard_state: &HardState, now: Millis) -> bool {
        let (written, at) = &self.hard_state_written;
        (hard_state.term, hard_state.vote) != (written.term, written.vote)
            || (hard_state.commit != written.commit && now >= at + HARD_STATE_COMMIT_INTERVAL_MS)
    }

    fn send_messages(&mut self, messages: &[Envelope]) {
        for envelope in messages {
            let to = envelope.to;
            self.send_to_peer(to, &PeerMessage::Raft(envelope.clone()));
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
