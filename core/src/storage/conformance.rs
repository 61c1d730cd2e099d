//! The storage conformance suite: what every [`Storage`] must do, written once and run
//! against each implementation ([`MemStorage`](super::MemStorage) in core's tests, the file
//! store in the native crate's), in the manner of openraft's log-storage suite.
//!
//! An implementation provides a [`StorageHarness`] that can open a fresh store, restart it,
//! crash it and damage its files; [`run_all`] then runs every case and panics, naming the
//! case, on the first violation. The suite is compiled in every build (not only under
//! `cfg(test)`) so that other crates' tests can call it.
//!
//! Durability is checked as the contract states it: after a crash, everything synced is
//! there, and beyond it at most a prefix of what was written since. A stricter store (the
//! simulator's loses exactly the unsynced writes) passes too.

use super::{DurableFile, DurableState, Storage, StorageError, TearMode};
use crate::raft::message::{Entry, HardState, Payload, Snapshot, SnapshotMeta};
use crate::types::{Index, NodeId, Term};

/// How the suite drives one implementation. Every method that reopens a store returns the
/// reopened store, not yet loaded: the suite calls [`Storage::load`] itself, and accepts a
/// corruption error from either the reopening or the load.
pub trait StorageHarness<S: Storage> {
    /// A new, empty store (for a file store: in a new, empty folder).
    fn open_fresh(&mut self) -> S;
    /// A clean stop and start: the process exits, the files stay as the operating system
    /// has them, and the store is opened again.
    fn reopen(&mut self, store: S) -> Result<S, StorageError>;
    /// Power loss, then a start: unsynced writes are lost, except what `tear` says reached
    /// the disk (see [`TearMode`]; a file store counts the bytes written to its log since the
    /// last sync).
    fn crash(&mut self, store: S, tear: TearMode) -> Result<S, StorageError>;
    /// How many durable bytes `file` holds (for the log: all segments together).
    fn durable_bytes(&mut self, store: &S, file: DurableFile) -> u64;
    /// Stops the store, flips every bit of the durable byte at `offset` of `file`, and
    /// opens the store again.
    fn corrupt(&mut self, store: S, file: DurableFile, offset: u64) -> Result<S, StorageError>;
}

/// One case of the suite: runs against stores from the harness, panics on a violation.
pub type Case<H> = fn(&mut H);

/// Every case, by name.
pub fn cases<S: Storage, H: StorageHarness<S>>() -> Vec<(&'static str, Case<H>)> {
    vec![
        ("fresh_store_is_empty", fresh_store_is_empty::<S, H>),
        ("append_then_load", append_then_load::<S, H>),
        ("append_overwrites_suffix", append_overwrites_suffix::<S, H>),
        ("truncate_discards_suffix", truncate_discards_suffix::<S, H>),
        ("append_refuses_gaps", append_refuses_gaps::<S, H>),
        ("hard_state_round_trip", hard_state_round_trip::<S, H>),
        ("snapshot_compacts_log", snapshot_compacts_log::<S, H>),
        ("snapshot_past_log_end", snapshot_past_log_end::<S, H>),
        (
            "snapshot_with_other_term_empties_log",
            snapshot_with_other_term_empties_log::<S, H>,
        ),
        (
            "restart_keeps_synced_data",
            restart_keeps_synced_data::<S, H>,
        ),
        (
            "crash_after_sync_loses_nothing",
            crash_after_sync_loses_nothing::<S, H>,
        ),
        (
            "crash_loses_only_unsynced",
            crash_loses_only_unsynced::<S, H>,
        ),
        ("crash_during_snapshot", crash_during_snapshot::<S, H>),
        ("torn_tail_is_dropped", torn_tail_is_dropped::<S, H>),
        (
            "log_corruption_is_detected",
            log_corruption_is_detected::<S, H>,
        ),
        (
            "file_corruption_is_detected",
            file_corruption_is_detected::<S, H>,
        ),
    ]
}

