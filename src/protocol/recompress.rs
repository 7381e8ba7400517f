//! Recompression on append: a topic whose `compression.type` names a codec (anything but
//! `producer`) stores every batch with that codec, as Kafka's `LogValidator` does. A batch
//! already in the codec is stored as sent.
//!
//! Records inside a v2 batch are self-contained (their offsets and timestamps are deltas from
//! the header), so the records section is decompressed, checked (exactly `recordsCount`
//! well-formed records with offset deltas 0, 1, ...) and compressed again with the topic's
//! codec; the header keeps every field (producer id, epoch, sequence, timestamps) except the
//! codec bits, the batch length and the CRC. Decompression is capped at
//! [`DECOMPRESSED_BATCH_BYTES_MAX`].
//!
//! Output framing follows the Java client, which every consumer reads: gzip streams; snappy
//! in xerial framing (a 16-byte header, then `[i32 length][raw block]` per 32 KiB of input);
//! LZ4 frames with independent 64 KiB blocks and no checksums; zstd frames.

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};

use super::record_batch::{
    ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, BatchHeader, CRC_OFFSET, Compression, compute_crc,
};
use super::records::{check_records, decompress};
use crate::error::{Error, Result};
use crate::limits::{BATCH_HEADER_SIZE, DECOMPRESSED_BATCH_BYTES_MAX, LOG_OVERHEAD};

/// A topic's target codec and level (`compression.type`, `compression.<codec>.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCompression {
    pub codec: Compression,
    /// The codec's level; Kafka's defaults are gzip -1 (the library's default), lz4 9 and
    /// zstd 3.
    pub level: i32,
}

impl TargetCompression {
    /// `codec` at Kafka's default level for it (gzip -1, lz4 9, zstd 3).
    pub fn default_level(codec: Compression) -> Self {
        let level = match codec {
            Compression::Gzip => -1,
            Compression::Lz4 => 9,
            Compression::Zstd => 3,
            Compression::None | Compression::Snappy => 0,
        };
        Self { codec, level }
    }
}

/// The xerial snappy-java stream header: magic, version 1, compatible version 1.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

/// The batch rewritten in `target`'s codec, or `None` if it already uses it. An
/// uncompressed result larger than `max_message_bytes` is MESSAGE_TOO_LARGE before it is
/// fully decompressed.
pub fn recompress(
    batch: &[u8],
    header: &BatchHeader,
    target: TargetCompression,
    max_message_bytes: usize,
) -> Result<Option<Bytes>> {
    let source = header
        .compression()
        .ok_or_else(|| Error::CorruptMessage("unknown compression codec".into()))?;
    if source == target.codec {
        return Ok(None);
    }
    let cap = if target.codec == Compression::None {
        max_message_bytes.saturating_sub(BATCH_HEADER_SIZE).min(DECOMPRESSED_BATCH_BYTES_MAX)
    } else {
        DECOMPRESSED_BATCH_BYTES_MAX
    };
    let records =
        decompress(source, &batch[BATCH_HEADER_SIZE..], cap).map_err(|error| match error {
            Error::CorruptMessage(reason)
                if target.codec == Compression::None
                    && reason.contains("decompressed size exceeds") =>
            {
                Error::MessageTooLarge { size: cap.saturating_add(1), max: max_message_bytes }
            }
            other => other,
        })?;
    check_records(&records, header)?;
    let compressed = compress(target, &records).map_err(|error| {
        Error::Internal(format!("{:?} compression failed: {error}", target.codec))
    })?;
    let mut out = BytesMut::with_capacity(BATCH_HEADER_SIZE + compressed.len());
    out.put_slice(&batch[..BATCH_HEADER_SIZE]);
    out.put_slice(&compressed);
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD)
        .map_err(|_| Error::MessageTooLarge { size: out.len(), max: i32::MAX as usize })?;
    out[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = (header.attributes & !0x07) | target.codec.attribute_bits();
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(Some(out.freeze()))
}

