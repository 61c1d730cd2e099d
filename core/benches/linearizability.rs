//! How fast the linearizability checker is. The issue's bound: a history of 10,000
//! operations over 100 keys checks in under a second.
//!
//! ```sh
//! cargo bench -p flotilla-core --bench linearizability
//! ```
//!
//! Three histories, each built once before timing and checked to be linearizable first, so
//! that every timed run does the whole search (a violation would stop at the first bad key):
//!
//! * `register/10000_ops_100_keys`: a seeded register with 10 clients and one write in twenty
//!   of unknown outcome (`random_history`, the history the unit test checks);
//! * `simulator/10000_ops_100_keys`: the first 10,000 operations that 10 simulated clients
//!   invoke on a five-node cluster with a crash, pause or partition every 50 to 500 ms, 5 %
//!   message loss and 1 to 30 ms links, clients giving up after 500 ms: retries, timeouts
//!   and unknown outcomes as they really happen (about 7 % unknown, 4 % failed);
//! * `register/10000_ops_10_keys`: ten times as many operations per key, to show how the
//!   search grows with the length of one key's history.

use criterion::{criterion_group, criterion_main, Criterion};
use flotilla_core::check::linearizability::{check, random_history, KvOutput, Operation, Verdict};
use flotilla_core::sim::{FaultOptions, Mode, Sim, SimOptions, WorkloadOptions};
use std::hint::black_box;

const OPS: usize = 10_000;
const CLIENTS: u32 = 10;
const KEYS: u32 = 100;

/// The first `OPS` operations of a faulty simulated run. Operations still in flight when the
/// history is cut have unknown outcomes, which is what the checker must allow for anyway.
fn simulated_history(seed: u64) -> Vec<Operation> {
    let mut options = SimOptions::manual(5);
    options.mode = Mode::Auto;
    // Long enough never to end before the history is cut; the liveness phase never starts.
    options.duration_ms = 24 * 3_600_000;
    options.network.loss_permille = 50;
    options.network.latency_max_ms = 30;
    options.network.jitter_ms = 20;
    options.faults = FaultOptions {
        interval_min_ms: 50,
        interval_max_ms: 500,
        partitions: true,
        crashes: true,
        pauses: true,
        fault_ms_max: 2_000,
        down_max: 2,
        ..FaultOptions::none()
    };
    options.workload = WorkloadOptions {
        clients: CLIENTS,
        keys: KEYS,
        // Clients that give up sooner than the default leave more unknown outcomes, the
        // operations that make the search branch.
        request_timeout_ms: 200,
        operation_timeout_ms: 500,
        ..WorkloadOptions::default()
    };
    let mut sim = Sim::new(seed, options).expect("valid options");
    while sim.history().len() < OPS && sim.step() {}
    assert!(
        sim.history().len() >= OPS,
        "the run ended after {} operations",
        sim.history().len()
    );
    sim.history()[..OPS].to_vec()
}

/// Checks once, untimed, that the history is linearizable, and says what it holds.
fn describe(name: &str, history: &[Operation]) {
    assert_eq!(check(history), Verdict::Linearizable, "{name}");
    let unknown = history
        .iter()
        .filter(|o| o.output == KvOutput::Unknown)
        .count();
    let failed = history
        .iter()
        .filter(|o| o.output == KvOutput::Failed)
        .count();
    let mut keys: Vec<&[u8]> = history.iter().map(|o| o.key.as_slice()).collect();
    keys.sort_unstable();
    keys.dedup();
    eprintln!(
        "{name}: {} operations over {} keys, {unknown} unknown, {failed} failed",
        history.len(),
        keys.len()
    );
}

fn bench(c: &mut Criterion) {
    let histories = [
        (
            "register/10000_ops_100_keys",
            random_history(7, OPS as u64, u64::from(KEYS), u64::from(CLIENTS)),
        ),
        ("simulator/10000_ops_100_keys", simulated_history(7)),
        (
            "register/10000_ops_10_keys",
            random_history(7, OPS as u64, 10, u64::from(CLIENTS)),
        ),
    ];
    let mut group = c.benchmark_group("linearizability");
    // One check takes milliseconds; ten samples give a stable mean in a few seconds.
    group.sample_size(10);
    for (name, history) in &histories {
        describe(name, history);
        group.bench_function(*name, |b| b.iter(|| check(black_box(history))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
