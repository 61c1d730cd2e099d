//! Crash points and bit flips: the file store on a [`SimDir`], crashed after every single
//! write, fsync, create, rename and removal of a random workload, each crash point restarted
//! with the unsynced bytes lost, kept, zeroed, garbled, or torn sector by sector at random.
//! Every restart must succeed and find exactly the state before or after the interrupted
//! `sync` (a sync is all or nothing per file: batches are dropped whole). Then every durable
//! byte of several synced states gets one bit flipped, and every restart must refuse,
//! except for flips in a segment's preallocated zeros past its last batch, which hold
//! nothing: those restarts must recover the whole state.

use super::file_store::FileStore;
use super::sim_dir::{Op, SimDir, SimFs, Tear};
use flotilla_core::raft::{Entry, HardState, Membership, Payload, Snapshot, SnapshotMeta};
use flotilla_core::storage::{DurableState, Storage};
use flotilla_core::{Index, NodeId, Term};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Segments roll over after this many bytes: small, so that roll-overs are frequent.
const SEGMENT_BYTES_MAX: u64 = 4096;
/// Steps of the workload; each ends with one `sync`.
const STEPS: u64 = 420;
/// The test fails below this many crash points.
const CRASH_POINTS_MIN: u64 = 10_000;
/// The bit-flip test fails below this many flips checked.
const FLIPS_MIN: u64 = 10_000;

/// A tiny deterministic generator for the workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the store should hold, kept by plain code that mirrors the `Storage` contract.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model(DurableState);

impl Model {
    fn last_index(&self) -> u64 {
        self.0.entries.last().map_or_else(
            || self.0.snapshot.as_ref().map_or(0, |s| s.meta.index.0),
            |e| e.index.0,
        )
    }

    fn snapshot_index(&self) -> u64 {
        self.0.snapshot.as_ref().map_or(0, |s| s.meta.index.0)
    }

    fn append(&mut self, entries: &[Entry]) {
        let first = entries[0].index;
        self.0.entries.retain(|e| e.index < first);
        self.0.entries.extend_from_slice(entries);
    }

    fn truncate_from(&mut self, index: Index) {
        self.0.entries.retain(|e| e.index < index);
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) {
        let meta = &snapshot.meta;
        let matches = self
            .0
            .entries
            .iter()
            .any(|e| e.index == meta.index && e.term == meta.term);
        self.0.entries.retain(|e| matches && e.index > meta.index);
        self.0.snapshot = Some(snapshot.clone());
    }

    /// The entries this model's log would have after recovery compacted it behind
    /// `snapshot` (the store may recover a newer snapshot with an older log).
    fn entries_behind(&self, snapshot: Option<&Snapshot>) -> Vec<Entry> {
        let mut model = self.clone();
        if let Some(snapshot) = snapshot {
            if model.0.snapshot.as_ref() != Some(snapshot) {
                model.save_snapshot(snapshot);
            }
        }
        model.0.entries
    }
}

/// The durable state before and after the `sync` in progress.
#[derive(Default)]
struct Expect {
    before: Model,
    after: Model,
}

fn check_recovered(state: &DurableState, expect: &Expect) -> Result<(), String> {
    let (before, after) = (&expect.before.0, &expect.after.0);
    if state.hard_state != before.hard_state && state.hard_state != after.hard_state {
        return Err(format!("hard state {:?}", state.hard_state));
    }
    if state.snapshot != before.snapshot && state.snapshot != after.snapshot {
        return Err(format!(
            "snapshot {:?}",
            state.snapshot.as_ref().map(|s| s.meta.index)
        ));
    }
    let snapshot = state.snapshot.as_ref();
    let candidates = [
        expect.before.entries_behind(snapshot),
        expect.after.entries_behind(snapshot),
    ];
    if !candidates.contains(&state.entries) {
        let indexes = |e: &[Entry]| e.iter().map(|e| e.index.0).collect::<Vec<_>>();
        return Err(format!(
            "entries {:?}, expected {:?} or {:?}",
            indexes(&state.entries),
            indexes(&candidates[0]),
            indexes(&candidates[1])
        ));
    }
    Ok(())
}

fn entry(index: u64, term: u64, rng: &mut Rng) -> Entry {
    // Sizes up to 1.5 sectors, so that batches straddle sector boundaries.
    let len = rng.below(768) as usize;
    let byte = rng.next() as u8;
    Entry {
        index: Index(index),
        term: Term(term),
        payload: Payload::Command(vec![byte; len]),
    }
}

