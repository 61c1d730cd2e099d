//! # Live clusters: what a browser and a native node say to each other
//!
//! The web page can watch real nodes, send them client requests, break them, and even run a
//! Raft peer of its own that joins the real cluster. Both ends of that conversation are Rust
//! (the node natively, the page in wasm), so the messages are defined once, here, as serde
//! types; the wire format is JSON over WebSocket text frames, written down for other clients
//! in `docs/protocol.md`.
//!
//! Why JSON and not the peers' postcard: a browser's developer tools show JSON frames as they
//! are, anyone can script the endpoint with a few lines of JavaScript or `websocat`, and the
//! rates involved (status a few times a second, sampled message summaries, one browser peer)
//! are far below where encoding costs matter.
//!
//! Why a page opens one socket per node instead of asking one node about all: each node
//! reports what only it knows (its own role, log, timers and the messages it really sent and
//! received), with no extra traffic on the Raft links, and a crashed node simply goes quiet,
//! which is exactly what the page should show.

pub mod peer;
pub mod protocol;
pub mod view;
