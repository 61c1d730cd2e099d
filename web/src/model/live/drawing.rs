//! What the panels draw: the live cluster as a [`ClusterModel`], the same trait the
//! simulated session implements, so that both modes share the ring, log grid, inspector and
//! timeline.

use super::*;

impl ClusterModel for LiveCluster {
    fn is_live(&self) -> bool {
        true
    }

    fn nodes(&self) -> Vec<NodeView> {
        let members = self.members();
        self.ids()
            .into_iter()
            .map(|id| {
                let health = self.health(id);
                let status = self.status_of(id);
                let in_page = self.is_peer(id);
                let role = status.map(|s| s.role);
                let timer_left = match (status, health) {
                    (Some(s), Health::Up) if s.role != RoleKind::Leader => {
                        Some(f64::from(1.0 - s.timer_fraction).clamp(0.0, 1.0))
                    }
                    _ => None,
                };
                let detail = match health {
                    Health::Up => match status.and_then(|s| s.vote) {
                        _ if in_page => "in this page".to_string(),
                        Some(v) if v == id => "voted self".to_string(),
                        Some(v) => format!("voted {}", node_name(v)),
                        None => String::new(),
                    },
                    Health::Paused => "not reporting".into(),
                    Health::Down => "down".into(),
                    Health::Connecting => "connecting".into(),
                    Health::Unseen => match self.nodes.get(&id).and_then(|n| n.relayed_by) {
                        Some(r) => format!("via {}", node_name(r)),
                        None => "not watched".into(),
                    },
                };
                NodeView {
                    id,
                    health,
                    role,
                    term: status.map_or(0, |s| s.term.0),
                    vote: status.and_then(|s| s.vote),
                    seat: self.seat(id, &members),
                    timer_left,
                    in_page,
                    detail,
                }
            })
            .collect()
    }

    fn leader(&self) -> Option<(NodeId, u64)> {
        self.nodes
            .iter()
            .filter(|(id, _)| self.health(**id) == Health::Up)
            .filter_map(|(id, n)| Some((*id, n.status.as_ref()?)))
            .filter(|(_, s)| s.role == RoleKind::Leader)
            .max_by_key(|(_, s)| s.term)
            .map(|(id, s)| (id, s.term.0))
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        let cuts = |a: NodeId, b: NodeId| self.status_of(a).is_some_and(|s| s.cut.contains(&b));
        cuts(from, to) || cuts(to, from)
    }

    fn link_ops(&self, a: NodeId, b: NodeId) -> Vec<NodeOp> {
        let cut = !self.is_cut(a, b);
        vec![NodeOp::Live(LiveOp::Link { a, b, cut })]
    }

    fn log_last_index(&self) -> u64 {
        self.nodes
            .iter()
            .filter(|(id, _)| matches!(self.health(**id), Health::Up | Health::Paused))
            .filter_map(|(_, n)| n.status.as_ref())
            .map(|s| s.last_index.0)
            .max()
            .unwrap_or(0)
    }

    fn log_row(&self, id: NodeId, columns: &[u64]) -> LogRow {
        let health = self.health(id);
        let Some(status) = self.status_of(id) else {
            return LogRow::Note(match health {
                Health::Unseen => "hosted in another page: the page cannot watch it".into(),
                _ => "no report yet".into(),
            });
        };
        if health == Health::Down {
            return LogRow::Note(format!(
                "down: its last report was {}; its log is on its disk",
                age(self
                    .now
                    .unix
                    .saturating_sub(self.nodes.get(&id).map_or(0, |n| n.status_at)))
            ));
        }
        let runs = &status.log_tail.runs;
        let term_at = |i: u64| {
            runs.iter()
                .rev()
                .find(|(start, _)| start.0 <= i)
                .map(|(_, t)| t.0)
        };
        let tail_start = runs.first().map_or(u64::MAX, |(s, _)| s.0);
        let (commit, persisted, snapshot) =
            (status.commit.0, status.persisted.0, status.snapshot_index.0);
        let cells = columns
            .iter()
            .map(|&i| {
                if i <= snapshot {
                    Cell::Compacted {
                        snapshot,
                        edge: i == snapshot,
                    }
                } else if i > status.last_index.0 || i < status.first_index.0 {
                    Cell::Empty
                } else if i >= tail_start {
                    match term_at(i) {
                        Some(term) => Cell::Entry {
                            term,
                            committed: i <= commit,
                            durable: i <= persisted,
                            mark: if term == 0 { "B" } else { "" },
                            what: None,
                        },
                        None => Cell::Unknown {
                            committed: i <= commit,
                        },
                    }
                } else {
                    Cell::Unknown {
                        committed: i <= commit,
                    }
                }
            })
            .collect();
        LogRow::Cells {
            cells,
            commit,
            leader: status.role == RoleKind::Leader && health == Health::Up,
        }
    }

