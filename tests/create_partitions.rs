//! CreatePartitions: rdkafka's admin client grows a topic that producers then use at once
//! and that keeps its count across a restart; raw frames for Kafka's refusals.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker, create_topic, producer_config};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn partition_count(broker: &TestBroker, topic: &str) -> i32 {
    broker.broker().metadata().image().topic(topic).map_or(0, |topic| topic.partition_count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_grows_a_topic_that_is_used_at_once_and_keeps_its_count() {
    let mut broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "grow", 2, &[]).await;
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results =
        admin.create_partitions([&NewPartitions::new("grow", 5)], &options).await.unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(partition_count(&broker, "grow"), 5);
    let metadata = admin.inner().fetch_metadata(Some("grow"), Duration::from_secs(10)).unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 5);

    let producer: FutureProducer =
        producer_config(&bootstrap, &[("acks", "all")]).create().unwrap();
    let delivery = producer
        .send(FutureRecord::to("grow").partition(4).key("k").payload("v"), Duration::from_secs(10))
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    assert_eq!((delivery.partition, delivery.offset), (4, 0));

    // Fewer partitions than now: INVALID_PARTITIONS (rdkafka reports per-topic errors here).
    let results =
        admin.create_partitions([&NewPartitions::new("grow", 3)], &options).await.unwrap();
    assert!(results[0].is_err(), "{results:?}");

    broker.restart().await;
    assert_eq!(partition_count(&broker, "grow"), 5);
    assert_eq!(broker.broker().partition("grow", 4).unwrap().offsets().high_watermark, 1);
}

fn increase(name: &str, count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
    CreatePartitionsTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
        .with_count(count)
        .with_assignments(assignments.map(|assignments| {
            assignments
                .into_iter()
                .map(|brokers| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(brokers.into_iter().map(BrokerId).collect())
                })
                .collect()
        }))
}

async fn create_partitions(
    client: &mut RawClient,
    version: i16,
    topics: Vec<CreatePartitionsTopic>,
    validate_only: bool,
) -> Vec<i16> {
    let request = CreatePartitionsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only);
    let response: CreatePartitionsResponse =
        client.request(ApiKey::CreatePartitions, version, &request).await;
    response.results.iter().map(|result| result.error_code).collect()
}

#[tokio::test]
async fn refusals_carry_kafka_codes() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "fixed", 3, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in 0..=3 {
        let codes = create_partitions(
            &mut client,
            version,
            vec![
                increase("fixed", 3, None),
                increase("fixed-less", 2, None),
                increase("absent", 5, None),
                increase("twice", 5, None),
                increase("twice", 6, None),
            ],
            false,
        )
        .await;
        assert_eq!(codes, [37, 3, 3, 42, 42], "v{version}");
    }
    create_topic(&broker.bootstrap(), "fixed-less", 3, &[]).await;
    let codes = create_partitions(
        &mut client,
        3,
        vec![
            increase("fixed-less", 2, None),
            increase("fixed", 5, Some(vec![vec![1]])),
            increase("fixed", 5, Some(vec![vec![1], vec![7]])),
        ],
        false,
    )
    .await;
    // The second and third name "fixed" twice: both refused as duplicates.
    assert_eq!(codes, [37, 42, 42]);
    let codes = create_partitions(
        &mut client,
        3,
        vec![
            increase("fixed", 5, Some(vec![vec![1]])),
            increase("fixed-less", 5, Some(vec![vec![1], vec![7]])),
        ],
        false,
    )
    .await;
    assert_eq!(codes, [39, 39], "assignment count, unknown broker");
    let codes = create_partitions(
        &mut client,
        3,
        vec![increase("fixed", 5, Some(vec![vec![1, 1], vec![1, 1]]))],
        false,
    )
    .await;
    assert_eq!(codes, [39], "a broker twice in one partition");
    // validate_only checks without adding.
    let codes = create_partitions(&mut client, 3, vec![increase("fixed", 9, None)], true).await;
    assert_eq!(codes, [0]);
    assert_eq!(partition_count(&broker, "fixed"), 3);
    let codes =
        create_partitions(&mut client, 3, vec![increase("fixed", 4, Some(vec![vec![1]]))], false)
            .await;
    assert_eq!(codes, [0]);
    assert_eq!(partition_count(&broker, "fixed"), 4);
    assert!(broker.broker().partition("fixed", 3).is_some(), "the log is open");

    // The internal offsets topic keeps its count.
    let find = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("any-group"))
        .with_key_type(0);
    let _: FindCoordinatorResponse = client.request(ApiKey::FindCoordinator, 3, &find).await;
    let codes =
        create_partitions(&mut client, 3, vec![increase("__consumer_offsets", 60, None)], false)
            .await;
    assert_eq!(codes, [42]);
}
