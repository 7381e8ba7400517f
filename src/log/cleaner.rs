//! Log compaction: the cleaner keeps, for `cleanup.policy=compact` (and `compact,delete`)
//! logs, only the latest record of each key, as Kafka's `LogCleaner` does.
//!
//! **Sections.** A compacted log is, from its start: the *clean* section (compacted before,
//! each key at most once), the *dirty* section (appended since, up to the first segment
//! younger than `min.compaction.lag.ms`), then what may not be cleaned yet: segments still
//! waiting for their fsync and the active segment. The boundary between clean and dirty,
//! the first dirty offset, is kept per partition in `cleaner-offset-checkpoint` (Kafka's
//! format, in the data directory).
//!
//! **Choice.** One cleaner thread (`log.cleaner.enable`) picks, after each pass, the log with
//! the highest dirty ratio, dirty bytes / (clean + dirty bytes), above its
//! `min.cleanable.dirty.ratio`, or one whose oldest dirty batch is older than
//! `max.compaction.lag.ms`. If none is due it takes a log whose kept tombstones have passed
//! their delete horizon; if none, it sleeps `log.cleaner.backoff.ms`.
//!
//! **Pass.** (1) A map from key to latest offset is built over the dirty section, whole
//! batches at a time, until the map ([`offset_map`], at most
//! `log.cleaner.dedupe.buffer.size`) is full; the mapped range ends at `end_offset`. (2) The
//! segments from the log start up to the one holding `end_offset` are grouped (each group
//! fits `segment.bytes` and a 32-bit offset range) and each group is rewritten into one
//! segment, keeping a record if it lies at or past `end_offset` or is the latest for its key,
//! and, for a tombstone (null value), if its batch's delete horizon has not passed
//! ([`crate::protocol::compaction`]: offsets and batch metadata are kept; a tombstone's
//! batch gets a horizon of now + `delete.retention.ms` the first time it is kept, KIP-534).
//! Records without a key are dropped. A group in which nothing changes is not rewritten.
//! (3) The first dirty offset becomes `end_offset`. Reads and writes together are throttled
//! to `log.cleaner.io.max.bytes.per.second`. The cleaner reads sealed segments through their
//! own file handles and holds the partition lock only to swap a group in: produce and fetch
//! never wait for it otherwise.
//!
//! **Files and crashes.** A group's cleaned segment is written as `<base>.log.cleaned` with
//! `.index.cleaned` and `.timeindex.cleaned` (`base` is the group's first base offset) and
//! fsynced. Then, under the partition lock:
//!
//! ```text
//! 1. rename *.cleaned -> *.swap (indexes first, the log last)   fsync dir   <- commit point
//! 2. rename each replaced segment's files -> *.deleted          fsync dir
//! 3. rename *.swap -> final names; the log uses the new segment
//! ```
//!
//! then, without it, the directory is fsynced and the `.deleted` files unlinked. At open
//! ([`super::recovery`]), before segments are listed: a `<base>.log.swap` means the commit
//! happened, so every segment with a base offset from `base` to the swap's last offset is
//! deleted and the swap's files take their final names; then every `.cleaned`, `.swap` and
//! `.deleted` file left is removed. So a crash before step 1's log rename leaves the old
//! segments; any crash after it leaves the cleaned one, and no offset is ever in two
//! segments. (A replaced segment wholly past the swap's last offset, all of whose records
//! the cleaning dropped, may come back after a crash in steps 1-2; its records are valid
//! history, each superseded by a later record, so nothing is lost or duplicated.) Kafka's
//! order is the same; it renames replaced segments to `.deleted` too but deletes them on a
//! timer, where here readers keep the open file and fall back from its vanished indexes to a
//! scan ([`super::segment::Segment::index_position`]).
//!
//! **Empty batches.** A batch that loses every record disappears, unless it is the last of
//! its idempotent producer: its header stays, empty, so the producer's sequence survives a
//! rebuild of producer state from the log (Kafka does the same).
//!
//! **Failures.** A corrupt batch or an I/O error marks the partition uncleanable until the
//! broker restarts (logged), as Kafka does; other partitions are still cleaned. A failed
//! swap after its commit closes the partition, and the next start finishes the swap.

