//! Idempotent producers' state in one partition (Kafka's `ProducerStateManager`).
//!
//! An idempotent producer numbers the batches it sends to each partition: sequence numbers
//! start at 0 for each producer epoch and advance by the batch's record count, wrapping from
//! `i32::MAX` to 0. For every producer id that wrote to the partition the broker keeps the
//! epoch and the last [`BATCHES_RETAINED_PER_PRODUCER`] batches (first and last sequence,
//! first and last offset, timestamp). Under the partition lock, before offsets are assigned,
//! an append is checked against that state ([`ProducerStateManager::check`]), in Kafka's
//! order (`UnifiedLog.analyzeAndValidateProducerState`, `ProducerAppendInfo`):
//!
//! 1. same epoch and the same first and last sequence as a retained batch: a **duplicate** (a
//!    retry of a batch that was written but whose answer was lost). It succeeds with the
//!    original offsets and is not written again;
//! 2. an older epoch: INVALID_PRODUCER_EPOCH (Kafka answers a produce with this rather than
//!    PRODUCER_FENCED since 2.7);
//! 3. a newer epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
//! 4. the same epoch must continue right after the last sequence, else
//!    OUT_OF_ORDER_SEQUENCE_NUMBER;
//! 5. a producer id with no state (new, or expired) may start at any sequence.
//!
//! Five batches because clients keep at most five requests in flight per connection with
//! idempotence on (`max.in.flight.requests.per.connection <= 5`): any batch a producer can
//! retry is among the last five it wrote.
//!
//! The state is a function of the log. It is kept durable by snapshots, each the whole state
//! of the batches below an offset, written when a segment rolls (by the flusher, after the
//! sealed segment's fsync) and at clean shutdown (at the log end). At start-up the newest
//! readable snapshot at or below the log end is loaded and the batch headers after it are
//! replayed ([`ProducerStateManager::replay`]); with no snapshot the whole log is replayed.
//! A snapshot past the log end (the log lost its tail in a power failure) is deleted.
//!
//! Expiry: a producer that has not written for `producer.id.expiration.ms` is forgotten
//! ([`ProducerStateManager::remove_expired`]). Idle time is measured on the broker's clock
//! (the last append; the snapshot keeps it; a producer replayed from the log counts from the
//! start-up). Kafka measures it from the batch's own max timestamp, which a producer writing
//! records with old CreateTime timestamps (a replay, a mirror) sets in the past: Kafka then
//! forgets such a producer at the next check and a retry of its last batch is appended twice.
//! Kafka documents the setting as the time the leader waits without writes, which the broker
//! clock honours.
//!
//! Snapshot file `<20-digit offset>.snapshot` in the partition directory, big-endian. Kafka's
//! snapshot keeps only each producer's last batch; this one keeps all retained batches, so a
//! producer retrying several in-flight batches across a broker restart is still deduplicated.
//!
//! ```text
//! i16 version = 1
//! u32 crc32c of every byte after this field
//! i64 offset (the state covers the batches below it; equals the file name)
//! i32 producer count
//! per producer:  i64 producer_id, i16 producer_epoch, i64 last_append_ms (broker clock),
//!                i8 batch count (1..=5)
//!   per batch:   i32 first_sequence, i32 last_sequence, i64 first_offset, i64 last_offset,
//!                i64 timestamp
//! ```

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::limits::PRODUCERS_PER_PARTITION_MAX;
use crate::protocol::record_batch::BatchHeader;

/// Batches remembered per producer (Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`).
pub const BATCHES_RETAINED_PER_PRODUCER: usize = 5;

const SNAPSHOT_EXTENSION: &str = "snapshot";
const SNAPSHOT_VERSION: i16 = 1;
/// Snapshots kept per partition: the newest, and one to fall back to if it is unreadable.
const SNAPSHOTS_KEPT: usize = 2;
const SNAPSHOT_HEADER_BYTES: usize = 2 + 4 + 8 + 4;
const SNAPSHOT_PRODUCER_BYTES: usize = 8 + 2 + 8 + 1;
const SNAPSHOT_BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;
/// The largest snapshot a valid state can produce; a larger file is refused before reading.
pub const SNAPSHOT_BYTES_MAX: u64 = (SNAPSHOT_HEADER_BYTES
    + PRODUCERS_PER_PARTITION_MAX
        * (SNAPSHOT_PRODUCER_BYTES + BATCHES_RETAINED_PER_PRODUCER * SNAPSHOT_BATCH_BYTES))
    as u64;

