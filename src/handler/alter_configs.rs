//! AlterConfigs (key 33), the legacy form: the configs given replace every override of the
//! topic (those not given go back to their defaults). Same checks and answers as
//! [`super::incremental_alter_configs`].

use kafka_protocol::messages::alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use std::collections::HashMap;

use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::alter::replacement_topic_overrides;
use crate::error::{Error, Result};

pub async fn handle(
    context: &RequestContext<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
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
    AlterConfigsResponse::default().with_responses(responses)
}

async fn alter(
    context: &RequestContext<'_>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<()> {
    match resource.resource_type {
        RESOURCE_TOPIC => {
            let configs: Vec<(String, Option<String>)> = resource
                .configs
                .iter()
                .map(|config| {
                    (config.name.to_string(), config.value.as_ref().map(ToString::to_string))
                })
                .collect();
            context
                .broker
                .alter_topic_configs(&resource.resource_name, validate_only, |_| {
                    replacement_topic_overrides(&configs)
                })
                .await
        }
        RESOURCE_BROKER => Err(broker_refusal(
            context,
            &resource.resource_name,
            resource.configs.iter().map(|config| config.name.as_str()),
        )),
        other => Err(Error::InvalidRequest(format!("Unsupported resource type: {other}"))),
    }
}

/// The answer to any change of broker configs: Riffle has no dynamic broker configs yet.
/// Kafka answers a change of a static config with INVALID_REQUEST and this message.
pub fn broker_refusal<'a>(
    context: &RequestContext<'_>,
    name: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Error {
    let node_id = context.broker.node_id();
    if !name.is_empty() && name.parse::<i32>().ok() != Some(node_id) {
        return Error::InvalidRequest(format!(
            "Unexpected broker id, expected {node_id} or empty string, but received {name}"
        ));
    }
    let keys: Vec<&str> = keys.collect();
    Error::InvalidRequest(format!("Cannot update these configs dynamically: {}", keys.join(", ")))
}
