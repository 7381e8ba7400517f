//! The load generator of `scripts/bench.sh`: drives one broker (Riffle or a peer) with the
//! `rdkafka` crate and prints one JSON line per workload with what it measured, including
//! the broker's own CPU time over the phase (utime + stime of `--broker-pid` from
//! `/proc/PID/stat`) and its peak RSS (`VmHWM`).
//!
//! An example target rather than `src/bin`, because `rdkafka` is a dev-dependency: the broker
//! binary must not link librdkafka.
//!
//! ```text
//! riffle_bench BOOTSTRAP BROKER_PID produce TOPIC PARTITIONS RECORDS SIZE ACKS
//! riffle_bench BOOTSTRAP BROKER_PID consume TOPIC PARTITIONS RECORDS
//! riffle_bench BOOTSTRAP BROKER_PID paced   TOPIC RATE SECONDS ACKS
//! ```

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on Linux x86_64).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Counts delivery reports, and keeps each record's send-to-acknowledgement latency.
#[derive(Default)]
struct Deliveries {
    acknowledged: AtomicU64,
    failed: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

impl ClientContext for &'static Deliveries {}

impl ProducerContext for &'static Deliveries {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Instant>) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latencies_us.lock().expect("not poisoned").push(micros);
            }
            Err((error, _)) => {
                if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("delivery failed: {error}");
                }
            }
        }
    }
}

/// The broker's CPU seconds so far and its peak RSS in KiB.
struct BrokerUsage {
    cpu_seconds: f64,
    peak_rss_kib: u64,
}

fn broker_usage(pid: u32) -> BrokerUsage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("broker process");
    // Fields after the command name, which may hold spaces: state is [0], utime [11], stime [12].
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat format") + 2..].split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("broker process");
    let peak_rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0);
    BrokerUsage { cpu_seconds: ticks as f64 / CLOCK_TICKS_PER_SECOND, peak_rss_kib }
}

fn config(bootstrap: &str, settings: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap).set("log_level", "3");
    for (key, value) in settings {
        config.set(*key, *value);
    }
    config
}

async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        config(bootstrap, &[]).create().expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &options)
        .await
        .expect("create topics");
    for result in results {
        if let Err((topic, code)) = result
            && code != RDKafkaErrorCode::TopicAlreadyExists
        {
            panic!("create {topic}: {code:?}");
        }
    }
    // Wait until metadata shows every partition with a leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata =
            admin.inner().fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
        let ready = metadata.topics().iter().any(|t| {
            t.name() == topic
                && t.partitions().len() == partitions as usize
                && t.partitions().iter().all(|p| p.leader() >= 0)
        });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "topic {topic} not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn producer(
    bootstrap: &str,
    acks: &str,
    linger_ms: &str,
    deliveries: &'static Deliveries,
) -> BaseProducer<&'static Deliveries> {
    config(bootstrap, &[("acks", acks), ("linger.ms", linger_ms), ("compression.type", "none")])
        .create_with_context(deliveries)
        .expect("producer")
}

/// Sends one record, polling for delivery reports while librdkafka's queue is full.
fn send(producer: &BaseProducer<&'static Deliveries>, topic: &str, payload: &[u8]) {
    let mut record =
        BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(topic, Box::new(Instant::now()))
            .payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(1));
            }
            Err((error, _)) => panic!("send: {error}"),
        }
    }
}

/// Nearest rank: the smallest sample with at least `per_mille`/1000 of the samples at or
/// below it.
fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * per_mille).div_ceil(1000).clamp(1, sorted.len());
    sorted[rank - 1]
}

struct Phase {
    started: Instant,
    usage: BrokerUsage,
    pid: u32,
}

impl Phase {
    fn start(pid: u32) -> Self {
        Phase { started: Instant::now(), usage: broker_usage(pid), pid }
    }

    /// Prints the workload's JSON line: `extra` is `"key": value` pairs already formatted.
    fn report(self, workload: &str, records: u64, bytes: u64, extra: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        let usage = broker_usage(self.pid);
        let cpu = usage.cpu_seconds - self.usage.cpu_seconds;
        let gigabytes = bytes as f64 / (1u64 << 30) as f64;
        println!(
            "{{\"workload\": \"{workload}\", \"records\": {records}, \"seconds\": {seconds:.3}, \
             \"mb_per_s\": {:.1}, \"msgs_per_s\": {:.0}, \"broker_cpu_s\": {cpu:.2}, \
             \"broker_cpu_s_per_gb\": {:.3}, \"broker_peak_rss_mb\": {:.1}{extra}}}",
            bytes as f64 / seconds / 1e6,
            records as f64 / seconds,
            if gigabytes > 0.0 { cpu / gigabytes } else { 0.0 },
            usage.peak_rss_kib as f64 / 1024.0,
        );
    }
}

