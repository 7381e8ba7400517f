//! AlterConfigs (key 33), the legacy form: the configs given replace every override of the
//! topic (those not given go back to their defaults). Same checks and answers as
//! [`super::incremental_alter_configs`], whose per-resource handling is shared here
//! ([`alter_resource`]).

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::alter::replacement_topic_overrides;
use crate::error::{Error, Result};

pub async fn handle(
    context: &RequestContext<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|resource| (resource.resource_type, resource.resource_name.as_str())),
    );
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let configs: Vec<(String, Option<String>)> = resource
            .configs
            .iter()
            .map(|config| (config.name.to_string(), config.value.as_ref().map(ToString::to_string)))
            .collect();
        let (error_code, error_message) = alter_resource(
            context,
            (resource.resource_type, &resource.resource_name),
            &duplicated,
            request.validate_only,
            resource.configs.iter().map(|config| config.name.as_str()),
            |_| replacement_topic_overrides(&configs),
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
    AlterConfigsResponse::default().with_responses(responses)
}

/// A request's resources by (type, name), each with how often the request names it.
pub type Occurrences<'a> = HashMap<(i8, &'a str), usize>;

/// Counts each (type, name) once, so a resource named twice can be refused each time.
pub fn duplicated_resources<'a>(resources: impl Iterator<Item = (i8, &'a str)>) -> Occurrences<'a> {
    let mut occurrences = HashMap::new();
    for resource in resources {
        *occurrences.entry(resource).or_default() += 1;
    }
    occurrences
}

/// Changes one resource's configs and returns its answer's error code and message. A topic
/// gets the overrides `plan` works out from the current ones; a resource named twice is
/// INVALID_REQUEST; broker resources are refused ([`broker_refusal`]), other types
/// INVALID_REQUEST.
pub async fn alter_resource<'a>(
    context: &RequestContext<'_>,
    (resource_type, name): (i8, &str),
    occurrences: &Occurrences<'_>,
    validate_only: bool,
    keys: impl Iterator<Item = &'a str>,
    plan: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>>,
) -> (i16, Option<StrBytes>) {
    let result = if occurrences.get(&(resource_type, name)).copied().unwrap_or(0) > 1 {
        Err(Error::InvalidRequest("Duplicate resource.".into()))
    } else {
        match resource_type {
            RESOURCE_TOPIC => context.broker.alter_topic_configs(name, validate_only, plan).await,
            RESOURCE_BROKER => Err(broker_refusal(context, name, keys)),
            other => Err(Error::InvalidRequest(format!("Unsupported resource type: {other}"))),
        }
    };
    match result {
        Ok(()) => (0, None),
        Err(error) => {
            tracing::info!(resource_type, resource = name, %error, "config change refused");
            (error.code(), Some(StrBytes::from_string(error.message())))
        }
    }
}

/// The answer to any change of broker configs: Riffle has no dynamic broker configs yet.
/// Kafka answers a change of a static config with INVALID_REQUEST and this message.
fn broker_refusal<'a>(
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