    fn inspect(&self, id: NodeId) -> Inspection {
        let health = self.health(id);
        let node = self.nodes.get(&id);
        let status = node.and_then(|n| n.status.as_ref());
        let in_page = self.is_peer(id);
        let members = self.members();
        let seat = self.seat(id, &members);
        let mut buttons = Vec::new();
        let mut transfer = Vec::new();
        let state = match (health, status) {
            (Health::Down, _) => "down".to_string(),
            (Health::Paused, _) => "not reporting".to_string(),
            (Health::Connecting, None) => "connecting".to_string(),
            (Health::Unseen, None) => "browser peer".to_string(),
            (_, Some(s)) => s.role.name().to_string(),
            (_, None) => "unknown".to_string(),
        };
        let note = match health {
            Health::Down => Some(format!(
                "Its socket is closed and it does not answer: the process crashed, was stopped, or cannot be reached.{}",
                node.map_or(String::new(), |n| format!(
                    " Last report {}.",
                    age(self.now.unix.saturating_sub(n.status_at))
                ))
            )),
            Health::Paused => Some(
                "Its socket is open but it has stopped reporting, as a paused (SIGSTOPped) process does."
                    .into(),
            ),
            Health::Unseen => Some(
                "A peer hosted in another page: the page has no socket to it, and sees it only through the leader's progress."
                    .into(),
            ),
            _ => None,
        };
        if in_page {
            if seat == Seat::Learner {
                let mut promote = OpButton::new(
                    "btn-peer-promote",
                    "Promote to voter…",
                    "Make this page's peer a voter (asks for confirmation)",
                    NodeOp::Live(LiveOp::PromotePeer),
                );
                promote.danger = true;
                buttons.push(self.enabled(promote));
            }
            buttons.push(OpButton::new(
                "btn-peer-remove",
                "Remove",
                "Take this page's peer out of the cluster",
                NodeOp::Live(LiveOp::RemovePeer),
            ));
        } else {
            match health {
                Health::Down => buttons.push(self.admin_button(
                    "btn-restart",
                    "Restart",
                    "Start its process again from its data folder (through flotilla cluster)",
                    AdminAction::Restart { node: id },
                )),
                Health::Up | Health::Paused | Health::Connecting if status.is_some() => {
                    buttons.push(self.admin_button(
                        "btn-crash",
                        "Crash",
                        "kill -9 its process: what was not fsynced is lost",
                        AdminAction::Crash { node: id },
                    ));
                    if health == Health::Paused || self.paused.contains(&id) {
                        buttons.push(self.admin_button(
                            "btn-resume",
                            "Resume",
                            "SIGCONT: let the process run again",
                            AdminAction::Resume { node: id },
                        ));
                    } else {
                        buttons.push(self.admin_button(
                            "btn-pause",
                            "Pause",
                            "SIGSTOP: freeze the process, like a long GC pause",
                            AdminAction::Pause { node: id },
                        ));
                    }
                    buttons.push(self.admin_button(
                        "btn-isolate",
                        "Isolate",
                        "Drop every message to and from the other members",
                        AdminAction::Isolate { node: id },
                    ));
                    if status.is_some_and(|s| !s.cut.is_empty()) {
                        buttons.push(self.admin_button(
                            "btn-heal",
                            "Heal",
                            "Stop dropping messages",
                            AdminAction::Heal { node: id },
                        ));
                    }
                    buttons.push(self.admin_button(
                        "btn-snapshot",
                        "Snapshot",
                        "Snapshot the state machine now and compact the log",
                        AdminAction::Snapshot { node: id },
                    ));
                }
                _ => {}
            }
            if seat == Seat::Learner {
                buttons.push(self.admin_button(
                    "btn-promote",
                    "Promote",
                    "Ask the leader to make this learner a voter",
                    AdminAction::Promote { id },
                ));
            }
            if seat != Seat::Outside {
                buttons.push(self.admin_button(
                    "btn-remove",
                    "Remove",
                    "Ask the leader to take it out of the configuration",
                    AdminAction::Remove { id },
                ));
            }
        }
        let mut rows = Vec::new();
        let mut progress = Vec::new();
        if let Some(s) = status {
            let is_leader = s.role == RoleKind::Leader;
            if is_leader && health == Health::Up {
                transfer = members
                    .iter()
                    .filter(|m| m.voter && m.id != id)
                    .map(|m| {
                        self.admin_button(
                            &format!("btn-transfer-{}", m.id.0),
                            &format!("→ {}", node_name(m.id)),
                            &format!("Hand leadership to {}", node_name(m.id)),
                            AdminAction::Transfer { to: m.id },
                        )
                    })
                    .collect();
            }
            let voters = names(members.iter().filter(|m| m.voter).map(|m| m.id));
            let learners = names(members.iter().filter(|m| !m.voter).map(|m| m.id));
            let timer = if is_leader {
                "— (leads)".to_string()
            } else {
                format!("{:.0}% run", 100.0 * s.timer_fraction)
            };
            let mut add = |k: &str, v: String| rows.push((k.to_string(), v));
            add("role", s.role.name().to_string());
            add("term", s.term.0.to_string());
            add("voted for", s.vote.map_or("nobody".into(), node_name));
            add("leader", s.leader.map_or("unknown".into(), node_name));
            add("commit", s.commit.0.to_string());
            add("applied", s.applied.0.to_string());
            add("durable (fsynced)", s.persisted.0.to_string());
            add("log", format!("{}..={}", s.first_index.0, s.last_index.0));
            add("snapshot", s.snapshot_index.0.to_string());
            add("election timer", timer);
            add("voters", voters);
            add("learners", learners);
            add("keys", s.keys.to_string());
            add("links cut", names(s.cut.iter().copied()));
            if in_page {
                add("hosted", "in this page (memory only)".into());
            }
            if let Some(n) = node {
                if let Some(http) = &n.http {
                    add("web", http.clone());
                }
                if !n.peer_addr.is_empty() {
                    add("raft", n.peer_addr.clone());
                }
                if let Some(r) = n.relayed_by {
                    add("relayed by", node_name(r));
                }
                add(
                    "last report",
                    age(self.now.unix.saturating_sub(n.status_at)),
                );
            }
            progress = s
                .progress
                .iter()
                .map(|(peer, p)| ProgressRow {
                    peer: *peer,
                    match_index: p.match_index.0,
                    next_index: p.next_index.0,
                    state: if p.connected {
                        p.state.clone()
                    } else {
                        format!("{} · unreachable", p.state)
                    },
                })
                .collect();
        }
        Inspection {
            state,
            note,
            rows,
            progress,
            buttons,
            transfer,
        }
    }

