//! ElectLeaders on a single node: nothing ever needs electing.

mod common;

use common::{RawClient, TestBroker, create_topic};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

fn partitions(topic: &str, indexes: &[i32]) -> TopicPartitions {
    TopicPartitions::default()
        .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partitions(indexes.to_vec())
}

#[tokio::test]
async fn every_partition_already_has_its_preferred_leader() {
    let broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "led", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in 0..=2 {
        let mut request = ElectLeadersRequest::default()
            .with_topic_partitions(Some(vec![
                partitions("led", &[0, 1, 5]),
                partitions("absent", &[0]),
            ]))
            .with_timeout_ms(10_000);
        if version >= 1 {
            request = request.with_election_type(i8::try_from(version - 1).unwrap());
        }
        let response: ElectLeadersResponse =
            client.request(ApiKey::ElectLeaders, version, &request).await;
        let codes: Vec<Vec<i16>> = response
            .replica_election_results
            .iter()
            .map(|topic| topic.partition_result.iter().map(|result| result.error_code).collect())
            .collect();
        assert_eq!(codes, [vec![84, 84, 3], vec![3]], "v{version}");

        // All partitions: those that already have their leader are left out, as in Kafka.
        let all =
            ElectLeadersRequest::default().with_topic_partitions(None).with_timeout_ms(10_000);
        let response: ElectLeadersResponse =
            client.request(ApiKey::ElectLeaders, version, &all).await;
        assert_eq!(response.error_code, 0);
        assert!(response.replica_election_results.is_empty());
    }
    let unknown_type = ElectLeadersRequest::default()
        .with_election_type(7)
        .with_topic_partitions(Some(vec![partitions("led", &[0])]));
    let response: ElectLeadersResponse =
        client.request(ApiKey::ElectLeaders, 2, &unknown_type).await;
    assert_eq!(response.error_code, 42);
}
