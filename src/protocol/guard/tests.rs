use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::*;
use crate::protocol::decode_body;
use crate::protocol::versions::support;

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

fn served_versions(api_key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let row = support(api_key).expect("served api");
    row.served_min..=row.max
}

/// Encodes `request` at `version` and asserts the walker consumes exactly all of it.
fn assert_walks_exactly<T: Encodable>(api_key: ApiKey, version: i16, request: &T) -> u64 {
    let mut buf = BytesMut::new();
    request.encode(&mut buf, version).unwrap();
    let shape = shape(api_key).unwrap();
    let mut walker = Walker {
        body: &buf,
        position: 0,
        version,
        flexible: version >= shape.flexible_min,
        reserved_bytes: 0,
    };
    walker.walk_fields(shape.fields).unwrap_or_else(|error| {
        panic!("{api_key:?} v{version}: {error}");
    });
    assert_eq!(walker.position, buf.len(), "{api_key:?} v{version} consumed");
    walker.reserved_bytes
}

#[test]
fn metadata_every_version() {
    for version in served_versions(ApiKey::Metadata) {
        let topics = (0..3)
            .map(|index| {
                metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(topic(&format!("t{index}"))))
            })
            .collect();
        let request = MetadataRequest::default()
            .with_topics(Some(topics))
            .with_allow_auto_topic_creation(true);
        let reserved = assert_walks_exactly(ApiKey::Metadata, version, &request);
        assert_eq!(reserved, 3 * size_of::<metadata_request::MetadataRequestTopic>() as u64);
    }
}

#[test]
fn produce_every_version() {
    for version in served_versions(ApiKey::Produce) {
        let partition = |index| {
            produce_request::PartitionProduceData::default()
                .with_index(index)
                .with_records(Some(Bytes::from_static(b"0123456789abcdef")))
        };
        let topic_data = (0..2)
            .map(|index| {
                produce_request::TopicProduceData::default()
                    .with_name(topic(&format!("t{index}")))
                    .with_partition_data(vec![partition(0), partition(1), partition(2)])
            })
            .collect();
        let request = ProduceRequest::default()
            .with_transactional_id(Some(StrBytes::from_static_str("txn").into()))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(topic_data);
        assert_walks_exactly(ApiKey::Produce, version, &request);
    }
}

#[test]
fn fetch_every_version() {
    for version in served_versions(ApiKey::Fetch) {
        let partitions = (0..4)
            .map(|index| fetch_request::FetchPartition::default().with_partition(index))
            .collect::<Vec<_>>();
        let mut request = FetchRequest::default().with_max_wait_ms(500).with_topics(vec![
            fetch_request::FetchTopic::default()
                .with_topic(topic("a"))
                .with_partitions(partitions.clone()),
            fetch_request::FetchTopic::default().with_topic(topic("b")).with_partitions(partitions),
        ]);
        if version >= 7 {
            request = request.with_forgotten_topics_data(vec![
                fetch_request::ForgottenTopic::default()
                    .with_topic(topic("gone"))
                    .with_partitions(vec![1, 2, 3]),
            ]);
        }
        if version >= 11 {
            request = request.with_rack_id(StrBytes::from_static_str("rack-1"));
        }
        if version >= 12 {
            request = request.with_cluster_id(Some(StrBytes::from_static_str("cluster")));
        }
        assert_walks_exactly(ApiKey::Fetch, version, &request);
    }
}

#[test]
fn list_offsets_every_version() {
    for version in served_versions(ApiKey::ListOffsets) {
        let partitions = (0..3)
            .map(|index| {
                list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(index)
                    .with_timestamp(-1)
            })
            .collect();
        let request =
            ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(topic("a"))
                    .with_partitions(partitions),
            ]);
        assert_walks_exactly(ApiKey::ListOffsets, version, &request);
    }
}

