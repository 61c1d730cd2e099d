//! `MemStorage`: the simulator's disk, with real bytes.
//!
//! The durable state is kept as the bytes of the same three files a file store writes (the
//! log, the hard state, the snapshot), and every write is queued as bytes until `sync`. A
//! crash drops the queue, or keeps a prefix of its log bytes and garbles the last one, and
//! the restarted store recovers through the same [`recover`] as the file store. So torn
//! writes are real torn bytes, and the decoder that survives them in the simulator is the
//! one that runs on disk.

use super::entry_log::EntryLog;
use super::error::StorageError;
use super::hard_state::encode_hard_state;
use super::log_record::LogRecordRef;
use super::recovery::{recover, DurableFiles, Recovered};
use super::snapshot::encode_snapshot;
use super::{DurableFile, DurableState, Storage, TearMode};
use crate::raft::message::{Entry, HardState, Snapshot};
use crate::types::Index;

/// The durable bytes of a simulated disk. An empty hard state or snapshot is a file that does
/// not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemDisk {
    /// The write-ahead log.
    pub log: Vec<u8>,
    /// The hard state file.
    pub hard_state: Vec<u8>,
    /// The snapshot file.
    pub snapshot: Vec<u8>,
}

impl MemDisk {
    /// The durable files, as recovery reads them.
    pub fn files(&self) -> DurableFiles<'_> {
        DurableFiles {
            log: &self.log,
            hard_state: present(&self.hard_state),
            snapshot: present(&self.snapshot),
        }
    }

    /// The bytes of one file.
    pub fn file(&self, file: DurableFile) -> &[u8] {
        match file {
            DurableFile::Log => &self.log,
            DurableFile::HardState => &self.hard_state,
            DurableFile::Snapshot => &self.snapshot,
        }
    }

    fn file_mut(&mut self, file: DurableFile) -> &mut Vec<u8> {
        match file {
            DurableFile::Log => &mut self.log,
            DurableFile::HardState => &mut self.hard_state,
            DurableFile::Snapshot => &mut self.snapshot,
        }
    }
}

/// An empty file is one that does not exist.
fn present(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

/// A write not yet synced.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PendingWrite {
    /// Bytes appended to the log.
    LogAppend(Vec<u8>),
    /// The log rewritten whole (compaction), as a file store would by renaming a new file.
    LogReplace(Vec<u8>),
    /// The hard state file replaced.
    HardState(Vec<u8>),
    /// The snapshot file replaced.
    Snapshot(Vec<u8>),
}

/// What the store holds, counting unsynced writes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View {
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    log: EntryLog,
}

/// An in-memory [`Storage`] whose writes are pending until [`Storage::sync`], and which can
/// crash ([`MemStorage::crash`]), tearing its last writes.
///
/// Invariant: when `view` is set, it equals what recovering `disk` after applying `pending`
/// would give. It is unset after a crash, a restart or a fault injection, until `load`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemStorage {
    /// What survived the last sync.
    disk: MemDisk,
    /// Writes since the last sync, in order.
    pending: Vec<PendingWrite>,
    /// The logical state including pending writes; `None` until loaded.
    view: Option<View>,
}

impl Default for MemStorage {
    fn default() -> MemStorage {
        MemStorage::new()
    }
}

impl MemStorage {
    /// An empty store, ready for writes.
    pub fn new() -> MemStorage {
        let view = View {
            hard_state: HardState::default(),
            snapshot: None,
            log: EntryLog::new(Index(0)),
        };
        MemStorage {
            disk: MemDisk::default(),
            pending: Vec::new(),
            view: Some(view),
        }
    }

    /// A store over existing durable bytes, as after a restart: call `load` first.
    pub fn open(disk: MemDisk) -> MemStorage {
        MemStorage {
            disk,
            pending: Vec::new(),
            view: None,
        }
    }

    /// The durable bytes.
    pub fn disk(&self) -> &MemDisk {
        &self.disk
    }

    /// Gives up the durable bytes (what a crashed node leaves behind).
    pub fn into_disk(self) -> MemDisk {
        self.disk
    }

