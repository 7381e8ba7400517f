//! Topic creation and deletion as the controller decides them: validation in Kafka's order
//! (`ControllerApis`, `ReplicationControlManager.createTopics`) with Kafka's error codes and
//! messages, producing the records that make the change.

use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

use super::image::MetadataImage;
use super::records::{MetadataRecord, RESOURCE_TYPE_TOPIC};
use super::topic_name;
use crate::config::topic as topic_config;
use crate::error::{Error, Result};
use crate::limits::{PARTITIONS_PER_TOPIC_MAX, PARTITIONS_TOTAL_MAX};
use crate::types::{SINGLE_NODE_LEADER_EPOCH, uuid_to_kafka_string};

/// A manual replica assignment for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaAssignment {
    pub partition: i32,
    pub broker_ids: Vec<i32>,
}

/// A CreateTopics entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    /// -1 for the broker's `num.partitions`.
    pub num_partitions: i32,
    /// -1 for the broker's `default.replication.factor`.
    pub replication_factor: i16,
    pub assignments: Vec<ReplicaAssignment>,
    pub configs: Vec<(String, Option<String>)>,
}

impl TopicSpec {
    /// A spec with broker defaults (auto-creation).
    pub fn with_defaults(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: Vec::new(),
        }
    }
}

/// A validated topic creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPlan {
    pub name: String,
    pub topic_id: Uuid,
    /// Replicas per partition.
    pub replicas: Vec<Vec<i32>>,
    pub configs: BTreeMap<String, String>,
}

impl TopicPlan {
    pub fn records(&self) -> Vec<MetadataRecord> {
        let mut records =
            vec![MetadataRecord::Topic { name: self.name.clone(), topic_id: self.topic_id }];
        for (partition, replicas) in self.replicas.iter().enumerate() {
            records.push(MetadataRecord::Partition {
                topic_id: self.topic_id,
                partition: i32::try_from(partition).expect("bounded by PARTITIONS_PER_TOPIC_MAX"),
                leader: replicas[0],
                replicas: replicas.clone(),
                leader_epoch: SINGLE_NODE_LEADER_EPOCH,
            });
        }
        for (name, value) in &self.configs {
            records.push(MetadataRecord::Config {
                resource_type: RESOURCE_TYPE_TOPIC,
                resource_name: self.name.clone(),
                name: name.clone(),
                value: Some(value.clone()),
            });
        }
        records
    }

    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.replicas.len()).expect("bounded by PARTITIONS_PER_TOPIC_MAX")
    }

    pub fn replication_factor(&self) -> i16 {
        self.replicas
            .first()
            .map_or(0, |replicas| i16::try_from(replicas.len()).unwrap_or(i16::MAX))
    }
}

/// A CreatePartitions entry: the new total count, and optionally the replicas of each added
/// partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionIncrease {
    pub name: String,
    pub count: i32,
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// A validated partition increase: the records adding the partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionIncreasePlan {
    pub name: String,
    pub topic_id: Uuid,
    pub count: i32,
    pub records: Vec<MetadataRecord>,
}

/// Validates partition increases in order, in Kafka's order and with its messages
/// (`ReplicationControlManager.createPartitions`). Increases planned earlier in the request
/// count towards the broker's partition limit for later ones.
pub fn plan_partition_increases(
    context: &CreationContext<'_>,
    increases: &[PartitionIncrease],
) -> Vec<Result<PartitionIncreasePlan>> {
    let mut planned_partitions = context.image.total_partitions();
    increases
        .iter()
        .map(|increase| {
            let plan = plan_increase(context, increase, planned_partitions);
            if let Ok(plan) = &plan {
                planned_partitions += plan.records.len();
            }
            plan
        })
        .collect()
}

