//! Consumer groups with real clients: rdkafka (vendored librdkafka 2.12) consumers sharing a
//! topic, rebalancing, losing a member, committing and resuming across a broker restart; and
//! raw-protocol checks of what Kafka answers to bad group requests.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RawClient, TestBroker, create_topic, producer_config};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const PARTITIONS: i32 = 6;

/// Fast group settings for tests: no initial delay, short sessions allowed.
const GROUP_OVERRIDES: &[(&str, &str)] =
    &[("group.initial.rebalance.delay.ms", "0"), ("group.min.session.timeout.ms", "1000")];

fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("consumer")
}

/// Produces `count` records with distinct keys `{prefix}-{i}`, record i to partition
/// i % PARTITIONS.
async fn produce(bootstrap: &str, topic: &str, prefix: &str, count: usize) {
    let producer: FutureProducer = producer_config(bootstrap, &[]).create().expect("producer");
    let deliveries: Vec<_> = (0..count)
        .map(|index| {
            let key = format!("{prefix}-{index}");
            let partition = i32::try_from(index).unwrap() % PARTITIONS;
            let producer = producer.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to(topic).key(&key).payload("v").partition(partition),
                        Duration::from_secs(30),
                    )
                    .await
                    .expect("delivered");
            }
        })
        .collect();
    futures::future::join_all(deliveries).await;
}

fn assigned_partitions(consumer: &BaseConsumer) -> Vec<i32> {
    let mut partitions: Vec<i32> = consumer
        .assignment()
        .expect("assignment")
        .elements()
        .iter()
        .map(|element| element.partition())
        .collect();
    partitions.sort_unstable();
    partitions
}

/// Polls every consumer in turn (which also serves their rebalances) until `done` says
/// so; returns the keys each consumer received. Blocking; panics after `seconds`.
fn poll_until(
    consumers: &[&BaseConsumer],
    seconds: u64,
    mut done: impl FnMut(&[Vec<String>]) -> bool,
) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut received: Vec<Vec<String>> = vec![Vec::new(); consumers.len()];
    while !done(&received) {
        assert!(Instant::now() < deadline, "timed out; received so far: {:?}", counts(&received));
        for (index, consumer) in consumers.iter().enumerate() {
            match consumer.poll(Duration::from_millis(20)) {
                Some(Ok(message)) => {
                    let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
                    received[index].push(key);
                }
                Some(Err(error)) => panic!("consumer {index}: {error}"),
                None => {}
            }
        }
    }
    received
}

fn counts(received: &[Vec<String>]) -> Vec<usize> {
    received.iter().map(Vec::len).collect()
}

fn unique(received: &[Vec<String>]) -> usize {
    received.iter().flatten().collect::<HashSet<_>>().len()
}