pub mod offset_map;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::LogManager;
use super::partition_log::{CLEANED_SUFFIX, CleaningView, PartitionLog, SwapStep};
use super::segment::{PreparedBatch, Segment};
use crate::clock::Clock;
use crate::config::CleanerConfig;
use crate::config::topic::LogConfig;
use crate::error::Error;
use crate::limits::BATCH_HEADER_SIZE;
use crate::protocol::compaction::{FilterContext, Filtered, filter_batch};
use crate::protocol::record_batch::{BatchHeader, verify_stored_batch};
use crate::protocol::records::visit_records;
use offset_map::OffsetMap;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassStats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_removed: u64,
    pub groups_rewritten: usize,
    /// Distinct keys mapped, and the most memory the key map took.
    pub keys_mapped: usize,
    pub map_peak_bytes: usize,
    /// The new first dirty offset.
    pub end_offset: i64,
    pub elapsed: Duration,
}

/// Why a pass ended early.
#[derive(Debug)]
pub enum PassError {
    /// The cleaner is stopping.
    Stopped,
    Failed(Error),
}

impl From<Error> for PassError {
    fn from(error: Error) -> Self {
        PassError::Failed(error)
    }
}

impl From<std::io::Error> for PassError {
    fn from(error: std::io::Error) -> Self {
        PassError::Failed(Error::Storage(error))
    }
}

/// Tells the cleaner thread to stop, and wakes it from its backoff.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    pub fn stop(&self) {
        *self.stopped.lock() = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock()
    }

    /// Sleeps up to `duration`; returns whether the cleaner is stopping.
    fn sleep(&self, duration: Duration) -> bool {
        let mut stopped = self.stopped.lock();
        if !*stopped {
            let _ = self.wake.wait_for(&mut stopped, duration);
        }
        *stopped
    }
}

