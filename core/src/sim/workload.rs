//! The clients. Each simulated client runs one operation at a time on a small key set
//! (get, put, delete, compare-and-set), as a real client library would: it sends the request
//! to the node it believes leads, follows "not leader" hints, retries elsewhere on a timeout
//! or a dropped request, and tags writes with a session `(client, seq)` so that a retry
//! applies at most once. It gives up after `operation_timeout_ms`.
//!
//! Every operation goes into the history with its invocation and completion as logical times
//! (the simulator's event sequence numbers) and what the client learnt: a response, "surely
//! failed" (every attempt was refused before it could take effect), or "unknown" (some
//! attempt may have taken effect: it timed out, or the node lost leadership). That history
//! is what the linearizability checker reads.
//!
//! A console client, used by manual actions (the web page's request box), sends single,
//! untagged requests and records them in the same history.

use super::action::ClientCommand;
use super::describe::{Out, Req};
use super::event::Event;
use super::options::WorkloadOptions;
use super::queue::EventQueue;
use super::rng::Stream;
use super::trace::Trace;
use crate::check::linearizability::{KvInput, KvOutput, Operation};
use crate::kv::{Command, Request, Response};
use crate::replica::Outcome;
use crate::types::{Millis, NodeId};
use std::collections::BTreeMap;

/// The client number of the console client.
pub const CONSOLE: u32 = 0xffff;
/// Most attempts for one operation (a bound on retries, besides the operation timeout).
pub const ATTEMPTS_MAX: u32 = 1_000;
/// Pause before retrying after a refusal without a leader hint, drawn from `[1, this]` ms.
pub const RETRY_BACKOFF_MS_MAX: Millis = 50;

/// What the workload needs from the simulator while it handles an event.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub queue: &'a mut EventQueue<Event>,
    pub trace: &'a mut Trace,
    pub now: Millis,
    /// The logical time of the event being handled.
    pub seq: u64,
}

#[derive(Clone, Debug)]
struct InFlight {
    /// Index of the operation in the history.
    op: usize,
    seq: u64,
    attempt: u32,
    request: Request,
    started: Millis,
    /// Some attempt may have taken effect.
    maybe_applied: bool,
    /// An attempt is out and its answer or timeout is awaited.
    awaiting: bool,
}

#[derive(Clone, Debug)]
struct Client {
    /// Index of the node it sends to next (from 0).
    target: u32,
    seq: u64,
    current: Option<InFlight>,
    /// The last value it saw per key, to make compare-and-sets that may succeed.
    known: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

#[derive(Debug)]
pub struct Workload {
    options: WorkloadOptions,
    nodes: u32,
    client_latency_ms: Millis,
    rng: Stream,
    clients: Vec<Client>,
    history: Vec<Operation>,
    /// Console requests in flight: request seq → history index.
    console: BTreeMap<u64, usize>,
    console_seq: u64,
    /// Whether clients start new operations.
    pub accepting: bool,
}

/// Request ids carry the client, the operation and the attempt.
fn request_id(client: u32, seq: u64, attempt: u32) -> u64 {
    (u64::from(client) << 48) | ((seq & 0xffff_ffff) << 16) | u64::from(attempt & 0xffff)
}

fn parse_request_id(id: u64) -> (u32, u64, u32) {
    (
        (id >> 48) as u32,
        (id >> 16) & 0xffff_ffff,
        (id & 0xffff) as u32,
    )
}

impl Workload {
    pub fn new(
        options: WorkloadOptions,
        nodes: u32,
        client_latency_ms: Millis,
        seed: u64,
    ) -> Workload {
        let mut rng = Stream::new(seed);
        let clients = (0..options.clients)
            .map(|_| Client {
                target: rng.range(0, u64::from(nodes) - 1) as u32,
                seq: 0,
                current: None,
                known: BTreeMap::new(),
            })
            .collect();
        Workload {
            options,
            nodes,
            client_latency_ms,
            rng,
            clients,
            history: Vec::new(),
            console: BTreeMap::new(),
            console_seq: 0,
            accepting: true,
        }
    }

    pub fn history(&self) -> &[Operation] {
        &self.history
    }

    pub fn clients(&self) -> u32 {
        self.clients.len() as u32
    }

