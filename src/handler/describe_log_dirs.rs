//! DescribeLogDirs (key 35): the data directory and, per partition, the bytes its log holds.
//!
//! Riffle has one data directory, so the answer has one entry, named by its absolute path.
//! Null topics asks for every partition; named topics and partitions that do not exist are
//! left out, as Kafka leaves out what a directory does not hold, and a partition named twice
//! is described once (Kafka collects them into a set). The offset lag of a leader's
//! own log is 0 and no partition is a future replica. The volume's total and usable bytes
//! (v4) are -1, Kafka's "unknown": reading them needs `statvfs`, which this crate's
//! `unsafe_code = forbid` keeps out for now.

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::log::partition_log::PartitionLog;

pub async fn handle(
    context: &RequestContext<'_>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let logs = context.broker.logs();
    let data_dir = std::fs::canonicalize(logs.data_dir())
        .unwrap_or_else(|_| logs.data_dir().to_owned())
        .display()
        .to_string();
    let wanted: Vec<(String, Vec<i32>)> = match &request.topics {
        None => logs
            .all_topics()
            .into_iter()
            .map(|(name, topic)| {
                let count = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
                (name.to_string(), (0..count).collect())
            })
            .collect(),
        Some(topics) => {
            topics.iter().map(|topic| (topic.topic.to_string(), topic.partitions.clone())).collect()
        }
    };
    let mut seen = std::collections::HashSet::new();
    let topics: Vec<DescribeLogDirsTopic> = wanted
        .into_iter()
        .filter_map(|(name, partitions)| {
            let partitions: Vec<DescribeLogDirsPartition> = partitions
                .into_iter()
                .filter(|index| seen.insert((name.clone(), *index)))
                .filter_map(|index| logs.partition(&name, index).map(|log| describe(index, &log)))
                .collect();
            (!partitions.is_empty()).then(|| {
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
        })
        .collect();
    let result = DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_string(data_dir))
        .with_topics(topics)
        .with_total_bytes(-1)
        .with_usable_bytes(-1);
    DescribeLogDirsResponse::default().with_results(vec![result])
}

fn describe(index: i32, log: &PartitionLog) -> DescribeLogDirsPartition {
    DescribeLogDirsPartition::default()
        .with_partition_index(index)
        .with_partition_size(i64::try_from(log.size_bytes()).unwrap_or(i64::MAX))
        .with_offset_lag(0)
        .with_is_future_key(false)
}
