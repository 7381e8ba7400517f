//! Fetch at the wire level: long polls woken by new data, byte limits in whole batches and
//! KIP-74, errors, sessions, isolation levels, records sent from the segment file, and a
//! client that stops reading a response sent from the file. Also the produce-side timestamp
//! window (`message.timestamp.before/after.max.ms`), checked by what a fetch then finds.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{RawClient, TestBroker, create_topic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_owned()))
}

fn fetch_request(
    topic: &str,
    partitions: &[(i32, i64)],
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(50 * 1024 * 1024)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default().with_topic(name(topic)).with_partitions(
                partitions
                    .iter()
                    .map(|(partition, offset)| {
                        FetchPartition::default()
                            .with_partition(*partition)
                            .with_fetch_offset(*offset)
                            .with_partition_max_bytes(1024 * 1024)
                    })
                    .collect(),
            ),
        ])
}

async fn produce(client: &mut RawClient, topic: &str, partition: i32, batch: Bytes) -> i64 {
    let request =
        ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
            TopicProduceData::default().with_name(name(topic)).with_partition_data(vec![
                PartitionProduceData::default().with_index(partition).with_records(Some(batch)),
            ]),
        ]);
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    let answer = &response.responses[0].partition_responses[0];
    assert_eq!(answer.error_code, 0, "{:?}", answer.error_message);
    answer.base_offset
}

fn batch(records: usize, value_size: usize) -> Bytes {
    let value = vec![b'v'; value_size];
    let entries: Vec<common::KeyValue<'_>> =
        (0..records).map(|_| (Some(&b"key"[..]), Some(&value[..]))).collect();
    common::record_batch(&entries, 1_700_000_000_000, Compression::None)
}

