//! What the membership and snapshot actions do to the simulated cluster: start a new
//! server and have the leader add it as a learner, promote or remove a member, snapshot a
//! node on request. The auto mode does not use these yet; the web page and scripts do.

use super::cluster::{node_config, Sim};
use super::host::Host;
use super::options::NODES_MAX;
use crate::check::Invariant;
use crate::raft::{ConfChange, Membership};
use crate::replica::{Replica, ReplicaConfig};
use crate::types::NodeId;

impl Sim {
    /// Starts server `node` with an empty disk and asks the leader to add it as a learner.
    /// Ids stay dense (the network and the clients number nodes from 1), so `node` must be
    /// the next unused id.
    pub(super) fn add_node(&mut self, node: NodeId) {
        let next = self.hosts.len() as u64 + 1;
        if node.0 != next || next > u64::from(NODES_MAX) {
            self.trace.line(
                self.now,
                format_args!("ignored add {node}: the next new node would be n{next}"),
            );
            return;
        }
        let config = node_config(self.seed, &self.options, node);
        let replica_config = ReplicaConfig {
            snapshot_entries: self.options.raft.snapshot_entries,
        };
        // An empty membership: the node learns the configuration from the log it is sent.
        let replica = match Replica::new(
            config.clone(),
            replica_config,
            Membership::default(),
            self.now,
        ) {
            Ok(replica) => replica,
            Err(error) => {
                self.violation(Invariant::Driver, Some(node), format!("add: {error}"));
                return;
            }
        };
        let mut host = Host::new(config, replica);
        host.founding = false;
        // A fresh host's clock reads virtual time, like every clock at rate 1000.
        self.hosts.push(host);
        self.network.add_node();
        self.workload.add_node();
        self.trace.line(self.now, format_args!("start {node}"));
        self.schedule_timer(self.hosts.len() - 1);
        self.change_membership(ConfChange::AddLearner {
            id: node,
            address: String::new(),
        });
    }

    /// Proposes `change` on the leader (the running, unpaused leader of the highest term).
    pub(super) fn change_membership(&mut self, change: ConfChange) {
        let text = conf_change_text(&change);
        let leader = self
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.paused)
            .filter_map(|(i, h)| Some((h.replica.as_ref()?, i)))
            .filter(|(r, _)| r.node().is_leader())
            .map(|(r, i)| (r.node().term(), i))
            .max();
        let Some((_, i)) = leader else {
            self.trace
                .line(self.now, format_args!("{text} refused: no leader"));
            return;
        };
        let id = self.hosts[i].id;
        let Some(replica) = self.hosts[i].replica.as_mut() else {
            return;
        };
        match replica.node_mut().propose_conf_change(change) {
            Ok(index) => self
                .trace
                .line(self.now, format_args!("{id} proposes {text} at {index}")),
            Err(error) => self
                .trace
                .line(self.now, format_args!("{id} refuses {text}: {error}")),
        }
        self.after_input(i);
    }

    /// Node `i` snapshots its state machine at its applied index, as if its log had grown
    /// past `snapshot_entries`.
    pub(super) fn snapshot(&mut self, i: usize) {
        let host = &mut self.hosts[i];
        let id = host.id;
        // A paused process does nothing, and compacting under an outstanding Ready would
        // race the driver's own writes: refuse rather than guess.
        let busy = host.paused || host.pending.is_some();
        let Some(replica) = host.replica.as_mut() else {
            return;
        };
        if busy {
            self.trace
                .line(self.now, format_args!("{id} snapshot refused: busy"));
            return;
        }
        let applied = replica.kv().applied();
        let data = replica.kv().snapshot();
        match replica.node_mut().compact(applied, data) {
            Ok(()) => self
                .trace
                .line(self.now, format_args!("{id} snapshot at {applied}")),
            Err(error) => self
                .trace
                .line(self.now, format_args!("{id} snapshot refused: {error}")),
        }
        self.after_input(i);
    }
}

fn conf_change_text(change: &ConfChange) -> String {
    match change {
        ConfChange::AddLearner { id, .. } => format!("add-learner {id}"),
        ConfChange::Promote { id } => format!("promote {id}"),
        ConfChange::Remove { id } => format!("remove {id}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::Sim;
    use crate::sim::{Action, ClientCommand, SimOptions};
    use crate::types::NodeId;

    fn leader(sim: &Sim) -> Option<NodeId> {
        (1..=u64::from(sim.node_count()))
            .map(NodeId)
            .find(|&id| sim.replica(id).is_some_and(|r| r.node().is_leader()))
    }

    #[test]
    fn a_new_node_joins_as_a_learner_is_promoted_and_removed() {
        let mut sim = Sim::new(3, SimOptions::manual(3)).expect("valid options");
        sim.run_until(1_000);
        let first = leader(&sim).expect("a leader within a second");
        for i in 0..5 {
            sim.act(Action::Request {
                node: first,
                command: ClientCommand::Put {
                    key: format!("k{i}"),
                    value: "v".into(),
                },
            });
        }
        sim.run_until(1_200);
        sim.act(Action::Snapshot { node: first });
        sim.run_until(1_300);
        sim.act(Action::AddNode { node: NodeId(4) });
        sim.run_until(2_000);
        let n4 = sim.replica(NodeId(4)).expect("n4 runs");
        assert!(n4.node().membership().learners().contains(&NodeId(4)));
        assert_eq!(n4.kv().len(), 5, "the learner caught up");
        sim.act(Action::Promote { node: NodeId(4) });
        sim.run_until(2_500);
        let voters = sim
            .replica(NodeId(4))
            .map(|r| r.node().membership().voters());
        assert!(voters.is_some_and(|v| v.contains(&NodeId(4))));
        sim.act(Action::Remove { node: NodeId(4) });
        sim.run_until(3_000);
        let leader_now = leader(&sim).expect("still a leader");
        let members = sim
            .replica(leader_now)
            .map(|r| r.node().membership().voters());
        assert!(members.is_some_and(|v| !v.contains(&NodeId(4))));
        // Ids stay dense: n6 cannot be added before n5.
        sim.act(Action::AddNode { node: NodeId(6) });
        assert_eq!(sim.node_count(), 4);
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }

    #[test]
    fn autopilot_runs_clients_until_switched_off() {
        let mut options = SimOptions::manual(3);
        options.workload.clients = 2;
        let mut sim = Sim::new(5, options).expect("valid options");
        sim.run_until(500);
        assert!(sim.history().is_empty());
        sim.act(Action::Autopilot { on: true });
        sim.run_until(1_500);
        let ops = sim.history().len();
        assert!(ops > 10, "{ops} operations");
        sim.act(Action::Autopilot { on: false });
        sim.run_until(2_000);
        let settled = sim.history().len();
        sim.run_until(3_000);
        assert_eq!(sim.history().len(), settled);
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }

    #[test]
    fn a_cut_link_can_be_restored_one_direction_at_a_time() {
        let mut sim = Sim::new(1, SimOptions::manual(3)).expect("valid options");
        let (a, b) = (NodeId(1), NodeId(2));
        sim.act(Action::CutLink { from: a, to: b });
        sim.act(Action::CutLink { from: b, to: a });
        sim.act(Action::RestoreLink { from: a, to: b });
        assert!(!sim.network().is_cut(a, b));
        assert!(sim.network().is_cut(b, a));
        sim.act(Action::SetJitter { ms: 7 });
        assert_eq!(sim.network().options().jitter_ms, 7);
    }
}
