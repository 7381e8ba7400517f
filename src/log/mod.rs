//! The log engine: every partition's durable, segmented log, in Kafka's on-disk layout.
//!
//! ```text
//! <data dir>/
//!   meta.properties                       cluster.id, node.id (see crate::metadata)
//!   .kafka_cleanshutdown                  present only between a clean shutdown and the next start
//!   recovery-point-offset-checkpoint      per partition: offsets below are fsynced
//!   log-start-offset-checkpoint           per partition: first available offset
//!   cleaner-offset-checkpoint             per compacted partition: first dirty offset
//!   __cluster_metadata-0/                 the metadata log (crate::metadata)
//!   <topic>-<partition>/
//!     partition.metadata                  "version: 0\ntopic_id: <base64 uuid>\n"
//!     00000000000000000000.log            record batches as on the wire
//!     00000000000000000000.index          sparse offset index
//!     00000000000000000000.timeindex      sparse time index
//!     00000000000000000100.snapshot       idempotent producer state below offset 100
//!     leader-epoch-checkpoint             where each leader epoch starts (leader_epoch.rs)
//!   <topic>-<partition>.<uuid>-delete/    a deleted partition awaiting removal
//! ```
//!
//! [`LogManager`] owns the map from topic to partition logs, opens them at start-up (trusting
//! them after a clean shutdown, recovering them otherwise), removes deleted topics' data, runs
//! the flush, retention and segment-deletion timers and writes the checkpoint files.

pub mod checkpoint;
pub mod cleaner;
pub mod flusher;
pub mod index;
pub mod leader_epoch;
pub mod offset_index;
pub mod partition_log;
pub mod producer_state;
pub mod recovery;
pub mod retention;
pub mod segment;
#[cfg(test)]
pub(crate) mod test_support;
pub mod time_index;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::topic::LogConfig;
use crate::error::{Error, Result};
use crate::types::{TopicPartition, uuid_from_kafka_string, uuid_to_kafka_string};
use flusher::Flusher;
use partition_log::{OpenLog, PartitionLog};

/// Name of the marker file written after a clean shutdown.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
const PARTITION_METADATA_FILE: &str = "partition.metadata";
const DELETE_SUFFIX: &str = "-delete";
const STRAY_SUFFIX: &str = "-stray";

/// A topic's partition logs.
#[derive(Debug)]
pub struct TopicLogs {
    pub topic_id: Uuid,
    pub partitions: Vec<Arc<PartitionLog>>,
}

/// How often the background maintenance does each job.
#[derive(Debug, Clone, Copy)]
pub struct MaintenanceIntervals {
    pub flush_check_ms: u64,
    pub checkpoint_ms: u64,
    /// `producer.id.expiration.check.interval.ms`.
    pub producer_expiration_check_ms: u64,
    /// `producer.id.expiration.ms`.
    pub producer_id_expiration_ms: i64,
    /// `log.retention.check.interval.ms`.
    pub retention_check_ms: u64,
}

/// What the start-up checkpoints said.
#[derive(Debug, Default)]
struct StartupState {
    clean_shutdown: bool,
    recovery_points: HashMap<TopicPartition, i64>,
    log_start_offsets: HashMap<TopicPartition, i64>,
    cleaner_offsets: HashMap<TopicPartition, i64>,
}

/// At most this many threads open one topic's partitions at once.
const PARTITION_OPEN_THREADS_MAX: usize = 8;
/// A topic with fewer partitions to open than this is opened on the calling thread.
const PARALLEL_OPEN_PARTITIONS_MIN: usize = 16;

/// All partition logs of this broker.
#[derive(Debug)]
pub struct LogManager {
    data_dir: PathBuf,
    clock: Clock,
    topics: RwLock<HashMap<Arc<str>, Arc<TopicLogs>>>,
    /// Serializes checkpoint writes (the timer, DeleteRecords, shutdown), so an older set of
    /// offsets can never be renamed over a newer one.
    checkpoint_writer: parking_lot::Mutex<()>,
    flusher: Flusher,
    /// Notified by the flusher when rolled segments became durable (see [`flusher`]).
    segments_synced: Arc<tokio::sync::Notify>,
    startup: StartupState,
}

