use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use super::*;
use crate::log::test_support::{batch_headers, client_batch, idempotent_batch};
use crate::protocol::record_batch::BatchHeader;

struct Fixture {
    dir: tempfile::TempDir,
    clock: Clock,
    config: LogConfig,
}

impl Fixture {
    fn new() -> Self {
        let config = LogConfig {
            index_interval_bytes: 200,
            segment_bytes: 4096,
            ..LogConfig::kafka_defaults()
        };
        Self { dir: tempfile::tempdir().unwrap(), clock: Clock::manual(1_000_000), config }
    }

    fn options(&self, clean_shutdown: bool, recovery_point: Option<i64>) -> OpenLog {
        OpenLog {
            dir: self.dir.path().join("topic-0"),
            topic_partition: TopicPartition::new("topic", 0),
            config: Arc::new(self.config.clone()),
            clock: self.clock.clone(),
            recovery_point,
            log_start_offset: None,
            clean_shutdown,
        }
    }

    fn open(&self, clean_shutdown: bool, recovery_point: Option<i64>) -> PartitionLog {
        PartitionLog::open(self.options(clean_shutdown, recovery_point)).unwrap()
    }

    fn segment_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("topic-0"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".log"))
            .collect();
        names.sort();
        names
    }
}

fn append(log: &PartitionLog, count: usize, timestamp: i64) -> AppendInfo {
    let batch = client_batch(count, 100, timestamp);
    let header = BatchHeader::parse(&batch).unwrap();
    log.append(&batch, &header).unwrap()
}

fn read_offsets(log: &PartitionLog, offset: i64) -> Vec<(i64, i64)> {
    let result = log
        .read(LogRead {
            offset,
            max_bytes: u64::MAX,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })
        .unwrap();
    batch_headers(&result.records)
        .iter()
        .map(|header| (header.base_offset, header.last_offset()))
        .collect()
}

/// Every batch from `offset` to the log end, following reads across segments.
fn read_everything(log: &PartitionLog, mut offset: i64) -> Vec<(i64, i64)> {
    let mut batches = Vec::new();
    while offset < log.offsets().log_end_offset {
        let read = read_offsets(log, offset);
        assert!(!read.is_empty(), "no progress at {offset}");
        offset = read.last().unwrap().1 + 1;
        batches.extend(read);
    }
    batches
}

fn assert_contiguous(batches: &[(i64, i64)], start: i64, end: i64) {
    let mut next = start;
    for &(base, last) in batches {
        assert_eq!(base, next, "batches are contiguous");
        next = last + 1;
    }
    assert_eq!(next, end);
}

#[test]
fn offsets_are_assigned_in_order_across_rolls() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    for index in 0..100 {
        let info = append(&log, 3, 1_000 + index);
        assert_eq!(info.base_offset, index * 3);
        assert_eq!(info.last_offset, index * 3 + 2);
        assert_eq!(info.log_append_time_ms, -1);
    }
    assert!(fixture.segment_files().len() > 5, "small segments rolled");
    assert_eq!(
        log.offsets(),
        LogOffsets { log_start_offset: 0, high_watermark: 300, log_end_offset: 300 }
    );
    assert_contiguous(&read_everything(&log, 0), 0, 300);
    let middle = read_offsets(&log, 151);
    assert!(middle[0].0 <= 151 && 151 <= middle[0].1);
}

#[test]
fn reading_past_the_end_is_out_of_range_and_at_the_end_is_empty() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    append(&log, 5, 1);
    let read = |offset| {
        log.read(LogRead {
            offset,
            max_bytes: 1 << 20,
            min_one_message: true,
            isolation: IsolationLevel::ReadCommitted,
        })
    };
    assert!(read(5).unwrap().records.is_empty());
    assert_eq!(read(6).unwrap_err().code(), 1);
    assert_eq!(read(-1).unwrap_err().code(), 1);
}

#[test]
fn a_clean_restart_keeps_everything_and_continues_offsets() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..50 {
            append(&log, 2, index);
        }
        log.persist_and_flush().unwrap();
    }
    let log = fixture.open(true, Some(100));
    assert_eq!(log.offsets().log_end_offset, 100);
    assert_eq!(log.recovery_point(), 100);
    assert_eq!(append(&log, 2, 99).base_offset, 100);
    assert_contiguous(&read_everything(&log, 0), 0, 102);
}

