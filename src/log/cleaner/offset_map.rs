//! The cleaner's key map: for each key of the dirty section, the offset of its latest record,
//! in memory bounded by `log.cleaner.dedupe.buffer.size` (Kafka's `SkimpyOffsetMap`).
//!
//! Keys are not stored: each slot holds a 128-bit hash of the key (two SipHash-1-3 digests
//! under different prefixes) and an offset, 24 bytes. Two keys with the same 128-bit hash
//! would be taken for one, at odds of about 2^-64 for a map of 2^32 keys; Kafka's map (MD5)
//! takes the same chance. Open addressing with linear probing; the table starts small and
//! doubles while it fills, up to the budget, so a partition with few keys costs little
//! memory (Kafka allocates the whole buffer up front). At most `load_factor` of the largest
//! table's slots are ever used (`log.cleaner.io.buffer.load.factor`).

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hasher};

/// Bytes of one slot: a 128-bit hash and an offset.
pub const SLOT_BYTES: usize = 24;
const SLOTS_INITIAL: usize = 1024;
const EMPTY: i64 = -1;

#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: [u64; 2],
    offset: i64,
}

const EMPTY_SLOT: Slot = Slot { hash: [0, 0], offset: EMPTY };

/// Key hash to latest offset.
#[derive(Debug)]
pub struct OffsetMap {
    slots: Vec<Slot>,
    used: usize,
    slots_max: usize,
    entries_max: usize,
    load_factor: f64,
    /// The largest table allocated so far, plus the one it was copied from while growing.
    peak_bytes: usize,
}

impl OffsetMap {
    /// A map holding at most `memory_bytes` of slots, filled to `load_factor` at most.
    pub fn new(memory_bytes: usize, load_factor: f64) -> Self {
        let slots_max = (memory_bytes / SLOT_BYTES).max(2);
        // A float in (0, 1] times a slot count: the product is below `slots_max`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let entries_max = ((slots_max as f64 * load_factor) as usize).clamp(1, slots_max - 1);
        let initial = SLOTS_INITIAL.min(slots_max);
        Self {
            slots: vec![EMPTY_SLOT; initial],
            used: 0,
            slots_max,
            entries_max,
            load_factor,
            peak_bytes: initial * SLOT_BYTES,
        }
    }

    /// How many distinct keys the map can hold.
    pub fn capacity(&self) -> usize {
        self.entries_max
    }

    pub fn len(&self) -> usize {
        self.used
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Whether `more` new keys surely fit.
    pub fn has_room_for(&self, more: usize) -> bool {
        self.used.saturating_add(more) <= self.entries_max
    }

    /// The most memory the map's tables took at once.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Records `offset` as the latest for `key`. Returns false, changing nothing, when the
    /// key is new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let hash = hash(key);
        if let Some(slot) = self.find(hash) {
            self.slots[slot].offset = offset;
            return true;
        }
        if self.used >= self.entries_max {
            return false;
        }
        // Grow past the load factor, and always before the last empty slot would go (with a
        // factor of 1 the table must still keep one: a probe stops at an empty slot).
        let crowded = (self.used + 1) as f64 > self.slots.len() as f64 * self.load_factor
            || self.used + 1 >= self.slots.len();
        if crowded && self.slots.len() < self.slots_max {
            self.grow();
        }
        let slot = self.probe(hash);
        self.slots[slot] = Slot { hash, offset };
        self.used += 1;
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.find(hash(key)).map(|slot| self.slots[slot].offset)
    }

    fn find(&self, hash: [u64; 2]) -> Option<usize> {
        let slot = self.probe(hash);
        (self.slots[slot].offset != EMPTY).then_some(slot)
    }

    /// The slot holding `hash`, or the empty slot where it would go. The table always has an
    /// empty slot (`entries_max < slots_max`), so the probe ends.
    fn probe(&self, hash: [u64; 2]) -> usize {
        let length = self.slots.len();
        let mut slot = usize::try_from(hash[0] % length as u64).expect("below the length");
        loop {
            let candidate = &self.slots[slot];
            if candidate.offset == EMPTY || candidate.hash == hash {
                return slot;
            }
            slot = (slot + 1) % length;
        }
    }

    fn grow(&mut self) {
        let length = (self.slots.len() * 2).min(self.slots_max);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; length]);
        self.peak_bytes = self.peak_bytes.max((old.len() + length) * SLOT_BYTES);
        for slot in old.into_iter().filter(|slot| slot.offset != EMPTY) {
            let position = self.probe(slot.hash);
            self.slots[position] = slot;
        }
    }
}

fn hash(key: &[u8]) -> [u64; 2] {
    let build = BuildHasherDefault::<DefaultHasher>::default();
    let digest = |prefix: u8| {
        let mut hasher = build.build_hasher();
        hasher.write_u8(prefix);
        hasher.write(key);
        hasher.finish()
    };
    [digest(0), digest(1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_offset_per_key_and_grows() {
        let mut map = OffsetMap::new(1 << 20, 0.9);
        for round in 0..3i64 {
            for key in 0..10_000i64 {
                assert!(map.put(format!("key-{key}").as_bytes(), round * 10_000 + key));
            }
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get(b"key-17"), Some(20_017));
        assert_eq!(map.get(b"missing"), None);
        assert!(map.peak_bytes() <= 1 << 20);
    }

    #[test]
    fn a_load_factor_of_one_never_fills_the_table() {
        let mut map = OffsetMap::new(10_000 * SLOT_BYTES, 1.0);
        for key in 0..5_000u32 {
            assert!(map.put(&key.to_be_bytes(), i64::from(key)));
        }
        assert_eq!(map.get(&4_999u32.to_be_bytes()), Some(4_999));
        assert_eq!(map.get(b"absent"), None);
    }

    #[test]
    fn refuses_new_keys_when_full_but_updates_known_ones() {
        let mut map = OffsetMap::new(100 * SLOT_BYTES, 0.5);
        assert_eq!(map.capacity(), 50);
        for key in 0..50u32 {
            assert!(map.put(&key.to_be_bytes(), i64::from(key)));
        }
        assert!(!map.has_room_for(1));
        assert!(!map.put(b"one more", 99));
        assert!(map.put(&7u32.to_be_bytes(), 700));
        assert_eq!(map.get(&7u32.to_be_bytes()), Some(700));
        assert_eq!(map.get(b"one more"), None);
    }
}