fn total(received: &[Vec<String>]) -> usize {
    received.iter().map(Vec::len).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_in_a_group_split_the_partitions_and_rebalance_when_one_joins() {
    let broker = TestBroker::start_with(GROUP_OVERRIDES).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "shared", PARTITIONS, &[]).await;
    // Both members hold their partitions before any record exists, so no record is read
    // before a rebalance moves its partition (which would redeliver it, as Kafka does).
    let bootstrap_for_consumers = bootstrap.clone();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let first = group_consumer(&bootstrap_for_consumers, "split", &[]);
        let second = group_consumer(&bootstrap_for_consumers, "split", &[]);
        first.subscribe(&["shared"]).unwrap();
        second.subscribe(&["shared"]).unwrap();
        poll_until(&[&first, &second], 60, |_| {
            assigned_partitions(&first).len() == 3 && assigned_partitions(&second).len() == 3
        });
        (first, second)
    })
    .await
    .unwrap();
    produce(&bootstrap, "shared", "first", 600).await;
    let (first, second) = tokio::task::spawn_blocking(move || {
        let received = poll_until(&[&first, &second], 60, |received| total(received) >= 600);
        // Nothing more arrives: every record exactly once across the group.
        let extra = poll_until(&[&first, &second], 60, {
            let started = Instant::now();
            move |_| started.elapsed() > Duration::from_millis(500)
        });
        assert_eq!(total(&extra), 0, "duplicates delivered");
        let keys: HashSet<&String> = received.iter().flatten().collect();
        assert_eq!(keys.len(), 600, "each record once");
        let (a, b) = (assigned_partitions(&first), assigned_partitions(&second));
        assert_eq!(a.len(), 3, "{a:?} / {b:?}");
        assert_eq!(b.len(), 3, "{a:?} / {b:?}");
        assert!(a.iter().all(|partition| !b.contains(partition)), "disjoint: {a:?} / {b:?}");
        assert!(!received[0].is_empty() && !received[1].is_empty(), "{:?}", counts(&received));
        first.commit_consumer_state(CommitMode::Sync).unwrap();
        second.commit_consumer_state(CommitMode::Sync).unwrap();
        (first, second)
    })
    .await
    .unwrap();

    // A third member joins: the group rebalances to two partitions each, and new records are
    // consumed once, from the committed offsets (nothing old is redelivered).
    produce(&bootstrap, "shared", "second", 60).await;
    let bootstrap_for_third = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let third = group_consumer(&bootstrap_for_third, "split", &[]);
        third.subscribe(&["shared"]).unwrap();
        let consumers = [&first, &second, &third];
        // Records consumed but not committed before the rebalance are delivered again to
        // their partition's next owner (at-least-once, as with Kafka): count distinct keys.
        let received = poll_until(&consumers, 60, |received| {
            unique(received) >= 60
                && consumers.iter().all(|consumer| assigned_partitions(consumer).len() == 2)
        });
        let keys: Vec<&String> = received.iter().flatten().collect();
        assert!(keys.iter().all(|key| key.starts_with("second-")), "only new records: {keys:?}");
        assert_eq!(unique(&received), 60);
        let mut all: Vec<i32> =
            consumers.iter().flat_map(|consumer| assigned_partitions(consumer)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..PARTITIONS).collect::<Vec<_>>());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_vanishes_without_leaving_loses_its_partitions_after_its_session() {
    let broker = TestBroker::start_with(GROUP_OVERRIDES).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "orphaned", PARTITIONS, &[]).await;
    let bootstrap_for_consumers = bootstrap.clone();
    let survivor = tokio::task::spawn_blocking(move || {
        let survivor = group_consumer(&bootstrap_for_consumers, "vanish", &[]);
        // A static member does not send LeaveGroup when it closes (KIP-345): dropping it is
        // a member that simply stops heartbeating.
        let vanishing = group_consumer(
            &bootstrap_for_consumers,
            "vanish",
            &[("group.instance.id", "vanishing-1"), ("session.timeout.ms", "3000")],
        );
        survivor.subscribe(&["orphaned"]).unwrap();
        vanishing.subscribe(&["orphaned"]).unwrap();
        poll_until(&[&survivor, &vanishing], 60, |_| {
            assigned_partitions(&survivor).len() == 3 && assigned_partitions(&vanishing).len() == 3
        });
        drop(vanishing);
        survivor
    })
    .await
    .unwrap();
    let vanished_at = Instant::now();
    produce(&bootstrap, "orphaned", "after", 60).await;
    tokio::task::spawn_blocking(move || {
        // Nothing was committed, so the survivor reads its old partitions again after the
        // rebalance too: count distinct keys.
        let received = poll_until(&[&survivor], 60, |received| {
            unique(received) >= 60 && assigned_partitions(&survivor).len() == 6
        });
        assert_eq!(unique(&received), 60);
        assert!(
            vanished_at.elapsed() >= Duration::from_millis(2500),
            "moved only after the session"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_consumer_resumes_at_the_offsets_committed_before_a_restart() {
    let mut broker = TestBroker::start_with(GROUP_OVERRIDES).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "resume", 3, &[]).await;
    let producer: FutureProducer = producer_config(&bootstrap, &[]).create().expect("producer");
    for index in 0..30 {
        let key = format!("r-{index}");
        producer
            .send(
                FutureRecord::to("resume").key(&key).payload("v").partition(index % 3),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
    }
    let committed = [(0, 4i64), (1, 7), (2, 9)];
    let bootstrap_for_commit = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = group_consumer(&bootstrap_for_commit, "resumers", &[]);
        let mut offsets = TopicPartitionList::new();
        for (partition, offset) in committed {
            offsets.add_partition_offset("resume", partition, Offset::Offset(offset)).unwrap();
        }
        consumer.commit(&offsets, CommitMode::Sync).expect("commit");
    })
    .await
    .unwrap();

    broker.restart().await;
    let bootstrap = broker.bootstrap();
    tokio::task::spawn_blocking(move || {
        let consumer = group_consumer(&bootstrap, "resumers", &[]);
        let mut wanted = TopicPartitionList::new();
        for partition in 0..3 {
            wanted.add_partition("resume", partition);
        }
        let fetched =
            consumer.committed_offsets(wanted, Duration::from_secs(30)).expect("offset fetch");
        for (partition, offset) in committed {
            let element = fetched.find_partition("resume", partition).unwrap();
            assert_eq!(element.offset(), Offset::Offset(offset), "partition {partition}");
        }
        consumer.subscribe(&["resume"]).unwrap();
        let mut first_offsets: HashMap<i32, i64> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while first_offsets.len() < 3 {
            assert!(Instant::now() < deadline, "resumed only {first_offsets:?}");
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.expect("record");
                first_offsets.entry(message.partition()).or_insert(message.offset());
            }
        }
        assert_eq!(first_offsets, committed.into_iter().collect::<HashMap<_, _>>());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn offset_fetch_of_an_unknown_group_returns_no_offsets_not_an_error() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "known", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    // Before any FindCoordinator, `__consumer_offsets` does not exist and group APIs do not
    // create it: NOT_COORDINATOR sends the client to FindCoordinator; ListGroups is empty.
    let early: OffsetFetchResponse = client
        .request(
            ApiKey::OffsetFetch,
            7,
            &OffsetFetchRequest::default().with_group_id(group_id("nobody")),
        )
        .await;
    assert_eq!(early.error_code, 16);
    let listed: ListGroupsResponse =
        client.request(ApiKey::ListGroups, 4, &ListGroupsRequest::default()).await;
    assert_eq!((listed.error_code, listed.groups.len()), (0, 0));
    assert!(broker.broker().metadata().image().topic("__consumer_offsets").is_none());
    find_coordinator(&mut client, "nobody").await;
    let all: OffsetFetchResponse = client
        .request(
            ApiKey::OffsetFetch,
            8,
            &OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(group_id("nobody"))
                    .with_topics(None),
            ]),
        )
        .await;
    assert_eq!(all.groups.len(), 1);
    assert_eq!(all.groups[0].error_code, 0);
    assert!(all.groups[0].topics.is_empty());
    for version in [1, 5, 7] {
        let request = OffsetFetchRequest::default().with_group_id(group_id("nobody")).with_topics(
            Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("known")))
                    .with_partition_indexes(vec![0, 1]),
            ]),
        );
        let response: OffsetFetchResponse =
            client.request(ApiKey::OffsetFetch, version, &request).await;
        assert_eq!(response.error_code, 0, "v{version}");
        let partitions = &response.topics[0].partitions;
        assert_eq!(partitions.len(), 2);
        assert!(
            partitions
                .iter()
                .all(|partition| partition.committed_offset == -1 && partition.error_code == 0)
        );
    }
}

