//! The checks at the end of a fault run, and its report.

use super::conn::RespConn;
use super::nemesis::{members, Nemesis};
use super::workload::{run_operation, Shared, REPLY_TIMEOUT};
use flotilla_core::check::linearizability::{check, KvInput, KvOutput, Operation, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// How long the healed cluster has to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The client id of the final reads.
const FINAL_READER: u64 = 0;

/// What the checks found.
#[derive(Debug)]
pub struct Judgement {
    pub linearizability: String,
    pub lost_writes: Vec<String>,
    pub converged: Result<String, String>,
    pub final_reads_missing: u64,
    pub crashes: Vec<String>,
    operations: BTreeMap<String, u64>,
    linearizable: bool,
}

impl Judgement {
    pub fn passed(&self) -> bool {
        self.linearizable
            && self.lost_writes.is_empty()
            && self.converged.is_ok()
            && self.final_reads_missing == 0
            && self.crashes.is_empty()
    }

    pub fn report(&self, nemesis: &Nemesis) -> String {
        let mut out = String::new();
        let total: u64 = self.operations.values().sum();
        let _ = writeln!(out, "operations: {total}");
        for (kind, count) in &self.operations {
            let _ = writeln!(out, "  {kind:<22} {count}");
        }
        let faults: u64 = nemesis
            .counts
            .iter()
            .filter(|(kind, _)| !matches!(**kind, "membership step" | "error"))
            .map(|(_, count)| count)
            .sum();
        let _ = writeln!(
            out,
            "faults: {faults} (membership steps and errors listed apart)"
        );
        for (kind, count) in &nemesis.counts {
            let _ = writeln!(out, "  {kind:<22} {count}");
        }
        let ok = |good: bool| if good { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "{} linearizable: {}",
            ok(self.linearizable),
            self.linearizability
        );
        let _ = writeln!(
            out,
            "{} no acknowledged write lost{}",
            ok(self.lost_writes.is_empty()),
            self.lost_writes
                .iter()
                .map(|l| format!("\n       {l}"))
                .collect::<String>()
        );
        let _ = writeln!(
            out,
            "{} final read of every key ({} missing)",
            ok(self.final_reads_missing == 0),
            self.final_reads_missing
        );
        let converged = match &self.converged {
            Ok(text) | Err(text) => text,
        };
        let _ = writeln!(out, "{} converged: {converged}", ok(self.converged.is_ok()));
        let _ = write!(
            out,
            "{} no node exited by itself{}",
            ok(self.crashes.is_empty()),
            self.crashes
                .iter()
                .map(|c| format!("\n       {c}"))
                .collect::<String>()
        );
        out
    }
}

/// Reads every key through the leader, waits for convergence, and checks the history.
pub fn judge(nemesis: &mut Nemesis, shared: &Shared, token: &str) -> Judgement {
    let final_reads_missing = final_reads(nemesis, shared);
    let mut judgement = Judgement {
        final_reads_missing,
        converged: converge(nemesis, token),
        linearizability: String::new(),
        lost_writes: Vec::new(),
        crashes: Vec::new(),
        operations: BTreeMap::new(),
        linearizable: false,
    };
    nemesis.check_exits();
    judgement.crashes = nemesis.crashes.clone();
    let history = shared.history.lock().map(|h| h.clone()).unwrap_or_default();
    for operation in &history {
        let kind = match (&operation.input, &operation.output) {
            (KvInput::Get, _) => "get",
            (KvInput::Put(_), _) => "set",
            _ => "del",
        };
        let outcome = match operation.output {
            KvOutput::Failed => "failed",
            KvOutput::Unknown => "unknown",
            _ => "ok",
        };
        *judgement
            .operations
            .entry(format!("{kind} {outcome}"))
            .or_default() += 1;
    }
    let started = Instant::now();
    let verdict = check(&history);
    judgement.linearizable = verdict == Verdict::Linearizable;
    judgement.linearizability = match verdict {
        Verdict::Linearizable => format!(
            "{} operations on {} keys checked in {:.2} s",
            history.len(),
            shared.keys,
            started.elapsed().as_secs_f64()
        ),
        Verdict::Violation(counterexample) => format!(
            "VIOLATION on key {:?} at operation {} ({:?})",
            String::from_utf8_lossy(&counterexample.key),
            counterexample.operation,
            history.get(counterexample.operation as usize)
        ),
        Verdict::GaveUp { key } => format!(
            "the search gave up on key {:?} (inconclusive)",
            String::from_utf8_lossy(&key)
        ),
    };
    judgement.lost_writes = lost_writes(&history);
    judgement
}

/// Reads every key once through the leader, retrying until an answer comes. Returns how many
/// keys could not be read.
fn final_reads(nemesis: &Nemesis, shared: &Shared) -> u64 {
    let mut missing = 0;
    for key in 0..shared.keys {
        let key = format!("k{key}");
        let deadline = Instant::now() + CONVERGE_TIMEOUT;
        let mut done = false;
        while !done && Instant::now() < deadline {
            let port = nemesis
                .leader()
                .and_then(|(id, _)| nemesis.procs.iter().find(|p| p.id == id))
                .map(|p| p.resp);
            if let Some(mut conn) = port.and_then(|p| RespConn::connect(p, REPLY_TIMEOUT).ok()) {
                run_operation(shared, FINAL_READER, &mut conn, &key, KvInput::Get);
                done = shared.history.lock().is_ok_and(|h| {
                    h.last()
                        .is_some_and(|o| matches!(o.output, KvOutput::Value(_)))
                });
            }
            if !done {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        missing += u64::from(!done);
    }
    missing
}

/// Waits until every node answers, is a voter, and has applied the leader's commit index
/// with the same state-machine digest.
fn converge(nemesis: &Nemesis, token: &str) -> Result<String, String> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        let statuses: Vec<_> = nemesis.procs.iter().map(|p| p.status(token)).collect();
        let summary: Vec<String> = statuses
            .iter()
            .zip(&nemesis.procs)
            .map(|(s, p)| match s {
                Some(s) => format!(
                    "{}:{}@{}/{}#{}",
                    p.id, s["role"], s["applied"], s["commit"], s["kv_digest"]
                ),
                None => format!("{}:silent", p.id),
            })
            .collect();
        last = summary.join(" ");
        let all: Option<Vec<_>> = statuses.into_iter().collect();
        if let Some(all) = all {
            let leader = all.iter().find(|s| s["role"] == "leader");
            let same = |field: &str| all.windows(2).all(|w| w[0][field] == w[1][field]);
            let voters = leader.map(|l| {
                members(l).values().filter(|r| *r == "Voter").count() == nemesis.procs.len()
            });
            if voters == Some(true) && same("applied") && same("kv_digest") {
                let applied = &all[0]["applied"];
                return Ok(format!(
                    "{} nodes, all voters, applied index {applied}, same digest",
                    all.len()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("not within {CONVERGE_TIMEOUT:?}: {last}"))
}

/// Keys whose final value could not be there if every acknowledged write was kept: the
/// final read must return the value of a write (SET, or DEL for "absent") that no
/// acknowledged write to the key followed in real time.
pub fn lost_writes(history: &[Operation]) -> Vec<String> {
    let mut findings = Vec::new();
    let mut by_key: BTreeMap<&[u8], Vec<&Operation>> = BTreeMap::new();
    for operation in history {
        by_key.entry(&operation.key).or_default().push(operation);
    }
    for (key, operations) in by_key {
        let Some(last_read) = operations
            .iter()
            .rev()
            .filter(|o| o.client == FINAL_READER)
            .filter_map(|o| match &o.output {
                KvOutput::Value(value) => Some(value.clone()),
                _ => None,
            })
            .next()
        else {
            continue;
        };
        let writes: Vec<&&Operation> = operations
            .iter()
            .filter(|o| !matches!(o.input, KvInput::Get))
            .filter(|o| !matches!(o.output, KvOutput::Failed))
            .collect();
        let acknowledged_invokes: Vec<u64> = writes
            .iter()
            .filter(|o| o.complete.is_some())
            .map(|o| o.invoke)
            .collect();
        // A write is surely overwritten if an acknowledged write was invoked after it completed.
        let may_be_last = |w: &Operation| {
            w.complete
                .is_none_or(|done| !acknowledged_invokes.iter().any(|&i| i > done))
        };
        let explained = match &last_read {
            Some(value) => writes
                .iter()
                .any(|w| matches!(&w.input, KvInput::Put(v) if v == value) && may_be_last(w)),
            None => {
                writes.is_empty()
                    || writes
                        .iter()
                        .any(|w| matches!(w.input, KvInput::Delete) && may_be_last(w))
            }
        };
        if !explained {
            findings.push(format!(
                "key {:?}: final value {:?} is not the last acknowledged write's",
                String::from_utf8_lossy(key),
                last_read.map(|v| String::from_utf8_lossy(&v).into_owned())
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: u64, input: KvInput, output: KvOutput, invoke: u64, complete: u64) -> Operation {
        let complete =
            (!matches!(output, KvOutput::Unknown | KvOutput::Failed)).then_some(complete);
        Operation {
            client,
            key: b"k".to_vec(),
            input,
            output,
            invoke,
            complete,
        }
    }

    #[test]
    fn a_lost_acknowledged_write_is_found() {
        let put = |v: &str| KvInput::Put(v.as_bytes().to_vec());
        let read = |v: &str| KvOutput::Value(Some(v.as_bytes().to_vec()));
        let kept = vec![
            op(1, put("a"), KvOutput::Ok, 1, 2),
            op(2, put("b"), KvOutput::Unknown, 3, 0),
            op(FINAL_READER, KvInput::Get, read("b"), 10, 11),
        ];
        assert!(lost_writes(&kept).is_empty());
        let lost = vec![
            op(1, put("a"), KvOutput::Ok, 1, 2),
            op(1, put("b"), KvOutput::Ok, 3, 4),
            op(FINAL_READER, KvInput::Get, read("a"), 10, 11),
        ];
        assert_eq!(lost_writes(&lost).len(), 1);
    }
}