#[test]
fn offset_for_leader_epoch_every_version() {
    for version in served_versions(ApiKey::OffsetForLeaderEpoch) {
        let partitions = (0..3)
            .map(|index| {
                offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_partition(index)
                    .with_current_leader_epoch(0)
                    .with_leader_epoch(index)
            })
            .collect();
        let request =
            OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(topic("a"))
                    .with_partitions(partitions),
            ]);
        assert_walks_exactly(ApiKey::OffsetForLeaderEpoch, version, &request);
    }
}

#[test]
fn describe_topic_partitions_every_version() {
    for version in served_versions(ApiKey::DescribeTopicPartitions) {
        let topics: Vec<_> = ["a", "b"]
            .iter()
            .map(|name| {
                describe_topic_partitions_request::TopicRequest::default().with_name(topic(name))
            })
            .collect();
        for cursor in [
            None,
            Some(
                describe_topic_partitions_request::Cursor::default()
                    .with_topic_name(topic("b"))
                    .with_partition_index(3),
            ),
        ] {
            let request = DescribeTopicPartitionsRequest::default()
                .with_topics(topics.clone())
                .with_response_partition_limit(10)
                .with_cursor(cursor);
            assert_walks_exactly(ApiKey::DescribeTopicPartitions, version, &request);
        }
    }
}

#[test]
fn create_topics_every_version() {
    for version in served_versions(ApiKey::CreateTopics) {
        let creatable = create_topics_request::CreatableTopic::default()
            .with_name(topic("a"))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(vec![
                create_topics_request::CreatableReplicaAssignment::default()
                    .with_partition_index(0)
                    .with_broker_ids(vec![BrokerId(1), BrokerId(2)]),
            ])
            .with_configs(vec![
                create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("segment.bytes"))
                    .with_value(Some(StrBytes::from_static_str("1048576"))),
                create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("cleanup.policy"))
                    .with_value(None),
            ]);
        let request = CreateTopicsRequest::default()
            .with_topics(vec![creatable.clone(), creatable.with_name(topic("b"))])
            .with_timeout_ms(1000)
            .with_validate_only(version >= 1);
        assert_walks_exactly(ApiKey::CreateTopics, version, &request);
    }
}

#[test]
fn delete_topics_every_version() {
    for version in served_versions(ApiKey::DeleteTopics) {
        let request = if version >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                delete_topics_request::DeleteTopicState::default().with_name(Some(topic("a"))),
                delete_topics_request::DeleteTopicState::default()
                    .with_topic_id(uuid::Uuid::new_v4()),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![topic("a"), topic("b")])
        }
        .with_timeout_ms(1000);
        assert_walks_exactly(ApiKey::DeleteTopics, version, &request);
    }
}

#[test]
fn api_versions_and_describe_cluster_every_version() {
    for version in served_versions(ApiKey::ApiVersions) {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("librdkafka"))
            .with_client_software_version(StrBytes::from_static_str("2.12.1"));
        assert_walks_exactly(ApiKey::ApiVersions, version, &request);
    }
    for version in served_versions(ApiKey::DescribeCluster) {
        let request =
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
        assert_walks_exactly(ApiKey::DescribeCluster, version, &request);
    }
}

fn group(name: &str) -> GroupId {
    GroupId(StrBytes::from_string(name.to_owned()))
}

fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

#[test]
fn offset_commit_every_version() {
    for version in served_versions(ApiKey::OffsetCommit) {
        let partitions = (0..3)
            .map(|index| {
                offset_commit_request::OffsetCommitRequestPartition::default()
                    .with_partition_index(index)
                    .with_committed_offset(100 + i64::from(index))
                    .with_committed_leader_epoch(if version >= 6 { 5 } else { -1 })
                    .with_committed_metadata(Some(text("meta")))
            })
            .collect::<Vec<_>>();
        let topics = (0..2)
            .map(|index| {
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(topic(&format!("t{index}")))
                    .with_partitions(partitions.clone())
            })
            .collect();
        let mut request = OffsetCommitRequest::default()
            .with_group_id(group("g"))
            .with_generation_id_or_member_epoch(3)
            .with_member_id(text("member-1"))
            .with_topics(topics);
        if version <= 4 {
            request = request.with_retention_time_ms(60_000);
        }
        if version >= 7 {
            request = request.with_group_instance_id(Some(text("instance-1")));
        }
        assert_walks_exactly(ApiKey::OffsetCommit, version, &request);
    }
}

