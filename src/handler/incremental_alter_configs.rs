//! IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on topic configs
//! (see [`crate::config::alter`]), recorded in the metadata log and applied to the topic's
//! logs at once ([`crate::broker::Broker::alter_topic_configs`]).
//!
//! Per resource, as Kafka answers: a resource named twice in one request is INVALID_REQUEST
//! each time; a missing topic UNKNOWN_TOPIC_OR_PARTITION. Riffle has no dynamic broker
//! configs yet, so a broker resource is INVALID_REQUEST ("Cannot update these configs
//! dynamically"), Kafka's answer for a config that is not dynamic. `validate_only` checks
//! without changing anything.

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use std::collections::HashMap;

use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::alter::{AlterOp, ConfigChange, incremental_topic_overrides};
use crate::error::{Error, Result};

pub async fn handle(
    context: &RequestContext<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut occurrences: HashMap<(i8, &str), usize> = HashMap::new();
    for resource in &request.resources {
        *occurrences
            .entry((resource.resource_type, resource.resource_name.as_str()))
            .or_default() += 1;
    }
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let duplicated =
            occurrences[&(resource.resource_type, resource.resource_name.as_str())] > 1;
        let result = if duplicated {
            Err(Error::InvalidRequest("Duplicate resource.".into()))
        } else {
            alter(context, resource, request.validate_only).await
        };
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        responses.push(match result {
            Ok(()) => response,
            Err(error) => {
                tracing::info!(resource_type = resource.resource_type, resource = resource.resource_name.as_str(), %error, "config change refused");
                response
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(error.message())))
            }
        });
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

async fn alter(
    context: &RequestContext<'_>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<()> {
    match resource.resource_type {
        RESOURCE_TOPIC => {
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
                .collect::<Result<Vec<_>>>()?;
            context
                .broker
                .alter_topic_configs(&resource.resource_name, validate_only, |current| {
                    incremental_topic_overrides(current, &changes)
                })
                .await
        }
        RESOURCE_BROKER => Err(super::alter_configs::broker_refusal(
            context,
            &resource.resource_name,
            resource.configs.iter().map(|config| config.name.as_str()),
        )),
        other => Err(Error::InvalidRequest(format!("Unsupported resource type: {other}"))),
    }
}
