//! Cluster metadata as a log of typed records replayed into an image (KRaft's model).
//!
//! The single-node broker is its own controller: changes (topic creation and deletion so far)
//! are validated ([`topics`]), written as one batch to the local metadata log
//! `<data dir>/__cluster_metadata-0` and fsynced, and only then replayed into the next
//! [`MetadataImage`] and published. At start-up the whole log is replayed through the same
//! [`MetadataImage::replay`], so topics, ids, partition counts and configs survive restarts.
//! One writer at a time (an async mutex) keeps validation and the write atomic.
//!
//! With a cluster (later), the same records are replicated by a controller quorum; this module
//! is written so that only where records are appended changes.

pub mod image;
pub mod meta_properties;
pub mod records;
pub mod topic_name;
pub mod topics;

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::topic::LogConfig;
use crate::error::{Error, Result};
use crate::log::partition_log::{LogRead, OpenLog, PartitionLog};
use crate::protocol::record_batch::{BatchHeader, RecordInput, build_uncompressed_batch};
use crate::protocol::records::visit_records;
use crate::types::{IsolationLevel, TopicPartition};
pub use image::{MetadataImage, PartitionImage, TopicImage};
use records::MetadataRecord;
pub use topics::{
    PartitionIncrease, PartitionIncreasePlan, ReplicaAssignment, TopicPlan, TopicSpec,
};

/// The metadata log's directory name (as KRaft's).
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";
use topic_name::METADATA_TOPIC;

/// Whether a data directory entry is the metadata log (never a topic partition).
pub fn is_metadata_log_dir(name: &str) -> bool {
    name == METADATA_LOG_DIR
}

/// Broker settings that metadata decisions depend on.
#[derive(Debug, Clone)]
pub struct MetadataSettings {
    pub node_id: i32,
    pub default_partitions: i32,
    pub default_replication_factor: i16,
}

/// The metadata log, its image, and the one-writer lock.
#[derive(Debug)]
pub struct MetadataStore {
    log: Arc<PartitionLog>,
    image: RwLock<Arc<MetadataImage>>,
    writer: tokio::sync::Mutex<()>,
    cluster_id: String,
    settings: MetadataSettings,
    clock: Clock,
}

/// A DeleteTopics target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicTarget {
    Name(String),
    Id(Uuid),
}

impl MetadataStore {
    /// Opens the metadata log under `data_dir` and replays it. Blocking.
    pub fn open(
        data_dir: &std::path::Path,
        settings: MetadataSettings,
        clock: Clock,
    ) -> Result<Self> {
        let identity = meta_properties::load_or_create(data_dir, settings.node_id)?;
        let log = PartitionLog::open(OpenLog {
            dir: data_dir.join(METADATA_LOG_DIR),
            topic_partition: TopicPartition::new(METADATA_TOPIC, 0),
            config: Arc::new(LogConfig::kafka_defaults()),
            clock: clock.clone(),
            recovery_point: None,
            log_start_offset: None,
            clean_shutdown: false,
        })?;
        let image = replay_log(&log)?;
        let log = Arc::new(log);
        tracing::info!(
            cluster_id = identity.cluster_id,
            topics = image.topics.len(),
            "metadata loaded"
        );
        Ok(Self {
            log,
            image: RwLock::new(Arc::new(image)),
            writer: tokio::sync::Mutex::new(()),
            cluster_id: identity.cluster_id,
            settings,
            clock,
        })
    }

    /// The current image: a cheap snapshot that never changes under the caller.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.image.read())
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    pub fn node_id(&self) -> i32 {
        self.settings.node_id
    }

