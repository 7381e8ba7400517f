//! Idempotent producers: InitProducerId, duplicate and sequence checks over the wire, and
//! exactly-once appends with librdkafka (`enable.idempotence=true`) while a proxy cuts its
//! connections and while the broker is restarted (cleanly and with SIGKILL) mid-stream.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    CuttingProxy, RawClient, TestBroker, consume_all, create_topic, idempotent_batch,
    producer_config,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
    ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};

async fn init_producer_id(client: &mut RawClient, version: i16) -> InitProducerIdResponse {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000);
    client.request(ApiKey::InitProducerId, version, &request).await
}

/// Produces one idempotent batch of `count` records; returns (error code, base offset).
async fn produce(
    client: &mut RawClient,
    topic: &str,
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    count: usize,
) -> (i16, i64) {
    let values: Vec<String> = (0..count).map(|index| format!("value-{sequence}-{index}")).collect();
    let records: Vec<common::KeyValue<'_>> =
        values.iter().map(|value| (Some(b"k".as_slice()), Some(value.as_bytes()))).collect();
    let batch = idempotent_batch(&records, producer_id, epoch, sequence);
    let request =
        ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_index(0).with_records(Some(batch)),
                ]),
        ]);
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

async fn high_watermark(broker: &TestBroker, topic: &str) -> i64 {
    broker.broker().partition(topic, 0).unwrap().offsets().high_watermark
}

#[tokio::test]
async fn init_producer_id_hands_out_unique_ids_across_restarts() {
    let mut broker = TestBroker::start().await;
    let mut seen = std::collections::HashSet::new();
    {
        let mut client = RawClient::connect(broker.address()).await;
        for version in 0..=4 {
            let response = init_producer_id(&mut client, version).await;
            assert_eq!(response.error_code, 0, "v{version}");
            assert_eq!(response.producer_epoch, 0);
            assert!(response.producer_id.0 >= 0);
            assert!(seen.insert(response.producer_id.0), "ids are unique");
        }
        // v3+: an id and an epoch come together (KIP-360 bump); a lone one is INVALID_REQUEST.
        let lone_id = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_producer_id(ProducerId(5))
            .with_producer_epoch(-1);
        let response: InitProducerIdResponse =
            client.request(ApiKey::InitProducerId, 4, &lone_id).await;
        assert_eq!((response.error_code, response.producer_id.0), (42, -1));
        // Without a transactional id, a known id and epoch still get a fresh id, as in Kafka.
        let bump = lone_id.with_producer_epoch(0);
        let response: InitProducerIdResponse =
            client.request(ApiKey::InitProducerId, 4, &bump).await;
        assert_eq!(response.error_code, 0);
        assert!(seen.insert(response.producer_id.0));
        // Transactions need a transaction coordinator: COORDINATOR_NOT_AVAILABLE.
        let transactional = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("txn"))))
            .with_transaction_timeout_ms(60_000);
        let response: InitProducerIdResponse =
            client.request(ApiKey::InitProducerId, 4, &transactional).await;
        assert_eq!((response.error_code, response.producer_epoch), (15, -1));
        let empty = transactional
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str(""))));
        let response: InitProducerIdResponse =
            client.request(ApiKey::InitProducerId, 4, &empty).await;
        assert_eq!(response.error_code, 42);
        // v5 (transactions V2) is not served: the connection is closed, as for any unsupported
        // version.
        client.send(ApiKey::InitProducerId, 5, &InitProducerIdRequest::default()).await;
        assert!(client.is_closed().await);
    }
    broker.restart().await;
    let mut client = RawClient::connect(broker.address()).await;
    let after = init_producer_id(&mut client, 4).await.producer_id.0;
    assert!(after > *seen.iter().max().unwrap(), "no id is handed out twice after a restart");
}

