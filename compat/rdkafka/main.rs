//! The compat scenarios (compat/README.md) driven by the `rdkafka` crate, which vendors a
//! recent librdkafka. Built as the cargo example `rdkafka_compat`; `compat/rdkafka/run.sh`
//! runs it with the broker address. Prints `CLIENT` and `RESULT` lines on stdout.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

const TOPIC: &str = "compat";
const SPLIT_TOPIC: &str = "compat-split";
const PARTITIONS: i32 = 6;
const RECORDS_PER_CODEC: usize = 10_000;
const SPLIT_RECORDS: usize = 6_000;
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const DEADLINE: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(10);

type Outcome = Result<(), String>;

/// One consumed record, as the checks need it.
#[derive(Debug, Clone)]
struct Consumed {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
    headers: Vec<(String, String)>,
}

fn report(scenario: &str, outcome: Outcome) {
    match outcome {
        Ok(()) => println!("RESULT {scenario} pass"),
        Err(detail) => println!("RESULT {scenario} fail {}", detail.replace('\n', " ")),
    }
}

fn config(bootstrap: &str, settings: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config.set("log_level", "3");
    for (key, value) in settings {
        config.set(*key, *value);
    }
    config
}

fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    config(bootstrap, &[]).create().map_err(|e| format!("admin client: {e}"))
}

async fn with_deadline<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(DEADLINE, future)
        .await
        .map_err(|_| format!("no answer within {} s", DEADLINE.as_secs()))?
}

fn metadata(bootstrap: &str) -> Outcome {
    let consumer: BaseConsumer = config(bootstrap, &[]).create().map_err(|e| e.to_string())?;
    let metadata = consumer.fetch_metadata(None, TIMEOUT).map_err(|e| format!("metadata: {e}"))?;
    let (host, port) = bootstrap.rsplit_once(':').expect("host:port");
    let brokers: Vec<String> = metadata
        .brokers()
        .iter()
        .map(|b| format!("{}@{}:{}", b.id(), b.host(), b.port()))
        .collect();
    if metadata
        .brokers()
        .iter()
        .any(|b| b.id() == 1 && b.host() == host && b.port().to_string() == port)
    {
        Ok(())
    } else {
        Err(format!("expected broker 1 at {bootstrap}, got {brokers:?}"))
    }
}

async fn create_topics(bootstrap: &str) -> Outcome {
    let admin = admin(bootstrap)?;
    let topics = [
        NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1)),
        NewTopic::new(SPLIT_TOPIC, PARTITIONS, TopicReplication::Fixed(1)),
    ];
    let results = with_deadline(async {
        admin.create_topics(&topics, &AdminOptions::new()).await.map_err(|e| e.to_string())
    })
    .await?;
    for result in results {
        result.map_err(|(topic, code)| format!("create {topic}: {code:?}"))?;
    }
    let started = Instant::now();
    loop {
        let found =
            admin.inner().fetch_metadata(Some(TOPIC), TIMEOUT).map_err(|e| e.to_string()).map(
                |metadata| {
                    metadata.topics().iter().find(|t| t.name() == TOPIC && t.error().is_none()).map(
                        |topic| {
                            let mut leaders: Vec<(i32, i32)> =
                                topic.partitions().iter().map(|p| (p.id(), p.leader())).collect();
                            leaders.sort();
                            leaders
                        },
                    )
                },
            );
        let expected: Vec<(i32, i32)> = (0..PARTITIONS).map(|p| (p, 1)).collect();
        match found {
            Ok(Some(leaders)) if leaders == expected => return Ok(()),
            other if started.elapsed() > TIMEOUT => {
                return Err(format!("metadata for {TOPIC}: expected {expected:?}, got {other:?}"));
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn expected_value(codec: &str, index: usize) -> String {
    format!("value-{codec}-{index}-{}", "x".repeat(index % 100))
}

async fn produce(bootstrap: &str, codec: &str) -> Outcome {
    let producer: FutureProducer =
        config(bootstrap, &[("compression.type", codec), ("acks", "all"), ("linger.ms", "5")])
            .create()
            .map_err(|e| e.to_string())?;
    let mut deliveries = Vec::with_capacity(RECORDS_PER_CODEC);
    for index in 0..RECORDS_PER_CODEC {
        let key = format!("{codec}-{index}");
        let value = expected_value(codec, index);
        let index_text = index.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: "codec", value: Some(codec) })
            .insert(Header { key: "index", value: Some(&index_text) });
        let record = FutureRecord::to(TOPIC).key(&key).payload(&value).headers(headers);
        deliveries
            .push(producer.send_result(record).map_err(|(error, _)| format!("enqueue: {error}"))?);
    }
    awaited(deliveries).await
}

/// Waits for every delivery report; the first failure is the error.
async fn awaited(deliveries: Vec<rdkafka::producer::DeliveryFuture>) -> Outcome {
    let count = deliveries.len();
    with_deadline(async {
        let mut failures = 0;
        let mut first = None;
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => {
                    failures += 1;
                    first.get_or_insert(error.to_string());
                }
                Err(_) => {
                    failures += 1;
                    first.get_or_insert("delivery report dropped".to_string());
                }
            }
        }
        match first {
            None => Ok(()),
            Some(error) => Err(format!("{failures} of {count} records failed, first: {error}")),
        }
    })
    .await
}

