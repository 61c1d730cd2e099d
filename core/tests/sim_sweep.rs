//! The bounded sweep: a few hundred swarm seeds with every checker on and nothing planted,
//! plus every seed in `regression-seeds.txt`. Any violation fails the test with the command
//! that reproduces it. Longer sweeps: `flotilla sim --seeds N`.

use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::{run_seed, RunReport};

/// Seeds per test function; the sweep is split so the test harness runs the parts on all
/// cores.
const SEEDS_PER_PART: u64 = 125;
/// Parts of the sweep (see the four tests below).
const PARTS: u64 = 4;

fn failure(report: &RunReport) -> String {
    let bug = report
        .planted_bug
        .as_ref()
        .map(|b| format!(" --plant {b}"))
        .unwrap_or_default();
    let violations: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
    format!(
        "seed {} failed: {}\nreproduce: flotilla sim --seed {}{bug} --trace",
        report.seed,
        violations.join("; "),
        report.seed
    )
}

fn sweep(part: u64) {
    assert!(part < PARTS);
    let first = 1 + part * SEEDS_PER_PART;
    let failures: Vec<String> = (first..first + SEEDS_PER_PART)
        .map(|seed| run_seed(seed, None))
        .filter(|report| !report.passed())
        .map(|report| failure(&report))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sweep_part_1() {
    sweep(0);
}

#[test]
fn sweep_part_2() {
    sweep(1);
}

#[test]
fn sweep_part_3() {
    sweep(2);
}

#[test]
fn sweep_part_4() {
    sweep(3);
}

/// Parses `regression-seeds.txt`: `seed [bug] # note` per line.
fn regression_seeds() -> Vec<(u64, Option<PlantedBug>)> {
    let text = include_str!("regression-seeds.txt");
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let seed = words.next().and_then(|w| w.parse().ok());
            let seed = seed.unwrap_or_else(|| panic!("bad seed in regression-seeds.txt: {line}"));
            let bug = words.next().map(|name| {
                PlantedBug::from_name(name)
                    .unwrap_or_else(|| panic!("unknown bug in regression-seeds.txt: {name}"))
            });
            (seed, bug)
        })
        .collect()
}

#[test]
fn regression_seeds_pass() {
    let seeds = regression_seeds();
    assert!(!seeds.is_empty());
    let failures: Vec<String> = seeds
        .into_iter()
        .map(|(seed, bug)| (run_seed(seed, bug), bug))
        // A seed listed with a planted bug must fail (the bug is caught); others must pass.
        .filter(|(report, bug)| report.passed() == bug.is_some())
        .map(|(report, _)| failure(&report))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
