//! The client box: send a get, put, delete or compare-and-set to a node of your choice
//! (a follower answers "not leader", as a real one would), and the autopilot, the
//! simulator's own clients, which retry and follow leader hints.

use super::history::describe;
use super::shared::{node_name, SessionRef};
use flotilla_core::sim::workload::CONSOLE;
use flotilla_core::sim::{Action, ClientCommand};
use flotilla_core::types::NodeId;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ClientProps {
    pub session: SessionRef,
    pub on_act: Callback<Action>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Delete,
    Cas,
}

/// The row of operation buttons (`seg-btn`), one per `(op, label)`, the current one lit.
pub(super) fn op_buttons<T: Copy + PartialEq + 'static>(
    ops: &[(T, &'static str)],
    current: &UseStateHandle<T>,
) -> Html {
    ops.iter()
        .map(|&(op, label)| {
            let state = current.clone();
            let onclick = Callback::from(move |_: MouseEvent| state.set(op));
            html! {
                <button type="button" class={classes!("seg-btn", (**current == op).then_some("on"))} {onclick}>{ label }</button>
            }
        })
        .collect()
}

/// The `#client-node` picker: "the leader" (0) or one of `ids`.
pub(super) fn target_select(
    target: &UseStateHandle<u64>,
    leader: Option<NodeId>,
    ids: impl IntoIterator<Item = NodeId>,
) -> Html {
    let onchange = {
        let target = target.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            target.set(select.value().parse().unwrap_or(0));
        })
    };
    let options: Html = ids
        .into_iter()
        .map(|i| html! { <option value={i.0.to_string()} selected={**target == i.0}>{ node_name(i) }</option> })
        .collect();
    html! {
        <select id="client-node" {onchange}>
            <option value="0" selected={**target == 0}>{ format!("leader ({})", leader.map_or("none".into(), node_name)) }</option>
            { options }
        </select>
    }
}

fn value_of(e: &Event) -> String {
    let input: web_sys::HtmlInputElement = e.target_unchecked_into();
    input.value()
}

#[function_component(ClientBox)]
pub fn client_box(props: &ClientProps) -> Html {
    let op = use_state(|| Op::Put);
    // 0 means "the leader".
    let target = use_state(|| 0u64);
    let key = use_state(|| "x".to_string());
    let value = use_state(|| "1".to_string());
    let expected = use_state(String::new);
    let session = props.session.borrow();
    let n = session.sim().node_count();
    let leader = session.leader();
    let autopilot = session.autopilot();
    let node = if *target == 0 {
        leader.unwrap_or(NodeId(1))
    } else {
        NodeId(*target)
    };
    let recent: Vec<Html> = session
        .sim()
        .history()
        .iter()
        .rev()
        .filter(|o| o.client == u64::from(CONSOLE))
        .take(4)
        .map(|o| html! { <li>{ describe(o) }</li> })
        .collect();
    let command = {
        let (key, value, expected) = ((*key).clone(), (*value).clone(), (*expected).clone());
        let opt = |s: String| (!s.is_empty()).then_some(s);
        match *op {
            Op::Put => ClientCommand::Put { key, value },
            Op::Get => ClientCommand::Get { key },
            Op::Delete => ClientCommand::Delete { key },
            Op::Cas => ClientCommand::Cas {
                key,
                expected: opt(expected),
                new: opt(value),
            },
        }
    };
    let send = {
        let on_act = props.on_act.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            on_act.emit(Action::Request {
                node,
                command: command.clone(),
            });
        })
    };
    let on_key = {
        let key = key.clone();
        Callback::from(move |e: Event| key.set(value_of(&e)))
    };
    let on_value = {
        let value = value.clone();
        Callback::from(move |e: Event| value.set(value_of(&e)))
    };
    let on_expected = {
        let expected = expected.clone();
        Callback::from(move |e: Event| expected.set(value_of(&e)))
    };
    let toggle_autopilot = {
        let on_act = props.on_act.clone();
        Callback::from(move |_: MouseEvent| on_act.emit(Action::Autopilot { on: !autopilot }))
    };
    html! {
        <div class="card client">
            <div class="card-head">
                <h2>{ "Client" }</h2>
                <button id="autopilot" class={classes!("btn", "small", autopilot.then_some("on"))} onclick={toggle_autopilot}
                    title="Simulated clients that put, get, delete and compare-and-set, with retries (A)">
                    { if autopilot { "Autopilot on" } else { "Autopilot off" } }
                </button>
            </div>
            <form class="client-form" onsubmit={send}>
                <div class="seg">
                    { op_buttons(&[(Op::Put, "put"), (Op::Get, "get"), (Op::Delete, "delete"), (Op::Cas, "cas")], &op) }
                </div>
                <div class="row">
                    <label>{ "to " }
                        { target_select(&target, leader, (1..=u64::from(n)).map(NodeId)) }
                    </label>
                    <input id="client-key" class="short" value={(*key).clone()} onchange={on_key} placeholder="key" aria-label="key" />
                    if *op == Op::Cas {
                        <input id="client-expected" class="short" value={(*expected).clone()} onchange={on_expected} placeholder="expected (empty: absent)" aria-label="expected value" />
                    }
                    if matches!(*op, Op::Put | Op::Cas) {
                        <input id="client-value" class="short" value={(*value).clone()} onchange={on_value} placeholder="value" aria-label="value" />
                    }
                    <button id="client-send" class="btn primary small" type="submit">{ "Send" }</button>
                </div>
            </form>
            if !recent.is_empty() {
                <ul class="recent">{ for recent }</ul>
            }
        </div>
    }
}