/// The producer fields of a batch, as checked before it is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSequence {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub first_sequence: i32,
    pub last_sequence: i32,
}

impl BatchSequence {
    /// The batch's sequence range; `None` for batches without a producer id.
    pub fn of(header: &BatchHeader) -> Option<Self> {
        (header.producer_id >= 0).then(|| Self {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            first_sequence: header.base_sequence,
            last_sequence: increment_sequence(header.base_sequence, header.last_offset_delta),
        })
    }
}

/// `sequence + increment`, wrapping from `i32::MAX` to 0 (Kafka's
/// `DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Whether `next` directly follows `last`.
fn in_sequence(last: i32, next: i32) -> bool {
    if last == i32::MAX { next == 0 } else { next == last + 1 }
}

/// What is remembered of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp as stored (the broker's clock for LogAppendTime topics).
    pub timestamp: i64,
}

/// One producer's state in the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub producer_epoch: i16,
    /// Oldest first; never empty.
    batches: VecDeque<BatchMetadata>,
    /// The broker's clock at the producer's last append (expiry is measured from it).
    pub last_append_ms: i64,
}

impl ProducerEntry {
    pub fn batches(&self) -> impl Iterator<Item = &BatchMetadata> {
        self.batches.iter()
    }

    fn last(&self) -> &BatchMetadata {
        self.batches.back().expect("an entry holds at least one batch")
    }

    /// The newest batch's max timestamp (Kafka's `lastTimestamp`).
    pub fn last_batch_timestamp(&self) -> i64 {
        self.last().timestamp
    }

    pub fn last_sequence(&self) -> i32 {
        self.last().last_sequence
    }
}

/// The outcome of checking a batch that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendCheck {
    /// Append it.
    Append,
    /// Already in the log: answer with this batch's offsets.
    Duplicate(BatchMetadata),
}

