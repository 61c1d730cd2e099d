//! The page: owns the session, drives it from `requestAnimationFrame`, and lays out the
//! panels.
//!
//! Simulation and drawing are decoupled: each frame moves the display clock by the real
//! time elapsed times the speed, simulates up to it in virtual time (however many events
//! that takes, or, at "max", as many as fit in a frame's budget), then draws once. The ring
//! redraws every frame; the other panels at most ~12 times a second while playing, since
//! nobody reads a log grid at 60 fps and re-rendering them is the page's main cost.

use super::browser;
use super::checkers::{Checkers, LinState};
use super::client::ClientBox;
use super::controls::{Mark, Transport, SPEEDS};
use super::help::Help;
use super::history::History;
use super::inspector::Inspector;
use super::kv::KvView;
use super::legend::Legend;
use super::live::LiveView;
use super::log_grid::LogGrid;
use super::logo::Logo;
use super::network::NetworkPanel;
use super::ring::Ring;
use super::scenarios::{Narration, ScenarioPanel};
use super::settings::Settings;
use super::shared::{ClusterRef, SessionRef};
use super::timeline::Timeline;
use crate::model::defaults::{page_options, DEFAULT_NODES, DEFAULT_SEED};
use crate::model::replay::{self, Link};
use crate::model::scenarios::{self as library, Step};
use crate::model::session::{Detail, Run, Session};
use crate::model::view::NodeOp;
use flotilla_core::check::linearizability;
use flotilla_core::sim::Action;
use flotilla_core::types::{Millis, NodeId};
use gloo_events::{EventListener, EventListenerOptions};
use gloo_render::AnimationFrame;
use std::collections::VecDeque;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The speed a fresh page plays at (1/5x: a leader within about a second and a half,
/// messages slow enough to follow).
const DEFAULT_SPEED: usize = 4;
/// A frame longer than this (a background tab, a long seek) does not fast-forward the run.
const FRAME_MAX_MS: f64 = 100.0;
/// How often the slower panels refresh while playing, in real ms.
const PANEL_INTERVAL_MS: f64 = 80.0;
/// How often the linearizability verdict is recomputed while playing, in real ms.
const CHECK_INTERVAL_MS: f64 = 1_000.0;
/// Past this many client operations, the live linearizability check stops (it would take
/// tens of milliseconds a frame); a replay link still reproduces the run for an offline one.
const LIN_OPS_MAX: usize = 50_000;
/// At "max" speed, how much of each frame goes to simulating, in real ms.
const MAX_SPEED_BUDGET_MS: f64 = 12.0;

/// What the page shows: the simulator, or real nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Simulated,
    Live,
}

#[derive(Debug)]
pub enum Msg {
    Frame(f64),
    Mode(Mode),
    /// A Flotilla node served this page (its `host:port`).
    ServedByNode(String),
    TogglePlay,
    Step,
    Speed(usize),
    Seek(Millis),
    Act(Action),
    /// A button of a panel shared with live mode.
    Op(NodeOp),
    Select(Option<NodeId>),
    NewRun(Run),
    Scenario(&'static str),
    Continue,
    CloseNarration,
    Key(web_sys::KeyboardEvent),
    /// The URL fragment changed (a link pasted into the address bar of an open page).
    HashChanged,
    CopyLink,
    ToggleTheme,
    ToggleHelp,
}

/// The callbacks handed to the panels, made once: a callback compares equal only to itself,
/// so making new ones in every `view` would make every panel's props "change" every frame
/// and re-render it.
#[derive(Clone, Debug)]
struct Callbacks {
    act: Callback<Action>,
    op: Callback<NodeOp>,
    select: Callback<Option<NodeId>>,
    seek: Callback<Millis>,
    toggle: Callback<()>,
    step: Callback<()>,
    speed: Callback<usize>,
    run: Callback<Run>,
    pick: Callback<&'static str>,
    resume: Callback<()>,
    close_narration: Callback<()>,
    help: Callback<()>,
}

impl Callbacks {
    fn new(link: &yew::html::Scope<App>) -> Callbacks {
        Callbacks {
            act: link.callback(Msg::Act),
            op: link.callback(Msg::Op),
            select: link.callback(Msg::Select),
            seek: link.callback(Msg::Seek),
            toggle: link.callback(|_| Msg::TogglePlay),
            step: link.callback(|_| Msg::Step),
            speed: link.callback(Msg::Speed),
            run: link.callback(Msg::NewRun),
            pick: link.callback(Msg::Scenario),
            resume: link.callback(|_| Msg::Continue),
            close_narration: link.callback(|_| Msg::CloseNarration),
            help: link.callback(|_| Msg::ToggleHelp),
        }
    }
}

/// Frame times, for the fps read-out the performance test reads.
#[derive(Debug, Default)]
struct FrameMeter {
    times: VecDeque<f64>,
}

impl FrameMeter {
    fn tick(&mut self, t: f64) {
        self.times.push_back(t);
        while self.times.len() > 61 {
            self.times.pop_front();
        }
    }

