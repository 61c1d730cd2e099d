//! The client history as a timeline: one lane per client, one bar per operation from its
//! invocation to its answer, coloured by what the client learnt (ok, failed, unknown, still
//! waiting). This is exactly the history the linearizability checker reads.

use super::checkers::LinState;
use super::shared::ClusterRef;
use flotilla_core::check::linearizability::{KvInput, KvOutput, Operation, Verdict};
use flotilla_core::sim::workload::CONSOLE;
use flotilla_core::types::Millis;
use std::collections::BTreeSet;
use yew::prelude::*;

/// The window shown, in ms: virtual for the simulator, real for a live cluster, where a
/// person types the requests.
const WINDOW_MS: Millis = 3_000;
const LIVE_WINDOW_MS: Millis = 30_000;
const WIDTH: f64 = 560.0;
const LANE_H: f64 = 22.0;
const LEFT: f64 = 64.0;

#[derive(Properties, PartialEq)]
pub struct HistoryProps {
    pub cluster: ClusterRef,
    pub lin: LinState,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn opt(value: &Option<Vec<u8>>) -> String {
    value.as_deref().map_or("∅".into(), text)
}

/// An operation as `put k=v → ok`.
pub fn describe(op: &Operation) -> String {
    let key = text(&op.key);
    let input = match &op.input {
        KvInput::Get => format!("get {key}"),
        KvInput::Put(v) => format!("put {key}={}", text(v)),
        KvInput::Delete => format!("delete {key}"),
        KvInput::CompareAndSet { expected, new } => {
            format!("cas {key} {}→{}", opt(expected), opt(new))
        }
    };
    let output = match &op.output {
        KvOutput::Value(v) => opt(v),
        KvOutput::Ok => "ok".into(),
        KvOutput::Deleted(existed) => format!("deleted {existed}"),
        KvOutput::CasResult { ok, current } => {
            format!("{} ({})", if *ok { "swapped" } else { "no" }, opt(current))
        }
        KvOutput::Failed => "failed".into(),
        KvOutput::Unknown => "unknown".into(),
    };
    format!("{input} → {output}")
}

fn lane_name(client: u64) -> String {
    if client == u64::from(CONSOLE) {
        "you".into()
    } else {
        format!("c{client}")
    }
}

#[function_component(History)]
pub fn history(props: &HistoryProps) -> Html {
    props.cluster.with(|c| view(c, props))
}

fn view(c: &dyn crate::model::view::ClusterModel, props: &HistoryProps) -> Html {
    let history = c.history();
    let times = c.op_times();
    let now = c.now();
    let window = if c.is_live() {
        LIVE_WINDOW_MS
    } else {
        WINDOW_MS
    };
    let from = now.saturating_sub(window);
    let clients: BTreeSet<u64> = history.iter().map(|o| o.client).collect();
    let lanes: Vec<u64> = clients.into_iter().collect();
    let height = LANE_H * lanes.len().max(1) as f64 + 18.0;
    let x = |t: Millis| LEFT + (WIDTH - LEFT) * (t.saturating_sub(from)) as f64 / window as f64;
    let culprit = match &props.lin.verdict {
        Some(Verdict::Violation(c)) => Some(c.operation as usize),
        _ => None,
    };
    let bars: Html = history
        .iter()
        .zip(times)
        .enumerate()
        .filter(|(_, (_, t))| t.complete_ms.is_none_or(|c| c >= from))
        .map(|(i, (op, t))| {
            let lane = lanes.iter().position(|&c| c == op.client).unwrap_or(0);
            let end = t.complete_ms.unwrap_or(now);
            let (x0, x1) = (x(t.invoke_ms.max(from)), x(end).max(x(t.invoke_ms.max(from)) + 3.0));
            let class = match (&op.output, t.complete_ms) {
                (_, None) => "op pending",
                (KvOutput::Failed, _) => "op failed",
                (KvOutput::Unknown, _) => "op unknown",
                _ => "op ok",
            };
            let y = 4.0 + LANE_H * lane as f64;
            html! {
                <g class={classes!(class, (culprit == Some(i)).then_some("culprit"))}>
                    <title>{ describe(op) }</title>
                    <rect x={format!("{x0:.1}")} y={format!("{y:.1}")} width={format!("{:.1}", x1 - x0)} height={format!("{:.1}", LANE_H - 6.0)} rx="3" />
                    if x1 - x0 > 60.0 {
                        <text x={format!("{:.1}", x0 + 4.0)} y={format!("{:.1}", y + 12.0)}>{ describe(op) }</text>
                    }
                </g>
            }
        })
        .collect();
    let names: Html = lanes
        .iter()
        .enumerate()
        .map(|(i, &c)| html! {
            <text class="lane-name" x="4" y={format!("{:.1}", 17.0 + LANE_H * i as f64)}>{ lane_name(c) }</text>
        })
        .collect();
    html! {
        <div class="card history-card">
            <div class="card-head">
                <h2>{ "Client history" }</h2>
                <span class="muted small">{ format!("{} operations · last {} s", history.len(), window / 1_000) }</span>
            </div>
            if history.is_empty() {
                <p class="muted">{ "No client operations yet." }</p>
            } else {
                <svg id="history" class="history" viewBox={format!("0 0 {WIDTH} {height}")} preserveAspectRatio="none"
                    style={format!("height:{height}px")}>
                    { names }
                    { bars }
                </svg>
                <div class="legend small">
                    <span><i class="dot op-ok"></i>{ "ok" }</span>
                    <span><i class="dot op-pending"></i>{ "waiting" }</span>
                    <span><i class="dot op-unknown"></i>{ "unknown" }</span>
                    <span><i class="dot op-failed"></i>{ "failed" }</span>
                </div>
            }
        </div>
    }
}
