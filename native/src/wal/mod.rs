//! The node's durable storage in its data folder: write-ahead log segments, the hard state
//! and the latest snapshot, in the core's formats (`flotilla_core::storage`).
//!
//! ```text
//! data/
//!   wal-00000000000000000001.log   a header, then batches of records (see `format`)
//!   wal-00000000000000000002.log   the next segment, after a roll-over or a compaction
//!   hard_state                     term, vote, commit: replaced atomically
//!   snapshot                       the state machine at some index: replaced atomically
//! ```
//!
//! Writes are buffered until `sync`, which makes them durable with one `write` of one batch
//! and one `fdatasync` of the active segment (group commit: everything one Ready asked for).
//! The store does its I/O through the [`Dir`] trait: [`OsDir`] on real files, [`SimDir`] in
//! memory for the crash-point tests, which crash after every single operation. A file
//! replaced as a whole goes through a temporary file, fsync, rename and an fsync of the
//! folder, so a crash leaves either the old or the new version, never a mix.
//!
//! Saving a snapshot compacts the log: the entries after the snapshot are written to a new
//! segment as one "rewrite" batch, which is synced before the older segments are deleted. A
//! crash in between leaves old and new segments side by side; recovery ignores every
//! segment before the last valid rewrite (and deletes it).
//!
//! In a node the store runs on its own thread ([`WalThread`]): the event loop hands it what
//! each Ready asks to persist and keeps serving sockets while the disk works.
//!
//! Recovery reads every segment in order, checks the batches ([`format::scan_segments`]:
//! a torn last batch is dropped whole, a damaged durable one is refused, even when a single
//! bit flipped in the very last batch), and hands the records of the valid batches to the
//! core's `recover`. Errors name the segment file and the byte offset in it.

mod atomic;
mod dir;
mod file_store;
pub mod format;
mod sim_dir;
mod thread;

pub use dir::{Dir, OsDir};
pub use file_store::{FileStore, SEGMENT_BYTES_MAX_DEFAULT};
pub use sim_dir::{Op, SimDir, SimFs, Tear};
pub use thread::{Wake, WalDone, WalJob, WalThread};

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;