    fn cluster_buttons(&self) -> Vec<OpButton> {
        Vec::new()
    }

    fn trace_lines(&self) -> &VecDeque<TraceLine> {
        &self.trace
    }

    fn trace_count(&self) -> u64 {
        self.trace_count
    }

    fn trace_note(&self) -> String {
        format!(
            "{} lines: the nodes' events and sampled messages, on this page's clock",
            self.trace_count
        )
    }

    fn history(&self) -> &[Operation] {
        &self.history
    }

    fn op_times(&self) -> &[OpTimes] {
        &self.times
    }

    fn now(&self) -> Millis {
        self.page_ms()
    }

    fn flights(&self, at_ms: f64) -> Vec<FlightView> {
        self.flights
            .iter()
            .filter_map(|f| {
                let (start, end) = f.span();
                (start <= at_ms && at_ms <= end).then(|| FlightView {
                    from: f.key.from,
                    to: f.key.to,
                    sent_ms: start,
                    deliver_ms: end,
                    class: kind_look(&f.key.kind).0,
                    label: flight_label(&f.key),
                })
            })
            .collect()
    }

    fn drops(&self, at_ms: f64) -> Vec<DropView> {
        self.drops
            .iter()
            .filter(|d| (0.0..DROP_SHOW_MS).contains(&(at_ms - d.at_ms)))
            .map(|d| DropView {
                age: (at_ms - d.at_ms) / DROP_SHOW_MS,
                ..d.clone()
            })
            .collect()
    }
}