fn plan_increase(
    context: &CreationContext<'_>,
    increase: &PartitionIncrease,
    planned_partitions: usize,
) -> Result<PartitionIncreasePlan> {
    let topic = context
        .image
        .topic(&increase.name)
        .ok_or_else(|| Error::UnknownTopicOrPartition(increase.name.clone()))?;
    let current = topic.partition_count();
    if increase.count == current {
        return Err(Error::InvalidPartitions(format!("Topic already has {current} partition(s).")));
    }
    if increase.count < current {
        return Err(Error::InvalidPartitions(format!(
            "The topic {} currently has {current} partition(s); {} would not be an increase.",
            increase.name, increase.count
        )));
    }
    if increase.count > PARTITIONS_PER_TOPIC_MAX {
        return Err(Error::InvalidPartitions(format!(
            "Number of partitions {} exceeds this broker's limit of {PARTITIONS_PER_TOPIC_MAX} per topic",
            increase.count
        )));
    }
    let additional = usize::try_from(increase.count - current).expect("an increase");
    if planned_partitions + additional > PARTITIONS_TOTAL_MAX {
        return Err(Error::InvalidPartitions(format!(
            "Adding {additional} partitions would exceed this broker's limit of {PARTITIONS_TOTAL_MAX} partitions"
        )));
    }
    let factor = topic.partitions.first().map_or(1, |partition| partition.replicas.len());
    let replicas: Vec<Vec<i32>> = match &increase.assignments {
        Some(assignments) => {
            if assignments.len() != additional {
                return Err(Error::InvalidReplicaAssignment(format!(
                    "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                    assignments.len()
                )));
            }
            let mut checked = Vec::with_capacity(additional);
            for assignment in assignments {
                let replicas = check_replicas(context, assignment)?;
                if replicas.len() != factor {
                    return Err(Error::InvalidReplicaAssignment(format!(
                        "The manual partition assignment includes a partition with {} replica(s), but this is \
                         not consistent with previous partitions, which have {factor} replica(s).",
                        replicas.len()
                    )));
                }
                checked.push(replicas);
            }
            checked
        }
        None => (0..additional)
            .map(|offset| {
                (0..factor)
                    .map(|replica| {
                        let index =
                            usize::try_from(current).expect("non-negative") + offset + replica;
                        context.brokers[index % context.brokers.len()]
                    })
                    .collect()
            })
            .collect(),
    };
    let records = (current..)
        .zip(replicas)
        .map(|(partition, replicas)| MetadataRecord::Partition {
            topic_id: topic.topic_id,
            partition,
            leader: replicas[0],
            replicas,
            leader_epoch: SINGLE_NODE_LEADER_EPOCH,
        })
        .collect();
    Ok(PartitionIncreasePlan {
        name: increase.name.clone(),
        topic_id: topic.topic_id,
        count: increase.count,
        records,
    })
}

/// The broker facts topic creation depends on.
#[derive(Debug, Clone)]
pub struct CreationContext<'a> {
    pub image: &'a MetadataImage,
    pub brokers: &'a [i32],
    pub default_partitions: i32,
    pub default_replication_factor: i16,
}

/// Validates `specs` in order against the image and each other. Topics planned earlier in
/// the same request count as existing for later ones.
pub fn plan_creations(
    context: &CreationContext<'_>,
    specs: &[TopicSpec],
) -> Vec<Result<TopicPlan>> {
    let mut taken_names: HashSet<String> = HashSet::new();
    let mut collision_keys: BTreeMap<String, String> = context
        .image
        .topics
        .keys()
        .map(|name| (topic_name::collision_key(name), name.clone()))
        .collect();
    let mut planned_partitions = context.image.total_partitions();
    let mut plans = Vec::with_capacity(specs.len());
    for spec in specs {
        let plan = plan_one(context, spec, &taken_names, &collision_keys, planned_partitions);
        if let Ok(plan) = &plan {
            taken_names.insert(plan.name.clone());
            collision_keys.insert(topic_name::collision_key(&plan.name), plan.name.clone());
            planned_partitions += plan.replicas.len();
        }
        plans.push(plan);
    }
    plans
}

fn plan_one(
    context: &CreationContext<'_>,
    spec: &TopicSpec,
    taken_names: &HashSet<String>,
    collision_keys: &BTreeMap<String, String>,
    planned_partitions: usize,
) -> Result<TopicPlan> {
    topic_name::validate(&spec.name)?;
    topic_name::check_creatable(&spec.name)?;
    if context.image.topic(&spec.name).is_some() || taken_names.contains(&spec.name) {
        return Err(Error::TopicAlreadyExists(spec.name.clone()));
    }
    if let Some(existing) = collision_keys.get(&topic_name::collision_key(&spec.name)) {
        return Err(Error::InvalidTopic(format!(
            "Topic '{}' collides with existing topic: {existing}",
            spec.name
        )));
    }
    let replicas = if spec.assignments.is_empty() {
        default_assignment(context, spec)?
    } else {
        manual_assignment(context, spec)?
    };
    if planned_partitions + replicas.len() > PARTITIONS_TOTAL_MAX {
        return Err(Error::InvalidPartitions(format!(
            "Creating {} partitions would exceed this broker's limit of {PARTITIONS_TOTAL_MAX} partitions",
            replicas.len()
        )));
    }
    let configs = validate_configs(&spec.configs)?;
    Ok(TopicPlan { name: spec.name.clone(), topic_id: new_topic_id(), replicas, configs })
}

