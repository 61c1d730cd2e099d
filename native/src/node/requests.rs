//! Client commands: where each is answered, and how the answer finds its way back.
//!
//! A command comes from a RESP client, from a peer that forwarded it, or from the gateway (a
//! browser). Local commands are answered at once. Key-value commands and admin operations
//! need the leader: on the leader they go to the replica (or the Raft node); on a follower
//! that knows the leader they are forwarded over the peer connection, and the leader's
//! reply is relayed back. A forwarded command is never forwarded again, so a stale leader
//! hint costs one `NOLEADER` reply instead of a loop.

use super::client::Kind;
use super::command::{classify, Action, Admin, Shape};
use super::event_loop::EventLoop;
use super::outcome::{not_leader, reply_for};
use crate::metrics::Metrics;
use crate::peer::PeerMessage;
use crate::resp::{parse_command, Reply};
use flotilla_core::kv::{Command, Request};
use flotilla_core::raft::ConfChange;
use flotilla_core::replica::Replica;
use flotilla_core::replica::{Outcome, Reply as ReplicaReply};
use flotilla_core::{Millis, NodeId};
use mio::Token;
use std::time::Instant;
use tokio::sync::oneshot;

/// A forwarded command whose reply has not come back in this long is answered with an error
/// (the leader may have crashed with it).
const FORWARD_TIMEOUT_MS: Millis = 5000;

/// Who is waiting for a reply.
#[derive(Debug)]
pub enum Origin {
    Client { token: Token, slot: u64 },
    Peer { from: NodeId, id: u64 },
    Gateway(oneshot::Sender<Reply>),
}

/// A request submitted to the replica.
#[derive(Debug)]
pub struct InFlight {
    origin: Origin,
    shape: Shape,
    started: Instant,
}

/// A command forwarded to the leader.
#[derive(Debug)]
pub struct Forward {
    origin: Origin,
    leader: NodeId,
    deadline: Millis,
    started: Instant,
}

/// Bytes of a reply besides the values: RESP framing, an integer or a short status.
const REPLY_OVERHEAD_BYTES: usize = 16;

/// The reply bytes a key-value command will likely need, from this node's copy of the
/// values (a follower's may be stale: it is an estimate for backpressure, not a promise).
fn reply_bytes_estimate(replica: &Replica, command: &Command) -> usize {
    let value = |key: &[u8]| replica.kv().get(key).map_or(0, <[u8]>::len) + REPLY_OVERHEAD_BYTES;
    match command {
        Command::Get { key } => value(key),
        Command::GetMany { keys } => keys.iter().map(|k| value(k)).sum(),
        _ => REPLY_OVERHEAD_BYTES,
    }
}

impl EventLoop {
    /// Parses and runs every complete command in a client's buffer, as far as it may.
    pub(super) fn run_client_commands(&mut self, token: Token) {
        loop {
            let Some(client) = self.clients.get_mut(&token) else {
                return;
            };
            if !client.accepts_more() {
                return;
            }
            let parsed = parse_command(&client.conn.read_buf);
            match parsed {
                Ok(None) => return,
                Ok(Some((args, used))) => {
                    if args.is_empty() {
                        client.conn.read_buf.drain(..used);
                        continue;
                    }
                    let action = classify(&args);
                    let kind = match &action {
                        Action::Kv { command, .. } if command.is_read() => Some(Kind::Read),
                        Action::Kv { .. } => Some(Kind::Write),
                        Action::Admin(_) => Some(Kind::Admin),
                        _ => None,
                    };
                    if kind.is_some_and(|kind| !client.may_start(kind)) {
                        // Left in the buffer; `resume_clients` retries once replies arrive.
                        return;
                    }
                    client.conn.read_buf.drain(..used);
                    if args[0].eq_ignore_ascii_case(b"QUIT") {
                        client.closing = true;
                    }
                    let reply_bytes = match &action {
                        Action::Kv { command, .. } => reply_bytes_estimate(&self.replica, command),
                        _ => 0,
                    };
                    let Some(client) = self.clients.get_mut(&token) else {
                        return;
                    };
                    let slot = client.open_slot(kind, reply_bytes);
                    Metrics::add(&self.metrics.client_requests, 1);
                    let authed = client.authed;
                    self.run_action(Origin::Client { token, slot }, args, action, true, authed);
                }
                Err(error) => {
                    let slot = client.open_slot(None, 0);
                    client.fill(slot, Reply::err(error));
                    client.closing = true;
                    client.conn.read_buf.clear();
                    return;
                }
            }
        }
    }

