use bytes::Bytes;
use kafka_protocol::records::{Compression as CrateCompression, RecordBatchDecoder, TimestampType};

use super::*;
use crate::protocol::test_support::crate_batch;

const LIMITS: ProduceLimits = ProduceLimits { max_message_bytes: 1 << 20, produce_version: 9 };

fn batch_with(compression: CrateCompression, count: usize) -> Vec<u8> {
    crate_batch(
        compression,
        count,
        |index| Bytes::from(format!("value-{index}")),
        |index| 1_700_000_000_000 + i64::try_from(index).unwrap(),
    )
}

/// Rewrites a field then restores a valid CRC, to reach the checks after the CRC.
fn patch(batch: &mut [u8], at: usize, bytes: &[u8]) {
    batch[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn a_client_batch_validates_and_parses() {
    let batch = batch_with(CrateCompression::None, 5);
    let header = validate_produced_batch(&batch, LIMITS).unwrap();
    assert_eq!(header.records_count, 5);
    assert_eq!(header.last_offset_delta, 4);
    assert_eq!(header.size(), Some(batch.len()));
    assert_eq!(header.base_timestamp, 1_700_000_000_000);
    assert_eq!(header.max_timestamp, 1_700_000_000_004);
    assert_eq!(header.compression(), Some(Compression::None));
    for codec in [
        CrateCompression::Gzip,
        CrateCompression::Snappy,
        CrateCompression::Lz4,
        CrateCompression::Zstd,
    ] {
        assert!(validate_produced_batch(&batch_with(codec, 10), LIMITS).is_ok(), "{codec:?}");
    }
}

#[test]
fn a_flipped_byte_is_corrupt_message() {
    let mut batch = batch_with(CrateCompression::None, 3);
    let middle = batch.len() - 10;
    batch[middle] ^= 0x40;
    let error = validate_produced_batch(&batch, LIMITS).unwrap_err();
    assert_eq!(error.code(), 2, "{error}");
}

#[test]
fn an_oversized_batch_is_message_too_large() {
    let batch = batch_with(CrateCompression::None, 50);
    let limits = ProduceLimits { max_message_bytes: batch.len() - 1, ..LIMITS };
    let error = validate_produced_batch(&batch, limits).unwrap_err();
    assert_eq!(error.code(), 10, "{error}");
}

#[test]
fn anything_but_one_whole_batch_is_invalid_record() {
    let batch = batch_with(CrateCompression::None, 2);
    let two = [batch.clone(), batch.clone()].concat();
    assert_eq!(validate_produced_batch(&two, LIMITS).unwrap_err().code(), 87);
    assert_eq!(validate_produced_batch(&batch[..batch.len() - 1], LIMITS).unwrap_err().code(), 87);
    assert_eq!(validate_produced_batch(&batch[..5], LIMITS).unwrap_err().code(), 87);
    assert_eq!(validate_produced_batch(&[], LIMITS).unwrap_err().code(), 87);
}

#[test]
fn an_impossible_batch_length_is_corrupt() {
    let mut batch = batch_with(CrateCompression::None, 2);
    batch[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&10i32.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 2);
    batch[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&(-5i32).to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 2);
}

#[test]
fn old_magic_is_invalid_record() {
    let mut batch = batch_with(CrateCompression::None, 2);
    batch[MAGIC_OFFSET] = 1;
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn a_nonzero_base_offset_is_invalid_record() {
    let mut batch = batch_with(CrateCompression::None, 2);
    batch[..8].copy_from_slice(&7i64.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn last_offset_delta_must_match_the_count() {
    let mut batch = batch_with(CrateCompression::None, 3);
    patch(&mut batch, LAST_OFFSET_DELTA_OFFSET, &5i32.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
    let mut empty = batch_with(CrateCompression::None, 3);
    patch(&mut empty, LAST_OFFSET_DELTA_OFFSET, &(-1i32).to_be_bytes());
    patch(&mut empty, RECORDS_COUNT_OFFSET, &0i32.to_be_bytes());
    assert_eq!(validate_produced_batch(&empty, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn uncompressed_records_must_match_the_declared_count() {
    // lastOffsetDelta and recordsCount agree with each other but not with the records.
    let mut batch = batch_with(CrateCompression::None, 3);
    patch(&mut batch, LAST_OFFSET_DELTA_OFFSET, &1i32.to_be_bytes());
    patch(&mut batch, RECORDS_COUNT_OFFSET, &2i32.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
    let mut batch = batch_with(CrateCompression::None, 3);
    patch(&mut batch, LAST_OFFSET_DELTA_OFFSET, &(i32::MAX - 1).to_be_bytes());
    patch(&mut batch, RECORDS_COUNT_OFFSET, &i32::MAX.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn compressed_batches_cannot_declare_absurd_counts() {
    let mut batch = batch_with(CrateCompression::Zstd, 3);
    patch(&mut batch, LAST_OFFSET_DELTA_OFFSET, &(i32::MAX - 1).to_be_bytes());
    patch(&mut batch, RECORDS_COUNT_OFFSET, &i32::MAX.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn control_batches_from_clients_are_invalid_record() {
    let mut batch = batch_with(CrateCompression::None, 1);
    patch(&mut batch, ATTRIBUTES_OFFSET, &CONTROL_BIT.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn transactional_batches_are_refused_until_transactions_exist() {
    let mut batch = batch_with(CrateCompression::None, 1);
    patch(&mut batch, PRODUCER_ID_OFFSET, &5i64.to_be_bytes());
    patch(&mut batch, BASE_SEQUENCE_OFFSET, &0i32.to_be_bytes());
    patch(&mut batch, ATTRIBUTES_OFFSET, &TRANSACTIONAL_BIT.to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 48);
}

#[test]
fn a_producer_id_needs_a_sequence() {
    let mut batch = batch_with(CrateCompression::None, 1);
    patch(&mut batch, PRODUCER_ID_OFFSET, &5i64.to_be_bytes());
    patch(&mut batch, BASE_SEQUENCE_OFFSET, &(-1i32).to_be_bytes());
    assert_eq!(validate_produced_batch(&batch, LIMITS).unwrap_err().code(), 87);
}

#[test]
fn codecs_are_checked() {
    let zstd = batch_with(CrateCompression::Zstd, 2);
    let old = ProduceLimits { produce_version: 6, ..LIMITS };
    assert_eq!(validate_produced_batch(&zstd, old).unwrap_err().code(), 76);
    let mut unknown = batch_with(CrateCompression::None, 2);
    patch(&mut unknown, ATTRIBUTES_OFFSET, &6i16.to_be_bytes());
    assert_eq!(validate_produced_batch(&unknown, LIMITS).unwrap_err().code(), 2);
}

#[test]
fn offset_assignment_keeps_the_crc_valid() {
    let batch = batch_with(CrateCompression::Lz4, 4);
    let rewrite =
        HeaderRewrite { base_offset: 1234, partition_leader_epoch: 7, log_append_time_ms: None };
    let header = rewrite_header(&batch, rewrite);
    let rewritten = [&header[..], &batch[BATCH_HEADER_SIZE..]].concat();
    let parsed = verify_stored_batch(&rewritten).unwrap();
    assert_eq!(parsed.base_offset, 1234);
    assert_eq!(parsed.partition_leader_epoch, 7);
    assert_eq!(parsed.last_offset(), 1237);
    assert_eq!(parsed.crc, BatchHeader::parse(&batch).unwrap().crc, "CRC unchanged");
    let decoded = RecordBatchDecoder::decode(&mut Bytes::from(rewritten)).unwrap();
    assert_eq!(decoded.records[3].offset, 1237);
}

#[test]
fn log_append_time_sets_the_attribute_timestamp_and_a_new_crc() {
    let batch = batch_with(CrateCompression::Gzip, 3);
    let rewrite = HeaderRewrite {
        base_offset: 10,
        partition_leader_epoch: 0,
        log_append_time_ms: Some(42_000),
    };
    let header = rewrite_header(&batch, rewrite);
    let rewritten = [&header[..], &batch[BATCH_HEADER_SIZE..]].concat();
    let parsed = verify_stored_batch(&rewritten).unwrap();
    assert!(parsed.is_log_append_time());
    assert_eq!(parsed.max_timestamp, 42_000);
    let mut timestamps = Vec::new();
    crate::protocol::records::visit_records(&rewritten, |record| {
        timestamps.push(record.timestamp);
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(timestamps, [42_000; 3]);
    let decoded = RecordBatchDecoder::decode(&mut Bytes::from(rewritten)).unwrap();
    assert!(decoded.records.iter().all(|record| record.timestamp_type == TimestampType::LogAppend));
}

#[test]
fn a_client_set_log_append_time_flag_is_cleared_for_create_time_topics() {
    let mut batch = batch_with(CrateCompression::None, 2);
    patch(&mut batch, ATTRIBUTES_OFFSET, &TIMESTAMP_TYPE_BIT.to_be_bytes());
    let header = validate_produced_batch(&batch, LIMITS).unwrap();
    assert!(header.is_log_append_time());
    let rewrite =
        HeaderRewrite { base_offset: 0, partition_leader_epoch: 0, log_append_time_ms: None };
    let rewritten = [&rewrite_header(&batch, rewrite)[..], &batch[BATCH_HEADER_SIZE..]].concat();
    let stored = verify_stored_batch(&rewritten).unwrap();
    assert!(!stored.is_log_append_time());
    assert_eq!(stored.max_timestamp, header.max_timestamp);
}

#[test]
fn built_batches_decode_with_the_crate() {
    let inputs = [
        RecordInput { key: Some(b"k1"), value: Some(b"v1") },
        RecordInput { key: None, value: Some(b"v2") },
        RecordInput { key: Some(b"k3"), value: None },
    ];
    let batch = build_uncompressed_batch(&inputs, 99);
    let header = verify_stored_batch(&batch).unwrap();
    assert_eq!(header.records_count, 3);
    let decoded = RecordBatchDecoder::decode(&mut batch.freeze()).unwrap();
    assert_eq!(decoded.records.len(), 3);
    assert_eq!(decoded.records[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(decoded.records[1].key, None);
    assert_eq!(decoded.records[2].value, None);
    assert_eq!(decoded.records[2].offset, 2);
    assert_eq!(decoded.records[2].timestamp, 99);
}