    /// Validates and (unless `validate_only`) durably creates topics. One result per spec.
    pub async fn create_topics(
        &self,
        specs: &[TopicSpec],
        validate_only: bool,
    ) -> Vec<Result<TopicPlan>> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let brokers = [self.settings.node_id];
        let context = self.creation_context(&image, &brokers);
        let mut plans = topics::plan_creations(&context, specs);
        if validate_only {
            return plans;
        }
        let records: Vec<MetadataRecord> =
            plans.iter().flatten().flat_map(TopicPlan::records).collect();
        if let Err(error) = self.commit(&image, records).await {
            tracing::error!(%error, "writing topic creations to the metadata log failed");
            fail_unwritten(&mut plans, &error);
        }
        plans
    }

    /// Validates and (unless `validate_only`) durably adds partitions to topics. One result
    /// per entry.
    pub async fn create_partitions(
        &self,
        increases: &[PartitionIncrease],
        validate_only: bool,
    ) -> Vec<Result<PartitionIncreasePlan>> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let brokers = [self.settings.node_id];
        let context = self.creation_context(&image, &brokers);
        let mut plans = topics::plan_partition_increases(&context, increases);
        if validate_only {
            return plans;
        }
        let records: Vec<MetadataRecord> =
            plans.iter().flatten().flat_map(|plan| plan.records.iter().cloned()).collect();
        if let Err(error) = self.commit(&image, records).await {
            tracing::error!(%error, "writing partition increases to the metadata log failed");
            fail_unwritten(&mut plans, &error);
        }
        plans
    }

    /// Durably deletes topics. One result per target: the deleted topic or why not.
    pub async fn delete_topics(&self, targets: &[TopicTarget]) -> Vec<Result<Arc<TopicImage>>> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let mut results: Vec<Result<Arc<TopicImage>>> = targets
            .iter()
            .map(|target| match target {
                TopicTarget::Name(name) => image
                    .topic(name)
                    .cloned()
                    .ok_or_else(|| Error::UnknownTopicOrPartition(name.clone())),
                TopicTarget::Id(id) => {
                    image.topic_by_id(*id).cloned().ok_or(Error::UnknownTopicId(*id))
                }
            })
            .collect();
        let records: Vec<MetadataRecord> = results
            .iter()
            .flatten()
            .map(|topic| MetadataRecord::RemoveTopic { topic_id: topic.topic_id })
            .collect();
        if let Err(error) = self.commit(&image, records).await {
            tracing::error!(%error, "writing topic deletions to the metadata log failed");
            fail_unwritten(&mut results, &error);
        }
        results
    }

    fn creation_context<'a>(
        &self,
        image: &'a MetadataImage,
        brokers: &'a [i32],
    ) -> topics::CreationContext<'a> {
        topics::CreationContext {
            image,
            brokers,
            default_partitions: self.settings.default_partitions,
            default_replication_factor: self.settings.default_replication_factor,
        }
    }

    /// Appends `records` as one batch, fsyncs it, then replays it into the next image.
    async fn commit(&self, image: &MetadataImage, records: Vec<MetadataRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let values: Vec<Vec<u8>> = records.iter().map(MetadataRecord::encode).collect();
        let inputs: Vec<RecordInput<'_>> =
            values.iter().map(|value| RecordInput { key: None, value: Some(value) }).collect();
        let batch = build_uncompressed_batch(&inputs, self.clock.now_ms()).freeze();
        let header = BatchHeader::parse(&batch).expect("built batch has a header");
        let log = Arc::clone(&self.log);
        let base_offset = tokio::task::spawn_blocking(move || -> Result<i64> {
            let info = log.append(&batch, &header)?;
            log.flush()?;
            Ok(info.base_offset)
        })
        .await
        .map_err(|error| Error::Internal(format!("metadata write task failed: {error}")))??;
        let mut next = image.clone();
        for (offset, record) in (base_offset..).zip(records) {
            next.replay(offset, record).map_err(Error::Internal)?;
        }
        *self.image.write() = Arc::new(next);
        Ok(())
    }

    /// Durably replaces a topic's config overrides with `next`: one ConfigRecord per key
    /// that changes (a null value removes an override), written as one batch.
    pub async fn set_topic_configs(
        &self,
        topic: &str,
        next: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let current = &image
            .topic(topic)
            .ok_or_else(|| Error::UnknownTopicOrPartition(topic.to_owned()))?
            .configs;
        let records = config_records(records::RESOURCE_TYPE_TOPIC, topic, current, next);
        self.commit(&image, records).await
    }

    /// Durably replaces the dynamic configs of broker resource `name` ("" for the cluster
    /// default) with `next`, as [`Self::set_topic_configs`].
    pub async fn set_broker_configs(
        &self,
        name: &str,
        next: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let current = image.broker_configs(name);
        let records = config_records(records::RESOURCE_TYPE_BROKER, name, &current, next);
        self.commit(&image, records).await
    }

    /// Durably reserves the next `count` producer ids (KRaft's `AllocateProducerIds`): the
    /// block is recorded in the metadata log before any id in it is handed out, so no id is
    /// ever given twice, across restarts and crashes.
    pub async fn allocate_producer_ids(&self, count: i64) -> Result<std::ops::Range<i64>> {
        let _writer = self.writer.lock().await;
        let image = self.image();
        let start = image.next_producer_id;
        let end = start.checked_add(count).ok_or_else(|| {
            Error::Internal("exhausted all producer ids: the next block passes i64::MAX".into())
        })?;
        let record = MetadataRecord::ProducerIds {
            broker_id: self.settings.node_id,
            broker_epoch: 0,
            next_producer_id: end,
        };
        self.commit(&image, vec![record]).await?;
        Ok(start..end)
    }

    /// fsyncs the metadata log (shutdown).
    pub fn shutdown(&self) -> Result<()> {
        self.log.close(crate::log::partition_log::Closed::ShuttingDown);
        self.log.persist_and_flush()
    }
}

/// The ConfigRecords that turn `current` into `next`: a null value for each removed key, the
/// value for each new or changed one.
fn config_records(
    resource_type: i8,
    resource_name: &str,
    current: &std::collections::BTreeMap<String, String>,
    next: &std::collections::BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let removed =
        current.keys().filter(|name| !next.contains_key(*name)).map(|name| (name.clone(), None));
    let changed = next
        .iter()
        .filter(|(name, value)| current.get(*name) != Some(*value))
        .map(|(name, value)| (name.clone(), Some(value.clone())));
    removed
        .chain(changed)
        .map(|(name, value)| MetadataRecord::Config {
            resource_type,
            resource_name: resource_name.to_owned(),
            name,
            value,
        })
        .collect()
}

