//! ListGroups (key 16): every group, optionally filtered by state (v4+) and type (v5+; all
//! of Riffle's groups are "classic").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use super::{RequestContext, wire_string};
use crate::error::Error;

pub async fn handle(
    context: &RequestContext<'_>,
    request: ListGroupsRequest,
) -> ListGroupsResponse {
    let coordinator = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator,
        // No `__consumer_offsets` yet: no groups (Kafka lists only loaded partitions).
        Err(Error::NotCoordinator(_)) => return ListGroupsResponse::default(),
        Err(error) => return ListGroupsResponse::default().with_error_code(error.code()),
    };
    let states: Vec<String> = request.states_filter.iter().map(ToString::to_string).collect();
    let types: Vec<String> = request.types_filter.iter().map(ToString::to_string).collect();
    let groups = coordinator
        .list(&states, &types)
        .into_iter()
        .map(|listing| {
            let listed = ListedGroup::default()
                .with_group_id(GroupId(wire_string(listing.group_id)))
                .with_protocol_type(wire_string(listing.protocol_type));
            let listed = if context.version >= 4 {
                listed.with_group_state(wire_string(listing.state.name()))
            } else {
                listed
            };
            if context.version >= 5 {
                listed.with_group_type(wire_string("classic"))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
