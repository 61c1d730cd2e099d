//! What a run reports: the numbers the command line prints and `--json` emits.

use super::cluster::Sim;
use super::options::SimOptions;
use crate::check::linearizability::{self, KvInput, KvOutput, Verdict};
use crate::check::{Invariant, Violation};
use serde::{Deserialize, Serialize};

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Events handled (messages, timers, fsyncs, client events, faults).
    pub events: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub readies: u64,
    pub fsyncs: u64,
    pub crashes: u64,
    pub restarts: u64,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub seed: u64,
    pub nodes: u32,
    pub events: u64,
    pub virtual_ms: u64,
    /// Client operations invoked.
    pub ops: u64,
    pub ops_ok: u64,
    pub ops_failed: u64,
    pub ops_unknown: u64,
    /// Every violation: the per-step checkers', liveness, and linearizability.
    pub violations: Vec<Violation>,
    pub linearizable: bool,
    /// "linearizable", or what the checker found.
    pub linearizability: String,
    /// How long the cluster took to converge after the faults stopped, in virtual ms.
    pub converged_after_ms: Option<u64>,
    /// FNV-1a 64 of the trace, as 16 hex digits.
    pub trace_hash: String,
    pub trace_lines: u64,
    pub planted_bug: Option<String>,
    pub stats: Stats,
    pub options: SimOptions,
}

impl RunReport {
    pub(super) fn new(sim: &Sim) -> RunReport {
        let history = sim.history();
        let verdict = linearizability::check(history);
        let mut violations = sim.violations().to_vec();
        let linearizability = match &verdict {
            Verdict::Linearizable => "linearizable".to_string(),
            Verdict::GaveUp { key } => format!(
                "no violation found, search gave up on key {}",
                String::from_utf8_lossy(key)
            ),
            Verdict::Violation(c) => {
                let op = &history[c.operation as usize];
                let detail = format!(
                    "key {}: {} operations, at most {} linearized; stuck at client {} {} → {}",
                    String::from_utf8_lossy(&c.key),
                    c.operations,
                    c.linearized,
                    op.client,
                    show_input(&op.input),
                    show_output(&op.output)
                );
                violations.push(Violation {
                    invariant: Invariant::Linearizability,
                    at_ms: sim.now(),
                    node: None,
                    detail: detail.clone(),
                });
                detail
            }
        };
        let count =
            |f: fn(&KvOutput) -> bool| history.iter().filter(|o| f(&o.output)).count() as u64;
        RunReport {
            seed: sim.seed(),
            nodes: sim.options().nodes,
            events: sim.stats().events,
            virtual_ms: sim.now(),
            ops: history.len() as u64,
            ops_ok: count(|o| !matches!(o, KvOutput::Failed | KvOutput::Unknown)),
            ops_failed: count(|o| matches!(o, KvOutput::Failed)),
            ops_unknown: count(|o| matches!(o, KvOutput::Unknown)),
            violations,
            linearizable: verdict.is_linearizable(),
            linearizability,
            converged_after_ms: sim.converged_after_ms,
            trace_hash: format!("{:016x}", sim.trace().hash()),
            trace_lines: sim.trace().count(),
            planted_bug: sim.options().planted_bug.map(|b| b.name().to_string()),
            stats: sim.stats().clone(),
            options: sim.options().clone(),
        }
    }

    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

fn text(value: &Option<Vec<u8>>) -> String {
    value.as_deref().map_or_else(
        || "∅".to_string(),
        |v| String::from_utf8_lossy(v).into_owned(),
    )
}

fn show_input(input: &KvInput) -> String {
    match input {
        KvInput::Get => "get".to_string(),
        KvInput::Put(value) => format!("put {}", String::from_utf8_lossy(value)),
        KvInput::Delete => "delete".to_string(),
        KvInput::CompareAndSet { expected, new } => {
            format!("cas {}→{}", text(expected), text(new))
        }
    }
}

fn show_output(output: &KvOutput) -> String {
    match output {
        KvOutput::Value(value) => format!("read {}", text(value)),
        KvOutput::Ok => "ok".to_string(),
        KvOutput::Deleted(existed) => format!("deleted (existed: {existed})"),
        KvOutput::CasResult { ok, current } => format!("cas ok={ok} now {}", text(current)),
        KvOutput::Failed => "failed".to_string(),
        KvOutput::Unknown => "unknown".to_string(),
    }
}