#[test]
fn offset_fetch_every_version() {
    for version in served_versions(ApiKey::OffsetFetch) {
        let mut request = OffsetFetchRequest::default();
        if version <= 7 {
            let topics = (0..2)
                .map(|index| {
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(topic(&format!("t{index}")))
                        .with_partition_indexes(vec![0, 1, 2])
                })
                .collect();
            request = request.with_group_id(group("g")).with_topics(Some(topics));
        } else {
            let groups = (0..2)
                .map(|index| {
                    let topics = (0..2)
                        .map(|topic_index| {
                            offset_fetch_request::OffsetFetchRequestTopics::default()
                                .with_name(topic(&format!("t{topic_index}")))
                                .with_partition_indexes(vec![0, 1, 2])
                        })
                        .collect();
                    let group = offset_fetch_request::OffsetFetchRequestGroup::default()
                        .with_group_id(group(&format!("g{index}")))
                        .with_topics(Some(topics));
                    if version >= 9 {
                        group.with_member_id(Some(text("member-1"))).with_member_epoch(4)
                    } else {
                        group
                    }
                })
                .collect();
            request = request.with_groups(groups);
        }
        if version >= 7 {
            request = request.with_require_stable(true);
        }
        assert_walks_exactly(ApiKey::OffsetFetch, version, &request);
    }
    // v2+ allows null topics (all partitions).
    for version in 2..=7 {
        let request = OffsetFetchRequest::default().with_group_id(group("g")).with_topics(None);
        assert_walks_exactly(ApiKey::OffsetFetch, version, &request);
    }
}

#[test]
fn find_coordinator_every_version() {
    for version in served_versions(ApiKey::FindCoordinator) {
        let request = if version <= 3 {
            FindCoordinatorRequest::default().with_key(text("g"))
        } else {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![
                text("g1"),
                text("g2"),
                text("g3"),
            ])
        };
        let request = if version >= 1 { request.with_key_type(1) } else { request };
        assert_walks_exactly(ApiKey::FindCoordinator, version, &request);
    }
}

#[test]
fn join_group_every_version() {
    for version in served_versions(ApiKey::JoinGroup) {
        let protocols = ["range", "roundrobin", "cooperative-sticky"]
            .into_iter()
            .map(|name| {
                join_group_request::JoinGroupRequestProtocol::default()
                    .with_name(text(name))
                    .with_metadata(Bytes::from_static(b"\x00\x01subscription"))
            })
            .collect();
        let mut request = JoinGroupRequest::default()
            .with_group_id(group("g"))
            .with_session_timeout_ms(45_000)
            .with_rebalance_timeout_ms(300_000)
            .with_member_id(text("member-1"))
            .with_protocol_type(text("consumer"))
            .with_protocols(protocols);
        if version >= 5 {
            request = request.with_group_instance_id(Some(text("instance-1")));
        }
        if version >= 8 {
            request = request.with_reason(Some(text("rejoin")));
        }
        assert_walks_exactly(ApiKey::JoinGroup, version, &request);
    }
}

#[test]
fn describe_configs_every_version() {
    for version in served_versions(ApiKey::DescribeConfigs) {
        for keys in [None, Some(vec![text("retention.ms"), text("segment.bytes")])] {
            let resources = vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(text("orders"))
                    .with_configuration_keys(keys.clone()),
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(text("1"))
                    .with_configuration_keys(keys),
            ];
            let mut request = DescribeConfigsRequest::default()
                .with_resources(resources)
                .with_include_synonyms(true);
            if version >= 3 {
                request = request.with_include_documentation(true);
            }
            assert_walks_exactly(ApiKey::DescribeConfigs, version, &request);
        }
    }
}

