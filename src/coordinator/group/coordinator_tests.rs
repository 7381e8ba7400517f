//! The coordinator over real partition logs: records written, then replayed by a new load.

use std::collections::BTreeMap;

use super::classic_group::{GroupSettings, JoinRequest, Protocol};
use super::*;
use crate::config::BrokerConfig;
use crate::config::topic::LogConfig;

fn settings() -> GroupSettings {
    GroupSettings {
        min_session_timeout_ms: 1000,
        max_session_timeout_ms: 60_000,
        initial_rebalance_delay_ms: 0,
        max_size: 100,
        offset_metadata_max_bytes: 16,
        offsets_retention_ms: 60_000,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    logs: Arc<LogManager>,
    clock: Clock,
    partitions: Vec<Arc<PartitionLog>>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(1_000_000);
    let logs = Arc::new(LogManager::open(dir.path(), clock.clone()).unwrap());
    let config =
        Arc::new(LogConfig::resolve(&BrokerConfig::default().topic_defaults, &BTreeMap::new()));
    let topic = logs.ensure_partitions(OFFSETS_TOPIC, uuid::Uuid::new_v4(), 3, &config).unwrap();
    Fixture { partitions: topic.partitions.clone(), _dir: dir, logs, clock }
}

fn coordinator(fixture: &Fixture) -> GroupCoordinator {
    GroupCoordinator::load(CoordinatorSetup {
        settings: settings(),
        retention_check_interval_ms: 10_000,
        clock: fixture.clock.clone(),
        logs: Arc::clone(&fixture.logs),
        partitions: fixture.partitions.clone(),
    })
    .unwrap()
}

fn commit(group_id: &str, generation_id: i32, offsets: &[(&str, i32, i64)]) -> CommitRequest {
    CommitRequest {
        group_id: group_id.into(),
        member_id: String::new(),
        group_instance_id: None,
        generation_id,
        retention_time_ms: -1,
        partitions: offsets
            .iter()
            .map(|(topic, partition, offset)| CommitPartition {
                partition: TopicPartition::new(*topic, *partition),
                offset: *offset,
                leader_epoch: 4,
                metadata: Some("m".into()),
            })
            .collect(),
    }
}

fn codes(results: &[Result<()>]) -> Vec<i16> {
    results.iter().map(|result| result.as_ref().err().map_or(0, Error::code)).collect()
}

#[test]
fn partition_for_matches_java_string_hash_code() {
    // "a".hashCode() == 97; "Aa" and "BB" collide (2112); "polygenelubricants".hashCode()
    // == Integer.MIN_VALUE, whose sign bit Kafka's Utils.abs clears to 0.
    assert_eq!(partition_for("a", 50), 97 % 50);
    assert_eq!(partition_for("Aa", 50), partition_for("BB", 50));
    assert_eq!(partition_for("Aa", 50), 2112 % 50);
    assert_eq!(partition_for("polygenelubricants", 50), 0);
    assert_eq!(partition_for("", 50), 0);
    // Non-ASCII: hashed over UTF-16 code units ("é" = 0xE9 = 233).
    assert_eq!(partition_for("é", 50), 233 % 50);
    // A negative hash is negated (Math.abs), not masked: "consumer-group-negative" hashes
    // to -548440454 in Java (masking the sign bit would give partition 44).
    assert_eq!(partition_for("consumer-group-negative", 50), 548_440_454 % 50);
}

#[tokio::test]
async fn committed_offsets_survive_a_reload() {
    let fixture = fixture();
    let first = coordinator(&fixture);
    let results = first.commit_offsets(commit("simple", -1, &[("t", 0, 10), ("t", 1, 20)])).await;
    assert_eq!(codes(&results), [0, 0]);
    let results = first.commit_offsets(commit("simple", -1, &[("t", 0, 11)])).await;
    assert_eq!(codes(&results), [0]);
    let results = first.commit_offsets(commit("other", -1, &[("u", 0, 5)])).await;
    assert_eq!(codes(&results), [0]);
    drop(first);

    let reloaded = coordinator(&fixture);
    let fetched = reloaded.fetch_offsets("simple", None);
    let offsets: Vec<(i32, i64, i32)> = fetched
        .iter()
        .map(|(partition, value)| {
            let value = value.as_ref().unwrap();
            (partition.partition, value.offset, value.leader_epoch)
        })
        .collect();
    assert_eq!(offsets, [(0, 11, 4), (1, 20, 4)]);
    assert_eq!(reloaded.fetch_offsets("other", None).len(), 1);
    let unknown = reloaded.fetch_offsets("nobody", Some(&[TopicPartition::new("t", 0)]));
    assert!(unknown[0].1.is_none());
}

#[tokio::test]
async fn commit_errors_are_per_partition_and_nothing_is_written_for_them() {
    let fixture = fixture();
    let coordinator = coordinator(&fixture);
    let results = coordinator.commit_offsets(commit("g", 3, &[("t", 0, 1)])).await;
    assert_eq!(codes(&results), [22], "no such group and a generation: ILLEGAL_GENERATION");
    let mut request = commit("g", -1, &[("t", 0, 1), ("t", 1, 2)]);
    request.partitions[1].metadata = Some("x".repeat(17));
    let results = coordinator.commit_offsets(request).await;
    assert_eq!(codes(&results), [0, 12]);
    assert_eq!(coordinator.fetch_offsets("g", None).len(), 1);
}

#[tokio::test]
async fn deleted_groups_and_expired_offsets_stay_gone_after_a_reload() {
    let fixture = fixture();
    let coordinator = self::coordinator(&fixture);
    coordinator.commit_offsets(commit("deleted", -1, &[("t", 0, 1)])).await;
    coordinator.commit_offsets(commit("expiring", -1, &[("t", 0, 1)])).await;
    assert_eq!(coordinator.delete_group("deleted").map_err(|error| error.code()), Ok(()));
    assert_eq!(coordinator.delete_group("deleted").map_err(|error| error.code()), Err(69));
    fixture.clock.advance_ms(60_000);
    coordinator.commit_offsets(commit("kept", -1, &[("t", 0, 1)])).await;
    fixture.clock.advance_ms(10_000);
    coordinator.tick();
    assert!(coordinator.describe("expiring").is_none(), "expired and removed");
    assert!(coordinator.describe("kept").is_some());
    drop(coordinator);

    let reloaded = self::coordinator(&fixture);
    assert!(reloaded.fetch_offsets("deleted", None).is_empty());
    assert!(reloaded.fetch_offsets("expiring", None).is_empty());
    assert_eq!(reloaded.fetch_offsets("kept", None).len(), 1);
    let listed: Vec<String> =
        reloaded.list(&[], &[]).into_iter().map(|group| group.group_id).collect();
    assert_eq!(listed, ["kept"]);
}

#[tokio::test]
async fn a_rebalanced_group_reloads_stable_with_its_assignment() {
    let fixture = fixture();
    let coordinator = self::coordinator(&fixture);
    let join = JoinRequest {
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol { name: "range".into(), metadata: Bytes::from_static(b"sub") }],
        require_known_member_id: false,
    };
    let Reply::Pending(joined) = coordinator.join("g", join) else { panic!("join waits") };
    let member_id = joined.await.unwrap().member_id;
    let sync = SyncRequest {
        member_id: member_id.clone(),
        group_instance_id: None,
        generation_id: 1,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![(member_id.clone(), Bytes::from_static(b"assigned"))],
    };
    let Reply::Pending(synced) = coordinator.sync("g", sync) else { panic!("sync waits") };
    assert_eq!(synced.await.unwrap().assignment, Bytes::from_static(b"assigned"));
    drop(coordinator);

    let reloaded = self::coordinator(&fixture);
    let description = reloaded.describe("g").unwrap();
    assert_eq!(description.state, GroupState::Stable);
    assert_eq!(description.members[0].member_id, member_id);
    assert_eq!(description.members[0].assignment, Bytes::from_static(b"assigned"));
    assert_eq!(reloaded.heartbeat("g", &member_id, None, 1).map_err(|error| error.code()), Ok(()));
}

