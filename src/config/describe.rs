//! Config entries as DescribeConfigs (and CreateTopics v5+) report them: effective value,
//! source, synonyms, type and documentation, following Kafka's `ConfigHelper`.
//!
//! A topic config's synonyms, highest precedence first: the topic's own override
//! (TOPIC_CONFIG), each broker key that sets its default in `server.properties`
//! (STATIC_BROKER_CONFIG, with the broker key's raw value), and Kafka's default under the
//! broker key that carries it (DEFAULT_CONFIG: `log.retention.hours=168` for `retention.ms`).
//! Dynamic broker values come before static ones (DYNAMIC_BROKER_CONFIG for this broker's,
//! then DYNAMIC_DEFAULT_BROKER_CONFIG for the cluster's, as Kafka's `configSynonyms` orders
//! them). The entry's source is its first synonym's. A broker config is read-only unless it
//! can change live ([`super::dynamic`]); its synonyms are its own name at each layer that
//! sets it, then Kafka's default.

use std::collections::BTreeMap;

use super::BrokerConfig;
use super::dynamic::{BrokerLayers, is_dynamic};
use super::topic::{ConfigType, TOPIC_CONFIGS, TopicConfigDef, TopicDefaults};

/// Kafka's `DescribeConfigsResponse.ConfigSource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    TopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

impl ConfigSource {
    pub fn wire(self) -> i8 {
        self as i8
    }
}

/// Kafka's `DescribeConfigsResponse.ConfigType` for a config type.
pub fn wire_type(ty: ConfigType) -> i8 {
    match ty {
        ConfigType::Boolean => 1,
        ConfigType::String => 2,
        ConfigType::Int => 3,
        ConfigType::Long => 5,
        ConfigType::Double => 6,
        ConfigType::List => 7,
    }
}

/// One level a config's value can come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// One config as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: &'static str,
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub ty: ConfigType,
    pub synonyms: Vec<ConfigSynonym>,
    pub documentation: &'static str,
}

/// Every topic config of a topic with `overrides`, in name order.
pub fn topic_entries(
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS.iter().map(|def| topic_entry(def, defaults, overrides)).collect()
}

fn topic_entry(
    def: &'static TopicConfigDef,
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
) -> ConfigEntry {
    let mut synonyms = Vec::new();
    if let Some(value) = overrides.get(def.name) {
        synonyms.push(ConfigSynonym {
            name: def.name.to_owned(),
            value: Some(value.clone()),
            source: ConfigSource::TopicConfig,
        });
    }
    for setting in defaults.broker_settings(def.name) {
        synonyms.push(ConfigSynonym {
            name: setting.broker_key.to_owned(),
            value: Some(setting.raw.clone()),
            source: setting.source,
        });
    }
    if let Some(carrier) = def.synonyms.last() {
        let value = match def.default.parse::<i64>() {
            Ok(number) if carrier.factor > 1 => (number / carrier.factor).to_string(),
            _ => def.default.to_owned(),
        };
        synonyms.push(ConfigSynonym {
            name: carrier.broker_key.to_owned(),
            value: Some(value),
            source: ConfigSource::DefaultConfig,
        });
    }
    let value = overrides
        .get(def.name)
        .cloned()
        .unwrap_or_else(|| defaults.value(def.name).unwrap_or(def.default).to_owned());
    ConfigEntry {
        name: def.name,
        value: Some(value),
        source: synonyms.first().map_or(ConfigSource::DefaultConfig, |first| first.source),
        read_only: false,
        ty: def.ty,
        synonyms,
        documentation: topic_documentation(def.name),
    }
}

/// Which broker resource is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerResource {
    /// This broker's id: every config it reads, with its effective value.
    ThisBroker,
    /// The empty name: the cluster-wide dynamic defaults that are set, and nothing else.
    ClusterDefault,
}

