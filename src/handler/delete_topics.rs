//! DeleteTopics (key 20): by name (v0-5) or by name or id (v6).
//!
//! As Kafka's `ControllerApis.deleteTopics`: a name or id given twice, or a v6 entry naming
//! both or neither, is INVALID_REQUEST; unknown names are UNKNOWN_TOPIC_OR_PARTITION and
//! unknown ids UNKNOWN_TOPIC_ID. A deleted topic's data is removed from disk.

use std::collections::HashSet;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::RequestContext;
use crate::metadata::TopicTarget;

/// One entry of the request, checked.
enum Entry {
    Target(TopicTarget),
    Invalid { name: Option<TopicName>, topic_id: Uuid, message: &'static str },
}

pub async fn handle(
    context: &RequestContext<'_>,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let entries = entries(context.version, &request);
    let targets: Vec<TopicTarget> = entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Target(target) => Some(target.clone()),
            Entry::Invalid { .. } => None,
        })
        .collect();
    let mut results = context.broker.delete_topics(&targets).await.into_iter();
    let responses = entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Invalid { name, topic_id, message } => DeletableTopicResult::default()
                .with_name(name)
                .with_topic_id(topic_id)
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(Some(StrBytes::from_static_str(message))),
            Entry::Target(target) => {
                let result = results.next().expect("one result per target");
                let (name, topic_id) = match (&target, &result) {
                    (_, Ok(topic)) => (Some(topic.name.clone()), topic.topic_id),
                    (TopicTarget::Name(name), Err(_)) => (Some(name.clone()), Uuid::nil()),
                    (TopicTarget::Id(id), Err(_)) => (None, *id),
                };
                let response = DeletableTopicResult::default()
                    .with_name(name.map(|name| TopicName(StrBytes::from_string(name))))
                    .with_topic_id(topic_id);
                match result {
                    Ok(_) => response,
                    Err(error) => response
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_string(error.message()))),
                }
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

fn entries(version: i16, request: &DeleteTopicsRequest) -> Vec<Entry> {
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let pairs: Vec<(Option<TopicName>, Uuid)> = if version >= 6 {
        request.topics.iter().map(|topic| (topic.name.clone(), topic.topic_id)).collect()
    } else {
        request.topic_names.iter().map(|name| (Some(name.clone()), Uuid::nil())).collect()
    };
    let duplicated_names: HashSet<String> = pairs
        .iter()
        .filter_map(|(name, _)| name.as_ref().map(|name| name.as_str().to_owned()))
        .filter(|name| !names.insert(name.clone()))
        .collect();
    let duplicated_ids: HashSet<Uuid> =
        pairs.iter().map(|(_, id)| *id).filter(|id| !id.is_nil() && !ids.insert(*id)).collect();
    pairs
        .into_iter()
        .map(|(name, topic_id)| {
            let invalid = |message| Entry::Invalid { name: name.clone(), topic_id, message };
            match (&name, topic_id.is_nil()) {
                (Some(_), false) => invalid("Topic name and topic id cannot both be set."),
                (None, true) => invalid("Neither topic name nor id were specified."),
                (Some(topic), true) if duplicated_names.contains(topic.as_str()) => {
                    invalid("Duplicate topic name.")
                }
                (None, false) if duplicated_ids.contains(&topic_id) => {
                    invalid("Duplicate topic id.")
                }
                (Some(topic), true) => Entry::Target(TopicTarget::Name(topic.to_string())),
                (None, false) => Entry::Target(TopicTarget::Id(topic_id)),
            }
        })
        .collect()
}
