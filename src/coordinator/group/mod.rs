//! The group coordinator: classic consumer groups and committed offsets, persisted in the
//! internal topic `__consumer_offsets`.
//!
//! Groups are spread over the topic's partitions by Kafka's rule (`abs(javaHashCode(group_id))
//! % partition_count`), and each partition is one shard: a mutex over the groups it owns and
//! the partition log their records go to. Every operation on a group runs under its shard's
//! lock, including the append of the records it produces, so the log order of a group's
//! records is the order its state changed in.
//!
//! The coordinator pattern (DESIGN.md section 5): a request yields a response and records;
//! committed offsets change only by replaying their records ([`Group::replay_offset`]) once
//! the records are in the log, and loading at start-up replays the same records. Membership
//! (joins, heartbeats) is ephemeral and lives in memory, as in Kafka; the group's metadata
//! record is written at the end of each rebalance (the leader's assignment is handed out only
//! once it is stored) and replayed at load into a Stable (or Empty) group whose members get a
//! fresh session timeout.
//!
//! Timers: one task sleeps until the earliest group deadline (or
//! [`GROUP_TIMER_SLEEP_MS_MAX`]) and calls [`GroupCoordinator::tick`], which also expires
//! offsets every `offsets.retention.check.interval.ms`. Time comes from [`Clock`].

pub mod classic_group;
pub mod records;
pub mod state;

#[cfg(test)]
mod coordinator_tests;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::limits::{
    GROUP_TIMER_SLEEP_MS_MAX, JOIN_GROUP_PROTOCOLS_MAX, MEMBER_PROTOCOL_METADATA_BYTES_MAX,
};
use crate::log::LogManager;
use crate::log::partition_log::{AppendInfo, LogRead, PartitionLog};
use crate::protocol::record_batch::{BatchHeader, RecordInput, build_uncompressed_batch};
use crate::protocol::records::visit_records;
use crate::types::{IsolationLevel, TopicPartition};
use classic_group::{
    Group, GroupDescription, GroupSettings, JoinRequest, JoinResult, Reply, SyncRequest, SyncResult,
};
use records::{GroupMetadataValue, OffsetCommitValue, RecordKey};
use state::GroupState;

/// The internal topic holding offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// How much of `__consumer_offsets` one read takes while loading.
const LOAD_READ_BYTES: u64 = 8 * 1024 * 1024;

/// How long a commit waits for an fsync the flush policy asks for.
const COMMIT_DURABILITY_WAIT_MS: u64 = 30_000;

/// The shard that owns `group_id`: Kafka's `partitionFor`, `Utils.abs(groupId.hashCode()) %
/// partitionCount`, with Java's `String.hashCode` over UTF-16 code units and `Utils.abs`
/// mapping `Integer.MIN_VALUE` to 0.
pub fn partition_for(group_id: &str, partition_count: usize) -> usize {
    let hash = group_id
        .encode_utf16()
        .fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(i32::from(unit)));
    let positive = if hash == i32::MIN { 0 } else { hash.abs() };
    usize::try_from(positive).expect("non-negative") % partition_count.max(1)
}

