//! The leader-epoch cache of one partition: for every leader epoch that wrote to the log, the
//! offset of its first batch. OffsetForLeaderEpoch answers from it (KIP-101, KIP-320): a
//! consumer or follower learns where an epoch's records end, so it can tell whether its
//! position was truncated away.
//!
//! File: `<partition dir>/leader-epoch-checkpoint`, Kafka's `LeaderEpochCheckpointFile`
//! (version 0), text:
//!
//! ```text
//! 0
//! <entry count>
//! <epoch> <start offset>
//! ...
//! ```
//!
//! Entries are in increasing epoch and start offset order. The file is replaced atomically
//! (see [`super::checkpoint::write_atomically`]) whenever an entry is added, before the batch
//! that starts the epoch is appended, so a batch on disk is never newer than the file. At
//! open, entries at or past the log end (their batch never made it) are dropped, the first
//! entry is moved up to the log start, and the current epoch is assigned at the log end (as
//! Kafka's leader does when it takes over), so a leader's cache is never empty. A missing or
//! malformed file is rebuilt by reading every batch header of the log.

use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::write_atomically;

pub const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";
const VERSION: &str = "0";

/// An epoch and the offset of its first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The answer to "where does epoch N end": Kafka's `(leader_epoch, end_offset)`, -1 and -1
/// when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub leader_epoch: i32,
    pub end_offset: i64,
}

impl EpochEndOffset {
    pub const UNDEFINED: Self = Self { leader_epoch: -1, end_offset: -1 };
}

/// One partition's cache, in memory and in its file.
#[derive(Debug, Clone)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Reads the file in `dir`: `None` if it is missing or malformed (the caller rebuilds).
    pub fn load(dir: &Path) -> io::Result<Option<Self>> {
        let path = dir.join(LEADER_EPOCH_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        match parse(&text) {
            Some(entries) => Ok(Some(Self { path, entries })),
            None => {
                tracing::warn!(path = %path.display(), "malformed leader-epoch checkpoint, rebuilt");
                Ok(None)
            }
        }
    }

    /// An empty cache for the log in `dir` (nothing written until the first entry).
    pub fn empty(dir: &Path) -> Self {
        Self { path: dir.join(LEADER_EPOCH_FILE), entries: Vec::new() }
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// Whether [`Self::assign`] would change the cache. As Kafka's
    /// `LeaderEpochFileCache.assign`: not when the latest entry has this epoch and starts no
    /// later (every append of the current leader).
    fn is_update_needed(&self, epoch: i32, start_offset: i64) -> bool {
        epoch >= 0
            && start_offset >= 0
            && self
                .entries
                .last()
                .is_none_or(|latest| latest.epoch != epoch || latest.start_offset > start_offset)
    }

    /// Records that `epoch` starts at `start_offset`, in memory only; returns whether the
    /// cache changed. Entries the new one contradicts (an epoch at least as new, or a start
    /// at least as late) are dropped, as after a truncation, and the new entry is added last.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if !self.is_update_needed(epoch, start_offset) {
            return false;
        }
        let before = self.entries.len();
        self.entries.retain(|entry| entry.epoch < epoch && entry.start_offset < start_offset);
        if self.entries.len() < before {
            tracing::warn!(path = %self.path.display(), epoch, start_offset,
                removed = before - self.entries.len(), "leader epochs replaced");
        }
        self.entries.push(EpochEntry { epoch, start_offset });
        true
    }

    /// Adds `epoch` at `start_offset` (see [`Self::assign`]) and, if that changed the
    /// cache, writes the file before returning. If the write fails, the cache is as before.
    /// Called on every append: the common case (no change) neither allocates nor writes.
    pub fn assign_and_write(&mut self, epoch: i32, start_offset: i64) -> io::Result<()> {
        if !self.is_update_needed(epoch, start_offset) {
            return Ok(());
        }
        let before = self.entries.clone();
        self.assign(epoch, start_offset);
        self.write().inspect_err(|_| self.entries = before)
    }

    /// Drops entries that start at or after `end_offset` (the log was cut there). Returns
    /// whether the cache changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.start_offset < end_offset);
        self.entries.len() < before
    }

    /// The log now starts at `start_offset`: entries wholly below it go, and the epoch that
    /// holds it now starts there. Returns whether the cache changed.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let below = self.entries.iter().filter(|entry| entry.start_offset <= start_offset).count();
        let Some(holder) = below.checked_sub(1).map(|last| self.entries[last]) else {
            return false;
        };
        if holder.start_offset == start_offset && below == 1 {
            return false;
        }
        self.entries.drain(..below);
        self.entries.insert(0, EpochEntry { epoch: holder.epoch, start_offset });
        true
    }

    /// Where `requested` ends in a log that ends at `log_end_offset`: the latest epoch ends
    /// at the log end; an older epoch ends where the next one it knows starts, reported under
    /// the newest epoch not after it (or `requested` itself, when the log no longer holds
    /// anything that old); an unknown newer epoch, or an empty cache, is undefined.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> EpochEndOffset {
        let Some(latest) = self.entries.last() else {
            return EpochEndOffset::UNDEFINED;
        };
        if requested < 0 || requested > latest.epoch {
            return EpochEndOffset::UNDEFINED;
        }
        if requested == latest.epoch {
            return EpochEndOffset { leader_epoch: requested, end_offset: log_end_offset };
        }
        let next = self.entries.iter().position(|entry| entry.epoch > requested).expect("latest");
        let leader_epoch = match next.checked_sub(1) {
            Some(floor) => self.entries[floor].epoch,
            None => requested,
        };
        EpochEndOffset { leader_epoch, end_offset: self.entries[next].start_offset }
    }

    /// Writes the file atomically and durably.
    pub fn write(&self) -> io::Result<()> {
        write_atomically(&self.path, self.text().as_bytes())
    }

    /// Writes the file atomically but without fsync: for an entry the batches cannot
    /// contradict (the current epoch at the log end when the log opens), which a crash may
    /// lose only to have it rebuilt and assigned again.
    pub fn write_without_sync(&self) -> io::Result<()> {
        let temporary = self.path.with_extension("tmp");
        std::fs::write(&temporary, self.text())?;
        std::fs::rename(&temporary, &self.path)
    }

    fn text(&self) -> String {
        let mut text = format!("{VERSION}\n{}\n", self.entries.len());
        for entry in &self.entries {
            text.push_str(&format!("{} {}\n", entry.epoch, entry.start_offset));
        }
        text
    }
}

