//! A new run: seed, cluster size, timeouts, pre-vote and check-quorum, jitter, and a bug to
//! plant. Also the auto mode: the simulator's own seeded chaos, the run `flotilla sim
//! --seed S` makes.

use super::shared::SessionRef;
use crate::model::defaults::{page_options, CLUSTER_SIZES};
use crate::model::session::Run;
use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::SimOptions;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    pub session: SessionRef,
    pub on_run: Callback<Run>,
}

#[derive(Clone, PartialEq)]
struct Form {
    seed: u64,
    nodes: u32,
    election_min: u64,
    election_max: u64,
    heartbeat: u64,
    jitter: u64,
    pre_vote: bool,
    check_quorum: bool,
    bug: Option<PlantedBug>,
}

impl Form {
    fn from_options(seed: u64, o: &SimOptions) -> Form {
        Form {
            seed,
            nodes: o.nodes,
            election_min: o.raft.election_timeout_min_ms,
            election_max: o.raft.election_timeout_max_ms,
            heartbeat: o.raft.heartbeat_interval_ms,
            jitter: o.network.jitter_ms,
            pre_vote: o.raft.pre_vote,
            check_quorum: o.raft.check_quorum,
            bug: o.planted_bug,
        }
    }

    fn options(&self) -> SimOptions {
        let mut o = page_options(self.nodes);
        o.raft.election_timeout_min_ms = self.election_min;
        o.raft.election_timeout_max_ms = self.election_max.max(self.election_min);
        o.raft.heartbeat_interval_ms = self.heartbeat;
        o.raft.pre_vote = self.pre_vote;
        o.raft.check_quorum = self.check_quorum;
        o.network.jitter_ms = self.jitter;
        o.planted_bug = self.bug;
        o
    }
}

fn number(e: &Event) -> u64 {
    let input: web_sys::HtmlInputElement = e.target_unchecked_into();
    input.value().parse().unwrap_or(0)
}

#[function_component(Settings)]
pub fn settings(props: &SettingsProps) -> Html {
    let session = props.session.borrow();
    let run = session.run().clone();
    drop(session);
    let form = use_state(|| Form::from_options(run.seed, &run.options));
    let error = use_state(|| None::<String>);
    let update = |f: fn(&mut Form, &Event)| {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let mut next = (*form).clone();
            f(&mut next, &e);
            form.set(next);
        })
    };
    let start = {
        let form = form.clone();
        let error = error.clone();
        let on_run = props.on_run.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let options = form.options();
            match options.validate() {
                Ok(()) => {
                    error.set(None);
                    on_run.emit(Run {
                        seed: form.seed,
                        options,
                        tape: Vec::new(),
                    });
                }
                Err(why) => error.set(Some(why)),
            }
        })
    };
    let random_seed = {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next = (*form).clone();
            // Any seed is as good as any other; the clock is a fine source for a new one.
            next.seed = (super::browser::now_ms() * 1_000.0) as u64 % 1_000_000;
            form.set(next);
        })
    };
    let chaos = {
        let form = form.clone();
        let on_run = props.on_run.clone();
        Callback::from(move |_: MouseEvent| {
            let mut options = SimOptions::swarm(form.seed);
            options.planted_bug = form.bug;
            on_run.emit(Run {
                seed: form.seed,
                options,
                tape: Vec::new(),
            });
        })
    };
    let sizes: Html = CLUSTER_SIZES
        .iter()
        .map(|&n| {
            let form_n = form.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                let mut next = (*form_n).clone();
                next.nodes = n;
                form_n.set(next);
            });
            html! { <button type="button" class={classes!("seg-btn", (form.nodes == n).then_some("on"))} id={format!("size-{n}")} {onclick}>{ n }</button> }
        })
        .collect();
    let on_bug = {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            let mut next = (*form).clone();
            next.bug = PlantedBug::from_name(&select.value());
            form.set(next);
        })
    };
    let bugs: Html = PlantedBug::ALL
        .iter()
        .map(|b| html! { <option value={b.name()} selected={form.bug == Some(*b)}>{ b.name() }</option> })
        .collect();
    html! {
        <details class="card settings">
            <summary><h2>{ "New run" }</h2><span class="muted small">{ "seed, size, timeouts, bugs" }</span></summary>
            <form onsubmit={start}>
                <div class="row">
                    <label>{ "seed " }<input id="seed" class="num" type="number" min="0" value={form.seed.to_string()}
                        onchange={update(|f, e| f.seed = number(e))} /></label>
                    <button type="button" class="btn small" onclick={random_seed} title="A new random seed">{ "random" }</button>
                </div>
                <div class="row"><span class="muted">{ "nodes" }</span><div class="seg">{ sizes }</div></div>
                <div class="row">
                    <label>{ "election " }<input class="num" type="number" min="1" value={form.election_min.to_string()}
                        onchange={update(|f, e| f.election_min = number(e))} /></label>
                    <label>{ "– " }<input class="num" type="number" min="1" value={form.election_max.to_string()}
                        onchange={update(|f, e| f.election_max = number(e))} />{ " ms" }</label>
                </div>
                <div class="row">
                    <label>{ "heartbeat " }<input class="num" type="number" min="1" value={form.heartbeat.to_string()}
                        onchange={update(|f, e| f.heartbeat = number(e))} />{ " ms" }</label>
                    <label>{ "jitter " }<input class="num" type="number" min="0" value={form.jitter.to_string()}
                        onchange={update(|f, e| f.jitter = number(e))} />{ " ms" }</label>
                </div>
                <div class="row">
                    <label><input type="checkbox" checked={form.pre_vote}
                        onchange={update(|f, _| f.pre_vote = !f.pre_vote)} />{ " pre-vote" }</label>
                    <label><input type="checkbox" checked={form.check_quorum}
                        onchange={update(|f, _| f.check_quorum = !f.check_quorum)} />{ " check-quorum" }</label>
                </div>
                <div class="row">
                    <label>{ "plant a bug " }
                        <select id="bug" onchange={on_bug}>
                            <option value="" selected={form.bug.is_none()}>{ "none" }</option>
                            { bugs }
                        </select>
                    </label>
                </div>
                if let Some(why) = &*error {
                    <p class="error small">{ why }</p>
                }
                <div class="actions">
                    <button id="new-run" class="btn primary small" type="submit">{ "Start" }</button>
                    <button id="chaos-run" type="button" class="btn small" onclick={chaos}
                        title="The simulator's auto mode: faults and clients drawn from the seed, then a liveness check — the same run as flotilla sim --seed S">
                        { "Chaos run" }
                    </button>
                </div>
            </form>
        </details>
    }
}
