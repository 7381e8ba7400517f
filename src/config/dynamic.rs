//! Dynamic broker configs: broker keys changed at run time with AlterConfigs or
//! IncrementalAlterConfigs (`kafka-configs --entity-type brokers`), as Kafka's
//! `DynamicBrokerConfig`.
//!
//! Two resources hold them: the empty broker name is the cluster-wide default
//! (`--entity-default`, source DYNAMIC_DEFAULT_BROKER_CONFIG) and this broker's id holds
//! per-broker values (DYNAMIC_BROKER_CONFIG). A value's precedence, highest first: per-broker,
//! cluster default, `server.properties` and flags (STATIC_BROKER_CONFIG), Kafka's default.
//! They are stored as ConfigRecords in the metadata log, so they survive restart, and they
//! take effect at once: every topic's log config is resolved again over the new defaults.
//!
//! The keys Riffle can change live are the broker keys that set topic config defaults
//! (`log.retention.ms`, `log.segment.bytes`, `message.max.bytes`, `log.cleanup.policy`, ...),
//! which Kafka also lists as dynamic, except `log.flush.scheduler.interval.ms`, which only
//! sizes a timer set at start. Any other key is refused with Kafka's "Cannot update these
//! configs dynamically". As Kafka (KAFKA-13609), a refused broker change is INVALID_REQUEST,
//! whether the key cannot change or its value is bad.

use std::collections::BTreeMap;

use super::alter::ConfigKind;
use super::topic::{CONFIG_VALUE_LENGTH_MAX, ConfigType, Synonym, TOPIC_CONFIGS, TopicConfigDef};
use crate::error::{Error, Result};

/// The smallest `log.segment.bytes` a broker accepts (Kafka's validator).
const SEGMENT_BYTES_MIN: i64 = 1024 * 1024;

/// A broker key that sets `flush.ms`'s default but is read only at start.
const STATIC_ONLY: &[&str] = &["log.flush.scheduler.interval.ms"];

/// The topic config a dynamic broker key sets the default of, with the synonym.
fn topic_config_of(key: &str) -> Option<(&'static TopicConfigDef, &'static Synonym)> {
    if STATIC_ONLY.contains(&key) {
        return None;
    }
    TOPIC_CONFIGS.iter().find_map(|def| {
        def.synonyms.iter().find(|synonym| synonym.broker_key == key).map(|synonym| (def, synonym))
    })
}

/// Whether `key` can be changed without a restart.
pub fn is_dynamic(key: &str) -> bool {
    topic_config_of(key).is_some()
}

/// The type of a dynamic key: its topic config's, except unit-scaled keys
/// (`log.retention.hours`), which are ints as in Kafka.
fn key_type(def: &TopicConfigDef, synonym: &Synonym) -> ConfigType {
    if synonym.factor > 1 { ConfigType::Int } else { def.ty }
}

/// The dynamic broker configs, for [`super::alter`].
#[derive(Debug, Clone, Copy)]
pub struct DynamicBrokerConfigs;

impl ConfigKind for DynamicBrokerConfigs {
    fn config_type(&self, name: &str) -> Result<ConfigType> {
        topic_config_of(name).map(|(def, synonym)| key_type(def, synonym)).ok_or_else(|| {
            Error::InvalidRequest(format!("Cannot update these configs dynamically: {name}"))
        })
    }

    fn default_value(&self, name: &str) -> &'static str {
        topic_config_of(name).map_or("", |(def, _)| def.default)
    }

    fn validate(&self, name: &str, value: &str) -> Result<()> {
        let (def, synonym) = topic_config_of(name).ok_or_else(|| {
            Error::InvalidRequest(format!("Cannot update these configs dynamically: {name}"))
        })?;
        let checked = super::topic::broker_value_check(def, synonym, value).and_then(|value| {
            // As the static check: Kafka's log.segment.bytes is at least 1 MiB.
            match value.parse::<i64>() {
                Ok(bytes) if name == "log.segment.bytes" && bytes < SEGMENT_BYTES_MIN => {
                    Err(format!("value must be at least {SEGMENT_BYTES_MIN}"))
                }
                _ => Ok(()),
            }
        });
        checked.map_err(|reason| {
            Error::InvalidRequest(format!(
                "Invalid value {value} for configuration {name}: {reason}"
            ))
        })
    }

    fn too_long(&self, name: &str) -> Error {
        Error::InvalidRequest(format!(
            "Invalid value for configuration {name}: longer than {CONFIG_VALUE_LENGTH_MAX} bytes"
        ))
    }
}

