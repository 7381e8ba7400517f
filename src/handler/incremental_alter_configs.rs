//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on topic configs and
//! dynamic broker configs (see [`crate::config::alter`] and [`crate::config::dynamic`]),
//! recorded in the metadata log and applied to the logs at once
//! ([`crate::broker::Broker::alter_topic_configs`], `alter_broker_configs`).
//!
//! Per resource, as Kafka answers: a resource named twice in one request is INVALID_REQUEST
//! each time; a missing topic UNKNOWN_TOPIC_OR_PARTITION; a broker resource must be this
//! broker's id or "" (the cluster default), and a key that cannot change live is
//! INVALID_REQUEST ("Cannot update these configs dynamically"). `validate_only` checks
//! without changing anything.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::RequestContext;
use super::alter_configs::{alter_resource, duplicated_resources};
use crate::config::alter::{AlterOp, ConfigChange, incremental_overrides};
use crate::error::Result;

pub async fn handle(
    context: &RequestContext<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|resource| (resource.resource_type, resource.resource_name.as_str())),
    );
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let changes = resource
            .configs
            .iter()
            .map(|config| {
                Ok(ConfigChange {
                    name: config.name.to_string(),
                    op: AlterOp::from_wire(config.config_operation)?,
                    value: config.value.as_ref().map(ToString::to_string),
                })
            })
            .collect::<Result<Vec<_>>>();
        let (error_code, error_message) = alter_resource(
            context,
            (resource.resource_type, &resource.resource_name),
            &duplicated,
            request.validate_only,
            |kind, current| incremental_overrides(kind, current, &changes?),
        )
        .await;
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone())
                .with_error_code(error_code)
                .with_error_message(error_message),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