fn group_id(name: &str) -> GroupId {
    GroupId(StrBytes::from_string(name.to_owned()))
}

fn join_request(group: &str, session_timeout_ms: i32, protocols: usize) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(session_timeout_ms)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(StrBytes::default())
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(
            (0..protocols)
                .map(|index| {
                    join_group_request::JoinGroupRequestProtocol::default()
                        .with_name(StrBytes::from_string(format!("assignor-{index}")))
                        .with_metadata(bytes::Bytes::from_static(b"\0\0\0\0\0\0"))
                })
                .collect(),
        )
}

#[tokio::test]
async fn bad_group_requests_get_kafkas_error_codes_and_the_broker_carries_on() {
    let broker = TestBroker::start_with(GROUP_OVERRIDES).await;
    let mut client = RawClient::connect(broker.address()).await;
    find_coordinator(&mut client, "g").await;
    let join = |request: JoinGroupRequest, version: i16| (request, version);
    let cases = [
        (join(join_request("", 10_000, 1), 5), 24),
        (join(join_request("g", i32::MAX, 1), 5), 26),
        (join(join_request("g", -1, 1), 5), 26),
        (join(join_request("g", 10_000, 10_000), 5), 42),
        (join(join_request("g", 10_000, 0), 5), 23),
        (
            join(
                join_request("g", 10_000, 1).with_member_id(StrBytes::from_static_str("stranger")),
                5,
            ),
            25,
        ),
    ];
    for ((request, version), expected) in cases {
        let response: JoinGroupResponse =
            client.request(ApiKey::JoinGroup, version, &request).await;
        assert_eq!(response.error_code, expected, "{request:?}");
    }
    let sync: SyncGroupResponse = client
        .request(
            ApiKey::SyncGroup,
            3,
            &SyncGroupRequest::default()
                .with_group_id(group_id("g"))
                .with_generation_id(1)
                .with_member_id(StrBytes::from_static_str("stranger")),
        )
        .await;
    assert_eq!(sync.error_code, 25, "SyncGroup from a non-member");
    let heartbeat: HeartbeatResponse = client
        .request(
            ApiKey::Heartbeat,
            3,
            &HeartbeatRequest::default()
                .with_group_id(group_id("g"))
                .with_generation_id(1)
                .with_member_id(StrBytes::from_static_str("stranger")),
        )
        .await;
    assert_eq!(heartbeat.error_code, 25);
    let commit: OffsetCommitResponse = client
        .request(
            ApiKey::OffsetCommit,
            7,
            &OffsetCommitRequest::default()
                .with_group_id(group_id("g"))
                .with_generation_id_or_member_epoch(5)
                .with_member_id(StrBytes::from_static_str("stranger"))
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str("missing")))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1),
                        ]),
                ]),
        )
        .await;
    assert_eq!(commit.topics[0].partitions[0].error_code, 3, "unknown topic");

    // A group id longer than `__consumer_offsets` keys can hold (flexible versions allow it
    // on the wire) is an invalid group id, not a broker panic.
    let long_group = "g".repeat(40_000);
    let response: JoinGroupResponse =
        client.request(ApiKey::JoinGroup, 6, &join_request(&long_group, 10_000, 1)).await;
    assert_eq!(response.error_code, 24);
    create_topic(&broker.bootstrap(), "bad-input", 1, &[]).await;
    let commit: OffsetCommitResponse = client
        .request(
            ApiKey::OffsetCommit,
            8,
            &OffsetCommitRequest::default()
                .with_group_id(group_id(&long_group))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str("bad-input")))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(1),
                        ]),
                ]),
        )
        .await;
    assert_eq!(commit.topics[0].partitions[0].error_code, 24);

    // A JoinGroup whose protocol array claims 2^31 entries is refused before decoding: the
    // connection is closed, as Kafka closes on an unparsable request.
    let mut hostile = RawClient::connect(broker.address()).await;
    let mut body = bytes::BytesMut::new();
    use bytes::BufMut;
    body.put_i16(1);
    body.put_slice(b"g");
    body.put_i32(10_000);
    body.put_i32(10_000);
    body.put_i16(0);
    body.put_i16(-1);
    body.put_i16(8);
    body.put_slice(b"consumer");
    body.put_i32(i32::MAX);
    let frame = raw_frame(ApiKey::JoinGroup, 5, &body);
    hostile.send_raw(&frame).await.unwrap();
    assert!(hostile.is_closed().await);

    // The broker is unaffected: a real member joins and syncs.
    let first: JoinGroupResponse =
        client.request(ApiKey::JoinGroup, 5, &join_request("healthy", 10_000, 1)).await;
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED first");
    let joined: JoinGroupResponse = client
        .request(
            ApiKey::JoinGroup,
            5,
            &join_request("healthy", 10_000, 1).with_member_id(first.member_id.clone()),
        )
        .await;
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, joined.member_id);
    let synced: SyncGroupResponse = client
        .request(
            ApiKey::SyncGroup,
            3,
            &SyncGroupRequest::default()
                .with_group_id(group_id("healthy"))
                .with_generation_id(1)
                .with_member_id(joined.member_id.clone())
                .with_assignments(vec![
                    sync_group_request::SyncGroupRequestAssignment::default()
                        .with_member_id(joined.member_id.clone())
                        .with_assignment(bytes::Bytes::from_static(b"mine")),
                ]),
        )
        .await;
    assert_eq!((synced.error_code, &synced.assignment[..]), (0, &b"mine"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_listed_described_and_deleted_and_the_offsets_topic_is_internal() {
    let broker = TestBroker::start_with(GROUP_OVERRIDES).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "listed", 2, &[]).await;
    produce_one(&bootstrap, "listed").await;
    let consumer = Arc::new(group_consumer(&bootstrap, "described", &[]));
    let polled = Arc::clone(&consumer);
    tokio::task::spawn_blocking(move || {
        polled.subscribe(&["listed"]).unwrap();
        poll_until(&[&polled], 60, |received| total(received) >= 1);
        polled.commit_consumer_state(CommitMode::Sync).unwrap();
    })
    .await
    .unwrap();

    let mut client = RawClient::connect(broker.address()).await;
    let listed: ListGroupsResponse = client
        .request(
            ApiKey::ListGroups,
            5,
            &ListGroupsRequest::default()
                .with_states_filter(vec![StrBytes::from_static_str("stable")]),
        )
        .await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_id.as_str(), "described");
    assert_eq!(listed.groups[0].group_state.as_str(), "Stable");
    assert_eq!(listed.groups[0].group_type.as_str(), "classic");
    let described: DescribeGroupsResponse = client
        .request(
            ApiKey::DescribeGroups,
            5,
            &DescribeGroupsRequest::default()
                .with_groups(vec![group_id("described"), group_id("absent")]),
        )
        .await;
    let group = &described.groups[0];
    assert_eq!((group.group_state.as_str(), group.protocol_type.as_str()), ("Stable", "consumer"));
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.members[0].client_host.as_str(), "/127.0.0.1");
    assert!(!group.members[0].member_assignment.is_empty());
    assert_eq!(
        (described.groups[1].error_code, described.groups[1].group_state.as_str()),
        (0, "Dead")
    );

    assert_eq!(delete_described(&mut client).await, 68, "NON_EMPTY_GROUP while it has a member");
    tokio::task::spawn_blocking(move || drop(consumer)).await.unwrap();
    assert_eq!(delete_described(&mut client).await, 0);
    assert_eq!(delete_described(&mut client).await, 69, "GROUP_ID_NOT_FOUND once deleted");

    let metadata: MetadataResponse =
        client.request(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None)).await;
    let offsets_topic = metadata
        .topics
        .iter()
        .find(|topic| topic.name.as_ref().is_some_and(|name| name.as_str() == "__consumer_offsets"))
        .expect("__consumer_offsets listed");
    assert!(offsets_topic.is_internal);
    assert_eq!(offsets_topic.partitions.len(), 50);
    let listed_topic = metadata
        .topics
        .iter()
        .find(|topic| topic.name.as_ref().unwrap().as_str() == "listed")
        .unwrap();
    assert!(!listed_topic.is_internal);

    let produce: ProduceResponse = client
        .request(
            ApiKey::Produce,
            9,
            &ProduceRequest::default().with_acks(1).with_timeout_ms(5000).with_topic_data(vec![
                produce_request::TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("__consumer_offsets")))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(common::record_batch(
                                &[(Some(&b"k"[..]), Some(&b"v"[..]))],
                                1_700_000_000_000,
                                kafka_protocol::records::Compression::None,
                            ))),
                    ]),
            ]),
        )
        .await;
    assert_eq!(
        produce.responses[0].partition_responses[0].error_code, 17,
        "internal topics refuse produce"
    );
}

