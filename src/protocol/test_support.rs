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
    let records: Vec<Record> = (0..count)
        .map(|index| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i64::try_from(index).unwrap(),
            // The crate groups records into one batch only while offset - sequence is constant.
            sequence: i32::try_from(index).unwrap(),
            timestamp: timestamp(index),
            key: Some(Bytes::from(format!("key-{index}"))),
            value: Some(value(index)),
            headers: Default::default(),
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