/// Runs every case against fresh stores from `harness`. Panics on the first failure.
pub fn run_all<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    for (_, case) in cases::<S, H>() {
        case(harness);
    }
}

/// Entries `range` of `term`, with payloads that differ by index and term, so that an
/// overwritten entry never compares equal to its replacement.
pub fn entries(range: std::ops::RangeInclusive<u64>, term: u64) -> Vec<Entry> {
    range
        .map(|index| Entry {
            index: Index(index),
            term: Term(term),
            payload: Payload::Command(format!("{index}@{term}").into_bytes()),
        })
        .collect()
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    let meta = SnapshotMeta {
        index: Index(index),
        term: Term(term),
        ..SnapshotMeta::default()
    };
    Snapshot {
        meta,
        data: format!("state at {index}").into_bytes(),
    }
}

fn ok<T>(case: &str, what: &str, result: Result<T, StorageError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{case}: {what} failed: {error}"),
    }
}

fn concat(parts: &[Vec<Entry>]) -> Vec<Entry> {
    parts.concat()
}

/// Checks the invariant of every loaded state: entries contiguous, right after the snapshot.
fn check_shape(case: &str, state: &DurableState) {
    let base = state
        .snapshot
        .as_ref()
        .map_or(0, |snapshot| snapshot.meta.index.0);
    for (offset, entry) in state.entries.iter().enumerate() {
        let expected = base + 1 + offset as u64;
        assert_eq!(
            entry.index.0, expected,
            "{case}: entries not contiguous after {base}: {state:?}"
        );
    }
}

fn load<S: Storage>(case: &str, store: &mut S) -> DurableState {
    let state = ok(case, "load", store.load());
    check_shape(case, &state);
    state
}

fn reload<S: Storage, H: StorageHarness<S>>(
    case: &str,
    harness: &mut H,
    store: S,
) -> (S, DurableState) {
    let mut store = ok(case, "reopen", harness.reopen(store));
    let state = load(case, &mut store);
    (store, state)
}

/// Asserts that `loaded` extends `synced` by at most a prefix of what follows it in `written`.
fn assert_between(case: &str, loaded: &[Entry], synced: &[Entry], written: &[Entry]) {
    assert!(
        loaded.starts_with(synced),
        "{case}: synced entries lost: {loaded:?}"
    );
    assert!(
        written.starts_with(loaded),
        "{case}: entries never written: {loaded:?}"
    );
}

fn fresh_store_is_empty<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "fresh_store_is_empty";
    let mut store = harness.open_fresh();
    assert_eq!(load(CASE, &mut store), DurableState::default(), "{CASE}");
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(state, DurableState::default(), "{CASE}: after reopen");
}

fn append_then_load<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "append_then_load";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=3, 1)));
    ok(CASE, "append", store.append(&entries(4..=5, 2)));
    ok(CASE, "append nothing", store.append(&[]));
    ok(CASE, "sync", store.sync());
    let expected = concat(&[entries(1..=3, 1), entries(4..=5, 2)]);
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(state.entries, expected, "{CASE}");
    assert_eq!(state.snapshot, None, "{CASE}");
}

fn append_overwrites_suffix<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "append_overwrites_suffix";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=5, 1)));
    ok(CASE, "sync", store.sync());
    ok(CASE, "overwrite", store.append(&entries(3..=4, 2)));
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(
        state.entries,
        concat(&[entries(1..=2, 1), entries(3..=4, 2)]),
        "{CASE}"
    );
    ok(CASE, "overwrite from 1", store.append(&entries(1..=1, 3)));
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(
        state.entries,
        entries(1..=1, 3),
        "{CASE}: overwrite from the first index"
    );
}

