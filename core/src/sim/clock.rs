//! A node's clock. Real clocks drift: a node whose clock runs 10 % fast times out 10 % early.
//! Each simulated node reads a local clock that runs at `rate_permille` / 1000 of virtual
//! time; the node only ever sees local time, and the simulator converts the node's next
//! deadline back to virtual time to schedule its timer. Integer arithmetic only.

use crate::types::Millis;

/// A clock running at a fixed rate since its last rate change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    rate_permille: u32,
    base_virtual: Millis,
    base_local: Millis,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            rate_permille: 1_000,
            base_virtual: 0,
            base_local: 0,
        }
    }
}

impl Clock {
    /// Local time at virtual time `now` (never before the last rate change).
    pub fn local(&self, now: Millis) -> Millis {
        let elapsed = now.saturating_sub(self.base_virtual);
        self.base_local + elapsed * u64::from(self.rate_permille) / 1_000
    }

    /// The first virtual time at which local time reaches `local`.
    pub fn virtual_at(&self, local: Millis) -> Millis {
        if local <= self.base_local {
            return self.base_virtual;
        }
        let rate = u64::from(self.rate_permille.max(1));
        self.base_virtual + ((local - self.base_local) * 1_000).div_ceil(rate)
    }

    pub fn rate_permille(&self) -> u32 {
        self.rate_permille
    }

    /// Changes the rate from virtual time `now` on.
    pub fn set_rate(&mut self, now: Millis, rate_permille: u32) {
        self.base_local = self.local(now);
        self.base_virtual = now;
        self.rate_permille = rate_permille.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_trip_at_any_rate() {
        for rate in [500, 999, 1_000, 1_001, 1_200] {
            let mut clock = Clock::default();
            clock.set_rate(100, rate);
            for local in [100, 101, 150, 1_234, 99_999] {
                let at = clock.virtual_at(local);
                assert!(clock.local(at) >= local, "rate {rate} local {local}");
                assert!(
                    at == 100 || clock.local(at - 1) < local,
                    "rate {rate} local {local}"
                );
            }
        }
    }
}
