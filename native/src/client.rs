//! `flotilla put/get/del/status`: small RESP clients for people at a terminal.

use crate::cli::CommandResult;
use crate::resp::{parse_reply, Reply};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a client subcommand waits for the node.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to send the command.
#[derive(Clone, Debug, clap::Args)]
pub struct Target {
    /// The node's RESP address.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub addr: String,
}

/// `flotilla put KEY VALUE`
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    pub key: String,
    pub value: String,
    #[command(flatten)]
    pub target: Target,
}

/// `flotilla get KEY` / `flotilla del KEY`
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    pub key: String,
    #[command(flatten)]
    pub target: Target,
}

/// `flotilla status`
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The nodes' RESP addresses (default: the 3 nodes of `flotilla cluster`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1:6379,127.0.0.1:6380,127.0.0.1:6381"
    )]
    pub addrs: Vec<String>,
    /// The cluster token (RAFT.STATUS is an admin command).
    #[arg(long, env = "FLOTILLA_TOKEN", default_value = "flotilla")]
    pub token: String,
}

/// Sends one command and reads its reply.
pub fn call(addr: &str, args: &[&[u8]]) -> Result<Reply, String> {
    calls(addr, &[args]).map(|mut replies| replies.remove(0))
}

/// Sends several commands on one connection (pipelined) and reads their replies.
pub fn calls(addr: &str, commands: &[&[&[u8]]]) -> Result<Vec<Reply>, String> {
    let socket = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&socket, CLIENT_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut wire = Vec::new();
    for args in commands {
        let command = Reply::Array(Some(args.iter().map(|a| Reply::bulk(*a)).collect()));
        command.encode(&mut wire);
    }
    stream
        .write_all(&wire)
        .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while replies.len() < commands.len() {
        match parse_reply(&buf).map_err(|e| e.to_string())? {
            Some((reply, used)) => {
                buf.drain(..used);
                replies.push(reply);
            }
            None => {
                let n = stream
                    .read(&mut chunk)
                    .map_err(|e| format!("no answer from {addr}: {e}"))?;
                if n == 0 {
                    return Err(format!("{addr} closed the connection"));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    Ok(replies)
}

/// Prints a reply the way redis-cli does; errors become the command's error.
fn show(reply: Reply) -> CommandResult {
    match reply {
        Reply::Error(text) => return Err(text.into()),
        Reply::Simple(text) => println!("{text}"),
        Reply::Integer(n) => println!("{n}"),
        Reply::Bulk(Some(bytes)) => println!("{}", String::from_utf8_lossy(&bytes)),
        Reply::Bulk(None) | Reply::Array(None) => println!("(nil)"),
        Reply::Array(Some(items)) => return items.into_iter().try_for_each(show),
    }
    Ok(())
}

pub fn put(args: PutArgs) -> CommandResult {
    show(call(
        &args.target.addr,
        &[b"SET", args.key.as_bytes(), args.value.as_bytes()],
    )?)
}

pub fn get(args: KeyArgs) -> CommandResult {
    show(call(&args.target.addr, &[b"GET", args.key.as_bytes()])?)
}

pub fn del(args: KeyArgs) -> CommandResult {
    show(call(&args.target.addr, &[b"DEL", args.key.as_bytes()])?)
}

/// Prints a table with one row per node.
pub fn status(args: StatusArgs) -> CommandResult {
    println!(
        "{:<22} {:<4} {:<13} {:>5} {:>6} {:>8} {:>8} {:>8} {:>8}  peers (match/next)",
        "address", "id", "role", "term", "leader", "commit", "applied", "last", "snapshot"
    );
    let mut reachable = 0;
    for addr in &args.addrs {
        let status = match status_of(addr, &args.token) {
            Ok(status) => status,
            Err(error) => {
                println!("{addr:<22} {:<4} {error}", "-");
                continue;
            }
        };
        reachable += 1;
        let field = |k: &str| match &status[k] {
            serde_json::Value::Null => "-".to_string(),
            v => v.to_string(),
        };
        let peers: Vec<String> = status["peers"]
            .as_object()
            .map(|peers| {
                peers
                    .iter()
                    .map(|(id, p)| match (&p["match"], &p["next"]) {
                        (serde_json::Value::Null, _) => format!("n{id}"),
                        (m, n) => format!("n{id}:{m}/{n}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{addr:<22} {:<4} {:<13} {:>5} {:>6} {:>8} {:>8} {:>8} {:>8}  {}",
            field("id"),
            status["role"].as_str().unwrap_or("?"),
            field("term"),
            field("leader"),
            field("commit"),
            field("applied"),
            field("last_index"),
            field("snapshot_index"),
            peers.join(" "),
        );
    }
    if reachable == 0 {
        return Err("no node answered".into());
    }
    Ok(())
}

fn status_of(addr: &str, token: &str) -> Result<serde_json::Value, String> {
    let replies = calls(addr, &[&[b"AUTH", token.as_bytes()], &[b"RAFT.STATUS"]])?;
    match &replies[..] {
        [Reply::Simple(_), Reply::Bulk(Some(json))] => {
            serde_json::from_slice(json).map_err(|e| format!("bad status from {addr}: {e}"))
        }
        [Reply::Error(e), _] | [_, Reply::Error(e)] => Err(format!("{addr}: {e}")),
        other => Err(format!("unexpected answer from {addr}: {other:?}")),
    }
}
