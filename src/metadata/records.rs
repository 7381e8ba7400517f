//! Metadata records: what the metadata log stores, one per Kafka record value.
//!
//! Value format (version 0), big-endian:
//!
//! ```text
//! u8 frame_version = 0, i16 record_type, i16 record_version, payload
//! TopicRecord        (type 2):  string name, uuid topic_id
//! PartitionRecord    (type 3):  uuid topic_id, i32 partition, i32 replica count, i32 replicas...,
//!                               i32 leader, i32 leader_epoch
//! ConfigRecord       (type 4):  i8 resource_type (2 topic, 4 broker), string resource_name,
//!                               string name, nullable string value (null = delete)
//! RemoveTopicRecord  (type 9):  uuid topic_id
//! ProducerIdsRecord  (type 15): i32 broker_id, i64 broker_epoch, i64 next_producer_id
//!                               (ids below next_producer_id have been handed out)
//! string = i16 length + UTF-8 (-1 = null); uuid = 16 bytes
//! ```
//!
//! Type numbers follow KRaft's metadata record ids so the log reads like Kafka's. Records are
//! written in uncompressed v2 batches, one batch per change, so a change is atomic.

use uuid::Uuid;

const FRAME_VERSION: u8 = 0;
const RECORD_VERSION: i16 = 0;
const TOPIC_RECORD: i16 = 2;
const PARTITION_RECORD: i16 = 3;
const CONFIG_RECORD: i16 = 4;
const REMOVE_TOPIC_RECORD: i16 = 9;
const PRODUCER_IDS_RECORD: i16 = 15;

/// `ConfigResource.Type` values.
pub const RESOURCE_TYPE_TOPIC: i8 = 2;
pub const RESOURCE_TYPE_BROKER: i8 = 4;

/// One change to the cluster metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataRecord {
    Topic { name: String, topic_id: Uuid },
    Partition { topic_id: Uuid, partition: i32, replicas: Vec<i32>, leader: i32, leader_epoch: i32 },
    Config { resource_type: i8, resource_name: String, name: String, value: Option<String> },
    RemoveTopic { topic_id: Uuid },
    ProducerIds { broker_id: i32, broker_epoch: i64, next_producer_id: i64 },
}

