//! Real `flotilla node` processes on 127.0.0.1 for integration tests: free ports, a data
//! folder per node, a tiny RESP client, and kill -9 / restart. Every wait has a deadline,
//! and every process is killed when its handle is dropped, even when a test fails.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The lowest port tests pick; below it live the well-known services.
const TEST_PORT_MIN: u16 = 10_000;

/// A port that was free a moment ago, below the kernel's ephemeral range. A port picked by
/// binding port 0 comes from the range the kernel also gives outgoing connections, and with
/// many test clusters running at once one of their peer connections can take it before the
/// node listens on it (seen in CI: "cannot listen on ...: Address already in use", then a
/// test's connection refused). A process-wide counter keeps the tests of one binary, which
/// run in parallel, on different ports; the process id spreads binaries apart.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `count` consecutive ports that were all free a moment ago (see
/// [`free_port`]); runs handed out in one process never overlap.
pub fn free_ports(count: u16) -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let top = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768)
        .max(TEST_PORT_MIN + 1_000);
    let span = u32::from(top - TEST_PORT_MIN - count);
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(u32::from(count), std::sync::atomic::Ordering::Relaxed);
        let first = TEST_PORT_MIN + ((start + n) % span) as u16;
        if (first..first + count).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return first;
        }
    }
    panic!("no {count} free ports between {TEST_PORT_MIN} and {top}");
}

/// A RESP reply, as the tests look at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    pub fn text(&self) -> String {
        match self {
            Resp::Simple(s) | Resp::Error(s) => s.clone(),
            Resp::Integer(n) => n.to_string(),
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Resp::Bulk(None) | Resp::Array(None) => "(nil)".into(),
            Resp::Array(Some(items)) => items.iter().map(Resp::text).collect::<Vec<_>>().join(","),
        }
    }
}

