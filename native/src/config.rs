//! `flotilla node` settings: command-line flags, optionally read from a TOML file first.
//!
//! A flag given on the command line wins over the file; the file wins over the defaults.
//! The file uses the flags' long names with dashes or underscores:
//!
//! ```toml
//! id = 1
//! peers = ["2=127.0.0.1:7002", "3=127.0.0.1:7003"]
//! data = "data/node1"
//! election-timeout-min-ms = 300
//! ```

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use flotilla_core::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run one Flotilla node: Raft peers over TCP, RESP clients, HTTP/WebSocket gateway.
#[derive(Clone, Debug, clap::Parser)]
pub struct NodeArgs {
    /// Read settings from this TOML file (flags given here override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// This node's id (1, 2, ...), unique in the cluster.
    #[arg(long, default_value_t = 1)]
    pub id: u64,
    /// The other voters of the initial cluster, as ID=HOST:PORT of their peer address
    /// (repeat or separate with commas). Empty: a single-node cluster, or a node that will
    /// join as a learner (see --join).
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Start with an empty configuration and wait to be added (RAFT.ADDLEARNER on the leader).
    #[arg(long)]
    pub join: bool,
    /// Address for Raft traffic from other nodes.
    #[arg(long, default_value = "127.0.0.1:7001")]
    pub peer_addr: SocketAddr,
    /// Address for RESP clients (redis-cli, redis-benchmark, telnet).
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub resp_addr: SocketAddr,
    /// Address of the HTTP gateway: the web page, /status, /metrics, /ws.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Data folder: write-ahead log, hard state, snapshot.
    #[arg(long, default_value = "data/node1")]
    pub data: PathBuf,
    /// Folder of the built web app served at / (skipped with a notice if it is missing).
    #[arg(long, default_value = "dist")]
    pub web_dir: PathBuf,
    /// Lower bound of the randomized election timeout, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout, in milliseconds.
    #[arg(long, default_value_t = 600)]
    pub election_timeout_max_ms: u64,
    /// Interval between leader heartbeats, in milliseconds.
    #[arg(long, default_value_t = 75)]
    pub heartbeat_ms: u64,
    /// Snapshot the state machine (and compact the log) after this many applied entries.
    #[arg(long, default_value_t = flotilla_core::replica::SNAPSHOT_ENTRIES_DEFAULT)]
    pub snapshot_entries: u64,
    /// Cluster token: required by AUTH before admin commands (RAFT.*).
    #[arg(long, env = "FLOTILLA_TOKEN", default_value = "flotilla")]
    pub token: String,
    /// Most bytes queued for one peer before messages to it are dropped.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub peer_write_bytes_max: usize,
    /// Most RESP client connections at once; more are answered with an error and closed.
    #[arg(long, default_value_t = 10_000)]
    pub clients_max: usize,
    /// Disconnect a RESP client that has sent nothing for this many milliseconds while
    /// nothing of it was in flight (0: never).
    #[arg(long, default_value_t = 300_000)]
    pub client_idle_timeout_ms: u64,
    /// Web origins (such as https://ops.example.com) allowed to open the WebSocket, besides
    /// pages served from this machine and from the gateway itself (repeat or separate with
    /// commas).
    #[arg(long, value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Control address of the `flotilla cluster` that started this node (set by it): pause,
    /// resume, crash and restart requests from pages go there. Without it they are refused.
    #[arg(long)]
    pub supervisor: Option<String>,
}

