//! One classic consumer group: membership, the rebalance protocol and committed offsets.
//!
//! Pure state: every method takes the time (`now_ms`) and nothing here does I/O or sleeps, so
//! the unit tests drive time by hand. Requests that must wait (a JoinGroup until the
//! rebalance completes, a SyncGroup until the leader's assignment is stored) get a
//! [`Reply::Pending`] receiver; the member keeps the sender and the group answers through it.
//! Deadlines (session timeouts, the rebalance timeout, `group.initial.rebalance.delay.ms`,
//! members that never sync) are checked by [`Group::tick`]; [`Group::next_deadline`] says when
//! the next one falls.
//!
//! Persistence is asked for, not done: a transition that must be written to
//! `__consumer_offsets` sets a [`StoreReason`], and the coordinator writes
//! [`Group::metadata_value`] and reports back through [`Group::on_stored`]. The leader's
//! assignment is handed out only after it is stored. Committed offsets change only through
//! [`Group::replay_offset`], after their record is in the log.
//!
//! The logic follows Kafka's classic `GroupCoordinator`, including its error codes.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::oneshot;

use super::records::{GroupMetadataValue, MemberMetadataValue, OffsetCommitValue};
use super::state::GroupState;
use crate::error::Error;
use crate::limits::NEW_MEMBER_JOIN_TIMEOUT_MS;
use crate::types::TopicPartition;

/// The protocol type of Kafka consumers; only its subscriptions are parsed (for offset expiry
/// and OffsetDelete).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Broker settings the group state machine obeys.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i32,
    pub max_size: usize,
    pub offset_metadata_max_bytes: usize,
    pub offsets_retention_ms: i64,
}

/// One protocol a member supports: an assignor name and its subscription metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A JoinGroup, decoded.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED and its id.
    pub require_known_member_id: bool,
}

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The answer to a JoinGroup.
#[derive(Debug)]
pub struct JoinResult {
    pub error: Option<Error>,
    pub member_id: String,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    /// KIP-814: the (static) leader must not compute a new assignment.
    pub skip_assignment: bool,
    /// With `skip_assignment`: the leader id clients before JoinGroup v9 get instead, so
    /// that they do not take themselves for the leader.
    pub leader_id_before_v9: Option<String>,
    /// Every member with its metadata, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn failed(member_id: &str, error: Error) -> Self {
        Self {
            error: Some(error),
            member_id: member_id.to_owned(),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader_id: String::new(),
            skip_assignment: false,
            leader_id_before_v9: None,
            members: Vec::new(),
        }
    }
}

/// A SyncGroup, decoded.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug)]
pub struct SyncResult {
    pub error: Option<Error>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn failed(error: Error) -> Self {
        Self {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// An answer now, or a receiver for an answer the group gives later.
#[derive(Debug)]
pub enum Reply<T> {
    Ready(T),
    Pending(oneshot::Receiver<T>),
}

/// Why the group wants its metadata written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReason {
    /// The new membership (an empty generation, a replaced static member).
    Membership,
    /// The leader's assignment for `generation`: handed out once stored.
    Assignment { generation: i32 },
}

/// One member.
#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    awaiting_join: Option<oneshot::Sender<JoinResult>>,
    awaiting_sync: Option<oneshot::Sender<SyncResult>>,
    /// Has not completed a join yet.
    is_new: bool,
    last_heartbeat_ms: i64,
}

impl Member {
    fn from_join(member_id: &str, request: JoinRequest, now_ms: i64) -> Self {
        Self {
            member_id: member_id.to_owned(),
            group_instance_id: request.group_instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            session_timeout_ms: request.session_timeout_ms,
            protocol_type: request.protocol_type,
            protocols: request.protocols,
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: true,
            last_heartbeat_ms: now_ms,
        }
    }

    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|candidate| candidate.name == protocol)
            .map(|candidate| candidate.metadata.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|candidate| candidate.name == protocol)
    }

    /// When the member's session ends unless it heartbeats; `None` while a join or sync
    /// keeps it alive.
    fn session_deadline_ms(&self) -> Option<i64> {
        if self.awaiting_join.is_some() {
            self.is_new.then_some(self.last_heartbeat_ms.saturating_add(NEW_MEMBER_JOIN_TIMEOUT_MS))
        } else if self.awaiting_sync.is_some() {
            None
        } else {
            Some(self.last_heartbeat_ms.saturating_add(i64::from(self.session_timeout_ms)))
        }
    }

    fn answer_join(&mut self, result: JoinResult) {
        if let Some(sender) = self.awaiting_join.take() {
            let _ = sender.send(result);
        }
    }

    fn answer_sync(&mut self, result: SyncResult) {
        if let Some(sender) = self.awaiting_sync.take() {
            let _ = sender.send(result);
        }
    }
}

