//! The node's durable storage in its data folder: write-ahead log segments, the hard state
//! and the latest snapshot, in the core's formats (`flotilla_core::storage`).
//!
//! ```text
//! data/
//!   wal-00000000000000000001.log   records (length, CRC32C, LogRecord), appended
//!   wal-00000000000000000002.log   the next segment, after a roll-over or a compaction
//!   hard_state                     term, vote, commit: replaced atomically
//!   snapshot                       the state machine at some index: replaced atomically
//! ```
//!
//! Writes are buffered until `sync`, which makes them durable with one `write` and one
//! `fdatasync` of the active segment (group commit: everything one Ready asked for). A file
//! replaced as a whole goes through a temporary file, fsync, rename and an fsync of the
//! folder, so a crash leaves either the old or the new version, never a mix.
//!
//! Saving a snapshot compacts the log: the entries after the snapshot are written to a new
//! segment, which is synced before the older segments are deleted. A crash in between leaves
//! old and new segments side by side; replaying both gives the same log, because an entry
//! record at index `i` replaces whatever was at `i` and above.
//!
//! Recovery reads every segment in order and hands the bytes to the core's `recover`, which
//! drops a torn last record (the file is cut back to the valid prefix) and refuses
//! corruption anywhere else; the error names the segment file and the byte offset in it.

mod atomic;
mod file_store;

pub use file_store::{FileStore, SEGMENT_BYTES_MAX_DEFAULT};

#[cfg(test)]
mod tests;
