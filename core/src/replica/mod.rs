//! # Replica: a Raft node, its key-value state machine, and the clients waiting on them
//!
//! Every driver (the simulator, the browser, the native node) owns the same three things per
//! server: a Raft [`Node`], the [`KvStore`] it feeds, and the bookkeeping that turns "entry 42
//! of term 3 was applied" into "client 7, your `SET x 1` is done". That bookkeeping is easy to
//! get subtly wrong, and every mistake in it is a linearizability bug, so it lives here once.
//!
//! A `Replica` knows nothing of storage or transport. The driver still runs the recipe from
//! [`crate::raft::ready`]: take a [`Ready`], persist it, fsync when asked, send its messages,
//! then hand the Ready to [`Replica::apply`] (which restores a received snapshot, applies the
//! committed entries and serves confirmed reads, returning the client [`Reply`]s) and finally
//! call [`Replica::advance`] (which advances the node and takes a snapshot when the log has
//! grown past [`ReplicaConfig::snapshot_entries`]).
//!
//! ## What a client is told, and why it is true
//!
//! * **Writes** are proposed; the replica remembers the `(index, term)` the leader gave them.
//!   When an entry is applied at that index with that term, the client gets the state
//!   machine's [`Response`]. When an entry of another term is applied at that index, the
//!   proposal is surely lost: a committed index holds exactly one entry forever (state-machine
//!   safety), so ours can never commit; the client is told [`Outcome::Dropped`].
//! * When this node stops being leader, its pending writes may still commit under the next
//!   leader, or may not: they are answered [`Outcome::Unknown`]. Clients retry with the same
//!   session tag; the state machine's sessions make the retry apply at most once.
//! * A received snapshot can jump over a pending write's index without showing us the entry:
//!   also [`Outcome::Unknown`].
//! * **Reads** go through ReadIndex ([`Node::read`]): the node reports when the read is
//!   confirmed and at which index; the replica serves it from the state machine once that
//!   index is applied. A read the node drops (leadership lost before confirmation) is
//!   answered [`Outcome::Dropped`]: it had no effect, the client may simply retry.
//! * A request the node refuses (not the leader, transfer in progress) is answered at once
//!   with [`Outcome::NotLeader`], with the leader hint if there is one.
//!
//! ## Request ids
//!
//! The driver names each request with a `request_id` unique on this replica (the simulator
//! numbers them; the native node numbers connections' requests). Ids are also the ReadIndex
//! ids passed to the node, so they must not repeat while a request is pending.

use crate::kv::{KvSnapshotError, KvStore, Request, Response};
use crate::raft::{
    Config, Entry, Event, HardState, Membership, Node, ProposeError, Ready, RestoreError, RoleKind,
    Snapshot,
};
use crate::types::{Index, Millis, NodeId, Term};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// By default a replica snapshots its state machine once this many applied entries have
/// accumulated after the last snapshot. As this grows, restarts replay more entries and
/// lagging followers are more often caught up by appends than by snapshots; as it shrinks,
/// the whole state machine is encoded and written more often. A snapshot costs the size of
/// the state, not of the log: at 10,000 the three nodes of a cluster taking 40,000 writes/s
/// over 10,000 keys of 256 bytes each encoded and wrote 2.6 MB four times a second, and
/// those pauses set the p99 of writes (43 ms against 13 ms at 100,000; docs/benchmarks.md).
/// etcd's default `--snapshot-count` is the same 100,000.
pub const SNAPSHOT_ENTRIES_DEFAULT: u64 = 100_000;

/// Most reads waiting, on one replica, for ReadIndex or for the state machine to catch up.
/// Past this, new reads are refused with [`Outcome::Busy`].
pub const PENDING_READS_MAX: u64 = 100_000;

/// Most writes waiting, on one replica, for their entry to be applied. Past this, new writes
/// are refused with [`Outcome::Busy`].
pub const PENDING_WRITES_MAX: u64 = 100_000;

/// Tunables of the replica layer (the Raft node has its own [`Config`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaConfig {
    /// Snapshot once this many entries were applied since the last snapshot (at least 1).
    pub snapshot_entries: u64,
}

impl Default for ReplicaConfig {
    fn default() -> ReplicaConfig {
        ReplicaConfig {
            snapshot_entries: SNAPSHOT_ENTRIES_DEFAULT,
        }
    }
}