#[test]
fn an_unclean_restart_cuts_a_torn_tail() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..50 {
            append(&log, 2, index);
        }
    }
    let last = fixture.segment_files().pop().unwrap();
    let path = fixture.dir.path().join("topic-0").join(&last);
    let file = OpenOptions::new().append(true).open(&path).unwrap();
    let half_batch = &client_batch(2, 100, 1)[..100];
    std::io::Write::write_all(&mut &file, half_batch).unwrap();
    let log = fixture.open(false, Some(0));
    assert_eq!(log.offsets().log_end_offset, 100);
    assert_eq!(log.recovery_point(), 100, "recovered and fsynced");
    assert_eq!(append(&log, 1, 5).base_offset, 100);
    assert_contiguous(&read_everything(&log, 0), 0, 101);
}

#[test]
fn corruption_in_an_unflushed_segment_truncates_there_and_drops_later_segments() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..100 {
            append(&log, 2, index);
        }
    }
    let files = fixture.segment_files();
    assert!(files.len() >= 4);
    let victim = &files[1];
    let victim_base: i64 = victim.trim_end_matches(".log").parse().unwrap();
    let path = fixture.dir.path().join("topic-0").join(victim);
    let file = OpenOptions::new().read(true).write(true).open(&path).unwrap();
    file.write_all_at(&[0xff], 1_000).unwrap();
    let log = fixture.open(false, Some(0));
    let end = log.offsets().log_end_offset;
    assert!(end > victim_base && end < 200, "truncated inside the damaged segment: {end}");
    assert_eq!(fixture.segment_files().len(), 2, "later segments deleted");
    assert_contiguous(&read_everything(&log, 0), 0, end);
}

#[test]
fn segments_before_the_recovery_point_are_trusted() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..100 {
            append(&log, 2, index);
        }
        log.flush().unwrap();
    }
    let files = fixture.segment_files();
    // Damage the first segment; a recovery point past it means it is not rescanned.
    let path = fixture.dir.path().join("topic-0").join(&files[0]);
    let file = OpenOptions::new().read(true).write(true).open(&path).unwrap();
    file.write_all_at(&[0xff], 1_000).unwrap();
    let log = fixture.open(false, Some(200));
    assert_eq!(log.offsets().log_end_offset, 200);
}

#[test]
fn a_missing_index_is_rebuilt_even_after_a_clean_shutdown() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..100 {
            append(&log, 2, index);
        }
        log.persist_and_flush().unwrap();
    }
    let index = fixture.segment_files()[1].replace(".log", ".index");
    std::fs::remove_file(fixture.dir.path().join("topic-0").join(index)).unwrap();
    let log = fixture.open(true, Some(200));
    assert_eq!(log.offsets().log_end_offset, 200);
    assert_contiguous(&read_everything(&log, 0), 0, 200);
}

#[test]
fn log_append_time_is_stamped_by_the_broker() {
    let mut fixture = Fixture::new();
    fixture.config.timestamp_type = TimestampType::LogAppendTime;
    let log = fixture.open(false, None);
    let info = append(&log, 3, 42);
    assert_eq!(info.log_append_time_ms, 1_000_000);
    let read = log
        .read(LogRead {
            offset: 0,
            max_bytes: 1 << 20,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })
        .unwrap();
    let header = batch_headers(&read.records)[0];
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp, 1_000_000);
}

#[test]
fn timestamps_are_found_across_segments() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    for index in 0..100 {
        append(&log, 2, 10_000 + index * 10);
    }
    let found =
        |timestamp| log.find_offset_by_timestamp(timestamp).unwrap().map(|found| found.offset);
    assert_eq!(found(0), Some(0));
    assert_eq!(found(10_005), Some(2));
    assert_eq!(found(10_500), Some(100));
    assert_eq!(found(10_990), Some(198));
    assert_eq!(found(10_991), None);
    let max = log.max_timestamp_offset().unwrap().unwrap();
    assert_eq!((max.offset, max.timestamp), (198, 10_990));
}

#[tokio::test]
async fn flush_messages_asks_for_durability_and_flush_provides_it() {
    let mut fixture = Fixture::new();
    fixture.config.flush_messages = 5;
    let log = fixture.open(false, None);
    assert!(!append(&log, 2, 1).needs_flush);
    let info = append(&log, 3, 1);
    assert!(info.needs_flush);
    assert_eq!(log.recovery_point(), 0);
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 5);
    log.wait_flushed(info.last_offset + 1).await.unwrap();
    assert!(!append(&log, 1, 1).needs_flush, "counted from the last flush");
}