/// The broker configs of `resource`, in name order. `layers` holds the static and dynamic
/// values ([`super::dynamic`]); keys that can change live are not read-only.
pub fn broker_entries(
    config: &BrokerConfig,
    layers: &BrokerLayers,
    resource: BrokerResource,
) -> Vec<ConfigEntry> {
    let mut entries: BTreeMap<&'static str, ConfigEntry> = BTreeMap::new();
    for (name, ty, default) in BrokerConfig::default().described_values() {
        // Two names for one setting: either one sets both.
        let alias = match name {
            "broker.id" => Some("node.id"),
            "node.id" => Some("broker.id"),
            "log.dir" => Some("log.dirs"),
            "log.dirs" => Some("log.dir"),
            _ => None,
        };
        let set =
            config.raw_value(name).or_else(|| alias.and_then(|alias| config.raw_value(alias)));
        let set = set.map(|raw| (ConfigSource::StaticBrokerConfig, raw.to_owned()));
        entries.insert(name, broker_entry(name, ty, set.into_iter().collect(), default));
    }
    // Broker keys that set topic defaults (`log.retention.hours`, ...).
    for def in TOPIC_CONFIGS {
        for synonym in def.synonyms {
            if entries.contains_key(synonym.broker_key) {
                continue;
            }
            let set = layers
                .ordered()
                .into_iter()
                .filter_map(|(source, layer)| {
                    layer.get(synonym.broker_key).map(|raw| (source, raw.clone()))
                })
                .collect();
            let carries_default =
                def.synonyms.last().map(|last| last.broker_key) == Some(synonym.broker_key);
            let default = carries_default.then(|| match def.default.parse::<i64>() {
                Ok(number) if synonym.factor > 1 => (number / synonym.factor).to_string(),
                _ => def.default.to_owned(),
            });
            let ty = if synonym.factor > 1 { ConfigType::Int } else { def.ty };
            entries.insert(synonym.broker_key, broker_entry(synonym.broker_key, ty, set, default));
        }
    }
    match resource {
        BrokerResource::ThisBroker => entries.into_values().collect(),
        // Kafka's answer for the default resource: the set defaults, without per-broker
        // synonyms.
        BrokerResource::ClusterDefault => entries
            .into_values()
            .filter(|entry| layers.dynamic_default.contains_key(entry.name))
            .map(|mut entry| {
                entry
                    .synonyms
                    .retain(|synonym| synonym.source != ConfigSource::DynamicBrokerConfig);
                entry.value = layers.dynamic_default.get(entry.name).cloned();
                entry.source = ConfigSource::DynamicDefaultBrokerConfig;
                entry
            })
            .collect(),
    }
}

/// A broker config's entry: `set` holds the layers that set it, highest precedence first.
fn broker_entry(
    name: &'static str,
    ty: ConfigType,
    set: Vec<(ConfigSource, String)>,
    default: Option<String>,
) -> ConfigEntry {
    let mut synonyms: Vec<ConfigSynonym> = set
        .into_iter()
        .map(|(source, raw)| ConfigSynonym { name: name.to_owned(), value: Some(raw), source })
        .collect();
    if let Some(default) = default {
        synonyms.push(ConfigSynonym {
            name: name.to_owned(),
            value: Some(default),
            source: ConfigSource::DefaultConfig,
        });
    }
    ConfigEntry {
        name,
        value: synonyms.first().and_then(|first| first.value.clone()),
        source: synonyms.first().map_or(ConfigSource::DefaultConfig, |first| first.source),
        read_only: !is_dynamic(name),
        ty,
        synonyms,
        documentation: broker_documentation(name),
    }
}

