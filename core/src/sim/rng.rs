//! Every random choice of a run comes from its one seed, through independent streams: the
//! swarm options, the network, the faults, the workload, the disks and each node's election
//! timeouts each get a seed derived from the run's seed and a label. Separate streams keep a
//! change in one place (say, one more client) from reshuffling every other choice, which
//! keeps failing seeds meaningful while the code evolves a little.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// A child seed for `label`: SplitMix64's finalizer over the seed and an FNV hash of the label.
pub fn derive(seed: u64, label: &str) -> u64 {
    let mut hash = crate::check::fingerprint::Fnv64::default();
    hash.write(label.as_bytes());
    mix(seed ^ hash.finish())
}

/// A child seed for a numbered thing (a node, a client) under `label`.
pub fn derive_numbered(seed: u64, label: &str, number: u64) -> u64 {
    mix(derive(seed, label) ^ mix(number.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One seeded random stream, with the few integer helpers the simulator needs.
#[derive(Clone, Debug)]
pub struct Stream(Pcg64);

impl Stream {
    pub fn new(seed: u64) -> Stream {
        Stream(Pcg64::seed_from_u64(seed))
    }

    /// Uniform in `[low, high]` (both included); `low` when the range is empty.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        self.0.random_range(low..=high)
    }

    /// True with chance `permille` / 1000.
    pub fn chance(&mut self, permille: u32) -> bool {
        permille > 0 && self.0.random_range(0..1_000u32) < permille
    }

    /// A uniformly chosen element, if any.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.range(0, items.len() as u64 - 1) as usize)
    }
}