    fn fps(&self) -> f64 {
        match (self.times.front(), self.times.back()) {
            (Some(a), Some(b)) if self.times.len() > 1 && b > a => {
                (self.times.len() - 1) as f64 * 1_000.0 / (b - a)
            }
            _ => 0.0,
        }
    }
}

#[derive(Debug)]
pub struct App {
    callbacks: Callbacks,
    mode: Mode,
    /// The node live mode connects to first (the one that served the page, or a link's).
    live_start: Option<String>,
    /// Whether the simulation played before switching to live mode.
    was_playing: bool,
    session: SessionRef,
    /// The same session at a version bumped less often: what the slower panels see.
    panels: SessionRef,
    playing: bool,
    speed: usize,
    /// The virtual time drawn, in ms; the simulator is at its floor.
    display_ms: f64,
    last_frame: Option<f64>,
    last_panels: f64,
    selected: Option<NodeId>,
    dark: bool,
    help: bool,
    narration: Option<Narration>,
    error: Option<String>,
    copied_at: Option<f64>,
    frames: FrameMeter,
    /// When the current frame's work began, and the average work per frame (simulating,
    /// diffing, painting the canvas) in ms: the page's own cost, whatever the browser adds.
    frame_started: Option<f64>,
    frame_cost_ms: f64,
    lin: LinState,
    lin_checked_at: f64,
    _frame: Option<AnimationFrame>,
    _keys: Option<EventListener>,
    _hash: Option<EventListener>,
}

fn default_run() -> Run {
    Run {
        seed: DEFAULT_SEED,
        options: page_options(DEFAULT_NODES),
        tape: Vec::new(),
    }
}

impl App {
    fn link(&self) -> String {
        let session = self.session.borrow();
        let link = Link {
            run: session.run().clone(),
            at_ms: session.now(),
        };
        format!("{}#{}", browser::base_url(), replay::encode(&link))
    }

    fn remember_in_url(&self) {
        let session = self.session.borrow();
        let link = Link {
            run: session.run().clone(),
            at_ms: session.now(),
        };
        browser::replace_hash(&replay::encode(&link));
    }

    /// Marks the session changed for every panel.
    fn touch(&mut self) {
        self.session = self.session.bumped();
        self.panels = self.session.clone();
        self.last_panels = browser::now_ms();
    }

    fn start(&mut self, run: Run, at_ms: Millis, play: bool) {
        match Session::new(run) {
            Ok(mut session) => {
                if let Err(error) = session.seek(at_ms) {
                    self.error = Some(error);
                }
                self.display_ms = session.now() as f64;
                self.session = self.session.replace(session);
                self.panels = self.session.clone();
                self.playing = play;
                self.selected = None;
                self.lin = LinState::default();
                self.refresh_checks();
                self.error = None;
            }
            Err(error) => self.error = Some(format!("cannot start this run: {error}")),
        }
    }

