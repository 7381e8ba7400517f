//! Bad input over raw sockets: each gets Kafka's error code or a closed connection, the broker
//! keeps serving everyone else, and memory stays bounded.

mod common;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::{RawClient, TestBroker, consume_all, create_topic, producer_config};
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, CreateTopicsResponse, FetchRequest,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_owned()))
}

/// `[size][header for api/version][body bytes]` with an arbitrary body.
fn frame_with_body(api_key: i16, version: i16, body: &[u8]) -> Bytes {
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    frame.put_i16(api_key);
    frame.put_i16(version);
    frame.put_i32(99);
    frame.put_i16(4);
    frame.put_slice(b"evil");
    if version >= 9 && api_key == ApiKey::Metadata as i16 {
        frame.put_u8(0); // header v2 tagged fields
    }
    frame.put_slice(body);
    let size = i32::try_from(frame.len() - 4).unwrap();
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame.freeze()
}

async fn assert_closed(broker: &TestBroker, bytes: &[u8], what: &str) {
    let mut client = RawClient::connect(broker.address()).await;
    let _ = client.send_raw(bytes).await;
    assert!(client.is_closed().await, "{what}: the connection is closed");
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn produce_one(
    client: &mut RawClient,
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
    acks: i16,
) -> Option<(i16, String)> {
    let request =
        ProduceRequest::default().with_acks(acks).with_timeout_ms(5000).with_topic_data(vec![
            TopicProduceData::default().with_name(name(topic)).with_partition_data(vec![
                PartitionProduceData::default().with_index(partition).with_records(records),
            ]),
        ]);
    if acks == 0 {
        client.send(ApiKey::Produce, 9, &request).await;
        return None;
    }
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    let answer = &response.responses[0].partition_responses[0];
    Some((answer.error_code, answer.error_message.as_deref().unwrap_or_default().to_owned()))
}

/// A normal client still produces and consumes.
async fn still_serves(broker: &TestBroker, topic: &str) {
    let bootstrap = broker.bootstrap();
    let producer: FutureProducer = producer_config(&bootstrap, &[]).create().unwrap();
    let delivery = producer
        .send(
            FutureRecord::to(topic).partition(0).key("after").payload("still fine"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    let topic = topic.to_owned();
    let messages = tokio::task::spawn_blocking(move || {
        consume_all(&bootstrap, &topic, 1, usize::try_from(delivery.offset + 1).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(rdkafka::Message::payload(messages.last().unwrap()), Some(&b"still fine"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_attacks_close_the_connection() {
    let broker = TestBroker::start_with(&[("socket.request.max.bytes", "1048576")]).await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    assert_closed(&broker, &[0x7f, 0xff, 0xff, 0xff], "size over socket.request.max.bytes").await;
    assert_closed(&broker, &(-5i32).to_be_bytes(), "negative size").await;
    assert_closed(&broker, &[0, 0, 0, 2, 0, 1], "frame shorter than a header").await;
    let mut garbage = vec![0u8, 0, 0, 64];
    garbage.extend((0..64u8).map(|byte| byte.wrapping_mul(37)));
    assert_closed(&broker, &garbage, "garbage frame").await;
    assert_closed(&broker, &frame_with_body(9_999, 0, &[]), "unknown api key").await;
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Metadata as i16, 50, &[]),
        "unsupported Metadata version",
    )
    .await;
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Produce as i16, 2, &[0; 16]),
        "Produce v2 (advertised, not served)",
    )
    .await;
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::JoinGroup as i16, 5, &[0; 16]),
        "an API not served",
    )
    .await;
    // A frame announced bigger than what is sent, then the client goes away.
    let mut client = RawClient::connect(broker.address()).await;
    client.send_raw(&[0, 0, 0x10, 0, 1, 2, 3]).await.unwrap();
    drop(client);
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_array_lengths_do_not_allocate() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let before = rss_kib();
    // The 8-byte Metadata v0 request that makes kafka-protocol 0.18 ask for ~150 GB.
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Metadata as i16, 0, &[0x7f, 0xff, 0xff, 0xff]),
        "Metadata v0",
    )
    .await;
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Metadata as i16, 9, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        "Metadata v9 compact",
    )
    .await;
    let mut produce = BytesMut::new();
    produce.put_i16(-1);
    produce.put_i16(1);
    produce.put_i32(1000);
    produce.put_i32(1);
    produce.put_i16(1);
    produce.put_u8(b't');
    produce.put_i32(i32::MAX);
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Produce as i16, 3, &produce),
        "nested Produce array",
    )
    .await;
    // Lengths that fit the frame but would make the decoder reserve gigabytes.
    let mut dense = BytesMut::new();
    dense.put_i32(50_000_000);
    dense.put_bytes(0xff, 100_000_000);
    assert_closed(
        &broker,
        &frame_with_body(ApiKey::Metadata as i16, 1, &dense),
        "dense Metadata array",
    )
    .await;
    drop(dense);
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 400, "memory stays bounded: grew {grown_mib} MiB");
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_get_kafkas_error_codes() {
    let broker = TestBroker::start_with(&[("message.max.bytes", "2000")]).await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let good = common::record_batch(&[(Some(b"k"), Some(b"v"))], 1, Compression::None);

    let mut corrupt = good.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(
        produce_one(&mut client, "victim", 0, Some(corrupt.into()), 1).await.unwrap().0,
        2,
        "CORRUPT_MESSAGE"
    );
    let big = common::record_batch(&[(Some(b"k"), Some(&[b'x'; 3000][..]))], 1, Compression::None);
    assert_eq!(
        produce_one(&mut client, "victim", 0, Some(big), 1).await.unwrap().0,
        10,
        "MESSAGE_TOO_LARGE"
    );
    let two = Bytes::from([good.to_vec(), good.to_vec()].concat());
    assert_eq!(
        produce_one(&mut client, "victim", 0, Some(two), 1).await.unwrap().0,
        87,
        "INVALID_RECORD"
    );
    assert_eq!(produce_one(&mut client, "victim", 0, None, 1).await.unwrap().0, 87, "null records");
    assert_eq!(
        produce_one(&mut client, "victim", 0, Some(Bytes::from_static(b"short")), 1)
            .await
            .unwrap()
            .0,
        87
    );
    assert_eq!(
        produce_one(&mut client, "victim", 9, Some(good.clone()), 1).await.unwrap().0,
        3,
        "unknown partition"
    );
    assert_eq!(
        produce_one(&mut client, "nowhere", 0, Some(good.clone()), 1).await.unwrap().0,
        3,
        "unknown topic"
    );
    assert_eq!(
        produce_one(&mut client, "victim", 0, Some(good.clone()), 7).await.unwrap().0,
        21,
        "INVALID_REQUIRED_ACKS"
    );
    let (code, message) =
        produce_one(&mut client, "victim", 0, Some(good.clone()), -1).await.unwrap();
    assert_eq!((code, message.as_str()), (0, ""), "the connection still works");

    // acks=0 with a bad batch: no response, and the connection is closed.
    let mut fire_and_forget = RawClient::connect(broker.address()).await;
    let mut corrupt = good.to_vec();
    corrupt[last.min(good.len() - 1)] ^= 0x01;
    produce_one(&mut fire_and_forget, "victim", 0, Some(corrupt.into()), 0).await;
    assert!(fire_and_forget.is_closed().await);
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_offsets_and_versions_get_kafkas_answers() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;

    let request = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(name("no spaces allowed"))
            .with_num_partitions(1)
            .with_replication_factor(1),
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(name(&"x".repeat(250)))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let response: CreateTopicsResponse = client.request(ApiKey::CreateTopics, 7, &request).await;
    assert!(response.topics.iter().all(|topic| topic.error_code == 17), "INVALID_TOPIC_EXCEPTION");
    let metadata: MetadataResponse = client
        .request(
            ApiKey::Metadata,
            9,
            &MetadataRequest::default().with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(name("bad/name"))),
            ])),
        )
        .await;
    assert_eq!(metadata.topics[0].error_code, 17);

    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            kafka_protocol::messages::fetch_request::FetchTopic::default()
                .with_topic(name("victim"))
                .with_partitions(vec![
                    kafka_protocol::messages::fetch_request::FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(1_000)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let response: kafka_protocol::messages::FetchResponse =
        client.request(ApiKey::Fetch, 11, &fetch).await;
    assert_eq!(response.responses[0].partitions[0].error_code, 1, "OFFSET_OUT_OF_RANGE");

    // KIP-511: an ApiVersions version from the future gets a v0 answer with our range.
    let correlation_id = client.send(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).await;
    let _: ApiVersionsResponse = client.response(correlation_id, 3).await;
    let mut future = BytesMut::new();
    future.put_i32(0);
    future.put_i16(ApiKey::ApiVersions as i16);
    future.put_i16(99);
    future.put_i32(5);
    future.put_i16(-1);
    future.put_u8(0);
    let size = i32::try_from(future.len() - 4).unwrap();
    future[..4].copy_from_slice(&size.to_be_bytes());
    client.send_raw(&future).await.unwrap();
    let mut frame = client.read_frame().await.unwrap();
    let header =
        <kafka_protocol::messages::ResponseHeader as kafka_protocol::protocol::Decodable>::decode(
            &mut frame, 0,
        )
        .unwrap();
    assert_eq!(header.correlation_id, 5);
    let answer =
        <ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut frame, 0)
            .unwrap();
    assert_eq!(answer.error_code, 35);
    assert_eq!(answer.api_keys.len(), 1);
    assert_eq!(
        (
            answer.api_keys[0].api_key,
            answer.api_keys[0].min_version,
            answer.api_keys[0].max_version
        ),
        (18, 0, 4)
    );
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_hostile_clients_at_once_do_not_disturb_a_normal_one() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let address = broker.address();
    let attackers: Vec<_> = (0..50u32)
        .map(|seed| {
            tokio::spawn(async move {
                let mut state = u64::from(seed) * 0x9e37_79b9 + 1;
                for _ in 0..20 {
                    let mut client = RawClient::connect(address).await;
                    let length = 8 + (state % 200) as usize;
                    let mut bytes = vec![0u8; length];
                    for byte in bytes.iter_mut() {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        *byte = (state & 0xff) as u8;
                    }
                    let size = i32::try_from(length - 4).unwrap();
                    bytes[..4].copy_from_slice(&size.to_be_bytes());
                    bytes[4..6].copy_from_slice(&[0, (state % 4) as u8]);
                    let _ = client.send_raw(&bytes).await;
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), client.read_frame()).await;
                }
            })
        })
        .collect();
    still_serves(&broker, "victim").await;
    for attacker in attackers {
        attacker.await.unwrap();
    }
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_log_cannot_be_taken_over_by_a_topic() {
    let mut broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let request = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(name("__cluster_metadata"))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let response: CreateTopicsResponse = client.request(ApiKey::CreateTopics, 7, &request).await;
    assert_eq!(response.topics[0].error_code, 42);
    let lookup =
        MetadataRequest::default().with_allow_auto_topic_creation(true).with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(name("__cluster_metadata"))),
        ]));
    let metadata: MetadataResponse = client.request(ApiKey::Metadata, 9, &lookup).await;
    assert_eq!(metadata.topics[0].error_code, 3, "not auto-created either");
    let batch = common::record_batch(&[(Some(b"k"), Some(b"v"))], 1, Compression::None);
    assert_eq!(
        produce_one(&mut client, "__cluster_metadata", 0, Some(batch), 1).await.unwrap().0,
        3
    );
    broker.restart().await;
    still_serves(&broker, "victim").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_lying_about_its_record_count_is_invalid_record() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "victim", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let honest = common::record_batch(
        &[(Some(b"a"), Some(b"1")), (Some(b"b"), Some(b"2"))],
        1,
        Compression::None,
    );
    // Claim 2^31-1 records (lastOffsetDelta to match) with a valid CRC: the offsets would jump.
    let mut lying = honest.to_vec();
    lying[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
    lying[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let crc = crc32c::crc32c(&lying[21..]);
    lying[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(produce_one(&mut client, "victim", 0, Some(lying.into()), 1).await.unwrap().0, 87);
    assert_eq!(broker.broker().partition("victim", 0).unwrap().offsets().log_end_offset, 0);
    assert_eq!(produce_one(&mut client, "victim", 0, Some(honest), 1).await.unwrap().0, 0);
}
