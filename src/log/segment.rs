//! A log segment: `<base offset>.log` with its `.index` and `.timeindex` (see
//! [`super::offset_index`] and [`super::time_index`] for their formats).
//!
//! The `.log` file is a plain concatenation of v2 record batches exactly as stored on the
//! wire, with broker-assigned offsets. The file name is the segment's base offset, zero-padded
//! to 20 digits. A segment knows how to be a segment (append, roll checks, find a batch, read
//! whole batches, recover by scanning); the partition log decides which segment does what.
//!
//! The log file handle is shared (`Arc<File>`) so readers can `pread` without holding the
//! partition lock; only the partition's appender writes, always at the end.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::index::{IndexEntry, IndexFile};
use super::offset_index::OffsetEntry;
use super::time_index::TimeEntry;
use crate::config::topic::LogConfig;
use crate::limits::BATCH_HEADER_SIZE;
use crate::protocol::record_batch::{BatchHeader, verify_stored_batch};
use crate::protocol::records::visit_records;

/// File name of a segment file: base offset padded to 20 digits, then the extension.
pub fn file_name(base_offset: i64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

pub fn log_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(file_name(base_offset, "log"))
}

fn index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(file_name(base_offset, "index"))
}

fn time_index_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(file_name(base_offset, "timeindex"))
}

/// The extensions of a segment's files, the log last: renames of a whole segment go in this
/// order, so the log file's name is the one that commits (see [`super::cleaner`]).
pub const SEGMENT_EXTENSIONS: [&str; 3] = ["index", "timeindex", "log"];