fn consumed(message: &rdkafka::message::BorrowedMessage<'_>) -> Consumed {
    let text =
        |bytes: Option<&[u8]>| String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned();
    let headers = message
        .headers()
        .map(|headers| headers.iter().map(|h| (h.key.to_string(), text(h.value))).collect())
        .unwrap_or_default();
    Consumed {
        partition: message.partition(),
        offset: message.offset(),
        key: text(message.key()),
        value: text(message.payload()),
        headers,
    }
}

/// Polls until `wanted` records arrived or the deadline passed; errors are returned.
fn poll_until(consumer: &BaseConsumer, records: &mut Vec<Consumed>, wanted: usize) -> Outcome {
    poll_until_done(consumer, records, |records| records.len() >= wanted)
}

/// Polls until `done` holds for the records so far or the deadline passed.
fn poll_until_done(
    consumer: &BaseConsumer,
    records: &mut Vec<Consumed>,
    done: impl Fn(&[Consumed]) -> bool,
) -> Outcome {
    let started = Instant::now();
    while !done(records) && started.elapsed() < DEADLINE {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => records.push(consumed(&message)),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(error)) => return Err(format!("poll: {error}")),
        }
    }
    Ok(())
}

/// The scenario 4 checks on everything read from `compat`.
fn check_records(records: &[Consumed], codecs: &[&str]) -> Outcome {
    let wanted = RECORDS_PER_CODEC * codecs.len();
    if records.len() != wanted {
        return Err(format!("expected {wanted} records, got {}", records.len()));
    }
    let mut keys = BTreeSet::new();
    let mut by_partition: BTreeMap<i32, Vec<&Consumed>> = BTreeMap::new();
    for record in records {
        if !keys.insert(record.key.as_str()) {
            return Err(format!("key {} arrived twice", record.key));
        }
        let (codec, index) =
            record.key.rsplit_once('-').ok_or_else(|| format!("bad key {}", record.key))?;
        let index: usize = index.parse().map_err(|_| format!("bad key {}", record.key))?;
        if !codecs.contains(&codec) || index >= RECORDS_PER_CODEC {
            return Err(format!("unexpected key {}", record.key));
        }
        if record.value != expected_value(codec, index) {
            return Err(format!("key {}: value {:?}", record.key, record.value));
        }
        let headers = vec![
            ("codec".to_string(), codec.to_string()),
            ("index".to_string(), index.to_string()),
        ];
        if record.headers != headers {
            return Err(format!("key {}: headers {:?}", record.key, record.headers));
        }
        by_partition.entry(record.partition).or_default().push(record);
    }
    if by_partition.len() != PARTITIONS as usize {
        return Err(format!("records in {} partitions, expected {PARTITIONS}", by_partition.len()));
    }
    for (partition, records) in &mut by_partition {
        records.sort_by_key(|r| r.offset);
        let mut last_index: HashMap<&str, usize> = HashMap::new();
        for (position, record) in records.iter().enumerate() {
            if record.offset != position as i64 {
                return Err(format!(
                    "partition {partition}: offset {} at position {position}",
                    record.offset
                ));
            }
            let (codec, index) = record.key.rsplit_once('-').expect("checked above");
            let index: usize = index.parse().expect("checked above");
            if let Some(previous) = last_index.insert(codec, index)
                && previous >= index
            {
                return Err(format!(
                    "partition {partition}: {codec} index {index} after {previous}"
                ));
            }
        }
    }
    Ok(())
}

