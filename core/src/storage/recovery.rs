//! Recovery: from the bytes of the durable files to the state a node restarts from.
//!
//! Every store recovers through [`recover`], the simulator's in-memory disk as much as the
//! native file store, so the decoder that the tests exercise with torn and garbled bytes is
//! the one that runs in production.

use super::entry_log::EntryLog;
use super::error::StorageError;
use super::hard_state::decode_hard_state;
use super::log_record::LogRecord;
use super::record::{scan_records, RecordError, ScanStop, RECORD_HEADER_BYTES};
use super::snapshot::decode_snapshot;
use super::DurableState;
use crate::raft::message::{HardState, Snapshot};
use crate::types::{Index, Term};

/// The durable files of a store, as bytes. `None` is a file that does not exist yet.
#[derive(Clone, Copy, Debug)]
pub struct DurableFiles<'a> {
    /// The write-ahead log: records of [`LogRecord`]s.
    pub log: &'a [u8],
    /// The hard state file.
    pub hard_state: Option<&'a [u8]>,
    /// The snapshot file.
    pub snapshot: Option<&'a [u8]>,
}

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The hard state (the default, term 0 and no vote, if there was no file).
    pub hard_state: HardState,
    /// The latest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The entries after the snapshot, anchored at its index.
    pub log: EntryLog,
    /// Length of the valid prefix of the log. When `torn_tail` is set, the store must cut
    /// the log to this length before appending to it, or new records would land after the
    /// garbage and be lost at the next recovery.
    pub log_valid_bytes: u64,
    /// Where the log's torn tail started and why it did not decode, if it had one.
    pub torn_tail: Option<(u64, RecordError)>,
}

impl Recovered {
    /// The state a node restarts from.
    pub fn durable_state(&self) -> DurableState {
        DurableState {
            hard_state: self.hard_state,
            snapshot: self.snapshot.clone(),
            entries: self.log.entries().to_vec(),
        }
    }
}

/// Decodes the durable files. A torn tail of the log is dropped (and reported); corruption
/// anywhere else is an error. Never panics.
pub fn recover(files: DurableFiles<'_>) -> Result<Recovered, StorageError> {
    let hard_state = match files.hard_state {
        Some(bytes) => decode_hard_state(bytes).map_err(|error| StorageError::CorruptFile {
            file: "hard state",
            error,
        })?,
        None => HardState::default(),
    };
    let snapshot = match files.snapshot {
        Some(bytes) => Some(
            decode_snapshot(bytes).map_err(|error| StorageError::CorruptFile {
                file: "snapshot",
                error,
            })?,
        ),
        None => None,
    };
    let scan = scan_records(files.log);
    let torn_tail = match scan.stop {
        ScanStop::Clean => None,
        ScanStop::TornTail { offset, error } => Some((offset, error)),
        ScanStop::Corrupt {
            offset,
            error,
            next_valid,
        } => {
            let reason = format!("{error}, yet a valid record follows at byte {next_valid}");
            return Err(StorageError::CorruptLog { offset, reason });
        }
    };
    let (mut log, logged_hard_state) = replay(&scan.payloads)?;
    // A hard state in the log was written after any in the file (a store writes one or the
    // other; one that moved from the file to the log wrote the file first).
    let hard_state = logged_hard_state.unwrap_or(hard_state);
    let (base_index, base_term) = match &snapshot {
        Some(snapshot) => (snapshot.meta.index, snapshot.meta.term),
        None => (Index(0), Term(0)),
    };
    log.compact(base_index, base_term)
        .map_err(|error| StorageError::CorruptLog {
            offset: 0,
            reason: format!("the log does not follow the snapshot at index {base_index}: {error}"),
        })?;
    Ok(Recovered {
        hard_state,
        snapshot,
        log,
        log_valid_bytes: scan.valid_bytes,
        torn_tail,
    })
}

