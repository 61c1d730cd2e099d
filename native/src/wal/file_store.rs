//! `FileStore`: the core's [`Storage`] contract on a folder of files. See the module docs.

use super::atomic::write_atomic;
use super::dir::{Dir, OsDir};
use super::format::{encode_batch, scan_segments, segment_header, BatchKind, BATCH_BODY_BYTES_MAX};
use flotilla_core::raft::{Entry, HardState, Snapshot};
use flotilla_core::storage::{
    encode_snapshot, recover, scan_records, DurableFiles, DurableState, EntryLog, LogRecord,
    LogRecordRef, Storage, StorageError,
};
use flotilla_core::Index;
use std::io;
use std::path::Path;

/// A segment is closed and a new one started once it holds this many bytes. Segments only
/// go away on compaction, so this bounds the size of one file, not of the log.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;
/// Zeros added to a segment at a time (at most `segment_bytes_max`), ahead of the batches
/// that will fill them: an fdatasync of a write inside the file's size does not have to
/// write the inode too (on ext4 without a journal that is a second synchronous device
/// write; measured on this disk: p50 81-92 us overwriting against 165-485 us appending,
/// docs/benchmarks.md). 1 MiB holds ~40 Readys of 80 writes of 300 bytes at 256 clients,
/// so one sync in ~40 still grows the file; a segment lives about that long between two
/// compactions at the default snapshot interval.
const PREALLOCATE_BYTES: u64 = 1024 * 1024;

pub(super) const HARD_STATE_FILE: &str = "hard_state";
pub(super) const SNAPSHOT_FILE: &str = "snapshot";
const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
/// A segment being created: it gets its final name once its header and zeros are durable,
/// so that a segment file is never a torn creation.
const CREATING_SUFFIX: &str = ".tmp";

/// One write-ahead log segment file.
#[derive(Clone, Debug)]
struct Segment {
    seq: u64,
    name: String,
    /// Where the valid batches end: where the next one is written.
    bytes: u64,
    /// The file's size: `bytes` plus preallocated zeros.
    allocated: u64,
}

/// Writes accepted since the last `sync`.
#[derive(Debug, Default)]
struct Pending {
    /// The log rewritten from scratch (a snapshot was saved): it goes to a new segment.
    rewrite: Option<Vec<u8>>,
    /// Records to append (after `rewrite`, if any).
    log: Vec<u8>,
    snapshot: Option<Snapshot>,
}

/// The logical state including pending writes, as in the core's `MemStorage`.
#[derive(Debug)]
struct View {
    snapshot_index: Index,
    log: EntryLog,
    /// The last hard state set: a log rewritten from scratch starts with it.
    hard_state: HardState,
}

/// The write-ahead log, hard state and snapshot of one node, in one folder.
#[derive(Debug)]
pub struct FileStore<D: Dir = OsDir> {
    dir: D,
    segment_bytes_max: u64,
    segments: Vec<Segment>,
    pending: Pending,
    /// `None` until `load`.
    view: Option<View>,
    /// How many fsync calls `sync` made in total (for metrics and tests of group commit).
    pub fsyncs: u64,
}