fn consume_assign(bootstrap: &str, codecs: &[&str]) -> Outcome {
    // librdkafka wants a group.id even for a consumer that only assigns (it answers polls
    // with "Unknown group" otherwise); assign() never joins it, and nothing is committed.
    let settings = [
        ("group.id", "compat-assign"),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ];
    let consumer: BaseConsumer =
        config(bootstrap, &settings).create().map_err(|e| e.to_string())?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(TOPIC, partition, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    poll_until(&consumer, &mut records, RECORDS_PER_CODEC * codecs.len())?;
    check_records(&records, codecs)?;
    // The read stops at N, so records past it would go unseen: each partition must end
    // right after the last record read from it.
    for partition in 0..PARTITIONS {
        let (_, high_watermark) = consumer
            .fetch_watermarks(TOPIC, partition, TIMEOUT)
            .map_err(|e| format!("watermarks: {e}"))?;
        let read = records.iter().filter(|r| r.partition == partition).count() as i64;
        if high_watermark != read {
            return Err(format!(
                "partition {partition} ends at offset {high_watermark}, {read} records read"
            ));
        }
    }
    Ok(())
}

fn group_consumer(bootstrap: &str, group: &str) -> Result<BaseConsumer, String> {
    config(
        bootstrap,
        &[("group.id", group), ("enable.auto.commit", "false"), ("auto.offset.reset", "earliest")],
    )
    .create()
    .map_err(|e| e.to_string())
}

fn group_resume(bootstrap: &str, total: usize) -> Outcome {
    let first = group_consumer(bootstrap, "compat-resume")?;
    first.subscribe(&[TOPIC]).map_err(|e| e.to_string())?;
    // A stops once it holds 3,000 records from at least 2 partitions (compat/README.md).
    let partitions =
        |records: &[Consumed]| records.iter().map(|r| r.partition).collect::<BTreeSet<_>>().len();
    let mut first_records = Vec::new();
    poll_until_done(&first, &mut first_records, |records| {
        records.len() >= 3_000 && partitions(records) >= 2
    })?;
    if first_records.len() < 3_000 || partitions(&first_records) < 2 {
        return Err(format!(
            "consumer A got {} records from {} partitions, wanted 3000 from 2",
            first_records.len(),
            partitions(&first_records)
        ));
    }
    let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
    for record in &first_records {
        let next = committed.entry(record.partition).or_default();
        *next = (*next).max(record.offset + 1);
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, offset) in &committed {
        offsets
            .add_partition_offset(TOPIC, *partition, Offset::Offset(*offset))
            .map_err(|e| e.to_string())?;
    }
    first.commit(&offsets, CommitMode::Sync).map_err(|e| format!("commit: {e}"))?;
    drop(first);

    let second = group_consumer(bootstrap, "compat-resume")?;
    second.subscribe(&[TOPIC]).map_err(|e| e.to_string())?;
    let mut second_records = Vec::new();
    poll_until(&second, &mut second_records, total - first_records.len())?;
    second.commit_consumer_state(CommitMode::Sync).map_err(|e| format!("commit: {e}"))?;
    drop(second);

    let mut first_offset: BTreeMap<i32, i64> = BTreeMap::new();
    for record in &second_records {
        first_offset.entry(record.partition).or_insert(record.offset);
    }
    for (partition, offset) in &first_offset {
        let resumed_at = committed.get(partition).copied().unwrap_or(0);
        if *offset != resumed_at {
            return Err(format!(
                "B started partition {partition} at {offset}, A committed {resumed_at}"
            ));
        }
    }
    if !first_offset.values().any(|offset| *offset > 0) {
        return Err(format!(
            "B resumed at a non-zero offset in no partition; A committed {committed:?}, B started at {first_offset:?}"
        ));
    }
    let mut seen = BTreeSet::new();
    for record in first_records.iter().chain(&second_records) {
        if !seen.insert((record.partition, record.offset)) {
            return Err(format!(
                "partition {} offset {} seen twice",
                record.partition, record.offset
            ));
        }
    }
    if seen.len() != total {
        return Err(format!("A and B hold {} records, expected {total}", seen.len()));
    }
    Ok(())
}

fn partitions_of(consumer: &BaseConsumer) -> BTreeSet<i32> {
    consumer
        .assignment()
        .map(|list| list.elements().iter().map(|e| e.partition()).collect())
        .unwrap_or_default()
}

async fn group_split(bootstrap: &str) -> Outcome {
    let members =
        [group_consumer(bootstrap, "compat-split")?, group_consumer(bootstrap, "compat-split")?];
    for member in &members {
        member.subscribe(&[SPLIT_TOPIC]).map_err(|e| e.to_string())?;
    }
    // Both members poll (which serves the rebalance) until the group has settled on a split.
    let started = Instant::now();
    let mut received: [Vec<Consumed>; 2] = [Vec::new(), Vec::new()];
    let assignments = loop {
        for (member, records) in members.iter().zip(received.iter_mut()) {
            match member.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => records.push(consumed(&message)),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(error)) => {
                    return Err(format!("poll while waiting for the split: {error}"));
                }
            }
        }
        let assignments = [partitions_of(&members[0]), partitions_of(&members[1])];
        let covered: BTreeSet<i32> = assignments[0].union(&assignments[1]).copied().collect();
        if !assignments[0].is_empty()
            && !assignments[1].is_empty()
            && assignments[0].is_disjoint(&assignments[1])
            && covered == (0..PARTITIONS).collect()
        {
            break assignments;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("no split assignment within 30 s: {assignments:?}"));
        }
    };

    let producer: FutureProducer =
        config(bootstrap, &[("acks", "all")]).create().map_err(|e| e.to_string())?;
    let mut deliveries = Vec::new();
    for index in 0..SPLIT_RECORDS {
        let key = format!("split-{index}");
        let value = index.to_string();
        let record = FutureRecord::to(SPLIT_TOPIC).key(&key).payload(&value);
        deliveries
            .push(producer.send_result(record).map_err(|(error, _)| format!("enqueue: {error}"))?);
    }
    awaited(deliveries).await.map_err(|e| format!("produce to {SPLIT_TOPIC}: {e}"))?;

    let started = Instant::now();
    while received[0].len() + received[1].len() < SPLIT_RECORDS && started.elapsed() < DEADLINE {
        for (member, records) in members.iter().zip(received.iter_mut()) {
            match member.poll(Duration::from_millis(50)) {
                Some(Ok(message)) => records.push(consumed(&message)),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(error)) => return Err(format!("poll: {error}")),
            }
        }
    }
    let mut keys = BTreeSet::new();
    for (member, records) in received.iter().enumerate() {
        if records.is_empty() {
            return Err(format!("member {member} received nothing"));
        }
        for record in records {
            if !assignments[member].contains(&record.partition) {
                return Err(format!(
                    "member {member} got partition {} outside {:?}",
                    record.partition, assignments[member]
                ));
            }
            if !keys.insert(record.key.clone()) {
                return Err(format!("key {} arrived twice", record.key));
            }
        }
    }
    if keys.len() != SPLIT_RECORDS {
        return Err(format!("{} of {SPLIT_RECORDS} records arrived", keys.len()));
    }
    Ok(())
}

