//! The group state machine, driven with explicit times (no sleeping, no tokio clock).

use bytes::{BufMut, BytesMut};
use tokio::sync::oneshot::error::TryRecvError;

use super::*;

const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 20_000;

fn settings() -> GroupSettings {
    GroupSettings {
        min_session_timeout_ms: 1000,
        max_session_timeout_ms: 60_000,
        initial_rebalance_delay_ms: 0,
        max_size: 4,
        offset_metadata_max_bytes: 4096,
        offsets_retention_ms: 1_000_000,
    }
}

/// A consumer subscription (`ConsumerProtocolSubscription` v0) to `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    buf.put_i32(i32::try_from(topics.len()).unwrap());
    for topic in topics {
        buf.put_i16(i16::try_from(topic.len()).unwrap());
        buf.put_slice(topic.as_bytes());
    }
    buf.put_i32(-1);
    buf.freeze()
}

fn join(member_id: &str) -> JoinRequest {
    join_with(member_id, &["range"])
}

fn join_with(member_id: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member_id.to_owned(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        protocol_type: CONSUMER_PROTOCOL_TYPE.into(),
        protocols: protocols
            .iter()
            .map(|name| Protocol { name: (*name).into(), metadata: subscription(&["t"]) })
            .collect(),
        require_known_member_id: false,
    }
}

fn static_join(member_id: &str, instance: &str) -> JoinRequest {
    JoinRequest { group_instance_id: Some(instance.into()), ..join(member_id) }
}

fn pending<T: std::fmt::Debug>(reply: Reply<T>) -> oneshot::Receiver<T> {
    match reply {
        Reply::Pending(receiver) => receiver,
        Reply::Ready(result) => panic!("expected to wait, got {result:?}"),
    }
}

fn ready<T: std::fmt::Debug>(reply: Reply<T>) -> T {
    match reply {
        Reply::Ready(result) => result,
        Reply::Pending(_) => panic!("expected an immediate answer"),
    }
}

/// The answer a waiting request already has.
fn answered<T>(receiver: &mut oneshot::Receiver<T>) -> T {
    receiver.try_recv().expect("answered")
}

fn still_waiting<T>(receiver: &mut oneshot::Receiver<T>) -> bool {
    matches!(receiver.try_recv(), Err(TryRecvError::Empty))
}

fn code<T>(result: Result<T, Error>) -> i16 {
    result.err().map_or(0, |error| error.code())
}

/// A Stable group of `count` dynamic members that joined one generation (through a 1 ms
/// initial delay, before t=0) and synced at t=0; returns their ids, the leader first.
fn stable_group(count: usize) -> (Group, Vec<String>) {
    let mut group = Group::new("g", 1, -10);
    let mut receivers: Vec<_> =
        (0..count).map(|_| pending(group.join(join(""), &settings(), -10))).collect();
    let mut now = -10;
    while group.state() != GroupState::CompletingRebalance {
        now += 1;
        assert!(now < 0, "the join completes within the delays");
        group.tick(now);
    }
    for receiver in &mut receivers {
        assert!(answered(receiver).error.is_none());
    }
    let leader = group.leader_id.clone().unwrap();
    let mut ids: Vec<String> = group.members.keys().filter(|id| **id != leader).cloned().collect();
    ids.insert(0, leader.clone());
    let generation = group.generation_id;
    let mut syncs: Vec<_> =
        ids[1..].iter().map(|id| pending(group.sync(sync(id, generation, vec![]), 0))).collect();
    let assignments = ids.iter().map(|id| (id.clone(), Bytes::from(format!("for {id}")))).collect();
    let mut leader_sync = pending(group.sync(sync(&leader, generation, assignments), 0));
    let reason = group.take_store().expect("assignment to store");
    group.on_stored(reason, Ok(()), 0);
    assert_eq!(group.state(), GroupState::Stable);
    assert!(answered(&mut leader_sync).error.is_none());
    for receiver in &mut syncs {
        assert!(answered(receiver).error.is_none());
    }
    (group, ids)
}