/// What DescribeGroups reports of a member.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// What DescribeGroups reports of a group.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol_data: String,
    pub members: Vec<MemberDescription>,
}

/// The initial rebalance delay in progress (Kafka's `InitialDelayedJoin`).
#[derive(Debug, Clone, Copy)]
struct InitialDelay {
    /// What is left of the rebalance timeout for further extensions.
    remaining_ms: i64,
    /// A member joined during the current delay.
    new_member_added: bool,
}

/// One classic group.
#[derive(Debug)]
pub struct Group {
    id: String,
    state: GroupState,
    state_since_ms: i64,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    generation_id: i32,
    leader_id: Option<String>,
    members: IndexMap<String, Member>,
    /// group.instance.id -> member id.
    static_members: HashMap<String, String>,
    /// Members told MEMBER_ID_REQUIRED, with the deadline for their second join.
    pending_members: HashMap<String, i64>,
    /// Members of this generation that have not sent SyncGroup yet.
    pending_sync: HashSet<String>,
    join_deadline_ms: Option<i64>,
    initial_delay: Option<InitialDelay>,
    sync_deadline_ms: Option<i64>,
    /// Topics the members subscribe to, when the protocol is `consumer` and parsable.
    subscribed_topics: Option<HashSet<String>>,
    offsets: BTreeMap<TopicPartition, OffsetCommitValue>,
    store: Option<StoreReason>,
    /// `group.initial.rebalance.delay.ms`.
    initial_rebalance_delay_ms: i32,
}

impl Group {
    /// A new, empty group.
    pub fn new(id: &str, initial_rebalance_delay_ms: i32, now_ms: i64) -> Self {
        Self {
            id: id.to_owned(),
            state: GroupState::Empty,
            state_since_ms: now_ms,
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: IndexMap::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            join_deadline_ms: None,
            initial_delay: None,
            sync_deadline_ms: None,
            subscribed_topics: None,
            offsets: BTreeMap::new(),
            store: None,
            initial_rebalance_delay_ms,
        }
    }

    /// The group as its last stored metadata describes it (loading `__consumer_offsets`):
    /// Stable with those members, or Empty. Members' sessions start at `now_ms`.
    pub fn from_metadata_value(
        id: &str,
        value: GroupMetadataValue,
        initial_rebalance_delay_ms: i32,
        now_ms: i64,
    ) -> Self {
        let mut group = Self::new(id, initial_rebalance_delay_ms, now_ms);
        group.protocol_type = Some(value.protocol_type).filter(|kind| !kind.is_empty());
        group.generation_id = value.generation;
        group.protocol_name = value.protocol;
        group.leader_id = value.leader;
        if value.current_state_timestamp_ms >= 0 {
            group.state_since_ms = value.current_state_timestamp_ms;
        }
        let protocol_name = group.protocol_name.clone().unwrap_or_default();
        for member in value.members {
            if let Some(instance) = &member.group_instance_id {
                group.static_members.insert(instance.clone(), member.member_id.clone());
            }
            let loaded = Member {
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id,
                client_id: member.client_id,
                client_host: member.client_host,
                rebalance_timeout_ms: member.rebalance_timeout_ms,
                session_timeout_ms: member.session_timeout_ms,
                protocol_type: group.protocol_type.clone().unwrap_or_default(),
                protocols: vec![Protocol {
                    name: protocol_name.clone(),
                    metadata: member.subscription,
                }],
                assignment: member.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                last_heartbeat_ms: now_ms,
            };
            group.members.insert(member.member_id, loaded);
        }
        if !group.members.is_empty() {
            group.state = GroupState::Stable;
            group.subscribed_topics = group.compute_subscribed_topics();
        }
        group
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    pub fn offsets(&self) -> &BTreeMap<TopicPartition, OffsetCommitValue> {
        &self.offsets
    }

    pub fn has_offsets(&self) -> bool {
        !self.offsets.is_empty()
    }

    /// No members, no pending joins: nothing but (maybe) offsets.
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty && self.pending_members.is_empty()
    }

    fn transition(&mut self, next: GroupState, now_ms: i64) {
        assert!(
            self.state.can_transition_to(next),
            "group {}: illegal transition {} -> {next}",
            self.id,
            self.state
        );
        tracing::debug!(group = self.id, from = %self.state, to = %next, generation = self.generation_id, "group state");
        self.state = next;
        self.state_since_ms = now_ms;
    }

    /// Marks the group dead (deleted or expired).
    pub fn mark_dead(&mut self, now_ms: i64) {
        self.transition(GroupState::Dead, now_ms);
    }