#[test]
fn flush_is_due_after_flush_ms() {
    let mut fixture = Fixture::new();
    fixture.config.flush_ms = 1_000;
    let log = fixture.open(false, None);
    let now = fixture.clock.now_ms();
    assert!(!log.flush_due(now + 5_000), "nothing to flush");
    append(&log, 1, 1);
    assert!(!log.flush_due(now + 999));
    assert!(log.flush_due(now + 1_000));
}

#[test]
fn a_closed_log_refuses_appends() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    log.close(Closed::Deleted);
    let batch = client_batch(1, 10, 1);
    let error = log.append(&batch, &BatchHeader::parse(&batch).unwrap()).unwrap_err();
    assert_eq!(error.code(), 3);
    let shutting_down = fixture.open(false, None);
    shutting_down.close(Closed::ShuttingDown);
    let error = shutting_down.append(&batch, &BatchHeader::parse(&batch).unwrap()).unwrap_err();
    assert_eq!(error.code(), 6, "NOT_LEADER_OR_FOLLOWER makes clients retry");
}

/// Appends an idempotent batch of `count` records.
fn append_idempotent(
    log: &PartitionLog,
    count: usize,
    producer_id: i64,
    epoch: i16,
    sequence: i32,
) -> Result<AppendInfo> {
    let batch = idempotent_batch(count, 1_000, producer_id, epoch, sequence);
    let header = BatchHeader::parse(&batch).unwrap();
    log.append(&batch, &header)
}

fn snapshot_files(fixture: &Fixture) -> Vec<i64> {
    producer_state::list_snapshots(&fixture.dir.path().join("topic-0")).unwrap()
}

#[test]
fn a_duplicate_batch_gets_its_original_offsets_and_is_not_appended() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    append(&log, 3, 1);
    let first = append_idempotent(&log, 4, 7, 0, 0).unwrap();
    let second = append_idempotent(&log, 2, 7, 0, 4).unwrap();
    assert_eq!((first.base_offset, second.base_offset), (3, 7));
    let retry = append_idempotent(&log, 4, 7, 0, 0).unwrap();
    assert!(retry.duplicate);
    assert_eq!((retry.base_offset, retry.last_offset), (3, 6));
    assert_eq!(log.offsets().log_end_offset, 9, "nothing appended for the duplicate");
    assert_eq!(append_idempotent(&log, 1, 7, 0, 7).unwrap_err().code(), 45);
    assert_eq!(append_idempotent(&log, 1, 7, 1, 3).unwrap_err().code(), 45);
    assert_eq!(append_idempotent(&log, 1, 7, 1, 0).unwrap().base_offset, 9);
    assert_eq!(append_idempotent(&log, 1, 7, 0, 6).unwrap_err().code(), 47);
    assert_eq!(log.offsets().log_end_offset, 10);
    assert_contiguous(&read_everything(&log, 0), 0, 10);
}

#[test]
fn producer_state_survives_a_clean_restart_through_the_shutdown_snapshot() {
    let fixture = Fixture::new();
    let state = {
        let log = fixture.open(false, None);
        for sequence in 0..60 {
            append_idempotent(&log, 1, 11, 2, sequence).unwrap();
        }
        log.persist_and_flush().unwrap();
        log.producer_state()
    };
    assert_eq!(snapshot_files(&fixture).last(), Some(&60));
    let log = fixture.open(true, Some(60));
    assert_eq!(log.producer_state(), state);
    let retry = append_idempotent(&log, 1, 11, 2, 57).unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.base_offset, 57);
    assert_eq!(append_idempotent(&log, 1, 11, 2, 60).unwrap().base_offset, 60);
}

#[test]
fn producer_state_is_rebuilt_after_a_crash_from_the_roll_snapshot_and_the_log() {
    let fixture = Fixture::new();
    let state = {
        let log = fixture.open(false, None);
        // 4096-byte segments: these roll several times.
        for sequence in 0..120 {
            let producer_id = i64::from(sequence % 3);
            append_idempotent(&log, 1, producer_id, 0, sequence / 3).unwrap();
            if sequence % 10 == 0 {
                log.flush().unwrap();
            }
        }
        log.producer_state()
        // Dropped without persist_and_flush: a crash.
    };
    assert!(!snapshot_files(&fixture).is_empty(), "rolls wrote snapshots");
    assert!(snapshot_files(&fixture).len() <= 2, "old snapshots are removed");
    let log = fixture.open(false, Some(0));
    assert_eq!(log.offsets().log_end_offset, 120);
    assert_eq!(log.producer_state(), state);
    for producer_id in 0..3 {
        let retry = append_idempotent(&log, 1, producer_id, 0, 39).unwrap();
        assert!(retry.duplicate, "producer {producer_id}");
    }

    // With every snapshot gone, the whole log is replayed to the same state.
    for offset in snapshot_files(&fixture) {
        std::fs::remove_file(producer_state::snapshot_path(
            &fixture.dir.path().join("topic-0"),
            offset,
        ))
        .unwrap();
    }
    drop(log);
    assert_eq!(fixture.open(false, Some(0)).producer_state(), state);
}

