use super::*;
use crate::log::test_support::{batch_headers, client_batch};
use crate::protocol::record_batch::{HeaderRewrite, rewrite_header};

struct Fixture {
    _dir: tempfile::TempDir,
    segment: Segment,
    config: LogConfig,
}

fn fixture(base_offset: i64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let segment = Segment::create(dir.path(), base_offset, 0).unwrap();
    let config = LogConfig { index_interval_bytes: 100, ..LogConfig::kafka_defaults() };
    Fixture { _dir: dir, segment, config }
}

fn append(fixture: &mut Fixture, count: usize, timestamp: i64) -> (i64, i64) {
    let batch = client_batch(count, 50, timestamp);
    let base_offset = fixture.segment.next_offset();
    let header = rewrite_header(
        &batch,
        HeaderRewrite { base_offset, partition_leader_epoch: 0, log_append_time_ms: None },
    );
    let count = i64::try_from(count).unwrap();
    let prepared = PreparedBatch {
        header: &header,
        tail: &batch[BATCH_HEADER_SIZE..],
        base_offset,
        last_offset: base_offset + count - 1,
        max_timestamp: timestamp,
    };
    fixture.segment.append(&prepared, fixture.config.index_interval_bytes).unwrap();
    (base_offset, base_offset + count - 1)
}

fn read_all(segment: &Segment, offset: i64) -> Vec<BatchHeader> {
    let bytes = segment
        .read(SegmentRead {
            offset,
            max_bytes: u64::MAX,
            min_one_message: true,
            end: segment.size(),
        })
        .unwrap()
        .unwrap_or_default();
    batch_headers(&bytes)
}

#[test]
fn appended_batches_read_back_from_any_offset() {
    let mut fixture = fixture(100);
    for index in 0..50 {
        append(&mut fixture, 3, 1_000 + index);
    }
    assert_eq!(fixture.segment.next_offset(), 250);
    assert!(fixture.segment.offset_index.len() > 10, "sparse index has entries");
    for offset in [100, 101, 102, 103, 149, 200, 249] {
        let headers = read_all(&fixture.segment, offset);
        let first = headers.first().unwrap();
        assert!(first.base_offset <= offset && offset <= first.last_offset(), "offset {offset}");
        assert_eq!(headers.last().unwrap().last_offset(), 249);
    }
    assert!(read_all(&fixture.segment, 250).is_empty());
}

#[test]
fn reads_return_whole_batches_and_at_least_one() {
    let mut fixture = fixture(0);
    for _ in 0..10 {
        append(&mut fixture, 2, 5);
    }
    let batch_size = fixture.segment.size() / 10;
    let read = |max_bytes, min_one_message| {
        fixture
            .segment
            .read(SegmentRead {
                offset: 0,
                max_bytes,
                min_one_message,
                end: fixture.segment.size(),
            })
            .unwrap()
            .unwrap()
    };
    assert_eq!(read(batch_size * 3 + 5, false).len() as u64, batch_size * 3);
    assert_eq!(read(batch_size - 1, false).len(), 0);
    assert_eq!(read(batch_size - 1, true).len() as u64, batch_size, "KIP-74: first batch anyway");
    let bounded = fixture
        .segment
        .read(SegmentRead {
            offset: 0,
            max_bytes: u64::MAX,
            min_one_message: true,
            end: batch_size * 4,
        })
        .unwrap()
        .unwrap();
    assert_eq!(bounded.len() as u64, batch_size * 4, "never past the readable end");
}

