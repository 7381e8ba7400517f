//! CreateTopics (key 19).
//!
//! A name given twice in one request fails every time it appears with INVALID_REQUEST
//! ("Duplicate topic name.", Kafka's `ControllerApis`); the rest are created (or, with
//! `validate_only`, only checked) by the controller with Kafka's error codes. From v5 a
//! created topic's answer lists its partition count, replication factor and every config
//! with its source. `timeout_ms` does not matter: creation completes before the answer.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestContext;
use crate::config::topic::TopicDefaults;
use crate::error::Result;
use crate::metadata::{ReplicaAssignment, TopicPlan, TopicSpec};

pub async fn handle(
    context: &RequestContext<'_>,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let duplicates = duplicate_names(&request);
    let specs: Vec<TopicSpec> = request
        .topics
        .iter()
        .filter(|topic| !duplicates.contains(topic.name.as_str()))
        .map(spec)
        .collect();
    let mut results = context.broker.create_topics(&specs, request.validate_only).await.into_iter();
    let mut answered = HashSet::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        if !answered.insert(topic.name.as_str()) {
            continue;
        }
        let result = if duplicates.contains(topic.name.as_str()) {
            let message = StrBytes::from_static_str("Duplicate topic name.");
            failure(topic.name.clone(), ResponseError::InvalidRequest.code(), message)
        } else {
            let outcome = results.next().expect("one result per spec");
            topic_result(context, topic.name.clone(), outcome)
        };
        topics.push(result);
    }
    CreateTopicsResponse::default().with_topics(topics)
}

fn duplicate_names(request: &CreateTopicsRequest) -> HashSet<&str> {
    let mut seen = HashSet::new();
    request
        .topics
        .iter()
        .map(|topic| topic.name.as_str())
        .filter(|name| !seen.insert(*name))
        .collect()
}

fn spec(topic: &kafka_protocol::messages::create_topics_request::CreatableTopic) -> TopicSpec {
    TopicSpec {
        name: topic.name.to_string(),
        num_partitions: topic.num_partitions,
        replication_factor: topic.replication_factor,
        assignments: topic
            .assignments
            .iter()
            .map(|assignment| ReplicaAssignment {
                partition: assignment.partition_index,
                broker_ids: assignment.broker_ids.iter().map(|id| id.0).collect(),
            })
            .collect(),
        configs: topic
            .configs
            .iter()
            .map(|config| (config.name.to_string(), config.value.as_ref().map(ToString::to_string)))
            .collect(),
    }
}

fn topic_result(
    context: &RequestContext<'_>,
    name: TopicName,
    outcome: Result<TopicPlan>,
) -> CreatableTopicResult {
    match outcome {
        Ok(plan) => {
            let result = CreatableTopicResult::default()
                .with_name(name)
                .with_topic_id(plan.topic_id)
                .with_num_partitions(plan.partition_count())
                .with_replication_factor(plan.replication_factor());
            if context.version >= 5 {
                result.with_configs(Some(configs(&context.broker.topic_defaults(), &plan.configs)))
            } else {
                result
            }
        }
        Err(error) => {
            tracing::info!(topic = %name.0, %error, "topic not created");
            failure(name, error.code(), StrBytes::from_string(error.message()))
        }
    }
}

fn failure(name: TopicName, error_code: i16, message: StrBytes) -> CreatableTopicResult {
    CreatableTopicResult::default()
        .with_name(name)
        .with_error_code(error_code)
        .with_error_message(Some(message))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_configs(None)
}

/// Every topic config with its effective value and where it came from.
fn configs(
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    crate::config::describe::topic_entries(defaults, overrides)
        .into_iter()
        .map(|entry| {
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_static_str(entry.name))
                .with_value(entry.value.map(StrBytes::from_string))
                .with_read_only(entry.read_only)
                .with_config_source(entry.source.wire())
        })
        .collect()
}
