//! The panels only live mode has: connecting (address, token, the sockets), the browser
//! peer, the admin log, the client box for real nodes and the verdict over the page's own
//! history. Each reads the live cluster at the slower panel version.

use super::checkers::LinState;
use super::client::{op_buttons, target_select};
use super::history::describe;
use super::shared::{fmt_ms, node_name, LiveRef};
use crate::model::live::{ConnState, PeerState};
use crate::model::view::{ClusterModel, Seat};
use flotilla_core::live::protocol::KvOp;
use flotilla_core::types::NodeId;
use yew::prelude::*;

/// Puts `text` in an input field (once, at mount: yew would reset a `value` attribute to
/// what the last render said on every render, undoing what the user typed).
fn fill(input: &NodeRef, text: &str) {
    if let Some(i) = input.cast::<web_sys::HtmlInputElement>() {
        i.set_value(text);
    }
}

/// What an input field holds now.
fn field(input: &NodeRef) -> String {
    input
        .cast::<web_sys::HtmlInputElement>()
        .map(|i| i.value())
        .unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct ConnectProps {
    pub live: LiveRef,
    /// What the address field starts with.
    pub address: String,
    pub on_connect: Callback<String>,
    pub on_token: Callback<String>,
    pub on_add_learner: Callback<(u64, String)>,
}

/// The connect form, the token, and every socket's state.
#[function_component(ConnectPanel)]
pub fn connect_panel(props: &ConnectProps) -> Html {
    // The fields are read when a form is sent, not on every change: a click that follows
    // typing at once must see what was typed.
    let address = use_node_ref();
    let token = use_node_ref();
    let learner_id = use_node_ref();
    let learner_addr = use_node_ref();
    {
        let address = address.clone();
        use_effect_with(props.address.clone(), move |text| fill(&address, text));
    }
    let live = props.live.borrow();
    let connect = {
        let on_connect = props.on_connect.clone();
        let address = address.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            on_connect.emit(field(&address));
        })
    };
    let use_token = {
        let on_token = props.on_token.clone();
        let token = token.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            on_token.emit(field(&token));
        })
    };
    let add_learner = {
        let on_add = props.on_add_learner.clone();
        let (id, addr) = (learner_id.clone(), learner_addr.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Ok(n) = field(&id).trim().parse::<u64>() {
                on_add.emit((n, field(&addr).trim().to_string()));
            }
        })
    };
    let now_unix = live.now_unix();
    let rows: Html = live
        .connections()
        .map(|c| {
            let (class, state) = match c.state {
                ConnState::Open if c.welcomed => ("ok", "open".to_string()),
                ConnState::Open => ("", "open, waiting for its welcome".to_string()),
                ConnState::Connecting => ("", "connecting…".to_string()),
                ConnState::Waiting if c.ever_open => (
                    "bad",
                    format!(
                        "down; retry in {:.1} s",
                        c.retry_at.saturating_sub(now_unix) as f64 / 1_000.0
                    ),
                ),
                ConnState::Waiting => (
                    "bad",
                    format!(
                        "unreachable; retry in {:.1} s",
                        c.retry_at.saturating_sub(now_unix) as f64 / 1_000.0
                    ),
                ),
                ConnState::Stopped => ("", "closed".to_string()),
            };
            html! {
                <li class={classes!("conn", class)} data-addr={c.addr.clone()}>
                    <b>{ c.node.map_or("?".to_string(), node_name) }</b>
                    <code>{ &c.addr }</code>
                    <span class="muted">{ state }</span>
                    if c.authed { <span class="pill ok" title="This socket presented the cluster token">{ "admin" }</span> }
                    if let Some(note) = &c.note { <span class="muted small">{ note }</span> }
                </li>
            }
        })
        .collect();
    let has_token = !live.token().is_empty();
    let token_state = if !has_token {
        html! { <span id="token-state" class="muted small">{ "No token: watching and client requests only. Faults and browser peers need the cluster token (flotilla cluster prints it)." }</span> }
    } else if live.authed() {
        html! { <span id="token-state" class="pill ok">{ "token accepted" }</span> }
    } else {
        html! { <span id="token-state" class="pill bad">{ "token not accepted" }</span> }
    };
    html! {
        <div class="card connect" id="connect">
            <h2>{ "Live cluster" }</h2>
            <form class="row" onsubmit={connect}>
                <input id="live-address" class="grow" ref={address}
                    placeholder="host:port of any node's web port" aria-label="Node address" />
                <button id="live-connect" class="btn primary small" type="submit">{ "Connect" }</button>
            </form>
            <form class="row" onsubmit={use_token}>
                <input id="live-token" class="grow" type="password" ref={token}
                    placeholder="cluster token" aria-label="Cluster token" autocomplete="off" />
                <button id="live-token-use" class="btn small" type="submit">{ "Use token" }</button>
            </form>
            { token_state }
            <ul id="connections" class="conns">{ rows }</ul>
            <details class="add-learner">
                <summary class="muted small">{ "Add a learner (a node you started)" }</summary>
                <form class="row" onsubmit={add_learner}>
                    <input id="add-learner-id" class="short" ref={learner_id} placeholder="id" aria-label="New node id" />
                    <input id="add-learner-addr" class="grow" ref={learner_addr} placeholder="its raft host:port" aria-label="Its Raft address" />
                    <button id="add-learner" class="btn small" type="submit" disabled={!has_token}>{ "Add" }</button>
                </form>
            </details>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct PeerProps {
    pub live: LiveRef,
    pub confirm: bool,
    pub on_join: Callback<()>,
    pub on_promote: Callback<()>,
    pub on_confirm: Callback<bool>,
    pub on_remove: Callback<()>,
}

/// The page's own Raft peer: join, watch it catch up, promote it, remove it.
#[function_component(PeerPanel)]
pub fn peer_panel(props: &PeerProps) -> Html {
    let live = props.live.borrow();
    let has_token = !live.token().is_empty();
    let leader_commit = ClusterModel::leader(&*live)
        .and_then(|(l, _)| live.status_of(l))
        .map(|s| s.commit.0);
    let body = match live.peer() {
        PeerState::None => html! {
            <>
                <p class="muted small">{ "Run a Raft peer in this page: the same core, in memory, on this browser's clock. It joins as a learner through the node this page is connected to, which relays its messages, and catches up." }</p>
                <button id="peer-join" class="btn primary small" disabled={!has_token}
                    onclick={props.on_join.reform(|_: MouseEvent| ())}
                    title={if has_token { "Add a learner hosted in this page" } else { "Needs the cluster token" }}>
                    { "+ Add a browser peer" }
                </button>
            </>
        },
        PeerState::Joining { .. } => {
            html! { <p id="peer-state" class="muted">{ "asking the cluster to add it…" }</p> }
        }
        PeerState::Running(peer) => {
            let id = peer.peer.id();
            let status = live.status_of(id);
            let seat = live.members().iter().find(|m| m.id == id).map(|m| {
                if m.voter {
                    Seat::Voter
                } else {
                    Seat::Learner
                }
            });
            let commit = status.map_or(0, |s| s.commit.0);
            let role = status.map_or("", |s| s.role.name());
            let seat_name = match seat {
                Some(Seat::Voter) => "voter",
                Some(_) => "learner",
                None => "joining",
            };
            let caught_up = leader_commit.is_some_and(|c| commit >= c);
            html! {
                <>
                    <p id="peer-state">
                        <b id="peer-id">{ node_name(id) }</b>{ " runs in this page as a " }
                        <b id="peer-seat">{ seat_name }</b>{ format!(" ({role}), relayed by {}", peer.relay_node.map_or(peer.relay.clone(), node_name)) }
                    </p>
                    <p class="small">
                        { "commit " }<b id="peer-commit">{ commit }</b>
                        { " · leader's " }<b id="leader-commit">{ leader_commit.map_or("–".to_string(), |c| c.to_string()) }</b>
                        { " · log " }{ status.map_or("–".to_string(), |s| format!("{}..={}", s.first_index.0, s.last_index.0)) }
                        { " · since " }{ fmt_ms(peer.joined_ms) }
                        if caught_up { <span class="pill ok" id="peer-caught-up">{ "caught up" }</span> }
                    </p>
                    if props.confirm {
                        <div class="confirm" role="alertdialog" id="peer-confirm">
                            <p>{ "A voter counts towards every quorum. While this page's peer is a voter, closing or reloading the page, or the computer sleeping, costs the cluster a voter until the peer is removed: with three voters, one more failure stops all writes. It reaches the cluster only through the node this page is connected to, so if that node goes down the cluster loses two voters at once. Its storage is memory only." }</p>
                            <button id="peer-promote-confirm" class="btn small danger" onclick={props.on_confirm.reform(|_: MouseEvent| true)}>{ "Promote anyway" }</button>
                            <button id="peer-promote-cancel" class="btn small" onclick={props.on_confirm.reform(|_: MouseEvent| false)}>{ "Cancel" }</button>
                        </div>
                    }
                    <div class="actions">
                        if seat == Some(Seat::Learner) && !props.confirm {
                            <button id="peer-promote" class="btn small warn" disabled={!has_token}
                                onclick={props.on_promote.reform(|_: MouseEvent| ())}>{ "Promote to voter…" }</button>
                        }
                        <button id="peer-remove" class="btn small" disabled={peer.leaving}
                            onclick={props.on_remove.reform(|_: MouseEvent| ())}>
                            { if peer.leaving { "Removing…" } else { "Remove" } }
                        </button>
                    </div>
                </>
            }
        }
    };
    html! {
        <div class="card peer" id="peer">
            <h2>{ "Browser peer" }</h2>
            { body }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct AdminLogProps {
    pub live: LiveRef,
}

/// What the page asked of the nodes and what they answered.
#[function_component(AdminLog)]
pub fn admin_log(props: &AdminLogProps) -> Html {
    let live = props.live.borrow();
    let lines: Html = live
        .admin_log()
        .iter()
        .rev()
        .take(12)
        .map(|l| {
            let class = match l.ok {
                Some(true) => "ok",
                Some(false) => "refused",
                None => "asked",
            };
            html! {
                <li class={classes!("admin-line", class)}>
                    <span class="ev-time">{ fmt_ms(l.at_ms) }</span>{ " " }{ &l.text }
                </li>
            }
        })
        .collect();
    html! {
        <div class="card admin">
            <h2>{ "Admin" }</h2>
            if live.admin_log().is_empty() {
                <p class="muted small">{ "Faults, membership changes and the nodes' answers show here." }</p>
            } else {
                <ul id="admin-log" class="admin-log">{ lines }</ul>
            }
        </div>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Delete,
}

#[derive(Properties, PartialEq)]
pub struct LiveClientProps {
    pub live: LiveRef,
    pub on_send: Callback<(KvOp, Option<NodeId>)>,
}

/// Put, get and delete against the real cluster, as its client.
#[function_component(LiveClient)]
pub fn live_client(props: &LiveClientProps) -> Html {
    let op = use_state(|| Op::Put);
    let target = use_state(|| 0u64);
    let key = use_node_ref();
    let value = use_node_ref();
    {
        let (key, value) = (key.clone(), value.clone());
        use_effect_with((), move |_| {
            fill(&key, "x");
            fill(&value, "1");
        });
    }
    let live = props.live.borrow();
    let leader = ClusterModel::leader(&*live).map(|(l, _)| l);
    let ids: Vec<NodeId> = live
        .nodes()
        .iter()
        .filter(|n| !n.in_page)
        .map(|n| n.id)
        .collect();
    let recent: Vec<Html> = ClusterModel::history(&*live)
        .iter()
        .rev()
        .take(4)
        .map(|o| html! { <li>{ describe(o) }</li> })
        .collect();
    let send = {
        let on_send = props.on_send.clone();
        let (op, target, key, value) = (*op, *target, key.clone(), value.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let key = field(&key);
            let kv = match op {
                Op::Put => KvOp::Put {
                    key,
                    value: field(&value),
                },
                Op::Get => KvOp::Get { key },
                Op::Delete => KvOp::Delete { key },
            };
            on_send.emit((kv, (target != 0).then_some(NodeId(target))));
        })
    };
    let pending = live.pending_kv();
    html! {
        <div class="card client">
            <div class="card-head">
                <h2>{ "Client" }</h2>
                if pending > 0 { <span class="pill">{ format!("{pending} waiting") }</span> }
            </div>
            <form class="client-form" onsubmit={send}>
                <div class="seg">
                    { op_buttons(&[(Op::Put, "put"), (Op::Get, "get"), (Op::Delete, "delete")], &op) }
                </div>
                <div class="row">
                    <label>{ "via " }
                        { target_select(&target, leader, ids.iter().copied()) }
                    </label>
                    <input id="client-key" class="short" ref={key} placeholder="key" aria-label="key" />
                    <input id="client-value" class={classes!("short", (*op != Op::Put).then_some("hidden"))} ref={value}
                        placeholder="value" aria-label="value" />
                    <button id="client-send" class="btn primary small" type="submit">{ "Send" }</button>
                </div>
            </form>
            <p class="muted small">{ "A node forwards the request to the leader; the answer says whether it took effect (ok), surely did not (failed), or may have (unknown)." }</p>
            if !recent.is_empty() {
                <ul class="recent" id="client-recent">{ for recent }</ul>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct LiveChecksProps {
    pub lin: LinState,
}

/// The linearizability verdict over the page's own requests.
#[function_component(LiveChecks)]
pub fn live_checks(props: &LiveChecksProps) -> Html {
    let (class, text) = props.lin.verdict_line();
    html! {
        <div class={classes!("card", "checkers", (class == "bad").then_some("alarm"))} id="checkers">
            <div class="card-head">
                <h2>{ "Checks" }</h2>
                <span id="safety" class={classes!("pill", if class == "bad" { "bad" } else { "ok" })}>
                    { if class == "bad" { "VIOLATED" } else { "holds" } }
                </span>
            </div>
            <ul class="checks">
                <li class={classes!("check", class)} id="check-linearizability">
                    <span class="check-mark">{ if class == "bad" { "✗" } else { "✓" } }</span>
                    <span class="check-name">{ "linearizability" }</span>
                    <span class="check-promise" id="lin-verdict">{ text }</span>
                </li>
            </ul>
            <p class="muted small">{ "Over this page's own requests, with the core's checker. The cluster's other clients are not seen: use keys nobody else writes, or their writes will look like violations." }</p>
        </div>
    }
}
