//! Looking inside a stored batch: decompression with a size cap, and a walk over its records.
//!
//! The append and fetch paths never do this; they move whole batches. Only requests whose
//! answer depends on individual records (ListOffsets by timestamp and max-timestamp) come
//! here. Decompressed output is capped at [`DECOMPRESSED_BATCH_BYTES_MAX`] so a small hostile
//! batch cannot expand into gigabytes.
//!
//! Record layout (zig-zag varints): `length, attributes i8, timestampDelta varlong,
//! offsetDelta varint, keyLength, key, valueLength, value, headerCount, headers...`.

use std::io::Read;
use std::ops::ControlFlow;

use crate::error::{Error, Result};
use crate::limits::{BATCH_HEADER_SIZE, DECOMPRESSED_BATCH_BYTES_MAX};
use crate::protocol::record_batch::{BatchHeader, Compression};

/// One record inside a batch, borrowed from the batch's (decompressed) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// Calls `visit` for each record of the whole batch `batch` (header included), in offset
/// order, until it returns `Break`.
pub fn visit_records(
    batch: &[u8],
    mut visit: impl FnMut(RecordView<'_>) -> ControlFlow<()>,
) -> Result<()> {
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| Error::CorruptMessage("batch shorter than its header".into()))?;
    let codec = header
        .compression()
        .ok_or_else(|| Error::CorruptMessage("unknown compression codec".into()))?;
    let compressed = &batch[BATCH_HEADER_SIZE..];
    let decompressed;
    let mut records: &[u8] = if codec == Compression::None {
        compressed
    } else {
        decompressed = decompress(codec, compressed, DECOMPRESSED_BATCH_BYTES_MAX)?;
        &decompressed
    };
    for _ in 0..header.records_count {
        let meta = next_record(&mut records, &header)?;
        if visit(meta).is_break() {
            break;
        }
    }
    Ok(())
}

fn next_record<'a>(records: &mut &'a [u8], header: &BatchHeader) -> Result<RecordView<'a>> {
    next_raw_record(records, header).map(|record| record.view)
}

/// One record with the raw pieces a rewrite needs (log compaction).
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub view: RecordView<'a>,
    /// The whole record, its length prefix included.
    pub bytes: &'a [u8],
    pub attributes: u8,
    /// Everything after the timestamp delta: offset delta, key, value and headers.
    pub after_timestamp: &'a [u8],
}

/// Calls `visit` for each of the `header.records_count` records of an uncompressed records
/// section, checking each is well formed.
pub fn for_each_raw_record<'a>(
    mut records: &'a [u8],
    header: &BatchHeader,
    mut visit: impl FnMut(RawRecord<'a>) -> Result<()>,
) -> Result<()> {
    for _ in 0..header.records_count {
        visit(next_raw_record(&mut records, header)?)?;
    }
    Ok(())
}

fn next_raw_record<'a>(records: &mut &'a [u8], header: &BatchHeader) -> Result<RawRecord<'a>> {
    let whole = *records;
    let length = usize::try_from(read_varint(records)?)
        .map_err(|_| Error::CorruptMessage("negative record length".into()))?;
    if length > records.len() {
        return Err(Error::CorruptMessage("record runs past the batch".into()));
    }
    let prefix = whole.len() - records.len();
    let (mut record, rest) = records.split_at(length);
    *records = rest;
    let attributes = take_byte(&mut record)?;
    let timestamp_delta = read_varint(&mut record)?;
    let after_timestamp = record;
    let offset_delta = read_varint(&mut record)?;
    let timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        header.base_timestamp.wrapping_add(timestamp_delta)
    };
    let key = read_nullable(&mut record)?;
    let value = read_nullable(&mut record)?;
    let header_count = read_varint(&mut record)?;
    if header_count < 0 || header_count > i64::try_from(record.len()).unwrap_or(i64::MAX) {
        return Err(Error::CorruptMessage(format!("invalid record header count {header_count}")));
    }
    for _ in 0..header_count {
        if read_nullable(&mut record)?.is_none() {
            return Err(Error::CorruptMessage("null record header key".into()));
        }
        let _value = read_nullable(&mut record)?;
    }
    if !record.is_empty() {
        return Err(Error::CorruptMessage(format!("{} bytes left over in a record", record.len())));
    }
    Ok(RawRecord {
        view: RecordView {
            offset: header.base_offset.wrapping_add(offset_delta),
            timestamp,
            key,
            value,
        },
        bytes: &whole[..prefix + length],
        attributes,
        after_timestamp,
    })
}