#[test]
fn rebuild_starts_from_the_snapshot_and_replays_only_what_follows_it() {
    let fixture = Fixture::new();
    let dir = fixture.dir.path().join("topic-0");
    {
        let log = fixture.open(false, None);
        for sequence in 0..5 {
            append_idempotent(&log, 1, 1, 0, sequence).unwrap();
        }
        log.persist_and_flush().unwrap();
    }
    // Replace the shutdown snapshot with one that also holds a producer the log never saw:
    // only a rebuild that loads the snapshot can know it.
    let (mut planted, offset) = producer_state::load_snapshot(&dir, 0, 5).unwrap().unwrap();
    assert_eq!(offset, 5);
    let ghost =
        BatchSequence { producer_id: 999, producer_epoch: 0, first_sequence: 0, last_sequence: 0 };
    planted.record(&ghost, 4, 4, 1_000, 1_000_000);
    producer_state::write_snapshot(&dir, 5, &planted.encode_snapshot(5)).unwrap();
    let expected = {
        let log = fixture.open(true, Some(5));
        assert!(log.producer_state().entry(999).is_some(), "the snapshot was loaded");
        // More batches in the same segment, then a crash (no shutdown snapshot).
        for sequence in 5..8 {
            append_idempotent(&log, 1, 1, 0, sequence).unwrap();
        }
        append_idempotent(&log, 2, 2, 0, 0).unwrap();
        log.producer_state()
    };
    let log = fixture.open(false, Some(0));
    let rebuilt = log.producer_state();
    assert!(rebuilt.entry(999).is_some(), "started from the snapshot, not from offset 0");
    assert_eq!(rebuilt, expected, "the batches after it, mid-segment, were replayed once");
    assert!(append_idempotent(&log, 1, 1, 0, 7).unwrap().duplicate);
    assert!(append_idempotent(&log, 2, 2, 0, 0).unwrap().duplicate);
}

#[test]
fn a_snapshot_past_a_truncated_tail_is_not_trusted() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for sequence in 0..10 {
            append_idempotent(&log, 1, 5, 0, sequence).unwrap();
        }
        log.persist_and_flush().unwrap();
    }
    assert_eq!(snapshot_files(&fixture), vec![10]);
    // The last two batches vanish (as after a power failure that kept the snapshot).
    let last = fixture.segment_files().pop().unwrap();
    let path = fixture.dir.path().join("topic-0").join(&last);
    let length = std::fs::metadata(&path).unwrap().len();
    let batch_size = u64::try_from(idempotent_batch(1, 1_000, 5, 0, 0).len()).unwrap();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(length - 2 * batch_size).unwrap();
    let log = fixture.open(false, Some(0));
    assert_eq!(log.offsets().log_end_offset, 8);
    assert!(snapshot_files(&fixture).is_empty(), "the snapshot past the log end is deleted");
    assert_eq!(log.producer_state().entry(5).unwrap().last_sequence(), 7);
    // The producer's retry of the lost batch is appended again, not taken for a duplicate.
    let retry = append_idempotent(&log, 1, 5, 0, 8).unwrap();
    assert!(!retry.duplicate);
    assert_eq!(retry.base_offset, 8);
}

#[test]
fn idle_producers_expire() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    // The batch carries a CreateTime far in the past (1_000); idle time counts from the
    // append on the broker's clock (1_000_000).
    append_idempotent(&log, 1, 3, 0, 0).unwrap();
    assert_eq!(log.remove_expired_producers(1_000_000 + 59_999, 60_000), 0);
    assert_eq!(log.remove_expired_producers(1_000_000 + 60_000, 60_000), 1);
    // Forgotten: any sequence is accepted again.
    assert!(!append_idempotent(&log, 1, 3, 0, 0).unwrap().duplicate);
}

