//! Record batch v2 (magic 2): header view, validation, offset assignment, and a builder.
//!
//! Layout (Kafka `DefaultRecordBatch`), all integers big-endian:
//!
//! | offset | field                | notes                                          |
//! |-------:|----------------------|------------------------------------------------|
//! | 0      | baseOffset i64       | assigned by the broker                         |
//! | 8      | batchLength i32      | bytes after this field (total size - 12)       |
//! | 12     | partitionLeaderEpoch | assigned by the broker; not covered by the CRC |
//! | 16     | magic i8 = 2         |                                                |
//! | 17     | crc u32              | CRC-32C of bytes 21..end                       |
//! | 21     | attributes i16       | 0-2 codec, 3 LogAppendTime, 4 txn, 5 control   |
//! | 23     | lastOffsetDelta i32  |                                                |
//! | 27     | baseTimestamp i64    |                                                |
//! | 35     | maxTimestamp i64     |                                                |
//! | 43     | producerId i64       | -1 = none                                      |
//! | 51     | producerEpoch i16    |                                                |
//! | 53     | baseSequence i32     |                                                |
//! | 57     | recordsCount i32     |                                                |
//! | 61     | records              | compressed as one block if the codec says so   |
//!
//! Because the CRC starts at byte 21, the broker assigns offsets by rewriting bytes 0..8 and
//! 12..16 in place without touching the records, exactly as Kafka does. Only LogAppendTime
//! (which rewrites attributes and maxTimestamp) needs a new CRC.

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::limits::{BATCH_HEADER_SIZE, DECOMPRESSED_BATCH_BYTES_MAX, LOG_OVERHEAD};

/// The smallest record: length, attributes, timestamp delta, offset delta, key length, value
/// length and header count, one byte each.
const RECORD_SIZE_MIN: usize = 7;

/// The most records a compressed batch may declare: as many minimal records as fit in the
/// largest decompressed batch the broker would ever read.
pub const RECORDS_PER_COMPRESSED_BATCH_MAX: usize = DECOMPRESSED_BATCH_BYTES_MAX / RECORD_SIZE_MIN;

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;

/// The only record format this broker stores.
pub const MAGIC_V2: i8 = 2;

const COMPRESSION_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub const TRANSACTIONAL_BIT: i16 = 0x10;
pub const CONTROL_BIT: i16 = 0x20;
/// Set by the log cleaner (KIP-534): `baseTimestamp` holds the batch's delete horizon, the
/// time after which its tombstones may be removed.
pub const DELETE_HORIZON_BIT: i16 = 0x40;

/// A batch's compression codec (attributes bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The codec's attributes bits (0-2).
    pub fn attribute_bits(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    fn from_attributes(attributes: i16) -> Option<Self> {
        match attributes & COMPRESSION_MASK {
            0 => Some(Self::None),
            1 => Some(Self::Gzip),
            2 => Some(Self::Snappy),
            3 => Some(Self::Lz4),
            4 => Some(Self::Zstd),
            _ => None,
        }
    }
}

/// The fixed 61-byte header of a v2 batch, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn read_i64(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn read_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn read_i16(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

impl BatchHeader {
    /// Decodes the header from the first 61 bytes of `bytes`. Checks nothing but length.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < BATCH_HEADER_SIZE {
            return None;
        }
        Some(Self {
            base_offset: read_i64(bytes, BASE_OFFSET_OFFSET),
            batch_length: read_i32(bytes, BATCH_LENGTH_OFFSET),
            partition_leader_epoch: read_i32(bytes, PARTITION_LEADER_EPOCH_OFFSET),
            magic: i8::from_be_bytes([bytes[MAGIC_OFFSET]]),
            crc: u32::from_be_bytes(bytes[CRC_OFFSET..CRC_OFFSET + 4].try_into().expect("4")),
            attributes: read_i16(bytes, ATTRIBUTES_OFFSET),
            last_offset_delta: read_i32(bytes, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: read_i64(bytes, BASE_TIMESTAMP_OFFSET),
            max_timestamp: read_i64(bytes, MAX_TIMESTAMP_OFFSET),
            producer_id: read_i64(bytes, PRODUCER_ID_OFFSET),
            producer_epoch: read_i16(bytes, PRODUCER_EPOCH_OFFSET),
            base_sequence: read_i32(bytes, BASE_SEQUENCE_OFFSET),
            records_count: read_i32(bytes, RECORDS_COUNT_OFFSET),
        })
    }

    /// The whole batch's size in bytes, including the 12-byte log overhead. `None` when
    /// `batchLength` is too small to hold a header.
    pub fn size(&self) -> Option<usize> {
        let length = usize::try_from(self.batch_length).ok()?;
        let size = length.checked_add(LOG_OVERHEAD)?;
        (size >= BATCH_HEADER_SIZE).then_some(size)
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attributes(self.attributes)
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// The delete horizon the log cleaner stamped on the batch (KIP-534), if any.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }
}