    /// Whether any write awaits a sync.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes of unsynced log appends, which a [`TearMode`] counts in.
    pub fn pending_log_bytes(&self) -> u64 {
        self.pending_log_appends()
            .map(|bytes| bytes.len() as u64)
            .sum()
    }

    /// Power loss: unsynced writes are lost, except what `tear` lets reach the disk. The
    /// store must be loaded again before use.
    pub fn crash(&mut self, tear: TearMode) {
        let (keep, garble) = match tear {
            TearMode::LoseUnsynced => (0, false),
            TearMode::KeepLogPrefix { bytes } => (bytes, false),
            TearMode::GarbleLogPrefix { bytes } => (bytes, true),
        };
        let mut survivor: Vec<u8> = self.pending_log_appends().flatten().copied().collect();
        survivor.truncate(usize::try_from(keep).unwrap_or(usize::MAX));
        if let (true, Some(last)) = (garble, survivor.last_mut()) {
            *last ^= 0xff;
        }
        self.disk.log.extend(survivor);
        self.pending.clear();
        self.view = None;
    }

    /// A clean stop and start: the process exits and the operating system still writes
    /// everything it was given, so unsynced writes survive. Load before use.
    pub fn restart(&mut self) {
        self.apply_pending();
        self.view = None;
    }

    /// Flips every bit of the durable byte at `offset` of `file` (a bad sector). Returns
    /// whether the offset existed. Load before use.
    pub fn corrupt(&mut self, file: DurableFile, offset: u64) -> bool {
        self.view = None;
        let bytes = self.disk.file_mut(file);
        match usize::try_from(offset)
            .ok()
            .and_then(|offset| bytes.get_mut(offset))
        {
            Some(byte) => {
                *byte ^= 0xff;
                true
            }
            None => false,
        }
    }

    /// The unsynced log appends that a crash can keep: those before any rewrite of the log
    /// (bytes appended after a pending rewrite belong to the new file, which is lost whole).
    fn pending_log_appends(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.pending
            .iter()
            .take_while(|write| !matches!(write, PendingWrite::LogReplace(_)))
            .filter_map(|write| match write {
                PendingWrite::LogAppend(bytes) => Some(bytes),
                _ => None,
            })
    }

    fn apply_pending(&mut self) {
        for write in self.pending.drain(..) {
            match write {
                PendingWrite::LogAppend(bytes) => self.disk.log.extend(bytes),
                PendingWrite::LogReplace(bytes) => self.disk.log = bytes,
                PendingWrite::HardState(bytes) => self.disk.hard_state = bytes,
                PendingWrite::Snapshot(bytes) => self.disk.snapshot = bytes,
            }
        }
    }

    fn view_mut(&mut self) -> Result<&mut View, StorageError> {
        self.view.as_mut().ok_or(StorageError::NotLoaded)
    }

    fn recover_disk(&mut self) -> Result<Recovered, StorageError> {
        let recovered = recover(self.disk.files())?;
        // Cut a torn tail off, as a file store truncates its file, so that the next append
        // lands right after the last valid record. Only a crash leaves a torn tail, and a
        // crash empties the queue; a tail damaged under pending writes (fault injection on a
        // running store) is left for the next recovery to find.
        if recovered.torn_tail.is_some() && self.pending.is_empty() {
            let valid = usize::try_from(recovered.log_valid_bytes).unwrap_or(usize::MAX);
            self.disk.log.truncate(valid);
        }
        Ok(recovered)
    }
}

