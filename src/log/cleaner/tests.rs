use std::collections::BTreeMap;
use std::ops::ControlFlow;

use super::*;
use crate::log::partition_log::{LogRead, OpenLog};
use crate::protocol::record_batch::{BatchHeader, RecordInput, build_uncompressed_batch};
use crate::types::{IsolationLevel, TopicPartition};

const START_MS: i64 = 1_000_000;
const DELETE_RETENTION_MS: i64 = 10_000;

/// (offset, key, value) of one record.
type Record = (i64, Vec<u8>, Option<Vec<u8>>);

struct Fixture {
    dir: tempfile::TempDir,
    clock: Clock,
    config: LogConfig,
    cleaner: CleanerConfig,
}

impl Fixture {
    fn new() -> Self {
        let config = LogConfig {
            index_interval_bytes: 256,
            segment_bytes: 4096,
            cleanup_compact: true,
            cleanup_delete: false,
            delete_retention_ms: DELETE_RETENTION_MS,
            min_cleanable_dirty_ratio: 0.5,
            ..LogConfig::kafka_defaults()
        };
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: Clock::manual(START_MS),
            config,
            cleaner: CleanerConfig::default(),
        }
    }

    fn log_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("compacted-0")
    }

    fn open(&self, clean_shutdown: bool, recovery_point: Option<i64>) -> PartitionLog {
        PartitionLog::open(OpenLog {
            dir: self.log_dir(),
            topic_partition: TopicPartition::new("compacted", 0),
            config: Arc::new(self.config.clone()),
            clock: self.clock.clone(),
            recovery_point,
            log_start_offset: None,
            clean_shutdown,
        })
        .unwrap()
    }

    fn clean(&self, log: &PartitionLog) -> Option<PassStats> {
        self.clean_with(log, None)
    }

    fn clean_with(&self, log: &PartitionLog, crash_after: Option<SwapStep>) -> Option<PassStats> {
        let stop = StopSignal::default();
        match clean_partition(log, &self.cleaner, self.clock.now_ms(), &stop, crash_after) {
            Ok(stats) => stats,
            Err(PassError::Stopped) => panic!("stopped"),
            Err(PassError::Failed(error)) => panic!("cleaning failed: {error}"),
        }
    }

    /// File names in the log directory other than segments, indexes and known metadata.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.log_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| {
                name.ends_with(".cleaned") || name.ends_with(".swap") || name.ends_with(".deleted")
            })
            .collect()
    }
}

fn keyed_batch(records: &[(String, Option<String>)], timestamp: i64) -> Vec<u8> {
    let inputs: Vec<RecordInput<'_>> = records
        .iter()
        .map(|(key, value)| RecordInput {
            key: Some(key.as_bytes()),
            value: value.as_ref().map(String::as_bytes),
        })
        .collect();
    build_uncompressed_batch(&inputs, timestamp).to_vec()
}

fn append(log: &PartitionLog, records: &[(String, Option<String>)], timestamp: i64) {
    let batch = keyed_batch(records, timestamp);
    log.append(&batch, &BatchHeader::parse(&batch).unwrap()).unwrap();
}

/// `rounds` updates of keys `k0..k{keys}` (5 per batch), then tombstones for the first
/// `tombstones` keys, then one large record that rolls the segment, so everything before it
/// is sealed. Everything is fsynced. Returns each key's latest value.
fn fill(
    log: &PartitionLog,
    keys: usize,
    rounds: usize,
    tombstones: usize,
    timestamp: i64,
) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut latest = BTreeMap::new();
    let mut pending = Vec::new();
    let mut push = |key: String, value: Option<String>, pending: &mut Vec<_>| {
        latest.insert(key.clone().into_bytes(), value.clone().map(String::into_bytes));
        pending.push((key, value));
        if pending.len() == 5 {
            append(log, pending, timestamp);
            pending.clear();
        }
    };
    for round in 0..rounds {
        for key in 0..keys {
            push(format!("k{key}"), Some(format!("v{round}-{key}")), &mut pending);
        }
    }
    for key in 0..tombstones {
        push(format!("k{key}"), None, &mut pending);
    }
    if !pending.is_empty() {
        append(log, &pending, timestamp);
    }
    let filler = "x".repeat(5000);
    append(log, &[("filler".into(), Some(filler.clone()))], timestamp);
    latest.insert(b"filler".to_vec(), Some(filler.into_bytes()));
    log.flush().unwrap();
    latest
}