/// Turns every planned (Ok) result into the storage error that kept it from the log.
fn fail_unwritten<T>(results: &mut [Result<T>], error: &Error) {
    let message = error.to_string();
    for result in results.iter_mut().filter(|result| result.is_ok()) {
        *result = Err(Error::Storage(std::io::Error::other(message.clone())));
    }
}

/// Replays every record of the metadata log into a fresh image.
fn replay_log(log: &PartitionLog) -> Result<MetadataImage> {
    let mut image = MetadataImage::default();
    let offsets = log.offsets();
    let (mut offset, end) = (offsets.log_start_offset, offsets.log_end_offset);
    while offset < end {
        let read = log.read(LogRead {
            offset,
            max_bytes: 1 << 20,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })?;
        if read.records.is_empty() {
            break;
        }
        offset = replay_batches(&mut image, &read.records, offset)?;
    }
    Ok(image)
}

/// Replays the records at or after `from` in `batches`; returns the next offset.
fn replay_batches(image: &mut MetadataImage, mut batches: &[u8], from: i64) -> Result<i64> {
    let mut next = from;
    while let Some(header) = BatchHeader::parse(batches) {
        let size = header.size().ok_or_else(|| Error::Internal("metadata batch length".into()))?;
        let batch = Bytes::copy_from_slice(&batches[..size]);
        let mut failure = None;
        visit_records(&batch, |record| {
            if record.offset < from {
                return std::ops::ControlFlow::Continue(());
            }
            let decoded = record
                .value
                .ok_or_else(|| "metadata record without a value".to_owned())
                .and_then(MetadataRecord::decode);
            match decoded.and_then(|decoded| image.replay(record.offset, decoded)) {
                Ok(()) => std::ops::ControlFlow::Continue(()),
                Err(error) => {
                    failure = Some(format!("metadata record at offset {}: {error}", record.offset));
                    std::ops::ControlFlow::Break(())
                }
            }
        })?;
        if let Some(failure) = failure {
            return Err(Error::Internal(failure));
        }
        next = header.next_offset();
        batches = &batches[size..];
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MetadataSettings {
        MetadataSettings { node_id: 1, default_partitions: 2, default_replication_factor: 1 }
    }

    #[tokio::test]
    async fn topics_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (created_id, cluster_id) = {
            let store = MetadataStore::open(dir.path(), settings(), Clock::system()).unwrap();
            let specs = [
                TopicSpec::with_defaults("a"),
                TopicSpec { num_partitions: 5, ..TopicSpec::with_defaults("b") },
            ];
            let results = store.create_topics(&specs, false).await;
            assert!(results.iter().all(Result::is_ok));
            let deleted = store
                .delete_topics(&[TopicTarget::Name("a".into()), TopicTarget::Name("zz".into())])
                .await;
            assert!(deleted[0].is_ok());
            assert_eq!(deleted[1].as_ref().unwrap_err().code(), 3);
            store.shutdown().unwrap();
            (results[1].as_ref().unwrap().topic_id, store.cluster_id().to_owned())
        };
        let store = MetadataStore::open(dir.path(), settings(), Clock::system()).unwrap();
        assert_eq!(store.cluster_id(), cluster_id);
        let image = store.image();
        assert!(image.topic("a").is_none());
        let b = image.topic("b").unwrap();
        assert_eq!(b.topic_id, created_id);
        assert_eq!(b.partition_count(), 5);
        let again = store.create_topics(&[TopicSpec::with_defaults("a")], false).await;
        assert_eq!(again[0].as_ref().unwrap().partition_count(), 2, "the name is free again");
    }

    #[tokio::test]
    async fn producer_id_blocks_never_repeat_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = MetadataStore::open(dir.path(), settings(), Clock::system()).unwrap();
            let first = store.allocate_producer_ids(1000).await.unwrap();
            assert_eq!(first, 0..1000);
            assert_eq!(store.allocate_producer_ids(1000).await.unwrap(), 1000..2000);
            // Dropped without shutdown: the blocks were fsynced when handed out.
            first
        };
        let store = MetadataStore::open(dir.path(), settings(), Clock::system()).unwrap();
        let next = store.allocate_producer_ids(1000).await.unwrap();
        assert_eq!(next, 2000..3000);
        assert!(next.start >= first.end);
    }

    #[tokio::test]
    async fn validate_only_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path(), settings(), Clock::system()).unwrap();
        let results = store.create_topics(&[TopicSpec::with_defaults("v")], true).await;
        assert!(results[0].is_ok());
        assert!(store.image().topic("v").is_none());
        assert_eq!(
            store.delete_topics(&[TopicTarget::Id(Uuid::new_v4())]).await[0]
                .as_ref()
                .unwrap_err()
                .code(),
            100
        );
    }
}
