//! What the node shows about itself: `/status` and RAFT.STATUS (JSON), INFO (Redis text),
//! and the gateway's side of the loop (status publishing, browser commands).

use super::event_loop::EventLoop;
use crate::gateway::GatewayRequest;
use flotilla_core::Millis;
use serde_json::{json, Value};
use std::fmt::Write;

/// The gateway's copy of the status is refreshed at least this often, and at once when the
/// node reports an event (role, leader, membership change).
const STATUS_PUBLISH_INTERVAL_MS: Millis = 250;

impl EventLoop {
    /// The node's state as JSON: the core's `NodeStatus` fields plus what the driver knows.
    pub(super) fn status_json(&self) -> Value {
        let node = self.replica.node();
        let status = node.status();
        let peers: serde_json::Map<String, Value> = self
            .peers
            .iter()
            .map(|(id, peer)| {
                let progress = status.progress.get(id);
                let value = json!({
                    "address": peer.address,
                    "connected": peer.is_connected(),
                    "match": progress.map(|p| p.match_index.0),
                    "next": progress.map(|p| p.next_index.0),
                    "state": progress.map(|p| p.state.clone()),
                    "dropped": peer.dropped,
                });
                (id.0.to_string(), value)
            })
            .collect();
        json!({
            "id": status.id.0,
            "role": status.role.name(),
            "term": status.term.0,
            "vote": status.vote.map(|v| v.0),
            "leader": status.leader.map(|l| l.0),
            "commit": status.commit.0,
            "applied": status.applied.0,
            "persisted": status.persisted.0,
            "first_index": status.first_index.0,
            "last_index": status.last_index.0,
            "snapshot_index": status.snapshot_index.0,
            "keys": self.replica.kv().len(),
            "membership": status.membership,
            "peers": peers,
            "addresses": self.addresses,
            "clients": self.clients.len(),
            "pending_requests": self.replica.pending(),
            "wal_bytes": self.wal.log_bytes(),
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// INFO's text: a few Redis-style sections plus `# Raft`.
    pub(super) fn info(&self, section: Option<&str>) -> String {
        let status = self.replica.node().status();
        let want =
            |name: &str| section.is_none_or(|s| s == name || s == "all" || s == "everything");
        let mut out = String::new();
        if want("server") {
            let _ = write!(
                out,
                "# Server\r\nredis_version:7.0.0\r\nflotilla_version:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\n\r\n",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                self.addresses.resp.rsplit(':').next().unwrap_or(""),
            );
        }
        if want("clients") {
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\n\r\n",
                self.clients.len()
            );
        }
        if want("raft") {
            let leader = status.leader.map_or(String::new(), |l| l.0.to_string());
            let _ = write!(
                out,
                "# Raft\r\nnode_id:{}\r\nrole:{}\r\nterm:{}\r\nleader:{}\r\ncommit_index:{}\r\n\
                 applied_index:{}\r\nlast_index:{}\r\nsnapshot_index:{}\r\nvoters:{}\r\nlearners:{}\r\n\r\n",
                status.id.0,
                status.role.name(),
                status.term.0,
                leader,
                status.commit.0,
                status.applied.0,
                status.last_index.0,
                status.snapshot_index.0,
                join(status.membership.voters().iter().map(|id| id.0)),
                join(status.membership.learners().iter().map(|id| id.0)),
            );
        }
        if want("keyspace") {
            let _ = write!(
                out,
                "# Keyspace\r\ndb0:keys={}\r\n",
                self.replica.kv().len()
            );
        }
        out
    }

    /// Hands the gateway a fresh status when due (or when `force`d by an event).
    pub(super) fn publish_status(&mut self, force: bool) {
        let now = self.now();
        let due = self
            .status_published_at
            .is_none_or(|at| now >= at + STATUS_PUBLISH_INTERVAL_MS);
        if force || due {
            self.status_published_at = Some(now);
            let status = self.status_json();
            self.gateway.publish_status(status);
        }
        self.publish_live();
    }

    /// Runs what the gateway asked for since the last wake-up.
    pub(super) fn drain_gateway(&mut self) {
        while let Ok(request) = self.gateway.requests.try_recv() {
            match request {
                GatewayRequest::Command {
                    args,
                    reply,
                    authed,
                } => self.gateway_command(args, reply, authed),
                request => self.live_request(request),
            }
        }
    }
}

fn join(ids: impl Iterator<Item = u64>) -> String {
    ids.map(|id| id.to_string()).collect::<Vec<_>>().join(",")
}