/// CRC-32C of a batch from the attributes to the end.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Checks that `batch` is one whole v2 batch whose stored CRC matches its bytes. Used on the
/// read side (recovery) where batches were written by this broker.
pub fn verify_stored_batch(batch: &[u8]) -> Result<BatchHeader> {
    let header = BatchHeader::parse(batch)
        .ok_or_else(|| Error::CorruptMessage(format!("batch of {} bytes", batch.len())))?;
    if header.magic != MAGIC_V2 {
        return Err(Error::CorruptMessage(format!("magic {}", header.magic)));
    }
    if header.size() != Some(batch.len()) {
        return Err(Error::CorruptMessage(format!("batchLength {}", header.batch_length)));
    }
    if compute_crc(batch) != header.crc {
        return Err(Error::CorruptMessage("CRC-32C mismatch".into()));
    }
    Ok(header)
}

/// What a Produce request's record bytes for one partition are checked against.
#[derive(Debug, Clone, Copy)]
pub struct ProduceLimits {
    /// The topic's `max.message.bytes`.
    pub max_message_bytes: usize,
    /// The Produce request version (zstd needs v7+).
    pub produce_version: i16,
}

/// Validates the record bytes a client sent for one partition in the order Kafka checks
/// (`ProduceRequest.validateRecords`, `UnifiedLog.analyzeAndValidateRecords`,
/// `LogValidator.validateBatch`): exactly one v2 batch, base offset 0, size within
/// `max.message.bytes`, CRC, record count, codec, no control batch, producer fields.
///
/// The records of an uncompressed batch are walked (count and offset deltas, as Kafka does).
/// A compressed batch is not decompressed — the append path stays copy- and
/// decompression-free — so its declared count is only bounded by what its records could
/// decompress to ([`RECORDS_PER_COMPRESSED_BATCH_MAX`]); Kafka decompresses to check it
/// exactly. A client that lies about a compressed batch's count only misleads its own
/// consumers.
pub fn validate_produced_batch(records: &[u8], limits: ProduceLimits) -> Result<BatchHeader> {
    let header = single_batch_header(records)?;
    if header.base_offset != 0 {
        return Err(Error::InvalidRecord(format!(
            "the baseOffset of a produced batch must be 0, not {}",
            header.base_offset
        )));
    }
    if records.len() > limits.max_message_bytes {
        return Err(Error::MessageTooLarge { size: records.len(), max: limits.max_message_bytes });
    }
    if compute_crc(records) != header.crc {
        return Err(Error::CorruptMessage(format!(
            "CRC-32C mismatch: stored {:#010x}, computed {:#010x}",
            header.crc,
            compute_crc(records)
        )));
    }
    validate_batch_fields(&header, limits)?;
    if header.compression() == Some(Compression::None) {
        crate::protocol::records::check_uncompressed_records(records).map_err(
            |error| match error {
                Error::CorruptMessage(reason) => Error::InvalidRecord(reason),
                other => other,
            },
        )?;
    } else if usize::try_from(header.records_count).unwrap_or(usize::MAX)
        > RECORDS_PER_COMPRESSED_BATCH_MAX
    {
        return Err(Error::InvalidRecord(format!(
            "a compressed batch cannot hold the {} records it declares",
            header.records_count
        )));
    }
    Ok(header)
}

/// Finds the one batch in `records`; anything else is INVALID_RECORD (or CORRUPT_MESSAGE for
/// an impossible length), as in Kafka's `ByteBufferLogInputStream`.
fn single_batch_header(records: &[u8]) -> Result<BatchHeader> {
    if records.len() < LOG_OVERHEAD {
        return Err(Error::InvalidRecord(
            "produce requests must contain exactly one record batch".into(),
        ));
    }
    let batch_length = read_i32(records, BATCH_LENGTH_OFFSET);
    let size = usize::try_from(batch_length)
        .ok()
        .and_then(|length| length.checked_add(LOG_OVERHEAD))
        .filter(|size| *size >= BATCH_HEADER_SIZE)
        .ok_or_else(|| {
            Error::CorruptMessage(format!("batch length {batch_length} is below the minimum"))
        })?;
    if records.len() < size || size < records.len() {
        return Err(Error::InvalidRecord(format!(
            "produce requests must contain exactly one whole record batch: \
             batch of {size} bytes in {} bytes",
            records.len()
        )));
    }
    let header = BatchHeader::parse(records).expect("size checked above");
    if header.magic != MAGIC_V2 {
        return Err(Error::InvalidRecord(format!(
            "produce requests v3+ may only contain magic v2 batches, not magic {}",
            header.magic
        )));
    }
    Ok(header)
}