fn default_assignment(context: &CreationContext<'_>, spec: &TopicSpec) -> Result<Vec<Vec<i32>>> {
    let partitions = match spec.num_partitions {
        -1 => context.default_partitions,
        count if count <= 0 => {
            return Err(Error::InvalidPartitions(
                "Number of partitions was set to an invalid non-positive value.".into(),
            ));
        }
        count => count,
    };
    if partitions > PARTITIONS_PER_TOPIC_MAX {
        return Err(Error::InvalidPartitions(format!(
            "Number of partitions {partitions} exceeds this broker's limit of {PARTITIONS_PER_TOPIC_MAX} per topic"
        )));
    }
    let replication_factor = match spec.replication_factor {
        -1 => context.default_replication_factor,
        factor if factor <= 0 => {
            return Err(Error::InvalidReplicationFactor(
                "Replication factor must be larger than 0, or -1 to use the default value.".into(),
            ));
        }
        factor => factor,
    };
    let factor = usize::try_from(replication_factor).expect("positive");
    if factor > context.brokers.len() {
        return Err(Error::InvalidReplicationFactor(format!(
            "Unable to replicate the partition {replication_factor} time(s): The target replication factor of \
             {replication_factor} cannot be reached because only {} broker(s) are registered.",
            context.brokers.len()
        )));
    }
    let count = usize::try_from(partitions).expect("positive");
    Ok((0..count)
        .map(|partition| {
            (0..factor)
                .map(|replica| context.brokers[(partition + replica) % context.brokers.len()])
                .collect()
        })
        .collect())
}

fn manual_assignment(context: &CreationContext<'_>, spec: &TopicSpec) -> Result<Vec<Vec<i32>>> {
    if spec.replication_factor != -1 {
        return Err(Error::InvalidRequest(
            "A manual partition assignment was specified, but replicationFactor was not set to -1."
                .into(),
        ));
    }
    if spec.num_partitions != -1 {
        return Err(Error::InvalidRequest(
            "A manual partition assignment was specified, but numPartitions was not set to -1."
                .into(),
        ));
    }
    if spec.assignments.len() > usize::try_from(PARTITIONS_PER_TOPIC_MAX).expect("positive") {
        return Err(Error::InvalidPartitions(format!(
            "Number of partitions {} exceeds this broker's limit of {PARTITIONS_PER_TOPIC_MAX} per topic",
            spec.assignments.len()
        )));
    }
    let mut sorted: Vec<&ReplicaAssignment> = spec.assignments.iter().collect();
    sorted.sort_by_key(|assignment| assignment.partition);
    let mut replicas = Vec::with_capacity(sorted.len());
    for (expected, assignment) in (0..).zip(&sorted) {
        if assignment.partition != expected {
            return Err(Error::InvalidReplicaAssignment(
                "partitions should be a consecutive 0-based integer sequence".into(),
            ));
        }
        replicas.push(check_replicas(context, &assignment.broker_ids)?);
    }
    Ok(replicas)
}

