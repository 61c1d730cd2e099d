//! Everything the page computes without a browser: the session that plays a run, replay
//! links, the scenario library, trace parsing, the live cluster as its nodes report it, and
//! the view model both feed the panels through. Tested on the host.

pub mod defaults;
pub mod live;
pub mod replay;
pub mod scenarios;
pub mod session;
pub mod sim_view;
pub mod trace;
pub mod view;