/// One step of the workload, applied to the store and to the model; `sync` is left to the
/// caller. Snapshots get a step of their own.
fn step(store: &mut FileStore<SimDir>, model: &mut Model, term: &mut u64, rng: &mut Rng) {
    let last = model.last_index();
    let base = model.snapshot_index();
    match rng.below(20) {
        0 if last > base + 2 => {
            // A snapshot taken here (of an index in the log), or received from a leader
            // (past the end of the log, followed at once by the leader's next entries).
            let received = rng.below(3) == 0;
            let index = if received {
                last + 1 + rng.below(3)
            } else {
                base + 1 + rng.below(last - base)
            };
            let term_at = if received {
                Term(*term)
            } else {
                model
                    .0
                    .entries
                    .iter()
                    .find(|e| e.index.0 == index)
                    .map_or(Term(0), |e| e.term)
            };
            let snapshot = Snapshot {
                meta: SnapshotMeta {
                    index: Index(index),
                    term: term_at,
                    membership: Membership::with_voters([(NodeId(1), "a")]),
                },
                data: vec![rng.next() as u8; rng.below(1500) as usize],
            };
            store.save_snapshot(&snapshot).expect("snapshot");
            model.save_snapshot(&snapshot);
            if received {
                let entries: Vec<Entry> = (index + 1..index + 2 + rng.below(3))
                    .map(|i| entry(i, *term, rng))
                    .collect();
                store.append(&entries).expect("append after a snapshot");
                model.append(&entries);
            }
            return;
        }
        1 if last > base + 1 => {
            let from = Index(base + 1 + rng.below(last - base));
            store.truncate_from(from).expect("truncate");
            model.truncate_from(from);
        }
        2 | 3 if last > base + 1 => {
            // A new leader's entries overwrite a conflicting suffix.
            *term += 1;
            let from = base + 1 + rng.below(last - base);
            let entries: Vec<Entry> = (from..from + 1 + rng.below(3))
                .map(|i| entry(i, *term, rng))
                .collect();
            store.append(&entries).expect("overwrite");
            model.append(&entries);
        }
        _ => {
            let entries: Vec<Entry> = (last + 1..last + 2 + rng.below(4))
                .map(|i| entry(i, *term, rng))
                .collect();
            store.append(&entries).expect("append");
            model.append(&entries);
        }
    }
    if rng.below(3) == 0 {
        let hard_state = HardState {
            term: Term(*term),
            vote: Some(NodeId(1 + rng.below(3))),
            commit: Index(model.last_index() / 2),
        };
        store.set_hard_state(&hard_state).expect("hard state");
        model.0.hard_state = hard_state;
    }
}

/// Restarts the store on what a crash of `fs` leaves.
fn restart(fs: &SimFs, tear: Tear) -> (FileStore<SimDir>, Result<DurableState, String>) {
    let mut store = FileStore::with_dir(fs.crash(tear), SEGMENT_BYTES_MAX);
    let state = store.load().map_err(|e| e.to_string());
    (store, state)
}

/// The recovered store must take a new write and keep it across the next crash (a torn
/// tail left in place would swallow it).
fn write_after_recovery(mut store: FileStore<SimDir>) -> Result<(), String> {
    let state = store.load().map_err(|e| e.to_string())?;
    let next = state.entries.last().map_or_else(
        || state.snapshot.as_ref().map_or(1, |s| s.meta.index.0 + 1),
        |e| e.index.0 + 1,
    );
    let next = Entry {
        index: Index(next),
        term: Term(1_000),
        payload: Payload::Noop,
    };
    store
        .append(std::slice::from_ref(&next))
        .map_err(|e| e.to_string())?;
    store.sync().map_err(|e| e.to_string())?;
    let crashed = store.into_dir().fs().crash(Tear::LoseUnsynced);
    let state = FileStore::with_dir(crashed, SEGMENT_BYTES_MAX)
        .load()
        .map_err(|e| e.to_string())?;
    match state.entries.last() {
        Some(last) if *last == next => Ok(()),
        other => Err(format!("the write after recovery is lost: {other:?}")),
    }
}

