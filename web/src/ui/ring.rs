//! The cluster drawn as a ring in SVG: nodes coloured by role with their term, vote and an
//! election-timer arc; the links between them (click one to cut it). Messages travelling
//! along the links, and lost ones blowing up, are painted on a canvas over it
//! (`messages.rs`).
//!
//! Messages are placed by the display time, a fraction of a virtual millisecond ahead of the
//! simulator, so they glide smoothly even at 1/100x.

use super::messages::MessageLayer;
use super::shared::{node_name, SessionRef};
use crate::model::session::Session;
use flotilla_core::raft::{Message, RoleKind};
use flotilla_core::sim::Action;
use flotilla_core::types::NodeId;
use yew::prelude::*;

pub const SIZE: f64 = 600.0;
const CENTER: f64 = SIZE / 2.0;
const RADIUS: f64 = 228.0;
const NODE_R: f64 = 36.0;
const TIMER_R: f64 = 43.0;
/// Messages in one direction travel this far to the side of the link, so a request and its
/// response do not hide each other.
pub const LANE: f64 = 7.0;
/// Above this many messages, labels are left off (they would only make a blur).
pub const LABELS_MAX: usize = 40;

#[derive(Properties, PartialEq)]
pub struct RingProps {
    pub session: SessionRef,
    /// Virtual time to draw, in ms (fractional).
    pub display_ms: f64,
    pub selected: Option<NodeId>,
    pub on_select: Callback<Option<NodeId>>,
    pub on_act: Callback<Action>,
}

/// Where node `i` of `n` sits.
pub fn position(i: u32, n: u32) -> (f64, f64) {
    let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * f64::from(i) / f64::from(n);
    (CENTER + RADIUS * angle.cos(), CENTER + RADIUS * angle.sin())
}

/// A point `progress` of the way from node `from` to node `to`, shifted into its lane.
pub fn along(from: (f64, f64), to: (f64, f64), progress: f64, lane: f64) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    // Start and end at the circles' edges, not their centres.
    let start = NODE_R / length;
    let end = 1.0 - NODE_R / length;
    let p = start + (end - start) * progress.clamp(0.0, 1.0);
    let (nx, ny) = (-dy / length, dx / length);
    (from.0 + dx * p + nx * lane, from.1 + dy * p + ny * lane)
}

/// The CSS class and short label of a message: kind, term, entries.
pub fn message_look(message: &Message, term: u64) -> (&'static str, String) {
    match message {
        Message::PreVote { .. } => ("m-prevote", format!("PV t{term}")),
        Message::PreVoteResponse { granted } => ("m-prevote resp", yes_no(*granted).into()),
        Message::Vote { .. } => ("m-vote", format!("RV t{term}")),
        Message::VoteResponse { granted } => ("m-vote resp", yes_no(*granted).into()),
        Message::Append { entries, .. } if entries.is_empty() => {
            ("m-append", format!("AE t{term}"))
        }
        Message::Append { entries, .. } => ("m-append", format!("AE t{term} +{}", entries.len())),
        Message::AppendResponse {
            reject: None,
            index,
        } => ("m-append resp", format!("ok {}", index.0)),
        Message::AppendResponse {
            reject: Some(_), ..
        } => ("m-append resp nack", "✗".into()),
        Message::Heartbeat { .. } => ("m-heartbeat", format!("HB t{term}")),
        Message::HeartbeatResponse { .. } => ("m-heartbeat resp", "♥".into()),
        Message::InstallSnapshot { .. } => ("m-snapshot", format!("IS t{term}")),
        Message::InstallSnapshotResponse { .. } => ("m-snapshot resp", "ok".into()),
        Message::TimeoutNow => ("m-timeout", "TN".into()),
    }
}

fn yes_no(granted: bool) -> &'static str {
    if granted {
        "✓"
    } else {
        "✗"
    }
}

#[function_component(Ring)]
pub fn ring(props: &RingProps) -> Html {
    let session = props.session.borrow();
    let n = session.sim().node_count();
    html! {
        <div class="ring-wrap">
        <svg id="ring" class="ring" viewBox={format!("0 0 {SIZE} {SIZE}")}
             role="img" aria-label="The simulated cluster">
            { links(&session, n, &props.on_act) }
            { (1..=n).map(|i| node(&session, i, n, props)).collect::<Html>() }
            { centre(&session) }
        </svg>
        <MessageLayer session={props.session.clone()} display_ms={props.display_ms} />
        </div>
    }
}

