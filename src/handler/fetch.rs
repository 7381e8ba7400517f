//! Fetch (key 1): read whole batches from each partition, long-polling for `min_bytes`.
//!
//! Long poll: before each read the handler subscribes to every requested partition's high
//! watermark; if the read found fewer than `min_bytes` and `max_wait_ms` has not passed, it
//! sleeps until a watched high watermark moves, the deadline passes, or the broker shuts down,
//! then reads again. No thread is held and nothing spins.
//!
//! Limits: the response holds at most `max_bytes` (capped by the broker's `fetch.max.bytes`)
//! and each partition at most `partition_max_bytes`, in whole batches; the first batch of the
//! first partition with data is returned even when larger (KIP-74). Records are never null
//! (librdkafka rejects a null record set).
//!
//! Zero copy: a partition's records are found by reading batch headers only, and go into the
//! response as a region of the segment file that the connection sends with `sendfile(2)`
//! ([`crate::protocol::fetch_response`]). Regions under [`RECORDS_FROM_FILE_BYTES_MIN`] are
//! copied into the response instead: for them a system call of their own costs more than the
//! copy.
//!
//! Fetch sessions (KIP-227): Riffle answers every full fetch without creating a session
//! (session id 0), which Kafka also does when its session cache is full; clients then keep
//! sending full fetches. An incremental fetch (non-zero session id) gets
//! FETCH_SESSION_ID_NOT_FOUND.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;

use super::{Reply, RequestContext, check_leader_epoch};
use crate::error::{Error, Result};
use crate::limits::FETCH_WAIT_MS_MAX;
use crate::log::partition_log::{LogOffsets, LogRead, PartitionLog, RegionRead};
use crate::protocol::fetch_response;
use crate::protocol::response::ResponsePart;
use crate::types::IsolationLevel;

/// One partition of the request, resolved.
struct Target {
    partition: i32,
    fetch_offset: i64,
    partition_max_bytes: i32,
    current_leader_epoch: i32,
    log: Result<Arc<PartitionLog>>,
}

/// Smallest records run sent from the segment file rather than copied into the response.
pub const RECORDS_FROM_FILE_BYTES_MIN: u64 = 16 * 1024;

/// A fetch's response (records apart, in partition order) with the response memory it holds.
#[derive(Debug)]
pub struct FetchOutcome {
    response: FetchResponse,
    records: Vec<ResponsePart>,
    budget: Option<OwnedSemaphorePermit>,
}

impl FetchOutcome {
    fn failed(code: i16) -> Self {
        Self {
            response: FetchResponse::default().with_error_code(code),
            records: Vec::new(),
            budget: None,
        }
    }
}

/// Encodes the response; the memory permit travels with it until it is written.
pub fn reply(context: &RequestContext<'_>, outcome: FetchOutcome) -> Reply {
    let correlation_id = context.header.correlation_id;
    match fetch_response::encode(
        correlation_id,
        context.version,
        &outcome.response,
        outcome.records,
    ) {
        Ok(encoded) => Reply::Response(encoded, outcome.budget),
        Err(error) => {
            tracing::error!(%error, "fetch response encoding failed (a broker bug)");
            Reply::Close(format!("fetch response encoding failed: {error}"))
        }
    }
}

pub async fn handle(context: &RequestContext<'_>, request: FetchRequest) -> FetchOutcome {
    if let Some(code) = session_error(&request) {
        return FetchOutcome::failed(code);
    }
    let isolation = IsolationLevel::from_wire(request.isolation_level);
    let max_bytes = request.max_bytes.clamp(0, context.broker.config().fetch_max_bytes);
    let wait_ms = u64::try_from(request.max_wait_ms.clamp(0, FETCH_WAIT_MS_MAX))
        .expect("clamped non-negative");
    let deadline = Instant::now() + Duration::from_millis(wait_ms);
    let topics: Vec<(&kafka_protocol::messages::TopicName, Vec<Target>)> =
        request.topics.iter().map(|topic| (&topic.topic, resolve(context, topic))).collect();
    let mut shutdown = context.shutdown.clone();
    loop {
        let mut watchers: Vec<watch::Receiver<i64>> = topics
            .iter()
            .flat_map(|(_, targets)| targets)
            .filter_map(|target| target.log.as_ref().ok().map(|log| log.subscribe_high_watermark()))
            .collect();
        let budget = reserve(context, max_bytes).await;
        let (responses, records, bytes, any_error) = read_all(&topics, isolation, max_bytes);
        let done = bytes >= i64::from(request.min_bytes)
            || any_error
            || wait_ms == 0
            || Instant::now() >= deadline
            || *shutdown.borrow();
        if done {
            let budget = settle(context, budget, usize::try_from(bytes).unwrap_or(0)).await;
            let response = FetchResponse::default().with_responses(responses);
            return FetchOutcome { response, records, budget: Some(budget) };
        }
        drop(budget);
        wait_for_new_data(&mut watchers, deadline, &mut shutdown).await;
    }
}

/// Reserves `max_bytes` of fetch response memory for one read.
async fn reserve(context: &RequestContext<'_>, max_bytes: i32) -> OwnedSemaphorePermit {
    let budget = Arc::clone(context.broker.fetch_response_budget());
    let wanted = u32::try_from(max_bytes).unwrap_or(0);
    budget.acquire_many_owned(wanted).await.expect("the fetch budget is never closed")
}

/// Trims the reservation to the bytes the response holds, or tops it up when a KIP-74 first
/// batch made the response larger than `max_bytes` (never beyond the whole budget).
async fn settle(
    context: &RequestContext<'_>,
    mut budget: OwnedSemaphorePermit,
    used: usize,
) -> OwnedSemaphorePermit {
    let held = budget.num_permits();
    if used <= held {
        return budget.split(used).expect("at most the permits held");
    }
    let total = context.broker.fetch_response_budget_bytes();
    let extra = u32::try_from(used.min(total) - held.min(total)).unwrap_or(u32::MAX);
    let more = Arc::clone(context.broker.fetch_response_budget())
        .acquire_many_owned(extra)
        .await
        .expect("the fetch budget is never closed");
    budget.merge(more);
    budget
}