async fn produce_one(bootstrap: &str, topic: &str) {
    let producer: FutureProducer = producer_config(bootstrap, &[]).create().expect("producer");
    producer
        .send(FutureRecord::to(topic).key("k").payload("v"), Duration::from_secs(30))
        .await
        .expect("delivered");
}

/// A request frame with a hand-written body.
fn raw_frame(api_key: ApiKey, version: i16, body: &[u8]) -> bytes::Bytes {
    use bytes::BufMut;
    use kafka_protocol::protocol::Encodable;
    let mut buf = bytes::BytesMut::new();
    buf.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("hostile")))
        .encode(&mut buf, api_key.request_header_version(version))
        .expect("header encodes");
    buf.put_slice(body);
    let size = i32::try_from(buf.len() - 4).unwrap();
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}

async fn delete_described(client: &mut RawClient) -> i16 {
    let request = DeleteGroupsRequest::default().with_groups_names(vec![group_id("described")]);
    let response: DeleteGroupsResponse = client.request(ApiKey::DeleteGroups, 2, &request).await;
    response.results[0].error_code
}

/// FindCoordinator v3 for a group: this broker, with no error.
async fn find_coordinator(client: &mut RawClient, group: &str) {
    let found: FindCoordinatorResponse = client
        .request(
            ApiKey::FindCoordinator,
            3,
            &FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_owned())),
        )
        .await;
    assert_eq!(found.error_code, 0);
    assert_eq!(found.node_id.0, 1);
}
