//! The simulator must give the same run for the same seed on every target: the web page
//! runs it compiled to wasm32 (32-bit `usize`, a different code generator, no threads) and
//! its links must replay exactly what `flotilla sim` and the tests see natively.
//!
//! This crate is the one function both sides run, [`swarm_reports`]: natively through the
//! `swarm-reports` binary, in wasm through the export below, loaded by node.
//! `tests/determinism/compare.mjs` runs both on the same seeds and requires identical
//! reports (trace hash, event count, client history counts, violations, options: the whole
//! `RunReport`). `scripts/test-wasm-determinism` builds both and runs it; `make test` calls
//! that script.

use flotilla_core::sim::Scenario;

/// Runs the auto-mode (swarm) simulation of each seed in `seeds` (comma-separated decimal
/// numbers) and returns one line of JSON per seed: the run's full report, or
/// `{"seed":S,"error":"..."}` for a seed that cannot run. Seeds are passed as text so that
/// the whole `u64` range crosses into wasm without JavaScript's number limits.
pub fn swarm_reports(seeds: &str) -> String {
    let mut out = String::new();
    for text in seeds.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let line = match text.parse::<u64>() {
            Ok(seed) => match Scenario::swarm(seed, None).run() {
                Ok(report) => serde_json::to_string(&report)
                    .unwrap_or_else(|e| error_line(text, &e.to_string())),
                Err(error) => error_line(text, &error),
            },
            Err(error) => error_line(text, &error.to_string()),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn error_line(seed: &str, error: &str) -> String {
    serde_json::json!({ "seed": seed, "error": error }).to_string()
}

/// The wasm entry point: [`swarm_reports`], exported to JavaScript.
#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen]
    pub fn swarm_reports(seeds: &str) -> String {
        super::swarm_reports(seeds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_seed_and_errors_are_reported() {
        let out = swarm_reports("3, 4,x");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["seed"], 3);
        assert_eq!(lines[1]["seed"], 4);
        assert_ne!(lines[0]["trace_hash"], lines[1]["trace_hash"]);
        assert!(lines[0]["events"].as_u64().is_some_and(|e| e > 100));
        assert_eq!(lines[2]["seed"], "x");
        assert!(lines[2]["error"].is_string());
    }
}
