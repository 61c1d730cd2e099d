//! `FileStore`: the core's [`Storage`] contract on real files. See the module docs.

use super::atomic::{read_optional, sync_dir, write_atomic};
use flotilla_core::raft::{Entry, HardState, Snapshot};
use flotilla_core::storage::{
    encode_hard_state, encode_snapshot, recover, DurableFiles, DurableState, EntryLog,
    LogRecordRef, Storage, StorageError,
};
use flotilla_core::Index;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A segment is closed and a new one started once it holds this many bytes. Segments only
/// go away on compaction, so this bounds the size of one file, not of the log.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

const HARD_STATE_FILE: &str = "hard_state";
const SNAPSHOT_FILE: &str = "snapshot";
const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";

/// One write-ahead log segment file.
#[derive(Clone, Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    bytes: u64,
}

/// Writes accepted since the last `sync`.
#[derive(Debug, Default)]
struct Pending {
    /// The log rewritten from scratch (a snapshot was saved): it goes to a new segment.
    rewrite: Option<Vec<u8>>,
    /// Records to append (after `rewrite`, if any).
    log: Vec<u8>,
    hard_state: Option<HardState>,
    snapshot: Option<Snapshot>,
}

/// The logical state including pending writes, as in the core's `MemStorage`.
#[derive(Debug)]
struct View {
    snapshot_index: Index,
    log: EntryLog,
}