fn produce(
    bootstrap: &str,
    pid: u32,
    topic: &str,
    records: u64,
    size: usize,
    acks: &str,
    workload: &str,
) {
    let deliveries: &'static Deliveries = Box::leak(Box::default());
    let producer = producer(bootstrap, acks, "5", deliveries);
    let payload = vec![b'r'; size];
    let phase = Phase::start(pid);
    for _ in 0..records {
        send(&producer, topic, &payload);
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let failed = deliveries.failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} records failed");
    assert_eq!(deliveries.acknowledged.load(Ordering::Relaxed), records);
    phase.report(workload, records, records * size as u64, "");
}

fn consume(bootstrap: &str, pid: u32, topic: &str, partitions: i32, records: u64, workload: &str) {
    // librdkafka's default fetch sizes (1 MiB per partition, 50 MiB per request).
    let settings = [("group.id", "riffle-bench"), ("enable.auto.commit", "false")];
    let consumer: BaseConsumer = config(bootstrap, &settings).create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning).expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let phase = Phase::start(pid);
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut count, mut bytes) = (0u64, 0u64);
    while count < records {
        assert!(Instant::now() < deadline, "consumed only {count} of {records}");
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                count += 1;
                bytes += message.payload_len() as u64;
            }
            Some(Err(error)) => panic!("consume: {error}"),
            None => {}
        }
    }
    phase.report(workload, count, bytes, "");
}

fn paced(
    bootstrap: &str,
    pid: u32,
    topic: &str,
    rate: u64,
    seconds: u64,
    acks: &str,
    workload: &str,
) {
    let deliveries: &'static Deliveries = Box::leak(Box::default());
    let producer = producer(bootstrap, acks, "0", deliveries);
    let payload = vec![b'p'; 100];
    // Warm the connection and metadata before the measured phase.
    send(&producer, topic, &payload);
    producer.flush(Duration::from_secs(30)).expect("flush");
    deliveries.latencies_us.lock().expect("not poisoned").clear();

    let records = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let phase = Phase::start(pid);
    let started = Instant::now();
    for index in 0..records {
        let due = started + interval * u32::try_from(index).expect("fits");
        while Instant::now() < due {
            producer.poll(Duration::ZERO);
            std::hint::spin_loop();
        }
        send(&producer, topic, &payload);
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    let mut latencies = std::mem::take(&mut *deliveries.latencies_us.lock().expect("not poisoned"));
    assert_eq!(latencies.len() as u64, records, "every paced record acknowledged");
    latencies.sort_unstable();
    let cpu_per_request_us = {
        let usage = broker_usage(pid);
        (usage.cpu_seconds - phase.usage.cpu_seconds) * 1e6 / records as f64
    };
    let extra = format!(
        ", \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"broker_cpu_us_per_request\": {cpu_per_request_us:.1}",
        percentile(&latencies, 500),
        percentile(&latencies, 990),
        percentile(&latencies, 999),
    );
    phase.report(workload, records, records * payload.len() as u64, &extra);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: riffle_bench BOOTSTRAP BROKER_PID (produce TOPIC PARTITIONS RECORDS SIZE ACKS | consume TOPIC PARTITIONS RECORDS | paced TOPIC RATE SECONDS ACKS) NAME";
    let number =
        |index: usize| -> u64 { args.get(index).and_then(|a| a.parse().ok()).expect(usage) };
    let text = |index: usize| -> &str { args.get(index).map(String::as_str).expect(usage) };
    let (bootstrap, pid) = (text(0), u32::try_from(number(1)).expect(usage));
    match text(2) {
        "produce" => {
            let partitions = i32::try_from(number(4)).expect(usage);
            create_topic(bootstrap, text(3), partitions).await;
            let size = usize::try_from(number(6)).expect(usage);
            produce(bootstrap, pid, text(3), number(5), size, text(7), text(8));
        }
        "consume" => {
            let partitions = i32::try_from(number(4)).expect(usage);
            consume(bootstrap, pid, text(3), partitions, number(5), text(6));
        }
        "paced" => {
            create_topic(bootstrap, text(3), 1).await;
            paced(bootstrap, pid, text(3), number(4), number(5), text(6), text(7));
        }
        _ => panic!("{usage}"),
    }
}
