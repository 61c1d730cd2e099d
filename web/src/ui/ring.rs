//! The cluster (simulated or live) drawn as a ring in SVG: nodes coloured by role with their
//! term, vote and an election-timer arc; the links between them (click one to cut it).
//! Messages travelling along the links, and lost ones blowing up, are painted on a canvas
//! over it (`messages.rs`).
//!
//! Messages are placed by the display time: in the simulator a fraction of a virtual
//! millisecond ahead of it, so they glide smoothly even at 1/100x; on a live cluster a
//! little behind the wall clock, so that every node's report of them has arrived.

use super::messages::MessageLayer;
use super::shared::{node_name, ClusterRef};
use crate::model::view::{Health, NodeOp, NodeView, Seat};
use flotilla_core::raft::RoleKind;
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
    pub cluster: ClusterRef,
    /// Time to draw, in ms (fractional), on the cluster's clock.
    pub display_ms: f64,
    pub selected: Option<NodeId>,
    pub on_select: Callback<Option<NodeId>>,
    pub on_op: Callback<NodeOp>,
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

#[function_component(Ring)]
pub fn ring(props: &RingProps) -> Html {
    let (nodes, cuts, leader, live) = props.cluster.with(|c| {
        let nodes = c.nodes();
        let mut cuts = Vec::new();
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                cuts.push((c.is_cut(a.id, b.id), c.is_cut(b.id, a.id)));
            }
        }
        (nodes, cuts, c.leader(), c.is_live())
    });
    let n = nodes.len() as u32;
    html! {
        <div class="ring-wrap">
        <svg id="ring" class="ring" viewBox={format!("0 0 {SIZE} {SIZE}")}
             role="img" aria-label={if live { "The live cluster" } else { "The simulated cluster" }}>
            { links(&nodes, &cuts, props) }
            { nodes.iter().enumerate().map(|(i, v)| node(v, i as u32, n, props)).collect::<Html>() }
            { centre(leader, n) }
        </svg>
        <MessageLayer cluster={props.cluster.clone()} display_ms={props.display_ms} />
        </div>
    }
}

fn links(nodes: &[NodeView], cuts: &[(bool, bool)], props: &RingProps) -> Html {
    let n = nodes.len() as u32;
    let mut out = Vec::new();
    let mut k = 0;
    for (i, va) in nodes.iter().enumerate() {
        for (j, vb) in nodes.iter().enumerate().skip(i + 1) {
            let (ab, ba) = cuts[k];
            k += 1;
            let (ia, ib) = (va.id, vb.id);
            let (a, b) = (ia.0, ib.0);
            let (pa, pb) = (position(i as u32, n), position(j as u32, n));
            let class = match (ab, ba) {
                (false, false) => "link",
                (true, true) => "link cut",
                _ => "link half-cut",
            };
            // What a click does is the cluster's to say (the simulator cuts each direction,
            // a live node its end of the link), asked at the time of the click.
            let on_click = {
                let on_op = props.on_op.clone();
                let cluster = props.cluster.clone();
                Callback::from(move |_: MouseEvent| {
                    for op in cluster.with(|c| c.link_ops(ia, ib)) {
                        on_op.emit(op);
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

fn node(view: &NodeView, i: u32, n: u32, props: &RingProps) -> Html {
    let id = view.id;
    let (x, y) = position(i, n);
    let selected = props.selected == Some(id);
    let mut classes = vec!["node".to_string()];
    let showing = matches!(view.health, Health::Up | Health::Paused);
    match (view.health, view.role) {
        (Health::Down, _) => classes.push("crashed".into()),
        (Health::Connecting, _) => classes.push("connecting".into()),
        (Health::Unseen, _) => classes.push("unseen".into()),
        (_, Some(role)) => classes.push(role.name().into()),
        (_, None) => classes.push("connecting".into()),
    }
    if showing {
        match view.seat {
            Seat::Learner => classes.push("learner".into()),
            Seat::Outside => classes.push("outside".into()),
            Seat::Voter => {}
        }
    }
    if view.health == Health::Paused {
        classes.push("paused".into());
    }
    if view.in_page {
        classes.push("in-page".into());
    }
    if selected {
        classes.push("selected".into());
    }
    let term = if showing && view.role.is_some() {
        format!("term {}", view.term)
    } else {
        String::new()
    };
    let timer = view.timer_left.filter(|_| showing);
    let on_click = {
        let on_select = props.on_select.clone();
        Callback::from(move |_: MouseEvent| on_select.emit(if selected { None } else { Some(id) }))
    };
    let circumference = std::f64::consts::TAU * TIMER_R;
    let leads = showing && view.role == Some(RoleKind::Leader);
    html! {
        <g id={format!("node-{}", id.0)} class={classes.join(" ")}
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
            <text class="node-vote" y="23">{ &view.detail }</text>
            if view.health == Health::Paused {
                <text class="node-badge" x="26" y="-26">{ "⏸" }</text>
            }
            if view.in_page {
                <text class="node-badge page" x="-28" y="-26">{ "⌂" }</text>
            }
            if leads {
                <text class="node-badge crown" x="0" y="-44">{ "★" }</text>
            }
        </g>
    }
}

fn centre(leader: Option<(NodeId, u64)>, n: u32) -> Html {
    let big = match (leader, n) {
        (Some((l, _)), _) => format!("{} leads", node_name(l)),
        (None, 0) => "no nodes yet".to_string(),
        (None, _) => "no leader".to_string(),
    };
    html! {
        <g class="ring-centre">
            <text class="centre-big" x={fmt(CENTER)} y={fmt(CENTER - 6.0)}>{ big }</text>
            <text class="centre-small" x={fmt(CENTER)} y={fmt(CENTER + 18.0)}>
                { leader.map_or(String::new(), |(_, t)| format!("term {t}")) }
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
