//! Retention: which of a log's oldest segments `retention.ms` and `retention.bytes` retire,
//! as Kafka's `UnifiedLog.deleteOldSegments` decides for `cleanup.policy=delete`.
//!
//! Both rules remove a prefix of the log, oldest first, and stop at the first segment they
//! keep:
//! - time (`retention.ms` >= 0): a segment goes once its largest timestamp (its largest
//!   record timestamp, or the file's modification time when no record has one) is more than
//!   `retention.ms` before now;
//! - size (`retention.bytes` >= 0): segments go while the log's bytes over the limit cover
//!   the whole segment (the log without it is still at least `retention.bytes`).
//!
//! The union of the two prefixes goes. The last segment may go too when it is not empty (the
//! caller rolls a fresh one first, so the log keeps its end offset); an empty last segment
//! always stays. The log start offset then moves to the first segment kept, and the segments
//! are deleted as any segment below the log start is (after `file.delete.delay.ms`). The
//! check runs every `log.retention.check.interval.ms` and reads the topic's config at that
//! moment, so a changed `retention.ms` applies at the next check.

/// What retention needs to know of one segment, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    pub size_bytes: u64,
    /// Largest record timestamp, or the file's modification time if none (ms).
    pub largest_timestamp_ms: i64,
}

/// The topic's retention limits; negative means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionLimits {
    pub retention_ms: i64,
    pub retention_bytes: i64,
}

/// Why segments were retired (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionBreach {
    Time,
    Size,
}

/// How many of the oldest `segments` retention retires, and why (`None` when none).
pub fn segments_to_retire(
    segments: &[SegmentSummary],
    limits: RetentionLimits,
    now_ms: i64,
) -> Option<(usize, RetentionBreach)> {
    // An empty last segment never goes.
    let candidates = match segments.split_last() {
        Some((last, rest)) if last.size_bytes == 0 => rest,
        _ => segments,
    };
    let by_time = if limits.retention_ms < 0 {
        0
    } else {
        candidates
            .iter()
            .take_while(|segment| {
                now_ms.saturating_sub(segment.largest_timestamp_ms) > limits.retention_ms
            })
            .count()
    };
    let by_size = match u64::try_from(limits.retention_bytes) {
        Ok(limit) => {
            let total: u64 = segments.iter().map(|segment| segment.size_bytes).sum();
            let mut over = total.saturating_sub(limit);
            let mut count = 0;
            if total > limit {
                for segment in candidates {
                    if over < segment.size_bytes {
                        break;
                    }
                    over -= segment.size_bytes;
                    count += 1;
                }
            }
            count
        }
        Err(_) => 0,
    };
    match (by_time, by_size) {
        (0, 0) => None,
        (time, size) if time >= size => Some((time, RetentionBreach::Time)),
        (_, size) => Some((size, RetentionBreach::Size)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(size_bytes: u64, largest_timestamp_ms: i64) -> SegmentSummary {
        SegmentSummary { size_bytes, largest_timestamp_ms }
    }

    const NOW: i64 = 1_000_000;

    fn limits(retention_ms: i64, retention_bytes: i64) -> RetentionLimits {
        RetentionLimits { retention_ms, retention_bytes }
    }

    #[test]
    fn time_retires_the_old_prefix_only() {
        let log = [segment(10, 100), segment(10, 900_000), segment(10, 200), segment(10, 990_000)];
        assert_eq!(segments_to_retire(&log, limits(-1, -1), NOW), None);
        assert_eq!(
            segments_to_retire(&log, limits(500_000, -1), NOW),
            Some((1, RetentionBreach::Time)),
            "stops at the first segment kept, even if a later one is older"
        );
        assert_eq!(
            segments_to_retire(&log, limits(999_900, -1), NOW),
            None,
            "more than, not equal"
        );
        assert_eq!(
            segments_to_retire(&log, limits(999_899, -1), NOW),
            Some((1, RetentionBreach::Time))
        );
        assert_eq!(
            segments_to_retire(&log, limits(1_000, -1), NOW),
            Some((4, RetentionBreach::Time)),
            "the last segment too, when it is not empty"
        );
    }

    #[test]
    fn size_retires_while_the_excess_covers_a_segment() {
        let log = [segment(100, NOW), segment(100, NOW), segment(100, NOW), segment(50, NOW)];
        assert_eq!(segments_to_retire(&log, limits(-1, 350), NOW), None);
        assert_eq!(
            segments_to_retire(&log, limits(-1, 249), NOW),
            Some((1, RetentionBreach::Size))
        );
        assert_eq!(
            segments_to_retire(&log, limits(-1, 250), NOW),
            Some((1, RetentionBreach::Size))
        );
        assert_eq!(
            segments_to_retire(&log, limits(-1, 150), NOW),
            Some((2, RetentionBreach::Size))
        );
        assert_eq!(segments_to_retire(&log, limits(-1, 0), NOW), Some((4, RetentionBreach::Size)));
    }

    #[test]
    fn the_union_goes_and_an_empty_last_segment_stays() {
        let log = [segment(100, 0), segment(100, NOW), segment(100, NOW), segment(0, 0)];
        assert_eq!(
            segments_to_retire(&log, limits(10, 150), NOW),
            Some((1, RetentionBreach::Time))
        );
        assert_eq!(segments_to_retire(&log, limits(10, 50), NOW), Some((2, RetentionBreach::Size)));
        assert_eq!(segments_to_retire(&log, limits(0, 0), NOW), Some((3, RetentionBreach::Size)));
        assert_eq!(segments_to_retire(&[segment(0, 0)], limits(0, 0), NOW), None);
    }
}
