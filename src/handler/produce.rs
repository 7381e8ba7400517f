//! Produce (key 0): validate each partition's batch, append it, answer with its offsets.
//!
//! Each partition is independent: one bad batch fails only its partition. The batch is
//! appended as soon as it is validated, so it is in the log (written to the file) before any
//! success is reported. acks=0 gets no response; an error with acks=0 closes the connection
//! so the producer refreshes its metadata, as Kafka does. When an append crosses the topic's
//! `flush.messages`, the answer waits for the flusher's fsync (group commit). A topic whose
//! `compression.type` names a codec gets the batch recompressed to it first
//! ([`crate::protocol::recompress`]); the result must still fit `max.message.bytes`. This
//! runs on the request's task: it is the only CPU-heavy step of a produce, and only topics
//! that ask for it pay.
//!
//! A compacted topic (`cleanup.policy` with `compact`) refuses records without a key
//! (INVALID_RECORD), as Kafka does.
//!
//! Versions 0-2 are advertised (old librdkafka checks for them) but close the connection if
//! sent; see [`crate::protocol::versions`].

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use super::{Reply, RequestContext, respond};
use crate::error::{Error, Result};
use crate::log::partition_log::{AppendInfo, PartitionLog};
use crate::protocol::recompress::recompress;
use crate::protocol::record_batch::{BatchHeader, ProduceLimits, validate_produced_batch};

/// How long an acknowledgement waits for its fsync when the request gives no timeout.
const DURABILITY_WAIT_MS_DEFAULT: u64 = 30_000;

/// The handler's result: the response, and whether acks=0 silence applies.
#[derive(Debug)]
pub struct ProduceOutcome {
    response: ProduceResponse,
    acks: i16,
    any_error: bool,
}

/// An append whose acknowledgement waits for an fsync: where its answer is, and the offset
/// that must be durable.
struct PendingFlush {
    topic: usize,
    partition: usize,
    log: Arc<PartitionLog>,
    offset: i64,
}

/// Turns the outcome into what the connection does.
pub fn reply(context: &RequestContext<'_>, outcome: ProduceOutcome) -> Reply {
    match (outcome.acks, outcome.any_error) {
        (0, false) => Reply::Silent,
        (0, true) => {
            Reply::Close("acks=0 produce failed; closing so the producer refreshes metadata".into())
        }
        _ => respond(context, &outcome.response),
    }
}

pub async fn handle(context: &RequestContext<'_>, request: ProduceRequest) -> ProduceOutcome {
    let acks = request.acks;
    let refusal = request_refusal(&request);
    let mut pending = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for (topic_index, topic) in request.topic_data.iter().enumerate() {
        let mut partition_responses = Vec::with_capacity(topic.partition_data.len());
        for partition in &topic.partition_data {
            let result = match refusal {
                Some(refusal) => Err(refusal.error()),
                None => append(context, topic, partition.index, partition.records.as_deref()),
            };
            let result = result.map(|(log, info)| {
                if info.needs_flush && acks != 0 {
                    let offset = info.last_offset + 1;
                    pending.push(PendingFlush {
                        topic: topic_index,
                        partition: partition_responses.len(),
                        log,
                        offset,
                    });
                }
                info
            });
            partition_responses.push(partition_response(partition.index, result));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name.clone())
                .with_partition_responses(partition_responses),
        );
    }
    wait_for_durability(&mut responses, pending, request.timeout_ms).await;
    let any_error = responses
        .iter()
        .flat_map(|topic| &topic.partition_responses)
        .any(|partition| partition.error_code != 0);
    ProduceOutcome {
        response: ProduceResponse::default().with_responses(responses),
        acks,
        any_error,
    }
}

/// A reason that fails every partition of the request.
#[derive(Debug, Clone, Copy)]
enum RequestRefusal {
    Acks(i16),
    MissingTransactionalId,
}

impl RequestRefusal {
    fn error(self) -> Error {
        match self {
            Self::Acks(acks) => Error::InvalidRequiredAcks(acks),
            Self::MissingTransactionalId => Error::TransactionalIdAuthorizationFailed,
        }
    }
}

fn request_refusal(request: &ProduceRequest) -> Option<RequestRefusal> {
    if !matches!(request.acks, -1..=1) {
        tracing::warn!(acks = request.acks, "invalid acks");
        return Some(RequestRefusal::Acks(request.acks));
    }
    // Kafka answers transactional batches without a transactional id with this code for the
    // whole request (`RequestUtils.hasTransactionalRecords`).
    let transactional =
        request.topic_data.iter().flat_map(|topic| &topic.partition_data).any(|partition| {
            partition
                .records
                .as_deref()
                .and_then(BatchHeader::parse)
                .is_some_and(|header| header.is_transactional())
        });
    (transactional && request.transactional_id.is_none())
        .then_some(RequestRefusal::MissingTransactionalId)
}

