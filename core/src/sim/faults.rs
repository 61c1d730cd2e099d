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
    /// Whether it believes it leads.
    pub leader: bool,
}

/// Chance, in permille, that a crash, pause or isolation hits a leader when there is one.
/// Faults aimed at leaders are what make elections with divergent logs (the paper's
/// Figure 8) common instead of rare.
pub const LEADER_TARGET_PERMILLE: u32 = 600;

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

/// A fault after `delay_ms`, undone by the `undo` actions `undo_after_ms` later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayedInjection {
    pub delay_ms: Millis,
    pub fault: Action,
    pub undo_after_ms: Millis,
    pub undo: Vec<Action>,
}

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
        let leaders: Vec<NodeId> = running
            .iter()
            .copied()
            .filter(|id| nodes[(id.0 - 1) as usize].leader)
            .collect();
        let victims = if !leaders.is_empty() && self.rng.chance(LEADER_TARGET_PERMILLE) {
            leaders
        } else {
            running
        };
        let undo_after = self.rng.range(1, o.fault_ms_max.max(1));
        match kind {
            Kind::Partition => {
                let partition = self.partition(nodes.len() as u64, &victims);
                Some((partition, Some((undo_after, Action::Heal))))
            }
            Kind::Crash | Kind::Pause if down >= o.down_max => None,
            Kind::Crash => {
                let node = *self.rng.choose(&victims)?;
                Some((
                    Action::Crash { node },
                    Some((undo_after, Action::Restart { node })),
                ))
            }
            Kind::Pause => {
                let node = *self.rng.choose(&victims)?;
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

    /// A fault aimed at `leader`, which was just elected: an isolation (healed later) or a
    /// crash (restarted later), within `window_ms`, lasting at least `down_ms_min` so that
    /// the others can elect someone meanwhile. Returns (delay, fault, undo).
    ///
    /// Isolation is preferred: it also drops what the leader already sent, so its first
    /// entries may never leave it, which is how logs come to disagree at one index across
    /// terms. A crash lets messages already in flight arrive.
    pub fn churn(
        &mut self,
        leader: NodeId,
        nodes: &[NodeState],
        window_ms: Millis,
        down_ms_min: Millis,
    ) -> Option<DelayedInjection> {
        let o = self.options;
        if !self.rng.chance(o.leader_churn_permille) {
            return None;
        }
        let down = nodes.iter().filter(|n| n.crashed || n.paused).count() as u32;
        // Half the time at once, before the leader's first appends arrive anywhere; else
        // anywhere in the window (after a probe round, after an acknowledgement, ...).
        let after = if self.rng.chance(500) {
            0
        } else {
            self.rng.range(0, window_ms)
        };
        let undo_after = self.rng.range(down_ms_min, o.fault_ms_max.max(down_ms_min));
        let crash = o.crashes && down < o.down_max && (!o.partitions || self.rng.chance(250));
        let (fault, undo) = if crash {
            let undo = vec![Action::Restart { node: leader }];
            (Action::Crash { node: leader }, undo)
        } else if o.partitions {
            // Rejoin only this node: healing every link would also bring back a leader
            // isolated earlier, and the chain of elections would end.
            let undo = (1..=nodes.len() as u64)
                .map(NodeId)
                .filter(|other| *other != leader)
                .flat_map(|other| {
                    [
                        Action::RestoreLink {
                            from: leader,
                            to: other,
                        },
                        Action::RestoreLink {
                            from: other,
                            to: leader,
                        },
                    ]
                })
                .collect();
            (Action::Isolate { node: leader }, undo)
        } else {
            return None;
        };
        Some(DelayedInjection {
            delay_ms: after,
            fault,
            undo_after_ms: undo_after,
            undo,
        })
    }

    fn partition(&mut self, n: u64, victims: &[NodeId]) -> Action {
        let node = |rng: &mut Stream| NodeId(rng.range(1, n));
        match self.rng.range(0, 3) {
            0 => Action::Isolate {
                node: self
                    .rng
                    .choose(victims)
                    .copied()
                    .unwrap_or_else(|| node(&mut self.rng)),
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