#[tokio::test]
async fn duplicates_get_their_original_offsets_and_gaps_are_refused_across_restarts() {
    // Expiry checks every 10 ms: the batches carry 2023 timestamps, yet the producer is not
    // idle, so it must not be forgotten (idle time is on the broker's clock).
    let mut broker =
        TestBroker::start_with(&[("producer.id.expiration.check.interval.ms", "10")]).await;
    create_topic(&broker.bootstrap(), "idem", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let producer_id = init_producer_id(&mut client, 4).await.producer_id.0;

    assert_eq!(produce(&mut client, "idem", producer_id, 0, 0, 3).await, (0, 0));
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 3, 2).await, (0, 3));
    // A retry of either batch: success with the original offsets, nothing appended.
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 0, 3).await, (0, 0));
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 3, 2).await, (0, 3));
    assert_eq!(high_watermark(&broker, "idem").await, 5);
    // A gap, and an overlapping range that is no retained batch: OUT_OF_ORDER_SEQUENCE_NUMBER.
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 9, 1).await.0, 45);
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 1, 2).await.0, 45);
    // A new epoch must start at 0; once it has, the old epoch is stale.
    assert_eq!(produce(&mut client, "idem", producer_id, 1, 5, 1).await.0, 45);
    assert_eq!(produce(&mut client, "idem", producer_id, 1, 0, 1).await, (0, 5));
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 5, 1).await.0, 47);
    assert_eq!(high_watermark(&broker, "idem").await, 6);

    // After a clean restart (and several expiry checks) the producer's retry is still
    // recognised.
    broker.restart().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut client = RawClient::connect(broker.address()).await;
    assert_eq!(produce(&mut client, "idem", producer_id, 1, 0, 1).await, (0, 5));
    assert_eq!(produce(&mut client, "idem", producer_id, 1, 1, 4).await, (0, 6));
    assert_eq!(produce(&mut client, "idem", producer_id, 0, 5, 1).await.0, 47);
    assert_eq!(high_watermark(&broker, "idem").await, 10);

    // DescribeProducers shows the producer as the partition's state holds it.
    use kafka_protocol::messages::describe_producers_request::TopicRequest;
    use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};
    let request = DescribeProducersRequest::default().with_topics(vec![
        TopicRequest::default()
            .with_name(TopicName(StrBytes::from_static_str("idem")))
            .with_partition_indexes(vec![0, 3, 0]),
    ]);
    let response: DescribeProducersResponse =
        client.request(ApiKey::DescribeProducers, 0, &request).await;
    let partitions = &response.topics[0].partitions;
    assert_eq!(partitions.len(), 2, "a partition named twice is described once");
    assert_eq!((partitions[0].error_code, partitions[1].error_code), (0, 3));
    let producers: Vec<(i64, i32, i32, i64)> = partitions[0]
        .active_producers
        .iter()
        .map(|state| {
            (
                state.producer_id.0,
                state.producer_epoch,
                state.last_sequence,
                state.coordinator_epoch.into(),
            )
        })
        .collect();
    assert_eq!(producers, [(producer_id, 1, 4, -1)]);
    assert_eq!(partitions[0].active_producers[0].last_timestamp, 1_700_000_000_000);
}

/// Sends `count` keyed records (`key-<n>`) to partition `n % partitions` with up to
/// `in_flight` outstanding, returning each delivery's (partition, offset, n).
async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    partitions: i32,
    count: usize,
    progress: Option<Arc<Mutex<usize>>>,
) -> Vec<(i32, i64, usize)> {
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut delivered = Vec::with_capacity(count);
    let mut next = 0;
    while delivered.len() < count {
        while next < count && pending.len() < 2_000 {
            let key = format!("key-{next}");
            let partition = i32::try_from(next).unwrap() % partitions;
            let record = FutureRecord::to(topic).partition(partition).key(&key).payload(&key);
            let delivery = producer.send_result(record).map_err(|(error, _)| error).unwrap();
            let index = next;
            pending.push(async move { (index, delivery.await) });
            next += 1;
        }
        let (index, result) = futures::StreamExt::next(&mut pending).await.unwrap();
        let delivery = result.expect("delivery not cancelled").map_err(|(error, _)| error);
        let delivery = delivery.unwrap_or_else(|error| panic!("record {index} failed: {error}"));
        delivered.push((delivery.partition, delivery.offset, index));
        if let Some(progress) = &progress {
            *progress.lock().unwrap() = delivered.len();
        }
    }
    delivered
}

