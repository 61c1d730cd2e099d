//! How golden scripts print entries, messages and events: one short line each.

use flotilla_core::kv::{Command, Request};
use flotilla_core::raft::{ConfChange, Entry, Envelope, Event, Message, Payload};
use flotilla_core::NodeId;

pub fn fmt_entry(entry: &Entry) -> String {
    format!(
        "{}@{} {}",
        entry.index,
        entry.term,
        fmt_payload(&entry.payload)
    )
}

fn fmt_payload(payload: &Payload) -> String {
    match payload {
        Payload::Noop => "noop".to_string(),
        Payload::Command(bytes) => match Request::decode(bytes) {
            Ok(request) => fmt_command(&request.command),
            Err(_) => format!("{} opaque bytes", bytes.len()),
        },
        Payload::Config(ConfChange::AddLearner { id, .. }) => format!("add-learner {id}"),
        Payload::Config(ConfChange::Promote { id }) => format!("promote {id}"),
        Payload::Config(ConfChange::Remove { id }) => format!("remove {id}"),
        Payload::Bootstrap(membership) => {
            let voters: Vec<String> = membership.voters().iter().map(|v| v.to_string()).collect();
            format!("bootstrap voters=[{}]", voters.join(" "))
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fmt_command(command: &Command) -> String {
    match command {
        Command::Put { key, value } => format!("put {}={}", text(key), text(value)),
        Command::Delete { key } => format!("del {}", text(key)),
        Command::Get { key } => format!("get {}", text(key)),
        other => format!("{other:?}"),
    }
}

pub fn fmt_envelope(envelope: &Envelope, dropped: bool) -> String {
    let arrow = if dropped { "✗" } else { "→" };
    format!(
        "{}@{} {arrow} {} {}",
        envelope.from,
        envelope.term,
        envelope.to,
        fmt_message(&envelope.message)
    )
}

fn fmt_message(message: &Message) -> String {
    match message {
        Message::PreVote {
            last_index,
            last_term,
        } => format!("PreVote last={last_index}@{last_term}"),
        Message::PreVoteResponse { granted } => format!("PreVoteResponse {}", yes(*granted)),
        Message::Vote {
            last_index,
            last_term,
            transfer,
        } => {
            let transfer = if *transfer { " transfer" } else { "" };
            format!("Vote last={last_index}@{last_term}{transfer}")
        }
        Message::VoteResponse { granted } => format!("VoteResponse {}", yes(*granted)),
        Message::Append {
            prev_index,
            prev_term,
            entries,
            commit,
        } => {
            let entries: Vec<String> = entries.iter().map(fmt_entry).collect();
            format!(
                "Append prev={prev_index}@{prev_term} commit={commit} [{}]",
                entries.join(", ")
            )
        }
        Message::AppendResponse {
            index,
            reject: None,
        } => format!("AppendResponse ok index={index}"),
        Message::AppendResponse {
            index,
            reject: Some(hint),
        } => {
            format!(
                "AppendResponse reject prev={index} hint={}@{}",
                hint.index, hint.term
            )
        }
        Message::Heartbeat { commit, read_round } => {
            format!("Heartbeat commit={commit} round={read_round}")
        }
        Message::HeartbeatResponse {
            read_round,
            last_index,
        } => {
            format!("HeartbeatResponse round={read_round} last={last_index}")
        }
        Message::InstallSnapshot {
            meta,
            offset,
            data,
            done,
        } => {
            let done = if *done { " done" } else { "" };
            format!(
                "InstallSnapshot {}@{} offset={offset} bytes={}{done}",
                meta.index,
                meta.term,
                data.len()
            )
        }
        Message::InstallSnapshotResponse {
            next_offset,
            installed: None,
        } => {
            format!("InstallSnapshotResponse next={next_offset}")
        }
        Message::InstallSnapshotResponse {
            installed: Some(index),
            ..
        } => {
            format!("InstallSnapshotResponse installed={index}")
        }
        Message::TimeoutNow => "TimeoutNow".to_string(),
    }
}

fn yes(granted: bool) -> &'static str {
    if granted {
        "granted"
    } else {
        "rejected"
    }
}

pub fn fmt_event(id: NodeId, event: &Event) -> String {
    match event {
        Event::RoleChanged { role, term } => format!("{id}@{term} becomes {}", role.name()),
        Event::LeaderChanged {
            leader: Some(leader),
            term,
        } => {
            format!("{id}@{term} leader is {leader}")
        }
        Event::LeaderChanged { leader: None, term } => format!("{id}@{term} leader unknown"),
        Event::Committed { index } => format!("{id} commit {index}"),
        Event::MembershipChanged { membership } => {
            let voters: Vec<String> = membership.voters().iter().map(|v| v.to_string()).collect();
            let learners: Vec<String> = membership
                .learners()
                .iter()
                .map(|v| v.to_string())
                .collect();
            format!(
                "{id} config voters=[{}] learners=[{}]",
                voters.join(" "),
                learners.join(" ")
            )
        }
        Event::SnapshotInstalled { index, term } => {
            format!("{id} installed snapshot {index}@{term}")
        }
        Event::Compacted { index } => format!("{id} compacted to {index}"),
        Event::ReadDropped { request_id } => format!("{id} read r{request_id} dropped"),
    }
}