fn truncate_discards_suffix<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "truncate_discards_suffix";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=5, 1)));
    ok(CASE, "truncate", store.truncate_from(Index(4)));
    ok(
        CASE,
        "truncate past the end",
        store.truncate_from(Index(10)),
    );
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(state.entries, entries(1..=3, 1), "{CASE}");
    ok(
        CASE,
        "append after truncate",
        store.append(&entries(4..=4, 2)),
    );
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(
        state.entries,
        concat(&[entries(1..=3, 1), entries(4..=4, 2)]),
        "{CASE}"
    );
    ok(CASE, "truncate all", store.truncate_from(Index(1)));
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(state.entries, vec![], "{CASE}: truncated from 1");
}

fn append_refuses_gaps<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "append_refuses_gaps";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=3, 1)));
    let gap = store.append(&entries(5..=5, 1));
    assert_eq!(
        gap,
        Err(StorageError::Gap {
            expected: Index(4),
            found: Index(5)
        }),
        "{CASE}"
    );
    let broken = concat(&[entries(4..=4, 1), entries(6..=6, 1)]);
    assert_eq!(
        store.append(&broken),
        Err(StorageError::NotContiguous(Index(6))),
        "{CASE}"
    );
    let zero = entries(0..=0, 1);
    assert_eq!(
        store.append(&zero),
        Err(StorageError::IndexOutOfRange(Index(0))),
        "{CASE}"
    );
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(
        state.entries,
        entries(1..=3, 1),
        "{CASE}: refused appends changed the log"
    );
}

fn hard_state_round_trip<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "hard_state_round_trip";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    let first = HardState {
        term: Term(2),
        vote: Some(NodeId(3)),
        commit: Index(0),
    };
    let second = HardState {
        term: Term(3),
        vote: None,
        commit: Index(7),
    };
    ok(CASE, "set", store.set_hard_state(&first));
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(state.hard_state, first, "{CASE}");
    ok(CASE, "set", store.set_hard_state(&second));
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(state.hard_state, second, "{CASE}");
}

fn snapshot_compacts_log<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "snapshot_compacts_log";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=10, 1)));
    ok(CASE, "snapshot", store.save_snapshot(&snapshot(6, 1)));
    ok(CASE, "older snapshot", store.save_snapshot(&snapshot(4, 1)));
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(state.snapshot, Some(snapshot(6, 1)), "{CASE}");
    assert_eq!(state.entries, entries(7..=10, 1), "{CASE}");
    ok(
        CASE,
        "append across the snapshot",
        store.append(&entries(5..=8, 1)),
    );
    ok(CASE, "append", store.append(&entries(9..=11, 2)));
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(
        state.entries,
        concat(&[entries(7..=8, 1), entries(9..=11, 2)]),
        "{CASE}"
    );
}

fn snapshot_past_log_end<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "snapshot_past_log_end";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=3, 1)));
    ok(CASE, "snapshot", store.save_snapshot(&snapshot(8, 2)));
    ok(CASE, "sync", store.sync());
    let (mut store, state) = reload(CASE, harness, store);
    assert_eq!(
        (state.snapshot, state.entries),
        (Some(snapshot(8, 2)), vec![]),
        "{CASE}"
    );
    let gap = store.append(&entries(10..=10, 2));
    assert_eq!(
        gap,
        Err(StorageError::Gap {
            expected: Index(9),
            found: Index(10)
        }),
        "{CASE}"
    );
    ok(
        CASE,
        "append after the snapshot",
        store.append(&entries(9..=10, 2)),
    );
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(state.entries, entries(9..=10, 2), "{CASE}");
}

fn snapshot_with_other_term_empties_log<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "snapshot_with_other_term_empties_log";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=5, 1)));
    ok(CASE, "sync", store.sync());
    ok(CASE, "snapshot", store.save_snapshot(&snapshot(4, 2)));
    ok(CASE, "sync", store.sync());
    let (_, state) = reload(CASE, harness, store);
    assert_eq!(
        (state.snapshot, state.entries),
        (Some(snapshot(4, 2)), vec![]),
        "{CASE}"
    );
}

