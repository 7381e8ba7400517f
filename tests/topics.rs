//! CreateTopics, DeleteTopics and Metadata: Kafka's rules and error codes, auto-creation on
//! and off, deleted data leaving the disk, topics surviving a restart.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker, create_topic, eventually};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_owned()))
}

fn creatable(topic: &str, partitions: i32, factor: i16) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(partitions)
        .with_replication_factor(factor)
}

async fn create(
    client: &mut RawClient,
    version: i16,
    topics: Vec<CreatableTopic>,
    validate_only: bool,
) -> CreateTopicsResponse {
    let request = CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    client.request(ApiKey::CreateTopics, version, &request).await
}

async fn metadata(
    client: &mut RawClient,
    version: i16,
    topics: &[&str],
    allow_auto_create: bool,
) -> MetadataResponse {
    let topics = topics
        .iter()
        .map(|topic| MetadataRequestTopic::default().with_name(Some(name(topic))))
        .collect();
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(allow_auto_create);
    client.request(ApiKey::Metadata, version, &request).await
}

fn partition_dirs(broker: &TestBroker, topic: &str) -> usize {
    std::fs::read_dir(broker.data_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            file_name.rsplit_once('-').is_some_and(|(prefix, partition)| {
                prefix == topic && partition.parse::<u32>().is_ok()
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topics_follows_kafkas_rules() {
    let broker = TestBroker::start().await;
    let mut client = RawClient::connect(broker.address()).await;
    let config = CreatableTopicConfig::default()
        .with_name(StrBytes::from_static_str("retention.ms"))
        .with_value(Some(StrBytes::from_static_str("1000")));
    let response = create(
        &mut client,
        7,
        vec![
            creatable("orders", 6, 1).with_configs(vec![config]),
            creatable("defaults", -1, -1),
            creatable("bad name", 1, 1),
            creatable("zero", 0, 1),
            creatable("factor", 1, 3),
            creatable("twice", 1, 1),
            creatable("twice", 1, 1),
            creatable("manual", -1, -1).with_assignments(vec![
                CreatableReplicaAssignment::default()
                    .with_partition_index(0)
                    .with_broker_ids(vec![BrokerId(1)]),
                CreatableReplicaAssignment::default()
                    .with_partition_index(1)
                    .with_broker_ids(vec![BrokerId(1)]),
            ]),
            creatable("badconfig", 1, 1).with_configs(vec![
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("no.such"))
                    .with_value(None),
            ]),
        ],
        false,
    )
    .await;
    let codes: Vec<(String, i16)> =
        response.topics.iter().map(|topic| (topic.name.to_string(), topic.error_code)).collect();
    assert_eq!(
        codes,
        [
            ("orders".into(), 0),
            ("defaults".into(), 0),
            ("bad name".into(), 17),
            ("zero".into(), 37),
            ("factor".into(), 38),
            ("twice".into(), 42),
            ("manual".into(), 0),
            ("badconfig".into(), 40),
        ]
    );
    let orders = &response.topics[0];
    assert_eq!((orders.num_partitions, orders.replication_factor), (6, 1));
    assert!(!orders.topic_id.is_nil());
    let configs = orders.configs.as_ref().unwrap();
    let retention = configs.iter().find(|config| config.name.as_str() == "retention.ms").unwrap();
    assert_eq!((retention.value.as_deref(), retention.config_source), (Some("1000"), 1));
    let segment = configs.iter().find(|config| config.name.as_str() == "segment.bytes").unwrap();
    assert_eq!((segment.value.as_deref(), segment.config_source), (Some("1073741824"), 5));
    assert_eq!(response.topics[1].num_partitions, 1, "num.partitions default");
    assert_eq!(response.topics[6].num_partitions, 2, "manual assignment");
    assert!(response.topics[4].error_message.as_deref().unwrap().contains("only 1 broker(s)"));
    assert_eq!(partition_dirs(&broker, "orders"), 6);

    let again = create(
        &mut client,
        2,
        vec![creatable("orders", 1, 1), creatable("orders_x", 1, 1), creatable("orders.x", 1, 1)],
        false,
    )
    .await;
    let codes: Vec<i16> = again.topics.iter().map(|topic| topic.error_code).collect();
    assert_eq!(codes, [36, 0, 17], "exists; created; collides with orders_x");

    let checked = create(&mut client, 5, vec![creatable("dry", 3, 1)], true).await;
    assert_eq!(checked.topics[0].error_code, 0);
    assert_eq!(checked.topics[0].num_partitions, 3);
    let lookup = metadata(&mut client, 9, &["dry"], false).await;
    assert_eq!(lookup.topics[0].error_code, 3, "validate_only created nothing");
    assert_eq!(partition_dirs(&broker, "dry"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_topics_removes_data_and_frees_the_name() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "doomed", 3, &[]).await;
    create_topic(&bootstrap, "by-id", 1, &[]).await;
    assert_eq!(partition_dirs(&broker, "doomed"), 3);

    let admin: AdminClient<DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &bootstrap).create().unwrap();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.delete_topics(&["doomed", "never-existed"], &options).await.unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().1, RDKafkaErrorCode::UnknownTopicOrPartition);
    assert!(eventually(10, || partition_dirs(&broker, "doomed") == 0).await);
    let no_leftovers = || {
        std::fs::read_dir(broker.data_dir())
            .unwrap()
            .filter_map(Result::ok)
            .all(|entry| !entry.file_name().to_string_lossy().contains("doomed"))
    };
    assert!(eventually(10, no_leftovers).await, "renamed directories are removed too");

    let mut client = RawClient::connect(broker.address()).await;
    let by_id = metadata(&mut client, 12, &["by-id"], false).await;
    let topic_id = by_id.topics[0].topic_id;
    let request = DeleteTopicsRequest::default().with_timeout_ms(5000).with_topics(vec![
        DeleteTopicState::default().with_topic_id(topic_id),
        DeleteTopicState::default().with_topic_id(uuid::Uuid::new_v4()),
        DeleteTopicState::default().with_name(Some(name("x"))).with_topic_id(uuid::Uuid::new_v4()),
    ]);
    let response: DeleteTopicsResponse = client.request(ApiKey::DeleteTopics, 6, &request).await;
    let codes: Vec<i16> = response.responses.iter().map(|topic| topic.error_code).collect();
    assert_eq!(codes, [0, 100, 42]);
    assert_eq!(response.responses[0].name.as_deref().map(|name| name.as_str()), Some("by-id"));

    create_topic(&bootstrap, "doomed", 1, &[]).await;
    let producer: rdkafka::producer::FutureProducer =
        common::producer_config(&bootstrap, &[]).create().unwrap();
    let delivery = producer
        .send(
            rdkafka::producer::FutureRecord::to("doomed").key("k").payload("v"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    assert_eq!((delivery.partition, delivery.offset), (0, 0), "a recreated topic starts empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_creation_on_and_off() {
    let on = TestBroker::start_with(&[("num.partitions", "3")]).await;
    let mut client = RawClient::connect(on.address()).await;
    let created = metadata(&mut client, 9, &["auto"], true).await;
    assert_eq!(created.topics[0].error_code, 0);
    assert_eq!(created.topics[0].partitions.len(), 3);
    let refused = metadata(&mut client, 9, &["not-asked"], false).await;
    assert_eq!(refused.topics[0].error_code, 3, "request disallows auto-creation");
    let invalid = metadata(&mut client, 9, &["bad/name"], true).await;
    assert_eq!(invalid.topics[0].error_code, 17);
    let old = metadata(&mut client, 1, &["old-client"], true).await;
    assert_eq!(old.topics[0].error_code, 0, "before v4 auto-creation is always requested");

    let off = TestBroker::start_with(&[("auto.create.topics.enable", "false")]).await;
    let mut client = RawClient::connect(off.address()).await;
    let missing = metadata(&mut client, 9, &["auto"], true).await;
    assert_eq!(missing.topics[0].error_code, 3);
    assert_eq!(partition_dirs(&off, "auto"), 0);
    let producer: rdkafka::producer::FutureProducer =
        common::producer_config(&off.bootstrap(), &[("message.timeout.ms", "2000")])
            .create()
            .unwrap();
    let result = producer
        .send(
            rdkafka::producer::FutureRecord::to("auto").key("k").payload("v"),
            Duration::from_secs(5),
        )
        .await;
    assert!(result.is_err(), "producing to a missing topic fails with auto-creation off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_lists_topics_by_version_rules() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "listed", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;

    let all_v0: MetadataResponse = client
        .request(ApiKey::Metadata, 0, &MetadataRequest::default().with_topics(Some(vec![])))
        .await;
    assert_eq!(all_v0.topics.len(), 1, "v0: empty list means all");
    let twice = metadata(&mut client, 9, &["listed", "listed"], false).await;
    assert_eq!(twice.topics.len(), 1, "each requested topic is answered once");
    let none_v1: MetadataResponse = client
        .request(ApiKey::Metadata, 1, &MetadataRequest::default().with_topics(Some(vec![])))
        .await;
    assert!(none_v1.topics.is_empty(), "v1+: empty list means none");
    let all_v12: MetadataResponse =
        client.request(ApiKey::Metadata, 12, &MetadataRequest::default().with_topics(None)).await;
    let topic = &all_v12.topics[0];
    assert_eq!(topic.partitions.len(), 2);
    assert_eq!(topic.partitions[1].leader_id.0, 1);
    assert_eq!(topic.partitions[1].isr_nodes.len(), 1);
    assert_eq!(all_v12.brokers[0].port, i32::from(broker.address().port()));
    assert!(all_v12.cluster_id.is_some());

    let by_id = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_topic_id(topic.topic_id).with_name(None),
    ]));
    let found: MetadataResponse = client.request(ApiKey::Metadata, 12, &by_id).await;
    assert_eq!(found.topics[0].name.as_deref().map(|name| name.as_str()), Some("listed"));
    let refused: MetadataResponse = client.request(ApiKey::Metadata, 11, &by_id).await;
    assert_eq!(refused.topics[0].error_code, 42, "ids below v12 are INVALID_REQUEST");
    let unknown = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_topic_id(uuid::Uuid::new_v4()).with_name(None),
    ]));
    let unknown: MetadataResponse = client.request(ApiKey::Metadata, 12, &unknown).await;
    assert_eq!(unknown.topics[0].error_code, 100);

    let operations = MetadataRequest::default()
        .with_topics(None)
        .with_include_topic_authorized_operations(true)
        .with_include_cluster_authorized_operations(true);
    let answered: MetadataResponse = client.request(ApiKey::Metadata, 10, &operations).await;
    assert_eq!(answered.topics[0].topic_authorized_operations, 3576);
    assert_eq!(answered.cluster_authorized_operations, 8096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_survive_a_restart_with_their_ids_and_configs() {
    let mut broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "kept", 4, &[("retention.ms", "5000")]).await;
    let mut client = RawClient::connect(broker.address()).await;
    let before = metadata(&mut client, 12, &["kept"], false).await.topics[0].topic_id;
    broker.restart().await;
    let mut client = RawClient::connect(broker.address()).await;
    let after = metadata(&mut client, 12, &["kept"], false).await;
    assert_eq!(after.topics[0].topic_id, before);
    assert_eq!(after.topics[0].partitions.len(), 4);
    let image = broker.broker().metadata().image();
    assert_eq!(image.topic("kept").unwrap().configs["retention.ms"], "5000");
}
