//! Helpers shared by the protocol module's unit tests.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// A client-style batch (base offset 0) built by the kafka-protocol crate's encoder: record i
/// has key `key-i`, the value `value(i)` and the timestamp `timestamp(i)`.
pub(crate) fn crate_batch(
    compression: Compression,
    count: usize,
    value: impl Fn(usize) -> Bytes,
    timestamp: impl Fn(usize) -> i64,
) -> Vec<u8> {
    crate_batch_with(compression, 0, count, timestamp, |index| {
        (Some(format!("key-{index}").into_bytes()), Some(value(index).to_vec()))
    })
}

/// A batch at `base_offset` built by the crate's encoder: record i has the timestamp
/// `timestamp(i)` and the key and value `record(i)` gives.
pub(crate) fn crate_batch_with(
    compression: Compression,
    base_offset: i64,
    count: usize,
    timestamp: impl Fn(usize) -> i64,
    record: impl Fn(usize) -> (Option<Vec<u8>>, Option<Vec<u8>>),
) -> Vec<u8> {
    let records: Vec<Record> = (0..count)
        .map(|index| {
            let (key, value) = record(index);
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: base_offset + i64::try_from(index).unwrap(),
                // The crate groups records into one batch only while offset - sequence is
                // constant.
                sequence: i32::try_from(index).unwrap(),
                timestamp: timestamp(index),
                key: key.map(Bytes::from),
                value: value.map(Bytes::from),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions { version: 2, compression },
    )
    .unwrap();
    buf.to_vec()
}
