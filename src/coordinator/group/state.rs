//! The classic group state machine (Kafka's `ClassicGroupState`).
//!
//! ```text
//!             +--------------------------------------------------+
//!             |                                                  v
//!  Empty --> PreparingRebalance --> CompletingRebalance --> Stable
//!    ^          |  ^    ^                  |                  |
//!    +----------+  |    +------------------+                  |
//!                  +------------------------------------------+
//!  any state --> Dead
//! ```
//!
//! - Empty: no members (it may still hold committed offsets). A join starts a rebalance.
//! - PreparingRebalance: waiting for members to (re)join, until all have or the rebalance
//!   timeout passes; a first join after Empty waits `group.initial.rebalance.delay.ms`.
//!   Ends in Empty if nobody joined, else in CompletingRebalance with a new generation.
//! - CompletingRebalance: waiting for the leader's SyncGroup with the assignment.
//! - Stable: assignment distributed; members heartbeat. A join with new metadata, a leave or
//!   a session expiry starts a rebalance.
//! - Dead: deleted, or expired with no offsets left; about to be removed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Every state, for ListGroups filters.
    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];

    /// Kafka's name for the state, as DescribeGroups and ListGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// Whether `self -> next` is a legal transition.
    pub fn can_transition_to(self, next: GroupState) -> bool {
        use GroupState::*;
        match next {
            Empty => self == PreparingRebalance,
            PreparingRebalance => matches!(self, Empty | Stable | CompletingRebalance),
            CompletingRebalance => self == PreparingRebalance,
            Stable => self == CompletingRebalance,
            Dead => true,
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::GroupState::*;
    use super::*;

    #[test]
    fn exactly_kafkas_transitions_are_legal() {
        let legal = [
            (Empty, PreparingRebalance),
            (PreparingRebalance, Empty),
            (PreparingRebalance, CompletingRebalance),
            (CompletingRebalance, Stable),
            (CompletingRebalance, PreparingRebalance),
            (Stable, PreparingRebalance),
        ];
        for from in GroupState::ALL {
            for to in GroupState::ALL {
                let expected = to == Dead || legal.contains(&(from, to));
                assert_eq!(from.can_transition_to(to), expected, "{from} -> {to}");
            }
        }
    }
}
