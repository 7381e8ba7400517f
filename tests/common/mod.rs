//! Shared test harness: an in-process broker on 127.0.0.1:0 with a temporary data directory,
//! rdkafka client configs, and a raw Kafka-protocol client for wire-level checks.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use rdkafka::ClientConfig;
use riffle::clock::Clock;
use riffle::config::BrokerConfig;
use riffle::server::RunningBroker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Installs a test log subscriber once when `RIFFLE_TEST_LOG` is set (e.g. `debug`).
pub fn init_logging() {
    if let Ok(filter) = std::env::var("RIFFLE_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// A broker running in this process.
pub struct TestBroker {
    running: Option<RunningBroker>,
    data_dir: PathBuf,
    _temporary: Option<tempfile::TempDir>,
    overrides: Vec<(String, String)>,
    clock: Clock,
}

impl TestBroker {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with broker config overrides (Kafka key names).
    pub async fn start_with(overrides: &[(&str, &str)]) -> Self {
        Self::start_with_clock(overrides, Clock::system()).await
    }

    /// Starts with overrides and the given wall clock (a manual one moves only when told).
    pub async fn start_with_clock(overrides: &[(&str, &str)], clock: Clock) -> Self {
        let temporary = tempfile::tempdir().expect("temp dir");
        let data_dir = temporary.path().to_owned();
        let overrides =
            overrides.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        let mut broker =
            Self { running: None, data_dir, _temporary: Some(temporary), overrides, clock };
        broker.boot().await;
        broker
    }

    async fn boot(&mut self) {
        init_logging();
        let mut properties: BTreeMap<String, String> = BTreeMap::new();
        properties.insert("listeners".into(), "PLAINTEXT://127.0.0.1:0".into());
        properties.insert("log.dirs".into(), self.data_dir.display().to_string());
        properties.extend(self.overrides.iter().cloned());
        let config = BrokerConfig::from_properties(&properties).expect("valid test config");
        self.running =
            Some(riffle::server::start(config, self.clock.clone()).await.expect("broker starts"));
    }

    pub fn address(&self) -> SocketAddr {
        self.running.as_ref().expect("running").address()
    }

    pub fn bootstrap(&self) -> String {
        self.address().to_string()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn broker(&self) -> &std::sync::Arc<riffle::broker::Broker> {
        self.running.as_ref().expect("running").broker()
    }

    /// Graceful shutdown (flushes logs, records a clean shutdown).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("clean shutdown");
        }
    }

    /// Stops and starts again on the same data directory (and a new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }
}

/// A producer config for `bootstrap` with `extra` settings.
pub fn producer_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .set("enable.idempotence", "false");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config
}

/// A consumer config (no group: tests assign partitions).
pub fn consumer_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "riffle-tests-unused")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "100");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config
}

/// A client speaking the Kafka protocol directly, for exact wire-level checks.
pub struct RawClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl RawClient {
    pub async fn connect(address: SocketAddr) -> Self {
        let stream = TcpStream::connect(address).await.expect("connect");
        Self { stream, correlation_id: 0 }
    }

    /// Encodes `[size][RequestHeader][body]`.
    pub fn encode_request<T: Encodable>(
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &T,
    ) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")))
            .encode(&mut buf, api_key.request_header_version(version))
            .expect("header encodes");
        body.encode(&mut buf, version).expect("body encodes");
        let size = i32::try_from(buf.len() - 4).unwrap();
        buf[..4].copy_from_slice(&size.to_be_bytes());
        buf.freeze()
    }

    pub async fn send<T: Encodable>(&mut self, api_key: ApiKey, version: i16, body: &T) -> i32 {
        self.correlation_id += 1;
        let bytes = Self::encode_request(api_key, version, self.correlation_id, body);
        self.stream.write_all(&bytes).await.expect("send");
        self.correlation_id
    }

    /// The socket itself, for reading a response by hand.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads one response frame; `None` if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let read = async {
            let size = self.stream.read_i32().await.ok()?;
            let mut frame = vec![0; usize::try_from(size).ok()?];
            self.stream.read_exact(&mut frame).await.ok()?;
            Some(Bytes::from(frame))
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("broker answered or closed within 30 s")
    }

    /// Sends a request and decodes its response (checking the correlation id).
    pub async fn request<Req: Encodable, Resp: Decodable + HeaderVersion>(
        &mut self,
        api_key: ApiKey,
        version: i16,
        body: &Req,
    ) -> Resp {
        let correlation_id = self.send(api_key, version, body).await;
        self.response(correlation_id, version).await
    }

    pub async fn response<Resp: Decodable + HeaderVersion>(
        &mut self,
        correlation_id: i32,
        version: i16,
    ) -> Resp {
        let mut frame = self.read_frame().await.expect("a response, not a closed connection");
        let header = ResponseHeader::decode(&mut frame, Resp::header_version(version))
            .expect("response header");
        assert_eq!(header.correlation_id, correlation_id, "responses come in request order");
        let response = Resp::decode(&mut frame, version).expect("response body");
        assert!(!frame.has_remaining(), "response fully consumed");
        response
    }

    /// True if the broker closed the connection (reads end of stream).
    pub async fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => false,
            Err(_) => false,
        }
    }
}