/// What happened to a client's request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The write was applied, or the read served, with this response.
    Done(Response),
    /// Refused: this node is not the leader (`leader` is its best guess). No effect.
    NotLeader { leader: Option<NodeId> },
    /// Surely had no effect: the write's log slot went to another entry, or the read was
    /// dropped before it was confirmed.
    Dropped,
    /// May or may not take effect (leadership was lost, or a snapshot skipped the entry).
    Unknown,
    /// Refused because too many requests are pending. No effect.
    Busy,
    /// Refused as invalid (too large). No effect.
    Invalid(String),
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub request_id: u64,
    pub outcome: Outcome,
}

/// Why a replica could not be built or could not apply a Ready.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error("raft: {0}")]
    Restore(#[from] RestoreError),
    #[error("state-machine snapshot: {0}")]
    Snapshot(#[from] KvSnapshotError),
    #[error("snapshot at index {snapshot} restored a state machine at index {restored}")]
    SnapshotIndexMismatch { snapshot: Index, restored: Index },
}

/// A proposed write waiting for its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingWrite {
    term: Term,
    request_id: u64,
}

/// A read waiting for ReadIndex (`index` is `None`) or for the state machine (`Some`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    request: Request,
    index: Option<Index>,
}

/// A Raft node with its key-value state machine and its waiting clients. See the module
/// documentation for the contract.
#[derive(Debug)]
pub struct Replica {
    node: Node,
    kv: KvStore,
    config: ReplicaConfig,
    /// Proposed writes by log index.
    writes: BTreeMap<Index, PendingWrite>,
    /// Reads by request id.
    reads: BTreeMap<u64, PendingRead>,
}

impl Replica {
    /// A brand-new replica with an empty log and an empty map.
    pub fn new(
        config: Config,
        replica: ReplicaConfig,
        membership: Membership,
        now: Millis,
    ) -> Result<Replica, ReplicaError> {
        let node = Node::new(config, membership, now)?;
        Ok(Replica::with_parts(node, KvStore::new(), replica))
    }

    /// A replica rebuilt from what its storage holds: the state machine comes from the
    /// snapshot, and the node hands the committed entries after it to [`Replica::apply`]
    /// again.
    pub fn restore(
        config: Config,
        replica: ReplicaConfig,
        initial_membership: Membership,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
        now: Millis,
    ) -> Result<Replica, ReplicaError> {
        let kv = match &snapshot {
            Some(snapshot) => restore_kv(snapshot)?,
            None => KvStore::new(),
        };
        let node = Node::restore(
            config,
            initial_membership,
            hard_state,
            snapshot,
            entries,
            now,
        )?;
        Ok(Replica::with_parts(node, kv, replica))
    }

