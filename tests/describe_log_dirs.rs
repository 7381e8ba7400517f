//! DescribeLogDirs over the wire: the data directory and each partition's bytes on disk.

mod common;

use common::{RawClient, TestBroker, create_topic, producer_config};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::producer::{FutureProducer, FutureRecord};

fn bytes_on_disk(broker: &TestBroker, topic: &str, partition: i32) -> i64 {
    std::fs::read_dir(broker.data_dir().join(format!("{topic}-{partition}")))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
        .map(|entry| i64::try_from(entry.metadata().unwrap().len()).unwrap())
        .sum()
}

#[tokio::test]
async fn partition_sizes_match_the_segment_files() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "sized", 2, &[("segment.bytes", "4096")]).await;
    let producer: FutureProducer =
        producer_config(&bootstrap, &[("acks", "all")]).create().unwrap();
    for index in 0..40 {
        producer
            .send(
                FutureRecord::to("sized")
                    .partition(0)
                    .key("k")
                    .payload(&format!("value-{index:0>300}")),
                std::time::Duration::from_secs(10),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
    let mut client = RawClient::connect(broker.address()).await;
    let expected_dir = std::fs::canonicalize(broker.data_dir()).unwrap().display().to_string();
    for version in 1..=4 {
        let all: DescribeLogDirsResponse = client
            .request(
                ApiKey::DescribeLogDirs,
                version,
                &DescribeLogDirsRequest::default().with_topics(None),
            )
            .await;
        assert_eq!(all.results.len(), 1);
        let dir = &all.results[0];
        assert_eq!((dir.error_code, dir.log_dir.to_string()), (0, expected_dir.clone()));
        let sized = dir.topics.iter().find(|topic| topic.name.as_str() == "sized").unwrap();
        let sizes: Vec<(i32, i64, i64)> = sized
            .partitions
            .iter()
            .map(|partition| {
                (partition.partition_index, partition.partition_size, partition.offset_lag)
            })
            .collect();
        assert_eq!(sizes, [(0, bytes_on_disk(&broker, "sized", 0), 0), (1, 0, 0)], "v{version}");
        assert!(sizes[0].1 > 12_000, "several segments counted");
        if version >= 4 {
            assert_eq!((dir.total_bytes, dir.usable_bytes), (-1, -1));
        }

        let named = DescribeLogDirsRequest::default().with_topics(Some(vec![
            DescribableLogDirTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("sized")))
                .with_partitions(vec![1, 7, 1, 1]),
            DescribableLogDirTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("absent")))
                .with_partitions(vec![0]),
        ]));
        let named: DescribeLogDirsResponse =
            client.request(ApiKey::DescribeLogDirs, version, &named).await;
        let topics: Vec<(String, Vec<i32>)> = named.results[0]
            .topics
            .iter()
            .map(|topic| {
                let partitions =
                    topic.partitions.iter().map(|partition| partition.partition_index).collect();
                (topic.name.to_string(), partitions)
            })
            .collect();
        assert_eq!(
            topics,
            [("sized".to_owned(), vec![1])],
            "what is not here is left out, repeats once"
        );
    }
}
