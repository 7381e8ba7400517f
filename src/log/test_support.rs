//! Helpers shared by the log engine's unit tests.

use crate::protocol::record_batch::{BatchHeader, RecordInput, build_uncompressed_batch};

/// A client-style batch (base offset 0) of `count` records with `value_size`-byte values,
/// every record at `timestamp`.
pub(crate) fn client_batch(count: usize, value_size: usize, timestamp: i64) -> Vec<u8> {
    let value = vec![b'x'; value_size];
    let keys: Vec<String> = (0..count).map(|index| format!("key-{index}")).collect();
    let inputs: Vec<RecordInput<'_>> = keys
        .iter()
        .map(|key| RecordInput { key: Some(key.as_bytes()), value: Some(&value) })
        .collect();
    build_uncompressed_batch(&inputs, timestamp).to_vec()
}

/// Splits concatenated batches into their headers.
pub(crate) fn batch_headers(mut bytes: &[u8]) -> Vec<BatchHeader> {
    let mut headers = Vec::new();
    while !bytes.is_empty() {
        let size = BatchHeader::parse(bytes).and_then(|header| header.size()).expect("whole batch");
        headers.push(
            crate::protocol::record_batch::verify_stored_batch(&bytes[..size])
                .expect("valid batch"),
        );
        bytes = &bytes[size..];
    }
    headers
}

/// [`client_batch`] from an idempotent producer: `producer_id`, `epoch` and `base_sequence`
/// set in the header and the CRC recomputed.
pub(crate) fn idempotent_batch(
    count: usize,
    timestamp: i64,
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
) -> Vec<u8> {
    use crate::protocol::record_batch::{
        BASE_SEQUENCE_OFFSET, CRC_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, compute_crc,
    };
    let mut batch = client_batch(count, 20, timestamp);
    batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2].copy_from_slice(&epoch.to_be_bytes());
    batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&base_sequence.to_be_bytes());
    let crc = compute_crc(&batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    batch
}
