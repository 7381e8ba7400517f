//! DescribeConfigs with the rdkafka admin client and raw frames: topic and broker configs,
//! sources, synonyms, documentation and per-resource errors.

mod common;

use std::time::Duration;

use common::{RawClient, TestBroker, create_topic};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{ApiKey, DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin client")
}

fn options() -> AdminOptions {
    AdminOptions::new().request_timeout(Some(Duration::from_secs(10)))
}

#[tokio::test]
async fn rdkafka_describes_topic_and_broker_configs_with_sources() {
    let broker =
        TestBroker::start_with(&[("log.retention.hours", "2"), ("num.partitions", "4")]).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "described", 1, &[("segment.bytes", "2097152")]).await;
    let admin = admin(&bootstrap);
    let results = admin
        .describe_configs(
            &[ResourceSpecifier::Topic("described"), ResourceSpecifier::Broker(1)],
            &options(),
        )
        .await
        .expect("describe configs request");
    let topic = results[0].as_ref().expect("topic configs");
    let entries = topic.entry_map();
    let segment = entries["segment.bytes"];
    assert_eq!(segment.value.as_deref(), Some("2097152"));
    assert_eq!(segment.source, ConfigSource::DynamicTopic);
    assert!(!segment.is_default && !segment.is_read_only);
    let retention = entries["retention.ms"];
    assert_eq!(retention.value.as_deref(), Some("7200000"));
    assert_eq!(retention.source, ConfigSource::StaticBroker);
    let policy = entries["cleanup.policy"];
    assert_eq!((policy.value.as_deref(), &policy.source), (Some("delete"), &ConfigSource::Default));
    assert!(policy.is_default);
    assert_eq!(topic.entries.len(), riffle::config::topic::TOPIC_CONFIGS.len());

    let broker_configs = results[1].as_ref().expect("broker configs");
    let entries = broker_configs.entry_map();
    let partitions = entries["num.partitions"];
    assert_eq!(partitions.value.as_deref(), Some("4"));
    assert_eq!(partitions.source, ConfigSource::StaticBroker);
    assert!(partitions.is_read_only);
    let hours = entries["log.retention.hours"];
    assert_eq!(hours.value.as_deref(), Some("2"));
    let factor = entries["default.replication.factor"];
    assert_eq!((factor.value.as_deref(), &factor.source), (Some("1"), &ConfigSource::Default));

    // A missing topic fails its resource only. (The rdkafka crate drops per-resource error
    // codes of DescribeConfigs, so the missing topic shows as empty here; the codes are
    // checked over the wire below.)
    let results = admin
        .describe_configs(
            &[ResourceSpecifier::Topic("absent"), ResourceSpecifier::Topic("described")],
            &options(),
        )
        .await
        .expect("describe configs request");
    assert!(results[0].as_ref().is_ok_and(|absent| absent.entries.is_empty()));
    assert!(results[1].as_ref().is_ok_and(|described| !described.entries.is_empty()));
}

fn resource(resource_type: i8, name: &str, keys: Option<&[&str]>) -> DescribeConfigsResource {
    DescribeConfigsResource::default()
        .with_resource_type(resource_type)
        .with_resource_name(StrBytes::from_string(name.to_owned()))
        .with_configuration_keys(
            keys.map(|keys| {
                keys.iter().map(|key| StrBytes::from_string((*key).to_owned())).collect()
            }),
        )
}

