//! Loading a partition's segments at start-up, recovering what a crash may have damaged.
//!
//! After a clean shutdown (the data directory's clean-shutdown marker was present) every
//! segment is trusted: indexes are read as they are and only the batches after the last index
//! entry of each segment are scanned. Otherwise recovery starts at the segment holding the
//! recovery point (everything before it was fsynced) and, for that segment and every later
//! one, scans every batch: magic, length, CRC-32C and increasing offsets. The first invalid
//! batch and everything after it in that segment is cut off, later segments are deleted (as
//! Kafka's `LogLoader` does), and indexes are rebuilt. A segment whose index files are missing
//! or malformed is recovered the same way wherever it lies. Recovered segments are fsynced
//! before the recovery point moves to the log end, so a crash during recovery just repeats it.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::partition_log::OpenLog;
use super::segment::Segment;
use crate::error::Result;

/// The segments of a log as loaded.
#[derive(Debug)]
pub(super) struct LoadedSegments {
    pub sealed: BTreeMap<i64, Arc<Segment>>,
    pub active: Segment,
    pub recovery_point: i64,
}

pub(super) fn load_segments(options: &OpenLog, now_ms: i64) -> Result<LoadedSegments> {
    complete_interrupted_swaps(options)?;
    let bases = list_segment_bases(&options.dir)?;
    let Some(&first_base) = bases.first() else {
        let base = options.log_start_offset.unwrap_or(0).max(0);
        let active = Segment::create(&options.dir, base, now_ms)?;
        return Ok(LoadedSegments { sealed: BTreeMap::new(), active, recovery_point: base });
    };
    let recover_from = (!options.clean_shutdown).then(|| {
        let recovery_point = options.recovery_point.unwrap_or(first_base);
        bases.iter().copied().rev().find(|base| *base <= recovery_point).unwrap_or(first_base)
    });
    let index_interval_bytes = options.config.index_interval_bytes;
    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len());
    let mut recovered: Vec<usize> = Vec::new();
    for (position, &base) in bases.iter().enumerate() {
        let is_last = position + 1 == bases.len();
        let trusted = match recover_from {
            Some(from) if base >= from => None,
            _ => Segment::open_trusted(&options.dir, base, is_last, now_ms)?,
        };
        let was_recovered = trusted.is_none();
        let (segment, truncated) = match trusted {
            Some(segment) => (segment, 0),
            None => Segment::open_and_recover(&options.dir, base, index_interval_bytes, now_ms)?,
        };
        if truncated > 0 {
            tracing::warn!(
                partition = %options.topic_partition, base_offset = base, truncated_bytes = truncated,
                "recovery cut an invalid or torn tail off a segment"
            );
        }
        if was_recovered {
            recovered.push(segments.len());
        }
        segments.push(segment);
        if truncated > 0 && !is_last {
            delete_later_segments(options, &bases[position + 1..])?;
            break;
        }
    }
    finish(segments, &recovered)
}

/// Seals every segment but the last, fsyncs recovered ones and settles the recovery point.
fn finish(mut segments: Vec<Segment>, recovered: &[usize]) -> Result<LoadedSegments> {
    let active_recovered = recovered.contains(&(segments.len() - 1));
    let active = segments.pop().expect("at least one segment");
    let mut sealed = BTreeMap::new();
    for (position, mut segment) in segments.into_iter().enumerate() {
        if recovered.contains(&position) {
            segment.seal()?;
            segment.sync()?;
        }
        sealed.insert(segment.base_offset(), Arc::new(segment));
    }
    let log_end_offset = active.next_offset();
    if active_recovered {
        active.sync()?;
    }
    // A clean shutdown fsynced everything; otherwise every segment from the recovery
    // point on was just recovered and fsynced.
    let recovery_point = log_end_offset;
    Ok(LoadedSegments { sealed, active, recovery_point })
}

