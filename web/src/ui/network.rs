//! Breaking the network: loss, duplication and latency sliders, one-click partitions, a
//! two-group partition editor, and heal. Single links are cut by clicking them in the ring.

use super::shared::{node_name, SessionRef};
use flotilla_core::sim::Action;
use flotilla_core::types::NodeId;
use std::collections::BTreeSet;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct NetworkProps {
    pub session: SessionRef,
    pub on_act: Callback<Action>,
}

fn slider(
    id: &str,
    label: &str,
    value: u64,
    max: u64,
    step: u64,
    show: fn(u64) -> String,
    emit: Callback<u64>,
) -> Html {
    let onchange = Callback::from(move |e: Event| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        emit.emit(input.value().parse().unwrap_or(0));
    });
    html! {
        <label class="slider">
            <span class="slider-name">{ label }</span>
            <input id={id.to_string()} type="range" min="0" max={max.to_string()} step={step.to_string()}
                value={value.to_string()} {onchange} aria-label={label.to_string()} />
            <span class="slider-value">{ show(value) }</span>
        </label>
    }
}

#[function_component(NetworkPanel)]
pub fn network_panel(props: &NetworkProps) -> Html {
    let group_b = use_state(BTreeSet::<u64>::new);
    let session = props.session.borrow();
    let sim = session.sim();
    let n = u64::from(sim.node_count());
    let o = *sim.network().options();
    let on_act = props.on_act.clone();
    let act = |make: fn(u64) -> Action| {
        let on_act = on_act.clone();
        Callback::from(move |v: u64| on_act.emit(make(v)))
    };
    let latency = {
        let on_act = on_act.clone();
        let spread = o.latency_max_ms - o.latency_min_ms;
        Callback::from(move |min: u64| {
            on_act.emit(Action::SetLatency {
                min_ms: min,
                max_ms: min + spread,
            })
        })
    };
    let leader = session.leader();
    let simple = |id: &str, label: &str, title: &str, action: Option<Action>| {
        let on_act = on_act.clone();
        let disabled = action.is_none();
        let onclick = Callback::from(move |_: MouseEvent| {
            if let Some(a) = action.clone() {
                on_act.emit(a)
            }
        });
        html! { <button id={id.to_string()} class="btn small" {onclick} {disabled} title={title.to_string()}>{ label }</button> }
    };
    let all: Vec<NodeId> = (1..=n).map(NodeId).collect();
    let isolate_leader = leader.map(|node| Action::Isolate { node });
    let leader_minority = leader.map(|l| {
        let minority_size = (n as usize - 1) / 2;
        let mut minority = vec![l];
        minority.extend(
            all.iter()
                .copied()
                .filter(|&i| i != l)
                .take(minority_size.saturating_sub(1)),
        );
        let majority = all
            .iter()
            .copied()
            .filter(|i| !minority.contains(i))
            .collect();
        Action::Partition {
            groups: vec![minority, majority],
        }
    });
    let chips: Html = all
        .iter()
        .map(|&id| {
            let in_b = group_b.contains(&id.0);
            let group_b = group_b.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                let mut set = (*group_b).clone();
                if !set.remove(&id.0) {
                    set.insert(id.0);
                }
                group_b.set(set);
            });
            html! {
                <button class={classes!("chip", "group", if in_b { "b" } else { "a" })} {onclick}
                    title="Click to move between side A and side B">
                    { format!("{} {}", node_name(id), if in_b { "B" } else { "A" }) }
                </button>
            }
        })
        .collect();
    let custom = {
        let a: Vec<NodeId> = all
            .iter()
            .copied()
            .filter(|i| !group_b.contains(&i.0))
            .collect();
        let b: Vec<NodeId> = all
            .iter()
            .copied()
            .filter(|i| group_b.contains(&i.0))
            .collect();
        (!a.is_empty() && !b.is_empty()).then_some(Action::Partition { groups: vec![a, b] })
    };
    let partitioned = sim.network().is_partitioned();
    html! {
        <div class="card network">
            <div class="card-head">
                <h2>{ "Network" }</h2>
                <span class={classes!("pill", if partitioned { "bad" } else { "ok" })}>
                    { if partitioned { "partitioned" } else { "connected" } }
                </span>
            </div>
            { slider("loss", "loss", u64::from(o.loss_permille), 500, 10, |v| format!("{:.0}%", v as f64 / 10.0), act(|v| Action::SetLoss { permille: v as u32 })) }
            { slider("duplication", "duplicates", u64::from(o.duplicate_permille), 500, 10, |v| format!("{:.0}%", v as f64 / 10.0), act(|v| Action::SetDuplication { permille: v as u32 })) }
            { slider("latency", "latency", o.latency_min_ms, 200, 1, |v| format!("{v} ms+"), latency) }
            { slider("jitter", "jitter", o.jitter_ms, 100, 1, |v| format!("{v} ms"), act(|v| Action::SetJitter { ms: v })) }
            <p class="muted small">{ format!("links take {}–{} ms, plus up to {} ms of jitter", o.latency_min_ms, o.latency_max_ms, o.jitter_ms) }</p>
            <div class="actions">
                { simple("isolate-leader", "Isolate leader", "Cut every link of the leader", isolate_leader) }
                { simple("leader-minority", "Leader in minority", "Put the leader on the small side of a partition", leader_minority) }
                { simple("heal", "Heal", "Restore every link (H)", Some(Action::Heal)) }
            </div>
            <div class="groups">
                <span class="muted small">{ "Two sides:" }</span>
                { chips }
                { simple("apply-partition", "Partition A | B", "Cut every link between side A and side B", custom) }
            </div>
        </div>
    }
}