    fn refresh_checks(&mut self) {
        let session = self.session.borrow();
        let history = session.sim().history();
        // The check takes about 1 ms per 1,000 operations; past this it would stall frames.
        if history.len() > LIN_OPS_MAX {
            self.lin.ops = history.len();
            self.lin.too_long = true;
            return;
        }
        if history.len() != self.lin.ops
            || history.iter().filter(|o| o.complete.is_some()).count() != self.lin.completed
        {
            self.lin = LinState {
                ops: history.len(),
                completed: history.iter().filter(|o| o.complete.is_some()).count(),
                verdict: Some(linearizability::check(history)),
                too_long: false,
            };
        }
        self.lin_checked_at = browser::now_ms();
    }

    fn seek(&mut self, t: Millis) {
        let result = self.session.borrow_mut().seek(t);
        if let Err(error) = result {
            self.error = Some(error);
        }
        self.display_ms = self.session.borrow().now() as f64;
        if let Some(narration) = &mut self.narration {
            narration.rewind_to(t);
        }
        self.refresh_checks();
        self.touch();
    }

    fn act(&mut self, action: Action) {
        // Acting at the displayed time: the simulator is at its floor already.
        self.session.borrow_mut().act(action);
        self.display_ms = self.display_ms.max(self.session.borrow().now() as f64);
        self.refresh_checks();
        self.touch();
        self.remember_in_url();
    }

    fn frame(&mut self, t: f64) -> bool {
        self.frames.tick(t);
        if self.mode == Mode::Live {
            self.last_frame = Some(t);
            return false;
        }
        let dt = self
            .last_frame
            .map_or(0.0, |last| (t - last).clamp(0.0, FRAME_MAX_MS));
        self.last_frame = Some(t);
        if !self.playing {
            return false;
        }
        let (speed, _) = SPEEDS[self.speed];
        if speed.is_infinite() {
            let start = browser::now_ms();
            let mut left = || browser::now_ms() - start < MAX_SPEED_BUDGET_MS;
            // Even at full speed, a narrated scenario stops at its next step.
            let stop = self.narration.as_ref().and_then(|n| n.next_stop());
            let limit = stop.unwrap_or(Millis::MAX);
            let reached = self.session.borrow_mut().run_for(limit, &mut left);
            self.display_ms = reached as f64;
            if let Some(stop) = stop.filter(|&s| reached >= s) {
                self.playing = false;
                if let Some(n) = &mut self.narration {
                    n.reached(stop);
                }
            }
        } else {
            let mut target = self.display_ms + dt * speed;
            // A narrated scenario stops at its next step.
            if let Some(stop) = self.narration.as_ref().and_then(|n| n.next_stop()) {
                if target >= stop as f64 && self.display_ms <= stop as f64 {
                    target = stop as f64;
                    self.playing = false;
                    if let Some(n) = &mut self.narration {
                        n.reached(stop);
                    }
                }
            }
            self.display_ms = target;
            let detail = if speed <= 2.0 {
                Detail::Every
            } else {
                Detail::Tail
            };
            self.session
                .borrow_mut()
                .advance_to(target.floor() as Millis, detail);
        }
        if self.session.borrow().finished() {
            self.playing = false;
            self.display_ms = self.session.borrow().now() as f64;
        }
        self.session = self.session.bumped();
        if t - self.last_panels >= PANEL_INTERVAL_MS || !self.playing {
            self.panels = self.session.clone();
            self.last_panels = t;
        }
        if t - self.lin_checked_at >= CHECK_INTERVAL_MS || !self.playing {
            self.refresh_checks();
        }
        if !self.playing {
            self.remember_in_url();
        }
        true
    }

    fn target_node(&self) -> Option<NodeId> {
        self.selected.or_else(|| self.session.borrow().leader())
    }

