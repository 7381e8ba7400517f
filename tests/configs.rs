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
    assert!(results[0].as_ref().map_or(true, |absent| absent.entries.is_empty()));
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
