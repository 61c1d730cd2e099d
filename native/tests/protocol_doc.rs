//! docs/protocol.md stays true to the code: every example marked ```` ```json page ```` or
//! ```` ```json node ```` decodes as a `PageMessage` or a `NodeMessage` and encodes back to
//! the same JSON, and every message type has an example.

use flotilla_core::live::protocol::{NodeMessage, PageMessage};
use serde_json::Value;
use std::collections::BTreeSet;

fn examples(side: &str) -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))
        .expect("docs/protocol.md");
    let fence = format!("```json {side}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == fence => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                out.push(std::mem::take(block));
                current = None;
            }
            Some(block) => block.push_str(line),
            None => {}
        }
    }
    out
}

fn check<T: serde::de::DeserializeOwned + serde::Serialize>(side: &str) -> BTreeSet<String> {
    let mut types = BTreeSet::new();
    for example in examples(side) {
        let message: T = serde_json::from_str(&example)
            .unwrap_or_else(|e| panic!("{side} example does not decode: {e}\n{example}"));
        let again = serde_json::to_value(&message).expect("encode");
        let original: Value = serde_json::from_str(&example).expect("json");
        assert_eq!(again, original, "{side} example does not round-trip");
        types.insert(original["type"].as_str().expect("type").to_string());
    }
    types
}

#[test]
fn every_example_in_the_protocol_doc_decodes_and_round_trips() {
    let page = check::<PageMessage>("page");
    let expected: BTreeSet<String> = [
        "subscribe",
        "auth",
        "kv",
        "command",
        "admin",
        "peer_join",
        "peer_leave",
        "raft",
    ]
    .map(String::from)
    .into();
    assert_eq!(page, expected);
    let node = check::<NodeMessage>("node");
    let expected: BTreeSet<String> = [
        "welcome",
        "status",
        "event",
        "messages",
        "lagged",
        "kv_reply",
        "command_reply",
        "admin_reply",
        "peer_joined",
        "peer_left",
        "raft",
        "error",
    ]
    .map(String::from)
    .into();
    assert_eq!(node, expected);
}
