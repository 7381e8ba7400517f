//! Fetch response framing written by hand, so that each partition's records can be a
//! [`crate::log::segment::FileRegion`] sent from the segment file instead of bytes copied into the response.
//!
//! The `kafka-protocol` crate encodes a `records` field with `put_slice`, which would copy
//! every fetched byte into the response buffer. Here the two outer levels (the response and
//! its topics) are framed by hand, each partition's fields before `records` are encoded by the
//! crate with `records` null, and the null is replaced by the real length followed by the
//! records, as bytes or as a file region.
//!
//! Layout (Kafka's `FetchResponse.json`, versions 4 to 18; "flexible" is version 12 and up):
//!
//! ```text
//! response   = throttle_time_ms:i32 [error_code:i16 session_id:i32 (v7+)]
//!              topics:array<topic> [tags (flexible)]
//! topic      = (topic:string (v4-12) | topic_id:uuid (v13+)) partitions:array<partition>
//!              [tags (flexible)]
//! partition  = ...fields up to and including preferred_read_replica...
//!              records:bytes [tags (flexible)]
//! array      = i32 count | unsigned varint count + 1 (flexible)
//! string     = i16 length + bytes | unsigned varint length + 1 + bytes (flexible)
//! bytes      = i32 length + bytes | unsigned varint length + 1 + bytes (flexible)
//! ```
//!
//! Riffle sets no tagged fields in a Fetch response (no diverging epoch, leader change hint,
//! snapshot id or node endpoints); the encoder refuses a response that has any, rather than
//! frame it wrongly. Unit tests check the output byte for byte against the crate's encoder
//! for every version.

use anyhow::{Context, ensure};
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion};

use super::response::{EncodedResponse, ResponseBuilder, ResponsePart};

/// Fetch response versions this encoder frames.
pub const VERSIONS: std::ops::RangeInclusive<i16> = 4..=18;

/// Encodes `[size][header][response]` at `version`, with the records of the response's
/// partitions, in order, taken from `records` (each partition's own `records` must be null).
pub fn encode(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
    records: Vec<ResponsePart>,
) -> anyhow::Result<EncodedResponse> {
    ensure!(VERSIONS.contains(&version), "fetch response version {version} not framed");
    ensure!(
        response.unknown_tagged_fields.is_empty() && response.node_endpoints.is_empty(),
        "fetch response tagged fields are not framed"
    );
    ensure!(version >= 7 || response.session_id == 0, "session id before version 7");
    let flexible = version >= 12;
    let mut builder = ResponseBuilder::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(builder.buffer(), FetchResponse::header_version(version))?;
    let buffer = builder.buffer();
    buffer.put_i32(response.throttle_time_ms);
    if version >= 7 {
        buffer.put_i16(response.error_code);
        buffer.put_i32(response.session_id);
    }
    put_array_length(buffer, flexible, response.responses.len())?;
    let mut records = records.into_iter();
    for topic in &response.responses {
        ensure!(topic.unknown_tagged_fields.is_empty(), "topic tagged fields are not framed");
        let buffer = builder.buffer();
        if version <= 12 {
            put_string(buffer, flexible, topic.topic.as_bytes())?;
        } else {
            buffer.put_slice(topic.topic_id.as_bytes());
        }
        put_array_length(buffer, flexible, topic.partitions.len())?;
        for partition in &topic.partitions {
            let next = records.next().context("fewer records than partitions")?;
            put_partition(&mut builder, version, partition, next)?;
        }
        if flexible {
            put_unsigned_varint(builder.buffer(), 0);
        }
    }
    ensure!(records.next().is_none(), "more records than partitions");
    if flexible {
        put_unsigned_varint(builder.buffer(), 0);
    }
    builder.finish()
}

/// Encodes a partition with the crate (records null), then swaps the null for `records`.
fn put_partition(
    builder: &mut ResponseBuilder,
    version: i16,
    partition: &PartitionData,
    records: ResponsePart,
) -> anyhow::Result<()> {
    let flexible = version >= 12;
    ensure!(partition.records.is_none(), "records are passed apart from the partition");
    ensure!(
        partition.unknown_tagged_fields.is_empty()
            && partition.diverging_epoch == Default::default()
            && partition.current_leader == Default::default()
            && partition.snapshot_id == Default::default(),
        "partition tagged fields are not framed"
    );
    let buffer = builder.buffer();
    partition.encode(buffer, version)?;
    // The crate wrote records last: null (i32 -1, or varint 0 then an empty tag section).
    let null_tail: &[u8] = if flexible { &[0, 0] } else { &[0xff; 4] };
    ensure!(buffer.ends_with(null_tail), "unexpected partition encoding");
    buffer.truncate(buffer.len() - null_tail.len());
    let length = records.size_bytes();
    if flexible {
        put_unsigned_varint(buffer, u32::try_from(length + 1)?);
    } else {
        buffer.put_i32(i32::try_from(length)?);
    }
    builder.put(records);
    if flexible {
        put_unsigned_varint(builder.buffer(), 0);
    }
    Ok(())
}

fn put_array_length(buffer: &mut BytesMut, flexible: bool, length: usize) -> anyhow::Result<()> {
    if flexible {
        put_unsigned_varint(buffer, u32::try_from(length + 1)?);
    } else {
        buffer.put_i32(i32::try_from(length)?);
    }
    Ok(())
}

