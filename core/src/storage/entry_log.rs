//! `EntryLog`: the splice rules of a Raft log, in memory, shared by the live stores and by
//! recovery so that both agree on what a sequence of operations means.

use super::error::StorageError;
use crate::raft::message::Entry;
use crate::types::{Index, Term};

/// Contiguous log entries after a base index.
///
/// Invariants: entry `k` of `entries` has index `first_index + k`. In an anchored log (the
/// log of a store) `first_index - 1` is the snapshot index, and entries at or below it are
/// never held. An unanchored log (recovery, before the snapshot is known to apply) starts
/// wherever its first entry says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryLog {
    /// The index of `entries[0]`, or of the next entry appended to an empty anchored log.
    first_index: Index,
    /// The entries, in index order.
    entries: Vec<Entry>,
    /// Whether `first_index` is fixed by a snapshot (or by the start of the log).
    anchored: bool,
}

impl EntryLog {
    /// An empty log whose first entry will be at `base.next()`: `base` is the snapshot
    /// index, or 0 without a snapshot.
    pub fn new(base: Index) -> EntryLog {
        EntryLog {
            first_index: base.next(),
            entries: Vec::new(),
            anchored: true,
        }
    }

    /// An empty log whose first entry may have any index: what recovery replays a
    /// compacted write-ahead log into.
    pub fn unanchored() -> EntryLog {
        EntryLog {
            first_index: Index(1),
            entries: Vec::new(),
            anchored: false,
        }
    }

    /// The index of the first entry held (or of the next one, if empty).
    pub fn first_index(&self) -> Index {
        self.first_index
    }

    /// The index of the last entry held, or `first_index - 1` if empty.
    pub fn last_index(&self) -> Index {
        // first_index >= 1 and entries stop below u64::MAX, so this neither overflows nor
        // underflows.
        Index(self.first_index.0 + self.entries.len() as u64 - 1)
    }

    /// The entries, in index order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the entries out.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// The entry at `index`, if held.
    pub fn get(&self, index: Index) -> Option<&Entry> {
        let offset = index.0.checked_sub(self.first_index.0)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// Appends `new` (contiguous entries), first discarding every held entry at or above
    /// `new[0].index`. In an anchored log, entries at or below the base are already covered
    /// by the snapshot and are skipped. Returns how many leading entries were skipped.
    ///
    /// Errors, leaving the log unchanged: entries not contiguous, or a gap after the last.
    pub fn append(&mut self, new: &[Entry]) -> Result<usize, StorageError> {
        if let Some(entry) = new.iter().find(|entry| !index_in_range(entry.index)) {
            return Err(StorageError::IndexOutOfRange(entry.index));
        }
        if let Some(pair) = new
            .windows(2)
            .find(|pair| pair[1].index != pair[0].index.next())
        {
            return Err(StorageError::NotContiguous(pair[1].index));
        }
        let skipped = if self.anchored {
            new.iter()
                .take_while(|entry| entry.index < self.first_index)
                .count()
        } else {
            0
        };
        let Some(first) = new.get(skipped) else {
            return Ok(skipped);
        };
        if !self.anchored && (self.entries.is_empty() || first.index < self.first_index) {
            self.entries.clear();
            self.first_index = first.index;
        }
        let next = self.last_index().next();
        if first.index > next {
            return Err(StorageError::Gap {
                expected: next,
                found: first.index,
            });
        }
        self.truncate_from(first.index);
        self.entries.extend_from_slice(&new[skipped..]);
        Ok(skipped)
    }

    /// Discards every entry at `index` or above. Returns whether anything was discarded.
    pub fn truncate_from(&mut self, index: Index) -> bool {
        let keep = index.0.saturating_sub(self.first_index.0);
        let keep = usize::try_from(keep)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        let truncated = keep < self.entries.len();
        self.entries.truncate(keep);
        truncated
    }

    /// Applies a snapshot covering the log up to (`index`, `term`), following the Raft rule:
    /// if the log holds that entry with that term, the entries after it are kept; otherwise
    /// they belong to another history and the whole log is dropped. A log that starts right
    /// after `index` (a write-ahead log already compacted) is kept. Afterwards the log is
    /// anchored at `index`.
    ///
    /// Errors if the log starts past `index + 1`: entries are missing between the snapshot
    /// and the log.
    pub fn compact(&mut self, index: Index, term: Term) -> Result<(), StorageError> {
        if index.0 == u64::MAX {
            return Err(StorageError::IndexOutOfRange(index));
        }
        let matches = self.get(index).is_some_and(|entry| entry.term == term);
        let starts_after = !self.entries.is_empty() && self.first_index == index.next();
        if !self.entries.is_empty() && self.first_index > index.next() {
            return Err(StorageError::Gap {
                expected: index.next(),
                found: self.first_index,
            });
        }
        if matches {
            self.entries.drain(..=self.offset_of(index));
        } else if !starts_after {
            self.entries.clear();
        }
        self.first_index = index.next();
        self.anchored = true;
        Ok(())
    }

    fn offset_of(&self, index: Index) -> usize {
        let offset = index.0 - self.first_index.0;
        usize::try_from(offset).unwrap_or(usize::MAX)
    }
}

/// Whether an entry may carry `index`: 0 means "before the log", and `u64::MAX` would leave
/// no room for the next index. Entries decoded from disk can hold anything.
fn index_in_range(index: Index) -> bool {
    index.0 != 0 && index.0 != u64::MAX
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::Payload;

    fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
        range
            .map(|index| Entry {
                index: Index(index),
                term: Term(term),
                payload: Payload::Noop,
            })
            .collect()
    }

