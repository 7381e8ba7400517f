//! The broker: configuration, metadata and logs, and the operations that span them.
//!
//! Handlers call the broker; the broker calls the owning module. A topic change is written to
//! the metadata log first (durably), then materialized as partition logs; at start-up the
//! metadata image is replayed and every partition it names is opened, so a crash between the
//! two steps is repaired by the next start. Topic changes are serialized (both steps under one
//! lock), so the logs never lag behind a later change to the same name.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::dynamic::BrokerLayers;
use crate::config::topic::{LogConfig, TopicDefaults};
use crate::config::{BrokerConfig, HostPort};
use crate::coordinator::group::classic_group::GroupSettings;
use crate::coordinator::group::{CoordinatorSetup, GroupCoordinator, OFFSETS_TOPIC};
use crate::coordinator::producer_id_manager::ProducerIdManager;
use crate::error::{Error, Result};
use crate::log::LogManager;
use crate::log::partition_log::PartitionLog;
use crate::metadata::{
    MetadataImage, MetadataSettings, MetadataStore, PartitionIncrease, TopicImage, TopicPlan,
    TopicSpec, TopicTarget,
};

/// The topic config defaults over the static configs and the dynamic ones in `image`, with
/// broker resource `replaced.0`'s dynamic configs taken as `replaced.1` if given.
fn topic_defaults(
    config: &BrokerConfig,
    image: &MetadataImage,
    replaced: Option<(&str, &BTreeMap<String, String>)>,
) -> Result<TopicDefaults> {
    let layer = |resource: &str| match replaced {
        Some((name, next)) if name == resource => next.clone(),
        _ => image.broker_configs(resource),
    };
    TopicDefaults::from_layers(BrokerLayers {
        dynamic_broker: layer(&config.node_id.to_string()),
        dynamic_default: layer(""),
        static_config: config.static_configs().clone(),
    })
}

/// One broker.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    metadata: MetadataStore,
    logs: Arc<LogManager>,
    advertised: HostPort,
    topic_changes: tokio::sync::Mutex<()>,
    /// Topic config defaults over the static and dynamic broker configs; replaced whole when a
    /// dynamic broker config changes.
    topic_defaults: parking_lot::RwLock<Arc<TopicDefaults>>,
    fetch_response_budget: Arc<tokio::sync::Semaphore>,
    fetch_response_budget_bytes: usize,
    /// Opened on first use (creating `__consumer_offsets` as Kafka does) or at start-up if
    /// the topic exists.
    group_coordinator: tokio::sync::OnceCell<Arc<GroupCoordinator>>,
    producer_ids: ProducerIdManager,
    clock: Clock,
}

impl Broker {
    /// Opens the data directory: metadata replay, then every partition log. Blocking.
    pub fn open(config: BrokerConfig, clock: Clock, bound: SocketAddr) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let metadata = MetadataStore::open(
            &config.data_dir,
            MetadataSettings {
                node_id: config.node_id,
                default_partitions: config.num_partitions,
                default_replication_factor: config.default_replication_factor,
            },
            clock.clone(),
        )?;
        let logs = Arc::new(LogManager::open(&config.data_dir, clock.clone())?);
        let image = metadata.image();
        let topic_defaults = topic_defaults(&config, &image, None)?;
        for topic in image.topics.values() {
            let log_config = Arc::new(LogConfig::resolve(&topic_defaults, &topic.configs));
            logs.ensure_partitions(
                &topic.name,
                topic.topic_id,
                topic.partition_count(),
                &log_config,
            )?;
        }
        logs.finish_startup()?;
        let advertised = advertised_address(&config, bound);
        tracing::info!(
            node_id = config.node_id, topics = image.topics.len(), partitions = image.total_partitions(),
            advertised = %format!("{}:{}", advertised.host, advertised.port), "broker opened"
        );
        let budget = crate::limits::FETCH_RESPONSE_BUDGET_BYTES
            .max(usize::try_from(config.fetch_max_bytes).unwrap_or(0));
        Ok(Self {
            config,
            metadata,
            logs,
            advertised,
            topic_changes: tokio::sync::Mutex::new(()),
            topic_defaults: parking_lot::RwLock::new(Arc::new(topic_defaults)),
            fetch_response_budget: Arc::new(tokio::sync::Semaphore::new(budget)),
            fetch_response_budget_bytes: budget,
            group_coordinator: tokio::sync::OnceCell::new(),
            producer_ids: ProducerIdManager::default(),
            clock,
        })
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    pub fn metadata(&self) -> &MetadataStore {
        &self.metadata
    }

    /// The broker's wall clock (manual in tests).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn logs(&self) -> &Arc<LogManager> {
        &self.logs
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// The address clients are told to connect to.
    pub fn advertised(&self) -> &HostPort {
        &self.advertised
    }

