//! Metadata (key 3): brokers, cluster id, controller, and topics with their partitions.
//!
//! Which topics: v0 sends an empty list for "all"; v1+ sends null for "all" and an empty
//! list for "none". v10 and v11 carry topic ids in the schema but Kafka refuses them
//! (INVALID_REQUEST for every topic); v12 looks topics up by id when the name is null.
//!
//! Auto-creation: a missing topic is created with the broker defaults when the request allows
//! it (v4+, always before) and `auto.create.topics.enable` is on. Kafka's KRaft brokers create
//! asynchronously and answer UNKNOWN_TOPIC_OR_PARTITION the first time; Riffle creates the
//! topic before answering and returns it, which every client handles and saves a round trip.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{
    CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED, RequestContext, TOPIC_OPERATIONS,
    authorized_operations,
};
use crate::error::Error;
use crate::metadata::{TopicImage, TopicSpec, topic_name};

/// What the request asks about each topic.
enum Wanted {
    Name(String),
    Id(Uuid),
}

pub async fn handle(context: &RequestContext<'_>, request: MetadataRequest) -> MetadataResponse {
    let version = context.version;
    let broker = context.broker;
    let topics = match requested_topics(version, &request) {
        Ok(None) => all_topics(context, request.include_topic_authorized_operations),
        Ok(Some(wanted)) => wanted_topics(context, &request, wanted).await,
        Err(topics) => topics,
    };
    let include_cluster_operations =
        (8..=10).contains(&version) && request.include_cluster_authorized_operations;
    let advertised = broker.advertised();
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.node_id()))
                .with_host(StrBytes::from_string(advertised.host.clone()))
                .with_port(i32::from(advertised.port)),
        ])
        .with_cluster_id(Some(StrBytes::from_string(broker.metadata().cluster_id().to_owned())))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_topics(topics)
        .with_cluster_authorized_operations(if include_cluster_operations {
            authorized_operations(CLUSTER_OPERATIONS)
        } else {
            OPERATIONS_NOT_REQUESTED
        })
}

/// `Ok(None)` for all topics; `Err` with the whole answer when the request is refused.
fn requested_topics(
    version: i16,
    request: &MetadataRequest,
) -> Result<Option<Vec<Wanted>>, Vec<MetadataResponseTopic>> {
    let Some(topics) = &request.topics else {
        return Ok(None);
    };
    if topics.is_empty() && version == 0 {
        return Ok(None);
    }
    let uses_ids = topics.iter().any(|topic| topic.name.is_none() || !topic.topic_id.is_nil());
    if uses_ids && version < 12 {
        tracing::warn!(version, "topic ids in a Metadata request below v12");
        let refused = topics
            .iter()
            .map(|topic| {
                let name =
                    topic.name.clone().unwrap_or_else(|| TopicName(StrBytes::from_static_str("")));
                error_topic(Some(name), topic.topic_id, ResponseError::InvalidRequest.code())
            })
            .collect();
        return Err(refused);
    }
    // Kafka treats the requested topics as a set: each is answered once.
    let mut seen_names = HashSet::new();
    let mut seen_ids = HashSet::new();
    Ok(Some(
        topics
            .iter()
            .filter_map(|topic| match &topic.name {
                Some(name) => {
                    seen_names.insert(name.as_str()).then(|| Wanted::Name(name.to_string()))
                }
                None => seen_ids.insert(topic.topic_id).then_some(Wanted::Id(topic.topic_id)),
            })
            .collect(),
    ))
}

fn all_topics(
    context: &RequestContext<'_>,
    include_operations: bool,
) -> Vec<MetadataResponseTopic> {
    let image = context.broker.metadata().image();
    image.topics.values().map(|topic| topic_metadata(context, topic, include_operations)).collect()
}

async fn wanted_topics(
    context: &RequestContext<'_>,
    request: &MetadataRequest,
    wanted: Vec<Wanted>,
) -> Vec<MetadataResponseTopic> {
    auto_create(context, request, &wanted).await;
    let image = context.broker.metadata().image();
    let include_operations = request.include_topic_authorized_operations;
    wanted
        .iter()
        .map(|wanted| match wanted {
            Wanted::Name(name) => match image.topic(name) {
                Some(topic) => topic_metadata(context, topic, include_operations),
                None => {
                    let code = if topic_name::validate(name).is_err() {
                        ResponseError::InvalidTopicException.code()
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    };
                    error_topic(
                        Some(TopicName(StrBytes::from_string(name.clone()))),
                        Uuid::nil(),
                        code,
                    )
                }
            },
            Wanted::Id(id) => match image.topic_by_id(*id) {
                Some(topic) => topic_metadata(context, topic, include_operations),
                None => error_topic(None, *id, ResponseError::UnknownTopicId.code()),
            },
        })
        .collect()
}

/// Creates missing, validly named topics if the request and the broker allow it.
async fn auto_create(context: &RequestContext<'_>, request: &MetadataRequest, wanted: &[Wanted]) {
    let allowed = context.version < 4 || request.allow_auto_topic_creation;
    if !allowed || !context.broker.config().auto_create_topics_enable {
        return;
    }
    let image = context.broker.metadata().image();
    let mut missing: BTreeMap<&str, TopicSpec> = BTreeMap::new();
    for wanted in wanted {
        if let Wanted::Name(name) = wanted
            && image.topic(name).is_none()
            && topic_name::validate(name).is_ok()
            && topic_name::check_creatable(name).is_ok()
        {
            missing.entry(name).or_insert_with(|| TopicSpec::with_defaults(name));
        }
    }
    if missing.is_empty() {
        return;
    }
    let specs: Vec<TopicSpec> = missing.into_values().collect();
    for (spec, result) in specs.iter().zip(context.broker.create_topics(&specs, false).await) {
        match result {
            Ok(_) => tracing::info!(topic = spec.name, "auto-created topic"),
            // A concurrent request created it first: the lookup that follows finds it.
            Err(Error::TopicAlreadyExists(_)) => {}
            Err(error) => tracing::warn!(topic = spec.name, %error, "auto-creation failed"),
        }
    }
}

fn topic_metadata(
    context: &RequestContext<'_>,
    topic: &TopicImage,
    include_operations: bool,
) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(index, partition)| {
            let replicas: Vec<BrokerId> =
                partition.replicas.iter().copied().map(BrokerId).collect();
            MetadataResponsePartition::default()
                .with_partition_index(i32::try_from(index).expect("partition count fits i32"))
                .with_leader_id(BrokerId(partition.leader))
                .with_leader_epoch(partition.leader_epoch)
                .with_isr_nodes(replicas.clone())
                .with_replica_nodes(replicas)
        })
        .collect();
    let operations = if include_operations && context.version >= 8 {
        authorized_operations(TOPIC_OPERATIONS)
    } else {
        OPERATIONS_NOT_REQUESTED
    };
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(topic.topic_id)
        .with_is_internal(topic.name == crate::coordinator::group::OFFSETS_TOPIC)
        .with_partitions(partitions)
        .with_topic_authorized_operations(operations)
}

fn error_topic(name: Option<TopicName>, topic_id: Uuid, error_code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(error_code)
        .with_name(name)
        .with_topic_id(topic_id)
}
