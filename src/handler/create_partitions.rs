//! CreatePartitions (key 37): raises a topic's partition count (never lowers it).
//!
//! As Kafka answers, per topic: a name given twice is INVALID_REQUEST ("Duplicate topic
//! name.") each time; a missing topic UNKNOWN_TOPIC_OR_PARTITION; a count that is not an
//! increase INVALID_PARTITIONS; assignments that do not match the added partitions, or name
//! unknown or repeated brokers, or differ from the topic's replication factor,
//! INVALID_REPLICA_ASSIGNMENT. `validate_only` checks without changing anything. The new
//! partitions are in the metadata log and open for produce before the answer.

use std::collections::HashMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::error::{Error, Result};
use crate::metadata::PartitionIncrease;

pub async fn handle(
    context: &RequestContext<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut occurrences: HashMap<&str, usize> = HashMap::new();
    for topic in &request.topics {
        *occurrences.entry(topic.name.as_str()).or_default() += 1;
    }
    let increases: Vec<PartitionIncrease> = request
        .topics
        .iter()
        .filter(|topic| occurrences[topic.name.as_str()] == 1)
        .map(|topic| PartitionIncrease {
            name: topic.name.to_string(),
            count: topic.count,
            assignments: topic.assignments.as_ref().map(|assignments| {
                assignments
                    .iter()
                    .map(|assignment| assignment.broker_ids.iter().map(|id| id.0).collect())
                    .collect()
            }),
        })
        .collect();
    let mut outcomes =
        context.broker.create_partitions(&increases, request.validate_only).await.into_iter();
    let results = request
        .topics
        .iter()
        .map(|topic| {
            let outcome: Result<()> = if occurrences[topic.name.as_str()] > 1 {
                Err(Error::InvalidRequest("Duplicate topic name.".into()))
            } else {
                outcomes.next().expect("one outcome per unique topic")
            };
            let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
            match outcome {
                Ok(()) => result,
                Err(error) => {
                    tracing::info!(topic = topic.name.as_str(), count = topic.count, %error, "partition increase refused");
                    result
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_string(error.message())))
                }
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