fn restart_keeps_synced_data<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "restart_keeps_synced_data";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    let hard_state = HardState {
        term: Term(1),
        vote: Some(NodeId(1)),
        commit: Index(2),
    };
    ok(CASE, "append", store.append(&entries(1..=2, 1)));
    ok(CASE, "set", store.set_hard_state(&hard_state));
    ok(CASE, "sync", store.sync());
    let (store, first) = reload(CASE, harness, store);
    let (mut store, second) = reload(CASE, harness, store);
    assert_eq!(first, second, "{CASE}: two restarts disagree");
    assert_eq!(first.entries, entries(1..=2, 1), "{CASE}");
    assert_eq!(first.hard_state, hard_state, "{CASE}");
    ok(CASE, "append", store.append(&entries(3..=3, 1)));
    ok(CASE, "sync", store.sync());
    let (_, third) = reload(CASE, harness, store);
    assert_eq!(
        third.entries,
        entries(1..=3, 1),
        "{CASE}: writes after a restart"
    );
}

fn crash_after_sync_loses_nothing<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "crash_after_sync_loses_nothing";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    let hard_state = HardState {
        term: Term(4),
        vote: Some(NodeId(2)),
        commit: Index(1),
    };
    ok(CASE, "append", store.append(&entries(1..=4, 4)));
    ok(CASE, "set", store.set_hard_state(&hard_state));
    ok(CASE, "snapshot", store.save_snapshot(&snapshot(2, 4)));
    ok(CASE, "sync", store.sync());
    let mut store = ok(CASE, "crash", harness.crash(store, TearMode::LoseUnsynced));
    let state = load(CASE, &mut store);
    let expected = DurableState {
        hard_state,
        snapshot: Some(snapshot(2, 4)),
        entries: entries(3..=4, 4),
    };
    assert_eq!(state, expected, "{CASE}");
}

fn crash_loses_only_unsynced<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "crash_loses_only_unsynced";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    let synced_hard_state = HardState {
        term: Term(1),
        vote: Some(NodeId(1)),
        commit: Index(0),
    };
    let later_hard_state = HardState {
        term: Term(2),
        vote: Some(NodeId(2)),
        commit: Index(3),
    };
    ok(CASE, "append", store.append(&entries(1..=3, 1)));
    ok(CASE, "set", store.set_hard_state(&synced_hard_state));
    ok(CASE, "sync", store.sync());
    ok(CASE, "append", store.append(&entries(4..=6, 2)));
    ok(CASE, "set", store.set_hard_state(&later_hard_state));
    let mut store = ok(CASE, "crash", harness.crash(store, TearMode::LoseUnsynced));
    let state = load(CASE, &mut store);
    let written = concat(&[entries(1..=3, 1), entries(4..=6, 2)]);
    assert_between(CASE, &state.entries, &entries(1..=3, 1), &written);
    let hard_states = [synced_hard_state, later_hard_state];
    assert!(
        hard_states.contains(&state.hard_state),
        "{CASE}: {:?}",
        state.hard_state
    );
}

fn crash_during_snapshot<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "crash_during_snapshot";
    let mut store = harness.open_fresh();
    load(CASE, &mut store);
    ok(CASE, "append", store.append(&entries(1..=10, 1)));
    ok(CASE, "sync", store.sync());
    ok(CASE, "snapshot", store.save_snapshot(&snapshot(6, 1)));
    let mut store = ok(CASE, "crash", harness.crash(store, TearMode::LoseUnsynced));
    let state = load(CASE, &mut store);
    match &state.snapshot {
        None => assert_eq!(
            state.entries,
            entries(1..=10, 1),
            "{CASE}: without the snapshot"
        ),
        Some(saved) => {
            assert_eq!(saved, &snapshot(6, 1), "{CASE}");
            assert_eq!(
                state.entries,
                entries(7..=10, 1),
                "{CASE}: with the snapshot"
            );
        }
    }
}

