//! One partition's log: an ordered set of segments of which the last is active.
//!
//! Offsets: `log_start_offset <= high_watermark <= log_end_offset`, asserted on every change.
//! With one replica the high watermark is the log end offset as soon as an append's bytes are
//! in the file (written with `write(2)`: a killed process loses nothing the kernel has). An
//! append that crosses the topic's `flush.messages` threshold is additionally made durable
//! against power loss before it is acknowledged: the produce path waits for the flusher's
//! fsync ([`PartitionLog::wait_flushed`]), which serves every append queued behind it (group
//! commit). `recovery_point` is the offset below which the log is fsynced; recovery after a
//! crash starts at the segment holding it.
//!
//! Idempotent producers: the partition's [`ProducerStateManager`] lives under the same mutex
//! as offset assignment, so a batch is checked for duplicates and sequence gaps, appended and
//! recorded atomically. A duplicate is answered with its original offsets and not appended.
//! The state is snapshotted when a segment rolls (written by the flusher) and at clean
//! shutdown, and rebuilt at open from the newest snapshot plus the batches after it (see
//! [`super::producer_state`]).
//!
//! Concurrency: appends, rolls and flush bookkeeping hold the partition's mutex; reads take it
//! only to pick a segment and snapshot what to read (a [`SegmentSlice`]), then read batch
//! headers without it; the records themselves are sent from the file ([`FileRegion`]).
//! fsync happens without the lock.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::leader_epoch::{EpochEndOffset, LeaderEpochCache};
use super::producer_state::{self, AppendCheck, BatchSequence, ProducerStateManager};
use super::retention::{RetentionLimits, SegmentSummary, segments_to_retire};
use super::segment::{self, FileRegion, PreparedBatch, Segment, SegmentSlice, TimestampOffset};
use crate::clock::Clock;
use crate::config::topic::LogConfig;
use crate::error::{Error, Result};
use crate::limits::BATCH_HEADER_SIZE;
use crate::protocol::record_batch::{BatchHeader, HeaderRewrite, rewrite_header};
use crate::types::{IsolationLevel, SINGLE_NODE_LEADER_EPOCH, TimestampType, TopicPartition};

/// `flush.messages` when no flush policy is set (Kafka's default, `Long.MAX_VALUE`).
const FLUSH_MESSAGES_NEVER: u64 = i64::MAX as u64;

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The broker timestamp stamped on the batch, or -1 for CreateTime topics.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    /// The acknowledgement must wait for an fsync (`flush.messages` reached).
    pub needs_flush: bool,
    /// A segment was rolled; the sealed one should be fsynced in the background.
    pub rolled: bool,
    /// The batch was a retry of one already in the log: nothing was appended and the offsets
    /// are the original's.
    pub duplicate: bool,
}

/// A fetch from one partition.
#[derive(Debug, Clone, Copy)]
pub struct LogRead {
    pub offset: i64,
    pub max_bytes: u64,
    pub min_one_message: bool,
    pub isolation: IsolationLevel,
}

/// Batches read and the offsets the response reports.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    pub records: Bytes,
    pub offsets: LogOffsets,
}

/// Batches found, still in their segment file (`None`: nothing to read), and the offsets the
/// response reports.
#[derive(Debug, Clone, Default)]
pub struct RegionRead {
    pub records: Option<FileRegion>,
    pub offsets: LogOffsets,
}

/// A partition's offsets at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOffsets {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
}

impl LogOffsets {
    /// The last stable offset: with no transactions, the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.high_watermark
    }

    fn readable_end(&self, isolation: IsolationLevel) -> i64 {
        match isolation {
            IsolationLevel::ReadUncommitted => self.high_watermark,
            IsolationLevel::ReadCommitted => self.last_stable_offset(),
        }
    }
}

/// How far the log is fsynced, as watched by acknowledgements waiting for durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Durability {
    flushed_offset: i64,
    failed: bool,
}

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct OpenLog {
    pub dir: PathBuf,
    pub topic_partition: TopicPartition,
    pub config: Arc<LogConfig>,
    pub clock: Clock,
    /// The checkpointed recovery point; `None` recovers every segment.
    pub recovery_point: Option<i64>,
    /// The checkpointed log start offset, if any.
    pub log_start_offset: Option<i64>,
    /// The broker shut down cleanly last time: indexes and sizes are trusted.
    pub clean_shutdown: bool,
}

/// A partition's log.
#[derive(Debug)]
pub struct PartitionLog {
    topic_partition: TopicPartition,
    dir: PathBuf,
    /// Replaced whole when the topic's configs change (IncrementalAlterConfigs); each append
    /// reads it once.
    config: parking_lot::RwLock<Arc<LogConfig>>,
    clock: Clock,
    state: Mutex<LogState>,
    high_watermark: watch::Sender<i64>,
    durability: watch::Sender<Durability>,
    /// Set while the partition waits in the flusher's queue.
    flush_queued: AtomicBool,
    /// The log cleaner's first dirty offset (everything below is compacted), -1 when unknown;
    /// kept in `cleaner-offset-checkpoint`.
    cleaner_checkpoint: AtomicI64,
    /// The latest delete horizon of the tombstones the cleaner kept (-1: none): once it has
    /// passed, a cleaning pass can remove them.
    latest_delete_horizon_ms: AtomicI64,
}

/// What the log cleaner may work on, taken under the partition lock (see
/// [`super::cleaner`]).
#[derive(Debug, Clone)]
pub struct CleaningView {
    /// The first offset not yet compacted, within the log.
    pub first_dirty_offset: i64,
    /// The sealed segments already fsynced, in offset order: the active segment and
    /// segments still waiting for their fsync are never cleaned.
    pub segments: Vec<Arc<Segment>>,
}

