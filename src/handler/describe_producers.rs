//! DescribeProducers (key 61): each partition's idempotent producers as its producer state
//! holds them ([`crate::log::producer_state`]): id, epoch, last sequence and the last batch's
//! timestamp. Without transactions the coordinator epoch and transaction start are -1. A
//! partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::error::Error;

pub fn handle(
    context: &RequestContext<'_>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    match context.broker.partition(&topic.name, index) {
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
