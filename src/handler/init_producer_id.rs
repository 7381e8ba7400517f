//! InitProducerId (key 22): gives an idempotent producer its producer id.
//!
//! Without a transactional id Kafka hands out a fresh producer id with epoch 0 every time,
//! whatever id and epoch the request carries (`TransactionCoordinator.handleInitProducerId`).
//! A producer that must bump its epoch after an unknown outcome (KIP-360) either bumps it
//! itself and restarts its sequences at 0, which the partitions accept
//! ([`crate::log::producer_state`]), or asks again here and gets a new id. An id and an epoch
//! must be given together (v3+): one without the other is INVALID_REQUEST, as in Kafka's
//! `KafkaApis`.
//!
//! Transactional ids need a transaction coordinator, which this broker does not have:
//! FindCoordinator for transactions answers COORDINATOR_NOT_AVAILABLE, and so does this.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::RequestContext;
use crate::error::{Error, Result};

const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;

pub async fn handle(
    context: &RequestContext<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let response = InitProducerIdResponse::default();
    match init_producer_id(context, &request).await {
        Ok(producer_id) => {
            tracing::debug!(producer_id, "producer id handed out");
            response.with_producer_id(ProducerId(producer_id)).with_producer_epoch(0)
        }
        Err(error) => {
            tracing::info!(transactional_id = ?request.transactional_id.as_deref().map(|id| id.as_str()), %error, "InitProducerId refused");
            response
                .with_error_code(error.code())
                .with_producer_id(ProducerId(NO_PRODUCER_ID))
                .with_producer_epoch(NO_PRODUCER_EPOCH)
        }
    }
}

async fn init_producer_id(
    context: &RequestContext<'_>,
    request: &InitProducerIdRequest,
) -> Result<i64> {
    let id_given = request.producer_id.0 != NO_PRODUCER_ID;
    let epoch_given = request.producer_epoch != NO_PRODUCER_EPOCH;
    if id_given != epoch_given {
        return Err(Error::InvalidRequest(format!(
            "producer id {} and epoch {} must be given together",
            request.producer_id.0, request.producer_epoch
        )));
    }
    match request.transactional_id.as_deref() {
        None => context.broker.generate_producer_id().await,
        Some(id) if id.is_empty() => {
            Err(Error::InvalidRequest("the transactional id is empty".into()))
        }
        Some(_) => Err(Error::CoordinatorNotAvailable(
            "transactions are not supported: no transaction coordinator".into(),
        )),
    }
}
