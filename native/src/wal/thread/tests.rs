//! The WAL thread: jobs become durable in order, the loop is woken for each, and a failed
//! sync is reported and stops the thread.

use super::{WalDone, WalJob, WalThread};
use crate::wal::{Dir, FileStore, OsDir};
use flotilla_core::raft::{Entry, HardState, Payload};
use flotilla_core::storage::Storage;
use flotilla_core::{Index, NodeId, Term};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEGMENT_BYTES_MAX: u64 = 4096;
const WAIT_MAX: Duration = Duration::from_secs(10);

fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
    (from..=to)
        .map(|index| Entry {
            index: Index(index),
            term: Term(term),
            payload: Payload::Command(vec![index as u8; 100]),
        })
        .collect()
}

/// A fresh folder for one test, removed when dropped.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new(name: &str) -> TempFolder {
        let path =
            std::env::temp_dir().join(format!("flotilla-wal-thread-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempFolder(path)
    }

    fn dir(&self) -> OsDir {
        OsDir::open(&self.0).expect("a temporary folder")
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn<D: Dir + Send + 'static>(dir: D) -> (WalThread<D>, Arc<AtomicU64>) {
    let mut store = FileStore::with_dir(dir, SEGMENT_BYTES_MAX);
    store.load().expect("a fresh store loads");
    let wakes = Arc::new(AtomicU64::new(0));
    let counter = wakes.clone();
    let wake = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (WalThread::spawn(store, wake).expect("spawn"), wakes)
}

fn wait_done<D: Dir + Send + 'static>(wal: &mut WalThread<D>) -> WalDone {
    let started = Instant::now();
    loop {
        if let Some(done) = wal.try_done() {
            return done;
        }
        assert!(
            started.elapsed() < WAIT_MAX,
            "the WAL thread did not answer"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn jobs_are_durable_in_order_and_each_wakes_the_loop() {
    let folder = TempFolder::new("order");
    let (mut wal, wakes) = spawn(folder.dir());
    let hard_state = HardState {
        term: Term(2),
        vote: Some(NodeId(1)),
        commit: Index(3),
    };
    let jobs = [
        WalJob {
            ready_id: 1,
            entries: entries(1, 5, 1),
            hard_state: Some(hard_state),
            ..WalJob::default()
        },
        // A new leader's entries overwrite a conflicting suffix.
        WalJob {
            ready_id: 2,
            entries: entries(4, 7, 2),
            ..WalJob::default()
        },
        WalJob {
            ready_id: 3,
            must_sync: true,
            ..WalJob::default()
        },
    ];
    for job in jobs {
        let ready_id = job.ready_id;
        wal.submit(job).expect("submit");
        let done = wait_done(&mut wal);
        assert_eq!(done.ready_id, ready_id);
        assert!(done.result.is_ok());
        assert!(done.sync_time.is_some(), "every job here syncs");
        assert_eq!(wakes.load(Ordering::SeqCst), ready_id);
    }
    assert!(wal.log_bytes() > 0);
    let store = wal.stop().expect("the thread hands its store back");
    drop(store);
    // Everything the thread answered for is on disk (the store buffers nothing after a sync).
    let state = FileStore::with_dir(folder.dir(), SEGMENT_BYTES_MAX)
        .load()
        .expect("recovers");
    assert_eq!(state.hard_state, hard_state);
    let mut expected = entries(1, 3, 1);
    expected.extend(entries(4, 7, 2));
    assert_eq!(state.entries, expected);
}

#[test]
fn an_empty_job_needs_no_thread() {
    assert!(WalJob::default().is_empty());
    let job = WalJob {
        must_sync: true,
        ..WalJob::default()
    };
    assert!(!job.is_empty());
}

/// A folder whose fdatasync fails, as a disk that lost the written pages would.
#[derive(Debug)]
struct FailingSync(OsDir);

impl Dir for FailingSync {
    fn list(&mut self) -> io::Result<Vec<String>> {
        self.0.list()
    }
    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.0.read(name)
    }
    fn create(&mut self, name: &str) -> io::Result<()> {
        self.0.create(name)
    }
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.0.append(name, bytes)
    }
    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.0.write_at(name, offset, bytes)
    }
    fn sync(&mut self, _name: &str) -> io::Result<()> {
        Err(io::Error::other("EIO"))
    }
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.0.truncate(name, len)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.0.remove(name)
    }
    fn sync_dir(&mut self) -> io::Result<()> {
        self.0.sync_dir()
    }
    fn describe(&self, name: &str) -> String {
        self.0.describe(name)
    }
}

#[test]
fn a_failed_sync_is_reported_and_stops_the_thread() {
    let folder = TempFolder::new("failing");
    let (mut wal, _) = spawn(FailingSync(folder.dir()));
    let job = WalJob {
        ready_id: 7,
        entries: entries(1, 2, 1),
        ..WalJob::default()
    };
    wal.submit(job).expect("submit");
    let done = wait_done(&mut wal);
    assert_eq!(done.ready_id, 7);
    assert!(done.result.is_err(), "the failure reaches the loop");
    // The thread is gone: the next job is refused instead of silently queued.
    let started = Instant::now();
    while wal
        .submit(WalJob {
            ready_id: 8,
            must_sync: true,
            ..WalJob::default()
        })
        .is_ok()
    {
        assert!(started.elapsed() < WAIT_MAX, "the thread kept running");
        std::thread::sleep(Duration::from_millis(1));
    }
}
