//! Property tests of the KV state machine: it agrees with a plain `BTreeMap` model, its
//! snapshots restore to the same state, tagged requests apply at most once, and its decoders
//! survive any bytes.

use flotilla_core::kv::{Command, CommandError, KvStore, Request, Response};
use flotilla_core::Index;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// A deliberately naive model of the commands, written without looking at `KvStore`.
#[derive(Default)]
struct Model {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Model {
    fn apply(&mut self, command: &Command) -> Response {
        match command {
            Command::Get { key } => Response::Value(self.map.get(key).cloned()),
            Command::GetMany { keys } => {
                Response::Values(keys.iter().map(|key| self.map.get(key).cloned()).collect())
            }
            Command::Put { key, value } => {
                self.map.insert(key.clone(), value.clone());
                Response::Ok
            }
            Command::PutMany { pairs } => {
                for (key, value) in pairs {
                    self.map.insert(key.clone(), value.clone());
                }
                Response::Ok
            }
            Command::Delete { key } => Response::Deleted(self.map.remove(key).is_some()),
            Command::DeleteMany { keys } => {
                let mut count = 0;
                for key in keys {
                    if self.map.remove(key).is_some() {
                        count += 1;
                    }
                }
                Response::Count(count)
            }
            Command::CompareAndSet { key, expected, new } => {
                if self.map.get(key) == expected.as_ref() {
                    match new {
                        Some(value) => self.map.insert(key.clone(), value.clone()),
                        None => self.map.remove(key),
                    };
                    Response::CasResult {
                        ok: true,
                        current: new.clone(),
                    }
                } else {
                    Response::CasResult {
                        ok: false,
                        current: self.map.get(key).cloned(),
                    }
                }
            }
            Command::Increment { key, by } => {
                let current = match self.map.get(key) {
                    None => 0i128,
                    Some(bytes) => match model_parse(bytes) {
                        Some(value) => value,
                        None => return Response::Error(CommandError::NotAnInteger),
                    },
                };
                let sum = current + i128::from(*by);
                if sum < i128::from(i64::MIN) || sum > i128::from(i64::MAX) {
                    return Response::Error(CommandError::Overflow);
                }
                self.map.insert(key.clone(), sum.to_string().into_bytes());
                Response::Integer(sum as i64)
            }
        }
    }
}

/// Redis's integer rule spelled out character by character.
fn model_parse(bytes: &[u8]) -> Option<i128> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let canonical = match digits {
        [] => false,
        [b'0'] => !negative,
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical || !digits.iter().all(u8::is_ascii_digit) || digits.len() > 19 {
        return None;
    }
    let magnitude: i128 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let value = if negative { -magnitude } else { magnitude };
    (i128::from(i64::MIN)..=i128::from(i64::MAX))
        .contains(&value)
        .then_some(value)
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        b"a".to_vec(),
        b"b".to_vec(),
        b"c".to_vec(),
        b"n".to_vec(),
    ])
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (-3i64..3).prop_map(|n| n.to_string().into_bytes()),
        Just(b"-0".to_vec()),
        Just(b"007".to_vec()),
        Just(i64::MAX.to_string().into_bytes()),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        key().prop_map(|key| Command::Get { key }),
        prop::collection::vec(key(), 0..4).prop_map(|keys| Command::GetMany { keys }),
        (key(), value()).prop_map(|(key, value)| Command::Put { key, value }),
        prop::collection::vec((key(), value()), 0..4).prop_map(|pairs| Command::PutMany { pairs }),
        key().prop_map(|key| Command::Delete { key }),
        prop::collection::vec(key(), 0..4).prop_map(|keys| Command::DeleteMany { keys }),
        (key(), prop::option::of(value()), prop::option::of(value()))
            .prop_map(|(key, expected, new)| Command::CompareAndSet { key, expected, new }),
        (key(), prop_oneof![any::<i64>(), -5i64..5])
            .prop_map(|(key, by)| Command::Increment { key, by }),
    ]
}

/// Tagged requests from a few clients, each numbering its requests upward, with retries of
/// the latest request mixed in.
fn tagged_requests() -> impl Strategy<Value = Vec<(Request, bool)>> {
    prop::collection::vec((0u64..3, command(), any::<bool>()), 0..60).prop_map(|steps| {
        let mut next_seq = [1u64; 3];
        let mut latest: [Option<Request>; 3] = [None, None, None];
        let mut out = Vec::new();
        for (client, command, retry) in steps {
            let slot = client as usize;
            match (&latest[slot], retry) {
                (Some(previous), true) => out.push((previous.clone(), true)),
                _ => {
                    let request = Request::tagged(client, next_seq[slot], command);
                    next_seq[slot] += 1;
                    latest[slot] = Some(request.clone());
                    out.push((request, false));
                }
            }
        }
        out
    })
}

