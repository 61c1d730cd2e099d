//! The live model fed with what real nodes send (protocol v1 frames as JSON text, the way
//! the sockets deliver them).

use super::*;
use flotilla_core::check::linearizability;
use flotilla_core::live::protocol::{LogTail, PeerProgressView};
use flotilla_core::raft::Message;
use flotilla_core::types::{Index, Term};

const T0: u64 = 1_700_000_000_000;

fn at(ms: u64) -> Now {
    Now {
        unix: T0 + ms,
        mono: 1_000 + ms,
    }
}

fn addr(i: u64) -> String {
    format!("127.0.0.1:{}", 8079 + i)
}

fn members(n: u64) -> Vec<MemberAddress> {
    (1..=n)
        .map(|i| MemberAddress {
            id: NodeId(i),
            peer: format!("127.0.0.1:{}", 7000 + i),
            http: Some(addr(i)),
            voter: true,
            relayed_by: None,
        })
        .collect()
}

fn status(id: u64, role: RoleKind, term: u64, last: u64, ms: u64) -> NodeStatusView {
    NodeStatusView {
        id: NodeId(id),
        role,
        term: Term(term),
        vote: Some(NodeId(2)),
        leader: Some(NodeId(2)),
        commit: Index(last),
        applied: Index(last),
        persisted: Index(last),
        first_index: Index(1),
        last_index: Index(last),
        snapshot_index: Index(0),
        unix_ms: T0 + ms,
        timer_fraction: 0.25,
        keys: 1,
        log_tail: LogTail {
            runs: vec![(Index(1), Term(0)), (Index(2), Term(term))],
        },
        progress: if role == RoleKind::Leader {
            [(
                NodeId(1),
                PeerProgressView {
                    match_index: Index(last),
                    next_index: Index(last + 1),
                    state: "replicate".into(),
                    connected: true,
                },
            )]
            .into_iter()
            .collect()
        } else {
            BTreeMap::new()
        },
        cut: Vec::new(),
        members: members(3),
    }
}

fn json(message: &NodeMessage) -> String {
    serde_json::to_string(message).unwrap()
}

/// The cluster's timers, as its nodes announce them (not the native defaults).
const TIMING: PeerTiming = PeerTiming {
    election_timeout_min_ms: 1_000,
    election_timeout_max_ms: 2_000,
    heartbeat_interval_ms: 150,
};

fn welcome(node: u64, authed: bool) -> String {
    json(&NodeMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        version: "0.1.0".into(),
        node: NodeId(node),
        authed,
        members: members(3),
        timing: Some(TIMING),
    })
}

fn peer_timing(live: &LiveCluster) -> PeerTiming {
    let PeerState::Running(p) = live.peer() else {
        panic!("no browser peer");
    };
    PeerTiming::of(p.peer.replica().node().config())
}

fn sent_to(commands: &[SocketCommand], to: &str) -> Vec<PageMessage> {
    commands
        .iter()
        .filter_map(|c| match c {
            SocketCommand::Send(a, text) if a == to => Some(serde_json::from_str(text).unwrap()),
            _ => None,
        })
        .collect()
}

/// Asks node 1 to relay a browser peer (the page must hold the token) and answers as node 1
/// would: the peer joins as n4.
fn join_peer_as_n4(live: &mut LiveCluster, asked: u64, answered: u64) {
    live.take_commands();
    live.peer_join(at(asked)).unwrap();
    let sent = sent_to(&live.take_commands(), &addr(1));
    let [PageMessage::PeerJoin { id }] = sent.as_slice() else {
        panic!("a join: {sent:?}");
    };
    let joined = NodeMessage::PeerJoined {
        id: *id,
        peer: NodeId(4),
    };
    live.received(&addr(1), &json(&joined), at(answered));
}

/// A page connected to a three-node cluster led by n2, every node reporting.
fn cluster() -> LiveCluster {
    let mut live = LiveCluster::new(at(0));
    live.connect(&addr(1), at(0));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(1))]);
    live.opened(&addr(1), at(5));
    live.received(&addr(1), &welcome(1, false), at(6));
    let commands = live.take_commands();
    assert_eq!(
        sent_to(&commands, &addr(1)),
        vec![PageMessage::Subscribe { messages: true }]
    );
    // The welcome lists the other members: one socket each.
    assert!(commands.contains(&SocketCommand::Open(addr(2))));
    assert!(commands.contains(&SocketCommand::Open(addr(3))));
    for i in 2..=3 {
        live.opened(&addr(i), at(8));
        live.received(&addr(i), &welcome(i, false), at(9));
    }
    for i in 1..=3 {
        let role = if i == 2 {
            RoleKind::Leader
        } else {
            RoleKind::Follower
        };
        let s = status(i, role, 3, 5, 9);
        live.received(&addr(i), &json(&NodeMessage::Status(s)), at(10));
    }
    live.take_commands();
    live
}

