//! The record formats of `__consumer_offsets`, byte for byte Kafka's, so that Kafka's own tools
//! (`kafka-console-consumer --formatter ...GroupMetadataMessageFormatter`) read Riffle's topic.
//!
//! Every record has a key and a value (null value = tombstone), both starting with an `i16`
//! version. Strings are `i16` length + UTF-8 (compact varint length + 1 in flexible versions);
//! bytes are `i32` length (compact likewise).
//!
//! Keys:
//! - `OffsetCommitKey` v0/v1: `group string, topic string, partition i32`.
//! - `GroupMetadataKey` v2: `group string`.
//! - Versions 3 and up belong to the new (KIP-848) coordinator and are skipped.
//!
//! Values:
//! - `OffsetCommitValue` v0-v4: `offset i64, [leader_epoch i32 (v3+)], metadata string,
//!   commit_timestamp i64, [expire_timestamp i64 (v1 only)]`, tagged fields in v4.
//!   Riffle writes v1 when the commit carried a retention time, else v3.
//! - `GroupMetadataValue` v0-v4: `protocol_type string, generation i32, protocol string?,
//!   leader string?, [current_state_timestamp i64 (v2+)], members [member_id string,
//!   [group_instance_id string? (v3+)], client_id string, client_host string,
//!   [rebalance_timeout i32 (v1+)], session_timeout i32, subscription bytes, assignment
//!   bytes]`, tagged fields in v4. Riffle writes v3.

use bytes::{BufMut, Bytes, BytesMut};

/// The key version Riffle writes for offset commits.
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// The key version of group metadata.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// The group metadata value version Riffle writes.
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;

/// A decoded record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    OffsetCommit { group: String, topic: String, partition: i32 },
    GroupMetadata { group: String },
}

impl RecordKey {
    pub fn group(&self) -> &str {
        match self {
            Self::OffsetCommit { group, .. } | Self::GroupMetadata { group } => group,
        }
    }
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// -1 when unknown.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Set only by OffsetCommit v2-v4 requests with a retention time (value v1).
    pub expire_timestamp_ms: Option<i64>,
}

/// A group's membership as of its last completed rebalance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMetadataValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// -1 when unknown.
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberMetadataValue>,
}

/// One member in [`GroupMetadataValue`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

pub fn encode_key(key: &RecordKey) -> Bytes {
    let mut buf = BytesMut::new();
    match key {
        RecordKey::OffsetCommit { group, topic, partition } => {
            buf.put_i16(OFFSET_COMMIT_KEY_VERSION);
            put_string(&mut buf, group);
            put_string(&mut buf, topic);
            buf.put_i32(*partition);
        }
        RecordKey::GroupMetadata { group } => {
            buf.put_i16(GROUP_METADATA_KEY_VERSION);
            put_string(&mut buf, group);
        }
    }
    buf.freeze()
}

/// Decodes a key; `Ok(None)` for key versions this coordinator does not own.
pub fn decode_key(bytes: &[u8]) -> Result<Option<RecordKey>, DecodeError> {
    let mut reader = Reader { bytes, flexible: false, version: 0 };
    let version = reader.i16()?;
    let key = match version {
        0 | 1 => RecordKey::OffsetCommit {
            group: reader.string()?,
            topic: reader.string()?,
            partition: reader.i32()?,
        },
        2 => RecordKey::GroupMetadata { group: reader.string()? },
        _ => return Ok(None),
    };
    reader.finish()?;
    Ok(Some(key))
}

pub fn encode_offset_commit_value(value: &OffsetCommitValue) -> Bytes {
    let mut buf = BytesMut::new();
    match value.expire_timestamp_ms {
        Some(expire_timestamp_ms) => {
            buf.put_i16(1);
            buf.put_i64(value.offset);
            put_string(&mut buf, &value.metadata);
            buf.put_i64(value.commit_timestamp_ms);
            buf.put_i64(expire_timestamp_ms);
        }
        None => {
            buf.put_i16(3);
            buf.put_i64(value.offset);
            buf.put_i32(value.leader_epoch);
            put_string(&mut buf, &value.metadata);
            buf.put_i64(value.commit_timestamp_ms);
        }
    }
    buf.freeze()
}

