//! Real `flotilla node` processes on 127.0.0.1: replication, forwarding, failover with
//! kill -9, catch-up through InstallSnapshot, redis-benchmark, inline commands, recovery.

mod common;

use common::{Client, Cluster, Resp};
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(10);
const RETRY: Duration = Duration::from_secs(10);

fn bulk(text: &str) -> Resp {
    Resp::Bulk(Some(text.as_bytes().to_vec()))
}

fn ok() -> Resp {
    Resp::Simple("OK".into())
}

/// The followers of a cluster whose leader is `leader`.
fn followers(cluster: &Cluster, leader: u64) -> Vec<u64> {
    cluster
        .nodes
        .iter()
        .map(|n| n.id)
        .filter(|&id| id != leader)
        .collect()
}

#[test]
fn writes_through_a_follower_are_read_through_another() {
    let cluster = Cluster::start("follower-rw", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let f = followers(&cluster, leader);
    assert_eq!(
        cluster.call_retrying(f[0], &["SET", "greeting", "hello"], RETRY),
        ok()
    );
    assert_eq!(
        cluster.call_retrying(f[1], &["GET", "greeting"], RETRY),
        bulk("hello")
    );
    assert_eq!(
        cluster.call_retrying(leader, &["GET", "greeting"], RETRY),
        bulk("hello")
    );

    // The rest of the command set, through a follower, pipelined: answers come in order.
    let mut client = cluster.node(f[1]).client().expect("connect");
    let commands: &[&[&str]] = &[
        &["MSET", "a", "1", "b", "2"],
        &["PING"],
        &["INCR", "a"],
        &["MGET", "a", "b", "nope"],
        &["EXISTS", "a", "b", "nope"],
        &["DEL", "b", "nope"],
        &["ECHO", "x"],
        &["GET", "b"],
        &["INCR", "greeting"],
        &["NOSUCH"],
        &["DBSIZE"],
    ];
    for command in commands {
        client.send(command).expect("send");
    }
    let replies: Vec<Resp> = commands
        .iter()
        .map(|_| client.read().expect("reply"))
        .collect();
    assert_eq!(replies[0], ok());
    assert_eq!(replies[1], Resp::Simple("PONG".into()));
    assert_eq!(replies[2], Resp::Integer(2));
    assert_eq!(
        replies[3],
        Resp::Array(Some(vec![bulk("2"), bulk("2"), Resp::Bulk(None)]))
    );
    assert_eq!(replies[4], Resp::Integer(2));
    assert_eq!(replies[5], Resp::Integer(1));
    assert_eq!(replies[6], bulk("x"));
    assert_eq!(replies[7], Resp::Bulk(None));
    assert!(matches!(&replies[8], Resp::Error(e) if e.starts_with("ERR value is not an integer")));
    assert!(matches!(&replies[9], Resp::Error(e) if e.starts_with("ERR unknown command")));
    // DBSIZE is local: the follower may lag by a moment, but holds at least what it read.
    assert!(matches!(replies[10], Resp::Integer(n) if n >= 1));

    // Admin commands need AUTH.
    let reply = client.call(&["RAFT.STATUS"]).expect("reply");
    assert!(
        matches!(&reply, Resp::Error(e) if e.starts_with("NOAUTH")),
        "{reply:?}"
    );
    assert!(matches!(
        client.call(&["AUTH", "wrong"]).expect("reply"),
        Resp::Error(_)
    ));
    assert_eq!(client.call(&["AUTH", "test-token"]).expect("reply"), ok());
    let status = client.call(&["RAFT.STATUS"]).expect("reply").text();
    assert!(status.contains(&format!("\"leader\":{leader}")), "{status}");

    // /status and /metrics on the HTTP port.
    let node = cluster.node(leader);
    let status = http_get(node.http, "/status");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    for field in [
        "\"role\":\"leader\"",
        "\"term\":",
        "\"commit\":",
        "\"applied\":",
        "\"last_index\":",
        "\"snapshot_index\":",
        "\"match\":",
    ] {
        assert!(status.contains(field), "{field} missing from {status}");
    }
    let metrics = http_get(node.http, "/metrics");
    assert!(metrics.contains("flotilla_commits_total"), "{metrics}");
    assert!(
        metrics.contains("flotilla_fsync_seconds_bucket"),
        "{metrics}"
    );
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn killing_the_leader_loses_no_acknowledged_write_and_it_catches_up_by_snapshot() {
    // Small snapshots, so that the restarted node is behind the leader's compacted log.
    let mut cluster = Cluster::start("failover", 3, &["--snapshot-entries=50"]);
    let leader = cluster.wait_for_leader(STARTUP);
    let mut acked = Vec::new();
    for i in 0..150 {
        let via = 1 + i % 3;
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        if cluster.call_retrying(via, &["SET", &key, &value], RETRY) == ok() {
            acked.push((key, value));
        }
    }
    assert_eq!(acked.len(), 150);

    cluster.node_mut(leader).kill();
    let killed_at = Instant::now();
    let survivor = followers(&cluster, leader)[0];
    let reply = cluster.call_retrying(survivor, &["SET", "after", "failover"], RETRY);
    let failover = killed_at.elapsed();
    assert_eq!(reply, ok(), "{}", cluster.dump_logs());
    assert!(
        failover < Duration::from_secs(2),
        "writes resumed after {failover:?}"
    );
    eprintln!("writes resumed {failover:?} after kill -9 of the leader");

    // Every acknowledged write is still there, read through both survivors.
    for id in followers(&cluster, leader) {
        let mut client = cluster.node(id).client().expect("connect");
        for (key, value) in &acked {
            let reply = client.call(&["GET", key]).expect("reply");
            assert_eq!(reply, bulk(value), "{key} via node {id}");
        }
    }
    // More writes, so that the log moves past several snapshots while the node is down.
    for i in 0..200 {
        let (key, value) = (format!("late{i}"), format!("w{i}"));
        assert_eq!(
            cluster.call_retrying(survivor, &["SET", &key, &value], RETRY),
            ok()
        );
    }

    cluster.node_mut(leader).start();
    let deadline = Instant::now() + Duration::from_secs(15);
    let new_leader = cluster.wait_for_leader(STARTUP);
    loop {
        let target = cluster
            .node(new_leader)
            .raft_info()
            .and_then(|i| i.get("commit_index").cloned());
        let applied = cluster
            .node(leader)
            .raft_info()
            .and_then(|i| i.get("applied_index").cloned());
        if target.is_some() && target == applied {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no catch-up: {:?} vs {:?}\n{}",
            target,
            applied,
            cluster.dump_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = cluster.node(leader).log_text();
    assert!(
        log.contains("installed a snapshot from the leader"),
        "{log}"
    );
    // The restarted node serves the data (reads go through the leader, but DBSIZE is local).
    let mut client = cluster.node(leader).client().expect("connect");
    assert_eq!(client.call(&["DBSIZE"]).expect("reply"), Resp::Integer(351));
    assert_eq!(
        client.call(&["GET", "late199"]).expect("reply"),
        bulk("w199")
    );
}

#[test]
fn redis_benchmark_runs_clean() {
    let benchmark = "/usr/bin/redis-benchmark";
    if !std::path::Path::new(benchmark).exists() {
        eprintln!("NOTICE: {benchmark} is absent; skipping the redis-benchmark test");
        return;
    }
    let cluster = Cluster::start("benchmark", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    let follower = followers(&cluster, leader)[0];
    // Wait until the follower knows the leader, so the benchmark's first SETs are forwarded.
    cluster.call_retrying(follower, &["SET", "warm", "up"], RETRY);
    for (id, pipeline) in [(leader, "1"), (follower, "1"), (leader, "16")] {
        let output = std::process::Command::new(benchmark)
            .args([
                "-p",
                &cluster.node(id).resp.to_string(),
                "-t",
                "set,get",
                "-n",
                "2000",
                "-c",
                "10",
            ])
            .args(["-P", pipeline, "-q"])
            .output()
            .expect("run redis-benchmark");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(
            !stdout.contains("ERR") && !stderr.contains("ERR"),
            "{stdout}\n{stderr}"
        );
        let summary: Vec<&str> = stdout
            .split('\r')
            .filter(|l| l.contains("requests per second"))
            .collect();
        assert_eq!(summary.len(), 2, "{stdout}");
        eprintln!(
            "node {id} -P {pipeline}: {}",
            summary.join(" | ").replace('\n', " ")
        );
    }
}

#[test]
fn inline_commands_work_over_raw_tcp() {
    let cluster = Cluster::start("inline", 1, &[]);
    cluster.wait_for_leader(STARTUP);
    let mut client = cluster.node(1).client().expect("connect");
    client.send_raw(b"SET a b\r\nGET a\r\nPING\r\nSET q \"two words\"\nGET q\r\n\r\nNOPE\r\nECHO still-here\r\n").expect("send");
    let expected = [
        ok(),
        bulk("b"),
        Resp::Simple("PONG".into()),
        ok(),
        bulk("two words"),
        Resp::Error("ERR unknown command 'NOPE'".into()),
        bulk("still-here"),
    ];
    for want in expected {
        assert_eq!(client.read().expect("reply"), want);
    }
    // Unbalanced quotes are a protocol error: answered, then the connection is closed.
    client.send_raw(b"SET \"x\r\n").expect("send");
    assert!(
        matches!(client.read().expect("reply"), Resp::Error(e) if e.starts_with("ERR Protocol error"))
    );
    assert!(
        client.read().is_err(),
        "connection closed after a protocol error"
    );
    // A fresh connection works, and garbage multibulk is refused the same way.
    let mut client = Client::connect(cluster.node(1).resp).expect("connect");
    client.send_raw(b"*1\r\n+PING\r\n").expect("send");
    assert!(matches!(client.read().expect("reply"), Resp::Error(e) if e.contains("expected '$'")));
}

#[test]
fn a_single_node_restarts_with_its_data_and_refuses_a_corrupt_log() {
    let mut cluster = Cluster::start("recovery", 1, &[]);
    cluster.wait_for_leader(STARTUP);
    for i in 0..20 {
        let key = format!("key{i}");
        assert_eq!(cluster.call_retrying(1, &["SET", &key, "v"], RETRY), ok());
    }
    cluster.node_mut(1).kill();
    cluster.node_mut(1).start();
    cluster.wait_for_leader(STARTUP);
    assert_eq!(
        cluster.call_retrying(1, &["GET", "key19"], RETRY),
        bulk("v")
    );
    assert_eq!(
        cluster.call_retrying(1, &["DBSIZE"], RETRY),
        Resp::Integer(20)
    );
    cluster.node_mut(1).kill();

    // Flip a byte early in the WAL: the node must refuse to start and say where.
    let data = cluster.node(1).data.clone();
    let segment = std::fs::read_dir(&data)
        .expect("data folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wal-"))
        })
        .expect("a WAL segment");
    let mut bytes = std::fs::read(&segment).expect("read segment");
    // Past the 512-byte segment header and the first batch's 16-byte header: its body.
    bytes[512 + 20] ^= 0xff;
    std::fs::write(&segment, bytes).expect("corrupt segment");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(&cluster.node(1).args)
        .output()
        .expect("run node");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("corrupt"), "{stderr}");
    assert!(stderr.contains(&segment.display().to_string()), "{stderr}");
    // The offset named is the start of the damaged batch, in that file.
    assert!(
        stderr.contains(".log at byte 512: batch checksum mismatch"),
        "{stderr}"
    );
}

#[test]
fn client_subcommands_talk_resp() {
    let cluster = Cluster::start("cli", 1, &[]);
    cluster.wait_for_leader(STARTUP);
    let addr = format!("127.0.0.1:{}", cluster.node(1).resp);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(args)
            .args(["--addr", &addr])
            .output()
            .expect("run flotilla");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(run(&["put", "k", "v v"]), (true, "OK\n".into()));
    assert_eq!(run(&["get", "k"]), (true, "v v\n".into()));
    assert_eq!(run(&["del", "k"]), (true, "1\n".into()));
    assert_eq!(run(&["get", "k"]), (true, "(nil)\n".into()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["status", "--addrs", &addr, "--token", "test-token"])
        .output()
        .expect("run flotilla status");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.contains("leader"), "{table}");
}

#[test]
fn websocket_speaks_protocol_v1_on_raw_frames() {
    use std::io::{BufRead, BufReader, Read, Write};
    let cluster = Cluster::start("ws", 1, &[]);
    cluster.wait_for_leader(STARTUP);
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", cluster.node(1).http)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("handshake");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    assert!(line.starts_with("HTTP/1.1 101"), "{line}");
    let mut head = String::new();
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).expect("header");
        head.push_str(&line);
    }
    // RFC 6455's own example key and answer.
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    let read_frame = |reader: &mut BufReader<std::net::TcpStream>| {
        let mut header = [0u8; 2];
        reader.read_exact(&mut header).expect("frame header");
        let len = match header[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                reader.read_exact(&mut ext).expect("length");
                u16::from_be_bytes(ext) as usize
            }
            127 => {
                let mut ext = [0u8; 8];
                reader.read_exact(&mut ext).expect("length");
                u64::from_be_bytes(ext) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        reader.read_exact(&mut payload).expect("payload");
        String::from_utf8(payload).expect("text frame")
    };
    // Protocol v1 (docs/protocol.md): the node speaks first.
    let first = read_frame(&mut reader);
    assert!(
        first.starts_with(r#"{"type":"welcome","protocol":1,"#),
        "{first}"
    );
    // A masked text frame from the client: a command.
    let command = br#"{"type":"command","id":7,"args":["SET","from","browser"]}"#;
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | command.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(command.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).expect("send command");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let message = read_frame(&mut reader);
        if message.contains(r#""type":"command_reply""#) {
            assert_eq!(message, r#"{"type":"command_reply","id":7,"reply":"OK"}"#);
            break;
        }
        assert!(Instant::now() < deadline, "no reply");
    }
    assert_eq!(
        cluster.call_retrying(1, &["GET", "from"], RETRY),
        bulk("browser")
    );
}

#[test]
fn a_node_joins_as_a_learner_is_promoted_and_takes_over() {
    let mut cluster = Cluster::start("join", 3, &[]);
    let leader = cluster.wait_for_leader(STARTUP);
    assert_eq!(
        cluster.call_retrying(leader, &["SET", "before", "join"], RETRY),
        ok()
    );
    // A fourth node with an empty configuration, waiting to be added.
    let (resp, http, peer) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let data = cluster.dir.join("node4");
    let args = vec![
        "node".to_string(),
        "--id=4".into(),
        "--join".into(),
        format!("--resp-addr=127.0.0.1:{resp}"),
        format!("--http-addr=127.0.0.1:{http}"),
        format!("--peer-addr=127.0.0.1:{peer}"),
        format!("--data={}", data.display()),
        "--token=test-token".into(),
    ];
    let log = cluster.dir.join("node4.log");
    let mut node = common::Node::new(4, resp, http, peer, data, log, args);
    node.start();
    cluster.nodes.push(node);

    // Admin commands go through any node: this follower forwards them to the leader.
    let via = followers(&cluster, leader)[0];
    let mut admin = cluster.node(via).client().expect("connect");
    assert_eq!(admin.call(&["AUTH", "test-token"]).expect("auth"), ok());
    let address = format!("127.0.0.1:{peer}");
    let reply = admin
        .call(&["RAFT.ADDLEARNER", "4", &address])
        .expect("reply");
    assert!(reply.text().starts_with("OK proposed"), "{reply:?}");
    // Promotion is refused until the learner has caught up; retry until it is accepted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = admin.call(&["RAFT.PROMOTE", "4"]).expect("reply");
        if reply.text().starts_with("OK proposed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{reply:?}\n{}",
            cluster.dump_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Hand leadership to the new voter, then write and read through it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = admin.call(&["RAFT.TRANSFER", "4"]);
        std::thread::sleep(Duration::from_millis(200));
        let info = cluster.node(4).raft_info().unwrap_or_default();
        if info.get("role").map(String::as_str) == Some("leader") {
            assert_eq!(
                info.get("voters").map(String::as_str),
                Some("1,2,3,4"),
                "{info:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 4 never led\n{}",
            cluster.dump_logs()
        );
    }
    assert_eq!(
        cluster.call_retrying(4, &["GET", "before"], RETRY),
        bulk("join")
    );
    assert_eq!(
        cluster.call_retrying(1, &["SET", "after", "join"], RETRY),
        ok()
    );
    assert_eq!(
        cluster.call_retrying(4, &["GET", "after"], RETRY),
        bulk("join")
    );
}