/// One RESP connection.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().expect("address"),
            Duration::from_secs(2),
        )?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    /// A client on a connection opened elsewhere (to write and read from two threads).
    pub fn from_stream(stream: TcpStream) -> Client {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let mut wire = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            wire.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.stream.write_all(&wire)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn read(&mut self) -> std::io::Result<Resp> {
        loop {
            if let Some((reply, used)) = parse(&self.buf, 0) {
                self.buf.drain(..used);
                return Ok(reply);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub fn call(&mut self, args: &[&str]) -> std::io::Result<Resp> {
        self.send(args)?;
        self.read()
    }
}

fn parse(buf: &[u8], pos: usize) -> Option<(Resp, usize)> {
    let kind = *buf.get(pos)?;
    let end = pos + 1 + buf[pos + 1..].windows(2).position(|w| w == b"\r\n")?;
    let line = String::from_utf8_lossy(&buf[pos + 1..end]).into_owned();
    let next = end + 2;
    match kind {
        b'+' => Some((Resp::Simple(line), next)),
        b'-' => Some((Resp::Error(line), next)),
        b':' => Some((Resp::Integer(line.parse().ok()?), next)),
        b'$' => {
            let len: i64 = line.parse().ok()?;
            if len < 0 {
                return Some((Resp::Bulk(None), next));
            }
            let stop = next + len as usize;
            (buf.len() >= stop + 2).then(|| (Resp::Bulk(Some(buf[next..stop].to_vec())), stop + 2))
        }
        b'*' => {
            let count: i64 = line.parse().ok()?;
            if count < 0 {
                return Some((Resp::Array(None), next));
            }
            let mut items = Vec::new();
            let mut at = next;
            for _ in 0..count {
                let (item, after) = parse(buf, at)?;
                items.push(item);
                at = after;
            }
            Some((Resp::Array(Some(items)), at))
        }
        _ => panic!("not RESP: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// One node process of a test cluster.
pub struct Node {
    pub id: u64,
    pub resp: u16,
    pub http: u16,
    pub peer: u16,
    pub data: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    pub fn new(
        id: u64,
        resp: u16,
        http: u16,
        peer: u16,
        data: PathBuf,
        log: PathBuf,
        args: Vec<String>,
    ) -> Node {
        Node {
            id,
            resp,
            http,
            peer,
            data,
            log,
            args,
            child: None,
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start flotilla node");
        self.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn client(&self) -> std::io::Result<Client> {
        Client::connect(self.resp)
    }

    /// The `# Raft` fields of INFO.
    pub fn raft_info(&self) -> Option<std::collections::BTreeMap<String, String>> {
        let reply = self.client().ok()?.call(&["INFO", "raft"]).ok()?;
        let text = reply.text();
        Some(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A cluster of node processes with unique ports and a fresh data folder.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub dir: PathBuf,
}

impl Cluster {
    /// Starts `n` voters. `extra` flags go to every node.
    pub fn start(name: &str, n: u64, extra: &[&str]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("flotilla-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test folder");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut nodes = Vec::new();
        for id in 1..=n {
            let (resp, http, peer) = ports[id as usize - 1];
            let peers: Vec<String> = (1..=n)
                .filter(|&other| other != id)
                .map(|other| format!("{other}=127.0.0.1:{}", ports[other as usize - 1].2))
                .collect();
            let data = dir.join(format!("node{id}"));
            let mut args = vec![
                "node".to_string(),
                format!("--id={id}"),
                format!("--resp-addr=127.0.0.1:{resp}"),
                format!("--http-addr=127.0.0.1:{http}"),
                format!("--peer-addr=127.0.0.1:{peer}"),
                format!("--data={}", data.display()),
                "--token=test-token".to_string(),
                format!("--web-dir={}", dir.join("no-web").display()),
            ];
            if !peers.is_empty() {
                args.push(format!("--peers={}", peers.join(",")));
            }
            args.extend(extra.iter().map(|s| s.to_string()));
            let log = dir.join(format!("node{id}.log"));
            let mut node = Node {
                id,
                resp,
                http,
                peer,
                data,
                log,
                args,
                child: None,
            };
            node.start();
            nodes.push(node);
        }
        Cluster { nodes, dir }
    }

    pub fn node(&self, id: u64) -> &Node {
        &self.nodes[id as usize - 1]
    }

    pub fn node_mut(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// Waits until a running node says it leads; returns its id.
    pub fn wait_for_leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            for node in self.nodes.iter().filter(|n| n.is_running()) {
                if node
                    .raft_info()
                    .is_some_and(|info| info.get("role").map(String::as_str) == Some("leader"))
                {
                    return node.id;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no leader within {within:?}; logs in {}",
            self.dir.display()
        );
    }

    /// Waits until every running node names the same leader in the same term and that leader
    /// says it leads: after a fault heals, a deposed leader can still call itself leader for a
    /// while, and asking it for leader-only work would race with the real one.
    pub fn wait_for_stable_leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(leader) = self.agreed_leader() {
                return leader;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no leader all nodes agree on within {within:?}; logs in {}",
            self.dir.display()
        );
    }

    fn agreed_leader(&self) -> Option<u64> {
        let mut views = Vec::new();
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let info = node.raft_info()?;
            views.push((
                node.id,
                info.get("term")?.clone(),
                info.get("leader")?.clone(),
                info.get("role")?.clone(),
            ));
        }
        let (_, term, leader, _) = views.first()?.clone();
        let leader_id: u64 = leader.parse().ok()?;
        let agreed = views.iter().all(|(id, t, l, role)| {
            *t == term && *l == leader && ((*id == leader_id) == (role == "leader"))
        });
        agreed.then_some(leader_id)
    }

    /// Runs a command through `id`, retrying the retryable errors (NOLEADER, TRYAGAIN) until
    /// `within` has passed.
    pub fn call_retrying(&self, id: u64, args: &[&str], within: Duration) -> Resp {
        let deadline = Instant::now() + within;
        loop {
            let reply = self.node(id).client().and_then(|mut c| c.call(args));
            match reply {
                Ok(Resp::Error(e)) if retryable(&e) && Instant::now() < deadline => {}
                Ok(reply) => return reply,
                Err(_) if Instant::now() < deadline => {}
                Err(error) => panic!("{args:?} via node {id}: {error}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn dump_logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- node {} ---\n{}", n.id, n.log_text()))
            .collect()
    }
}

pub fn retryable(error: &str) -> bool {
    error.starts_with("NOLEADER") || error.starts_with("TRYAGAIN")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
