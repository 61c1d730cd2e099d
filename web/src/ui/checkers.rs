//! The checkers, live: the simulator's per-step invariant monitors (green until broken,
//! then red with a button to go to the first violation) and the linearizability verdict
//! over the client history the page has produced so far.

use super::shared::{fmt_ms, SessionRef};
use flotilla_core::check::linearizability::Verdict;
use flotilla_core::check::Invariant;
use flotilla_core::types::Millis;
use yew::prelude::*;

/// The latest linearizability verdict and what it was computed over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinState {
    pub ops: usize,
    pub completed: usize,
    pub verdict: Option<Verdict>,
    /// The history grew past what the page checks live; `verdict` is from earlier.
    pub too_long: bool,
}

impl LinState {
    /// The verdict as a CSS class (`ok`, `warn`, `bad`) and a sentence.
    pub fn verdict_line(&self) -> (&'static str, String) {
        match &self.verdict {
            None => ("ok", "no client operations yet".to_string()),
            Some(Verdict::Linearizable) => {
                ("ok", format!("linearizable ({} operations)", self.ops))
            }
            Some(Verdict::GaveUp { key }) => (
                "warn",
                format!(
                    "no violation found; the search gave up on key {}",
                    String::from_utf8_lossy(key)
                ),
            ),
            Some(Verdict::Violation(c)) => (
                "bad",
                format!(
                    "NOT linearizable: key {}, at most {} of {} operations fit one order",
                    String::from_utf8_lossy(&c.key),
                    c.linearized,
                    c.operations
                ),
            ),
        }
    }
}

/// The per-step monitors, with what each one promises.
const MONITORS: [(Invariant, &str); 10] = [
    (Invariant::ElectionSafety, "at most one leader per term"),
    (
        Invariant::LogMatching,
        "same index and term, same entries before",
    ),
    (
        Invariant::CommittedImmutable,
        "a committed entry never changes",
    ),
    (
        Invariant::LeaderCompleteness,
        "leaders hold every committed entry",
    ),
    (
        Invariant::StateMachineSafety,
        "same applied index, same state",
    ),
    (Invariant::MonotonicTerm, "terms never go back"),
    (Invariant::MonotonicCommit, "commit indexes never go back"),
    (
        Invariant::DurableBeforeSend,
        "no vote or ack before it is on disk",
    ),
    (
        Invariant::SyncedSurvivesCrash,
        "what was fsynced survives a crash",
    ),
    (Invariant::Driver, "the driver's own sanity checks"),
];

#[derive(Properties, PartialEq)]
pub struct CheckersProps {
    pub session: SessionRef,
    pub lin: LinState,
    pub on_jump: Callback<Millis>,
}

#[function_component(Checkers)]
pub fn checkers(props: &CheckersProps) -> Html {
    let session = props.session.borrow();
    let violations = session.sim().violations();
    let first = violations.iter().map(|v| v.at_ms).min();
    let rows: Html = MONITORS
        .iter()
        .map(|(invariant, promise)| {
            let broken: Vec<_> = violations.iter().filter(|v| v.invariant == *invariant).collect();
            let ok = broken.is_empty();
            let detail = broken.first().map(|v| format!("{} · {}", fmt_ms(v.at_ms), v.detail));
            html! {
                <li class={classes!("check", if ok { "ok" } else { "bad" })} id={format!("check-{}", invariant.name())}
                    title={detail.clone().unwrap_or_default()}>
                    <span class="check-mark">{ if ok { "✓" } else { "✗" } }</span>
                    <span class="check-name">{ invariant.name() }</span>
                    <span class="check-promise">{ if ok { promise.to_string() } else { format!("{}× — {}", broken.len(), detail.unwrap_or_default()) } }</span>
                </li>
            }
        })
        .collect();
    let (lin_class, mut lin_text) = props.lin.verdict_line();
    if props.lin.too_long {
        lin_text = format!(
            "{lin_text}; no longer checked live past {} operations",
            props.lin.ops
        );
    }
    let all_ok = violations.is_empty() && lin_class != "bad";
    let jump = first.map(|at| {
        let on_jump = props.on_jump.clone();
        let onclick = Callback::from(move |_: MouseEvent| on_jump.emit(at));
        html! {
            <button id="jump-violation" class="btn small danger" {onclick}
                title="Move the run to the moment of the first violation">
                { format!("Go to first violation ({})", fmt_ms(at)) }
            </button>
        }
    });
    html! {
        <div class={classes!("card", "checkers", (!all_ok).then_some("alarm"))} id="checkers">
            <div class="card-head">
                <h2>{ "Checkers" }</h2>
                <span id="safety" class={classes!("pill", if all_ok { "ok" } else { "bad" })}>
                    { if all_ok { "all hold" } else { "VIOLATED" } }
                </span>
            </div>
            { jump }
            <ul class="checks">
                { rows }
                <li class={classes!("check", lin_class)} id="check-linearizability">
                    <span class="check-mark">{ if lin_class == "bad" { "✗" } else { "✓" } }</span>
                    <span class="check-name">{ "linearizability" }</span>
                    <span class="check-promise" id="lin-verdict">{ lin_text }</span>
                </li>
            </ul>
        </div>
    }
}
