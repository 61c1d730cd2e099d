//! RESP, the Redis serialization protocol: what clients send (commands, in multibulk form or
//! as inline text lines from telnet/nc) and what the node answers ([`Reply`]).
//!
//! Both directions are parsed incrementally from a byte buffer: a parser returns `Ok(None)`
//! when the buffer holds only part of a message, so the event loop can keep reading and try
//! again. Nothing here panics on input; malformed bytes are a [`ProtocolError`].

mod command;
mod reply;

pub use command::{parse_command, BULK_BYTES_MAX};
pub use reply::{parse_reply, Reply};

/// Bytes that are not RESP. The connection cannot be resynchronised after one (Redis closes
/// it too), so the server answers with the error and closes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);