/// A record's key and value.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
/// A record's key, value and timestamp.
pub type TimedRecord<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, i64);

/// A client-style record batch built with the crate's encoder, every record at `timestamp`.
pub fn record_batch(
    records: &[KeyValue<'_>],
    timestamp: i64,
    compression: kafka_protocol::records::Compression,
) -> Bytes {
    let timed: Vec<_> = records.iter().map(|(key, value)| (*key, *value, timestamp)).collect();
    timed_batch(&timed, compression)
}

/// A client-style record batch with a timestamp per record.
pub fn timed_batch(
    records: &[TimedRecord<'_>],
    compression: kafka_protocol::records::Compression,
) -> Bytes {
    encode_batch(records, None, compression)
}

/// The producer fields of an idempotent batch: id, epoch, first sequence.
type ProducerFields = (i64, i16, i32);

/// Encodes one batch with the crate's encoder; without `producer` it carries no producer id.
fn encode_batch(
    records: &[TimedRecord<'_>],
    producer: Option<ProducerFields>,
    compression: kafka_protocol::records::Compression,
) -> Bytes {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, 0));
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(index, (key, value, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::try_from(index).unwrap(),
            sequence: base_sequence + i32::try_from(index).unwrap(),
            timestamp: *timestamp,
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions { version: 2, compression },
    )
    .unwrap();
    buf.freeze()
}

/// Polls `check` every 50 ms until it holds or `seconds` pass.
pub async fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Creates a topic through the rdkafka admin client and waits for the answer.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client");
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (key, value) in configs {
        topic = topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics([&topic], &options).await.expect("create topics request");
    for result in results {
        result.expect("topic created");
    }
}

/// Consumes every record of `topic` partitions `0..partitions` from the beginning until
/// `expected` records arrived, with a deadline. Returns owned messages in arrival order.
pub fn consume_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> Vec<rdkafka::message::OwnedMessage> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let consumer: BaseConsumer = consumer_config(bootstrap, &[]).create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning).expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut messages = Vec::with_capacity(expected);
    while messages.len() < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "consumed only {} of {expected}",
            messages.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(error)) => panic!("consume error: {error}"),
            None => {}
        }
    }
    // Nothing more than expected arrives.
    if let Some(Ok(extra)) = consumer.poll(Duration::from_millis(300)) {
        panic!("unexpected extra record at {}:{}", extra.partition(), extra.offset());
    }
    messages
}

/// Each record's key by (partition, offset).
pub fn keys_by_position(
    messages: &[rdkafka::message::OwnedMessage],
) -> std::collections::HashMap<(i32, i64), String> {
    use rdkafka::Message;
    messages
        .iter()
        .map(|message| {
            let key = String::from_utf8(message.key().expect("keyed record").to_vec())
                .expect("UTF-8 key");
            ((message.partition(), message.offset()), key)
        })
        .collect()
}

