//! ListOffsets: earliest, latest, by timestamp (through the time index, to the exact record
//! inside a batch), max timestamp (-3), leader epoch checks, LogAppendTime.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker, consume_all, create_topic, producer_config};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Timestamp;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

const BASE: i64 = 1_750_000_000_000;

/// Produces `count` records to partition 0 with timestamps BASE + 10 * i, in batches of 10
/// (linger lets librdkafka batch them, so lookups must look inside batches).
async fn produce_timed(bootstrap: &str, topic: &str, count: i64) {
    let producer: FutureProducer =
        producer_config(bootstrap, &[("linger.ms", "50")]).create().unwrap();
    let mut deliveries = Vec::new();
    for index in 0..count {
        let key = format!("k{index}");
        let record = FutureRecord::to(topic)
            .partition(0)
            .key(&key)
            .payload("v")
            .timestamp(BASE + 10 * index);
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
    }
}

async fn list_offset(
    client: &mut RawClient,
    version: i16,
    topic: &str,
    partition: i32,
    timestamp: i64,
    epoch: i32,
) -> (i16, i64, i64) {
    let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![
                ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(timestamp)
                    .with_current_leader_epoch(epoch),
            ]),
    ]);
    let response: ListOffsetsResponse =
        client.request(ApiKey::ListOffsets, version, &request).await;
    let answer = &response.topics[0].partitions[0];
    (answer.error_code, answer.offset, answer.timestamp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earliest_latest_and_by_time() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "times", 2, &[("segment.bytes", "2000")]).await;
    produce_timed(&bootstrap, "times", 200).await;

    let consumer: BaseConsumer = common::consumer_config(&bootstrap, &[]).create().unwrap();
    assert_eq!(consumer.fetch_watermarks("times", 0, Duration::from_secs(10)).unwrap(), (0, 200));
    assert_eq!(consumer.fetch_watermarks("times", 1, Duration::from_secs(10)).unwrap(), (0, 0));

    for timestamp in [BASE, BASE + 5, BASE + 1_234, BASE + 1_990, BASE + 1_991] {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition_offset("times", 0, Offset::Offset(timestamp)).unwrap();
        let found = consumer.offsets_for_times(wanted.clone(), Duration::from_secs(10)).unwrap();
        let offset = found.find_partition("times", 0).unwrap().offset();
        let expected = match timestamp - BASE {
            0 => Offset::Offset(0),
            5 => Offset::Offset(1),
            1_234 => Offset::Offset(124),
            1_990 => Offset::Offset(199),
            _ => Offset::End,
        };
        assert_eq!(offset, expected, "timestamp BASE+{}", timestamp - BASE);
    }

    let mut client = RawClient::connect(broker.address()).await;
    assert_eq!(list_offset(&mut client, 1, "times", 0, -2, -1).await, (0, 0, -1));
    assert_eq!(list_offset(&mut client, 1, "times", 0, -1, -1).await, (0, 200, -1));
    assert_eq!(list_offset(&mut client, 7, "times", 0, -3, -1).await, (0, 199, BASE + 1_990));
    assert_eq!(list_offset(&mut client, 7, "times", 0, BASE + 15, 0).await, (0, 2, BASE + 20));
    assert_eq!(
        list_offset(&mut client, 7, "times", 1, -3, -1).await,
        (0, -1, -1),
        "empty partition"
    );
    assert_eq!(list_offset(&mut client, 7, "times", 1, BASE, -1).await, (0, -1, -1));
    assert_eq!(list_offset(&mut client, 7, "times", 5, -1, -1).await.0, 3, "unknown partition");
    assert_eq!(list_offset(&mut client, 7, "nope", 0, -1, -1).await.0, 3, "unknown topic");
    assert_eq!(list_offset(&mut client, 7, "times", 0, -1, 7).await.0, 75, "newer leader epoch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_timestamp_finds_the_record_not_the_batch() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "max", 1, &[]).await;
    // One lz4 batch whose middle record carries the largest timestamp, then a later batch.
    let mut client = RawClient::connect(broker.address()).await;
    let batch = common::timed_batch(
        &[
            (Some(b"a"), Some(b"1"), BASE + 5),
            (Some(b"b"), Some(b"2"), BASE + 50),
            (Some(b"c"), Some(b"3"), BASE + 20),
        ],
        kafka_protocol::records::Compression::Lz4,
    );
    produce_raw(&mut client, "max", batch).await;
    let later = common::timed_batch(
        &[(Some(b"d"), Some(b"4"), BASE + 30)],
        kafka_protocol::records::Compression::Gzip,
    );
    produce_raw(&mut client, "max", later).await;
    assert_eq!(list_offset(&mut client, 7, "max", 0, -3, -1).await, (0, 1, BASE + 50));
    // The first record (in offset order) at or after the target, even inside a batch.
    assert_eq!(list_offset(&mut client, 7, "max", 0, BASE + 21, -1).await, (0, 1, BASE + 50));
    assert_eq!(list_offset(&mut client, 7, "max", 0, BASE + 51, -1).await, (0, -1, -1));
}

async fn produce_raw(client: &mut RawClient, topic: &str, batch: bytes::Bytes) {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
    let request =
        ProduceRequest::default().with_acks(1).with_timeout_ms(5000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_index(0).with_records(Some(batch)),
                ]),
        ]);
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_topics_are_stamped_by_the_broker() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "appended", 1, &[("message.timestamp.type", "LogAppendTime")]).await;
    let before = riffle::clock::Clock::system().now_ms();
    let producer: FutureProducer = producer_config(&bootstrap, &[]).create().unwrap();
    producer
        .send(
            FutureRecord::to("appended").key("k").payload("v").timestamp(42),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    let messages = tokio::task::spawn_blocking(move || consume_all(&bootstrap, "appended", 1, 1))
        .await
        .unwrap();
    match messages[0].timestamp() {
        Timestamp::LogAppendTime(millis) => {
            assert!(millis >= before, "broker time, not the producer's 42")
        }
        other => panic!("expected a LogAppendTime timestamp, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_partitions_are_invalid_request() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "dupes", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let partition =
        |index| ListOffsetsPartition::default().with_partition_index(index).with_timestamp(-1);
    let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
        ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("dupes")))
            .with_partitions(vec![partition(0), partition(1), partition(0)]),
    ]);
    let response: ListOffsetsResponse = client.request(ApiKey::ListOffsets, 7, &request).await;
    let codes: Vec<i16> =
        response.topics[0].partitions.iter().map(|partition| partition.error_code).collect();
    assert_eq!(codes, [42, 0, 42]);
}