impl Storage for MemStorage {
    fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let view = self.view_mut()?;
        let skipped = view.log.append(entries)?;
        let mut bytes = Vec::new();
        for entry in &entries[skipped..] {
            LogRecordRef::Entry(entry).append_to(&mut bytes);
        }
        if !bytes.is_empty() {
            self.pending.push(PendingWrite::LogAppend(bytes));
        }
        Ok(())
    }

    fn truncate_from(&mut self, index: Index) -> Result<(), StorageError> {
        if self.view_mut()?.log.truncate_from(index) {
            let mut bytes = Vec::new();
            LogRecordRef::Truncate { from: index }.append_to(&mut bytes);
            self.pending.push(PendingWrite::LogAppend(bytes));
        }
        Ok(())
    }

    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), StorageError> {
        self.view_mut()?.hard_state = *hard_state;
        self.pending
            .push(PendingWrite::HardState(encode_hard_state(hard_state)));
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let view = self.view_mut()?;
        let current = view
            .snapshot
            .as_ref()
            .map_or(Index(0), |snapshot| snapshot.meta.index);
        if snapshot.meta.index <= current {
            return Ok(());
        }
        view.log.compact(snapshot.meta.index, snapshot.meta.term)?;
        view.snapshot = Some(snapshot.clone());
        let mut log = Vec::new();
        for entry in view.log.entries() {
            LogRecordRef::Entry(entry).append_to(&mut log);
        }
        self.pending
            .push(PendingWrite::Snapshot(encode_snapshot(snapshot)));
        self.pending.push(PendingWrite::LogReplace(log));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.apply_pending();
        Ok(())
    }

    fn load(&mut self) -> Result<DurableState, StorageError> {
        let recovered = self.recover_disk()?;
        let state = recovered.durable_state();
        if self.view.is_none() {
            let Recovered {
                hard_state,
                snapshot,
                log,
                ..
            } = recovered;
            self.view = Some(View {
                hard_state,
                snapshot,
                log,
            });
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::Payload;
    use crate::types::Term;

    fn entries(range: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
        range
            .map(|index| Entry {
                index: Index(index),
                term: Term(1),
                payload: Payload::Command(vec![index as u8; 3]),
            })
            .collect()
    }

    #[test]
    fn writes_are_pending_until_sync() {
        let mut store = MemStorage::new();
        store.append(&entries(1..=2)).expect("appends");
        assert!(store.has_pending());
        assert_eq!(store.disk(), &MemDisk::default());
        store.sync().expect("syncs");
        assert!(!store.has_pending());
        assert_eq!(store.load().map(|state| state.entries), Ok(entries(1..=2)));
    }

    #[test]
    fn crash_keeps_exactly_the_synced_state_or_a_torn_extension() {
        let mut store = MemStorage::new();
        store.append(&entries(1..=2)).expect("appends");
        store.sync().expect("syncs");
        store.append(&entries(3..=4)).expect("appends");
        let synced = store.disk().clone();
        let one_record = store.pending_log_bytes() / 2;

        let mut lost = store.clone();
        lost.crash(TearMode::LoseUnsynced);
        assert_eq!(lost.disk(), &synced);
        assert_eq!(lost.append(&entries(3..=3)), Err(StorageError::NotLoaded));
        assert_eq!(lost.load().map(|state| state.entries), Ok(entries(1..=2)));

        let mut torn = store.clone();
        torn.crash(TearMode::KeepLogPrefix {
            bytes: one_record + 3,
        });
        assert_eq!(torn.load().map(|state| state.entries), Ok(entries(1..=3)));
        // The torn bytes were cut off, so appending again works.
        assert_eq!(
            torn.disk().log.len() as u64,
            synced.log.len() as u64 + one_record
        );
        torn.append(&entries(4..=4))
            .expect("appends after recovery");
        torn.sync().expect("syncs");
        torn.restart();
        assert_eq!(torn.load().map(|state| state.entries), Ok(entries(1..=4)));

        let mut garbled = store.clone();
        garbled.crash(TearMode::GarbleLogPrefix {
            bytes: 2 * one_record,
        });
        assert_eq!(
            garbled.load().map(|state| state.entries),
            Ok(entries(1..=3))
        );
    }

    #[test]
    fn corruption_in_the_middle_refuses_to_load() {
        let mut store = MemStorage::new();
        store.append(&entries(1..=5)).expect("appends");
        store.sync().expect("syncs");
        assert!(store.corrupt(DurableFile::Log, 20));
        assert!(matches!(store.load(), Err(StorageError::CorruptLog { .. })));
        assert!(!store.corrupt(DurableFile::HardState, 0));
    }
}
