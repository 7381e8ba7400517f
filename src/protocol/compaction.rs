//! Rewriting one stored batch for log compaction: keep some of its records, drop the rest,
//! exactly as Kafka's `MemoryRecords.filterTo` does for magic v2.
//!
//! - The batch keeps its base offset and `lastOffsetDelta` even when its first or last
//!   records go, so offsets never move and an idempotent producer's sequence range stays
//!   whole; gaps inside a batch are fine (consumers read offsets from the records).
//! - Producer id, epoch, base sequence, leader epoch, timestamp type and the codec are kept.
//!   `maxTimestamp` is recomputed from the kept records (CreateTime) and `recordsCount` set.
//! - Kept records are copied byte for byte, except when the batch first gets a delete
//!   horizon (KIP-534): then `baseTimestamp` becomes the horizon and each record's timestamp
//!   delta is rewritten against it, so every record keeps its absolute timestamp.
//! - A batch that keeps no record disappears, unless it is its producer's last batch in the
//!   log: then its header stays with no records (Kafka's `RETAIN_EMPTY`), so the producer's
//!   sequence survives a rebuild of producer state from the log.
//! - Control batches are kept as they are (no transactions are written here).

use bytes::{BufMut, BytesMut};

use super::recompress::{TargetCompression, compress};
use super::record_batch::{
    ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_OFFSET, BatchHeader, CRC_OFFSET,
    Compression, DELETE_HORIZON_BIT, MAX_TIMESTAMP_OFFSET, RECORDS_COUNT_OFFSET, compute_crc,
    put_varint,
};
use super::records::{RecordView, decompress, for_each_raw_record};
use crate::error::{Error, Result};
use crate::limits::{BATCH_HEADER_SIZE, DECOMPRESSED_BATCH_BYTES_MAX, LOG_OVERHEAD};

/// What becomes of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// Every record stays and nothing in the header changes: copy the batch as it is.
    Unchanged,
    /// The batch as rewritten.
    Rewritten(Vec<u8>),
    /// Nothing of the batch stays.
    Removed,
}

/// How one batch is filtered.
#[derive(Debug, Clone, Copy)]
pub struct FilterContext {
    pub now_ms: i64,
    /// `delete.retention.ms`: how long tombstones stay after the pass that first keeps them.
    pub delete_retention_ms: i64,
    /// The batch is its producer's last in the log: keep its header even if empty.
    pub keep_if_empty: bool,
    /// Records at or past this offset lie beyond the cleaner's key map: all are kept (Kafka's
    /// `pastLatestOffset`).
    pub keep_from_offset: i64,
}

/// A filtered batch and what it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOutcome {
    pub batch: Filtered,
    /// The kept batch holds tombstones: their delete horizon, the time a later pass may
    /// remove them.
    pub tombstone_horizon_ms: Option<i64>,
    pub records_kept: usize,
    pub records_removed: usize,
}