#[tokio::test]
async fn describe_configs_over_the_wire() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "wire", 1, &[("retention.ms", "1000")]).await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in 1..=4 {
        let request = DescribeConfigsRequest::default()
            .with_resources(vec![
                resource(2, "wire", Some(&["retention.ms", "no.such.key"])),
                resource(2, "absent", None),
                resource(2, "bad/name", None),
                resource(4, "", None),
                resource(4, "7", None),
                resource(8, "1", None),
                resource(4, "1", Some(&["num.partitions"])),
            ])
            .with_include_synonyms(true)
            .with_include_documentation(version >= 3);
        let response: DescribeConfigsResponse =
            client.request(ApiKey::DescribeConfigs, version, &request).await;
        let codes: Vec<i16> = response.results.iter().map(|result| result.error_code).collect();
        assert_eq!(codes, [0, 3, 17, 0, 42, 42, 0], "v{version}");
        let topic = &response.results[0];
        assert_eq!(topic.configs.len(), 1, "only the known key asked for");
        let retention = &topic.configs[0];
        assert_eq!(
            retention.value.as_ref().map(|value| value.to_string()).as_deref(),
            Some("1000")
        );
        assert_eq!(retention.config_source, 1, "TOPIC_CONFIG");
        assert!(!retention.read_only);
        let synonyms: Vec<(&str, i8)> = retention
            .synonyms
            .iter()
            .map(|synonym| (synonym.name.as_str(), synonym.source))
            .collect();
        assert_eq!(synonyms, [("retention.ms", 1), ("log.retention.hours", 5)]);
        if version >= 3 {
            assert_eq!(retention.config_type, 5, "LONG");
            assert!(retention.documentation.as_ref().is_some_and(|doc| !doc.is_empty()));
        }
        assert!(response.results[3].configs.is_empty(), "no dynamic broker defaults");
        let broker_entry = &response.results[6].configs[0];
        assert_eq!(broker_entry.name.as_str(), "num.partitions");
        assert!(broker_entry.read_only);
    }
    // An empty key list asks for every config, as null does.
    let request =
        DescribeConfigsRequest::default().with_resources(vec![resource(2, "wire", Some(&[]))]);
    let response: DescribeConfigsResponse =
        client.request(ApiKey::DescribeConfigs, 4, &request).await;
    assert_eq!(response.results[0].configs.len(), riffle::config::topic::TOPIC_CONFIGS.len());
    // A request naming one topic thousands of times is answered up to the entry cap.
    let request = DescribeConfigsRequest::default()
        .with_resources((0..4_000).map(|_| resource(2, "wire", None)).collect());
    let response: DescribeConfigsResponse =
        client.request(ApiKey::DescribeConfigs, 4, &request).await;
    let answered: usize = response.results.iter().map(|result| result.configs.len()).sum();
    assert!(
        answered
            <= riffle::limits::DESCRIBE_CONFIGS_ENTRIES_MAX
                + riffle::config::topic::TOPIC_CONFIGS.len()
    );
    assert_eq!(response.results.last().unwrap().error_code, 42);
    assert_eq!(response.results[0].error_code, 0);
    // Without include_synonyms or include_documentation, neither is sent.
    let request = DescribeConfigsRequest::default().with_resources(vec![resource(
        2,
        "wire",
        Some(&["retention.ms"]),
    )]);
    let response: DescribeConfigsResponse =
        client.request(ApiKey::DescribeConfigs, 4, &request).await;
    let retention = &response.results[0].configs[0];
    assert!(retention.synonyms.is_empty());
    assert!(retention.documentation.is_none());
}

