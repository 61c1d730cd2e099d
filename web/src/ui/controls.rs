//! The transport: play and pause, one step, speed, the clock, and the time scrubber that
//! moves through the run by simulating it again from the start.

use super::shared::fmt_ms;
use flotilla_core::types::Millis;
use yew::prelude::*;

/// Playback speeds: virtual ms per real ms, and how the page names them. `max` simulates as
/// much as fits in each frame.
pub const SPEEDS: [(f64, &str); 12] = [
    (0.01, "1/100×"),
    (0.02, "1/50×"),
    (0.05, "1/20×"),
    (0.1, "1/10×"),
    (0.2, "1/5×"),
    (0.5, "1/2×"),
    (1.0, "1×"),
    (2.0, "2×"),
    (5.0, "5×"),
    (10.0, "10×"),
    (100.0, "100×"),
    (f64::INFINITY, "max"),
];

#[derive(Properties, PartialEq)]
pub struct TransportProps {
    pub playing: bool,
    pub finished: bool,
    pub speed: usize,
    pub now: Millis,
    pub horizon: Millis,
    pub on_toggle: Callback<()>,
    pub on_step: Callback<()>,
    pub on_speed: Callback<usize>,
    pub on_seek: Callback<Millis>,
    /// Moments to mark on the scrubber: taped actions and violations.
    pub marks: Vec<Mark>,
}

/// A moment marked on the scrubber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub at_ms: Millis,
    pub violation: bool,
    pub title: String,
}

#[function_component(Transport)]
pub fn transport(props: &TransportProps) -> Html {
    let on_speed = {
        let cb = props.on_speed.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            cb.emit(input.value().parse().unwrap_or(0));
        })
    };
    let on_seek = {
        let cb = props.on_seek.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            cb.emit(input.value().parse().unwrap_or(0));
        })
    };
    let toggle = props.on_toggle.reform(|_: MouseEvent| ());
    let step = props.on_step.reform(|_: MouseEvent| ());
    let max = props.horizon.max(props.now).max(1);
    let behind = props.now < props.horizon;
    html! {
        <div class="transport">
            <button id="play" class="btn primary play" onclick={toggle} disabled={props.finished}
                title="Play or pause (Space)" aria-label={if props.playing { "Pause" } else { "Play" }}>
                { if props.playing { "❚❚" } else { "▶" } }
            </button>
            <button id="step" class="btn" onclick={step} title="Run to the next event (. or →)">{ "Step" }</button>
            <label class="speed" title="Speed (+ and −)">
                <input id="speed" type="range" min="0" max={(SPEEDS.len() - 1).to_string()}
                    value={props.speed.to_string()} oninput={on_speed} aria-label="Speed" />
                <span id="speed-label" class="speed-label">{ SPEEDS[props.speed.min(SPEEDS.len() - 1)].1 }</span>
            </label>
            <span id="clock" class="clock" title="Virtual time">{ fmt_ms(props.now) }</span>
            <div class="scrub-wrap">
                <input id="scrubber" class={classes!("scrubber", behind.then_some("behind"))} type="range" min="0"
                    max={max.to_string()} value={props.now.to_string()} onchange={on_seek}
                    title="Drag to move through the run (it is simulated again from the start); acting in the past forks it"
                    aria-label="Time" />
                <div class="marks" aria-hidden="true">
                    { for props.marks.iter().map(|m| {
                        let left = 100.0 * m.at_ms as f64 / max as f64;
                        html! { <i class={classes!("mark", m.violation.then_some("violation"))}
                            style={format!("left:{left:.2}%")} title={m.title.clone()}></i> }
                    }) }
                </div>
            </div>
        </div>
    }
}