fn record_count(records: &Bytes) -> usize {
    if records.is_empty() {
        return 0;
    }
    RecordBatchDecoder::decode_all(&mut records.clone())
        .unwrap()
        .iter()
        .map(|set| set.records.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_as_soon_as_data_arrives() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "poll", 1, &[]).await;
    let address = broker.address();
    let mut consumer = RawClient::connect(address).await;
    let correlation_id =
        consumer.send(ApiKey::Fetch, 11, &fetch_request("poll", &[(0, 0)], 60_000, 1)).await;
    let producer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut client = RawClient::connect(address).await;
        produce(&mut client, "poll", 0, batch(3, 10)).await
    });
    // max_wait_ms is a minute; an answer well within it means the append woke the fetch.
    let response: FetchResponse =
        tokio::time::timeout(Duration::from_secs(20), consumer.response(correlation_id, 11))
            .await
            .expect("woken by the append");
    assert_eq!(producer.await.unwrap(), 0);
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.high_watermark, 3);
    assert_eq!(record_count(partition.records.as_ref().unwrap()), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_without_data_ends_at_max_wait_with_empty_records() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "quiet", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    produce(&mut client, "quiet", 1, batch(1, 10)).await;
    for version in [4, 11, 12] {
        let response: FetchResponse = client
            .request(ApiKey::Fetch, version, &fetch_request("quiet", &[(0, 0)], 200, 1))
            .await;
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0);
        assert_eq!(
            partition.records.as_ref().map(Bytes::len),
            Some(0),
            "empty, never null (v{version})"
        );
        assert_eq!(partition.high_watermark, 0);
    }
    // min_bytes not reached by what exists: still answered at max_wait with what there is.
    let response: FetchResponse =
        client.request(ApiKey::Fetch, 11, &fetch_request("quiet", &[(1, 0)], 200, 1 << 20)).await;
    assert_eq!(record_count(response.responses[0].partitions[0].records.as_ref().unwrap()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_limits_return_whole_batches_and_at_least_one() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "limits", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let one = batch(10, 100);
    for _ in 0..10 {
        produce(&mut client, "limits", 0, one.clone()).await;
    }
    produce(&mut client, "limits", 1, batch(1, 5_000)).await;
    let batch_size = one.len();

    let mut request = fetch_request("limits", &[(0, 0)], 0, 1);
    request.topics[0].partitions[0].partition_max_bytes =
        i32::try_from(batch_size * 3 + 10).unwrap();
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &request).await;
    let records = response.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(records.len(), batch_size * 3, "whole batches within partition_max_bytes");

    request.topics[0].partitions[0].partition_max_bytes = 10;
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &request).await;
    assert_eq!(
        response.responses[0].partitions[0].records.as_ref().unwrap().len(),
        batch_size,
        "KIP-74"
    );

    // Response max_bytes: the first partition fills it; the second gets nothing.
    let mut request = fetch_request("limits", &[(0, 15), (1, 0)], 0, 1);
    request.max_bytes = i32::try_from(batch_size * 2).unwrap();
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &request).await;
    let partitions = &response.responses[0].partitions;
    assert_eq!(partitions[0].records.as_ref().unwrap().len(), batch_size * 2);
    let first =
        RecordBatchDecoder::decode_all(&mut partitions[0].records.clone().unwrap()).unwrap();
    assert_eq!(first[0].records[0].offset, 10, "starts at the batch holding offset 15");
    assert_eq!(partitions[1].records.as_ref().unwrap().len(), 0);
    assert_eq!(partitions[1].high_watermark, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_sessions_and_isolation() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "errors", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    produce(&mut client, "errors", 0, batch(5, 10)).await;

    let out_of_range: FetchResponse =
        client.request(ApiKey::Fetch, 11, &fetch_request("errors", &[(0, 6)], 0, 1)).await;
    let partition = &out_of_range.responses[0].partitions[0];
    assert_eq!((partition.error_code, partition.high_watermark), (1, -1));
    let unknown: FetchResponse =
        client.request(ApiKey::Fetch, 11, &fetch_request("nope", &[(0, 0)], 5_000, 1)).await;
    assert_eq!(
        unknown.responses[0].partitions[0].error_code, 3,
        "and answered at once, not after max_wait"
    );
    let mut fenced = fetch_request("errors", &[(0, 0)], 0, 1);
    fenced.topics[0].partitions[0].current_leader_epoch = 4;
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &fenced).await;
    assert_eq!(response.responses[0].partitions[0].error_code, 75);

    let mut incremental = fetch_request("errors", &[(0, 0)], 0, 1);
    incremental.session_id = 77;
    incremental.session_epoch = 3;
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &incremental).await;
    assert_eq!(response.error_code, 70);
    let mut new_session = fetch_request("errors", &[(0, 0)], 0, 1);
    new_session.session_epoch = 0;
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &new_session).await;
    assert_eq!(
        (response.error_code, response.session_id),
        (0, 0),
        "served without creating a session"
    );

    let mut committed = fetch_request("errors", &[(0, 0)], 0, 1);
    committed.isolation_level = 1;
    let response: FetchResponse = client.request(ApiKey::Fetch, 11, &committed).await;
    let partition = &response.responses[0].partitions[0];
    assert_eq!(partition.last_stable_offset, 5);
    assert_eq!(partition.aborted_transactions.as_ref().map(Vec::len), Some(0));
    assert_eq!(record_count(partition.records.as_ref().unwrap()), 5);
}

