//! The sparse time index (`<base offset>.timeindex`), Kafka's format.
//!
//! Entry (12 bytes, big-endian): `i64 timestamp, i32 relativeOffset`: the largest batch
//! timestamp seen so far in the segment and the (relative) last offset of the batch that
//! carried it. Entries are added alongside offset index entries, only when the timestamp
//! grows, so timestamps are strictly increasing; when a segment is sealed a final entry records
//! its largest timestamp (Kafka's `onBecomeInactiveSegment`), so a sealed segment's largest
//! timestamp is its last time index entry.

use super::index::IndexEntry;

/// One time index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;

    fn key(&self) -> i64 {
        self.timestamp
    }

    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.relative_offset.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        Self {
            timestamp: i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            relative_offset: u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_big_endian() {
        let entry = TimeEntry { timestamp: 0x0102_0304_0506_0708, relative_offset: 9 };
        let mut bytes = [0u8; 12];
        entry.encode(&mut bytes);
        assert_eq!(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9]);
        assert_eq!(TimeEntry::decode(&bytes), entry);
    }
}
