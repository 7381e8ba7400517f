use super::*;

const PRODUCER: i64 = 1000;
/// The broker clock the helpers append at.
const NOW_MS: i64 = 50_000;

fn sequence(epoch: i16, first: i32, count: i32) -> BatchSequence {
    BatchSequence {
        producer_id: PRODUCER,
        producer_epoch: epoch,
        first_sequence: first,
        last_sequence: increment_sequence(first, count - 1),
    }
}

/// Checks and (if not a duplicate) records a batch at `offset`, as the append path does.
fn append(
    state: &mut ProducerStateManager,
    batch: BatchSequence,
    offset: i64,
) -> Result<AppendCheck> {
    let check = state.check(&batch)?;
    if check == AppendCheck::Append {
        state.record(&batch, offset, offset + span(&batch) - 1, offset * 10, NOW_MS);
    }
    Ok(check)
}

/// The number of records a sequence range covers, across the wrap from `i32::MAX` to 0.
fn span(batch: &BatchSequence) -> i64 {
    let (first, last) = (i64::from(batch.first_sequence), i64::from(batch.last_sequence));
    if last >= first { last - first + 1 } else { i64::from(i32::MAX) - first + last + 2 }
}

#[test]
fn a_new_producer_may_start_at_any_sequence() {
    let mut state = ProducerStateManager::default();
    assert_eq!(append(&mut state, sequence(0, 42, 3), 0).unwrap(), AppendCheck::Append);
    assert_eq!(state.entry(PRODUCER).unwrap().last_sequence(), 44);
    assert_eq!(append(&mut state, sequence(0, 45, 1), 3).unwrap(), AppendCheck::Append);
}

#[test]
fn sequences_must_follow_on() {
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(0, 0, 5), 0).unwrap();
    let gap = append(&mut state, sequence(0, 6, 1), 5).unwrap_err();
    assert_eq!(gap.code(), 45, "OUT_OF_ORDER_SEQUENCE_NUMBER");
    let behind = append(&mut state, sequence(0, 3, 2), 5).unwrap_err();
    assert_eq!(behind.code(), 45, "an overlapping range is not a duplicate");
    assert_eq!(append(&mut state, sequence(0, 5, 1), 5).unwrap(), AppendCheck::Append);
}

#[test]
fn a_retained_batch_is_a_duplicate_with_its_original_offsets() {
    let mut state = ProducerStateManager::default();
    for batch in 0..5 {
        append(&mut state, sequence(0, batch * 2, 2), i64::from(batch) * 2 + 100).unwrap();
    }
    let AppendCheck::Duplicate(original) = append(&mut state, sequence(0, 2, 2), 999).unwrap()
    else {
        panic!("a retry of a retained batch is a duplicate");
    };
    assert_eq!((original.first_offset, original.last_offset), (102, 103));
    assert_eq!(original.timestamp, 1020);
    // The newest batch too.
    assert!(matches!(
        append(&mut state, sequence(0, 8, 2), 999).unwrap(),
        AppendCheck::Duplicate(BatchMetadata { first_offset: 108, .. })
    ));
}

#[test]
fn only_five_batches_are_retained() {
    let mut state = ProducerStateManager::default();
    for batch in 0..6 {
        append(&mut state, sequence(0, batch, 1), i64::from(batch)).unwrap();
    }
    assert_eq!(state.entry(PRODUCER).unwrap().batches().count(), 5);
    // The first batch has been forgotten: its retry is out of order, not a duplicate.
    assert_eq!(append(&mut state, sequence(0, 0, 1), 6).unwrap_err().code(), 45);
    assert!(matches!(append(&mut state, sequence(0, 1, 1), 6), Ok(AppendCheck::Duplicate(_))));
}

#[test]
fn a_duplicate_needs_the_same_epoch_and_range() {
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(0, 0, 4), 0).unwrap();
    assert_eq!(append(&mut state, sequence(0, 0, 3), 4).unwrap_err().code(), 45);
    // The same range under a newer epoch that does not start at 0 is out of order.
    append(&mut state, sequence(0, 4, 4), 4).unwrap();
    assert_eq!(append(&mut state, sequence(1, 4, 4), 8).unwrap_err().code(), 45);
}

