//! The replica on a perfect network: every message delivered at once, every Ready durable at
//! once. Faults are the simulator's business.

use super::*;
use crate::kv::Command;
use crate::types::NodeId;

struct Cluster {
    replicas: BTreeMap<NodeId, Replica>,
    replies: Vec<Reply>,
    now: Millis,
}

impl Cluster {
    fn new(n: u64, snapshot_entries: u64) -> Cluster {
        let membership = Membership::with_voters((1..=n).map(|i| (NodeId(i), "")));
        let replicas = (1..=n)
            .map(|i| {
                let config = Config::new(NodeId(i));
                let replica_config = ReplicaConfig { snapshot_entries };
                let replica = Replica::new(config, replica_config, membership.clone(), 0).unwrap();
                (NodeId(i), replica)
            })
            .collect();
        Cluster {
            replicas,
            replies: Vec::new(),
            now: 0,
        }
    }

    fn stabilize(&mut self) {
        loop {
            let mut inflight = Vec::new();
            for replica in self.replicas.values_mut() {
                if let Some(mut ready) = replica.node_mut().ready() {
                    inflight.append(&mut ready.messages);
                    inflight.append(&mut ready.persisted_messages);
                    replica.apply(&ready, &mut self.replies).unwrap();
                    replica.advance(self.now, ready.id);
                }
            }
            if inflight.is_empty() && self.replicas.values().all(|r| !r.node().has_ready()) {
                return;
            }
            for envelope in inflight {
                if let Some(replica) = self.replicas.get_mut(&envelope.to) {
                    replica.node_mut().step(self.now, envelope).unwrap();
                }
            }
        }
    }

    fn elect(&mut self) -> NodeId {
        while self.leader().is_none() {
            let next = self
                .replicas
                .values()
                .map(|r| r.node().next_deadline())
                .min()
                .unwrap();
            self.now = next.max(self.now + 1);
            for replica in self.replicas.values_mut() {
                replica.node_mut().tick(self.now);
            }
            self.stabilize();
        }
        self.leader().unwrap()
    }

    fn leader(&self) -> Option<NodeId> {
        self.replicas
            .values()
            .find(|r| r.node().is_leader())
            .map(|r| r.node().id())
    }

    fn submit(&mut self, to: NodeId, request_id: u64, command: Command) -> Option<Reply> {
        let request = Request::tagged(1, request_id, command);
        let replica = self.replicas.get_mut(&to).unwrap();
        replica.submit(request_id, request)
    }

    fn take_reply(&mut self, request_id: u64) -> Outcome {
        let position = self.replies.iter().position(|r| r.request_id == request_id);
        self.replies.remove(position.expect("a reply")).outcome
    }
}

fn put(key: &str, value: &str) -> Command {
    Command::Put {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn get(key: &str) -> Command {
    Command::Get {
        key: key.as_bytes().to_vec(),
    }
}

#[test]
fn writes_and_reads_are_answered_by_the_leader() {
    let mut cluster = Cluster::new(3, SNAPSHOT_ENTRIES_DEFAULT);
    let leader = cluster.elect();
    assert_eq!(cluster.submit(leader, 1, put("x", "1")), None);
    cluster.stabilize();
    assert_eq!(cluster.take_reply(1), Outcome::Done(Response::Ok));
    assert_eq!(cluster.submit(leader, 2, get("x")), None);
    cluster.stabilize();
    assert_eq!(
        cluster.take_reply(2),
        Outcome::Done(Response::Value(Some(b"1".to_vec())))
    );
    let follower = NodeId(if leader == NodeId(1) { 2 } else { 1 });
    let refused = cluster.submit(follower, 3, put("x", "2")).unwrap();
    assert_eq!(
        refused.outcome,
        Outcome::NotLeader {
            leader: Some(leader)
        }
    );
    let digests: Vec<u64> = cluster.replicas.values().map(|r| r.kv().digest()).collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}

#[test]
fn snapshots_are_taken_and_restore_the_same_state() {
    let mut cluster = Cluster::new(3, 5);
    let leader = cluster.elect();
    for i in 0..12 {
        assert_eq!(
            cluster.submit(leader, 10 + i, put("k", &i.to_string())),
            None
        );
        cluster.stabilize();
    }
    let replica = &cluster.replicas[&leader];
    let snapshot = replica.node().snapshot().expect("a snapshot").clone();
    assert!(snapshot.meta.index.0 >= 5, "{:?}", snapshot.meta);
    let entries = replica
        .node()
        .log()
        .slice(
            snapshot.meta.index.next(),
            replica.node().log().last_index(),
        )
        .to_vec();
    let hard_state = HardState {
        term: replica.node().term(),
        vote: replica.node().vote(),
        commit: replica.node().commit_index(),
    };
    let mut restored = Replica::restore(
        Config::new(leader),
        ReplicaConfig::default(),
        Membership::default(),
        hard_state,
        Some(snapshot),
        entries,
        cluster.now,
    )
    .unwrap();
    let ready = restored.node_mut().ready().expect("entries to re-apply");
    let mut replies = Vec::new();
    restored.apply(&ready, &mut replies).unwrap();
    restored.advance(cluster.now, ready.id);
    assert!(replies.is_empty());
    assert_eq!(
        restored.kv().digest(),
        cluster.replicas[&leader].kv().digest()
    );
}

#[test]
fn invalid_requests_are_refused_at_once() {
    let mut cluster = Cluster::new(1, SNAPSHOT_ENTRIES_DEFAULT);
    let leader = cluster.elect();
    let key = vec![0; crate::kv::KEY_BYTES_MAX as usize + 1];
    let reply = cluster.submit(leader, 1, Command::Get { key }).unwrap();
    assert!(matches!(reply.outcome, Outcome::Invalid(_)));
}