fn check_replicas(context: &CreationContext<'_>, broker_ids: &[i32]) -> Result<Vec<i32>> {
    if broker_ids.is_empty() {
        return Err(Error::InvalidReplicaAssignment(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    let mut seen = HashSet::new();
    for broker in broker_ids {
        if !context.brokers.contains(broker) {
            return Err(Error::InvalidReplicaAssignment(format!(
                "The manual partition assignment includes broker {broker}, but no such broker is registered."
            )));
        }
        if !seen.insert(broker) {
            return Err(Error::InvalidReplicaAssignment(format!(
                "The manual partition assignment includes the broker {broker} more than once."
            )));
        }
    }
    Ok(broker_ids.to_vec())
}

fn validate_configs(configs: &[(String, Option<String>)]) -> Result<BTreeMap<String, String>> {
    let mut validated = BTreeMap::new();
    for (name, value) in configs {
        topic_config::validate(name, value.as_deref())?;
        let value = value.clone().expect("validate refuses null");
        if validated.insert(name.clone(), value).is_some() {
            return Err(Error::InvalidRequest(format!("Duplicate config key {name}")));
        }
    }
    Ok(validated)
}

/// A random topic id whose text form does not start with '-' (Kafka's `Uuid.randomUuid`
/// avoids those because command-line tools would read them as flags).
fn new_topic_id() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        if !uuid_to_kafka_string(id).starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, partitions: i32, factor: i16) -> TopicSpec {
        TopicSpec {
            num_partitions: partitions,
            replication_factor: factor,
            ..TopicSpec::with_defaults(name)
        }
    }

    fn plan(image: &MetadataImage, specs: &[TopicSpec]) -> Vec<Result<TopicPlan>> {
        let context = CreationContext {
            image,
            brokers: &[1],
            default_partitions: 3,
            default_replication_factor: 1,
        };
        plan_creations(&context, specs)
    }

    fn code(result: &Result<TopicPlan>) -> i16 {
        result.as_ref().err().map_or(0, Error::code)
    }

    #[test]
    fn defaults_and_explicit_counts() {
        let plans = plan(&MetadataImage::default(), &[spec("a", -1, -1), spec("b", 6, 1)]);
        assert_eq!(plans[0].as_ref().unwrap().partition_count(), 3);
        assert_eq!(plans[1].as_ref().unwrap().partition_count(), 6);
        assert_eq!(plans[1].as_ref().unwrap().replicas[5], vec![1]);
        let records = plans[1].as_ref().unwrap().records();
        assert_eq!(records.len(), 7);
    }

    #[test]
    fn kafka_error_codes() {
        let image = MetadataImage::default();
        let cases = [
            (spec("bad name", 1, 1), 17),
            (spec("zero", 0, 1), 37),
            (spec("negative", -5, 1), 37),
            (spec("huge", PARTITIONS_PER_TOPIC_MAX + 1, 1), 37),
            (spec("factor0", 1, 0), 38),
            (spec("factor3", 1, 3), 38),
        ];
        let cases = cases.into_iter().chain([(spec("__cluster_metadata", 1, 1), 42)]);
        for (spec, expected) in cases {
            let results = plan(&image, std::slice::from_ref(&spec));
            assert_eq!(code(&results[0]), expected, "{}", spec.name);
        }
        let factor = plan(&image, &[spec("f", 1, 3)]);
        assert!(
            factor[0].as_ref().unwrap_err().to_string().contains("only 1 broker(s) are registered")
        );
    }

    #[test]
    fn exists_and_collides_including_within_one_request() {
        let plans = plan(
            &MetadataImage::default(),
            &[spec("a.b", 1, 1), spec("a.b", 1, 1), spec("a_b", 1, 1)],
        );
        assert_eq!(code(&plans[0]), 0);
        assert_eq!(code(&plans[1]), 36);
        assert_eq!(code(&plans[2]), 17);
        assert!(
            plans[2]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("collides with existing topic: a.b")
        );
    }

    #[test]
    fn manual_assignments() {
        let image = MetadataImage::default();
        let with = |assignments: Vec<(i32, Vec<i32>)>, partitions, factor| TopicSpec {
            assignments: assignments
                .into_iter()
                .map(|(partition, broker_ids)| ReplicaAssignment { partition, broker_ids })
                .collect(),
            ..spec("m", partitions, factor)
        };
        assert_eq!(
            plan(&image, &[with(vec![(1, vec![1]), (0, vec![1])], -1, -1)])[0]
                .as_ref()
                .unwrap()
                .partition_count(),
            2
        );
        assert_eq!(code(&plan(&image, &[with(vec![(0, vec![1])], 1, -1)])[0]), 42);
        assert_eq!(code(&plan(&image, &[with(vec![(0, vec![1])], -1, 1)])[0]), 42);
        assert_eq!(code(&plan(&image, &[with(vec![(1, vec![1])], -1, -1)])[0]), 39);
        assert_eq!(code(&plan(&image, &[with(vec![(0, vec![2])], -1, -1)])[0]), 39);
        assert_eq!(code(&plan(&image, &[with(vec![(0, vec![])], -1, -1)])[0]), 39);
        assert_eq!(code(&plan(&image, &[with(vec![(0, vec![1, 1])], -1, -1)])[0]), 39);
    }

    #[test]
    fn configs_are_validated() {
        let image = MetadataImage::default();
        let with = |configs: Vec<(&str, Option<&str>)>| TopicSpec {
            configs: configs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.map(str::to_owned)))
                .collect(),
            ..spec("c", 1, 1)
        };
        let ok = plan(&image, &[with(vec![("cleanup.policy", Some("compact"))])]);
        assert_eq!(ok[0].as_ref().unwrap().configs["cleanup.policy"], "compact");
        assert_eq!(code(&plan(&image, &[with(vec![("nope", Some("1"))])])[0]), 40);
        assert_eq!(code(&plan(&image, &[with(vec![("segment.bytes", Some("x"))])])[0]), 40);
        assert_eq!(code(&plan(&image, &[with(vec![("segment.bytes", None)])])[0]), 40);
    }

    #[test]
    fn topic_ids_never_start_with_a_dash() {
        for _ in 0..1000 {
            assert!(!uuid_to_kafka_string(new_topic_id()).starts_with('-'));
        }
    }
}