mod alter {
    use super::*;
    use common::{producer_config, record_batch};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ProduceRequest,
        ProduceResponse, TopicName, incremental_alter_configs_request as incremental,
    };
    use rdkafka::admin::AlterConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    fn text(value: &str) -> StrBytes {
        StrBytes::from_string(value.to_owned())
    }

    fn incremental_resource(
        resource_type: i8,
        name: &str,
        changes: &[(&str, i8, Option<&str>)],
    ) -> incremental::AlterConfigsResource {
        incremental::AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(text(name))
            .with_configs(
                changes
                    .iter()
                    .map(|(name, op, value)| {
                        incremental::AlterableConfig::default()
                            .with_name(text(name))
                            .with_config_operation(*op)
                            .with_value(value.map(text))
                    })
                    .collect(),
            )
    }

    async fn incremental_alter(
        client: &mut RawClient,
        resources: Vec<incremental::AlterConfigsResource>,
        validate_only: bool,
    ) -> Vec<(i16, String)> {
        let request = IncrementalAlterConfigsRequest::default()
            .with_resources(resources)
            .with_validate_only(validate_only);
        let response: IncrementalAlterConfigsResponse =
            client.request(ApiKey::IncrementalAlterConfigs, 1, &request).await;
        response
            .responses
            .iter()
            .map(|result| {
                let message = result.error_message.as_ref().map(ToString::to_string);
                (result.error_code, message.unwrap_or_default())
            })
            .collect()
    }

    fn overrides(broker: &TestBroker, topic: &str) -> std::collections::BTreeMap<String, String> {
        broker.broker().metadata().image().topic(topic).unwrap().configs.clone()
    }

    /// Produces one batch of `value_bytes`; returns (error code, log_append_time_ms).
    async fn produce(client: &mut RawClient, topic: &str, value_bytes: usize) -> (i16, i64) {
        let value = vec![b'v'; value_bytes];
        let batch = record_batch(
            &[(Some(b"k".as_slice()), Some(value.as_slice()))],
            1_600_000_000_000,
            kafka_protocol::records::Compression::None,
        );
        let request =
            ProduceRequest::default().with_acks(1).with_timeout_ms(5_000).with_topic_data(vec![
                TopicProduceData::default().with_name(TopicName(text(topic))).with_partition_data(
                    vec![PartitionProduceData::default().with_index(0).with_records(Some(batch))],
                ),
            ]);
        let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
        let partition = &response.responses[0].partition_responses[0];
        (partition.error_code, partition.log_append_time_ms)
    }

    #[tokio::test]
    async fn incremental_changes_apply_live_and_survive_a_restart() {
        let mut broker = TestBroker::start().await;
        create_topic(&broker.bootstrap(), "live", 1, &[("retention.ms", "1000")]).await;
        let mut client = RawClient::connect(broker.address()).await;
        assert_eq!(produce(&mut client, "live", 2_000).await, (0, -1));

        let answers = incremental_alter(
            &mut client,
            vec![incremental_resource(
                2,
                "live",
                &[
                    ("max.message.bytes", 0, Some("1000")),
                    ("message.timestamp.type", 0, Some("LogAppendTime")),
                    ("retention.ms", 1, None),
                    ("cleanup.policy", 2, Some("compact")),
                ],
            )],
            false,
        )
        .await;
        assert_eq!(answers, [(0, String::new())]);
        let expected: std::collections::BTreeMap<String, String> = [
            ("cleanup.policy", "delete,compact"),
            ("max.message.bytes", "1000"),
            ("message.timestamp.type", "LogAppendTime"),
        ]
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
        assert_eq!(overrides(&broker, "live"), expected);
        // Live, without a restart: the size limit and the broker's timestamps apply.
        assert_eq!(produce(&mut client, "live", 2_000).await.0, 10, "MESSAGE_TOO_LARGE");
        let (code, log_append_time) = produce(&mut client, "live", 10).await;
        assert_eq!(code, 0);
        assert!(log_append_time > 1_600_000_000_000, "LogAppendTime stamped: {log_append_time}");

        // validate_only changes nothing.
        let answers = incremental_alter(
            &mut client,
            vec![incremental_resource(2, "live", &[("max.message.bytes", 0, Some("5000"))])],
            true,
        )
        .await;
        assert_eq!(answers[0].0, 0);
        assert_eq!(overrides(&broker, "live"), expected);

        broker.restart().await;
        assert_eq!(overrides(&broker, "live"), expected, "recorded in the metadata log");
        let mut client = RawClient::connect(broker.address()).await;
        assert_eq!(produce(&mut client, "live", 2_000).await.0, 10, "applied again at start");
    }

    #[tokio::test]
    async fn refused_changes_carry_kafka_codes_per_resource() {
        let broker = TestBroker::start().await;
        create_topic(&broker.bootstrap(), "strict", 1, &[]).await;
        let mut client = RawClient::connect(broker.address()).await;
        let answers = incremental_alter(
            &mut client,
            vec![
                incremental_resource(2, "strict", &[("retention.ms", 0, Some("soon"))]),
                incremental_resource(2, "absent", &[("retention.ms", 0, Some("1"))]),
                incremental_resource(2, "other", &[("no.such.config", 0, Some("1"))]),
                incremental_resource(4, "1", &[("num.partitions", 0, Some("3"))]),
                incremental_resource(4, "9", &[("num.partitions", 0, Some("3"))]),
            ],
            false,
        )
        .await;
        let codes: Vec<i16> = answers.iter().map(|(code, _)| *code).collect();
        // An unknown key on a missing topic is INVALID_CONFIG: KRaft validates the change
        // before it checks that the topic exists.
        assert_eq!(codes, [40, 3, 40, 42, 42]);
        let answers = incremental_alter(
            &mut client,
            vec![
                incremental_resource(2, "other", &[("retention.ms", 0, None)]),
                incremental_resource(2, "", &[("retention.ms", 0, Some("5"))]),
                incremental_resource(2, "strict", &[("no.such.config", 1, None)]),
            ],
            false,
        )
        .await;
        let codes: Vec<i16> = answers.iter().map(|(code, _)| *code).collect();
        assert_eq!(
            codes,
            [42, 42, 0],
            "null SET (before the existence check), default topic resource, unknown DELETE"
        );
        assert!(answers[0].1.contains("retention.ms"), "{}", answers[0].1);
        create_topic(&broker.bootstrap(), "other", 1, &[]).await;
        let answers = incremental_alter(
            &mut client,
            vec![
                incremental_resource(2, "other", &[("no.such.config", 0, Some("1"))]),
                incremental_resource(2, "strict", &[("segment.ms", 2, Some("5"))]),
                incremental_resource(2, "strict", &[("retention.ms", 9, Some("5"))]),
                incremental_resource(2, "bad/name", &[("retention.ms", 0, Some("5"))]),
            ],
            false,
        )
        .await;
        let codes: Vec<i16> = answers.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, [40, 42, 42, 17], "{answers:?}");
        let answers = incremental_alter(
            &mut client,
            vec![
                incremental_resource(2, "strict", &[("segment.ms", 2, Some("5"))]),
                incremental_resource(2, "other", &[("retention.ms", 9, Some("5"))]),
            ],
            false,
        )
        .await;
        let codes: Vec<i16> = answers.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, [40, 42], "APPEND to a non-list, unknown operation: {answers:?}");
        assert!(overrides(&broker, "strict").is_empty(), "nothing refused was applied");

        // The legacy AlterConfigs answers the same way.
        use kafka_protocol::messages::{
            AlterConfigsRequest, AlterConfigsResponse, alter_configs_request,
        };
        let legacy = |resource_type: i8, name: &str, key: &str, value: &str| {
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(text(name))
                .with_configs(vec![
                    alter_configs_request::AlterableConfig::default()
                        .with_name(text(key))
                        .with_value(Some(text(value))),
                ])
        };
        for version in 0..=2 {
            let request = AlterConfigsRequest::default().with_resources(vec![
                legacy(2, "strict", "segment.bytes", "-5"),
                legacy(2, "absent", "segment.bytes", "1048576"),
                legacy(4, "1", "num.partitions", "2"),
                legacy(2, "other", "segment.bytes", "1048576"),
            ]);
            let response: AlterConfigsResponse =
                client.request(ApiKey::AlterConfigs, version, &request).await;
            let codes: Vec<i16> =
                response.responses.iter().map(|result| result.error_code).collect();
            assert_eq!(codes, [40, 3, 42, 0], "v{version}");
        }
        assert_eq!(
            overrides(&broker, "other").get("segment.bytes").map(String::as_str),
            Some("1048576")
        );
        assert!(overrides(&broker, "strict").is_empty());
    }

    #[tokio::test]
    async fn rdkafka_alter_configs_replaces_the_overrides() {
        let broker = TestBroker::start().await;
        let bootstrap = broker.bootstrap();
        create_topic(&bootstrap, "legacy", 1, &[("retention.ms", "1000"), ("segment.ms", "60000")])
            .await;
        let admin = admin(&bootstrap);
        let results = admin
            .alter_configs(
                &[AlterConfig::new(ResourceSpecifier::Topic("legacy"))
                    .set("segment.bytes", "1048576")],
                &options(),
            )
            .await
            .expect("alter configs request");
        assert!(results[0].is_ok(), "{results:?}");
        let expected: std::collections::BTreeMap<String, String> =
            [("segment.bytes".to_owned(), "1048576".to_owned())].into();
        assert_eq!(overrides(&broker, "legacy"), expected, "the others went back to defaults");
        let described = admin
            .describe_configs(&[ResourceSpecifier::Topic("legacy")], &options())
            .await
            .unwrap();
        let described = described[0].as_ref().unwrap();
        let entries = described.entry_map();
        assert_eq!(entries["segment.bytes"].source, ConfigSource::DynamicTopic);
        assert_eq!(entries["retention.ms"].source, ConfigSource::Default);
        let refused = admin
            .alter_configs(
                &[AlterConfig::new(ResourceSpecifier::Topic("legacy")).set("segment.bytes", "-5")],
                &options(),
            )
            .await
            .unwrap();
        // (The rdkafka crate reports every AlterConfigs resource as Ok; the broker's refusal
        // shows in the unchanged overrides.)
        assert_eq!(refused.len(), 1);
        assert_eq!(overrides(&broker, "legacy"), expected, "the invalid value was refused");

        // A produce still works under the new config (the producer sees no change).
        let producer: FutureProducer = producer_config(&bootstrap, &[]).create().unwrap();
        producer
            .send(FutureRecord::to("legacy").key("k").payload("v"), Duration::from_secs(10))
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }

    /// Describes broker resource `name` over the wire: (config, value, source) per entry.
    async fn describe_broker(client: &mut RawClient, name: &str) -> Vec<(String, String, i8)> {
        let request = DescribeConfigsRequest::default()
            .with_resources(vec![resource(4, name, None)])
            .with_include_synonyms(true);
        let response: DescribeConfigsResponse =
            client.request(ApiKey::DescribeConfigs, 4, &request).await;
        assert_eq!(response.results[0].error_code, 0);
        response.results[0]
            .configs
            .iter()
            .map(|config| {
                let value = config.value.as_ref().map(ToString::to_string).unwrap_or_default();
                (config.name.to_string(), value, config.config_source)
            })
            .collect()
    }

    #[tokio::test]
    async fn dynamic_broker_configs_apply_live_and_survive_a_restart() {
        let mut broker = TestBroker::start_with(&[("log.retention.hours", "2")]).await;
        let bootstrap = broker.bootstrap();
        create_topic(&bootstrap, "follows", 1, &[]).await;
        create_topic(&bootstrap, "pinned", 1, &[("max.message.bytes", "5000")]).await;
        let mut client = RawClient::connect(broker.address()).await;
        assert_eq!(produce(&mut client, "follows", 2_000).await.0, 0);

        // Per broker, with the rdkafka admin client (legacy AlterConfigs).
        let admin = admin(&bootstrap);
        let results = admin
            .alter_configs(
                &[AlterConfig::new(ResourceSpecifier::Broker(1)).set("message.max.bytes", "1000")],
                &options(),
            )
            .await
            .expect("alter configs request");
        assert!(results[0].is_ok(), "{results:?}");
        assert_eq!(produce(&mut client, "follows", 2_000).await.0, 10, "live: MESSAGE_TOO_LARGE");
        assert_eq!(produce(&mut client, "pinned", 2_000).await.0, 0, "the topic override wins");
        let described = admin
            .describe_configs(
                &[ResourceSpecifier::Broker(1), ResourceSpecifier::Topic("follows")],
                &options(),
            )
            .await
            .unwrap();
        let broker_entries = described[0].as_ref().unwrap().entry_map();
        let max = broker_entries["message.max.bytes"];
        assert_eq!(max.value.as_deref(), Some("1000"));
        assert_eq!(max.source, ConfigSource::DynamicBroker);
        assert!(!max.is_read_only);
        assert!(broker_entries["num.partitions"].is_read_only);
        let topic_entries = described[1].as_ref().unwrap().entry_map();
        let max = topic_entries["max.message.bytes"];
        assert_eq!(
            (max.value.as_deref(), &max.source),
            (Some("1000"), &ConfigSource::DynamicBroker)
        );

        // Cluster-wide defaults (the empty broker name), incrementally.
        let answers = incremental_alter(
            &mut client,
            vec![incremental_resource(
                4,
                "",
                &[("log.retention.ms", 0, Some("5000")), ("message.max.bytes", 0, Some("3000"))],
            )],
            false,
        )
        .await;
        assert_eq!(answers, [(0, String::new())]);
        let defaults = describe_broker(&mut client, "").await;
        assert_eq!(
            defaults,
            [
                ("log.retention.ms".to_owned(), "5000".to_owned(), 3),
                ("message.max.bytes".to_owned(), "3000".to_owned(), 3)
            ]
        );
        assert_eq!(produce(&mut client, "follows", 2_000).await.0, 10, "per broker beats default");

        // Refusals: INVALID_REQUEST naming the key, as Kafka answers for broker resources.
        let mut answers = Vec::new();
        for (name, key, value) in [
            ("1", "log.retention.ms", "soon"),
            ("", "log.segment.bytes", "-1"),
            ("1", "num.io.threads", "8"),
            ("x", "log.retention.ms", "1"),
        ] {
            let resource = incremental_resource(4, name, &[(key, 0, Some(value))]);
            answers.extend(incremental_alter(&mut client, vec![resource], false).await);
        }
        let codes: Vec<i16> = answers.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, [42, 42, 42, 42], "{answers:?}");
        assert!(answers[0].1.contains("log.retention.ms"), "{}", answers[0].1);
        assert!(answers[2].1.contains("Cannot update these configs dynamically"), "{answers:?}");

        broker.restart().await;
        let mut client = RawClient::connect(broker.address()).await;
        assert_eq!(produce(&mut client, "follows", 2_000).await.0, 10, "applied again at start");
        let entries = describe_broker(&mut client, "1").await;
        let find = |name: &str| entries.iter().find(|entry| entry.0 == name).cloned().unwrap();
        assert_eq!(find("message.max.bytes"), ("message.max.bytes".into(), "1000".into(), 2));
        assert_eq!(find("log.retention.ms"), ("log.retention.ms".into(), "5000".into(), 3));
        assert_eq!(find("log.retention.hours"), ("log.retention.hours".into(), "2".into(), 4));

        // Deleting the per-broker value lets the cluster default apply, live.
        let answers = incremental_alter(
            &mut client,
            vec![incremental_resource(4, "1", &[("message.max.bytes", 1, None)])],
            false,
        )
        .await;
        assert_eq!(answers, [(0, String::new())]);
        assert_eq!(produce(&mut client, "follows", 2_000).await.0, 0, "3000 is the limit now");
        assert_eq!(produce(&mut client, "follows", 4_000).await.0, 10);
    }
}
