//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on topic configs
//! (see [`crate::config::alter`]), recorded in the metadata log and applied to the topic's
//! logs at once ([`crate::broker::Broker::alter_topic_configs`]).
//!
//! Per resource, as Kafka answers: a resource named twice in one request is INVALID_REQUEST
//! each time; a missing topic UNKNOWN_TOPIC_OR_PARTITION. Riffle has no dynamic broker
//! configs yet, so a broker resource is INVALID_REQUEST ("Cannot update these configs
//! dynamically"), Kafka's answer for a config that is not dynamic. `validate_only` checks
//! without changing anything.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use super::RequestContext;
use super::alter_configs::{alter_resource, duplicated_resources};
use crate::config::alter::{AlterOp, ConfigChange, incremental_topic_overrides};
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
            resource.configs.iter().map(|config| config.name.as_str()),
            |current| incremental_topic_overrides(current, &changes?),
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