proptest! {
    #[test]
    fn kv_agrees_with_btreemap(commands in prop::collection::vec(command(), 0..80)) {
        let mut kv = KvStore::new();
        let mut model = Model::default();
        for (offset, command) in commands.iter().enumerate() {
            let index = Index(offset as u64 + 1);
            let response = kv.apply(index, &Request::untagged(command.clone()));
            prop_assert_eq!(&response, &model.apply(command), "command {:?}", command);
            if command.is_read() {
                prop_assert_eq!(kv.read(command), Ok(response));
            }
        }
        let pairs: Vec<(&[u8], &[u8])> = kv.iter().collect();
        let expected: Vec<(&[u8], &[u8])> =
            model.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        prop_assert_eq!(pairs, expected);
        prop_assert_eq!(kv.len(), model.map.len() as u64);
    }

    #[test]
    fn snapshot_restore_keeps_state_and_digest(
        requests in tagged_requests(),
        after in prop::collection::vec(command(), 0..20),
    ) {
        let mut kv = KvStore::new();
        for (offset, (request, _)) in requests.iter().enumerate() {
            kv.apply(Index(offset as u64 + 1), request);
        }
        let mut restored = KvStore::restore(&kv.snapshot()).expect("a snapshot restores");
        prop_assert_eq!(&restored, &kv);
        prop_assert_eq!(restored.digest(), kv.digest());
        prop_assert_eq!(restored.snapshot(), kv.snapshot());
        // The restored store keeps behaving the same, sessions included.
        let base = kv.applied().0;
        for (offset, command) in after.iter().enumerate() {
            let index = Index(base + offset as u64 + 1);
            let request = Request::tagged(0, 1, command.clone());
            prop_assert_eq!(kv.apply(index, &request), restored.apply(index, &request));
        }
        prop_assert_eq!(restored.digest(), kv.digest());
    }

    #[test]
    fn tagged_requests_apply_at_most_once(requests in tagged_requests()) {
        let mut kv = KvStore::new();
        let mut model = Model::default();
        let mut answers: BTreeMap<(u64, u64), Response> = BTreeMap::new();
        for (offset, (request, retry)) in requests.iter().enumerate() {
            let response = kv.apply(Index(offset as u64 + 1), request);
            let tag = request.session.expect("tagged");
            if *retry {
                prop_assert_eq!(Some(&response), answers.get(&(tag.client_id, tag.seq)));
            } else {
                prop_assert_eq!(&response, &model.apply(&request.command));
                answers.insert((tag.client_id, tag.seq), response);
            }
        }
        let expected: Vec<(&[u8], &[u8])> =
            model.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        prop_assert_eq!(kv.iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn equal_histories_give_equal_digests(commands in prop::collection::vec(command(), 0..30)) {
        let mut one = KvStore::new();
        let mut two = KvStore::new();
        for (offset, command) in commands.iter().enumerate() {
            let request = Request::untagged(command.clone());
            one.apply(Index(offset as u64 + 1), &request);
            two.apply(Index(offset as u64 + 1), &request);
        }
        prop_assert_eq!(one.digest(), two.digest());
    }

    #[test]
    fn request_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        // Anything that decodes is a request that encodes and decodes to itself.
        if let Ok(request) = Request::decode(&bytes) {
            prop_assert_eq!(Request::decode(&request.encode()), Ok(request));
        }
    }

    #[test]
    fn request_round_trips(command in command(), client in any::<u64>(), seq in any::<u64>()) {
        let request = Request::tagged(client, seq, command);
        prop_assert_eq!(Request::decode(&request.encode()), Ok(request));
    }

    #[test]
    fn restore_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut framed = b"FLKV\x01\x00\x00\x00".to_vec();
        framed.extend_from_slice(&bytes);
        if let Ok(kv) = KvStore::restore(&framed) {
            prop_assert_eq!(KvStore::restore(&kv.snapshot()), Ok(kv));
        }
        let _ = KvStore::restore(&bytes);
    }
}

#[test]
fn model_parse_matches_redis_examples() {
    assert_eq!(model_parse(b"0"), Some(0));
    assert_eq!(model_parse(b"-12"), Some(-12));
    for bad in [
        &b"-0"[..],
        b"007",
        b"+1",
        b"",
        b"-",
        b"1 ",
        b"99999999999999999999",
    ] {
        assert_eq!(model_parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}
