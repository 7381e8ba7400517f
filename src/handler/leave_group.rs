//! LeaveGroup (key 13): members leave without waiting for their session to expire. v0-v2
//! name one member; v3+ a batch (static members by `group.instance.id`), each answered.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::{RequestContext, wire_string};

pub async fn handle(
    context: &RequestContext<'_>,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if context.version <= 2 {
        vec![(request.member_id.to_string(), None)]
    } else {
        request
            .members
            .iter()
            .map(|member| {
                (
                    member.member_id.to_string(),
                    member.group_instance_id.as_ref().map(|id| id.to_string()),
                )
            })
            .collect()
    };
    let results = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator.leave(&request.group_id, &leaving),
        Err(error) => Err(error),
    };
    let results = match results {
        Ok(results) => results,
        Err(error) => return LeaveGroupResponse::default().with_error_code(error.code()),
    };
    if context.version <= 2 {
        let error_code = results
            .first()
            .map_or(0, |result| result.as_ref().map_or_else(|error| error.code(), |()| 0));
        return LeaveGroupResponse::default().with_error_code(error_code);
    }
    let members = leaving
        .into_iter()
        .zip(results)
        .map(|((member_id, instance), result)| {
            MemberResponse::default()
                .with_member_id(wire_string(member_id))
                .with_group_instance_id(instance.map(wire_string))
                .with_error_code(result.map_or_else(|error| error.code(), |()| 0))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}
