//! The workload both targets see: which key, read or write, and the bytes of keys and values.
//! Everything is decided by a seeded generator, so two runs with the same options and seed
//! issue the same sequence of operations per client.

use std::sync::Arc;

/// One operation of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A linearizable read of key number `key`.
    Read { key: u32 },
    /// A write of the workload's value to key number `key`.
    Write { key: u32 },
}

/// The keys and the value, prepared once and shared by every client.
#[derive(Debug)]
pub struct Workload {
    keys: Vec<Vec<u8>>,
    value: Vec<u8>,
    /// Reads per million operations.
    reads_per_million: u32,
}

/// Largest key and value sizes accepted, in bytes.
pub const KEY_BYTES_MAX: usize = 1024;
pub const VALUE_BYTES_MAX: usize = 1024 * 1024;

impl Workload {
    /// `keys` distinct keys of exactly `key_bytes` bytes ("k" and a zero-padded number),
    /// one value of `value_bytes` bytes, and a read ratio between 0 and 1.
    pub fn new(
        keys: u32,
        key_bytes: usize,
        value_bytes: usize,
        read_ratio: f64,
    ) -> Result<Arc<Workload>, String> {
        if keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&read_ratio) {
            return Err("--read-ratio must be between 0 and 1".into());
        }
        if key_bytes > KEY_BYTES_MAX || value_bytes > VALUE_BYTES_MAX {
            return Err(format!(
                "--key-size is at most {KEY_BYTES_MAX} and --value-size at most {VALUE_BYTES_MAX}"
            ));
        }
        let digits = (keys - 1).max(1).ilog10() as usize + 1;
        if key_bytes < digits + 1 {
            return Err(format!(
                "--key-size {key_bytes} is too small for {keys} keys (needs {})",
                digits + 1
            ));
        }
        let keys = (0..keys)
            .map(|i| format!("k{i:0width$}", width = key_bytes - 1).into_bytes())
            .collect();
        // Printable, so that redis-cli shows it; varied, so that nothing compresses it away.
        let value = (0..value_bytes)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
            .collect();
        Ok(Arc::new(Workload {
            keys,
            value,
            reads_per_million: (read_ratio * 1e6).round() as u32,
        }))
    }

    pub fn key(&self, key: u32) -> &[u8] {
        self.keys.get(key as usize).map_or(&[], Vec::as_slice)
    }

    pub fn key_count(&self) -> u32 {
        self.keys.len() as u32
    }

    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The next operation, drawn from `rng`.
    pub fn next_op(&self, rng: &mut Rng) -> Op {
        let key = (rng.next() % u64::from(self.key_count())) as u32;
        if ((rng.next() >> 32) % 1_000_000) < u64::from(self.reads_per_million) {
            Op::Read { key }
        } else {
            Op::Write { key }
        }
    }
}

/// SplitMix64: small, fast and good enough to pick keys.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_asked_size_and_are_distinct() {
        let w = Workload::new(1000, 8, 16, 0.5).expect("workload");
        assert_eq!(w.key(0), b"k0000000");
        assert_eq!(w.key(999), b"k0000999");
        assert_eq!(w.value().len(), 16);
        assert_eq!(w.key(1000), b"");
    }

    #[test]
    fn rejects_keys_too_small_for_the_count() {
        assert!(Workload::new(1000, 3, 16, 0.0).is_err());
        assert!(Workload::new(10, 2, 16, 0.0).is_ok());
        assert!(Workload::new(10, 8, 16, 1.5).is_err());
        assert!(Workload::new(0, 8, 16, 0.0).is_err());
    }

    #[test]
    fn read_ratio_is_respected() {
        let w = Workload::new(100, 8, 1, 0.25).expect("workload");
        let mut rng = Rng::new(7);
        let reads = (0..100_000)
            .filter(|_| matches!(w.next_op(&mut rng), Op::Read { .. }))
            .count();
        assert!((23_000..27_000).contains(&reads), "{reads}");
        let all_writes = Workload::new(100, 8, 1, 0.0).expect("workload");
        assert!((0..1000).all(|_| matches!(all_writes.next_op(&mut rng), Op::Write { .. })));
    }
}