#[test]
fn elect_leaders_every_version() {
    for version in served_versions(ApiKey::ElectLeaders) {
        for topics in [None, Some(vec![("orders", vec![0, 1])])] {
            let mut request = ElectLeadersRequest::default()
                .with_topic_partitions(topics.map(|topics| {
                    topics
                        .into_iter()
                        .map(|(name, partitions)| {
                            elect_leaders_request::TopicPartitions::default()
                                .with_topic(topic(name))
                                .with_partitions(partitions)
                        })
                        .collect()
                }))
                .with_timeout_ms(60_000);
            if version >= 1 {
                request = request.with_election_type(1);
            }
            assert_walks_exactly(ApiKey::ElectLeaders, version, &request);
        }
    }
}

#[test]
fn describe_producers_every_version() {
    for version in served_versions(ApiKey::DescribeProducers) {
        let request = DescribeProducersRequest::default().with_topics(vec![
            describe_producers_request::TopicRequest::default()
                .with_name(topic("orders"))
                .with_partition_indexes(vec![0, 1, 2]),
        ]);
        assert_walks_exactly(ApiKey::DescribeProducers, version, &request);
    }
}

#[test]
fn describe_log_dirs_every_version() {
    for version in served_versions(ApiKey::DescribeLogDirs) {
        for topics in [None, Some(vec![("orders", vec![0, 1, 2]), ("audit", vec![])])] {
            let request = DescribeLogDirsRequest::default().with_topics(topics.map(|topics| {
                topics
                    .into_iter()
                    .map(|(name, partitions)| {
                        describe_log_dirs_request::DescribableLogDirTopic::default()
                            .with_topic(topic(name))
                            .with_partitions(partitions)
                    })
                    .collect()
            }));
            assert_walks_exactly(ApiKey::DescribeLogDirs, version, &request);
        }
    }
}

#[test]
fn delete_records_every_version() {
    for version in served_versions(ApiKey::DeleteRecords) {
        let partitions = (0..3)
            .map(|index| {
                delete_records_request::DeleteRecordsPartition::default()
                    .with_partition_index(index)
                    .with_offset(i64::from(index) * 10 - 1)
            })
            .collect();
        let request = DeleteRecordsRequest::default()
            .with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(topic("orders"))
                    .with_partitions(partitions),
            ])
            .with_timeout_ms(30_000);
        assert_walks_exactly(ApiKey::DeleteRecords, version, &request);
    }
}

#[test]
fn create_partitions_every_version() {
    for version in served_versions(ApiKey::CreatePartitions) {
        for assignments in [None, Some(vec![vec![1], vec![1]])] {
            let topic = create_partitions_request::CreatePartitionsTopic::default()
                .with_name(topic("orders"))
                .with_count(5)
                .with_assignments(assignments.map(|assignments: Vec<Vec<i32>>| {
                    assignments
                        .into_iter()
                        .map(|brokers| {
                            create_partitions_request::CreatePartitionsAssignment::default()
                                .with_broker_ids(brokers.into_iter().map(BrokerId).collect())
                        })
                        .collect()
                }));
            let request = CreatePartitionsRequest::default()
                .with_topics(vec![topic])
                .with_timeout_ms(30_000)
                .with_validate_only(true);
            assert_walks_exactly(ApiKey::CreatePartitions, version, &request);
        }
    }
}

#[test]
fn alter_configs_every_version() {
    for version in served_versions(ApiKey::AlterConfigs) {
        let configs = vec![
            alter_configs_request::AlterableConfig::default()
                .with_name(text("retention.ms"))
                .with_value(Some(text("1000"))),
            alter_configs_request::AlterableConfig::default().with_name(text("segment.ms")),
        ];
        let request = AlterConfigsRequest::default()
            .with_resources(vec![
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(text("orders"))
                    .with_configs(configs),
            ])
            .with_validate_only(true);
        assert_walks_exactly(ApiKey::AlterConfigs, version, &request);
    }
}

