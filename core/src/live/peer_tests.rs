//! A hosted peer joins a one-voter cluster as a learner and catches up, by appends and, when
//! the leader has compacted its log, by InstallSnapshot.

use super::*;
use crate::kv::{Command, Request};
use crate::raft::{ConfChange, RoleKind};
use crate::types::Index;

const TIMING: PeerTiming = PeerTiming {
    election_timeout_min_ms: 150,
    election_timeout_max_ms: 300,
    heartbeat_interval_ms: 50,
};

fn leader(snapshot_entries: u64) -> HostedPeer {
    let membership = Membership::with_voters([(NodeId(1), "relay")]);
    let mut leader = HostedPeer::founding(NodeId(1), membership, snapshot_entries, 0).unwrap();
    leader.replica_mut().node_mut().campaign(0);
    leader.tick(0).unwrap();
    assert_eq!(leader.replica().node().role(), RoleKind::Leader);
    leader
}

fn put(leader: &mut HostedPeer, n: u64, now: Millis) {
    let request = Request {
        session: None,
        command: Command::Put {
            key: format!("k{n}").into_bytes(),
            value: vec![b'v'; 32],
        },
    };
    assert!(leader.replica_mut().submit(n, request).is_none());
    leader.tick(now).unwrap();
}

/// Delivers everything both sides have to send, `rounds` times, advancing time 10 ms a round.
fn exchange(a: &mut HostedPeer, b: &mut HostedPeer, now: &mut Millis, rounds: u32) {
    for _ in 0..rounds {
        *now += 10;
        for envelope in a.take_outbox() {
            b.receive(envelope, *now).unwrap();
        }
        for envelope in b.take_outbox() {
            a.receive(envelope, *now).unwrap();
        }
        a.tick(*now).unwrap();
        b.tick(*now).unwrap();
    }
}

fn join(leader: &mut HostedPeer, now: Millis) -> HostedPeer {
    let change = ConfChange::AddLearner {
        id: NodeId(7),
        address: "relay".into(),
    };
    leader
        .replica_mut()
        .node_mut()
        .propose_conf_change(change)
        .unwrap();
    leader.tick(now).unwrap();
    HostedPeer::new(NodeId(7), 99, TIMING, now).unwrap()
}

#[test]
fn a_hosted_peer_joins_as_a_learner_and_reaches_the_commit_index() {
    let mut leader = leader(10_000);
    let mut now = 0;
    for n in 0..20 {
        put(&mut leader, n, now);
    }
    let mut peer = join(&mut leader, now);
    exchange(&mut leader, &mut peer, &mut now, 30);
    let commit = leader.replica().node().commit_index();
    assert!(commit >= Index(22), "leader commit {commit:?}");
    assert_eq!(peer.replica().node().commit_index(), commit);
    assert_eq!(peer.replica().kv().len(), 20);
    assert_eq!(peer.replica().node().role(), RoleKind::Follower);
    let view = peer.status(now, 1);
    assert!(view.members.iter().any(|m| m.id == NodeId(7) && !m.voter));
    let events = peer.take_events();
    assert!(events
        .iter()
        .any(|e| matches!(e, LiveEventKind::Committed { index } if *index == commit)));
}

#[test]
fn a_hosted_peer_catches_up_from_a_snapshot_when_the_log_was_compacted() {
    let mut leader = leader(5);
    let mut now = 0;
    for n in 0..40 {
        put(&mut leader, n, now);
    }
    assert!(leader.replica().node().log().snapshot_index() > Index(1));
    let mut peer = join(&mut leader, now);
    exchange(&mut leader, &mut peer, &mut now, 30);
    assert_eq!(
        peer.replica().node().commit_index(),
        leader.replica().node().commit_index()
    );
    assert_eq!(peer.replica().kv().len(), 40);
    assert!(peer
        .take_events()
        .iter()
        .any(|e| matches!(e, LiveEventKind::SnapshotInstalled { .. })));
}

#[test]
fn envelopes_for_someone_else_are_refused_not_applied() {
    let mut leader = leader(10_000);
    put(&mut leader, 1, 0);
    let mut peer = join(&mut leader, 0);
    leader.tick(1_000).unwrap();
    let envelopes = leader.take_outbox();
    assert!(
        !envelopes.is_empty(),
        "the leader should be replicating to the learner"
    );
    let count = envelopes.len() as u64;
    for mut envelope in envelopes {
        envelope.to = NodeId(8);
        peer.receive(envelope, 1_000).unwrap();
    }
    assert_eq!(peer.losses().1, count);
    assert_eq!(peer.replica().node().commit_index(), Index(0));
    assert!(peer.take_outbox().is_empty());
}

#[test]
fn a_full_outbox_drops_the_oldest_envelopes() {
    let mut peer = HostedPeer::new(NodeId(7), 1, TIMING, 0).unwrap();
    let envelope = Envelope {
        from: NodeId(7),
        to: NodeId(1),
        term: crate::types::Term(1),
        message: crate::raft::Message::PreVoteResponse { granted: false },
    };
    peer.send(vec![envelope; OUTBOX_ENVELOPES_MAX as usize + 3]);
    assert_eq!(peer.take_outbox().len(), OUTBOX_ENVELOPES_MAX as usize);
    assert_eq!(peer.losses().0, 3);
}
