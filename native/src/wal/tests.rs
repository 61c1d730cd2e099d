//! The core's storage conformance suite, run against the file store on real files, plus the
//! file store's own cases (segments, error messages).

use super::file_store::FileStore;
use flotilla_core::storage::conformance::{self, entries, StorageHarness};
use flotilla_core::storage::{DurableFile, Storage, StorageError, TearMode};
use std::fs;
use std::path::PathBuf;

/// Stores in numbered folders under one temporary root.
struct Harness {
    root: PathBuf,
    next: u64,
    segment_bytes_max: u64,
}

impl Harness {
    fn new(name: &str, segment_bytes_max: u64) -> Harness {
        let root = std::env::temp_dir().join(format!("flotilla-wal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        Harness {
            root,
            next: 0,
            segment_bytes_max,
        }
    }

    fn open(&self, dir: PathBuf) -> Result<FileStore, StorageError> {
        FileStore::open(&dir, self.segment_bytes_max).map_err(|e| StorageError::Io(e.to_string()))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl StorageHarness<FileStore> for Harness {
    fn open_fresh(&mut self) -> FileStore {
        self.next += 1;
        self.open(self.root.join(self.next.to_string()))
            .expect("open a fresh store")
    }

    fn reopen(&mut self, store: FileStore) -> Result<FileStore, StorageError> {
        // Unsynced writes live in the store's memory until `sync`: a clean stop of the
        // process loses them, which the contract allows.
        let dir = store.path().to_path_buf();
        drop(store);
        self.open(dir)
    }

    fn crash(&mut self, store: FileStore, tear: TearMode) -> Result<FileStore, StorageError> {
        let (keep, garble) = match tear {
            TearMode::LoseUnsynced => (0, false),
            TearMode::KeepLogPrefix { bytes } => (bytes, false),
            TearMode::GarbleLogPrefix { bytes } => (bytes, true),
        };
        let dir = store.path().to_path_buf();
        store
            .simulate_crash(keep, garble)
            .map_err(|e| StorageError::Io(e.to_string()))?;
        self.open(dir)
    }

    fn durable_bytes(&mut self, store: &FileStore, file: DurableFile) -> u64 {
        match file {
            // The hard state is a record in the log: damage to it is damage to the log.
            DurableFile::Log | DurableFile::HardState => {
                store.segment_files().iter().map(|s| s.1).sum()
            }
            DurableFile::Snapshot => {
                fs::metadata(store.path().join("snapshot")).map_or(0, |m| m.len())
            }
        }
    }

    fn corrupt(
        &mut self,
        store: FileStore,
        file: DurableFile,
        offset: u64,
    ) -> Result<FileStore, StorageError> {
        let (path, local) = match file {
            DurableFile::Snapshot => (store.path().join("snapshot"), offset),
            DurableFile::Log | DurableFile::HardState => {
                let mut start = 0;
                let mut found = None;
                for (name, bytes) in store.segment_files() {
                    if offset < start + bytes {
                        found = Some((store.path().join(name), offset - start));
                        break;
                    }
                    start += bytes;
                }
                found.expect("offset inside the log")
            }
        };
        let dir = store.path().to_path_buf();
        drop(store);
        let mut bytes = fs::read(&path).expect("read file to corrupt");
        bytes[local as usize] ^= 0xff;
        fs::write(&path, bytes).expect("write corrupted file");
        self.open(dir)
    }
}

#[test]
fn conformance_with_one_segment() {
    conformance::run_all(&mut Harness::new("one", super::SEGMENT_BYTES_MAX_DEFAULT));
}

#[test]
fn conformance_with_tiny_segments() {
    // A segment rolls over after every record or two, so every case crosses segments.
    conformance::run_all(&mut Harness::new("tiny", 40));
}

#[test]
fn corruption_names_the_segment_and_offset() {
    let mut harness = Harness::new("names", 40);
    let mut store = harness.open_fresh();
    store.load().expect("load");
    store.append(&entries(1..=10, 1)).expect("append");
    store.sync().expect("sync");
    // Every append was a Ready of its own: many segments.
    let segments = store.segment_files();
    assert!(
        segments.len() == 1,
        "one sync writes one segment: {segments:?}"
    );
    for index in 11..=20 {
        store.append(&entries(index..=index, 1)).expect("append");
        store.sync().expect("sync");
    }
    let segments = store.segment_files();
    assert!(segments.len() >= 3, "{segments:?}");
    let second = store.path().join(&segments[1].0);
    // Byte 3 of the second segment: inside its header.
    let offset = segments[0].1 + 3;
    let mut store = harness
        .corrupt(store, DurableFile::Log, offset)
        .expect("reopen");
    let error = store.load().expect_err("corruption refused");
    let text = error.to_string();
    assert!(text.contains(&second.display().to_string()), "{text}");
    // The offset named is where the damage is, in that file.
    assert!(
        text.contains(".log at byte 0: one byte of the segment header is damaged")
            || text.contains(".log at byte 0: not a Flotilla WAL segment"),
        "{text}"
    );
}

#[test]
fn compaction_deletes_old_segments() {
    let mut harness = Harness::new("compact", 40);
    let mut store = harness.open_fresh();
    store.load().expect("load");
    for index in 1..=10 {
        store.append(&entries(index..=index, 1)).expect("append");
        store.sync().expect("sync");
    }
    let before = store.segment_files().len();
    let snapshot = flotilla_core::raft::Snapshot {
        meta: flotilla_core::raft::SnapshotMeta {
            index: flotilla_core::Index(8),
            term: flotilla_core::Term(1),
            ..Default::default()
        },
        data: b"state".to_vec(),
    };
    store.save_snapshot(&snapshot).expect("snapshot");
    store.sync().expect("sync");
    let after = store.segment_files();
    assert!(before > 2 && after.len() == 1, "{before} -> {after:?}");
    let mut store = harness.reopen(store).expect("reopen");
    let state = store.load().expect("load");
    assert_eq!(state.entries, entries(9..=10, 1));
    assert_eq!(state.snapshot, Some(snapshot));
}

#[test]
fn segments_are_preallocated_and_recovered_up_to_their_last_batch() {
    let mut harness = Harness::new("prealloc", super::SEGMENT_BYTES_MAX_DEFAULT);
    let mut store = harness.open_fresh();
    store.load().expect("load");
    for index in 1..=20 {
        store.append(&entries(index..=index, 1)).expect("append");
        store.sync().expect("sync");
    }
    let segments = store.segment_files();
    let path = store.path().join(&segments[0].0);
    let size = fs::metadata(&path).expect("segment").len();
    // Twenty syncs, one file size: the batches went into preallocated zeros.
    assert!(size > segments[0].1, "{size} <= {}", segments[0].1);
    // A crash during the creation of the next segment leaves it under its temporary name.
    let unfinished = store
        .path()
        .join(format!("{}.tmp", segments[0].0.replace("01.log", "02.log")));
    fs::write(&unfinished, b"FLWAL001").expect("write");
    let dir = store.path().to_path_buf();
    drop(store);
    let mut store = harness.open(dir).expect("reopen");
    let state = store.load().expect("recovers");
    assert_eq!(state.entries, entries(1..=20, 1));
    assert!(!unfinished.exists(), "the unfinished segment is removed");
    // New batches go after the last one, not after the zeros.
    store.append(&entries(21..=21, 1)).expect("append");
    store.sync().expect("sync");
    let dir = store.path().to_path_buf();
    drop(store);
    let state = harness.open(dir).expect("reopen").load().expect("recovers");
    assert_eq!(state.entries, entries(1..=21, 1));
}

#[test]
fn the_hard_state_is_a_log_record_and_survives_compaction() {
    use flotilla_core::raft::HardState;
    use flotilla_core::{Index, NodeId, Term};
    let mut harness = Harness::new("hardstate", 4096);
    let mut store = harness.open_fresh();
    store.load().expect("load");
    let hard_state = HardState {
        term: Term(3),
        vote: Some(NodeId(2)),
        commit: Index(1),
    };
    store.append(&entries(1..=4, 3)).expect("append");
    store.set_hard_state(&hard_state).expect("set");
    store.sync().expect("sync");
    assert_eq!(
        store.fsyncs, 3,
        "segment creation (2) and one sync for entries and vote"
    );
    assert!(
        !store.path().join("hard_state").exists(),
        "no separate file"
    );
    // A received snapshot rewrites the log from scratch: the hard state moves along.
    let snapshot = flotilla_core::raft::Snapshot {
        meta: flotilla_core::raft::SnapshotMeta {
            index: Index(9),
            term: Term(3),
            ..Default::default()
        },
        data: b"state".to_vec(),
    };
    store.save_snapshot(&snapshot).expect("snapshot");
    store.sync().expect("sync");
    let dir = store.path().to_path_buf();
    drop(store);
    let state = harness.open(dir).expect("reopen").load().expect("load");
    assert_eq!(state.hard_state, hard_state);
    assert_eq!(state.snapshot, Some(snapshot));
    assert!(state.entries.is_empty());
}
