//! DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, paged. The Java
//! Admin's `describeTopics` (Kafka 3.8+) and `kafka-topics --describe` use it instead of
//! Metadata when the broker offers it.
//!
//! As Kafka's `DescribeTopicPartitionsRequestHandler`: an empty topic list means every
//! topic; topics are answered in name order, from the cursor's topic (and partition) on. At
//! most `response_partition_limit` partitions are answered, capped at
//! [`DESCRIBE_TOPIC_PARTITIONS_MAX`] and at least one; where the answer stops, `next_cursor`
//! names the first topic and partition not yet listed. A named topic that does not exist is
//! listed with UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an illegal name); with
//! the empty list, missing topics cannot occur. A cursor whose topic the request does not
//! name, or with a negative partition, is INVALID_REQUEST on every topic the request names, in
//! its order (the response has no top-level error). Partitions have no eligible leader replicas (ELR is not enabled) and no
//! offline replicas.

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{RequestContext, TOPIC_OPERATIONS, authorized_operations};
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::error::Error;
use crate::limits::DESCRIBE_TOPIC_PARTITIONS_MAX;
use crate::metadata::{MetadataImage, TopicImage, topic_name};

pub fn handle(
    context: &RequestContext<'_>,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let every_topic = request.topics.is_empty();
    let mut names: Vec<String> = if every_topic {
        context.broker.metadata().image().topics.keys().cloned().collect()
    } else {
        request.topics.iter().map(|topic| topic.name.to_string()).collect()
    };
    names.sort_unstable();
    names.dedup();
    if let Some(cursor) = &request.cursor {
        let cursor_topic = cursor.topic_name.as_str();
        let problem = if cursor.partition_index < 0 {
            Some(format!("Invalid partition index in the cursor: {}", cursor.partition_index))
        } else if !every_topic && !names.iter().any(|name| name == cursor_topic) {
            Some(format!("The topic list should contain the cursor topic {cursor_topic}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            let asked: Vec<String> =
                request.topics.iter().map(|topic| topic.name.to_string()).collect();
            return refuse_all(&asked, &Error::InvalidRequest(problem));
        }
        names.retain(|name| name.as_str() >= cursor_topic);
    }
    let limit = request.response_partition_limit.clamp(1, DESCRIBE_TOPIC_PARTITIONS_MAX);
    let image = context.broker.metadata().image();
    let cursor =
        request.cursor.as_ref().map(|cursor| (cursor.topic_name.as_str(), cursor.partition_index));
    page(&image, &names, cursor, limit)
}

/// Lists `names` in order until `limit` partitions are listed; the cursor's topic starts at
/// the cursor's partition.
fn page(
    image: &MetadataImage,
    names: &[String],
    cursor_at: Option<(&str, i32)>,
    limit: i32,
) -> DescribeTopicPartitionsResponse {
    let mut response = DescribeTopicPartitionsResponse::default();
    let mut remaining = limit;
    for name in names {
        if remaining == 0 {
            response.next_cursor = Some(cursor(name, 0));
            break;
        }
        let Some(topic) = image.topic(name) else {
            response.topics.push(missing_topic(name));
            continue;
        };
        let start = match cursor_at {
            Some((cursor_topic, partition)) if cursor_topic == name => partition,
            _ => 0,
        };
        let end = topic.partition_count().min(start.saturating_add(remaining));
        response.topics.push(listed_topic(topic, start..end));
        if end < topic.partition_count() {
            response.next_cursor = Some(cursor(name, end));
            break;
        }
        remaining -= (end - start).max(0);
    }
    response
}

fn cursor(topic: &str, partition: i32) -> Cursor {
    Cursor::default().with_topic_name(name(topic)).with_partition_index(partition)
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

fn listed_topic(
    topic: &TopicImage,
    partitions: std::ops::Range<i32>,
) -> DescribeTopicPartitionsResponseTopic {
    let listed = partitions
        .filter_map(|index| {
            let partition = topic.partitions.get(usize::try_from(index).ok()?)?;
            let replicas: Vec<BrokerId> =
                partition.replicas.iter().copied().map(BrokerId).collect();
            Some(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(index)
                    .with_leader_id(BrokerId(partition.leader))
                    .with_leader_epoch(partition.leader_epoch)
                    .with_isr_nodes(replicas.clone())
                    .with_replica_nodes(replicas)
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new())),
            )
        })
        .collect();
    DescribeTopicPartitionsResponseTopic::default()
        .with_name(Some(name(&topic.name)))
        .with_topic_id(topic.topic_id)
        .with_is_internal(topic.name == OFFSETS_TOPIC)
        .with_partitions(listed)
        .with_topic_authorized_operations(authorized_operations(TOPIC_OPERATIONS))
}

fn missing_topic(topic: &str) -> DescribeTopicPartitionsResponseTopic {
    let error = match topic_name::validate(topic) {
        Ok(()) => Error::UnknownTopicOrPartition(topic.to_owned()),
        Err(invalid) => invalid,
    };
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(error.code())
        .with_name(Some(name(topic)))
        .with_topic_id(Uuid::nil())
        .with_is_internal(topic == OFFSETS_TOPIC)
        .with_topic_authorized_operations(authorized_operations(TOPIC_OPERATIONS))
}

fn refuse_all(names: &[String], error: &Error) -> DescribeTopicPartitionsResponse {
    tracing::debug!(%error, "describe topic partitions refused");
    let topics = names
        .iter()
        .map(|topic| {
            DescribeTopicPartitionsResponseTopic::default()
                .with_error_code(error.code())
                .with_name(Some(name(topic)))
                .with_topic_id(Uuid::nil())
        })
        .collect();
    DescribeTopicPartitionsResponse::default().with_topics(topics)
}