/// Every producer's state in one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// Every producer with its state, in producer id order.
    pub fn producers(&self) -> Vec<(i64, &ProducerEntry)> {
        let mut producers: Vec<_> = self.producers.iter().map(|(id, entry)| (*id, entry)).collect();
        producers.sort_unstable_by_key(|(id, _)| *id);
        producers
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Checks a client batch against the producer's state (see the module doc).
    pub fn check(&self, batch: &BatchSequence) -> Result<AppendCheck> {
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            return Ok(AppendCheck::Append);
        };
        if batch.producer_epoch == entry.producer_epoch
            && let Some(duplicate) = entry.batches.iter().find(|retained| {
                retained.first_sequence == batch.first_sequence
                    && retained.last_sequence == batch.last_sequence
            })
        {
            return Ok(AppendCheck::Duplicate(*duplicate));
        }
        if batch.producer_epoch < entry.producer_epoch {
            return Err(Error::InvalidProducerEpoch(format!(
                "epoch {} of producer {} is older than its current epoch {}",
                batch.producer_epoch, batch.producer_id, entry.producer_epoch
            )));
        }
        if batch.producer_epoch > entry.producer_epoch {
            if batch.first_sequence != 0 {
                return Err(Error::OutOfOrderSequenceNumber(format!(
                    "producer {} starts epoch {} at sequence {}, not 0",
                    batch.producer_id, batch.producer_epoch, batch.first_sequence
                )));
            }
            return Ok(AppendCheck::Append);
        }
        if !in_sequence(entry.last_sequence(), batch.first_sequence) {
            return Err(Error::OutOfOrderSequenceNumber(format!(
                "producer {} epoch {} sent sequence {} after {}",
                batch.producer_id,
                batch.producer_epoch,
                batch.first_sequence,
                entry.last_sequence()
            )));
        }
        Ok(AppendCheck::Append)
    }

    /// Records a batch appended at `now_ms` (or replayed from the log at start-up): a new
    /// epoch forgets the old epoch's batches, and only the newest
    /// [`BATCHES_RETAINED_PER_PRODUCER`] are kept. `timestamp` is the batch's stored max
    /// timestamp.
    pub fn record(
        &mut self,
        batch: &BatchSequence,
        first_offset: i64,
        last_offset: i64,
        timestamp: i64,
        now_ms: i64,
    ) {
        if !self.producers.contains_key(&batch.producer_id)
            && self.producers.len() >= PRODUCERS_PER_PARTITION_MAX
        {
            self.evict_oldest();
        }
        let entry = self.producers.entry(batch.producer_id).or_insert_with(|| ProducerEntry {
            producer_epoch: batch.producer_epoch,
            batches: VecDeque::with_capacity(BATCHES_RETAINED_PER_PRODUCER),
            last_append_ms: now_ms,
        });
        entry.last_append_ms = entry.last_append_ms.max(now_ms);
        if entry.producer_epoch != batch.producer_epoch {
            entry.producer_epoch = batch.producer_epoch;
            entry.batches.clear();
        }
        if entry.batches.len() == BATCHES_RETAINED_PER_PRODUCER {
            entry.batches.pop_front();
        }
        entry.batches.push_back(BatchMetadata {
            first_sequence: batch.first_sequence,
            last_sequence: batch.last_sequence,
            first_offset,
            last_offset,
            timestamp,
        });
    }

    /// Replays a batch read back from the log at start-up time `now_ms` (no checks: the log
    /// is the truth).
    pub fn replay(&mut self, header: &BatchHeader, now_ms: i64) {
        if let Some(sequence) = BatchSequence::of(header)
            && !header.is_control()
        {
            let (first, last) = (header.base_offset, header.last_offset());
            self.record(&sequence, first, last, header.max_timestamp, now_ms);
        }
    }

    /// Forgets producers that have not appended for `expiration_ms` (Kafka's
    /// `producer.id.expiration.ms`). Returns how many were removed.
    pub fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, entry| now_ms.saturating_sub(entry.last_append_ms) < expiration_ms);
        before - self.producers.len()
    }

    /// At [`PRODUCERS_PER_PARTITION_MAX`], forgets the tenth of producers that wrote least
    /// recently (they lose deduplication of a retry, as if expired). Kafka keeps every
    /// producer; without a bound, a client allocating producer ids could exhaust memory.
    fn evict_oldest(&mut self) {
        let mut timestamps: Vec<i64> =
            self.producers.values().map(|entry| entry.last_append_ms).collect();
        let cut = timestamps.len() / 10;
        let (_, threshold, _) = timestamps.select_nth_unstable(cut);
        let threshold = *threshold;
        let mut to_remove = cut.max(1);
        self.producers.retain(|_, entry| {
            if to_remove > 0 && entry.last_append_ms <= threshold {
                to_remove -= 1;
                false
            } else {
                true
            }
        });
        tracing::warn!(
            producers = self.producers.len(),
            limit = PRODUCERS_PER_PARTITION_MAX,
            "too many idempotent producers in one partition; forgot the least recent"
        );
    }

    /// The snapshot file's bytes for this state covering the batches below `offset`.
    pub fn encode_snapshot(&self, offset: i64) -> Vec<u8> {
        let batches: usize = self.producers.values().map(|entry| entry.batches.len()).sum();
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_BYTES
                + self.producers.len() * SNAPSHOT_PRODUCER_BYTES
                + batches * SNAPSHOT_BATCH_BYTES,
        );
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&offset.to_be_bytes());
        let count = i32::try_from(self.producers.len()).expect("producers are capped");
        out.extend_from_slice(&count.to_be_bytes());
        let mut producer_ids: Vec<&i64> = self.producers.keys().collect();
        producer_ids.sort_unstable();
        for producer_id in producer_ids {
            let entry = &self.producers[producer_id];
            out.extend_from_slice(&producer_id.to_be_bytes());
            out.extend_from_slice(&entry.producer_epoch.to_be_bytes());
            out.extend_from_slice(&entry.last_append_ms.to_be_bytes());
            let count = u8::try_from(entry.batches.len()).expect("at most five batches");
            out.push(count);
            for batch in &entry.batches {
                out.extend_from_slice(&batch.first_sequence.to_be_bytes());
                out.extend_from_slice(&batch.last_sequence.to_be_bytes());
                out.extend_from_slice(&batch.first_offset.to_be_bytes());
                out.extend_from_slice(&batch.last_offset.to_be_bytes());
                out.extend_from_slice(&batch.timestamp.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes a snapshot, checking its version, CRC and structure. Returns the state and
    /// the offset it covers.
    pub fn decode_snapshot(bytes: &[u8]) -> std::result::Result<(Self, i64), SnapshotError> {
        let mut reader = Reader { bytes, position: 0 };
        let version = reader.i16()?;
        if version != SNAPSHOT_VERSION {
            return Err(SnapshotError(format!("unknown version {version}")));
        }
        let crc = u32::from_be_bytes(reader.take::<4>()?);
        if crc32c::crc32c(&bytes[reader.position..]) != crc {
            return Err(SnapshotError("CRC-32C mismatch".into()));
        }
        let offset = reader.i64()?;
        let count = usize::try_from(reader.i32()?)
            .map_err(|_| SnapshotError("negative producer count".into()))?;
        let remaining = bytes.len() - reader.position;
        if count > PRODUCERS_PER_PARTITION_MAX
            || count > remaining / (SNAPSHOT_PRODUCER_BYTES + SNAPSHOT_BATCH_BYTES)
        {
            return Err(SnapshotError(format!("{count} producers in {remaining} bytes")));
        }
        let mut producers = HashMap::with_capacity(count);
        for _ in 0..count {
            let producer_id = reader.i64()?;
            let producer_epoch = reader.i16()?;
            let last_append_ms = reader.i64()?;
            let batch_count = usize::from(reader.take::<1>()?[0]);
            if producer_id < 0 || !(1..=BATCHES_RETAINED_PER_PRODUCER).contains(&batch_count) {
                return Err(SnapshotError(format!(
                    "producer {producer_id} with {batch_count} batches"
                )));
            }
            let mut batches = VecDeque::with_capacity(BATCHES_RETAINED_PER_PRODUCER);
            for _ in 0..batch_count {
                let batch = BatchMetadata {
                    first_sequence: reader.i32()?,
                    last_sequence: reader.i32()?,
                    first_offset: reader.i64()?,
                    last_offset: reader.i64()?,
                    timestamp: reader.i64()?,
                };
                if batch.first_offset > batch.last_offset || batch.last_offset >= offset {
                    return Err(SnapshotError(format!(
                        "producer {producer_id} batch at offsets {}..={} in a snapshot at {offset}",
                        batch.first_offset, batch.last_offset
                    )));
                }
                batches.push_back(batch);
            }
            let entry = ProducerEntry { producer_epoch, batches, last_append_ms };
            if producers.insert(producer_id, entry).is_some() {
                return Err(SnapshotError(format!("producer {producer_id} twice")));
            }
        }
        if reader.position != bytes.len() {
            return Err(SnapshotError("trailing bytes".into()));
        }
        Ok((Self { producers }, offset))
    }
}

/// Why a snapshot file was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable producer snapshot: {0}")]
pub struct SnapshotError(String);

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> std::result::Result<[u8; N], SnapshotError> {
        let end = self.position + N;
        let slice =
            self.bytes.get(self.position..end).ok_or_else(|| SnapshotError("truncated".into()))?;
        self.position = end;
        Ok(slice.try_into().expect("N bytes"))
    }

    fn i16(&mut self) -> std::result::Result<i16, SnapshotError> {
        self.take().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> std::result::Result<i32, SnapshotError> {
        self.take().map(i32::from_be_bytes)
    }

    fn i64(&mut self) -> std::result::Result<i64, SnapshotError> {
        self.take().map(i64::from_be_bytes)
    }
}

/// The path of the snapshot at `offset` in partition directory `dir`.
pub fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(super::segment::file_name(offset, SNAPSHOT_EXTENSION))
}

/// The offsets of the snapshot files in `dir`, ascending.
pub fn list_snapshots(dir: &Path) -> io::Result<Vec<i64>> {
    let mut offsets = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((stem, SNAPSHOT_EXTENSION)) = name.split_once('.')
            && stem.len() == 20
            && let Ok(offset) = stem.parse::<i64>()
        {
            offsets.push(offset);
        }
    }
    offsets.sort_unstable();
    Ok(offsets)
}

