//! Heartbeat (key 12): keeps a member's session alive and tells it when to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::RequestContext;

pub async fn handle(context: &RequestContext<'_>, request: HeartbeatRequest) -> HeartbeatResponse {
    let result = match context.broker.existing_group_coordinator().await {
        Ok(coordinator) => coordinator.heartbeat(
            &request.group_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        ),
        Err(error) => Err(error),
    };
    let error_code = match result {
        Ok(()) => 0,
        Err(error) => {
            tracing::debug!(group = request.group_id.as_str(), member_id = request.member_id.as_str(), %error, "heartbeat refused");
            error.code()
        }
    };
    HeartbeatResponse::default().with_error_code(error_code)
}