/// Compresses a records section with `target`'s codec and level, framed as the Java client
/// frames it.
pub fn compress(target: TargetCompression, records: &[u8]) -> std::io::Result<Vec<u8>> {
    match target.codec {
        Compression::None => Ok(records.to_vec()),
        Compression::Gzip => {
            let level = u32::try_from(target.level)
                .ok()
                .filter(|level| (1..=9).contains(level))
                .map_or_else(flate2::Compression::default, flate2::Compression::new);
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(records)?;
            encoder.finish()
        }
        Compression::Snappy => {
            let mut out = XERIAL_HEADER.to_vec();
            let mut encoder = snap::raw::Encoder::new();
            for chunk in records.chunks(XERIAL_BLOCK_BYTES) {
                let block = encoder.compress_vec(chunk).map_err(std::io::Error::other)?;
                let length = u32::try_from(block.len()).map_err(std::io::Error::other)?;
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            let mut encoder = lz4::EncoderBuilder::new()
                .block_size(lz4::BlockSize::Max64KB)
                .block_mode(lz4::BlockMode::Independent)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .block_checksum(lz4::liblz4::BlockChecksum::NoBlockChecksum)
                .level(u32::try_from(target.level).unwrap_or(0))
                .build(Vec::new())?;
            encoder.write_all(records)?;
            let (out, finished) = encoder.finish();
            finished.map(|()| out)
        }
        Compression::Zstd => zstd::bulk::compress(records, target.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record_batch::{
        RecordInput, build_uncompressed_batch, verify_stored_batch,
    };
    use crate::protocol::records::visit_records;

    /// Key, value, offset and timestamp of one record.
    type Record = (Option<Vec<u8>>, Option<Vec<u8>>, i64, i64);

    fn records_of(batch: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        visit_records(batch, |record| {
            out.push((
                record.key.map(<[u8]>::to_vec),
                record.value.map(<[u8]>::to_vec),
                record.offset,
                record.timestamp,
            ));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn every_codec_round_trips_and_keeps_the_header() {
        let values: Vec<Vec<u8>> =
            (0..500).map(|index| format!("value {index} ").repeat(40).into_bytes()).collect();
        let inputs: Vec<RecordInput<'_>> = values
            .iter()
            .map(|value| RecordInput { key: Some(b"key"), value: Some(value) })
            .collect();
        let plain = build_uncompressed_batch(&inputs, 1_700_000_000_000).freeze();
        let plain_header = BatchHeader::parse(&plain).unwrap();
        let expected = records_of(&plain);
        let mut previous = plain.clone();
        for (codec, level) in [
            (Compression::Gzip, -1),
            (Compression::Snappy, 0),
            (Compression::Lz4, 9),
            (Compression::Zstd, 3),
            (Compression::None, 0),
        ] {
            let header = BatchHeader::parse(&previous).unwrap();
            let target = TargetCompression { codec, level };
            let next = recompress(&previous, &header, target, usize::MAX)
                .unwrap()
                .expect("a different codec");
            let next_header = verify_stored_batch(&next).unwrap();
            assert_eq!(next_header.compression(), Some(codec));
            assert_eq!(records_of(&next), expected, "{codec:?}");
            assert_eq!(
                (next_header.records_count, next_header.base_timestamp, next_header.max_timestamp),
                (
                    plain_header.records_count,
                    plain_header.base_timestamp,
                    plain_header.max_timestamp
                )
            );
            if codec != Compression::None {
                assert!(next.len() < plain.len() / 4, "{codec:?} compresses: {}", next.len());
            }
            assert!(
                recompress(&next, &next_header, target, usize::MAX).unwrap().is_none(),
                "already {codec:?}"
            );
            previous = next;
        }
        assert_eq!(previous, plain, "back to uncompressed, byte for byte");
    }

    #[test]
    fn a_batch_whose_records_disagree_with_its_header_is_refused() {
        let inputs = [RecordInput { key: None, value: Some(b"v") }; 3];
        let mut batch = build_uncompressed_batch(&inputs, 1).to_vec();
        // Claim four records.
        batch[57..61].copy_from_slice(&4i32.to_be_bytes());
        batch[23..27].copy_from_slice(&3i32.to_be_bytes());
        let header = BatchHeader::parse(&batch).unwrap();
        let target = TargetCompression { codec: Compression::Zstd, level: 3 };
        assert!(recompress(&batch, &header, target, usize::MAX).is_err());
    }
}
