//! Short, stable, human-readable descriptions of messages and requests for trace lines.
//! The trace hash is computed over these, so changing a format changes every trace hash
//! (which is fine: hashes are compared between runs of the same build).

use crate::kv::{Command, Request};
use crate::raft::{Envelope, Message};
use crate::replica::Outcome;
use std::fmt;

/// Displays an envelope as `n1→n2 t3 append 4@2 +3 c4`.
pub struct Env<'a>(pub &'a Envelope);

impl fmt::Display for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(f, "{}→{} t{} {}", e.from, e.to, e.term, Msg(&e.message))
    }
}

pub struct Msg<'a>(pub &'a Message);

impl fmt::Display for Msg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Message::PreVote {
                last_index,
                last_term,
            } => write!(f, "prevote {last_index}@{last_term}"),
            Message::PreVoteResponse { granted } => write!(f, "prevote-{}", yes(*granted)),
            Message::Vote {
                last_index,
                last_term,
                transfer,
            } => {
                let how = if *transfer { " transfer" } else { "" };
                write!(f, "vote {last_index}@{last_term}{how}")
            }
            Message::VoteResponse { granted } => write!(f, "vote-{}", yes(*granted)),
            Message::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => write!(
                f,
                "append {prev_index}@{prev_term} +{} c{commit}",
                entries.len()
            ),
            Message::AppendResponse { index, reject } => match reject {
                None => write!(f, "append-ok {index}"),
                Some(hint) => write!(f, "append-no {index} hint {}@{}", hint.index, hint.term),
            },
            Message::Heartbeat { commit, read_round } => {
                write!(f, "heartbeat c{commit} r{read_round}")
            }
            Message::HeartbeatResponse {
                read_round,
                last_index,
            } => write!(f, "heartbeat-ok r{read_round} last {last_index}"),
            Message::InstallSnapshot {
                meta,
                offset,
                data,
                done,
            } => write!(
                f,
                "snapshot {}@{} at {offset} +{}{}",
                meta.index,
                meta.term,
                data.len(),
                if *done { " done" } else { "" }
            ),
            Message::InstallSnapshotResponse {
                next_offset,
                installed,
            } => match installed {
                Some(index) => write!(f, "snapshot-ok installed {index}"),
                None => write!(f, "snapshot-ok next {next_offset}"),
            },
            Message::TimeoutNow => write!(f, "timeout-now"),
        }
    }
}

fn yes(granted: bool) -> &'static str {
    if granted {
        "yes"
    } else {
        "no"
    }
}

/// Displays a request as `put k1=c1.5`.
pub struct Req<'a>(pub &'a Request);

impl fmt::Display for Req<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let opt = |value: &Option<Vec<u8>>| value.as_deref().map_or("∅".to_string(), text);
        match &self.0.command {
            Command::Get { key } => write!(f, "get {}", text(key)),
            Command::Put { key, value } => write!(f, "put {}={}", text(key), text(value)),
            Command::Delete { key } => write!(f, "delete {}", text(key)),
            Command::CompareAndSet { key, expected, new } => {
                write!(f, "cas {} {}→{}", text(key), opt(expected), opt(new))
            }
            other => write!(f, "{other:?}"),
        }
    }
}

/// Displays an outcome briefly.
pub struct Out<'a>(pub &'a Outcome);

impl fmt::Display for Out<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Outcome::Done(response) => write!(f, "done {response:?}"),
            Outcome::NotLeader { leader: Some(l) } => write!(f, "not-leader (try {l})"),
            Outcome::NotLeader { leader: None } => write!(f, "not-leader"),
            Outcome::Dropped => write!(f, "dropped"),
            Outcome::Unknown => write!(f, "unknown"),
            Outcome::Busy => write!(f, "busy"),
            Outcome::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}