#[test]
fn one_address_discovers_the_whole_cluster_and_its_leader() {
    let live = cluster();
    let nodes = live.nodes();
    assert_eq!(
        nodes.iter().map(|n| n.id.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        nodes.iter().all(|n| n.health == Health::Up),
        "{nodes:?} {:?}",
        live.connections().collect::<Vec<_>>()
    );
    assert_eq!(ClusterModel::leader(&live), Some((NodeId(2), 3)));
    assert!(nodes[1].is_leader());
    // A follower's timer: a quarter run, three quarters left.
    assert_eq!(nodes[0].timer_left, Some(0.75));
    assert_eq!(live.log_last_index(), 5);
    let LogRow::Cells { cells, commit, .. } = live.log_row(NodeId(1), &[1, 2, 5, 6]) else {
        panic!("a row of cells");
    };
    assert_eq!(commit, 5);
    assert!(matches!(
        cells[0],
        Cell::Entry {
            term: 0,
            mark: "B",
            ..
        }
    ));
    assert!(matches!(
        cells[2],
        Cell::Entry {
            term: 3,
            committed: true,
            ..
        }
    ));
    assert_eq!(cells[3], Cell::Empty);
}

#[test]
fn a_closed_socket_is_a_down_node_and_is_retried_with_backoff() {
    let mut live = cluster();
    live.closed(&addr(2), "", at(100));
    let n2 = live
        .nodes()
        .into_iter()
        .find(|n| n.id == NodeId(2))
        .unwrap();
    assert_eq!(n2.health, Health::Down);
    assert_eq!(ClusterModel::leader(&live), None, "the leader went quiet");
    assert!(matches!(
        live.log_row(NodeId(2), &[1]),
        LogRow::Note(ref note) if note.starts_with("down")
    ));
    // The others still report: the page waits until one of them is connected to n2 again.
    live.tick(at(100 + RETRY_FIRST_MS));
    assert!(live.take_commands().is_empty());
    let mut s = status(3, RoleKind::Leader, 4, 6, 600);
    s.progress.insert(
        NodeId(2),
        PeerProgressView {
            match_index: Index(6),
            next_index: Index(7),
            state: "probe".into(),
            connected: true,
        },
    );
    live.received(&addr(3), &json(&NodeMessage::Status(s)), at(600));
    live.tick(at(601));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(2))]);
    // It does not answer after all: the next try waits for the slow retry.
    live.closed(&addr(2), "refused", at(700));
    let t = 700 + RETRY_SLOW_MS - 1;
    let mut s = status(3, RoleKind::Leader, 4, 6, t);
    s.progress.insert(
        NodeId(2),
        PeerProgressView {
            match_index: Index(6),
            next_index: Index(7),
            state: "probe".into(),
            connected: false,
        },
    );
    live.received(&addr(3), &json(&NodeMessage::Status(s)), at(t));
    live.tick(at(t));
    assert!(live.take_commands().is_empty());
    live.tick(at(700 + RETRY_SLOW_MS));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(2))]);
    assert_eq!(ClusterModel::leader(&live), Some((NodeId(3), 4)));
    assert!(live
        .trace_lines()
        .iter()
        .any(|l| l.text.starts_with("lost n2")));
}

#[test]
fn a_node_never_reached_is_retried_with_growing_delays() {
    let mut live = LiveCluster::new(at(0));
    live.connect(&addr(1), at(0));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(1))]);
    live.closed(&addr(1), "", at(10));
    live.tick(at(10 + RETRY_FIRST_MS - 1));
    assert!(live.take_commands().is_empty());
    live.tick(at(10 + RETRY_FIRST_MS));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(1))]);
    live.closed(&addr(1), "", at(300));
    live.tick(at(300 + RETRY_FIRST_MS));
    assert!(live.take_commands().is_empty());
    live.tick(at(300 + 2 * RETRY_FIRST_MS));
    assert_eq!(live.take_commands(), vec![SocketCommand::Open(addr(1))]);
}