    fn with_parts(node: Node, kv: KvStore, config: ReplicaConfig) -> Replica {
        Replica {
            node,
            kv,
            config: ReplicaConfig {
                snapshot_entries: config.snapshot_entries.max(1),
            },
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
        }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node, for `step`, `tick`, `ready` and admin requests.
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// How many requests are waiting for an answer.
    pub fn pending(&self) -> u64 {
        (self.writes.len() + self.reads.len()) as u64
    }

    /// Takes a client request. Refusals are answered at once (`Some`); otherwise the answer
    /// comes out of a later [`Replica::apply`] or [`Replica::fail_pending`].
    pub fn submit(&mut self, request_id: u64, request: Request) -> Option<Reply> {
        let reply = |outcome| {
            Some(Reply {
                request_id,
                outcome,
            })
        };
        let encoded = match request.encode_checked() {
            Ok(encoded) => encoded,
            Err(error) => return reply(Outcome::Invalid(error.to_string())),
        };
        if request.command.is_read() {
            if self.reads.len() as u64 >= PENDING_READS_MAX || self.reads.contains_key(&request_id)
            {
                return reply(Outcome::Busy);
            }
            return match self.node.read(request_id) {
                Ok(()) => {
                    let read = PendingRead {
                        request,
                        index: None,
                    };
                    self.reads.insert(request_id, read);
                    None
                }
                Err(error) => reply(refusal(error)),
            };
        }
        if self.writes.len() as u64 >= PENDING_WRITES_MAX {
            return reply(Outcome::Busy);
        }
        match self.node.propose(encoded) {
            Ok((index, term)) => {
                let write = PendingWrite { term, request_id };
                // A leader never hands out an index twice in one term, and pending writes of
                // earlier terms were answered when leadership was lost.
                let replaced = self.writes.insert(index, write);
                debug_assert!(replaced.is_none(), "index {index} proposed twice");
                None
            }
            Err(error) => reply(refusal(error)),
        }
    }

    /// The apply step of the driver recipe, after the Ready was persisted and its messages
    /// sent: restores a received snapshot, applies committed entries, serves the reads that
    /// are now safe, and answers the clients whose requests are settled.
    ///
    /// Only the `snapshot`, `committed`, `reads` and `events` of the Ready are read, so the
    /// driver may have taken the messages out of it already.
    pub fn apply(&mut self, ready: &Ready, replies: &mut Vec<Reply>) -> Result<(), ReplicaError> {
        if let Some(snapshot) = &ready.snapshot {
            self.kv = restore_kv(snapshot)?;
            let later = self.writes.split_off(&snapshot.meta.index.next());
            for (_, write) in std::mem::replace(&mut self.writes, later) {
                replies.push(Reply {
                    request_id: write.request_id,
                    outcome: Outcome::Unknown,
                });
            }
        }
        for entry in &ready.committed {
            self.apply_entry(entry, replies);
        }
        for read in &ready.reads {
            if let Some(pending) = self.reads.get_mut(&read.request_id) {
                pending.index = Some(read.index);
            }
        }
        for event in &ready.events {
            match event {
                Event::ReadDropped { request_id } if self.reads.remove(request_id).is_some() => {
                    replies.push(Reply {
                        request_id: *request_id,
                        outcome: Outcome::Dropped,
                    });
                }
                Event::RoleChanged { role, .. } if *role != RoleKind::Leader => {
                    self.fail_writes(Outcome::Unknown, replies);
                }
                _ => {}
            }
        }
        self.serve_reads(replies);
        Ok(())
    }

    /// The last step of the recipe: tells the node the Ready is done, then takes a snapshot
    /// if enough entries were applied since the last one.
    pub fn advance(&mut self, now: Millis, ready_id: u64) {
        self.node.advance(now, ready_id);
        let applied = self.kv.applied();
        let since = applied.0.saturating_sub(self.node.log().snapshot_index().0);
        if since >= self.config.snapshot_entries && applied <= self.node.applied_index() {
            // Cannot fail: `applied` is above the snapshot index and was applied.
            let _ = self.node.compact(applied, self.kv.snapshot());
        }
    }

    /// Answers every pending request with `Unknown` (writes) or `Dropped` (reads): for a
    /// driver that is shutting the replica down or replacing it after a crash.
    pub fn fail_pending(&mut self, replies: &mut Vec<Reply>) {
        self.fail_writes(Outcome::Unknown, replies);
        for (request_id, _) in std::mem::take(&mut self.reads) {
            replies.push(Reply {
                request_id,
                outcome: Outcome::Dropped,
            });
        }
    }

    fn fail_writes(&mut self, outcome: Outcome, replies: &mut Vec<Reply>) {
        for (_, write) in std::mem::take(&mut self.writes) {
            replies.push(Reply {
                request_id: write.request_id,
                outcome: outcome.clone(),
            });
        }
    }

    fn apply_entry(&mut self, entry: &Entry, replies: &mut Vec<Reply>) {
        if entry.index <= self.kv.applied() {
            // Already in the state machine (restored from a snapshot past it).
            return;
        }
        let response = self.kv.apply_entry(entry);
        let Some(write) = self.writes.remove(&entry.index) else {
            return;
        };
        let outcome = match response {
            Some(response) if write.term == entry.term => Outcome::Done(response),
            _ => Outcome::Dropped,
        };
        replies.push(Reply {
            request_id: write.request_id,
            outcome,
        });
    }

    fn serve_reads(&mut self, replies: &mut Vec<Reply>) {
        let applied = self.kv.applied();
        let ready: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, read)| read.index.is_some_and(|index| index <= applied))
            .map(|(id, _)| *id)
            .collect();
        for request_id in ready {
            let Some(read) = self.reads.remove(&request_id) else {
                continue;
            };
            let outcome = match self.kv.read(&read.request.command) {
                Ok(response) => Outcome::Done(response),
                // `submit` only sends read-only commands down this path.
                Err(_) => Outcome::Dropped,
            };
            replies.push(Reply {
                request_id,
                outcome,
            });
        }
    }
}

fn refusal(error: ProposeError) -> Outcome {
    match error {
        ProposeError::NotLeader { leader } => Outcome::NotLeader { leader },
        _ => Outcome::NotLeader { leader: None },
    }
}

fn restore_kv(snapshot: &Snapshot) -> Result<KvStore, ReplicaError> {
    let kv = KvStore::restore(&snapshot.data)?;
    if kv.applied() != snapshot.meta.index {
        return Err(ReplicaError::SnapshotIndexMismatch {
            snapshot: snapshot.meta.index,
            restored: kv.applied(),
        });
    }
    Ok(kv)
}

#[cfg(test)]
mod tests;