fn sync(member_id: &str, generation_id: i32, assignments: Vec<(String, Bytes)>) -> SyncRequest {
    SyncRequest {
        member_id: member_id.into(),
        group_instance_id: None,
        generation_id,
        protocol_type: None,
        protocol_name: None,
        assignments,
    }
}

#[test]
fn a_single_member_forms_a_generation_and_gets_its_assignment() {
    let mut group = Group::new("g", 0, 0);
    let mut joined = pending(group.join(join(""), &settings(), 0));
    let result = answered(&mut joined);
    assert!(result.error.is_none());
    assert_eq!(result.generation_id, 1);
    assert_eq!(result.leader_id, result.member_id);
    assert_eq!(result.members.len(), 1);
    assert_eq!(result.protocol_name.as_deref(), Some("range"));
    assert_eq!(group.state(), GroupState::CompletingRebalance);

    let assignment = vec![(result.member_id.clone(), Bytes::from_static(b"all"))];
    let mut synced = pending(group.sync(sync(&result.member_id, 1, assignment), 0));
    assert!(still_waiting(&mut synced), "the assignment is handed out only once stored");
    assert_eq!(group.take_store(), Some(StoreReason::Assignment { generation: 1 }));
    group.on_stored(StoreReason::Assignment { generation: 1 }, Ok(()), 5);
    let synced = answered(&mut synced);
    assert_eq!(&synced.assignment[..], b"all");
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(group.metadata_value().members[0].assignment, Bytes::from_static(b"all"));
}