fn admin_groups(bootstrap: &str, total: usize) -> Outcome {
    let consumer = group_consumer(bootstrap, "compat-resume")?;
    let groups =
        consumer.fetch_group_list(None, TIMEOUT).map_err(|e| format!("list groups: {e}"))?;
    let names: Vec<&str> = groups.groups().iter().map(|g| g.name()).collect();
    for wanted in ["compat-resume", "compat-split"] {
        if !names.contains(&wanted) {
            return Err(format!("list groups: {wanted} missing from {names:?}"));
        }
    }
    let described = consumer
        .fetch_group_list(Some("compat-resume"), TIMEOUT)
        .map_err(|e| format!("describe: {e}"))?;
    let group = described.groups().first().ok_or("describe compat-resume: no group")?;
    if group.state() != "Empty"
        || group.protocol_type() != "consumer"
        || !group.members().is_empty()
    {
        return Err(format!(
            "describe compat-resume: state {} protocol type {} members {}",
            group.state(),
            group.protocol_type(),
            group.members().len()
        ));
    }
    let mut wanted = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        wanted.add_partition(TOPIC, partition);
    }
    let committed =
        consumer.committed_offsets(wanted, TIMEOUT).map_err(|e| format!("offset fetch: {e}"))?;
    let mut sum = 0;
    for element in committed.elements() {
        let (_, high_watermark) = consumer
            .fetch_watermarks(TOPIC, element.partition(), TIMEOUT)
            .map_err(|e| format!("watermarks: {e}"))?;
        if element.offset() != Offset::Offset(high_watermark) {
            return Err(format!(
                "partition {} committed {:?}, end offset {high_watermark}",
                element.partition(),
                element.offset()
            ));
        }
        sum += high_watermark;
    }
    if committed.count() != PARTITIONS as usize || sum != total as i64 {
        return Err(format!(
            "{} committed offsets summing to {sum}, expected {PARTITIONS} summing to {total}",
            committed.count()
        ));
    }
    Ok(())
}