#[test]
fn an_older_epoch_is_refused() {
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(3, 0, 1), 0).unwrap();
    let stale = append(&mut state, sequence(2, 1, 1), 1).unwrap_err();
    assert_eq!(stale.code(), 47, "INVALID_PRODUCER_EPOCH");
}

#[test]
fn a_new_epoch_starts_at_zero_and_forgets_the_old_batches() {
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(0, 0, 10), 0).unwrap();
    assert_eq!(append(&mut state, sequence(1, 10, 1), 10).unwrap_err().code(), 45);
    assert_eq!(append(&mut state, sequence(1, 0, 2), 10).unwrap(), AppendCheck::Append);
    let entry = state.entry(PRODUCER).unwrap();
    assert_eq!(entry.producer_epoch, 1);
    assert_eq!(entry.batches().count(), 1);
    // The old epoch is now stale, even for a batch that would have been its duplicate.
    assert_eq!(append(&mut state, sequence(0, 0, 10), 12).unwrap_err().code(), 47);
}

#[test]
fn sequences_wrap_from_max_to_zero() {
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    assert_eq!(increment_sequence(5, 0), 5);
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(0, i32::MAX - 2, 3), 0).unwrap();
    assert_eq!(state.entry(PRODUCER).unwrap().last_sequence(), i32::MAX);
    // A batch spanning the wrap: MAX-1, MAX, 0, 1 would follow MAX-2 ... here 0 follows MAX.
    assert_eq!(append(&mut state, sequence(0, 0, 2), 3).unwrap(), AppendCheck::Append);
    let mut spanning = ProducerStateManager::default();
    append(&mut spanning, sequence(0, i32::MAX - 1, 4), 0).unwrap();
    assert_eq!(spanning.entry(PRODUCER).unwrap().last_sequence(), 1);
    assert!(matches!(
        append(&mut spanning, sequence(0, i32::MAX - 1, 4), 4),
        Ok(AppendCheck::Duplicate(_))
    ));
    assert_eq!(append(&mut spanning, sequence(0, 2, 1), 4).unwrap(), AppendCheck::Append);
}

#[test]
fn producers_are_independent() {
    let mut state = ProducerStateManager::default();
    append(&mut state, sequence(0, 0, 1), 0).unwrap();
    let other = BatchSequence { producer_id: 7, ..sequence(0, 0, 1) };
    assert_eq!(state.check(&other).unwrap(), AppendCheck::Append);
}

#[test]
fn expired_producers_are_forgotten_and_then_accept_any_sequence() {
    let mut state = ProducerStateManager::default();
    let old = BatchSequence { producer_id: 1, ..sequence(0, 0, 1) };
    let recent = BatchSequence { producer_id: 2, ..sequence(0, 0, 1) };
    // Batch timestamps far in the past do not matter: idle time is on the broker's clock.
    state.record(&old, 0, 0, 7, 1_000);
    state.record(&recent, 1, 1, 7, 5_000);
    assert_eq!(state.remove_expired(10_999, 10_000), 0);
    assert_eq!(state.remove_expired(11_000, 10_000), 1, "expired at exactly the expiration");
    assert!(state.entry(1).is_none());
    assert!(state.entry(2).is_some());
    let resumed = BatchSequence { producer_id: 1, ..sequence(0, 57, 1) };
    assert_eq!(state.check(&resumed).unwrap(), AppendCheck::Append);
}

#[test]
fn replay_rebuilds_what_appends_recorded_and_skips_plain_batches() {
    let mut appended = ProducerStateManager::default();
    let mut replayed = ProducerStateManager::default();
    for batch in 0..8 {
        let first_offset = i64::from(batch) * 3;
        let sequence = sequence(1, batch * 3, 3);
        append(&mut appended, sequence, first_offset).unwrap();
        let header = BatchHeader {
            base_offset: first_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: 2,
            base_timestamp: 0,
            max_timestamp: first_offset * 10,
            producer_id: PRODUCER,
            producer_epoch: 1,
            base_sequence: batch * 3,
            records_count: 3,
        };
        replayed.replay(&header, NOW_MS);
        replayed.replay(&BatchHeader { producer_id: -1, base_offset: 1_000, ..header }, NOW_MS);
    }
    assert_eq!(appended, replayed);
}