/// The broker-level layers a broker key's value comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerLayers {
    /// This broker's dynamic configs (resource name = node id).
    pub dynamic_broker: BTreeMap<String, String>,
    /// The cluster-wide dynamic defaults (resource name "").
    pub dynamic_default: BTreeMap<String, String>,
    /// `server.properties`, flags and overrides.
    pub static_config: BTreeMap<String, String>,
}

impl BrokerLayers {
    /// Only static configs.
    pub fn static_only(static_config: BTreeMap<String, String>) -> Self {
        Self { static_config, ..Self::default() }
    }

    /// One map with every layer applied, the highest precedence last.
    pub fn merged(&self) -> BTreeMap<String, String> {
        let mut merged = self.static_config.clone();
        for layer in [&self.dynamic_default, &self.dynamic_broker] {
            merged.extend(layer.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        merged
    }

    /// The layers with their sources, highest precedence first.
    pub fn ordered(&self) -> [(super::describe::ConfigSource, &BTreeMap<String, String>); 3] {
        use super::describe::ConfigSource;
        [
            (ConfigSource::DynamicBrokerConfig, &self.dynamic_broker),
            (ConfigSource::DynamicDefaultBrokerConfig, &self.dynamic_default),
            (ConfigSource::StaticBrokerConfig, &self.static_config),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::alter::{AlterOp, ConfigChange, incremental_overrides};
    use super::*;

    fn set(name: &str, value: &str) -> ConfigChange {
        ConfigChange { name: name.into(), op: AlterOp::Set, value: Some(value.into()) }
    }

    #[test]
    fn only_topic_default_keys_are_dynamic() {
        assert!(is_dynamic("log.retention.ms"));
        assert!(is_dynamic("log.retention.hours"));
        assert!(is_dynamic("message.max.bytes"));
        assert!(is_dynamic("log.cleanup.policy"));
        assert!(!is_dynamic("log.flush.scheduler.interval.ms"));
        assert!(!is_dynamic("num.partitions"));
        assert!(!is_dynamic("retention.ms"), "a topic key, not a broker key");
    }

    #[test]
    fn refusals_are_invalid_request_naming_the_key() {
        let kind = DynamicBrokerConfigs;
        let current = BTreeMap::new();
        for change in [
            set("num.partitions", "3"),
            set("log.retention.ms", "soon"),
            set("log.retention.hours", "99999999999"),
            set("log.cleanup.policy", "shred"),
            set("log.segment.bytes", "1048575"),
        ] {
            let error =
                incremental_overrides(&kind, &current, std::slice::from_ref(&change)).unwrap_err();
            assert_eq!(error.code(), 42, "{change:?}");
            assert!(error.to_string().contains(&change.name), "{error}");
        }
        let next = incremental_overrides(
            &kind,
            &current,
            &[
                set("log.retention.hours", "2"),
                ConfigChange {
                    name: "log.cleanup.policy".into(),
                    op: AlterOp::Append,
                    value: Some("compact".into()),
                },
            ],
        )
        .unwrap();
        assert_eq!(next["log.retention.hours"], "2");
        assert_eq!(next["log.cleanup.policy"], "delete,compact");
    }

    #[test]
    fn layers_merge_by_precedence() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
        };
        let layers = BrokerLayers {
            dynamic_broker: map(&[("a", "broker")]),
            dynamic_default: map(&[("a", "default"), ("b", "default")]),
            static_config: map(&[("a", "static"), ("b", "static"), ("c", "static")]),
        };
        assert_eq!(layers.merged(), map(&[("a", "broker"), ("b", "default"), ("c", "static")]));
    }
}