/// The running cleaner thread.
#[derive(Debug)]
pub struct Cleaner {
    stop: Arc<StopSignal>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Cleaner {
    /// Starts the cleaner thread over every log of `manager`; `None` when
    /// `log.cleaner.enable` is false.
    pub fn start(manager: &Arc<LogManager>, config: CleanerConfig, clock: Clock) -> Option<Self> {
        if !config.enable {
            tracing::info!("log cleaner disabled (log.cleaner.enable=false)");
            return None;
        }
        let stop = Arc::new(StopSignal::default());
        let thread = {
            let stop = Arc::clone(&stop);
            let manager = Arc::downgrade(manager);
            std::thread::Builder::new()
                .name("riffle-cleaner".into())
                .spawn(move || run(&manager, config, &clock, &stop))
        };
        match thread {
            Ok(thread) => Some(Self { stop, thread: Mutex::new(Some(thread)) }),
            Err(error) => {
                tracing::error!(%error, "cannot start the log cleaner thread");
                None
            }
        }
    }

    /// Stops the thread (a pass in progress is abandoned, its files removed) and waits.
    pub fn stop(&self) {
        self.stop.stop();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Cleaner {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(manager: &Weak<LogManager>, config: CleanerConfig, clock: &Clock, stop: &StopSignal) {
    let mut uncleanable: Vec<Weak<PartitionLog>> = Vec::new();
    while !stop.is_stopped() {
        let Some(manager) = manager.upgrade() else { return };
        uncleanable.retain(|log| log.strong_count() > 0);
        let now_ms = clock.now_ms();
        let is_uncleanable = |log: &Arc<PartitionLog>| {
            uncleanable.iter().any(|weak| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(log)))
        };
        let logs: Vec<_> = manager
            .all_partitions()
            .into_iter()
            .filter(|log| log.config().cleanup_compact && !is_uncleanable(log))
            .collect();
        let Some(log) = choose(&logs, now_ms) else {
            drop(manager);
            if stop.sleep(Duration::from_millis(config.backoff_ms)) {
                return;
            }
            continue;
        };
        match clean_partition(&log, &config, now_ms, stop, None) {
            Ok(Some(stats)) => {
                tracing::info!(partition = %log.topic_partition(), bytes_read = stats.bytes_read,
                    bytes_written = stats.bytes_written, records_removed = stats.records_removed,
                    groups_rewritten = stats.groups_rewritten, keys = stats.keys_mapped,
                    map_peak_bytes = stats.map_peak_bytes, first_dirty_offset = stats.end_offset,
                    elapsed_ms = stats.elapsed.as_millis(), "cleaned log");
                if let Err(error) = manager.write_cleaner_checkpoint() {
                    tracing::error!(%error, "writing the cleaner checkpoint failed");
                }
            }
            Ok(None) => {}
            Err(PassError::Stopped) => return,
            Err(PassError::Failed(error)) => {
                tracing::error!(partition = %log.topic_partition(), %error,
                    "cleaning failed; the partition is not cleaned again until restart");
                uncleanable.push(Arc::downgrade(&log));
            }
        }
    }
}

/// A log's sections as the cleaner sees them now.
#[derive(Debug)]
struct Sections {
    view: CleaningView,
    config: Arc<LogConfig>,
    /// `view.segments[..cleanable]` may be cleaned (older than `min.compaction.lag.ms`).
    cleanable: usize,
    clean_bytes: u64,
    dirty_bytes: u64,
    /// The oldest dirty batch is older than `max.compaction.lag.ms`.
    overdue: bool,
}

impl Sections {
    fn of(log: &PartitionLog, now_ms: i64) -> Option<Self> {
        let config = log.config();
        let view = log.cleaning_view()?;
        let first_dirty = view.first_dirty_offset;
        let lag_ms = config.min_compaction_lag_ms;
        let cleanable = view
            .segments
            .iter()
            .position(|segment| {
                lag_ms > 0
                    && segment.next_offset() > first_dirty
                    && segment.largest_timestamp_ms() > now_ms.saturating_sub(lag_ms)
            })
            .unwrap_or(view.segments.len());
        let segments = &view.segments[..cleanable];
        let (clean, dirty): (Vec<&Arc<Segment>>, Vec<&Arc<Segment>>) =
            segments.iter().partition(|segment| segment.next_offset() <= first_dirty);
        let clean_bytes = clean.iter().map(|segment| segment.size()).sum();
        let dirty_bytes = dirty.iter().map(|segment| segment.size()).sum();
        let overdue =
            dirty.first().and_then(|segment| segment.first_batch_timestamp()).is_some_and(
                |first| first >= 0 && first < now_ms.saturating_sub(config.max_compaction_lag_ms),
            );
        Some(Self { view, config, cleanable, clean_bytes, dirty_bytes, overdue })
    }

    fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 { 0.0 } else { self.dirty_bytes as f64 / total as f64 }
    }

    fn due(&self) -> bool {
        self.dirty_bytes > 0
            && (self.overdue || self.dirty_ratio() > self.config.min_cleanable_dirty_ratio)
    }
}

/// The log to clean next: the filthiest due one, else one whose tombstones' horizon passed.
fn choose(logs: &[Arc<PartitionLog>], now_ms: i64) -> Option<Arc<PartitionLog>> {
    let mut best: Option<(f64, &Arc<PartitionLog>)> = None;
    for log in logs {
        let Some(sections) = Sections::of(log, now_ms) else { continue };
        let ratio = sections.dirty_ratio();
        if sections.due() && best.is_none_or(|(best_ratio, _)| ratio > best_ratio) {
            best = Some((ratio, log));
        }
    }
    if let Some((_, log)) = best {
        return Some(Arc::clone(log));
    }
    logs.iter()
        .find(|log| {
            (0..=now_ms).contains(&log.latest_delete_horizon_ms()) && log.cleaning_view().is_some()
        })
        .map(Arc::clone)
}

/// Limits the cleaner's reads and writes to a rate.
#[derive(Debug)]
struct Throttler<'a> {
    bytes_per_second: f64,
    started: Instant,
    bytes: f64,
    stop: &'a StopSignal,
}

impl Throttler<'_> {
    /// Accounts for `bytes` of I/O, sleeping while ahead of the rate.
    fn record(&mut self, bytes: usize) -> std::result::Result<(), PassError> {
        if self.stop.is_stopped() {
            return Err(PassError::Stopped);
        }
        if self.bytes_per_second == f64::MAX {
            return Ok(());
        }
        self.bytes += bytes as f64;
        let due = Duration::from_secs_f64(self.bytes / self.bytes_per_second);
        let elapsed = self.started.elapsed();
        if due > elapsed + Duration::from_millis(10) && self.stop.sleep(due - elapsed) {
            return Err(PassError::Stopped);
        }
        Ok(())
    }
}