    // ----- JoinGroup -----

    /// Handles a JoinGroup whose session timeout and group id the caller has validated.
    pub fn join(
        &mut self,
        request: JoinRequest,
        settings: &GroupSettings,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let member_id = request.member_id.clone();
        let reply = if self.state == GroupState::Dead {
            Reply::Ready(JoinResult::failed(
                &member_id,
                Error::CoordinatorNotAvailable(format!("group {} is being removed", self.id)),
            ))
        } else if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            Reply::Ready(JoinResult::failed(
                &member_id,
                Error::InconsistentGroupProtocol(format!(
                    "protocol type '{}' or protocols do not match group {}",
                    request.protocol_type, self.id
                )),
            ))
        } else if member_id.is_empty() {
            self.join_new_member(request, settings, now_ms)
        } else {
            self.join_known_member(request, now_ms)
        };
        if self.state == GroupState::PreparingRebalance {
            self.try_complete_join(now_ms);
        }
        reply
    }

    fn join_new_member(
        &mut self,
        request: JoinRequest,
        settings: &GroupSettings,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let known_static = request
            .group_instance_id
            .as_ref()
            .and_then(|instance| self.static_members.get(instance))
            .cloned();
        if known_static.is_none()
            && self.members.len() + self.pending_members.len() >= settings.max_size
        {
            return Reply::Ready(JoinResult::failed(
                "",
                Error::GroupMaxSizeReached(settings.max_size),
            ));
        }
        let prefix = request.group_instance_id.as_deref().unwrap_or(&request.client_id);
        let new_member_id = format!("{prefix}-{}", uuid::Uuid::new_v4());
        if let Some(old_member_id) = known_static {
            return self.replace_static_member_and_rebalance(
                &old_member_id,
                &new_member_id,
                request,
                now_ms,
            );
        }
        if request.require_known_member_id && request.group_instance_id.is_none() {
            let deadline = now_ms.saturating_add(i64::from(request.session_timeout_ms));
            self.pending_members.insert(new_member_id.clone(), deadline);
            return Reply::Ready(JoinResult::failed(&new_member_id, Error::MemberIdRequired));
        }
        self.add_member_and_rebalance(&new_member_id, request, now_ms)
    }

    fn join_known_member(&mut self, request: JoinRequest, now_ms: i64) -> Reply<JoinResult> {
        let member_id = request.member_id.clone();
        if self.pending_members.contains_key(&member_id) {
            if request.group_instance_id.is_some() {
                // Only dynamic members get MEMBER_ID_REQUIRED; Kafka refuses this too.
                return Reply::Ready(JoinResult::failed(
                    &member_id,
                    Error::InvalidRequest("a pending dynamic member cannot join as static".into()),
                ));
            }
            return self.add_member_and_rebalance(&member_id, request, now_ms);
        }
        if let Err(error) = self.check_member(&member_id, request.group_instance_id.as_deref()) {
            return Reply::Ready(JoinResult::failed(&member_id, error));
        }
        let member = &self.members[&member_id];
        let unchanged = member.protocols == request.protocols;
        let is_leader = self.leader_id.as_deref() == Some(member_id.as_str());
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(request, now_ms),
            GroupState::CompletingRebalance if unchanged => {
                Reply::Ready(self.current_join_result(&member_id, is_leader))
            }
            GroupState::Stable if unchanged && !is_leader => {
                Reply::Ready(self.current_join_result(&member_id, false))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(request, now_ms)
            }
            GroupState::Empty | GroupState::Dead => Reply::Ready(JoinResult::failed(
                &member_id,
                Error::UnknownMemberId(member_id.clone()),
            )),
        }
    }

    /// The result for a member of the current generation; the leader gets the member list.
    fn current_join_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: None,
            member_id: member_id.to_owned(),
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader_id: self.leader_id.clone().unwrap_or_default(),
            skip_assignment: false,
            leader_id_before_v9: None,
            members: if with_members { self.current_member_metadata() } else { Vec::new() },
        }
    }

    fn current_member_metadata(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .values()
            .map(|member| JoinedMember {
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id.clone(),
                metadata: member.metadata_for(protocol),
            })
            .collect()
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: &str,
        request: JoinRequest,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let (sender, receiver) = oneshot::channel();
        let mut member = Member::from_join(member_id, request, now_ms);
        member.awaiting_join = Some(sender);
        // Kafka extends the initial delay only for a group's very first generation.
        if let Some(delay) = &mut self.initial_delay
            && self.generation_id == 0
        {
            delay.new_member_added = true;
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members.insert(instance.clone(), member_id.to_owned());
        }
        self.pending_members.remove(member_id);
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id.to_owned());
        }
        self.members.insert(member_id.to_owned(), member);
        self.maybe_prepare_rebalance(now_ms);
        Reply::Pending(receiver)
    }

    fn update_member_and_rebalance(
        &mut self,
        request: JoinRequest,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let (sender, receiver) = oneshot::channel();
        let member = self.members.get_mut(&request.member_id).expect("checked member");
        member.answer_join(JoinResult::failed(&request.member_id, Error::RebalanceInProgress));
        member.protocols = request.protocols;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_timeout_ms = request.session_timeout_ms;
        member.client_id = request.client_id;
        member.client_host = request.client_host;
        member.awaiting_join = Some(sender);
        member.last_heartbeat_ms = now_ms;
        self.maybe_prepare_rebalance(now_ms);
        Reply::Pending(receiver)
    }

    /// KIP-345: a known static member rejoins with a new member id. The old id is fenced; a
    /// Stable group whose protocol would not change keeps its assignment (no rebalance).
    fn replace_static_member_and_rebalance(
        &mut self,
        old_member_id: &str,
        new_member_id: &str,
        request: JoinRequest,
        now_ms: i64,
    ) -> Reply<JoinResult> {
        let current_leader = self.leader_id.clone().unwrap_or_default();
        let mut member = self.members.shift_remove(old_member_id).expect("static member exists");
        member.answer_join(JoinResult::failed(
            old_member_id,
            Error::FencedInstanceId(old_member_id.to_owned()),
        ));
        member.answer_sync(SyncResult::failed(Error::FencedInstanceId(old_member_id.to_owned())));
        member.member_id = new_member_id.to_owned();
        member.protocols = request.protocols;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.session_timeout_ms = request.session_timeout_ms;
        member.client_id = request.client_id;
        member.client_host = request.client_host;
        member.last_heartbeat_ms = now_ms;
        let (sender, receiver) = oneshot::channel();
        member.awaiting_join = Some(sender);
        self.members.insert(new_member_id.to_owned(), member);
        if self.leader_id.as_deref() == Some(old_member_id) {
            self.leader_id = Some(new_member_id.to_owned());
        }
        if self.pending_sync.remove(old_member_id) {
            self.pending_sync.insert(new_member_id.to_owned());
        }
        let instance = request.group_instance_id.expect("static join has an instance id");
        self.static_members.insert(instance, new_member_id.to_owned());
        match self.state {
            GroupState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    self.store = Some(StoreReason::Membership);
                    let is_leader = self.leader_id.as_deref() == Some(new_member_id);
                    let mut result = self.current_join_result(new_member_id, is_leader);
                    result.skip_assignment = is_leader;
                    result.leader_id_before_v9 = is_leader.then_some(current_leader);
                    self.members[new_member_id].answer_join(result);
                } else {
                    self.maybe_prepare_rebalance(now_ms);
                }
            }
            GroupState::CompletingRebalance => self.prepare_rebalance(now_ms),
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
        Reply::Pending(receiver)
    }

    /// Whether a member offering `protocols` of `protocol_type` can join.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.members.is_empty() && self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|protocol| self.members.values().all(|member| member.supports(&protocol.name)))
    }

    /// The protocol every member supports that most members prefer (ties: the first
    /// member's preference order).
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|protocol| protocol.name.as_str())
            .filter(|name| self.members.values().all(|member| member.supports(name)))
            .collect();
        let mut votes: Vec<usize> = vec![0; candidates.len()];
        for member in self.members.values() {
            let choice = member
                .protocols
                .iter()
                .find_map(|protocol| candidates.iter().position(|name| *name == protocol.name));
            if let Some(index) = choice {
                votes[index] += 1;
            }
        }
        let best = votes.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))?;
        candidates.get(best.0).map(|name| (*name).to_owned())
    }

    fn maybe_prepare_rebalance(&mut self, now_ms: i64) {
        if self.state.can_transition_to(GroupState::PreparingRebalance)
            && self.state != GroupState::Dead
        {
            self.prepare_rebalance(now_ms);
        }
    }

    /// The longest rebalance timeout of any member.
    fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|member| i64::from(member.rebalance_timeout_ms.max(0)))
            .max()
            .unwrap_or(0)
    }

    fn prepare_rebalance(&mut self, now_ms: i64) {
        if self.state == GroupState::CompletingRebalance {
            self.reset_assignments_with_error(|| Error::RebalanceInProgress);
        }
        self.sync_deadline_ms = None;
        let rebalance_timeout_ms = self.rebalance_timeout_ms();
        let initial_delay_ms = i64::from(self.initial_rebalance_delay_ms);
        if self.state == GroupState::Empty && initial_delay_ms > 0 {
            self.initial_delay = Some(InitialDelay {
                remaining_ms: (rebalance_timeout_ms - initial_delay_ms).max(0),
                new_member_added: false,
            });
            self.join_deadline_ms = Some(now_ms.saturating_add(initial_delay_ms));
        } else {
            self.initial_delay = None;
            self.join_deadline_ms = Some(now_ms.saturating_add(rebalance_timeout_ms));
        }
        self.transition(GroupState::PreparingRebalance, now_ms);
        self.try_complete_join(now_ms);
    }

    /// Every member that has not rejoined is still needed, or the join is complete.
    fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty()
            && self.members.values().all(|member| member.awaiting_join.is_some())
    }

    fn try_complete_join(&mut self, now_ms: i64) {
        if self.state == GroupState::PreparingRebalance
            && self.initial_delay.is_none()
            && self.all_members_joined()
        {
            self.complete_join(now_ms);
        }
    }

    /// The join deadline passed: extend the initial delay while members keep arriving, else
    /// complete the join with whoever rejoined.
    fn on_join_deadline(&mut self, now_ms: i64) {
        if let Some(delay) = self.initial_delay {
            if delay.new_member_added && delay.remaining_ms > 0 {
                let next_ms = i64::from(self.initial_rebalance_delay_ms).min(delay.remaining_ms);
                self.initial_delay = Some(InitialDelay {
                    remaining_ms: delay.remaining_ms - next_ms,
                    new_member_added: false,
                });
                self.join_deadline_ms = Some(now_ms.saturating_add(next_ms));
                return;
            }
            self.initial_delay = None;
        }
        self.complete_join(now_ms);
    }

    fn complete_join(&mut self, now_ms: i64) {
        self.join_deadline_ms = None;
        let not_rejoined: Vec<String> = self
            .members
            .values()
            .filter(|member| member.awaiting_join.is_none() && member.group_instance_id.is_none())
            .map(|member| member.member_id.clone())
            .collect();
        for member_id in not_rejoined {
            tracing::info!(group = self.id, member_id, "removing member that did not rejoin");
            self.remove_member(&member_id);
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined are left: wait for them (or for
            // their sessions to end) for another rebalance timeout.
            self.join_deadline_ms = Some(now_ms.saturating_add(self.rebalance_timeout_ms()));
            return;
        }
        self.generation_id += 1;
        self.pending_sync.clear();
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = None;
            self.transition(GroupState::Empty, now_ms);
            self.store = Some(StoreReason::Membership);
            tracing::info!(group = self.id, generation = self.generation_id, "group is empty");
            return;
        }
        self.protocol_name = self.select_protocol();
        self.subscribed_topics = self.compute_subscribed_topics();
        self.transition(GroupState::CompletingRebalance, now_ms);
        tracing::info!(
            group = self.id,
            generation = self.generation_id,
            members = self.members.len(),
            protocol = self.protocol_name.as_deref().unwrap_or(""),
            "group rebalanced"
        );
        let leader = self.leader_id.clone().unwrap_or_default();
        let member_list = self.current_member_metadata();
        let member_ids: Vec<String> = self.members.keys().cloned().collect();
        for member_id in member_ids {
            let is_leader = member_id == leader;
            let result = JoinResult {
                members: if is_leader { member_list.clone() } else { Vec::new() },
                ..self.current_join_result(&member_id, false)
            };
            let member = &mut self.members[&member_id];
            member.answer_join(result);
            member.is_new = false;
            member.last_heartbeat_ms = now_ms;
            self.pending_sync.insert(member_id);
        }
        self.sync_deadline_ms = Some(now_ms.saturating_add(self.rebalance_timeout_ms()));
    }

    /// Keeps a leader that has rejoined, or picks any member that has. False if none has.
    fn elect_joined_leader(&mut self) -> bool {
        let Some(leader) = &self.leader_id else {
            return false;
        };
        if self.members.get(leader).is_some_and(|member| member.awaiting_join.is_some()) {
            return true;
        }
        match self.members.values().find(|member| member.awaiting_join.is_some()) {
            Some(member) => {
                self.leader_id = Some(member.member_id.clone());
                true
            }
            None => false,
        }
    }

    fn compute_subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for member in self.members.values() {
            let metadata = member.metadata_for(protocol);
            topics.extend(super::records::subscribed_topics(&metadata).ok()?);
        }
        Some(topics)
    }

    /// Whether the members consume `topic`; true when unknown (the safe answer).
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.subscribed_topics.as_ref().is_none_or(|topics| topics.contains(topic))
    }

    // ----- membership checks, SyncGroup, Heartbeat, LeaveGroup -----

    /// The member exists and, if static, is the instance's current member.
    fn check_member(&self, member_id: &str, instance: Option<&str>) -> Result<(), Error> {
        if let Some(instance) = instance {
            match self.static_members.get(instance) {
                Some(current) if current != member_id => {
                    return Err(Error::FencedInstanceId(member_id.to_owned()));
                }
                None => return Err(Error::UnknownMemberId(member_id.to_owned())),
                Some(_) => {}
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(Error::UnknownMemberId(member_id.to_owned()));
        }
        Ok(())
    }

    fn check_generation(&self, generation_id: i32) -> Result<(), Error> {
        if generation_id != self.generation_id {
            return Err(Error::IllegalGeneration {
                requested: generation_id,
                current: self.generation_id,
            });
        }
        Ok(())
    }

    pub fn sync(&mut self, request: SyncRequest, now_ms: i64) -> Reply<SyncResult> {
        match self.check_sync(&request) {
            Err(error) => Reply::Ready(SyncResult::failed(error)),
            Ok(()) => self.accept_sync(request, now_ms),
        }
    }

    fn check_sync(&self, request: &SyncRequest) -> Result<(), Error> {
        if self.state == GroupState::Dead {
            return Err(Error::CoordinatorNotAvailable(format!(
                "group {} is being removed",
                self.id
            )));
        }
        self.check_member(&request.member_id, request.group_instance_id.as_deref())?;
        self.check_generation(request.generation_id)?;
        if request.protocol_type.is_some() && request.protocol_type != self.protocol_type {
            return Err(Error::InconsistentGroupProtocol("protocol type does not match".into()));
        }
        if request.protocol_name.is_some() && request.protocol_name != self.protocol_name {
            return Err(Error::InconsistentGroupProtocol("protocol name does not match".into()));
        }
        match self.state {
            GroupState::PreparingRebalance => Err(Error::RebalanceInProgress),
            GroupState::Empty => Err(Error::UnknownMemberId(request.member_id.clone())),
            _ => Ok(()),
        }
    }

    fn accept_sync(&mut self, request: SyncRequest, now_ms: i64) -> Reply<SyncResult> {
        self.pending_sync.remove(&request.member_id);
        let member = &mut self.members[&request.member_id];
        member.last_heartbeat_ms = now_ms;
        if self.state == GroupState::Stable {
            return Reply::Ready(SyncResult {
                error: None,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                assignment: member.assignment.clone(),
            });
        }
        let (sender, receiver) = oneshot::channel();
        member.awaiting_sync = Some(sender);
        if self.leader_id.as_deref() == Some(request.member_id.as_str()) {
            let mut assignments: HashMap<String, Bytes> = request.assignments.into_iter().collect();
            for member in self.members.values_mut() {
                member.assignment = assignments.remove(&member.member_id).unwrap_or_default();
            }
            self.store = Some(StoreReason::Assignment { generation: self.generation_id });
        }
        Reply::Pending(receiver)
    }

    /// Answers every waiting SyncGroup with an error and clears the assignments.
    fn reset_assignments_with_error(&mut self, error: impl Fn() -> Error) {
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
            member.answer_sync(SyncResult::failed(error()));
        }
    }

    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<(), Error> {
        match self.state {
            GroupState::Dead => {
                return Err(Error::CoordinatorNotAvailable(format!(
                    "group {} is being removed",
                    self.id
                )));
            }
            GroupState::Empty => return Err(Error::UnknownMemberId(member_id.to_owned())),
            _ => {}
        }
        self.check_member(member_id, instance)?;
        self.check_generation(generation_id)?;
        self.members[member_id].last_heartbeat_ms = now_ms;
        match self.state {
            GroupState::PreparingRebalance => Err(Error::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// A successful offset commit by a member counts as a heartbeat (as in Kafka).
    pub fn heartbeat_on_commit(&mut self, member_id: &str, now_ms: i64) {
        if matches!(self.state, GroupState::Stable | GroupState::PreparingRebalance)
            && let Some(member) = self.members.get_mut(member_id)
        {
            member.last_heartbeat_ms = now_ms;
        }
    }

    /// LeaveGroup for each `(member_id, group_instance_id)`; one result each.
    pub fn leave(
        &mut self,
        leaving: &[(String, Option<String>)],
        now_ms: i64,
    ) -> Vec<Result<(), Error>> {
        leaving
            .iter()
            .map(|(member_id, instance)| self.leave_one(member_id, instance.as_deref(), now_ms))
            .collect()
    }

    fn leave_one(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        now_ms: i64,
    ) -> Result<(), Error> {
        let leaving = match instance {
            Some(instance) => match self.static_members.get(instance) {
                None => return Err(Error::UnknownMemberId(member_id.to_owned())),
                Some(current) if !member_id.is_empty() && current != member_id => {
                    return Err(Error::FencedInstanceId(member_id.to_owned()));
                }
                Some(current) => current.clone(),
            },
            None if self.pending_members.remove(member_id).is_some() => {
                self.try_complete_join(now_ms);
                return Ok(());
            }
            None if !self.members.contains_key(member_id) => {
                return Err(Error::UnknownMemberId(member_id.to_owned()));
            }
            None => member_id.to_owned(),
        };
        tracing::info!(group = self.id, member_id = leaving, "member left the group");
        self.remove_member_and_update(&leaving, now_ms);
        Ok(())
    }

    fn remove_member(&mut self, member_id: &str) {
        let Some(mut member) = self.members.shift_remove(member_id) else {
            return;
        };
        member.answer_join(JoinResult::failed(
            member_id,
            Error::UnknownMemberId(member_id.to_owned()),
        ));
        member.answer_sync(SyncResult::failed(Error::UnknownMemberId(member_id.to_owned())));
        if let Some(instance) = &member.group_instance_id
            && self.static_members.get(instance).is_some_and(|current| current == member_id)
        {
            self.static_members.remove(instance);
        }
        self.pending_sync.remove(member_id);
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
    }

    fn remove_member_and_update(&mut self, member_id: &str, now_ms: i64) {
        self.remove_member(member_id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now_ms),
            GroupState::PreparingRebalance => self.try_complete_join(now_ms),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ----- persistence -----

    /// What the coordinator must write next, if anything.
    pub fn take_store(&mut self) -> Option<StoreReason> {
        self.store.take()
    }

    /// The group's metadata record value as of now.
    pub fn metadata_value(&self) -> GroupMetadataValue {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: self.state_since_ms,
            members: self
                .members
                .values()
                .map(|member| MemberMetadataValue {
                    member_id: member.member_id.clone(),
                    group_instance_id: member.group_instance_id.clone(),
                    client_id: member.client_id.clone(),
                    client_host: member.client_host.clone(),
                    rebalance_timeout_ms: member.rebalance_timeout_ms,
                    session_timeout_ms: member.session_timeout_ms,
                    subscription: member.metadata_for(protocol),
                    assignment: member.assignment.clone(),
                })
                .collect(),
        }
    }

    /// The outcome of writing what [`Group::take_store`] asked for. A stored assignment is
    /// handed to every member waiting in SyncGroup and the group becomes Stable; a failed
    /// one is answered with `error` and the group rebalances.
    pub fn on_stored(&mut self, reason: StoreReason, outcome: Result<(), Error>, now_ms: i64) {
        let StoreReason::Assignment { generation } = reason else {
            if let Err(error) = outcome {
                tracing::warn!(group = self.id, %error, "writing group metadata failed");
            }
            return;
        };
        if self.state != GroupState::CompletingRebalance || self.generation_id != generation {
            return;
        }
        match outcome {
            Ok(()) => {
                let (protocol_type, protocol_name) =
                    (self.protocol_type.clone(), self.protocol_name.clone());
                for member in self.members.values_mut() {
                    let assignment = member.assignment.clone();
                    member.answer_sync(SyncResult {
                        error: None,
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment,
                    });
                }
                self.transition(GroupState::Stable, now_ms);
            }
            Err(error) => {
                tracing::warn!(group = self.id, %error, "storing the assignment failed; rebalancing");
                // Kafka's mapping of a failed group write for SyncGroup.
                let too_large = matches!(error, Error::MessageTooLarge { .. });
                let message = error.to_string();
                self.reset_assignments_with_error(|| {
                    if too_large {
                        Error::Internal(message.clone())
                    } else {
                        Error::NotCoordinator(message.clone())
                    }
                });
                self.prepare_rebalance(now_ms);
            }
        }
    }

    // ----- timers -----

    /// Runs every deadline due at `now_ms`.
    pub fn tick(&mut self, now_ms: i64) {
        let expired: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, deadline)| **deadline <= now_ms)
            .map(|(member_id, _)| member_id.clone())
            .collect();
        for member_id in expired {
            self.pending_members.remove(&member_id);
            self.try_complete_join(now_ms);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|member| {
                member.session_deadline_ms().is_some_and(|deadline| deadline <= now_ms)
            })
            .map(|member| member.member_id.clone())
            .collect();
        for member_id in expired {
            // Removing one member can complete a join, which renews the others' sessions.
            let still_expired = self.members.get(&member_id).is_some_and(|member| {
                member.session_deadline_ms().is_some_and(|deadline| deadline <= now_ms)
            });
            if still_expired {
                tracing::info!(group = self.id, member_id, "member session expired");
                self.remove_member_and_update(&member_id, now_ms);
            }
        }
        if self.state == GroupState::PreparingRebalance
            && self.join_deadline_ms.is_some_and(|deadline| deadline <= now_ms)
        {
            self.on_join_deadline(now_ms);
        }
        if matches!(self.state, GroupState::CompletingRebalance | GroupState::Stable)
            && self.sync_deadline_ms.is_some_and(|deadline| deadline <= now_ms)
        {
            self.sync_deadline_ms = None;
            let missing: Vec<String> = self.pending_sync.drain().collect();
            if !missing.is_empty() {
                tracing::info!(group = self.id, ?missing, "members did not sync in time");
                for member_id in &missing {
                    self.remove_member(member_id);
                }
                self.prepare_rebalance(now_ms);
            }
        }
    }

    /// The earliest deadline [`Group::tick`] has to run at.
    pub fn next_deadline(&self) -> Option<i64> {
        let members = self.members.values().filter_map(Member::session_deadline_ms);
        let pending = self.pending_members.values().copied();
        let join = self.join_deadline_ms.filter(|_| self.state == GroupState::PreparingRebalance);
        let sync = self.sync_deadline_ms.filter(|_| !self.pending_sync.is_empty());
        members.chain(pending).chain(join).chain(sync).min()
    }

    // ----- offsets -----

    /// Kafka's checks of an OffsetCommit against the group (`validateOffsetCommit`).
    pub fn check_offset_commit(
        &self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), Error> {
        if self.state == GroupState::Dead {
            return Err(Error::CoordinatorNotAvailable(format!(
                "group {} is being removed",
                self.id
            )));
        }
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || instance.is_some() {
            self.check_member(member_id, instance)?;
            self.check_generation(generation_id)?;
        } else if self.state != GroupState::Empty {
            return Err(Error::UnknownMemberId(member_id.to_owned()));
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(Error::RebalanceInProgress);
        }
        Ok(())
    }

    /// Applies one offset record (`None` = tombstone). The only code that changes offsets.
    pub fn replay_offset(&mut self, partition: TopicPartition, value: Option<OffsetCommitValue>) {
        match value {
            Some(value) => {
                self.offsets.insert(partition, value);
            }
            None => {
                self.offsets.remove(&partition);
            }
        }
    }

    /// Offsets past retention (Kafka's `removeExpiredOffsets`): for an Empty group with a
    /// protocol, counted from when it became Empty; for a simple (offsets-only) group, from
    /// each commit; for a Stable consumer group, only topics it no longer subscribes to. An
    /// explicit expire timestamp (OffsetCommit v2-v4 retention) wins.
    pub fn expired_offsets(&self, now_ms: i64, retention_ms: i64) -> Vec<TopicPartition> {
        let base: Box<dyn Fn(&OffsetCommitValue) -> i64> = match (&self.protocol_type, self.state) {
            (Some(_), GroupState::Empty) => {
                let since = self.state_since_ms;
                Box::new(move |_| since)
            }
            (None, _) => Box::new(|value| value.commit_timestamp_ms),
            (Some(kind), GroupState::Stable)
                if kind == CONSUMER_PROTOCOL_TYPE && self.subscribed_topics.is_some() =>
            {
                Box::new(|value| value.commit_timestamp_ms)
            }
            _ => return Vec::new(),
        };
        self.offsets
            .iter()
            .filter(|(partition, _)| {
                !self.subscribed_topics.as_ref().is_some_and(|topics| {
                    self.state == GroupState::Stable && topics.contains(&*partition.topic)
                })
            })
            .filter(|(_, value)| match value.expire_timestamp_ms {
                Some(expire_ms) => now_ms >= expire_ms,
                None => now_ms.saturating_sub(base(value)) >= retention_ms,
            })
            .map(|(partition, _)| partition.clone())
            .collect()
    }

    pub fn describe(&self) -> GroupDescription {
        let stable_protocol = (self.state == GroupState::Stable)
            .then(|| self.protocol_name.clone().unwrap_or_default());
        let members = self
            .members
            .values()
            .map(|member| MemberDescription {
                member_id: member.member_id.clone(),
                group_instance_id: member.group_instance_id.clone(),
                client_id: member.client_id.clone(),
                client_host: member.client_host.clone(),
                metadata: stable_protocol
                    .as_deref()
                    .map(|protocol| member.metadata_for(protocol))
                    .unwrap_or_default(),
                assignment: if stable_protocol.is_some() {
                    member.assignment.clone()
                } else {
                    Bytes::new()
                },
            })
            .collect();
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_data: stable_protocol.unwrap_or_default(),
            members,
        }
    }
}

#[cfg(test)]
mod tests;
