//! Quick end-to-end checks of the node on a perfect network; the golden scripts in
//! `core/tests/` are the main corpus.

use super::*;
use crate::types::{Millis, NodeId};
use std::collections::BTreeMap;

/// Delivers every message at once and makes every Ready durable at once.
struct Cluster {
    nodes: BTreeMap<NodeId, Node>,
    now: Millis,
}

impl Cluster {
    fn new(n: u64) -> Cluster {
        let membership = Membership::with_voters((1..=n).map(|i| (NodeId(i), "")));
        let nodes = (1..=n)
            .map(|i| {
                let node = Node::new(Config::new(NodeId(i)), membership.clone(), 0).unwrap();
                (NodeId(i), node)
            })
            .collect();
        Cluster { nodes, now: 0 }
    }

    fn stabilize(&mut self) {
        loop {
            let mut inflight = Vec::new();
            for node in self.nodes.values_mut() {
                if let Some(ready) = node.ready() {
                    inflight.extend(ready.messages);
                    inflight.extend(ready.persisted_messages);
                    node.advance(self.now, ready.id);
                }
            }
            if inflight.is_empty() && self.nodes.values().all(|n| !n.has_ready()) {
                return;
            }
            for envelope in inflight {
                if let Some(node) = self.nodes.get_mut(&envelope.to) {
                    node.step(self.now, envelope).unwrap();
                }
            }
        }
    }

    fn run_until(&mut self, until: Millis) {
        while self.now < until {
            let next = self
                .nodes
                .values()
                .map(|n| n.next_deadline())
                .min()
                .unwrap();
            self.now = next.min(until).max(self.now + 1);
            for node in self.nodes.values_mut() {
                node.tick(self.now);
            }
            self.stabilize();
        }
    }

    fn leaders(&self) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.is_leader())
            .map(|n| n.id())
            .collect()
    }
}

#[test]
fn three_nodes_elect_one_leader_and_commit() {
    let mut cluster = Cluster::new(3);
    cluster.run_until(1_000);
    let leaders = cluster.leaders();
    assert_eq!(leaders.len(), 1, "leaders: {leaders:?}");
    let leader = leaders[0];
    let (index, _) = cluster
        .nodes
        .get_mut(&leader)
        .unwrap()
        .propose(b"x".to_vec())
        .unwrap();
    cluster.stabilize();
    cluster.run_until(1_100);
    for node in cluster.nodes.values() {
        assert!(node.commit_index() >= index, "{:?}", node.status());
    }
}