/// One cleaning pass over `log` (see the module doc); `None` when there was nothing to do.
/// Blocking. `crash_after` stops the first group's swap after a step (tests).
pub fn clean_partition(
    log: &PartitionLog,
    config: &CleanerConfig,
    now_ms: i64,
    stop: &StopSignal,
    crash_after: Option<SwapStep>,
) -> std::result::Result<Option<PassStats>, PassError> {
    let started = Instant::now();
    let Some(sections) = Sections::of(log, now_ms) else {
        // Closed: no tombstone here is waited for any more.
        log.set_latest_delete_horizon_ms(-1);
        return Ok(None);
    };
    let mut throttler =
        Throttler { bytes_per_second: config.io_max_bytes_per_second, started, bytes: 0.0, stop };
    let mut stats = PassStats::default();
    let segments = &sections.view.segments[..sections.cleanable];
    let first_dirty = sections.view.first_dirty_offset;
    let mut map = OffsetMap::new(config.dedupe_buffer_bytes, config.dedupe_load_factor);
    let end_offset = build_offset_map(segments, first_dirty, &mut map, &mut throttler, &mut stats)?;
    stats.keys_mapped = map.len();
    stats.map_peak_bytes = map.peak_bytes();
    stats.end_offset = end_offset;
    let to_clean: Vec<Arc<Segment>> =
        segments.iter().take_while(|segment| segment.base_offset() < end_offset).cloned().collect();
    let producer_last_offsets = log.producer_last_offsets();
    let mut latest_horizon: Option<i64> = None;
    for group in group_segments(&to_clean, sections.config.segment_bytes) {
        let context = GroupContext {
            log,
            map: &map,
            end_offset,
            producer_last_offsets: &producer_last_offsets,
            config: &sections.config,
            now_ms,
        };
        let outcome = clean_group(&context, group, &mut throttler, &mut stats)?;
        latest_horizon = latest_horizon.max(outcome.tombstone_horizon_ms);
        if let Some(cleaned) = outcome.cleaned {
            let group_crash = crash_after.filter(|_| stats.groups_rewritten == 0);
            if !log.replace_segments(group, cleaned, group_crash)? {
                tracing::info!(partition = %log.topic_partition(), "the log changed during cleaning; pass abandoned");
                return Ok(None);
            }
            stats.groups_rewritten += 1;
            if group_crash.is_some() {
                return Ok(Some(stats));
            }
        }
    }
    if to_clean.is_empty() && end_offset == first_dirty {
        // Nothing below the dirty section either (retention took it): no tombstone is left
        // to wait for.
        log.set_latest_delete_horizon_ms(-1);
        return Ok(None);
    }
    log.set_cleaner_checkpoint(end_offset.max(first_dirty));
    log.set_latest_delete_horizon_ms(latest_horizon.unwrap_or(-1));
    stats.elapsed = started.elapsed();
    Ok(Some(stats))
}