/// The write-ahead log, hard state and snapshot of one node, in one folder.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    segment_bytes_max: u64,
    segments: Vec<Segment>,
    /// The last segment, open for appending.
    active: Option<File>,
    pending: Pending,
    /// `None` until `load`.
    view: Option<View>,
    /// How many fsync calls `sync` made in total (for metrics and tests of group commit).
    pub fsyncs: u64,
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`. Call [`Storage::load`] before writing.
    pub fn open(dir: &Path, segment_bytes_max: u64) -> io::Result<FileStore> {
        fs::create_dir_all(dir)?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            segment_bytes_max: segment_bytes_max.max(1),
            segments: Vec::new(),
            active: None,
            pending: Pending::default(),
            view: None,
            fsyncs: 0,
        })
    }

    /// Bytes in all segments: what compaction keeps in check.
    pub fn log_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    fn view_mut(&mut self) -> Result<&mut View, StorageError> {
        self.view.as_mut().ok_or(StorageError::NotLoaded)
    }

    fn list_segments(&self) -> io::Result<Vec<Segment>> {
        let mut segments = Vec::new();
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_prefix(SEGMENT_PREFIX))
                .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = dirent.metadata()?.len();
            segments.push(Segment {
                seq,
                path: dirent.path(),
                bytes,
            });
        }
        segments.sort_by_key(|s| s.seq);
        Ok(segments)
    }

    fn segment_path(&self, seq: u64) -> PathBuf {
        self.dir
            .join(format!("{SEGMENT_PREFIX}{seq:020}{SEGMENT_SUFFIX}"))
    }

    /// Creates the next segment and makes its existence durable.
    fn start_segment(&mut self) -> io::Result<()> {
        let seq = self.segments.last().map_or(1, |s| s.seq + 1);
        let path = self.segment_path(seq);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        sync_dir(&self.dir)?;
        self.fsyncs += 1;
        self.segments.push(Segment {
            seq,
            path,
            bytes: 0,
        });
        self.active = Some(file);
        Ok(())
    }

    fn open_active(&mut self) -> io::Result<()> {
        match self.segments.last() {
            Some(last) => {
                self.active = Some(OpenOptions::new().append(true).open(&last.path)?);
                Ok(())
            }
            None => self.start_segment(),
        }
    }

    /// Appends bytes to the active segment and fdatasyncs it: the group commit.
    fn append_durably(&mut self, bytes: &[u8]) -> io::Result<()> {
        let roll = self
            .segments
            .last()
            .is_none_or(|s| s.bytes >= self.segment_bytes_max);
        if roll || self.active.is_none() {
            if roll {
                self.start_segment()?;
            } else {
                self.open_active()?;
            }
        }
        let file = self
            .active
            .as_mut()
            .expect("an active segment was just opened");
        file.write_all(bytes)?;
        file.sync_data()?;
        self.fsyncs += 1;
        if let Some(last) = self.segments.last_mut() {
            last.bytes += bytes.len() as u64;
        }
        Ok(())
    }

    /// Writes the rewritten log to a fresh segment, syncs it, then deletes the older ones.
    fn replace_log(&mut self, bytes: &[u8]) -> io::Result<()> {
        let old: Vec<Segment> = self.segments.clone();
        self.start_segment()?;
        let file = self.active.as_mut().expect("a segment was just started");
        file.write_all(bytes)?;
        file.sync_data()?;
        self.fsyncs += 1;
        if let Some(last) = self.segments.last_mut() {
            last.bytes = bytes.len() as u64;
        }
        for segment in &old {
            fs::remove_file(&segment.path)?;
        }
        self.segments
            .retain(|s| !old.iter().any(|o| o.seq == s.seq));
        sync_dir(&self.dir)?;
        self.fsyncs += 1;
        Ok(())
    }

    fn sync_io(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        if let Some(snapshot) = &pending.snapshot {
            write_atomic(&self.dir, SNAPSHOT_FILE, &encode_snapshot(snapshot))?;
            self.fsyncs += 2;
        }
        if let Some(mut rewrite) = pending.rewrite {
            rewrite.extend_from_slice(&pending.log);
            self.replace_log(&rewrite)?;
        } else if !pending.log.is_empty() {
            self.append_durably(&pending.log)?;
        }
        if let Some(hard_state) = &pending.hard_state {
            write_atomic(&self.dir, HARD_STATE_FILE, &encode_hard_state(hard_state))?;
            self.fsyncs += 2;
        }
        Ok(())
    }

    /// Reads the files and recovers, cutting off a torn tail.
    fn recover_files(&mut self) -> Result<DurableState, StorageError> {
        let segments = self.list_segments().map_err(io_error)?;
        let mut log = Vec::new();
        for segment in &segments {
            log.extend(fs::read(&segment.path).map_err(io_error)?);
        }
        let hard_state = read_optional(&self.dir.join(HARD_STATE_FILE)).map_err(io_error)?;
        let snapshot = read_optional(&self.dir.join(SNAPSHOT_FILE)).map_err(io_error)?;
        let files = DurableFiles {
            log: &log,
            hard_state: hard_state.as_deref(),
            snapshot: snapshot.as_deref(),
        };
        let recovered = recover(files).map_err(|error| name_segment(error, &segments))?;
        self.segments = segments;
        self.active = None;
        if let Some((offset, error)) = &recovered.torn_tail {
            tracing::warn!(offset, %error, "dropping a torn record at the end of the log");
            self.cut_log(recovered.log_valid_bytes).map_err(io_error)?;
        }
        let state = recovered.durable_state();
        let snapshot_index = state.snapshot.as_ref().map_or(Index(0), |s| s.meta.index);
        self.view = Some(View {
            snapshot_index,
            log: recovered.log,
        });
        Ok(state)
    }

    /// Cuts the concatenated log back to `valid_bytes`: truncates the segment holding that
    /// offset and deletes every later one.
    fn cut_log(&mut self, valid_bytes: u64) -> io::Result<()> {
        let mut start = 0;
        let mut keep = Vec::new();
        for segment in std::mem::take(&mut self.segments) {
            if start >= valid_bytes && !keep.is_empty() {
                fs::remove_file(&segment.path)?;
                continue;
            }
            let local = (valid_bytes - start).min(segment.bytes);
            if local < segment.bytes {
                let file = OpenOptions::new().write(true).open(&segment.path)?;
                file.set_len(local)?;
                file.sync_all()?;
            }
            start += segment.bytes;
            keep.push(Segment {
                bytes: local,
                ..segment
            });
        }
        self.segments = keep;
        sync_dir(&self.dir)
    }
}

fn io_error(error: io::Error) -> StorageError {
    StorageError::Io(error.to_string())
}

/// Rewrites a corruption error's offset in the concatenated log as a segment file and an
/// offset in it, which is what an operator needs.
fn name_segment(error: StorageError, segments: &[Segment]) -> StorageError {
    let StorageError::CorruptLog { offset, reason } = error else {
        return error;
    };
    let mut start = 0;
    for segment in segments {
        if offset < start + segment.bytes {
            let reason = format!(
                "{} at byte {}: {reason}",
                segment.path.display(),
                offset - start
            );
            return StorageError::CorruptLog { offset, reason };
        }
        start += segment.bytes;
    }
    StorageError::CorruptLog { offset, reason }
}

impl Storage for FileStore {
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

    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), StorageError> {
        self.view_mut()?;
        self.pending.hard_state = Some(*hard_state);
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let view = self.view_mut()?;
        if snapshot.meta.index <= view.snapshot_index {
            return Ok(());
        }
        view.log.compact(snapshot.meta.index, snapshot.meta.term)?;
        view.snapshot_index = snapshot.meta.index;
        let mut rewrite = Vec::new();
        for entry in view.log.entries() {
            LogRecordRef::Entry(entry).append_to(&mut rewrite);
        }
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
impl FileStore {
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Power loss: the unsynced log appends that `keep` allows reach the end of the last
    /// segment (a torn write), optionally with their last byte garbled; everything else
    /// unsynced is lost. Appends queued after a pending rewrite belong to a file that was
    /// never created, so nothing of them survives.
    pub(super) fn simulate_crash(self, keep: u64, garble: bool) -> io::Result<PathBuf> {
        if self.pending.rewrite.is_none() {
            let keep = usize::try_from(keep)
                .unwrap_or(usize::MAX)
                .min(self.pending.log.len());
            let mut torn = self.pending.log[..keep].to_vec();
            if let (true, Some(last)) = (garble, torn.last_mut()) {
                *last ^= 0xff;
            }
            if !torn.is_empty() {
                let path = match self.segments.last() {
                    Some(segment) => segment.path.clone(),
                    None => self.segment_path(1),
                };
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?
                    .write_all(&torn)?;
            }
        }
        Ok(self.dir.clone())
    }

    /// The segment files in order, with their sizes.
    pub(super) fn segment_files(&self) -> io::Result<Vec<(PathBuf, u64)>> {
        Ok(self
            .list_segments()?
            .into_iter()
            .map(|s| (s.path, s.bytes))
            .collect())
    }
}