/// One committed offset in an OffsetCommit.
#[derive(Debug, Clone)]
pub struct CommitPartition {
    pub partition: TopicPartition,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// An OffsetCommit, decoded.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    /// OffsetCommit v2-v4 retention; -1 for the broker's.
    pub retention_time_ms: i64,
    pub partitions: Vec<CommitPartition>,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

struct Shard {
    log: Arc<PartitionLog>,
    groups: Mutex<HashMap<String, Group>>,
}

/// The group coordinator of this broker.
pub struct GroupCoordinator {
    settings: GroupSettings,
    retention_check_interval_ms: i64,
    clock: Clock,
    logs: Arc<LogManager>,
    shards: Vec<Shard>,
    wake: tokio::sync::Notify,
    next_wakeup_ms: AtomicI64,
    next_retention_check_ms: AtomicI64,
    closed: AtomicBool,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GroupCoordinator")
            .field("partitions", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// Where the coordinator keeps its records and how it behaves.
#[derive(Debug)]
pub struct CoordinatorSetup {
    pub settings: GroupSettings,
    pub retention_check_interval_ms: i64,
    pub clock: Clock,
    pub logs: Arc<LogManager>,
    /// The partitions of `__consumer_offsets`, in order.
    pub partitions: Vec<Arc<PartitionLog>>,
}

impl GroupCoordinator {
    /// Loads every group and offset by replaying `__consumer_offsets`. Blocking.
    pub fn load(setup: CoordinatorSetup) -> Result<Self> {
        let now_ms = setup.clock.now_ms();
        let mut shards = Vec::with_capacity(setup.partitions.len());
        let mut loaded_groups = 0;
        for log in setup.partitions {
            let groups = load_partition(&log, setup.settings.initial_rebalance_delay_ms, now_ms)?;
            loaded_groups += groups.len();
            shards.push(Shard { log, groups: Mutex::new(groups) });
        }
        tracing::info!(
            partitions = shards.len(),
            groups = loaded_groups,
            "group coordinator loaded"
        );
        Ok(Self {
            next_retention_check_ms: AtomicI64::new(
                now_ms.saturating_add(setup.retention_check_interval_ms),
            ),
            settings: setup.settings,
            retention_check_interval_ms: setup.retention_check_interval_ms,
            clock: setup.clock,
            logs: setup.logs,
            shards,
            wake: tokio::sync::Notify::new(),
            next_wakeup_ms: AtomicI64::new(now_ms),
            closed: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &GroupSettings {
        &self.settings
    }

    /// Starts the timer task; it ends when the coordinator is closed or dropped.
    pub fn spawn_timers(self: &Arc<Self>) {
        let coordinator = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(coordinator) = coordinator.upgrade() else { return };
                if coordinator.closed.load(Ordering::SeqCst) {
                    return;
                }
                // A bug in one group's timers must not stop every group's timers.
                let ticked =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| coordinator.tick()));
                let next_ms = ticked.unwrap_or_else(|_| {
                    tracing::error!("group timer tick panicked (a broker bug); continuing");
                    coordinator.clock.now_ms().saturating_add(GROUP_TIMER_SLEEP_MS_MAX)
                });
                let sleep_ms = next_ms
                    .saturating_sub(coordinator.clock.now_ms())
                    .clamp(1, GROUP_TIMER_SLEEP_MS_MAX);
                let sleep = Duration::from_millis(u64::try_from(sleep_ms).unwrap_or(1));
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    () = coordinator.wake.notified() => {}
                }
            }
        });
    }