    fn shape(log: &EntryLog) -> Vec<(u64, u64)> {
        log.entries()
            .iter()
            .map(|entry| (entry.index.0, entry.term.0))
            .collect()
    }

    #[test]
    fn append_overwrites_and_refuses_gaps() {
        let mut log = EntryLog::new(Index(0));
        assert_eq!(log.append(&entries(1..=4, 1)), Ok(0));
        assert_eq!(log.append(&entries(3..=3, 2)), Ok(0));
        assert_eq!(shape(&log), vec![(1, 1), (2, 1), (3, 2)]);
        assert_eq!(
            log.append(&entries(5..=5, 2)),
            Err(StorageError::Gap {
                expected: Index(4),
                found: Index(5)
            })
        );
        let mut broken = entries(4..=4, 2);
        broken.extend(entries(6..=6, 2));
        assert_eq!(
            log.append(&broken),
            Err(StorageError::NotContiguous(Index(6)))
        );
        assert_eq!(log.last_index(), Index(3));
    }

    #[test]
    fn truncate_and_compact() {
        let mut log = EntryLog::new(Index(0));
        log.append(&entries(1..=6, 1)).expect("appends");
        assert!(log.truncate_from(Index(6)));
        assert!(!log.truncate_from(Index(9)));
        log.compact(Index(3), Term(1)).expect("compacts");
        assert_eq!(shape(&log), vec![(4, 1), (5, 1)]);
        assert_eq!(log.append(&entries(2..=6, 1)), Ok(2));
        assert_eq!(log.last_index(), Index(6));
        log.compact(Index(5), Term(9))
            .expect("conflicting snapshot");
        assert_eq!(shape(&log), vec![]);
        assert_eq!(log.first_index(), Index(6));
        assert!(!log.truncate_from(Index(1)));
    }

    #[test]
    fn unanchored_log_starts_anywhere() {
        let mut log = EntryLog::unanchored();
        log.append(&entries(11..=12, 3)).expect("starts at 11");
        assert_eq!(log.first_index(), Index(11));
        log.compact(Index(10), Term(3))
            .expect("starts right after the snapshot");
        assert_eq!(shape(&log), vec![(11, 3), (12, 3)]);
        let mut log = EntryLog::unanchored();
        log.append(&entries(11..=12, 3)).expect("starts at 11");
        assert_eq!(
            log.compact(Index(5), Term(1)),
            Err(StorageError::Gap {
                expected: Index(6),
                found: Index(11)
            })
        );
    }
}