/// The steps of a cleaned segment's swap into the log, after which a test may stop it as a
/// crash would ([`PartitionLog::replace_segments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapStep {
    /// The cleaned segment is written and fsynced; nothing is renamed yet.
    Written,
    /// The cleaned files were renamed to `.swap`: the replacement is committed.
    Swapped,
    /// The replaced segments' files were renamed to `.deleted`.
    OldRenamed,
    /// The swap files took their final names and the log uses the new segment.
    Installed,
}

/// Suffixes of a cleaned segment's files on their way into the log.
pub const CLEANED_SUFFIX: &str = ".cleaned";
pub const SWAP_SUFFIX: &str = ".swap";
pub const DELETED_SUFFIX: &str = ".deleted";

#[derive(Debug)]
struct LogState {
    sealed: BTreeMap<i64, Arc<Segment>>,
    active: Segment,
    log_start_offset: i64,
    log_end_offset: i64,
    recovery_point: i64,
    /// Sealed segments not yet fsynced.
    unsynced: Vec<Arc<Segment>>,
    last_flush_ms: i64,
    /// Set once appends are refused.
    closed: Option<Closed>,
    /// Bumped when a segment file is created; the directory is fsynced before the recovery
    /// point passes a new segment, so a power loss cannot drop the file's directory entry.
    dir_changes: u64,
    dir_changes_synced: u64,
    producers: ProducerStateManager,
    /// Where each leader epoch starts (OffsetForLeaderEpoch).
    epochs: LeaderEpochCache,
    /// The producer-state snapshot taken at the last roll, for the flusher to write.
    pending_snapshot: Option<PendingSnapshot>,
    /// Segments taken out of the log (wholly below the log start), waiting for deletion.
    retired: Vec<RetiredSegment>,
}

/// A segment no longer in the log, deleted once `due_ms` has passed and nothing else holds it.
#[derive(Debug)]
struct RetiredSegment {
    due_ms: i64,
    segment: Arc<Segment>,
}

/// A producer-state snapshot encoded under the lock, written to disk without it.
#[derive(Debug)]
struct PendingSnapshot {
    offset: i64,
    bytes: Vec<u8>,
}

/// Why a log refuses appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The topic was deleted.
    Deleted,
    /// The broker is shutting down.
    ShuttingDown,
    /// A write or fsync failed in a way that could not be undone.
    Failed(String),
}

impl Closed {
    fn error(&self, topic_partition: &TopicPartition) -> Error {
        match self {
            Closed::Deleted => Error::UnknownTopicOrPartition(topic_partition.to_string()),
            Closed::ShuttingDown => Error::NotLeaderOrFollower(format!(
                "{topic_partition}: the broker is shutting down"
            )),
            Closed::Failed(reason) => {
                Error::Storage(std::io::Error::other(format!("{topic_partition}: {reason}")))
            }
        }
    }
}

impl LogState {
    fn offsets(&self) -> LogOffsets {
        LogOffsets {
            log_start_offset: self.log_start_offset,
            high_watermark: self.log_end_offset,
            log_end_offset: self.log_end_offset,
        }
    }

    /// Whether `flush.messages` asks for an fsync before acknowledging what is unflushed.
    fn needs_flush(&self, flush_messages: u64) -> bool {
        u64::try_from(self.log_end_offset - self.recovery_point).unwrap_or(0) >= flush_messages
    }

    fn check_invariants(&self) {
        assert!(self.log_start_offset <= self.log_end_offset, "log start after log end");
        assert!(self.recovery_point <= self.log_end_offset, "recovery point after log end");
        assert_eq!(self.active.next_offset(), self.log_end_offset, "active segment ends the log");
    }

    /// Moves the log start up to `offset` (never back), moves the first leader epoch with it
    /// and retires the segments now wholly below it, deleted from `due_ms` on. Returns how
    /// many segments were retired.
    fn move_log_start(&mut self, offset: i64, due_ms: i64) -> Result<usize> {
        let start = self.log_start_offset.max(offset);
        let mut epochs = self.epochs.clone();
        if epochs.truncate_from_start(start) {
            epochs.write()?;
        }
        self.epochs = epochs;
        self.log_start_offset = start;
        Ok(self.retire_segments_below_start(due_ms))
    }

    /// Takes every sealed segment wholly below the log start offset (the next segment starts
    /// at or before it) out of the log, to be deleted from `due_ms` on. The active segment
    /// always stays. Returns how many.
    fn retire_segments_below_start(&mut self, due_ms: i64) -> usize {
        let mut retired = 0;
        while let Some((&base, _)) = self.sealed.first_key_value() {
            let next_base = self
                .sealed
                .range(base + 1..)
                .next()
                .map_or(self.active.base_offset(), |(next, _)| *next);
            if next_base > self.log_start_offset {
                break;
            }
            // It stays in `unsynced` if there: a crash before the new start is checkpointed
            // brings it back, and it must not come back torn below the recovery point.
            let segment = self.sealed.remove(&base).expect("first segment");
            self.retired.push(RetiredSegment { due_ms, segment });
            retired += 1;
        }
        retired
    }

    /// Every segment in offset order, the active one last.
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.sealed.values().map(AsRef::as_ref).chain(std::iter::once(&self.active))
    }

    /// The sealed segment holding `offset` (which lies below the active segment and at or
    /// above the log start).
    fn sealed_for(&self, offset: i64) -> Arc<Segment> {
        let (_, segment) =
            self.sealed.range(..=offset).next_back().expect("a sealed segment holds the offset");
        Arc::clone(segment)
    }
}

