//! The load generator of `scripts/bench.sh`: drives one broker (Riffle or a peer) with the
//! `rdkafka` crate and prints one JSON line per workload with what it measured, including
//! the broker's own CPU time over the phase (utime + stime of `--broker-pid` from
//! `/proc/PID/stat`) and its peak RSS (`VmHWM`).
//!
//! An example target rather than `src/bin`, because `rdkafka` is a dev-dependency: the broker
//! binary must not link librdkafka.
//!
//! ```text
//! riffle_bench BOOTSTRAP BROKER_PID produce TOPIC PARTITIONS RECORDS SIZE ACKS NAME
//! riffle_bench BOOTSTRAP BROKER_PID consume TOPIC PARTITIONS RECORDS NAME
//! riffle_bench BOOTSTRAP BROKER_PID paced   TOPIC RATE SECONDS ACKS NAME
//! riffle_bench BOOTSTRAP BROKER_PID lean    TOPIC PARTITIONS CONNECTIONS RECORDS_PER_REQUEST SECONDS NAME
//! riffle_bench BOOTSTRAP 0          startup RIFFLE_BINARY DATA_DIR NAME
//! ```
//!
//! `lean` is a protocol client of its own (the `kafka-protocol` crate over tokio sockets):
//! CONNECTIONS connections each keep one Produce request (acks=1, 100-byte records) in
//! flight, so the broker's cost per request is measured without librdkafka's own CPU in the
//! way. `startup` starts RIFFLE_BINARY on DATA_DIR, times it to its first successful
//! Metadata response, and leaves it running (its pid is in the JSON line).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext, ThreadedProducer};
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
    // Asking for committed offsets finds the group coordinator now, so that the broker
    // creates its offsets topic (50 partitions of files) before the measured phase.
    consumer.committed_offsets(assignment.clone(), Duration::from_secs(30)).expect("coordinator");
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
    // rdkafka's threaded producer serves delivery reports on a thread of its own as soon as
    // they arrive, so the pacing below can sleep without delaying them.
    let producer: ThreadedProducer<&'static Deliveries> =
        config(bootstrap, &[("acks", acks), ("linger.ms", "0"), ("compression.type", "none")])
            .create_with_context(deliveries)
            .expect("producer");
    let payload = [b'p'; 100];
    let send_one = |producer: &ThreadedProducer<&'static Deliveries>| {
        let record =
            BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(topic, Box::new(Instant::now()))
                .payload(&payload[..]);
        producer.send(record).map_err(|(error, _)| error).expect("send");
    };
    // Warm the connection and metadata before the measured phase.
    send_one(&producer);
    producer.flush(Duration::from_secs(30)).expect("flush");
    deliveries.latencies_us.lock().expect("not poisoned").clear();

    let records = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let phase = Phase::start(pid);
    let started = Instant::now();
    for index in 0..records {
        // Sleep, not spin: a spinning load generator would take one of the two cores the
        // broker and librdkafka's threads need, and show up as broker latency.
        let due = started + interval * u32::try_from(index).expect("fits");
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        send_one(&producer);
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

/// A Kafka connection speaking the protocol directly, one request at a time.
struct LeanConnection {
    stream: tokio::net::TcpStream,
    correlation_id: i32,
}

impl LeanConnection {
    async fn connect(bootstrap: &str) -> std::io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(bootstrap).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream, correlation_id: 0 })
    }

    /// Sends a request and returns the response body (header removed).
    async fn request<T: kafka_protocol::protocol::Encodable>(
        &mut self,
        api_key: kafka_protocol::messages::ApiKey,
        version: i16,
        body: &T,
    ) -> std::io::Result<bytes::Bytes> {
        use bytes::BufMut;
        use kafka_protocol::messages::RequestHeader;
        use kafka_protocol::protocol::Encodable;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.correlation_id += 1;
        let mut frame = bytes::BytesMut::with_capacity(256);
        frame.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(kafka_protocol::protocol::StrBytes::from_static_str("lean")))
            .encode(&mut frame, api_key.request_header_version(version))
            .map_err(std::io::Error::other)?;
        body.encode(&mut frame, version).map_err(std::io::Error::other)?;
        let size = i32::try_from(frame.len() - 4).expect("small request");
        frame[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&frame).await?;
        let size = usize::try_from(self.stream.read_i32().await?).map_err(std::io::Error::other)?;
        let mut response = vec![0; size];
        self.stream.read_exact(&mut response).await?;
        let correlation_id = i32::from_be_bytes(response[..4].try_into().expect("4 bytes"));
        assert_eq!(correlation_id, self.correlation_id, "responses in order");
        // Produce v7 and Metadata v1 responses use header v0: the correlation id only.
        Ok(bytes::Bytes::from(response).slice(4..))
    }
}

/// One uncompressed batch of `count` records of `size` bytes, as a client builds it.
fn lean_batch(count: usize, size: usize) -> bytes::Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let value = bytes::Bytes::from(vec![b'l'; size]);
    let records: Vec<Record> = (0..count)
        .map(|index| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i64::try_from(index).expect("small"),
            // The encoder starts a new batch where sequences are not consecutive.
            sequence: i32::try_from(index).expect("small"),
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(value.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut batch = bytes::BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut batch, &records, &options).expect("batch encodes");
    batch.freeze()
}

