//! Runs the storage conformance suite against `MemStorage`, the simulator's disk, one test
//! per case so that a failure names its case.

use flotilla_core::storage::conformance::{self, StorageHarness};
use flotilla_core::storage::{DurableFile, MemStorage, StorageError, TearMode};

/// Drives `MemStorage` for the suite. A restart keeps unsynced writes (the OS still has
/// them); a crash applies the tear.
struct MemHarness;

impl StorageHarness<MemStorage> for MemHarness {
    fn open_fresh(&mut self) -> MemStorage {
        MemStorage::new()
    }

    fn reopen(&mut self, mut store: MemStorage) -> Result<MemStorage, StorageError> {
        store.restart();
        Ok(store)
    }

    fn crash(&mut self, mut store: MemStorage, tear: TearMode) -> Result<MemStorage, StorageError> {
        store.crash(tear);
        Ok(store)
    }

    fn durable_bytes(&mut self, store: &MemStorage, file: DurableFile) -> u64 {
        store.disk().file(file).len() as u64
    }

    fn corrupt(
        &mut self,
        mut store: MemStorage,
        file: DurableFile,
        offset: u64,
    ) -> Result<MemStorage, StorageError> {
        store.restart();
        assert!(
            store.corrupt(file, offset),
            "offset {offset} past the end of {file:?}"
        );
        Ok(store)
    }
}

fn run(name: &str) {
    let cases = conformance::cases::<MemStorage, MemHarness>();
    let Some((_, case)) = cases.iter().find(|(case, _)| *case == name) else {
        panic!("no conformance case named {name}");
    };
    case(&mut MemHarness);
}

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(stringify!($name)); })*

        #[test]
        fn every_case_has_a_test() {
            let names: Vec<&str> = conformance::cases::<MemStorage, MemHarness>()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(names, vec![$(stringify!($name)),*]);
        }
    };
}

conformance_tests!(
    fresh_store_is_empty,
    append_then_load,
    append_overwrites_suffix,
    truncate_discards_suffix,
    append_refuses_gaps,
    hard_state_round_trip,
    snapshot_compacts_log,
    snapshot_past_log_end,
    snapshot_with_other_term_empties_log,
    restart_keeps_synced_data,
    crash_after_sync_loses_nothing,
    crash_loses_only_unsynced,
    crash_during_snapshot,
    torn_tail_is_dropped,
    log_corruption_is_detected,
    file_corruption_is_detected,
);

#[test]
fn run_all_passes() {
    conformance::run_all(&mut MemHarness);
}