#[test]
fn incremental_alter_configs_every_version() {
    for version in served_versions(ApiKey::IncrementalAlterConfigs) {
        let configs = vec![
            incremental_alter_configs_request::AlterableConfig::default()
                .with_name(text("cleanup.policy"))
                .with_config_operation(2)
                .with_value(Some(text("compact"))),
            incremental_alter_configs_request::AlterableConfig::default()
                .with_name(text("segment.ms"))
                .with_config_operation(1),
        ];
        let request = IncrementalAlterConfigsRequest::default()
            .with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(text("orders"))
                    .with_configs(configs),
            ])
            .with_validate_only(false);
        assert_walks_exactly(ApiKey::IncrementalAlterConfigs, version, &request);
    }
}

#[test]
fn init_producer_id_every_version() {
    for version in served_versions(ApiKey::InitProducerId) {
        for transactional_id in [None, Some("txn-1")] {
            let mut request = InitProducerIdRequest::default()
                .with_transactional_id(transactional_id.map(|id| TransactionalId(text(id))))
                .with_transaction_timeout_ms(60_000);
            if version >= 3 {
                request = request.with_producer_id(ProducerId(17)).with_producer_epoch(3);
            }
            assert_walks_exactly(ApiKey::InitProducerId, version, &request);
        }
    }
}

#[test]
fn heartbeat_every_version() {
    for version in served_versions(ApiKey::Heartbeat) {
        let mut request = HeartbeatRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(7)
            .with_member_id(text("member-1"));
        if version >= 3 {
            request = request.with_group_instance_id(Some(text("instance-1")));
        }
        assert_walks_exactly(ApiKey::Heartbeat, version, &request);
    }
}

#[test]
fn leave_group_every_version() {
    for version in served_versions(ApiKey::LeaveGroup) {
        let request = LeaveGroupRequest::default().with_group_id(group("g"));
        let request = if version <= 2 {
            request.with_member_id(text("member-1"))
        } else {
            let members = (0..3)
                .map(|index| {
                    let member = leave_group_request::MemberIdentity::default()
                        .with_member_id(StrBytes::from_string(format!("member-{index}")))
                        .with_group_instance_id(Some(text("instance")));
                    if version >= 5 { member.with_reason(Some(text("shutdown"))) } else { member }
                })
                .collect();
            request.with_members(members)
        };
        assert_walks_exactly(ApiKey::LeaveGroup, version, &request);
    }
}

#[test]
fn sync_group_every_version() {
    for version in served_versions(ApiKey::SyncGroup) {
        let assignments = (0..3)
            .map(|index| {
                sync_group_request::SyncGroupRequestAssignment::default()
                    .with_member_id(StrBytes::from_string(format!("member-{index}")))
                    .with_assignment(Bytes::from_static(b"\x00\x01assignment"))
            })
            .collect();
        let mut request = SyncGroupRequest::default()
            .with_group_id(group("g"))
            .with_generation_id(7)
            .with_member_id(text("member-0"))
            .with_assignments(assignments);
        if version >= 3 {
            request = request.with_group_instance_id(Some(text("instance-1")));
        }
        if version >= 5 {
            request = request
                .with_protocol_type(Some(text("consumer")))
                .with_protocol_name(Some(text("range")));
        }
        assert_walks_exactly(ApiKey::SyncGroup, version, &request);
    }
}