fn append(
    context: &RequestContext<'_>,
    topic: &TopicProduceData,
    partition: i32,
    records: Option<&[u8]>,
) -> Result<(Arc<PartitionLog>, AppendInfo)> {
    if topic.name.as_str() == crate::coordinator::group::OFFSETS_TOPIC {
        tracing::warn!(topic = topic.name.as_str(), "refused a produce to an internal topic");
        return Err(Error::InvalidTopic(format!(
            "Cannot append to internal topic {}",
            topic.name.as_str()
        )));
    }
    let log = context
        .broker
        .partition(&topic.name, partition)
        .ok_or_else(|| Error::UnknownTopicOrPartition(format!("{}-{partition}", &*topic.name)))?;
    let config = log.config();
    let limits = ProduceLimits {
        max_message_bytes: config.max_message_bytes,
        produce_version: context.version,
    };
    let records = records.unwrap_or_default();
    let header = validate_produced_batch(records, limits).inspect_err(|error| {
        tracing::warn!(topic = topic.name.as_str(), partition, %error, "rejected produced batch");
    })?;
    let recompressed = match config.compression {
        Some(target) => recompress(records, &header, target, config.max_message_bytes).inspect_err(|error| {
            tracing::warn!(topic = topic.name.as_str(), partition, %error, "recompression refused the batch");
        })?,
        None => None,
    };
    let (records, header) = match &recompressed {
        Some(batch) => {
            if batch.len() > config.max_message_bytes {
                return Err(Error::MessageTooLarge {
                    size: batch.len(),
                    max: config.max_message_bytes,
                });
            }
            (batch.as_ref(), BatchHeader::parse(batch).expect("a recompressed batch has a header"))
        }
        None => (records, header),
    };
    if config.cleanup_compact {
        check_keys(records, &topic.name, partition)?;
    }
    let info = log.append(records, &header).inspect_err(|error| {
        tracing::info!(topic = topic.name.as_str(), partition, producer_id = header.producer_id, %error, "append refused");
    })?;
    if info.duplicate {
        tracing::debug!(
            topic = topic.name.as_str(),
            partition,
            producer_id = header.producer_id,
            base_offset = info.base_offset,
            "duplicate batch: answered with its original offsets"
        );
    }
    if info.rolled || info.needs_flush {
        context.broker.logs().request_flush(&log);
    }
    Ok((log, info))
}

/// A compacted topic keeps the latest record per key, so every record needs one: Kafka's
/// `LogValidator` refuses the batch otherwise (INVALID_RECORD). A compressed batch is
/// decompressed (capped) to look.
fn check_keys(batch: &[u8], topic: &str, partition: i32) -> Result<()> {
    let mut keyless = false;
    crate::protocol::records::visit_records(batch, |record| {
        keyless = record.key.is_none();
        if keyless { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) }
    })?;
    if keyless {
        tracing::warn!(topic, partition, "refused a record without a key on a compacted topic");
        return Err(Error::InvalidRecord(format!(
            "Compacted topic cannot accept message without key in topic partition {topic}-{partition}."
        )));
    }
    Ok(())
}

fn partition_response(index: i32, result: Result<AppendInfo>) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default().with_index(index);
    match result {
        Ok(info) => response
            .with_base_offset(info.base_offset)
            .with_log_append_time_ms(info.log_append_time_ms)
            .with_log_start_offset(info.log_start_offset),
        Err(error) => response
            .with_error_code(error.code())
            .with_base_offset(-1)
            .with_log_append_time_ms(-1)
            .with_log_start_offset(-1)
            .with_error_message(Some(StrBytes::from_string(error.message()))),
    }
}

/// Waits for the fsyncs the appends asked for, at most the request's `timeout_ms` (or
/// [`DURABILITY_WAIT_MS_DEFAULT`] if it gives none). A failed fsync fails its partition with
/// KAFKA_STORAGE_ERROR, a late one with REQUEST_TIMED_OUT, as Kafka answers an acks=all
/// produce whose condition was not met in time.
async fn wait_for_durability(
    responses: &mut [TopicProduceResponse],
    pending: Vec<PendingFlush>,
    timeout_ms: i32,
) {
    let wait_ms =
        u64::try_from(timeout_ms).ok().filter(|ms| *ms > 0).unwrap_or(DURABILITY_WAIT_MS_DEFAULT);
    let waits = pending.iter().map(|flush| async {
        let waited = tokio::time::timeout(
            Duration::from_millis(wait_ms),
            flush.log.wait_flushed(flush.offset),
        )
        .await;
        waited.unwrap_or_else(|_| {
            Err(Error::RequestTimedOut(format!("fsync did not complete within {wait_ms} ms")))
        })
    });
    let results = futures::future::join_all(waits).await;
    for (flush, result) in pending.iter().zip(results) {
        if let Err(error) = result {
            tracing::error!(partition = %flush.log.topic_partition(), %error, "fsync before acknowledgement failed");
            let response = &mut responses[flush.topic].partition_responses[flush.partition];
            *response = partition_response(response.index, Err(error));
        }
    }
}