#[test]
fn advancing_the_log_start_hides_what_lies_below_it() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    for index in 0..50 {
        append(&log, 2, index);
    }
    let before = fixture.segment_files().len();
    assert!(before > 3, "4096-byte segments rolled: {before}");
    log.close(Closed::ShuttingDown);
    assert!(log.advance_log_start_offset(10).is_err(), "a closed log refuses");
    let log = fixture.open(false, None);
    assert_eq!(log.advance_log_start_offset(10).unwrap(), 10);
    assert_eq!(log.advance_log_start_offset(5).unwrap(), 10, "never backwards");
    assert_eq!(log.advance_log_start_offset(101).unwrap_err().code(), 1, "past the end");
    assert_eq!(log.advance_log_start_offset(70).unwrap(), 70);
    assert_eq!(log.offsets().log_start_offset, 70);
    let below = log.read(LogRead {
        offset: 69,
        max_bytes: 1 << 20,
        min_one_message: true,
        isolation: IsolationLevel::ReadUncommitted,
    });
    assert_eq!(below.unwrap_err().code(), 1);
    assert!(read_everything(&log, 70).iter().any(|(base, _)| *base <= 70));
    // Everything: the start reaches the end and the active segment stays.
    assert_eq!(log.advance_log_start_offset(100).unwrap(), 100);
    assert_eq!(append(&log, 1, 1).base_offset, 100);
}

#[test]
fn a_checkpointed_start_past_a_truncated_end_restarts_the_log_there() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..10 {
            append(&log, 2, index);
        }
    }
    // The log start was checkpointed at 30 but a power failure left only 20 records: as
    // Kafka's LogLoader, start an empty log at 30 instead of resurrecting what lies below.
    let log = PartitionLog::open(OpenLog {
        log_start_offset: Some(30),
        ..fixture.options(false, Some(0))
    })
    .unwrap();
    let offsets = log.offsets();
    assert_eq!((offsets.log_start_offset, offsets.log_end_offset), (30, 30));
    assert_eq!(append(&log, 1, 1).base_offset, 30);
    assert_eq!(fixture.segment_files().len(), 1);
}

fn segment_bases(fixture: &Fixture) -> Vec<i64> {
    fixture.segment_files().iter().map(|name| name[..20].parse().unwrap()).collect()
}

/// Whether the segments are exactly those a log starting at `start` keeps: the first holds
/// `start`, none lies wholly below it.
fn none_wholly_below(bases: &[i64], start: i64) -> bool {
    bases.first().is_some_and(|first| *first <= start)
        && bases.get(1).is_none_or(|second| *second > start)
}

#[test]
fn segments_below_the_start_are_deleted_after_the_delay_once_unheld() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    for index in 0..50 {
        append(&log, 2, index);
    }
    let before = segment_bases(&fixture);
    let size_before = log.size_bytes();
    assert_eq!(log.advance_log_start_offset(70).unwrap(), 70);
    assert!(log.size_bytes() < size_before, "retired segments no longer count");
    assert_eq!(segment_bases(&fixture), before, "the files wait for file.delete.delay.ms");
    let retired = log.state.lock().retired.len();
    assert!(retired >= 2, "{before:?}");
    // Not yet fsynced, they wait for the flush too (a crash may bring them back).
    assert_eq!(log.delete_retired_segments(1_000_000 + 60_000), 0);
    log.flush().unwrap();
    // A reader still holding a segment keeps its files.
    let held = Arc::clone(&log.state.lock().retired[0].segment);
    let now = 1_000_000;
    assert_eq!(log.delete_retired_segments(now + 59_999), 0);
    assert_eq!(log.delete_retired_segments(now + 60_000), retired - 1);
    drop(held);
    assert_eq!(log.delete_retired_segments(now + 60_000), 1);
    assert!(none_wholly_below(&segment_bases(&fixture), 70), "{:?}", segment_bases(&fixture));
    assert_contiguous(&read_everything(&log, 70), 70, 100);
    drop(log);
    let log =
        PartitionLog::open(OpenLog { log_start_offset: Some(70), ..fixture.options(false, None) })
            .unwrap();
    assert_contiguous(&read_everything(&log, 70), 70, 100);
}

#[test]
fn an_open_deletes_segments_below_the_checkpointed_start() {
    let fixture = Fixture::new();
    {
        let log = fixture.open(false, None);
        for index in 0..50 {
            append(&log, 2, index);
        }
    }
    let before = segment_bases(&fixture);
    let log =
        PartitionLog::open(OpenLog { log_start_offset: Some(70), ..fixture.options(false, None) })
            .unwrap();
    let after = segment_bases(&fixture);
    assert!(after.len() < before.len() && none_wholly_below(&after, 70), "{before:?} -> {after:?}");
    assert_eq!(log.offsets().log_start_offset, 70);
    assert_contiguous(&read_everything(&log, 70), 70, 100);
}