pub fn decode_offset_commit_value(bytes: &[u8]) -> Result<OffsetCommitValue, DecodeError> {
    let mut reader = Reader::versioned(bytes, 0..=4, 4)?;
    let version = reader.version;
    let offset = reader.i64()?;
    let leader_epoch = if version >= 3 { reader.i32()? } else { -1 };
    let metadata = reader.string()?;
    let commit_timestamp_ms = reader.i64()?;
    let expire_timestamp_ms =
        if version == 1 { Some(reader.i64()?).filter(|expire| *expire != -1) } else { None };
    reader.tagged_fields()?;
    reader.finish()?;
    Ok(OffsetCommitValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
        expire_timestamp_ms,
    })
}

/// Encodes group metadata; fails (instead of panicking) on a string longer than the format's
/// `i16` length allows, since member ids and protocol names come from clients.
pub fn encode_group_metadata_value(value: &GroupMetadataValue) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    buf.put_i16(GROUP_METADATA_VALUE_VERSION);
    put_checked_string(&mut buf, Some(&value.protocol_type))?;
    buf.put_i32(value.generation);
    put_checked_string(&mut buf, value.protocol.as_deref())?;
    put_checked_string(&mut buf, value.leader.as_deref())?;
    buf.put_i64(value.current_state_timestamp_ms);
    let count = i32::try_from(value.members.len()).map_err(|_| EncodeError("too many members"))?;
    buf.put_i32(count);
    for member in &value.members {
        put_checked_string(&mut buf, Some(&member.member_id))?;
        put_checked_string(&mut buf, member.group_instance_id.as_deref())?;
        put_checked_string(&mut buf, Some(&member.client_id))?;
        put_checked_string(&mut buf, Some(&member.client_host))?;
        buf.put_i32(member.rebalance_timeout_ms);
        buf.put_i32(member.session_timeout_ms);
        put_checked_bytes(&mut buf, &member.subscription)?;
        put_checked_bytes(&mut buf, &member.assignment)?;
    }
    Ok(buf.freeze())
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode group metadata: {0}")]
pub struct EncodeError(&'static str);

/// The longest string the record formats can hold.
pub const STRING_LENGTH_MAX: usize = i16::MAX as usize;

fn put_checked_string(buf: &mut BytesMut, value: Option<&str>) -> Result<(), EncodeError> {
    match value {
        Some(value) if value.len() > STRING_LENGTH_MAX => Err(EncodeError("string too long")),
        value => {
            put_nullable_string(buf, value);
            Ok(())
        }
    }
}

fn put_checked_bytes(buf: &mut BytesMut, value: &[u8]) -> Result<(), EncodeError> {
    if i32::try_from(value.len()).is_err() {
        return Err(EncodeError("bytes too long"));
    }
    put_bytes(buf, value);
    Ok(())
}

pub fn decode_group_metadata_value(bytes: &[u8]) -> Result<GroupMetadataValue, DecodeError> {
    let mut reader = Reader::versioned(bytes, 0..=4, 4)?;
    let version = reader.version;
    let protocol_type = reader.string()?;
    let generation = reader.i32()?;
    let protocol = reader.nullable_string()?;
    let leader = reader.nullable_string()?;
    let current_state_timestamp_ms = if version >= 2 { reader.i64()? } else { -1 };
    let count = reader.array_length()?;
    let mut members = Vec::with_capacity(count.min(reader.bytes.len()));
    for _ in 0..count {
        let member_id = reader.string()?;
        let group_instance_id = if version >= 3 { reader.nullable_string()? } else { None };
        let client_id = reader.string()?;
        let client_host = reader.string()?;
        let rebalance_timeout_ms = if version >= 1 { Some(reader.i32()?) } else { None };
        let session_timeout_ms = reader.i32()?;
        let subscription = reader.bytes()?;
        let assignment = reader.bytes()?;
        reader.tagged_fields()?;
        members.push(MemberMetadataValue {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms: rebalance_timeout_ms.unwrap_or(session_timeout_ms),
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    reader.tagged_fields()?;
    reader.finish()?;
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

/// The topics a `consumer` protocol member subscribes to: the leading topic array of Kafka's
/// `ConsumerProtocolSubscription` (every version starts `i16 version, [string] topics`).
pub fn subscribed_topics(subscription: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut reader = Reader { bytes: subscription, flexible: false, version: 0 };
    let _version = reader.i16()?;
    let count = reader.array_length()?;
    let mut topics = Vec::with_capacity(count.min(reader.bytes.len() / 2));
    for _ in 0..count {
        topics.push(reader.string()?);
    }
    Ok(topics)
}

/// Keys and offset values hold group ids (checked against [`STRING_LENGTH_MAX`] before a
/// group exists), topic names (at most 249 bytes) and offset metadata (capped by
/// `offset.metadata.max.bytes`, itself at most [`STRING_LENGTH_MAX`]), so this cannot fail.
fn put_string(buf: &mut BytesMut, value: &str) {
    let length = i16::try_from(value.len()).expect("string fits an i16 length");
    buf.put_i16(length);
    buf.put_slice(value.as_bytes());
}

fn put_nullable_string(buf: &mut BytesMut, value: Option<&str>) {
    match value {
        Some(value) => put_string(buf, value),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, value: &[u8]) {
    buf.put_i32(i32::try_from(value.len()).expect("bytes fit an i32 length"));
    buf.put_slice(value);
}

/// A bounds-checked reader: every length is checked against the bytes left before use.
struct Reader<'a> {
    bytes: &'a [u8],
    flexible: bool,
    version: i16,
}

impl<'a> Reader<'a> {
    fn versioned(
        bytes: &'a [u8],
        versions: std::ops::RangeInclusive<i16>,
        flexible_min: i16,
    ) -> Result<Self, DecodeError> {
        let mut reader = Reader { bytes, flexible: false, version: 0 };
        let version = reader.i16()?;
        if !versions.contains(&version) {
            return Err(DecodeError(format!("unknown value version {version}")));
        }
        reader.flexible = version >= flexible_min;
        reader.version = version;
        Ok(reader)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        if count > self.bytes.len() {
            return Err(DecodeError("record ends inside a field".into()));
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("two bytes")))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("four bytes")))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }

    fn unsigned_varint(&mut self) -> Result<u32, DecodeError> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("malformed varint".into()))
    }

    /// A length prefix; `None` for null.
    fn length(
        &mut self,
        fixed_width: fn(&mut Self) -> Result<i64, DecodeError>,
    ) -> Result<Option<usize>, DecodeError> {
        let length =
            if self.flexible { i64::from(self.unsigned_varint()?) - 1 } else { fixed_width(self)? };
        match length {
            -1 => Ok(None),
            length => usize::try_from(length)
                .map(Some)
                .map_err(|_| DecodeError(format!("negative length {length}"))),
        }
    }

    fn nullable_string(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(length) = self.length(|reader| reader.i16().map(i64::from))? else {
            return Ok(None);
        };
        let bytes = self.take(length)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| DecodeError("string is not UTF-8".into()))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        self.nullable_string()?.ok_or_else(|| DecodeError("null where a string is required".into()))
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let length = self.length(|reader| reader.i32().map(i64::from))?.unwrap_or(0);
        Ok(Bytes::copy_from_slice(self.take(length)?))
    }

    fn array_length(&mut self) -> Result<usize, DecodeError> {
        let length = self.length(|reader| reader.i32().map(i64::from))?.unwrap_or(0);
        if length > self.bytes.len() {
            return Err(DecodeError(format!(
                "array of {length} elements in {} bytes",
                self.bytes.len()
            )));
        }
        Ok(length)
    }

    fn tagged_fields(&mut self) -> Result<(), DecodeError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.unsigned_varint()?;
        for _ in 0..count {
            let _tag = self.unsigned_varint()?;
            let size = self.unsigned_varint()?;
            self.take(usize::try_from(size).map_err(|_| DecodeError("tagged field size".into()))?)?;
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError(format!("{} bytes left over", self.bytes.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let keys = [
            RecordKey::OffsetCommit { group: "g".into(), topic: "t".into(), partition: 7 },
            RecordKey::GroupMetadata { group: "group-1".into() },
        ];
        for key in keys {
            assert_eq!(decode_key(&encode_key(&key)).unwrap(), Some(key));
        }
        assert_eq!(decode_key(&[0, 3, 0, 1, b'g']).unwrap(), None);
        assert!(decode_key(&[0, 2, 0, 9, b'g']).is_err());
    }

    #[test]
    fn offset_commit_key_matches_kafka_bytes() {
        let key = RecordKey::OffsetCommit { group: "g".into(), topic: "t".into(), partition: 1 };
        assert_eq!(&encode_key(&key)[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 1]);
        let key = RecordKey::GroupMetadata { group: "g".into() };
        assert_eq!(&encode_key(&key)[..], &[0, 2, 0, 1, b'g']);
    }

    #[test]
    fn offset_values_round_trip_in_both_written_versions() {
        let current = OffsetCommitValue {
            offset: 42,
            leader_epoch: 3,
            metadata: "meta".into(),
            commit_timestamp_ms: 1000,
            expire_timestamp_ms: None,
        };
        let encoded = encode_offset_commit_value(&current);
        assert_eq!(&encoded[..2], &[0, 3]);
        assert_eq!(decode_offset_commit_value(&encoded).unwrap(), current);
        let retained = OffsetCommitValue {
            leader_epoch: -1,
            expire_timestamp_ms: Some(5000),
            ..current.clone()
        };
        let encoded = encode_offset_commit_value(&retained);
        assert_eq!(&encoded[..2], &[0, 1]);
        assert_eq!(decode_offset_commit_value(&encoded).unwrap(), retained);
    }

    #[test]
    fn flexible_offset_value_v4_is_read() {
        let mut buf = BytesMut::new();
        buf.put_i16(4);
        buf.put_i64(9);
        buf.put_i32(2);
        buf.put_u8(3); // compact string "ab"
        buf.put_slice(b"ab");
        buf.put_i64(77);
        buf.put_u8(1); // one tagged field (topic id)
        buf.put_u8(0);
        buf.put_u8(16);
        buf.put_slice(&[0; 16]);
        let value = decode_offset_commit_value(&buf).unwrap();
        assert_eq!((value.offset, value.leader_epoch, value.metadata.as_str()), (9, 2, "ab"));
        assert_eq!(value.commit_timestamp_ms, 77);
    }

    #[test]
    fn group_metadata_round_trips() {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: 5,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp_ms: 123,
            members: vec![MemberMetadataValue {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(
            decode_group_metadata_value(&encode_group_metadata_value(&value).unwrap()).unwrap(),
            value
        );
        let long = GroupMetadataValue { protocol_type: "x".repeat(40_000), ..value.clone() };
        assert!(encode_group_metadata_value(&long).is_err(), "an error, not a panic");
        let empty = GroupMetadataValue { protocol: None, leader: None, members: vec![], ..value };
        assert_eq!(
            decode_group_metadata_value(&encode_group_metadata_value(&empty).unwrap()).unwrap(),
            empty
        );
    }

    #[test]
    fn hostile_values_are_errors_not_allocations() {
        let mut buf = BytesMut::new();
        buf.put_i16(3);
        put_string(&mut buf, "consumer");
        buf.put_i32(1);
        buf.put_i16(-1);
        buf.put_i16(-1);
        buf.put_i64(0);
        buf.put_i32(i32::MAX);
        assert!(decode_group_metadata_value(&buf).is_err());
        assert!(decode_offset_commit_value(&[0, 9]).is_err());
        assert!(decode_offset_commit_value(&[0, 3, 0]).is_err());
        assert!(subscribed_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn consumer_subscription_topics_are_read() {
        let mut buf = BytesMut::new();
        buf.put_i16(1);
        buf.put_i32(2);
        put_string(&mut buf, "a");
        put_string(&mut buf, "b");
        buf.put_i32(-1); // user data
        assert_eq!(subscribed_topics(&buf).unwrap(), vec!["a".to_owned(), "b".to_owned()]);
    }
}
