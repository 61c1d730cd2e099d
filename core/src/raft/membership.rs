//! Single-server membership changes.
//!
//! Flotilla changes the configuration one server at a time (Ongaro's thesis, §4.1): any two
//! configurations that differ by one voter have overlapping majorities, so no joint consensus
//! is needed. A configuration takes effect on a node as soon as its entry is appended, not when
//! it commits; a leader allows only one uncommitted change at a time. New servers join as
//! learners, receive the log without voting, and are promoted once they have caught up, so
//! that adding a voter never stalls commits while it replays the log.

use super::message::{ConfChange, Member, MemberRole, Membership};
use crate::types::NodeId;
use std::collections::BTreeSet;

/// Why a membership change cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("{0} is already a member")]
    AlreadyMember(NodeId),
    #[error("{0} is not a member")]
    NotMember(NodeId),
    #[error("{0} is not a learner")]
    NotLearner(NodeId),
    #[error("cannot remove {0}: it is the last voter")]
    LastVoter(NodeId),
    #[error("node id 0 is reserved")]
    ZeroId,
}

impl Membership {
    /// A configuration in which every given node votes, with the given addresses.
    pub fn with_voters<'a>(voters: impl IntoIterator<Item = (NodeId, &'a str)>) -> Membership {
        let members = voters
            .into_iter()
            .map(|(id, address)| {
                (
                    id,
                    Member {
                        role: MemberRole::Voter,
                        address: address.to_string(),
                    },
                )
            })
            .collect();
        Membership { members }
    }

    pub fn voters(&self) -> BTreeSet<NodeId> {
        self.ids_with(MemberRole::Voter)
    }

    pub fn learners(&self) -> BTreeSet<NodeId> {
        self.ids_with(MemberRole::Learner)
    }

    fn ids_with(&self, role: MemberRole) -> BTreeSet<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| m.role == role)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.members
            .get(&id)
            .is_some_and(|m| m.role == MemberRole::Voter)
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.members.contains_key(&id)
    }

    /// Checks that `change` can be applied to this configuration.
    pub fn validate(&self, change: &ConfChange) -> Result<(), MembershipError> {
        match change {
            ConfChange::AddLearner { id, .. } if id.0 == 0 => Err(MembershipError::ZeroId),
            ConfChange::AddLearner { id, .. } if self.contains(*id) => {
                Err(MembershipError::AlreadyMember(*id))
            }
            ConfChange::AddLearner { .. } => Ok(()),
            ConfChange::Promote { id } => match self.members.get(id) {
                None => Err(MembershipError::NotMember(*id)),
                Some(m) if m.role != MemberRole::Learner => Err(MembershipError::NotLearner(*id)),
                Some(_) => Ok(()),
            },
            ConfChange::Remove { id } if !self.contains(*id) => {
                Err(MembershipError::NotMember(*id))
            }
            ConfChange::Remove { id } if self.is_voter(*id) && self.voters().len() == 1 => {
                Err(MembershipError::LastVoter(*id))
            }
            ConfChange::Remove { .. } => Ok(()),
        }
    }

    /// Applies a change. Changes that do not validate (possible only in entries from a
    /// faulty peer) leave the configuration as it is.
    pub fn apply(&mut self, change: &ConfChange) {
        if self.validate(change).is_err() {
            return;
        }
        match change {
            ConfChange::AddLearner { id, address } => {
                let member = Member {
                    role: MemberRole::Learner,
                    address: address.clone(),
                };
                self.members.insert(*id, member);
            }
            ConfChange::Promote { id } => {
                if let Some(member) = self.members.get_mut(id) {
                    member.role = MemberRole::Voter;
                }
            }
            ConfChange::Remove { id } => {
                self.members.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_lifecycle() {
        let mut m = Membership::with_voters([(NodeId(1), "a")]);
        let add = ConfChange::AddLearner {
            id: NodeId(2),
            address: "b".into(),
        };
        m.apply(&add);
        assert_eq!(
            m.validate(&add),
            Err(MembershipError::AlreadyMember(NodeId(2)))
        );
        assert_eq!(m.learners(), BTreeSet::from([NodeId(2)]));
        m.apply(&ConfChange::Promote { id: NodeId(2) });
        assert_eq!(m.voters(), BTreeSet::from([NodeId(1), NodeId(2)]));
        m.apply(&ConfChange::Remove { id: NodeId(1) });
        assert_eq!(m.voters(), BTreeSet::from([NodeId(2)]));
        let last = ConfChange::Remove { id: NodeId(2) };
        assert_eq!(
            m.validate(&last),
            Err(MembershipError::LastVoter(NodeId(2)))
        );
    }
}