impl NodeArgs {
    /// Parses from the process's arguments, merging in `--config` when given.
    pub fn resolve(self) -> Result<NodeArgs, String> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
        // Re-parse: file values first, then the real command line on top of them.
        let mut argv = vec!["node".to_string()];
        for (key, value) in &table {
            let flag = format!("--{}", key.replace('_', "-"));
            match value {
                toml::Value::Array(items) => {
                    for item in items {
                        argv.push(flag.clone());
                        argv.push(toml_scalar(item)?);
                    }
                }
                toml::Value::Boolean(true) => argv.push(flag),
                toml::Value::Boolean(false) => {}
                scalar => {
                    argv.push(flag);
                    argv.push(toml_scalar(scalar)?);
                }
            }
        }
        let from_file = NodeArgs::command()
            .try_get_matches_from(&argv)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let cli = NodeArgs::command()
            .try_get_matches_from(std::env::args().skip(1))
            .ok();
        let mut merged = NodeArgs::from_arg_matches(&from_file).map_err(|e| e.to_string())?;
        if let Some(cli) = cli {
            merged.override_from(&cli, self);
        }
        Ok(merged)
    }

    /// Copies every setting the user gave explicitly on the command line.
    fn override_from(&mut self, cli: &ArgMatches, given: NodeArgs) {
        let explicit = |name: &str| {
            cli.value_source(name)
                .is_some_and(|s| s == ValueSource::CommandLine)
                || cli
                    .value_source(name)
                    .is_some_and(|s| s == ValueSource::EnvVariable)
        };
        macro_rules! take {
            ($($field:ident),*) => {$(
                if explicit(stringify!($field)) {
                    self.$field = given.$field.clone();
                }
            )*};
        }
        take!(
            id,
            peers,
            join,
            peer_addr,
            resp_addr,
            http_addr,
            data,
            web_dir,
            election_timeout_min_ms,
            election_timeout_max_ms,
            heartbeat_ms,
            snapshot_entries,
            token,
            peer_write_bytes_max,
            clients_max,
            client_idle_timeout_ms,
            allowed_origins,
            supervisor
        );
    }

    /// The initial voters: this node and `--peers`, by id, with their peer addresses.
    pub fn initial_voters(&self) -> Result<BTreeMap<NodeId, String>, String> {
        let mut voters = BTreeMap::new();
        if self.join {
            return Ok(voters);
        }
        voters.insert(NodeId(self.id), self.peer_addr.to_string());
        for peer in &self.peers {
            let (id, address) = peer
                .split_once('=')
                .ok_or_else(|| format!("--peers wants ID=HOST:PORT, got {peer:?}"))?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| format!("bad node id in {peer:?}"))?;
            if id == 0 || id == self.id {
                return Err(format!(
                    "peer id {id} in {peer:?} is 0 or this node's own id"
                ));
            }
            address
                .trim()
                .parse::<SocketAddr>()
                .map_err(|e| format!("bad address in {peer:?}: {e}"))?;
            voters.insert(NodeId(id), address.trim().to_string());
        }
        Ok(voters)
    }
}

fn toml_scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("unsupported value in config file: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn peers_parse_into_voters() {
        let args = NodeArgs::parse_from([
            "node",
            "--id",
            "2",
            "--peer-addr",
            "127.0.0.1:7002",
            "--peers",
            "1=127.0.0.1:7001,3=127.0.0.1:7003",
        ]);
        let voters = args.initial_voters().unwrap();
        assert_eq!(voters.len(), 3);
        assert_eq!(voters[&NodeId(2)], "127.0.0.1:7002");
        let bad = NodeArgs::parse_from(["node", "--peers", "x"]);
        assert!(bad.initial_voters().is_err());
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_toml_file_supplies_settings() {
        let path =
            std::env::temp_dir().join(format!("flotilla-config-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "id = 3\npeers = [\"1=127.0.0.1:7001\", \"2=127.0.0.1:7002\"]\n\
             election_timeout_min_ms = 500\nelection-timeout-max-ms = 900\njoin = false\n",
        )
        .unwrap();
        let args = NodeArgs::parse_from(["node", "--config", path.to_str().unwrap()]);
        let resolved = args.resolve().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(resolved.id, 3);
        assert_eq!(resolved.election_timeout_min_ms, 500);
        assert_eq!(resolved.election_timeout_max_ms, 900);
        assert_eq!(resolved.peers.len(), 2);
        // Untouched settings keep their defaults.
        assert_eq!(resolved.heartbeat_ms, 75);
    }
}
