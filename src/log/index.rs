//! A segment index file: fixed-size big-endian entries, sorted by key, appended only.
//!
//! Shared by the offset index (`.index`) and the time index (`.timeindex`); each entry type
//! documents its byte format. Indexes are not checksummed: after an unclean shutdown the ones
//! past the recovery point are rebuilt from the log, never trusted.
//!
//! An index is *active* (its segment takes appends) or *sealed*. An active index keeps every
//! entry in memory and writes the unpersisted tail on [`IndexFile::persist`]; a sealed index
//! keeps nothing in memory and answers lookups by binary search with positional reads, so
//! memory does not grow with the data on disk.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One fixed-size entry of an index file.
pub trait IndexEntry: Copy + std::fmt::Debug {
    const SIZE: usize;
    /// The sort key: lookups find the last entry whose key is at most the target.
    fn key(&self) -> i64;
    fn encode(&self, out: &mut [u8]);
    fn decode(bytes: &[u8]) -> Self;
}

#[derive(Debug)]
enum Entries<E> {
    /// Every entry, of which the first `persisted` are on disk; the file stays open for
    /// appends.
    Active { entries: Vec<E>, persisted: usize, file: File },
    /// `count` entries, all on disk. No file handle is kept: a lookup opens the file, so a
    /// sealed segment costs one open file (its log), as in Kafka. The file's identity is kept
    /// so that a lookup never reads another index that took the path (a topic deleted and
    /// recreated under the same name).
    Sealed { count: usize, identity: FileIdentity },
}

/// Who a sealed index file is: device, inode, size and change time. Inode numbers are
/// reused as soon as a file is deleted, so the inode alone cannot tell a replacement apart;
/// a sealed index is never modified, so its size and change time stay as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    changed_s: i64,
    changed_ns: i64,
}

impl FileIdentity {
    fn of(file: &File) -> io::Result<Self> {
        let metadata = file.metadata()?;
        Ok(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            changed_s: metadata.ctime(),
            changed_ns: metadata.ctime_nsec(),
        })
    }
}

/// An index file and its entries.
#[derive(Debug)]
pub struct IndexFile<E: IndexEntry> {
    path: PathBuf,
    entries: Entries<E>,
}

impl<E: IndexEntry> IndexFile<E> {
    /// Creates an empty active index, replacing any file at `path`.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        let entries = Entries::Active { entries: Vec::new(), persisted: 0, file };
        Ok(Self { path: path.to_owned(), entries })
    }

    /// Opens an existing index. Returns `None` when the file is missing or its size is not a
    /// whole number of entries; the caller rebuilds it then.
    pub fn open(path: &Path, active: bool) -> io::Result<Option<Self>> {
        let file = match OpenOptions::new().read(true).write(active).open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let length = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
        if length % E::SIZE != 0 {
            return Ok(None);
        }
        let count = length / E::SIZE;
        let entries = if active {
            let mut bytes = vec![0; length];
            file.read_exact_at(&mut bytes, 0)?;
            let entries = bytes.chunks_exact(E::SIZE).map(E::decode).collect();
            Entries::Active { entries, persisted: count, file }
        } else {
            Entries::Sealed { count, identity: FileIdentity::of(&file)? }
        };
        Ok(Some(Self { path: path.to_owned(), entries }))
    }

    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Active { entries, .. } => entries.len(),
            Entries::Sealed { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry to an active index. Keys must not decrease.
    pub fn append(&mut self, entry: E) {
        let Entries::Active { entries, .. } = &mut self.entries else {
            panic!("append to sealed index {}", self.path.display());
        };
        if let Some(last) = entries.last() {
            assert!(
                last.key() <= entry.key(),
                "index keys must not decrease: {last:?} then {entry:?}"
            );
        }
        entries.push(entry);
    }

    /// A reader for the entries: the memory of an active index, or the file of a sealed one
    /// (opened once per call).
    fn reader(&self) -> io::Result<Reader<'_, E>> {
        Ok(match &self.entries {
            Entries::Active { entries, .. } => Reader::Memory(entries),
            Entries::Sealed { identity, .. } => Reader::File(self.open_sealed(*identity)?),
        })
    }

    /// Opens a sealed index's file, refusing a different file at the same path.
    fn open_sealed(&self, identity: FileIdentity) -> io::Result<File> {
        let file = File::open(&self.path)?;
        if FileIdentity::of(&file)? != identity {
            return Err(io::Error::new(io::ErrorKind::NotFound, "the index file was replaced"));
        }
        Ok(file)
    }

    pub fn entry(&self, index: usize) -> io::Result<E> {
        assert!(index < self.len());
        self.reader()?.entry(index)
    }

    pub fn entry_if_any(&self, index: usize) -> io::Result<Option<E>> {
        if index < self.len() { self.entry(index).map(Some) } else { Ok(None) }
    }

    pub fn last(&self) -> io::Result<Option<E>> {
        if self.is_empty() { Ok(None) } else { self.entry(self.len() - 1).map(Some) }
    }

    /// The last entry whose key is at most `target`, if any.
    pub fn floor(&self, target: i64) -> io::Result<Option<E>> {
        let reader = self.reader()?;
        // Invariant: entries[..low] have key <= target, entries[high..] have key > target.
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if reader.entry(middle)?.key() <= target {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        if low == 0 { Ok(None) } else { reader.entry(low - 1).map(Some) }
    }

    /// Writes entries not yet on disk. Does not fsync; see [`IndexFile::sync`].
    pub fn persist(&mut self) -> io::Result<()> {
        let Entries::Active { entries, persisted, file } = &mut self.entries else {
            return Ok(());
        };
        if *persisted == entries.len() {
            return Ok(());
        }
        let mut bytes = vec![0; (entries.len() - *persisted) * E::SIZE];
        for (entry, out) in entries[*persisted..].iter().zip(bytes.chunks_exact_mut(E::SIZE)) {
            entry.encode(out);
        }
        let position = u64::try_from(*persisted * E::SIZE).map_err(io::Error::other)?;
        file.write_all_at(&bytes, position)?;
        *persisted = entries.len();
        Ok(())
    }

    pub fn sync(&self) -> io::Result<()> {
        match &self.entries {
            Entries::Active { file, .. } => file.sync_data(),
            Entries::Sealed { identity, .. } => self.open_sealed(*identity)?.sync_data(),
        }
    }

    /// Renames the index file to `target` and follows it there (a rename changes the file's
    /// change time, part of a sealed index's identity).
    pub fn rename(&mut self, target: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, target)?;
        if let Entries::Sealed { identity, .. } = &mut self.entries {
            *identity = FileIdentity::of(&File::open(target)?)?;
        }
        self.path = target.to_owned();
        Ok(())
    }

    /// Persists every entry, drops them from memory and closes the file.
    pub fn seal(&mut self) -> io::Result<()> {
        self.persist()?;
        let count = self.len();
        if let Entries::Active { file, .. } = &self.entries {
            let identity = FileIdentity::of(file)?;
            self.entries = Entries::Sealed { count, identity };
        }
        Ok(())
    }
}