/// Replays log record payloads, in order, into an unanchored log; also returns the last hard
/// state recorded in the log, if any.
fn replay(payloads: &[&[u8]]) -> Result<(EntryLog, Option<HardState>), StorageError> {
    let mut log = EntryLog::unanchored();
    let mut hard_state = None;
    let mut offset = 0u64;
    for payload in payloads {
        let corrupt = |reason: String| StorageError::CorruptLog { offset, reason };
        match LogRecord::decode(payload).map_err(|error| corrupt(error.to_string()))? {
            LogRecord::Entry(entry) => {
                log.append(std::slice::from_ref(&entry))
                    .map_err(|error| corrupt(error.to_string()))?;
            }
            LogRecord::Truncate { from } => {
                log.truncate_from(from);
            }
            LogRecord::HardState(recorded) => hard_state = Some(recorded),
        }
        offset += RECORD_HEADER_BYTES + payload.len() as u64;
    }
    Ok((log, hard_state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::message::{Entry, Payload, SnapshotMeta};
    use crate::storage::log_record::LogRecordRef;
    use crate::storage::record::encode_record;
    use crate::storage::snapshot::encode_snapshot;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: Index(index),
            term: Term(term),
            payload: Payload::Noop,
        }
    }

    fn log_of(records: &[LogRecordRef<'_>]) -> Vec<u8> {
        let mut bytes = Vec::new();
        records
            .iter()
            .for_each(|record| record.append_to(&mut bytes));
        bytes
    }

    fn indexes(recovered: &Recovered) -> Vec<(u64, u64)> {
        recovered
            .log
            .entries()
            .iter()
            .map(|entry| (entry.index.0, entry.term.0))
            .collect()
    }

    #[test]
    fn replays_overwrites_and_truncations() {
        let (e1, e2, e3, e2b) = (entry(1, 1), entry(2, 1), entry(3, 1), entry(2, 2));
        let log = log_of(&[
            LogRecordRef::Entry(&e1),
            LogRecordRef::Entry(&e2),
            LogRecordRef::Entry(&e3),
            LogRecordRef::Truncate { from: Index(3) },
            LogRecordRef::Entry(&e2b),
        ]);
        let recovered = recover(DurableFiles {
            log: &log,
            hard_state: None,
            snapshot: None,
        })
        .expect("recovers");
        assert_eq!(indexes(&recovered), vec![(1, 1), (2, 2)]);
        assert_eq!(recovered.torn_tail, None);
        assert_eq!(recovered.log_valid_bytes, log.len() as u64);
    }

    #[test]
    fn the_last_hard_state_in_the_log_wins_over_the_file() {
        let file = HardState {
            term: Term(1),
            vote: Some(crate::types::NodeId(1)),
            commit: Index(0),
        };
        let (first, second) = (
            HardState {
                term: Term(2),
                ..file
            },
            HardState {
                term: Term(3),
                vote: None,
                ..file
            },
        );
        let e1 = entry(1, 1);
        let log = log_of(&[
            LogRecordRef::HardState(&first),
            LogRecordRef::Entry(&e1),
            LogRecordRef::HardState(&second),
        ]);
        let file_bytes = crate::storage::encode_hard_state(&file);
        let recovered = recover(DurableFiles {
            log: &log,
            hard_state: Some(&file_bytes),
            snapshot: None,
        })
        .expect("recovers");
        assert_eq!(recovered.hard_state, second);
        assert_eq!(indexes(&recovered), vec![(1, 1)]);
        // Without a record in the log, the file counts.
        let log = log_of(&[LogRecordRef::Entry(&e1)]);
        let recovered = recover(DurableFiles {
            log: &log,
            hard_state: Some(&file_bytes),
            snapshot: None,
        })
        .expect("recovers");
        assert_eq!(recovered.hard_state, file);
    }

    #[test]
    fn drops_torn_tail_and_reports_it() {
        let (e1, e2) = (entry(1, 1), entry(2, 1));
        let log = log_of(&[LogRecordRef::Entry(&e1), LogRecordRef::Entry(&e2)]);
        let torn = &log[..log.len() - 3];
        let recovered = recover(DurableFiles {
            log: torn,
            hard_state: None,
            snapshot: None,
        })
        .expect("recovers");
        assert_eq!(indexes(&recovered), vec![(1, 1)]);
        let first_record = (log.len() / 2) as u64;
        assert_eq!(recovered.log_valid_bytes, first_record);
        assert!(
            matches!(recovered.torn_tail, Some((offset, RecordError::Incomplete { .. })) if offset == first_record)
        );
    }

    #[test]
    fn applies_the_snapshot_to_the_log() {
        let entries: Vec<Entry> = (1..=5).map(|index| entry(index, 1)).collect();
        let records: Vec<LogRecordRef<'_>> = entries.iter().map(LogRecordRef::Entry).collect();
        let log = log_of(&records);
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: Index(3),
                term: Term(1),
                ..Default::default()
            },
            data: vec![],
        };
        let snapshot_bytes = encode_snapshot(&snapshot);
        let files = DurableFiles {
            log: &log,
            hard_state: None,
            snapshot: Some(&snapshot_bytes),
        };
        let recovered = recover(files).expect("recovers");
        assert_eq!(indexes(&recovered), vec![(4, 1), (5, 1)]);
        // A log that starts after the snapshot leaves a hole: corruption.
        let late = log_of(&records[4..]);
        let files = DurableFiles {
            log: &late,
            hard_state: None,
            snapshot: Some(&snapshot_bytes),
        };
        assert!(matches!(
            recover(files),
            Err(StorageError::CorruptLog { .. })
        ));
        // So does a log that does not start at 1 without a snapshot.
        let files = DurableFiles {
            log: &late,
            hard_state: None,
            snapshot: None,
        };
        assert!(matches!(
            recover(files),
            Err(StorageError::CorruptLog { .. })
        ));
    }

    #[test]
    fn valid_framing_around_a_bad_payload_is_corruption() {
        let mut log = encode_record(&[42, 42]);
        let e1 = entry(1, 1);
        LogRecordRef::Entry(&e1).append_to(&mut log);
        let error = recover(DurableFiles {
            log: &log,
            hard_state: None,
            snapshot: None,
        });
        assert!(matches!(
            error,
            Err(StorageError::CorruptLog { offset: 0, .. })
        ));
        let bad_file = [1, 2, 3];
        let files = DurableFiles {
            log: &[],
            hard_state: Some(&bad_file),
            snapshot: None,
        };
        assert!(matches!(
            recover(files),
            Err(StorageError::CorruptFile {
                file: "hard state",
                ..
            })
        ));
    }
}