#[test]
fn join_validation_happens_before_the_group_is_touched() {
    let fixture = fixture();
    let coordinator = coordinator(&fixture);
    let request = |session_timeout_ms, protocols: usize| JoinRequest {
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: (0..protocols)
            .map(|index| Protocol { name: format!("p{index}"), metadata: Bytes::new() })
            .collect(),
        require_known_member_id: true,
    };
    let code = |reply: Reply<classic_group::JoinResult>| match reply {
        Reply::Ready(result) => result.error.map_or(0, |error| error.code()),
        Reply::Pending(_) => panic!("refusals are immediate"),
    };
    assert_eq!(code(coordinator.join("", request(10_000, 1))), 24);
    assert_eq!(code(coordinator.join("g", request(999, 1))), 26);
    assert_eq!(code(coordinator.join("g", request(i32::MAX, 1))), 26);
    assert_eq!(code(coordinator.join("g", request(10_000, JOIN_GROUP_PROTOCOLS_MAX + 1))), 42);
    assert!(coordinator.list(&[], &[]).is_empty(), "no group was created");
    assert_eq!(code(coordinator.join("g", request(10_000, 1))), 79);
}

#[tokio::test(start_paused = true)]
async fn the_timer_task_expires_sessions_as_the_clock_moves() {
    let fixture = fixture();
    let coordinator = Arc::new(coordinator(&fixture));
    coordinator.spawn_timers();
    let join = JoinRequest {
        member_id: String::new(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 5_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol { name: "range".into(), metadata: Bytes::new() }],
        require_known_member_id: false,
    };
    let Reply::Pending(joined) = coordinator.join("timed", join) else { panic!("join waits") };
    let member_id = joined.await.unwrap().member_id;
    let timer_period = Duration::from_millis(u64::try_from(GROUP_TIMER_SLEEP_MS_MAX).unwrap() + 1);

    fixture.clock.advance_ms(4_999);
    tokio::time::sleep(timer_period).await;
    assert_eq!(coordinator.describe("timed").unwrap().state, GroupState::CompletingRebalance);

    fixture.clock.advance_ms(1);
    tokio::time::sleep(timer_period).await;
    let description = coordinator.describe("timed").unwrap();
    assert_eq!(description.state, GroupState::Empty, "the silent member's session ended");
    assert!(description.members.is_empty());
    let heartbeat = coordinator.heartbeat("timed", &member_id, None, 1);
    assert_eq!(heartbeat.map_err(|error| error.code()), Err(25));
    coordinator.close();
}