#[test]
fn a_silent_open_socket_is_a_node_not_reporting() {
    let mut live = cluster();
    live.tick(at(10 + STALE_MS + 1));
    let nodes = live.nodes();
    assert!(nodes.iter().all(|n| n.health == Health::Paused));
    assert_eq!(ClusterModel::leader(&live), None);
}

#[test]
fn client_requests_go_to_the_leader_and_make_a_checked_history() {
    let mut live = cluster();
    let put = live.kv(
        KvOp::Put {
            key: "x".into(),
            value: "1".into(),
        },
        None,
        at(20),
    );
    let commands = live.take_commands();
    assert_eq!(
        sent_to(&commands, &addr(2)),
        vec![PageMessage::Kv {
            id: put,
            op: KvOp::Put {
                key: "x".into(),
                value: "1".into()
            }
        }]
    );
    assert_eq!(live.pending_kv(), 1);
    let reply = NodeMessage::KvReply {
        id: put,
        outcome: KvOutcome::Ok {
            value: None,
            removed: None,
        },
    };
    live.received(&addr(2), &json(&reply), at(30));
    let get = live.kv(KvOp::Get { key: "x".into() }, Some(NodeId(3)), at(40));
    assert_eq!(sent_to(&live.take_commands(), &addr(3)).len(), 1);
    let reply = NodeMessage::KvReply {
        id: get,
        outcome: KvOutcome::Ok {
            value: Some("1".into()),
            removed: None,
        },
    };
    live.received(&addr(3), &json(&reply), at(50));
    let history = live.history();
    assert_eq!(history[0].output, KvOutput::Ok);
    assert_eq!(history[1].output, KvOutput::Value(Some(b"1".to_vec())));
    assert!(history[0].complete.unwrap() < history[1].invoke);
    assert_eq!(live.op_times()[1].complete_ms, Some(50));
    assert!(linearizability::check(history).is_linearizable());

    // A stale read after the put completed is caught.
    let get = live.kv(KvOp::Get { key: "x".into() }, None, at(60));
    let reply = NodeMessage::KvReply {
        id: get,
        outcome: KvOutcome::Ok {
            value: None,
            removed: None,
        },
    };
    live.received(&addr(2), &json(&reply), at(70));
    assert!(!linearizability::check(live.history()).is_linearizable());
}

#[test]
fn a_delete_completes_with_whether_it_removed_the_key() {
    let mut live = cluster();
    let reply = |id, outcome| json(&NodeMessage::KvReply { id, outcome });
    let ok = |value: Option<&str>, removed| KvOutcome::Ok {
        value: value.map(String::from),
        removed,
    };
    let put = live.kv(
        KvOp::Put {
            key: "d".into(),
            value: "1".into(),
        },
        None,
        at(20),
    );
    live.received(&addr(2), &reply(put, ok(None, None)), at(30));
    let delete = live.kv(KvOp::Delete { key: "d".into() }, None, at(40));
    assert_eq!(
        sent_to(&live.take_commands(), &addr(2)).last(),
        Some(&PageMessage::Kv {
            id: delete,
            op: KvOp::Delete { key: "d".into() }
        })
    );
    live.received(&addr(2), &reply(delete, ok(None, Some(true))), at(50));
    let again = live.kv(KvOp::Delete { key: "d".into() }, None, at(60));
    live.received(&addr(2), &reply(again, ok(None, Some(false))), at(70));
    let history = live.history();
    assert_eq!(history[1].output, KvOutput::Deleted(true));
    assert_eq!(history[2].output, KvOutput::Deleted(false));
    assert!(history[1].complete.is_some() && history[2].complete.is_some());
    assert!(live
        .trace_lines()
        .iter()
        .any(|l| l.text.ends_with("delete d: removed")));
    assert!(linearizability::check(history).is_linearizable());
    // Completed deletes constrain the order: a second delete that also claims to have
    // removed the key, after the first completed, is not linearizable.
    let third = live.kv(KvOp::Delete { key: "d".into() }, None, at(80));
    live.received(&addr(2), &reply(third, ok(None, Some(true))), at(90));
    assert!(!linearizability::check(live.history()).is_linearizable());
    // A reply that does not say leaves the delete open (sound, but weaker).
    let unsure = live.kv(KvOp::Delete { key: "e".into() }, None, at(100));
    live.received(&addr(2), &reply(unsure, ok(None, None)), at(110));
    let last = live.history().last().unwrap();
    assert_eq!((&last.output, last.complete), (&KvOutput::Unknown, None));
}

