//! `flotilla cluster`: a local cluster of `flotilla node` child processes on fixed ports.
//!
//! Node i (from 1) speaks RESP on 6378+i (node 1 on 6379, so a bare `redis-cli` works),
//! HTTP on 8079+i (node 1 on 8080, the page) and Raft on 7000+i, and keeps its data in
//! DIR/node<i>, so the next start finds it again. The supervisor restarts a node that dies
//! (after a pause, so a kill -9 shows as an outage first), and on Ctrl-C or SIGTERM asks
//! every node to stop (SIGTERM), then kills those that do not within a grace period.

use crate::cli::CommandResult;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
}

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
        });
    }
    println!("Ctrl-C stops every node.");
    supervise(&mut members, !args.no_restart)
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

fn supervise(members: &mut [Member], restart: bool) -> CommandResult {
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
                    if restart {
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
                match Command::new(&member.command[0])
                    .args(&member.command[1..])
                    .spawn()
                {
                    Ok(child) => member.child = Some(child),
                    Err(error) => {
                        eprintln!("flotilla cluster: cannot start node {}: {error}", member.id);
                        member.restart_at = restart.then(|| Instant::now() + RESTART_DELAY);
                    }
                }
            }
        }
        if !restart && members.iter().all(|m| m.child.is_none()) {
            return Err("every node has exited".into());
        }
        std::thread::sleep(SUPERVISE_INTERVAL);
    }
    eprintln!("flotilla cluster: stopping");
    stop_all(members);
    Ok(())
}

fn stop_all(members: &mut [Member]) {
    for child in members.iter().filter_map(|m| m.child.as_ref()) {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
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