fn put_string(buffer: &mut BytesMut, flexible: bool, text: &[u8]) -> anyhow::Result<()> {
    if flexible {
        put_unsigned_varint(buffer, u32::try_from(text.len() + 1)?);
    } else {
        buffer.put_i16(i16::try_from(text.len())?);
    }
    buffer.put_slice(text);
    Ok(())
}

/// Kafka's unsigned varint: 7 bits a byte, least significant first.
fn put_unsigned_varint(buffer: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buffer.put_u8(u8::try_from(value & 0x7f).expect("7 bits") | 0x80);
        value >>= 7;
    }
    buffer.put_u8(u8::try_from(value).expect("below 0x80"));
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse};
    use kafka_protocol::protocol::StrBytes;

    use bytes::Bytes;

    use super::*;
    use crate::log::segment::FileRegion;

    fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
        PartitionData::default()
            .with_partition_index(index)
            .with_error_code(if index == 2 { 3 } else { 0 })
            .with_high_watermark(1_000 + i64::from(index))
            .with_last_stable_offset(900)
            .with_log_start_offset(7)
            .with_aborted_transactions((index == 1).then(|| {
                vec![AbortedTransaction::default().with_producer_id(5.into()).with_first_offset(6)]
            }))
            .with_records(records)
    }

    /// Three topics (one with no partitions), records empty, short and past one varint byte.
    fn sample(records: impl Fn(usize) -> Option<Bytes>) -> FetchResponse {
        let mut next = 0;
        let mut topic = |name: &str, partitions: i32| {
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_string(name.to_owned())))
                .with_topic_id(uuid::Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788))
                .with_partitions(
                    (0..partitions)
                        .map(|index| {
                            next += 1;
                            partition(index, records(next - 1))
                        })
                        .collect(),
                )
        };
        FetchResponse::default().with_throttle_time_ms(17).with_responses(vec![
            topic("alpha", 3),
            topic("", 0),
            topic("beta-topic", 2),
        ])
    }

    fn record_bytes(index: usize) -> Bytes {
        let size = [0, 5, 200, 70_000, 1][index % 5];
        Bytes::from((0..size).map(|byte| (byte % 251) as u8).collect::<Vec<u8>>())
    }

    #[test]
    fn framing_matches_the_crate_byte_for_byte_at_every_version() {
        for version in VERSIONS {
            let mut expected_response = sample(|index| Some(record_bytes(index)));
            let mut response = sample(|_| None);
            if version >= 7 {
                expected_response.session_id = 0;
                expected_response.error_code = 0;
            }
            if version < 11 {
                response
                    .responses
                    .iter_mut()
                    .chain(expected_response.responses.iter_mut())
                    .for_each(|topic| {
                        topic
                            .partitions
                            .iter_mut()
                            .for_each(|p| p.preferred_read_replica = (-1).into())
                    });
            }
            let expected = super::super::encode_response(42, version, &expected_response).unwrap();
            let records = (0..5).map(|index| ResponsePart::Bytes(record_bytes(index))).collect();
            let framed = encode(42, version, &response, records).unwrap();
            assert_eq!(framed.size_bytes(), expected.len() as u64, "version {version}");
            assert_eq!(framed.to_bytes().unwrap(), expected, "version {version}");
        }
    }

    #[test]
    fn file_regions_are_parts_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        let contents: Vec<u8> = (0..100_000u32).map(|byte| (byte % 7) as u8).collect();
        std::fs::write(&path, &contents).unwrap();
        let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
        let region = |position: u64, length: u64| {
            ResponsePart::File(FileRegion { file: std::sync::Arc::clone(&file), position, length })
        };
        let expected_records = |index: usize| {
            let (start, length) = [(10, 70_000), (0, 0), (99_000, 1_000), (5, 5), (1, 1)][index];
            Some(Bytes::copy_from_slice(&contents[start..start + length]))
        };
        for version in [4, 11, 12, 13] {
            let expected =
                super::super::encode_response(9, version, &sample(expected_records)).unwrap();
            let records = vec![
                region(10, 70_000),
                region(0, 0),
                region(99_000, 1_000),
                ResponsePart::Bytes(Bytes::copy_from_slice(&contents[5..10])),
                region(1, 1),
            ];
            let framed = encode(9, version, &sample(|_| None), records).unwrap();
            let files =
                framed.parts().iter().filter(|part| matches!(part, ResponsePart::File(_))).count();
            assert_eq!(files, 3, "empty regions are left out");
            assert_eq!(framed.to_bytes().unwrap(), expected, "version {version}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_frame() {
        let records = || (0..5).map(|_| ResponsePart::Bytes(Bytes::new())).collect();
        let with_records = sample(|_| Some(Bytes::new()));
        assert!(encode(1, 12, &with_records, records()).is_err());
        assert!(encode(1, 12, &sample(|_| None), Vec::new()).is_err());
        assert!(encode(1, 3, &sample(|_| None), records()).is_err());
        let mut tagged = sample(|_| None);
        tagged.responses[0].partitions[0].diverging_epoch.epoch = 3;
        assert!(encode(1, 12, &tagged, records()).is_err());
    }
}
