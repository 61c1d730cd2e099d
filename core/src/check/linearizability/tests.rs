use super::*;

fn op(client: u64, input: KvInput, output: KvOutput, invoke: u64, complete: u64) -> Operation {
    let complete = (!matches!(output, KvOutput::Unknown | KvOutput::Failed)).then_some(complete);
    Operation {
        client,
        key: b"k".to_vec(),
        input,
        output,
        invoke,
        complete,
    }
}

fn put(v: &str) -> KvInput {
    KvInput::Put(v.as_bytes().to_vec())
}

fn read(v: Option<&str>) -> KvOutput {
    KvOutput::Value(v.map(|v| v.as_bytes().to_vec()))
}

#[test]
fn sequential_history_is_linearizable() {
    let history = vec![
        op(1, KvInput::Get, read(None), 1, 2),
        op(1, put("a"), KvOutput::Ok, 3, 4),
        op(2, KvInput::Get, read(Some("a")), 5, 6),
        op(2, KvInput::Delete, KvOutput::Deleted(true), 7, 8),
        op(1, KvInput::Get, read(None), 9, 10),
    ];
    assert_eq!(check(&history), Verdict::Linearizable);
}

#[test]
fn stale_read_after_completed_write_is_caught() {
    let history = vec![
        op(1, put("a"), KvOutput::Ok, 1, 2),
        op(1, put("b"), KvOutput::Ok, 3, 4),
        op(2, KvInput::Get, read(Some("a")), 5, 6),
    ];
    let Verdict::Violation(counterexample) = check(&history) else {
        panic!("expected a violation");
    };
    assert_eq!(counterexample.key, b"k".to_vec());
    assert_eq!(counterexample.operation, 2);
}

#[test]
fn concurrent_write_may_be_seen_or_not() {
    // The read overlaps the write of "b": either value is fine.
    for seen in ["a", "b"] {
        let history = vec![
            op(1, put("a"), KvOutput::Ok, 1, 2),
            op(1, put("b"), KvOutput::Ok, 3, 6),
            op(2, KvInput::Get, read(Some(seen)), 4, 5),
        ];
        assert_eq!(check(&history), Verdict::Linearizable, "read {seen}");
    }
}

#[test]
fn unknown_write_may_take_effect_late_or_never() {
    let unknown = op(1, put("b"), KvOutput::Unknown, 3, 0);
    for (value, expected) in [("a", true), ("b", true)] {
        let history = vec![
            op(1, put("a"), KvOutput::Ok, 1, 2),
            unknown.clone(),
            op(2, KvInput::Get, read(Some(value)), 10, 11),
        ];
        assert_eq!(check(&history).is_linearizable(), expected);
    }
    // But it cannot take effect before it was invoked.
    let history = vec![
        op(1, put("a"), KvOutput::Ok, 1, 2),
        op(2, KvInput::Get, read(Some("b")), 3, 4),
        op(1, put("b"), KvOutput::Unknown, 5, 0),
    ];
    assert!(!check(&history).is_linearizable());
}

#[test]
fn failed_writes_never_take_effect() {
    let history = vec![
        op(1, put("a"), KvOutput::Failed, 1, 0),
        op(2, KvInput::Get, read(Some("a")), 3, 4),
    ];
    assert!(!check(&history).is_linearizable());
}

#[test]
fn compare_and_set_follows_the_model() {
    let cas = |expected: Option<&str>, new: Option<&str>| KvInput::CompareAndSet {
        expected: expected.map(|v| v.as_bytes().to_vec()),
        new: new.map(|v| v.as_bytes().to_vec()),
    };
    let result = |ok: bool, current: Option<&str>| KvOutput::CasResult {
        ok,
        current: current.map(|v| v.as_bytes().to_vec()),
    };
    let good = vec![
        op(1, cas(None, Some("a")), result(true, Some("a")), 1, 2),
        op(1, cas(None, Some("b")), result(false, Some("a")), 3, 4),
        op(1, cas(Some("a"), None), result(true, None), 5, 6),
    ];
    assert_eq!(check(&good), Verdict::Linearizable);
    let bad = vec![
        op(1, cas(None, Some("a")), result(true, Some("a")), 1, 2),
        op(2, cas(None, Some("b")), result(true, Some("b")), 3, 4),
    ];
    assert!(!check(&bad).is_linearizable());
}

#[test]
fn random_register_histories_are_linearizable() {
    for seed in 0..50 {
        let history = random_history(seed, 400, 4, 5);
        assert_eq!(check(&history), Verdict::Linearizable, "seed {seed}");
    }
}

#[test]
fn a_corrupted_read_is_caught() {
    for seed in 0..50 {
        let mut history = random_history(seed, 200, 3, 4);
        let read = history
            .iter()
            .rposition(|o| matches!(o.output, KvOutput::Value(_)))
            .expect("some read");
        history[read].output = KvOutput::Value(Some(b"never written".to_vec()));
        assert!(!check(&history).is_linearizable(), "seed {seed}");
    }
}

/// A history of the size (10,000 operations over 100 keys) checks as linearizable.
/// How long it takes is a measurement, not a test: it is reported in docs/simulator.md
/// (a wall-clock bound here would be flaky on a loaded machine and keeps a clock out of core).
#[test]
fn ten_thousand_operations_over_a_hundred_keys_check() {
    let history = random_history(7, 10_000, 100, 10);
    assert_eq!(check(&history), Verdict::Linearizable);
}
