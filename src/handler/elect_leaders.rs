//! ElectLeaders (key 43), answered as a single-node cluster must: every partition's only
//! replica is its leader and its preferred leader, so no election is ever needed.
//!
//! As KRaft's `ReplicationControlManager.electLeaders`: named partitions each get
//! ELECTION_NOT_NEEDED, or UNKNOWN_TOPIC_OR_PARTITION when they do not exist; a null list asks
//! for every partition and, since Kafka leaves out the partitions that already have their
//! leader, is answered with no results. The election type (v1+) must be 0 (preferred) or 1
//! (unclean), else the whole request is INVALID_REQUEST.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::error::Error;

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub fn handle(context: &RequestContext<'_>, request: ElectLeadersRequest) -> ElectLeadersResponse {
    let response = ElectLeadersResponse::default();
    if !matches!(request.election_type, PREFERRED | UNCLEAN) {
        tracing::info!(election_type = request.election_type, "unknown election type");
        return response.with_error_code(
            Error::InvalidRequest(format!("Unknown election type {}", request.election_type))
                .code(),
        );
    }
    let Some(topics) = &request.topic_partitions else {
        return response;
    };
    let image = context.broker.metadata().image();
    let results = topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|&partition| {
                    let name = topic.topic.as_str();
                    let error = if image.has_partition(name, partition) {
                        Error::ElectionNotNeeded(format!("{name}-{partition}"))
                    } else {
                        Error::UnknownTopicOrPartition(format!("{name}-{partition}"))
                    };
                    PartitionResult::default()
                        .with_partition_id(partition)
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_string(error.message())))
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(topic.topic.clone())
                .with_partition_result(partitions)
        })
        .collect();
    response.with_replica_election_results(results)
}
