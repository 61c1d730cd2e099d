//! The simulated session seen through [`ClusterModel`]: what the panels drew from the
//! simulator directly before live mode existed, moved here unchanged so that both modes
//! feed the same panels.

use super::session::{OpTimes, Session, DROP_SHOW_MS};
use super::trace::TraceLine;
use super::view::{
    Cell, ClusterModel, DropView, FlightView, Health, Inspection, LogRow, NodeOp, NodeView,
    OpButton, ProgressRow, Seat,
};
use flotilla_core::check::linearizability::Operation;
use flotilla_core::kv::{Command, Request};
use flotilla_core::raft::{ConfChange, Entry, Message, Payload, RoleKind};
use flotilla_core::sim::options::NODES_MAX;
use flotilla_core::sim::Action;
use flotilla_core::types::{Index, Millis, NodeId};
use std::collections::VecDeque;

/// A node's name as the trace writes it.
pub fn node_name(id: NodeId) -> String {
    format!("n{}", id.0)
}

fn ms(ms: Millis) -> String {
    format!("{}.{:03} s", ms / 1_000, ms % 1_000)
}

/// What an entry carries, briefly.
pub fn describe(entry: &Entry) -> String {
    match &entry.payload {
        Payload::Noop => "noop (a new leader's first entry)".into(),
        Payload::Bootstrap(_) => "bootstrap: the founding configuration".into(),
        Payload::Config(ConfChange::AddLearner { id, .. }) => {
            format!("add learner {}", node_name(*id))
        }
        Payload::Config(ConfChange::Promote { id }) => format!("promote {}", node_name(*id)),
        Payload::Config(ConfChange::Remove { id }) => format!("remove {}", node_name(*id)),
        Payload::Command(bytes) => match Request::decode(bytes) {
            Ok(request) => command_text(&request.command),
            Err(_) => format!("{} bytes", bytes.len()),
        },
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn command_text(command: &Command) -> String {
    let opt = |v: &Option<Vec<u8>>| v.as_deref().map_or("∅".to_string(), text);
    match command {
        Command::Get { key } => format!("get {}", text(key)),
        Command::Put { key, value } => format!("put {}={}", text(key), text(value)),
        Command::Delete { key } => format!("delete {}", text(key)),
        Command::CompareAndSet { key, expected, new } => {
            format!("cas {} {}→{}", text(key), opt(expected), opt(new))
        }
        other => format!("{other:?}"),
    }
}

fn mark(entry: &Entry) -> &'static str {
    match entry.payload {
        Payload::Noop => "·",
        Payload::Bootstrap(_) => "B",
        Payload::Config(_) => "⚙",
        Payload::Command(_) => "",
    }
}

/// The CSS class and short label of a message: kind, term, entries.
pub fn message_look(message: &Message, term: u64) -> (&'static str, String) {
    let yes_no = |granted: bool| if granted { "✓" } else { "✗" };
    match message {
        Message::PreVote { .. } => ("m-prevote", format!("PV t{term}")),
        Message::PreVoteResponse { granted } => ("m-prevote resp", yes_no(*granted).into()),
        Message::Vote { .. } => ("m-vote", format!("RV t{term}")),
        Message::VoteResponse { granted } => ("m-vote resp", yes_no(*granted).into()),
        Message::Append { entries, .. } if entries.is_empty() => {
            ("m-append", format!("AE t{term}"))
        }
        Message::Append { entries, .. } => ("m-append", format!("AE t{term} +{}", entries.len())),
        Message::AppendResponse {
            reject: None,
            index,
        } => ("m-append resp", format!("ok {}", index.0)),
        Message::AppendResponse {
            reject: Some(_), ..
        } => ("m-append resp nack", "✗".into()),
        Message::Heartbeat { .. } => ("m-heartbeat", format!("HB t{term}")),
        Message::HeartbeatResponse { .. } => ("m-heartbeat resp", "♥".into()),
        Message::InstallSnapshot { .. } => ("m-snapshot", format!("IS t{term}")),
        Message::InstallSnapshotResponse { .. } => ("m-snapshot resp", "ok".into()),
        Message::TimeoutNow => ("m-timeout", "TN".into()),
    }
}

fn button(id: &str, label: &str, title: &str, action: Action) -> OpButton {
    OpButton::new(id, label, title, NodeOp::Sim(action))
}

impl ClusterModel for Session {
    fn is_live(&self) -> bool {
        false
    }

    fn nodes(&self) -> Vec<NodeView> {
        let sim = self.sim();
        let max_timeout = sim.options().raft.election_timeout_max_ms.max(1) as f64;
        (1..=u64::from(sim.node_count()))
            .map(NodeId)
            .map(|id| {
                let paused = sim.is_paused(id);
                let Some(replica) = sim.replica(id) else {
                    return NodeView {
                        id,
                        health: Health::Down,
                        role: None,
                        term: 0,
                        vote: None,
                        seat: Seat::Outside,
                        timer_left: None,
                        in_page: false,
                        detail: "crashed".into(),
                    };
                };
                let node = replica.node();
                let role = node.role();
                let membership = node.membership();
                let seat = if membership.learners().contains(&id) {
                    Seat::Learner
                } else if membership.voters().contains(&id) {
                    Seat::Voter
                } else {
                    Seat::Outside
                };
                let timer_left = (role != RoleKind::Leader).then(|| {
                    let local = sim.local_time(id).unwrap_or(0) as f64;
                    let deadline = node.status().election_deadline as f64;
                    ((deadline - local) / max_timeout).clamp(0.0, 1.0)
                });
                let detail = match node.vote() {
                    Some(v) if v == id => "voted self".to_string(),
                    Some(v) => format!("voted {}", node_name(v)),
                    None => String::new(),
                };
                NodeView {
                    id,
                    health: if paused { Health::Paused } else { Health::Up },
                    role: Some(role),
                    term: node.term().0,
                    vote: node.vote(),
                    seat,
                    timer_left,
                    in_page: false,
                    detail,
                }
            })
            .collect()
    }

    fn leader(&self) -> Option<(NodeId, u64)> {
        let leader = Session::leader(self)?;
        let term = self.sim().replica(leader)?.node().term().0;
        Some((leader, term))
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.sim().network().is_cut(from, to)
    }

    fn link_ops(&self, a: NodeId, b: NodeId) -> Vec<NodeOp> {
        // A click cuts a working link both ways, and restores a cut one (both ways).
        let (ab, ba) = (self.is_cut(a, b), self.is_cut(b, a));
        let restore = ab || ba;
        let mut ops = Vec::new();
        for (from, to, cut) in [(a, b, ab), (b, a, ba)] {
            match (restore, cut) {
                (true, true) => ops.push(NodeOp::Sim(Action::RestoreLink { from, to })),
                (false, false) => ops.push(NodeOp::Sim(Action::CutLink { from, to })),
                _ => {}
            }
        }
        ops
    }

    fn log_last_index(&self) -> u64 {
        let sim = self.sim();
        (1..=u64::from(sim.node_count()))
            .filter_map(|i| sim.replica(NodeId(i)))
            .map(|r| r.node().log().last_index().0)
            .max()
            .unwrap_or(0)
    }

    fn log_row(&self, id: NodeId, columns: &[u64]) -> LogRow {
        let Some(replica) = self.sim().replica(id) else {
            return LogRow::Note("crashed: its log is on its disk, waiting for a restart".into());
        };
        let node = replica.node();
        let log = node.log();
        let commit = node.commit_index().0;
        let persisted = log.persisted().0;
        let snapshot = log.snapshot_index().0;
        let cells = columns
            .iter()
            .map(|&i| {
                if i <= snapshot {
                    return Cell::Compacted {
                        snapshot,
                        edge: i == snapshot,
                    };
                }
                match log.entry(Index(i)) {
                    None => Cell::Empty,
                    Some(entry) => Cell::Entry {
                        term: entry.term.0,
                        committed: i <= commit,
                        durable: i <= persisted,
                        mark: mark(entry),
                        what: Some(describe(entry)),
                    },
                }
            })
            .collect();
        LogRow::Cells {
            cells,
            commit,
            leader: node.is_leader(),
        }
    }

    fn inspect(&self, id: NodeId) -> Inspection {
        let sim = self.sim();
        let paused = sim.is_paused(id);
        let Some(replica) = sim.replica(id) else {
            return Inspection {
                state: "crashed".into(),
                note: Some("Powered off. What it had not fsynced is gone; a restart rebuilds it from its disk.".into()),
                rows: Vec::new(),
                progress: Vec::new(),
                buttons: vec![button(
                    "btn-restart",
                    "Restart",
                    "Start it again from what its disk holds (R)",
                    Action::Restart { node: id },
                )],
                transfer: Vec::new(),
            };
        };
        let node = replica.node();
        let status = node.status();
        let local = sim.local_time(id).unwrap_or(0);
        let is_learner = status.membership.learners().contains(&id);
        let is_member = status.membership.contains(id);
        let names = |set: std::collections::BTreeSet<NodeId>| {
            set.into_iter().map(node_name).collect::<Vec<_>>().join(" ")
        };
        let learners = names(status.membership.learners());
        let timer = if node.is_leader() {
            "— (leads)".to_string()
        } else {
            format!(
                "fires in {} ms",
                status.election_deadline.saturating_sub(local)
            )
        };
        let rows: Vec<(String, String)> = [
            (
                "role",
                format!(
                    "{}{}",
                    status.role.name(),
                    if paused { " (paused)" } else { "" }
                ),
            ),
            ("term", status.term.0.to_string()),
            ("voted for", status.vote.map_or("nobody".into(), node_name)),
            ("leader", status.leader.map_or("unknown".into(), node_name)),
            ("commit", status.commit.0.to_string()),
            ("applied", status.applied.0.to_string()),
            ("durable (fsynced)", status.persisted.0.to_string()),
            (
                "log",
                format!("{}..={}", status.first_index.0, status.last_index.0),
            ),
            ("snapshot", status.snapshot_index.0.to_string()),
            ("election timer", timer),
            ("voters", names(status.membership.voters())),
            (
                "learners",
                if learners.is_empty() {
                    "none".into()
                } else {
                    learners
                },
            ),
            ("keys", replica.kv().len().to_string()),
            (
                "clock",
                format!(
                    "{}‰ · local {}",
                    sim.clock_rate(id).unwrap_or(1_000),
                    ms(local)
                ),
            ),
            (
                "started",
                format!(
                    "{}×{}",
                    sim.incarnation(id).unwrap_or(1),
                    if sim.fsync_pending(id) {
                        " · fsync pending"
                    } else {
                        ""
                    }
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let progress = status
            .progress
            .iter()
            .map(|(peer, p)| ProgressRow {
                peer: *peer,
                match_index: p.match_index.0,
                next_index: p.next_index.0,
                state: p.state.clone(),
            })
            .collect();
        let mut buttons = vec![button(
            "btn-crash",
            "Crash",
            "Power loss: unsynced writes are lost (C)",
            Action::Crash { node: id },
        )];
        if paused {
            buttons.push(button(
                "btn-resume",
                "Resume",
                "Let it run again (P)",
                Action::Resume { node: id },
            ));
        } else {
            buttons.push(button(
                "btn-pause",
                "Pause",
                "Freeze it, like a long GC pause (P)",
                Action::Pause { node: id },
            ));
        }
        buttons.push(button(
            "btn-timeout",
            "Time out",
            "Make its election timer fire now (T)",
            Action::Campaign { node: id },
        ));
        buttons.push(button(
            "btn-snapshot",
            "Snapshot",
            "Snapshot the state machine and compact the log (S)",
            Action::Snapshot { node: id },
        ));
        if is_learner {
            buttons.push(button(
                "btn-promote",
                "Promote",
                "Ask the leader to make this learner a voter",
                Action::Promote { node: id },
            ));
        }
        if is_member {
            buttons.push(button(
                "btn-remove",
                "Remove",
                "Ask the leader to take it out of the configuration",
                Action::Remove { node: id },
            ));
        }
        let transfer = if node.is_leader() {
            status
                .membership
                .voters()
                .into_iter()
                .filter(|&v| v != id)
                .map(|to| {
                    button(
                        &format!("btn-transfer-{}", to.0),
                        &format!("→ {}", node_name(to)),
                        &format!("Hand leadership to {}", node_name(to)),
                        Action::TransferLeadership { node: id, to },
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Inspection {
            state: status.role.name().to_string(),
            note: None,
            rows,
            progress,
            buttons,
            transfer,
        }
    }

    fn cluster_buttons(&self) -> Vec<OpButton> {
        let count = self.sim().node_count();
        let next = NodeId(u64::from(count) + 1);
        if count < NODES_MAX {
            vec![button(
                "btn-add",
                &format!("+ Add {}", node_name(next)),
                "Start a new server and have the leader add it as a learner",
                Action::AddNode { node: next },
            )]
        } else {
            Vec::new()
        }
    }

    fn trace_lines(&self) -> &VecDeque<TraceLine> {
        Session::trace_lines(self)
    }

    fn trace_count(&self) -> u64 {
        Session::trace_count(self)
    }

    fn trace_note(&self) -> String {
        format!(
            "{} lines so far, same text as the simulator's trace",
            Session::trace_count(self)
        )
    }

    fn history(&self) -> &[Operation] {
        self.sim().history()
    }

    fn op_times(&self) -> &[OpTimes] {
        Session::op_times(self)
    }

    fn now(&self) -> Millis {
        Session::now(self)
    }

    fn flights(&self, _at_ms: f64) -> Vec<FlightView> {
        Session::flights(self)
            .into_iter()
            .map(|f| {
                let (class, label) = message_look(&f.envelope.message, f.envelope.term.0);
                FlightView {
                    from: f.envelope.from,
                    to: f.envelope.to,
                    sent_ms: f.sent_ms as f64,
                    deliver_ms: f.deliver_ms as f64,
                    class,
                    label,
                }
            })
            .collect()
    }

    fn drops(&self, at_ms: f64) -> Vec<DropView> {
        Session::drops(self)
            .filter(|d| (0.0..DROP_SHOW_MS as f64).contains(&(at_ms - d.at as f64)))
            .map(|d| DropView {
                from: d.from,
                to: d.to,
                at_ms: d.at as f64,
                age: (at_ms - d.at as f64) / DROP_SHOW_MS as f64,
                kind: d.kind.clone(),
                reason: d.reason.clone(),
            })
            .collect()
    }
}