    /// A command the gateway received from a browser.
    pub(super) fn gateway_command(
        &mut self,
        args: Vec<Vec<u8>>,
        reply: oneshot::Sender<Reply>,
        authed: bool,
    ) {
        if args.is_empty() {
            let _ = reply.send(Reply::err("empty command"));
            return;
        }
        // Admin commands only for a WebSocket opened with the cluster token.
        let action = classify(&args);
        self.run_action(Origin::Gateway(reply), args, action, true, authed);
    }

    /// A command a follower forwarded to this node.
    pub(super) fn forwarded_command(&mut self, from: NodeId, id: u64, args: Vec<Vec<u8>>) {
        if args.is_empty() {
            return;
        }
        // The follower checked AUTH before forwarding an admin command.
        let action = classify(&args);
        self.run_action(Origin::Peer { from, id }, args, action, false, true);
    }

    fn run_action(
        &mut self,
        origin: Origin,
        args: Vec<Vec<u8>>,
        action: Action,
        may_forward: bool,
        authed: bool,
    ) {
        if action.is_admin() && !authed {
            let reply = Reply::Error("NOAUTH admin commands need AUTH <cluster token>".into());
            return self.answer(origin, reply, None);
        }
        match action {
            Action::Reply(reply) => self.answer(origin, reply, None),
            Action::Auth(token) => {
                let ok = token == self.token.as_bytes();
                if let (true, Origin::Client { token, .. }) = (ok, &origin) {
                    if let Some(client) = self.clients.get_mut(token) {
                        client.authed = true;
                    }
                }
                let reply = if ok {
                    Reply::ok()
                } else {
                    Reply::Error("WRONGPASS invalid cluster token".into())
                };
                self.answer(origin, reply, None);
            }
            Action::Info { section } => {
                let reply = Reply::bulk(self.info(section.as_deref()));
                self.answer(origin, reply, None);
            }
            Action::DbSize => {
                let reply = Reply::Integer(self.replica.kv().len() as i64);
                self.answer(origin, reply, None);
            }
            Action::RaftStatus => {
                let mut status = self.status_json();
                // A digest of the state machine (data and client sessions) at `applied`:
                // replicas that applied the same entries have the same digest. Computed on
                // demand only, since it serializes the whole store.
                let digest =
                    flotilla_core::storage::record::CRC32C.checksum(&self.replica.kv().snapshot());
                status["kv_digest"] = serde_json::json!(digest);
                let reply = Reply::bulk(status.to_string());
                self.answer(origin, reply, None);
            }
            Action::Snapshot => {
                let reply = self.snapshot_now();
                self.answer(origin, reply, None);
            }
            Action::Partition(peers) => {
                self.set_cut(peers.into_iter().collect());
                self.answer(origin, Reply::ok(), None);
            }
            Action::Kv { command, shape } => {
                if !self.replica.node().is_leader() && may_forward {
                    return self.forward(origin, args);
                }
                let request_id = self.next_request_id;
                self.next_request_id += 1;
                if !command.is_read() {
                    Metrics::add(&self.metrics.proposals, 1);
                }
                let started = Instant::now();
                let in_flight = InFlight {
                    origin,
                    shape,
                    started,
                };
                match self.replica.submit(request_id, Request::untagged(command)) {
                    Some(reply) => {
                        let reply = reply_for(shape, reply.outcome);
                        self.answer(in_flight.origin, reply, Some(started));
                    }
                    None => {
                        self.in_flight.insert(request_id, in_flight);
                    }
                }
            }
            Action::Admin(admin) => {
                if !self.replica.node().is_leader() && may_forward {
                    return self.forward(origin, args);
                }
                let reply = self.admin(admin);
                self.answer(origin, reply, None);
            }
        }
    }

