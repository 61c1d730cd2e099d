//! The same scenario gives the same run: byte-identical traces, the same trace hash, the same
//! report. This is what makes a failing seed worth having. The same runs compiled for wasm32
//! are compared with native ones by `scripts/test-wasm-determinism` (tests/determinism/).

use flotilla_core::sim::{
    Action, ClientCommand, Scenario, ScheduledAction, Sim, SimOptions, WorkloadOptions,
};
use flotilla_core::types::NodeId;

fn traced(seed: u64) -> (Vec<String>, String) {
    let mut scenario = Scenario::swarm(seed, None);
    scenario.options.record_trace = true;
    let mut sim = scenario.build().expect("valid scenario");
    while sim.step() {}
    let lines = sim.trace().lines().to_vec();
    let report = sim.finish();
    (lines, report.trace_hash)
}

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    let (first, first_hash) = traced(7);
    let (second, second_hash) = traced(7);
    assert!(first.len() > 1_000, "a real run: {} lines", first.len());
    assert_eq!(first_hash, second_hash);
    if let Some(i) = (0..first.len().min(second.len())).find(|&i| first[i] != second[i]) {
        panic!("traces differ at line {i}:\n{}\n{}", first[i], second[i]);
    }
    assert_eq!(first.len(), second.len());
}

#[test]
fn reports_are_identical_and_seeds_differ() {
    let mut hashes = Vec::new();
    for seed in 1..=20 {
        let a = Scenario::swarm(seed, None).run().expect("valid");
        let b = Scenario::swarm(seed, None).run().expect("valid");
        assert_eq!(a, b, "seed {seed}");
        hashes.push(a.trace_hash);
    }
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 20, "every seed has its own trace");
}

#[test]
fn recording_the_trace_does_not_change_the_run() {
    let quiet = Scenario::swarm(11, None).run().expect("valid");
    let (_, hash) = traced(11);
    assert_eq!(quiet.trace_hash, hash);
}

/// A manual run (what the web page puts in its URL): seed, options and actions.
fn manual_scenario() -> Scenario {
    let mut options = SimOptions::manual(3);
    options.workload = WorkloadOptions {
        clients: 2,
        ..WorkloadOptions::default()
    };
    let at = |at_ms, action| ScheduledAction { at_ms, action };
    let put = ClientCommand::Put {
        key: "x".into(),
        value: "1".into(),
    };
    Scenario {
        seed: 42,
        options,
        actions: vec![
            at(
                1_000,
                Action::Request {
                    node: NodeId(1),
                    command: put,
                },
            ),
            at(1_200, Action::Crash { node: NodeId(2) }),
            at(1_300, Action::Isolate { node: NodeId(3) }),
            at(2_000, Action::Heal),
            at(2_100, Action::Restart { node: NodeId(2) }),
            at(2_500, Action::SetLoss { permille: 200 }),
            at(
                3_000,
                Action::Request {
                    node: NodeId(3),
                    command: ClientCommand::Get { key: "x".into() },
                },
            ),
        ],
    }
}

fn run_manual() -> (u64, u64, Vec<String>) {
    let scenario = manual_scenario();
    let mut sim: Sim = scenario.build().expect("valid");
    sim.set_recording(true);
    sim.run_until(5_000);
    let lines = sim.trace().lines().to_vec();
    (sim.trace().hash(), sim.stats().events, lines)
}

#[test]
fn a_manual_scenario_replays_exactly() {
    let (hash_a, events_a, lines_a) = run_manual();
    let (hash_b, events_b, lines_b) = run_manual();
    assert_eq!((hash_a, events_a), (hash_b, events_b));
    assert_eq!(lines_a, lines_b);
    assert!(lines_a.iter().any(|l| l.contains("crash n2")));
    assert!(lines_a.iter().any(|l| l.contains("restart n2")));
}

#[test]
fn scenarios_round_trip_through_json() {
    let scenario = manual_scenario();
    let json = serde_json::to_string(&scenario).expect("serializes");
    let back: Scenario = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, scenario);
}