#[test]
fn a_request_whose_socket_closes_has_an_unknown_outcome() {
    let mut live = cluster();
    live.kv(
        KvOp::Put {
            key: "y".into(),
            value: "2".into(),
        },
        None,
        at(20),
    );
    live.closed(&addr(2), "", at(25));
    assert_eq!(live.history()[0].output, KvOutput::Unknown);
    assert_eq!(live.history()[0].complete, None);
    assert_eq!(live.op_times()[0].complete_ms, Some(25));
    // Failed: no node at all.
    let mut lonely = LiveCluster::new(at(0));
    lonely.kv(KvOp::Get { key: "z".into() }, None, at(1));
    assert_eq!(lonely.history()[0].output, KvOutput::Failed);
}

#[test]
fn admin_actions_need_the_token_and_go_where_they_can_be_carried_out() {
    let mut live = cluster();
    assert!(live.admin(AdminAction::Pause { node: NodeId(1) }).is_err());
    assert!(live.take_commands().is_empty());
    assert_eq!(live.admin_log().back().unwrap().ok, Some(false));
    let inspection = live.inspect(NodeId(1));
    let crash = inspection
        .buttons
        .iter()
        .find(|b| b.id == "btn-crash")
        .unwrap();
    assert!(!crash.enabled, "disabled without a token");

    live.set_token("secret", at(20));
    let commands = live.take_commands();
    for i in 1..=3 {
        assert_eq!(
            sent_to(&commands, &addr(i)),
            vec![PageMessage::Auth {
                token: "secret".into()
            }]
        );
    }
    live.received(&addr(1), &welcome(1, false), at(21));
    assert_eq!(
        live.admin_log().back().unwrap().text,
        "n1 refused the token"
    );
    live.received(&addr(2), &welcome(2, true), at(21));
    assert!(live.authed());
    assert!(live.inspect(NodeId(1)).buttons.iter().all(|b| b.enabled));

    // Crashing n1 goes through another, healthy node (the supervisor carries it out).
    let id = live.admin(AdminAction::Crash { node: NodeId(1) }).unwrap();
    let commands = live.take_commands();
    assert!(sent_to(&commands, &addr(1)).is_empty());
    assert_eq!(
        sent_to(&commands, &addr(2)),
        vec![PageMessage::Admin {
            id,
            action: AdminAction::Crash { node: NodeId(1) }
        }]
    );
    let refused = NodeMessage::AdminReply {
        id,
        result: AdminResult::Refused {
            message: "bad token".into(),
        },
    };
    live.received(&addr(2), &json(&refused), at(30));
    let last = live.admin_log().back().unwrap();
    assert_eq!(last.ok, Some(false));
    assert!(last.text.contains("bad token"), "{}", last.text);

    // Membership changes go to the leader; a snapshot to the node itself.
    live.admin(AdminAction::Promote { id: NodeId(3) }).unwrap();
    assert_eq!(sent_to(&live.take_commands(), &addr(2)).len(), 1);
    live.admin(AdminAction::Snapshot { node: NodeId(3) })
        .unwrap();
    assert_eq!(sent_to(&live.take_commands(), &addr(3)).len(), 1);
}

#[test]
fn clicking_a_link_cuts_it_on_one_side_and_restores_it_on_both() {
    let mut live = cluster();
    live.set_token("t", at(11));
    live.take_commands();
    assert!(!live.is_cut(NodeId(1), NodeId(3)));
    let ops = live.link_ops(NodeId(1), NodeId(3));
    let [NodeOp::Live(op)] = ops.as_slice() else {
        panic!("one live op");
    };
    live.op(op.clone(), at(12)).unwrap();
    let sent = sent_to(&live.take_commands(), &addr(1));
    assert!(matches!(
        sent.as_slice(),
        [PageMessage::Admin { action: AdminAction::Cut { node: NodeId(1), peers }, .. }] if peers == &vec![NodeId(3)]
    ));
    // n1 reports the cut: the link is cut both ways.
    let mut s = status(1, RoleKind::Follower, 3, 5, 20);
    s.cut = vec![NodeId(3)];
    live.received(&addr(1), &json(&NodeMessage::Status(s)), at(20));
    assert!(live.is_cut(NodeId(3), NodeId(1)));
    let ops = live.link_ops(NodeId(3), NodeId(1));
    let [NodeOp::Live(op)] = ops.as_slice() else {
        panic!("one live op");
    };
    live.op(op.clone(), at(21)).unwrap();
    let sent = sent_to(&live.take_commands(), &addr(1));
    assert!(matches!(
        sent.as_slice(),
        [PageMessage::Admin { action: AdminAction::Cut { node: NodeId(1), peers }, .. }] if peers.is_empty()
    ));
}