/// Where a read starts: ready in the active segment (looked up under the lock, in memory), or
/// in a sealed one whose index is read after the lock is released.
enum ReadStart {
    Ready(SegmentSlice),
    Sealed(Arc<Segment>),
}

impl ReadStart {
    fn slice(self, offset: i64) -> Result<SegmentSlice> {
        match self {
            ReadStart::Ready(slice) => Ok(slice),
            ReadStart::Sealed(segment) => Ok(segment.slice(offset, segment.size())?),
        }
    }
}

impl PartitionLog {
    /// Opens (or creates) the log in `options.dir`, recovering segments past the recovery
    /// point unless the last shutdown was clean.
    pub fn open(options: OpenLog) -> Result<Self> {
        std::fs::create_dir_all(&options.dir)?;
        let now_ms = options.clock.now_ms();
        let mut loaded = super::recovery::load_segments(&options, now_ms)?;
        if let Some(start) = options.log_start_offset
            && start > loaded.active.next_offset()
        {
            // The start was checkpointed (DeleteRecords) but the log lost its tail below it
            // (power failure): as Kafka's LogLoader, the log restarts empty at the start
            // rather than bring back records that were deleted.
            tracing::warn!(partition = %options.topic_partition, log_start_offset = start,
                log_end_offset = loaded.active.next_offset(),
                "the log ends before its checkpointed start; starting it afresh there");
            drop(loaded);
            super::recovery::delete_all_segments(&options.dir)?;
            loaded = super::recovery::load_segments(&options, now_ms)?;
        }
        let log_end_offset = loaded.active.next_offset();
        let first_base =
            loaded.sealed.keys().next().copied().unwrap_or(loaded.active.base_offset());
        let segments = loaded.sealed.values().map(AsRef::as_ref).chain([&loaded.active]);
        let producers = rebuild_producer_state(&options, segments, first_base, log_end_offset)?;
        let log_start_offset = options
            .log_start_offset
            .filter(|start| (first_base..=log_end_offset).contains(start))
            .unwrap_or(first_base);
        let segments = loaded.sealed.values().map(AsRef::as_ref).chain([&loaded.active]);
        let epochs = load_leader_epochs(&options, segments, log_start_offset, log_end_offset)?;
        let mut state = LogState {
            sealed: loaded.sealed,
            active: loaded.active,
            log_start_offset,
            log_end_offset,
            recovery_point: loaded.recovery_point,
            unsynced: Vec::new(),
            last_flush_ms: now_ms,
            closed: None,
            dir_changes: 0,
            dir_changes_synced: 0,
            producers,
            epochs,
            pending_snapshot: None,
            retired: Vec::new(),
        };
        // Segments wholly below the start (DeleteRecords before a restart) go at once.
        state.retire_segments_below_start(now_ms);
        for retired in std::mem::take(&mut state.retired) {
            retired.segment.delete_files(&options.dir);
        }
        state.check_invariants();
        let (high_watermark, _) = watch::channel(log_end_offset);
        let (durability, _) =
            watch::channel(Durability { flushed_offset: state.recovery_point, failed: false });
        Ok(Self {
            topic_partition: options.topic_partition,
            dir: options.dir,
            config: parking_lot::RwLock::new(options.config),
            clock: options.clock,
            state: Mutex::new(state),
            high_watermark,
            durability,
            flush_queued: AtomicBool::new(false),
            cleaner_checkpoint: AtomicI64::new(-1),
            latest_delete_horizon_ms: AtomicI64::new(-1),
        })
    }

    /// The cleaner's first dirty offset as last recorded, -1 when unknown.
    pub fn cleaner_checkpoint(&self) -> i64 {
        self.cleaner_checkpoint.load(Ordering::Acquire)
    }

    pub fn set_cleaner_checkpoint(&self, offset: i64) {
        self.cleaner_checkpoint.store(offset, Ordering::Release);
    }

    /// The latest delete horizon of kept tombstones, -1 when none.
    pub fn latest_delete_horizon_ms(&self) -> i64 {
        self.latest_delete_horizon_ms.load(Ordering::Acquire)
    }

    pub fn set_latest_delete_horizon_ms(&self, horizon_ms: i64) {
        self.latest_delete_horizon_ms.store(horizon_ms, Ordering::Release);
    }

    /// What the cleaner may compact now; `None` once the log is closed.
    pub fn cleaning_view(&self) -> Option<CleaningView> {
        let state = self.state.lock();
        if state.closed.is_some() {
            return None;
        }
        let segments: Vec<Arc<Segment>> = state
            .sealed
            .values()
            .take_while(|segment| {
                segment.next_offset() <= state.recovery_point
                    && !state.unsynced.iter().any(|unsynced| Arc::ptr_eq(unsynced, segment))
            })
            .cloned()
            .collect();
        let checkpoint = self.cleaner_checkpoint();
        let first_dirty_offset =
            if (state.log_start_offset..=state.log_end_offset).contains(&checkpoint) {
                checkpoint
            } else {
                state.log_start_offset
            };
        Some(CleaningView { first_dirty_offset, segments })
    }

    /// Each idempotent producer's last batch's last offset: the cleaner keeps that batch,
    /// even empty. Appends after the call only add later batches, so a batch that was not a
    /// producer's last never becomes it.
    pub fn producer_last_offsets(&self) -> HashMap<i64, i64> {
        let state = self.state.lock();
        state
            .producers
            .producers()
            .into_iter()
            .filter_map(|(id, entry)| entry.batches().last().map(|batch| (id, batch.last_offset)))
            .collect()
    }

