//! The simulated network between nodes: per-link latency plus per-message jitter (which
//! reorders messages on a link), loss, duplication, and partitions that cut links in one or
//! both directions. A cut link drops what is sent on it and what was in flight on it when it
//! is delivered, as a real partition would.

use super::options::NetworkOptions;
use super::rng::Stream;
use crate::types::{Millis, NodeId};

/// The shortest one-way delay of a peer message, in ms.
pub const DELAY_MS_MIN: Millis = 1;

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Loss,
    Partition,
    Crashed,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Crashed => "crashed",
        }
    }
}

/// What becomes of one message sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Dropped(DropReason),
    /// Delivered after this delay, and maybe a second time after another.
    Delivered(Millis, Option<Millis>),
}

#[derive(Clone, Debug)]
pub struct Network {
    nodes: u32,
    options: NetworkOptions,
    /// Base latency of each directed link, `from * nodes + to` (indexes from 0).
    base_ms: Vec<Millis>,
    /// Whether each directed link is cut.
    cut: Vec<bool>,
    /// Directed links on which appends that carry entries are dropped while everything
    /// else passes: a follower that hears the leader but falls behind (experiments only).
    entries_blocked: Vec<(NodeId, NodeId)>,
    rng: Stream,
}

impl Network {
    pub fn new(nodes: u32, options: NetworkOptions, seed: u64) -> Network {
        let links = (nodes * nodes) as usize;
        let mut network = Network {
            nodes,
            options,
            base_ms: vec![0; links],
            cut: vec![false; links],
            entries_blocked: Vec::new(),
            rng: Stream::new(seed),
        };
        network.draw_latencies();
        network
    }

    fn link(&self, from: NodeId, to: NodeId) -> Option<usize> {
        let (from, to) = (from.0.checked_sub(1)?, to.0.checked_sub(1)?);
        let n = u64::from(self.nodes);
        (from < n && to < n).then(|| (from * n + to) as usize)
    }

    fn draw_latencies(&mut self) {
        let (min, max) = (self.options.latency_min_ms, self.options.latency_max_ms);
        for base in &mut self.base_ms {
            *base = self.rng.range(min, max);
        }
    }

    pub fn options(&self) -> &NetworkOptions {
        &self.options
    }

    /// Decides the fate of a message sent now from `from` to `to`.
    pub fn send(&mut self, from: NodeId, to: NodeId) -> Fate {
        let Some(link) = self.link(from, to) else {
            return Fate::Dropped(DropReason::Partition);
        };
        if self.cut[link] {
            return Fate::Dropped(DropReason::Partition);
        }
        if self.rng.chance(self.options.loss_permille) {
            return Fate::Dropped(DropReason::Loss);
        }
        // Nothing travels in zero time: a message answered by a message must let the clock
        // move, or a storm of them could hold virtual time still.
        let base = self.base_ms[link].max(DELAY_MS_MIN);
        let first = base + self.rng.range(0, self.options.jitter_ms);
        let second = self
            .rng
            .chance(self.options.duplicate_permille)
            .then(|| base + self.rng.range(0, self.options.jitter_ms));
        Fate::Delivered(first, second)
    }

    /// Drops appends carrying entries from `from` to `to` (heartbeats and everything else
    /// still pass) until [`Network::heal`].
    pub fn block_entries(&mut self, from: NodeId, to: NodeId) {
        self.entries_blocked.push((from, to));
    }

    /// Whether an append with entries from `from` to `to` is dropped.
    pub fn entries_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.entries_blocked.contains(&(from, to))
    }

    /// Whether the link from `from` to `to` is cut now.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.link(from, to).is_none_or(|link| self.cut[link])
    }

    pub fn cut_link(&mut self, from: NodeId, to: NodeId) {
        if let Some(link) = self.link(from, to) {
            self.cut[link] = true;
        }
    }

    /// Restores the link from `from` to `to` (one direction).
    pub fn restore_link(&mut self, from: NodeId, to: NodeId) {
        if let Some(link) = self.link(from, to) {
            self.cut[link] = false;
        }
    }

    /// Cuts links between nodes in different groups; nodes in no group keep their links
    /// (a "bridge" that sees both sides).
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        let group_of = |id: NodeId| groups.iter().position(|g| g.contains(&id));
        for from in 1..=u64::from(self.nodes) {
            for to in 1..=u64::from(self.nodes) {
                let (from, to) = (NodeId(from), NodeId(to));
                let (a, b) = (group_of(from), group_of(to));
                if from != to && a.is_some() && b.is_some() && a != b {
                    self.cut_link(from, to);
                }
            }
        }
    }

    pub fn isolate(&mut self, node: NodeId) {
        for other in 1..=u64::from(self.nodes) {
            let other = NodeId(other);
            if other != node {
                self.cut_link(node, other);
                self.cut_link(other, node);
            }
        }
    }

    pub fn heal(&mut self) {
        self.entries_blocked.clear();
        self.cut.iter_mut().for_each(|cut| *cut = false);
    }

    /// Whether any link is cut.
    pub fn is_partitioned(&self) -> bool {
        self.cut.iter().any(|cut| *cut)
    }

    pub fn set_loss(&mut self, permille: u32) {
        self.options.loss_permille = permille.min(1_000);
    }

    pub fn set_duplication(&mut self, permille: u32) {
        self.options.duplicate_permille = permille.min(1_000);
    }

    /// Adds node `nodes + 1` (a server joining the cluster): its links start uncut, with
    /// base latencies drawn now, in a fixed order, so the run stays reproducible.
    pub fn add_node(&mut self) {
        let old = self.nodes as usize;
        let n = old + 1;
        let (min, max) = (self.options.latency_min_ms, self.options.latency_max_ms);
        let mut base_ms = vec![0; n * n];
        let mut cut = vec![false; n * n];
        for from in 0..n {
            for to in 0..n {
                if from < old && to < old {
                    base_ms[from * n + to] = self.base_ms[from * old + to];
                    cut[from * n + to] = self.cut[from * old + to];
                } else {
                    base_ms[from * n + to] = self.rng.range(min, max);
                }
            }
        }
        self.nodes += 1;
        self.base_ms = base_ms;
        self.cut = cut;
    }

    pub fn set_jitter(&mut self, jitter_ms: Millis) {
        self.options.jitter_ms = jitter_ms;
    }

    pub fn set_latency(&mut self, min_ms: Millis, max_ms: Millis) {
        self.options.latency_min_ms = min_ms.min(max_ms);
        self.options.latency_max_ms = max_ms;
        self.draw_latencies();
    }
}
