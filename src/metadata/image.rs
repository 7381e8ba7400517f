//! The in-memory image of the cluster metadata, built only by replaying records.
//!
//! Readers share an immutable `Arc<MetadataImage>`; a change builds the next image with
//! [`MetadataImage::replay`] and publishes it whole, so a request never sees half a change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use uuid::Uuid;

use super::records::{MetadataRecord, RESOURCE_TYPE_BROKER, RESOURCE_TYPE_TOPIC};

/// One partition's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: Vec<PartitionImage>,
    /// Topic config overrides (key -> value).
    pub configs: BTreeMap<String, String>,
}

impl TopicImage {
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).expect("partition count fits i32")
    }

    pub fn replication_factor(&self) -> i16 {
        self.partitions
            .first()
            .map_or(0, |partition| i16::try_from(partition.replicas.len()).unwrap_or(i16::MAX))
    }
}

/// The whole metadata image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// Topics by name, sorted (Metadata lists them in this order).
    pub topics: BTreeMap<String, Arc<TopicImage>>,
    pub topic_names_by_id: HashMap<Uuid, String>,
    /// The offset of the last record replayed.
    pub last_offset: i64,
    /// The first producer id not yet handed out (KRaft's `ProducerIdsRecord`).
    pub next_producer_id: i64,
    /// Dynamic broker configs by resource name ("" for the cluster default, else a node id).
    pub broker_configs: BTreeMap<String, BTreeMap<String, String>>,
}

impl MetadataImage {
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.topics.get(name)
    }

    /// Whether `topic` exists and has partition `partition`.
    pub fn has_partition(&self, topic: &str, partition: i32) -> bool {
        self.topic(topic).is_some_and(|topic| (0..topic.partition_count()).contains(&partition))
    }

    pub fn topic_by_id(&self, topic_id: Uuid) -> Option<&Arc<TopicImage>> {
        self.topic_names_by_id.get(&topic_id).and_then(|name| self.topics.get(name))
    }

    /// The dynamic configs of broker resource `name` ("" for the cluster default).
    pub fn broker_configs(&self, name: &str) -> BTreeMap<String, String> {
        self.broker_configs.get(name).cloned().unwrap_or_default()
    }

    pub fn total_partitions(&self) -> usize {
        self.topics.values().map(|topic| topic.partitions.len()).sum()
    }

    /// Applies one record. Records are written only after validation, so an inconsistent
    /// record means a damaged metadata log: an error stops start-up.
    pub fn replay(&mut self, offset: i64, record: MetadataRecord) -> Result<(), String> {
        match record {
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(&name) || self.topic_names_by_id.contains_key(&topic_id)
                {
                    return Err(format!("topic {name} created twice"));
                }
                self.topic_names_by_id.insert(topic_id, name.clone());
                let topic = TopicImage {
                    name: name.clone(),
                    topic_id,
                    partitions: Vec::new(),
                    configs: BTreeMap::new(),
                };
                self.topics.insert(name, Arc::new(topic));
            }
            MetadataRecord::Partition { topic_id, partition, replicas, leader, leader_epoch } => {
                let topic = self.topic_mut(topic_id)?;
                if usize::try_from(partition).ok() != Some(topic.partitions.len()) {
                    return Err(format!("partition {partition} of {} out of order", topic.name));
                }
                topic.partitions.push(PartitionImage { replicas, leader, leader_epoch });
            }
            MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name,
                name,
                value,
            } => {
                let topic_id = self
                    .topic(&resource_name)
                    .map(|topic| topic.topic_id)
                    .ok_or_else(|| format!("config for unknown topic {resource_name}"))?;
                let topic = self.topic_mut(topic_id)?;
                match value {
                    Some(value) => topic.configs.insert(name, value),
                    None => topic.configs.remove(&name),
                };
            }
            MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_BROKER,
                resource_name,
                name,
                value,
            } => {
                let configs = self.broker_configs.entry(resource_name.clone()).or_default();
                match value {
                    Some(value) => configs.insert(name, value),
                    None => configs.remove(&name),
                };
                if configs.is_empty() {
                    self.broker_configs.remove(&resource_name);
                }
            }
            MetadataRecord::Config { resource_type, .. } => {
                return Err(format!(
                    "config records for resource type {resource_type} are not supported yet"
                ));
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let name = self
                    .topic_names_by_id
                    .remove(&topic_id)
                    .ok_or("removal of an unknown topic id")?;
                self.topics.remove(&name);
            }
            MetadataRecord::ProducerIds { next_producer_id, .. } => {
                if next_producer_id <= self.next_producer_id {
                    return Err(format!(
                        "producer ids would go back from {} to {next_producer_id}",
                        self.next_producer_id
                    ));
                }
                self.next_producer_id = next_producer_id;
            }
        }
        self.last_offset = offset;
        Ok(())
    }

    fn topic_mut(&mut self, topic_id: Uuid) -> Result<&mut TopicImage, String> {
        let name = self
            .topic_names_by_id
            .get(&topic_id)
            .ok_or_else(|| format!("unknown topic id {topic_id}"))?;
        let topic = self.topics.get_mut(name).expect("ids and names agree");
        Ok(Arc::make_mut(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_builds_topics_configs_and_removals() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::new_v4();
        let records = [
            MetadataRecord::Topic { name: "t".into(), topic_id },
            MetadataRecord::Partition {
                topic_id,
                partition: 0,
                replicas: vec![1],
                leader: 1,
                leader_epoch: 0,
            },
            MetadataRecord::Partition {
                topic_id,
                partition: 1,
                replicas: vec![1],
                leader: 1,
                leader_epoch: 0,
            },
            MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "t".into(),
                name: "segment.bytes".into(),
                value: Some("1000".into()),
            },
        ];
        for (offset, record) in records.into_iter().enumerate() {
            image.replay(i64::try_from(offset).unwrap(), record).unwrap();
        }
        let topic = image.topic("t").unwrap();
        assert_eq!(topic.partition_count(), 2);
        assert_eq!(topic.replication_factor(), 1);
        assert_eq!(topic.configs["segment.bytes"], "1000");
        assert_eq!(image.topic_by_id(topic_id).unwrap().name, "t");
        assert_eq!(image.total_partitions(), 2);
        image.replay(4, MetadataRecord::RemoveTopic { topic_id }).unwrap();
        assert!(image.topics.is_empty());
        assert!(image.topic_names_by_id.is_empty());
        assert_eq!(image.last_offset, 4);
    }

    #[test]
    fn inconsistent_records_are_errors() {
        let mut image = MetadataImage::default();
        let topic_id = Uuid::new_v4();
        assert!(image.replay(0, MetadataRecord::RemoveTopic { topic_id }).is_err());
        image.replay(0, MetadataRecord::Topic { name: "t".into(), topic_id }).unwrap();
        assert!(
            image
                .replay(1, MetadataRecord::Topic { name: "t".into(), topic_id: Uuid::new_v4() })
                .is_err()
        );
        let out_of_order = MetadataRecord::Partition {
            topic_id,
            partition: 5,
            replicas: vec![1],
            leader: 1,
            leader_epoch: 0,
        };
        assert!(image.replay(1, out_of_order).is_err());
    }
}
