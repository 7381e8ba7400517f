//! OffsetForLeaderEpoch (key 23), v2-4: where a leader epoch's records end in a partition
//! (KIP-101, KIP-320). A consumer asks it after a leader change, with the epoch of the last
//! record it consumed, to learn whether its position was truncated away; a follower asks it
//! to know where to truncate.
//!
//! Per partition, as Kafka's `Partition.lastOffsetForLeaderEpoch`: an unknown topic or
//! partition is UNKNOWN_TOPIC_OR_PARTITION; a `current_leader_epoch` older or newer than the
//! leader's is FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH; otherwise the answer comes from
//! the partition's leader-epoch cache ([`crate::log::leader_epoch`]): the latest epoch ends
//! at the log end offset, an older one where the next epoch starts, and an unknown one is
//! leader epoch -1 and end offset -1 with no error. Errors carry -1 and -1 too.
//! `replica_id` (v3+) changes nothing on a single node: every replica is this broker.

use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderPartition;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::{RequestContext, check_leader_epoch};
use crate::error::{Error, Result};
use crate::log::leader_epoch;

pub fn handle(
    context: &RequestContext<'_>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let result = end_offset(context, topic.topic.as_str(), partition);
                    partition_result(topic.topic.as_str(), partition.partition, result)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

fn end_offset(
    context: &RequestContext<'_>,
    topic: &str,
    partition: &OffsetForLeaderPartition,
) -> Result<leader_epoch::EpochEndOffset> {
    let index = partition.partition;
    let log = context
        .broker
        .partition(topic, index)
        .ok_or_else(|| Error::UnknownTopicOrPartition(format!("{topic}-{index}")))?;
    check_leader_epoch(partition.current_leader_epoch)?;
    Ok(log.end_offset_for_epoch(partition.leader_epoch))
}

fn partition_result(
    topic: &str,
    partition: i32,
    result: Result<leader_epoch::EpochEndOffset>,
) -> EpochEndOffset {
    let answer = EpochEndOffset::default().with_partition(partition);
    match result {
        Ok(found) => answer.with_leader_epoch(found.leader_epoch).with_end_offset(found.end_offset),
        Err(error) => {
            tracing::debug!(topic, partition, %error, "offset for leader epoch refused");
            answer.with_error_code(error.code()).with_leader_epoch(-1).with_end_offset(-1)
        }
    }
}