/// What a `lean` run does.
struct Lean<'a> {
    bootstrap: &'a str,
    pid: u32,
    topic: &'a str,
    partitions: i32,
    connections: usize,
    records_per_request: usize,
    seconds: u64,
    workload: &'a str,
}

/// CONNECTIONS connections, each with one Produce (acks=1) in flight, for SECONDS.
async fn lean(run: Lean<'_>) {
    let Lean {
        bootstrap,
        pid,
        topic,
        partitions,
        connections,
        records_per_request,
        seconds,
        workload,
    } = run;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
    use kafka_protocol::protocol::{Decodable, StrBytes};
    const RECORD_BYTES: usize = 100;
    const PRODUCE_VERSION: i16 = 7;
    let batch = lean_batch(records_per_request, RECORD_BYTES);
    let request = |partition: i32| {
        ProduceRequest::default().with_acks(1).with_timeout_ms(30_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(batch.clone())),
                ]),
        ])
    };
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(LeanConnection::connect(bootstrap).await.expect("connect"));
    }
    let phase = Phase::start(pid);
    let end = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = opened
        .into_iter()
        .enumerate()
        .map(|(index, mut connection)| {
            let partition = i32::try_from(index).expect("few connections") % partitions;
            let request = request(partition);
            tokio::spawn(async move {
                let mut latencies_us = Vec::new();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let mut body = connection
                        .request(ApiKey::Produce, PRODUCE_VERSION, &request)
                        .await
                        .expect("produce");
                    let response =
                        ProduceResponse::decode(&mut body, PRODUCE_VERSION).expect("response");
                    let code = response.responses[0].partition_responses[0].error_code;
                    assert_eq!(code, 0, "produce error");
                    latencies_us.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(0));
                }
                latencies_us
            })
        })
        .collect();
    let mut latencies: Vec<u64> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("connection task"));
    }
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    let cpu_per_request_us = {
        let usage = broker_usage(pid);
        (usage.cpu_seconds - phase.usage.cpu_seconds) * 1e6 / requests.max(1) as f64
    };
    let extra = format!(
        ", \"connections\": {connections}, \"requests\": {requests}, \"requests_per_s\": {:.0}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"broker_cpu_us_per_request\": {cpu_per_request_us:.1}",
        requests as f64 / phase.started.elapsed().as_secs_f64(),
        percentile(&latencies, 500),
        percentile(&latencies, 990),
        percentile(&latencies, 999),
    );
    let records = requests * records_per_request as u64;
    phase.report(workload, records, records * RECORD_BYTES as u64, &extra);
}

/// Starts the broker and times it to its first successful Metadata response.
async fn startup(bootstrap: &str, binary: &str, data_dir: &str, workload: &str) {
    use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
    use kafka_protocol::protocol::Decodable;
    // The broker outlives this process: its output must not hold our stdout (the caller's
    // pipe) open.
    let log = std::fs::File::create(format!("{data_dir}.log")).expect("broker log file");
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .args(["--listen", bootstrap, "--data-dir", data_dir])
        .env("NO_COLOR", "1")
        .env("RIFFLE_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the broker");
    let deadline = started + Duration::from_secs(600);
    let partitions = loop {
        if Instant::now() >= deadline || child.try_wait().is_ok_and(|status| status.is_some()) {
            let _ = child.kill();
            panic!("no Metadata answer within 600 s, or the broker exited");
        }
        if let Ok(mut connection) = LeanConnection::connect(bootstrap).await {
            let request = MetadataRequest::default().with_topics(None);
            if let Ok(mut body) = connection.request(ApiKey::Metadata, 1, &request).await {
                let response = MetadataResponse::decode(&mut body, 1).expect("metadata");
                break response.topics.iter().map(|topic| topic.partitions.len()).sum::<usize>();
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "{{\"workload\": \"{workload}\", \"startup_ms\": {elapsed_ms:.1}, \"partitions\": {partitions}, \"pid\": {}}}",
        child.id()
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: riffle_bench BOOTSTRAP BROKER_PID (produce TOPIC PARTITIONS RECORDS SIZE ACKS | consume TOPIC PARTITIONS RECORDS | paced TOPIC RATE SECONDS ACKS | lean TOPIC PARTITIONS CONNECTIONS RECORDS_PER_REQUEST SECONDS | startup RIFFLE_BINARY DATA_DIR) NAME";
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
        "lean" => {
            let partitions = i32::try_from(number(4)).expect(usage);
            create_topic(bootstrap, text(3), partitions).await;
            let connections = usize::try_from(number(5)).expect(usage);
            let per_request = usize::try_from(number(6)).expect(usage);
            lean(Lean {
                bootstrap,
                pid,
                topic: text(3),
                partitions,
                connections,
                records_per_request: per_request,
                seconds: number(7),
                workload: text(8),
            })
            .await;
        }
        "startup" => startup(bootstrap, text(3), text(4), text(5)).await,
        _ => panic!("{usage}"),
    }
}
