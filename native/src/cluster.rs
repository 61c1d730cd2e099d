//! `flotilla cluster`: a local cluster of `flotilla node` child processes on fixed ports.
//!
//! Node i (from 1) speaks RESP on 6378+i (node 1 on 6379, so a bare `redis-cli` works),
//! HTTP on 8079+i (node 1 on 8080, the page) and Raft on 7000+i, and keeps its data in
//! DIR/node<i>, so the next start finds it again. The supervisor restarts a node that dies
//! (after a pause, so a kill -9 shows as an outage first), and on Ctrl-C or SIGTERM asks
//! every node to stop (SIGTERM), then kills those that do not within a grace period.
//!
//! It also listens on a loopback control port (`--control-port`, 0: any free port) whose
//! address it gives every child as `--supervisor`: a node asks there, with the cluster
//! token, to pause (SIGSTOP), resume (SIGCONT), crash (SIGKILL, kept down) or restart one of
//! its siblings, which is how a page's fault buttons reach real processes (`crate::control`).

use crate::cli::CommandResult;
use crate::control::{self, Verb, CONTROL_LINE_BYTES_MAX, CONTROL_TIMEOUT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often the supervisor looks at its children.
const SUPERVISE_INTERVAL: Duration = Duration::from_millis(100);
/// How long a dead node stays down before it is restarted.
const RESTART_DELAY: Duration = Duration::from_secs(3);
/// How long nodes get to stop after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Start a local cluster of N nodes as child processes.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// Data folder; node i keeps its files in DIR/node<i> (reused on the next start).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Node i speaks RESP on this port + i.
    #[arg(long, default_value_t = 6378)]
    pub resp_port_base: u16,
    /// Node i serves HTTP on this port + i.
    #[arg(long, default_value_t = 8079)]
    pub http_port_base: u16,
    /// Node i listens for peers on this port + i.
    #[arg(long, default_value_t = 7000)]
    pub peer_port_base: u16,
    /// Folder of the built web app, served by every node.
    #[arg(long, default_value = "dist")]
    pub web_dir: PathBuf,
    /// Admin token (default: DIR/token, created with a random token on first start).
    #[arg(long, env = "FLOTILLA_TOKEN")]
    pub token: Option<String>,
    /// Do not restart nodes that die.
    #[arg(long)]
    pub no_restart: bool,
    /// Loopback port of the control channel through which nodes ask to pause, resume,
    /// crash or restart a node (0: any free port; its address is passed to every node).
    #[arg(long, default_value_t = 0)]
    pub control_port: u16,
    /// Extra flags for every `flotilla node` (after `--`), e.g. `-- --snapshot-entries 100`.
    #[arg(last = true)]
    pub node_args: Vec<String>,
}

/// One supervised node.
#[derive(Debug)]
struct Member {
    id: u16,
    command: Vec<String>,
    child: Option<Child>,
    /// When a dead node is due to restart.
    restart_at: Option<Instant>,
    /// Crashed on request: stays down until a `restart` request.
    held_down: bool,
}

/// A control request waiting for the supervisor's loop, with where to send its answer.
type ControlRequest = (Verb, u16, mpsc::Sender<Result<String, String>>);

pub fn run(args: ClusterArgs) -> CommandResult {
    if args.nodes == 0 {
        return Err("--nodes must be at least 1".into());
    }
    std::fs::create_dir_all(&args.data)
        .map_err(|e| format!("cannot create {}: {e}", args.data.display()))?;
    let token = match args.token.clone() {
        Some(token) => token,
        None => stored_token(&args.data)?,
    };
    let exe = std::env::current_exe()?;
    let control = TcpListener::bind(("127.0.0.1", args.control_port)).map_err(|e| {
        format!(
            "cannot listen for control on port {}: {e}",
            args.control_port
        )
    })?;
    let control_address = control.local_addr()?;
    let (control_tx, control_rx) = mpsc::channel();
    {
        let token = token.clone();
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || serve_control(control, &token, &control_tx))?;
    }
    let port = |base: u16, id: u16| base.checked_add(id).ok_or("port number overflows");
    let mut members = Vec::new();
    println!(
        "flotilla cluster: {} nodes, data in {}",
        args.nodes,
        args.data.display()
    );
    println!("admin token: {token}   (redis-cli -p 6379 AUTH {token}; then RAFT.STATUS)");
    for id in 1..=args.nodes {
        let peers: Vec<String> = (1..=args.nodes)
            .filter(|&other| other != id)
            .map(|other| {
                Ok(format!(
                    "{other}=127.0.0.1:{}",
                    port(args.peer_port_base, other)?
                ))
            })
            .collect::<Result<_, &str>>()?;
        let (resp, http, peer) = (
            port(args.resp_port_base, id)?,
            port(args.http_port_base, id)?,
            port(args.peer_port_base, id)?,
        );
        let mut command = vec![
            exe.display().to_string(),
            "node".into(),
            format!("--id={id}"),
            format!("--resp-addr=127.0.0.1:{resp}"),
            format!("--http-addr=127.0.0.1:{http}"),
            format!("--peer-addr=127.0.0.1:{peer}"),
            format!("--data={}", args.data.join(format!("node{id}")).display()),
            format!("--web-dir={}", args.web_dir.display()),
            format!("--token={token}"),
            format!("--supervisor={control_address}"),
        ];
        if !peers.is_empty() {
            command.push(format!("--peers={}", peers.join(",")));
        }
        command.extend(args.node_args.iter().cloned());
        println!("  node {id}: redis-cli -p {resp}   http://127.0.0.1:{http}/   peers on 127.0.0.1:{peer}");
        members.push(Member {
            id,
            command,
            child: None,
            restart_at: Some(Instant::now()),
            held_down: false,
        });
    }
    println!("control (pause/resume/crash/restart through the nodes): {control_address}");
    println!("Ctrl-C stops every node.");
    supervise(&mut members, !args.no_restart, &control_rx)
}