/// Every record of the log, from its start, in order.
fn records(log: &PartitionLog) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut offset = log.offsets().log_start_offset;
    while offset < log.offsets().log_end_offset {
        let read = log
            .read(LogRead {
                offset,
                max_bytes: u64::MAX,
                min_one_message: true,
                isolation: IsolationLevel::ReadUncommitted,
            })
            .unwrap();
        let mut bytes = &read.records[..];
        assert!(!bytes.is_empty(), "no batch at {offset}");
        while !bytes.is_empty() {
            let header = BatchHeader::parse(bytes).unwrap();
            let size = header.size().unwrap();
            visit_records(&bytes[..size], |record| {
                if record.offset >= offset {
                    out.push((
                        record.offset,
                        record.key.unwrap().to_vec(),
                        record.value.map(<[u8]>::to_vec),
                    ));
                }
                ControlFlow::Continue(())
            })
            .unwrap();
            offset = header.next_offset();
            bytes = &bytes[size..];
        }
    }
    out
}

/// Offsets strictly increase, and the last record of each key carries its latest value.
fn assert_latest(records: &[Record], latest: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    assert!(records.windows(2).all(|pair| pair[0].0 < pair[1].0), "offsets must increase");
    let mut last: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for (_, key, value) in records {
        last.insert(key.clone(), value.clone());
    }
    // A key whose tombstone is gone has no record at all: that is its latest state.
    last.retain(|_, value| value.is_some());
    let live: BTreeMap<_, _> = latest
        .iter()
        .filter(|(_, value)| value.is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(last, live);
}

/// No offset lies in two segments.
fn assert_segments_disjoint(log: &PartitionLog) {
    let segments = log.cleaning_view().unwrap().segments;
    for pair in segments.windows(2) {
        assert!(
            pair[0].next_offset() <= pair[1].base_offset(),
            "segment {} ends at {} after segment {} starts",
            pair[0].base_offset(),
            pair[0].next_offset(),
            pair[1].base_offset()
        );
    }
}

fn count_keys(records: &[Record]) -> BTreeMap<Vec<u8>, usize> {
    let mut counts = BTreeMap::new();
    for (_, key, _) in records {
        *counts.entry(key.clone()).or_default() += 1;
    }
    counts
}

#[test]
fn keeps_the_latest_value_of_each_key_and_tombstones_until_their_horizon() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    let latest = fill(&log, 50, 20, 5, START_MS);
    let before = records(&log);
    assert_eq!(before.len(), 50 * 20 + 5 + 1);

    let stats = fixture.clean(&log).expect("a dirty log is cleaned");
    assert!(stats.groups_rewritten > 0);
    assert_segments_disjoint(&log);
    assert_eq!(stats.keys_mapped, 50);
    let after = records(&log);
    assert_latest(&after, &latest);
    // Every key once: 50 keys (5 of them as tombstones) and the filler.
    assert_eq!(after.len(), 51);
    assert!(count_keys(&after).values().all(|count| *count == 1));
    let tombstones = after.iter().filter(|record| record.2.is_none()).count();
    assert_eq!(tombstones, 5);
    // Every kept record is one that was written, at its offset.
    assert!(after.iter().all(|record| before.contains(record)));
    assert_eq!(log.latest_delete_horizon_ms(), START_MS + DELETE_RETENTION_MS);
    assert!(fixture.leftovers().is_empty());

    // Nothing is dirty: no pass before the horizon changes anything.
    fixture.clock.advance_ms(DELETE_RETENTION_MS - 1);
    let idle = fixture.clean(&log);
    assert!(idle.is_none_or(|stats| stats.groups_rewritten == 0), "{idle:?}");
    assert_eq!(records(&log).len(), 51);

    // Past the horizon the tombstones go.
    fixture.clock.advance_ms(1);
    let stats = fixture.clean(&log).expect("the horizon passed");
    assert_eq!(stats.records_removed, 5);
    let last = records(&log);
    assert_eq!(last.len(), 46);
    assert!(last.iter().all(|record| record.2.is_some()));
    assert_latest(&last, &latest);
    assert_eq!(log.latest_delete_horizon_ms(), -1);

    // A restart reads the cleaned segments back, through their indexes.
    drop(log);
    let reopened = fixture.open(false, None);
    assert_eq!(records(&reopened), last);
}

#[test]
fn a_full_key_map_cleans_in_several_passes_and_loses_nothing() {
    let mut fixture = Fixture::new();
    // Room for 20 keys per pass.
    fixture.cleaner.dedupe_buffer_bytes = 40 * offset_map::SLOT_BYTES;
    fixture.cleaner.dedupe_load_factor = 0.5;
    let log = fixture.open(false, None);
    let latest = fill(&log, 60, 5, 0, START_MS);
    let mut passes = 0;
    let mut first_dirty = -1;
    while let Some(stats) = fixture.clean(&log) {
        passes += 1;
        assert!(stats.keys_mapped <= 20);
        assert!(stats.end_offset > first_dirty, "each pass moves the dirty section");
        first_dirty = stats.end_offset;
        assert_latest(&records(&log), &latest);
        assert!(passes < 100);
        if log.cleaner_checkpoint()
            >= log.cleaning_view().unwrap().segments.last().unwrap().next_offset()
        {
            break;
        }
    }
    assert!(passes > 1, "a small map takes several passes");
    let after = records(&log);
    assert_latest(&after, &latest);
    assert!(count_keys(&after).values().all(|count| *count == 1), "{:?}", count_keys(&after));
}

