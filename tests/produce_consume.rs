//! Produce with rdkafka (vendored librdkafka 2.12) and consume everything back: every codec,
//! every acks level, keys, values, headers and timestamps intact and in order per partition.

mod common;

use std::collections::HashMap;

use common::{TestBroker, consume_all, create_topic, producer_config};
use rdkafka::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

const PARTITIONS: i32 = 8;
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

fn key(index: usize) -> String {
    format!("key-{index:07}")
}

fn value(index: usize, codec: &str) -> String {
    format!("value-{index}-{codec}-{}", "payload".repeat(index % 20))
}

/// Produces `count` records to `topic` (record i to partition i % PARTITIONS) and returns
/// the acknowledged (partition, offset) of each.
async fn produce(
    bootstrap: &str,
    topic: &str,
    count: usize,
    settings: &[(&str, &str)],
    codec: &str,
) -> Vec<(i32, i64)> {
    let mut all =
        vec![("queue.buffering.max.messages", "1000000"), ("batch.num.messages", "10000")];
    all.extend_from_slice(settings);
    let producer: FutureProducer = producer_config(bootstrap, &all).create().expect("producer");
    let mut deliveries = Vec::with_capacity(count);
    for index in 0..count {
        let (key, value) = (key(index), value(index, codec));
        let index_text = index.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: "index", value: Some(index_text.as_str()) })
            .insert(Header { key: "codec", value: Some(codec) });
        let record = FutureRecord::to(topic)
            .partition(i32::try_from(index).unwrap() % PARTITIONS)
            .key(&key)
            .payload(&value)
            .headers(headers)
            .timestamp(BASE_TIMESTAMP + i64::try_from(index).unwrap());
        deliveries
            .push(producer.send_result(record).map_err(|(error, _)| error).expect("enqueued"));
    }
    let mut acknowledged = Vec::with_capacity(count);
    for delivery in deliveries {
        let delivery = delivery
            .await
            .expect("delivery report")
            .map_err(|(error, _)| error)
            .expect("delivered");
        acknowledged.push((delivery.partition, delivery.offset));
    }
    acknowledged
}

/// Checks every consumed record against what was produced.
fn verify(
    messages: &[rdkafka::message::OwnedMessage],
    count: usize,
    codec: &str,
    check_headers: bool,
) {
    assert_eq!(messages.len(), count);
    let mut last_index: HashMap<i32, usize> = HashMap::new();
    let mut next_offset: HashMap<i32, i64> = HashMap::new();
    for message in messages {
        let key = std::str::from_utf8(message.key().unwrap()).unwrap();
        let index: usize = key.trim_start_matches("key-").parse().unwrap();
        assert_eq!(
            message.partition(),
            i32::try_from(index).unwrap() % PARTITIONS,
            "partition of {key}"
        );
        assert_eq!(message.payload_view::<str>().unwrap().unwrap(), value(index, codec));
        let expected_offset = next_offset.entry(message.partition()).or_insert(0);
        assert_eq!(message.offset(), *expected_offset, "offsets are dense and in order");
        *expected_offset += 1;
        if let Some(previous) = last_index.insert(message.partition(), index) {
            assert!(index > previous, "order within partition {}", message.partition());
        }
        assert_eq!(
            message.timestamp().to_millis(),
            Some(BASE_TIMESTAMP + i64::try_from(index).unwrap())
        );
        if check_headers {
            let headers = message.headers().expect("headers");
            assert_eq!(headers.count(), 2);
            assert_eq!(headers.get(0).key, "index");
            assert_eq!(headers.get(0).value, Some(index.to_string().as_bytes()));
            assert_eq!(headers.get(1).value, Some(codec.as_bytes()));
        }
    }
    assert_eq!(next_offset.values().sum::<i64>(), i64::try_from(count).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_100k_records_across_8_partitions() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    const COUNT: usize = 100_000;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        create_topic(&bootstrap, &topic, PARTITIONS, &[]).await;
        let acknowledged = produce(
            &bootstrap,
            &topic,
            COUNT,
            &[("compression.type", codec), ("acks", "all")],
            codec,
        )
        .await;
        assert_eq!(acknowledged.len(), COUNT);
        let (bootstrap_copy, topic_copy, codec_copy) =
            (bootstrap.clone(), topic.clone(), codec.to_owned());
        let messages = tokio::task::spawn_blocking(move || {
            consume_all(&bootstrap_copy, &topic_copy, PARTITIONS, COUNT)
        })
        .await
        .unwrap();
        verify(&messages, COUNT, &codec_copy, true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acks_level_stores_every_record() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    const COUNT: usize = 5_000;
    for acks in ["0", "1", "all"] {
        let topic = format!("acks-{acks}");
        create_topic(&bootstrap, &topic, PARTITIONS, &[]).await;
        let acknowledged = produce(&bootstrap, &topic, COUNT, &[("acks", acks)], "none").await;
        if acks != "0" {
            assert!(
                acknowledged.iter().all(|(_, offset)| *offset >= 0),
                "acks={acks} reports offsets"
            );
        }
        let (bootstrap_copy, topic_copy) = (bootstrap.clone(), topic.clone());
        let messages = tokio::task::spawn_blocking(move || {
            consume_all(&bootstrap_copy, &topic_copy, PARTITIONS, COUNT)
        })
        .await
        .unwrap();
        verify(&messages, COUNT, "none", true);
    }
}

/// The codec bits of every batch stored in a partition's first segment.
fn stored_codecs(data_dir: &std::path::Path, topic: &str, partition: i32) -> Vec<i16> {
    let log = std::fs::read(data_dir.join(format!("{topic}-{partition}/00000000000000000000.log")))
        .expect("segment file");
    let mut codecs = Vec::new();
    let mut position = 0;
    while position + 61 <= log.len() {
        let length = i32::from_be_bytes(log[position + 8..position + 12].try_into().unwrap());
        let attributes = i16::from_be_bytes(log[position + 21..position + 23].try_into().unwrap());
        codecs.push(attributes & 0x07);
        position += 12 + usize::try_from(length).unwrap();
    }
    assert_eq!(position, log.len(), "whole batches");
    codecs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_codec_recompresses_every_batch() {
    const COUNT: usize = 4_000;
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    for (topic_codec, producer_codec, stored) in [
        ("zstd", "gzip", 4),
        ("uncompressed", "lz4", 0),
        ("gzip", "none", 1),
        ("snappy", "zstd", 2),
        ("lz4", "snappy", 3),
        ("producer", "gzip", 1),
    ] {
        let topic = format!("recompressed-{topic_codec}");
        create_topic(&bootstrap, &topic, PARTITIONS, &[("compression.type", topic_codec)]).await;
        produce(&bootstrap, &topic, COUNT, &[("compression.type", producer_codec)], producer_codec)
            .await;
        let (bootstrap_copy, topic_copy) = (bootstrap.clone(), topic.clone());
        let messages = tokio::task::spawn_blocking(move || {
            consume_all(&bootstrap_copy, &topic_copy, PARTITIONS, COUNT)
        })
        .await
        .unwrap();
        verify(&messages, COUNT, producer_codec, true);
        for partition in 0..PARTITIONS {
            let codecs = stored_codecs(broker.data_dir(), &topic, partition);
            assert!(!codecs.is_empty());
            assert!(
                codecs.iter().all(|codec| *codec == stored),
                "{topic}-{partition} from {producer_codec}: {codecs:?}"
            );
        }
    }
}