fn links(session: &Session, n: u32, on_act: &Callback<Action>) -> Html {
    let network = session.sim().network();
    let mut out = Vec::new();
    for a in 1..=n {
        for b in (a + 1)..=n {
            let (ia, ib) = (NodeId(u64::from(a)), NodeId(u64::from(b)));
            let (pa, pb) = (position(a - 1, n), position(b - 1, n));
            let ab = network.is_cut(ia, ib);
            let ba = network.is_cut(ib, ia);
            let class = match (ab, ba) {
                (false, false) => "link",
                (true, true) => "link cut",
                _ => "link half-cut",
            };
            // A click cuts a working link both ways, and restores a cut one (both ways).
            let on_click = {
                let on_act = on_act.clone();
                Callback::from(move |_: MouseEvent| {
                    let restore = ab || ba;
                    for (from, to, cut) in [(ia, ib, ab), (ib, ia, ba)] {
                        match (restore, cut) {
                            (true, true) => on_act.emit(Action::RestoreLink { from, to }),
                            (false, false) => on_act.emit(Action::CutLink { from, to }),
                            _ => {}
                        }
                    }
                })
            };
            let title = match (ab, ba) {
                (false, false) => format!("n{a}–n{b}: click to cut this link"),
                (true, true) => format!("n{a}–n{b}: cut both ways; click to restore it"),
                (true, false) => format!("n{a}→n{b} cut, n{b}→n{a} up: click to restore"),
                (false, true) => format!("n{b}→n{a} cut, n{a}→n{b} up: click to restore"),
            };
            let (mx, my) = ((pa.0 + pb.0) / 2.0, (pa.1 + pb.1) / 2.0);
            out.push(html! {
                <g class={class} id={format!("link-{a}-{b}")} onclick={on_click}>
                    <title>{ title }</title>
                    <line class="link-hit" x1={fmt(pa.0)} y1={fmt(pa.1)} x2={fmt(pb.0)} y2={fmt(pb.1)} />
                    <line class="link-line" x1={fmt(pa.0)} y1={fmt(pa.1)} x2={fmt(pb.0)} y2={fmt(pb.1)} />
                    if ab || ba {
                        <text class="link-cut-mark" x={fmt(mx)} y={fmt(my)}>{ "✂" }</text>
                    }
                </g>
            });
        }
    }
    out.into_iter().collect()
}

fn node(session: &Session, i: u32, n: u32, props: &RingProps) -> Html {
    let id = NodeId(u64::from(i));
    let sim = session.sim();
    let (x, y) = position(i - 1, n);
    let replica = sim.replica(id);
    let paused = sim.is_paused(id);
    let selected = props.selected == Some(id);
    let max_timeout = sim.options().raft.election_timeout_max_ms.max(1) as f64;
    let mut classes = vec!["node".to_string()];
    let mut timer = None;
    let (term, detail) = match replica {
        None => {
            classes.push("crashed".into());
            ("".to_string(), "crashed".to_string())
        }
        Some(replica) => {
            let node = replica.node();
            let role = node.role();
            classes.push(role.name().into());
            let membership = node.membership();
            if membership.learners().contains(&id) {
                classes.push("learner".into());
            } else if !membership.voters().contains(&id) {
                classes.push("outside".into());
            }
            if role != RoleKind::Leader {
                let local = sim.local_time(id).unwrap_or(0) as f64;
                let deadline = node.status().election_deadline as f64;
                timer = Some(((deadline - local) / max_timeout).clamp(0.0, 1.0));
            }
            let vote = match node.vote() {
                Some(v) if v == id => "voted self".to_string(),
                Some(v) => format!("voted {}", node_name(v)),
                None => String::new(),
            };
            (format!("term {}", node.term().0), vote)
        }
    };
    if paused {
        classes.push("paused".into());
    }
    if selected {
        classes.push("selected".into());
    }
    let on_click = {
        let on_select = props.on_select.clone();
        Callback::from(move |_: MouseEvent| on_select.emit(if selected { None } else { Some(id) }))
    };
    let circumference = std::f64::consts::TAU * TIMER_R;
    html! {
        <g id={format!("node-{i}")} class={classes.join(" ")}
           transform={format!("translate({},{})", fmt(x), fmt(y))} onclick={on_click}>
            <title>{ format!("{}: click to inspect", node_name(id)) }</title>
            <circle class="node-halo" r={fmt(NODE_R + 12.0)} />
            if let Some(fraction) = timer {
                <circle class="timer-track" r={fmt(TIMER_R)} />
                <circle class="timer" r={fmt(TIMER_R)} transform="rotate(-90)"
                    stroke-dasharray={format!("{:.1} {:.1}", fraction * circumference, circumference)} />
            }
            <circle class="node-body" r={fmt(NODE_R)} />
            <text class="node-name" y="-6">{ node_name(id) }</text>
            <text class="node-term" y="10">{ term }</text>
            <text class="node-vote" y="23">{ detail }</text>
            if paused {
                <text class="node-badge" x="26" y="-26">{ "⏸" }</text>
            }
            if replica.is_some_and(|r| r.node().is_leader()) {
                <text class="node-badge crown" x="0" y="-44">{ "★" }</text>
            }
        </g>
    }
}

fn centre(session: &Session) -> Html {
    let leader = session.leader();
    let term = leader
        .and_then(|l| session.sim().replica(l))
        .map(|r| r.node().term().0);
    html! {
        <g class="ring-centre">
            <text class="centre-big" x={fmt(CENTER)} y={fmt(CENTER - 6.0)}>
                { leader.map_or("no leader".to_string(), |l| format!("{} leads", node_name(l))) }
            </text>
            <text class="centre-small" x={fmt(CENTER)} y={fmt(CENTER + 18.0)}>
                { term.map_or(String::new(), |t| format!("term {t}")) }
            </text>
        </g>
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_node_sits_at_the_top() {
        let (x, y) = position(0, 5);
        assert!((x - CENTER).abs() < 1e-9);
        assert!((y - (CENTER - RADIUS)).abs() < 1e-9);
    }

    #[test]
    fn messages_start_and_end_at_the_circles_edges() {
        let (a, b) = ((0.0, 0.0), (100.0, 0.0));
        assert_eq!(along(a, b, 0.0, 0.0), (NODE_R, 0.0));
        assert_eq!(along(a, b, 1.0, 0.0), (100.0 - NODE_R, 0.0));
        // Past the end stays at the end.
        assert_eq!(along(a, b, 2.0, 0.0), (100.0 - NODE_R, 0.0));
    }
}
