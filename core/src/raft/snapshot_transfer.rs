//! InstallSnapshot (§7): a leader whose log no longer holds what a follower needs sends its
//! latest snapshot instead, in chunks of at most `snapshot_chunk_bytes_max`, one chunk in
//! flight at a time. The follower assembles the chunks and, on the last one, replaces its
//! log and state machine with the snapshot.

use super::message::{Message, Snapshot, SnapshotMeta};
use super::node::{IncomingSnapshot, Node, Role};
use super::progress::SendState;
use super::ready::Event;
use crate::types::{Index, NodeId};

/// The largest snapshot a follower accepts, so a faulty peer cannot make it allocate
/// without bound.
pub const SNAPSHOT_BYTES_MAX: u64 = 1 << 30;

/// Why a snapshot chunk was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot would exceed {SNAPSHOT_BYTES_MAX} bytes")]
    TooLarge,
}

impl Node {
    /// Switches `to` to receiving our snapshot and sends the first chunk.
    pub(super) fn start_snapshot_transfer(&mut self, to: NodeId) {
        let Some(index) = self.snapshot.as_ref().map(|s| s.meta.index) else {
            return;
        };
        if let Role::Leader(leader) = &mut self.role {
            if let Some(progress) = leader.progress.get_mut(&to) {
                progress.become_snapshot(index);
            }
        }
        self.send_snapshot_chunk(to);
    }

    /// Sends the chunk `to` asked for next, unless one is in flight.
    pub(super) fn send_snapshot_chunk(&mut self, to: NodeId) {
        let chunk_max = self.config.snapshot_chunk_bytes_max;
        let Some(snapshot) = self.snapshot.as_ref() else {
            return;
        };
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&to) else {
            return;
        };
        let SendState::Snapshot {
            index,
            next_offset,
            chunk_in_flight,
        } = &mut progress.state
        else {
            return;
        };
        if *chunk_in_flight {
            return;
        }
        if *index != snapshot.meta.index {
            // A newer snapshot was taken meanwhile: start over with it.
            *index = snapshot.meta.index;
            *next_offset = 0;
        }
        let len = snapshot.data.len() as u64;
        let start = (*next_offset).min(len);
        let end = start.saturating_add(chunk_max).min(len);
        *chunk_in_flight = true;
        let message = Message::InstallSnapshot {
            meta: snapshot.meta.clone(),
            offset: start,
            data: snapshot.data[start as usize..end as usize].to_vec(),
            done: end == len,
        };
        self.send(to, message);
    }

    pub(super) fn handle_install_snapshot_response(
        &mut self,
        from: NodeId,
        next_offset: u64,
        installed: Option<Index>,
    ) {
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        match installed {
            Some(index) => {
                progress.snapshot_installed(index);
                self.maybe_commit();
                self.send_append(from, true);
            }
            None => {
                if let SendState::Snapshot {
                    next_offset: next,
                    chunk_in_flight,
                    ..
                } = &mut progress.state
                {
                    *next = next_offset;
                    *chunk_in_flight = false;
                }
                self.send_snapshot_chunk(from);
            }
        }
    }

    /// Handles a snapshot chunk from the leader of the current term.
    pub(super) fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        meta: SnapshotMeta,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    ) -> Result<(), SnapshotError> {
        self.heard_from_leader(from);
        if meta.index <= self.commit {
            // We already hold (and agree on) everything the snapshot stands for.
            self.incoming_snapshot = None;
            let installed = Some(self.commit);
            self.send_after_persist(
                from,
                Message::InstallSnapshotResponse {
                    next_offset: 0,
                    installed,
                },
            );
            return Ok(());
        }
        if self.log.matches(meta.index, meta.term) {
            // We already hold the snapshot's last entry, so our log agrees with the leader's
            // up to there: keep it and what follows (the Raft paper, Figure 13, step 6). Only
            // the commit index moves. Discarding the entries after it would lose entries we
            // acknowledged, which the leader counted (and leave its match index above our log).
            self.incoming_snapshot = None;
            self.commit = meta.index;
            self.out.events.push(Event::Committed { index: meta.index });
            self.send_after_persist(
                from,
                Message::InstallSnapshotResponse {
                    next_offset: 0,
                    installed: Some(meta.index),
                },
            );
            return Ok(());
        }
        let received = self.receive_chunk(meta, offset, data)?;
        if !done
            || self
                .incoming_snapshot
                .as_ref()
                .is_some_and(|s| s.data.len() as u64 != received)
        {
            let message = Message::InstallSnapshotResponse {
                next_offset: received,
                installed: None,
            };
            self.send(from, message);
            return Ok(());
        }
        let Some(IncomingSnapshot { meta, data }) = self.incoming_snapshot.take() else {
            return Ok(());
        };
        let index = meta.index;
        self.install_snapshot(Snapshot { meta, data });
        let installed = Some(index);
        self.send_after_persist(
            from,
            Message::InstallSnapshotResponse {
                next_offset: 0,
                installed,
            },
        );
        Ok(())
    }

    /// Adds a chunk to the snapshot being assembled; returns how many bytes it now holds.
    fn receive_chunk(
        &mut self,
        meta: SnapshotMeta,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<u64, SnapshotError> {
        if offset.saturating_add(data.len() as u64) > SNAPSHOT_BYTES_MAX {
            return Err(SnapshotError::TooLarge);
        }
        let same = self
            .incoming_snapshot
            .as_ref()
            .is_some_and(|s| s.meta == meta);
        if offset == 0 && !same {
            let meta = meta.clone();
            self.incoming_snapshot = Some(IncomingSnapshot {
                meta,
                data: Vec::new(),
            });
        }
        let Some(incoming) = self.incoming_snapshot.as_mut().filter(|s| s.meta == meta) else {
            return Ok(0);
        };
        if offset == incoming.data.len() as u64 {
            incoming.data.extend_from_slice(&data);
        }
        Ok(incoming.data.len() as u64)
    }

    /// Replaces the log and (through the Ready) the state machine with `snapshot`.
    fn install_snapshot(&mut self, snapshot: Snapshot) {
        let (index, term) = (snapshot.meta.index, snapshot.meta.term);
        self.log.reset_to_snapshot(index, term);
        self.drop_acks_from(index.next());
        self.snapshot_membership = snapshot.meta.membership.clone();
        self.recompute_membership();
        self.commit = self.commit.max(index);
        self.applied = index;
        self.snapshot = Some(snapshot.clone());
        self.out.snapshot_received = Some(snapshot);
        self.out
            .events
            .push(Event::SnapshotInstalled { index, term });
    }
}
