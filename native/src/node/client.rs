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
/// A client whose unsent replies pass this many bytes is disconnected: it asked for more
/// than it reads. Reads reserve their expected reply size before they start, so only a
/// value that grew while the read was in flight can get past [`CLIENT_WRITE_BYTES_MAX`];
/// this is the backstop.
pub const CLIENT_WRITE_BYTES_HARD_MAX: usize = 64 * 1024 * 1024;
/// Most unparsed bytes read from one client (one maximal bulk argument plus slack).
pub const CLIENT_READ_BYTES_MAX: usize = 2 * crate::resp::BULK_BYTES_MAX as usize;

/// What a command that goes to the leader does, for ordering on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    /// Admin operations: never run alongside anything else.
    Admin,
}

/// A connected RESP client.
#[derive(Debug)]
pub struct Client {
    pub conn: Conn,
    /// Whether AUTH with the cluster token succeeded on this connection.
    pub authed: bool,
    /// Close once the queued replies are written (QUIT, protocol error).
    pub closing: bool,
    /// Replies owed, oldest first; `None` while the command is still in progress. The kind
    /// is set for commands that went to the leader; the size is the reply bytes reserved.
    slots: VecDeque<(Option<Reply>, Option<Kind>, usize)>,
    /// Reply bytes expected for reads in flight: counted with the queued replies against
    /// [`CLIENT_WRITE_BYTES_MAX`] before another command is read, so that a pipeline of
    /// GETs of large values stops before their replies arrive, not after.
    reserved_bytes: usize,
    /// The queued replies passed [`CLIENT_WRITE_BYTES_HARD_MAX`]: later replies are dropped
    /// and the connection is closed.
    pub overflowed: bool,
    /// How many commands that went to the leader are unanswered, and of which kind.
    leader_in_flight: (u32, Option<Kind>),
    /// The slot number of `slots[0]`.
    first_slot: u64,
    /// When the client last sent bytes (the node's clock, ms), for the idle timeout.
    pub last_active: flotilla_core::Millis,
}

impl Client {
    pub fn new(conn: Conn, now: flotilla_core::Millis) -> Client {
        Client {
            last_active: now,
            conn,
            authed: false,
            closing: false,
            slots: VecDeque::new(),
            reserved_bytes: 0,
            overflowed: false,
            leader_in_flight: (0, None),
            first_slot: 0,
        }
    }

    /// Whether a command of `kind` may start now without breaking the connection's order.
    ///
    /// Redis clients expect a connection's commands to take effect in order, even pipelined.
    /// Writes keep their order through the log and reads keep theirs through ReadIndex, but a
    /// read may be served before an earlier write commits, and a write may commit before an
    /// earlier read is served. So a run of reads or a run of writes is pipelined, and a
    /// command of the other kind waits until the run is answered.
    pub fn may_start(&self, kind: Kind) -> bool {
        match self.leader_in_flight {
            (0, _) => true,
            (_, Some(running)) => running == kind && kind != Kind::Admin,
            (_, None) => true,
        }
    }

    /// Reserves the next reply slot, for a command of `kind` if it goes to the leader, with
    /// `reply_bytes` expected in its reply.
    pub fn open_slot(&mut self, kind: Option<Kind>, reply_bytes: usize) -> u64 {
        if let Some(kind) = kind {
            self.leader_in_flight = (self.leader_in_flight.0 + 1, Some(kind));
        }
        self.reserved_bytes += reply_bytes;
        self.slots.push_back((None, kind, reply_bytes));
        self.first_slot + self.slots.len() as u64 - 1
    }

    /// Fills a slot and queues every reply that is now in order. Unknown slots are ignored.
    pub fn fill(&mut self, slot: u64, reply: Reply) {
        let Some(position) = slot.checked_sub(self.first_slot) else {
            return;
        };
        if let Some((entry @ None, kind, reserved)) = self.slots.get_mut(position as usize) {
            *entry = Some(reply);
            if kind.is_some() {
                self.leader_in_flight.0 -= 1;
            }
            self.reserved_bytes -= std::mem::take(reserved);
        }
        while let Some((Some(_), _, _)) = self.slots.front() {
            if let Some((Some(reply), _, _)) = self.slots.pop_front() {
                if self.conn.pending_write_bytes() > CLIENT_WRITE_BYTES_HARD_MAX {
                    self.overflowed = true;
                } else {
                    reply.encode(self.conn.write_buf_mut());
                }
            }
            self.first_slot += 1;
        }
    }

    /// Whether the client may send more commands now.
    pub fn accepts_more(&self) -> bool {
        !self.closing
            && !self.overflowed
            && self.slots.len() < CLIENT_PIPELINE_MAX
            && self.conn.pending_write_bytes() + self.reserved_bytes < CLIENT_WRITE_BYTES_MAX
    }

    /// Whether every reply owed was queued.
    pub fn all_answered(&self) -> bool {
        self.slots.is_empty()
    }
}
