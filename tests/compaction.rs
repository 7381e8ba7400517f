//! Log compaction against a real broker and the rdkafka client: the cleaner keeps the latest
//! value of each key, tombstones go after `delete.retention.ms` (the broker's clock is
//! manual here, so time moves only when the test says), keyless records are refused on a
//! compacted topic, and `__consumer_offsets` is compacted by the same cleaner. Also
//! retention by time on the same controllable clock, with consumers below the new start.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{
    TestBroker, alter_topic_configs, consumer_config, create_topic, eventually, now_ms,
    producer_config,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use riffle::clock::Clock;

const KEYS: usize = 1_000;
const UPDATES: usize = 100_000;
const TOMBSTONES: usize = 100;
const DELETE_RETENTION_MS: i64 = 60_000;

/// Sends `records` (key, value; `None` is a tombstone) and waits for every acknowledgement.
async fn produce(producer: &FutureProducer, topic: &str, records: &[(String, Option<String>)]) {
    for chunk in records.chunks(5_000) {
        let sends = chunk.iter().map(|(key, value)| {
            let mut record = FutureRecord::to(topic).partition(0).key(key);
            if let Some(value) = value {
                record = record.payload(value);
            }
            producer.send(record, Duration::from_secs(30))
        });
        for sent in futures::future::join_all(sends).await {
            sent.map_err(|(error, _)| error).unwrap();
        }
    }
}

/// Every record of partition 0 from the beginning up to the log end `end`.
fn consume_to(bootstrap: &str, topic: &str, end: i64) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = consumer_config(bootstrap, &[]).create().unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut messages: Vec<OwnedMessage> = Vec::new();
    while messages.last().is_none_or(|last| last.offset() + 1 < end) {
        assert!(std::time::Instant::now() < deadline, "consumed {} records", messages.len());
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(error)) => panic!("consume error: {error}"),
            None => {}
        }
    }
    messages
}

fn key_of(message: &OwnedMessage) -> String {
    String::from_utf8(message.key().unwrap().to_vec()).unwrap()
}