/// Every record exactly once, in production order within each partition, at the offsets its
/// delivery reported.
fn assert_exactly_once_in_order(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    delivered: &[(i32, i64, usize)],
) {
    let messages = consume_all(bootstrap, topic, partitions, delivered.len());
    let mut per_partition: HashMap<i32, Vec<usize>> = HashMap::new();
    for message in &messages {
        let key = std::str::from_utf8(message.key().unwrap()).unwrap();
        let index: usize = key.strip_prefix("key-").unwrap().parse().unwrap();
        per_partition.entry(message.partition()).or_default().push(index);
    }
    for (partition, indexes) in &per_partition {
        let expected: Vec<usize> = (0..delivered.len())
            .filter(|index| i32::try_from(*index).unwrap() % partitions == *partition)
            .collect();
        assert_eq!(indexes, &expected, "partition {partition}: each record once, in order");
    }
    let stored = common::keys_by_position(&messages);
    for (partition, offset, index) in delivered {
        assert_eq!(stored.get(&(*partition, *offset)), Some(&format!("key-{index}")));
    }
}

fn idempotent_producer(bootstrap: &str) -> FutureProducer {
    producer_config(
        bootstrap,
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("max.in.flight.requests.per.connection", "5"),
            ("linger.ms", "2"),
            ("batch.num.messages", "50"),
            ("message.timeout.ms", "60000"),
            ("reconnect.backoff.ms", "20"),
            ("reconnect.backoff.max.ms", "200"),
        ],
    )
    .create()
    .expect("producer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cuts_during_an_idempotent_load_leave_every_record_once_in_order() {
    // The broker advertises the proxy, so every connection the client makes goes through it.
    let proxy_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let advertised = format!("PLAINTEXT://{}", proxy_listener.local_addr().unwrap());
    let broker = TestBroker::start_with(&[("advertised.listeners", &advertised)]).await;
    let proxy = CuttingProxy::start_on(proxy_listener, broker.address(), 10);
    let bootstrap = proxy.address().to_string();
    create_topic(&bootstrap, "cuts", 3, &[]).await;

    let producer = idempotent_producer(&bootstrap);
    let delivered = produce_all(&producer, "cuts", 3, 6_000, None).await;
    assert!(proxy.cuts() >= 5, "the proxy cut {} connections", proxy.cuts());
    let bootstrap = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        assert_exactly_once_in_order(&bootstrap, "cuts", 3, &delivered)
    })
    .await
    .unwrap();
}

/// Waits until `progress` reaches `target` deliveries; fails after 60 s.
async fn wait_for_progress(progress: &Mutex<usize>, target: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while *progress.lock().unwrap() < target {
        assert!(Instant::now() < deadline, "the producer stalled before {target} deliveries");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarts_mid_stream_cause_no_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let broker_address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Clients reach the broker (the real binary) through a proxy that can hold back answers.
    let proxy = CuttingProxy::start(broker_address, usize::MAX).await;
    let spawn = || common::spawn_riffle_advertising(data.path(), port, Some(proxy.address()));
    let bootstrap = proxy.address().to_string();
    let mut child = spawn();
    create_topic(&bootstrap, "restarts", 2, &[("segment.bytes", "1048576")]).await;

    const RECORDS: usize = 60_000;
    let progress = Arc::new(Mutex::new(0));
    let producing = tokio::spawn({
        let bootstrap = bootstrap.clone();
        let progress = Arc::clone(&progress);
        async move {
            let producer = idempotent_producer(&bootstrap);
            produce_all(&producer, "restarts", 2, RECORDS, Some(progress)).await
        }
    });
    // Two crashes (SIGKILL) and one clean restart (SIGTERM) mid-stream. Before each, answers
    // are held back for a moment, so the broker goes down with batches appended whose
    // producer never heard so: it retries them against the restarted broker, which must
    // recognise them from its rebuilt producer state. Same port, so the producer reconnects.
    for (round, target) in [15_000, 30_000, 45_000].into_iter().enumerate() {
        wait_for_progress(&progress, target).await;
        proxy.swallow_responses(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
        if round == 1 {
            let status = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        } else {
            child.kill().expect("SIGKILL");
        }
        child.wait().unwrap();
        proxy.swallow_responses(false);
        child = spawn();
    }
    let delivered = producing.await.unwrap();
    assert_eq!(delivered.len(), RECORDS);
    let checked = bootstrap.clone();
    tokio::task::spawn_blocking(move || {
        assert_exactly_once_in_order(&checked, "restarts", 2, &delivered)
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}
