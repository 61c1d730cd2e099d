//! A manual cluster for golden scripts: nodes, a network that holds every message until a
//! script delivers it, and per-node disks whose writes stay pending until a script (or
//! automatic mode) persists them.
//!
//! Commands (arguments in brackets are optional; `NODES` is a list such as `1 2`, default all):
//!
//! ```text
//! cluster nodes=N [prevote=B] [checkquorum=B] [election=MIN-MAX] [heartbeat=MS]
//!         [inflight=N] [append_entries=N] [chunk=BYTES] [bug=NAME] [learners=N]
//! tick [ms=MS]              advance time, firing every timer due on the way and
//!                           delivering messages instantly (a perfect network)
//! timeout NODES             fire the election timer of NODES now
//! campaign NODES            start an election now (skipping nothing)
//! deliver [from=N] [to=N]   deliver the messages queued right now (one round)
//! drop [from=N] [to=N]      drop queued messages
//! stabilize [NODES]         deliver and persist until nothing moves
//! partition NODES           cut NODES off from the others (both ways); `heal` undoes it
//! crash NODES               lose unpersisted writes and queued messages; the node is down
//! restart NODES             rebuild from what is durable
//! hold NODES / release NODES   keep Readys unpersisted until `persist` / persist and stop
//! persist NODES             make the held Ready durable: fsync, send, apply, advance
//! put N KEY VALUE / del N KEY / get N KEY (linearizable read via ReadIndex)
//! add-learner N ID / promote N ID / remove N ID / transfer N TO / snapshot NODES
//! status [NODES] / log [NODES] / kv [NODES]
//! timers [NODES]            when each node's election timer fires (absolute virtual ms)
//! ```

use super::format::{fmt_entry, fmt_envelope, fmt_event};
use flotilla_core::kv::{Command, KvStore, Request};
use flotilla_core::raft::{
    ConfChange, Config, Entry, Envelope, HardState, Membership, Node, PlantedBug, Ready, RoleKind,
    Snapshot,
};
use flotilla_core::{Index, Millis, NodeId};
use goldenscript::{Command as ScriptCommand, Context};
use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt::Write as _;

type Res<T> = Result<T, Box<dyn Error>>;

/// What a node's disk holds durably.
#[derive(Clone, Debug, Default)]
struct Disk {
    hard_state: HardState,
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
}

impl Disk {
    /// Performs the writes a Ready asks for.
    fn write(&mut self, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            self.entries.clear();
            self.snapshot = Some(snapshot.clone());
        }
        if let Some(snapshot) = &ready.compacted {
            self.entries.retain(|e| e.index > snapshot.meta.index);
            self.snapshot = Some(snapshot.clone());
        }
        if let Some(from) = ready.truncate_from {
            self.entries.retain(|e| e.index < from);
        }
        for entry in &ready.entries {
            self.entries.retain(|e| e.index < entry.index);
            self.entries.push(entry.clone());
        }
        if let Some(hard_state) = ready.hard_state {
            self.hard_state = hard_state;
        }
    }
}

/// One node of the test cluster.
struct TestNode {
    node: Node,
    disk: Disk,
    kv: KvStore,
    /// A Ready taken but not yet persisted (held nodes only).
    held: Option<Ready>,
    /// Whether Readys wait for an explicit `persist`.
    holding: bool,
    up: bool,
    /// Read requests waiting for ReadIndex, by request id: the key to read.
    reads: BTreeMap<u64, Vec<u8>>,
}

/// The golden-script runner.
#[derive(Default)]
pub struct Harness {
    nodes: BTreeMap<NodeId, TestNode>,
    initial: Membership,
    config_template: Option<Config>,
    now: Millis,
    queue: Vec<Envelope>,
    /// Pairs (from, to) whose messages are dropped.
    cut: BTreeSet<(NodeId, NodeId)>,
    next_request: u64,
    /// Every entry any node ever reported committed: index → term. A committed entry must
    /// never change (State Machine Safety); the harness prints a violation if one does.
    committed: BTreeMap<Index, flotilla_core::Term>,
    /// The leader seen in each term. Two leaders in one term break Election Safety; the
    /// harness prints a violation if it ever sees them.
    leaders: BTreeMap<flotilla_core::Term, NodeId>,
}