/// The stored form of a produced batch: the same bytes but for baseOffset (0..8) and
/// partitionLeaderEpoch (12..16), which the broker assigns.
fn assert_stored_as_produced(fetched: &[u8], produced: &[u8], count: usize, context: &str) {
    assert_eq!(fetched.len(), produced.len() * count, "{context}: whole batches");
    for (index, stored) in fetched.chunks(produced.len()).enumerate() {
        assert_eq!(stored[8..12], produced[8..12], "{context}: batch {index} length");
        assert_eq!(stored[16..], produced[16..], "{context}: batch {index} contents");
        let base_offset = i64::from_be_bytes(stored[..8].try_into().unwrap());
        assert_eq!(base_offset, i64::try_from(index).unwrap() * 10, "{context}: batch {index}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_sent_from_the_segment_file_are_the_stored_batches_at_every_version() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "file", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    // 40 batches of about 2.2 KB: a fetch of many of them is sent from the file, while the
    // one small batch in partition 1 is copied; both go into the same responses.
    let big = batch(10, 200);
    for _ in 0..40 {
        produce(&mut client, "file", 0, big.clone()).await;
    }
    let small = batch(1, 10);
    produce(&mut client, "file", 1, small.clone()).await;
    let cut = 50_000;
    let whole = cut / big.len();
    for version in [4, 11, 12] {
        let mut request = fetch_request("file", &[(0, 0), (1, 0)], 0, 1);
        request.topics[0].partitions[0].partition_max_bytes = i32::try_from(cut).unwrap();
        // Pipelined with an ApiVersions request: the responses must stay whole and in order.
        let first = client.send(ApiKey::Fetch, version, &request).await;
        let versions = client
            .send(ApiKey::ApiVersions, 2, &kafka_protocol::messages::ApiVersionsRequest::default())
            .await;
        let again =
            client.send(ApiKey::Fetch, version, &fetch_request("file", &[(0, 380)], 0, 1)).await;
        let response: FetchResponse = client.response(first, version).await;
        let partitions = &response.responses[0].partitions;
        let context = format!("v{version}, cut");
        assert_stored_as_produced(partitions[0].records.as_ref().unwrap(), &big, whole, &context);
        assert_eq!(partitions[0].high_watermark, 400);
        let context = format!("v{version}, small");
        assert_eq!(partitions[1].records.as_ref().unwrap()[16..], small[16..], "{context}");
        let response: kafka_protocol::messages::ApiVersionsResponse =
            client.response(versions, 2).await;
        assert_eq!(response.error_code, 0);
        let response: FetchResponse = client.response(again, version).await;
        let records = response.responses[0].partitions[0].records.clone().unwrap();
        assert_eq!(records.len(), big.len() * 2, "v{version}: from the batch holding 380");
        assert_eq!(record_count(&records), 20);
    }
    // The whole partition, past the copy threshold many times over.
    let response: FetchResponse =
        client.request(ApiKey::Fetch, 12, &fetch_request("file", &[(0, 0)], 0, 1)).await;
    let records = response.responses[0].partitions[0].records.as_ref().unwrap();
    assert_stored_as_produced(records, &big, 40, "all");
}

/// Produces one batch (acks=-1) and returns the partition's error code and message.
async fn produce_code(client: &mut RawClient, topic: &str, batch: Bytes) -> (i16, Option<String>) {
    let request =
        ProduceRequest::default().with_acks(-1).with_timeout_ms(5000).with_topic_data(vec![
            TopicProduceData::default().with_name(name(topic)).with_partition_data(vec![
                PartitionProduceData::default().with_index(0).with_records(Some(batch)),
            ]),
        ]);
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    let answer = &response.responses[0].partition_responses[0];
    (answer.error_code, answer.error_message.as_ref().map(ToString::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_time_out_of_the_allowed_range_is_invalid_timestamp() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "window", 1, &[("message.timestamp.before.max.ms", "60000")]).await;
    create_topic(&bootstrap, "appended", 1, &[("message.timestamp.type", "LogAppendTime")]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap();
    let at = |timestamp: i64| {
        common::timed_batch(&[(None, Some(&b"v"[..]), timestamp)], Compression::None)
    };
    let hour = 3_600_000;
    // Too old for the topic's 60 s, and two hours ahead of Kafka 4's default of one hour.
    let (code, message) = produce_code(&mut client, "window", at(now - 2 * hour)).await;
    assert_eq!(code, 32, "{message:?}");
    assert!(message.unwrap().contains("out of range"));
    assert_eq!(produce_code(&mut client, "window", at(now + 2 * hour)).await.0, 32);
    // Within range; and a LogAppendTime topic takes any timestamp (the broker stamps its own).
    assert_eq!(produce_code(&mut client, "window", at(now - 1_000)).await.0, 0);
    assert_eq!(produce_code(&mut client, "window", at(now + hour / 2)).await.0, 0);
    assert_eq!(produce_code(&mut client, "appended", at(now + 5 * hour)).await.0, 0);
    // The refused batches were not appended.
    let response: FetchResponse =
        client.request(ApiKey::Fetch, 11, &fetch_request("window", &[(0, 0)], 0, 1)).await;
    assert_eq!(response.responses[0].partitions[0].high_watermark, 2);
}