/// Maps each key of the dirty section to its latest offset, whole batches at a time, until
/// the map is full. Returns the offset after the last mapped batch (`first_dirty` if none).
fn build_offset_map(
    segments: &[Arc<Segment>],
    first_dirty: i64,
    map: &mut OffsetMap,
    throttler: &mut Throttler<'_>,
    stats: &mut PassStats,
) -> std::result::Result<i64, PassError> {
    let mut end_offset = first_dirty;
    let mut next_offset = i64::MIN;
    for segment in segments.iter().filter(|segment| segment.next_offset() > first_dirty) {
        let mut reader = segment.batch_reader();
        while let Some((header, batch)) = reader.next_batch()? {
            throttler.record(batch.len())?;
            stats.bytes_read += batch.len() as u64;
            check_order(&header, &mut next_offset)?;
            if header.last_offset() < first_dirty {
                continue;
            }
            let records = usize::try_from(header.records_count).unwrap_or(0);
            if !map.has_room_for(records) {
                if map.is_empty() {
                    // Mapping part of it would let its unmapped keys' older records and
                    // tombstones pass for clean (Kafka fails such a pass too).
                    return Err(PassError::Failed(Error::Internal(format!(
                        "the batch at offset {} has {records} records, more than the key map's \
                         {} keys; raise log.cleaner.dedupe.buffer.size",
                        header.base_offset,
                        map.capacity()
                    ))));
                }
                return Ok(end_offset);
            }
            verify_stored_batch(&batch)?;
            if !header.is_control() {
                visit_records(&batch, |record| {
                    if let Some(key) = record.key
                        && record.offset >= first_dirty
                    {
                        let mapped = map.put(key, record.offset);
                        debug_assert!(mapped, "room was checked for the whole batch");
                    }
                    ControlFlow::Continue(())
                })?;
            }
            end_offset = header.next_offset();
        }
    }
    Ok(end_offset)
}

/// Checks that batches come in increasing offset order (the base offset is not covered by
/// the CRC): a log that says otherwise is corrupt, and rewriting it would assert.
fn check_order(header: &BatchHeader, next_offset: &mut i64) -> std::result::Result<(), PassError> {
    if header.base_offset < *next_offset || header.last_offset() < header.base_offset {
        return Err(PassError::Failed(Error::CorruptMessage(format!(
            "batch at offset {} after offset {}",
            header.base_offset,
            next_offset.saturating_sub(1)
        ))));
    }
    *next_offset = header.next_offset();
    Ok(())
}

/// Splits consecutive segments into groups that each fit one segment: at most
/// `segment_bytes` (a lone larger segment is its own group) and a 32-bit offset range.
fn group_segments(segments: &[Arc<Segment>], segment_bytes: u64) -> Vec<&[Arc<Segment>]> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let base = segments[start].base_offset();
        let mut size = segments[start].size();
        let mut end = start + 1;
        while let Some(next) = segments.get(end) {
            let fits_size = size + next.size() <= segment_bytes;
            let fits_offsets = next.next_offset() - 1 - base <= i64::from(i32::MAX);
            if !fits_size || !fits_offsets {
                break;
            }
            size += next.size();
            end += 1;
        }
        groups.push(&segments[start..end]);
        start = end;
    }
    groups
}

/// What a group is cleaned against.
struct GroupContext<'a> {
    log: &'a PartitionLog,
    map: &'a OffsetMap,
    end_offset: i64,
    producer_last_offsets: &'a HashMap<i64, i64>,
    config: &'a LogConfig,
    now_ms: i64,
}

/// A cleaned group: its new segment, unless nothing changed.
struct GroupOutcome {
    cleaned: Option<Segment>,
    tombstone_horizon_ms: Option<i64>,
}