async fn delete_topics(bootstrap: &str) -> Outcome {
    let admin = admin(bootstrap)?;
    let results = with_deadline(async {
        admin
            .delete_topics(&[TOPIC, SPLIT_TOPIC], &AdminOptions::new())
            .await
            .map_err(|e| e.to_string())
    })
    .await?;
    for result in results {
        result.map_err(|(topic, code)| format!("delete {topic}: {code:?}"))?;
    }
    let started = Instant::now();
    loop {
        let metadata = admin.inner().fetch_metadata(None, TIMEOUT).map_err(|e| e.to_string())?;
        let left: Vec<&str> = metadata
            .topics()
            .iter()
            .map(|t| t.name())
            .filter(|n| *n == TOPIC || *n == SPLIT_TOPIC)
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() > TIMEOUT {
            return Err(format!("still listed after 10 s: {left:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    let bootstrap = std::env::args().nth(1).expect("usage: rdkafka_compat BOOTSTRAP");
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    // The crate's version is Cargo.lock's pin; librdkafka's is read from the library.
    println!("CLIENT rdkafka crate 0.39 (vendored librdkafka {librdkafka})");

    report("metadata", metadata(&bootstrap));
    report("create-topic", create_topics(&bootstrap).await);
    let mut produced = Vec::new();
    for codec in CODECS {
        let outcome = produce(&bootstrap, codec).await;
        if outcome.is_ok() {
            produced.push(codec);
        }
        report(&format!("produce-{codec}"), outcome);
    }
    let total = RECORDS_PER_CODEC * produced.len();
    let blocking = |bootstrap: String,
                    scenario: fn(&str, usize, &[&str]) -> Outcome,
                    codecs: Vec<&'static str>| {
        tokio::task::spawn_blocking(move || scenario(&bootstrap, total, &codecs))
    };
    let outcome =
        blocking(bootstrap.clone(), |b, _, codecs| consume_assign(b, codecs), produced.clone())
            .await;
    report("consume-assign", outcome.unwrap_or_else(|e| Err(e.to_string())));
    let outcome =
        blocking(bootstrap.clone(), |b, total, _| group_resume(b, total), produced.clone()).await;
    report("group-resume", outcome.unwrap_or_else(|e| Err(e.to_string())));
    report("group-split", group_split(&bootstrap).await);
    let outcome =
        blocking(bootstrap.clone(), |b, total, _| admin_groups(b, total), produced.clone()).await;
    report("admin-groups", outcome.unwrap_or_else(|e| Err(e.to_string())));
    report("delete-topic", delete_topics(&bootstrap).await);
}