    /// Swaps `cleaned` (written with [`CLEANED_SUFFIX`] names, sealed and fsynced) into the
    /// log in place of `old`, the consecutive segments it was cleaned from, following the
    /// protocol in [`super::cleaner`]. Returns false, with the cleaned files removed, when
    /// the log changed meanwhile (a replaced segment was retired, or the log closed).
    /// Renames and directory fsyncs happen under the partition lock, so a deletion of the
    /// topic (which closes the log under it first) never sees half a swap; readers holding a
    /// replaced segment keep reading its open file. `crash_after` stops the swap after a
    /// step, leaving the files as a crash would (tests).
    pub fn replace_segments(
        &self,
        old: &[Arc<Segment>],
        mut cleaned: Segment,
        crash_after: Option<SwapStep>,
    ) -> Result<bool> {
        let base = cleaned.base_offset();
        assert_eq!(old.first().map(|segment| segment.base_offset()), Some(base));
        let mut state = self.state.lock();
        let intact = state.closed.is_none()
            && old.iter().all(|segment| {
                state
                    .sealed
                    .get(&segment.base_offset())
                    .is_some_and(|current| Arc::ptr_eq(current, segment))
            });
        if !intact {
            drop(state);
            super::segment::delete_segment_files(&self.dir, base, CLEANED_SUFFIX)?;
            return Ok(false);
        }
        if crash_after == Some(SwapStep::Written) {
            return Ok(true);
        }
        if let Err(error) = cleaned.rename_files(&self.dir, CLEANED_SUFFIX, SWAP_SUFFIX) {
            // The log file is renamed last: without its `.swap` nothing is committed.
            drop(state);
            for suffix in [CLEANED_SUFFIX, SWAP_SUFFIX] {
                super::segment::delete_segment_files(&self.dir, base, suffix)?;
            }
            return Err(Error::Storage(error));
        }
        let swapped = self.finish_swap(&mut state, old, cleaned, crash_after);
        if let Err(error) = &swapped {
            // Committed but not installed: the next start finishes the swap from the files.
            tracing::error!(partition = %self.topic_partition, %error, "swapping a cleaned segment in failed; partition closed");
            state.closed = Some(Closed::Failed(format!("segment swap failed: {error}")));
        }
        drop(state);
        if !swapped? {
            return Ok(true);
        }
        super::checkpoint::sync_dir(&self.dir)?;
        for segment in old {
            super::segment::delete_segment_files(&self.dir, segment.base_offset(), DELETED_SUFFIX)?;
        }
        Ok(true)
    }