    fn key(&mut self, ctx: &Context<Self>, event: &web_sys::KeyboardEvent) -> bool {
        if browser::typing() || event.ctrl_key() || event.meta_key() || event.alt_key() {
            return false;
        }
        if self.mode == Mode::Live && !matches!(event.key().as_str(), "?" | "d" | "Escape") {
            return false;
        }
        let link = ctx.link();
        let node = self.target_node();
        let on_node = |make: fn(NodeId) -> Action| node.map(|n| Msg::Act(make(n)));
        let msg = match event.key().as_str() {
            " " | "k" => Some(Msg::TogglePlay),
            "." | "ArrowRight" => Some(Msg::Step),
            "ArrowLeft" => {
                let now = self.session.borrow().now();
                Some(Msg::Seek(now.saturating_sub(50)))
            }
            "+" | "=" => Some(Msg::Speed((self.speed + 1).min(SPEEDS.len() - 1))),
            "-" | "_" => Some(Msg::Speed(self.speed.saturating_sub(1))),
            "?" => Some(Msg::ToggleHelp),
            "Escape" => {
                self.help = false;
                Some(Msg::Select(None))
            }
            "c" => on_node(|node| Action::Crash { node }),
            "r" => on_node(|node| Action::Restart { node }),
            "p" => node.map(|node| {
                if self.session.borrow().sim().is_paused(node) {
                    Msg::Act(Action::Resume { node })
                } else {
                    Msg::Act(Action::Pause { node })
                }
            }),
            "t" => on_node(|node| Action::Campaign { node }),
            "s" => on_node(|node| Action::Snapshot { node }),
            "h" => Some(Msg::Act(Action::Heal)),
            "a" => {
                let on = !self.session.borrow().autopilot();
                Some(Msg::Act(Action::Autopilot { on }))
            }
            "l" => Some(Msg::CopyLink),
            "d" => Some(Msg::ToggleTheme),
            key if key.len() == 1 && key.as_bytes()[0].is_ascii_digit() => {
                let i = u64::from(key.as_bytes()[0] - b'0');
                let n = u64::from(self.session.borrow().sim().node_count());
                (1..=n).contains(&i).then_some(Msg::Select(Some(NodeId(i))))
            }
            _ => None,
        };
        match msg {
            Some(msg) => {
                event.prevent_default();
                link.send_message(msg);
                false
            }
            None => false,
        }
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let dark = browser::initial_dark();
        browser::set_dark(dark);
        let placeholder = Session::new(default_run()).expect("the page's defaults are valid");
        let session = SessionRef::new(placeholder);
        let mut app = App {
            callbacks: Callbacks::new(ctx.link()),
            mode: Mode::Simulated,
            live_start: None,
            was_playing: true,
            panels: session.clone(),
            session,
            playing: true,
            speed: DEFAULT_SPEED,
            display_ms: 0.0,
            last_frame: None,
            last_panels: 0.0,
            selected: None,
            dark,
            help: false,
            narration: None,
            error: None,
            copied_at: None,
            frames: FrameMeter::default(),
            frame_started: None,
            frame_cost_ms: 0.0,
            lin: LinState::default(),
            lin_checked_at: 0.0,
            _frame: None,
            _keys: None,
            _hash: None,
        };
        let fragment = browser::location_hash();
        if fragment == "live" || fragment.starts_with("live=") {
            // A live link: `#live` (the node that served the page) or `#live=host:port`.
            let start = fragment
                .strip_prefix("live=")
                .map(str::to_string)
                .unwrap_or_else(browser::location_host);
            app.mode = Mode::Live;
            app.playing = false;
            app.live_start = Some(start);
        } else if fragment.is_empty() {
            // Served by a node: watch that node's cluster.
            let link = ctx.link().clone();
            browser::probe_node(move |host| link.send_message(Msg::ServedByNode(host)));
        } else {
            // A replay link: rebuild the run, stop at its time, wait for the user.
            match replay::decode(&fragment, &page_options(DEFAULT_NODES)) {
                Ok(link) => app.start(link.run, link.at_ms, false),
                Err(error) => app.error = Some(format!("this link cannot be replayed: {error}")),
            }
        }
        app
    }

