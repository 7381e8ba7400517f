//! The sparse offset index (`<base offset>.index`), Kafka's format.
//!
//! Entry (8 bytes, big-endian): `i32 relativeOffset, i32 position`. `relativeOffset` is a
//! batch's *last* offset minus the segment's base offset; `position` is the byte position in
//! the `.log` file where that batch *starts*. An entry is added for a batch when more than
//! `index.interval.bytes` have been appended since the previous entry (Kafka's
//! `LogSegment.append`), so lookups land within about that many bytes of the target and a
//! short forward scan of batch headers finishes the job.

use super::index::IndexEntry;

/// One offset index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;

    fn key(&self) -> i64 {
        i64::from(self.relative_offset)
    }

    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        Self {
            relative_offset: u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_big_endian() {
        let entry = OffsetEntry { relative_offset: 0x0102_0304, position: 0x0a0b_0c0d };
        let mut bytes = [0u8; 8];
        entry.encode(&mut bytes);
        assert_eq!(bytes, [1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(OffsetEntry::decode(&bytes), entry);
    }
}