    /// Operations not yet settled.
    pub fn in_flight(&self) -> u64 {
        let clients = self.clients.iter().filter(|c| c.current.is_some()).count();
        (clients + self.console.len()) as u64
    }

    /// One more server that clients may send to (a server added to the cluster).
    pub fn add_node(&mut self) {
        self.nodes += 1;
    }

    /// Starts (from now) or stops the clients: the manual mode's autopilot. A client in the
    /// middle of an operation finishes it first.
    pub fn set_autopilot(&mut self, on: bool, queue: &mut EventQueue<Event>, now: Millis) {
        self.accepting = on;
        if on {
            self.begin(queue, now);
        }
    }

    /// Schedules every client's first operation.
    pub fn begin(&mut self, queue: &mut EventQueue<Event>, now: Millis) {
        for client in 0..self.clients() {
            let think = self.rng.range(0, self.options.think_ms_max);
            queue.push(now + think, Event::ClientStart { client });
        }
    }

    /// A client starts its next operation.
    pub fn start(&mut self, client: u32, ctx: &mut Ctx<'_>) {
        let index = client as usize;
        if !self.accepting || self.clients[index].current.is_some() {
            return;
        }
        let (command, input) = self.next_command(client);
        let key = command.keys()[0].to_vec();
        let state = &mut self.clients[index];
        state.seq += 1;
        let seq = state.seq;
        let session = u64::from(client) + 1;
        let request = if command.is_read() {
            Request::untagged(command)
        } else {
            Request::tagged(session, seq, command)
        };
        let op = self.history.len();
        self.history.push(Operation {
            client: session,
            key,
            input,
            output: KvOutput::Unknown,
            invoke: ctx.seq,
            complete: None,
        });
        ctx.trace
            .line(ctx.now, format_args!("c{session} invoke {}", Req(&request)));
        state.current = Some(InFlight {
            op,
            seq,
            attempt: 0,
            request,
            started: ctx.now,
            maybe_applied: false,
            awaiting: false,
        });
        self.send_attempt(client, ctx);
    }

    fn next_command(&mut self, client: u32) -> (Command, KvInput) {
        let key = format!("k{}", self.rng.range(0, u64::from(self.options.keys) - 1)).into_bytes();
        let seq = self.clients[client as usize].seq + 1;
        let value = format!("c{}.{seq}", client + 1).into_bytes();
        let w = &self.options;
        let roll = self.rng.range(0, 999) as u32;
        if roll < w.read_permille || client < w.readers {
            return (Command::Get { key }, KvInput::Get);
        }
        if roll < w.read_permille + w.delete_permille {
            return (Command::Delete { key }, KvInput::Delete);
        }
        if roll < w.read_permille + w.delete_permille + w.cas_permille {
            let known = self.clients[client as usize].known.get(&key).cloned();
            let expected = match known {
                Some(value) if self.rng.chance(800) => value,
                _ => None,
            };
            let new = (!self.rng.chance(100)).then_some(value);
            let input = KvInput::CompareAndSet {
                expected: expected.clone(),
                new: new.clone(),
            };
            return (Command::CompareAndSet { key, expected, new }, input);
        }
        let input = KvInput::Put(value.clone());
        (Command::Put { key, value }, input)
    }

    fn send_attempt(&mut self, client: u32, ctx: &mut Ctx<'_>) {
        let state = &mut self.clients[client as usize];
        let Some(flight) = state.current.as_mut() else {
            return;
        };
        if flight.attempt >= ATTEMPTS_MAX {
            self.give_up(client, ctx);
            return;
        }
        flight.attempt += 1;
        flight.awaiting = true;
        let id = request_id(client, flight.seq, flight.attempt);
        ctx.queue.push(
            ctx.now + self.client_latency_ms,
            Event::ClientArrive {
                node: state.target,
                request_id: id,
                request: flight.request.clone(),
            },
        );
        ctx.queue.push(
            ctx.now + self.options.request_timeout_ms,
            Event::ClientTimeout {
                client,
                seq: flight.seq,
                attempt: flight.attempt,
            },
        );
    }

