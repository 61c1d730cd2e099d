//! Seeded client histories for testing and timing the checker without a simulator run
//! (the unit tests and `benches/linearizability.rs` use them).

use super::history::{KvInput, KvOutput, Operation};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// A random history of `ops` operations by `clients` clients over `keys` keys, produced by a
/// real register, so it is always linearizable: every operation takes effect at a point
/// between its invocation and its completion; one write in twenty has an unknown outcome
/// and takes effect or not. Reads are 40 % of the operations, puts 30 %, deletes 10 %,
/// compare-and-sets 20 %; each takes 1 to 19 steps of its client to take effect and as many
/// again to complete, so clients overlap. The same seed gives the same history.
pub fn random_history(seed: u64, ops: u64, keys: u64, clients: u64) -> Vec<Operation> {
    let mut rng = Pcg64::seed_from_u64(seed);
    // (linearization point, operation index, effect)
    let mut planned: Vec<(u64, usize, bool)> = Vec::new();
    let mut history = Vec::new();
    let mut clock = vec![0u64; clients as usize];
    for n in 0..ops {
        let client = rng.random_range(0..clients) as usize;
        let key = format!("k{}", rng.random_range(0..keys)).into_bytes();
        let invoke = clock[client] * clients + client as u64 + 1;
        let point = invoke + rng.random_range(1..20) * clients;
        let complete = point + rng.random_range(1..20) * clients;
        clock[client] = complete / clients + 1;
        let input = match rng.random_range(0..10) {
            0..=3 => KvInput::Get,
            4..=6 => KvInput::Put(format!("v{n}").into_bytes()),
            7 => KvInput::Delete,
            _ => KvInput::CompareAndSet {
                expected: rng
                    .random_bool(0.5)
                    .then(|| format!("v{}", n.saturating_sub(3)).into_bytes()),
                new: Some(format!("v{n}").into_bytes()),
            },
        };
        let unknown = !matches!(input, KvInput::Get) && rng.random_range(0..20) == 0;
        let effect = !unknown || rng.random_bool(0.5);
        planned.push((point, history.len(), effect));
        history.push(Operation {
            client: client as u64,
            key,
            input,
            output: KvOutput::Unknown,
            invoke,
            complete: (!unknown).then_some(complete),
        });
    }
    planned.sort_unstable();
    let mut map: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Default::default();
    for (_, i, effect) in planned {
        let operation = &mut history[i];
        if !effect {
            continue;
        }
        let current = map.get(&operation.key).cloned();
        let output = match &operation.input {
            KvInput::Get => KvOutput::Value(current),
            KvInput::Put(value) => {
                map.insert(operation.key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Delete => KvOutput::Deleted(map.remove(&operation.key).is_some()),
            KvInput::CompareAndSet { expected, new } => {
                let ok = current == *expected;
                if ok {
                    match new {
                        Some(value) => map.insert(operation.key.clone(), value.clone()),
                        None => map.remove(&operation.key),
                    };
                }
                let current = if ok { new.clone() } else { current };
                KvOutput::CasResult { ok, current }
            }
        };
        if operation.complete.is_some() {
            operation.output = output;
        }
    }
    history
}
