//! Property tests of the storage formats: records round-trip, damage is classified right,
//! no decoder panics or allocates on arbitrary bytes, and the store's log splicing agrees
//! with a plain `Vec` model.

use flotilla_core::raft::message::{Entry, HardState, Payload, Snapshot, SnapshotMeta};
use flotilla_core::storage::{
    decode_hard_state, decode_record, decode_snapshot, encode_hard_state, encode_record,
    encode_snapshot, recover, scan_records, DurableFiles, LogRecord, MemStorage, RecordError,
    ScanStop, Storage, StorageError, RECORD_PAYLOAD_BYTES_MAX,
};
use flotilla_core::{Index, NodeId, Term};
use proptest::prelude::*;

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..8)
}

fn framed(payloads: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut log = Vec::new();
    let mut starts = Vec::new();
    for payload in payloads {
        starts.push(log.len());
        log.extend(encode_record(payload));
    }
    (log, starts)
}

proptest! {
    #[test]
    fn records_round_trip(payloads in payloads()) {
        let (log, _) = framed(&payloads);
        let scan = scan_records(&log);
        prop_assert_eq!(scan.stop, ScanStop::Clean);
        prop_assert_eq!(scan.valid_bytes, log.len() as u64);
        let expected: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(scan.payloads, expected);
        let (first, consumed) = decode_record(&log).expect("first record");
        prop_assert_eq!(first, payloads[0].as_slice());
        prop_assert_eq!(consumed, payloads[0].len() + 8);
    }

    /// Cutting a log anywhere loses only the cut record, and is always a torn tail.
    #[test]
    fn any_cut_is_a_torn_tail(payloads in payloads(), cut in any::<prop::sample::Index>()) {
        let (log, starts) = framed(&payloads);
        let cut = cut.index(log.len());
        let scan = scan_records(&log[..cut]);
        let whole = starts.iter().skip(1).chain(std::iter::once(&log.len())).filter(|&&end| end <= cut).count();
        prop_assert_eq!(scan.payloads.len(), whole);
        match scan.stop {
            ScanStop::Clean => prop_assert!(starts.contains(&cut) || cut == log.len()),
            ScanStop::TornTail { offset, .. } => prop_assert_eq!(offset, starts[whole] as u64),
            ScanStop::Corrupt { .. } => prop_assert!(false, "a cut log reported as corrupt"),
        }
    }

    /// Damage to any record but the last is corruption; to the last, a torn tail.
    #[test]
    fn damage_is_classified(payloads in payloads(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (mut log, starts) = framed(&payloads);
        let at = at.index(log.len());
        log[at] ^= flip;
        let record = starts.iter().rposition(|&start| start <= at).expect("inside a record");
        let scan = scan_records(&log);
        prop_assert_eq!(scan.payloads.len(), record);
        prop_assert_eq!(scan.valid_bytes, starts[record] as u64);
        let last = record == payloads.len() - 1;
        match scan.stop {
            ScanStop::TornTail { .. } => prop_assert!(last, "damage in record {} called torn", record),
            ScanStop::Corrupt { next_valid, .. } => {
                prop_assert!(!last);
                prop_assert_eq!(next_valid, starts[record + 1] as u64);
            }
            ScanStop::Clean => prop_assert!(false, "damage went unnoticed"),
        }
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_record(&bytes);
        let _ = scan_records(&bytes);
        let _ = LogRecord::decode(&bytes);
        let _ = decode_hard_state(&bytes);
        let _ = decode_snapshot(&bytes);
        let _ = recover(DurableFiles { log: &bytes, hard_state: Some(&bytes), snapshot: None });
        let _ = recover(DurableFiles { log: &bytes, hard_state: None, snapshot: Some(&bytes) });
        let _ = recover(DurableFiles { log: &bytes, hard_state: None, snapshot: None });
    }

    /// Arbitrary payloads inside valid framing reach the postcard decoders and recovery.
    #[test]
    fn framed_garbage_never_panics(payloads in payloads()) {
        let (log, _) = framed(&payloads);
        let _ = recover(DurableFiles { log: &log, hard_state: None, snapshot: None });
        for payload in &payloads {
            let _ = LogRecord::decode(payload);
            let mut hard_state = b"FLHS\x01\x00\x00\x00".to_vec();
            hard_state.extend_from_slice(payload);
            let _ = decode_hard_state(&encode_record(&hard_state));
        }
    }

    #[test]
    fn hard_state_round_trips(term in any::<u64>(), vote in prop::option::of(any::<u64>()), commit in any::<u64>()) {
        let hard_state = HardState { term: Term(term), vote: vote.map(NodeId), commit: Index(commit) };
        prop_assert_eq!(decode_hard_state(&encode_hard_state(&hard_state)), Ok(hard_state));
    }

    #[test]
    fn snapshot_round_trips(index in any::<u64>(), term in any::<u64>(), data in prop::collection::vec(any::<u8>(), 0..100)) {
        let meta = SnapshotMeta { index: Index(index), term: Term(term), ..SnapshotMeta::default() };
        let snapshot = Snapshot { meta, data };
        prop_assert_eq!(decode_snapshot(&encode_snapshot(&snapshot)), Ok(snapshot));
    }

    #[test]
    fn log_splicing_agrees_with_a_vec(ops in prop::collection::vec(op(), 1..40)) {
        let mut store = MemStorage::new();
        let mut model = VecLog::default();
        for op in ops {
            match op {
                Op::Append { offset, count, term } => {
                    let start = model.next().0.saturating_add_signed(offset).max(1);
                    let entries = make_entries(start, count, term);
                    let expected = model.append(&entries);
                    prop_assert_eq!(store.append(&entries), expected);
                }
                Op::Truncate { back } => {
                    let from = Index(model.next().0.saturating_sub(back).max(1));
                    model.truncate_from(from);
                    prop_assert_eq!(store.truncate_from(from), Ok(()));
                }
                Op::Snapshot { back, term_matches } => {
                    let index = model.next().0.saturating_sub(back).max(1);
                    let term = match model.term(Index(index)) {
                        Some(term) if term_matches => term,
                        Some(term) => Term(term.0 + 100),
                        None => Term(7),
                    };
                    let meta = SnapshotMeta { index: Index(index), term, ..SnapshotMeta::default() };
                    model.compact(Index(index), term);
                    prop_assert_eq!(store.save_snapshot(&Snapshot { meta, data: vec![] }), Ok(()));
                }
                Op::Sync => prop_assert_eq!(store.sync(), Ok(())),
                Op::Restart => {
                    store.restart();
                    let state = store.load().expect("loads after a restart");
                    prop_assert_eq!(&state.entries, &model.entries);
                    prop_assert_eq!(state.snapshot.map_or(Index(0), |s| s.meta.index), model.base);
                }
            }
        }
        store.sync().expect("syncs");
        store.restart();
        prop_assert_eq!(store.load().expect("loads").entries, model.entries);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Append { offset: i64, count: u64, term: u64 },
    Truncate { back: u64 },
    Snapshot { back: u64, term_matches: bool },
    Sync,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Mostly at or before the end (overwrites); sometimes past it, for the gap error.
        6 => (-5i64..=2, 0u64..4, 1u64..4)
            .prop_map(|(offset, count, term)| Op::Append { offset, count, term }),
        2 => (0u64..6).prop_map(|back| Op::Truncate { back }),
        1 => (0u64..6, any::<bool>()).prop_map(|(back, term_matches)| Op::Snapshot { back, term_matches }),
        2 => Just(Op::Sync),
        1 => Just(Op::Restart),
    ]
}

fn make_entries(start: u64, count: u64, term: u64) -> Vec<Entry> {
    (start..start + count)
        .map(|index| Entry {
            index: Index(index),
            term: Term(term),
            payload: Payload::Command(vec![index as u8, term as u8]),
        })
        .collect()
}

/// The dumbest log: a vector after a base index.
#[derive(Default)]
struct VecLog {
    base: Index,
    entries: Vec<Entry>,
}

impl VecLog {
    fn next(&self) -> Index {
        Index(self.base.0 + self.entries.len() as u64 + 1)
    }

    fn term(&self, index: Index) -> Option<Term> {
        self.entries
            .iter()
            .find(|entry| entry.index == index)
            .map(|entry| entry.term)
    }

    fn append(&mut self, new: &[Entry]) -> Result<(), StorageError> {
        for entry in new {
            if entry.index <= self.base {
                continue;
            }
            if entry.index > self.next() {
                return Err(StorageError::Gap {
                    expected: self.next(),
                    found: entry.index,
                });
            }
            self.entries.retain(|held| held.index < entry.index);
            self.entries.push(entry.clone());
        }
        Ok(())
    }

    fn truncate_from(&mut self, from: Index) {
        self.entries.retain(|entry| entry.index < from);
    }

    fn compact(&mut self, index: Index, term: Term) {
        if index <= self.base {
            return;
        }
        if self.term(index) == Some(term) {
            self.entries.retain(|entry| entry.index > index);
        } else {
            self.entries.clear();
        }
        self.base = index;
    }
}

#[test]
fn four_gigabyte_length_is_refused_without_allocating() {
    // A header announcing u32::MAX bytes, followed by almost nothing. `decode_record` returns
    // a borrowed slice, so it cannot allocate; it must not wait for, or index, 4 GB either.
    let mut bytes = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    bytes.extend_from_slice(b"tail");
    assert_eq!(
        decode_record(&bytes),
        Err(RecordError::TooLarge {
            length: u32::MAX as u64
        })
    );
    let mut at_limit = (RECORD_PAYLOAD_BYTES_MAX as u32).to_le_bytes().to_vec();
    at_limit.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode_record(&at_limit),
        Err(RecordError::Incomplete {
            needed: RECORD_PAYLOAD_BYTES_MAX + 8,
            available: 12
        })
    );
    let scan = scan_records(&bytes);
    assert!(matches!(scan.stop, ScanStop::TornTail { offset: 0, .. }));
    // Postcard lengths of 2^32 inside a valid record: serde caps what it preallocates.
    let mut huge_vec = vec![0u8, 1, 1, 1]; // Entry, index 1, term 1, Payload::Command
    huge_vec.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // length 2^32 - 1
    assert!(LogRecord::decode(&huge_vec).is_err());
}
