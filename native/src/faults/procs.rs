//! The node processes of a fault run: free ports, a data folder and a log file per node,
//! start, kill -9, SIGSTOP/SIGCONT, and a wipe for a node that rejoins as a new member.

use super::conn::RespConn;
use crate::resp::Reply;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long an admin command may take before the run treats the node as unreachable.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Lowest port the fault run picks from.
const PORT_MIN: u16 = 10_000;

/// The lowest port the kernel hands out to outgoing connections.
fn ephemeral_port_min() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// `count` distinct ports that were free a moment ago, below the ephemeral range: a port
/// the kernel picked (bind to port 0) can be given to a client's outgoing connection while
/// its node is down, and the node could then not listen on it again when it restarts.
fn free_ports(count: usize, seed: u64) -> std::io::Result<Vec<u16>> {
    let top = ephemeral_port_min().max(PORT_MIN + 1000);
    let mut rng = super::workload::Rng(seed | 1);
    let mut ports: Vec<u16> = Vec::new();
    for _ in 0..count * 100 {
        if ports.len() == count {
            break;
        }
        let port = PORT_MIN + rng.below(u64::from(top - PORT_MIN)) as u16;
        if !ports.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    if ports.len() < count {
        return Err(std::io::Error::other(
            "no free ports below the ephemeral range",
        ));
    }
    Ok(ports)
}

/// One `flotilla node` process.
#[derive(Debug)]
pub struct Proc {
    pub id: u64,
    pub resp: u16,
    pub peer: u16,
    pub data: PathBuf,
    log: PathBuf,
    /// Flags for every start; `--join` is added when the node rejoins with a wiped folder.
    args: Vec<String>,
    child: Option<Child>,
    pub paused: bool,
    pub joining: bool,
}

impl Proc {
    pub fn peer_address(&self) -> String {
        format!("127.0.0.1:{}", self.peer)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn start(&mut self, bin: &Path) -> std::io::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut args = self.args.clone();
        if self.joining {
            args.retain(|a| !a.starts_with("--peers="));
            args.push("--join".into());
        }
        let child = Command::new(bin)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// kill -9 (a paused process is killed too).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    fn signal(&mut self, signal: Signal) {
        if let Some(child) = &self.child {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
    }

    pub fn pause(&mut self) {
        self.signal(Signal::SIGSTOP);
        self.paused = self.child.is_some();
    }

    pub fn resume(&mut self) {
        self.signal(Signal::SIGCONT);
        self.paused = false;
    }

    /// Deletes the data folder (the node must be stopped).
    pub fn wipe(&mut self) -> std::io::Result<()> {
        match fs::remove_dir_all(&self.data) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether the process exited by itself (a crash, or a refusal to start).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Runs an admin command after AUTH; `None` if the node did not answer in time.
    pub fn admin(&self, token: &str, args: &[&str]) -> Option<Reply> {
        if !self.is_running() || self.paused {
            return None;
        }
        let mut conn = RespConn::connect(self.resp, ADMIN_TIMEOUT).ok()?;
        match conn.call(&["AUTH", token]).ok()? {
            Reply::Simple(_) => {}
            other => return Some(other),
        }
        conn.call(args).ok()
    }

    /// RAFT.STATUS as JSON.
    pub fn status(&self, token: &str) -> Option<serde_json::Value> {
        match self.admin(token, &["RAFT.STATUS"])? {
            Reply::Bulk(Some(bytes)) => serde_json::from_slice(&bytes).ok(),
            _ => None,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.resume();
        self.kill();
    }
}

/// Starts `n` voters in `dir` (node i in `dir/node<i>`, logging to `dir/node<i>.log`).
pub fn start_cluster(
    bin: &Path,
    dir: &Path,
    n: u64,
    token: &str,
    extra: &[String],
) -> std::io::Result<Vec<Proc>> {
    fs::create_dir_all(dir)?;
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let free = free_ports(3 * n as usize, seed)?;
    let ports: Vec<(u16, u16, u16)> = free.chunks(3).map(|c| (c[0], c[1], c[2])).collect();
    let mut procs = Vec::new();
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
            format!("--token={token}"),
            format!("--web-dir={}", dir.join("no-web").display()),
            format!("--peers={}", peers.join(",")),
        ];
        args.extend(extra.iter().cloned());
        let mut proc = Proc {
            id,
            resp,
            peer,
            data,
            log: dir.join(format!("node{id}.log")),
            args,
            child: None,
            paused: false,
            joining: false,
        };
        proc.start(bin)?;
        procs.push(proc);
    }
    Ok(procs)
}