/// KIP-227 checks: Riffle never creates sessions, so only full fetches are served.
fn session_error(request: &FetchRequest) -> Option<i16> {
    if request.session_id != 0 {
        return Some(ResponseError::FetchSessionIdNotFound.code());
    }
    if !matches!(request.session_epoch, -1 | 0) {
        return Some(ResponseError::InvalidFetchSessionEpoch.code());
    }
    None
}

fn resolve(
    context: &RequestContext<'_>,
    topic: &kafka_protocol::messages::fetch_request::FetchTopic,
) -> Vec<Target> {
    topic
        .partitions
        .iter()
        .map(|partition| Target {
            partition: partition.partition,
            fetch_offset: partition.fetch_offset,
            partition_max_bytes: partition.partition_max_bytes,
            current_leader_epoch: partition.current_leader_epoch,
            log: context.broker.partition(&topic.topic, partition.partition).ok_or_else(|| {
                Error::UnknownTopicOrPartition(format!("{}-{}", &*topic.topic, partition.partition))
            }),
        })
        .collect()
}

/// Reads every partition once. Returns the topics, their records in partition order, the
/// record bytes, and whether any partition failed (which ends the long poll, as in Kafka).
fn read_all(
    topics: &[(&kafka_protocol::messages::TopicName, Vec<Target>)],
    isolation: IsolationLevel,
    max_bytes: i32,
) -> (Vec<FetchableTopicResponse>, Vec<ResponsePart>, i64, bool) {
    let mut total_bytes: i64 = 0;
    let mut any_error = false;
    let mut records = Vec::new();
    let responses = topics
        .iter()
        .map(|(name, targets)| {
            let partitions = targets
                .iter()
                .map(|target| {
                    let remaining = (i64::from(max_bytes) - total_bytes).max(0);
                    let budget = i64::from(target.partition_max_bytes.max(0)).min(remaining);
                    let result = read_partition(target, isolation, budget, total_bytes == 0);
                    let (data, partition_records) =
                        partition_data(target.partition, isolation, result);
                    total_bytes +=
                        i64::try_from(partition_records.size_bytes()).unwrap_or(i64::MAX);
                    any_error |= data.error_code != 0;
                    records.push(partition_records);
                    data
                })
                .collect();
            FetchableTopicResponse::default()
                .with_topic((*name).clone())
                .with_partitions(partitions)
        })
        .collect();
    (responses, records, total_bytes, any_error)
}

fn read_partition(
    target: &Target,
    isolation: IsolationLevel,
    budget: i64,
    min_one_message: bool,
) -> Result<(LogOffsets, ResponsePart)> {
    let log = match &target.log {
        Ok(log) => log,
        Err(error) => return Err(Error::UnknownTopicOrPartition(error.to_string())),
    };
    check_leader_epoch(target.current_leader_epoch)?;
    let read = log.read_region(LogRead {
        offset: target.fetch_offset,
        max_bytes: u64::try_from(budget).unwrap_or(0),
        min_one_message,
        isolation,
    });
    let records = |read: RegionRead| match read.records {
        Some(region) if region.length >= RECORDS_FROM_FILE_BYTES_MIN => {
            Ok((read.offsets, ResponsePart::File(region)))
        }
        Some(region) => Ok((read.offsets, ResponsePart::Bytes(region.read_bytes()?))),
        None => Ok((read.offsets, ResponsePart::Bytes(Bytes::new()))),
    };
    read.and_then(records).inspect_err(|error| {
        if matches!(error, Error::Storage(_)) {
            tracing::error!(partition = %log.topic_partition(), %error, "fetch read failed");
        }
    })
}

/// A partition's response fields, and its records (empty on error: never null).
fn partition_data(
    partition: i32,
    isolation: IsolationLevel,
    result: Result<(LogOffsets, ResponsePart)>,
) -> (PartitionData, ResponsePart) {
    let data = PartitionData::default().with_partition_index(partition).with_records(None);
    match result {
        Ok((offsets, records)) => (
            data.with_high_watermark(offsets.high_watermark)
                .with_last_stable_offset(offsets.last_stable_offset())
                .with_log_start_offset(offsets.log_start_offset)
                .with_aborted_transactions(match isolation {
                    IsolationLevel::ReadCommitted => Some(Vec::new()),
                    IsolationLevel::ReadUncommitted => None,
                }),
            records,
        ),
        Err(error) => {
            tracing::debug!(partition, %error, "fetch partition error");
            (
                data.with_error_code(error.code())
                    .with_high_watermark(-1)
                    .with_last_stable_offset(-1)
                    .with_log_start_offset(-1)
                    .with_aborted_transactions(None),
                ResponsePart::Bytes(Bytes::new()),
            )
        }
    }
}

/// Sleeps until any watched high watermark changes, the deadline passes, or shutdown.
async fn wait_for_new_data(
    watchers: &mut [watch::Receiver<i64>],
    deadline: Instant,
    shutdown: &mut watch::Receiver<bool>,
) {
    let any_change = async {
        if watchers.is_empty() {
            std::future::pending::<()>().await;
        }
        let changes = watchers.iter_mut().map(|watcher| Box::pin(watcher.changed()));
        let _ = futures::future::select_all(changes).await;
    };
    tokio::select! {
        () = any_change => {}
        () = tokio::time::sleep_until(deadline) => {}
        _ = shutdown.changed() => {}
    }
}
