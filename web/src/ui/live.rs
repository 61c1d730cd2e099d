//! Live mode: the page on real nodes. Owns the [`LiveCluster`], the WebSockets (one per
//! node) and the timers, and lays out the same ring, log grid, inspector, timeline and
//! history as the simulated view, plus the panels only live mode has.
//!
//! Three clocks drive it: `requestAnimationFrame` redraws the ring and its messages every
//! frame (the other panels at most about 12 times a second), a 20 ms interval keeps the
//! sockets' retries and the browser peer's Raft timers going even when no frame is drawn
//! (a background tab), and every frame from a socket is handled as it arrives, so the peer
//! answers its leader at once.

use super::browser::{self, Interval};
use super::checkers::LinState;
use super::history::History;
use super::inspector::Inspector;
use super::legend::Legend;
use super::live_panels::{AdminLog, ConnectPanel, LiveChecks, LiveClient, PeerPanel};
use super::log_grid::LogGrid;
use super::ring::Ring;
use super::shared::{node_name, ClusterRef, LiveRef};
use super::socket::{Socket, SocketEvent};
use super::timeline::Timeline;
use crate::model::live::{LiveCluster, Now, SocketCommand};
use crate::model::view::{ClusterModel, Health, LiveOp, NodeOp};
use flotilla_core::check::linearizability;
use flotilla_core::live::protocol::{AdminAction, KvOp};
use flotilla_core::types::{Millis, NodeId};
use gloo_events::EventListener;
use gloo_render::AnimationFrame;
use std::collections::BTreeMap;
use yew::prelude::*;

/// How often the slower panels refresh, in ms.
const PANEL_INTERVAL_MS: f64 = 80.0;
/// The address the connect form suggests: node 1 of `flotilla cluster`.
const DEFAULT_ADDRESS: &str = "127.0.0.1:8080";
/// The timer that keeps sockets and the browser peer going, in ms.
const TICK_MS: i32 = 20;

#[derive(Debug)]
pub enum LiveMsg {
    Frame(f64),
    Tick,
    Socket(String, SocketEvent),
    Connect(String),
    Token(String),
    Kv(KvOp, Option<NodeId>),
    Op(NodeOp),
    Select(Option<NodeId>),
    AddLearner(u64, String),
    PeerJoin,
    PeerPromote,
    PeerConfirm(bool),
    PeerRemove,
    /// The page is going away: take the peer out of the cluster first.
    PageHide,
}

#[derive(Properties, PartialEq)]
pub struct LiveProps {
    /// The node to connect to at once (`host:port`), if any.
    pub start: Option<String>,
}

/// Callbacks handed to the panels, made once (see the app's `Callbacks`).
#[derive(Clone, Debug)]
struct Callbacks {
    op: Callback<NodeOp>,
    select: Callback<Option<NodeId>>,
    connect: Callback<String>,
    token: Callback<String>,
    kv: Callback<(KvOp, Option<NodeId>)>,
    add_learner: Callback<(u64, String)>,
    join: Callback<()>,
    promote: Callback<()>,
    confirm: Callback<bool>,
    remove: Callback<()>,
    jump: Callback<Millis>,
}

#[derive(Debug)]
pub struct LiveView {
    callbacks: Callbacks,
    /// Bumped every frame: the ring.
    live: LiveRef,
    /// Bumped at most every [`PANEL_INTERVAL_MS`]: everything else.
    panels: LiveRef,
    sockets: BTreeMap<String, Socket>,
    selected: Option<NodeId>,
    display_ms: f64,
    last_panels: f64,
    lin: LinState,
    confirm_promote: bool,
    /// What the address field shows first.
    address: String,
    _frame: Option<AnimationFrame>,
    _tick: Option<Interval>,
    _pagehide: Option<EventListener>,
}

fn now() -> Now {
    let mono = browser::now_ms();
    Now {
        unix: browser::now_unix_ms().max(0.0) as u64,
        mono: mono.max(0.0) as Millis,
    }
}

impl LiveView {
    /// Carries out what the model asks of the sockets.
    fn run_commands(&mut self, ctx: &Context<Self>) {
        loop {
            let commands = self.live.borrow_mut().take_commands();
            if commands.is_empty() {
                return;
            }
            for command in commands {
                match command {
                    SocketCommand::Open(addr) => {
                        self.sockets.remove(&addr);
                        let url = format!("{}://{addr}/ws", browser::ws_scheme());
                        let key = addr.clone();
                        let on_event = ctx
                            .link()
                            .callback(move |event| LiveMsg::Socket(key.clone(), event));
                        match Socket::open(&url, on_event) {
                            Ok(socket) => {
                                self.sockets.insert(addr, socket);
                            }
                            Err(error) => self.live.borrow_mut().closed(&addr, &error, now()),
                        }
                    }
                    SocketCommand::Send(addr, text) => {
                        if let Some(socket) = self.sockets.get(&addr) {
                            socket.send(&text);
                        }
                    }
                    SocketCommand::Close(addr) => {
                        self.sockets.remove(&addr);
                    }
                }
            }
        }
    }

