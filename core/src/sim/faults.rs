//! The fault injector of the auto mode. Every `[interval_min_ms, interval_max_ms]` it picks
//! one of the enabled kinds of fault and a victim, applies it as an ordinary [`Action`], and
//! schedules the action that undoes it (heal, restart, resume) after at most
//! `fault_ms_max`. Faults go through the same actions a user has, so the trace and the
//! replay of an auto run read like a manual one.
//!
//! Partitions come in the shapes that matter to Raft: one node isolated (a leader cut off
//! from its followers, or a follower that keeps campaigning), a majority/minority split, a
//! one-way cut (a node that hears but is not heard, or the reverse), and a single cut link
//! with every other node still seeing both ends (a bridge).

use super::action::Action;
use super::options::FaultOptions;
use super::rng::Stream;
use crate::types::{Millis, NodeId};

/// What the injector knows of each node.
#[derive(Clone, Copy, Debug)]
pub struct NodeState {
    pub crashed: bool,
    pub paused: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Partition,
    Crash,
    Pause,
    Skew,
}

#[derive(Debug)]
pub struct Faults {
    options: FaultOptions,
    rng: Stream,
    /// Whether faults are still being injected (off in the liveness phase).
    pub active: bool,
}

/// A fault now, and maybe its undoing later.
pub type Injection = (Action, Option<(Millis, Action)>);

impl Faults {
    pub fn new(options: FaultOptions, seed: u64) -> Faults {
        Faults {
            options,
            rng: Stream::new(seed),
            active: true,
        }
    }

    /// Whether any fault is enabled.
    pub fn any(&self) -> bool {
        let o = &self.options;
        o.partitions || o.crashes || o.pauses || o.clock_skew
    }

    /// How long until the next fault is considered.
    pub fn interval(&mut self) -> Millis {
        self.rng
            .range(self.options.interval_min_ms, self.options.interval_max_ms)
    }

    /// Picks a fault given the nodes' states.
    pub fn pick(&mut self, nodes: &[NodeState]) -> Option<Injection> {
        let o = self.options;
        let kinds: Vec<Kind> = [
            (o.partitions, Kind::Partition),
            (o.crashes, Kind::Crash),
            (o.pauses, Kind::Pause),
            (o.clock_skew, Kind::Skew),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect();
        let kind = *self.rng.choose(&kinds)?;
        let down = nodes.iter().filter(|n| n.crashed || n.paused).count() as u32;
        let running: Vec<NodeId> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.crashed && !n.paused)
            .map(|(i, _)| NodeId(i as u64 + 1))
            .collect();
        let undo_after = self.rng.range(1, o.fault_ms_max.max(1));
        match kind {
            Kind::Partition => Some((
                self.partition(nodes.len() as u64),
                Some((undo_after, Action::Heal)),
            )),
            Kind::Crash | Kind::Pause if down >= o.down_max => None,
            Kind::Crash => {
                let node = *self.rng.choose(&running)?;
                Some((
                    Action::Crash { node },
                    Some((undo_after, Action::Restart { node })),
                ))
            }
            Kind::Pause => {
                let node = *self.rng.choose(&running)?;
                Some((
                    Action::Pause { node },
                    Some((undo_after, Action::Resume { node })),
                ))
            }
            Kind::Skew => {
                let node = NodeId(self.rng.range(1, nodes.len() as u64));
                let skew = u64::from(o.skew_permille_max);
                let permille = self.rng.range(1_000 - skew, 1_000 + skew) as u32;
                Some((Action::SetClockRate { node, permille }, None))
            }
        }
    }

    fn partition(&mut self, n: u64) -> Action {
        let node = |rng: &mut Stream| NodeId(rng.range(1, n));
        match self.rng.range(0, 3) {
            0 => Action::Isolate {
                node: node(&mut self.rng),
            },
            1 => {
                // A random split; with an odd cluster one side is a majority.
                let mut ids: Vec<NodeId> = (1..=n).map(NodeId).collect();
                for i in (1..ids.len()).rev() {
                    let j = self.rng.range(0, i as u64) as usize;
                    ids.swap(i, j);
                }
                let cut = self.rng.range(1, n.saturating_sub(1).max(1)) as usize;
                let minority = ids.split_off(cut.min(ids.len()));
                Action::Partition {
                    groups: vec![ids, minority],
                }
            }
            2 => {
                let from = node(&mut self.rng);
                let to = NodeId((from.0 % n) + 1);
                Action::CutLink { from, to }
            }
            _ => {
                let one = node(&mut self.rng);
                let other = NodeId((one.0 % n) + 1);
                Action::Partition {
                    groups: vec![vec![one], vec![other]],
                }
            }
        }
    }
}
