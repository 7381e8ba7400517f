//! DeleteGroups (key 42): deletes empty groups with their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::RequestContext;

pub async fn handle(
    context: &RequestContext<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let coordinator = context.broker.existing_group_coordinator().await;
    let results = request
        .groups_names
        .into_iter()
        .map(|group_id| {
            let result = match &coordinator {
                Ok(coordinator) => coordinator.delete_group(&group_id),
                Err(error) => Err(crate::error::Error::NotCoordinator(error.to_string())),
            };
            let error_code = match result {
                Ok(()) => 0,
                Err(error) => {
                    tracing::debug!(group = group_id.as_str(), %error, "group not deleted");
                    error.code()
                }
            };
            DeletableGroupResult::default().with_group_id(group_id).with_error_code(error_code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