/// A snapshot written and fsynced under a temporary name, not yet in place.
#[derive(Debug)]
pub struct PreparedSnapshot {
    temporary: PathBuf,
    path: PathBuf,
}

impl PreparedSnapshot {
    /// Writes and fsyncs the snapshot at `offset` under a temporary name (which start-up
    /// removes if a crash leaves it behind).
    pub fn write(dir: &Path, offset: i64, bytes: &[u8]) -> io::Result<Self> {
        let path = snapshot_path(dir, offset);
        let temporary = path.with_extension("snapshot.tmp");
        let mut file = std::fs::File::create(&temporary)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        Ok(Self { temporary, path })
    }

    /// Renames the snapshot into place and removes all but the newest [`SNAPSHOTS_KEPT`].
    /// The caller fsyncs the directory afterwards.
    pub fn install(self) -> io::Result<()> {
        std::fs::rename(&self.temporary, &self.path)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let offsets = list_snapshots(dir)?;
        let keep_from = offsets.len().saturating_sub(SNAPSHOTS_KEPT);
        for old in &offsets[..keep_from] {
            remove_snapshot(dir, *old)?;
        }
        Ok(())
    }

    /// Removes the temporary file (the log went away meanwhile).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.temporary);
    }
}

/// Writes a snapshot and puts it in place (see [`PreparedSnapshot`]), fsyncing the directory.
pub fn write_snapshot(dir: &Path, offset: i64, bytes: &[u8]) -> io::Result<()> {
    PreparedSnapshot::write(dir, offset, bytes)?.install()?;
    super::checkpoint::sync_dir(dir)
}