#[test]
fn roll_reasons() {
    let mut fixture = fixture(0);
    let batch = client_batch(1, 50, 10_000);
    let header = [0u8; BATCH_HEADER_SIZE];
    let prepared = |last_offset, max_timestamp| PreparedBatch {
        header: &header,
        tail: &batch[BATCH_HEADER_SIZE..],
        base_offset: last_offset,
        last_offset,
        max_timestamp,
    };
    assert_eq!(
        fixture.segment.roll_reason(&prepared(0, 0), &fixture.config, 0),
        None,
        "empty never rolls"
    );
    append(&mut fixture, 1, 10_000);
    let config = &fixture.config;
    assert_eq!(fixture.segment.roll_reason(&prepared(1, 10_001), config, 0), None);
    let small = LogConfig { segment_bytes: fixture.segment.size() + 10, ..config.clone() };
    assert_eq!(
        fixture.segment.roll_reason(&prepared(1, 10_001), &small, 0),
        Some(RollReason::Size)
    );
    let young = LogConfig { segment_ms: 100, ..config.clone() };
    assert_eq!(fixture.segment.roll_reason(&prepared(1, 10_050), &young, 0), None);
    assert_eq!(
        fixture.segment.roll_reason(&prepared(1, 10_101), &young, 0),
        Some(RollReason::Time)
    );
    // The jitter is this segment's draw below min(segment.jitter.ms, segment.ms).
    let jittered = LogConfig { segment_ms: 100, segment_jitter_ms: 60, ..config.clone() };
    fixture.segment.jitter_seed = 119; // 119 % 60 = 59: rolls once more than 41 ms waited.
    assert_eq!(fixture.segment.roll_reason(&prepared(1, 10_041), &jittered, 0), None);
    assert_eq!(
        fixture.segment.roll_reason(&prepared(1, 10_042), &jittered, 0),
        Some(RollReason::Time)
    );
    let oversized = LogConfig { segment_ms: 100, segment_jitter_ms: 1_000, ..config.clone() };
    for seed in [0, 99, 100, u64::MAX] {
        fixture.segment.jitter_seed = seed;
        assert!(fixture.segment.jitter_ms(&oversized) < 100, "jitter stays below segment.ms");
    }
    let far = i64::from(i32::MAX) + 1;
    assert_eq!(
        fixture.segment.roll_reason(&prepared(far, 10_001), config, 0),
        Some(RollReason::OffsetOverflow)
    );
    let tiny_index = LogConfig { segment_index_bytes: 8, ..config.clone() };
    append(&mut fixture, 1, 10_000);
    append(&mut fixture, 1, 10_000);
    assert_eq!(
        fixture.segment.roll_reason(&prepared(3, 10_001), &tiny_index, 0),
        Some(RollReason::IndexFull)
    );
}

#[test]
fn timestamp_search_finds_the_first_record_at_or_after() {
    let mut fixture = fixture(0);
    for index in 0..20 {
        append(&mut fixture, 2, 1_000 + 10 * index);
    }
    let found = |timestamp| fixture.segment.timestamp_search(timestamp, 0).unwrap().run().unwrap();
    assert_eq!(found(0).map(|found| (found.offset, found.timestamp)), Some((0, 1_000)));
    assert_eq!(found(1_000).map(|found| found.offset), Some(0));
    assert_eq!(found(1_001).map(|found| (found.offset, found.timestamp)), Some((2, 1_010)));
    assert_eq!(found(1_190).map(|found| found.offset), Some(38));
    assert_eq!(found(1_191), None);
    let max = fixture.segment.max_timestamp_search().unwrap().unwrap().run().unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (38, 1_190));
}

#[test]
fn a_truncated_tail_is_cut_at_the_last_whole_batch() {
    let mut fixture = fixture(0);
    for _ in 0..20 {
        append(&mut fixture, 2, 7);
    }
    let whole = fixture.segment.size();
    let batch_size = whole / 20;
    fixture.segment.log_file().set_len(whole - batch_size / 2).unwrap();
    let truncated = fixture.segment.recover(100, 0).unwrap();
    assert_eq!(truncated, batch_size - batch_size / 2);
    assert_eq!(fixture.segment.size(), batch_size * 19);
    assert_eq!(fixture.segment.next_offset(), 38);
    assert_eq!(read_all(&fixture.segment, 37).len(), 1);
}

#[test]
fn a_flipped_byte_mid_segment_truncates_there() {
    let mut fixture = fixture(0);
    for _ in 0..20 {
        append(&mut fixture, 2, 7);
    }
    let batch_size = fixture.segment.size() / 20;
    let position = batch_size * 10 + batch_size / 2;
    // A separate handle: pwrite on the segment's O_APPEND handle would append instead.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(log_path(&fixture.segment.dir(), 0))
        .unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, position).unwrap();
    file.write_all_at(&[byte[0] ^ 0x01], position).unwrap();
    fixture.segment.recover(100, 0).unwrap();
    assert_eq!(fixture.segment.size(), batch_size * 10);
    assert_eq!(fixture.segment.next_offset(), 20);
    // The rebuilt index still finds every surviving offset.
    for offset in 0..20 {
        assert!(!read_all(&fixture.segment, offset).is_empty(), "offset {offset}");
    }
}