#[test]
fn every_crash_point_recovers_the_state_before_or_after_the_sync() {
    let expect = Rc::new(RefCell::new(Expect::default()));
    let crash_points = Rc::new(RefCell::new(0u64));
    let failures = Rc::new(RefCell::new(Vec::<String>::new()));
    let mut dir = SimDir::new();
    {
        let (expect, crash_points, failures) =
            (expect.clone(), crash_points.clone(), failures.clone());
        let mut seed = 1u64;
        dir.observe(Box::new(move |fs: &SimFs, op: Op| {
            let expect = expect.borrow();
            seed += 1;
            let tears = [
                Tear::LoseUnsynced,
                Tear::KeepUnsynced,
                Tear::ZeroUnsynced,
                Tear::GarbleUnsynced,
                Tear::Random { seed },
                Tear::Random { seed: seed << 32 },
            ];
            for tear in tears {
                *crash_points.borrow_mut() += 1;
                let (store, state) = restart(fs, tear);
                let verdict = state.and_then(|state| check_recovered(&state, &expect));
                let verdict = verdict.and_then(|()| write_after_recovery(store));
                if let Err(error) = verdict {
                    failures
                        .borrow_mut()
                        .push(format!("after {op:?} with {tear:?}: {error}"));
                }
            }
        }));
    }
    let mut store = FileStore::with_dir(dir, SEGMENT_BYTES_MAX);
    store.load().expect("fresh store");
    let mut model = Model::default();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut term = 1;
    for _step in 0..STEPS {
        step(&mut store, &mut model, &mut term, &mut rng);
        expect.borrow_mut().after = model.clone();
        store.sync().expect("sync");
        expect.borrow_mut().before = model.clone();
        let failures = failures.borrow();
        assert!(
            failures.is_empty(),
            "{} failures at step {_step}: {:#?}",
            failures.len(),
            &failures[..failures.len().min(6)]
        );
    }
    let crash_points = *crash_points.borrow();
    println!(
        "{crash_points} crash points, {} operations",
        store.dir().ops
    );
    assert!(
        crash_points >= CRASH_POINTS_MIN,
        "only {crash_points} crash points"
    );
}

#[test]
fn a_bit_flip_anywhere_in_synced_data_is_refused() {
    let mut store = FileStore::with_dir(SimDir::new(), SEGMENT_BYTES_MAX);
    store.load().expect("fresh store");
    let mut model = Model::default();
    let mut rng = Rng(0xf11b_0000_2222_3333);
    let mut term = 1;
    let mut flips = 0u64;
    let mut unused_flips = 0u64;
    for round in 0..STEPS / 2 {
        step(&mut store, &mut model, &mut term, &mut rng);
        store.sync().expect("sync");
        if round % 60 != 59 {
            continue;
        }
        let fs = store.dir().fs().clone();
        assert!(fs.is_synced());
        let clean = FileStore::with_dir(fs.clone().into_dir(), SEGMENT_BYTES_MAX)
            .load()
            .expect("the undamaged copy loads");
        assert_eq!(clean, model.0);
        // Where each segment's batches end: past it are preallocated zeros that hold
        // nothing yet.
        let used: BTreeMap<String, u64> = store.segment_files().into_iter().collect();
        for (name, bytes) in fs.contents() {
            // Every third byte (a different third each time), one random bit of it.
            for offset in (round as usize / 60 % 3..bytes.len()).step_by(3) {
                let mut damaged = bytes.clone();
                damaged[offset] ^= 1 << rng.below(8);
                let mut copy = fs.clone();
                copy.overwrite(&name, damaged);
                let mut store = FileStore::with_dir(copy.into_dir(), SEGMENT_BYTES_MAX);
                let unused = used.get(&name).is_some_and(|&end| offset as u64 >= end);
                match store.load() {
                    // A flip in space no batch reached loses nothing: the scan takes it for
                    // a torn write (which it may be) and the state is whole.
                    Ok(state) if unused => {
                        assert_eq!(state, model.0, "a flip in {name} at byte {offset}");
                        unused_flips += 1;
                    }
                    Ok(state) => {
                        panic!("a flip in {name} at byte {offset} was not detected: {state:?}")
                    }
                    Err(error) if unused => {
                        panic!("a flip in unused space of {name} at {offset} refused: {error}")
                    }
                    Err(_) => flips += 1,
                }
            }
        }
    }
    println!("{flips} single-bit flips refused, {unused_flips} in preallocated space ignored");
    assert!(flips > FLIPS_MIN, "only {flips} flips");
    assert!(unused_flips > 0, "no flip landed in preallocated space");
}
