//! FindCoordinator (key 10): every group's coordinator is this broker.
//!
//! The first request for a group coordinator creates and loads `__consumer_offsets` (Kafka
//! creates the topic on first use too). v4+ carries a batch of keys and answers each one.
//! Transaction coordinators (key type 1) do not exist yet: those keys get
//! COORDINATOR_NOT_AVAILABLE. An unknown key type is INVALID_REQUEST, as in Kafka.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::{RequestContext, wire_string};
use crate::error::Error;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn handle(
    context: &RequestContext<'_>,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let keys = if context.version >= 4 { request.coordinator_keys } else { vec![request.key] };
    let mut coordinators = Vec::with_capacity(keys.len());
    for key in keys {
        coordinators.push(coordinator_for(context, request.key_type, key).await);
    }
    if context.version >= 4 {
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let answer = coordinators.pop().unwrap_or_default();
    FindCoordinatorResponse::default()
        .with_error_code(answer.error_code)
        .with_error_message(answer.error_message.filter(|_| context.version >= 1))
        .with_node_id(answer.node_id)
        .with_host(answer.host)
        .with_port(answer.port)
}

async fn coordinator_for(context: &RequestContext<'_>, key_type: i8, key: StrBytes) -> Coordinator {
    let found = match key_type {
        KEY_TYPE_GROUP => context.broker.group_coordinator().await.map(drop),
        KEY_TYPE_TRANSACTION => {
            Err(Error::CoordinatorNotAvailable("transactions are not supported yet".into()))
        }
        other => Err(Error::InvalidRequest(format!("unknown coordinator key type {other}"))),
    };
    let coordinator = Coordinator::default().with_key(key);
    match found {
        Ok(()) => {
            let advertised = context.broker.advertised();
            coordinator
                .with_node_id(BrokerId(context.broker.node_id()))
                .with_host(wire_string(advertised.host.clone()))
                .with_port(i32::from(advertised.port))
        }
        Err(error) => {
            tracing::warn!(key = coordinator.key.as_str(), key_type, %error, "no coordinator");
            coordinator
                .with_error_code(error.code())
                .with_error_message(Some(wire_string(error.message())))
                .with_node_id(BrokerId(-1))
                .with_host(StrBytes::default())
                .with_port(-1)
        }
    }
}
