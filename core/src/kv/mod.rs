//! # The key-value state machine
//!
//! Raft agrees on a sequence of opaque byte strings; this module gives them a meaning. Every
//! replica feeds the committed entries, in log order, to its own [`KvStore`], and because
//! [`KvStore::apply`] is a pure function of the state and the entry, every replica ends up
//! with the same map at the same index. That is the state-machine safety property the
//! simulator checks by comparing [`KvStore::digest`] across replicas.
//!
//! ## Determinism
//!
//! Nothing in here may depend on anything but the log: no clocks, no randomness, no hash
//! maps (their iteration order changes from run to run), no floating point, no `usize` in
//! anything encoded. Limits are checked where requests enter the system
//! ([`Request::validate`], called by drivers before proposing), never in `apply`: a limit
//! that changed between two releases would make the same log replay to two different states.
//! Bytes that do not decode as a request are answered with an error by every replica alike.
//!
//! ## Commands and responses
//!
//! [`Command`] covers what the Redis front end needs: GET and MGET ([`Command::Get`],
//! [`Command::GetMany`]), SET and MSET ([`Command::Put`], [`Command::PutMany`]), DEL with one
//! or many keys, INCR/INCRBY/DECR ([`Command::Increment`], which parses values as canonical
//! decimal text exactly like Redis), and compare-and-set for clients that want
//! optimistic concurrency. EXISTS is a read ([`Command::GetMany`]) counted by the driver.
//! Multi-key commands apply in one entry, so they are atomic, as Redis promises.
//!
//! Reads take two paths. A linearizable read goes through ReadIndex: the driver waits until
//! `applied()` has reached the index the leader confirmed, then calls [`KvStore::read`],
//! which serves `Get`/`GetMany` without a log entry. A read may also be proposed like a write
//! (it then costs an entry but needs no ReadIndex round).
//!
//! ## Client sessions: why a retried write must not apply twice
//!
//! A client sends `INCR n` to the leader; the leader appends it, replicates it, commits it,
//! and crashes before answering. The client times out and retries against the new leader.
//! The first attempt is already in the log, so without help the retry increments `n` a
//! second time. Raft alone gives at-least-once; linearizability needs exactly-once.
//!
//! So a client tags each request with `(client_id, seq)` ([`SessionTag`]), and the state
//! machine remembers, per client, the highest `seq` applied and its response. A request with
//! that `seq` again is a retry: it gets the cached response and changes nothing. A request
//! with a lower `seq` is stale (its response was replaced): it is refused with
//! [`CommandError::StaleRequest`] rather than applied, because applying it now could undo a
//! newer write of the same client. Only the latest response per client is kept, which is
//! enough for clients that have one request in flight at a time (Redis connections do).
//!
//! The table is bounded ([`SESSIONS_MAX`]) and forgets clients idle for more than
//! [`SESSION_IDLE_ENTRIES_MAX`] applied entries; when full, it evicts the least recently used
//! session. Both rules count log indexes, not time, so every replica evicts the same sessions
//! at the same entry (the Raft thesis, section 6.3, makes the same point). The table is part
//! of the snapshot and of the digest. The price of a bound: a client silent for longer than
//! the idle limit that then retries an old request has it applied again; clients must not
//! retry after that long.
//!
//! ## What is left out
//!
//! * No expiring keys (TTL): expiry would need time in the log (the leader's clock in the
//!   entry), which we have not designed yet.
//! * No pipelined sessions: one cached response per client.
//! * The digest hashes the whole state on every call (O(size)); fine for the simulator's
//!   small maps, to be made incremental if it shows in a profile.

mod command;
mod response;
mod session;
mod snapshot;
mod store;

pub use command::{Command, Request, RequestError, SessionTag};
pub use response::{CommandError, Response};
pub use session::{Session, SessionCheck, SessionTable};
pub use snapshot::{KvSnapshotError, KV_SNAPSHOT_MAGIC, KV_SNAPSHOT_VERSION};
pub use store::{parse_integer, KvStore, ReadError};

/// Longest key, in bytes. Checked by [`Command::validate`] before a proposal.
pub const KEY_BYTES_MAX: u64 = 4 * 1024;
/// Longest value, in bytes. Checked by [`Command::validate`] before a proposal.
pub const VALUE_BYTES_MAX: u64 = 1024 * 1024;
/// Most keys (or pairs) in one multi-key command.
pub const BATCH_KEYS_MAX: u64 = 1024;
/// Longest encoded [`Request`], in bytes: what one log entry may carry for the KV.
pub const REQUEST_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// Most client sessions remembered at once. Memory for sessions is at most this many times
/// the largest response.
pub const SESSIONS_MAX: u64 = 1024;
/// A session unused for more than this many applied log entries is forgotten.
pub const SESSION_IDLE_ENTRIES_MAX: u64 = 100_000;

const _: () = assert!(KEY_BYTES_MAX + VALUE_BYTES_MAX < REQUEST_BYTES_MAX);
const _: () = assert!(SESSIONS_MAX > 0);
