//! # Storage: what a node persists, and how the bytes look
//!
//! Raft's safety rests on a few facts surviving a crash: the current term, the vote cast in
//! it, and the log entries a node acknowledged. This module defines the formats those facts
//! are written in, the [`Storage`] trait a driver persists through, an in-memory
//! implementation for the simulator ([`MemStorage`]), and a conformance suite that every
//! implementation, including the native file store, must pass ([`conformance`]).
//! Everything here is pure: bytes in, bytes out. The native crate owns the files.
//!
//! ## Three files
//!
//! * The **write-ahead log**: a sequence of framed records ([`record`]), each an operation on
//!   the log ([`LogRecord`]: add an entry, truncate). It is only ever appended to, which is
//!   the cheapest way to make many small writes durable: one `write` and one `fdatasync` per
//!   Ready (group commit). Compaction rewrites it once in a while.
//! * The **hard state** ([`hard_state`]): one record, replaced as a whole (temporary file,
//!   sync, rename, sync of the folder), because it is small and always rewritten entirely.
//! * The **snapshot** ([`snapshot`]): the state machine's bytes at some index, with their
//!   metadata and a checksum, also replaced as a whole.
//!
//! ## Why length first, and why CRC32C
//!
//! A record starts with its length, so a reader knows where it ends before reading it and
//! can check that length against a limit ([`RECORD_PAYLOAD_BYTES_MAX`]) and against the
//! bytes it has. A garbled length can therefore never make a reader allocate or wait for
//! 4 GB. A delimiter-based format would have to escape its payload instead.
//!
//! Each record then carries a CRC32C of its length and payload. A checksum is what turns
//! "the bytes I read back" into "the bytes I wrote, or an error". CRC32C (Castagnoli) is the
//! storage industry's choice (iSCSI, ext4, Btrfs, RocksDB, etcd's WAL): it detects all burst
//! errors up to 32 bits and more random error patterns than the older zip CRC-32, and
//! current CPUs have an instruction for it. It is not a defence against an adversary, which
//! a local disk is not.
//!
//! ## A torn tail is not corruption
//!
//! A crash in the middle of a write can leave the last record cut short, or complete in
//! length but with garbage inside (sectors of one write reach the platter independently),
//! or followed by zeros (a file extended but never written). None of that was ever
//! acknowledged (the write had not been synced), so recovery may drop it: that is a **torn
//! tail**. Damage to a record that *was* synced (a flipped bit, a lost sector) is
//! **corruption**: dropping it, and everything after it, would silently lose acknowledged
//! entries or votes, which breaks Raft's safety. Recovery must refuse to start instead.
//!
//! The two look alike at the bad record; the difference is what follows it. A torn write is
//! the last write, so nothing valid can follow it. [`scan_records`] therefore, on the first
//! bad record, searches every later byte offset for a valid record: if one exists, the
//! damage is in the middle of the log and is corruption ([`ScanStop::Corrupt`]); if none
//! does, it is a torn tail ([`ScanStop::TornTail`]), which recovery cuts off before the
//! store appends again. Two honest limits of this rule:
//!
//! * Corruption of the very last synced record looks exactly like a torn tail and is
//!   dropped. No framing can tell them apart without outside knowledge; Raft then behaves as
//!   if that one entry was never acknowledged by this node.
//! * A torn write whose later sectors reached the disk but an earlier one did not can leave
//!   a valid record after a bad one. That is reported as corruption: the node refuses to
//!   start although nothing acknowledged was lost. We prefer a false alarm to silent loss.
//!
//! ## The contract for drivers
//!
//! A driver applies a Ready as `truncate_from` / `append` / `set_hard_state` /
//! `save_snapshot`, then `sync` when the Ready asks for it; only after `sync` returns may it
//! send the messages that promise durability (votes, append acknowledgements). On start it
//! calls `load` and restores the node from the [`DurableState`]. Writes before a `sync` may
//! or may not survive a crash, in any combination; writes before a completed `sync` must.

pub mod conformance;
mod entry_log;
mod error;
pub mod hard_state;
pub mod log_record;
mod memory;
pub mod record;
pub mod recovery;
pub mod snapshot;

