//! The node's limits, on a real process: oversized bulk strings and frames, admin commands
//! without AUTH, the connection limit, idle clients, deep pipelines, and a client that never
//! reads its replies. Every test ends by checking that the node still answers.

mod common;

use common::{Client, Cluster, Resp};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn ping(port: u16) -> Resp {
    Client::connect(port)
        .and_then(|mut c| c.call(&["PING"]))
        .expect("PING")
}

/// Reads until the node closes the connection (or `within` passes).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 64 * 1024];
    while Instant::now() < deadline {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn oversized_lengths_are_refused_and_the_node_keeps_answering() {
    let cluster = Cluster::start("limits-sizes", 1, &[]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let port = cluster.node(1).resp;
    for wire in [
        &b"*1\r\n$4294967296\r\n"[..],
        b"*1\r\n$9000000\r\n",
        b"*99999999999\r\n",
    ] {
        let mut client = Client::connect(port).expect("connect");
        client.send_raw(wire).expect("send");
        match client.read().expect("an error reply") {
            Resp::Error(text) => assert!(text.starts_with("ERR Protocol error"), "{text}"),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(
            client.read().is_err(),
            "the connection is closed after a protocol error"
        );
        assert_eq!(ping(port), Resp::Simple("PONG".into()));
    }
    // A 4 GB frame length on the peer port: the connection is dropped, the node lives on.
    let mut peer = TcpStream::connect(("127.0.0.1", cluster.node(1).peer)).expect("peer port");
    peer.write_all(&u32::MAX.to_be_bytes()).expect("send");
    assert!(closed_within(&mut peer, Duration::from_secs(5)));
    assert_eq!(ping(port), Resp::Simple("PONG".into()));
}

#[test]
fn admin_commands_are_refused_without_auth() {
    let cluster = Cluster::start("limits-auth", 1, &[]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let mut client = cluster.node(1).client().expect("connect");
    for command in [
        &["RAFT.REMOVE", "2"][..],
        &["RAFT.ADDLEARNER", "2", "127.0.0.1:1"],
        &["RAFT.TRANSFER", "2"],
        &["RAFT.PARTITION", "2"],
        &["RAFT.SNAPSHOT"],
        &["RAFT.STATUS"],
    ] {
        match client.call(command).expect("reply") {
            Resp::Error(text) => assert!(text.starts_with("NOAUTH"), "{command:?}: {text}"),
            other => panic!("{command:?} without AUTH: {other:?}"),
        }
    }
    match client.call(&["AUTH", "wrong"]).expect("reply") {
        Resp::Error(text) => assert!(text.starts_with("WRONGPASS"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(client.call(&["RAFT.REMOVE", "2"]), Ok(Resp::Error(t)) if t.starts_with("NOAUTH"))
    );
    assert_eq!(
        client.call(&["AUTH", "test-token"]).expect("reply"),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        client.call(&["RAFT.HEAL"]).expect("reply"),
        Resp::Simple("OK".into())
    );
    assert!(matches!(
        client.call(&["RAFT.STATUS"]),
        Ok(Resp::Bulk(Some(_)))
    ));
}

#[test]
fn connections_past_the_limit_are_refused() {
    let cluster = Cluster::start("limits-conns", 1, &["--clients-max=3"]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let port = cluster.node(1).resp;
    // The connections wait_for_leader opened may not be closed on the node's side yet:
    // retry until 3 connections are all served.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut held: Vec<Client> = loop {
        let mut held: Vec<Client> = (0..3)
            .map(|_| Client::connect(port).expect("connect"))
            .collect();
        let served = held
            .iter_mut()
            .all(|c| matches!(c.call(&["PING"]), Ok(Resp::Simple(p)) if p == "PONG"));
        if served {
            break held;
        }
        assert!(Instant::now() < deadline, "3 clients are never served");
        drop(held);
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut extra = Client::connect(port).expect("the kernel accepts");
    match extra.read() {
        Ok(Resp::Error(text)) => assert_eq!(text, "ERR max number of clients reached"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(extra.read().is_err());
    drop(held.pop());
    // The node notices the closed connection on its next turn.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = Client::connect(port).and_then(|mut c| c.call(&["PING"]));
        if matches!(&reply, Ok(Resp::Simple(p)) if p == "PONG") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a client left: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_clients_are_disconnected() {
    let cluster = Cluster::start("limits-idle", 1, &["--client-idle-timeout-ms=400"]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let port = cluster.node(1).resp;
    let mut idle = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut busy = Client::connect(port).expect("connect");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        assert_eq!(
            busy.call(&["PING"]).expect("busy client"),
            Resp::Simple("PONG".into())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        closed_within(&mut idle, Duration::from_secs(3)),
        "the idle client was kept"
    );
    assert_eq!(
        busy.call(&["PING"]).expect("busy client kept"),
        Resp::Simple("PONG".into())
    );
}

#[test]
fn a_deep_pipeline_is_answered_in_order() {
    let cluster = Cluster::start("limits-pipeline", 1, &[]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let port = cluster.node(1).resp;
    let commands = 5_000;
    let mut wire = Vec::new();
    for i in 0..commands {
        let value = i.to_string();
        wire.extend(
            format!(
                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n",
                value.len()
            )
            .bytes(),
        );
    }
    let mut writer = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut reader = Client::from_stream(writer.try_clone().expect("clone"));
    // Sent from another thread: the node stops reading at its pipeline limit until this
    // side reads replies, and a single-threaded client would deadlock with it.
    let sender = std::thread::spawn(move || writer.write_all(&wire));
    for i in 0..commands {
        assert_eq!(
            reader.read().expect("reply"),
            Resp::Simple("OK".into()),
            "reply {i}"
        );
    }
    sender.join().expect("sender").expect("sent");
    let mut client = Client::connect(port).expect("connect");
    assert_eq!(
        client.call(&["GET", "k"]).expect("GET"),
        Resp::Bulk(Some((commands - 1).to_string().into_bytes()))
    );
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_node_without_bound() {
    let cluster = Cluster::start("limits-reader", 1, &[]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let node = cluster.node(1);
    let pid = node.pid().expect("running");
    let value = "v".repeat(1024 * 1024);
    let mut client = node.client().expect("connect");
    assert_eq!(
        client.call(&["SET", "big", &value]).expect("SET"),
        Resp::Simple("OK".into())
    );
    let before = peak_rss_kib(pid);
    // 2,000 GETs of a 1 MiB value is 2 GB of replies; this client reads none of them.
    let mut hoarder = TcpStream::connect(("127.0.0.1", node.resp)).expect("connect");
    hoarder
        .set_write_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(2_000);
    let _ = hoarder.write_all(&get);
    std::thread::sleep(Duration::from_secs(2));
    let after = peak_rss_kib(pid);
    // The node holds at most ~16 MiB of replies for it (plus the kernel's socket buffers).
    assert!(
        after < before + 128 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    eprintln!("RSS {before} -> {after} KiB");
    assert_eq!(ping(node.resp), Resp::Simple("PONG".into()));
    // Once it reads, it gets its replies, in order.
    let mut reader = Client::from_stream(hoarder);
    for _ in 0..20 {
        assert_eq!(
            reader.read().expect("reply"),
            Resp::Bulk(Some(value.clone().into_bytes()))
        );
    }
}

/// The status line of a WebSocket upgrade request to the node's gateway.
fn upgrade_status(http: u16, path: &str, origin: Option<&str>) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", http)).expect("gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{http}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).trim().to_string()
}

#[test]
fn the_websocket_checks_origin_and_token() {
    let cluster = Cluster::start("limits-ws", 1, &[]);
    cluster.wait_for_leader(Duration::from_secs(10));
    let http = cluster.node(1).http;
    let status = |path, origin| upgrade_status(http, path, origin);
    assert!(status("/ws", None).contains(" 101 "));
    assert!(status("/ws", Some("http://localhost:8000")).contains(" 101 "));
    assert!(status("/ws", Some("https://evil.example")).contains(" 403 "));
    assert!(status("/ws?token=wrong", None).contains(" 401 "));
    assert!(status("/ws?token=test-token", Some("http://127.0.0.1:1")).contains(" 101 "));
}
