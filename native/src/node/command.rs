//! What a RESP command asks for: answered on the spot, a key-value request for the leader,
//! or an admin operation. Pure: no I/O, no node state, so it is tested as a table.

use crate::resp::Reply;
use flotilla_core::kv::Command;
use flotilla_core::NodeId;

/// How the state machine's response is shaped into the reply this command promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// GET: a bulk string or nil.
    Value,
    /// MGET: an array of bulk strings or nils.
    Values,
    /// EXISTS: how many of the keys exist.
    CountPresent,
    /// SET, MSET: `+OK`.
    Ok,
    /// DEL: how many keys were removed.
    Removed,
    /// INCR and friends: the new value.
    Integer,
}

/// A membership or leadership operation (allowed after AUTH).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admin {
    AddLearner { id: NodeId, address: String },
    Promote { id: NodeId },
    Remove { id: NodeId },
    Transfer { id: NodeId },
}

/// What the node does with one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answered without the node's state.
    Reply(Reply),
    /// A key-value operation for the leader: a linearizable read or a write.
    Kv {
        command: Command,
        shape: Shape,
    },
    /// Needs this node's state: INFO, DBSIZE, RAFT.STATUS.
    Info {
        section: Option<String>,
    },
    DbSize,
    RaftStatus,
    /// AUTH with this token.
    Auth(Vec<u8>),
    /// Needs the leader and AUTH.
    Admin(Admin),
    /// Take a snapshot on this node now (needs AUTH).
    Snapshot,
    /// Fault injection on this node (needs AUTH): drop every message to and from these
    /// peers, replacing the previous set; an empty set heals.
    Partition(Vec<NodeId>),
}

impl Action {
    /// Whether the action needs AUTH first.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Action::Admin(_) | Action::Snapshot | Action::RaftStatus | Action::Partition(_)
        )
    }
}

fn wrong_args(name: &str) -> Action {
    Action::Reply(Reply::err(format!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    )))
}

fn node_id(arg: &[u8]) -> Result<NodeId, Action> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&id| id > 0)
        .map(NodeId)
        .ok_or_else(|| Action::Reply(Reply::err("node id must be a positive integer")))
}

fn integer(arg: &[u8]) -> Result<i64, Action> {
    flotilla_core::kv::parse_integer(arg)
        .ok_or_else(|| Action::Reply(Reply::err("value is not an integer or out of range")))
}

/// Classifies a command (`args[0]` is its name, in any case). `args` is never empty.
pub fn classify(args: &[Vec<u8>]) -> Action {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let rest = &args[1..];
    let key = |i: usize| rest[i].clone();
    let result = match name.as_str() {
        "PING" => match rest {
            [] => Ok(Action::Reply(Reply::Simple("PONG".into()))),
            [message] => Ok(Action::Reply(Reply::bulk(message.clone()))),
            _ => Err(wrong_args(&name)),
        },
        "ECHO" if rest.len() == 1 => Ok(Action::Reply(Reply::bulk(key(0)))),
        // redis-cli asks for COMMAND DOCS at start and redis-benchmark for CONFIG GET: an
        // empty answer is enough for both to carry on.
        "COMMAND" => Ok(Action::Reply(Reply::Array(Some(Vec::new())))),
        "CONFIG" => Ok(config(rest)),
        // Connection settings that a one-database server can accept as they are.
        "CLIENT" | "SELECT" => Ok(Action::Reply(Reply::ok())),
        "HELLO" => Ok(Action::Reply(Reply::err(
            "unknown command 'HELLO': only RESP2 is spoken",
        ))),
        "QUIT" => Ok(Action::Reply(Reply::ok())),
        "AUTH" => match rest {
            [token] | [_, token] => Ok(Action::Auth(token.clone())),
            _ => Err(wrong_args(&name)),
        },
        "INFO" => Ok(Action::Info {
            section: rest
                .first()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()),
        }),
        "DBSIZE" if rest.is_empty() => Ok(Action::DbSize),
        "GET" if rest.len() == 1 => Ok(kv(Command::Get { key: key(0) }, Shape::Value)),
        "MGET" if !rest.is_empty() => Ok(kv(
            Command::GetMany {
                keys: rest.to_vec(),
            },
            Shape::Values,
        )),
        "EXISTS" if !rest.is_empty() => Ok(kv(
            Command::GetMany {
                keys: rest.to_vec(),
            },
            Shape::CountPresent,
        )),
        "SET" if rest.len() == 2 => Ok(kv(
            Command::Put {
                key: key(0),
                value: key(1),
            },
            Shape::Ok,
        )),
        "SET" if rest.len() > 2 => Ok(Action::Reply(Reply::err("SET options are not supported"))),
        "MSET" if !rest.is_empty() && rest.len() % 2 == 0 => {
            let pairs = rest
                .chunks(2)
                .map(|p| (p[0].clone(), p[1].clone()))
                .collect();
            Ok(kv(Command::PutMany { pairs }, Shape::Ok))
        }
        "DEL" | "UNLINK" if !rest.is_empty() => Ok(kv(
            Command::DeleteMany {
                keys: rest.to_vec(),
            },
            Shape::Removed,
        )),
        "INCR" if rest.len() == 1 => Ok(incr(key(0), 1)),
        "DECR" if rest.len() == 1 => Ok(incr(key(0), -1)),
        "INCRBY" if rest.len() == 2 => integer(&rest[1]).map(|by| incr(key(0), by)),
        "DECRBY" if rest.len() == 2 => integer(&rest[1])
            .and_then(|by| {
                by.checked_neg()
                    .ok_or_else(|| Action::Reply(Reply::err("decrement would overflow")))
            })
            .map(|by| incr(key(0), by)),
        "RAFT.STATUS" if rest.is_empty() => Ok(Action::RaftStatus),
        "RAFT.SNAPSHOT" if rest.is_empty() => Ok(Action::Snapshot),
        "RAFT.PARTITION" => rest
            .iter()
            .map(|id| node_id(id))
            .collect::<Result<Vec<_>, _>>()
            .map(Action::Partition),
        "RAFT.HEAL" if rest.is_empty() => Ok(Action::Partition(Vec::new())),
        "RAFT.ADDLEARNER" if rest.len() == 2 => node_id(&rest[0]).map(|id| {
            let address = String::from_utf8_lossy(&rest[1]).into_owned();
            Action::Admin(Admin::AddLearner { id, address })
        }),
        "RAFT.PROMOTE" if rest.len() == 1 => {
            node_id(&rest[0]).map(|id| Action::Admin(Admin::Promote { id }))
        }
        "RAFT.REMOVE" if rest.len() == 1 => {
            node_id(&rest[0]).map(|id| Action::Admin(Admin::Remove { id }))
        }
        "RAFT.TRANSFER" if rest.len() == 1 => {
            node_id(&rest[0]).map(|id| Action::Admin(Admin::Transfer { id }))
        }
        "ECHO" | "DBSIZE" | "GET" | "MGET" | "EXISTS" | "SET" | "MSET" | "DEL" | "UNLINK"
        | "INCR" | "DECR" | "INCRBY" | "DECRBY" | "RAFT.STATUS" | "RAFT.SNAPSHOT" | "RAFT.HEAL"
        | "RAFT.ADDLEARNER" | "RAFT.PROMOTE" | "RAFT.REMOVE" | "RAFT.TRANSFER" => {
            Err(wrong_args(&name))
        }
        _ => {
            let shown: String = String::from_utf8_lossy(&args[0]).chars().take(64).collect();
            Err(Action::Reply(Reply::err(format!(
                "unknown command '{shown}'"
            ))))
        }
    };
    result.unwrap_or_else(|action| action)
}