    /// The swap's steps after the commit; false when `crash_after` stopped it.
    fn finish_swap(
        &self,
        state: &mut LogState,
        old: &[Arc<Segment>],
        mut cleaned: Segment,
        crash_after: Option<SwapStep>,
    ) -> Result<bool> {
        super::checkpoint::sync_dir(&self.dir)?;
        if crash_after == Some(SwapStep::Swapped) {
            return Ok(false);
        }
        for segment in old {
            super::segment::rename_segment_files(
                &self.dir,
                segment.base_offset(),
                "",
                DELETED_SUFFIX,
            )?;
        }
        super::checkpoint::sync_dir(&self.dir)?;
        if crash_after == Some(SwapStep::OldRenamed) {
            return Ok(false);
        }
        cleaned.rename_files(&self.dir, SWAP_SUFFIX, "")?;
        for segment in old {
            state.sealed.remove(&segment.base_offset());
        }
        state.sealed.insert(cleaned.base_offset(), Arc::new(cleaned));
        state.check_invariants();
        Ok(crash_after != Some(SwapStep::Installed))
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> Arc<LogConfig> {
        Arc::clone(&self.config.read())
    }

    /// Applies a changed topic config from the next append or read on.
    pub fn set_config(&self, config: Arc<LogConfig>) {
        *self.config.write() = config;
    }

    pub fn offsets(&self) -> LogOffsets {
        self.state.lock().offsets()
    }

    /// Bytes of record batches on disk, over every segment (DescribeLogDirs).
    pub fn size_bytes(&self) -> u64 {
        self.state.lock().segments().map(Segment::size).sum()
    }

    pub fn recovery_point(&self) -> i64 {
        self.state.lock().recovery_point
    }

    /// A receiver that sees every high watermark change (for long-polling fetches). The
    /// channel closes when the log is dropped.
    pub fn subscribe_high_watermark(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }

    /// Appends one validated client batch, assigning offsets in place. See the module doc for
    /// when the caller must also wait for [`PartitionLog::wait_flushed`].
    pub fn append(&self, batch: &[u8], header: &BatchHeader) -> Result<AppendInfo> {
        let config = self.config();
        let now_ms = self.clock.now_ms();
        let log_append_time_ms =
            (config.timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        if log_append_time_ms.is_none() {
            check_timestamps(header, &config, now_ms)?;
        }
        let mut state = self.state.lock();
        if let Some(closed) = &state.closed {
            return Err(closed.error(&self.topic_partition));
        }
        let sequence = BatchSequence::of(header);
        if let Some(sequence) = &sequence
            && let AppendCheck::Duplicate(original) = state.producers.check(sequence)?
        {
            return Ok(AppendInfo {
                base_offset: original.first_offset,
                last_offset: original.last_offset,
                log_append_time_ms: log_append_time_ms.map_or(-1, |_| original.timestamp),
                log_start_offset: state.log_start_offset,
                // Under a `flush.messages` policy the original's answer may still be waiting
                // for its fsync; so does this one's.
                needs_flush: state.recovery_point <= original.last_offset
                    && config.flush_messages < FLUSH_MESSAGES_NEVER,
                rolled: false,
                duplicate: true,
            });
        }
        let base_offset = state.log_end_offset;
        let last_offset = base_offset + i64::from(header.last_offset_delta);
        let rewritten = rewrite_header(
            batch,
            HeaderRewrite {
                base_offset,
                partition_leader_epoch: SINGLE_NODE_LEADER_EPOCH,
                log_append_time_ms,
            },
        );
        let prepared = PreparedBatch {
            header: &rewritten,
            tail: &batch[BATCH_HEADER_SIZE..],
            base_offset,
            last_offset,
            max_timestamp: log_append_time_ms.unwrap_or(header.max_timestamp),
        };
        // The epoch's start is on disk before its first batch is.
        state.epochs.assign_and_write(SINGLE_NODE_LEADER_EPOCH, base_offset)?;
        let rolled = match state.active.roll_reason(&prepared, &config, now_ms) {
            Some(reason) => {
                self.roll(&mut state, reason, now_ms)?;
                true
            }
            None => false,
        };
        if let Err(error) = state.active.append(&prepared, config.index_interval_bytes) {
            self.undo_torn_append(&mut state, &error);
            return Err(Error::Storage(error));
        }
        if let Some(sequence) = &sequence {
            let max_timestamp = prepared.max_timestamp;
            state.producers.record(sequence, base_offset, last_offset, max_timestamp, now_ms);
        }
        state.log_end_offset = last_offset + 1;
        state.check_invariants();
        self.high_watermark.send_replace(state.log_end_offset);
        Ok(AppendInfo {
            base_offset,
            last_offset,
            log_append_time_ms: log_append_time_ms.unwrap_or(-1),
            log_start_offset: state.log_start_offset,
            needs_flush: state.needs_flush(config.flush_messages),
            rolled,
            duplicate: false,
        })
    }

    fn undo_torn_append(&self, state: &mut LogState, error: &std::io::Error) {
        tracing::error!(partition = %self.topic_partition, %error, "append failed; cutting the torn bytes off");
        if let Err(truncate_error) = state.active.truncate_torn_append() {
            tracing::error!(partition = %self.topic_partition, %truncate_error, "cannot undo the failed append; partition closed");
            state.closed = Some(Closed::Failed(format!("log write failed: {error}")));
        }
    }

    fn roll(&self, state: &mut LogState, reason: segment::RollReason, now_ms: i64) -> Result<()> {
        let new_base = state.log_end_offset;
        let fresh = Segment::create(&self.dir, new_base, now_ms)?;
        state.pending_snapshot = Some(PendingSnapshot {
            offset: new_base,
            bytes: state.producers.encode_snapshot(new_base),
        });
        state.dir_changes += 1;
        let mut old = std::mem::replace(&mut state.active, fresh);
        if let Err(error) = old.seal() {
            tracing::error!(partition = %self.topic_partition, %error, "sealing a segment failed; partition closed");
            state.closed = Some(Closed::Failed(format!("segment seal failed: {error}")));
        }
        tracing::debug!(partition = %self.topic_partition, base_offset = old.base_offset(), new_base, ?reason, "rolled segment");
        let old = Arc::new(old);
        state.sealed.insert(old.base_offset(), Arc::clone(&old));
        state.unsynced.push(old);
        if state.closed.is_some() {
            return Err(Error::Storage(std::io::Error::other("segment seal failed")));
        }
        Ok(())
    }

    /// Reads whole batches at `request.offset` (from one segment, as Kafka does).
    pub fn read(&self, request: LogRead) -> Result<ReadResult> {
        let read = self.read_region(request)?;
        let records = match &read.records {
            Some(region) => region.read_bytes().map_err(|error| self.deleted_or(error.into()))?,
            None => Bytes::new(),
        };
        Ok(ReadResult { records, offsets: read.offsets })
    }

    /// Finds the batches [`PartitionLog::read`] would return without reading them: the fetch
    /// path sends them straight from the file.
    pub fn read_region(&self, request: LogRead) -> Result<RegionRead> {
        self.read_segments(request).map_err(|error| self.deleted_or(error))
    }

    /// A deleted log's files may vanish under a read or flush in flight: that is the topic
    /// being gone, not a storage failure.
    fn deleted_or(&self, error: Error) -> Error {
        match &self.state.lock().closed {
            Some(closed @ Closed::Deleted) => closed.error(&self.topic_partition),
            _ => error,
        }
    }

    fn read_segments(&self, request: LogRead) -> Result<RegionRead> {
        let (start, offsets) = {
            let state = self.state.lock();
            if let Some(closed @ Closed::Deleted) = &state.closed {
                return Err(closed.error(&self.topic_partition));
            }
            let offsets = state.offsets();
            self.check_fetch_offset(request.offset, &offsets)?;
            if request.offset >= offsets.readable_end(request.isolation) {
                return Ok(RegionRead { records: None, offsets });
            }
            let start = if request.offset >= state.active.base_offset() {
                ReadStart::Ready(state.active.slice(request.offset, state.active.size())?)
            } else {
                ReadStart::Sealed(state.sealed_for(request.offset))
            };
            (start, offsets)
        };
        let mut slice = start.slice(request.offset)?;
        // Move on to later segments while the offset lies past a segment's last batch.
        loop {
            let read = slice.read(request.offset, request.max_bytes, request.min_one_message)?;
            if let Some(region) = read {
                return Ok(RegionRead { records: Some(region), offsets });
            }
            let next = {
                let state = self.state.lock();
                // The cleaner may have swapped the segment just scanned (and the ones after
                // it) for a cleaned one at the same base: the offset is looked up again
                // before moving on, or the records the cleaned segment kept would be skipped.
                let replacement = state
                    .sealed
                    .range(..=request.offset)
                    .next_back()
                    .map(|(_, segment)| segment)
                    .filter(|segment| {
                        segment.base_offset() >= slice.base_offset
                            && !Arc::ptr_eq(segment.log_file(), &slice.log)
                    });
                let later = || state.sealed.range(slice.base_offset + 1..).next().map(|(_, s)| s);
                match replacement.or_else(later) {
                    Some(segment) => ReadStart::Sealed(Arc::clone(segment)),
                    None if state.active.base_offset() > slice.base_offset => {
                        ReadStart::Ready(state.active.slice(request.offset, state.active.size())?)
                    }
                    None => return Ok(RegionRead { records: None, offsets }),
                }
            };
            slice = next.slice(request.offset)?;
            if slice.base_offset >= offsets.readable_end(request.isolation) {
                return Ok(RegionRead { records: None, offsets });
            }
        }
    }

    fn check_fetch_offset(&self, offset: i64, offsets: &LogOffsets) -> Result<()> {
        if offset < offsets.log_start_offset || offset > offsets.log_end_offset {
            return Err(Error::OffsetOutOfRange {
                topic_partition: self.topic_partition.clone(),
                offset,
                log_start_offset: offsets.log_start_offset,
                log_end_offset: offsets.log_end_offset,
            });
        }
        Ok(())
    }

    /// The first record at or after `timestamp` (ListOffsets by time). Only the index lookup
    /// holds the partition lock; reading and decompressing batches does not. Blocking.
    pub fn find_offset_by_timestamp(&self, timestamp: i64) -> Result<Option<TimestampOffset>> {
        let search = {
            let state = self.state.lock();
            let start = state.log_start_offset;
            let mut segments = state.segments();
            match segments.find(|segment| segment.max_timestamp() >= timestamp) {
                Some(segment) => segment.timestamp_search(timestamp, start)?,
                None => return Ok(None),
            }
        };
        search.run()
    }

    /// The first record with the largest timestamp in the log (ListOffsets -3). Blocking.
    pub fn max_timestamp_offset(&self) -> Result<Option<TimestampOffset>> {
        let search = {
            let state = self.state.lock();
            // The first segment holding the largest timestamp.
            let best = state.segments().reduce(|best, segment| {
                if segment.max_timestamp() > best.max_timestamp() { segment } else { best }
            });
            match best {
                Some(segment) => segment.max_timestamp_search()?,
                None => None,
            }
        };
        search.map_or(Ok(None), |search| search.run())
    }

    /// Marks the partition as queued for the flusher; false if it already was.
    pub(crate) fn mark_flush_queued(&self) -> bool {
        !self.flush_queued.swap(true, Ordering::AcqRel)
    }

    /// fsyncs everything written so far (blocking; runs on the flusher's thread), then
    /// advances the recovery point and wakes acknowledgements waiting for durability.
    /// Returns whether rolled segments became durable: a whole segment then lies below the
    /// recovery point, and checkpointing it spares a crash recovery from rescanning it.
    pub fn flush(&self) -> Result<bool> {
        self.flush_queued.store(false, Ordering::Release);
        let (target, unsynced, active, dir_changes, snapshot) = {
            let mut state = self.state.lock();
            let nothing_to_sync =
                state.recovery_point == state.log_end_offset && state.unsynced.is_empty();
            if nothing_to_sync || state.closed == Some(Closed::Deleted) {
                return Ok(false);
            }
            let dir_changes =
                (state.dir_changes > state.dir_changes_synced).then_some(state.dir_changes);
            (
                state.log_end_offset,
                state.unsynced.clone(),
                Arc::clone(state.active.log_file()),
                dir_changes,
                state.pending_snapshot.take(),
            )
        };
        let synced = unsynced
            .iter()
            .try_for_each(|segment| segment.sync())
            .and_then(|()| active.sync_data())
            .and_then(|()| match dir_changes {
                Some(_) => super::checkpoint::sync_dir(&self.dir),
                None => Ok(()),
            });
        if let Err(error) = synced {
            tracing::error!(partition = %self.topic_partition, %error, "fsync failed; partition closed");
            self.state.lock().closed = Some(Closed::Failed(format!("fsync failed: {error}")));
            self.durability.send_modify(|durability| durability.failed = true);
            return Err(Error::Storage(error));
        }
        if let Some(snapshot) = snapshot {
            self.write_snapshot(snapshot);
        }
        let mut state = self.state.lock();
        state
            .unsynced
            .retain(|segment| !unsynced.iter().any(|synced| Arc::ptr_eq(synced, segment)));
        state.recovery_point = state.recovery_point.max(target);
        state.dir_changes_synced = state.dir_changes_synced.max(dir_changes.unwrap_or(0));
        state.last_flush_ms = self.clock.now_ms();
        state.check_invariants();
        self.durability.send_modify(|durability| {
            durability.flushed_offset = durability.flushed_offset.max(target)
        });
        Ok(!unsynced.is_empty())
    }

    /// Waits until offsets below `offset` are fsynced.
    pub async fn wait_flushed(&self, offset: i64) -> Result<()> {
        let mut receiver = self.durability.subscribe();
        let durability = receiver
            .wait_for(|durability| durability.failed || durability.flushed_offset >= offset)
            .await
            .map_err(|_| {
                Error::Storage(std::io::Error::other("log closed while waiting for fsync"))
            })?;
        if durability.failed {
            return Err(Error::Storage(std::io::Error::other("fsync failed")));
        }
        Ok(())
    }

    /// Whether `flush.ms` has passed since the last fsync with unflushed data.
    pub fn flush_due(&self, now_ms: i64) -> bool {
        let flush_ms = self.config().flush_ms;
        let state = self.state.lock();
        let unflushed = state.recovery_point < state.log_end_offset || !state.unsynced.is_empty();
        unflushed && now_ms.saturating_sub(state.last_flush_ms) >= flush_ms
    }

    /// Refuses further appends; used before deleting the log and at shutdown.
    pub fn close(&self, closed: Closed) {
        self.state.lock().closed.get_or_insert(closed);
    }

    /// Writes the active segment's index entries and fsyncs everything, then snapshots the
    /// producer state at the log end so the next start reads no batches (clean shutdown).
    pub fn persist_and_flush(&self) -> Result<()> {
        self.state.lock().active.persist_indexes()?;
        self.flush()?;
        let (offset, bytes) = {
            let state = self.state.lock();
            state.active.sync()?;
            let offset = state.log_end_offset;
            if producer_state::snapshot_path(&self.dir, offset).exists() {
                return Ok(());
            }
            (offset, state.producers.encode_snapshot(offset))
        };
        if let Err(error) = producer_state::write_snapshot(&self.dir, offset, &bytes) {
            // Not fatal: the next start replays the log after the last snapshot instead.
            tracing::warn!(partition = %self.topic_partition, offset, %error, "writing the shutdown producer snapshot failed");
        }
        Ok(())
    }

    /// Writes a producer-state snapshot taken at a roll. The file is written and fsynced
    /// without the lock but renamed into place under it, after checking that the log was not
    /// deleted meanwhile (deletion closes the log under the lock before renaming its
    /// directory), so a deleted log's snapshot can never land in a new topic's directory of
    /// the same name. A failure costs only a longer rebuild at the next start, so it is
    /// logged, not returned.
    fn write_snapshot(&self, snapshot: PendingSnapshot) {
        let offset = snapshot.offset;
        let installed = producer_state::PreparedSnapshot::write(&self.dir, offset, &snapshot.bytes)
            .and_then(|prepared| {
                let state = self.state.lock();
                if state.closed == Some(Closed::Deleted) {
                    prepared.discard();
                    return Ok(false);
                }
                prepared.install().map(|()| true)
            })
            .and_then(|installed| {
                if installed {
                    super::checkpoint::sync_dir(&self.dir)?;
                }
                Ok(())
            });
        if let Err(error) = installed {
            tracing::warn!(partition = %self.topic_partition, offset, %error, "writing a producer snapshot failed");
        }
    }

    /// Advances the log start offset to `offset` (DeleteRecords); returns the log start
    /// offset after (Kafka's low watermark). An offset at or below the current start changes
    /// nothing; one past the high watermark is OFFSET_OUT_OF_RANGE. Reads below the start are
    /// refused from now on. The segments wholly below it stay on disk for now: removing them
    /// safely needs the delayed deletion that retention brings (sealed indexes are reopened
    /// by path, by readers and by the flusher).
    pub fn advance_log_start_offset(&self, offset: i64) -> Result<i64> {
        let mut state = self.state.lock();
        if let Some(closed) = &state.closed {
            return Err(closed.error(&self.topic_partition));
        }
        if offset > state.log_end_offset {
            return Err(Error::OffsetOutOfRange {
                topic_partition: self.topic_partition.clone(),
                offset,
                log_start_offset: state.log_start_offset,
                log_end_offset: state.log_end_offset,
            });
        }
        let due_ms = self.clock.now_ms().saturating_add(self.config().file_delete_delay_ms);
        let retired = state.move_log_start(offset, due_ms)?;
        if retired > 0 {
            tracing::info!(partition = %self.topic_partition, log_start_offset = state.log_start_offset,
                segments = retired, "segments below the log start retired");
        }
        state.check_invariants();
        Ok(state.log_start_offset)
    }

    /// Retires the oldest segments `retention.ms` and `retention.bytes` breach, when
    /// `cleanup.policy` includes `delete`, and moves the log start to the first segment kept
    /// (see [`super::retention`]). If every segment goes, a fresh one is rolled first, so the
    /// log keeps its end offset. Returns how many segments were retired.
    pub fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        let config = self.config();
        let limits = RetentionLimits {
            retention_ms: config.retention_ms,
            retention_bytes: config.retention_bytes,
        };
        if !config.cleanup_delete || (limits.retention_ms < 0 && limits.retention_bytes < 0) {
            return Ok(0);
        }
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return Ok(0);
        }
        let summaries: Vec<SegmentSummary> = state
            .segments()
            .map(|segment| SegmentSummary {
                size_bytes: segment.size(),
                largest_timestamp_ms: segment.largest_timestamp_ms(),
            })
            .collect();
        let Some((count, breach)) = segments_to_retire(&summaries, limits, now_ms) else {
            return Ok(0);
        };
        if count == summaries.len() {
            self.roll(&mut state, segment::RollReason::Retention, now_ms)?;
        }
        let first_kept =
            state.segments().nth(count).map(Segment::base_offset).expect("a segment is kept");
        let due_ms = now_ms.saturating_add(config.file_delete_delay_ms);
        let retired = state.move_log_start(first_kept, due_ms)?;
        tracing::info!(partition = %self.topic_partition, ?breach, segments = retired,
            log_start_offset = state.log_start_offset, "retention retired segments");
        state.check_invariants();
        Ok(retired)
    }

