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

fn log_files(broker: &TestBroker, topic: &str) -> usize {
    std::fs::read_dir(broker.data_dir().join(format!("{topic}-0")))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".log"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_deletes_records_and_consumers_follow_the_new_start() {
    let mut broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "trim", 1, &[("segment.bytes", "2048")]).await;
    produce(&bootstrap, "trim", 100).await;
    let segments_before = log_files(&broker, "trim");
    assert!(segments_before > 5, "{segments_before} segments");

    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset("trim", 0, Offset::Offset(60)).unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let result = admin.delete_records(&offsets, &options).await.unwrap();
    let element = result.find_partition("trim", 0).unwrap();
    assert!(element.error().is_ok(), "{:?}", element.error());
    assert_eq!(element.offset(), Offset::Offset(60), "the new low watermark");
    assert!(log_files(&broker, "trim") < segments_before, "whole segments below 60 removed");

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