#[test]
fn an_idempotent_producers_last_batch_stays_empty() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    let batch = crate::log::test_support::idempotent_batch(3, START_MS, 7, 0, 0);
    log.append(&batch, &BatchHeader::parse(&batch).unwrap()).unwrap();
    // client_batch keys are key-0.. key-2: overwrite them.
    let records_over: Vec<(String, Option<String>)> =
        (0..3).map(|key| (format!("key-{key}"), Some("new".into()))).collect();
    append(&log, &records_over, START_MS);
    fill(&log, 10, 5, 0, START_MS);
    fixture.clean(&log).expect("cleaned");
    let read = log
        .read(LogRead {
            offset: 0,
            max_bytes: u64::MAX,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })
        .unwrap();
    let first = BatchHeader::parse(&read.records).unwrap();
    assert_eq!((first.producer_id, first.base_offset, first.last_offset()), (7, 0, 2));
    assert_eq!(first.records_count, 0);
    assert_eq!(first.size(), Some(BATCH_HEADER_SIZE));
    // Producer state rebuilt from the log alone still knows the producer's sequence.
    drop(log);
    for snapshot in std::fs::read_dir(fixture.log_dir()).unwrap() {
        let path = snapshot.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "snapshot") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let reopened = fixture.open(false, None);
    assert_eq!(reopened.producer_state().entry(7).unwrap().last_sequence(), 2);
}

#[test]
fn a_reader_holding_a_replaced_segment_still_reads_it() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    fill(&log, 20, 10, 0, START_MS);
    let held = log
        .read_region(LogRead {
            offset: 0,
            max_bytes: u64::MAX,
            min_one_message: true,
            isolation: IsolationLevel::ReadUncommitted,
        })
        .unwrap()
        .records
        .unwrap();
    let before = held.read_bytes().unwrap();
    fixture.clean(&log).expect("cleaned");
    assert_eq!(held.read_bytes().unwrap(), before);
}

#[test]
fn a_stop_abandons_the_pass_and_its_files() {
    let fixture = Fixture::new();
    let log = fixture.open(false, None);
    fill(&log, 20, 10, 0, START_MS);
    let before = records(&log);
    let stop = StopSignal::default();
    stop.stop();
    let result = clean_partition(&log, &fixture.cleaner, fixture.clock.now_ms(), &stop, None);
    assert!(matches!(result, Err(PassError::Stopped)));
    assert_eq!(records(&log), before);
    assert!(fixture.leftovers().is_empty());
}

#[test]
fn min_compaction_lag_holds_young_segments_back() {
    let mut fixture = Fixture::new();
    fixture.config.min_compaction_lag_ms = 60_000;
    let log = Arc::new(fixture.open(false, None));
    fill(&log, 20, 10, 0, START_MS);
    assert!(choose(std::slice::from_ref(&log), fixture.clock.now_ms()).is_none());
    fixture.clock.advance_ms(60_001);
    assert!(choose(std::slice::from_ref(&log), fixture.clock.now_ms()).is_some());
}

