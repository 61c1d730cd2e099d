//! `flotilla bench` against a real 3-node cluster: a short run reports throughput and no
//! errors, reported as one JSON object on stdout.

mod common;

use common::{free_port, Cluster};
use std::process::Command;
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(10);

#[test]
fn bench_reports_throughput_without_errors() {
    let cluster = Cluster::start("bench-smoke", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let endpoint = format!("127.0.0.1:{}", cluster.node(leader).resp);
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "bench",
            "--endpoints",
            &endpoint,
            "--clients",
            "8",
            "--duration",
            "3",
            "--read-ratio",
            "0.5",
            "--json",
        ])
        .output()
        .expect("run flotilla bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flotilla bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.dump_logs()
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let ops_per_sec = report["ops_per_sec"].as_f64().expect("ops_per_sec");
    assert!(ops_per_sec > 0.0, "{report}");
    assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
    for field in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"] {
        assert!(
            report[field].as_f64().is_some_and(|ms| ms > 0.0),
            "{field}: {report}"
        );
    }
}

#[test]
fn bench_refuses_an_endpoint_that_does_not_answer_instead_of_waiting() {
    let endpoint = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "bench",
            "--endpoints",
            &endpoint,
            "--prefill",
            "--duration",
            "1",
        ])
        .output()
        .expect("run flotilla bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to {endpoint}")),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
