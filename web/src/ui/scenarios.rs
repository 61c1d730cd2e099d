//! The scenario library and the narration of the scenario being played: the run stops at
//! each step until "Continue".

use crate::model::scenarios::{Step, LIBRARY};
use flotilla_core::types::Millis;
use yew::prelude::*;

/// The narration of a scenario being played.
#[derive(Clone, Debug, PartialEq)]
pub struct Narration {
    pub title: &'static str,
    pub steps: Vec<Step>,
    /// Steps reached so far (the last one is shown).
    pub reached: usize,
    /// Whether the run is stopped at a step, waiting for "Continue".
    pub waiting: bool,
}

impl Narration {
    pub fn new(title: &'static str, steps: Vec<Step>) -> Narration {
        Narration {
            title,
            steps,
            reached: 0,
            waiting: false,
        }
    }

    /// The time of the next step not yet shown.
    pub fn next_stop(&self) -> Option<Millis> {
        self.steps.get(self.reached).map(|s| s.at_ms)
    }

    /// The run stopped at `at`: every step at that time is shown.
    pub fn reached(&mut self, at: Millis) {
        while self.steps.get(self.reached).is_some_and(|s| s.at_ms <= at) {
            self.reached += 1;
        }
        self.waiting = true;
    }

    pub fn resume(&mut self) {
        self.waiting = false;
    }

    /// After a seek: steps up to `t` count as shown.
    pub fn rewind_to(&mut self, t: Millis) {
        self.reached = self.steps.iter().filter(|s| s.at_ms <= t).count();
        self.waiting = false;
    }
}

#[derive(Properties, PartialEq)]
pub struct ScenarioProps {
    pub narration: Option<Narration>,
    pub on_pick: Callback<&'static str>,
    pub on_continue: Callback<()>,
    pub on_close: Callback<()>,
}

#[function_component(ScenarioPanel)]
pub fn scenario_panel(props: &ScenarioProps) -> Html {
    let list: Html = LIBRARY
        .iter()
        .map(|entry| {
            let on_pick = props.on_pick.clone();
            let key = entry.key;
            let onclick = Callback::from(move |_: MouseEvent| on_pick.emit(key));
            html! {
                <li>
                    <button class="scenario" id={format!("scenario-{key}")} {onclick} title={entry.summary}>
                        <span class="scenario-title">{ entry.title }</span>
                        <span class="scenario-summary">{ entry.summary }</span>
                    </button>
                </li>
            }
        })
        .collect();
    let narration = props.narration.as_ref().map(|n| {
        let shown: Html = n.steps[..n.reached.min(n.steps.len())]
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let current = i + 1 == n.reached;
                html! { <li class={classes!(current.then_some("current"))}>{ &step.text }</li> }
            })
            .collect();
        let done = n.reached >= n.steps.len();
        html! {
            <div class="narration" id="narration">
                <div class="card-head">
                    <h3>{ n.title }</h3>
                    <button class="btn icon small" onclick={props.on_close.reform(|_: MouseEvent| ())} aria-label="Close">{ "✕" }</button>
                </div>
                <ol class="steps">{ shown }</ol>
                if n.reached == 0 {
                    <p class="muted small">{ "Playing… the run stops at each step." }</p>
                }
                if n.waiting && !done {
                    <button id="continue" class="btn primary small" onclick={props.on_continue.reform(|_: MouseEvent| ())}>
                        { format!("Continue ({}/{}) ▸", n.reached, n.steps.len()) }
                    </button>
                }
                if done {
                    <p class="muted small">{ "The end. Play on, or break it some more." }</p>
                }
            </div>
        }
    });
    html! {
        <div class="card scenarios">
            <h2>{ "Scenarios" }</h2>
            { narration }
            <details open={props.narration.is_none()}>
                <summary class="muted small">{ "one click each, narrated step by step" }</summary>
                <ul class="scenario-list">{ list }</ul>
            </details>
        </div>
    }
}