#[test]
fn snapshots_round_trip() {
    let mut state = ProducerStateManager::default();
    for producer_id in 0..50 {
        for batch in 0..7 {
            let sequence = BatchSequence {
                producer_id,
                ..sequence(i16::try_from(producer_id % 3).unwrap(), batch, 1)
            };
            let offset = producer_id * 10 + i64::from(batch);
            state.record(&sequence, offset, offset, offset * 2, offset * 3);
        }
    }
    let bytes = state.encode_snapshot(600);
    let (decoded, offset) = ProducerStateManager::decode_snapshot(&bytes).unwrap();
    assert_eq!(offset, 600);
    assert_eq!(decoded, state);
    assert_eq!(decoded.producer_count(), 50);
    let empty = ProducerStateManager::default().encode_snapshot(0);
    assert_eq!(ProducerStateManager::decode_snapshot(&empty).unwrap().0.producer_count(), 0);
}

#[test]
fn damaged_snapshots_are_refused() {
    let mut state = ProducerStateManager::default();
    state.record(&sequence(0, 0, 3), 10, 12, 5, 6);
    let bytes = state.encode_snapshot(13);
    for cut in 0..bytes.len() {
        assert!(ProducerStateManager::decode_snapshot(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for position in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[position] ^= 0x40;
        assert!(ProducerStateManager::decode_snapshot(&flipped).is_err(), "flip at {position}");
    }
    // A batch at or past the snapshot's offset cannot be in it, CRC or not.
    let wrong = state.encode_snapshot(12);
    assert!(ProducerStateManager::decode_snapshot(&wrong).is_err());
    // A hostile count is refused before anything is reserved.
    let mut hostile = ProducerStateManager::default().encode_snapshot(0);
    hostile[14..18].copy_from_slice(&i32::MAX.to_be_bytes());
    let crc = crc32c::crc32c(&hostile[6..]);
    hostile[2..6].copy_from_slice(&crc.to_be_bytes());
    assert!(ProducerStateManager::decode_snapshot(&hostile).is_err());
}

#[test]
fn snapshot_files_load_the_newest_usable_and_keep_two() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = ProducerStateManager::default();
    for offset in [10, 20, 30] {
        state.record(&sequence(0, i32::try_from(offset).unwrap(), 1), offset - 1, offset - 1, 0, 0);
        write_snapshot(dir.path(), offset, &state.encode_snapshot(offset)).unwrap();
    }
    assert_eq!(list_snapshots(dir.path()).unwrap(), vec![20, 30]);
    let (loaded, offset) = load_snapshot(dir.path(), 0, 30).unwrap().unwrap();
    assert_eq!((loaded, offset), (state.clone(), 30));

    // A log that lost its tail: the snapshot past its end is deleted, the older one used.
    let (loaded, offset) = load_snapshot(dir.path(), 0, 25).unwrap().unwrap();
    assert_eq!(offset, 20);
    assert_eq!(loaded.entry(PRODUCER).unwrap().last_sequence(), 20);
    assert_eq!(list_snapshots(dir.path()).unwrap(), vec![20]);

    // A torn newest snapshot falls back to the older one.
    write_snapshot(dir.path(), 40, &state.encode_snapshot(40)).unwrap();
    let path = snapshot_path(dir.path(), 40);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(load_snapshot(dir.path(), 0, 50).unwrap().unwrap().1, 20);
    // Nothing usable above the first segment.
    assert!(load_snapshot(dir.path(), 25, 35).unwrap().is_none());
}

#[test]
fn the_producer_cap_forgets_the_least_recent() {
    let mut state = ProducerStateManager::default();
    let max = i64::try_from(PRODUCERS_PER_PARTITION_MAX).unwrap();
    for producer_id in 0..max {
        state.record(
            &BatchSequence { producer_id, ..sequence(0, 0, 1) },
            producer_id,
            producer_id,
            // Batch timestamps that would pick the newest producers: eviction must not
            // listen to them.
            -producer_id,
            producer_id,
        );
    }
    assert_eq!(state.producer_count(), PRODUCERS_PER_PARTITION_MAX);
    state.record(&BatchSequence { producer_id: max, ..sequence(0, 0, 1) }, max, max, 0, max);
    assert!(state.producer_count() <= PRODUCERS_PER_PARTITION_MAX);
    assert!(state.entry(0).is_none(), "the least recent producer went first");
    assert!(state.entry(max).is_some());
    assert!(state.entry(max - 1).is_some());
}
