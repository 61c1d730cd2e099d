//! One simulated server: its replica (gone while crashed), its disk, the durability shadow
//! the checkers read, its clock, and what the driver recipe is waiting for (the fsync of the
//! outstanding Ready).

use super::clock::Clock;
use super::event::Event;
use crate::check::durability::DurableShadow;
use crate::raft::{Config, Ready};
use crate::replica::Replica;
use crate::storage::MemStorage;
use crate::types::{Millis, NodeId};

#[derive(Debug)]
pub struct Host {
    pub id: NodeId,
    pub config: Config,
    /// `None` while crashed.
    pub replica: Option<Replica>,
    pub storage: MemStorage,
    pub shadow: DurableShadow,
    pub clock: Clock,
    pub paused: bool,
    /// Events that arrived while paused, handled in order on resume.
    pub inbox: Vec<Event>,
    /// The Ready whose fsync is in progress.
    pub pending: Option<Ready>,
    /// Identifies the current fsync; bumped by a crash so a late completion is ignored.
    pub fsync_token: u64,
    /// The time of the earliest timer event queued for this node.
    pub timer: Option<Millis>,
    /// How many times the node was started (1 for the first start).
    pub incarnation: u32,
    /// Whether it is one of the founding members (false for a server added by
    /// [`super::Action::AddNode`]).
    pub founding: bool,
}

impl Host {
    pub fn new(config: Config, replica: Replica) -> Host {
        Host {
            id: config.id,
            config,
            replica: Some(replica),
            storage: MemStorage::new(),
            shadow: DurableShadow::new(),
            clock: Clock::default(),
            paused: false,
            inbox: Vec::new(),
            pending: None,
            fsync_token: 0,
            timer: None,
            incarnation: 1,
            founding: true,
        }
    }

    pub fn local(&self, now: Millis) -> Millis {
        self.clock.local(now)
    }
}