/// Accepts control connections: one request line each, answered by the supervisor's loop.
fn serve_control(listener: TcpListener, token: &str, requests: &mpsc::Sender<ControlRequest>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let answer = match read_control_line(&stream) {
            Ok(line) => match control::parse_request(&line, token) {
                Ok((verb, id)) => {
                    let (answer_tx, answer_rx) = mpsc::channel();
                    if requests.send((verb, id, answer_tx)).is_err() {
                        return;
                    }
                    answer_rx
                        .recv_timeout(CONTROL_TIMEOUT)
                        .unwrap_or_else(|_| Err("the supervisor is busy".into()))
                }
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        let line = match answer {
            Ok(message) => format!("ok {message}\n"),
            Err(message) => format!("err {message}\n"),
        };
        let _ = (&stream).write_all(line.as_bytes());
    }
}

fn read_control_line(stream: &TcpStream) -> Result<String, String> {
    stream
        .set_read_timeout(Some(CONTROL_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream.take(CONTROL_LINE_BYTES_MAX as u64))
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    Ok(line)
}

/// Carries out one control request on the member `id`.
fn control_member(members: &mut [Member], verb: Verb, id: u16) -> Result<String, String> {
    let member = members
        .iter_mut()
        .find(|m| m.id == id)
        .ok_or_else(|| format!("node {id} is not one of this cluster's nodes"))?;
    let pid = member
        .child
        .as_ref()
        .and_then(|c| i32::try_from(c.id()).ok())
        .map(Pid::from_raw);
    match (verb, pid) {
        (Verb::Pause, Some(pid)) => {
            kill(pid, Signal::SIGSTOP).map_err(|e| format!("SIGSTOP: {e}"))?;
            eprintln!("flotilla cluster: node {id} paused (SIGSTOP)");
            Ok(format!("node {id} paused (SIGSTOP)"))
        }
        (Verb::Resume, Some(pid)) => {
            kill(pid, Signal::SIGCONT).map_err(|e| format!("SIGCONT: {e}"))?;
            eprintln!("flotilla cluster: node {id} resumed (SIGCONT)");
            Ok(format!("node {id} resumed (SIGCONT)"))
        }
        (Verb::Pause | Verb::Resume, None) => Err(format!("node {id} is not running")),
        (Verb::Crash, None) => {
            member.held_down = true;
            member.restart_at = None;
            Err(format!("node {id} is not running"))
        }
        (Verb::Crash, Some(_)) => {
            kill_member(member);
            member.held_down = true;
            member.restart_at = None;
            eprintln!("flotilla cluster: node {id} crashed on request (SIGKILL); it stays down until restarted");
            Ok(format!(
                "node {id} killed (SIGKILL); it stays down until restarted"
            ))
        }
        (Verb::Restart, pid) => {
            if pid.is_some() {
                kill_member(member);
            }
            member.held_down = false;
            member.restart_at = None;
            start_member(member).map_err(|e| format!("cannot start node {id}: {e}"))?;
            eprintln!("flotilla cluster: node {id} restarted on request");
            Ok(format!("node {id} started"))
        }
    }
}

fn kill_member(member: &mut Member) {
    if let Some(mut child) = member.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn start_member(member: &mut Member) -> std::io::Result<()> {
    let child = Command::new(&member.command[0])
        .args(&member.command[1..])
        .spawn()?;
    member.child = Some(child);
    Ok(())
}

/// The token kept in DIR/token, created on first use.
fn stored_token(dir: &Path) -> Result<String, String> {
    let path = dir.join("token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let token = format!("{:016x}", hasher.finish());
    std::fs::write(&path, format!("{token}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

fn supervise(
    members: &mut [Member],
    restart: bool,
    control: &mpsc::Receiver<ControlRequest>,
) -> CommandResult {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    while !stop.load(Ordering::Relaxed) {
        for member in members.iter_mut() {
            if let Some(child) = &mut member.child {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!("flotilla cluster: node {} exited ({status})", member.id);
                    member.child = None;
                    if restart && !member.held_down {
                        eprintln!(
                            "flotilla cluster: restarting node {} in {} s",
                            member.id,
                            RESTART_DELAY.as_secs()
                        );
                        member.restart_at = Some(Instant::now() + RESTART_DELAY);
                    }
                }
            }
            if member.restart_at.is_some_and(|at| Instant::now() >= at) {
                member.restart_at = None;
                match start_member(member) {
                    Ok(()) => {}
                    Err(error) => {
                        eprintln!("flotilla cluster: cannot start node {}: {error}", member.id);
                        member.restart_at = restart.then(|| Instant::now() + RESTART_DELAY);
                    }
                }
            }
        }
        if !restart && members.iter().all(|m| m.child.is_none() && !m.held_down) {
            return Err("every node has exited".into());
        }
        // Waiting for a control request is the loop's sleep, so requests are served at once.
        if let Ok((verb, id, answer)) = control.recv_timeout(SUPERVISE_INTERVAL) {
            let _ = answer.send(control_member(members, verb, id));
        }
    }
    eprintln!("flotilla cluster: stopping");
    stop_all(members);
    Ok(())
}

fn stop_all(members: &mut [Member]) {
    for child in members.iter().filter_map(|m| m.child.as_ref()) {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            // A paused node only sees the SIGTERM once it runs again.
            let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for member in members.iter_mut() {
        let Some(child) = &mut member.child else {
            continue;
        };
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!(
                        "flotilla cluster: node {} did not stop; killing it",
                        member.id
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(SUPERVISE_INTERVAL),
            }
        }
    }
}
