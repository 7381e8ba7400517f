//! OffsetFetch (key 9): the committed offsets of a group (v8+: of several groups).
//!
//! A partition with no committed offset (or a group that does not exist) answers offset -1
//! and no error, as Kafka does; with no topics listed (null), every committed offset of the
//! group is returned. `require_stable` (v7+) never has to wait: Riffle has no pending
//! transactional offsets, and a commit becomes visible only once its record is in the log.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{RequestContext, wire_string};
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::group::records::OffsetCommitValue;
use crate::types::TopicPartition;

/// One partition's answer.
struct Fetched {
    partition_index: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
}

pub async fn handle(
    context: &RequestContext<'_>,
    request: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let coordinator = context.broker.existing_group_coordinator().await;
    let version = context.version;
    if version >= 8 {
        let groups = request
            .groups
            .iter()
            .map(|group| {
                let wanted = group.topics.as_ref().map(|topics| {
                    topics
                        .iter()
                        .map(|topic| (topic.name.clone(), topic.partition_indexes.clone()))
                        .collect::<Vec<_>>()
                });
                let response =
                    OffsetFetchResponseGroup::default().with_group_id(group.group_id.clone());
                match &coordinator {
                    Err(error) => response.with_error_code(error.code()),
                    Ok(coordinator) => {
                        let topics = fetch(coordinator, &group.group_id, wanted)
                            .into_iter()
                            .map(|(name, partitions)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(name)
                                    .with_partitions(
                                        partitions
                                            .into_iter()
                                            .map(|fetched| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(fetched.partition_index)
                                                    .with_committed_offset(fetched.offset)
                                                    .with_committed_leader_epoch(
                                                        fetched.leader_epoch,
                                                    )
                                                    .with_metadata(Some(wire_string(
                                                        fetched.metadata,
                                                    )))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect();
                        response.with_topics(topics)
                    }
                }
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.as_ref().map(|topics| {
        topics
            .iter()
            .map(|topic| (topic.name.clone(), topic.partition_indexes.clone()))
            .collect::<Vec<_>>()
    });
    let coordinator = match coordinator {
        Ok(coordinator) => coordinator,
        Err(error) => {
            tracing::warn!(group = request.group_id.as_str(), %error, "offset fetch without a coordinator");
            if version >= 2 {
                return OffsetFetchResponse::default().with_error_code(error.code());
            }
            // v1 has no top-level error: every requested partition carries it.
            let topics = wanted
                .unwrap_or_default()
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetFetchResponseTopic::default().with_name(name).with_partitions(
                        partitions
                            .into_iter()
                            .map(|index| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(index)
                                    .with_committed_offset(-1)
                                    .with_metadata(Some(wire_string("")))
                                    .with_error_code(error.code())
                            })
                            .collect(),
                    )
                })
                .collect();
            return OffsetFetchResponse::default().with_topics(topics);
        }
    };
    let topics = fetch(coordinator, &request.group_id, wanted)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetFetchResponseTopic::default().with_name(name).with_partitions(
                partitions
                    .into_iter()
                    .map(|fetched| {
                        OffsetFetchResponsePartition::default()
                            .with_partition_index(fetched.partition_index)
                            .with_committed_offset(fetched.offset)
                            .with_committed_leader_epoch(if version >= 5 {
                                fetched.leader_epoch
                            } else {
                                -1
                            })
                            .with_metadata(Some(wire_string(fetched.metadata)))
                    })
                    .collect(),
            )
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// The answers grouped by topic: requested topics in request order, or every committed
/// partition (sorted) when `wanted` is `None`.
fn fetch(
    coordinator: &GroupCoordinator,
    group_id: &GroupId,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
) -> Vec<(TopicName, Vec<Fetched>)> {
    let to_fetched = |partition: &TopicPartition, value: Option<OffsetCommitValue>| match value {
        Some(value) => Fetched {
            partition_index: partition.partition,
            offset: value.offset,
            leader_epoch: value.leader_epoch,
            metadata: value.metadata,
        },
        None => Fetched {
            partition_index: partition.partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
        },
    };
    match wanted {
        Some(topics) => {
            let partitions: Vec<TopicPartition> = topics
                .iter()
                .flat_map(|(name, indexes)| {
                    indexes.iter().map(|index| TopicPartition::new(name.as_str(), *index))
                })
                .collect();
            let mut fetched = coordinator.fetch_offsets(group_id, Some(&partitions)).into_iter();
            topics
                .into_iter()
                .map(|(name, indexes)| {
                    let answers = indexes
                        .iter()
                        .map(|_| {
                            let (partition, value) =
                                fetched.next().expect("one answer per partition");
                            to_fetched(&partition, value)
                        })
                        .collect();
                    (name, answers)
                })
                .collect()
        }
        None => {
            let mut by_topic: BTreeMap<String, Vec<Fetched>> = BTreeMap::new();
            for (partition, value) in coordinator.fetch_offsets(group_id, None) {
                by_topic
                    .entry(partition.topic.to_string())
                    .or_default()
                    .push(to_fetched(&partition, value));
            }
            by_topic
                .into_iter()
                .map(|(name, partitions)| (TopicName(wire_string(name)), partitions))
                .collect()
        }
    }
}
