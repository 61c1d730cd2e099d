//! The node inspector: everything one node knows (role, term, vote, indexes, membership,
//! its leader's view of every follower) and what can be done to it.

use super::shared::{fmt_ms, node_name, SessionRef};
use flotilla_core::sim::options::NODES_MAX;
use flotilla_core::sim::Action;
use flotilla_core::types::NodeId;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub session: SessionRef,
    pub selected: Option<NodeId>,
    pub on_act: Callback<Action>,
    pub on_select: Callback<Option<NodeId>>,
}

fn button(id: &str, label: &str, title: &str, action: Action, on_act: &Callback<Action>) -> Html {
    let on_act = on_act.clone();
    let onclick = Callback::from(move |_: MouseEvent| on_act.emit(action.clone()));
    html! { <button id={id.to_string()} class="btn small" title={title.to_string()} {onclick}>{ label }</button> }
}

#[function_component(Inspector)]
pub fn inspector(props: &InspectorProps) -> Html {
    let session = props.session.borrow();
    let sim = session.sim();
    let count = sim.node_count();
    let next = NodeId(u64::from(count) + 1);
    let add = (count < NODES_MAX).then(|| {
        button(
            "btn-add",
            &format!("+ Add {}", node_name(next)),
            "Start a new server and have the leader add it as a learner",
            Action::AddNode { node: next },
            &props.on_act,
        )
    });
    let chips: Html = (1..=u64::from(count))
        .map(NodeId)
        .map(|id| {
            let selected = props.selected == Some(id);
            let on_select = props.on_select.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                on_select.emit(if selected { None } else { Some(id) })
            });
            html! {
                <button class={classes!("chip", selected.then_some("on"))} {onclick}
                    title={format!("Inspect {} ({})", node_name(id), id.0)}>{ node_name(id) }</button>
            }
        })
        .collect();
    let Some(id) = props.selected.filter(|id| id.0 <= u64::from(count)) else {
        return html! {
            <div class="card inspector">
                <h2>{ "Node inspector" }</h2>
                <div class="chips">{ chips }</div>
                <p class="muted">{ "Click a node in the ring (or press 1–9) to see its full state and to crash, pause, restart or time it out." }</p>
                <div class="actions">{ add }</div>
            </div>
        };
    };
    let on_act = &props.on_act;
    let paused = sim.is_paused(id);
    let Some(replica) = sim.replica(id) else {
        return html! {
            <div class="card inspector" id="inspector">
                <h2>{ format!("{} · crashed", node_name(id)) }</h2>
                <div class="chips">{ chips }</div>
                <p class="muted">{ "Powered off. What it had not fsynced is gone; a restart rebuilds it from its disk." }</p>
                <div class="actions">
                    { button("btn-restart", "Restart", "Start it again from what its disk holds (R)", Action::Restart { node: id }, on_act) }
                    { add }
                </div>
            </div>
        };
    };
    let node = replica.node();
    let status = node.status();
    let local = sim.local_time(id).unwrap_or(0);
    let is_learner = status.membership.learners().contains(&id);
    let is_member = status.membership.contains(id);
    let voters: Vec<String> = status
        .membership
        .voters()
        .into_iter()
        .map(node_name)
        .collect();
    let learners: Vec<String> = status
        .membership
        .learners()
        .into_iter()
        .map(node_name)
        .collect();
    let timer = if node.is_leader() {
        "— (leads)".to_string()
    } else {
        format!(
            "fires in {} ms",
            status.election_deadline.saturating_sub(local)
        )
    };
    let rows = [
        (
            "role",
            format!(
                "{}{}",
                status.role.name(),
                if paused { " (paused)" } else { "" }
            ),
        ),
        ("term", status.term.0.to_string()),
        ("voted for", status.vote.map_or("nobody".into(), node_name)),
        ("leader", status.leader.map_or("unknown".into(), node_name)),
        ("commit", status.commit.0.to_string()),
        ("applied", status.applied.0.to_string()),
        ("durable (fsynced)", status.persisted.0.to_string()),
        (
            "log",
            format!("{}..={}", status.first_index.0, status.last_index.0),
        ),
        ("snapshot", status.snapshot_index.0.to_string()),
        ("election timer", timer),
        ("voters", voters.join(" ")),
        (
            "learners",
            if learners.is_empty() {
                "none".into()
            } else {
                learners.join(" ")
            },
        ),
        ("keys", replica.kv().len().to_string()),
        (
            "clock",
            format!(
                "{}‰ · local {}",
                sim.clock_rate(id).unwrap_or(1_000),
                fmt_ms(local)
            ),
        ),
        (
            "started",
            format!(
                "{}×{}",
                sim.incarnation(id).unwrap_or(1),
                if sim.fsync_pending(id) {
                    " · fsync pending"
                } else {
                    ""
                }
            ),
        ),
    ];
    let progress: Html = status
        .progress
        .iter()
        .map(|(peer, p)| {
            html! {
                <tr>
                    <td>{ node_name(*peer) }</td>
                    <td>{ p.match_index.0 }</td>
                    <td>{ p.next_index.0 }</td>
                    <td>{ &p.state }</td>
                </tr>
            }
        })
        .collect();
    let transfer: Html = if node.is_leader() {
        status
            .membership
            .voters()
            .into_iter()
            .filter(|&v| v != id)
            .map(|to| {
                button(
                    &format!("btn-transfer-{}", to.0),
                    &format!("→ {}", node_name(to)),
                    &format!("Hand leadership to {}", node_name(to)),
                    Action::TransferLeadership { node: id, to },
                    on_act,
                )
            })
            .collect()
    } else {
        Html::default()
    };
    html! {
        <div class="card inspector" id="inspector">
            <h2>
                <span class={classes!("role-dot", status.role.name())}></span>
                { format!("{} · {}", node_name(id), status.role.name()) }
            </h2>
            <div class="chips">{ chips }</div>
            <div class="actions">
                { button("btn-crash", "Crash", "Power loss: unsynced writes are lost (C)", Action::Crash { node: id }, on_act) }
                if paused {
                    { button("btn-resume", "Resume", "Let it run again (P)", Action::Resume { node: id }, on_act) }
                } else {
                    { button("btn-pause", "Pause", "Freeze it, like a long GC pause (P)", Action::Pause { node: id }, on_act) }
                }
                { button("btn-timeout", "Time out", "Make its election timer fire now (T)", Action::Campaign { node: id }, on_act) }
                { button("btn-snapshot", "Snapshot", "Snapshot the state machine and compact the log (S)", Action::Snapshot { node: id }, on_act) }
                if is_learner {
                    { button("btn-promote", "Promote", "Ask the leader to make this learner a voter", Action::Promote { node: id }, on_act) }
                }
                if is_member {
                    { button("btn-remove", "Remove", "Ask the leader to take it out of the configuration", Action::Remove { node: id }, on_act) }
                }
                { add }
            </div>
            if node.is_leader() {
                <div class="actions"><span class="muted">{ "Transfer leadership:" }</span>{ transfer }</div>
            }
            <table class="kv-table">
                { rows.iter().map(|(k, v)| html! { <tr><th>{ *k }</th><td>{ v }</td></tr> }).collect::<Html>() }
            </table>
            if !status.progress.is_empty() {
                <h3>{ "Followers, as the leader sees them" }</h3>
                <table class="grid-table">
                    <tr><th>{ "peer" }</th><th>{ "match" }</th><th>{ "next" }</th><th>{ "state" }</th></tr>
                    { progress }
                </table>
            }
        </div>
    }
}
