//! DescribeGroups (key 15): state, protocol and members of each group. A group that does not
//! exist is described as Dead with no error (Kafka before v6).

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{
    GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED, RequestContext, authorized_operations, wire_string,
};
use crate::coordinator::group::state::GroupState;

pub async fn handle(
    context: &RequestContext<'_>,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let coordinator = context.broker.existing_group_coordinator().await;
    let operations = if context.version >= 3 && request.include_authorized_operations {
        authorized_operations(GROUP_OPERATIONS)
    } else {
        OPERATIONS_NOT_REQUESTED
    };
    let groups = request
        .groups
        .into_iter()
        .map(|group_id| {
            let described = DescribedGroup::default().with_authorized_operations(operations);
            let coordinator = match &coordinator {
                Ok(coordinator) => coordinator,
                Err(error) => {
                    return described.with_group_id(group_id).with_error_code(error.code());
                }
            };
            let Some(description) = coordinator.describe(&group_id) else {
                return described
                    .with_group_id(group_id)
                    .with_group_state(wire_string(GroupState::Dead.name()));
            };
            let members = description
                .members
                .into_iter()
                .map(|member| {
                    DescribedGroupMember::default()
                        .with_member_id(wire_string(member.member_id))
                        .with_group_instance_id(
                            member
                                .group_instance_id
                                .filter(|_| context.version >= 4)
                                .map(wire_string),
                        )
                        .with_client_id(wire_string(member.client_id))
                        .with_client_host(wire_string(member.client_host))
                        .with_member_metadata(member.metadata)
                        .with_member_assignment(member.assignment)
                })
                .collect();
            described
                .with_group_id(group_id)
                .with_group_state(wire_string(description.state.name()))
                .with_protocol_type(wire_string(description.protocol_type))
                .with_protocol_data(wire_string(description.protocol_data))
                .with_members(members)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