#[test]
fn recovery_rebuilds_the_same_indexes() {
    let mut fixture = fixture(0);
    for index in 0..40 {
        append(&mut fixture, 1, 100 + index);
    }
    let entries: Vec<_> = (0..fixture.segment.offset_index.len())
        .map(|index| fixture.segment.offset_index.entry(index).unwrap())
        .collect();
    let time_entries = fixture.segment.time_index.len();
    assert_eq!(fixture.segment.recover(100, 0).unwrap(), 0);
    let rebuilt: Vec<_> = (0..fixture.segment.offset_index.len())
        .map(|index| fixture.segment.offset_index.entry(index).unwrap())
        .collect();
    assert_eq!(rebuilt, entries);
    assert_eq!(fixture.segment.time_index.len(), time_entries);
    assert_eq!(fixture.segment.max_timestamp(), 139);
}

#[test]
fn a_sealed_segment_reopens_with_its_state() {
    let mut fixture = fixture(500);
    for index in 0..30 {
        append(&mut fixture, 2, 2_000 + index);
    }
    fixture.segment.seal().unwrap();
    let dir = fixture.segment.dir();
    let reopened = Segment::open_trusted(&dir, 500, false, 0).unwrap().unwrap();
    assert_eq!(reopened.next_offset(), 560);
    assert_eq!(reopened.size(), fixture.segment.size());
    assert_eq!(reopened.max_timestamp(), 2_029);
    assert_eq!(read_all(&reopened, 530).first().unwrap().base_offset, 530);
    let active = Segment::open_trusted(&dir, 500, true, 0).unwrap().unwrap();
    assert_eq!(active.next_offset(), 560);
}

#[test]
fn a_malformed_index_is_not_trusted() {
    let mut fixture = fixture(0);
    for _ in 0..30 {
        append(&mut fixture, 2, 1);
    }
    fixture.segment.seal().unwrap();
    let dir = fixture.segment.dir();
    std::fs::write(index_path(&dir, 0), [0xffu8; 8]).unwrap();
    assert!(Segment::open_trusted(&dir, 0, false, 0).unwrap().is_none());
    std::fs::write(index_path(&dir, 0), [0u8; 7]).unwrap();
    assert!(Segment::open_trusted(&dir, 0, false, 0).unwrap().is_none());
}

#[test]
fn the_header_walk_stops_at_the_last_whole_batch_for_any_limit() {
    // Tiny batches, batches larger than the walk's window, and tiny ones again.
    let mut fixture = fixture(0);
    let mut sizes = Vec::new();
    for (count, value_size) in [(1, 10), (2, 10), (3, 3_000), (1, 9_000), (1, 10), (5, 10)] {
        let batch = client_batch(count, value_size, 1_000);
        sizes.push(batch.len() as u64);
        let base_offset = fixture.segment.next_offset();
        let header = rewrite_header(
            &batch,
            HeaderRewrite { base_offset, partition_leader_epoch: 0, log_append_time_ms: None },
        );
        let prepared = PreparedBatch {
            header: &header,
            tail: &batch[BATCH_HEADER_SIZE..],
            base_offset,
            last_offset: base_offset + i64::try_from(count).unwrap() - 1,
            max_timestamp: 1_000,
        };
        fixture.segment.append(&prepared, fixture.config.index_interval_bytes).unwrap();
    }
    assert!(sizes.iter().any(|size| *size > HEADER_WALK_WINDOW_BYTES as u64));
    let boundaries: Vec<u64> = sizes
        .iter()
        .scan(0, |end, size| {
            *end += size;
            Some(*end)
        })
        .collect();
    let total = *boundaries.last().unwrap();
    let file = &fixture.segment.log;
    for start in std::iter::once(0).chain(boundaries.iter().copied()) {
        for limit in start..=total {
            let expected = boundaries
                .iter()
                .copied()
                .filter(|end| *end > start && *end <= limit)
                .max()
                .unwrap_or(start);
            assert_eq!(
                whole_batches_end(file, start, limit).unwrap(),
                expected,
                "{start}..{limit}"
            );
        }
    }
}
