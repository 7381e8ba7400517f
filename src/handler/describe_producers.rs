//! DescribeProducers (key 61): each partition's idempotent producers as its producer state
//! holds them ([`crate::log::producer_state`]): id, epoch, last sequence and the last batch's
//! timestamp. Without transactions the coordinator epoch and transaction start are -1. A
//! partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION. A partition named twice is
//! described once; past [`DESCRIBE_PRODUCERS_ENTRIES_MAX`] producers the remaining
//! partitions get INVALID_REQUEST.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;

use std::collections::HashSet;

use super::RequestContext;
use crate::error::Error;
use crate::limits::DESCRIBE_PRODUCERS_ENTRIES_MAX;

pub fn handle(
    context: &RequestContext<'_>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let mut seen: HashSet<(&str, i32)> = HashSet::new();
    let mut listed = 0usize;
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partition_indexes
                .iter()
                .filter(|&&index| seen.insert((topic.name.as_str(), index)))
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    let log = context.broker.partition(&topic.name, index);
                    if log.is_some() && listed >= DESCRIBE_PRODUCERS_ENTRIES_MAX {
                        let error = Error::InvalidRequest(format!(
                            "more than {DESCRIBE_PRODUCERS_ENTRIES_MAX} producers asked for in one request"
                        ));
                        return response
                            .with_error_code(error.code())
                            .with_error_message(Some(StrBytes::from_string(error.message())));
                    }
                    match log {
                        Some(log) => response.with_active_producers(
                            log.active_producers()
                                .into_iter()
                                .map(|(id, epoch, last_sequence, last_timestamp)| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(id))
                                        .with_producer_epoch(i32::from(epoch))
                                        .with_last_sequence(last_sequence)
                                        .with_last_timestamp(last_timestamp)
                                        .with_coordinator_epoch(-1)
                                        .with_current_txn_start_offset(-1)
                                })
                                .inspect(|_| listed += 1)
                                .collect(),
                        ),
                        None => {
                            let error = Error::UnknownTopicOrPartition(format!(
                                "{}-{index}",
                                topic.name.as_str()
                            ));
                            response
                                .with_error_code(error.code())
                                .with_error_message(Some(StrBytes::from_string(error.message())))
                        }
                    }
                })
                .collect();
            TopicResponse::default().with_name(topic.name.clone()).with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
