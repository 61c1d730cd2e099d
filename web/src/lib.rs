//! # flotilla-web
//!
//! The page that runs a Flotilla cluster in the browser. For now it shows that the wasm app
//! runs code from `flotilla-core`: the core's version and a value the core's types build and
//! serde encodes. The browser smoke test (`tests/browser/smoke.mjs`) reads both by id.

use flotilla_core::raft::HardState;
use flotilla_core::{Index, NodeId, Term};
use yew::prelude::*;

/// A hard state built with the core's types and encoded as JSON: term 2, a vote for node 1
/// and commit index 42, each computed by the core (`Term::next`, `Index::next`).
pub fn core_sample() -> String {
    let hard_state = HardState {
        term: Term(1).next(),
        vote: Some(NodeId(1)),
        commit: Index(41).next(),
    };
    serde_json::to_string(&hard_state).unwrap_or_else(|error| format!("error: {error}"))
}

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    html! {
        <main>
            <h1>{ "Flotilla" }</h1>
            <p>{ "A Raft-replicated key-value database you can watch and break in the browser." }</p>
            <dl>
                <dt>{ "flotilla-core version" }</dt>
                <dd id="core-version">{ flotilla_core::VERSION }</dd>
                <dt>{ "A hard state built by flotilla-core, encoded by serde" }</dt>
                <dd><code id="core-result">{ core_sample() }</code></dd>
            </dl>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sample_is_the_text_the_browser_test_expects() {
        assert_eq!(core_sample(), r#"{"term":2,"vote":1,"commit":42}"#);
    }
}