impl LogManager {
    /// Reads the data directory's checkpoints and clean-shutdown marker. Logs are opened as
    /// the metadata image names them ([`LogManager::ensure_partitions`]).
    pub fn open(data_dir: &Path, clock: Clock) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let clean_shutdown = data_dir.join(CLEAN_SHUTDOWN_FILE).exists();
        let read_checkpoint = |name: &str| {
            checkpoint::read(&data_dir.join(name)).unwrap_or_else(|error| {
                tracing::warn!(%error, "ignoring an unreadable checkpoint; logs will be recovered");
                HashMap::new()
            })
        };
        let startup = StartupState {
            clean_shutdown,
            recovery_points: read_checkpoint(checkpoint::RECOVERY_POINT_FILE),
            log_start_offsets: read_checkpoint(checkpoint::LOG_START_OFFSET_FILE),
            cleaner_offsets: read_checkpoint(checkpoint::CLEANER_OFFSET_FILE),
        };
        tracing::info!(data_dir = %data_dir.display(), clean_shutdown, "opening logs");
        let segments_synced = Arc::new(tokio::sync::Notify::new());
        Ok(Self {
            data_dir: data_dir.to_owned(),
            clock,
            topics: RwLock::new(HashMap::new()),
            checkpoint_writer: parking_lot::Mutex::new(()),
            flusher: Flusher::start(Arc::clone(&segments_synced))?,
            segments_synced,
            startup,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn topic(&self, topic: &str) -> Option<Arc<TopicLogs>> {
        self.topics.read().get(topic).cloned()
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        let topic = self.topic(topic)?;
        let index = usize::try_from(partition).ok()?;
        topic.partitions.get(index).cloned()
    }

    /// Every topic's name and logs, sorted by name.
    pub fn all_topics(&self) -> Vec<(Arc<str>, Arc<TopicLogs>)> {
        let mut topics: Vec<_> = self
            .topics
            .read()
            .iter()
            .map(|(name, logs)| (Arc::clone(name), Arc::clone(logs)))
            .collect();
        topics.sort_by(|a, b| a.0.cmp(&b.0));
        topics
    }

    /// Every partition log.
    pub fn all_partitions(&self) -> Vec<Arc<PartitionLog>> {
        self.topics.read().values().flat_map(|topic| topic.partitions.iter().cloned()).collect()
    }

    /// Opens or creates partitions `0..count` of `topic`. Existing directories holding another
    /// topic id (a deleted topic of the same name) are replaced.
    pub fn ensure_partitions(
        &self,
        topic: &str,
        topic_id: Uuid,
        count: i32,
        config: &Arc<LogConfig>,
    ) -> Result<Arc<TopicLogs>> {
        let existing = self.topic(topic).filter(|logs| logs.topic_id == topic_id);
        let mut partitions = existing.map(|logs| logs.partitions.clone()).unwrap_or_default();
        let mut created = false;
        let first = i32::try_from(partitions.len()).expect("partition count fits i32");
        for opened in self.open_partitions(topic, first..count, topic_id, config) {
            let (log, new_dir) = opened?;
            created |= new_dir;
            partitions.push(Arc::new(log));
        }
        if created {
            // The new partition directories' entries in the data directory.
            checkpoint::sync_dir(&self.data_dir)?;
        }
        let logs = Arc::new(TopicLogs { topic_id, partitions });
        self.topics.write().insert(Arc::from(topic), Arc::clone(&logs));
        Ok(logs)
    }

    /// Opens `range` of a topic's partitions, in order. Opening is system calls on mostly
    /// cached metadata (directory listings, opens, small reads), so a large topic is opened
    /// by several threads at once: start-up with a thousand partitions is bound by it.
    fn open_partitions(
        &self,
        topic: &str,
        range: std::ops::Range<i32>,
        topic_id: Uuid,
        config: &Arc<LogConfig>,
    ) -> Vec<Result<(PartitionLog, bool)>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(PARTITION_OPEN_THREADS_MAX);
        if range.len() < PARALLEL_OPEN_PARTITIONS_MIN || threads < 2 {
            return range
                .map(|partition| self.open_partition(topic, partition, topic_id, config))
                .collect();
        }
        let next = std::sync::atomic::AtomicI32::new(range.start);
        let mut opened: Vec<(i32, Result<(PartitionLog, bool)>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut opened = Vec::new();
                        loop {
                            let partition = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if partition >= range.end {
                                return opened;
                            }
                            let log = self.open_partition(topic, partition, topic_id, config);
                            opened.push((partition, log));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        opened.sort_unstable_by_key(|(partition, _)| *partition);
        opened.into_iter().map(|(_, log)| log).collect()
    }

    fn open_partition(
        &self,
        topic: &str,
        partition: i32,
        topic_id: Uuid,
        config: &Arc<LogConfig>,
    ) -> Result<(PartitionLog, bool)> {
        let topic_partition = TopicPartition::new(topic, partition);
        if crate::metadata::is_metadata_log_dir(&topic_partition.dir_name()) {
            return Err(Error::Internal(format!(
                "{topic_partition} would be the metadata log's directory"
            )));
        }
        let dir = self.data_dir.join(topic_partition.dir_name());
        let owner = read_partition_metadata(&dir);
        if owner.is_some_and(|owner| owner != topic_id) {
            tracing::warn!(partition = %topic_partition, "replacing data of an older topic with the same name");
            schedule_removal(&dir, &owner.map(uuid_to_kafka_string).unwrap_or_default())?;
        }
        let known = owner == Some(topic_id);
        let log = PartitionLog::open(OpenLog {
            dir: dir.clone(),
            config: Arc::clone(config),
            clock: self.clock.clone(),
            recovery_point: known
                .then(|| self.startup.recovery_points.get(&topic_partition).copied())
                .flatten(),
            log_start_offset: known
                .then(|| self.startup.log_start_offsets.get(&topic_partition).copied())
                .flatten(),
            clean_shutdown: known && self.startup.clean_shutdown,
            topic_partition,
        })?;
        if !known {
            write_partition_metadata(&dir, topic_id)?;
        } else if let Some(&offset) = self.startup.cleaner_offsets.get(log.topic_partition()) {
            log.set_cleaner_checkpoint(offset);
        }
        Ok((log, !known))
    }

    /// Ends start-up: finishes removals of deleted partitions, renames partition directories
    /// no topic owns to `<dir>-stray` (never deleting them), and removes the clean-shutdown
    /// marker (from now on a crash must be recovered from).
    pub fn finish_startup(&self) -> Result<()> {
        for entry in std::fs::read_dir(&self.data_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(DELETE_SUFFIX) {
                remove_in_background(entry.path());
            } else if self.is_stray_partition_dir(&name) && holds_log_files(&entry.path()) {
                // Kept, not deleted, as Kafka keeps stray logs: they may be an operator's.
                let unique = Uuid::new_v4().simple().to_string();
                let target =
                    entry.path().with_file_name(format!("{name}.{}{STRAY_SUFFIX}", &unique[..8]));
                tracing::warn!(
                    dir = name,
                    "a partition directory no topic owns; renamed to -stray"
                );
                std::fs::rename(entry.path(), target)?;
            }
        }
        match std::fs::remove_file(self.data_dir.join(CLEAN_SHUTDOWN_FILE)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        checkpoint::sync_dir(&self.data_dir)?;
        Ok(())
    }

    fn is_stray_partition_dir(&self, name: &str) -> bool {
        let Some((topic, partition)) = name.rsplit_once('-') else {
            return false;
        };
        let Ok(partition) = partition.parse::<i32>() else {
            return false;
        };
        if crate::metadata::is_metadata_log_dir(name) {
            return false;
        }
        self.partition(topic, partition).is_none()
    }

    /// Stops appends to `topic` and removes its data: the directories are renamed at once
    /// (so the name is free for a new topic) and deleted in the background.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        let Some(logs) = self.topics.write().remove(topic) else {
            return Ok(());
        };
        let tag = uuid_to_kafka_string(logs.topic_id);
        for log in &logs.partitions {
            log.close(partition_log::Closed::Deleted);
            schedule_removal(log.dir(), &tag)?;
        }
        Ok(())
    }

    /// Applies a topic's changed config to each of its partition logs.
    pub fn set_topic_config(&self, topic: &str, config: &Arc<LogConfig>) {
        if let Some(logs) = self.topic(topic) {
            for log in &logs.partitions {
                log.set_config(Arc::clone(config));
            }
        }
    }

    /// Queues `log` for an fsync (group commit).
    pub fn request_flush(&self, log: &Arc<PartitionLog>) {
        self.flusher.request(log);
    }

    /// Writes the recovery-point and log-start-offset checkpoints.
    pub fn write_checkpoints(&self) -> Result<()> {
        let _writer = self.checkpoint_writer.lock();
        let logs = self.all_partitions();
        let recovery_points: Vec<_> =
            logs.iter().map(|log| (log.topic_partition().clone(), log.recovery_point())).collect();
        let log_start_offsets: Vec<_> = logs
            .iter()
            .map(|log| (log.topic_partition().clone(), log.offsets().log_start_offset))
            .collect();
        checkpoint::write(&self.data_dir.join(checkpoint::RECOVERY_POINT_FILE), &recovery_points)?;
        checkpoint::write(
            &self.data_dir.join(checkpoint::LOG_START_OFFSET_FILE),
            &log_start_offsets,
        )?;
        Ok(())
    }

    /// Writes `cleaner-offset-checkpoint` (after a cleaning pass: only the cleaner moves it).
    pub fn write_cleaner_checkpoint(&self) -> Result<()> {
        let _writer = self.checkpoint_writer.lock();
        let entries = cleaner::checkpoint_entries(&self.all_partitions());
        checkpoint::write(&self.data_dir.join(checkpoint::CLEANER_OFFSET_FILE), &entries)?;
        Ok(())
    }

    /// Clean shutdown: refuse appends, fsync every log with its indexes, write checkpoints
    /// and the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<()> {
        let logs = self.all_partitions();
        for log in &logs {
            log.close(partition_log::Closed::ShuttingDown);
        }
        self.flusher.stop();
        let mut first_error = None;
        for log in &logs {
            if let Err(error) = log.persist_and_flush() {
                tracing::error!(partition = %log.topic_partition(), %error, "flush at shutdown failed");
                first_error.get_or_insert(error);
            }
        }
        self.write_checkpoints()?;
        if let Some(error) = first_error {
            return Err(error);
        }
        checkpoint::write_atomically(&self.data_dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        tracing::info!(partitions = logs.len(), "logs flushed; clean shutdown recorded");
        Ok(())
    }

    /// The background timer: requests flushes due by `flush.ms`, writes checkpoints (at the
    /// interval, and whenever rolled segments became durable) and removes expired producer
    /// state at the given intervals, until `shutdown` fires.
    pub async fn run_maintenance(
        self: Arc<Self>,
        intervals: MaintenanceIntervals,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let timer = |ms: u64| {
            let mut timer = tokio::time::interval(Duration::from_millis(ms));
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        };
        let mut flush_timer = timer(intervals.flush_check_ms);
        let mut checkpoint_timer = timer(intervals.checkpoint_ms);
        let mut producer_timer = timer(intervals.producer_expiration_check_ms);
        let mut retention_timer = timer(intervals.retention_check_ms);
        loop {
            tokio::select! {
                _ = flush_timer.tick() => {
                    self.request_due_flushes();
                    self.delete_retired_segments();
                }
                _ = producer_timer.tick() => {
                    let manager = Arc::clone(&self);
                    let expiration_ms = intervals.producer_id_expiration_ms;
                    // A scan of every partition's producers: off the async workers.
                    let _ = tokio::task::spawn_blocking(move || manager.remove_expired_producers(expiration_ms)).await;
                }
                _ = retention_timer.tick() => {
                    let manager = Arc::clone(&self);
                    // Rolls may create files: off the async workers.
                    let _ = tokio::task::spawn_blocking(move || manager.apply_retention()).await;
                }
                _ = checkpoint_timer.tick() => self.write_checkpoints_off_runtime().await,
                () = self.segments_synced.notified() => self.write_checkpoints_off_runtime().await,
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn write_checkpoints_off_runtime(self: &Arc<Self>) {
        let manager = Arc::clone(self);
        let written = tokio::task::spawn_blocking(move || manager.write_checkpoints()).await;
        if let Ok(Err(error)) = written {
            tracing::error!(%error, "writing checkpoints failed");
        }
    }

    fn remove_expired_producers(&self, expiration_ms: i64) {
        let now_ms = self.clock.now_ms();
        let removed: usize = self
            .all_partitions()
            .iter()
            .map(|log| log.remove_expired_producers(now_ms, expiration_ms))
            .sum();
        if removed > 0 {
            tracing::info!(removed, "expired idle idempotent producers");
        }
    }

    /// Applies every partition's retention (see [`PartitionLog::apply_retention`]).
    fn apply_retention(&self) {
        let now_ms = self.clock.now_ms();
        for log in self.all_partitions() {
            if let Err(error) = log.apply_retention(now_ms) {
                tracing::error!(partition = %log.topic_partition(), %error, "retention failed");
            }
        }
    }

    /// Deletes retired segments whose delay has passed (see
    /// [`PartitionLog::delete_retired_segments`]). Blocking, but rare and small: a few
    /// unlinks per retired segment.
    fn delete_retired_segments(&self) {
        let now_ms = self.clock.now_ms();
        for log in self.all_partitions() {
            log.delete_retired_segments(now_ms);
        }
    }

    fn request_due_flushes(&self) {
        let now_ms = self.clock.now_ms();
        for log in self.all_partitions() {
            if log.flush_due(now_ms) {
                self.flusher.request(&log);
            }
        }
    }
}

/// Whether `dir` looks like a partition log (Kafka files in it), not someone else's directory.
fn holds_log_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.filter_map(std::result::Result::ok).any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name == PARTITION_METADATA_FILE || name.ends_with(".log")
        })
    })
}