#[test]
fn the_two_halves_of_a_message_make_one_flight() {
    let mut live = cluster();
    let summary = |sent: bool, ms: u64| MessageSummary {
        from: NodeId(2),
        to: NodeId(1),
        sent,
        unix_ms: T0 + ms,
        kind: "append".into(),
        term: Term(3),
        entries: 1,
        index: None,
        dropped: false,
    };
    // The receiver's batch arrives first.
    let batch = |s: MessageSummary| {
        json(&NodeMessage::Messages {
            summaries: vec![s],
            omitted: 0,
        })
    };
    live.received(&addr(1), &batch(summary(false, 101)), at(150));
    live.received(&addr(2), &batch(summary(true, 100)), at(160));
    let flights = live.flights(150.0);
    assert_eq!(flights.len(), 1, "{flights:?}");
    let f = &flights[0];
    assert_eq!((f.from, f.to), (NodeId(2), NodeId(1)));
    assert!(f.deliver_ms - f.sent_ms >= FLIGHT_MIN_MS);
    assert_eq!(f.label, "AE t3 +1");
    assert!(live.flights(100.0 + FLIGHT_MIN_MS + 5.0).is_empty());
    // A dropped message is a cross, not a flight.
    let mut lost = summary(true, 300);
    lost.dropped = true;
    live.received(&addr(2), &batch(lost), at(320));
    assert_eq!(live.drops(310.0).len(), 1);
    assert!(live.trace_lines().iter().any(|l| l.kind == TraceKind::Drop));
    // The display runs behind the clock by at least the summaries' lag.
    assert!(live.display_delay_ms() >= 50.0 + 80.0 - 1.0);
}

#[test]
fn events_become_timeline_lines_in_time_order() {
    let mut live = cluster();
    let event = |node: u64, ms: u64, what: LiveEventKind| {
        json(&NodeMessage::Event(LiveEvent {
            node: NodeId(node),
            unix_ms: T0 + ms,
            what,
        }))
    };
    live.received(
        &addr(3),
        &event(
            3,
            40,
            LiveEventKind::Role {
                role: RoleKind::Leader,
                term: Term(4),
            },
        ),
        at(60),
    );
    live.received(
        &addr(1),
        &event(1, 30, LiveEventKind::Committed { index: Index(9) }),
        at(61),
    );
    let lines: Vec<&str> = live
        .trace_lines()
        .iter()
        .rev()
        .take(2)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(lines, vec!["n3 leader t4", "n1 commits 9"]);
}

#[test]
fn an_incompatible_node_is_left_alone_and_a_second_address_of_a_node_is_closed() {
    let mut live = LiveCluster::new(at(0));
    live.connect("localhost:8080", at(0));
    live.opened("localhost:8080", at(1));
    live.received("localhost:8080", &welcome(1, false), at(2));
    live.take_commands();
    // The welcome names n1 at 127.0.0.1:8080: the page learns it is already watched.
    assert!(!live.connections().any(|c| c.addr == addr(1)));
    let wrong = NodeMessage::Welcome {
        protocol: PROTOCOL_VERSION + 1,
        version: "9".into(),
        node: NodeId(2),
        authed: false,
        members: Vec::new(),
        timing: None,
    };
    live.opened(&addr(2), at(3));
    live.received(&addr(2), &json(&wrong), at(4));
    assert!(live.problem().unwrap().contains("protocol"));
    assert!(live
        .take_commands()
        .contains(&SocketCommand::Close(addr(2))));
    live.closed(&addr(2), "", at(5));
    live.tick(at(10_000));
    assert!(!live.take_commands().contains(&SocketCommand::Open(addr(2))));
    // Garbage is a timeline line, not a panic.
    live.received("localhost:8080", "{\"nope\":{}}", at(6));
    live.received("localhost:8080", "not json", at(7));
}