impl MetadataRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FRAME_VERSION];
        let put_string = |out: &mut Vec<u8>, text: Option<&str>| match text {
            None => out.extend_from_slice(&(-1i16).to_be_bytes()),
            Some(text) => {
                let length = i16::try_from(text.len()).expect("metadata strings are short");
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        };
        match self {
            Self::Topic { name, topic_id } => {
                put_header(&mut out, TOPIC_RECORD);
                put_string(&mut out, Some(name));
                out.extend_from_slice(topic_id.as_bytes());
            }
            Self::Partition { topic_id, partition, replicas, leader, leader_epoch } => {
                put_header(&mut out, PARTITION_RECORD);
                out.extend_from_slice(topic_id.as_bytes());
                out.extend_from_slice(&partition.to_be_bytes());
                let count = i32::try_from(replicas.len()).expect("replica count fits i32");
                out.extend_from_slice(&count.to_be_bytes());
                replicas.iter().for_each(|replica| out.extend_from_slice(&replica.to_be_bytes()));
                out.extend_from_slice(&leader.to_be_bytes());
                out.extend_from_slice(&leader_epoch.to_be_bytes());
            }
            Self::Config { resource_type, resource_name, name, value } => {
                put_header(&mut out, CONFIG_RECORD);
                out.extend_from_slice(&resource_type.to_be_bytes());
                put_string(&mut out, Some(resource_name));
                put_string(&mut out, Some(name));
                put_string(&mut out, value.as_deref());
            }
            Self::RemoveTopic { topic_id } => {
                put_header(&mut out, REMOVE_TOPIC_RECORD);
                out.extend_from_slice(topic_id.as_bytes());
            }
            Self::ProducerIds { broker_id, broker_epoch, next_producer_id } => {
                put_header(&mut out, PRODUCER_IDS_RECORD);
                out.extend_from_slice(&broker_id.to_be_bytes());
                out.extend_from_slice(&broker_epoch.to_be_bytes());
                out.extend_from_slice(&next_producer_id.to_be_bytes());
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut reader = Reader { bytes };
        let frame_version = reader.take::<1>()?[0];
        if frame_version != FRAME_VERSION {
            return Err(format!("unknown metadata frame version {frame_version}"));
        }
        let record_type = i16::from_be_bytes(reader.take()?);
        let version = i16::from_be_bytes(reader.take()?);
        if version != RECORD_VERSION {
            return Err(format!("unknown version {version} of metadata record type {record_type}"));
        }
        let record = match record_type {
            TOPIC_RECORD => Self::Topic { name: reader.string()?, topic_id: reader.uuid()? },
            PARTITION_RECORD => Self::Partition {
                topic_id: reader.uuid()?,
                partition: reader.i32()?,
                replicas: {
                    let count =
                        usize::try_from(reader.i32()?).map_err(|_| "negative replica count")?;
                    if count > reader.bytes.len() / 4 {
                        return Err("replica count exceeds the record".into());
                    }
                    (0..count).map(|_| reader.i32()).collect::<Result<_, _>>()?
                },
                leader: reader.i32()?,
                leader_epoch: reader.i32()?,
            },
            CONFIG_RECORD => Self::Config {
                resource_type: i8::from_be_bytes(reader.take()?),
                resource_name: reader.string()?,
                name: reader.string()?,
                value: reader.nullable_string()?,
            },
            REMOVE_TOPIC_RECORD => Self::RemoveTopic { topic_id: reader.uuid()? },
            PRODUCER_IDS_RECORD => Self::ProducerIds {
                broker_id: reader.i32()?,
                broker_epoch: i64::from_be_bytes(reader.take()?),
                next_producer_id: i64::from_be_bytes(reader.take()?),
            },
            other => return Err(format!("unknown metadata record type {other}")),
        };
        if !reader.bytes.is_empty() {
            return Err(format!(
                "{} trailing bytes after metadata record type {record_type}",
                reader.bytes.len()
            ));
        }
        Ok(record)
    }
}

fn put_header(out: &mut Vec<u8>, record_type: i16) {
    out.extend_from_slice(&record_type.to_be_bytes());
    out.extend_from_slice(&RECORD_VERSION.to_be_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.bytes.len() < N {
            return Err("metadata record truncated".into());
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        Ok(head.try_into().expect("N bytes"))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn uuid(&mut self) -> Result<Uuid, String> {
        Ok(Uuid::from_bytes(self.take()?))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, String> {
        let length = i16::from_be_bytes(self.take()?);
        if length < 0 {
            return Ok(None);
        }
        let length = usize::try_from(length).expect("non-negative");
        if self.bytes.len() < length {
            return Err("metadata string truncated".into());
        }
        let (text, rest) = self.bytes.split_at(length);
        self.bytes = rest;
        String::from_utf8(text.to_vec())
            .map(Some)
            .map_err(|_| "metadata string is not UTF-8".into())
    }

    fn string(&mut self) -> Result<String, String> {
        self.nullable_string()?.ok_or_else(|| "unexpected null metadata string".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let topic_id = Uuid::new_v4();
        let records = [
            MetadataRecord::Topic { name: "orders".into(), topic_id },
            MetadataRecord::Partition {
                topic_id,
                partition: 3,
                replicas: vec![1, 2],
                leader: 1,
                leader_epoch: 0,
            },
            MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "orders".into(),
                name: "retention.ms".into(),
                value: Some("1000".into()),
            },
            MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: "orders".into(),
                name: "retention.ms".into(),
                value: None,
            },
            MetadataRecord::RemoveTopic { topic_id },
            MetadataRecord::ProducerIds { broker_id: 1, broker_epoch: 0, next_producer_id: 2000 },
        ];
        for record in records {
            assert_eq!(MetadataRecord::decode(&record.encode()).unwrap(), record);
        }
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let encoded = MetadataRecord::Partition {
            topic_id: Uuid::new_v4(),
            partition: 0,
            replicas: vec![1],
            leader: 1,
            leader_epoch: 0,
        }
        .encode();
        for cut in 0..encoded.len() {
            assert!(MetadataRecord::decode(&encoded[..cut]).is_err(), "cut {cut}");
        }
        let mut trailing = encoded.clone();
        trailing.push(0);
        assert!(MetadataRecord::decode(&trailing).is_err());
        let mut huge = encoded;
        huge[23..27].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(MetadataRecord::decode(&huge).is_err());
    }
}
