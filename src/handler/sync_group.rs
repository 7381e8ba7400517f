//! SyncGroup (key 14): the leader sends the assignment; every member receives its own once
//! the assignment is stored in `__consumer_offsets`.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{RequestContext, wire_string};
use crate::coordinator::group::classic_group::{Reply, SyncRequest, SyncResult};
use crate::error::Error;

pub async fn handle(context: &RequestContext<'_>, request: SyncGroupRequest) -> SyncGroupResponse {
    let coordinator = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator,
        Err(error) => return response(context.version, SyncResult::failed(error)),
    };
    let sync = SyncRequest {
        member_id: request.member_id.to_string(),
        group_instance_id: request.group_instance_id.map(|id| id.to_string()),
        generation_id: request.generation_id,
        protocol_type: request.protocol_type.map(|kind| kind.to_string()),
        protocol_name: request.protocol_name.map(|name| name.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|assignment| (assignment.member_id.to_string(), assignment.assignment))
            .collect(),
    };
    let member_id = sync.member_id.clone();
    let result = match coordinator.sync(&request.group_id, sync) {
        Reply::Ready(result) => result,
        Reply::Pending(receiver) => {
            let mut shutdown = context.shutdown.clone();
            tokio::select! {
                result = receiver => result.unwrap_or_else(|_| {
                    SyncResult::failed(Error::UnknownMemberId(member_id.clone()))
                }),
                _ = shutdown.wait_for(|stopping| *stopping) => SyncResult::failed(
                    Error::NotCoordinator("the broker is shutting down".into()),
                ),
            }
        }
    };
    if let Some(error) = &result.error {
        tracing::debug!(group = request.group_id.as_str(), member_id, %error, "sync answered with an error");
    }
    response(context.version, result)
}

fn response(version: i16, result: SyncResult) -> SyncGroupResponse {
    let flexible_fields = version >= 5;
    SyncGroupResponse::default()
        .with_error_code(result.error.as_ref().map_or(0, Error::code))
        .with_protocol_type(result.protocol_type.filter(|_| flexible_fields).map(wire_string))
        .with_protocol_name(result.protocol_name.filter(|_| flexible_fields).map(wire_string))
        .with_assignment(result.assignment)
}
