//! Each planted bug is caught within 1,000 swarm seeds, which shows the checkers can fail and
//! the swarm can reach each bug. The sweep stops at the first failing seed, so this is
//! quick; the seeds needed are printed (`cargo test --test sim_planted -- --nocapture`) and
//! recorded in docs/simulator.md.

use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::run_seed;

/// The bound: every bug caught within this many seeds.
const SEEDS_MAX: u64 = 1_000;

fn first_failing_seed(bug: PlantedBug) -> Option<(u64, String)> {
    (1..=SEEDS_MAX).find_map(|seed| {
        let report = run_seed(seed, Some(bug));
        let caught = report.violations.first()?;
        Some((seed, caught.to_string()))
    })
}

fn caught(bug: PlantedBug) {
    match first_failing_seed(bug) {
        Some((seed, violation)) => {
            println!("{}: caught at seed {seed}: {violation}", bug.name());
        }
        None => panic!("{} survived {SEEDS_MAX} seeds", bug.name()),
    }
}

#[test]
fn commit_previous_term_is_caught() {
    caught(PlantedBug::CommitPreviousTerm);
}

#[test]
fn vote_before_persist_is_caught() {
    caught(PlantedBug::VoteBeforePersist);
}

#[test]
fn ack_before_fsync_is_caught() {
    caught(PlantedBug::AckBeforeFsync);
}

#[test]
fn truncate_committed_is_caught() {
    caught(PlantedBug::TruncateCommitted);
}

#[test]
fn stale_read_is_caught() {
    caught(PlantedBug::StaleRead);
}

#[test]
fn next_index_off_by_one_is_caught() {
    caught(PlantedBug::NextIndexOffByOne);
}