fn read_partition_metadata(dir: &Path) -> Option<Uuid> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA_FILE)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("topic_id: "))
        .and_then(|id| uuid_from_kafka_string(id.trim()))
}

fn write_partition_metadata(dir: &Path, topic_id: Uuid) -> Result<()> {
    let text = format!("version: 0\ntopic_id: {}\n", uuid_to_kafka_string(topic_id));
    checkpoint::write_atomically(&dir.join(PARTITION_METADATA_FILE), text.as_bytes())?;
    Ok(())
}

/// Renames `dir` to `<dir>.<tag>-delete` (freeing its name at once) and removes it in the
/// background. Nothing to do if `dir` does not exist.
fn schedule_removal(dir: &Path, tag: &str) -> Result<()> {
    let Some(name) = dir.file_name().map(|name| name.to_string_lossy().into_owned()) else {
        return Err(Error::Internal(format!("no directory name in {}", dir.display())));
    };
    let unique = Uuid::new_v4().simple().to_string();
    let target = dir.with_file_name(format!("{name}.{tag}-{}{DELETE_SUFFIX}", &unique[..8]));
    match std::fs::rename(dir, &target) {
        Ok(()) => {
            remove_in_background(target);
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn remove_in_background(dir: PathBuf) {
    let spawned = std::thread::Builder::new().name("riffle-delete".into()).spawn(move || {
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), %error, "removing deleted partition data failed");
        }
    });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start a thread to remove deleted data");
    }
}
