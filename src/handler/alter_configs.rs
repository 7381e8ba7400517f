//! AlterConfigs (key 33), the legacy form: the configs given replace every override of the
//! topic, or every dynamic config of the broker resource (those not given go back to their
//! defaults). Same checks and answers as
//! [`super::incremental_alter_configs`], whose per-resource handling is shared here
//! ([`alter_resource`]).

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::config::alter::{ConfigKind, TopicConfigs, replacement_overrides};
use crate::config::dynamic::DynamicBrokerConfigs;
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
            |kind, _| replacement_overrides(kind, &configs),
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
/// or broker resource gets the configs `plan` works out from the current ones with the
/// resource type's [`ConfigKind`]; a resource named twice is INVALID_REQUEST, and so are
/// other resource types.
pub async fn alter_resource(
    context: &RequestContext<'_>,
    (resource_type, name): (i8, &str),
    occurrences: &Occurrences<'_>,
    validate_only: bool,
    plan: impl FnOnce(&dyn ConfigKind, &BTreeMap<String, String>) -> Result<BTreeMap<String, String>>,
) -> (i16, Option<StrBytes>) {
    let broker = context.broker;
    let result = if occurrences.get(&(resource_type, name)).copied().unwrap_or(0) > 1 {
        Err(Error::InvalidRequest("Duplicate resource.".into()))
    } else {
        match resource_type {
            RESOURCE_TOPIC => {
                broker
                    .alter_topic_configs(name, validate_only, |current| {
                        plan(&TopicConfigs, current)
                    })
                    .await
            }
            RESOURCE_BROKER => {
                broker
                    .alter_broker_configs(name, validate_only, |current| {
                        plan(&DynamicBrokerConfigs, current)
                    })
                    .await
            }
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