/// A short description of each topic config (Kafka's meaning, in our words).
pub fn topic_documentation(name: &str) -> &'static str {
    match name {
        "cleanup.policy" => {
            "How old log segments are retired: 'delete' removes them by age or size, \
             'compact' keeps the latest record per key; both may be given."
        }
        "compression.gzip.level" => "The gzip level used when the topic recompresses to gzip.",
        "compression.lz4.level" => "The lz4 level used when the topic recompresses to lz4.",
        "compression.type" => {
            "The codec batches are stored with: 'producer' keeps the producer's codec; \
             another codec means the broker recompresses to it."
        }
        "compression.zstd.level" => "The zstd level used when the topic recompresses to zstd.",
        "delete.retention.ms" => {
            "How long a tombstone (null value) stays in a compacted topic after the cleaner \
             first reached it, so consumers can see the delete."
        }
        "file.delete.delay.ms" => "How long a deleted segment's files wait before removal.",
        "flush.messages" => {
            "Force an fsync after this many records are appended (acknowledgements wait for it)."
        }
        "flush.ms" => "Force an fsync when unflushed records are this old.",
        "follower.replication.throttled.replicas" => {
            "Replicas whose follower-side replication is throttled (partition:broker, or *)."
        }
        "index.interval.bytes" => "Bytes appended between two offset index entries.",
        "leader.replication.throttled.replicas" => {
            "Replicas whose leader-side replication is throttled (partition:broker, or *)."
        }
        "local.retention.bytes" => "Bytes kept locally when tiered storage is enabled.",
        "local.retention.ms" => "Time segments are kept locally when tiered storage is enabled.",
        "max.compaction.lag.ms" => "The longest a record may stay uncompacted.",
        "max.message.bytes" => "The largest record batch accepted, in bytes.",
        "message.timestamp.after.max.ms" => {
            "How far a record's CreateTime may lie after the broker's clock."
        }
        "message.timestamp.before.max.ms" => {
            "How far a record's CreateTime may lie before the broker's clock."
        }
        "message.timestamp.type" => {
            "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's clock \
             at append."
        }
        "min.cleanable.dirty.ratio" => {
            "The share of a log that must be uncompacted before the cleaner compacts it."
        }
        "min.compaction.lag.ms" => "The least time a record stays uncompacted.",
        "min.insync.replicas" => {
            "Replicas that must have a record before an acks=all produce succeeds."
        }
        "preallocate" => "Preallocate segment files on creation.",
        "remote.log.copy.disable" => "Stop copying segments to tiered storage.",
        "remote.log.delete.on.disable" => "Delete tiered data when tiered storage is disabled.",
        "remote.storage.enable" => "Enable tiered storage for the topic.",
        "retention.bytes" => {
            "The largest a partition may grow before old segments go (-1: no limit)."
        }
        "retention.ms" => "How long segments are kept before deletion (-1: forever).",
        "segment.bytes" => "The size at which a segment file rolls.",
        "segment.index.bytes" => "The size of each segment's offset and time index files.",
        "segment.jitter.ms" => "The most random jitter subtracted from segment.ms.",
        "segment.ms" => "The age at which a segment rolls even if not full.",
        "unclean.leader.election.enable" => {
            "Allow an out-of-sync replica to become leader (may lose records)."
        }
        _ => "",
    }
}

