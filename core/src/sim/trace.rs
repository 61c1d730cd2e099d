//! The trace: one line per thing that happened, in the order it happened, and a hash of all
//! the lines. Two runs with the same seed, options and actions must produce byte-identical
//! traces, natively and in wasm; comparing 64-bit hashes is how tests and `flotilla sim
//! --json` check that cheaply. Lines are formatted into one reused buffer and only kept when
//! asked to, so tracing costs a format and a hash per event, not an allocation.

use crate::check::fingerprint::Fnv64;
use crate::types::Millis;
use std::fmt::{self, Write};

/// Most lines kept in memory when recording; later lines are only hashed.
pub const TRACE_LINES_MAX: u64 = 2_000_000;

#[derive(Debug, Default)]
pub struct Trace {
    hash: Fnv64,
    line: String,
    lines: Option<Vec<String>>,
    count: u64,
}

impl Trace {
    pub fn new(record: bool) -> Trace {
        Trace {
            lines: record.then(Vec::new),
            ..Trace::default()
        }
    }

    /// Adds one line: `at` (virtual ms) then the text.
    pub fn line(&mut self, at: Millis, text: fmt::Arguments<'_>) {
        self.line.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.line, "{at:>7} {text}");
        self.hash.write(self.line.as_bytes());
        self.hash.write(b"\n");
        self.count += 1;
        if let Some(lines) = &mut self.lines {
            if (lines.len() as u64) < TRACE_LINES_MAX {
                lines.push(self.line.clone());
            }
        }
    }

    /// The hash of every line so far.
    pub fn hash(&self) -> u64 {
        self.hash.finish()
    }

    /// How many lines were written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The kept lines (empty unless recording).
    pub fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }

    /// Starts or stops keeping lines.
    pub fn set_recording(&mut self, record: bool) {
        if record && self.lines.is_none() {
            self.lines = Some(Vec::new());
        } else if !record {
            self.lines = None;
        }
    }
}
