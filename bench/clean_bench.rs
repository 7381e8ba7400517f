//! The log cleaner's throughput and key-map memory, measured on the log engine directly (no
//! network): writes `GIB` GiB of compactable data (1 KiB values over `KEYS` keys, 20 records
//! per batch) into a partition log in a temporary directory, fsyncs it, then runs one
//! cleaning pass and prints one JSON line: bytes read, bytes written, seconds, MB/s of the
//! log read per second, distinct keys and the key map's peak memory.
//!   cargo run --release --example clean_bench -- [GIB] [KEYS] [DIR]

use std::sync::Arc;
use std::time::Instant;

use riffle::clock::Clock;
use riffle::config::CleanerConfig;
use riffle::config::topic::LogConfig;
use riffle::log::cleaner::{StopSignal, clean_partition};
use riffle::log::partition_log::{OpenLog, PartitionLog};
use riffle::protocol::record_batch::{BatchHeader, RecordInput, build_uncompressed_batch};
use riffle::types::TopicPartition;

const RECORDS_PER_BATCH: usize = 20;
const VALUE_BYTES: usize = 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gib: f64 = args.first().map_or(1.0, |value| value.parse().expect("GIB"));
    let keys: usize = args.get(1).map_or(100_000, |value| value.parse().expect("KEYS"));
    let parent = args.get(2).map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let temporary = tempfile::tempdir_in(parent).expect("temp dir");
    let clock = Clock::system();
    let config =
        LogConfig { cleanup_compact: true, cleanup_delete: false, ..LogConfig::kafka_defaults() };
    let log = PartitionLog::open(OpenLog {
        dir: temporary.path().join("bench-0"),
        topic_partition: TopicPartition::new("bench", 0),
        config: Arc::new(config),
        clock: clock.clone(),
        recovery_point: None,
        log_start_offset: None,
        clean_shutdown: false,
    })
    .expect("open log");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let target_bytes = (gib * (1u64 << 30) as f64) as u64;
    let value = vec![b'v'; VALUE_BYTES];
    let written = Instant::now();
    let mut record = 0usize;
    while log.size_bytes() < target_bytes {
        let names: Vec<String> = (0..RECORDS_PER_BATCH)
            .map(|index| format!("key-{:09}", (record + index) % keys))
            .collect();
        let inputs: Vec<RecordInput<'_>> = names
            .iter()
            .map(|key| RecordInput { key: Some(key.as_bytes()), value: Some(&value) })
            .collect();
        let batch = build_uncompressed_batch(&inputs, clock.now_ms());
        log.append(&batch, &BatchHeader::parse(&batch).expect("header")).expect("append");
        record += RECORDS_PER_BATCH;
    }
    // One more batch rolls the segment, so everything above is cleanable.
    let config = LogConfig { segment_bytes: 14, ..(*log.config()).clone() };
    log.set_config(Arc::new(config));
    let inputs = [RecordInput { key: Some(b"marker"), value: Some(&value) }];
    let batch = build_uncompressed_batch(&inputs, clock.now_ms());
    log.append(&batch, &BatchHeader::parse(&batch).expect("header")).expect("append");
    log.flush().expect("fsync");
    let write_seconds = written.elapsed().as_secs_f64();
    let size_before = log.size_bytes();

    let stop = StopSignal::default();
    let started = Instant::now();
    let stats = clean_partition(&log, &CleanerConfig::default(), clock.now_ms(), &stop, None)
        .unwrap_or_else(|error| panic!("cleaning failed: {error:?}"))
        .expect("a dirty log");
    let seconds = started.elapsed().as_secs_f64();
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "{{\"workload\": \"clean-{keys}-keys\", \"log_bytes\": {size_before}, \"records\": {record}, \"keys\": {}, \"write_seconds\": {write_seconds:.2}, \"clean_seconds\": {seconds:.2}, \"clean_log_mb_per_s\": {:.1}, \"clean_read_mb_per_s\": {:.1}, \"bytes_read\": {}, \"bytes_written\": {}, \"bytes_after\": {}, \"map_peak_bytes\": {}}}",
        stats.keys_mapped,
        mb(size_before) / seconds,
        mb(stats.bytes_read) / seconds,
        stats.bytes_read,
        stats.bytes_written,
        log.size_bytes(),
        stats.map_peak_bytes,
    );
}