/// Checks the records of an uncompressed client batch the way Kafka's `LogValidator` does:
/// exactly `recordsCount` well-formed records, offset deltas 0, 1, 2, ... and nothing after
/// the last one. Cheap: varints are parsed, no record bytes are copied.
pub fn check_uncompressed_records(batch: &[u8]) -> Result<()> {
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| Error::CorruptMessage("batch shorter than its header".into()))?;
    check_records(&batch[BATCH_HEADER_SIZE..], &header)
}

/// Checks a batch's records section, uncompressed, as [`check_uncompressed_records`] does.
pub fn check_records(mut records: &[u8], header: &BatchHeader) -> Result<()> {
    for expected_delta in 0..i64::from(header.records_count) {
        let record = next_record(&mut records, header)?;
        let delta = record.offset.wrapping_sub(header.base_offset);
        if delta != expected_delta {
            return Err(Error::InvalidRecord(format!(
                "record offset delta {delta} where {expected_delta} was expected"
            )));
        }
    }
    if !records.is_empty() {
        return Err(Error::InvalidRecord(format!(
            "{} bytes after the batch's {} declared records",
            records.len(),
            header.records_count
        )));
    }
    Ok(())
}

/// A varint length (-1 = null) and that many bytes.
fn read_nullable<'a>(bytes: &mut &'a [u8]) -> Result<Option<&'a [u8]>> {
    let length = read_varint(bytes)?;
    if length < 0 {
        return Ok(None);
    }
    let length =
        usize::try_from(length).map_err(|_| Error::CorruptMessage("field length".into()))?;
    if length > bytes.len() {
        return Err(Error::CorruptMessage("record field runs past the record".into()));
    }
    let (field, rest) = bytes.split_at(length);
    *bytes = rest;
    Ok(Some(field))
}

fn take_byte(bytes: &mut &[u8]) -> Result<u8> {
    let (&first, rest) =
        bytes.split_first().ok_or_else(|| Error::CorruptMessage("record truncated".into()))?;
    *bytes = rest;
    Ok(first)
}

/// Reads a zig-zag varlong (at most 10 bytes).
pub fn read_varint(bytes: &mut &[u8]) -> Result<i64> {
    let mut raw: u64 = 0;
    for index in 0..10 {
        let byte = take_byte(bytes)?;
        raw |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let magnitude = i64::try_from(raw >> 1).expect("63 bits");
            return Ok(if raw & 1 == 0 { magnitude } else { -magnitude - 1 });
        }
    }
    Err(Error::CorruptMessage("varint longer than 10 bytes".into()))
}

/// Decompresses a batch's records section, failing once the output passes `cap` bytes.
pub fn decompress(codec: Compression, input: &[u8], cap: usize) -> Result<Vec<u8>> {
    let output = match codec {
        Compression::None => return Ok(input.to_vec()),
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(input), cap),
        Compression::Lz4 => lz4::Decoder::new(input).and_then(|decoder| read_capped(decoder, cap)),
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(input).and_then(|decoder| read_capped(decoder, cap))
        }
        Compression::Snappy => return decompress_snappy(input, cap),
    };
    output.map_err(|error| Error::CorruptMessage(format!("{codec:?} decompression: {error}")))
}

fn read_capped(reader: impl Read, cap: usize) -> std::io::Result<Vec<u8>> {
    let mut output = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let _ = reader.take(limit).read_to_end(&mut output)?;
    if output.len() > cap {
        return Err(std::io::Error::other(format!("decompressed size exceeds {cap} bytes")));
    }
    Ok(output)
}

/// The xerial snappy-java stream header the Java client (and librdkafka) write.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_SIZE: usize = 16;

/// Snappy in Kafka is either xerial-framed (header, then `[i32 length][raw block]`*) or a
/// single raw snappy block.
fn decompress_snappy(input: &[u8], cap: usize) -> Result<Vec<u8>> {
    if !input.starts_with(XERIAL_MAGIC) {
        let mut output = Vec::new();
        snappy_block(input, cap, &mut output)?;
        return Ok(output);
    }
    let mut rest = input
        .get(XERIAL_HEADER_SIZE..)
        .ok_or_else(|| Error::CorruptMessage("xerial snappy header truncated".into()))?;
    let mut output = Vec::new();
    while !rest.is_empty() {
        let length_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| Error::CorruptMessage("xerial snappy block truncated".into()))?;
        let length = usize::try_from(u32::from_be_bytes(length_bytes)).expect("u32 fits usize");
        let block = rest
            .get(4..4 + length)
            .ok_or_else(|| Error::CorruptMessage("xerial snappy block truncated".into()))?;
        snappy_block(block, cap, &mut output)?;
        rest = &rest[4 + length..];
    }
    Ok(output)
}

