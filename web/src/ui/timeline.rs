//! The event timeline: the simulator's own trace lines (the format the golden scripts and
//! `flotilla sim --trace` use), or a live cluster's reported events and sampled messages,
//! newest first, filterable by kind, by node and by text. In the simulator, clicking a line
//! moves the run to that moment.

use super::shared::{fmt_ms, ClusterRef};
use crate::model::trace::TraceKind;
use flotilla_core::types::{Millis, NodeId};
use std::collections::BTreeSet;
use yew::prelude::*;

/// Lines shown at most.
const SHOWN_MAX: usize = 150;

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub cluster: ClusterRef,
    pub selected: Option<NodeId>,
    pub on_jump: Callback<Millis>,
}

#[function_component(Timeline)]
pub fn timeline(props: &TimelineProps) -> Html {
    // Heartbeats and their replies drown everything else; they start hidden.
    let hidden = use_state(|| BTreeSet::from([TraceKind::Message]));
    let text = use_state(String::new);
    let only_selected = use_state(|| true);
    let needle = text.to_lowercase();
    let (lines, note) = props.cluster.with(|c| {
    let live = c.is_live();
    let lines: Vec<Html> = c
        .trace_lines()
        .iter()
        .rev()
        .filter(|l| !hidden.contains(&l.kind))
        .filter(|l| needle.is_empty() || l.text.to_lowercase().contains(&needle))
        .filter(|l| match (props.selected, *only_selected) {
            (Some(node), true) => l.mentions(node),
            _ => true,
        })
        .take(SHOWN_MAX)
        .map(|l| {
            let at = l.at;
            let on_jump = props.on_jump.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                if !live {
                    on_jump.emit(at)
                }
            });
            let title = if live { "Time since this page connected" } else { "Go to this moment" };
            html! {
                <li key={l.number} class={classes!("ev", format!("ev-{}", l.kind.name()))} {onclick} {title}>
                    <span class="ev-time">{ fmt_ms(l.at) }</span>
                    <span class="ev-text">{ &l.text }</span>
                </li>
            }
        })
        .collect();
    (lines, c.trace_note())
    });
    let chips: Html = TraceKind::ALL
        .iter()
        .map(|&kind| {
            let on = !hidden.contains(&kind);
            let hidden = hidden.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                let mut set = (*hidden).clone();
                if !set.remove(&kind) {
                    set.insert(kind);
                }
                hidden.set(set);
            });
            html! {
                <button class={classes!("chip", format!("ev-{}", kind.name()), on.then_some("on"))} {onclick}
                    id={format!("filter-{}", kind.name())}>{ kind.name() }</button>
            }
        })
        .collect();
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            text.set(input.value());
        })
    };
    let toggle_selected = {
        let only_selected = only_selected.clone();
        Callback::from(move |_: MouseEvent| only_selected.set(!*only_selected))
    };
    html! {
        <div class="card timeline-card">
            <div class="card-head">
                <h2>{ "Events" }</h2>
                <span class="muted small">{ note }</span>
            </div>
            <div class="filters">
                { chips }
                <input class="filter-text" type="search" placeholder="filter text…" value={(*text).clone()} {oninput}
                    aria-label="Filter events by text" />
                if let Some(node) = props.selected {
                    <button class={classes!("chip", only_selected.then_some("on"))} onclick={toggle_selected}>
                        { format!("only n{}", node.0) }
                    </button>
                }
            </div>
            <ol id="timeline" class="events">{ lines }</ol>
        </div>
    }
}
