//! DeleteRecords (key 21): moves partitions' log start offsets forward (Kafka's
//! `Partition.deleteRecordsOnLeader`).
//!
//! Per partition: a missing one is UNKNOWN_TOPIC_OR_PARTITION; an internal topic
//! (`__consumer_offsets`) INVALID_TOPIC_EXCEPTION; a topic whose `cleanup.policy` lacks
//! `delete` POLICY_VIOLATION; a log shutting down NOT_LEADER_OR_FOLLOWER; offset -1 means
//! the high watermark;
//! a negative offset or one past the high watermark is OFFSET_OUT_OF_RANGE; an offset at or
//! below the current start changes nothing. The answer's low watermark is the log start
//! offset after the call. The log-start checkpoint is written before the answer, so the
//! deletion survives a crash. The segments below the start stay on disk until retention
//! (issue 8) can remove them with a delay that lets in-flight reads and fsyncs finish.
//! Fetches below the start then get OFFSET_OUT_OF_RANGE and ListOffsets earliest the new
//! start.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::RequestContext;
use crate::error::{Error, Result};

/// The request's stand-in for the high watermark.
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    context: &RequestContext<'_>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut advanced = false;
    for topic in &request.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            let result =
                delete(context, &topic.name, partition.partition_index, partition.offset).await;
            let answer = DeleteRecordsPartitionResult::default()
                .with_partition_index(partition.partition_index);
            partitions.push(match result {
                Ok(low_watermark) => {
                    advanced = true;
                    answer.with_low_watermark(low_watermark)
                }
                Err(error) => {
                    tracing::info!(topic = topic.name.as_str(), partition = partition.partition_index, offset = partition.offset, %error, "delete records refused");
                    answer.with_low_watermark(-1).with_error_code(error.code())
                }
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions),
        );
    }
    if advanced {
        let logs = std::sync::Arc::clone(context.broker.logs());
        let written = tokio::task::spawn_blocking(move || logs.write_checkpoints()).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!(
                ?written,
                "writing the log-start checkpoint after DeleteRecords failed"
            );
            for partition in topics.iter_mut().flat_map(|topic| topic.partitions.iter_mut()) {
                if partition.error_code == 0 {
                    partition.error_code =
                        Error::Storage(std::io::Error::other("checkpoint")).code();
                    partition.low_watermark = -1;
                }
            }
        }
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

async fn delete(
    context: &RequestContext<'_>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<i64> {
    let log = context
        .broker
        .partition(topic, partition)
        .ok_or_else(|| Error::UnknownTopicOrPartition(format!("{topic}-{partition}")))?;
    if topic == crate::coordinator::group::OFFSETS_TOPIC {
        return Err(Error::InvalidTopic("Cannot delete records of internal topics".into()));
    }
    if !log.config().cleanup_delete {
        return Err(Error::PolicyViolation(format!(
            "Records of partition {topic}-{partition} can not be deleted due to the configured policy"
        )));
    }
    let offsets = log.offsets();
    let target = if offset == HIGH_WATERMARK { offsets.high_watermark } else { offset };
    if target < 0 {
        return Err(Error::OffsetOutOfRange {
            topic_partition: log.topic_partition().clone(),
            offset: target,
            log_start_offset: offsets.log_start_offset,
            log_end_offset: offsets.log_end_offset,
        });
    }
    tokio::task::spawn_blocking(move || log.advance_log_start_offset(target))
        .await
        .map_err(|error| Error::Internal(format!("delete records task failed: {error}")))?
}