/// Writes `group`'s kept batches into a `.cleaned` segment, sealed and fsynced.
fn clean_group(
    context: &GroupContext<'_>,
    group: &[Arc<Segment>],
    throttler: &mut Throttler<'_>,
    stats: &mut PassStats,
) -> std::result::Result<GroupOutcome, PassError> {
    let dir = context.log.dir();
    let base = group[0].base_offset();
    let mut cleaned = Segment::create_with_suffix(dir, base, CLEANED_SUFFIX, context.now_ms)?;
    let written = write_group(context, group, &mut cleaned, throttler, stats);
    let discard = || super::segment::delete_segment_files(dir, base, CLEANED_SUFFIX);
    let (changed, tombstone_horizon_ms) = match written {
        Ok(written) => written,
        Err(error) => {
            drop(cleaned);
            discard()?;
            return Err(error);
        }
    };
    if !changed {
        drop(cleaned);
        discard()?;
        return Ok(GroupOutcome { cleaned: None, tombstone_horizon_ms });
    }
    cleaned.seal()?;
    cleaned.sync()?;
    Ok(GroupOutcome { cleaned: Some(cleaned), tombstone_horizon_ms })
}

/// Filters every batch of `group` into `cleaned`. Returns whether anything changed and the
/// latest delete horizon of the tombstones kept.
fn write_group(
    context: &GroupContext<'_>,
    group: &[Arc<Segment>],
    cleaned: &mut Segment,
    throttler: &mut Throttler<'_>,
    stats: &mut PassStats,
) -> std::result::Result<(bool, Option<i64>), PassError> {
    let mut changed = false;
    let mut horizon: Option<i64> = None;
    let mut next_offset = i64::MIN;
    for segment in group {
        let mut reader = segment.batch_reader();
        while let Some((header, batch)) = reader.next_batch()? {
            throttler.record(batch.len())?;
            stats.bytes_read += batch.len() as u64;
            verify_stored_batch(&batch)?;
            check_order(&header, &mut next_offset)?;
            let keep_if_empty = header.producer_id >= 0
                && context.producer_last_offsets.get(&header.producer_id)
                    == Some(&header.last_offset());
            let filter = FilterContext {
                now_ms: context.now_ms,
                delete_retention_ms: context.config.delete_retention_ms,
                keep_if_empty,
                keep_from_offset: context.end_offset,
            };
            let outcome = filter_batch(&batch, &header, filter, |record| {
                record
                    .key
                    .and_then(|key| context.map.get(key))
                    .is_none_or(|latest| record.offset >= latest)
            })?;
            stats.records_removed += outcome.records_removed as u64;
            horizon = horizon.max(outcome.tombstone_horizon_ms);
            let kept: &[u8] = match &outcome.batch {
                Filtered::Unchanged => &batch,
                Filtered::Rewritten(rewritten) => {
                    changed = true;
                    rewritten
                }
                Filtered::Removed => {
                    changed = true;
                    continue;
                }
            };
            append_batch(cleaned, kept, context.config.index_interval_bytes)?;
            throttler.record(kept.len())?;
            stats.bytes_written += kept.len() as u64;
        }
    }
    Ok((changed, horizon))
}

fn append_batch(
    segment: &mut Segment,
    batch: &[u8],
    index_interval_bytes: u64,
) -> std::result::Result<(), PassError> {
    // Verified when read, or built here with its CRC: only the header is needed.
    let header = BatchHeader::parse(batch).expect("a whole batch");
    let header_bytes: &[u8; BATCH_HEADER_SIZE] =
        batch[..BATCH_HEADER_SIZE].try_into().expect("a whole batch");
    let prepared = PreparedBatch {
        header: header_bytes,
        tail: &batch[BATCH_HEADER_SIZE..],
        base_offset: header.base_offset,
        last_offset: header.last_offset(),
        max_timestamp: header.max_timestamp,
    };
    segment.append(&prepared, index_interval_bytes)?;
    Ok(())
}

/// The cleaner checkpoint entries of `logs` that have one.
pub fn checkpoint_entries(logs: &[Arc<PartitionLog>]) -> Vec<(crate::types::TopicPartition, i64)> {
    logs.iter()
        .filter(|log| log.cleaner_checkpoint() >= 0)
        .map(|log| (log.topic_partition().clone(), log.cleaner_checkpoint()))
        .collect()
}

#[cfg(test)]
mod tests;
