//! The simulator's trace lines, as the event timeline shows them: the same text the golden
//! scripts and `flotilla sim --trace` print, split into time and text and sorted into kinds
//! so the timeline can filter them. Dropped messages are read back from their lines
//! (`n1→n2 t3 append 4@2 +1 c3 ✗ loss`) to draw them being lost.

use flotilla_core::types::{Millis, NodeId};

/// What a trace line is about, for the timeline's filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceKind {
    /// A peer message delivered.
    Message,
    /// A peer message lost.
    Drop,
    /// A node changed role, applied entries, snapshotted.
    Node,
    /// A client request, reply, timeout.
    Client,
    /// A fault or a repair: crash, restart, pause, partition, heal, network settings.
    Fault,
    /// A membership change.
    Membership,
    /// A broken invariant.
    Violation,
    Other,
}

impl TraceKind {
    pub const ALL: [TraceKind; 8] = [
        TraceKind::Message,
        TraceKind::Drop,
        TraceKind::Node,
        TraceKind::Client,
        TraceKind::Fault,
        TraceKind::Membership,
        TraceKind::Violation,
        TraceKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TraceKind::Message => "messages",
            TraceKind::Drop => "drops",
            TraceKind::Node => "nodes",
            TraceKind::Client => "clients",
            TraceKind::Fault => "faults",
            TraceKind::Membership => "membership",
            TraceKind::Violation => "violations",
            TraceKind::Other => "other",
        }
    }
}

/// One trace line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The line's number in the run (from 0), a stable key for lists.
    pub number: u64,
    pub at: Millis,
    pub text: String,
    pub kind: TraceKind,
}

impl TraceLine {
    /// Splits a line as the simulator writes it: the time right-aligned in 7 columns, a
    /// space, the text.
    pub fn parse(number: u64, line: &str) -> TraceLine {
        let trimmed = line.trim_start();
        let (at, text) = match trimmed.split_once(' ') {
            Some((at, text)) => (at.parse().unwrap_or(0), text),
            None => (0, trimmed),
        };
        TraceLine {
            number,
            at,
            text: text.to_string(),
            kind: classify(text),
        }
    }

    /// The nodes the line names (`n3`), to filter the timeline by node.
    pub fn mentions(&self, node: NodeId) -> bool {
        let needle = format!("n{}", node.0);
        self.text.match_indices(&needle).any(|(i, _)| {
            let before = self.text[..i].chars().next_back();
            let after = self.text[i + needle.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_digit())
        })
    }
}

fn classify(text: &str) -> TraceKind {
    let first = text.split(' ').next().unwrap_or("");
    let second = text.split(' ').nth(1).unwrap_or("");
    if text.starts_with("VIOLATION") {
        TraceKind::Violation
    } else if text.contains(" ✗ ") {
        TraceKind::Drop
    } else if first.contains('→') && second.starts_with('t') {
        TraceKind::Message
    } else if first.starts_with('c') && first[1..].chars().all(|c| c.is_ascii_digit())
        || first == "console"
        || second == "←"
        || first == "autopilot"
    {
        TraceKind::Client
    } else if matches!(
        first,
        "crash"
            | "restart"
            | "pause"
            | "resume"
            | "partition"
            | "cut"
            | "isolate"
            | "heal"
            | "loss"
            | "duplication"
            | "latency"
            | "clock"
            | "liveness:"
            | "converged:"
    ) {
        TraceKind::Fault
    } else if first == "start"
        || text.contains("add-learner")
        || text.contains("promote ")
        || text.contains("remove ")
    {
        TraceKind::Membership
    } else if first.starts_with('n') && first[1..].chars().all(|c| c.is_ascii_digit()) {
        TraceKind::Node
    } else {
        TraceKind::Other
    }
}

/// A message lost on the network, read from its trace line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropLine {
    pub at: Millis,
    pub from: NodeId,
    pub to: NodeId,
    /// The message kind (`append`, `vote`, ...).
    pub kind: String,
    /// `loss`, `partition` or `crashed`.
    pub reason: String,
}

/// Reads a dropped message from its line, if the line is one.
pub fn parse_drop(line: &TraceLine) -> Option<DropLine> {
    let (message, reason) = line.text.rsplit_once(" ✗ ")?;
    let mut words = message.split(' ');
    let (from, to) = words.next()?.split_once('→')?;
    let _term = words.next()?;
    let kind = words.next()?.to_string();
    Some(DropLine {
        at: line.at,
        from: node_id(from)?,
        to: node_id(to)?,
        kind,
        reason: reason.to_string(),
    })
}

fn node_id(text: &str) -> Option<NodeId> {
    text.strip_prefix('n')?.parse().ok().map(NodeId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_time_text_and_kind() {
        let line = TraceLine::parse(0, "    120 n1→n2 t3 append 4@2 +1 c3");
        assert_eq!(line.at, 120);
        assert_eq!(line.text, "n1→n2 t3 append 4@2 +1 c3");
        assert_eq!(line.kind, TraceKind::Message);
        assert_eq!(
            TraceLine::parse(0, "      7 n2 leader t1").kind,
            TraceKind::Node
        );
        assert_eq!(
            TraceLine::parse(0, "      7 crash n2 (LoseUnsynced)").kind,
            TraceKind::Fault
        );
        assert_eq!(
            TraceLine::parse(0, "      7 c1 invoke get k0").kind,
            TraceKind::Client
        );
        assert_eq!(
            TraceLine::parse(0, "      7 n3 ← put a=b").kind,
            TraceKind::Client
        );
        assert_eq!(
            TraceLine::parse(0, "      7 n1 proposes add-learner n6 at 9").kind,
            TraceKind::Membership
        );
        assert_eq!(
            TraceLine::parse(0, "      7 VIOLATION election-safety two leaders").kind,
            TraceKind::Violation
        );
    }

    #[test]
    fn dropped_messages_are_read_back() {
        let line = TraceLine::parse(0, "     55 n4→n1 t2 vote-yes ✗ partition");
        assert_eq!(line.kind, TraceKind::Drop);
        let drop = parse_drop(&line).expect("a drop");
        assert_eq!((drop.from, drop.to), (NodeId(4), NodeId(1)));
        assert_eq!(drop.kind, "vote-yes");
        assert_eq!(drop.reason, "partition");
        assert!(parse_drop(&TraceLine::parse(0, "     55 n4→n1 t2 vote-yes")).is_none());
    }

    #[test]
    fn node_mentions_do_not_match_longer_ids() {
        let line = TraceLine::parse(0, "     10 n1→n12 t1 vote 1@0");
        assert!(line.mentions(NodeId(1)));
        assert!(line.mentions(NodeId(12)));
        assert!(!line.mentions(NodeId(2)));
    }
}
