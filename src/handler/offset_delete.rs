//! OffsetDelete (key 47, KIP-496): removes a group's committed offsets for partitions it does
//! not consume (any partition while the group is empty).

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::RequestContext;
use crate::error::Error;
use crate::types::TopicPartition;

pub async fn handle(
    context: &RequestContext<'_>,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    if request.group_id.is_empty() {
        return OffsetDeleteResponse::default()
            .with_error_code(Error::InvalidGroupId(String::new()).code());
    }
    let coordinator = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.code()),
    };
    let image = context.broker.metadata().image();
    let known = |topic: &str, partition: i32| image.has_partition(topic, partition);
    let partitions: Vec<TopicPartition> = request
        .topics
        .iter()
        .flat_map(|topic| {
            topic.partitions.iter().map(|partition| {
                TopicPartition::new(topic.name.as_str(), partition.partition_index)
            })
        })
        .filter(|partition| known(&partition.topic, partition.partition))
        .collect();
    let mut results = match coordinator.delete_offsets(&request.group_id, &partitions) {
        Ok(results) => results.into_iter(),
        Err(error) => {
            tracing::debug!(group = request.group_id.as_str(), %error, "offsets not deleted");
            return OffsetDeleteResponse::default().with_error_code(error.code());
        }
    };
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|partition| {
                    let error_code = if known(&topic.name, partition.partition_index) {
                        results
                            .next()
                            .expect("one result per known partition")
                            .map_or_else(|error| error.code(), |()| 0)
                    } else {
                        Error::UnknownTopicOrPartition(topic.name.to_string()).code()
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(partition.partition_index)
                        .with_error_code(error_code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
