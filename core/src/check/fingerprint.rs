//! FNV-1a, 64 bits: a tiny, portable, deterministic hash for fingerprints of log payloads and
//! for the simulator's trace hash. Not cryptographic, and it need not be: it only has to
//! tell honest data apart, identically on every platform.

/// The FNV-1a 64-bit offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64-bit prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An incremental FNV-1a hasher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Fnv64 {
        Fnv64(FNV_OFFSET)
    }
}

impl Fnv64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub fn write_u64(&mut self, value: u64) {
        self.write(&value.to_le_bytes());
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

/// The fingerprint of a log entry's payload.
pub fn payload(payload: &crate::raft::Payload) -> u64 {
    use crate::raft::{ConfChange, Payload};
    let mut hash = Fnv64::default();
    match payload {
        Payload::Noop => hash.write(&[0]),
        Payload::Bootstrap(membership) => {
            hash.write(&[5]);
            for (id, member) in &membership.members {
                hash.write_u64(id.0);
                hash.write(&[u8::from(member.role == crate::raft::MemberRole::Voter)]);
                hash.write(member.address.as_bytes());
            }
        }
        Payload::Command(bytes) => {
            hash.write(&[1]);
            hash.write(bytes);
        }
        Payload::Config(change) => {
            let (tag, id) = match change {
                ConfChange::AddLearner { id, .. } => (2, id),
                ConfChange::Promote { id } => (3, id),
                ConfChange::Remove { id } => (4, id),
            };
            hash.write(&[tag]);
            hash.write_u64(id.0);
            if let ConfChange::AddLearner { address, .. } = change {
                hash.write(address.as_bytes());
            }
        }
    }
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        let hash = |text: &str| {
            let mut h = Fnv64::default();
            h.write(text.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }
}
