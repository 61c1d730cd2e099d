//! The WAL thread: the file store on a thread of its own, so that the event loop never waits
//! for the disk.
//!
//! The loop hands over what one Ready asks to persist (a [`WalJob`]: a received snapshot,
//! the truncation, the entries, a snapshot this node took, the hard state) and goes back to
//! reading sockets and stepping the node while the thread encodes the records, writes them
//! and runs the fdatasync. When the job is durable the thread sends a [`WalDone`] back and
//! calls the wake function (the loop's `mio::Waker`); the loop then sends the Ready's
//! `persisted_messages` and advances the node.
//!
//! The core hands out one Ready at a time, so at most one job is in flight; everything the
//! loop steps meanwhile lands in the node and leaves in the next Ready, whose entries share
//! the next fdatasync: group commit, without a timer and without blocking the loop.
//!
//! The thread owns the store and calls it exactly as the loop did (same order, one `sync`
//! per job), so the store's crash-point tests still describe what reaches the disk.

use super::dir::{Dir, OsDir};
use super::file_store::FileStore;
use flotilla_core::raft::{Entry, HardState, Snapshot};
use flotilla_core::storage::{Storage, StorageError};
use flotilla_core::Index;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What one Ready asks to persist, in the order the store must apply it.
#[derive(Debug, Default)]
pub struct WalJob {
    /// The Ready's id, handed back in [`WalDone`].
    pub ready_id: u64,
    /// A snapshot received from the leader (entries that follow it build on it).
    pub snapshot: Option<Snapshot>,
    pub truncate_from: Option<Index>,
    pub entries: Vec<Entry>,
    /// A snapshot this node took.
    pub compacted: Option<Snapshot>,
    pub hard_state: Option<HardState>,
    /// Sync even if nothing above is set (the core asked for it).
    pub must_sync: bool,
}

impl WalJob {
    /// Whether the job writes anything or asks for a sync: an empty one needs no thread.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none()
            && self.truncate_from.is_none()
            && self.entries.is_empty()
            && self.compacted.is_none()
            && self.hard_state.is_none()
            && !self.must_sync
    }
}

/// The thread's answer to one job.
#[derive(Debug)]
pub struct WalDone {
    pub ready_id: u64,
    /// An error is fatal for the node: after a failed write or fsync nothing is known about
    /// what is on disk.
    pub result: Result<(), StorageError>,
    /// How long the write and fdatasync took, when the job synced.
    pub sync_time: Option<Duration>,
    /// Entries the job appended.
    pub entries: usize,
    /// Bytes in all segments after the job.
    pub log_bytes: u64,
}

/// Wakes the event loop (its `mio::Waker`); a function so that tests need no `Poll`.
pub type Wake = Box<dyn Fn() + Send>;

/// The loop's end of the WAL thread. Dropping it lets the thread finish the job in flight,
/// then joins it.
#[derive(Debug)]
pub struct WalThread<D: Dir + Send + 'static = OsDir> {
    jobs: Option<Sender<WalJob>>,
    done: Receiver<WalDone>,
    /// The thread hands the store back when it ends (tests look at what it wrote).
    handle: Option<JoinHandle<FileStore<D>>>,
    log_bytes: u64,
}

impl<D: Dir + Send + 'static> WalThread<D> {
    /// Starts the thread on a loaded store.
    pub fn spawn(store: FileStore<D>, wake: Wake) -> std::io::Result<WalThread<D>> {
        let log_bytes = store.log_bytes();
        let (jobs, job_rx) = mpsc::channel::<WalJob>();
        let (done_tx, done) = mpsc::channel::<WalDone>();
        let handle = std::thread::Builder::new()
            .name("wal".into())
            .spawn(move || run(store, &job_rx, &done_tx, &wake))?;
        Ok(WalThread {
            jobs: Some(jobs),
            done,
            handle: Some(handle),
            log_bytes,
        })
    }

    /// Hands a job to the thread. Fails only if the thread is gone (it stopped on an error
    /// it already reported, or panicked).
    pub fn submit(&mut self, job: WalJob) -> Result<(), StorageError> {
        let gone = || StorageError::Io("the WAL thread has stopped".into());
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(job).map_err(|_| gone())
    }

    /// The answer to the job in flight, if it is done.
    pub fn try_done(&mut self) -> Option<WalDone> {
        let done = self.done.try_recv().ok()?;
        self.log_bytes = done.log_bytes;
        Some(done)
    }

    /// Bytes in all segments, as of the last finished job.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes
    }

    /// Stops the thread once the job in flight is written, and returns its store (`None`
    /// if the thread panicked).
    pub fn stop(mut self) -> Option<FileStore<D>> {
        self.join()
    }

    fn join(&mut self) -> Option<FileStore<D>> {
        // Closing the channel ends the thread's loop.
        self.jobs = None;
        self.handle.take().and_then(|handle| handle.join().ok())
    }
}

impl<D: Dir + Send + 'static> Drop for WalThread<D> {
    fn drop(&mut self) {
        self.join();
    }
}

fn run<D: Dir>(
    mut store: FileStore<D>,
    jobs: &Receiver<WalJob>,
    done: &Sender<WalDone>,
    wake: &Wake,
) -> FileStore<D> {
    while let Ok(job) = jobs.recv() {
        let ready_id = job.ready_id;
        let entries = job.entries.len();
        let (result, sync_time) = match persist(&mut store, job) {
            Ok(sync_time) => (Ok(()), sync_time),
            Err(error) => (Err(error), None),
        };
        let failed = result.is_err();
        let answer = WalDone {
            ready_id,
            result,
            sync_time,
            entries,
            log_bytes: store.log_bytes(),
        };
        if done.send(answer).is_err() {
            break;
        }
        wake();
        if failed {
            // The store forgot its view after the failure; the loop stops the node.
            break;
        }
    }
    store
}

/// Applies one job to the store, then syncs once if it wrote anything or was asked to.
/// Returns how long the sync took.
fn persist<D: Dir>(
    store: &mut FileStore<D>,
    job: WalJob,
) -> Result<Option<Duration>, StorageError> {
    let mut wrote = false;
    if let Some(snapshot) = &job.snapshot {
        store.save_snapshot(snapshot)?;
        wrote = true;
    }
    if let Some(from) = job.truncate_from {
        store.truncate_from(from)?;
        wrote = true;
    }
    if !job.entries.is_empty() {
        store.append(&job.entries)?;
        wrote = true;
    }
    if let Some(snapshot) = &job.compacted {
        store.save_snapshot(snapshot)?;
        wrote = true;
    }
    if let Some(hard_state) = &job.hard_state {
        store.set_hard_state(hard_state)?;
        wrote = true;
    }
    if !(wrote || job.must_sync) {
        return Ok(None);
    }
    let started = Instant::now();
    store.sync()?;
    Ok(Some(started.elapsed()))
}

#[cfg(test)]
mod tests;
