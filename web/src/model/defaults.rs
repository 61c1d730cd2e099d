//! The page's starting point: a manual-mode cluster tuned to be watched rather than to be
//! fast. Links are 10 to 20 ms long (the core's default of 1 to 5 ms would make messages
//! flash by), which keeps the Raft paper's rule of thumb, broadcast time well below the
//! 150 to 300 ms election timeout.

use flotilla_core::sim::SimOptions;

/// The seed of a fresh page: one whose first election succeeds at once (a leader at about
/// 220 ms of virtual time), so a visitor sees a leader within about a second.
pub const DEFAULT_SEED: u64 = 82;
/// The cluster size of a fresh page.
pub const DEFAULT_NODES: u32 = 5;
/// Cluster sizes the settings offer.
pub const CLUSTER_SIZES: [u32; 4] = [3, 5, 7, 9];

/// The page's options for a cluster of `nodes`.
pub fn page_options(nodes: u32) -> SimOptions {
    let mut options = SimOptions::manual(nodes);
    options.network.latency_min_ms = 10;
    options.network.latency_max_ms = 20;
    options.network.jitter_ms = 5;
    options.network.client_latency_ms = 5;
    options.disk.fsync_min_ms = 2;
    options.disk.fsync_max_ms = 6;
    // Clients for the autopilot; they do nothing until it is switched on.
    options.workload.clients = 3;
    options.workload.keys = 4;
    options.workload.think_ms_max = 60;
    options.workload.request_timeout_ms = 500;
    options.workload.operation_timeout_ms = 3_000;
    // Snapshots every 64 entries: often enough to watch compaction happen.
    options.raft.snapshot_entries = 64;
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_options_validate_for_every_size() {
        for nodes in CLUSTER_SIZES {
            assert_eq!(page_options(nodes).validate(), Ok(()));
        }
    }
}