    /// Memory budget for fetch responses (see [`crate::limits::FETCH_RESPONSE_BUDGET_BYTES`]).
    pub fn fetch_response_budget(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.fetch_response_budget
    }

    /// The size of the whole fetch response budget.
    pub fn fetch_response_budget_bytes(&self) -> usize {
        self.fetch_response_budget_bytes
    }

    /// The log of a partition this broker hosts.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<Arc<PartitionLog>> {
        self.logs.partition(topic, partition)
    }

    /// The topic config defaults now in force (static and dynamic broker configs).
    pub fn topic_defaults(&self) -> Arc<TopicDefaults> {
        Arc::clone(&self.topic_defaults.read())
    }

    /// The effective log config of a topic.
    pub fn log_config(&self, configs: &BTreeMap<String, String>) -> Arc<LogConfig> {
        Arc::new(LogConfig::resolve(&self.topic_defaults(), configs))
    }

    /// Creates topics: metadata first, then their partition logs.
    pub async fn create_topics(
        &self,
        specs: &[TopicSpec],
        validate_only: bool,
    ) -> Vec<Result<TopicPlan>> {
        let _serialized = self.topic_changes.lock().await;
        let mut results = self.metadata.create_topics(specs, validate_only).await;
        if validate_only {
            return results;
        }
        for result in &mut results {
            let Ok(plan) = result else { continue };
            let logs = Arc::clone(&self.logs);
            let (name, topic_id, count) =
                (plan.name.clone(), plan.topic_id, plan.partition_count());
            let log_config = self.log_config(&plan.configs);
            let opened = tokio::task::spawn_blocking(move || {
                logs.ensure_partitions(&name, topic_id, count, &log_config)
            })
            .await
            .map_err(|error| Error::Internal(format!("partition creation task failed: {error}")));
            if let Err(error) = opened.and_then(|opened| opened.map(drop)) {
                tracing::error!(topic = plan.name, %error, "creating partition logs failed");
                *result = Err(error);
            } else {
                tracing::info!(topic = plan.name, partitions = count, "topic created");
            }
        }
        results
    }

    /// Deletes topics: metadata first, then their data, then the offsets committed for them.
    /// `__consumer_offsets` cannot be deleted while the broker uses it.
    pub async fn delete_topics(&self, targets: &[TopicTarget]) -> Vec<Result<Arc<TopicImage>>> {
        let _serialized = self.topic_changes.lock().await;
        let image = self.metadata.image();
        let is_offsets_topic = |target: &TopicTarget| match target {
            TopicTarget::Name(name) => name == OFFSETS_TOPIC,
            TopicTarget::Id(id) => {
                image.topic_by_id(*id).is_some_and(|topic| topic.name == OFFSETS_TOPIC)
            }
        };
        let allowed: Vec<TopicTarget> =
            targets.iter().filter(|target| !is_offsets_topic(target)).cloned().collect();
        let mut deleted = self.metadata.delete_topics(&allowed).await.into_iter();
        let results: Vec<Result<Arc<TopicImage>>> = targets
            .iter()
            .map(|target| {
                if is_offsets_topic(target) {
                    Err(Error::InvalidRequest(format!(
                        "the internal topic {OFFSETS_TOPIC} cannot be deleted"
                    )))
                } else {
                    deleted.next().expect("one result per allowed target")
                }
            })
            .collect();
        for topic in results.iter().flatten() {
            let logs = Arc::clone(&self.logs);
            let name = topic.name.clone();
            let deleted = tokio::task::spawn_blocking(move || logs.delete_topic(&name)).await;
            match deleted {
                Ok(Ok(())) => tracing::info!(topic = topic.name, "topic deleted"),
                Ok(Err(error)) => {
                    tracing::error!(topic = topic.name, %error, "removing topic data failed")
                }
                Err(error) => {
                    tracing::error!(topic = topic.name, %error, "topic removal task failed")
                }
            }
        }
        if let Some(coordinator) = self.group_coordinator.get() {
            let topics: HashSet<String> =
                results.iter().flatten().map(|topic| topic.name.clone()).collect();
            if !topics.is_empty() {
                coordinator.remove_offsets_of_topics(&topics);
            }
        }
        results
    }

    /// The group coordinator, opened on first use: `__consumer_offsets` is created if missing
    /// (as Kafka does on the first FindCoordinator) and replayed.
    pub async fn group_coordinator(&self) -> Result<&Arc<GroupCoordinator>> {
        self.group_coordinator.get_or_try_init(|| self.open_group_coordinator()).await
    }

    /// The group coordinator for group APIs other than FindCoordinator: those do not create
    /// `__consumer_offsets` (a monitoring tool listing groups must not), so until the topic
    /// exists they get NOT_COORDINATOR and the client looks the coordinator up, as with Kafka.
    pub async fn existing_group_coordinator(&self) -> Result<&Arc<GroupCoordinator>> {
        if let Some(coordinator) = self.group_coordinator.get() {
            return Ok(coordinator);
        }
        if self.metadata.image().topic(OFFSETS_TOPIC).is_some() {
            return self.group_coordinator().await;
        }
        Err(Error::NotCoordinator(format!(
            "{OFFSETS_TOPIC} does not exist yet; use FindCoordinator"
        )))
    }

    /// Adds partitions to topics: metadata first, then the new partition logs. The
    /// partition count of `__consumer_offsets` is refused: it decides which partition
    /// coordinates each group.
    pub async fn create_partitions(
        &self,
        increases: &[PartitionIncrease],
        validate_only: bool,
    ) -> Vec<Result<()>> {
        let _serialized = self.topic_changes.lock().await;
        let allowed: Vec<PartitionIncrease> =
            increases.iter().filter(|increase| increase.name != OFFSETS_TOPIC).cloned().collect();
        let mut planned =
            self.metadata.create_partitions(&allowed, validate_only).await.into_iter();
        let mut results = Vec::with_capacity(increases.len());
        for increase in increases {
            if increase.name == OFFSETS_TOPIC {
                results.push(Err(Error::InvalidRequest(format!(
                    "the partition count of {OFFSETS_TOPIC} cannot change: it maps groups to coordinators"
                ))));
                continue;
            }
            let plan = match planned.next().expect("one result per allowed increase") {
                Ok(plan) => plan,
                Err(error) => {
                    results.push(Err(error));
                    continue;
                }
            };
            if validate_only {
                results.push(Ok(()));
                continue;
            }
            let image = self.metadata.image();
            let configs =
                image.topic(&plan.name).map(|topic| topic.configs.clone()).unwrap_or_default();
            let log_config = self.log_config(&configs);
            let logs = Arc::clone(&self.logs);
            let opened = tokio::task::spawn_blocking(move || {
                logs.ensure_partitions(&plan.name, plan.topic_id, plan.count, &log_config)
            })
            .await
            .map_err(|error| Error::Internal(format!("partition creation task failed: {error}")))
            .and_then(|opened| opened);
            results.push(opened.map(drop).inspect_err(|error| {
                tracing::error!(%error, "opening added partitions failed; the next start opens them");
            }));
        }
        results
    }

    /// Changes a topic's config overrides: `plan` computes (and validates) the new overrides
    /// from the current ones. Unless `validate_only`, they are written to the metadata log
    /// and then applied to the topic's partition logs, which use them from their next append.
    /// Serialized with topic creation and deletion.
    pub async fn alter_topic_configs(
        &self,
        topic: &str,
        validate_only: bool,
        plan: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>>,
    ) -> Result<()> {
        if topic.is_empty() {
            return Err(Error::InvalidRequest("Default topic resources are not allowed.".into()));
        }
        crate::metadata::topic_name::validate(topic)?;
        let _serialized = self.topic_changes.lock().await;
        let image = self.metadata.image();
        // As KRaft's ConfigurationControlManager: the change is validated before the topic's
        // existence is checked.
        let existing = image.topic(topic);
        let current = existing.map(|topic| topic.configs.clone()).unwrap_or_default();
        let next = plan(&current)?;
        if existing.is_none() {
            return Err(Error::UnknownTopicOrPartition(topic.to_owned()));
        }
        if validate_only || next == current {
            return Ok(());
        }
        self.metadata.set_topic_configs(topic, &next).await?;
        let log_config = self.log_config(&next);
        self.logs.set_topic_config(topic, &log_config);
        tracing::info!(topic, configs = ?next, "topic configs changed");
        Ok(())
    }

    /// Changes the dynamic configs of broker resource `name` (this broker's id, or "" for the
    /// cluster default) to what `plan` works out from the current ones; durably, then live:
    /// every topic's log config is resolved again over the new defaults.
    pub async fn alter_broker_configs(
        &self,
        name: &str,
        validate_only: bool,
        plan: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>>,
    ) -> Result<()> {
        if !name.is_empty() {
            let node_id = self.node_id();
            let id: i32 = name.parse().map_err(|_| {
                Error::InvalidRequest(format!("Node id must be an integer, but it is: {name}"))
            })?;
            if id != node_id {
                return Err(Error::InvalidRequest(format!(
                    "Unexpected broker id, expected {node_id}, but received {name}"
                )));
            }
        }
        // Stored under the id as the broker looks it up ("01" is broker 1).
        let normalised = if name.is_empty() { String::new() } else { self.node_id().to_string() };
        let name = normalised.as_str();
        let _serialized = self.topic_changes.lock().await;
        let image = self.metadata.image();
        let current = image.broker_configs(name);
        let next = plan(&current)?;
        // The new defaults must resolve before anything is written.
        let defaults = topic_defaults(&self.config, &image, Some((name, &next)))
            .map_err(|error| Error::InvalidRequest(error.message()))?;
        if validate_only || next == current {
            return Ok(());
        }
        self.metadata.set_broker_configs(name, &next).await?;
        let defaults = Arc::new(defaults);
        *self.topic_defaults.write() = Arc::clone(&defaults);
        for topic in self.metadata.image().topics.values() {
            let log_config = Arc::new(LogConfig::resolve(&defaults, &topic.configs));
            self.logs.set_topic_config(&topic.name, &log_config);
        }
        let resource = if name.is_empty() { "cluster default" } else { name };
        tracing::info!(resource, configs = ?next, "dynamic broker configs changed");
        Ok(())
    }

    /// A producer id never handed out before (InitProducerId).
    pub async fn generate_producer_id(&self) -> Result<i64> {
        self.producer_ids.generate_producer_id(&self.metadata).await
    }

    /// Opens the group coordinator at start-up if `__consumer_offsets` already exists, so
    /// groups (and their members' sessions) are back before the first request.
    pub async fn open_existing_group_coordinator(&self) -> Result<()> {
        if self.metadata.image().topic(OFFSETS_TOPIC).is_some() {
            self.group_coordinator().await?;
        }
        Ok(())
    }

    async fn open_group_coordinator(&self) -> Result<Arc<GroupCoordinator>> {
        let groups = &self.config.groups;
        if self.metadata.image().topic(OFFSETS_TOPIC).is_none() {
            let spec = TopicSpec {
                name: OFFSETS_TOPIC.to_owned(),
                num_partitions: groups.offsets_topic_num_partitions,
                replication_factor: groups.offsets_topic_replication_factor,
                assignments: Vec::new(),
                configs: vec![
                    ("cleanup.policy".into(), Some("compact".into())),
                    ("compression.type".into(), Some("producer".into())),
                    ("segment.bytes".into(), Some(groups.offsets_topic_segment_bytes.to_string())),
                ],
            };
            match self.create_topics(&[spec], false).await.pop() {
                Some(Ok(_)) | Some(Err(Error::TopicAlreadyExists(_))) => {}
                Some(Err(error)) => {
                    tracing::error!(%error, "cannot create {OFFSETS_TOPIC}");
                    return Err(Error::CoordinatorNotAvailable(format!(
                        "cannot create {OFFSETS_TOPIC}: {error}"
                    )));
                }
                None => return Err(Error::Internal("no creation result".into())),
            }
        }
        let partitions =
            self.logs.topic(OFFSETS_TOPIC).map(|topic| topic.partitions.clone()).ok_or_else(
                || Error::CoordinatorNotAvailable(format!("{OFFSETS_TOPIC} has no logs")),
            )?;
        let setup = CoordinatorSetup {
            settings: GroupSettings {
                min_session_timeout_ms: groups.min_session_timeout_ms,
                max_session_timeout_ms: groups.max_session_timeout_ms,
                initial_rebalance_delay_ms: groups.initial_rebalance_delay_ms,
                max_size: groups.max_size,
                offset_metadata_max_bytes: groups.offset_metadata_max_bytes,
                offsets_retention_ms: groups.offsets_retention_ms,
            },
            retention_check_interval_ms: groups.offsets_retention_check_interval_ms,
            clock: self.clock.clone(),
            logs: Arc::clone(&self.logs),
            partitions,
        };
        let coordinator = tokio::task::spawn_blocking(move || GroupCoordinator::load(setup))
            .await
            .map_err(|error| Error::Internal(format!("group load task failed: {error}")))??;
        let coordinator = Arc::new(coordinator);
        coordinator.spawn_timers();
        Ok(coordinator)
    }

    /// Flushes every log and records a clean shutdown. Blocking.
    pub fn shutdown(&self) -> Result<()> {
        if let Some(coordinator) = self.group_coordinator.get() {
            coordinator.close();
        }
        self.logs.shutdown()?;
        self.metadata.shutdown()
    }
}

/// `advertised.listeners` if set, else the listener with its bound port; a wildcard host is
/// replaced by the machine's host name.
fn advertised_address(config: &BrokerConfig, bound: SocketAddr) -> HostPort {
    if let Some(advertised) = &config.advertised_listener {
        let port = if advertised.port == 0 { bound.port() } else { advertised.port };
        return HostPort { host: advertised.host.clone(), port };
    }
    let host = match config.listener.host.as_str() {
        "" | "0.0.0.0" | "::" => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned()),
        host => host.to_owned(),
    };
    HostPort { host, port: bound.port() }
}