impl FileStore<OsDir> {
    /// Opens (creating if needed) the store in the folder `path`. Call [`Storage::load`]
    /// before writing.
    pub fn open(path: &Path, segment_bytes_max: u64) -> io::Result<FileStore<OsDir>> {
        Ok(FileStore::with_dir(OsDir::open(path)?, segment_bytes_max))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl<D: Dir> FileStore<D> {
    /// A store on `dir`. Call [`Storage::load`] before writing.
    pub fn with_dir(dir: D, segment_bytes_max: u64) -> FileStore<D> {
        FileStore {
            dir,
            segment_bytes_max: segment_bytes_max.max(1),
            segments: Vec::new(),
            pending: Pending::default(),
            view: None,
            fsyncs: 0,
        }
    }

    pub fn dir(&self) -> &D {
        &self.dir
    }

    pub fn into_dir(self) -> D {
        self.dir
    }

    /// Bytes in all segments: what compaction keeps in check.
    pub fn log_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// The segment files in order, with their sizes.
    pub fn segment_files(&self) -> Vec<(String, u64)> {
        self.segments
            .iter()
            .map(|s| (s.name.clone(), s.bytes))
            .collect()
    }

    fn view_mut(&mut self) -> Result<&mut View, StorageError> {
        self.view.as_mut().ok_or(StorageError::NotLoaded)
    }

    fn list_segments(&mut self) -> io::Result<Vec<Segment>> {
        let mut segments = Vec::new();
        for name in self.dir.list()? {
            let Some(seq) = name
                .strip_prefix(SEGMENT_PREFIX)
                .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            segments.push(Segment {
                seq,
                name,
                bytes: 0,
                allocated: 0,
            });
        }
        segments.sort_by_key(|s| s.seq);
        Ok(segments)
    }

    /// Removes segments whose creation a crash interrupted (still under their temporary
    /// name: never written to). Made durable with the folder's next sync.
    fn remove_unfinished_segments(&mut self) -> io::Result<()> {
        for name in self.dir.list()? {
            if name.starts_with(SEGMENT_PREFIX) && name.ends_with(CREATING_SUFFIX) {
                tracing::info!(segment = %name, "removing a segment whose creation was interrupted");
                self.dir.remove(&name)?;
            }
        }
        Ok(())
    }

    /// Zeros added at a time: see [`PREALLOCATE_BYTES`].
    fn preallocate_bytes(&self) -> u64 {
        PREALLOCATE_BYTES.min(self.segment_bytes_max)
    }

    /// Creates the next segment with its header and preallocated zeros, under a temporary
    /// name renamed once the content is durable, and makes the name durable.
    fn start_segment(&mut self) -> io::Result<()> {
        let seq = self.segments.last().map_or(1, |s| s.seq + 1);
        let name = format!("{SEGMENT_PREFIX}{seq:020}{SEGMENT_SUFFIX}");
        let creating = format!("{name}{CREATING_SUFFIX}");
        let header = segment_header();
        let zeros = self.preallocate_bytes();
        let mut content = header.clone();
        content.resize(header.len() + zeros as usize, 0);
        self.dir.create(&creating)?;
        self.dir.append(&creating, &content)?;
        self.dir.sync(&creating)?;
        self.dir.rename(&creating, &name)?;
        self.dir.sync_dir()?;
        self.fsyncs += 2;
        self.segments.push(Segment {
            seq,
            name,
            bytes: header.len() as u64,
            allocated: content.len() as u64,
        });
        Ok(())
    }

    /// Appends one batch to the active segment with one write and one fdatasync: the group
    /// commit.
    fn write_batch(&mut self, kind: BatchKind, body: &[u8]) -> io::Result<()> {
        if body.len() > BATCH_BODY_BYTES_MAX {
            return Err(io::Error::other(format!(
                "one sync of {} bytes is over the {BATCH_BODY_BYTES_MAX}-byte batch limit",
                body.len()
            )));
        }
        let mut batch = Vec::with_capacity(body.len() + 16);
        encode_batch(kind, body, &mut batch);
        let chunk = self.preallocate_bytes();
        let segment = self
            .segments
            .last_mut()
            .ok_or_else(|| io::Error::other("no active segment"))?;
        let end = segment.bytes + batch.len() as u64;
        if end > segment.allocated {
            // Grow by whole chunks of zeros, so that the next batches fit again.
            let grow = (end - segment.allocated).div_ceil(chunk) * chunk;
            let zeros = vec![0u8; usize::try_from(grow).map_err(io::Error::other)?];
            self.dir.append(&segment.name, &zeros)?;
            segment.allocated += grow;
        }
        self.dir.write_at(&segment.name, segment.bytes, &batch)?;
        self.dir.sync(&segment.name)?;
        self.fsyncs += 1;
        segment.bytes = end;
        Ok(())
    }

    /// Writes the rewritten log to a fresh segment, syncs it, then deletes the older ones.
    /// A crash before the deletions are durable leaves the old segments, which recovery
    /// ignores: the rewrite batch says the log starts over.
    fn replace_log(&mut self, bytes: &[u8]) -> io::Result<()> {
        let old: Vec<Segment> = self.segments.clone();
        self.start_segment()?;
        self.write_batch(BatchKind::Rewrite, bytes)?;
        for segment in &old {
            self.dir.remove(&segment.name)?;
        }
        self.segments
            .retain(|s| !old.iter().any(|o| o.seq == s.seq));
        self.dir.sync_dir()?;
        self.fsyncs += 1;
        Ok(())
    }

    fn sync_io(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        if let Some(snapshot) = &pending.snapshot {
            write_atomic(&mut self.dir, SNAPSHOT_FILE, &encode_snapshot(snapshot))?;
            self.fsyncs += 2;
        }
        if let Some(mut rewrite) = pending.rewrite {
            rewrite.extend_from_slice(&pending.log);
            self.replace_log(&rewrite)?;
        } else if !pending.log.is_empty() {
            let roll = self
                .segments
                .last()
                .is_none_or(|s| s.bytes >= self.segment_bytes_max);
            if roll {
                self.start_segment()?;
            }
            self.write_batch(BatchKind::Append, &pending.log)?;
        }
        Ok(())
    }

    /// Reads the files and recovers: drops segments a rewrite made obsolete, cuts off a torn
    /// tail, and refuses damaged durable data.
    fn recover_files(&mut self) -> Result<DurableState, StorageError> {
        self.remove_unfinished_segments().map_err(io_error)?;
        let mut segments = self.list_segments().map_err(io_error)?;
        let mut contents = Vec::with_capacity(segments.len());
        for segment in &mut segments {
            let bytes = self.dir.read(&segment.name).map_err(io_error)?;
            let bytes = bytes.unwrap_or_default();
            segment.allocated = bytes.len() as u64;
            contents.push(bytes);
        }
        let slices: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        let scan = scan_segments(&slices).map_err(|corrupt| StorageError::CorruptLog {
            offset: corrupt.offset as u64,
            reason: format!(
                "{} at byte {}: {}",
                self.dir.describe(&segments[corrupt.segment].name),
                corrupt.offset,
                corrupt.reason
            ),
        })?;
        let hard_state = self.dir.read(HARD_STATE_FILE).map_err(io_error)?;
        let snapshot = self.dir.read(SNAPSHOT_FILE).map_err(io_error)?;
        let files = DurableFiles {
            log: &scan.records,
            hard_state: hard_state.as_deref(),
            snapshot: snapshot.as_deref(),
        };
        let recovered = recover(files)?;
        for (segment, end) in segments.iter_mut().zip(&scan.ends) {
            segment.bytes = *end as u64;
        }
        self.cut(&mut segments, &scan.obsolete, scan.torn)
            .map_err(io_error)?;
        self.segments = segments;
        // A crash after a snapshot was saved and before the log was rewritten leaves entries
        // on disk that the snapshot covers (the log may even end before it). Appending after
        // them would leave a gap in the log at the next recovery: rewrite the log first.
        let snapshot_index = recovered.snapshot.as_ref().map_or(0, |s| s.meta.index.0);
        let stale = snapshot_index > 0
            && scan_records(&scan.records).payloads.iter().any(|payload| {
                matches!(LogRecord::decode(payload), Ok(LogRecord::Entry(e)) if e.index.0 <= snapshot_index)
            });
        if stale {
            tracing::info!("rewriting the log behind the snapshot a crash left it ahead of");
            let rewrite = rewritten_log(&recovered.hard_state, recovered.log.entries());
            self.replace_log(&rewrite).map_err(io_error)?;
        }
        let state = recovered.durable_state();
        let snapshot_index = state.snapshot.as_ref().map_or(Index(0), |s| s.meta.index);
        self.view = Some(View {
            snapshot_index,
            log: recovered.log,
            hard_state: state.hard_state,
        });
        Ok(state)
    }

    /// Deletes obsolete segments and cuts a torn tail off, so that new batches land after
    /// valid ones, and makes that durable before anything new is written.
    fn cut(
        &mut self,
        segments: &mut Vec<Segment>,
        obsolete: &[usize],
        torn: Option<(usize, usize)>,
    ) -> io::Result<()> {
        let mut changed = false;
        if let Some((index, valid)) = torn {
            let segment = &mut segments[index];
            if valid == 0 {
                tracing::warn!(segment = %segment.name, "removing a segment whose creation was torn");
                self.dir.remove(&segment.name)?;
                segments.remove(index);
            } else {
                tracing::warn!(
                    segment = %segment.name,
                    offset = valid,
                    dropped = segment.bytes - valid as u64,
                    "dropping a torn write at the end of the log"
                );
                self.dir.truncate(&segment.name, valid as u64)?;
                self.dir.sync(&segment.name)?;
                segment.bytes = valid as u64;
                segment.allocated = valid as u64;
            }
            changed = true;
        }
        for &index in obsolete.iter().rev() {
            tracing::info!(segment = %segments[index].name, "removing a segment a rewrite replaced");
            self.dir.remove(&segments[index].name)?;
            segments.remove(index);
            changed = true;
        }
        if changed {
            self.dir.sync_dir()?;
        }
        Ok(())
    }
}

/// The records of a log rewritten from scratch: the hard state (the segments that held its
/// last record become obsolete), then the entries.
fn rewritten_log(hard_state: &HardState, entries: &[Entry]) -> Vec<u8> {
    let mut rewrite = Vec::new();
    LogRecordRef::HardState(hard_state).append_to(&mut rewrite);
    for entry in entries {
        LogRecordRef::Entry(entry).append_to(&mut rewrite);
    }
    rewrite
}

fn io_error(error: io::Error) -> StorageError {
    StorageError::Io(error.to_string())
}

impl<D: Dir> Storage for FileStore<D> {
    fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let view = self.view_mut()?;
        let skipped = view.log.append(entries)?;
        for entry in &entries[skipped..] {
            LogRecordRef::Entry(entry).append_to(&mut self.pending.log);
        }
        Ok(())
    }

    fn truncate_from(&mut self, index: Index) -> Result<(), StorageError> {
        if self.view_mut()?.log.truncate_from(index) {
            LogRecordRef::Truncate { from: index }.append_to(&mut self.pending.log);
        }
        Ok(())
    }

    /// The hard state goes into the log as a record, so that it shares the Ready's one
    /// write and fdatasync (a vote used to cost a file replaced atomically: three syncs).
    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), StorageError> {
        self.view_mut()?.hard_state = *hard_state;
        LogRecordRef::HardState(hard_state).append_to(&mut self.pending.log);
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let view = self.view_mut()?;
        if snapshot.meta.index <= view.snapshot_index {
            return Ok(());
        }
        view.log.compact(snapshot.meta.index, snapshot.meta.term)?;
        view.snapshot_index = snapshot.meta.index;
        let rewrite = rewritten_log(&view.hard_state, view.log.entries());
        // Appends queued before this call are part of the rewrite now.
        self.pending.log.clear();
        self.pending.rewrite = Some(rewrite);
        self.pending.snapshot = Some(snapshot.clone());
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.view_mut()?;
        self.sync_io().map_err(|error| {
            // After a failed fsync the kernel may have dropped the dirty pages: what is on
            // disk is unknown, so the store must be reloaded (the node stops; see PostgreSQL's
            // "fsyncgate"). Forgetting the view forces that.
            self.view = None;
            io_error(error)
        })
    }

