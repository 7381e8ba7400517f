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