#[test]
fn describe_list_and_delete_groups_every_version() {
    for version in served_versions(ApiKey::DescribeGroups) {
        let request = DescribeGroupsRequest::default()
            .with_groups(vec![group("g1"), group("g2"), group("g3")])
            .with_include_authorized_operations(version >= 3);
        let reserved = assert_walks_exactly(ApiKey::DescribeGroups, version, &request);
        assert_eq!(reserved, 3 * size_of::<GroupId>() as u64);
    }
    for version in served_versions(ApiKey::ListGroups) {
        let mut request = ListGroupsRequest::default();
        if version >= 4 {
            request = request.with_states_filter(vec![text("Stable"), text("Empty")]);
        }
        if version >= 5 {
            request = request.with_types_filter(vec![text("classic"), text("consumer")]);
        }
        assert_walks_exactly(ApiKey::ListGroups, version, &request);
    }
    for version in served_versions(ApiKey::DeleteGroups) {
        let request =
            DeleteGroupsRequest::default().with_groups_names(vec![group("a"), group("b")]);
        assert_walks_exactly(ApiKey::DeleteGroups, version, &request);
    }
}

#[test]
fn offset_delete_every_version() {
    for version in served_versions(ApiKey::OffsetDelete) {
        let partitions = (0..3)
            .map(|index| {
                offset_delete_request::OffsetDeleteRequestPartition::default()
                    .with_partition_index(index)
            })
            .collect::<Vec<_>>();
        let request = OffsetDeleteRequest::default().with_group_id(group("g")).with_topics(vec![
            offset_delete_request::OffsetDeleteRequestTopic::default()
                .with_name(topic("a"))
                .with_partitions(partitions.clone()),
            offset_delete_request::OffsetDeleteRequestTopic::default()
                .with_name(topic("b"))
                .with_partitions(partitions),
        ]);
        assert_walks_exactly(ApiKey::OffsetDelete, version, &request);
    }
}

#[test]
fn headers_walk_exactly_and_tagged_fields_count_toward_the_limit() {
    for (api_key, version) in
        [(ApiKey::Metadata, 4), (ApiKey::Metadata, 12), (ApiKey::ApiVersions, 3)]
    {
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(StrBytes::from_static_str("client")));
        let mut buf = BytesMut::new();
        let header_version = api_key.request_header_version(version);
        header.encode(&mut buf, header_version).unwrap();
        let length = buf.len();
        buf.put_slice(b"body");
        let mut walker =
            Walker { body: &buf, position: 0, version: 0, flexible: false, reserved_bytes: 0 };
        assert!(check_header(&buf, header_version).is_ok());
        walker
            .walk_fields(&[
                field(Ty::Int16, 0, ALL),
                field(Ty::Int16, 0, ALL),
                field(Ty::Int32, 0, ALL),
                field(Ty::String, 0, ALL),
            ])
            .unwrap();
        if header_version >= 2 {
            walker.skip_tagged_fields().unwrap();
        }
        assert_eq!(walker.position, length, "{api_key:?} v{version}");
    }
    // A header claiming millions of 2-byte tagged fields.
    let mut hostile = BytesMut::new();
    hostile.put_i16(ApiKey::Metadata as i16);
    hostile.put_i16(12);
    hostile.put_i32(1);
    hostile.put_i16(-1);
    hostile.put_slice(&[0xff, 0xff, 0xff, 0x0f]); // 2^25 - 1 tagged fields
    for _ in 0..(1 << 21) {
        hostile.put_slice(&[1, 0]);
    }
    assert!(matches!(check_header(&hostile, 2), Err(GuardError::ArrayMemory { .. })));
}

#[test]
fn hostile_metadata_array_length_is_refused() {
    // The 4-byte body that makes the crate ask for ~150 GB: topics count 0x7fffffff.
    let body = [0x7f, 0xff, 0xff, 0xff];
    let error = check(shape(ApiKey::Metadata).unwrap(), 0, &body, 0).unwrap_err();
    assert_eq!(error, GuardError::ArrayLength { length: 0x7fff_ffff, remaining: 0 });
}