fn kv(command: Command, shape: Shape) -> Action {
    Action::Kv { command, shape }
}

fn incr(key: Vec<u8>, by: i64) -> Action {
    kv(Command::Increment { key, by }, Shape::Integer)
}

/// CONFIG GET answers the two settings redis-benchmark asks for; anything else is empty.
fn config(rest: &[Vec<u8>]) -> Action {
    let Some(sub) = rest.first() else {
        return wrong_args("config");
    };
    if !sub.eq_ignore_ascii_case(b"GET") {
        return Action::Reply(Reply::err("only CONFIG GET is supported"));
    }
    let mut items = Vec::new();
    for pattern in &rest[1..] {
        let value: Option<&str> = match pattern.to_ascii_lowercase().as_slice() {
            b"save" => Some(""),
            b"appendonly" => Some("no"),
            b"databases" => Some("1"),
            _ => None,
        };
        if let Some(value) = value {
            items.push(Reply::bulk(pattern.clone()));
            items.push(Reply::bulk(value));
        }
    }
    Action::Reply(Reply::Array(Some(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Action {
        let args: Vec<Vec<u8>> = line.split(' ').map(|s| s.as_bytes().to_vec()).collect();
        classify(&args)
    }

    #[test]
    fn table() {
        assert_eq!(run("ping"), Action::Reply(Reply::Simple("PONG".into())));
        assert_eq!(run("ECHO hi"), Action::Reply(Reply::bulk("hi")));
        assert_eq!(
            run("set k v"),
            kv(
                Command::Put {
                    key: b"k".to_vec(),
                    value: b"v".to_vec()
                },
                Shape::Ok
            )
        );
        assert_eq!(
            run("GET k"),
            kv(Command::Get { key: b"k".to_vec() }, Shape::Value)
        );
        assert_eq!(run("DECRBY n 2"), incr(b"n".to_vec(), -2));
        assert_eq!(
            run("INCRBY n x"),
            Action::Reply(Reply::err("value is not an integer or out of range"))
        );
        assert_eq!(
            run("GET"),
            Action::Reply(Reply::err("wrong number of arguments for 'get' command"))
        );
        assert_eq!(
            run("MSET a"),
            Action::Reply(Reply::err("wrong number of arguments for 'mset' command"))
        );
        assert_eq!(
            run("FLUSHALL"),
            Action::Reply(Reply::err("unknown command 'FLUSHALL'"))
        );
        assert_eq!(
            run("RAFT.PROMOTE 0"),
            Action::Reply(Reply::err("node id must be a positive integer"))
        );
        assert_eq!(
            run("raft.transfer 2"),
            Action::Admin(Admin::Transfer { id: NodeId(2) })
        );
        assert!(run("RAFT.SNAPSHOT").is_admin());
        assert_eq!(
            run("RAFT.PARTITION 2 3"),
            Action::Partition(vec![NodeId(2), NodeId(3)])
        );
        assert!(run("RAFT.PARTITION 2").is_admin());
        assert_eq!(run("raft.heal"), Action::Partition(vec![]));
        assert_eq!(
            run("CONFIG GET save"),
            Action::Reply(Reply::Array(Some(vec![
                Reply::bulk("save"),
                Reply::bulk("")
            ])))
        );
    }
}
