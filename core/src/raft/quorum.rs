//! Majority arithmetic, kept apart from the node so that it can be tested against a naive
//! model (see the property tests).

use crate::types::{Index, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// How many voters make a majority of `voters`.
pub fn majority(voters: usize) -> usize {
    voters / 2 + 1
}

/// The highest index that a majority of voters hold, given each voter's match index.
/// Voters missing from `matched` count as holding nothing.
pub fn committed_index(voters: &BTreeSet<NodeId>, matched: &BTreeMap<NodeId, Index>) -> Index {
    if voters.is_empty() {
        return Index(0);
    }
    let mut indexes: Vec<Index> = voters
        .iter()
        .map(|id| matched.get(id).copied().unwrap_or_default())
        .collect();
    // Sorted descending, the majority-th largest is held by at least a majority.
    indexes.sort_unstable_by(|a, b| b.cmp(a));
    indexes[majority(indexes.len()) - 1]
}

/// The outcome of an election so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    Won,
    Lost,
    Pending,
}

/// Tallies the votes of `voters`: `votes` maps a voter to whether it granted its vote.
pub fn vote_result(voters: &BTreeSet<NodeId>, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let needed = majority(voters.len());
    let granted = voters
        .iter()
        .filter(|id| votes.get(id) == Some(&true))
        .count();
    let rejected = voters
        .iter()
        .filter(|id| votes.get(id) == Some(&false))
        .count();
    if granted >= needed {
        VoteResult::Won
    } else if voters.len() - rejected < needed {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: u64) -> BTreeSet<NodeId> {
        (1..=n).map(NodeId).collect()
    }

    #[test]
    fn majorities() {
        let sizes: Vec<usize> = (1..=7).map(majority).collect();
        assert_eq!(sizes, vec![1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn votes_are_won_lost_or_pending() {
        let voters = ids(5);
        let mut votes = BTreeMap::from([(NodeId(1), true), (NodeId(2), true)]);
        assert_eq!(vote_result(&voters, &votes), VoteResult::Pending);
        votes.insert(NodeId(3), true);
        assert_eq!(vote_result(&voters, &votes), VoteResult::Won);
        let votes = BTreeMap::from([(NodeId(2), false), (NodeId(3), false), (NodeId(4), false)]);
        assert_eq!(vote_result(&voters, &votes), VoteResult::Lost);
    }

    proptest! {
        /// The committed index is exactly the largest index that a majority of voters hold:
        /// checked against counting, for every candidate index.
        #[test]
        fn committed_index_matches_naive_count(matches in prop::collection::vec(0u64..20, 1..8)) {
            let voters = ids(matches.len() as u64);
            let matched: BTreeMap<NodeId, Index> =
                matches.iter().enumerate().map(|(i, m)| (NodeId(i as u64 + 1), Index(*m))).collect();
            let naive = (0..20u64)
                .filter(|&n| matches.iter().filter(|&&m| m >= n).count() >= majority(matches.len()))
                .max()
                .unwrap_or(0);
            prop_assert_eq!(committed_index(&voters, &matched), Index(naive));
        }
    }
}
