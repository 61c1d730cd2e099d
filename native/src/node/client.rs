//! One RESP client connection: its socket, whether it has authenticated, and the replies
//! it is owed, in the order it asked.
//!
//! Clients may pipeline: send many commands before reading any reply. Replies must come back
//! in request order, but a local `PING` is ready at once while a `SET` before it waits for
//! Raft. So every command takes a numbered slot, replies fill slots, and only the filled
//! prefix of the queue is written out.

use crate::net::Conn;
use crate::resp::Reply;
use std::collections::VecDeque;

/// Most commands of one client waiting for replies. Past this the loop stops reading from
/// the client until replies drain (backpressure on pipelines like redis-benchmark -P).
pub const CLIENT_PIPELINE_MAX: usize = 1024;
/// Most reply bytes queued for one client before the loop stops reading its commands.
pub const CLIENT_WRITE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most unparsed bytes read from one client (one maximal bulk argument plus slack).
pub const CLIENT_READ_BYTES_MAX: usize = 2 * crate::resp::BULK_BYTES_MAX as usize;

/// A connected RESP client.
#[derive(Debug)]
pub struct Client {
    pub conn: Conn,
    /// Whether AUTH with the cluster token succeeded on this connection.
    pub authed: bool,
    /// Close once the queued replies are written (QUIT, protocol error).
    pub closing: bool,
    /// Replies owed, oldest first; `None` while the command is still in progress.
    slots: VecDeque<Option<Reply>>,
    /// The slot number of `slots[0]`.
    first_slot: u64,
}

impl Client {
    pub fn new(conn: Conn) -> Client {
        Client {
            conn,
            authed: false,
            closing: false,
            slots: VecDeque::new(),
            first_slot: 0,
        }
    }

    /// Reserves the next reply slot.
    pub fn open_slot(&mut self) -> u64 {
        self.slots.push_back(None);
        self.first_slot + self.slots.len() as u64 - 1
    }

    /// Fills a slot and queues every reply that is now in order. Unknown slots are ignored.
    pub fn fill(&mut self, slot: u64, reply: Reply) {
        let Some(position) = slot.checked_sub(self.first_slot) else {
            return;
        };
        if let Some(entry) = self.slots.get_mut(position as usize) {
            *entry = Some(reply);
        }
        while let Some(Some(_)) = self.slots.front() {
            if let Some(Some(reply)) = self.slots.pop_front() {
                reply.encode(self.conn.write_buf_mut());
            }
            self.first_slot += 1;
        }
    }

    /// Whether the client may send more commands now.
    pub fn accepts_more(&self) -> bool {
        !self.closing
            && self.slots.len() < CLIENT_PIPELINE_MAX
            && self.conn.pending_write_bytes() < CLIENT_WRITE_BYTES_MAX
    }

    /// Whether every reply owed was queued.
    pub fn all_answered(&self) -> bool {
        self.slots.is_empty()
    }
}