    fn refresh_checks(&mut self) {
        let live = self.live.borrow();
        let history = ClusterModel::history(&*live);
        let settled = history.len() - live.pending_kv();
        // Recomputed only when an operation begins or ends.
        if history.len() != self.lin.ops || settled != self.lin.completed {
            self.lin = LinState {
                ops: history.len(),
                completed: settled,
                verdict: (!history.is_empty()).then(|| linearizability::check(history)),
                too_long: false,
            };
        }
    }

    fn touch_panels(&mut self) {
        self.live = self.live.bumped();
        self.panels = self.live.clone();
        self.last_panels = browser::now_ms();
    }
}

impl Component for LiveView {
    type Message = LiveMsg;
    type Properties = LiveProps;

    fn create(ctx: &Context<Self>) -> Self {
        let link = ctx.link();
        let callbacks = Callbacks {
            op: link.callback(LiveMsg::Op),
            select: link.callback(LiveMsg::Select),
            connect: link.callback(LiveMsg::Connect),
            token: link.callback(LiveMsg::Token),
            kv: link.callback(|(op, target)| LiveMsg::Kv(op, target)),
            add_learner: link.callback(|(id, addr)| LiveMsg::AddLearner(id, addr)),
            join: link.callback(|_| LiveMsg::PeerJoin),
            promote: link.callback(|_| LiveMsg::PeerPromote),
            confirm: link.callback(LiveMsg::PeerConfirm),
            remove: link.callback(|_| LiveMsg::PeerRemove),
            // Times in the live timeline are not places to go to.
            jump: Callback::noop(),
        };
        let live = LiveRef::new(LiveCluster::new(now()));
        // A page not served by a node suggests `flotilla cluster`'s first node.
        let address = ctx
            .props()
            .start
            .clone()
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        if let Some(start) = &ctx.props().start {
            live.borrow_mut().connect(start, now());
        }
        LiveView {
            callbacks,
            panels: live.clone(),
            live,
            sockets: BTreeMap::new(),
            selected: None,
            display_ms: 0.0,
            last_panels: 0.0,
            lin: LinState::default(),
            confirm_promote: false,
            address,
            _frame: None,
            _tick: None,
            _pagehide: None,
        }
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        if first_render {
            let link = ctx.link().clone();
            self._frame = Some(gloo_render::request_animation_frame(move |t| {
                link.send_message(LiveMsg::Frame(t))
            }));
            let link = ctx.link().clone();
            self._tick = Interval::new(TICK_MS, move || link.send_message(LiveMsg::Tick));
            if let Some(window) = web_sys::window() {
                let link = ctx.link().clone();
                self._pagehide = Some(EventListener::new(&window, "pagehide", move |_| {
                    link.send_message(LiveMsg::PageHide)
                }));
            }
            self.run_commands(ctx);
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            LiveMsg::Frame(t) => {
                let link = ctx.link().clone();
                self._frame = Some(gloo_render::request_animation_frame(move |t| {
                    link.send_message(LiveMsg::Frame(t))
                }));
                let now = now();
                self.live.borrow_mut().tick(now);
                self.run_commands(ctx);
                self.display_ms = self.live.borrow().display_ms(browser::now_unix_ms());
                self.live = self.live.bumped();
                if t - self.last_panels >= PANEL_INTERVAL_MS {
                    self.panels = self.live.clone();
                    self.last_panels = t;
                    self.refresh_checks();
                }
                true
            }
            LiveMsg::Tick => {
                self.live.borrow_mut().tick(now());
                self.run_commands(ctx);
                false
            }
            LiveMsg::Socket(addr, event) => {
                let now = now();
                match event {
                    SocketEvent::Open => self.live.borrow_mut().opened(&addr, now),
                    SocketEvent::Text(text) => self.live.borrow_mut().received(&addr, &text, now),
                    SocketEvent::Closed(reason) => {
                        self.sockets.remove(&addr);
                        self.live.borrow_mut().closed(&addr, &reason, now);
                    }
                }
                self.run_commands(ctx);
                false
            }
            LiveMsg::Connect(addr) => {
                let addr = addr.trim().to_string();
                if addr.is_empty() {
                    return false;
                }
                // A new address is a new session: forget the old cluster.
                let token = self.live.borrow().token().to_string();
                self.sockets.clear();
                let mut fresh = LiveCluster::new(now());
                if !token.is_empty() {
                    fresh.set_token(&token, now());
                }
                fresh.connect(&addr, now());
                self.live = self.live.replace(fresh);
                self.address = addr.clone();
                self.selected = None;
                self.lin = LinState::default();
                browser::replace_hash(&format!("live={addr}"));
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::Token(token) => {
                self.live.borrow_mut().set_token(&token, now());
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::Kv(op, target) => {
                self.live.borrow_mut().kv(op, target, now());
                self.run_commands(ctx);
                self.refresh_checks();
                self.touch_panels();
                true
            }
            LiveMsg::Op(NodeOp::Live(LiveOp::PromotePeer)) | LiveMsg::PeerPromote => {
                self.confirm_promote = true;
                self.touch_panels();
                true
            }
            LiveMsg::Op(NodeOp::Live(op)) => {
                // A refusal is in the admin log.
                let _ = self.live.borrow_mut().op(op, now());
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::Op(NodeOp::Sim(_)) => false,
            LiveMsg::Select(node) => {
                self.selected = node;
                true
            }
            LiveMsg::AddLearner(id, address) => {
                let action = AdminAction::AddLearner {
                    id: NodeId(id),
                    address,
                };
                let _ = self.live.borrow_mut().admin(action);
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::PeerJoin => {
                let _ = self.live.borrow_mut().peer_join(now());
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::PeerConfirm(yes) => {
                self.confirm_promote = false;
                if yes {
                    let _ = self.live.borrow_mut().op(LiveOp::PromotePeer, now());
                    self.run_commands(ctx);
                }
                self.touch_panels();
                true
            }
            LiveMsg::PeerRemove => {
                let _ = self.live.borrow_mut().peer_leave();
                self.run_commands(ctx);
                self.touch_panels();
                true
            }
            LiveMsg::PageHide => {
                // Best effort: the node removes the peer when the socket closes anyway.
                let _ = self.live.borrow_mut().peer_leave();
                self.run_commands(ctx);
                false
            }
        }
    }

    fn view(&self, _ctx: &Context<Self>) -> Html {
        let cb = &self.callbacks;
        let live = self.live.borrow();
        let leader = ClusterModel::leader(&*live);
        let nodes = live.nodes();
        let reporting = nodes
            .iter()
            .filter(|n| n.health == Health::Up && !n.in_page)
            .count();
        let watched = nodes.iter().filter(|n| !n.in_page).count();
        let (summaries, omitted) = live.summary_counts();
        let delay = live.display_delay_ms();
        let problem = live.problem().map(str::to_string);
        drop(live);
        let cluster = ClusterRef::Live(self.live.clone());
        let panels = ClusterRef::Live(self.panels.clone());
        html! {
            <>
                if let Some(problem) = problem {
                    <div class="banner error" role="alert">{ problem }</div>
                }
                <div class="statusline">
                    <span class="pill live-pill">{ "live" }</span>
                    <span>{ "leader " }<b id="leader">{ leader.map_or("none".to_string(), |(l, _)| node_name(l)) }</b></span>
                    <span>{ "term " }<b id="term">{ leader.map_or("–".to_string(), |(_, t)| t.to_string()) }</b></span>
                    <span title="Nodes whose socket is open and who reported in the last seconds">
                        { "reporting " }<b id="reporting">{ format!("{reporting}/{watched}") }</b>
                    </span>
                    <span title="Message summaries the nodes streamed, and those their rate limit left out">
                        { "messages " }<b id="summaries">{ summaries }</b>
                        if omitted > 0 { { format!(" (+{omitted} not sent)") } }
                    </span>
                    <span class="fps" title="Messages are drawn this far in the past, so that both ends' reports have arrived">
                        { "drawn " }<b id="display-delay">{ format!("{delay:.0}") }</b>{ " ms behind" }
                    </span>
                </div>
                <main class="layout">
                    <aside class="col-left">
                        <ConnectPanel live={self.panels.clone()} address={self.address.clone()}
                            on_connect={cb.connect.clone()} on_token={cb.token.clone()}
                            on_add_learner={cb.add_learner.clone()} />
                        <PeerPanel live={self.panels.clone()} confirm={self.confirm_promote}
                            on_join={cb.join.clone()} on_promote={cb.promote.clone()}
                            on_confirm={cb.confirm.clone()} on_remove={cb.remove.clone()} />
                        <AdminLog live={self.panels.clone()} />
                    </aside>
                    <section class="col-centre">
                        <div class="card ring-card">
                            <Ring cluster={cluster} display_ms={self.display_ms}
                                selected={self.selected} on_select={cb.select.clone()} on_op={cb.op.clone()} />
                            <Legend />
                        </div>
                        <LogGrid cluster={panels.clone()} selected={self.selected} on_select={cb.select.clone()} />
                    </section>
                    <aside class="col-right">
                        <Inspector cluster={panels.clone()} selected={self.selected}
                            on_op={cb.op.clone()} on_select={cb.select.clone()} />
                        <LiveClient live={self.panels.clone()} on_send={cb.kv.clone()} />
                        <LiveChecks lin={self.lin.clone()} />
                    </aside>
                </main>
                <section class="bottom">
                    <Timeline cluster={panels.clone()} selected={self.selected} on_jump={cb.jump.clone()} />
                    <div class="bottom-right">
                        <History cluster={panels} lin={self.lin.clone()} />
                    </div>
                </section>
            </>
        }
    }
}
