//! OffsetCommit (key 8): stores committed offsets in `__consumer_offsets`.
//!
//! Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION (Kafka checks its metadata the
//! same way); the rest go to the coordinator as one batch, acknowledged once it is in the
//! log. A commit with generation -1 and no member is a "simple" commit: allowed only while
//! the group has no members (Kafka's rule).

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::RequestContext;
use crate::coordinator::group::{CommitPartition, CommitRequest};
use crate::error::{Error, Result};
use crate::types::TopicPartition;

pub async fn handle(
    context: &RequestContext<'_>,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let image = context.broker.metadata().image();
    let known = |topic: &str, partition: i32| image.has_partition(topic, partition);
    let mut commit = CommitRequest {
        group_id: request.group_id.to_string(),
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.as_ref().map(|id| id.to_string()),
        generation_id: request.generation_id_or_member_epoch,
        retention_time_ms: if (2..=4).contains(&context.version) {
            request.retention_time_ms
        } else {
            -1
        },
        partitions: Vec::new(),
    };
    // One slot per requested partition: an early answer, or the index of its commit.
    let mut slots: Vec<Vec<std::result::Result<usize, Error>>> = Vec::new();
    for topic in &request.topics {
        let mut topic_slots = Vec::with_capacity(topic.partitions.len());
        for partition in &topic.partitions {
            if !known(&topic.name, partition.partition_index) {
                topic_slots.push(Err(Error::UnknownTopicOrPartition(format!(
                    "{}-{}",
                    topic.name.as_str(),
                    partition.partition_index
                ))));
                continue;
            }
            topic_slots.push(Ok(commit.partitions.len()));
            commit.partitions.push(CommitPartition {
                partition: TopicPartition::new(topic.name.as_str(), partition.partition_index),
                offset: partition.committed_offset,
                leader_epoch: if context.version >= 6 {
                    partition.committed_leader_epoch
                } else {
                    -1
                },
                metadata: partition
                    .committed_metadata
                    .as_ref()
                    .map(|metadata| metadata.to_string()),
            });
        }
        slots.push(topic_slots);
    }
    let mut results: Vec<Option<Result<()>>> = if commit.partitions.is_empty() {
        Vec::new()
    } else {
        match context.broker.existing_group_coordinator().await {
            Ok(coordinator) => {
                coordinator.commit_offsets(commit).await.into_iter().map(Some).collect()
            }
            Err(error) => {
                let message = error.to_string();
                let code = error.code();
                commit.partitions.iter().map(|_| Some(Err(same_error(code, &message)))).collect()
            }
        }
    };
    let topics = request
        .topics
        .iter()
        .zip(slots)
        .map(|(topic, topic_slots)| {
            let partitions = topic
                .partitions
                .iter()
                .zip(topic_slots)
                .map(|(partition, slot)| {
                    let result = match slot {
                        Err(error) => Err(error),
                        Ok(index) => results[index].take().expect("one result per commit"),
                    };
                    let error_code = match result {
                        Ok(()) => 0,
                        Err(error) => {
                            tracing::debug!(group = request.group_id.as_str(), topic = topic.name.as_str(), partition = partition.partition_index, %error, "commit refused");
                            error.code()
                        }
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(partition.partition_index)
                        .with_error_code(error_code)
                })
                .collect();
            OffsetCommitResponseTopic::default().with_name(topic.name.clone()).with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// The coordinator's failure, once per partition.
fn same_error(code: i16, message: &str) -> Error {
    match code {
        16 => Error::NotCoordinator(message.to_owned()),
        _ => Error::CoordinatorNotAvailable(message.to_owned()),
    }
}
