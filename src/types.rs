//! Small value types shared across modules, named in Kafka's vocabulary.

use std::fmt;
use std::sync::Arc;

/// The leader epoch this single-node broker stamps on every batch. With replication
/// (later) the controller bumps it on each leader change.
pub const SINGLE_NODE_LEADER_EPOCH: i32 = 0;

/// A topic name and partition index.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        Self { topic: topic.into(), partition }
    }

    /// Kafka's partition directory name: `<topic>-<partition>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl fmt::Debug for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How a partition's record timestamps are set (`message.timestamp.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The broker overwrites the batch timestamp with its clock at append.
    LogAppendTime,
}

/// Kafka's isolation levels for Fetch and ListOffsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    ReadUncommitted,
    ReadCommitted,
}

impl IsolationLevel {
    /// Decodes the wire value; Kafka treats anything other than 1 as read_uncommitted.
    pub fn from_wire(value: i8) -> Self {
        if value == 1 { Self::ReadCommitted } else { Self::ReadUncommitted }
    }
}

const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Kafka's text form of a UUID (topic ids, cluster ids): URL-safe base64 of the 16 bytes,
/// without padding (22 characters), as `org.apache.kafka.common.Uuid.toString`.
pub fn uuid_to_kafka_string(uuid: uuid::Uuid) -> String {
    let bytes = uuid.as_bytes();
    let mut text = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        let symbols = chunk.len() + 1;
        for index in 0..symbols {
            let sextet = (bits >> (18 - 6 * index)) & 0x3f;
            text.push(char::from(BASE64_URL[usize::try_from(sextet).expect("six bits")]));
        }
    }
    text
}

/// Parses Kafka's text form of a UUID.
pub fn uuid_from_kafka_string(text: &str) -> Option<uuid::Uuid> {
    if text.len() != 22 {
        return None;
    }
    let mut bytes = Vec::with_capacity(18);
    for chunk in text.as_bytes().chunks(4) {
        let mut bits: u32 = 0;
        for &symbol in chunk {
            let value = BASE64_URL.iter().position(|candidate| *candidate == symbol)?;
            bits = bits << 6 | u32::try_from(value).ok()?;
        }
        bits <<= 6 * (4 - chunk.len());
        let produced = chunk.len() - 1;
        bytes.extend_from_slice(&bits.to_be_bytes()[1..=produced]);
    }
    uuid::Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_uuid_strings_round_trip() {
        // Kafka's Uuid.toString of 00..0f bytes.
        let uuid = uuid::Uuid::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(uuid_to_kafka_string(uuid), "AAECAwQFBgcICQoLDA0ODw");
        for _ in 0..100 {
            let uuid = uuid::Uuid::new_v4();
            let text = uuid_to_kafka_string(uuid);
            assert_eq!(text.len(), 22);
            assert_eq!(uuid_from_kafka_string(&text), Some(uuid));
        }
        assert_eq!(uuid_from_kafka_string("short"), None);
        assert_eq!(uuid_from_kafka_string("AAECAwQFBgcICQoLDA0O*w"), None);
    }

    #[test]
    fn partition_dir_names() {
        assert_eq!(TopicPartition::new("my-topic", 12).dir_name(), "my-topic-12");
    }
}
