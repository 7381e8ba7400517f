//! DescribeTopicPartitions over raw frames: every topic or named ones, in name order, paged
//! by the partition limit and the cursor, with Kafka's per-topic errors.

mod common;

use common::{RawClient, TestBroker, create_topic};
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::{
    ApiKey, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// Asks; returns each topic as (name, error, [partitions]) and the next cursor.
async fn describe(
    client: &mut RawClient,
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>) {
    let request = DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics.iter().map(|topic| TopicRequest::default().with_name(name(topic))).collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(topic, partition)| {
            Cursor::default().with_topic_name(name(topic)).with_partition_index(partition)
        }));
    let response: DescribeTopicPartitionsResponse =
        client.request(ApiKey::DescribeTopicPartitions, 0, &request).await;
    let topics = response
        .topics
        .iter()
        .map(|topic| {
            let topic_name = topic.name.as_ref().map(|name| name.to_string()).unwrap_or_default();
            let partitions = topic.partitions.iter().map(|p| p.partition_index).collect();
            (topic_name, topic.error_code, partitions)
        })
        .collect();
    let next =
        response.next_cursor.map(|cursor| (cursor.topic_name.to_string(), cursor.partition_index));
    (topics, next)
}

fn listed(entries: &[(&str, i16, &[i32])]) -> Vec<(String, i16, Vec<i32>)> {
    entries.iter().map(|(name, code, parts)| ((*name).to_owned(), *code, parts.to_vec())).collect()
}

#[tokio::test]
async fn topics_are_paged_in_name_order() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "b", 2, &[]).await;
    create_topic(&bootstrap, "a", 3, &[]).await;
    create_topic(&bootstrap, "c", 1, &[]).await;
    let mut client = RawClient::connect(broker.address()).await;

    let (topics, next) = describe(&mut client, &[], 2000, None).await;
    assert_eq!(topics, listed(&[("a", 0, &[0, 1, 2]), ("b", 0, &[0, 1]), ("c", 0, &[0])]));
    assert_eq!(next, None);

    // Four partitions a page: the cursor points into b, then the rest follows.
    let (topics, next) = describe(&mut client, &[], 4, None).await;
    assert_eq!(topics, listed(&[("a", 0, &[0, 1, 2]), ("b", 0, &[0])]));
    assert_eq!(next, Some(("b".to_owned(), 1)));
    let (topics, next) = describe(&mut client, &[], 4, Some(("b", 1))).await;
    assert_eq!(topics, listed(&[("b", 0, &[1]), ("c", 0, &[0])]));
    assert_eq!(next, None);
    // A page that ends with a topic points at the next topic's start.
    let (topics, next) = describe(&mut client, &[], 3, None).await;
    assert_eq!(topics, listed(&[("a", 0, &[0, 1, 2])]));
    assert_eq!(next, Some(("b".to_owned(), 0)));
    // A limit below one still lists one partition.
    let (topics, next) = describe(&mut client, &["a"], 0, None).await;
    assert_eq!(topics, listed(&[("a", 0, &[0])]));
    assert_eq!(next, Some(("a".to_owned(), 1)));

    // Named topics, sorted; missing and illegal names get their errors.
    let (topics, next) =
        describe(&mut client, &["c", "missing", "bad/name", "a"], 2000, None).await;
    assert_eq!(
        topics,
        listed(&[("a", 0, &[0, 1, 2]), ("bad/name", 17, &[]), ("c", 0, &[0]), ("missing", 3, &[])])
    );
    assert_eq!(next, None);

    // A cursor on a topic not asked for, or a negative partition: INVALID_REQUEST throughout.
    let (topics, _) = describe(&mut client, &["a", "c"], 10, Some(("b", 0))).await;
    assert_eq!(topics, listed(&[("a", 42, &[]), ("c", 42, &[])]));
    let (topics, _) = describe(&mut client, &["a"], 10, Some(("a", -1))).await;
    assert_eq!(topics, listed(&[("a", 42, &[])]));
}