#[test]
fn a_browser_peer_joins_through_its_relay_and_answers_the_leader() {
    let mut live = cluster();
    assert!(live.peer_join(at(20)).is_err(), "needs the token");
    live.set_token("t", at(20));
    join_peer_as_n4(&mut live, 21, 30);
    assert_eq!(live.peer_id(), Some(NodeId(4)));
    // It keeps the cluster's time, as its relay announced it.
    assert_eq!(peer_timing(&live), TIMING);
    assert!(live
        .admin_log()
        .back()
        .unwrap()
        .text
        .contains("1000–2000 ms, heartbeat 150 ms (the cluster's)"));
    let me = live
        .nodes()
        .into_iter()
        .find(|n| n.id == NodeId(4))
        .unwrap();
    assert!(me.in_page);
    assert_eq!(me.health, Health::Up);
    // The leader probes it with a heartbeat; it answers through the relay.
    let heartbeat = NodeMessage::Raft(Envelope {
        from: NodeId(2),
        to: NodeId(4),
        term: Term(3),
        message: Message::Heartbeat {
            commit: Index(0),
            read_round: 0,
        },
    });
    live.received(&addr(1), &json(&heartbeat), at(40));
    let sent = sent_to(&live.take_commands(), &addr(1));
    assert!(
        matches!(sent.as_slice(), [PageMessage::Raft(envelope)] if envelope.to == NodeId(2) && envelope.from == NodeId(4)),
        "{sent:?}"
    );
    live.tick(at(5_000));
    assert!(live.peer_deadline().is_some());
    // Leaving: the page asks, the node confirms.
    live.op(LiveOp::RemovePeer, at(5_001)).unwrap();
    let sent = sent_to(&live.take_commands(), &addr(1));
    assert!(matches!(sent.as_slice(), [PageMessage::PeerLeave { .. }]));
    let left = NodeMessage::PeerLeft {
        peer: NodeId(4),
        reason: "asked".into(),
    };
    live.received(&addr(1), &json(&left), at(5_010));
    assert_eq!(live.peer_id(), None);
}

#[test]
fn a_browser_peer_takes_the_native_defaults_from_a_node_that_does_not_say_its_timing() {
    let mut live = LiveCluster::new(at(0));
    live.connect(&addr(1), at(0));
    live.opened(&addr(1), at(1));
    // A welcome without `timing` (an optional field) still reads.
    let mut welcome: serde_json::Value = serde_json::from_str(&welcome(1, true)).unwrap();
    welcome["welcome"].as_object_mut().unwrap().remove("timing");
    live.received(&addr(1), &welcome.to_string(), at(2));
    assert_eq!(live.connections().next().unwrap().timing, None);
    live.set_token("t", at(3));
    join_peer_as_n4(&mut live, 4, 5);
    assert_eq!(peer_timing(&live), PEER_TIMING);
    assert!(live.admin_log().back().unwrap().text.contains("defaults"));
}

#[test]
fn a_leader_status_with_progress_reads_back() {
    let s = status(2, RoleKind::Leader, 3, 5, 9);
    let text = json(&NodeMessage::Status(s.clone()));
    assert_eq!(decode(&text).unwrap(), NodeMessage::Status(s));
    assert!(decode(&welcome(1, true)).is_ok());
    // An append carrying the founding configuration (entry 1), as a joining peer gets it.
    let membership = flotilla_core::raft::Membership::with_voters([(NodeId(1), "a")]);
    let envelope = Envelope {
        from: NodeId(1),
        to: NodeId(4),
        term: Term(2),
        message: Message::Append {
            prev_index: Index(0),
            prev_term: Term(0),
            entries: vec![flotilla_core::raft::Entry {
                index: Index(1),
                term: Term(0),
                payload: flotilla_core::raft::Payload::Bootstrap(membership),
            }],
            commit: Index(1),
        },
    };
    let text = json(&NodeMessage::Raft(envelope.clone()));
    assert_eq!(decode(&text).unwrap(), NodeMessage::Raft(envelope));
}

#[test]
fn a_peer_whose_relay_dies_is_removed_through_another_node() {
    let mut live = cluster();
    live.set_token("t", at(20));
    join_peer_as_n4(&mut live, 21, 30);
    live.closed(&addr(1), "", at(40));
    assert_eq!(live.peer_id(), None);
    let commands = live.take_commands();
    let removal = sent_to(&commands, &addr(2));
    assert!(
        matches!(
            removal.as_slice(),
            [PageMessage::Admin {
                action: AdminAction::Remove { id: NodeId(4) },
                ..
            }]
        ),
        "{commands:?}"
    );
}
