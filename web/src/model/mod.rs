//! Everything the page computes without a browser: the session that plays a run, replay
//! links, the scenario library, trace parsing. Tested on the host.

pub mod defaults;
pub mod replay;
pub mod scenarios;
pub mod session;
pub mod trace;