#[test]
fn hostile_compact_array_length_is_refused() {
    // Metadata v9 (flexible): varint 0xffffffff = 2^32 - 2 topics.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let error = check(shape(ApiKey::Metadata).unwrap(), 9, &body, 0).unwrap_err();
    assert!(matches!(error, GuardError::ArrayLength { .. }), "{error}");
}

#[test]
fn hostile_nested_array_length_is_refused() {
    // Produce v3: null txn id, acks, timeout, one topic "t" with 2^31-1 partitions.
    let mut body = BytesMut::new();
    body.put_i16(-1);
    body.put_i16(1);
    body.put_i32(1000);
    body.put_i32(1);
    body.put_i16(1);
    body.put_u8(b't');
    body.put_i32(i32::MAX);
    let error = check(shape(ApiKey::Produce).unwrap(), 3, &body, 0).unwrap_err();
    assert!(matches!(error, GuardError::ArrayLength { .. }), "{error}");
}

#[test]
fn array_memory_is_capped_even_when_lengths_fit_the_frame() {
    // Fetch v4 with one topic whose partition count fits the frame but whose decoded
    // partitions would reserve more than DECODED_ARRAY_BYTES_MAX.
    let partition_size = size_of::<fetch_request::FetchPartition>();
    let count = usize::try_from(DECODED_ARRAY_BYTES_MAX).unwrap() / partition_size + 1;
    let mut body = BytesMut::new();
    for value in [-1i32, 500, 1, 1 << 20] {
        body.put_i32(value);
    }
    body.put_i8(0);
    body.put_i32(1);
    body.put_i16(1);
    body.put_u8(b't');
    body.put_i32(i32::try_from(count).unwrap());
    body.put_bytes(0, count * 16);
    let error = check(shape(ApiKey::Fetch).unwrap(), 4, &body, 0).unwrap_err();
    assert!(matches!(error, GuardError::ArrayMemory { .. }), "{error}");
}

#[test]
fn negative_lengths_other_than_null_are_refused() {
    let mut body = BytesMut::new();
    body.put_i32(-2);
    let error = check(shape(ApiKey::Metadata).unwrap(), 1, &body, 0).unwrap_err();
    assert_eq!(error, GuardError::NegativeLength(-2));
}

#[test]
fn truncated_bodies_are_refused() {
    let request = MetadataRequest::default().with_topics(Some(vec![
        metadata_request::MetadataRequestTopic::default().with_name(Some(topic("abc"))),
    ]));
    let mut buf = BytesMut::new();
    request.encode(&mut buf, 4).unwrap();
    for cut in 0..buf.len() {
        assert!(check(shape(ApiKey::Metadata).unwrap(), 4, &buf[..cut], 0).is_err(), "cut {cut}");
    }
}

#[test]
fn random_bytes_never_panic_and_guarded_decode_never_over_reserves() {
    // A small deterministic xorshift so the test needs no extra crate.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let length = usize::try_from(next() % 64).unwrap();
        let body: Vec<u8> = (0..length).map(|_| u8::try_from(next() & 0xff).unwrap()).collect();
        let api_key =
            [ApiKey::Metadata, ApiKey::Produce, ApiKey::Fetch, ApiKey::ListOffsets][round % 4];
        let row = support(api_key).unwrap();
        let version =
            row.served_min + i16::try_from(next() % 4).unwrap().min(row.max - row.served_min);
        // decode_body runs the guard first; the crate may reject what passes, but nothing
        // may abort the process.
        let body = Bytes::from(body);
        let _ = match api_key {
            ApiKey::Metadata => decode_body::<MetadataRequest>(api_key, version, body, 0).map(drop),
            ApiKey::Produce => decode_body::<ProduceRequest>(api_key, version, body, 0).map(drop),
            ApiKey::Fetch => decode_body::<FetchRequest>(api_key, version, body, 0).map(drop),
            _ => decode_body::<ListOffsetsRequest>(api_key, version, body, 0).map(drop),
        };
    }
}