impl goldenscript::Runner for Harness {
    type Command = ScriptCommand;

    fn run(&mut self, command: &ScriptCommand, _context: &Context) -> Res<String> {
        let mut out = String::new();
        let mut args = command.consume_args();
        match command.name.as_str() {
            "cluster" => self.cluster(&mut args)?,
            "tick" => {
                let ms: Millis = args.take_key("ms").map_or(Ok(0), str::parse)?;
                args.reject_next()?;
                self.tick(ms, &mut out)?;
            }
            "timeout" | "campaign" => {
                for id in self.ids(&mut args)? {
                    let now = self.now;
                    self.node_mut(id)?.node.campaign(now);
                }
            }
            "deliver" | "drop" => {
                let from = args.take_key("from").map(parse_id).transpose()?;
                let to = args.take_key("to").map(parse_id).transpose()?;
                args.reject_next()?;
                let deliver = command.name == "deliver";
                self.deliver(from, to, deliver, &mut out)?;
            }
            "stabilize" => {
                args.reject_next()?;
                self.stabilize(&mut out)?;
            }
            "partition" => {
                let group: BTreeSet<NodeId> = self.ids(&mut args)?.into_iter().collect();
                for &a in self.nodes.keys() {
                    for &b in self.nodes.keys() {
                        if group.contains(&a) != group.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
            }
            "heal" => self.cut.clear(),
            "sever" => {
                // Cuts the link between two nodes only, both ways.
                let ids = self.ids(&mut args)?;
                let [a, b] = ids[..] else {
                    return Err("sever takes two nodes".into());
                };
                self.cut.insert((a, b));
                self.cut.insert((b, a));
            }
            "unreachable" => {
                // The driver saw the connection with the leader break.
                for id in self.ids(&mut args)? {
                    let now = self.now;
                    let node = &mut self.node_mut(id)?.node;
                    let before = node.status().election_deadline;
                    node.leader_unreachable(now);
                    let deadline = node.status().election_deadline;
                    if deadline == before {
                        writeln!(out, "{id} election timer unchanged (now {now})")?;
                    } else {
                        writeln!(
                            out,
                            "{id} election timer at {deadline}, was {before} (now {now})"
                        )?;
                    }
                }
            }
            "crash" => {
                for id in self.ids(&mut args)? {
                    self.crash(id, &mut out)?;
                }
            }
            "restart" => {
                for id in self.ids(&mut args)? {
                    self.restart(id, &mut out)?;
                }
            }
            "hold" | "release" => {
                let holding = command.name == "hold";
                for id in self.ids(&mut args)? {
                    self.node_mut(id)?.holding = holding;
                    if !holding && self.node_mut(id)?.held.is_some() {
                        self.persist(id, &mut out)?;
                    }
                }
            }
            "persist" => {
                for id in self.ids(&mut args)? {
                    self.persist(id, &mut out)?;
                }
            }
            "put" | "del" | "get" => self.client(command.name.as_str(), &mut args, &mut out)?,
            "add-learner" | "promote" | "remove" | "transfer" => {
                self.admin(command.name.as_str(), &mut args, &mut out)?
            }
            "snapshot" => {
                for id in self.ids(&mut args)? {
                    let node = self.node_mut(id)?;
                    let applied = node.kv.applied();
                    let data = node.kv.snapshot();
                    match node.node.compact(applied, data) {
                        Ok(()) => writeln!(out, "{id} snapshot at {applied}")?,
                        Err(e) => writeln!(out, "{id} snapshot refused: {e}")?,
                    }
                }
            }
            "status" => {
                for id in self.ids(&mut args)? {
                    self.print_status(id, &mut out)?;
                }
            }
            "timers" => {
                for id in self.ids(&mut args)? {
                    self.print_timer(id, &mut out)?;
                }
            }
            "log" => {
                for id in self.ids(&mut args)? {
                    self.print_log(id, &mut out)?;
                }
            }
            "kv" => {
                for id in self.ids(&mut args)? {
                    self.print_kv(id, &mut out)?;
                }
            }
            "set-log" => self.set_log(&mut args, &mut out)?,
            name => return Err(format!("unknown command {name}").into()),
        }
        self.process_all(&mut out)?;
        self.check_committed(&mut out)?;
        Ok(out)
    }
}

fn parse_id(s: &str) -> Res<NodeId> {
    let digits = s.trim_start_matches('n');
    Ok(NodeId(digits.parse()?))
}

fn parse_bool(s: &str) -> Res<bool> {
    Ok(s.parse()?)
}

impl Harness {
    fn cluster(&mut self, args: &mut goldenscript::ArgumentConsumer<'_>) -> Res<()> {
        let count: u64 = args
            .take_key("nodes")
            .ok_or("nodes= is required")?
            .parse()?;
        let learners: u64 = args.take_key("learners").map_or(Ok(0), str::parse)?;
        let mut template = Config::new(NodeId(1));
        template.pre_vote = args.take_key("prevote").map_or(Ok(true), parse_bool)?;
        template.check_quorum = args.take_key("checkquorum").map_or(Ok(true), parse_bool)?;
        if let Some(range) = args.take_key("election") {
            let (min, max) = range.split_once('-').ok_or("election=MIN-MAX")?;
            template.election_timeout_min_ms = min.parse()?;
            template.election_timeout_max_ms = max.parse()?;
        }
        if let Some(hb) = args.take_key("heartbeat") {
            template.heartbeat_interval_ms = hb.parse()?;
        }
        if let Some(n) = args.take_key("inflight") {
            template.inflight_appends_max = n.parse()?;
        }
        if let Some(n) = args.take_key("append_entries") {
            template.append_entries_max = n.parse()?;
        }
        if let Some(n) = args.take_key("chunk") {
            template.snapshot_chunk_bytes_max = n.parse()?;
        }
        if let Some(name) = args.take_key("bug") {
            template.planted_bug = Some(PlantedBug::from_name(name).ok_or("unknown bug")?);
        }
        args.reject_next()?;
        let voters = (1..=count).map(|i| (NodeId(i), ""));
        self.initial = Membership::with_voters(voters);
        self.config_template = Some(template);
        for i in 1..=count + learners {
            let membership = if i <= count {
                self.initial.clone()
            } else {
                Membership::default()
            };
            self.add_node(NodeId(i), membership)?;
        }
        Ok(())
    }

    /// Replaces node N's durable log with no-op entries of the given terms (for the paper's
    /// figures) and restarts it: `set-log N terms=1,1,4 [term=T]`.
    fn set_log(
        &mut self,
        args: &mut goldenscript::ArgumentConsumer<'_>,
        out: &mut String,
    ) -> Res<()> {
        let id = parse_id(args.next_pos().ok_or("node is required")?)?;
        let terms: Vec<u64> = match args.take_key("terms") {
            Some("") | None => Vec::new(),
            Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        };
        let term = args.take_key("term").map_or(Ok(0), str::parse)?;
        args.reject_next()?;
        let initial = self.initial.clone();
        let node = self.node_mut(id)?;
        // Entry 1 carries the cluster's configuration, as it does in every cluster.
        node.disk.entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| Entry {
                index: Index(i as u64 + 1),
                term: flotilla_core::Term(*t),
                payload: if i == 0 {
                    flotilla_core::raft::Payload::Bootstrap(initial.clone())
                } else {
                    flotilla_core::raft::Payload::Noop
                },
            })
            .collect();
        let max_term = terms.iter().copied().max().unwrap_or(0).max(term);
        node.disk.hard_state = HardState {
            term: flotilla_core::Term(max_term),
            vote: None,
            commit: Index(0),
        };
        self.restart(id, out)
    }

    /// Records what every node has committed and who led each term, and reports any
    /// committed entry that changed and any term with two leaders.
    fn check_committed(&mut self, out: &mut String) -> Res<()> {
        for (id, node) in &self.nodes {
            if node.node.is_leader() {
                let term = node.node.term();
                let first = *self.leaders.entry(term).or_insert(*id);
                if first != *id {
                    writeln!(
                        out,
                        "!! SAFETY VIOLATION: {id} and {first} both lead term {term}"
                    )?;
                }
            }
            let log = node.node.log();
            for entry in log.slice(log.first_index(), node.node.commit_index()) {
                match self.committed.get(&entry.index) {
                    Some(term) if *term != entry.term => writeln!(
                        out,
                        "!! SAFETY VIOLATION: {id} holds {}@{} but {}@{term} was committed",
                        entry.index, entry.term, entry.index
                    )?,
                    Some(_) => {}
                    None => {
                        self.committed.insert(entry.index, entry.term);
                    }
                }
            }
        }
        Ok(())
    }

    fn config_for(&self, id: NodeId) -> Res<Config> {
        let mut config = self.config_template.clone().ok_or("no cluster yet")?;
        config.id = id;
        config.seed = id.0;
        Ok(config)
    }

    fn add_node(&mut self, id: NodeId, membership: Membership) -> Res<()> {
        let node = Node::new(self.config_for(id)?, membership, self.now)?;
        let test_node = TestNode {
            node,
            disk: Disk::default(),
            kv: KvStore::new(),
            held: None,
            holding: false,
            up: true,
            reads: BTreeMap::new(),
        };
        self.nodes.insert(id, test_node);
        Ok(())
    }

    /// Node ids from the positional arguments, or all nodes.
    fn ids(&self, args: &mut goldenscript::ArgumentConsumer<'_>) -> Res<Vec<NodeId>> {
        let mut ids = Vec::new();
        while let Some(arg) = args.next_pos() {
            ids.push(parse_id(arg)?);
        }
        args.reject_next()?;
        if ids.is_empty() {
            ids = self.nodes.keys().copied().collect();
        }
        Ok(ids)
    }

    fn node_mut(&mut self, id: NodeId) -> Res<&mut TestNode> {
        self.nodes
            .get_mut(&id)
            .ok_or_else(|| format!("no node {id}").into())
    }

    /// Takes and handles every node's Ready until none has one.
    fn process_all(&mut self, out: &mut String) -> Res<()> {
        loop {
            let mut progressed = false;
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                progressed |= self.process(id, out)?;
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    /// Handles one Ready of node `id`, if it has one. Held nodes send what may go at once
    /// and keep the rest for `persist`.
    fn process(&mut self, id: NodeId, out: &mut String) -> Res<bool> {
        let node = self.node_mut(id)?;
        if !node.up || node.held.is_some() {
            return Ok(false);
        }
        let Some(mut ready) = node.node.ready() else {
            return Ok(false);
        };
        for event in &ready.events {
            writeln!(out, "{}", fmt_event(id, event))?;
        }
        let messages = std::mem::take(&mut ready.messages);
        let holding = node.holding;
        self.enqueue(messages, out)?;
        if holding {
            let node = self.node_mut(id)?;
            if ready.must_sync || ready.hard_state.is_some() {
                writeln!(out, "{id} holds {}", fmt_writes(&ready))?;
            }
            node.held = Some(ready);
        } else {
            self.complete(id, ready, out)?;
        }
        Ok(true)
    }

    /// Persists a Ready, sends what waited for it, applies, and advances.
    fn complete(&mut self, id: NodeId, ready: Ready, out: &mut String) -> Res<()> {
        let now = self.now;
        let node = self.node_mut(id)?;
        node.disk.write(&ready);
        let writes = fmt_writes(&ready);
        if !writes.is_empty() {
            writeln!(out, "{id} persist {writes}")?;
        }
        if let Some(snapshot) = &ready.snapshot {
            node.kv = KvStore::restore(&snapshot.data)?;
        }
        let mut lines = Vec::new();
        for entry in &ready.committed {
            let response = node.kv.apply_entry(entry);
            let answer = response.map(|r| format!(" → {r:?}")).unwrap_or_default();
            lines.push(format!("{id} apply {}{answer}", fmt_entry(entry)));
        }
        for read in &ready.reads {
            lines.push(format!(
                "{id} read r{} safe at {}",
                read.request_id, read.index
            ));
        }
        node.node.advance(now, ready.id);
        let pending: Vec<(u64, Index)> = ready
            .reads
            .iter()
            .map(|r| (r.request_id, r.index))
            .collect();
        for (request_id, index) in pending {
            let node = self.node_mut(id)?;
            if let Some(key) = node.reads.remove(&request_id) {
                let value = if node.kv.applied() >= index {
                    format!("{:?}", node.kv.get(&key).map(String::from_utf8_lossy))
                } else {
                    "not yet applied".to_string()
                };
                lines.push(format!("{id} read r{request_id} → {value}"));
            }
        }
        for line in lines {
            writeln!(out, "{line}")?;
        }
        self.enqueue(ready.persisted_messages, out)?;
        Ok(())
    }

    fn enqueue(&mut self, messages: Vec<Envelope>, out: &mut String) -> Res<()> {
        for envelope in messages {
            writeln!(out, "{}", fmt_envelope(&envelope, self.is_cut(&envelope)))?;
            if !self.is_cut(&envelope) {
                self.queue.push(envelope);
            }
        }
        Ok(())
    }

    fn is_cut(&self, envelope: &Envelope) -> bool {
        self.cut.contains(&(envelope.from, envelope.to))
            || !self.nodes.get(&envelope.to).is_some_and(|n| n.up)
    }

    fn persist(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let node = self.node_mut(id)?;
        match node.held.take() {
            Some(ready) => self.complete(id, ready, out),
            None => Ok(writeln!(out, "{id} has nothing to persist")?),
        }
    }

    /// Delivers the messages queued now (those they cause wait for the next round).
    fn deliver(
        &mut self,
        from: Option<NodeId>,
        to: Option<NodeId>,
        deliver: bool,
        out: &mut String,
    ) -> Res<()> {
        let queue = std::mem::take(&mut self.queue);
        let (chosen, rest): (Vec<Envelope>, Vec<Envelope>) = queue
            .into_iter()
            .partition(|e| from.is_none_or(|f| e.from == f) && to.is_none_or(|t| e.to == t));
        self.queue = rest;
        for envelope in chosen {
            if !deliver {
                writeln!(out, "{}", fmt_envelope(&envelope, true))?;
                continue;
            }
            let now = self.now;
            let to = envelope.to;
            let Some(node) = self.nodes.get_mut(&to).filter(|n| n.up) else {
                continue;
            };
            if let Err(error) = node.node.step(now, envelope) {
                writeln!(out, "{to} refused message: {error}")?;
            }
            self.process_all(out)?;
        }
        Ok(())
    }

    fn stabilize(&mut self, out: &mut String) -> Res<()> {
        for _ in 0..1000 {
            self.process_all(out)?;
            if self.queue.is_empty() {
                return Ok(());
            }
            self.deliver(None, None, true, out)?;
        }
        Err("stabilize did not settle in 1000 rounds".into())
    }

    /// Advances time by `ms`, firing timers at their deadlines in order.
    fn tick(&mut self, ms: Millis, out: &mut String) -> Res<()> {
        let until = self.now + ms;
        loop {
            let next = self
                .nodes
                .values()
                .filter(|n| n.up)
                .map(|n| n.node.next_deadline())
                .min()
                .unwrap_or(until);
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            for node in self.nodes.values_mut().filter(|n| n.up) {
                if node.node.next_deadline() <= now {
                    node.node.tick(now);
                }
            }
            // Messages travel instantly while time runs: the network is perfect but for
            // partitions and crashes.
            self.stabilize(out)?;
        }
        self.now = until;
        Ok(())
    }

    fn crash(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let node = self.node_mut(id)?;
        node.up = false;
        let lost = node.held.take().map(|r| fmt_writes(&r)).unwrap_or_default();
        self.queue.retain(|e| e.to != id);
        if lost.is_empty() {
            writeln!(out, "{id} crashed")?;
        } else {
            writeln!(out, "{id} crashed, losing {lost}")?;
        }
        Ok(())
    }

    fn restart(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let config = self.config_for(id)?;
        let initial = if id.0 <= self.initial.members.len() as u64 {
            self.initial.clone()
        } else {
            Membership::default()
        };
        let now = self.now;
        let node = self.node_mut(id)?;
        let disk = node.disk.clone();
        node.node = Node::restore(
            config,
            initial,
            disk.hard_state,
            disk.snapshot.clone(),
            disk.entries,
            now,
        )?;
        node.kv = match &disk.snapshot {
            Some(snapshot) => KvStore::restore(&snapshot.data)?,
            None => KvStore::new(),
        };
        node.up = true;
        node.held = None;
        node.holding = false;
        node.reads.clear();
        writeln!(out, "{id} restarted at term {}", node.node.term())?;
        Ok(())
    }

    fn client(
        &mut self,
        name: &str,
        args: &mut goldenscript::ArgumentConsumer<'_>,
        out: &mut String,
    ) -> Res<()> {
        let id = parse_id(args.next_pos().ok_or("node is required")?)?;
        let key = args
            .next_pos()
            .ok_or("key is required")?
            .as_bytes()
            .to_vec();
        let command = match name {
            "put" => {
                let value = args
                    .next_pos()
                    .ok_or("value is required")?
                    .as_bytes()
                    .to_vec();
                Command::Put { key, value }
            }
            "del" => Command::Delete { key },
            _ => {
                args.reject_next()?;
                self.next_request += 1;
                let request_id = self.next_request;
                let node = self.node_mut(id)?;
                match node.node.read(request_id) {
                    Ok(()) => {
                        node.reads.insert(request_id, key);
                        writeln!(out, "{id} read r{request_id} started")?;
                    }
                    Err(e) => writeln!(out, "{id} read refused: {e}")?,
                }
                return Ok(());
            }
        };
        args.reject_next()?;
        let node = self.node_mut(id)?;
        match node.node.propose(Request::untagged(command).encode()) {
            Ok((index, term)) => writeln!(out, "{id} proposed at {index}@{term}")?,
            Err(e) => writeln!(out, "{id} proposal refused: {e}")?,
        }
        Ok(())
    }

    fn admin(
        &mut self,
        name: &str,
        args: &mut goldenscript::ArgumentConsumer<'_>,
        out: &mut String,
    ) -> Res<()> {
        let id = parse_id(args.next_pos().ok_or("node is required")?)?;
        let target = parse_id(args.next_pos().ok_or("target is required")?)?;
        args.reject_next()?;
        if name == "add-learner" && !self.nodes.contains_key(&target) {
            self.add_node(target, Membership::default())?;
        }
        let now = self.now;
        let node = self.node_mut(id)?;
        let result = match name {
            "transfer" => node.node.transfer_leadership(now, target).map(|()| None),
            _ => {
                let change = match name {
                    "add-learner" => ConfChange::AddLearner {
                        id: target,
                        address: String::new(),
                    },
                    "promote" => ConfChange::Promote { id: target },
                    _ => ConfChange::Remove { id: target },
                };
                node.node.propose_conf_change(change).map(Some)
            }
        };
        match result {
            Ok(Some(index)) => writeln!(out, "{id} proposed {name} {target} at {index}")?,
            Ok(None) => writeln!(out, "{id} transferring leadership to {target}")?,
            Err(e) => writeln!(out, "{id} {name} refused: {e}")?,
        }
        Ok(())
    }

    /// When the election timer of `id` fires. A leader has none (it sends heartbeats).
    fn print_timer(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let now = self.now;
        let node = self.node_mut(id)?;
        let s = node.node.status();
        if !node.up {
            writeln!(out, "{id} (down)")?;
        } else if s.role == RoleKind::Leader {
            writeln!(out, "{id}@{} leader: no election timer", s.term)?;
        } else {
            writeln!(
                out,
                "{id}@{} {}: election timer fires at {} ms (now {now} ms)",
                s.term,
                s.role.name(),
                s.election_deadline,
            )?;
        }
        Ok(())
    }

    fn print_status(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let node = self.node_mut(id)?;
        let s = node.node.status();
        let up = if node.up { "" } else { " (down)" };
        let vote = s.vote.map_or("-".to_string(), |v| v.to_string());
        let leader = s.leader.map_or("-".to_string(), |v| v.to_string());
        writeln!(
            out,
            "{id}@{} {}{up} vote={vote} leader={leader} last={} commit={} applied={} persisted={} snapshot={}",
            s.term,
            s.role.name(),
            s.last_index,
            s.commit,
            s.applied,
            s.persisted,
            s.snapshot_index,
        )?;
        let voters: Vec<String> = s
            .membership
            .voters()
            .iter()
            .map(|v| v.to_string())
            .collect();
        let learners: Vec<String> = s
            .membership
            .learners()
            .iter()
            .map(|v| v.to_string())
            .collect();
        if !learners.is_empty() || s.role == RoleKind::Leader {
            writeln!(
                out,
                "  voters=[{}] learners=[{}]",
                voters.join(" "),
                learners.join(" ")
            )?;
        }
        for (peer, p) in &s.progress {
            writeln!(
                out,
                "  {peer} match={} next={} {}",
                p.match_index, p.next_index, p.state
            )?;
        }
        Ok(())
    }

    fn print_log(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let node = self.node_mut(id)?;
        let log = node.node.log();
        let snapshot = log.snapshot_index();
        if snapshot.0 > 0 {
            writeln!(out, "{id} snapshot at {}@{}", snapshot, log.snapshot_term())?;
        }
        let commit = node.node.commit_index();
        let persisted = log.persisted();
        for entry in log.entries() {
            let mark = match (entry.index <= commit, entry.index <= persisted) {
                (true, true) => "",
                (true, false) => " (committed, not durable)",
                (false, true) => " (uncommitted)",
                (false, false) => " (uncommitted, not durable)",
            };
            writeln!(out, "{id} {}{mark}", fmt_entry(entry))?;
        }
        if log.entries().is_empty() {
            writeln!(out, "{id} log empty")?;
        }
        Ok(())
    }

    fn print_kv(&mut self, id: NodeId, out: &mut String) -> Res<()> {
        let node = self.node_mut(id)?;
        let pairs: Vec<String> = node
            .kv
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                )
            })
            .collect();
        writeln!(
            out,
            "{id} kv applied={} [{}]",
            node.kv.applied(),
            pairs.join(" ")
        )?;
        Ok(())
    }
}

/// The writes of a Ready, in one line.
fn fmt_writes(ready: &Ready) -> String {
    let mut parts = Vec::new();
    if let Some(hs) = ready.hard_state {
        let vote = hs.vote.map_or("-".to_string(), |v| v.to_string());
        parts.push(format!("term={} vote={vote} commit={}", hs.term, hs.commit));
    }
    if let Some(from) = ready.truncate_from {
        parts.push(format!("truncate from {from}"));
    }
    if let (Some(first), Some(last)) = (ready.entries.first(), ready.entries.last()) {
        parts.push(format!(
            "append {}@{}..{}@{}",
            first.index, first.term, last.index, last.term
        ));
    }
    if let Some(s) = &ready.snapshot {
        parts.push(format!("install snapshot {}@{}", s.meta.index, s.meta.term));
    }
    if let Some(s) = &ready.compacted {
        parts.push(format!("compact to {}@{}", s.meta.index, s.meta.term));
    }
    if ready.must_sync && !parts.is_empty() {
        parts.push("fsync".to_string());
    }
    parts.join(", ")
}