/// A crash after each step of the swap: the reopened log holds every record it should, each
/// offset once, and cleans to the same result.
#[test]
fn a_crash_at_any_swap_step_reopens_without_loss_or_duplicates() {
    // `None` is the crash between the index and log renames of step 3 (simulated by hand).
    let steps = [
        Some(SwapStep::Written),
        Some(SwapStep::Swapped),
        Some(SwapStep::OldRenamed),
        None,
        Some(SwapStep::Installed),
    ];
    for step in steps {
        for trusted in [false, true] {
            let fixture = Fixture::new();
            let log = fixture.open(false, None);
            let mut latest = fill(&log, 30, 10, 3, START_MS);
            // A first pass leaves small segments, which the next pass merges into groups;
            // half the keys are not updated again, so the groups keep records throughout.
            fixture.clean(&log).expect("cleaned");
            latest.extend(fill(&log, 15, 10, 3, START_MS));
            let before = records(&log);
            let end = log.offsets().log_end_offset;
            fixture.clean_with(&log, Some(step.unwrap_or(SwapStep::OldRenamed)));
            if step.is_none() {
                // Step 3 half done: the indexes got their final names, the log did not.
                let dir = fixture.log_dir();
                let swap = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                    .find(|name| name.ends_with(".log.swap"))
                    .expect("a swap");
                let base = &swap[..20];
                for extension in ["index", "timeindex"] {
                    std::fs::rename(
                        dir.join(format!("{base}.{extension}.swap")),
                        dir.join(format!("{base}.{extension}")),
                    )
                    .unwrap();
                }
            }
            drop(log);
            let reopened = fixture.open(trusted, trusted.then_some(end));
            assert!(fixture.leftovers().is_empty(), "{step:?}: {:?}", fixture.leftovers());
            assert_segments_disjoint(&reopened);
            let after = records(&reopened);
            assert_latest(&after, &latest);
            assert!(after.iter().all(|record| before.contains(record)), "{step:?}");
            assert_eq!(reopened.offsets().log_end_offset, end);
            // Cleaning again converges on one record per key.
            while fixture.clean(&reopened).is_some_and(|stats| stats.groups_rewritten > 0) {}
            let cleaned = records(&reopened);
            assert_latest(&cleaned, &latest);
            // The second fill's filler is in the active segment, so the first one stays.
            let counts = count_keys(&cleaned);
            assert!(
                counts.iter().all(|(key, count)| *count == 1 || key == b"filler"),
                "{step:?}: {counts:?}"
            );
        }
    }
}

#[test]
fn the_throttle_holds_the_pass_to_the_configured_rate() {
    let mut fixture = Fixture::new();
    let log = fixture.open(false, None);
    fill(&log, 20, 10, 0, START_MS);
    let size: u64 =
        log.cleaning_view().unwrap().segments.iter().map(|segment| segment.size()).sum();
    // The pass reads the log twice (map, then rewrite) and writes some: at `size` bytes per
    // second it cannot finish in under two seconds.
    fixture.cleaner.io_max_bytes_per_second = size as f64;
    let started = std::time::Instant::now();
    let stats = fixture.clean(&log).expect("cleaned");
    assert!(stats.bytes_read >= 2 * size);
    assert!(started.elapsed() >= Duration::from_millis(1_900), "{:?}", started.elapsed());
}

#[test]
fn a_batch_larger_than_the_key_map_fails_the_pass_and_changes_nothing() {
    let mut fixture = Fixture::new();
    fixture.cleaner.dedupe_buffer_bytes = 8 * offset_map::SLOT_BYTES;
    fixture.cleaner.dedupe_load_factor = 0.5;
    let log = fixture.open(false, None);
    fill(&log, 20, 10, 0, START_MS);
    let before = records(&log);
    let stop = StopSignal::default();
    let result = clean_partition(&log, &fixture.cleaner, fixture.clock.now_ms(), &stop, None);
    assert!(matches!(result, Err(PassError::Failed(_))), "{result:?}");
    assert_eq!(records(&log), before);
    assert!(fixture.leftovers().is_empty());
}

/// Overwrites `bytes` at `position` of the first segment's log file.
fn corrupt_first_segment(fixture: &Fixture, position: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let path = fixture.log_dir().join(super::super::segment::file_name(0, "log"));
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, position).unwrap();
}

#[test]
fn a_corrupt_segment_fails_the_pass_and_is_left_as_it_is() {
    // A batch length running past the segment, and a base offset going backwards (not
    // covered by the CRC): the pass fails, nothing is rewritten, nothing is left behind.
    for (position_in_second_batch, bytes) in
        [(8, i32::MAX.to_be_bytes().to_vec()), (0, 0i64.to_be_bytes().to_vec())]
    {
        let fixture = Fixture::new();
        let log = fixture.open(false, None);
        fill(&log, 20, 10, 0, START_MS);
        let first = BatchHeader::parse(
            &log.read(LogRead {
                offset: 0,
                max_bytes: 1,
                min_one_message: true,
                isolation: IsolationLevel::ReadUncommitted,
            })
            .unwrap()
            .records,
        )
        .unwrap();
        let second_batch = u64::try_from(first.size().unwrap()).unwrap();
        let before_files: Vec<_> = std::fs::read_dir(fixture.log_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        corrupt_first_segment(&fixture, second_batch + position_in_second_batch, &bytes);
        let stop = StopSignal::default();
        let result = clean_partition(&log, &fixture.cleaner, fixture.clock.now_ms(), &stop, None);
        assert!(matches!(result, Err(PassError::Failed(_))), "{result:?}");
        let after_files: Vec<_> = std::fs::read_dir(fixture.log_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(after_files.len(), before_files.len());
        assert!(fixture.leftovers().is_empty());
    }
}
