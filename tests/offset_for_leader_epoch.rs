//! OffsetForLeaderEpoch over raw frames: answers from the partition's leader-epoch cache,
//! Kafka's refusals, and the `leader-epoch-checkpoint` file following DeleteRecords, restart
//! and loss of the file.

mod common;

use common::{RawClient, TestBroker, create_topic, record_batch};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DeleteRecordsRequest, DeleteRecordsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

async fn produce(client: &mut RawClient, topic: &str, records: usize) {
    let values: Vec<Vec<u8>> = (0..records).map(|index| format!("v{index}").into_bytes()).collect();
    let records: Vec<common::KeyValue<'_>> =
        values.iter().map(|value| (None, Some(value.as_slice()))).collect();
    let batch =
        record_batch(&records, 1_700_000_000_000, kafka_protocol::records::Compression::None);
    let request =
        ProduceRequest::default().with_acks(-1).with_timeout_ms(5_000).with_topic_data(vec![
            TopicProduceData::default().with_name(name(topic)).with_partition_data(vec![
                PartitionProduceData::default().with_index(0).with_records(Some(batch)),
            ]),
        ]);
    let response: ProduceResponse = client.request(ApiKey::Produce, 9, &request).await;
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}

/// (partition, current leader epoch, leader epoch) -> (error, leader epoch, end offset).
async fn ask(
    client: &mut RawClient,
    version: i16,
    topic: &str,
    partitions: &[(i32, i32, i32)],
) -> Vec<(i16, i32, i64)> {
    let partitions = partitions
        .iter()
        .map(|&(partition, current_leader_epoch, leader_epoch)| {
            OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(current_leader_epoch)
                .with_leader_epoch(leader_epoch)
        })
        .collect();
    let request =
        OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
            OffsetForLeaderTopic::default().with_topic(name(topic)).with_partitions(partitions),
        ]);
    let response: OffsetForLeaderEpochResponse =
        client.request(ApiKey::OffsetForLeaderEpoch, version, &request).await;
    assert_eq!(response.topics.len(), 1);
    response.topics[0]
        .partitions
        .iter()
        .map(|answer| (answer.error_code, answer.leader_epoch, answer.end_offset))
        .collect()
}

fn checkpoint(broker: &TestBroker, topic: &str) -> Option<String> {
    std::fs::read_to_string(broker.data_dir().join(format!("{topic}-0/leader-epoch-checkpoint")))
        .ok()
}

#[tokio::test]
async fn end_offsets_come_from_the_leader_epoch_cache() {
    let mut broker = TestBroker::start().await;
    create_topic(&broker.bootstrap(), "epochs", 2, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;
    assert_eq!(
        checkpoint(&broker, "epochs").as_deref(),
        Some("0\n1\n0 0\n"),
        "the leader's epoch starts at the log end from the start"
    );
    let questions =
        [(0, -1, 0), (0, 0, 0), (0, -1, 1), (1, -1, 0), (7, -1, 0), (0, 1, 0), (0, -1, -1)];
    for version in 2..=4 {
        assert_eq!(
            ask(&mut client, version, "epochs", &questions[..4]).await,
            [(0, 0, 0), (0, 0, 0), (0, -1, -1), (0, 0, 0)],
            "an empty log: the current epoch ends at the log end, v{version}"
        );
    }
    produce(&mut client, "epochs", 10).await;
    produce(&mut client, "epochs", 5).await;
    assert_eq!(checkpoint(&broker, "epochs").as_deref(), Some("0\n1\n0 0\n"));
    for version in 2..=4 {
        assert_eq!(
            ask(&mut client, version, "epochs", &questions).await,
            [
                (0, 0, 15),
                (0, 0, 15),
                (0, -1, -1),
                (0, 0, 0),
                (3, -1, -1),
                (75, -1, -1),
                (0, -1, -1),
            ],
            "latest epoch ends at the log end; newer unknown; empty partition; unknown \
             partition; UNKNOWN_LEADER_EPOCH; no epoch, v{version}"
        );
    }
    assert_eq!(ask(&mut client, 4, "absent", &[(0, -1, 0)]).await, [(3, -1, -1)]);

    // DeleteRecords moves the epoch's start up with the log start.
    let delete = DeleteRecordsRequest::default()
        .with_topics(vec![DeleteRecordsTopic::default().with_name(name("epochs")).with_partitions(
            vec![DeleteRecordsPartition::default().with_partition_index(0).with_offset(12)],
        )])
        .with_timeout_ms(5_000);
    let response: DeleteRecordsResponse = client.request(ApiKey::DeleteRecords, 2, &delete).await;
    assert_eq!(response.topics[0].partitions[0].error_code, 0);
    assert_eq!(checkpoint(&broker, "epochs").as_deref(), Some("0\n1\n0 12\n"));

    broker.restart().await;
    let mut client = RawClient::connect(broker.address()).await;
    assert_eq!(ask(&mut client, 4, "epochs", &[(0, 0, 0)]).await, [(0, 0, 15)], "after restart");

    // A lost checkpoint is rebuilt from the batches, from the log start.
    broker.stop().await;
    std::fs::remove_file(broker.data_dir().join("epochs-0/leader-epoch-checkpoint")).unwrap();
    broker.restart().await;
    assert_eq!(checkpoint(&broker, "epochs").as_deref(), Some("0\n1\n0 12\n"), "rebuilt");
    let mut client = RawClient::connect(broker.address()).await;
    produce(&mut client, "epochs", 1).await;
    assert_eq!(ask(&mut client, 3, "epochs", &[(0, 0, 0)]).await, [(0, 0, 16)]);
}
