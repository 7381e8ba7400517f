//! Restart: produce, stop the broker cleanly, start it on the same data directory: every
//! record is still there and offsets continue.

mod common;

use std::collections::HashMap;

use common::{TestBroker, consume_all, create_topic, producer_config};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) -> Vec<(i32, i64)> {
    produce_to(bootstrap, topic, 4, range).await
}

/// Produces records `range`, record `index` to partition `index % partitions`; returns each
/// one's (partition, offset).
async fn produce_to(
    bootstrap: &str,
    topic: &str,
    partitions: usize,
    range: std::ops::Range<usize>,
) -> Vec<(i32, i64)> {
    // Batches of at most 16 KiB, so 64 KiB segments roll several times however librdkafka
    // happens to group the records.
    let producer: FutureProducer =
        producer_config(bootstrap, &[("acks", "all"), ("batch.size", "16384")]).create().unwrap();
    let mut deliveries = Vec::new();
    for index in range {
        let key = format!("key-{index}");
        let value = format!("value-{index}-{}", "x".repeat(200));
        let record = FutureRecord::to(topic)
            .partition(i32::try_from(index % partitions).unwrap())
            .key(&key)
            .payload(&value);
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error).unwrap());
    }
    let mut acknowledged = Vec::new();
    for delivery in deliveries {
        let delivery = delivery.await.unwrap().map_err(|(error, _)| error).unwrap();
        acknowledged.push((delivery.partition, delivery.offset));
    }
    acknowledged
}

/// Every record `index` of `acknowledged` is at its acknowledged (partition, offset).
async fn assert_all_there(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    acknowledged: &[(i32, i64)],
) {
    let messages = tokio::task::spawn_blocking({
        let (bootstrap, topic, count) =
            (bootstrap.to_owned(), topic.to_owned(), acknowledged.len());
        move || consume_all(&bootstrap, &topic, partitions, count)
    })
    .await
    .unwrap();
    let stored = common::keys_by_position(&messages);
    for (index, position) in acknowledged.iter().enumerate() {
        assert_eq!(
            stored.get(position),
            Some(&format!("key-{index}")),
            "record {index} at {position:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_is_still_there_after_a_restart_and_offsets_continue() {
    let mut broker = TestBroker::start().await;
    // Small segments so the restart reopens many sealed segments and indexes.
    create_topic(&broker.bootstrap(), "durable", 4, &[("segment.bytes", "65536")]).await;
    let first = produce(&broker.bootstrap(), "durable", 0..10_000).await;
    let segments = std::fs::read_dir(broker.data_dir().join("durable-0"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".log"))
        .count();
    assert!(segments >= 4, "several segments: {segments}");

    broker.restart().await;
    assert!(
        !broker.data_dir().join(".kafka_cleanshutdown").exists(),
        "marker removed once running"
    );
    let bootstrap = broker.bootstrap();
    assert_all_there(&bootstrap, "durable", 4, &first).await;

    let second = produce(&bootstrap, "durable", 10_000..10_400).await;
    let mut next: HashMap<i32, i64> = HashMap::new();
    for (partition, offset) in &first {
        let entry = next.entry(*partition).or_insert(0);
        *entry = (*entry).max(offset + 1);
    }
    for (partition, offset) in &second {
        let expected = next.get_mut(partition).unwrap();
        assert_eq!(*offset, *expected, "offsets continue on partition {partition}");
        *expected += 1;
    }
    broker.stop().await;
    assert!(broker.data_dir().join(".kafka_cleanshutdown").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_directories_no_topic_owns_are_kept_aside_not_deleted() {
    let mut broker = TestBroker::start().await;
    broker.stop().await;
    let orphan = broker.data_dir().join("orphan-3");
    std::fs::create_dir(&orphan).unwrap();
    std::fs::write(orphan.join("00000000000000000000.log"), b"someone's data").unwrap();
    let unrelated = broker.data_dir().join("notes-2024");
    std::fs::create_dir(&unrelated).unwrap();
    std::fs::write(unrelated.join("readme.txt"), b"not a log").unwrap();
    broker.restart().await;
    assert!(!orphan.exists());
    let kept: Vec<_> = std::fs::read_dir(broker.data_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("orphan-3.") && name.ends_with("-stray"))
        .collect();
    assert_eq!(kept.len(), 1, "renamed with a unique suffix: {kept:?}");
    let log = broker.data_dir().join(&kept[0]).join("00000000000000000000.log");
    assert_eq!(std::fs::read(log).unwrap(), b"someone's data");
    assert!(unrelated.join("readme.txt").exists(), "directories without log files are left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_roll_checkpoints_the_recovery_point_without_waiting_for_the_timer() {
    // The timed checkpoint runs once at start, then not for an hour.
    let broker =
        TestBroker::start_with(&[("log.flush.offset.checkpoint.interval.ms", "3600000")]).await;
    create_topic(&broker.bootstrap(), "rolled", 4, &[("segment.bytes", "65536")]).await;
    let acknowledged = produce(&broker.bootstrap(), "rolled", 0..2_000).await;
    assert_eq!(acknowledged.len(), 2_000);
    let path = broker.data_dir().join(riffle::log::checkpoint::RECOVERY_POINT_FILE);
    let partition = riffle::types::TopicPartition::new("rolled", 0);
    // 500 records of about 230 bytes in partition 0 fill more than one 64 KiB segment, so
    // the recovery point reaches at least the first roll.
    let checkpointed = common::eventually(10, || {
        riffle::log::checkpoint::read(&path)
            .is_ok_and(|points| points.get(&partition).is_some_and(|offset| *offset > 0))
    })
    .await;
    assert!(checkpointed, "the roll's fsync put a recovery point on disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_wide_enough_to_be_opened_by_several_threads_reopens_whole() {
    let mut broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "wide", 40, &[]).await;
    let acknowledged = produce_to(&broker.bootstrap(), "wide", 40, 0..2_000).await;
    broker.restart().await;
    let bootstrap = broker.bootstrap();
    assert_all_there(&bootstrap, "wide", 40, &acknowledged).await;
    // Offsets continue in every partition: each was reopened as itself.
    let more = produce_to(&bootstrap, "wide", 40, 0..40).await;
    for (partition, offset) in more {
        assert_eq!(offset, 50, "partition {partition}");
    }
}