    fn load(&mut self) -> Result<DurableState, StorageError> {
        self.pending = Pending::default();
        self.recover_files()
    }
}

#[cfg(test)]
impl<D: Dir> FileStore<D> {
    /// Power loss for the conformance suite's `TearMode`s: the first `keep` bytes of the
    /// batch the next `sync` would append reach the end of the last segment (a torn write);
    /// "garbled" garbles the 512-byte sector holding the last byte kept, since a disk tears
    /// whole sectors; everything else unsynced is lost. A pending rewrite goes to a new
    /// segment that was never synced, so nothing of it survives.
    pub(super) fn simulate_crash(mut self, keep: u64, garble: bool) -> io::Result<D> {
        if self.pending.rewrite.is_none() && !self.pending.log.is_empty() {
            let mut batch = Vec::new();
            encode_batch(BatchKind::Append, &self.pending.log, &mut batch);
            let keep = usize::try_from(keep).unwrap_or(usize::MAX).min(batch.len());
            let mut torn = batch[..keep].to_vec();
            if garble && keep > 0 {
                let sector = (keep - 1) / super::format::SECTOR_BYTES * super::format::SECTOR_BYTES;
                torn[sector..].iter_mut().for_each(|b| *b ^= 0xff);
            }
            if !torn.is_empty() {
                if self.segments.is_empty() {
                    self.start_segment()?;
                }
                if let Some(segment) = self.segments.last() {
                    self.dir.write_at(&segment.name, segment.bytes, &torn)?;
                }
            }
        }
        Ok(self.dir)
    }
}