/// A batch from an idempotent producer: `producer_id` and `producer_epoch` in the header,
/// sequences from `base_sequence` on.
pub fn idempotent_batch(
    records: &[KeyValue<'_>],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Bytes {
    let timed: Vec<_> =
        records.iter().map(|(key, value)| (*key, *value, 1_700_000_000_000)).collect();
    encode_batch(
        &timed,
        Some((producer_id, producer_epoch, base_sequence)),
        kafka_protocol::records::Compression::None,
    )
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the real `riffle` binary on `127.0.0.1:port` over `data_dir` and waits until it
/// accepts connections.
pub fn spawn_riffle(data_dir: &Path, port: u16) -> RiffleProcess {
    spawn_riffle_advertising(data_dir, port, None)
}

/// [`spawn_riffle`], advertising another address (a proxy) to clients.
pub fn spawn_riffle_advertising(
    data_dir: &Path,
    port: u16,
    advertised: Option<SocketAddr>,
) -> RiffleProcess {
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_riffle"));
    if let Some(advertised) = advertised {
        command.args(["--advertised-listener", &advertised.to_string()]);
    }
    let child = command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("RIFFLE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("riffle starts");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(std::time::Instant::now() < deadline, "riffle did not start listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    RiffleProcess(child)
}

/// A `riffle` process that is killed when dropped, so a failing test leaves none behind.
pub struct RiffleProcess(std::process::Child);

impl std::ops::Deref for RiffleProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for RiffleProcess {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for RiffleProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A TCP proxy in front of a broker that cuts connections: every `cut_every`-th Produce
/// request (jittered) is forwarded, given time to be appended, and then the connection is
/// closed before its response can reach the client, so the producer must retry a batch the
/// broker already has. Responses are forwarded as whole frames. It can also swallow every
/// response for a while ([`CuttingProxy::swallow_responses`]), so that requests the broker
/// handles in that time stay unanswered.
pub struct CuttingProxy {
    address: SocketAddr,
    cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    swallowing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CuttingProxy {
    pub async fn start(upstream: SocketAddr, cut_every: usize) -> Self {
        Self::start_on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            upstream,
            cut_every,
        )
    }

    /// Serves on an already bound listener (so a broker can be told to advertise it first).
    pub fn start_on(
        listener: tokio::net::TcpListener,
        upstream: SocketAddr,
        cut_every: usize,
    ) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let address = listener.local_addr().unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let produce_requests = Arc::new(AtomicUsize::new(0));
        let counted_cuts = Arc::clone(&cuts);
        let swallowing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swallow = Arc::clone(&swallowing);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let Ok(server) = TcpStream::connect(upstream).await else { continue };
                let cuts = Arc::clone(&counted_cuts);
                let produce_requests = Arc::clone(&produce_requests);
                let swallow = Arc::clone(&swallow);
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let cutting = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let responses = {
                        let cutting = Arc::clone(&cutting);
                        async move {
                            while let Some(frame) = read_whole_frame(&mut server_read).await {
                                if swallow.load(Ordering::SeqCst) {
                                    continue;
                                }
                                if cutting.load(Ordering::SeqCst)
                                    || client_write.write_all(&frame).await.is_err()
                                {
                                    return;
                                }
                            }
                        }
                    };
                    let requests = async move {
                        while let Some(frame) = read_whole_frame(&mut client_read).await {
                            let is_produce = frame.len() >= 6 && frame[4..6] == [0, 0];
                            // Every `cut_every`-th produce request on average, scattered.
                            let cut = is_produce && {
                                let count = produce_requests.fetch_add(1, Ordering::SeqCst) + 1;
                                (count * 7919 + count / 3).is_multiple_of(cut_every)
                            };
                            if cut {
                                cutting.store(true, Ordering::SeqCst);
                                cuts.fetch_add(1, Ordering::SeqCst);
                            }
                            if server_write.write_all(&frame).await.is_err() {
                                return;
                            }
                            if cut {
                                // Long enough for the broker to append the batch.
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                return;
                            }
                        }
                    };
                    // Whichever direction ends first closes both sockets.
                    tokio::select! {
                        () = responses => {}
                        () = requests => {}
                    }
                });
            }
        });
        Self { address, cuts, swallowing }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drops (`true`) or forwards (`false`) every response from now on.
    pub fn swallow_responses(&self, swallow: bool) {
        self.swallowing.store(swallow, std::sync::atomic::Ordering::SeqCst);
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads one length-prefixed frame including its 4-byte size; `None` at end of stream.
async fn read_whole_frame(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let size = reader.read_i32().await.ok()?;
    let size = usize::try_from(size).ok()?;
    let mut frame = vec![0; 4 + size];
    frame[..4].copy_from_slice(&i32::try_from(size).ok()?.to_be_bytes());
    reader.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

/// The system clock in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// Replaces a topic's configs with `configs` (the legacy AlterConfigs, as rdkafka sends it)
/// and checks the answer.
pub async fn alter_topic_configs(bootstrap: &str, topic: &str, configs: &[(&str, &str)]) {
    use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let mut change = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (key, value) in configs {
        change = change.set(key, value);
    }
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let results = admin.alter_configs(&[change], &options).await.unwrap();
    assert!(results[0].is_ok(), "{results:?}");
}