    fn admin(&mut self, admin: Admin) -> Reply {
        let now = self.now();
        let node = self.replica.node_mut();
        let change = match admin {
            Admin::Transfer { id } => {
                return match node.transfer_leadership(now, id) {
                    Ok(()) => Reply::ok(),
                    Err(error) => Reply::err(error),
                };
            }
            Admin::AddLearner { id, address } => ConfChange::AddLearner { id, address },
            Admin::Promote { id } => ConfChange::Promote { id },
            Admin::Remove { id } => ConfChange::Remove { id },
        };
        match node.propose_conf_change(change) {
            Ok(index) => Reply::Simple(format!("OK proposed at index {index}")),
            Err(flotilla_core::raft::ProposeError::NotLeader { .. }) => not_leader(),
            Err(error) => Reply::err(error),
        }
    }

    pub(super) fn snapshot_now(&mut self) -> Reply {
        let applied = self.replica.kv().applied();
        let data = self.replica.kv().snapshot();
        match self.replica.node_mut().compact(applied, data) {
            Ok(()) => Reply::Simple(format!("OK snapshot at index {applied}")),
            Err(error) => Reply::err(error),
        }
    }

    /// Sends a command to the leader, or answers NOLEADER if there is none to reach.
    fn forward(&mut self, origin: Origin, args: Vec<Vec<u8>>) {
        let leader = self.replica.node().leader().filter(|&l| l != self.me);
        let Some(leader) = leader else {
            return self.answer(origin, not_leader(), None);
        };
        let id = self.next_forward_id;
        self.next_forward_id += 1;
        let message = PeerMessage::Forward {
            from: self.me,
            id,
            args,
        };
        if !self.send_to_peer(leader, &message) {
            let reply = Reply::Error(format!(
                "NOLEADER the leader {leader} is unreachable; retry"
            ));
            return self.answer(origin, reply, None);
        }
        Metrics::add(&self.metrics.forwarded_requests, 1);
        let deadline = self.now() + FORWARD_TIMEOUT_MS;
        self.forwards.insert(
            id,
            Forward {
                origin,
                leader,
                deadline,
                started: Instant::now(),
            },
        );
    }

    pub(super) fn forward_replied(&mut self, id: u64, reply: Reply) {
        if let Some(forward) = self.forwards.remove(&id) {
            self.answer(forward.origin, reply, Some(forward.started));
        }
    }

    /// Answers forwards to `leader` whose connection broke: their fate is unknown.
    pub(super) fn fail_forwards_to(&mut self, leader: NodeId) {
        let ids: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, f)| f.leader == leader)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let reply = Reply::Error(format!(
                "UNKNOWN lost the connection to the leader {leader}; the command may or may not have applied"
            ));
            self.forward_replied(id, reply);
        }
    }

    pub(super) fn expire_forwards(&mut self, now: Millis) {
        let ids: Vec<u64> = self
            .forwards
            .iter()
            .filter(|(_, f)| now >= f.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let reply = Reply::Error(
                "UNKNOWN the leader did not answer in time; the command may or may not have applied"
                    .into(),
            );
            self.forward_replied(id, reply);
        }
    }

    /// Answers a request the replica settled.
    pub(super) fn settle(&mut self, reply: ReplicaReply) {
        let Some(in_flight) = self.in_flight.remove(&reply.request_id) else {
            return;
        };
        let outcome: Outcome = reply.outcome;
        let answer = reply_for(in_flight.shape, outcome);
        self.answer(in_flight.origin, answer, Some(in_flight.started));
    }

    /// Delivers a reply to whoever waits for it.
    fn answer(&mut self, origin: Origin, reply: Reply, started: Option<Instant>) {
        if let Some(started) = started {
            self.metrics
                .request_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        match origin {
            Origin::Client { token, slot } => {
                if let Some(client) = self.clients.get_mut(&token) {
                    client.fill(slot, reply);
                }
            }
            Origin::Peer { from, id } => {
                self.send_to_peer(from, &PeerMessage::ForwardReply { id, reply });
            }
            Origin::Gateway(sender) => {
                let _ = sender.send(reply);
            }
        }
    }
}