    /// Deletes the files of retired segments whose delay has passed and that no reader or
    /// flush holds any more (one still held is left for the next call). Returns how many.
    /// The unlinks happen under the partition lock, after checking the log was not deleted:
    /// deletion closes the log under that lock before renaming its directory, so a path
    /// here can never name a new topic's file of the same name.
    pub fn delete_retired_segments(&self, now_ms: i64) -> usize {
        let mut state = self.state.lock();
        if state.retired.is_empty() || state.closed == Some(Closed::Deleted) {
            return 0;
        }
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut state.retired).into_iter().partition(|retired| {
                retired.due_ms <= now_ms && Arc::strong_count(&retired.segment) == 1
            });
        state.retired = waiting;
        for retired in &due {
            retired.segment.delete_files(&self.dir);
        }
        due.len()
    }

    /// Where leader epoch `requested` ends in this log (OffsetForLeaderEpoch): see
    /// [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, requested: i32) -> EpochEndOffset {
        let state = self.state.lock();
        state.epochs.end_offset_for(requested, state.log_end_offset)
    }

    /// Forgets idempotent producers idle for `expiration_ms` (`producer.id.expiration.ms`).
    pub fn remove_expired_producers(&self, now_ms: i64, expiration_ms: i64) -> usize {
        let removed = self.state.lock().producers.remove_expired(now_ms, expiration_ms);
        if removed > 0 {
            tracing::debug!(partition = %self.topic_partition, removed, "expired idempotent producers");
        }
        removed
    }

    /// Each idempotent producer's id, epoch, last sequence and last batch timestamp
    /// (DescribeProducers), in producer id order.
    pub fn active_producers(&self) -> Vec<(i64, i16, i32, i64)> {
        let state = self.state.lock();
        state
            .producers
            .producers()
            .into_iter()
            .map(|(id, entry)| {
                (id, entry.producer_epoch, entry.last_sequence(), entry.last_batch_timestamp())
            })
            .collect()
    }

    /// The partition's idempotent producer state (a copy).
    pub fn producer_state(&self) -> ProducerStateManager {
        self.state.lock().producers.clone()
    }
}

