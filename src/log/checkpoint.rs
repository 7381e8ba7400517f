//! Offset checkpoint files and atomic file replacement.
//!
//! Format (Kafka's `OffsetCheckpointFile`, version 0), text:
//!
//! ```text
//! 0
//! <entry count>
//! <topic> <partition> <offset>
//! ...
//! ```
//!
//! The data directory holds `recovery-point-offset-checkpoint` (offsets below which each log
//! is known to be fsynced, so recovery after a crash starts there) and
//! `log-start-offset-checkpoint`. Files are replaced atomically: write a temporary file,
//! fsync it, rename it over the old one, fsync the directory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::types::TopicPartition;

pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
/// Each compacted log's first dirty offset (see `crate::log::cleaner`).
pub const CLEANER_OFFSET_FILE: &str = "cleaner-offset-checkpoint";
const VERSION: &str = "0";

/// Replaces `path` with `contents` so that a crash leaves either the old or the new file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory so renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes an offset checkpoint file.
pub fn write(path: &Path, entries: &[(TopicPartition, i64)]) -> io::Result<()> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for (topic_partition, offset) in entries {
        text.push_str(&format!(
            "{} {} {offset}\n",
            topic_partition.topic, topic_partition.partition
        ));
    }
    write_atomically(path, text.as_bytes())
}

/// Reads an offset checkpoint file; a missing file is empty. A malformed file is an error.
pub fn read(path: &Path) -> io::Result<HashMap<TopicPartition, i64>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => return Err(error),
    };
    parse(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed checkpoint file {}", path.display()),
        )
    })
}

fn parse(text: &str) -> Option<HashMap<TopicPartition, i64>> {
    let mut lines = text.lines();
    if lines.next()? != VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = HashMap::with_capacity(count.min(1 << 16));
    for line in lines.by_ref().take(count) {
        let mut fields = line.split(' ');
        let topic = fields.next()?;
        let partition: i32 = fields.next()?.parse().ok()?;
        let offset: i64 = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        entries.insert(TopicPartition::new(topic, partition), offset);
    }
    (entries.len() == count && lines.next().is_none()).then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_FILE);
        let entries =
            vec![(TopicPartition::new("orders", 0), 42), (TopicPartition::new("a.b_c-d", 7), 0)];
        write(&path, &entries).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n2\norders 0 42\na.b_c-d 7 0\n");
        let read_back = read(&path).unwrap();
        assert_eq!(read_back.len(), 2);
        assert_eq!(read_back[&TopicPartition::new("orders", 0)], 42);
    }

    #[test]
    fn missing_is_empty_and_malformed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        assert!(read(&path).unwrap().is_empty());
        for text in
            ["1\n0\n", "0\n2\na 0 1\n", "0\n1\na x 1\n", "0\n1\na 0 1 9\n", "0\n0\nextra\n", ""]
        {
            std::fs::write(&path, text).unwrap();
            assert!(read(&path).is_err(), "{text:?}");
        }
    }
}