/// Reads entries from memory or from a sealed index's file.
enum Reader<'a, E> {
    Memory(&'a [E]),
    File(File),
}

impl<E: IndexEntry> Reader<'_, E> {
    fn entry(&self, index: usize) -> io::Result<E> {
        match self {
            Reader::Memory(entries) => Ok(entries[index]),
            Reader::File(file) => {
                let mut bytes = vec![0; E::SIZE];
                let position = u64::try_from(index * E::SIZE).map_err(io::Error::other)?;
                file.read_exact_at(&mut bytes, position)?;
                Ok(E::decode(&bytes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::offset_index::OffsetEntry;

    fn entry(relative_offset: u32, position: u32) -> OffsetEntry {
        OffsetEntry { relative_offset, position }
    }

    #[test]
    fn floor_finds_the_greatest_entry_at_or_below() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = IndexFile::<OffsetEntry>::create(&path).unwrap();
        for (offset, position) in [(10, 100), (20, 200), (30, 300)] {
            index.append(entry(offset, position));
        }
        let check = |index: &IndexFile<OffsetEntry>| {
            assert_eq!(index.floor(5).unwrap(), None);
            assert_eq!(index.floor(10).unwrap(), Some(entry(10, 100)));
            assert_eq!(index.floor(29).unwrap(), Some(entry(20, 200)));
            assert_eq!(index.floor(1000).unwrap(), Some(entry(30, 300)));
        };
        check(&index);
        index.seal().unwrap();
        check(&index);
        let reopened = IndexFile::<OffsetEntry>::open(&path, false).unwrap().unwrap();
        assert_eq!(reopened.len(), 3);
        check(&reopened);
        let mut active = IndexFile::<OffsetEntry>::open(&path, true).unwrap().unwrap();
        check(&active);
        active.append(entry(40, 400));
        active.persist().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
    }

    #[test]
    fn a_sealed_index_never_reads_a_replacement_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = IndexFile::<OffsetEntry>::create(&path).unwrap();
        index.append(entry(10, 100));
        index.seal().unwrap();
        assert_eq!(index.floor(10).unwrap(), Some(entry(10, 100)));
        std::fs::remove_file(&path).unwrap();
        let mut other = IndexFile::<OffsetEntry>::create(&path).unwrap();
        other.append(entry(10, 999));
        other.seal().unwrap();
        let error = index.floor(10).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_partial_entry_means_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        std::fs::write(&path, [0u8; 13]).unwrap();
        assert!(IndexFile::<OffsetEntry>::open(&path, false).unwrap().is_none());
        assert!(
            IndexFile::<OffsetEntry>::open(&dir.path().join("missing"), false).unwrap().is_none()
        );
    }

    #[test]
    #[should_panic(expected = "must not decrease")]
    fn keys_must_not_decrease() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = IndexFile::<OffsetEntry>::create(&dir.path().join("0.index")).unwrap();
        index.append(entry(10, 0));
        index.append(entry(9, 0));
    }
}
