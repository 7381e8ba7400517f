//! THE table of APIs and versions this broker implements.
//!
//! It drives both the version check before dispatch and the ApiVersions answer, so the two can
//! never disagree. A row is added only when its handler implements every advertised version.
//!
//! `advertised_min` may sit below `served_min` for one reason: librdkafka before 2.11.1
//! enables features by checking that the broker's range *intersects* fixed versions (e.g.
//! Produce v0..v2 for compression and MsgVer1), so Kafka 4.x advertises Produce from v0 while
//! refusing v0-v2 if sent (KAFKA-18659). Riffle copies that: versions in
//! `advertised_min..served_min` close the connection, as Kafka does for any unsupported version.

use kafka_protocol::messages::ApiKey;

/// One API's supported version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSupport {
    pub api_key: ApiKey,
    /// The lowest version listed in ApiVersions.
    pub advertised_min: i16,
    /// The lowest version actually served.
    pub served_min: i16,
    pub max: i16,
}

const fn api(api_key: ApiKey, min: i16, max: i16) -> ApiSupport {
    ApiSupport { api_key, advertised_min: min, served_min: min, max }
}

/// Every API the broker serves, ordered by API key.
pub const SUPPORTED_APIS: &[ApiSupport] = &[
    ApiSupport { api_key: ApiKey::Produce, advertised_min: 0, served_min: 3, max: 11 },
    api(ApiKey::Fetch, 4, 12),
    api(ApiKey::ListOffsets, 1, 7),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 8),
    api(ApiKey::OffsetFetch, 1, 8),
    api(ApiKey::FindCoordinator, 0, 5),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    // v5+ belongs to transactions V2 (KIP-890), which needs a transaction coordinator.
    api(ApiKey::InitProducerId, 0, 4),
    // v0-1 were removed in Kafka 4.0 (KIP-896).
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::ElectLeaders, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::DescribeCluster, 0, 1),
    api(ApiKey::DescribeProducers, 0, 0),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// The row for `api_key`, if the broker serves it at all.
pub fn support(api_key: ApiKey) -> Option<&'static ApiSupport> {
    SUPPORTED_APIS.iter().find(|row| row.api_key == api_key)
}

/// Whether `version` of `api_key` is served (decoded and answered).
pub fn is_served(api_key: ApiKey, version: i16) -> bool {
    support(api_key).is_some_and(|row| row.served_min <= version && version <= row.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Message;

    fn crate_range(api_key: ApiKey) -> (i16, i16) {
        let range = match api_key {
            ApiKey::Produce => ProduceRequest::VERSIONS,
            ApiKey::Fetch => FetchRequest::VERSIONS,
            ApiKey::ListOffsets => ListOffsetsRequest::VERSIONS,
            ApiKey::Metadata => MetadataRequest::VERSIONS,
            ApiKey::ApiVersions => ApiVersionsRequest::VERSIONS,
            ApiKey::CreateTopics => CreateTopicsRequest::VERSIONS,
            ApiKey::DeleteTopics => DeleteTopicsRequest::VERSIONS,
            ApiKey::DescribeCluster => DescribeClusterRequest::VERSIONS,
            ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
            ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
            ApiKey::FindCoordinator => FindCoordinatorRequest::VERSIONS,
            ApiKey::JoinGroup => JoinGroupRequest::VERSIONS,
            ApiKey::Heartbeat => HeartbeatRequest::VERSIONS,
            ApiKey::LeaveGroup => LeaveGroupRequest::VERSIONS,
            ApiKey::SyncGroup => SyncGroupRequest::VERSIONS,
            ApiKey::DescribeGroups => DescribeGroupsRequest::VERSIONS,
            ApiKey::ListGroups => ListGroupsRequest::VERSIONS,
            ApiKey::DeleteGroups => DeleteGroupsRequest::VERSIONS,
            ApiKey::OffsetDelete => OffsetDeleteRequest::VERSIONS,
            ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
            ApiKey::OffsetForLeaderEpoch => OffsetForLeaderEpochRequest::VERSIONS,
            ApiKey::DescribeTopicPartitions => DescribeTopicPartitionsRequest::VERSIONS,
            ApiKey::DescribeConfigs => DescribeConfigsRequest::VERSIONS,
            ApiKey::AlterConfigs => AlterConfigsRequest::VERSIONS,
            ApiKey::DeleteRecords => DeleteRecordsRequest::VERSIONS,
            ApiKey::DescribeLogDirs => DescribeLogDirsRequest::VERSIONS,
            ApiKey::DescribeProducers => DescribeProducersRequest::VERSIONS,
            ApiKey::ElectLeaders => ElectLeadersRequest::VERSIONS,
            ApiKey::CreatePartitions => CreatePartitionsRequest::VERSIONS,
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::VERSIONS,
            other => panic!("add {other:?} to this test"),
        };
        (range.min, range.max)
    }

    #[test]
    fn served_versions_are_decodable_by_the_crate() {
        for row in SUPPORTED_APIS {
            let (min, max) = crate_range(row.api_key);
            assert!(min <= row.served_min, "{:?}", row.api_key);
            assert!(row.max <= max, "{:?}", row.api_key);
            assert!(row.advertised_min <= row.served_min, "{:?}", row.api_key);
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        let keys: Vec<i16> = SUPPORTED_APIS.iter().map(|row| row.api_key as i16).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn every_served_api_is_guarded() {
        for row in SUPPORTED_APIS {
            assert!(
                crate::protocol::guard::shape(row.api_key).is_some(),
                "{:?} has no guard shape",
                row.api_key
            );
        }
    }

    #[test]
    fn produce_v0_to_v2_are_advertised_but_not_served() {
        assert!(!is_served(ApiKey::Produce, 2));
        assert!(is_served(ApiKey::Produce, 3));
        assert_eq!(support(ApiKey::Produce).map(|row| row.advertised_min), Some(0));
        assert!(is_served(ApiKey::InitProducerId, 0), "old librdkafka checks for v0");
        assert!(!is_served(ApiKey::InitProducerId, 5), "transactions V2 only");
    }
}
