//! Retention with `cleanup.policy=delete`: `retention.bytes` and `retention.ms` retire the
//! oldest segments at each check, the log start follows, a changed topic config applies at
//! the next check without a restart, and compacted topics are left alone.

mod common;

use std::time::Duration;

use common::{TestBroker, alter_topic_configs, create_topic, eventually, now_ms, producer_config};
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn produce(bootstrap: &str, topic: &str, count: usize, timestamp_ms: Option<i64>) {
    let producer: FutureProducer = producer_config(bootstrap, &[("acks", "all")]).create().unwrap();
    for index in 0..count {
        let key = format!("key-{index}");
        let payload = vec![b'x'; 200];
        let mut record = FutureRecord::to(topic).partition(0).key(&key).payload(&payload);
        if let Some(timestamp) = timestamp_ms {
            record = record.timestamp(timestamp);
        }
        producer.send(record, Duration::from_secs(10)).await.map_err(|(error, _)| error).unwrap();
    }
}

fn segment_count(broker: &TestBroker, topic: &str) -> usize {
    std::fs::read_dir(broker.data_dir().join(format!("{topic}-0")))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".log"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_then_time_retention_apply_live() {
    let broker = TestBroker::start_with(&[
        ("log.retention.check.interval.ms", "100"),
        ("log.segment.delete.delay.ms", "0"),
    ])
    .await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "aging", 1, &[("segment.bytes", "1024")]).await;
    create_topic(
        &bootstrap,
        "kept",
        1,
        &[("segment.bytes", "1024"), ("cleanup.policy", "compact")],
    )
    .await;
    produce(&bootstrap, "aging", 40, None).await;
    produce(&bootstrap, "kept", 40, None).await;
    let log = broker.broker().partition("aging", 0).unwrap();
    let segments = segment_count(&broker, "aging");
    assert!(segments > 8, "{segments} segments");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(log.offsets().log_start_offset, 0, "within the default retention");

    // retention.bytes, set live: the oldest segments go until the log fits.
    alter_topic_configs(
        &bootstrap,
        "aging",
        &[("segment.bytes", "1024"), ("retention.bytes", "2048")],
    )
    .await;
    assert!(
        eventually(10, || log.size_bytes() <= 2048 + 1024 && log.offsets().log_start_offset > 0)
            .await
    );
    let start = log.offsets().log_start_offset;
    assert!(eventually(10, || segment_count(&broker, "aging") <= 4).await, "files deleted");
    let size = log.size_bytes();
    assert!(size > 2048 - 1024, "no more than needed goes: {size} bytes left");

    // retention.ms, set live: once the records are older, everything goes, the log end stays.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    alter_topic_configs(
        &bootstrap,
        "aging",
        &[("segment.bytes", "1024"), ("retention.ms", "1000")],
    )
    .await;
    assert!(eventually(10, || log.offsets().log_start_offset == 40).await, "start {start} -> all");
    assert_eq!(log.offsets().log_end_offset, 40);
    produce(&bootstrap, "aging", 1, None).await;
    assert_eq!(log.offsets().log_end_offset, 41, "offsets continue");

    // Old CreateTime records breach retention.ms at the next check.
    create_topic(&bootstrap, "old", 1, &[("segment.bytes", "1024"), ("retention.ms", "86400000")])
        .await;
    produce(&bootstrap, "old", 20, Some(now_ms() - 2 * 86_400_000)).await;
    let old = broker.broker().partition("old", 0).unwrap();
    assert!(eventually(10, || old.offsets().log_start_offset == 20).await);

    // Compacted topics are not subject to retention.
    alter_topic_configs(
        &bootstrap,
        "kept",
        &[("segment.bytes", "1024"), ("cleanup.policy", "compact"), ("retention.ms", "1")],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = broker.broker().partition("kept", 0).unwrap();
    assert_eq!(kept.offsets().log_start_offset, 0);
}