fn parse(text: &str) -> Option<Vec<EpochEntry>> {
    let mut lines = text.lines();
    if lines.next()? != VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries: Vec<EpochEntry> = Vec::new();
    for line in lines.by_ref().take(count) {
        let (epoch, start_offset) = line.trim().split_once(' ')?;
        let entry =
            EpochEntry { epoch: epoch.parse().ok()?, start_offset: start_offset.parse().ok()? };
        let ordered = entries
            .last()
            .is_none_or(|last| last.epoch < entry.epoch && last.start_offset < entry.start_offset);
        if entry.epoch < 0 || entry.start_offset < 0 || !ordered {
            return None;
        }
        entries.push(entry);
    }
    (entries.len() == count && lines.all(|line| line.trim().is_empty())).then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut cache = LeaderEpochCache::empty(Path::new("/nonexistent"));
        for &(epoch, start_offset) in entries {
            assert!(cache.assign(epoch, start_offset));
        }
        cache
    }

    fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
        cache.entries().iter().map(|entry| (entry.epoch, entry.start_offset)).collect()
    }

    fn answer(leader_epoch: i32, end_offset: i64) -> EpochEndOffset {
        EpochEndOffset { leader_epoch, end_offset }
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let cache = cache(&[(2, 10), (5, 20), (7, 35)]);
        assert_eq!(cache.end_offset_for(7, 50), answer(7, 50), "the latest ends at the log end");
        assert_eq!(cache.end_offset_for(5, 50), answer(5, 35));
        assert_eq!(cache.end_offset_for(6, 50), answer(5, 35), "the floor epoch, the next start");
        assert_eq!(cache.end_offset_for(3, 50), answer(2, 20));
        assert_eq!(cache.end_offset_for(1, 50), answer(1, 10), "older than anything kept");
        assert_eq!(cache.end_offset_for(8, 50), EpochEndOffset::UNDEFINED);
        assert_eq!(cache.end_offset_for(-1, 50), EpochEndOffset::UNDEFINED);
        let empty = LeaderEpochCache::empty(Path::new("/nonexistent"));
        assert_eq!(empty.end_offset_for(0, 0), EpochEndOffset::UNDEFINED);
    }

    #[test]
    fn assign_adds_newer_epochs_only() {
        let mut cache = cache(&[(0, 0)]);
        assert!(!cache.assign(0, 5), "same epoch");
        assert!(!cache.assign(-1, 5), "no epoch");
        assert!(cache.assign(3, 9));
        assert!(!cache.assign(3, 12), "the latest epoch again, later on");
        assert!(cache.assign(1, 12), "an older epoch later on replaces the newer, as Kafka");
        assert_eq!(pairs(&cache), [(0, 0), (1, 12)]);
        assert!(cache.assign(3, 9));
        // A new epoch starting before a cached one replaces what it contradicts.
        assert!(cache.assign(4, 5));
        assert_eq!(pairs(&cache), [(0, 0), (4, 5)]);
    }

    #[test]
    fn truncation_from_either_end() {
        let mut epochs = cache(&[(0, 0), (2, 10), (5, 20)]);
        assert!(!epochs.truncate_from_end(21));
        assert!(epochs.truncate_from_end(20));
        assert_eq!(pairs(&epochs), [(0, 0), (2, 10)]);
        assert!(epochs.truncate_from_start(15));
        assert_eq!(pairs(&epochs), [(2, 15)], "the epoch holding the new start moves to it");
        assert!(!epochs.truncate_from_start(15));
        assert!(!epochs.truncate_from_start(3), "below the first entry");
        let mut again = cache(&[(0, 0), (2, 10)]);
        assert!(again.truncate_from_start(10));
        assert_eq!(pairs(&again), [(2, 10)]);
    }

    #[test]
    fn the_file_round_trips_and_bad_files_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LeaderEpochCache::load(dir.path()).unwrap().is_none(), "missing");
        let mut cache = LeaderEpochCache::empty(dir.path());
        cache.assign_and_write(0, 0).unwrap();
        cache.assign_and_write(3, 40).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LEADER_EPOCH_FILE)).unwrap();
        assert_eq!(text, "0\n2\n0 0\n3 40\n");
        let loaded = LeaderEpochCache::load(dir.path()).unwrap().unwrap();
        assert_eq!(pairs(&loaded), [(0, 0), (3, 40)]);
        for bad in ["1\n0\n", "0\n2\n0 0\n", "0\n2\n3 40\n0 0\n", "0\n1\nx y\n", "0\n1\n0 0\n1 5\n"]
        {
            std::fs::write(dir.path().join(LEADER_EPOCH_FILE), bad).unwrap();
            assert!(LeaderEpochCache::load(dir.path()).unwrap().is_none(), "{bad:?}");
        }
    }
}