    /// A node's answer reached its client.
    pub fn on_reply(&mut self, request_id: u64, outcome: Outcome, ctx: &mut Ctx<'_>) {
        let (client, seq, _) = parse_request_id(request_id);
        if client == CONSOLE {
            self.on_console_reply(seq, outcome, ctx);
            return;
        }
        let Some(state) = self.clients.get_mut(client as usize) else {
            return;
        };
        let Some(flight) = state.current.as_mut().filter(|f| f.seq == seq) else {
            return;
        };
        flight.awaiting = false;
        let is_read = flight.request.command.is_read();
        ctx.trace.line(
            ctx.now,
            format_args!("c{} reply {}", client + 1, Out(&outcome)),
        );
        let retry_in = match outcome {
            Outcome::Done(response) => {
                let output = to_output(&response, is_read);
                self.complete(client, Some(output), ctx);
                return;
            }
            Outcome::NotLeader {
                leader: Some(leader),
            } if leader.0 >= 1 => {
                state.target = (leader.0 - 1).min(u64::from(self.nodes) - 1) as u32;
                0
            }
            Outcome::Unknown => {
                flight.maybe_applied = true;
                state.target = self.rng.range(0, u64::from(self.nodes) - 1) as u32;
                self.rng.range(1, RETRY_BACKOFF_MS_MAX)
            }
            _ => {
                state.target = self.rng.range(0, u64::from(self.nodes) - 1) as u32;
                self.rng.range(1, RETRY_BACKOFF_MS_MAX)
            }
        };
        ctx.queue
            .push(ctx.now + retry_in, Event::ClientRetry { client, seq });
    }

    /// One attempt went unanswered for `request_timeout_ms`.
    pub fn on_timeout(&mut self, client: u32, seq: u64, attempt: u32, ctx: &mut Ctx<'_>) {
        let nodes = u64::from(self.nodes);
        let Some(state) = self.clients.get_mut(client as usize) else {
            return;
        };
        let Some(flight) = state.current.as_mut() else {
            return;
        };
        if flight.seq != seq || flight.attempt != attempt || !flight.awaiting {
            return;
        }
        flight.awaiting = false;
        flight.maybe_applied = true;
        state.target =
            (u64::from(state.target) + self.rng.range(1, nodes.max(2) - 1)) as u32 % self.nodes;
        ctx.trace
            .line(ctx.now, format_args!("c{} timeout", client + 1));
        self.on_retry(client, seq, ctx);
    }

    /// Time to retry the current operation.
    pub fn on_retry(&mut self, client: u32, seq: u64, ctx: &mut Ctx<'_>) {
        let Some(flight) = self.clients[client as usize].current.as_ref() else {
            return;
        };
        if flight.seq != seq || flight.awaiting {
            return;
        }
        if ctx.now >= flight.started + self.options.operation_timeout_ms {
            self.give_up(client, ctx);
        } else {
            self.send_attempt(client, ctx);
        }
    }

    fn give_up(&mut self, client: u32, ctx: &mut Ctx<'_>) {
        let Some(flight) = self.clients[client as usize].current.as_ref() else {
            return;
        };
        let write = !flight.request.command.is_read();
        let output = if write && flight.maybe_applied {
            KvOutput::Unknown
        } else {
            KvOutput::Failed
        };
        ctx.trace.line(
            ctx.now,
            format_args!("c{} gives up: {output:?}", client + 1),
        );
        self.history[flight.op].output = output;
        self.clients[client as usize].current = None;
        self.schedule_next(client, ctx);
    }

    fn complete(&mut self, client: u32, output: Option<KvOutput>, ctx: &mut Ctx<'_>) {
        let state = &mut self.clients[client as usize];
        let Some(flight) = state.current.take() else {
            return;
        };
        let operation = &mut self.history[flight.op];
        if let Some(output) = output {
            let seen = match &output {
                KvOutput::Value(value) => Some(value.clone()),
                KvOutput::Ok => match &operation.input {
                    KvInput::Put(value) => Some(Some(value.clone())),
                    _ => None,
                },
                KvOutput::Deleted(_) => Some(None),
                KvOutput::CasResult { current, .. } => Some(current.clone()),
                _ => None,
            };
            if let Some(value) = seen {
                state.known.insert(operation.key.clone(), value);
            }
            operation.output = output;
            operation.complete = Some(ctx.seq);
        }
        self.schedule_next(client, ctx);
    }

