//! JoinGroup (key 11): joins a member to a group and answers once the rebalance completes.
//!
//! The request waits (without holding a thread) until the group finishes its rebalance, the
//! member is removed, or the broker shuts down (NOT_COORDINATOR, so the client looks for the
//! coordinator again). v0 has no rebalance timeout: the session timeout serves as both, as in
//! Kafka. v4+ new dynamic members get MEMBER_ID_REQUIRED with their id first (KIP-394).

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{RequestContext, client_host, wire_string};
use crate::coordinator::group::classic_group::{JoinRequest, JoinResult, Protocol, Reply};
use crate::error::Error;

pub async fn handle(context: &RequestContext<'_>, request: JoinGroupRequest) -> JoinGroupResponse {
    let member_id = request.member_id.to_string();
    let coordinator = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator,
        Err(error) => return response(context.version, JoinResult::failed(&member_id, error)),
    };
    let join = JoinRequest {
        member_id: member_id.clone(),
        group_instance_id: request.group_instance_id.map(|id| id.to_string()),
        client_id: context.client_id().to_owned(),
        client_host: client_host(context),
        session_timeout_ms: request.session_timeout_ms,
        rebalance_timeout_ms: if context.version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|protocol| Protocol {
                name: protocol.name.to_string(),
                metadata: protocol.metadata,
            })
            .collect(),
        require_known_member_id: context.version >= 4,
    };
    let result = match coordinator.join(&request.group_id, join) {
        Reply::Ready(result) => result,
        Reply::Pending(receiver) => {
            let mut shutdown = context.shutdown.clone();
            tokio::select! {
                result = receiver => result.unwrap_or_else(|_| {
                    JoinResult::failed(&member_id, Error::UnknownMemberId(member_id.clone()))
                }),
                _ = shutdown.wait_for(|stopping| *stopping) => JoinResult::failed(
                    &member_id,
                    Error::NotCoordinator("the broker is shutting down".into()),
                ),
            }
        }
    };
    if let Some(error) = &result.error {
        tracing::debug!(group = request.group_id.as_str(), member_id, %error, "join answered with an error");
    }
    response(context.version, result)
}

fn response(version: i16, result: JoinResult) -> JoinGroupResponse {
    // KIP-814: before v9 a static leader that must not assign gets no member list and the
    // old leader id, so it does not act as the leader.
    let old_client = result.skip_assignment && version < 9;
    let members = if old_client { Vec::new() } else { result.members };
    let leader_id = match result.leader_id_before_v9 {
        Some(old_leader) if old_client => old_leader,
        _ => result.leader_id,
    };
    let members = members
        .into_iter()
        .map(|member| {
            JoinGroupResponseMember::default()
                .with_member_id(wire_string(member.member_id))
                .with_group_instance_id(
                    member.group_instance_id.filter(|_| version >= 5).map(wire_string),
                )
                .with_metadata(member.metadata)
        })
        .collect();
    let protocol_name = result.protocol_name.map(wire_string);
    JoinGroupResponse::default()
        .with_error_code(result.error.as_ref().map_or(0, Error::code))
        .with_generation_id(result.generation_id)
        .with_protocol_type(result.protocol_type.filter(|_| version >= 7).map(wire_string))
        .with_protocol_name(if version >= 7 {
            protocol_name
        } else {
            Some(protocol_name.unwrap_or_default())
        })
        .with_leader(wire_string(leader_id))
        .with_skip_assignment(version >= 9 && result.skip_assignment)
        .with_member_id(wire_string(result.member_id))
        .with_members(members)
}
