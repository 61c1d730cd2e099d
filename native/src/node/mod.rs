//! `flotilla node`: one Raft node with its write-ahead log, peers, RESP clients and gateway.
//!
//! One mio event loop ([`event_loop`]) owns everything that touches the node: the Raft
//! replica, the file store, the peer connections and the client connections. It runs the
//! driver recipe of `flotilla_core::raft::ready` ([`driver`]): persist, fsync once, send,
//! apply, advance. Clients' commands are classified ([`command`]), served locally, submitted
//! to the replica on the leader, or forwarded to the leader over the peer connection
//! ([`requests`]). The HTTP/WebSocket gateway runs on its own thread (`crate::gateway`) and
//! talks to the loop through channels and a `mio::Waker`.

mod client;
pub mod command;
mod driver;
mod event_loop;
mod live;
mod outcome;
mod relay_watch;
mod requests;
mod status;

use crate::cli::CommandResult;
use crate::config::NodeArgs;
use crate::wal::{FileStore, SEGMENT_BYTES_MAX_DEFAULT};
use flotilla_core::raft::{Config, Membership};
use flotilla_core::replica::{Replica, ReplicaConfig};
use flotilla_core::storage::Storage;
use flotilla_core::NodeId;

pub use event_loop::EventLoop;

/// Loads the data folder, builds the replica and runs the event loop until SIGTERM/SIGINT.
pub fn run(args: NodeArgs) -> CommandResult {
    let args = args.resolve()?;
    let voters = args.initial_voters()?;
    let me = NodeId(args.id);
    let mut store = FileStore::open(&args.data, SEGMENT_BYTES_MAX_DEFAULT)
        .map_err(|e| format!("cannot open data folder {}: {e}", args.data.display()))?;
    let durable = store.load().map_err(|e| {
        format!(
            "refusing to start on the data in {}: {e}",
            args.data.display()
        )
    })?;
    tracing::info!(
        node = %me,
        data = %args.data.display(),
        term = %durable.hard_state.term,
        entries = durable.entries.len(),
        snapshot = ?durable.snapshot.as_ref().map(|s| s.meta.index.0),
        "recovered"
    );
    let mut config = Config::new(me);
    config.election_timeout_min_ms = args.election_timeout_min_ms;
    config.election_timeout_max_ms = args.election_timeout_max_ms;
    config.heartbeat_interval_ms = args.heartbeat_ms;
    // Every start draws new election timeouts: a node restarted with the same seed would
    // replay the same timeouts as its previous life, and peers restarted together would
    // keep colliding.
    config.seed = random_seed();
    let replica_config = ReplicaConfig {
        snapshot_entries: args.snapshot_entries,
    };
    let membership = Membership::with_voters(voters.iter().map(|(id, a)| (*id, a.as_str())));
    let replica = Replica::restore(
        config,
        replica_config,
        membership,
        durable.hard_state,
        durable.snapshot,
        durable.entries,
        0,
    )?;
    let mut event_loop = EventLoop::new(&args, replica, store)?;
    event_loop.run()?;
    Ok(())
}

/// A seed from the OS (std's randomly keyed hasher), without another dependency.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}