/// `path` with `suffix` appended (`.cleaned`, `.swap`, `.deleted`), or as it is for "".
fn with_suffix(path: PathBuf, suffix: &str) -> PathBuf {
    if suffix.is_empty() {
        return path;
    }
    let mut name = path.into_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Renames the files of the segment at `base_offset` from `from` to `to` suffixes, in
/// [`SEGMENT_EXTENSIONS`] order; missing files are skipped. For a segment no longer in use
/// (its readers fall back from its indexes, see [`Segment::index_position`]).
pub fn rename_segment_files(dir: &Path, base_offset: i64, from: &str, to: &str) -> io::Result<()> {
    for extension in SEGMENT_EXTENSIONS {
        let path = dir.join(file_name(base_offset, extension));
        let source = with_suffix(path.clone(), from);
        match std::fs::rename(&source, with_suffix(path, to)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// The last offset of the last whole batch in the segment log file at `path`; `None` when
/// it holds no batch.
pub fn last_offset_in_file(path: &Path) -> io::Result<Option<i64>> {
    let file = File::open(path)?;
    let end = file.metadata()?.len();
    let (mut position, mut last) = (0, None);
    while let Some(header) = read_header(&file, position, end)? {
        last = Some(header.last_offset());
        position += header_size(&header);
    }
    Ok(last)
}

/// Deletes the files of the segment at `base_offset` that carry `suffix`; missing files are
/// skipped.
pub fn delete_segment_files(dir: &Path, base_offset: i64, suffix: &str) -> io::Result<()> {
    for extension in SEGMENT_EXTENSIONS {
        let path = with_suffix(dir.join(file_name(base_offset, extension)), suffix);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// A record's offset and timestamp found by a timestamp search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: i64,
    pub leader_epoch: i32,
}

/// A batch about to be appended: its rewritten header and the rest of its bytes.
#[derive(Debug, Clone, Copy)]
pub struct PreparedBatch<'a> {
    pub header: &'a [u8; BATCH_HEADER_SIZE],
    pub tail: &'a [u8],
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

impl PreparedBatch<'_> {
    pub fn size(&self) -> u64 {
        (BATCH_HEADER_SIZE + self.tail.len()) as u64
    }
}

/// Why the active segment must roll before an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollReason {
    Size,
    Time,
    IndexFull,
    OffsetOverflow,
    /// Retention retires every segment, the active one included.
    Retention,
}

/// A segment and its indexes.
#[derive(Debug)]
pub struct Segment {
    base_offset: i64,
    log: Arc<File>,
    /// Bytes of whole batches in the log file.
    size: u64,
    /// The offset after the last batch (the base offset when empty).
    next_offset: i64,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    bytes_since_last_index_entry: u64,
    /// Largest batch timestamp so far (-1 when none) and the last offset of its batch.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// The first batch's max timestamp: `segment.ms` is measured from it (Kafka's
    /// `rollingBasedTimestamp`).
    first_batch_timestamp: Option<i64>,
    created_ms: i64,
    /// Picks this segment's roll jitter in `[0, min(segment.jitter.ms, segment.ms))`, as Kafka
    /// draws one per segment.
    jitter_seed: u64,
}

impl Segment {
    /// Creates an empty segment, replacing any files of the same base offset.
    pub fn create(dir: &Path, base_offset: i64, now_ms: i64) -> io::Result<Self> {
        Self::create_with_suffix(dir, base_offset, "", now_ms)
    }

    /// Creates an empty segment whose file names carry `suffix` (the cleaner writes
    /// `.cleaned` segments, then renames them with [`Segment::rename_files`]).
    pub fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        now_ms: i64,
    ) -> io::Result<Self> {
        let log = open_log(&with_suffix(log_path(dir, base_offset), suffix), true)?;
        log.set_len(0)?;
        let indexes = (
            IndexFile::create(&with_suffix(index_path(dir, base_offset), suffix))?,
            IndexFile::create(&with_suffix(time_index_path(dir, base_offset), suffix))?,
        );
        Ok(Self::assemble(base_offset, Arc::new(log), indexes, now_ms))
    }

    /// Renames this segment's files from the `from` to the `to` suffix, in
    /// [`SEGMENT_EXTENSIONS`] order; its indexes follow their files.
    pub fn rename_files(&mut self, dir: &Path, from: &str, to: &str) -> io::Result<()> {
        let base = self.base_offset;
        let index_target = with_suffix(index_path(dir, base), to);
        let time_index_target = with_suffix(time_index_path(dir, base), to);
        self.offset_index.rename(&index_target)?;
        self.time_index.rename(&time_index_target)?;
        std::fs::rename(
            with_suffix(log_path(dir, base), from),
            with_suffix(log_path(dir, base), to),
        )
    }

    /// A segment with no batches indexed yet, over the given files.
    fn assemble(
        base_offset: i64,
        log: Arc<File>,
        indexes: (IndexFile<OffsetEntry>, IndexFile<TimeEntry>),
        now_ms: i64,
    ) -> Self {
        Self {
            base_offset,
            log,
            size: 0,
            next_offset: base_offset,
            offset_index: indexes.0,
            time_index: indexes.1,
            bytes_since_last_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            created_ms: now_ms,
            jitter_seed: uuid::Uuid::new_v4().as_u64_pair().0,
        }
    }

    fn fresh_indexes(
        dir: &Path,
        base_offset: i64,
    ) -> io::Result<(IndexFile<OffsetEntry>, IndexFile<TimeEntry>)> {
        Ok((
            IndexFile::create(&index_path(dir, base_offset))?,
            IndexFile::create(&time_index_path(dir, base_offset))?,
        ))
    }

    /// Opens an existing segment whose indexes cannot be trusted and rebuilds them by
    /// scanning the log (see [`Segment::recover`]). Returns the segment and the bytes cut
    /// off its tail.
    pub fn open_and_recover(
        dir: &Path,
        base_offset: i64,
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> io::Result<(Self, u64)> {
        let log = Arc::new(open_log(&log_path(dir, base_offset), true)?);
        let mut segment =
            Self::assemble(base_offset, log, Self::fresh_indexes(dir, base_offset)?, now_ms);
        let truncated = segment.scan_and_index(index_interval_bytes)?;
        Ok((segment, truncated))
    }

    /// Opens a segment written before a clean shutdown (or before the recovery point): its
    /// indexes are trusted if well formed. Returns `None` if an index is missing or malformed,
    /// in which case the caller recovers the segment instead.
    pub fn open_trusted(
        dir: &Path,
        base_offset: i64,
        active: bool,
        now_ms: i64,
    ) -> io::Result<Option<Self>> {
        let log = open_log(&log_path(dir, base_offset), active)?;
        let size = log.metadata()?.len();
        let Some(offset_index) = IndexFile::open(&index_path(dir, base_offset), active)? else {
            return Ok(None);
        };
        let Some(time_index) = IndexFile::open(&time_index_path(dir, base_offset), active)? else {
            return Ok(None);
        };
        let mut segment =
            Self::assemble(base_offset, Arc::new(log), (offset_index, time_index), now_ms);
        segment.size = size;
        if !segment.indexes_are_sane()? {
            return Ok(None);
        }
        if let Err(error) = segment.load_tail_state() {
            tracing::warn!(segment = %log_path(dir, base_offset).display(), %error, "segment needs recovery");
            return Ok(None);
        }
        Ok(Some(segment))
    }

    /// Kafka's index sanity check: the last offset index entry points inside the log file and
    /// the time index's timestamps do not decrease at its ends.
    fn indexes_are_sane(&self) -> io::Result<bool> {
        if let Some(last) = self.offset_index.last()?
            && u64::from(last.position) >= self.size
        {
            return Ok(false);
        }
        match (self.time_index.entry_if_any(0)?, self.time_index.last()?) {
            (Some(first), Some(last)) => Ok(first.timestamp <= last.timestamp),
            _ => Ok(true),
        }
    }

    /// Restores the in-memory state a trusted segment needs: the next offset and the largest
    /// timestamp (scanning the batches after the last offset index entry), and the first
    /// batch's timestamp.
    fn load_tail_state(&mut self) -> io::Result<()> {
        if let Some(entry) = self.time_index.last()? {
            self.max_timestamp = entry.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(entry.relative_offset);
        }
        self.first_batch_timestamp =
            read_header(&self.log, 0, self.size)?.map(|header| header.max_timestamp);
        let mut position = self.offset_index.last()?.map_or(0, |entry| u64::from(entry.position));
        while let Some(header) = read_header(&self.log, position, self.size)? {
            self.next_offset = header.next_offset();
            if header.max_timestamp > self.max_timestamp {
                self.max_timestamp = header.max_timestamp;
                self.offset_of_max_timestamp = header.last_offset();
            }
            position += header_size(&header);
        }
        if position != self.size {
            return Err(io::Error::other(format!(
                "segment {} ends with a partial batch at {position} of {}",
                self.base_offset, self.size
            )));
        }
        Ok(())
    }

    /// The partition directory holding the segment's files.
    #[cfg(test)]
    fn dir(&self) -> PathBuf {
        self.offset_index.path().parent().expect("index files live in a directory").to_owned()
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The first batch's largest timestamp, if the segment has a batch
    /// (`max.compaction.lag.ms` is measured from it).
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }

    /// The timestamp retention judges this segment by: its largest record timestamp, or the
    /// log file's modification time when no record has one (Kafka's `largestTimestamp`).
    pub fn largest_timestamp_ms(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        self.log
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn log_file(&self) -> &Arc<File> {
        &self.log
    }

    /// Checks whether appending `batch` needs a new segment first (Kafka's `shouldRoll`).
    pub fn roll_reason(
        &self,
        batch: &PreparedBatch<'_>,
        config: &LogConfig,
        now_ms: i64,
    ) -> Option<RollReason> {
        if self.size == 0 {
            return None;
        }
        if self.size + batch.size() > config.segment_bytes {
            return Some(RollReason::Size);
        }
        let waited_ms = match self.first_batch_timestamp {
            Some(first) if first >= 0 => batch.max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        };
        if waited_ms > config.max_segment_ms().saturating_sub(self.jitter_ms(config)) {
            return Some(RollReason::Time);
        }
        let max_entries = usize::try_from(config.segment_index_bytes).unwrap_or(usize::MAX);
        if self.offset_index.len() >= max_entries / OffsetEntry::SIZE
            || self.time_index.len() >= max_entries / TimeEntry::SIZE
        {
            return Some(RollReason::IndexFull);
        }
        if batch.last_offset - self.base_offset > i64::from(i32::MAX) {
            return Some(RollReason::OffsetOverflow);
        }
        None
    }

    fn jitter_ms(&self, config: &LogConfig) -> i64 {
        let bound = config.segment_jitter_ms.min(config.segment_ms);
        match u64::try_from(bound) {
            Ok(bound) if bound > 0 => {
                i64::try_from(self.jitter_seed % bound).expect("below an i64 bound")
            }
            _ => 0,
        }
    }

    /// Appends one prepared batch with a single vectored write, then indexes it.
    pub fn append(
        &mut self,
        batch: &PreparedBatch<'_>,
        index_interval_bytes: u64,
    ) -> io::Result<()> {
        assert!(batch.base_offset >= self.next_offset, "offsets must increase");
        assert!(batch.last_offset >= batch.base_offset);
        let indexed = IndexedBatch {
            position: self.size,
            last_offset: batch.last_offset,
            max_timestamp: batch.max_timestamp,
            size: batch.size(),
        };
        // Checked before writing, so a batch that cannot be indexed never reaches the file.
        self.index_entry_for(&indexed)?;
        write_all_vectored(&self.log, &mut [IoSlice::new(batch.header), IoSlice::new(batch.tail)])?;
        self.index(&indexed, index_interval_bytes)
    }

    /// The offset index entry `batch` would get.
    fn index_entry_for(&self, batch: &IndexedBatch) -> io::Result<OffsetEntry> {
        Ok(OffsetEntry {
            relative_offset: u32::try_from(batch.last_offset - self.base_offset)
                .map_err(|_| io::Error::other("relative offset overflow"))?,
            position: u32::try_from(batch.position)
                .map_err(|_| io::Error::other("segment over 4 GiB"))?,
        })
    }

    /// Accounts for a batch written at `batch.position` (Kafka's `LogSegment.append`): sizes,
    /// timestamps, and a sparse index entry when `index.interval.bytes` have passed.
    fn index(&mut self, batch: &IndexedBatch, index_interval_bytes: u64) -> io::Result<()> {
        let entry = self.index_entry_for(batch)?;
        self.size = batch.position + batch.size;
        self.next_offset = batch.last_offset + 1;
        self.first_batch_timestamp.get_or_insert(batch.max_timestamp);
        if batch.max_timestamp > self.max_timestamp {
            self.max_timestamp = batch.max_timestamp;
            self.offset_of_max_timestamp = batch.last_offset;
        }
        if self.bytes_since_last_index_entry > index_interval_bytes {
            self.offset_index.append(entry);
            self.maybe_append_time_entry()?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += batch.size;
        Ok(())
    }

    fn maybe_append_time_entry(&mut self) -> io::Result<()> {
        let last_timestamp = self.time_index.last()?.map_or(-1, |entry| entry.timestamp);
        if self.max_timestamp > last_timestamp {
            let relative_offset = u32::try_from(self.offset_of_max_timestamp - self.base_offset)
                .map_err(|_| io::Error::other("relative offset overflow"))?;
            self.time_index.append(TimeEntry { timestamp: self.max_timestamp, relative_offset });
        }
        Ok(())
    }

    /// Undoes a failed append: cuts the log file back to the last whole batch.
    pub fn truncate_torn_append(&self) -> io::Result<()> {
        self.log.set_len(self.size)
    }

    /// Makes the segment read-only: records its largest timestamp in the time index and
    /// writes both indexes (Kafka's `onBecomeInactiveSegment`).
    pub fn seal(&mut self) -> io::Result<()> {
        self.maybe_append_time_entry()?;
        self.offset_index.seal()?;
        self.time_index.seal()
    }

    /// Writes unpersisted index entries (before a clean shutdown).
    pub fn persist_indexes(&mut self) -> io::Result<()> {
        self.offset_index.persist()?;
        self.time_index.persist()
    }

    /// Deletes this segment's files from `dir` (it has been taken out of its log). Failures are
    /// logged: the files lie below the log start, so the next start removes them.
    pub fn delete_files(&self, dir: &Path) {
        if let Err(error) = delete_segment_files(dir, self.base_offset, "") {
            tracing::warn!(dir = %dir.display(), base_offset = self.base_offset, %error,
                "deleting a retired segment's files failed");
        }
    }

    /// fsyncs the log file and the index files.
    pub fn sync(&self) -> io::Result<()> {
        self.log.sync_data()?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// The position to start scanning from for `offset`: that of the last indexed batch whose
    /// last offset is at most `offset`, or 0. A segment the cleaner replaced has lost its
    /// index files while a reader may still hold it: the reader then scans its log file (still
    /// open, still whole) from the start.
    pub fn index_position(&self, offset: i64) -> io::Result<u64> {
        let relative = (offset - self.base_offset).max(0);
        match self.offset_index.floor(relative) {
            Ok(entry) => Ok(entry.map_or(0, |entry| u64::from(entry.position))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tracing::debug!(
                    base_offset = self.base_offset,
                    "index replaced; scanning the segment"
                );
                Ok(0)
            }
            Err(error) => Err(error),
        }
    }

    /// Reads the whole batches of a sealed segment in order, from the first.
    pub fn batch_reader(&self) -> BatchReader {
        BatchReader { log: Arc::clone(&self.log), position: 0, end: self.size }
    }

    /// Calls `visit` with the header of every batch whose last offset is at or after `offset`,
    /// in order (producer-state rebuild). Blocking.
    pub fn visit_headers(
        &self,
        offset: i64,
        mut visit: impl FnMut(&BatchHeader),
    ) -> io::Result<()> {
        let mut position = self.index_position(offset)?;
        while let Some(header) = read_header(&self.log, position, self.size)? {
            if header.last_offset() >= offset {
                visit(&header);
            }
            position += header_size(&header);
        }
        Ok(())
    }

    /// Prepares the search for the first record with a timestamp at or after `timestamp` and
    /// an offset at or after `starting_offset` (Kafka's `findOffsetByTimestamp`): the index
    /// work happens here, the scan in [`TimestampSearch::run`] without the partition lock.
    pub fn timestamp_search(
        &self,
        timestamp: i64,
        starting_offset: i64,
    ) -> io::Result<TimestampSearch> {
        let indexed = match self.time_index.floor(timestamp) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            indexed => indexed?,
        };
        let from_offset = indexed
            .map_or(self.base_offset, |entry| self.base_offset + i64::from(entry.relative_offset))
            .max(starting_offset);
        Ok(TimestampSearch {
            log: Arc::clone(&self.log),
            start: self.index_position(from_offset)?,
            end: self.size,
            target: SearchTarget::AtLeast { timestamp, starting_offset },
        })
    }

    /// Prepares the search for the first record carrying the segment's largest timestamp
    /// (ListOffsets -3); `None` when the segment has no timestamps.
    pub fn max_timestamp_search(&self) -> io::Result<Option<TimestampSearch>> {
        if self.max_timestamp < 0 {
            return Ok(None);
        }
        Ok(Some(TimestampSearch {
            log: Arc::clone(&self.log),
            start: self.index_position(self.offset_of_max_timestamp)?,
            end: self.size,
            target: SearchTarget::Largest(self.max_timestamp),
        }))
    }

    /// What a reader needs to read this segment without the partition lock: the file, the
    /// index's starting point for `offset`, and the readable end.
    pub fn slice(&self, offset: i64, end: u64) -> io::Result<SegmentSlice> {
        Ok(SegmentSlice {
            log: Arc::clone(&self.log),
            base_offset: self.base_offset,
            start: self.index_position(offset)?,
            end: end.min(self.size),
        })
    }

    /// Reads whole batches from the one holding `offset` (see [`SegmentSlice::read`]).
    #[cfg(test)]
    pub fn read(&self, request: SegmentRead) -> io::Result<Option<Bytes>> {
        self.slice(request.offset, request.end)?
            .read(request.offset, request.max_bytes, request.min_one_message)?
            .map(|region| region.read_bytes())
            .transpose()
    }

    /// Forgets the indexes and rebuilds them by scanning the whole log file (see
    /// [`Segment::scan_and_index`]). Returns the number of bytes cut off.
    #[cfg(test)]
    pub fn recover(&mut self, index_interval_bytes: u64, now_ms: i64) -> io::Result<u64> {
        let dir = self.dir();
        let indexes = Self::fresh_indexes(&dir, self.base_offset)?;
        *self = Self::assemble(self.base_offset, Arc::clone(&self.log), indexes, now_ms);
        self.scan_and_index(index_interval_bytes)
    }

    /// Scans the log file of a segment with empty indexes, checking every batch (magic,
    /// length, CRC, increasing offsets) and indexing it. The file is cut at the first invalid
    /// batch; I/O errors are returned, never taken for corruption. Returns the bytes cut off.
    fn scan_and_index(&mut self, index_interval_bytes: u64) -> io::Result<u64> {
        assert!(self.size == 0 && self.offset_index.is_empty(), "scan starts from nothing");
        let file_size = self.log.metadata()?.len();
        let log = Arc::clone(&self.log);
        let mut position = 0;
        while let Some(header) = read_header(&log, position, file_size)? {
            let batch = read_batch(&log, position, &header)?;
            let in_order = header.base_offset >= self.next_offset;
            if !in_order || verify_stored_batch(&batch).is_err() {
                break;
            }
            let indexed = IndexedBatch {
                position,
                last_offset: header.last_offset(),
                max_timestamp: header.max_timestamp,
                size: header_size(&header),
            };
            if self.index_entry_for(&indexed).is_err() {
                break;
            }
            self.index(&indexed, index_interval_bytes)?;
            position = self.size;
        }
        let truncated = file_size - position;
        if truncated > 0 {
            log.set_len(position)?;
        }
        Ok(truncated)
    }
}

/// A record search by timestamp, detached from the partition lock.
#[derive(Debug, Clone)]
pub struct TimestampSearch {
    log: Arc<File>,
    start: u64,
    end: u64,
    target: SearchTarget,
}

#[derive(Debug, Clone, Copy)]
enum SearchTarget {
    AtLeast { timestamp: i64, starting_offset: i64 },
    Largest(i64),
}

impl TimestampSearch {
    /// Scans batches from the indexed start, looking inside (decompressing, capped) only the
    /// batches whose largest timestamp can hold the answer.
    pub fn run(&self) -> crate::error::Result<Option<TimestampOffset>> {
        let mut position = self.start;
        while let Some(header) = read_header(&self.log, position, self.end)? {
            let candidate = match self.target {
                SearchTarget::AtLeast { timestamp, .. } => header.max_timestamp >= timestamp,
                SearchTarget::Largest(largest) => header.max_timestamp == largest,
            };
            if candidate {
                let batch = read_batch(&self.log, position, &header)?;
                let found = first_record(&batch, |record| match self.target {
                    SearchTarget::AtLeast { timestamp, starting_offset } => {
                        record.timestamp >= timestamp && record.offset >= starting_offset
                    }
                    SearchTarget::Largest(largest) => record.timestamp == largest,
                })?;
                if let Some(found) = found {
                    return Ok(Some(TimestampOffset {
                        leader_epoch: header.partition_leader_epoch,
                        ..found
                    }));
                }
            }
            position += header_size(&header);
        }
        Ok(None)
    }
}

/// Whole batches of a segment, read one at a time (the cleaner's input).
#[derive(Debug)]
pub struct BatchReader {
    log: Arc<File>,
    position: u64,
    end: u64,
}

impl BatchReader {
    /// The next batch and its header; `None` at the end. Bytes before the end that do not
    /// hold a whole batch are corrupt (a sealed segment holds whole batches only).
    pub fn next_batch(&mut self) -> io::Result<Option<(BatchHeader, Bytes)>> {
        let Some(header) = read_header(&self.log, self.position, self.end)? else {
            if self.position < self.end {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("no whole batch at position {} of {}", self.position, self.end),
                ));
            }
            return Ok(None);
        };
        let batch = read_batch(&self.log, self.position, &header)?;
        self.position += header_size(&header);
        Ok(Some((header, batch)))
    }
}

/// A batch's place in a segment, for indexing.
struct IndexedBatch {
    position: u64,
    last_offset: i64,
    max_timestamp: i64,
    size: u64,
}

/// A readable region of a segment, detached from the partition lock.
#[derive(Debug, Clone)]
pub struct SegmentSlice {
    pub log: Arc<File>,
    pub base_offset: i64,
    /// Where to start scanning (from the offset index).
    pub start: u64,
    /// Bytes of the file that may be read.
    pub end: u64,
}

impl SegmentSlice {
    /// Finds whole batches starting with the one that holds `offset`, up to `max_bytes`
    /// (Kafka's `LogSegment.read`). With `min_one_message` the first batch is returned even
    /// if larger than `max_bytes` (KIP-74). `None` when no batch at or after `offset` lies in
    /// the slice; an empty region when the first batch does not fit. Only batch headers are
    /// read: the records stay in the file until someone sends or copies the region.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        min_one_message: bool,
    ) -> io::Result<Option<FileRegion>> {
        let Some((position, first)) = find_batch(&self.log, offset, self.start, self.end)? else {
            return Ok(None);
        };
        let first_size = header_size(&first);
        let wanted = (self.end - position).min(max_bytes);
        let length = if wanted >= first_size {
            whole_batches_end(&self.log, position + first_size, position + wanted)? - position
        } else if min_one_message {
            first_size
        } else {
            0
        };
        Ok(Some(FileRegion { file: Arc::clone(&self.log), position, length }))
    }
}

/// A run of whole batches in a segment's log file. The fetch path hands it to `sendfile(2)`
/// so record bytes never pass through user space; other readers copy it with
/// [`FileRegion::read_bytes`]. The file handle keeps the bytes readable even if the segment
/// is deleted meanwhile, and a segment's bytes below its high watermark are never rewritten.
#[derive(Debug, Clone)]
pub struct FileRegion {
    pub file: Arc<File>,
    pub position: u64,
    pub length: u64,
}

impl FileRegion {
    /// Copies the region into memory.
    pub fn read_bytes(&self) -> io::Result<Bytes> {
        read_exact(&self.file, self.position, self.length)
    }
}

/// What [`Segment::read`] reads.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub struct SegmentRead {
    pub offset: i64,
    pub max_bytes: u64,
    pub min_one_message: bool,
    /// Bytes of the file that may be read (the high watermark's position, or the size).
    pub end: u64,
}

fn open_log(path: &Path, writable: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    if writable {
        options.append(true).create(true).mode(0o644);
    }
    options.open(path)
}

fn header_size(header: &BatchHeader) -> u64 {
    header.size().map_or(0, |size| size as u64)
}

/// Reads the batch header at `position`; `None` when no whole, plausible batch lies before
/// `end` (end of data, or a torn or corrupt length).
fn read_header(file: &File, position: u64, end: u64) -> io::Result<Option<BatchHeader>> {
    if position + BATCH_HEADER_SIZE as u64 > end {
        return Ok(None);
    }
    let mut bytes = [0u8; BATCH_HEADER_SIZE];
    file.read_exact_at(&mut bytes, position)?;
    let header = BatchHeader::parse(&bytes).expect("whole header");
    match header.size() {
        Some(size) if position + size as u64 <= end => Ok(Some(header)),
        _ => Ok(None),
    }
}

fn find_batch(
    file: &File,
    offset: i64,
    start: u64,
    end: u64,
) -> io::Result<Option<(u64, BatchHeader)>> {
    let mut position = start;
    while let Some(header) = read_header(file, position, end)? {
        if header.last_offset() >= offset {
            return Ok(Some((position, header)));
        }
        position += header_size(&header);
    }
    Ok(None)
}

fn read_exact(file: &File, position: u64, length: u64) -> io::Result<Bytes> {
    let mut bytes = BytesMut::zeroed(usize::try_from(length).map_err(io::Error::other)?);
    file.read_exact_at(&mut bytes, position)?;
    Ok(bytes.freeze())
}

fn read_batch(file: &File, position: u64, header: &BatchHeader) -> io::Result<Bytes> {
    read_exact(file, position, header_size(header))
}

/// Bytes read at a time while walking batch headers: small batches are stepped over within
/// one read, a large batch costs one read of its header.
const HEADER_WALK_WINDOW_BYTES: usize = 4096;

/// The end of the last whole batch that starts at or after `position` (a batch boundary) and
/// ends by `limit`; `position` itself when none fits. Reads only as much of the file as it
/// takes to see each batch's length field.
fn whole_batches_end(file: &File, mut position: u64, limit: u64) -> io::Result<u64> {
    /// baseOffset (8) and batchLength (4): a batch's size is batchLength + 12.
    const LENGTH_PREFIX: u64 = 12;
    let mut window = [0u8; HEADER_WALK_WINDOW_BYTES];
    let (mut window_start, mut window_len) = (0u64, 0u64);
    while position + LENGTH_PREFIX <= limit {
        if position < window_start || position + LENGTH_PREFIX > window_start + window_len {
            let wanted = (limit - position).min(HEADER_WALK_WINDOW_BYTES as u64);
            let buffer = &mut window[..usize::try_from(wanted).map_err(io::Error::other)?];
            file.read_exact_at(buffer, position)?;
            (window_start, window_len) = (position, wanted);
        }
        let at = usize::try_from(position - window_start).map_err(io::Error::other)?;
        let length_field = window[at + 8..at + 12].try_into().expect("4 bytes");
        let batch_length = u64::try_from(i32::from_be_bytes(length_field)).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "negative batch length in the log")
        })?;
        let size = LENGTH_PREFIX + batch_length;
        if size < BATCH_HEADER_SIZE as u64 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "batch too short in the log"));
        }
        if position + size > limit {
            break;
        }
        position += size;
    }
    Ok(position)
}

fn first_record(
    batch: &[u8],
    matches: impl Fn(&crate::protocol::records::RecordView<'_>) -> bool,
) -> crate::error::Result<Option<TimestampOffset>> {
    let mut found = None;
    visit_records(batch, |record| {
        if matches(&record) {
            found = Some(TimestampOffset {
                timestamp: record.timestamp,
                offset: record.offset,
                leader_epoch: -1,
            });
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(found)
}

/// Writes every byte of `slices` at the end of an append-mode file.
fn write_all_vectored(file: &File, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    let mut writer: &File = file;
    while !slices.is_empty() {
        match writer.write_vectored(slices) {
            Ok(0) => {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "log file write returned 0"));
            }
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
