//! DeleteRecords: rdkafka's admin client moves the log start, whole segments below it go,
//! ListOffsets earliest and consumers follow, and the start survives a restart; raw frames
//! for Kafka's refusals.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker, consumer_config, create_topic, producer_config};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

async fn produce(bootstrap: &str, topic: &str, count: usize) {
    let producer: FutureProducer = producer_config(bootstrap, &[("acks", "all")]).create().unwrap();
    for index in 0..count {
        let key = format!("key-{index}");
        producer
            .send(
                FutureRecord::to(topic).partition(0).key(&key).payload(&vec![b'x'; 200]),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_deletes_records_and_consumers_follow_the_new_start() {
    let mut broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(
        &bootstrap,
        "trim",
        1,
        &[("segment.bytes", "2048"), ("file.delete.delay.ms", "0")],
    )
    .await;
    produce(&bootstrap, "trim", 100).await;

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset("trim", 0, Offset::Offset(60)).unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let result = admin.delete_records(&offsets, &options).await.unwrap();
    let element = result.find_partition("trim", 0).unwrap();
    assert!(element.error().is_ok(), "{:?}", element.error());
    assert_eq!(element.offset(), Offset::Offset(60), "the new low watermark");
    // Whole segments below the start go (at the next maintenance tick, the delay being 0):
    // the first segment left holds offset 60.
    let dir = broker.data_dir().join("trim-0");
    let segment_bases = move || -> Vec<i64> {
        let mut bases: Vec<i64> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".log").map(|base| base.parse().unwrap())
            })
            .collect();
        bases.sort_unstable();
        bases
    };
    let before = segment_bases();
    assert!(before.iter().filter(|base| **base < 60).count() > 2, "{before:?}");
    let trimmed = common::eventually(10, || {
        let bases = segment_bases();
        bases[0] <= 60 && bases.get(1).is_none_or(|second| *second > 60)
    })
    .await;
    assert!(trimmed, "segments below 60 remain: {:?}", segment_bases());

    let bootstrap_for_consumer = bootstrap.clone();
    let (low, first) = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer =
            consumer_config(&bootstrap_for_consumer, &[("auto.offset.reset", "earliest")])
                .create()
                .unwrap();
        let (low, _) = consumer.fetch_watermarks("trim", 0, Duration::from_secs(10)).unwrap();
        // A consumer positioned below the start is out of range and resets to it.
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset("trim", 0, Offset::Offset(10)).unwrap();
        consumer.assign(&assignment).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            assert!(std::time::Instant::now() < deadline, "no record after the reset");
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                break (low, message.offset());
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((low, first), (60, 60));

    broker.restart().await;
    let log = broker.broker().partition("trim", 0).unwrap();
    assert_eq!(log.offsets().log_start_offset, 60, "the start survives a restart");
}

fn request(topic: &str, partitions: &[(i32, i64)]) -> DeleteRecordsTopic {
    DeleteRecordsTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partitions(
            partitions
                .iter()
                .map(|(partition, offset)| {
                    DeleteRecordsPartition::default()
                        .with_partition_index(*partition)
                        .with_offset(*offset)
                })
                .collect(),
        )
}

#[tokio::test]
async fn refusals_and_the_high_watermark_over_the_wire() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "plain", 2, &[]).await;
    create_topic(&bootstrap, "compacted", 1, &[("cleanup.policy", "compact")]).await;
    produce(&bootstrap, "plain", 10).await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in 0..=2 {
        let body = DeleteRecordsRequest::default()
            .with_topics(vec![
                request("plain", &[(0, 11), (0, -5), (1, 0), (9, 1)]),
                request("compacted", &[(0, 0)]),
                request("absent", &[(0, 1)]),
            ])
            .with_timeout_ms(10_000);
        let response: DeleteRecordsResponse =
            client.request(ApiKey::DeleteRecords, version, &body).await;
        let answers: Vec<(i16, i64)> = response
            .topics
            .iter()
            .flat_map(|topic| &topic.partitions)
            .map(|partition| (partition.error_code, partition.low_watermark))
            .collect();
        assert_eq!(answers, [(1, -1), (1, -1), (0, 0), (3, -1), (44, -1), (3, -1)], "v{version}");
    }
    // The internal offsets topic: INVALID_TOPIC_EXCEPTION, before its compact policy counts.
    use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
    let find =
        FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")).with_key_type(0);
    let _: FindCoordinatorResponse = client.request(ApiKey::FindCoordinator, 3, &find).await;
    let body = DeleteRecordsRequest::default()
        .with_topics(vec![request("__consumer_offsets", &[(0, 0)])])
        .with_timeout_ms(10_000);
    let response: DeleteRecordsResponse = client.request(ApiKey::DeleteRecords, 2, &body).await;
    assert_eq!(response.topics[0].partitions[0].error_code, 17);
    let body = DeleteRecordsRequest::default()
        .with_topics(vec![request("plain", &[(0, 4), (0, -1)])])
        .with_timeout_ms(10_000);
    let response: DeleteRecordsResponse = client.request(ApiKey::DeleteRecords, 2, &body).await;
    let answers: Vec<(i16, i64)> = response.topics[0]
        .partitions
        .iter()
        .map(|partition| (partition.error_code, partition.low_watermark))
        .collect();
    assert_eq!(answers, [(0, 4), (0, 10)], "-1 means the high watermark");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_deletion_survives_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let bootstrap = format!("127.0.0.1:{port}");
    let mut child = common::spawn_riffle(data.path(), port);
    create_topic(&bootstrap, "crashy", 1, &[]).await;
    produce(&bootstrap, "crashy", 20).await;
    let mut client = RawClient::connect(bootstrap.parse().unwrap()).await;
    let body = DeleteRecordsRequest::default()
        .with_topics(vec![request("crashy", &[(0, 12)])])
        .with_timeout_ms(10_000);
    let response: DeleteRecordsResponse = client.request(ApiKey::DeleteRecords, 2, &body).await;
    assert_eq!(response.topics[0].partitions[0].low_watermark, 12);
    // Killed at once: no checkpoint timer, no clean shutdown.
    child.kill().unwrap();
    child.wait().unwrap();
    let _child = common::spawn_riffle(data.path(), port);
    let low = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = consumer_config(&bootstrap, &[]).create().unwrap();
        consumer.fetch_watermarks("crashy", 0, Duration::from_secs(10)).unwrap().0
    })
    .await
    .unwrap();
    assert_eq!(low, 12, "the deletion the client was told of is still in force");
}
