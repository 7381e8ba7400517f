//! The server's connection behaviour: pipelined requests answered in order, acks=0 silence,
//! the connection cap, graceful shutdown finishing in-flight requests, and acknowledgements
//! waiting for fsync when `flush.messages` demands it, and a client that stops reading a
//! response sent from a segment file.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{RawClient, TestBroker, create_topic, producer_config};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, MetadataRequest,
    MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::io::AsyncReadExt;

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_owned()))
}

fn produce_request(topic: &str, acks: i16, batch: Bytes) -> ProduceRequest {
    ProduceRequest::default().with_acks(acks).with_timeout_ms(5000).with_topic_data(vec![
        TopicProduceData::default().with_name(name(topic)).with_partition_data(vec![
            PartitionProduceData::default().with_index(0).with_records(Some(batch)),
        ]),
    ])
}

fn versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("tests"))
        .with_client_software_version(StrBytes::from_static_str("1"))
}

fn batch() -> Bytes {
    common::record_batch(&[(Some(b"k"), Some(b"v"))], 1, Compression::None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_acks_0_gets_no_answer() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "pipe", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    // Everything is sent before anything is read.
    let mut expected = Vec::new();
    for round in 0..20 {
        expected.push((
            client.send(ApiKey::Produce, 9, &produce_request("pipe", 1, batch())).await,
            ApiKey::Produce,
        ));
        let _silent = client.send(ApiKey::Produce, 9, &produce_request("pipe", 0, batch())).await;
        expected.push((
            client.send(ApiKey::Metadata, 9, &MetadataRequest::default().with_topics(None)).await,
            ApiKey::Metadata,
        ));
        if round % 5 == 0 {
            expected.push((
                client.send(ApiKey::ApiVersions, 3, &versions_request()).await,
                ApiKey::ApiVersions,
            ));
        }
    }
    let mut produced = 0;
    for (correlation_id, api_key) in expected {
        match api_key {
            ApiKey::Produce => {
                let response: ProduceResponse = client.response(correlation_id, 9).await;
                let answer = &response.responses[0].partition_responses[0];
                assert_eq!(answer.error_code, 0);
                // Each acks=1 produce follows one acks=0 produce of the previous round.
                assert_eq!(answer.base_offset, produced);
                produced += 2;
            }
            ApiKey::Metadata => {
                let _: MetadataResponse = client.response(correlation_id, 9).await;
            }
            _ => {
                let response: ApiVersionsResponse = client.response(correlation_id, 3).await;
                assert_eq!(response.error_code, 0);
            }
        }
    }
    let offsets = broker.broker().partition("pipe", 0).unwrap().offsets();
    assert_eq!(offsets.log_end_offset, 40, "the 20 silent acks=0 records were stored too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let broker = TestBroker::start_with(&[("max.connections", "2")]).await;
    let mut first = RawClient::connect(broker.address()).await;
    let mut second = RawClient::connect(broker.address()).await;
    let _: ApiVersionsResponse = first.request(ApiKey::ApiVersions, 3, &versions_request()).await;
    let _: ApiVersionsResponse = second.request(ApiKey::ApiVersions, 3, &versions_request()).await;
    let mut third = RawClient::connect(broker.address()).await;
    let correlation_id = third.send(ApiKey::ApiVersions, 3, &versions_request()).await;
    let waiting = tokio::time::timeout(Duration::from_millis(500), third.read_frame()).await;
    assert!(waiting.is_err(), "the third connection is not served while two are open");
    drop(first);
    let response: ApiVersionsResponse =
        tokio::time::timeout(Duration::from_secs(10), third.response(correlation_id, 3))
            .await
            .expect("served once a slot frees");
    assert_eq!(response.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_an_in_flight_long_poll_and_flushes() {
    let mut broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "drain", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let _: ProduceResponse =
        client.request(ApiKey::Produce, 9, &produce_request("drain", 1, batch())).await;
    let fetch = FetchRequest::default()
        .with_max_wait_ms(60_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default().with_topic(name("drain")).with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(1)
                        .with_partition_max_bytes(1 << 20),
                ])]);
    let correlation_id = client.send(ApiKey::Fetch, 11, &fetch).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(async move {
        broker.stop().await;
        broker
    });
    // The waiting fetch is answered (not dropped) well before its minute is up.
    let response: FetchResponse =
        tokio::time::timeout(Duration::from_secs(20), client.response(correlation_id, 11))
            .await
            .expect("answered during shutdown");
    assert_eq!(response.responses[0].partitions[0].error_code, 0);
    let broker = tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .expect("shutdown completes")
        .unwrap();
    assert!(broker.data_dir().join(".kafka_cleanshutdown").exists());
    assert!(client.is_closed().await, "connections are closed after the drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_flush_messages_1_every_acknowledged_record_is_fsynced() {
    let broker = TestBroker::start_with(&[("log.flush.interval.messages", "1")]).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "synced", 1, &[]).await;
    let producer: FutureProducer =
        producer_config(&bootstrap, &[("acks", "all"), ("linger.ms", "0")]).create().unwrap();
    let log = broker.broker().partition("synced", 0).unwrap();
    let mut pending = Vec::new();
    for index in 0..200 {
        let key = format!("k{index}");
        pending.push(
            producer
                .send_result(FutureRecord::to("synced").key(&key).payload("v"))
                .map_err(|(error, _)| error)
                .unwrap(),
        );
    }
    for delivery in pending {
        let delivery = delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
        // The recovery point only moves after an fsync; an acknowledged offset is below it.
        assert!(
            log.recovery_point() > delivery.offset,
            "offset {} acknowledged before its fsync",
            delivery.offset
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_idle_connections_cannot_starve_others() {
    let broker = TestBroker::start_with(&[
        ("connections.max.idle.ms", "500"),
        ("socket.request.max.bytes", "1048576"),
        ("queued.max.request.bytes", "2097152"),
    ])
    .await;
    // Two clients announce maximum-size frames, send a few bytes and stall: between them
    // they hold the whole request budget.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut client = RawClient::connect(broker.address()).await;
        client.send_raw(&[0, 0x10, 0, 0, 0, 3, 0, 0]).await.unwrap();
        stalled.push(client);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut normal = RawClient::connect(broker.address()).await;
    let response: ApiVersionsResponse = tokio::time::timeout(
        Duration::from_secs(10),
        normal.request(ApiKey::ApiVersions, 3, &versions_request()),
    )
    .await
    .expect("served once the stalled transfers time out");
    assert_eq!(response.error_code, 0);
    for mut client in stalled {
        assert!(client.is_closed().await, "a stalled body closes its connection");
    }
    // A connection with no request for connections.max.idle.ms is closed.
    let mut idle = RawClient::connect(broker.address()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(idle.is_closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_trickling_a_frame_is_closed_at_its_transfer_deadline() {
    let broker = TestBroker::start_with(&[("connections.max.idle.ms", "500")]).await;
    let mut trickler = RawClient::connect(broker.address()).await;
    // A 1 MiB frame may take the stall timeout plus one second at the minimum rate.
    trickler.send_raw(&(1i32 << 20).to_be_bytes()).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(10) {
        // One byte every 200 ms: never stalled for 500 ms, far below 1 MiB/s.
        if trickler.send_raw(&[0]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(closed || trickler.is_closed().await, "a trickling body is cut off");
    // Meanwhile small requests were served from their own budget.
    let mut normal = RawClient::connect(broker.address()).await;
    let response: ApiVersionsResponse =
        normal.request(ApiKey::ApiVersions, 3, &versions_request()).await;
    assert_eq!(response.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_fetch_response_is_cut_off_and_others_carry_on() {
    let broker = TestBroker::start_with(&[("connections.max.idle.ms", "500")]).await;
    common::create_topic(&broker.bootstrap(), "unread", 1, &[]).await;
    let mut producer = RawClient::connect(broker.address()).await;
    // About 22 MB, far more than the sockets buffer between broker and client.
    let value = vec![b'v'; 1_000];
    let entries: Vec<common::KeyValue<'_>> = (0..900).map(|_| (None, Some(&value[..]))).collect();
    let big = common::record_batch(&entries, 1_700_000_000_000, Compression::None);
    for _ in 0..24 {
        let request = produce_request("unread", -1, big.clone());
        let response: ProduceResponse = producer.request(ApiKey::Produce, 9, &request).await;
        assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    }
    let fetch = |max_bytes: i32| {
        FetchRequest::default().with_max_bytes(max_bytes).with_session_epoch(-1).with_topics(vec![
            FetchTopic::default().with_topic(name("unread")).with_partitions(vec![
                FetchPartition::default().with_partition_max_bytes(max_bytes),
            ]),
        ])
    };
    let mut reader = RawClient::connect(broker.address()).await;
    reader.send(ApiKey::Fetch, 12, &fetch(50 << 20)).await;
    // Not reading for well past the stall timeout: the broker gives up on the response.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0usize;
    let mut chunk = vec![0u8; 1 << 20];
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match reader.stream_mut().read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received += read,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection was closed");
    assert!(received < big.len() * 24, "the response was cut off ({received} bytes)");
    // The cut-off response's memory reservation was returned, and the broker still serves
    // fetches from the file.
    let budget = broker.broker().fetch_response_budget();
    let whole = broker.broker().fetch_response_budget_bytes();
    assert!(common::eventually(5, || budget.available_permits() == whole).await);
    let mut other = RawClient::connect(broker.address()).await;
    let response: FetchResponse = other.request(ApiKey::Fetch, 12, &fetch(50 << 20)).await;
    let records = response.responses[0].partitions[0].records.as_ref().unwrap();
    assert_eq!(records.len(), big.len() * 24);
}