fn remove_snapshot(dir: &Path, offset: i64) -> io::Result<()> {
    match std::fs::remove_file(snapshot_path(dir, offset)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Loads the newest readable snapshot covering at most `log_end_offset` and at least
/// `first_offset` (the log's first segment). Snapshots past the log end are deleted; an
/// unreadable one (damaged, or failing to read) is skipped with a warning: snapshots only
/// save replay work. `None` when no snapshot can be used.
pub fn load_snapshot(
    dir: &Path,
    first_offset: i64,
    log_end_offset: i64,
) -> io::Result<Option<(ProducerStateManager, i64)>> {
    for offset in list_snapshots(dir)?.into_iter().rev() {
        if offset > log_end_offset {
            tracing::warn!(dir = %dir.display(), offset, log_end_offset, "deleting a producer snapshot past the log end");
            remove_snapshot(dir, offset)?;
            continue;
        }
        if offset < first_offset {
            break;
        }
        let path = snapshot_path(dir, offset);
        let bytes = std::fs::metadata(&path).and_then(|metadata| {
            if metadata.len() > SNAPSHOT_BYTES_MAX {
                return Err(io::Error::other(format!("{} bytes is oversized", metadata.len())));
            }
            std::fs::read(&path)
        });
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring an unreadable producer snapshot");
                continue;
            }
        };
        match ProducerStateManager::decode_snapshot(&bytes) {
            Ok((state, covered)) if covered == offset => return Ok(Some((state, offset))),
            Ok((_, covered)) => {
                tracing::warn!(path = %path.display(), covered, "ignoring a producer snapshot whose offset does not match its name");
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring a producer snapshot")
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