/// Each key's value (`None`: a tombstone) in the records read, the marker left out.
fn values_by_key(messages: &[OwnedMessage]) -> BTreeMap<String, Option<String>> {
    messages
        .iter()
        .filter(|message| key_of(message) != "marker")
        .map(|message| {
            let value = message.payload().map(|value| String::from_utf8(value.to_vec()).unwrap());
            (key_of(message), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_latest_values_and_then_drops_tombstones() {
    let clock = Clock::manual(now_ms());
    let broker =
        TestBroker::start_with_clock(&[("log.cleaner.backoff.ms", "100")], clock.clone()).await;
    let bootstrap = broker.bootstrap();
    let retention = DELETE_RETENTION_MS.to_string();
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "262144"),
        ("delete.retention.ms", retention.as_str()),
    ];
    create_topic(&bootstrap, "table", 1, &configs).await;
    let producer: FutureProducer =
        producer_config(&bootstrap, &[("acks", "all"), ("linger.ms", "5")]).create().unwrap();
    let mut latest: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut records = Vec::with_capacity(UPDATES + TOMBSTONES);
    for update in 0..UPDATES {
        let key = format!("key-{}", update % KEYS);
        let value = format!("value-{update}");
        latest.insert(key.clone(), Some(value.clone()));
        records.push((key, Some(value)));
    }
    for key in 0..TOMBSTONES {
        let key = format!("key-{key}");
        latest.insert(key.clone(), None);
        records.push((key, None));
    }
    produce(&producer, "table", &records).await;
    // Seal everything written: the active segment is never cleaned. The marker lands in a
    // fresh segment of its own.
    let sealing = [
        ("segment.bytes", "14"),
        ("cleanup.policy", "compact"),
        ("delete.retention.ms", retention.as_str()),
    ];
    alter_topic_configs(&bootstrap, "table", &sealing).await;
    produce(&producer, "table", &[("marker".into(), Some("end".into()))]).await;
    let log = broker.broker().partition("table", 0).unwrap();
    let end = log.offsets().log_end_offset;
    assert_eq!(end, i64::try_from(UPDATES + TOMBSTONES + 1).unwrap());

    // The cleaner compacts everything before the marker.
    assert!(eventually(60, || log.cleaner_checkpoint() >= end - 1).await, "cleaned");
    // 100k records of about 20 bytes were written; about a thousand are left.
    assert!(log.size_bytes() < 64 * 1024, "{} bytes left", log.size_bytes());
    let messages = consume_to(&bootstrap, "table", end);
    assert!(messages.windows(2).all(|pair| pair[0].offset() < pair[1].offset()));
    assert_eq!(messages.len(), KEYS + 1, "each key once, and the marker");
    let seen = values_by_key(&messages);
    assert_eq!(seen, latest, "the latest value of every key, tombstones still there");

    // After delete.retention.ms the tombstones go too.
    clock.advance_ms(DELETE_RETENTION_MS + 1);
    assert!(eventually(60, || log.latest_delete_horizon_ms() == -1).await, "tombstones removed");
    let messages = consume_to(&bootstrap, "table", end);
    assert_eq!(messages.len(), KEYS - TOMBSTONES + 1);
    let live: BTreeMap<String, Option<String>> =
        latest.into_iter().filter(|(_, value)| value.is_some()).collect();
    let seen = values_by_key(&messages);
    assert_eq!(seen, live);
    assert!(messages.windows(2).all(|pair| pair[0].offset() < pair[1].offset()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_refuses_records_without_a_key() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "keyed", 1, &[("cleanup.policy", "compact")]).await;
    for compression in ["none", "lz4"] {
        let producer: FutureProducer = producer_config(
            &bootstrap,
            &[("compression.type", compression), ("message.send.max.retries", "0")],
        )
        .create()
        .unwrap();
        let keyless: FutureRecord<'_, (), str> = FutureRecord::to("keyed").payload("no key");
        let refused = producer.send(keyless, Duration::from_secs(10)).await;
        match refused {
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord), _)) => {}
            other => panic!("{compression}: {other:?}"),
        }
        let keyed = FutureRecord::to("keyed").key("k").payload("v");
        producer.send(keyed, Duration::from_secs(10)).await.map_err(|(error, _)| error).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offsets_topic_is_compacted_by_the_same_cleaner() {
    let broker = TestBroker::start_with(&[
        ("log.cleaner.backoff.ms", "100"),
        ("offsets.topic.num.partitions", "1"),
        ("offsets.topic.segment.bytes", "1048576"),
    ])
    .await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "input", 1, &[]).await;
    let consumer: BaseConsumer =
        consumer_config(&bootstrap, &[("group.id", "committer"), ("enable.auto.commit", "false")])
            .create()
            .unwrap();
    let commits = 3_000i64;
    for offset in 0..commits {
        let mut positions = TopicPartitionList::new();
        positions.add_partition_offset("input", 0, Offset::Offset(offset)).unwrap();
        consumer.commit(&positions, rdkafka::consumer::CommitMode::Sync).unwrap();
    }
    let offsets = broker.broker().partition("__consumer_offsets", 0).unwrap();
    let written = offsets.offsets().log_end_offset;
    assert!(written >= commits);
    // Seal the commits (the active segment is never cleaned): one more commit after the
    // segment limit shrinks rolls it.
    alter_topic_configs(
        &bootstrap,
        "__consumer_offsets",
        &[("segment.bytes", "14"), ("cleanup.policy", "compact")],
    )
    .await;
    let mut positions = TopicPartitionList::new();
    positions.add_partition_offset("input", 0, Offset::Offset(commits)).unwrap();
    consumer.commit(&positions, rdkafka::consumer::CommitMode::Sync).unwrap();
    assert!(eventually(60, || offsets.cleaner_checkpoint() >= written).await, "cleaned");
    assert!(offsets.size_bytes() < 10_000, "{} bytes left", offsets.size_bytes());
    // The group's offset survives compaction and a restart that reloads it from the log.
    drop(consumer);
    drop(offsets);
    let mut broker = broker;
    broker.restart().await;
    let consumer: BaseConsumer =
        consumer_config(&broker.bootstrap(), &[("group.id", "committer")]).create().unwrap();
    let mut wanted = TopicPartitionList::new();
    wanted.add_partition("input", 0);
    let committed = consumer.committed_offsets(wanted, Duration::from_secs(10)).unwrap();
    assert_eq!(committed.elements()[0].offset(), Offset::Offset(commits));
}

async fn produce_at(bootstrap: &str, topic: &str, count: usize, timestamp_ms: i64) {
    let producer: FutureProducer = producer_config(bootstrap, &[("acks", "all")]).create().unwrap();
    for index in 0..count {
        let key = format!("key-{index}");
        let record =
            FutureRecord::to(topic).partition(0).key(&key).payload("x").timestamp(timestamp_ms);
        producer.send(record, Duration::from_secs(10)).await.map_err(|(error, _)| error).unwrap();
    }
}

/// A consumer of partition 0 starting at `offset` with `auto.offset.reset`.
fn consumer_at(bootstrap: &str, topic: &str, offset: i64, reset: &str) -> BaseConsumer {
    let consumer: BaseConsumer =
        consumer_config(bootstrap, &[("auto.offset.reset", reset)]).create().unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Offset(offset)).unwrap();
    consumer.assign(&assignment).unwrap();
    consumer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_time_follows_the_broker_clock_and_consumers_below_the_start_reset() {
    let start_ms = now_ms();
    let clock = Clock::manual(start_ms);
    let broker = TestBroker::start_with_clock(
        &[("log.retention.check.interval.ms", "100"), ("log.segment.delete.delay.ms", "0")],
        clock.clone(),
    )
    .await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "aging", 1, &[("segment.bytes", "1024"), ("retention.ms", "60000")])
        .await;
    produce_at(&bootstrap, "aging", 30, start_ms).await;
    let log = broker.broker().partition("aging", 0).unwrap();
    // Real time passes, the broker's clock does not: nothing is old enough.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(log.offsets().log_start_offset, 0);
    produce_at(&bootstrap, "aging", 10, start_ms + 30_000).await;

    // 60 s later by the broker's clock only the first 30 records are past retention.ms.
    clock.advance_ms(60_001);
    assert!(eventually(10, || log.offsets().log_start_offset > 0).await);
    let start = log.offsets().log_start_offset;
    assert!(start <= 30, "records younger than retention.ms stay (start {start})");
    // And 30 s after that, everything.
    clock.advance_ms(30_000);
    assert!(eventually(10, || log.offsets().log_start_offset == 40).await);
    assert_eq!(log.offsets().log_end_offset, 40);

    // A consumer positioned below the start gets OFFSET_OUT_OF_RANGE: with
    // auto.offset.reset=earliest it resets to the start and reads on.
    produce_at(&bootstrap, "aging", 1, clock.now_ms()).await;
    let resetting = consumer_at(&bootstrap, "aging", 5, "earliest");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        assert!(std::time::Instant::now() < deadline, "no record after the reset");
        match resetting.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => break message.offset(),
            Some(Err(error)) => panic!("{error}"),
            None => {}
        }
    };
    assert_eq!(first, 40);
    // With auto.offset.reset=error the consumer sees the error instead.
    let strict = consumer_at(&bootstrap, "aging", 5, "error");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(std::time::Instant::now() < deadline, "no error for an offset below the start");
        match strict.poll(Duration::from_millis(200)) {
            Some(Err(KafkaError::MessageConsumption(code))) => {
                assert!(
                    matches!(
                        code,
                        RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange
                    ),
                    "{code:?}"
                );
                break;
            }
            Some(other) => panic!("{other:?}"),
            None => {}
        }
    }
}
