//! What each [`Action`] does to the simulated cluster.

use super::action::Action;
use super::cluster::Sim;
use crate::check::durability::DurableShadow;
use crate::check::Invariant;
use crate::raft::{ConfChange, Membership};
use crate::replica::{Replica, ReplicaConfig};
use crate::storage::{Storage, TearMode};
use crate::types::NodeId;

impl Sim {
    /// Applies an action now. Actions naming nodes outside the cluster are ignored.
    pub(super) fn apply(&mut self, action: Action) {
        if action.nodes().iter().any(|n| self.index_of(*n).is_none()) {
            self.trace
                .line(self.now, format_args!("ignored {action:?}: no such node"));
            return;
        }
        let index = |node: NodeId| (node.0 - 1) as usize;
        match action {
            Action::Crash { node } => self.crash(index(node)),
            Action::Restart { node } => self.restart(index(node)),
            Action::Pause { node } => {
                let host = &mut self.hosts[index(node)];
                if host.replica.is_some() && !host.paused {
                    host.paused = true;
                    self.trace.line(self.now, format_args!("pause {node}"));
                }
            }
            Action::Resume { node } => self.resume(index(node)),
            Action::Partition { groups } => {
                self.trace
                    .line(self.now, format_args!("partition {groups:?}"));
                self.network.partition(&groups);
            }
            Action::CutLink { from, to } => {
                self.trace.line(self.now, format_args!("cut {from}→{to}"));
                self.network.cut_link(from, to);
            }
            Action::RestoreLink { from, to } => {
                self.trace
                    .line(self.now, format_args!("restore {from}→{to}"));
                self.network.restore_link(from, to);
            }
            Action::Isolate { node } => {
                self.trace.line(self.now, format_args!("isolate {node}"));
                self.network.isolate(node);
            }
            Action::Heal => {
                if self.network.is_partitioned() {
                    self.trace.line(self.now, format_args!("heal"));
                }
                self.network.heal();
            }
            Action::SetLoss { permille } => {
                self.trace.line(self.now, format_args!("loss {permille}‰"));
                self.network.set_loss(permille);
            }
            Action::SetDuplication { permille } => {
                self.trace
                    .line(self.now, format_args!("duplication {permille}‰"));
                self.network.set_duplication(permille);
            }
            Action::SetJitter { ms } => {
                self.trace.line(self.now, format_args!("jitter {ms} ms"));
                self.network.set_jitter(ms);
            }
            Action::SetLatency { min_ms, max_ms } => {
                self.trace
                    .line(self.now, format_args!("latency {min_ms}..{max_ms} ms"));
                self.network.set_latency(min_ms, max_ms);
            }
            Action::SetClockRate { node, permille } => {
                let i = index(node);
                self.trace
                    .line(self.now, format_args!("clock {node} {permille}‰"));
                self.hosts[i]
                    .clock
                    .set_rate(self.now, permille.clamp(1, 10_000));
                self.schedule_timer(i);
            }
            Action::Campaign { node } => {
                let i = index(node);
                let local = self.hosts[i].local(self.now);
                if let Some(replica) = self.hosts[i].replica.as_mut() {
                    replica.node_mut().campaign(local);
                    self.after_input(i);
                }
            }
            Action::TransferLeadership { node, to } => {
                let i = index(node);
                let local = self.hosts[i].local(self.now);
                if let Some(replica) = self.hosts[i].replica.as_mut() {
                    if let Err(error) = replica.node_mut().transfer_leadership(local, to) {
                        self.trace
                            .line(self.now, format_args!("{node} transfer refused: {error}"));
                    }
                    self.after_input(i);
                }
            }
            Action::Request { node, command } => {
                let (workload, mut ctx) = self.ctx();
                workload.console_request(node, &command, &mut ctx);
            }
            Action::AddNode { node } => self.add_node(node),
            Action::Promote { node } => self.change_membership(ConfChange::Promote { id: node }),
            Action::Remove { node } => self.change_membership(ConfChange::Remove { id: node }),
            Action::Snapshot { node } => self.snapshot(index(node)),
            Action::Autopilot { on } => {
                self.trace.line(
                    self.now,
                    format_args!("autopilot {}", if on { "on" } else { "off" }),
                );
                let (workload, ctx) = self.ctx();
                workload.set_autopilot(on, ctx.queue, ctx.now);
            }
        }
    }

    /// Power loss on node `i`.
    fn crash(&mut self, i: usize) {
        let host = &mut self.hosts[i];
        if host.replica.is_none() {
            return;
        }
        let tear = if self.options.disk.torn_writes {
            let bytes = self.disk_rng.range(0, host.storage.pending_log_bytes());
            match self.disk_rng.range(0, 2) {
                0 => TearMode::LoseUnsynced,
                1 => TearMode::KeepLogPrefix { bytes },
                _ => TearMode::GarbleLogPrefix { bytes },
            }
        } else {
            TearMode::LoseUnsynced
        };
        host.storage.crash(tear);
        host.shadow.crash();
        host.replica = None;
        host.pending = None;
        host.fsync_token += 1;
        host.inbox.clear();
        host.paused = false;
        let id = host.id;
        self.checkers.crashed(id);
        self.stats.crashes += 1;
        self.trace
            .line(self.now, format_args!("crash {id} ({tear:?})"));
    }

    /// Starts node `i` again from its disk.
    fn restart(&mut self, i: usize) {
        let now = self.now;
        let host = &mut self.hosts[i];
        if host.replica.is_some() {
            return;
        }
        let id = host.id;
        let state = match host.storage.load() {
            Ok(state) => state,
            Err(error) => {
                self.violation(Invariant::Driver, Some(id), format!("restart: {error}"));
                return;
            }
        };
        let fresh_shadow = DurableShadow::loaded(&state);
        let replica_config = ReplicaConfig {
            snapshot_entries: self.options.raft.snapshot_entries,
        };
        // A server that joined later never had the founding configuration: with an empty
        // disk it must wait to be sent the log, not bootstrap a cluster of its own.
        let initial = if host.founding {
            self.membership.clone()
        } else {
            Membership::default()
        };
        let restored = Replica::restore(
            host.config.clone(),
            replica_config,
            initial,
            state.hard_state,
            state.snapshot,
            state.entries,
            host.local(now),
        );
        let replica = match restored {
            Ok(replica) => replica,
            Err(error) => {
                self.violation(Invariant::Driver, Some(id), format!("restore: {error}"));
                return;
            }
        };
        self.checkers.restarted(now, replica.node(), &host.shadow);
        host.shadow = fresh_shadow;
        host.replica = Some(replica);
        host.incarnation += 1;
        host.timer = None;
        self.stats.restarts += 1;
        self.trace.line(now, format_args!("restart {id}"));
        self.after_input(i);
    }

    fn resume(&mut self, i: usize) {
        let host = &mut self.hosts[i];
        if !host.paused {
            return;
        }
        host.paused = false;
        host.timer = None;
        let id = host.id;
        let inbox = std::mem::take(&mut host.inbox);
        self.trace.line(self.now, format_args!("resume {id}"));
        for event in inbox {
            self.handle(event);
        }
        self.schedule_timer(i);
        self.after_input(i);
    }
}
