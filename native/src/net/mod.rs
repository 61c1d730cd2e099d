//! Non-blocking TCP plumbing shared by peer and client connections.

mod conn;

pub use conn::{Conn, ReadOutcome};

use std::io;

/// Whether an I/O error only means "not now".
pub fn would_block(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

/// Whether an I/O error means "interrupted by a signal, try again".
pub fn interrupted(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::Interrupted
}
