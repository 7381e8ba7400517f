//! ListOffsets (key 2): offsets by timestamp, including the special timestamps.
//!
//! -2 (earliest): the log start offset. -1 (latest): the high watermark, or the last stable
//! offset for read_committed. -3 (max timestamp, v7+): the first record carrying the largest
//! timestamp. Any other value: the first record whose timestamp is at least it, found through
//! the time index; none gives offset -1 and timestamp -1. The special answers carry timestamp
//! -1, as in Kafka.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use std::collections::HashSet;
use std::sync::Arc;

use super::{RequestContext, check_leader_epoch};
use crate::broker::Broker;
use crate::error::{Error, Result};
use crate::log::partition_log::PartitionLog;
use crate::log::segment::TimestampOffset;
use crate::types::{IsolationLevel, SINGLE_NODE_LEADER_EPOCH};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub async fn handle(
    context: &RequestContext<'_>,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    // Timestamp lookups read and may decompress batches: off the async threads.
    let broker = Arc::clone(context.broker);
    let version = context.version;
    match tokio::task::spawn_blocking(move || answer(&broker, version, &request)).await {
        Ok(response) => response,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

fn answer(broker: &Broker, version: i16, request: &ListOffsetsRequest) -> ListOffsetsResponse {
    let isolation = IsolationLevel::from_wire(request.isolation_level);
    let duplicates = duplicate_partitions(request);
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let index = partition.partition_index;
                    let result = if duplicates.contains(&(topic.name.as_str(), index)) {
                        Err(Error::InvalidRequest(format!(
                            "partition {index} of {} is listed twice",
                            topic.name.as_str()
                        )))
                    } else {
                        broker
                            .partition(&topic.name, index)
                            .ok_or_else(|| {
                                Error::UnknownTopicOrPartition(format!(
                                    "{}-{index}",
                                    topic.name.as_str()
                                ))
                            })
                            .and_then(|log| {
                                check_leader_epoch(partition.current_leader_epoch)?;
                                lookup(&log, partition.timestamp, isolation)
                            })
                    };
                    partition_response(version, index, result)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// Partitions named more than once; Kafka answers each of them with INVALID_REQUEST.
fn duplicate_partitions(request: &ListOffsetsRequest) -> HashSet<(&str, i32)> {
    let mut seen = HashSet::new();
    request
        .topics
        .iter()
        .flat_map(|topic| {
            topic
                .partitions
                .iter()
                .map(move |partition| (topic.name.as_str(), partition.partition_index))
        })
        .filter(|key| !seen.insert(*key))
        .collect()
}

/// The answer for one partition: `None` when no record matches.
fn lookup(
    log: &PartitionLog,
    timestamp: i64,
    isolation: IsolationLevel,
) -> Result<Option<TimestampOffset>> {
    let offsets = log.offsets();
    // Kafka answers the special timestamps with the leader epoch cache's latest epoch, which
    // is empty (-1) until a batch has been written.
    let leader_epoch = if offsets.log_end_offset > 0 { SINGLE_NODE_LEADER_EPOCH } else { -1 };
    let special = |offset: i64| Some(TimestampOffset { timestamp: -1, offset, leader_epoch });
    let found = match timestamp {
        LATEST => {
            let offset = match isolation {
                IsolationLevel::ReadUncommitted => offsets.high_watermark,
                IsolationLevel::ReadCommitted => offsets.last_stable_offset(),
            };
            return Ok(special(offset));
        }
        EARLIEST => return Ok(special(offsets.log_start_offset)),
        MAX_TIMESTAMP => log.max_timestamp_offset()?,
        timestamp => log.find_offset_by_timestamp(timestamp)?,
    };
    // Only offsets a consumer could read count (below the high watermark).
    Ok(found.filter(|found| found.offset < offsets.high_watermark))
}

fn partition_response(
    version: i16,
    partition: i32,
    result: Result<Option<TimestampOffset>>,
) -> ListOffsetsPartitionResponse {
    let response = ListOffsetsPartitionResponse::default().with_partition_index(partition);
    let (response, leader_epoch) = match result {
        Ok(Some(found)) => {
            (response.with_timestamp(found.timestamp).with_offset(found.offset), found.leader_epoch)
        }
        Ok(None) => (response.with_timestamp(-1).with_offset(-1), -1),
        Err(error) => {
            tracing::debug!(partition, %error, "list offsets error");
            (response.with_error_code(error.code()).with_timestamp(-1).with_offset(-1), -1)
        }
    };
    // The field exists from v4; the crate refuses a non-default value below that.
    if version >= 4 { response.with_leader_epoch(leader_epoch) } else { response }
}