#[test]
fn initial_rebalance_delay_waits_for_more_members_and_extends_while_they_arrive() {
    let mut group = Group::new("g", 3000, 0);
    let mut first = pending(group.join(join(""), &settings(), 0));
    group.tick(2999);
    assert!(still_waiting(&mut first));
    let mut second = pending(group.join(join(""), &settings(), 1000));
    group.tick(3000);
    assert!(still_waiting(&mut first), "a member arrived during the delay: extended");
    assert_eq!(group.next_deadline(), Some(6000));
    group.tick(6000);
    let (first, second) = (answered(&mut first), answered(&mut second));
    assert_eq!(first.generation_id, 1);
    assert_eq!(second.generation_id, 1);
    let leader_members = if first.member_id == first.leader_id { &first } else { &second };
    assert_eq!(leader_members.members.len(), 2);
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn member_id_required_round_trip() {
    let mut group = Group::new("g", 0, 0);
    let first = ready(group.join(
        JoinRequest { require_known_member_id: true, ..join("") },
        &settings(),
        0,
    ));
    assert_eq!(first.error.as_ref().map(Error::code), Some(79));
    assert!(first.member_id.starts_with("client-"));
    assert_eq!(group.state(), GroupState::Empty);
    let mut second = pending(group.join(join(&first.member_id), &settings(), 10));
    let second = answered(&mut second);
    assert!(second.error.is_none());
    assert_eq!(second.member_id, first.member_id);
}

#[test]
fn a_pending_member_that_never_returns_expires() {
    let mut group = Group::new("g", 0, 0);
    let first = ready(group.join(
        JoinRequest { require_known_member_id: true, ..join("") },
        &settings(),
        0,
    ));
    assert_eq!(group.next_deadline(), Some(i64::from(SESSION_MS)));
    group.tick(i64::from(SESSION_MS));
    assert!(group.is_empty());
    let late = ready(group.join(join(&first.member_id), &settings(), 20_000));
    assert_eq!(late.error.as_ref().map(Error::code), Some(25));
}

#[test]
fn unknown_member_and_protocol_mismatches_are_refused() {
    let (mut group, ids) = stable_group(1);
    let unknown = ready(group.join(join("nobody"), &settings(), 0));
    assert_eq!(unknown.error.as_ref().map(Error::code), Some(25));
    let other_type = JoinRequest { protocol_type: "connect".into(), ..join("") };
    let refused = ready(group.join(other_type, &settings(), 0));
    assert_eq!(refused.error.as_ref().map(Error::code), Some(23));
    let disjoint = ready(group.join(join_with("", &["roundrobin"]), &settings(), 0));
    assert_eq!(disjoint.error.as_ref().map(Error::code), Some(23));
    let empty_protocols = ready(Group::new("h", 0, 0).join(join_with("", &[]), &settings(), 0));
    assert_eq!(empty_protocols.error.as_ref().map(Error::code), Some(23));
    assert_eq!(group.state(), GroupState::Stable, "refusals change nothing");
    assert_eq!(group.members.len(), ids.len());
}

#[test]
fn the_protocol_most_members_prefer_among_common_ones_is_chosen() {
    let mut group = Group::new("g", 0, 0);
    let mut a = pending(group.join(join_with("", &["range", "roundrobin"]), &settings(), 0));
    let a = answered(&mut a).member_id;
    let mut b = pending(group.join(join_with("", &["roundrobin", "range"]), &settings(), 0));
    let mut c = pending(group.join(join_with("", &["roundrobin", "sticky"]), &settings(), 0));
    let mut a_again = pending(group.join(join_with(&a, &["range", "roundrobin"]), &settings(), 0));
    let results = [answered(&mut a_again), answered(&mut b), answered(&mut c)];
    for result in &results {
        assert_eq!(result.protocol_name.as_deref(), Some("roundrobin"), "{result:?}");
        assert_eq!(result.generation_id, 2);
    }
}

#[test]
fn heartbeat_answers_follow_the_group_state() {
    let (mut group, ids) = stable_group(2);
    let generation = group.generation_id;
    assert_eq!(code(group.heartbeat(&ids[0], None, generation, 1)), 0);
    assert_eq!(code(group.heartbeat("nobody", None, generation, 1)), 25);
    assert_eq!(code(group.heartbeat(&ids[0], None, generation + 1, 1)), 22);
    // A new member makes the group rebalance: heartbeats say so.
    let _joining = pending(group.join(join(""), &settings(), 2));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(code(group.heartbeat(&ids[1], None, generation, 3)), 27);
    let mut empty = Group::new("e", 0, 0);
    assert_eq!(code(empty.heartbeat("x", None, 0, 0)), 25);
}

#[test]
fn a_join_during_stable_rebalances_everyone_into_the_next_generation() {
    let (mut group, ids) = stable_group(2);
    let generation = group.generation_id;
    let mut newcomer = pending(group.join(join(""), &settings(), 100));
    assert!(still_waiting(&mut newcomer));
    let mut rejoins: Vec<_> =
        ids.iter().map(|id| pending(group.join(join(id), &settings(), 200))).collect();
    let newcomer = answered(&mut newcomer);
    assert_eq!(newcomer.generation_id, generation + 1);
    for receiver in &mut rejoins {
        assert_eq!(answered(receiver).generation_id, generation + 1);
    }
    assert_eq!(group.members.len(), 3);
    assert_eq!(group.state(), GroupState::CompletingRebalance);
}

#[test]
fn members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed() {
    let (mut group, ids) = stable_group(2);
    let mut newcomer = pending(group.join(join(""), &settings(), 100));
    let mut leader = pending(group.join(join(&ids[0]), &settings(), 200));
    // The other member keeps its session alive but never rejoins.
    let generation = group.generation_id;
    assert_eq!(code(group.heartbeat(&ids[1], None, generation, 9_000)), 27);
    assert_eq!(code(group.heartbeat(&ids[1], None, generation, 18_000)), 27);
    group.tick(100 + i64::from(REBALANCE_MS) - 1);
    assert!(still_waiting(&mut leader));
    group.tick(100 + i64::from(REBALANCE_MS));
    let (newcomer, leader) = (answered(&mut newcomer), answered(&mut leader));
    assert!(newcomer.error.is_none() && leader.error.is_none());
    assert!(!group.members.contains_key(&ids[1]), "the silent member is gone");
    assert_eq!(group.members.len(), 2);
}

#[test]
fn an_expired_session_removes_the_member_and_the_rest_rebalance() {
    let (mut group, ids) = stable_group(2);
    let generation = group.generation_id;
    let session = i64::from(SESSION_MS);
    assert_eq!(code(group.heartbeat(&ids[0], None, generation, session - 1)), 0);
    group.tick(session - 1);
    assert_eq!(group.state(), GroupState::Stable);
    group.tick(session);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert!(!group.members.contains_key(&ids[1]));
    assert_eq!(code(group.heartbeat(&ids[0], None, generation, session + 1)), 27);
    let mut rejoin = pending(group.join(join(&ids[0]), &settings(), session + 2));
    let rejoin = answered(&mut rejoin);
    assert_eq!(rejoin.generation_id, generation + 1);
    assert_eq!(rejoin.members.len(), 1);
}

#[test]
fn leaving_rebalances_and_the_last_leave_empties_the_group() {
    let (mut group, ids) = stable_group(2);
    assert_eq!(code(group.leave(&[("nobody".into(), None)], 1).remove(0)), 25);
    assert_eq!(code(group.leave(&[(ids[1].clone(), None)], 1).remove(0)), 0);
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    let mut rejoin = pending(group.join(join(&ids[0]), &settings(), 2));
    assert_eq!(answered(&mut rejoin).members.len(), 1);
    assert_eq!(code(group.leave(&[(ids[0].clone(), None)], 3).remove(0)), 0);
    // CompletingRebalance -> PreparingRebalance -> (nobody left) Empty.
    assert_eq!(group.state(), GroupState::Empty);
    assert_eq!(group.take_store(), Some(StoreReason::Membership));
    assert!(group.metadata_value().members.is_empty());
}

#[test]
fn sync_errors_follow_kafka() {
    let (mut group, ids) = stable_group(2);
    let generation = group.generation_id;
    let unknown = ready(group.sync(sync("nobody", generation, vec![]), 0));
    assert_eq!(unknown.error.as_ref().map(Error::code), Some(25));
    let stale = ready(group.sync(sync(&ids[1], generation - 1, vec![]), 0));
    assert_eq!(stale.error.as_ref().map(Error::code), Some(22));
    let wrong_protocol =
        SyncRequest { protocol_name: Some("other".into()), ..sync(&ids[1], generation, vec![]) };
    assert_eq!(ready(group.sync(wrong_protocol, 0)).error.as_ref().map(Error::code), Some(23));
    // In Stable, a sync returns the member's stored assignment at once.
    let again = ready(group.sync(sync(&ids[1], generation, vec![]), 0));
    assert_eq!(again.assignment, Bytes::from(format!("for {}", ids[1])));
    let _joining = pending(group.join(join(""), &settings(), 1));
    let rebalancing = ready(group.sync(sync(&ids[1], generation, vec![]), 2));
    assert_eq!(rebalancing.error.as_ref().map(Error::code), Some(27));
}

#[test]
fn a_failed_assignment_store_fails_the_syncs_and_rebalances() {
    let mut group = Group::new("g", 0, 0);
    let mut joined = pending(group.join(join(""), &settings(), 0));
    let member = answered(&mut joined).member_id;
    let mut synced =
        pending(group.sync(sync(&member, 1, vec![(member.clone(), Bytes::from_static(b"a"))]), 0));
    let reason = group.take_store().unwrap();
    group.on_stored(reason, Err(Error::Storage(std::io::Error::other("disk"))), 1);
    assert_eq!(answered(&mut synced).error.as_ref().map(Error::code), Some(16));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let long_session =
        |member_id: &str| JoinRequest { session_timeout_ms: 30_000, ..join(member_id) };
    let mut group = Group::new("g", 0, 0);
    let mut a = pending(group.join(long_session(""), &settings(), 0));
    let a = answered(&mut a).member_id;
    let mut b = pending(group.join(long_session(""), &settings(), 0));
    let mut a_again = pending(group.join(long_session(&a), &settings(), 0));
    let (b, _) = (answered(&mut b).member_id, answered(&mut a_again));
    let generation = group.generation_id;
    let leader = group.leader_id.clone().unwrap();
    let silent = if leader == a { b } else { a };
    let mut leader_sync = pending(group.sync(sync(&leader, generation, vec![]), 10));
    let reason = group.take_store().unwrap();
    group.on_stored(reason, Ok(()), 10);
    assert!(answered(&mut leader_sync).error.is_none());
    assert_eq!(group.state(), GroupState::Stable);
    group.tick(i64::from(REBALANCE_MS) - 1);
    assert!(group.members.contains_key(&silent));
    group.tick(i64::from(REBALANCE_MS));
    assert!(!group.members.contains_key(&silent));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_static_member_rejoining_stable_keeps_the_generation_and_fences_its_old_id() {
    let mut group = Group::new("g", 0, 0);
    let mut first = pending(group.join(static_join("", "instance-1"), &settings(), 0));
    let first = answered(&mut first);
    assert!(first.member_id.starts_with("instance-1-"));
    let mut synced = pending(group.sync(
        sync(&first.member_id, 1, vec![(first.member_id.clone(), Bytes::from_static(b"p0"))]),
        0,
    ));
    let reason = group.take_store().unwrap();
    group.on_stored(reason, Ok(()), 0);
    answered(&mut synced);

    // The same instance restarts (no member id): no rebalance, a new id, same generation.
    let mut rejoined = pending(group.join(static_join("", "instance-1"), &settings(), 5));
    let rejoined = answered(&mut rejoined);
    assert!(rejoined.error.is_none());
    assert_ne!(rejoined.member_id, first.member_id);
    assert_eq!(rejoined.generation_id, 1);
    assert!(rejoined.skip_assignment, "the static leader must not reassign");
    assert_eq!(rejoined.leader_id, rejoined.member_id, "v9 clients learn they still lead");
    assert_eq!(rejoined.leader_id_before_v9.as_ref(), Some(&first.member_id), "older ones do not");
    assert_eq!(group.state(), GroupState::Stable);
    assert_eq!(group.take_store(), Some(StoreReason::Membership));
    assert_eq!(group.members[&rejoined.member_id].assignment, Bytes::from_static(b"p0"));

    // The old incarnation is fenced everywhere.
    let old = Some("instance-1");
    assert_eq!(code(group.heartbeat(&first.member_id, old, 1, 6)), 82);
    assert_eq!(code(group.check_offset_commit(&first.member_id, old, 1)), 82);
    assert_eq!(
        code(group.leave(&[(first.member_id.clone(), old.map(Into::into))], 7).remove(0)),
        82
    );
    assert_eq!(code(group.heartbeat(&rejoined.member_id, old, 1, 8)), 0);
}

#[test]
fn a_static_member_keeps_its_place_while_others_rebalance_without_it() {
    let mut group = Group::new("g", 0, 0);
    let mut a = pending(group.join(static_join("", "a"), &settings(), 0));
    let a = answered(&mut a).member_id;
    let mut b = pending(group.join(join(""), &settings(), 0));
    // The static member keeps heartbeating but does not rejoin before the rebalance timeout:
    // it is not removed (only dynamic members are), and the join completes with those who did.
    assert_eq!(code(group.heartbeat(&a, Some("a"), 1, 15_000)), 27);
    group.tick(i64::from(REBALANCE_MS));
    let b = answered(&mut b);
    assert!(b.error.is_none());
    assert!(group.members.contains_key(&a));
}

#[test]
fn the_group_size_is_capped() {
    let mut group = Group::new("g", 0, 0);
    let capped = GroupSettings { max_size: 1, ..settings() };
    let _first = pending(group.join(join(""), &capped, 0));
    let second = ready(group.join(join(""), &capped, 0));
    assert_eq!(second.error.as_ref().map(Error::code), Some(81));
}

#[test]
fn offset_commit_checks_follow_kafka() {
    let simple = Group::new("s", 0, 0);
    assert_eq!(
        code(simple.check_offset_commit("", None, -1)),
        0,
        "simple commits to an empty group"
    );
    let (mut group, ids) = stable_group(1);
    let generation = group.generation_id;
    assert_eq!(code(group.check_offset_commit(&ids[0], None, generation)), 0);
    assert_eq!(code(group.check_offset_commit(&ids[0], None, generation + 1)), 22);
    assert_eq!(code(group.check_offset_commit("nobody", None, generation)), 25);
    assert_eq!(code(group.check_offset_commit("", None, -1)), 25, "a group with members");
    let _joining = pending(group.join(join(""), &settings(), 1));
    assert_eq!(group.state(), GroupState::PreparingRebalance);
    assert_eq!(
        code(group.check_offset_commit(&ids[0], None, generation)),
        0,
        "still the old generation"
    );
    let mut rejoin = pending(group.join(join(&ids[0]), &settings(), 2));
    answered(&mut rejoin);
    assert_eq!(group.state(), GroupState::CompletingRebalance);
    assert_eq!(code(group.check_offset_commit(&ids[0], None, generation + 1)), 27);
}

fn offset(commit_timestamp_ms: i64, expire_timestamp_ms: Option<i64>) -> OffsetCommitValue {
    OffsetCommitValue {
        offset: 1,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp_ms,
        expire_timestamp_ms,
    }
}

#[test]
fn offsets_of_an_empty_group_expire_from_when_it_became_empty() {
    let (mut group, ids) = stable_group(1);
    group.replay_offset(TopicPartition::new("t", 0), Some(offset(0, None)));
    assert!(group.expired_offsets(10_000_000, 1000).is_empty(), "subscribed topic, Stable group");
    group.replay_offset(TopicPartition::new("gone", 0), Some(offset(0, None)));
    assert_eq!(
        group.expired_offsets(1000, 1000),
        vec![TopicPartition::new("gone", 0)],
        "a topic the Stable group no longer subscribes to expires from its commit"
    );
    group.leave(&[(ids[0].clone(), None)], 5000);
    assert_eq!(group.state(), GroupState::Empty);
    assert!(group.expired_offsets(5999, 1000).is_empty());
    assert_eq!(group.expired_offsets(6000, 1000).len(), 2);
}

#[test]
fn simple_group_offsets_expire_from_each_commit_or_their_explicit_expiry() {
    let mut group = Group::new("s", 0, 0);
    group.replay_offset(TopicPartition::new("t", 0), Some(offset(100, None)));
    group.replay_offset(TopicPartition::new("t", 1), Some(offset(500, None)));
    group.replay_offset(TopicPartition::new("t", 2), Some(offset(0, Some(50))));
    assert_eq!(group.expired_offsets(49, 1000), Vec::<TopicPartition>::new());
    assert_eq!(group.expired_offsets(50, 1000), vec![TopicPartition::new("t", 2)]);
    assert_eq!(group.expired_offsets(1100, 1000).len(), 2);
    group.replay_offset(TopicPartition::new("t", 2), None);
    assert_eq!(group.offsets().len(), 2);
}

#[test]
fn stored_metadata_reloads_as_a_stable_group_with_fresh_sessions() {
    let (group, ids) = stable_group(2);
    let value = group.metadata_value();
    let loaded = Group::from_metadata_value("g", value.clone(), 0, 1_000);
    assert_eq!(loaded.state(), GroupState::Stable);
    assert_eq!(loaded.generation_id(), group.generation_id());
    assert_eq!(loaded.leader_id(), Some(ids[0].as_str()));
    assert_eq!(loaded.metadata_value().members, value.members);
    assert_eq!(loaded.next_deadline(), Some(1_000 + i64::from(SESSION_MS)));
    let empty =
        Group::from_metadata_value("e", GroupMetadataValue { members: vec![], ..value }, 0, 1_000);
    assert_eq!(empty.state(), GroupState::Empty);
}

#[test]
fn describe_shows_metadata_only_when_stable() {
    let (mut group, _) = stable_group(1);
    let description = group.describe();
    assert_eq!(description.state, GroupState::Stable);
    assert_eq!(description.protocol_data, "range");
    assert!(!description.members[0].assignment.is_empty());
    let _joining = pending(group.join(join(""), &settings(), 1));
    let description = group.describe();
    assert_eq!(description.protocol_data, "");
    assert!(description.members.iter().all(|member| member.assignment.is_empty()));
}

#[test]
#[should_panic(expected = "illegal transition")]
fn illegal_transitions_are_asserted() {
    let mut group = Group::new("g", 0, 0);
    group.transition(GroupState::Stable, 0);
}