fn snappy_block(block: &[u8], cap: usize, output: &mut Vec<u8>) -> Result<()> {
    let corrupt = |error: snap::Error| Error::CorruptMessage(format!("snappy: {error}"));
    let length = snap::raw::decompress_len(block).map_err(corrupt)?;
    if output.len().saturating_add(length) > cap {
        return Err(Error::CorruptMessage(format!("decompressed size exceeds {cap} bytes")));
    }
    let start = output.len();
    output.resize(start + length, 0);
    let written =
        snap::raw::Decoder::new().decompress(block, &mut output[start..]).map_err(corrupt)?;
    output.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::records::Compression as CrateCompression;

    use crate::protocol::test_support::crate_batch;

    fn encoded(compression: CrateCompression, timestamps: &[i64]) -> Vec<u8> {
        let value = |_| Bytes::from(vec![b'v'; 100]);
        crate_batch(compression, timestamps.len(), value, |index| timestamps[index])
    }

    fn metas(batch: &[u8]) -> Vec<(i64, i64)> {
        let mut seen = Vec::new();
        visit_records(batch, |record| {
            assert_eq!(record.key, Some(format!("key-{}", record.offset).as_bytes()));
            assert_eq!(record.value.map(<[u8]>::len), Some(100));
            seen.push((record.offset, record.timestamp));
            ControlFlow::Continue(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn every_codec_yields_offsets_and_timestamps() {
        let timestamps = [1_000, 900, 1_500, 1_200];
        for codec in [
            CrateCompression::None,
            CrateCompression::Gzip,
            CrateCompression::Snappy,
            CrateCompression::Lz4,
            CrateCompression::Zstd,
        ] {
            let batch = encoded(codec, &timestamps);
            let seen = metas(&batch);
            let expected: Vec<(i64, i64)> = timestamps
                .iter()
                .enumerate()
                .map(|(index, &timestamp)| (i64::try_from(index).unwrap(), timestamp))
                .collect();
            assert_eq!(seen, expected, "{codec:?}");
        }
    }

    #[test]
    fn visiting_stops_on_break() {
        let batch = encoded(CrateCompression::None, &[1, 2, 3]);
        let mut count = 0;
        visit_records(&batch, |_| {
            count += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn decompression_is_capped() {
        let big = vec![0u8; 1 << 20];
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut encoder, &big).unwrap();
        let compressed = encoder.finish().unwrap();
        assert!(decompress(Compression::Gzip, &compressed, 1 << 20).is_ok());
        assert!(matches!(
            decompress(Compression::Gzip, &compressed, (1 << 20) - 1),
            Err(Error::CorruptMessage(_))
        ));
        let snappy = snap::raw::Encoder::new().compress_vec(&big).unwrap();
        assert!(decompress(Compression::Snappy, &snappy, 1000).is_err());
    }

    #[test]
    fn uncompressed_records_are_checked_against_the_header() {
        let batch = encoded(CrateCompression::None, &[1, 2, 3]);
        assert!(check_uncompressed_records(&batch).is_ok());
        // Claim fewer records than the batch holds (fixing the CRC is irrelevant here).
        let mut fewer = batch.clone();
        fewer[57..61].copy_from_slice(&2i32.to_be_bytes());
        assert!(check_uncompressed_records(&fewer).is_err());
        let mut more = batch.clone();
        more[57..61].copy_from_slice(&4i32.to_be_bytes());
        assert!(check_uncompressed_records(&more).is_err());
        let mut huge = batch;
        huge[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(check_uncompressed_records(&huge).is_err());
    }

    #[test]
    fn truncated_records_are_corrupt_not_panics() {
        let batch = encoded(CrateCompression::None, &[1, 2, 3]);
        let mut cut = batch[..batch.len() - 5].to_vec();
        // Keep the header's count; the last record now runs past the end.
        cut.truncate(cut.len());
        assert!(visit_records(&cut, |_| ControlFlow::Continue(())).is_err());
    }

    #[test]
    fn varints_round_trip() {
        for value in [0i64, 1, -1, 63, -64, 64, 300, -300, i64::MAX, i64::MIN] {
            let mut buf = bytes::BytesMut::new();
            crate::protocol::record_batch::put_varint(&mut buf, value);
            let mut slice: &[u8] = &buf;
            assert_eq!(read_varint(&mut slice).unwrap(), value);
            assert!(slice.is_empty());
        }
    }
}
