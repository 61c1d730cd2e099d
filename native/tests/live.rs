//! The live protocol (docs/protocol.md) against real node processes on 127.0.0.1: a test
//! client speaks to `/ws` as a page would, including a browser peer run by the core's own
//! `HostedPeer`. Every wait has a deadline.

mod common;

use common::{Cluster, Resp};
use flotilla_core::live::peer::{HostedPeer, PeerTiming};
use flotilla_core::live::protocol::{
    AdminAction, AdminResult, KvOp, KvOutcome, LiveEventKind, NodeMessage, PageMessage,
    FRAME_BYTES_MAX, PROTOCOL_VERSION,
};
use flotilla_core::{Millis, NodeId};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const STARTUP: Duration = Duration::from_secs(15);
const RETRY: Duration = Duration::from_secs(10);

/// A page: one WebSocket to one node.
struct Page {
    ws: WebSocket<TcpStream>,
}

impl Page {
    fn connect(http: u16, query: &str) -> Page {
        let stream = TcpStream::connect(("127.0.0.1", http)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let url = format!("ws://127.0.0.1:{http}/ws{query}");
        let (ws, _) = tungstenite::client::client(url, stream).expect("websocket handshake");
        Page { ws }
    }

    fn send(&mut self, message: &PageMessage) {
        let text = serde_json::to_string(message).expect("encode");
        self.ws.send(Message::text(text)).expect("send");
    }

    fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send");
    }

    /// The next message, or `None` if nothing came within `within`. Panics if the socket
    /// closed.
    fn recv(&mut self, within: Duration) -> Option<NodeMessage> {
        let within = within.max(Duration::from_millis(1));
        self.ws
            .get_mut()
            .set_read_timeout(Some(within))
            .expect("timeout");
        match self.ws.read() {
            Ok(Message::Text(text)) => Some(
                serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("not a node message: {e}: {text}")),
            ),
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(error) => panic!("socket closed: {error}"),
        }
    }

    /// Reads until a message matches, within `within`.
    fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        mut matches: impl FnMut(&NodeMessage) -> bool,
    ) -> NodeMessage {
        self.wait_pick(within, what, |m| matches(&m).then_some(m))
    }

    /// Reads until `pick` takes something from a message, within `within`.
    fn wait_pick<T>(
        &mut self,
        within: Duration,
        what: &str,
        mut pick: impl FnMut(NodeMessage) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(message) = self.recv(deadline.saturating_duration_since(Instant::now())) {
                if let Some(picked) = pick(message) {
                    return picked;
                }
            }
        }
        panic!("no {what} within {within:?}");
    }

    fn kv(&mut self, id: u64, op: KvOp) -> KvOutcome {
        self.send(&PageMessage::Kv { id, op });
        self.wait_pick(RETRY, "kv reply", |m| match m {
            NodeMessage::KvReply { id: i, outcome } if i == id => Some(outcome),
            _ => None,
        })
    }

    fn admin(&mut self, id: u64, action: AdminAction) -> AdminResult {
        self.send(&PageMessage::Admin { id, action });
        self.wait_pick(RETRY, "admin reply", |m| match m {
            NodeMessage::AdminReply { id: i, result } if i == id => Some(result),
            _ => None,
        })
    }

    /// Retries an admin action while it is refused for a passing reason.
    fn admin_retrying(&mut self, first_id: u64, action: AdminAction) -> AdminResult {
        let deadline = Instant::now() + RETRY;
        let mut id = first_id;
        loop {
            let result = self.admin(id, action.clone());
            match &result {
                AdminResult::Refused { message }
                    if Instant::now() < deadline
                        && (message.starts_with("NOLEADER")
                            || message.contains("not yet committed")
                            || message.contains("has not caught up")
                            || message.contains("transfer is in progress")) =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                    id += 1000;
                }
                _ => return result,
            }
        }
    }
}

fn welcome(page: &mut Page) -> NodeMessage {
    let message = page
        .recv(Duration::from_secs(5))
        .expect("a welcome frame first");
    assert!(
        matches!(message, NodeMessage::Welcome { protocol, .. } if protocol == PROTOCOL_VERSION),
        "{message:?}"
    );
    message
}

/// The timing a node announces in its welcome, which a page gives its browser peer.
fn timing_of(welcome: &NodeMessage) -> PeerTiming {
    match welcome {
        NodeMessage::Welcome {
            timing: Some(timing),
            ..
        } => *timing,
        other => panic!("no timing in {other:?}"),
    }
}

fn status_of(message: &NodeMessage) -> Option<&flotilla_core::live::protocol::NodeStatusView> {
    match message {
        NodeMessage::Status(status) => Some(status),
        _ => None,
    }
}

fn info_field(cluster: &Cluster, id: u64, field: &str) -> String {
    cluster
        .node(id)
        .raft_info()
        .and_then(|info| info.get(field).cloned())
        .unwrap_or_default()
}

