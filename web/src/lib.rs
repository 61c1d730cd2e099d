//! # flotilla-web
//!
//! The page that runs a Flotilla cluster in the browser: the core's deterministic simulator
//! plays a cluster in virtual time, and the page draws it and lets people break it.
//!
//! * [`model`]: the browser-free part (the session that plays a run, replay links, the
//!   scenario library), compiled and tested on the host.
//! * `ui`: the yew components, one panel per file, driven by `requestAnimationFrame`.
//!
//! The footer still shows the core's version and [`core_sample`], which the browser smoke
//! test (`tests/browser/smoke.mjs`) reads by id.

pub mod model;
mod ui;

use flotilla_core::raft::HardState;
use flotilla_core::{Index, NodeId, Term};

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

pub use ui::app::App;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sample_is_the_text_the_browser_test_expects() {
        assert_eq!(core_sample(), r#"{"term":2,"vote":1,"commit":42}"#);
    }
}
