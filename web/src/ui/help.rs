//! The help panel: keyboard shortcuts and a few words on what the page is.

use yew::prelude::*;

/// Shortcut keys and what they do (the app's key handler is the source of truth).
pub const SHORTCUTS: [(&str, &str); 17] = [
    ("Space", "play / pause"),
    (". or →", "step to the next event"),
    ("←", "back 50 ms (re-simulated)"),
    ("+ / −", "faster / slower"),
    ("1–9", "select a node"),
    ("Esc", "deselect, close this panel"),
    ("C", "crash the selected node (or the leader)"),
    ("R", "restart it"),
    ("P", "pause / resume it"),
    ("T", "time it out now (start an election)"),
    ("S", "snapshot it"),
    ("H", "heal every link"),
    ("A", "autopilot clients on / off"),
    ("L", "copy a replay link"),
    ("D", "dark / light theme"),
    ("?", "this help"),
    ("click a link", "cut it"),
];

#[derive(Properties, PartialEq)]
pub struct HelpProps {
    pub on_close: Callback<()>,
}

#[function_component(Help)]
pub fn help(props: &HelpProps) -> Html {
    let close = props.on_close.reform(|_: MouseEvent| ());
    let rows: Html = SHORTCUTS
        .iter()
        .map(|(key, what)| html! { <tr><td><kbd>{ *key }</kbd></td><td>{ *what }</td></tr> })
        .collect();
    html! {
        <div class="modal-backdrop" onclick={close.clone()}>
            <div class="modal" id="help" role="dialog" aria-label="Help" onclick={Callback::from(|e: MouseEvent| e.stop_propagation())}>
                <div class="card-head">
                    <h2>{ "Keyboard shortcuts" }</h2>
                    <button class="btn icon" onclick={close} aria-label="Close">{ "✕" }</button>
                </div>
                <table class="shortcuts">{ rows }</table>
                <p class="muted small">
                    { "Everything here runs Flotilla's real Raft core, compiled to WebAssembly, in a deterministic simulator: the same seed and the same actions always give the same run, which is what a replay link records. Moving back in time simulates the run again from the start; acting in the past forks it." }
                </p>
            </div>
        </div>
    }
}
