//! The node inspector: everything one node knows (role, term, vote, indexes, membership,
//! its leader's view of every follower) and what can be done to it. The rows and the
//! buttons come from the cluster (simulated or live), which knows what it can do.

use super::shared::{node_name, ClusterRef};
use crate::model::view::{NodeOp, OpButton};
use flotilla_core::types::NodeId;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub cluster: ClusterRef,
    pub selected: Option<NodeId>,
    pub on_op: Callback<NodeOp>,
    pub on_select: Callback<Option<NodeId>>,
}

fn button(b: &OpButton, on_op: &Callback<NodeOp>) -> Html {
    let on_op = on_op.clone();
    let op = b.op.clone();
    let onclick = Callback::from(move |_: MouseEvent| on_op.emit(op.clone()));
    html! {
        <button id={b.id.clone()} class={classes!("btn", "small", b.danger.then_some("warn"))}
            title={b.title.clone()} disabled={!b.enabled} {onclick}>{ &b.label }</button>
    }
}

#[function_component(Inspector)]
pub fn inspector(props: &InspectorProps) -> Html {
    let (ids, extra, inspection) = props.cluster.with(|c| {
        let ids: Vec<NodeId> = c.nodes().iter().map(|v| v.id).collect();
        let selected = props.selected.filter(|id| ids.contains(id));
        (
            ids,
            c.cluster_buttons(),
            selected.map(|id| (id, c.inspect(id))),
        )
    });
    let on_op = &props.on_op;
    let add: Html = extra.iter().map(|b| button(b, on_op)).collect();
    let chips: Html = ids
        .iter()
        .map(|&id| {
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
    let Some((id, inspection)) = inspection else {
        return html! {
            <div class="card inspector">
                <h2>{ "Node inspector" }</h2>
                <div class="chips">{ chips }</div>
                <p class="muted">{ "Click a node in the ring (or press 1–9) to see its full state and to crash, pause, restart or time it out." }</p>
                <div class="actions">{ add }</div>
            </div>
        };
    };
    let buttons: Html = inspection
        .buttons
        .iter()
        .map(|b| button(b, on_op))
        .collect();
    let transfer: Html = inspection
        .transfer
        .iter()
        .map(|b| button(b, on_op))
        .collect();
    let progress: Html = inspection
        .progress
        .iter()
        .map(|p| {
            html! {
                <tr>
                    <td>{ node_name(p.peer) }</td>
                    <td>{ p.match_index }</td>
                    <td>{ p.next_index }</td>
                    <td>{ &p.state }</td>
                </tr>
            }
        })
        .collect();
    html! {
        <div class="card inspector" id="inspector">
            <h2>
                <span class={classes!("role-dot", inspection.state.replace(' ', "-"))}></span>
                { format!("{} · {}", node_name(id), inspection.state) }
            </h2>
            <div class="chips">{ chips }</div>
            if let Some(note) = &inspection.note {
                <p class="muted">{ note }</p>
            }
            <div class="actions">
                { buttons }
                { add }
            </div>
            if !inspection.transfer.is_empty() {
                <div class="actions"><span class="muted">{ "Transfer leadership:" }</span>{ transfer }</div>
            }
            if !inspection.rows.is_empty() {
                <table class="kv-table">
                    { inspection.rows.iter().map(|(k, v)| html! { <tr><th>{ k }</th><td>{ v }</td></tr> }).collect::<Html>() }
                </table>
            }
            if !inspection.progress.is_empty() {
                <h3>{ "Followers, as the leader sees them" }</h3>
                <table class="grid-table">
                    <tr><th>{ "peer" }</th><th>{ "match" }</th><th>{ "next" }</th><th>{ "state" }</th></tr>
                    { progress }
                </table>
            }
        </div>
    }
}