/// With CreateTime, a batch whose timestamps lie further from the broker's clock than
/// `message.timestamp.before.max.ms` / `after.max.ms` allow is refused with INVALID_TIMESTAMP,
/// as Kafka's `LogValidator` does. The batch header bounds its records' timestamps (the first
/// record's and the largest), so no compressed batch is opened for this. A batch without
/// timestamps (-1) passes.
fn check_timestamps(header: &BatchHeader, config: &LogConfig, now_ms: i64) -> Result<()> {
    let earliest = now_ms.saturating_sub(config.timestamp_before_max_ms);
    let latest = now_ms.saturating_add(config.timestamp_after_max_ms);
    let out_of_range = [header.base_timestamp, header.max_timestamp]
        .into_iter()
        .find(|timestamp| *timestamp >= 0 && !(earliest..=latest).contains(timestamp));
    match out_of_range {
        Some(timestamp) => Err(Error::InvalidTimestamp(format!(
            "Timestamp {timestamp} of a record is out of range. The timestamp should be within \
             [{earliest}, {latest}]"
        ))),
        None => Ok(()),
    }
}

/// The leader-epoch cache as of the log just opened: its file, else rebuilt from every batch
/// header; entries the log no longer holds are dropped (see [`super::leader_epoch`]).
fn load_leader_epochs<'a>(
    options: &OpenLog,
    segments: impl Iterator<Item = &'a Segment>,
    log_start_offset: i64,
    log_end_offset: i64,
) -> Result<LeaderEpochCache> {
    let (mut epochs, mut changed) = match LeaderEpochCache::load(&options.dir)? {
        Some(epochs) => (epochs, false),
        None => {
            let mut epochs = LeaderEpochCache::empty(&options.dir);
            for segment in segments {
                segment.visit_headers(segment.base_offset(), |header| {
                    epochs.assign(header.partition_leader_epoch, header.base_offset);
                })?;
            }
            let rebuilt = !epochs.entries().is_empty();
            (epochs, rebuilt)
        }
    };
    changed |= epochs.truncate_from_end(log_end_offset);
    changed |= epochs.truncate_from_start(log_start_offset);
    // The leader's current epoch starts at the log end at the latest: no batch can say
    // otherwise, so this write need not be durable (a lost file is rebuilt).
    let assigned = epochs.assign(SINGLE_NODE_LEADER_EPOCH, log_end_offset);
    if changed {
        epochs.write()?;
    } else if assigned {
        epochs.write_without_sync()?;
    }
    Ok(epochs)
}

/// Rebuilds the idempotent producers' state: the newest usable snapshot, then every batch
/// header after it. Blocking.
fn rebuild_producer_state<'a>(
    options: &OpenLog,
    segments: impl Iterator<Item = &'a Segment>,
    first_offset: i64,
    log_end_offset: i64,
) -> Result<ProducerStateManager> {
    let (mut producers, from) =
        match producer_state::load_snapshot(&options.dir, first_offset, log_end_offset)? {
            Some((producers, offset)) => (producers, offset),
            None => (ProducerStateManager::default(), first_offset),
        };
    let mut replayed = 0u64;
    let now_ms = options.clock.now_ms();
    for segment in segments.filter(|segment| segment.next_offset() > from) {
        segment.visit_headers(from, |header| {
            producers.replay(header, now_ms);
            replayed += 1;
        })?;
    }
    if replayed > 0 && producers.producer_count() > 0 {
        tracing::info!(partition = %options.topic_partition, from, replayed_batches = replayed,
            producers = producers.producer_count(), "rebuilt idempotent producer state");
    }
    Ok(producers)
}

#[cfg(test)]
mod tests;