/// Removes every segment of a log (its start lies past everything it holds).
pub(super) fn delete_all_segments(dir: &Path) -> io::Result<()> {
    for base in list_segment_bases(dir)? {
        super::segment::delete_segment_files(dir, base, "")?;
    }
    super::checkpoint::sync_dir(dir)
}

/// Finishes a cleaner's segment replacement that a crash interrupted (the protocol is in
/// [`super::cleaner`]). A `<base>.log.swap` file is a complete, fsynced cleaned segment that
/// replaces every segment whose records it covers: those with a base offset from `base` to
/// the swap's last offset are deleted, then the swap's files take their final names. An old
/// segment past the swap's last offset, emptied by the cleaning, may survive; its records are
/// all ones the cleaning found superseded, so keeping them loses nothing and duplicates no
/// offset. Leftover `.cleaned` files, and index `.swap` files without their log, are removed
/// by [`list_segment_bases`].
fn complete_interrupted_swaps(options: &OpenLog) -> io::Result<()> {
    let mut swaps = Vec::new();
    let mut regular = Vec::new();
    for entry in std::fs::read_dir(&options.dir)? {
        let name = entry?.file_name();
        let Some((Some(base), extension)) = name.to_str().and_then(parse_file_name) else {
            continue;
        };
        match extension {
            "log.swap" => swaps.push(base),
            "log" | "index" | "timeindex" => regular.push(base),
            _ => {}
        }
    }
    if swaps.is_empty() {
        return Ok(());
    }
    swaps.sort_unstable();
    regular.sort_unstable();
    regular.dedup();
    for base in swaps {
        let swap_log = options.dir.join(super::segment::file_name(base, "log.swap"));
        let last_offset = super::segment::last_offset_in_file(&swap_log)?.unwrap_or(base);
        for &old in regular.iter().filter(|old| (base..=last_offset.max(base)).contains(*old)) {
            super::segment::delete_segment_files(&options.dir, old, "")?;
        }
        // The deletions are durable before the swap takes the old names: a power loss must
        // not bring back a replaced segment next to its replacement.
        super::checkpoint::sync_dir(&options.dir)?;
        super::segment::rename_segment_files(&options.dir, base, ".swap", "")?;
        tracing::warn!(partition = %options.topic_partition, base_offset = base, last_offset,
            "completed a cleaned segment's swap interrupted by a crash");
    }
    super::checkpoint::sync_dir(&options.dir)
}

fn delete_later_segments(options: &OpenLog, bases: &[i64]) -> io::Result<()> {
    for &base in bases {
        tracing::warn!(partition = %options.topic_partition, base_offset = base, "deleting a segment after a corrupt one");
        super::segment::delete_segment_files(&options.dir, base, "")?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Lists segment base offsets in `dir`, ascending, and removes leftovers: index files
/// without a log file and temporary files.
/// A file name's segment base offset (its 20-digit stem, if it has one) and its extension,
/// suffixes included (`log`, `index.swap`).
fn parse_file_name(name: &str) -> Option<(Option<i64>, &str)> {
    let (stem, extension) = name.split_once('.')?;
    Some(((stem.len() == 20).then(|| stem.parse::<i64>().ok()).flatten(), extension))
}

fn list_segment_bases(dir: &Path) -> io::Result<Vec<i64>> {
    let mut logs = Vec::new();
    let mut indexes = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some((base, extension)) =
            path.file_name().and_then(|name| name.to_str()).and_then(parse_file_name)
        else {
            continue;
        };
        match (base, extension) {
            (Some(base), "log") => logs.push(base),
            (Some(base), "index" | "timeindex") => indexes.push((base, path)),
            (_, extension)
                if ["tmp", "deleted", "cleaned", "swap"]
                    .iter()
                    .any(|suffix| extension.ends_with(suffix)) =>
            {
                remove_if_present(&path)?;
            }
            _ => {}
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            tracing::warn!(path = %path.display(), "removing an index without its log segment");
            remove_if_present(&path)?;
        }
    }
    Ok(logs)
}