/// Tears of the unsynced log at many places: inside a header, inside a payload, at record
/// boundaries, with and without a garbled last byte.
fn tears() -> Vec<TearMode> {
    let sizes = [0, 1, 4, 7, 8, 9, 12, 20, 31, 45, 60, 1000, u64::MAX];
    let keep = sizes.iter().map(|&bytes| TearMode::KeepLogPrefix { bytes });
    let garble = sizes
        .iter()
        .map(|&bytes| TearMode::GarbleLogPrefix { bytes });
    keep.chain(garble).collect()
}

fn torn_tail_is_dropped<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "torn_tail_is_dropped";
    let synced = entries(1..=3, 1);
    let written = concat(&[entries(1..=3, 1), entries(4..=6, 2)]);
    for tear in tears() {
        let mut store = harness.open_fresh();
        load(CASE, &mut store);
        ok(CASE, "append", store.append(&synced));
        ok(CASE, "sync", store.sync());
        for entry in &written[3..] {
            ok(CASE, "append", store.append(std::slice::from_ref(entry)));
        }
        let mut store = ok(CASE, "crash", harness.crash(store, tear));
        let state = match store.load() {
            Ok(state) => state,
            Err(error) => panic!("{CASE}: load after {tear:?} failed: {error}"),
        };
        check_shape(CASE, &state);
        assert_between(CASE, &state.entries, &synced, &written);
        // The torn bytes must be gone: what is appended now survives a restart.
        let next = state.entries.len() as u64 + 1;
        let more = entries(next..=next + 1, 3);
        ok(CASE, "append after recovery", store.append(&more));
        ok(CASE, "sync", store.sync());
        let (_, after) = reload(CASE, harness, store);
        let expected = concat(&[state.entries.clone(), more]);
        assert_eq!(
            after.entries, expected,
            "{CASE}: appends after recovering from {tear:?}"
        );
    }
}

fn log_corruption_is_detected<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "log_corruption_is_detected";
    for part in [0, 1, 2, 3] {
        let mut store = harness.open_fresh();
        load(CASE, &mut store);
        ok(CASE, "append", store.append(&entries(1..=10, 1)));
        ok(CASE, "sync", store.sync());
        let log_bytes = harness.durable_bytes(&store, DurableFile::Log);
        // Somewhere in the first three quarters: never in the last record, whose damage is
        // indistinguishable from a torn write.
        let offset = log_bytes * part / 4;
        let result = harness
            .corrupt(store, DurableFile::Log, offset)
            .and_then(|mut store| store.load());
        match result {
            Err(error) => assert!(
                error.is_corruption(),
                "{CASE}: wrong error at {offset}: {error}"
            ),
            Ok(state) => {
                panic!("{CASE}: byte {offset} of {log_bytes} corrupted, yet loaded {state:?}")
            }
        }
    }
}

fn file_corruption_is_detected<S: Storage, H: StorageHarness<S>>(harness: &mut H) {
    const CASE: &str = "file_corruption_is_detected";
    for file in [DurableFile::HardState, DurableFile::Snapshot] {
        let mut store = harness.open_fresh();
        load(CASE, &mut store);
        ok(CASE, "append", store.append(&entries(1..=4, 1)));
        ok(
            CASE,
            "set",
            store.set_hard_state(&HardState {
                term: Term(1),
                vote: None,
                commit: Index(4),
            }),
        );
        ok(CASE, "snapshot", store.save_snapshot(&snapshot(2, 1)));
        ok(CASE, "sync", store.sync());
        let bytes = harness.durable_bytes(&store, file);
        assert!(bytes > 0, "{CASE}: {file:?} is empty after sync");
        let offset = bytes / 2;
        let result = harness
            .corrupt(store, file, offset)
            .and_then(|mut store| store.load());
        match result {
            Err(error) => assert!(
                error.is_corruption(),
                "{CASE}: wrong error for {file:?}: {error}"
            ),
            Ok(state) => panic!("{CASE}: {file:?} corrupted at {offset}, yet loaded {state:?}"),
        }
    }
}