pub use entry_log::EntryLog;
pub use error::{DecodeError, StorageError};
pub use hard_state::{decode_hard_state, encode_hard_state};
pub use log_record::{LogRecord, LogRecordRef};
pub use memory::{MemDisk, MemStorage};
pub use record::{
    decode_record, encode_record, scan_records, RecordError, Scan, ScanStop, RECORD_HEADER_BYTES,
    RECORD_PAYLOAD_BYTES_MAX,
};
pub use recovery::{recover, DurableFiles, Recovered};
pub use snapshot::{decode_snapshot, encode_snapshot};

use crate::raft::message::{Entry, HardState, Snapshot};
use crate::types::Index;

// A log entry carrying the largest request the KV accepts, with its index, term and
// encoding overhead, must fit in one record.
const _: () = assert!(crate::kv::REQUEST_BYTES_MAX + 1024 <= RECORD_PAYLOAD_BYTES_MAX);

/// What a node finds on its disk when it starts.
///
/// Invariant: `entries` are contiguous and start right after the snapshot's index (or at
/// index 1 without a snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableState {
    /// Term, vote and commit index (the default if none was ever written).
    pub hard_state: HardState,
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log entries after the snapshot.
    pub entries: Vec<Entry>,
}

/// What a Raft driver persists through. Implementations: [`MemStorage`] here, and the
/// native crate's file store. Both must pass [`conformance::run_all`].
///
/// Writes may be buffered; only [`Storage::sync`] makes them durable. Writes are applied in
/// call order.
pub trait Storage {
    /// Appends contiguous entries. Appending an entry at index `i` first discards every entry
    /// at `i` or above (Raft's overwrite of a conflicting suffix). Entries at or below the
    /// snapshot index are covered by the snapshot and skipped.
    ///
    /// Errors: [`StorageError::Gap`] if the first entry is past the last index + 1,
    /// [`StorageError::NotContiguous`], [`StorageError::IndexOutOfRange`]; the log is then
    /// unchanged.
    fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError>;

    /// Discards every entry at `index` or above (a no-op past the end).
    fn truncate_from(&mut self, index: Index) -> Result<(), StorageError>;

    /// Replaces the hard state.
    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), StorageError>;

    /// Replaces the snapshot and compacts the log behind it: if the log holds the entry at the
    /// snapshot's index with the snapshot's term, the entries after it are kept; otherwise the
    /// log is emptied (it belongs to another history). A snapshot at or below the current one
    /// changes nothing.
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError>;

    /// Makes every earlier write durable. Returns only once it is.
    fn sync(&mut self) -> Result<(), StorageError>;

    /// Reads back what is durable. Called once after opening a store (and after a crash or
    /// a restart) before any write; recovers from a torn log tail and fails on corruption.
    fn load(&mut self) -> Result<DurableState, StorageError>;
}

/// How a simulated crash treats the writes that were not synced. Sizes are in bytes of the
/// unsynced log appends, counted from the first one; they are clamped to what exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TearMode {
    /// Every unsynced write is lost.
    LoseUnsynced,
    /// The first `bytes` of the unsynced log appends reached the disk (possibly cutting a
    /// record short); every other unsynced write is lost.
    KeepLogPrefix { bytes: u64 },
    /// As `KeepLogPrefix`, and the last byte that reached the disk is garbled.
    GarbleLogPrefix { bytes: u64 },
}

/// The durable files of a store, for fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurableFile {
    /// The write-ahead log (all its segments, concatenated, for a file store).
    Log,
    /// The hard state file.
    HardState,
    /// The snapshot file.
    Snapshot,
}

/// Step 1 of the driver recipe: a Ready's writes, in the order every driver must make them
/// (a received snapshot, the truncation of a conflicting suffix, new entries, the node's own
/// compaction, then the hard state). Nothing is durable until [`Storage::sync`].
pub fn persist_ready(
    storage: &mut impl Storage,
    ready: &crate::raft::Ready,
) -> Result<(), StorageError> {
    if let Some(snapshot) = &ready.snapshot {
        storage.save_snapshot(snapshot)?;
    }
    if let Some(from) = ready.truncate_from {
        storage.truncate_from(from)?;
    }
    if !ready.entries.is_empty() {
        storage.append(&ready.entries)?;
    }
    if let Some(snapshot) = &ready.compacted {
        storage.save_snapshot(snapshot)?;
    }
    if let Some(hard_state) = &ready.hard_state {
        storage.set_hard_state(hard_state)?;
    }
    Ok(())
}