/// Filters `batch` (one whole stored batch whose header is `header`): `is_latest` says
/// whether a keyed record is the latest for its key. A record at or past
/// `context.keep_from_offset` stays; before it, a record stays if it has a key, is the latest
/// for it, and either has a value or is a tombstone whose batch's delete horizon has not
/// passed (a batch keeping tombstones without a horizon gets one now:
/// `now + delete.retention.ms`). Records without a key are dropped, as Kafka's cleaner drops
/// them. A batch with no records (kept empty for its producer before) goes unless
/// `context.keep_if_empty`.
pub fn filter_batch(
    batch: &[u8],
    header: &BatchHeader,
    context: FilterContext,
    mut is_latest: impl FnMut(&RecordView<'_>) -> bool,
) -> Result<FilterOutcome> {
    if header.is_control() || header.records_count == 0 {
        let gone = !header.is_control()
            && !context.keep_if_empty
            && header.last_offset() < context.keep_from_offset;
        return Ok(FilterOutcome {
            batch: if gone { Filtered::Removed } else { Filtered::Unchanged },
            tombstone_horizon_ms: None,
            records_kept: 0,
            records_removed: 0,
        });
    }
    let codec = header
        .compression()
        .ok_or_else(|| Error::CorruptMessage("unknown compression codec".into()))?;
    let section = &batch[BATCH_HEADER_SIZE..];
    let decompressed;
    let records: &[u8] = if codec == Compression::None {
        section
    } else {
        decompressed = decompress(codec, section, DECOMPRESSED_BATCH_BYTES_MAX)?;
        &decompressed
    };
    let existing_horizon = header.delete_horizon_ms();
    let tombstones_expired = existing_horizon.is_some_and(|horizon| context.now_ms >= horizon);
    let mut kept = Vec::new();
    let mut removed = 0usize;
    let mut kept_tombstone = false;
    for_each_raw_record(records, header, |record| {
        let view = &record.view;
        let keep = view.offset >= context.keep_from_offset
            || (view.key.is_some()
                && is_latest(view)
                && (view.value.is_some() || !tombstones_expired));
        if keep {
            kept_tombstone |= view.value.is_none();
            kept.push(record);
        } else {
            removed += 1;
        }
        Ok(())
    })?;
    let set_horizon = kept_tombstone && existing_horizon.is_none();
    let horizon = if set_horizon {
        Some(context.now_ms.saturating_add(context.delete_retention_ms))
    } else {
        existing_horizon
    };
    let outcome = |batch| FilterOutcome {
        batch,
        tombstone_horizon_ms: horizon.filter(|_| kept_tombstone),
        records_kept: kept.len(),
        records_removed: removed,
    };
    if removed == 0 && !set_horizon {
        return Ok(outcome(Filtered::Unchanged));
    }
    if kept.is_empty() {
        return Ok(outcome(if context.keep_if_empty {
            Filtered::Rewritten(empty_batch(batch, header))
        } else {
            Filtered::Removed
        }));
    }
    let base_timestamp = horizon.unwrap_or(header.base_timestamp);
    let mut section = BytesMut::with_capacity(records.len());
    let mut body = BytesMut::new();
    for record in &kept {
        if base_timestamp == header.base_timestamp || header.is_log_append_time() {
            section.put_slice(record.bytes);
        } else {
            body.clear();
            body.put_u8(record.attributes);
            put_varint(&mut body, record.view.timestamp.wrapping_sub(base_timestamp));
            body.put_slice(record.after_timestamp);
            put_varint(&mut section, i64::try_from(body.len()).expect("record fits i64"));
            section.put_slice(&body);
        }
    }
    let max_timestamp = if header.is_log_append_time() {
        header.max_timestamp
    } else {
        kept.iter().map(|record| record.view.timestamp).max().unwrap_or(header.max_timestamp)
    };
    let compressed = match codec {
        Compression::None => section.to_vec(),
        codec => compress(TargetCompression::default_level(codec), &section).map_err(|error| {
            Error::Internal(format!("{codec:?} compression while cleaning: {error}"))
        })?,
    };
    let mut out = Vec::with_capacity(BATCH_HEADER_SIZE + compressed.len());
    out.extend_from_slice(&batch[..BATCH_HEADER_SIZE]);
    out.extend_from_slice(&compressed);
    let attributes =
        if horizon.is_some() { header.attributes | DELETE_HORIZON_BIT } else { header.attributes };
    put_at(&mut out, ATTRIBUTES_OFFSET, &attributes.to_be_bytes());
    put_at(&mut out, BASE_TIMESTAMP_OFFSET, &base_timestamp.to_be_bytes());
    put_at(&mut out, MAX_TIMESTAMP_OFFSET, &max_timestamp.to_be_bytes());
    let count = i32::try_from(kept.len()).expect("fewer records than the batch had");
    put_at(&mut out, RECORDS_COUNT_OFFSET, &count.to_be_bytes());
    finish(&mut out)?;
    Ok(outcome(Filtered::Rewritten(out)))
}

/// The batch's header with no records: codec none, both timestamps the batch's largest
/// (Kafka's `writeEmptyHeader`), offsets, producer fields and flags kept.
fn empty_batch(batch: &[u8], header: &BatchHeader) -> Vec<u8> {
    let mut out = batch[..BATCH_HEADER_SIZE].to_vec();
    let attributes = header.attributes & !(0x07 | DELETE_HORIZON_BIT);
    put_at(&mut out, ATTRIBUTES_OFFSET, &attributes.to_be_bytes());
    put_at(&mut out, BASE_TIMESTAMP_OFFSET, &header.max_timestamp.to_be_bytes());
    put_at(&mut out, RECORDS_COUNT_OFFSET, &0i32.to_be_bytes());
    finish(&mut out).expect("a header-only batch fits");
    out
}

fn put_at(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Sets the batch length and the CRC.
fn finish(out: &mut [u8]) -> Result<()> {
    let batch_length = i32::try_from(out.len() - LOG_OVERHEAD)
        .map_err(|_| Error::Internal("a cleaned batch over 2 GiB".into()))?;
    put_at(out, BATCH_LENGTH_OFFSET, &batch_length.to_be_bytes());
    let crc = compute_crc(out);
    put_at(out, CRC_OFFSET, &crc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::record_batch::verify_stored_batch;
    use crate::protocol::records::visit_records;
    use crate::protocol::test_support::crate_batch_with;
    use kafka_protocol::records::Compression as CrateCompression;

    /// (offset, timestamp, key, value) of every record.
    type Seen = Vec<(i64, i64, Option<Vec<u8>>, Option<Vec<u8>>)>;

    fn records_of(batch: &[u8]) -> Seen {
        let mut seen = Vec::new();
        visit_records(batch, |record| {
            seen.push((
                record.offset,
                record.timestamp,
                record.key.map(<[u8]>::to_vec),
                record.value.map(<[u8]>::to_vec),
            ));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        seen
    }

    /// Records k0..k5 at offsets 100..106 and timestamps 1000.., with k2 and k4 tombstones.
    fn batch(compression: CrateCompression) -> Vec<u8> {
        crate_batch_with(compression, 100, 6, from(1000), |index| {
            let key = format!("k{index}").into_bytes();
            let value = (index % 2 == 1 || index == 0).then(|| format!("v{index}").into_bytes());
            (Some(key), value)
        })
    }

    /// Timestamps `start`, `start + 1`, ... by record index.
    fn from(start: i64) -> impl Fn(usize) -> i64 {
        move |index| start + i64::try_from(index).unwrap()
    }

    fn context(now_ms: i64) -> FilterContext {
        FilterContext {
            now_ms,
            delete_retention_ms: 500,
            keep_if_empty: false,
            keep_from_offset: i64::MAX,
        }
    }

    #[test]
    fn keeps_the_latest_records_with_offsets_and_timestamps_and_sets_a_horizon() {
        for compression in [CrateCompression::None, CrateCompression::Lz4, CrateCompression::Zstd] {
            let original = batch(compression);
            let header = BatchHeader::parse(&original).unwrap();
            let outcome =
                filter_batch(&original, &header, context(5000), |record| record.offset != 101)
                    .unwrap();
            let Filtered::Rewritten(cleaned) = &outcome.batch else { panic!("{outcome:?}") };
            let cleaned_header = verify_stored_batch(cleaned).unwrap();
            assert_eq!(cleaned_header.base_offset, 100);
            assert_eq!(cleaned_header.last_offset(), header.last_offset());
            assert_eq!(cleaned_header.compression(), header.compression());
            assert_eq!(cleaned_header.delete_horizon_ms(), Some(5500));
            assert_eq!(outcome.tombstone_horizon_ms, Some(5500));
            let expected: Seen =
                records_of(&original).into_iter().filter(|record| record.0 != 101).collect();
            assert_eq!(records_of(cleaned), expected);
            assert_eq!((outcome.records_kept, outcome.records_removed), (5, 1));

            // Before the horizon the tombstones stay and the batch is left alone.
            let again = filter_batch(cleaned, &cleaned_header, context(5499), |_| true).unwrap();
            assert_eq!(again.batch, Filtered::Unchanged);
            // After it they go, and the horizon goes with the last tombstone.
            let after = filter_batch(cleaned, &cleaned_header, context(5500), |_| true).unwrap();
            let Filtered::Rewritten(final_batch) = &after.batch else { panic!() };
            let final_header = verify_stored_batch(final_batch).unwrap();
            let values: Vec<_> =
                records_of(final_batch).into_iter().map(|record| record.0).collect();
            assert_eq!(values, vec![100, 103, 105]);
            assert_eq!(after.tombstone_horizon_ms, None);
            assert_eq!(final_header.max_timestamp, 1005);
            // Record timestamps survive the horizon's base timestamp.
            assert_eq!(records_of(final_batch)[1].1, 1003);
        }
    }

    #[test]
    fn a_batch_with_nothing_to_drop_is_unchanged_and_an_emptied_one_goes() {
        let original = crate_batch_with(CrateCompression::None, 0, 3, from(10), |index| {
            (Some(format!("k{index}").into_bytes()), Some(b"v".to_vec()))
        });
        let header = BatchHeader::parse(&original).unwrap();
        let all = filter_batch(&original, &header, context(0), |_| true).unwrap();
        assert_eq!(all.batch, Filtered::Unchanged);
        let none = filter_batch(&original, &header, context(0), |_| false).unwrap();
        assert_eq!(none.batch, Filtered::Removed);
        let keep_empty = FilterContext { keep_if_empty: true, ..context(0) };
        let empty = filter_batch(&original, &header, keep_empty, |_| false).unwrap();
        let Filtered::Rewritten(empty) = empty.batch else { panic!() };
        let empty_header = verify_stored_batch(&empty).unwrap();
        assert_eq!(empty.len(), BATCH_HEADER_SIZE);
        assert_eq!((empty_header.records_count, empty_header.last_offset()), (0, 2));
        // Once no longer its producer's last, the empty batch goes.
        let again = filter_batch(&empty, &empty_header, context(0), |_| true).unwrap();
        assert_eq!(again.batch, Filtered::Removed);
        let still = filter_batch(&empty, &empty_header, keep_empty, |_| true).unwrap();
        assert_eq!(still.batch, Filtered::Unchanged);
    }

    #[test]
    fn records_past_the_key_map_are_all_kept() {
        let original = crate_batch_with(CrateCompression::None, 10, 4, from(10), |index| {
            ((index != 3).then(|| b"k".to_vec()), (index != 2).then(|| b"v".to_vec()))
        });
        let header = BatchHeader::parse(&original).unwrap();
        // The tombstone at 12 and the keyless record at 13 lie past the map: both stay;
        // 10 and 11 before it are superseded.
        let context = FilterContext { keep_from_offset: 12, ..context(0) };
        let outcome = filter_batch(&original, &header, context, |_| false).unwrap();
        let Filtered::Rewritten(cleaned) = outcome.batch else { panic!() };
        let offsets: Vec<i64> = records_of(&cleaned).iter().map(|record| record.0).collect();
        assert_eq!(offsets, vec![12, 13]);
    }

    #[test]
    fn records_without_keys_are_dropped() {
        let original = crate_batch_with(CrateCompression::None, 0, 2, from(10), |index| {
            ((index == 1).then(|| b"k".to_vec()), Some(b"v".to_vec()))
        });
        let header = BatchHeader::parse(&original).unwrap();
        let outcome = filter_batch(&original, &header, context(0), |_| true).unwrap();
        let Filtered::Rewritten(cleaned) = outcome.batch else { panic!() };
        assert_eq!(records_of(&cleaned).len(), 1);
        assert_eq!(records_of(&cleaned)[0].0, 1);
    }
}