    /// Stops the timers (broker shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn shard(&self, group_id: &str) -> &Shard {
        &self.shards[partition_for(group_id, self.shards.len())]
    }

    /// The partition of `__consumer_offsets` that owns `group_id`.
    pub fn partition_of(&self, group_id: &str) -> usize {
        partition_for(group_id, self.shards.len())
    }

    /// Makes the timer task wake by `deadline_ms`.
    fn schedule(&self, deadline_ms: i64) {
        if self.next_wakeup_ms.fetch_min(deadline_ms, Ordering::SeqCst) > deadline_ms {
            self.wake.notify_one();
        }
    }

    /// Runs `operation` on the groups of `group_id`'s shard under its lock, then writes what
    /// the group asked to store and schedules its next deadline.
    fn with_groups<R>(
        &self,
        group_id: &str,
        operation: impl FnOnce(&Shard, &mut HashMap<String, Group>, i64) -> R,
    ) -> R {
        let shard = self.shard(group_id);
        let now_ms = self.clock.now_ms();
        let mut groups = shard.groups.lock();
        let result = operation(shard, &mut groups, now_ms);
        if let Some(group) = groups.get_mut(group_id) {
            self.persist(shard, group, now_ms);
            if let Some(deadline) = group.next_deadline() {
                self.schedule(deadline);
            }
        }
        result
    }

    fn persist(&self, shard: &Shard, group: &mut Group, now_ms: i64) {
        while let Some(reason) = group.take_store() {
            let key = records::encode_key(&RecordKey::GroupMetadata { group: group.id().into() });
            let outcome = records::encode_group_metadata_value(&group.metadata_value())
                .map_err(|error| Error::InvalidRequest(error.to_string()))
                .and_then(|value| self.append(shard, &[(key, Some(value))]))
                .map(drop);
            group.on_stored(reason, outcome, now_ms);
        }
    }

    /// Appends records (key, value or tombstone) to a shard's partition as one batch.
    fn append(&self, shard: &Shard, records: &[(Bytes, Option<Bytes>)]) -> Result<AppendInfo> {
        let inputs: Vec<RecordInput<'_>> = records
            .iter()
            .map(|(key, value)| RecordInput { key: Some(key), value: value.as_deref() })
            .collect();
        let batch = build_uncompressed_batch(&inputs, self.clock.now_ms());
        let max = shard.log.config().max_message_bytes;
        if batch.len() > max {
            return Err(Error::MessageTooLarge { size: batch.len(), max });
        }
        let header = BatchHeader::parse(&batch)
            .ok_or_else(|| Error::Internal("built an unparsable batch".into()))?;
        let info = shard.log.append(&batch, &header).inspect_err(|error| {
            tracing::error!(partition = %shard.log.topic_partition(), %error, "appending to __consumer_offsets failed");
        })?;
        if info.rolled || info.needs_flush {
            self.logs.request_flush(&shard.log);
        }
        Ok(info)
    }

    // ----- membership -----

    /// JoinGroup. Validates what Kafka validates before touching the group.
    pub fn join(&self, group_id: &str, request: JoinRequest) -> Reply<JoinResult> {
        if let Err(error) = self.check_join(group_id, &request) {
            tracing::warn!(group = group_id, %error, "join refused");
            return Reply::Ready(JoinResult::failed(&request.member_id, error));
        }
        self.with_groups(group_id, |_, groups, now_ms| {
            if !groups.contains_key(group_id) {
                if !request.member_id.is_empty() {
                    let error = Error::UnknownMemberId(request.member_id.clone());
                    return Reply::Ready(JoinResult::failed(&request.member_id, error));
                }
                let group = Group::new(group_id, self.settings.initial_rebalance_delay_ms, now_ms);
                groups.insert(group_id.to_owned(), group);
            }
            let group = groups.get_mut(group_id).expect("inserted above");
            group.join(request, &self.settings, now_ms)
        })
    }

    fn check_join(&self, group_id: &str, request: &JoinRequest) -> Result<()> {
        if group_id.is_empty() {
            return Err(Error::InvalidGroupId(group_id.to_owned()));
        }
        check_group_id_length(group_id)?;
        let (min, max) =
            (self.settings.min_session_timeout_ms, self.settings.max_session_timeout_ms);
        if !(min..=max).contains(&request.session_timeout_ms) {
            return Err(Error::InvalidSessionTimeout {
                requested: request.session_timeout_ms,
                min,
                max,
            });
        }
        if request.protocols.len() > JOIN_GROUP_PROTOCOLS_MAX {
            return Err(Error::InvalidRequest(format!(
                "{} protocols offered; at most {JOIN_GROUP_PROTOCOLS_MAX} are accepted",
                request.protocols.len()
            )));
        }
        let metadata_bytes: usize =
            request.protocols.iter().map(|protocol| protocol.metadata.len()).sum();
        if metadata_bytes > MEMBER_PROTOCOL_METADATA_BYTES_MAX {
            return Err(Error::InvalidRequest(format!(
                "{metadata_bytes} bytes of protocol metadata; at most {MEMBER_PROTOCOL_METADATA_BYTES_MAX} are accepted"
            )));
        }
        Ok(())
    }

    pub fn sync(&self, group_id: &str, request: SyncRequest) -> Reply<SyncResult> {
        if group_id.is_empty() {
            return Reply::Ready(SyncResult::failed(Error::InvalidGroupId(String::new())));
        }
        self.with_groups(group_id, |_, groups, now_ms| match groups.get_mut(group_id) {
            Some(group) => group.sync(request, now_ms),
            None => Reply::Ready(SyncResult::failed(Error::UnknownMemberId(request.member_id))),
        })
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<()> {
        if group_id.is_empty() {
            return Err(Error::InvalidGroupId(String::new()));
        }
        self.with_groups(group_id, |_, groups, now_ms| match groups.get_mut(group_id) {
            Some(group) => group.heartbeat(member_id, group_instance_id, generation_id, now_ms),
            None => Err(Error::UnknownMemberId(member_id.to_owned())),
        })
    }

    /// LeaveGroup: one result per leaving member; the outer error is the group's.
    pub fn leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<Result<()>>> {
        if group_id.is_empty() {
            return Err(Error::InvalidGroupId(String::new()));
        }
        self.with_groups(group_id, |_, groups, now_ms| match groups.get_mut(group_id) {
            Some(group) if group.state() == GroupState::Dead => {
                Err(Error::CoordinatorNotAvailable(format!("group {group_id} is being removed")))
            }
            Some(group) => Ok(group.leave(leaving, now_ms)),
            None => Ok(leaving
                .iter()
                .map(|(member_id, _)| Err(Error::UnknownMemberId(member_id.clone())))
                .collect()),
        })
    }

    // ----- offsets -----

    /// OffsetCommit: one result per partition, in request order. Answers only after the
    /// records are in the log (and fsynced, if the flush policy asks for it).
    pub async fn commit_offsets(&self, request: CommitRequest) -> Vec<Result<()>> {
        let count = request.partitions.len();
        let (mut results, durable) = self
            .with_groups(&request.group_id, |shard, groups, now_ms| {
                self.commit_locked(shard, groups, &request, now_ms)
            });
        if let Some((log, offset)) = durable {
            let waited = tokio::time::timeout(
                Duration::from_millis(COMMIT_DURABILITY_WAIT_MS),
                log.wait_flushed(offset),
            )
            .await;
            let failure = match waited {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(_) => Some("fsync did not complete in time".to_owned()),
            };
            if let Some(failure) = failure {
                tracing::error!(group = request.group_id, failure, "offset commit not durable");
                for result in results.iter_mut().filter(|result| result.is_ok()) {
                    *result = Err(Error::CoordinatorNotAvailable(failure.clone()));
                }
            }
        }
        debug_assert_eq!(results.len(), count);
        results
    }

    #[allow(clippy::type_complexity)]
    fn commit_locked(
        &self,
        shard: &Shard,
        groups: &mut HashMap<String, Group>,
        request: &CommitRequest,
        now_ms: i64,
    ) -> (Vec<Result<()>>, Option<(Arc<PartitionLog>, i64)>) {
        let all =
            |error: &dyn Fn() -> Error| request.partitions.iter().map(|_| Err(error())).collect();
        if let Err(error) = check_group_id_length(&request.group_id) {
            let message = error.to_string();
            return (all(&|| Error::InvalidGroupId(message.clone())), None);
        }
        if !groups.contains_key(&request.group_id) {
            if request.generation_id >= 0 {
                let error =
                    || Error::IllegalGeneration { requested: request.generation_id, current: -1 };
                return (all(&error), None);
            }
            tracing::info!(
                group = request.group_id,
                "creating a simple group for a manual offset commit"
            );
            let group =
                Group::new(&request.group_id, self.settings.initial_rebalance_delay_ms, now_ms);
            groups.insert(request.group_id.clone(), group);
        }
        let group = groups.get_mut(&request.group_id).expect("present");
        let check = || {
            group.check_offset_commit(
                &request.member_id,
                request.group_instance_id.as_deref(),
                request.generation_id,
            )
        };
        if check().is_err() {
            return (request.partitions.iter().map(|_| check()).collect(), None);
        }
        let expire_timestamp_ms = (request.retention_time_ms >= 0)
            .then(|| now_ms.saturating_add(request.retention_time_ms));
        let mut results = Vec::with_capacity(request.partitions.len());
        let mut accepted = Vec::new();
        for commit in &request.partitions {
            let metadata = commit.metadata.clone().unwrap_or_default();
            if metadata.len() > self.settings.offset_metadata_max_bytes {
                results.push(Err(Error::OffsetMetadataTooLarge {
                    size: metadata.len(),
                    max: self.settings.offset_metadata_max_bytes,
                }));
                continue;
            }
            results.push(Ok(()));
            accepted.push((
                commit.partition.clone(),
                OffsetCommitValue {
                    offset: commit.offset,
                    leader_epoch: commit.leader_epoch,
                    metadata,
                    commit_timestamp_ms: now_ms,
                    expire_timestamp_ms,
                },
            ));
        }
        if accepted.is_empty() {
            return (results, None);
        }
        let batch: Vec<(Bytes, Option<Bytes>)> = accepted
            .iter()
            .map(|(partition, value)| {
                (
                    offset_key(&request.group_id, partition),
                    Some(records::encode_offset_commit_value(value)),
                )
            })
            .collect();
        match self.append(shard, &batch) {
            Ok(info) => {
                for (partition, value) in accepted {
                    group.replay_offset(partition, Some(value));
                }
                group.heartbeat_on_commit(&request.member_id, now_ms);
                let durable =
                    info.needs_flush.then(|| (Arc::clone(&shard.log), info.last_offset + 1));
                (results, durable)
            }
            Err(error) => {
                let too_large = matches!(error, Error::MessageTooLarge { .. });
                for result in results.iter_mut().filter(|result| result.is_ok()) {
                    *result = Err(if too_large {
                        Error::InvalidCommitOffsetSize(error.to_string())
                    } else {
                        Error::NotCoordinator(error.to_string())
                    });
                }
                if group.is_empty() && !group.has_offsets() && group.protocol_type().is_none() {
                    groups.remove(&request.group_id);
                }
                (results, None)
            }
        }
    }

    /// OffsetFetch for one group: the committed offsets of `partitions`, or of every
    /// partition the group has committed when `None`. An unknown group has no offsets.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Vec<(TopicPartition, Option<OffsetCommitValue>)> {
        let groups = self.shard(group_id).groups.lock();
        let group = groups.get(group_id).filter(|group| group.state() != GroupState::Dead);
        match partitions {
            Some(partitions) => partitions
                .iter()
                .map(|partition| {
                    (
                        partition.clone(),
                        group.and_then(|group| group.offsets().get(partition).cloned()),
                    )
                })
                .collect(),
            None => group
                .map(|group| {
                    group
                        .offsets()
                        .iter()
                        .map(|(partition, value)| (partition.clone(), Some(value.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// OffsetDelete: removes committed offsets of partitions the group does not consume.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<Result<()>>> {
        self.with_groups(group_id, |shard, groups, _| {
            let Some(group) =
                groups.get_mut(group_id).filter(|group| group.state() != GroupState::Dead)
            else {
                return Err(Error::GroupIdNotFound(group_id.to_owned()));
            };
            let consumer = group.protocol_type() == Some(classic_group::CONSUMER_PROTOCOL_TYPE);
            if group.state() != GroupState::Empty && !consumer {
                return Err(Error::NonEmptyGroup(format!("group {group_id} is not empty")));
            }
            let subscribed = |partition: &TopicPartition| {
                group.state() != GroupState::Empty && group.is_subscribed_to(&partition.topic)
            };
            let mut results = Vec::with_capacity(partitions.len());
            let mut tombstones = Vec::new();
            for partition in partitions {
                if subscribed(partition) {
                    results.push(Err(Error::GroupSubscribedToTopic(partition.topic.to_string())));
                    continue;
                }
                results.push(Ok(()));
                if group.offsets().contains_key(partition) {
                    tombstones.push(partition.clone());
                }
            }
            self.write_offset_tombstones(shard, group, &tombstones)?;
            Ok(results)
        })
    }

    fn write_offset_tombstones(
        &self,
        shard: &Shard,
        group: &mut Group,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        let batch: Vec<(Bytes, Option<Bytes>)> =
            partitions.iter().map(|partition| (offset_key(group.id(), partition), None)).collect();
        self.append(shard, &batch).map_err(|error| Error::NotCoordinator(error.to_string()))?;
        for partition in partitions {
            group.replay_offset(partition.clone(), None);
        }
        Ok(())
    }

    // ----- administration -----

    /// DescribeGroups: `None` for a group that does not exist.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.shard(group_id).groups.lock();
        groups.get(group_id).map(Group::describe)
    }

    /// ListGroups, filtered by state names and group types (case-insensitive; empty = all).
    pub fn list(&self, states: &[String], types: &[String]) -> Vec<GroupListing> {
        let state_wanted = |state: GroupState| {
            states.is_empty() || states.iter().any(|name| name.eq_ignore_ascii_case(state.name()))
        };
        if !types.is_empty() && !types.iter().any(|kind| kind.eq_ignore_ascii_case("classic")) {
            return Vec::new();
        }
        let mut listings = Vec::new();
        for shard in &self.shards {
            let groups = shard.groups.lock();
            listings.extend(groups.values().filter(|group| state_wanted(group.state())).map(
                |group| GroupListing {
                    group_id: group.id().to_owned(),
                    protocol_type: group.protocol_type().unwrap_or("").to_owned(),
                    state: group.state(),
                },
            ));
        }
        listings.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listings
    }

    /// DeleteGroups for one group: only an Empty group can be deleted; its offsets and
    /// metadata are tombstoned.
    pub fn delete_group(&self, group_id: &str) -> Result<()> {
        self.with_groups(group_id, |shard, groups, now_ms| {
            let Some(group) = groups.get_mut(group_id) else {
                return Err(Error::GroupIdNotFound(group_id.to_owned()));
            };
            match group.state() {
                GroupState::Dead => return Err(Error::GroupIdNotFound(group_id.to_owned())),
                GroupState::Empty => {}
                _ => return Err(Error::NonEmptyGroup(format!("group {group_id} has members"))),
            }
            let mut batch: Vec<(Bytes, Option<Bytes>)> = group
                .offsets()
                .keys()
                .map(|partition| (offset_key(group_id, partition), None))
                .collect();
            batch.push((
                records::encode_key(&RecordKey::GroupMetadata { group: group_id.into() }),
                None,
            ));
            self.append(shard, &batch).map_err(|error| Error::NotCoordinator(error.to_string()))?;
            group.mark_dead(now_ms);
            groups.remove(group_id);
            tracing::info!(group = group_id, "group deleted");
            Ok(())
        })
    }

    /// Tombstones the committed offsets of deleted topics (Kafka's `onPartitionsDeleted`).
    pub fn remove_offsets_of_topics(&self, topics: &HashSet<String>) {
        for shard in &self.shards {
            let mut groups = shard.groups.lock();
            for group in groups.values_mut() {
                let doomed: Vec<TopicPartition> = group
                    .offsets()
                    .keys()
                    .filter(|partition| topics.contains(&*partition.topic))
                    .cloned()
                    .collect();
                if let Err(error) = self.write_offset_tombstones(shard, group, &doomed) {
                    tracing::warn!(group = group.id(), %error, "removing offsets of deleted topics failed");
                }
            }
        }
    }

    // ----- timers -----

    /// Runs every group deadline that is due, and the offset expiry pass when it is due.
    /// Returns when it next has to run.
    pub fn tick(&self) -> i64 {
        let now_ms = self.clock.now_ms();
        self.next_wakeup_ms.store(i64::MAX, Ordering::SeqCst);
        let retention_due = now_ms >= self.next_retention_check_ms.load(Ordering::SeqCst);
        if retention_due {
            self.next_retention_check_ms
                .store(now_ms.saturating_add(self.retention_check_interval_ms), Ordering::SeqCst);
        }
        let mut next_ms = self.next_retention_check_ms.load(Ordering::SeqCst);
        for shard in &self.shards {
            let mut groups = shard.groups.lock();
            for group in groups.values_mut() {
                if group.next_deadline().is_some_and(|deadline| deadline <= now_ms) {
                    group.tick(now_ms);
                    self.persist(shard, group, now_ms);
                }
                if retention_due {
                    self.expire_offsets(shard, group, now_ms);
                }
                if let Some(deadline) = group.next_deadline() {
                    next_ms = next_ms.min(deadline);
                }
            }
            groups.retain(|_, group| group.state() != GroupState::Dead);
        }
        self.next_wakeup_ms.fetch_min(next_ms, Ordering::SeqCst).min(next_ms)
    }

    /// Tombstones expired offsets; an Empty group left with none is removed.
    fn expire_offsets(&self, shard: &Shard, group: &mut Group, now_ms: i64) {
        let expired = group.expired_offsets(now_ms, self.settings.offsets_retention_ms);
        let remove_group = group.is_empty() && expired.len() == group.offsets().len();
        if expired.is_empty() && !remove_group {
            return;
        }
        let mut batch: Vec<(Bytes, Option<Bytes>)> =
            expired.iter().map(|partition| (offset_key(group.id(), partition), None)).collect();
        if remove_group {
            batch.push((
                records::encode_key(&RecordKey::GroupMetadata { group: group.id().into() }),
                None,
            ));
        }
        if let Err(error) = self.append(shard, &batch) {
            tracing::warn!(group = group.id(), %error, "expiring offsets failed; will retry");
            return;
        }
        for partition in expired {
            group.replay_offset(partition, None);
        }
        if remove_group {
            tracing::info!(group = group.id(), "empty group with no offsets removed");
            group.mark_dead(now_ms);
        }
    }
}

/// A group id must fit the `__consumer_offsets` key format before a group is created.
fn check_group_id_length(group_id: &str) -> Result<()> {
    if group_id.len() > records::STRING_LENGTH_MAX {
        let shown: String = group_id.chars().take(64).collect();
        return Err(Error::InvalidGroupId(format!("{shown}... ({} bytes)", group_id.len())));
    }
    Ok(())
}

fn offset_key(group_id: &str, partition: &TopicPartition) -> Bytes {
    records::encode_key(&RecordKey::OffsetCommit {
        group: group_id.to_owned(),
        topic: partition.topic.to_string(),
        partition: partition.partition,
    })
}

/// What replaying one partition found for one group.
#[derive(Default)]
struct LoadedGroup {
    metadata: Option<GroupMetadataValue>,
    offsets: HashMap<TopicPartition, OffsetCommitValue>,
}

/// Replays one partition of `__consumer_offsets` into its groups. Records that do not decode
/// are skipped with a warning (they cannot come from this broker, which refuses produce
/// requests to internal topics).
fn load_partition(
    log: &PartitionLog,
    initial_rebalance_delay_ms: i32,
    now_ms: i64,
) -> Result<HashMap<String, Group>> {
    let mut loaded: HashMap<String, LoadedGroup> = HashMap::new();
    let mut skipped = 0u64;
    read_all_records(log, |key, value| {
        if apply_loaded_record(&mut loaded, key, value).is_err() {
            skipped += 1;
        }
    })?;
    if skipped > 0 {
        tracing::warn!(partition = %log.topic_partition(), skipped, "skipped undecodable records while loading groups");
    }
    let mut groups = HashMap::new();
    for (group_id, state) in loaded {
        let mut group = match state.metadata {
            Some(metadata) => {
                Group::from_metadata_value(&group_id, metadata, initial_rebalance_delay_ms, now_ms)
            }
            None if state.offsets.is_empty() => continue,
            None => Group::new(&group_id, initial_rebalance_delay_ms, now_ms),
        };
        for (partition, value) in state.offsets {
            group.replay_offset(partition, Some(value));
        }
        groups.insert(group_id, group);
    }
    Ok(groups)
}

fn apply_loaded_record(
    loaded: &mut HashMap<String, LoadedGroup>,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), records::DecodeError> {
    let Some(key) = records::decode_key(key)? else {
        return Ok(());
    };
    match key {
        RecordKey::OffsetCommit { group, topic, partition } => {
            let partition = TopicPartition::new(topic, partition);
            let entry = loaded.entry(group).or_default();
            match value {
                Some(value) => {
                    entry.offsets.insert(partition, records::decode_offset_commit_value(value)?);
                }
                None => {
                    entry.offsets.remove(&partition);
                }
            }
        }
        RecordKey::GroupMetadata { group } => {
            let metadata = value.map(records::decode_group_metadata_value).transpose()?;
            loaded.entry(group).or_default().metadata = metadata;
        }
    }
    Ok(())
}

/// Visits every record of a log, from its start to its end, in offset order.
fn read_all_records(log: &PartitionLog, mut visit: impl FnMut(&[u8], Option<&[u8]>)) -> Result<()> {
    let end = log.offsets().log_end_offset;
    let mut offset = log.offsets().log_start_offset;
    while offset < end {
        let read = log.read(LogRead {
            offset,
            max_bytes: LOAD_READ_BYTES,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })?;
        let mut rest = &read.records[..];
        let before = offset;
        while let Some(header) = BatchHeader::parse(rest) {
            let Some(size) = header.size().filter(|size| *size <= rest.len()) else { break };
            let batch = &rest[..size];
            rest = &rest[size..];
            if !header.is_control() {
                visit_records(batch, |record| {
                    if record.offset >= offset
                        && let Some(key) = record.key
                    {
                        visit(key, record.value);
                    }
                    ControlFlow::Continue(())
                })?;
            }
            offset = offset.max(header.next_offset());
        }
        if offset == before {
            return Err(Error::Internal(format!(
                "{}: no progress loading at offset {offset}",
                log.topic_partition()
            )));
        }
    }
    Ok(())
}
