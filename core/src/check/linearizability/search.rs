//! The search for one key: Wing–Gong with Lowe's cache, over a doubly linked list of call
//! and return events ("dancing links"), so that lifting an operation out of the list and
//! putting it back are O(1).

use super::history::{KvInput, KvOutput, Operation};
use std::collections::{BTreeMap, BTreeSet};

/// Most search steps (events visited) for one key before giving up. A 10,000-operation
/// history over 100 keys needs well under a thousand steps per key; this is a guard against
/// pathological histories (thousands of concurrent unknown writes on one key).
pub const SEARCH_STEPS_MAX: u64 = 20_000_000;

/// The answer for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyVerdict {
    Linearizable,
    /// `operation` (an index into the key's operations) could not be linearized before its
    /// completion even by the longest partial linearization found, which held `linearized`
    /// operations.
    Violation {
        operation: u32,
        linearized: u32,
    },
    GaveUp,
}

/// An input with its values interned: 0 is "absent", other values are small integers.
#[derive(Clone, Copy, Debug)]
enum Input {
    Get,
    Put(u32),
    Delete,
    Cas { expected: u32, new: u32 },
}

#[derive(Clone, Copy, Debug)]
enum Output {
    Value(u32),
    Ok,
    Deleted(bool),
    Cas { ok: bool, current: u32 },
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct ModelOp {
    input: Input,
    output: Output,
}

/// The model: one register that may be absent. Returns the state after `op`, or `None` if
/// `op` could not have produced the output the client saw.
fn step(state: u32, op: ModelOp) -> Option<u32> {
    let unknown = matches!(op.output, Output::Unknown);
    match (op.input, op.output) {
        (Input::Get, Output::Value(value)) => (value == state).then_some(state),
        (Input::Get, Output::Unknown) => Some(state),
        (Input::Put(value), Output::Ok | Output::Unknown) => Some(value),
        (Input::Delete, Output::Deleted(existed)) => (existed == (state != 0)).then_some(0),
        (Input::Delete, Output::Unknown) => Some(0),
        (Input::Cas { expected, new }, output) => {
            let swaps = state == expected;
            let next = if swaps { new } else { state };
            match output {
                _ if unknown => Some(next),
                Output::Cas { ok, current } => (ok == swaps && current == next).then_some(next),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Interns values so that model states are integers.
#[derive(Default)]
struct Interner<'a> {
    ids: BTreeMap<&'a [u8], u32>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, value: &'a Option<Vec<u8>>) -> u32 {
        match value {
            None => 0,
            Some(bytes) => {
                let next = self.ids.len() as u32 + 1;
                *self.ids.entry(bytes.as_slice()).or_insert(next)
            }
        }
    }

    fn model_op(&mut self, operation: &'a Operation) -> ModelOp {
        let input = match &operation.input {
            KvInput::Get => Input::Get,
            KvInput::Put(value) => Input::Put(self.id_of(value)),
            KvInput::Delete => Input::Delete,
            KvInput::CompareAndSet { expected, new } => Input::Cas {
                expected: self.id(expected),
                new: self.id(new),
            },
        };
        let output = match &operation.output {
            KvOutput::Value(value) => Output::Value(self.id(value)),
            KvOutput::Ok => Output::Ok,
            KvOutput::Deleted(existed) => Output::Deleted(*existed),
            KvOutput::CasResult { ok, current } => Output::Cas {
                ok: *ok,
                current: self.id(current),
            },
            KvOutput::Unknown | KvOutput::Failed => Output::Unknown,
        };
        ModelOp { input, output }
    }

    fn id_of(&mut self, bytes: &'a [u8]) -> u32 {
        let next = self.ids.len() as u32 + 1;
        *self.ids.entry(bytes).or_insert(next)
    }
}

/// Sentinel for "no entry" in the linked list.
const NIL: u32 = u32::MAX;
/// The list's head sentinel; entries are numbered from 1.
const HEAD: u32 = 0;

/// The event list: entry `e` (from 1) is the call or the return of operation `op[e]`.
struct Events {
    op: Vec<u32>,
    is_call: Vec<bool>,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Per operation, its call entry and its return entry (`NIL` if none).
    call_of: Vec<u32>,
    return_of: Vec<u32>,
}

impl Events {
    fn new(operations: &[&Operation]) -> Events {
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(operations.len() * 2);
        for (i, operation) in operations.iter().enumerate() {
            let i = i as u32;
            // At equal times calls sort first (`false < true`): the operations overlap.
            events.push((operation.invoke, false, i));
            if operation.completed() {
                let complete = operation.complete.unwrap_or(u64::MAX);
                events.push((complete.max(operation.invoke), true, i));
            }
        }
        events.sort_unstable();
        let count = events.len() + 1;
        let mut list = Events {
            op: vec![NIL; count],
            is_call: vec![false; count],
            next: (1..=count as u32).collect(),
            prev: (0..count as u32).map(|e| e.wrapping_sub(1)).collect(),
            call_of: vec![NIL; operations.len()],
            return_of: vec![NIL; operations.len()],
        };
        list.next[count - 1] = NIL;
        list.prev[0] = NIL;
        for (k, &(_, is_return, op)) in events.iter().enumerate() {
            let entry = k as u32 + 1;
            list.op[entry as usize] = op;
            list.is_call[entry as usize] = !is_return;
            if is_return {
                list.return_of[op as usize] = entry;
            } else {
                list.call_of[op as usize] = entry;
            }
        }
        list
    }

    fn unlink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = next;
        if next != NIL {
            self.prev[next as usize] = prev;
        }
    }

    fn relink(&mut self, entry: u32) {
        let (prev, next) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[prev as usize] = entry;
        if next != NIL {
            self.prev[next as usize] = entry;
        }
    }

    fn lift(&mut self, op: u32) {
        self.unlink(self.call_of[op as usize]);
        let ret = self.return_of[op as usize];
        if ret != NIL {
            self.unlink(ret);
        }
    }

    /// Undoes `lift`, in the reverse order.
    fn unlift(&mut self, op: u32) {
        let ret = self.return_of[op as usize];
        if ret != NIL {
            self.relink(ret);
        }
        self.relink(self.call_of[op as usize]);
    }
}

/// Which operations are linearized so far.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Bits(Vec<u64>);

impl Bits {
    fn flip(&mut self, op: u32) {
        self.0[(op / 64) as usize] ^= 1 << (op % 64);
    }
}

/// Checks one key's operations (already filtered to those that constrain the search).
pub(super) fn check_key(operations: &[&Operation]) -> KeyVerdict {
    let mut interner = Interner::default();
    let ops: Vec<ModelOp> = operations.iter().map(|o| interner.model_op(o)).collect();
    let mut events = Events::new(operations);
    let mut returns_left = operations.iter().filter(|o| o.completed()).count();
    let mut bits = Bits(vec![0; operations.len().div_ceil(64)]);
    let mut cache: BTreeSet<(Bits, u32)> = BTreeSet::new();
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut state = 0u32;
    let mut deepest = (0u32, NIL);
    let mut entry = events.next[HEAD as usize];
    let mut steps = 0u64;
    while returns_left > 0 {
        steps += 1;
        if steps > SEARCH_STEPS_MAX {
            return KeyVerdict::GaveUp;
        }
        // A return is still in the list and the walk never passes one, so this is not NIL.
        assert_ne!(entry, NIL, "linearizability search walked past a return");
        let op = events.op[entry as usize];
        if events.is_call[entry as usize] {
            if let Some(next_state) = step(state, ops[op as usize]) {
                bits.flip(op);
                if cache.insert((bits.clone(), next_state)) {
                    stack.push((op, state));
                    state = next_state;
                    events.lift(op);
                    if events.return_of[op as usize] != NIL {
                        returns_left -= 1;
                    }
                    entry = events.next[HEAD as usize];
                    continue;
                }
                bits.flip(op);
            }
            entry = events.next[entry as usize];
        } else {
            if stack.len() as u32 >= deepest.0 {
                deepest = (stack.len() as u32, op);
            }
            let Some((undone, previous)) = stack.pop() else {
                return KeyVerdict::Violation {
                    operation: deepest.1,
                    linearized: deepest.0,
                };
            };
            state = previous;
            bits.flip(undone);
            events.unlift(undone);
            if events.return_of[undone as usize] != NIL {
                returns_left += 1;
            }
            entry = events.next[events.call_of[undone as usize] as usize];
        }
    }
    KeyVerdict::Linearizable
}