    fn rendered(&mut self, ctx: &Context<Self>, first_render: bool) {
        if let Some(start) = self.frame_started.take() {
            let cost = browser::now_ms() - start;
            self.frame_cost_ms = 0.9 * self.frame_cost_ms + 0.1 * cost;
        }
        if first_render {
            let link = ctx.link().clone();
            self._frame = Some(gloo_render::request_animation_frame(move |t| {
                link.send_message(Msg::Frame(t))
            }));
            if let Some(window) = web_sys::window() {
                // The page writes its own fragment with replaceState, which fires no
                // hashchange: this only hears links pasted or followed by the user.
                let link = ctx.link().clone();
                self._hash = Some(EventListener::new(&window, "hashchange", move |_| {
                    link.send_message(Msg::HashChanged)
                }));
            }
            if let Some(document) = web_sys::window().and_then(|w| w.document()) {
                let link = ctx.link().clone();
                // Not passive: the handler cancels the keys it uses (space would scroll).
                let options = EventListenerOptions::enable_prevent_default();
                self._keys = Some(EventListener::new_with_options(
                    &document,
                    "keydown",
                    options,
                    move |event| {
                        if let Some(event) = event.dyn_ref::<web_sys::KeyboardEvent>() {
                            link.send_message(Msg::Key(event.clone()));
                        }
                    },
                ));
            }
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Frame(t) => {
                self.frame_started = Some(browser::now_ms());
                let link = ctx.link().clone();
                self._frame = Some(gloo_render::request_animation_frame(move |t| {
                    link.send_message(Msg::Frame(t))
                }));
                self.frame(t)
            }
            Msg::Mode(mode) => {
                if mode == self.mode {
                    return false;
                }
                self.mode = mode;
                match mode {
                    Mode::Live => {
                        self.was_playing = self.playing;
                        self.playing = false;
                    }
                    Mode::Simulated => {
                        self.playing = self.was_playing && !self.session.borrow().finished();
                        self.last_frame = None;
                        self.remember_in_url();
                    }
                }
                true
            }
            Msg::ServedByNode(host) => {
                self.live_start = Some(host);
                // Only a page that was opened plainly switches by itself.
                if browser::location_hash().is_empty() && self.narration.is_none() {
                    self.mode = Mode::Live;
                    self.was_playing = self.playing;
                    self.playing = false;
                }
                true
            }
            Msg::TogglePlay => {
                if self.session.borrow().finished() {
                    return false;
                }
                self.playing = !self.playing;
                if let Some(n) = &mut self.narration {
                    if self.playing {
                        n.resume();
                    }
                }
                if !self.playing {
                    self.remember_in_url();
                }
                true
            }
            Msg::Step => {
                self.playing = false;
                self.session.borrow_mut().step_instant();
                self.display_ms = self.session.borrow().now() as f64;
                self.refresh_checks();
                self.touch();
                self.remember_in_url();
                true
            }
            Msg::Speed(speed) => {
                self.speed = speed.min(SPEEDS.len() - 1);
                true
            }
            Msg::Seek(t) => {
                self.seek(t);
                self.remember_in_url();
                true
            }
            Msg::Act(action) | Msg::Op(NodeOp::Sim(action)) => {
                self.act(action);
                true
            }
            Msg::Op(NodeOp::Live(_)) => false,
            Msg::Select(node) => {
                self.selected = node;
                true
            }
            Msg::NewRun(run) => {
                self.narration = None;
                self.start(run, 0, true);
                self.touch();
                self.remember_in_url();
                true
            }
            Msg::Scenario(key) => {
                match library::build(key) {
                    Ok(scenario) => {
                        let steps: Vec<Step> = scenario.steps.clone();
                        self.start(scenario.run, 0, true);
                        self.speed = scenario.speed.min(SPEEDS.len() - 1);
                        self.narration = Some(Narration::new(scenario.title, steps));
                    }
                    Err(error) => self.error = Some(format!("scenario {key}: {error}")),
                }
                self.touch();
                self.remember_in_url();
                true
            }
            Msg::Continue => {
                self.playing = true;
                if let Some(n) = &mut self.narration {
                    n.resume();
                }
                true
            }
            Msg::CloseNarration => {
                self.narration = None;
                true
            }
            Msg::Key(event) => self.key(ctx, &event),
            Msg::HashChanged => {
                let fragment = browser::location_hash();
                match replay::decode(&fragment, &page_options(DEFAULT_NODES)) {
                    Ok(link) => {
                        self.narration = None;
                        self.start(link.run, link.at_ms, false);
                        self.touch();
                    }
                    Err(error) => {
                        self.error = Some(format!("this link cannot be replayed: {error}"))
                    }
                }
                true
            }
            Msg::CopyLink => {
                self.remember_in_url();
                browser::copy(&self.link());
                self.copied_at = Some(browser::now_ms());
                true
            }
            Msg::ToggleTheme => {
                self.dark = !self.dark;
                browser::set_dark(self.dark);
                true
            }
            Msg::ToggleHelp => {
                self.help = !self.help;
                true
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let live = self.mode == Mode::Live;
        let switch = html! {
            <div class="seg mode-switch" role="group" aria-label="What to show">
                <button id="mode-sim" class={classes!("seg-btn", (!live).then_some("on"))}
                    onclick={link.callback(|_| Msg::Mode(Mode::Simulated))}
                    title="A cluster simulated in this page, deterministic and replayable">{ "Simulated" }</button>
                <button id="mode-live" class={classes!("seg-btn", live.then_some("on"))}
                    onclick={link.callback(|_| Msg::Mode(Mode::Live))}
                    title="Real Flotilla nodes, over WebSockets">{ "Live" }</button>
            </div>
        };
        let theme = html! {
            <button id="theme" class="btn icon" onclick={link.callback(|_| Msg::ToggleTheme)}
                title="Light or dark theme (D)" aria-label="Toggle theme">
                { if self.dark { "☀" } else { "☾" } }
            </button>
        };
        let help = html! {
            <button id="help-button" class="btn icon" onclick={link.callback(|_| Msg::ToggleHelp)}
                title="Keyboard shortcuts (?)" aria-label="Help">{ "?" }</button>
        };
        let brand = html! {
            <div class="brand">
                <Logo />
                <span class="brand-name">{ "Flotilla" }</span>
                <span class="brand-tag">{ if live { "a live Raft cluster" } else { "a Raft cluster in your browser" } }</span>
            </div>
        };
        let footer = html! {
            <footer class="footer">
                <span>{ "The real flotilla-core (the same Raft and key-value code the native nodes run), compiled to WebAssembly. " }</span>
                <span>{ "flotilla-core " }<code id="core-version">{ flotilla_core::VERSION }</code></span>
                <span class="muted">{ " · core self-check " }<code id="core-result">{ crate::core_sample() }</code></span>
            </footer>
        };
        if live {
            return html! {
                <div class="app">
                    <header class="topbar">
                        { brand }
                        { switch }
                        <div class="transport"></div>
                        <div class="topbar-actions">{ theme }{ help }</div>
                    </header>
                    <LiveView start={self.live_start.clone()} />
                    { footer }
                    if self.help {
                        <Help on_close={self.callbacks.help.clone()} />
                    }
                </div>
            };
        }
        let cb = &self.callbacks;
        let on_act = cb.act.clone();
        let on_select = cb.select.clone();
        let on_seek = cb.seek.clone();
        let session = self.session.borrow();
        let now = session.now();
        let horizon = session.horizon();
        let hash = session.trace_hash();
        let leader = session.leader();
        let term = leader
            .and_then(|l| session.sim().replica(l))
            .map(|r| r.node().term().0);
        let in_flight = session.sim().in_flight_ids().count();
        let events = session.sim().stats().events;
        let finished = session.finished();
        let auto = session.is_auto();
        // The tape's actions and the first violations, marked on the scrubber.
        let mut marks: Vec<Mark> = session
            .run()
            .tape
            .iter()
            .map(|a| Mark {
                at_ms: a.at_ms,
                violation: false,
                title: crate::model::replay::encode_action(a),
            })
            .collect();
        marks.extend(session.sim().violations().iter().take(8).map(|v| Mark {
            at_ms: v.at_ms,
            violation: true,
            title: v.to_string(),
        }));
        drop(session);
        let copied = self
            .copied_at
            .is_some_and(|t| browser::now_ms() - t < 2_000.0);
        html! {
            <div class="app">
                <header class="topbar">
                    { brand }
                    { switch }
                    <Transport
                        playing={self.playing}
                        finished={finished}
                        speed={self.speed}
                        now={now}
                        horizon={horizon}
                        on_toggle={cb.toggle.clone()}
                        on_step={cb.step.clone()}
                        on_speed={cb.speed.clone()}
                        on_seek={on_seek.clone()}
                        marks={marks} />
                    <div class="topbar-actions">
                        <button id="copy-link" class="btn" onclick={link.callback(|_| Msg::CopyLink)}
                            title="Copy a link that replays this run exactly (L)">
                            { if copied { "✓ Copied" } else { "Copy link" } }
                        </button>
                        { theme }
                        { help }
                    </div>
                </header>
                if let Some(error) = &self.error {
                    <div class="banner error" role="alert">{ error }</div>
                }
                <div class="statusline">
                    <span>{ "leader " }<b id="leader">{ leader.map_or("none".to_string(), |l| format!("n{}", l.0)) }</b></span>
                    <span>{ "term " }<b id="term">{ term.map_or("–".to_string(), |t| t.to_string()) }</b></span>
                    <span>{ "in flight " }<b id="in-flight">{ in_flight }</b></span>
                    <span title="Events the simulator has handled">{ "events " }<b id="events">{ events }</b></span>
                    <span>{ "trace " }<code id="trace-hash" title="FNV-1a hash of every trace line so far: equal hashes, identical runs">{ hash }</code></span>
                    <span class="fps" title="Frames per second, and the page's own work per frame">
                        { "fps " }<b id="fps">{ format!("{:.0}", self.frames.fps()) }</b>
                        { " · " }<b id="frame-ms">{ format!("{:.1}", self.frame_cost_ms) }</b>{ " ms/frame" }
                    </span>
                    if auto {
                        <span class="pill">{ if finished { "auto run finished" } else { "auto (chaos) run" } }</span>
                    }
                </div>
                <main class="layout">
                    <aside class="col-left">
                        <ScenarioPanel
                            narration={self.narration.clone()}
                            on_pick={cb.pick.clone()}
                            on_continue={cb.resume.clone()}
                            on_close={cb.close_narration.clone()} />
                        <Settings session={self.panels.clone()} on_run={cb.run.clone()} />
                        <NetworkPanel session={self.panels.clone()} on_act={on_act.clone()} />
                    </aside>
                    <section class="col-centre">
                        <div class="card ring-card">
                            <Ring cluster={ClusterRef::Sim(self.session.clone())} display_ms={self.display_ms}
                                selected={self.selected} on_select={on_select.clone()} on_op={cb.op.clone()} />
                            <Legend />
                        </div>
                        <LogGrid cluster={ClusterRef::Sim(self.panels.clone())} selected={self.selected} on_select={on_select.clone()} />
                    </section>
                    <aside class="col-right">
                        <Inspector cluster={ClusterRef::Sim(self.panels.clone())} selected={self.selected}
                            on_op={cb.op.clone()} on_select={on_select.clone()} />
                        <ClientBox session={self.panels.clone()} on_act={on_act.clone()} />
                        <Checkers session={self.panels.clone()} lin={self.lin.clone()} on_jump={on_seek.clone()} />
                    </aside>
                </main>
                <section class="bottom">
                    <Timeline cluster={ClusterRef::Sim(self.panels.clone())} selected={self.selected} on_jump={on_seek.clone()} />
                    <div class="bottom-right">
                        <History cluster={ClusterRef::Sim(self.panels.clone())} lin={self.lin.clone()} />
                        <KvView session={self.panels.clone()} />
                    </div>
                </section>
                { footer }
                if self.help {
                    <Help on_close={cb.help.clone()} />
                }
            </div>
        }
    }
}
