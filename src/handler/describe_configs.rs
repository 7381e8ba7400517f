//! DescribeConfigs (key 32): topic and broker configs with their values, sources, synonyms,
//! types and documentation (see [`crate::config::describe`]).
//!
//! Per resource, as Kafka's `ConfigHelper.describeConfigs`: a topic must have a legal name
//! (INVALID_TOPIC_EXCEPTION) and exist (UNKNOWN_TOPIC_OR_PARTITION). A broker resource is this
//! broker's id (every config, dynamic values first), or the empty name for the cluster-wide
//! dynamic defaults (only those set); another id is INVALID_REQUEST. Other resource types (broker loggers,
//! client metrics, groups) are INVALID_REQUEST: Riffle has none. `configuration_keys` picks
//! configs by name (unknown names are left out); null or empty asks for all. Synonyms come
//! with v1+ when `include_synonyms` is set, documentation with v3+ when asked. At most
//! [`DESCRIBE_CONFIGS_ENTRIES_MAX`] entries are answered; later resources get
//! INVALID_REQUEST.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::config::describe::{
    BrokerResource, ConfigEntry, broker_entries, topic_entries, wire_type,
};
use crate::error::{Error, Result};
use crate::limits::DESCRIBE_CONFIGS_ENTRIES_MAX;

/// `ConfigResource.Type` values.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

pub fn handle(
    context: &RequestContext<'_>,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let include_synonyms = request.include_synonyms;
    let include_documentation = context.version >= 3 && request.include_documentation;
    let mut answered = 0usize;
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let entries = if answered >= DESCRIBE_CONFIGS_ENTRIES_MAX {
                Err(Error::InvalidRequest(format!(
                    "more than {DESCRIBE_CONFIGS_ENTRIES_MAX} configs asked for in one request"
                )))
            } else {
                entries(context, resource)
            };
            match entries {
                Ok(entries) => {
                    let configs: Vec<_> = entries
                        .into_iter()
                        .filter(|entry| wanted(resource, entry.name))
                        .map(|entry| describe(entry, include_synonyms, include_documentation))
                        .collect();
                    answered += configs.len();
                    result.with_configs(configs)
                }
                Err(error) => {
                    tracing::debug!(resource_type = resource.resource_type, resource = resource.resource_name.as_str(), %error, "describe configs refused");
                    result
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_string(error.message())))
                }
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn entries(
    context: &RequestContext<'_>,
    resource: &DescribeConfigsResource,
) -> Result<Vec<ConfigEntry>> {
    let broker = context.broker;
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        RESOURCE_TOPIC => {
            crate::metadata::topic_name::validate(name)?;
            let image = broker.metadata().image();
            let topic =
                image.topic(name).ok_or_else(|| Error::UnknownTopicOrPartition(name.to_owned()))?;
            Ok(topic_entries(&broker.topic_defaults(), &topic.configs))
        }
        RESOURCE_BROKER if name.is_empty() => Ok(broker_entries(
            broker.config(),
            broker.topic_defaults().layers(),
            BrokerResource::ClusterDefault,
        )),
        RESOURCE_BROKER if name.parse::<i32>().ok() == Some(broker.node_id()) => {
            Ok(broker_entries(
                broker.config(),
                broker.topic_defaults().layers(),
                BrokerResource::ThisBroker,
            ))
        }
        RESOURCE_BROKER => Err(Error::InvalidRequest(format!(
            "Unexpected broker id, expected {} or empty string, but received {name}",
            broker.node_id()
        ))),
        other => Err(Error::InvalidRequest(format!("Unsupported resource type: {other}"))),
    }
}

fn wanted(resource: &DescribeConfigsResource, name: &str) -> bool {
    resource
        .configuration_keys
        .as_ref()
        .is_none_or(|keys| keys.is_empty() || keys.iter().any(|key| key.as_str() == name))
}

fn describe(
    entry: ConfigEntry,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let synonyms = if include_synonyms {
        entry
            .synonyms
            .into_iter()
            .map(|synonym| {
                DescribeConfigsSynonym::default()
                    .with_name(StrBytes::from_string(synonym.name))
                    .with_value(synonym.value.map(StrBytes::from_string))
                    .with_source(synonym.source.wire())
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_static_str(entry.name))
        .with_value(entry.value.map(StrBytes::from_string))
        .with_read_only(entry.read_only)
        .with_config_source(entry.source.wire())
        .with_is_sensitive(false)
        .with_synonyms(synonyms)
        .with_config_type(wire_type(entry.ty))
        .with_documentation(
            include_documentation.then(|| StrBytes::from_static_str(entry.documentation)),
        )
}