/// A short description of each broker config.
pub fn broker_documentation(name: &str) -> &'static str {
    match name {
        "listeners" => "The listener clients connect to (PLAINTEXT://host:port).",
        "advertised.listeners" => "The address Metadata tells clients to connect to.",
        "log.dirs" | "log.dir" => "The data directory.",
        "node.id" | "broker.id" => "This broker's id.",
        "num.partitions" => "Partitions of a topic created without a count.",
        "default.replication.factor" => "Replicas of a topic created without a factor.",
        "auto.create.topics.enable" => "Create a topic when Metadata or Produce names it.",
        "socket.request.max.bytes" => "The largest request frame accepted.",
        "max.connections" => "The most client connections served at once.",
        "queued.max.request.bytes" => "Request bytes held in memory across all connections.",
        "fetch.max.bytes" => "The most record bytes in one fetch response.",
        "connections.max.idle.ms" => "Idle connections are closed after this long.",
        "log.flush.offset.checkpoint.interval.ms" => {
            "How often the recovery-point checkpoint is written."
        }
        "group.min.session.timeout.ms" => "The shortest session timeout a member may ask for.",
        "group.max.session.timeout.ms" => "The longest session timeout a member may ask for.",
        "group.initial.rebalance.delay.ms" => {
            "How long an empty group's first rebalance waits for more members."
        }
        "group.max.size" => "The most members one consumer group may have.",
        "offsets.topic.num.partitions" => "Partitions of __consumer_offsets.",
        "offsets.topic.replication.factor" => "Replicas of __consumer_offsets.",
        "offsets.topic.segment.bytes" => "Segment size of __consumer_offsets.",
        "offsets.retention.minutes" => "How long committed offsets of an empty group are kept.",
        "offsets.retention.check.interval.ms" => "How often expired offsets are removed.",
        "offset.metadata.max.bytes" => "The largest metadata string of a committed offset.",
        "producer.id.expiration.ms" => {
            "How long an idle idempotent producer's state is kept in each partition."
        }
        "log.retention.check.interval.ms" => "How often retention deletes old segments.",
        "log.cleaner.enable" => "Run the log cleaner, which compacts compacted topics.",
        "log.cleaner.dedupe.buffer.size" => {
            "Memory for the cleaner's map of latest offsets by key."
        }
        "log.cleaner.io.buffer.load.factor" => "How full the cleaner's key map may get.",
        "log.cleaner.io.max.bytes.per.second" => {
            "The cleaner's read and write rate, in bytes per second."
        }
        "log.cleaner.backoff.ms" => "How long the cleaner sleeps when no log needs cleaning.",
        "producer.id.expiration.check.interval.ms" => {
            "How often expired producer state is removed."
        }
        other => {
            // Broker keys that set a topic config's default document that config.
            TOPIC_CONFIGS
                .iter()
                .find(|def| def.synonyms.iter().any(|synonym| synonym.broker_key == other))
                .map_or("", |def| topic_documentation(def.name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    fn entry<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
        entries.iter().find(|entry| entry.name == name).unwrap()
    }

    #[test]
    fn topic_sources_and_synonyms_follow_precedence() {
        let defaults =
            TopicDefaults::from_broker_properties(&properties(&[("log.retention.hours", "2")]))
                .unwrap();
        let overrides = properties(&[("segment.bytes", "1048576")]);
        let entries = topic_entries(&defaults, &overrides);
        assert_eq!(entries.len(), TOPIC_CONFIGS.len());
        assert!(TOPIC_CONFIGS.iter().all(|def| !topic_documentation(def.name).is_empty()));

        let segment = entry(&entries, "segment.bytes");
        assert_eq!(segment.value.as_deref(), Some("1048576"));
        assert_eq!(segment.source, ConfigSource::TopicConfig);
        let names: Vec<_> = segment.synonyms.iter().map(|s| (s.name.as_str(), s.source)).collect();
        assert_eq!(
            names,
            [
                ("segment.bytes", ConfigSource::TopicConfig),
                ("log.segment.bytes", ConfigSource::DefaultConfig)
            ]
        );

        let retention = entry(&entries, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("7200000"));
        assert_eq!(retention.source, ConfigSource::StaticBrokerConfig);
        assert_eq!(retention.synonyms[0].name, "log.retention.hours");
        assert_eq!(retention.synonyms[0].value.as_deref(), Some("2"));
        assert_eq!(retention.synonyms[1].value.as_deref(), Some("168"), "Kafka's default");

        let policy = entry(&entries, "cleanup.policy");
        assert_eq!(policy.source, ConfigSource::DefaultConfig);
        assert_eq!(policy.value.as_deref(), Some("delete"));
        assert_eq!(wire_type(policy.ty), 7);
        let unsynonymed = entry(&entries, "remote.storage.enable");
        assert!(unsynonymed.synonyms.is_empty());
        assert_eq!(unsynonymed.source, ConfigSource::DefaultConfig);
    }

    #[test]
    fn broker_entries_are_read_only_with_sources() {
        let config = BrokerConfig::from_properties(&properties(&[
            ("num.partitions", "6"),
            ("log.retention.hours", "2"),
            ("node.id", "3"),
        ]))
        .unwrap();
        let layers = config.topic_defaults.layers().clone();
        let entries = broker_entries(&config, &layers, BrokerResource::ThisBroker);
        assert_eq!(entry(&entries, "broker.id").value.as_deref(), Some("3"));
        let partitions = entry(&entries, "num.partitions");
        assert_eq!(partitions.value.as_deref(), Some("6"));
        assert_eq!(partitions.source, ConfigSource::StaticBrokerConfig);
        assert!(partitions.read_only);
        let replication = entry(&entries, "default.replication.factor");
        assert_eq!(replication.value.as_deref(), Some("1"));
        assert_eq!(replication.source, ConfigSource::DefaultConfig);
        let hours = entry(&entries, "log.retention.hours");
        assert_eq!(hours.value.as_deref(), Some("2"));
        let minutes = entry(&entries, "log.retention.minutes");
        assert_eq!(minutes.value, None, "no default of its own, as in Kafka");
        assert_eq!(entry(&entries, "log.segment.bytes").value.as_deref(), Some("1073741824"));
        assert!(entries.iter().all(|entry| !entry.documentation.is_empty()), "documented");
    }

    #[test]
    fn dynamic_values_come_first_and_the_default_resource_lists_only_its_own() {
        let config =
            BrokerConfig::from_properties(&properties(&[("log.retention.ms", "1000")])).unwrap();
        let layers = BrokerLayers {
            dynamic_broker: properties(&[("log.retention.ms", "3000")]),
            dynamic_default: properties(&[
                ("log.retention.ms", "2000"),
                ("message.max.bytes", "5000"),
            ]),
            static_config: properties(&[("log.retention.ms", "1000")]),
        };
        let sources = |entry: &ConfigEntry| -> Vec<(i8, Option<String>)> {
            entry.synonyms.iter().map(|s| (s.source.wire(), s.value.clone())).collect()
        };
        let entries = broker_entries(&config, &layers, BrokerResource::ThisBroker);
        let retention = entry(&entries, "log.retention.ms");
        assert_eq!(retention.value.as_deref(), Some("3000"));
        assert_eq!(retention.source, ConfigSource::DynamicBrokerConfig);
        assert!(!retention.read_only);
        assert_eq!(
            sources(retention),
            [(2, Some("3000".into())), (3, Some("2000".into())), (4, Some("1000".into()))]
        );
        assert!(entry(&entries, "num.partitions").read_only);

        let defaults = broker_entries(&config, &layers, BrokerResource::ClusterDefault);
        let names: Vec<_> = defaults.iter().map(|entry| entry.name).collect();
        assert_eq!(names, ["log.retention.ms", "message.max.bytes"]);
        assert_eq!(defaults[0].value.as_deref(), Some("2000"));
        assert_eq!(defaults[0].source, ConfigSource::DynamicDefaultBrokerConfig);
        assert_eq!(sources(&defaults[0]), [(3, Some("2000".into())), (4, Some("1000".into()))]);

        let topic_defaults = TopicDefaults::from_layers(layers).unwrap();
        let topic = topic_entries(&topic_defaults, &BTreeMap::new());
        let retention = entry(&topic, "retention.ms");
        assert_eq!(retention.value.as_deref(), Some("3000"));
        assert_eq!(retention.source, ConfigSource::DynamicBrokerConfig);
        assert_eq!(sources(retention)[..3], sources(entry(&entries, "log.retention.ms"))[..3]);
        assert_eq!(entry(&topic, "max.message.bytes").value.as_deref(), Some("5000"));
    }
}
