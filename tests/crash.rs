//! Crash safety with a real `riffle` process: SIGKILL it in the middle of an acks=all produce
//! load, restart it on the same data directory, and find every acknowledged record in place,
//! in order, with the log reopening without manual repair. Repeated over several kills.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{consume_all, create_topic, free_port, producer_config, spawn_riffle};
use rdkafka::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

const PARTITIONS: i32 = 4;

/// Produces until `stop` is set, recording (partition, offset, index) of each acknowledged record.
async fn produce_until_killed(
    bootstrap: String,
    first_index: usize,
    acknowledged: Arc<Mutex<Vec<(i32, i64, usize)>>>,
) -> usize {
    let producer: FutureProducer = producer_config(
        &bootstrap,
        &[("acks", "all"), ("linger.ms", "1"), ("message.timeout.ms", "3000"), ("retries", "0")],
    )
    .create()
    .unwrap();
    let mut index = first_index;
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let started = Instant::now();
    // Keep about a thousand records in flight until the broker dies.
    while started.elapsed() < Duration::from_secs(20) {
        while in_flight.len() < 1_000 {
            let key = format!("key-{index}");
            let record = FutureRecord::to("crash")
                .partition(i32::try_from(index).unwrap() % PARTITIONS)
                .key(&key)
                .payload("value");
            match producer.send_result(record) {
                Ok(delivery) => in_flight.push(async move { (index, delivery.await) }),
                Err(_) => break,
            }
            index += 1;
        }
        match futures::StreamExt::next(&mut in_flight).await {
            Some((index, Ok(Ok(delivery)))) => {
                acknowledged.lock().unwrap().push((delivery.partition, delivery.offset, index))
            }
            Some((_, _)) => return index,
            None => {}
        }
    }
    index
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut next_index = 0;
    for round in 0..3 {
        let port = free_port();
        let mut child = spawn_riffle(data.path(), port);
        let bootstrap = format!("127.0.0.1:{port}");
        if round == 0 {
            create_topic(&bootstrap, "crash", PARTITIONS, &[("segment.bytes", "262144")]).await;
        }
        let producing =
            tokio::spawn(produce_until_killed(bootstrap, next_index, Arc::clone(&acknowledged)));
        let target = acknowledged.lock().unwrap().len() + 20_000;
        let deadline = Instant::now() + Duration::from_secs(15);
        while acknowledged.lock().unwrap().len() < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        next_index = producing.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 30_000, "the load ran: {} acknowledged", acknowledged.len());

    // Restart and read everything back.
    let port = free_port();
    let mut child = spawn_riffle(data.path(), port);
    let bootstrap = format!("127.0.0.1:{port}");
    let consumer: rdkafka::consumer::BaseConsumer =
        common::consumer_config(&bootstrap, &[]).create().unwrap();
    let mut total = 0usize;
    for partition in 0..PARTITIONS {
        let (low, high) = rdkafka::consumer::Consumer::fetch_watermarks(
            &consumer,
            "crash",
            partition,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(low, 0);
        total += usize::try_from(high).unwrap();
    }
    let messages = tokio::task::spawn_blocking({
        let bootstrap = bootstrap.clone();
        move || consume_all(&bootstrap, "crash", PARTITIONS, total)
    })
    .await
    .unwrap();
    let stored = common::keys_by_position(&messages);
    for (partition, offset, index) in &acknowledged {
        assert_eq!(
            stored.get(&(*partition, *offset)),
            Some(&format!("key-{index}")),
            "acknowledged record {index}"
        );
    }
    // Offsets are dense from 0 in every partition (consume_all saw exactly `total` records).
    let mut per_partition: HashMap<i32, Vec<i64>> = HashMap::new();
    for message in &messages {
        per_partition.entry(message.partition()).or_default().push(message.offset());
    }
    for offsets in per_partition.values() {
        assert!(
            offsets
                .iter()
                .enumerate()
                .all(|(position, offset)| i64::try_from(position).unwrap() == *offset)
        );
    }

    // The reopened log takes new writes after what survived, and SIGTERM stops it cleanly.
    let producer: FutureProducer =
        producer_config(&bootstrap, &[("acks", "all")]).create().unwrap();
    let delivery = producer
        .send(
            FutureRecord::to("crash").partition(0).key("after").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    assert_eq!(
        delivery.offset,
        per_partition.get(&0).map_or(0, |offsets| i64::try_from(offsets.len()).unwrap())
    );
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    assert!(data.path().join(".kafka_cleanshutdown").exists());
}