fn validate_batch_fields(header: &BatchHeader, limits: ProduceLimits) -> Result<()> {
    if header.records_count <= 0 || header.last_offset_delta != header.records_count - 1 {
        return Err(Error::InvalidRecord(format!(
            "lastOffsetDelta {} does not match the record count {}",
            header.last_offset_delta, header.records_count
        )));
    }
    match header.compression() {
        None => {
            return Err(Error::CorruptMessage(format!(
                "unknown compression codec id {}",
                header.attributes & COMPRESSION_MASK
            )));
        }
        Some(Compression::Zstd) if limits.produce_version < 7 => {
            return Err(Error::UnsupportedCompressionType(
                "zstd compression needs Produce v7 or later".into(),
            ));
        }
        Some(_) => {}
    }
    if header.is_control() {
        return Err(Error::InvalidRecord("clients may not write control batches".into()));
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err(Error::InvalidRecord(format!(
            "invalid base sequence {} for producer id {}",
            header.base_sequence, header.producer_id
        )));
    }
    if header.is_transactional() {
        return Err(Error::InvalidTxnState(
            "transactional batches need a transaction coordinator, which this broker lacks".into(),
        ));
    }
    Ok(())
}

/// The broker's rewrite of a client batch header before it is appended.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRewrite {
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
    /// `Some(now_ms)` when the topic uses LogAppendTime.
    pub log_append_time_ms: Option<i64>,
}

/// Returns a copy of `batch`'s header with offsets (and, for LogAppendTime, the timestamp)
/// assigned; only a timestamp-type change needs a new CRC. The records after the header are unchanged, so the caller writes
/// `[returned header] + batch[61..]` without copying record bytes.
pub fn rewrite_header(batch: &[u8], rewrite: HeaderRewrite) -> [u8; BATCH_HEADER_SIZE] {
    let mut header: [u8; BATCH_HEADER_SIZE] =
        batch[..BATCH_HEADER_SIZE].try_into().expect("batch holds a whole header");
    header[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8]
        .copy_from_slice(&rewrite.base_offset.to_be_bytes());
    header[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&rewrite.partition_leader_epoch.to_be_bytes());
    let attributes = read_i16(&header, ATTRIBUTES_OFFSET);
    match rewrite.log_append_time_ms {
        Some(now_ms) => {
            header[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
                .copy_from_slice(&(attributes | TIMESTAMP_TYPE_BIT).to_be_bytes());
            header[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
                .copy_from_slice(&now_ms.to_be_bytes());
        }
        // A CreateTime topic keeps the producer's timestamps: a LogAppendTime flag the client
        // set is cleared, as Kafka's `LogValidator` overwrites it with the topic's type.
        None if attributes & TIMESTAMP_TYPE_BIT != 0 => {
            header[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2]
                .copy_from_slice(&(attributes & !TIMESTAMP_TYPE_BIT).to_be_bytes());
        }
        None => return header,
    }
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&header[ATTRIBUTES_OFFSET..]),
        &batch[BATCH_HEADER_SIZE..],
    );
    header[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    header
}

/// One record for [`build_uncompressed_batch`].
#[derive(Debug, Clone, Copy)]
pub struct RecordInput<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// Encodes an uncompressed v2 batch at base offset 0 with every record at `timestamp_ms`.
/// Used for batches the broker writes itself (the metadata log).
pub fn build_uncompressed_batch(records: &[RecordInput<'_>], timestamp_ms: i64) -> BytesMut {
    assert!(!records.is_empty());
    let count = i32::try_from(records.len()).expect("batch record count fits i32");
    let mut batch = BytesMut::with_capacity(BATCH_HEADER_SIZE + records.len() * 32);
    batch.put_i64(0);
    batch.put_i32(0); // batchLength, patched below.
    batch.put_i32(0);
    batch.put_i8(MAGIC_V2);
    batch.put_u32(0); // crc, patched below.
    batch.put_i16(0);
    batch.put_i32(count - 1);
    batch.put_i64(timestamp_ms);
    batch.put_i64(timestamp_ms);
    batch.put_i64(-1);
    batch.put_i16(-1);
    batch.put_i32(-1);
    batch.put_i32(count);
    for (offset_delta, record) in (0..count).zip(records) {
        put_record(&mut batch, offset_delta, *record);
    }
    let batch_length = i32::try_from(batch.len() - LOG_OVERHEAD).expect("batch fits i32");
    batch[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4]
        .copy_from_slice(&batch_length.to_be_bytes());
    let crc = compute_crc(&batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    batch
}

fn put_record(batch: &mut BytesMut, offset_delta: i32, record: RecordInput<'_>) {
    let mut body = BytesMut::new();
    body.put_i8(0); // attributes
    put_varint(&mut body, 0); // timestampDelta
    put_varint(&mut body, i64::from(offset_delta));
    put_nullable(&mut body, record.key);
    put_nullable(&mut body, record.value);
    put_varint(&mut body, 0); // header count
    put_varint(batch, i64::try_from(body.len()).expect("record fits i64"));
    batch.put_slice(&body);
}

fn put_nullable(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(buf, -1),
        Some(bytes) => {
            put_varint(buf, i64::try_from(bytes.len()).expect("field fits i64"));
            buf.put_slice(bytes);
        }
    }
}

/// Zig-zag varint (Kafka's varint and varlong share this encoding).
pub fn put_varint(buf: &mut BytesMut, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        buf.put_u8(u8::try_from(zigzag & 0x7f).expect("seven bits") | 0x80);
        zigzag >>= 7;
    }
    buf.put_u8(u8::try_from(zigzag).expect("below 0x80"));
}

#[cfg(test)]
mod tests;