    fn schedule_next(&mut self, client: u32, ctx: &mut Ctx<'_>) {
        if self.accepting {
            let think = self.rng.range(0, self.options.think_ms_max);
            ctx.queue
                .push(ctx.now + think.max(1), Event::ClientStart { client });
        }
    }

    /// A request from the console client (a manual action), sent to `node`.
    pub fn console_request(&mut self, node: NodeId, command: &ClientCommand, ctx: &mut Ctx<'_>) {
        let (command, input) = console_command(command);
        self.console_seq += 1;
        let seq = self.console_seq;
        let key = command.keys()[0].to_vec();
        self.console.insert(seq, self.history.len());
        let request = Request::untagged(command);
        ctx.trace
            .line(ctx.now, format_args!("console → {node} {}", Req(&request)));
        self.history.push(Operation {
            client: u64::from(CONSOLE),
            key,
            input,
            output: if request.command.is_read() {
                KvOutput::Failed
            } else {
                KvOutput::Unknown
            },
            invoke: ctx.seq,
            complete: None,
        });
        let node = (node.0.saturating_sub(1)).min(u64::from(self.nodes) - 1) as u32;
        ctx.queue.push(
            ctx.now + self.client_latency_ms,
            Event::ClientArrive {
                node,
                request_id: request_id(CONSOLE, seq, 1),
                request,
            },
        );
    }

    fn on_console_reply(&mut self, seq: u64, outcome: Outcome, ctx: &mut Ctx<'_>) {
        let Some(op) = self.console.remove(&seq) else {
            return;
        };
        ctx.trace
            .line(ctx.now, format_args!("console reply {}", Out(&outcome)));
        let operation = &mut self.history[op];
        let is_read = matches!(operation.input, KvInput::Get);
        match outcome {
            Outcome::Done(response) => {
                operation.output = to_output(&response, is_read);
                operation.complete = Some(ctx.seq);
            }
            Outcome::Unknown => operation.output = KvOutput::Unknown,
            _ => operation.output = KvOutput::Failed,
        }
    }

    /// The run ends: what is still in flight stays unknown (writes) or failed (reads).
    pub fn finish(&mut self) {
        self.accepting = false;
        for client in &mut self.clients {
            if let Some(flight) = client.current.take() {
                let write = !flight.request.command.is_read();
                self.history[flight.op].output = if write {
                    KvOutput::Unknown
                } else {
                    KvOutput::Failed
                };
            }
        }
        self.console.clear();
    }
}

/// What the client learnt from a response. A refusal by the state machine (an error) leaves
/// a write's outcome unknown and a read failed.
fn to_output(response: &Response, is_read: bool) -> KvOutput {
    match response {
        Response::Value(value) => KvOutput::Value(value.clone()),
        Response::Ok => KvOutput::Ok,
        Response::Deleted(existed) => KvOutput::Deleted(*existed),
        Response::CasResult { ok, current } => KvOutput::CasResult {
            ok: *ok,
            current: current.clone(),
        },
        _ if is_read => KvOutput::Failed,
        _ => KvOutput::Unknown,
    }
}

fn console_command(command: &ClientCommand) -> (Command, KvInput) {
    let bytes = |s: &str| s.as_bytes().to_vec();
    match command {
        ClientCommand::Get { key } => (Command::Get { key: bytes(key) }, KvInput::Get),
        ClientCommand::Put { key, value } => (
            Command::Put {
                key: bytes(key),
                value: bytes(value),
            },
            KvInput::Put(bytes(value)),
        ),
        ClientCommand::Delete { key } => (Command::Delete { key: bytes(key) }, KvInput::Delete),
        ClientCommand::Cas { key, expected, new } => {
            let expected = expected.as_deref().map(bytes);
            let new = new.as_deref().map(bytes);
            let input = KvInput::CompareAndSet {
                expected: expected.clone(),
                new: new.clone(),
            };
            (
                Command::CompareAndSet {
                    key: bytes(key),
                    expected,
                    new,
                },
                input,
            )
        }
    }
}
