//! Node-to-node traffic: what peers say to each other ([`PeerMessage`]), how it is framed on
//! TCP ([`frame`]), and the outbound connections that carry it ([`Outbound`]).
//!
//! Each node dials one outbound connection to every other member and only sends on it;
//! connections it accepts only receive (toydb does the same). A message and its answer thus
//! travel on two different connections, and neither side ever has to match a dialled
//! connection with an accepted one.

pub mod frame;
mod message;
mod outbound;

pub use message::{PeerMessage, RaftRef};
pub use outbound::Outbound;