#[test]
fn a_page_is_welcomed_and_sees_status_events_and_messages() {
    let cluster = Cluster::start("live-flow", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    // Every member's HTTP address is known once the nodes have said hello to each other.
    let deadline = Instant::now() + RETRY;
    let members = loop {
        let mut page = Page::connect(cluster.node(1).http, "");
        let NodeMessage::Welcome {
            node,
            authed,
            members,
            timing,
            ..
        } = welcome(&mut page)
        else {
            unreachable!()
        };
        assert_eq!(node, NodeId(1));
        assert!(!authed);
        // `flotilla node`'s defaults.
        assert_eq!(
            timing,
            Some(PeerTiming {
                election_timeout_min_ms: 300,
                election_timeout_max_ms: 600,
                heartbeat_interval_ms: 75,
            })
        );
        if members.iter().all(|m| m.http.is_some()) || Instant::now() > deadline {
            break members;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(members.len(), 3, "{members:?}");
    for member in &members {
        let node = cluster.node(member.id.0);
        assert_eq!(member.peer, format!("127.0.0.1:{}", node.peer));
        assert_eq!(member.http, Some(format!("127.0.0.1:{}", node.http)));
        assert!(member.voter && member.relayed_by.is_none());
    }
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
    let status = page.wait_for(RETRY, "status", |m| status_of(m).is_some());
    let status = status_of(&status).expect("status");
    assert_eq!(status.id, NodeId(1));
    assert_eq!(status.members.len(), 3);
    assert!(status.unix_ms > 1_600_000_000_000);
    page.send(&PageMessage::Subscribe { messages: true });
    assert_eq!(
        cluster.call_retrying(leader, &["SET", "k", "v"], RETRY),
        Resp::Simple("OK".into())
    );
    page.wait_for(RETRY, "an append event", |m| {
        matches!(m, NodeMessage::Event(event) if matches!(event.what, LiveEventKind::Appended { .. }))
    });
    page.wait_for(RETRY, "a commit event", |m| {
        matches!(m, NodeMessage::Event(event) if matches!(event.what, LiveEventKind::Committed { .. }))
    });
    let batch = page.wait_for(
        RETRY,
        "message summaries",
        |m| matches!(m, NodeMessage::Messages { summaries, .. } if !summaries.is_empty()),
    );
    let NodeMessage::Messages { summaries, .. } = batch else {
        unreachable!()
    };
    assert!(summaries
        .iter()
        .all(|m| m.from == NodeId(1) || m.to == NodeId(1)));
    // Unsubscribed: no more summaries (allowing one batch already on its way).
    page.send(&PageMessage::Subscribe { messages: false });
    let mut batches = 0;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        if let Some(NodeMessage::Messages { .. }) = page.recv(Duration::from_millis(100)) {
            batches += 1;
        }
    }
    assert!(batches <= 1, "{batches} batches after unsubscribing");
}

#[test]
fn key_value_requests_through_the_socket_and_resp_agree() {
    let cluster = Cluster::start("live-kv", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let mut page = Page::connect(cluster.node(follower).http, "");
    welcome(&mut page);
    // Through a follower's socket: forwarded to the leader.
    let deadline = Instant::now() + RETRY;
    loop {
        let outcome = page.kv(
            1,
            KvOp::Put {
                key: "page".into(),
                value: "wrote this".into(),
            },
        );
        match outcome {
            KvOutcome::Ok {
                value: None,
                removed: None,
            } => break,
            KvOutcome::Failed { .. } if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        cluster.call_retrying(leader, &["GET", "page"], RETRY),
        Resp::Bulk(Some(b"wrote this".to_vec()))
    );
    cluster.call_retrying(leader, &["SET", "resp", "wrote that"], RETRY);
    let ok = |value: Option<&str>, removed| KvOutcome::Ok {
        value: value.map(String::from),
        removed,
    };
    assert_eq!(
        page.kv(2, KvOp::Get { key: "resp".into() }),
        ok(Some("wrote that"), None)
    );
    // A delete says whether it removed the key.
    assert_eq!(
        page.kv(3, KvOp::Delete { key: "resp".into() }),
        ok(None, Some(true))
    );
    assert_eq!(page.kv(4, KvOp::Get { key: "resp".into() }), ok(None, None));
    assert_eq!(
        page.kv(41, KvOp::Delete { key: "resp".into() }),
        ok(None, Some(false))
    );
    page.send(&PageMessage::Command {
        id: 5,
        args: vec!["INCRBY".into(), "n".into(), "5".into()],
    });
    let reply = page.wait_for(RETRY, "command reply", |m| {
        matches!(m, NodeMessage::CommandReply { id: 5, .. })
    });
    assert_eq!(
        reply,
        NodeMessage::CommandReply {
            id: 5,
            reply: "(integer) 5".into()
        }
    );
    // Admin commands need the token, also as commands.
    page.send(&PageMessage::Command {
        id: 6,
        args: vec!["RAFT.STATUS".into()],
    });
    let reply = page.wait_for(RETRY, "command reply", |m| {
        matches!(m, NodeMessage::CommandReply { id: 6, .. })
    });
    assert!(
        matches!(&reply, NodeMessage::CommandReply { reply, .. } if reply.contains("NOAUTH")),
        "{reply:?}"
    );
}

#[test]
fn bad_frames_get_errors_and_oversized_frames_close_the_socket() {
    let cluster = Cluster::start("live-frames", 1, &[]);
    cluster.wait_for_leader(STARTUP);
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
    for (text, id) in [
        ("not json", None),
        (r#"{"nope":{"id":4}}"#, Some(4)),
        (r#"{"kv":{"id":5}}"#, Some(5)),
        ("[1,2,3]", None),
    ] {
        page.send_text(text);
        let error = page.wait_for(RETRY, "error", |m| matches!(m, NodeMessage::Error { .. }));
        assert!(
            matches!(&error, NodeMessage::Error { id: got, .. } if *got == id),
            "{text}: {error:?}"
        );
    }
    page.ws.send(Message::binary(vec![1, 2, 3])).expect("send");
    page.wait_for(RETRY, "error", |m| matches!(m, NodeMessage::Error { .. }));
    // A browser peer's traffic without a peer is refused, and the socket stays usable.
    page.send_text(r#"{"raft":{"from":9,"to":1,"term":1,"message":"TimeoutNow"}}"#);
    page.wait_for(RETRY, "error", |m| matches!(m, NodeMessage::Error { .. }));
    assert_eq!(
        page.kv(
            1,
            KvOp::Put {
                key: "still".into(),
                value: "usable".into()
            }
        ),
        KvOutcome::Ok {
            value: None,
            removed: None
        }
    );
    // Over the frame limit: the node closes the socket.
    let huge = format!(
        r#"{{"command":{{"id":1,"args":["ECHO","{}"]}}}}"#,
        "x".repeat(FRAME_BYTES_MAX as usize + 1)
    );
    let _ = page.ws.send(Message::text(huge));
    let deadline = Instant::now() + RETRY;
    let closed = loop {
        page.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        match page.ws.read() {
            Ok(Message::Close(_)) => break true,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(closed, "the socket stayed open after an oversized frame");
    // The node keeps serving.
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
}

#[test]
fn admin_actions_need_the_token_and_cut_heal_transfer_snapshot_work() {
    let cluster = Cluster::start("live-admin", 3, &[]);
    cluster.wait_for_leader(STARTUP);
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
    let refused = page.admin(1, AdminAction::Heal { node: NodeId(2) });
    assert!(
        matches!(&refused, AdminResult::Refused { message } if message.contains("token")),
        "{refused:?}"
    );
    page.send(&PageMessage::PeerJoin { id: 2 });
    page.wait_for(
        RETRY,
        "error",
        |m| matches!(m, NodeMessage::Error { id: Some(2), message } if message.contains("token")),
    );
    page.send(&PageMessage::Auth {
        token: "wrong".into(),
    });
    page.wait_for(RETRY, "welcome", |m| {
        matches!(m, NodeMessage::Welcome { authed: false, .. })
    });
    page.send(&PageMessage::Auth {
        token: "test-token".into(),
    });
    page.wait_for(RETRY, "welcome", |m| {
        matches!(m, NodeMessage::Welcome { authed: true, .. })
    });
    // Cut node 2 off from 1 and 3, asked through node 1: node 2 reports it.
    let mut watch2 = Page::connect(cluster.node(2).http, "");
    welcome(&mut watch2);
    let result = page.admin(
        3,
        AdminAction::Cut {
            node: NodeId(2),
            peers: vec![NodeId(1), NodeId(3)],
        },
    );
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    watch2.wait_for(RETRY, "cut status", |m| {
        status_of(m).is_some_and(|s| s.cut == vec![NodeId(1), NodeId(3)])
    });
    let result = page.admin(4, AdminAction::Heal { node: NodeId(2) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    watch2.wait_for(RETRY, "healed status", |m| {
        status_of(m).is_some_and(|s| s.cut.is_empty())
    });
    // Isolate the leader from its own socket, then heal: a new leader may come and go.
    let result = page.admin(5, AdminAction::Isolate { node: NodeId(1) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    page.wait_for(RETRY, "isolated status", |m| {
        status_of(m).is_some_and(|s| s.cut == vec![NodeId(2), NodeId(3)])
    });
    let result = page.admin(6, AdminAction::Heal { node: NodeId(1) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    let leader = cluster.wait_for_stable_leader(STARTUP);
    // Transfer through node 1 to a follower.
    let target = (1..=3).find(|&id| id != leader).expect("a follower");
    let result = page.admin_retrying(7, AdminAction::Transfer { to: NodeId(target) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    let deadline = Instant::now() + RETRY;
    while info_field(&cluster, target, "role") != "leader" {
        assert!(Instant::now() < deadline, "{target} did not take over");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A snapshot on node 3, asked through node 1.
    cluster.call_retrying(target, &["SET", "a", "b"], RETRY);
    let result = page.admin(8, AdminAction::Snapshot { node: NodeId(3) });
    assert!(
        matches!(&result, AdminResult::Ok { message } if message.contains("snapshot")),
        "{result:?}"
    );
    // Process actions need `flotilla cluster`.
    let result = page.admin(9, AdminAction::Crash { node: NodeId(2) });
    assert!(
        matches!(&result, AdminResult::Refused { message } if message.contains("flotilla cluster")),
        "{result:?}"
    );
}

/// `flotilla cluster` on ports nobody uses, stopped (SIGTERM) when dropped.
struct Supervised {
    child: Child,
    dir: std::path::PathBuf,
    resp_base: u16,
    http_base: u16,
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A base port such that base+1..=base+n are free (`flotilla cluster` numbers its nodes'
/// ports from base+1).
fn free_base(n: u16) -> u16 {
    common::free_ports(n) - 1
}

/// Waits until the RESP port answers a PING, or fails with `what`.
fn wait_until_answering(port: u16, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while !resp_ping(port) {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn resp_ping(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("address"),
        Duration::from_millis(300),
    ) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut client = common::Client::from_stream(stream);
    let _ = client.send(&["PING"]);
    matches!(client.read(), Ok(Resp::Simple(s)) if s == "PONG")
}

#[test]
fn flotilla_cluster_pauses_crashes_and_restarts_nodes_for_a_page() {
    let dir = std::env::temp_dir().join(format!("flotilla-it-live-sup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (resp_base, http_base, peer_base) = (free_base(3), free_base(3), free_base(3));
    let log = std::fs::File::create(dir.join("cluster.log")).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "cluster",
            "--nodes=3",
            &format!("--data={}", dir.join("data").display()),
            &format!("--resp-port-base={resp_base}"),
            &format!("--http-port-base={http_base}"),
            &format!("--peer-port-base={peer_base}"),
            &format!("--web-dir={}", dir.join("no-web").display()),
            "--token=sup-token",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start flotilla cluster");
    let cluster = Supervised {
        child,
        dir,
        resp_base,
        http_base,
    };
    for i in 1..=3 {
        wait_until_answering(cluster.resp_base + i, STARTUP, "the cluster did not start");
    }
    let mut page = Page::connect(cluster.http_base + 1, "?token=sup-token");
    let NodeMessage::Welcome { authed, .. } = welcome(&mut page) else {
        unreachable!()
    };
    assert!(authed);
    // Crash node 2: it stays down until restarted.
    let result = page.admin(1, AdminAction::Crash { node: NodeId(2) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    assert!(!resp_ping(cluster.resp_base + 2), "node 2 still answers");
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !resp_ping(cluster.resp_base + 2),
        "node 2 came back by itself"
    );
    let result = page.admin(2, AdminAction::Restart { node: NodeId(2) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    wait_until_answering(cluster.resp_base + 2, STARTUP, "node 2 did not restart");
    // Pause node 3 (SIGSTOP): it stops answering; resume: it answers again.
    let result = page.admin(3, AdminAction::Pause { node: NodeId(3) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    assert!(!resp_ping(cluster.resp_base + 3), "a paused node answered");
    let result = page.admin(4, AdminAction::Resume { node: NodeId(3) });
    assert!(matches!(result, AdminResult::Ok { .. }), "{result:?}");
    wait_until_answering(cluster.resp_base + 3, RETRY, "node 3 did not resume");
    // Unknown nodes are refused by the supervisor.
    let result = page.admin(5, AdminAction::Pause { node: NodeId(9) });
    assert!(
        matches!(&result, AdminResult::Refused { message } if message.contains("not one of")),
        "{result:?}"
    );
}

/// The clock of a test's browser peer: ms since it started.
fn peer_clock(start: Instant) -> Millis {
    start.elapsed().as_millis() as Millis
}

/// Runs a browser peer on `page` for up to `within`, until `done` says so.
fn drive_peer(
    page: &mut Page,
    peer: &mut HostedPeer,
    start: Instant,
    within: Duration,
    mut done: impl FnMut(&HostedPeer) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        tick_and_send(page, peer, start);
        if done(peer) {
            return true;
        }
        let wait = peer
            .next_deadline()
            .saturating_sub(peer_clock(start))
            .clamp(1, 20);
        receive_one(page, peer, start, Duration::from_millis(wait));
    }
    false
}

/// Ticks the browser peer if its deadline passed and sends what it has to say.
fn tick_and_send(page: &mut Page, peer: &mut HostedPeer, start: Instant) {
    let now = peer_clock(start);
    if now >= peer.next_deadline() {
        peer.tick(now).expect("tick");
    }
    for envelope in peer.take_outbox() {
        page.send(&PageMessage::Raft(envelope));
    }
}

/// Waits up to `wait` for one message: a Raft envelope goes to the browser peer, anything
/// else is returned.
fn receive_one(
    page: &mut Page,
    peer: &mut HostedPeer,
    start: Instant,
    wait: Duration,
) -> Option<NodeMessage> {
    match page.recv(wait)? {
        NodeMessage::Raft(envelope) => {
            peer.receive(envelope, peer_clock(start)).expect("receive");
            None
        }
        other => Some(other),
    }
}

/// Sends an admin action and keeps the browser peer running until it is answered.
fn admin_while_driving(
    page: &mut Page,
    peer: &mut HostedPeer,
    start: Instant,
    id: u64,
    action: AdminAction,
) -> AdminResult {
    page.send(&PageMessage::Admin { id, action });
    let deadline = Instant::now() + RETRY;
    while Instant::now() < deadline {
        tick_and_send(page, peer, start);
        if let Some(NodeMessage::AdminReply { id: got, result }) =
            receive_one(page, peer, start, Duration::from_millis(10))
        {
            if got == id {
                return result;
            }
        }
    }
    panic!("no answer to admin request {id}");
}

/// Opens a page on `relay` with the token and has a browser peer join through it.
fn join_browser_peer(cluster: &Cluster, relay: u64) -> (Page, HostedPeer, Instant) {
    let mut page = Page::connect(cluster.node(relay).http, "?token=test-token");
    let timing = timing_of(&welcome(&mut page));
    page.send(&PageMessage::PeerJoin { id: 1 });
    let joined = page.wait_for(RETRY, "peer_joined", |m| {
        matches!(
            m,
            NodeMessage::PeerJoined { .. } | NodeMessage::Error { .. }
        )
    });
    let NodeMessage::PeerJoined { id: 1, peer: id } = joined else {
        panic!("{joined:?}")
    };
    let peer = HostedPeer::new(id, 7, timing, 0).expect("peer");
    (page, peer, Instant::now())
}

/// Promotes the browser peer to a voter (retrying while it catches up), keeping it running
/// until the leader lists it among the voters and the peer has committed its promotion.
fn promote_browser_peer(
    cluster: &Cluster,
    leader: u64,
    page: &mut Page,
    peer: &mut HostedPeer,
    start: Instant,
) {
    let id = peer.id();
    let deadline = Instant::now() + RETRY;
    let mut request = 2;
    let promoted = loop {
        let result = admin_while_driving(page, peer, start, request, AdminAction::Promote { id });
        match &result {
            AdminResult::Refused { message }
                if Instant::now() < deadline
                    && (message.contains("has not caught up")
                        || message.contains("not yet committed")
                        || message.starts_with("NOLEADER")) =>
            {
                request += 1;
            }
            _ => break result,
        }
    };
    assert!(matches!(promoted, AdminResult::Ok { .. }), "{promoted:?}");
    let voter = id.0.to_string();
    let deadline = Instant::now() + RETRY;
    drive_peer(page, peer, start, RETRY, |_| {
        info_field(cluster, leader, "voters").contains(&voter) || Instant::now() > deadline
    });
    assert!(info_field(cluster, leader, "voters").contains(&voter));
    // The promotion is appended; it is committed once a majority of the new configuration
    // (the browser peer included) has it.
    let appended: u64 = info_field(cluster, leader, "last_index")
        .parse()
        .expect("last_index");
    assert!(
        drive_peer(page, peer, start, RETRY, |p| {
            p.replica().node().commit_index().0 >= appended
        }),
        "the promotion at {appended} was not committed"
    );
}

/// A promoted browser peer whose relay crashes would leave two of four voters dead and no
/// leader; the leader removes it as soon as its connection to the relay breaks, and writes
/// go on with the two native survivors.
#[test]
fn the_leader_removes_a_browser_voter_whose_relay_crashed() {
    let mut cluster = Cluster::start("live-relay-lost", 3, &[]);
    let leader = cluster.wait_for_stable_leader(STARTUP);
    cluster.call_retrying(leader, &["SET", "before", "join"], RETRY);
    let relay = (1..=3).find(|&id| id != leader).expect("a follower");
    let (mut page, mut peer, start) = join_browser_peer(&cluster, relay);
    let target: u64 = info_field(&cluster, leader, "commit_index")
        .parse()
        .expect("commit");
    assert!(drive_peer(&mut page, &mut peer, start, RETRY, |p| {
        p.replica().node().commit_index().0 >= target
    }));
    promote_browser_peer(&cluster, leader, &mut page, &mut peer, start);
    let id = peer.id().0.to_string();
    let killed = Instant::now();
    cluster.node_mut(relay).kill();
    loop {
        let voters = info_field(&cluster, leader, "voters");
        if !voters.is_empty() && !voters.contains(&id) {
            break;
        }
        assert!(
            killed.elapsed() < RETRY,
            "the browser peer is still a voter: {voters}\n{}",
            cluster.dump_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "browser voter removed {:?} after its relay was killed",
        killed.elapsed()
    );
    let survivor = (1..=3).find(|&n| n != relay).expect("a survivor");
    assert_eq!(
        cluster.call_retrying(survivor, &["SET", "after", "relay lost"], RETRY),
        Resp::Simple("OK".into())
    );
}

#[test]
fn a_browser_peer_joins_catches_up_by_snapshot_is_promoted_and_leaves_without_harm() {
    let cluster = Cluster::start("live-peer", 3, &["--snapshot-entries=20"]);
    let leader = cluster.wait_for_leader(STARTUP);
    for i in 0..100 {
        let key = format!("k{i}");
        cluster.call_retrying(leader, &["SET", &key, "value"], RETRY);
    }
    let relay = (1..=3).find(|&id| id != leader).expect("a follower");
    let (mut page, mut peer, start) = join_browser_peer(&cluster, relay);
    let id = peer.id();
    assert_eq!(id, NodeId(4));
    let mut installed = false;
    let target: u64 = info_field(&cluster, leader, "commit_index")
        .parse()
        .expect("commit");
    let began = Instant::now();
    let caught_up = drive_peer(
        &mut page,
        &mut peer,
        start,
        Duration::from_secs(20),
        |peer| {
            installed |= peer.replica().node().log().snapshot_index().0 > 0;
            peer.replica().node().commit_index().0 >= target
                && peer.replica().kv().applied().0 >= target
        },
    );
    assert!(caught_up, "the browser peer did not reach commit {target}");
    eprintln!(
        "browser peer caught up to commit {target} in {:?}",
        began.elapsed()
    );
    assert!(
        installed,
        "the log was compacted, so it should have installed a snapshot"
    );
    assert_eq!(peer.replica().kv().len(), 100);
    // Every node lists it, relayed by the relay.
    let mut other = Page::connect(cluster.node(leader).http, "");
    let NodeMessage::Welcome { members, .. } = welcome(&mut other) else {
        unreachable!()
    };
    let member = members.iter().find(|m| m.id == id).expect("listed");
    assert_eq!(member.relayed_by, Some(NodeId(relay)));
    assert!(!member.voter);
    // New writes reach it through the relay.
    cluster.call_retrying(leader, &["SET", "after", "join"], RETRY);
    assert!(drive_peer(&mut page, &mut peer, start, RETRY, |p| {
        p.replica().kv().get(b"after").is_some()
    }));
    // Promote it (an ordinary admin action); keep it running meanwhile.
    promote_browser_peer(&cluster, leader, &mut page, &mut peer, start);
    // A browser peer never leads: a transfer to it is refused.
    let refused = admin_while_driving(
        &mut page,
        &mut peer,
        start,
        50,
        AdminAction::Transfer { to: id },
    );
    assert!(
        matches!(&refused, AdminResult::Refused { message } if message.contains("never leads")),
        "{refused:?}"
    );
    cluster.call_retrying(leader, &["SET", "with", "browser voter"], RETRY);
    // Closing the socket removes it; the cluster keeps serving.
    drop(page);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let leader = cluster.wait_for_leader(STARTUP);
        let voters = info_field(&cluster, leader, "voters");
        let learners = info_field(&cluster, leader, "learners");
        if !voters.contains('4') && !learners.contains('4') {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still a member: {voters} / {learners}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let leader = cluster.wait_for_leader(STARTUP);
    assert_eq!(
        cluster.call_retrying(leader, &["SET", "after", "leave"], RETRY),
        Resp::Simple("OK".into())
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

#[test]
fn a_page_that_never_reads_is_dropped_and_memory_stays_bounded() {
    // Three nodes, so that Raft messages flow and summaries add to what the page is sent.
    let cluster = Cluster::start("live-slow", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let pid = cluster.node(1).pid().expect("pid");
    let before = rss_kib(pid);
    // A page that subscribes to everything and then never reads.
    let mut slow = Page::connect(cluster.node(1).http, "");
    slow.send(&PageMessage::Subscribe { messages: true });
    // Load: writes keep events, statuses and summaries coming.
    let port = cluster.node(leader).resp;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = common::Client::connect(port).expect("client");
            let mut i = 0u64;
            let value = "v".repeat(512);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = client.call(&["SET", &format!("k{}", i % 1000), &value]);
                i += 1;
            }
            i
        })
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let mut peak = before;
    let dropped_after = loop {
        peak = peak.max(rss_kib(pid));
        if cluster
            .node(1)
            .log_text()
            .contains("dropping a page that does not read")
        {
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "the slow page was never dropped");
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    eprintln!(
        "slow page dropped after {dropped_after:?} ({writes} writes meanwhile); node RSS {before} KiB before, peak {peak} KiB"
    );
    assert!(
        peak < before + 64 * 1024,
        "memory grew from {before} KiB to {peak} KiB"
    );
    // Other pages are still served.
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
}

/// Under a write load a subscribed page gets events and statuses but never more message
/// summaries than the cap, and a browser peer applies every acknowledged write. Prints the
/// rates and the relay latency quoted in docs/protocol.md (see them with `--nocapture`).
#[test]
fn a_page_under_load_stays_within_the_summary_cap_and_a_browser_peer_follows_every_write() {
    let cluster = Cluster::start("live-measure", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let mut page = Page::connect(cluster.node(leader).http, "?token=test-token");
    welcome(&mut page);
    page.send(&PageMessage::Subscribe { messages: true });
    let port = cluster.node(leader).resp;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut client = common::Client::connect(port).expect("client");
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = client.call(&["SET", &format!("w{w}-{}", n % 100), "value"]);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let (mut frames, mut bytes, mut events, mut summaries, mut omitted, mut statuses) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let window = Duration::from_secs(3);
    let started = Instant::now();
    while started.elapsed() < window {
        page.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        if let Ok(Message::Text(text)) = page.ws.read() {
            frames += 1;
            bytes += text.len() as u64;
            match serde_json::from_str::<NodeMessage>(text.as_str()).expect("decode") {
                NodeMessage::Event(_) => events += 1,
                NodeMessage::Status(_) => statuses += 1,
                NodeMessage::Messages {
                    summaries: batch,
                    omitted: o,
                } => {
                    summaries += batch.len() as u64;
                    omitted += u64::from(o);
                }
                _ => {}
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    let secs = window.as_secs_f64();
    eprintln!(
        "page on the leader under {:.0} writes/s: {:.0} frames/s, {:.0} KiB/s, {:.0} events/s, {:.1} statuses/s, {:.0} summaries/s ({:.0}/s omitted)",
        writes as f64 / secs,
        frames as f64 / secs,
        bytes as f64 / secs / 1024.0,
        events as f64 / secs,
        statuses as f64 / secs,
        summaries as f64 / secs,
        omitted as f64 / secs
    );
    let cap = f64::from(flotilla_core::live::protocol::MESSAGE_SUMMARIES_PER_SEC_MAX);
    // The node's token bucket allows `cap` per second plus a burst of one batch (cap / 10);
    // and the window counts whole batches as they arrive, so the first one can hold up to
    // 100 ms of summaries taken before the window opened: two batches of slack.
    assert!(
        summaries as f64 <= cap * secs + 2.0 * cap / 10.0 + 1.0,
        "{summaries} summaries in {secs} s exceed the cap of {cap}/s"
    );
    assert!(
        writes > 0 && events > 0,
        "no load or no events: {writes} writes, {events} events"
    );
    assert!(
        statuses as f64 >= secs,
        "only {statuses} statuses in {secs} s"
    );
    drop(page);
    // Relay latency: a write acknowledged by the leader, until a browser peer applied it.
    let relay = (1..=3).find(|&id| id != leader).expect("a follower");
    let mut page = Page::connect(cluster.node(relay).http, "?token=test-token");
    let timing = timing_of(&welcome(&mut page));
    page.send(&PageMessage::PeerJoin { id: 1 });
    let NodeMessage::PeerJoined { peer: id, .. } = page.wait_for(RETRY, "peer_joined", |m| {
        matches!(m, NodeMessage::PeerJoined { .. })
    }) else {
        unreachable!()
    };
    let start = Instant::now();
    let mut peer = HostedPeer::new(id, 7, timing, 0).expect("peer");
    let target: u64 = info_field(&cluster, leader, "commit_index")
        .parse()
        .expect("commit");
    let began = Instant::now();
    assert!(drive_peer(&mut page, &mut peer, start, RETRY, |p| {
        p.replica().kv().applied().0 >= target
    }));
    eprintln!(
        "browser peer caught up {target} entries (snapshot and log) in {:?}",
        began.elapsed()
    );
    let mut samples = Vec::new();
    let mut client = cluster.node(leader).client().expect("client");
    for i in 0..50 {
        let key = format!("probe{i}");
        let sent = Instant::now();
        client.call(&["SET", &key, "x"]).expect("set");
        let acked = sent.elapsed();
        assert!(drive_peer(&mut page, &mut peer, start, RETRY, |p| {
            p.replica().kv().get(key.as_bytes()).is_some()
        }));
        samples.push((acked, sent.elapsed()));
    }
    samples.sort_by_key(|s| s.1);
    let (acked, applied) = samples[samples.len() / 2];
    let p90 = samples[samples.len() * 9 / 10].1;
    eprintln!(
        "write acknowledged in {acked:?}, applied by the browser peer in {applied:?} (median), p90 {p90:?}"
    );
}

#[test]
fn a_browser_peer_relayed_by_the_leader_catches_up_and_leaves_on_request() {
    // Not the defaults: the page's peer must take the cluster's own timers.
    let cluster = Cluster::start(
        "live-peer-leader",
        3,
        &[
            "--election-timeout-min-ms=400",
            "--election-timeout-max-ms=800",
            "--heartbeat-ms=60",
        ],
    );
    let leader = cluster.wait_for_leader(STARTUP);
    for i in 0..20 {
        let key = format!("k{i}");
        cluster.call_retrying(leader, &["SET", &key, "value"], RETRY);
    }
    let mut page = Page::connect(cluster.node(leader).http, "");
    let timing = timing_of(&welcome(&mut page));
    assert_eq!(
        timing,
        PeerTiming {
            election_timeout_min_ms: 400,
            election_timeout_max_ms: 800,
            heartbeat_interval_ms: 60,
        }
    );
    page.send(&PageMessage::Auth {
        token: "test-token".into(),
    });
    page.wait_for(RETRY, "welcome", |m| {
        matches!(m, NodeMessage::Welcome { authed: true, .. })
    });
    page.send(&PageMessage::PeerJoin { id: 1 });
    let joined = page.wait_for(RETRY, "peer_joined", |m| {
        matches!(
            m,
            NodeMessage::PeerJoined { .. } | NodeMessage::Error { .. }
        )
    });
    let NodeMessage::PeerJoined { peer: id, .. } = joined else {
        panic!("{joined:?}")
    };
    let start = Instant::now();
    let mut peer = HostedPeer::new(id, 11, timing, 0).expect("peer");
    let target: u64 = info_field(&cluster, leader, "commit_index")
        .parse()
        .expect("commit");
    assert!(drive_peer(&mut page, &mut peer, start, RETRY, |p| {
        p.replica().kv().applied().0 >= target
    }));
    assert_eq!(peer.replica().kv().len(), 20);
    assert!(info_field(&cluster, leader, "learners").contains(&id.0.to_string()));
    // A second join on the same page is refused.
    page.send(&PageMessage::PeerJoin { id: 2 });
    // Leave on request: the page is told once the removal is in the log.
    page.send(&PageMessage::PeerLeave { id: 3 });
    let mut saw_refusal = false;
    let mut left = None;
    let deadline = Instant::now() + RETRY;
    while left.is_none() && Instant::now() < deadline {
        match page.recv(Duration::from_millis(50)) {
            Some(NodeMessage::Error { id: Some(2), .. }) => saw_refusal = true,
            Some(NodeMessage::PeerLeft { peer, reason }) => left = Some((peer, reason)),
            _ => {}
        }
    }
    assert!(saw_refusal, "a second peer_join should be refused");
    let (peer_left, reason) = left.expect("peer_left");
    assert_eq!(peer_left, id);
    assert!(reason.contains("left"), "{reason}");
    assert!(!info_field(&cluster, leader, "learners").contains(&id.0.to_string()));
    assert_eq!(
        cluster.call_retrying(leader, &["SET", "after", "leave"], RETRY),
        Resp::Simple("OK".into())
    );
}

#[test]
fn a_partition_set_over_resp_shows_in_the_page_as_a_cut() {
    let cluster = Cluster::start("live-resp-cut", 3, &[]);
    cluster.wait_for_leader(STARTUP);
    let mut page = Page::connect(cluster.node(1).http, "");
    welcome(&mut page);
    let mut client = cluster.node(1).client().expect("client");
    assert_eq!(
        client.call(&["AUTH", "test-token"]).expect("auth").text(),
        "OK"
    );
    assert_eq!(
        client
            .call(&["RAFT.PARTITION", "2"])
            .expect("partition")
            .text(),
        "OK"
    );
    page.wait_for(RETRY, "a cut event for peer 2", |m| {
        matches!(m, NodeMessage::Event(event)
            if event.what == LiveEventKind::Cut { peers: vec![NodeId(2)] })
    });
    assert_eq!(client.call(&["RAFT.HEAL"]).expect("heal").text(), "OK");
    page.wait_for(RETRY, "a cut event that heals", |m| {
        matches!(m, NodeMessage::Event(event)
            if event.what == LiveEventKind::Cut { peers: vec![] })
    });
}
