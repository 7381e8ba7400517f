//! The registry of topic-level configs: Kafka's names, types, defaults, validators and the
//! broker keys that supply each default; plus [`LogConfig`], the typed values a partition log
//! runs with.
//!
//! A topic's effective value for a key is its override if set, else the broker's value for the
//! key's synonym (`log.segment.bytes` for `segment.bytes`), else Kafka's default. Every key in
//! [`TOPIC_CONFIGS`] is validated and stored; those [`LogConfig`] carries are honoured by the
//! log engine now, the rest take effect in the issues that build their features (retention,
//! compaction, replication).

use std::collections::BTreeMap;

use super::describe::ConfigSource;
use super::dynamic::BrokerLayers;
use crate::error::{Error, Result};
use crate::protocol::recompress::TargetCompression;
use crate::protocol::record_batch::Compression;
use crate::types::TimestampType;

/// A config value's type, as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    Int,
    Long,
    Double,
    String,
    List,
}

/// The constraint a value must meet, as Kafka's `ConfigDef.Validator`.
#[derive(Debug, Clone, Copy)]
pub enum Validator {
    None,
    AtLeast(i64),
    Between(f64, f64),
    OneOf(&'static [&'static str]),
    ListOf(&'static [&'static str]),
    /// An integer in `min..=max`, or the one extra value given (gzip's -1 for the default).
    IntBetween(i64, i64, Option<i64>),
    /// `*`, or a list of `partition:broker` pairs (Kafka's `ThrottledReplicaListValidator`).
    ThrottledReplicas,
}

/// Characters of a refused value quoted in the error message.
const VALUE_SHOWN_MAX: usize = 128;

/// Longest config value accepted (values are stored as i16-length strings).
pub const CONFIG_VALUE_LENGTH_MAX: usize = i16::MAX as usize;

/// A broker key that supplies a topic config's default, with the factor that converts its
/// unit to the topic key's (hours to ms is 3,600,000).
#[derive(Debug, Clone, Copy)]
pub struct Synonym {
    pub broker_key: &'static str,
    pub factor: i64,
}

const fn same(broker_key: &'static str) -> Synonym {
    Synonym { broker_key, factor: 1 }
}

/// One topic config.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub ty: ConfigType,
    pub default: &'static str,
    pub validator: Validator,
    /// Broker keys that set the default, highest precedence first.
    pub synonyms: &'static [Synonym],
}

const LONG_MAX: &str = "9223372036854775807";
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

const fn def(
    name: &'static str,
    ty: ConfigType,
    default: &'static str,
    validator: Validator,
    synonyms: &'static [Synonym],
) -> TopicConfigDef {
    TopicConfigDef { name, ty, default, validator, synonyms }
}

use ConfigType::{Boolean, Double, Int, List, Long, String as Str};
use Validator::{AtLeast, Between, OneOf};

/// Every topic config Kafka 4.x defines (LogConfig), alphabetical.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        List,
        "delete",
        Validator::ListOf(&["compact", "delete"]),
        &[same("log.cleanup.policy")],
    ),
    def(
        "compression.gzip.level",
        Int,
        "-1",
        Validator::IntBetween(1, 9, Some(-1)),
        &[same("compression.gzip.level")],
    ),
    def(
        "compression.lz4.level",
        Int,
        "9",
        Validator::IntBetween(1, 17, None),
        &[same("compression.lz4.level")],
    ),
    def(
        "compression.type",
        Str,
        "producer",
        OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        &[same("compression.type")],
    ),
    def(
        "compression.zstd.level",
        Int,
        "3",
        Validator::IntBetween(-131_072, 22, None),
        &[same("compression.zstd.level")],
    ),
    def(
        "delete.retention.ms",
        Long,
        "86400000",
        AtLeast(0),
        &[same("log.cleaner.delete.retention.ms")],
    ),
    def("file.delete.delay.ms", Long, "60000", AtLeast(0), &[same("log.segment.delete.delay.ms")]),
    def("flush.messages", Long, LONG_MAX, AtLeast(1), &[same("log.flush.interval.messages")]),
    def(
        "flush.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        &[same("log.flush.interval.ms"), same("log.flush.scheduler.interval.ms")],
    ),
    def("follower.replication.throttled.replicas", List, "", Validator::ThrottledReplicas, &[]),
    def("index.interval.bytes", Int, "4096", AtLeast(0), &[same("log.index.interval.bytes")]),
    def("leader.replication.throttled.replicas", List, "", Validator::ThrottledReplicas, &[]),
    def("local.retention.bytes", Long, "-2", AtLeast(-2), &[same("log.local.retention.bytes")]),
    def("local.retention.ms", Long, "-2", AtLeast(-2), &[same("log.local.retention.ms")]),
    def(
        "max.compaction.lag.ms",
        Long,
        LONG_MAX,
        AtLeast(1),
        &[same("log.cleaner.max.compaction.lag.ms")],
    ),
    def("max.message.bytes", Int, "1048588", AtLeast(0), &[same("message.max.bytes")]),
    def(
        "message.timestamp.after.max.ms",
        Long,
        // Kafka 4.0's default (KAFKA-16368): an hour ahead of the broker's clock at most.
        "3600000",
        AtLeast(0),
        &[same("log.message.timestamp.after.max.ms")],
    ),
    def(
        "message.timestamp.before.max.ms",
        Long,
        LONG_MAX,
        AtLeast(0),
        &[same("log.message.timestamp.before.max.ms")],
    ),
    def(
        "message.timestamp.type",
        Str,
        "CreateTime",
        OneOf(&["CreateTime", "LogAppendTime"]),
        &[same("log.message.timestamp.type")],
    ),
    def(
        "min.cleanable.dirty.ratio",
        Double,
        "0.5",
        Between(0.0, 1.0),
        &[same("log.cleaner.min.cleanable.ratio")],
    ),
    def(
        "min.compaction.lag.ms",
        Long,
        "0",
        AtLeast(0),
        &[same("log.cleaner.min.compaction.lag.ms")],
    ),
    def("min.insync.replicas", Int, "1", AtLeast(1), &[same("min.insync.replicas")]),
    def("preallocate", Boolean, "false", Validator::None, &[same("log.preallocate")]),
    def("remote.log.copy.disable", Boolean, "false", Validator::None, &[]),
    def("remote.log.delete.on.disable", Boolean, "false", Validator::None, &[]),
    def("remote.storage.enable", Boolean, "false", Validator::None, &[]),
    def("retention.bytes", Long, "-1", Validator::None, &[same("log.retention.bytes")]),
    def(
        "retention.ms",
        Long,
        "604800000",
        AtLeast(-1),
        &[
            same("log.retention.ms"),
            Synonym { broker_key: "log.retention.minutes", factor: MINUTE_MS },
            Synonym { broker_key: "log.retention.hours", factor: HOUR_MS },
        ],
    ),
    def("segment.bytes", Int, "1073741824", AtLeast(14), &[same("log.segment.bytes")]),
    def("segment.index.bytes", Int, "10485760", AtLeast(4), &[same("log.index.size.max.bytes")]),
    def(
        "segment.jitter.ms",
        Long,
        "0",
        AtLeast(0),
        &[
            same("log.roll.jitter.ms"),
            Synonym { broker_key: "log.roll.jitter.hours", factor: HOUR_MS },
        ],
    ),
    def(
        "segment.ms",
        Long,
        "604800000",
        AtLeast(1),
        &[same("log.roll.ms"), Synonym { broker_key: "log.roll.hours", factor: HOUR_MS }],
    ),
    def(
        "unclean.leader.election.enable",
        Boolean,
        "false",
        Validator::None,
        &[same("unclean.leader.election.enable")],
    ),
];

/// The definition of `name`, if it is a topic config.
pub fn definition(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|def| def.name == name)
}

/// Checks a topic config assignment. Errors are INVALID_CONFIG naming the key.
pub fn validate(name: &str, value: Option<&str>) -> Result<()> {
    let def = definition(name)
        .ok_or_else(|| Error::InvalidConfig(format!("Unknown topic config name: {name}")))?;
    let Some(value) = value else {
        return Err(Error::InvalidConfig(format!(
            "Null value not supported for topic config: {name}"
        )));
    };
    check_value(def, value).map_err(|reason| {
        let shown: String = value.chars().take(VALUE_SHOWN_MAX).collect();
        let cut = if shown.len() < value.len() { "..." } else { "" };
        Error::InvalidConfig(format!(
            "Invalid value {shown}{cut} for configuration {name}: {reason}"
        ))
    })
}

fn check_value(def: &TopicConfigDef, value: &str) -> std::result::Result<(), String> {
    if value.len() > CONFIG_VALUE_LENGTH_MAX {
        return Err(format!("longer than {CONFIG_VALUE_LENGTH_MAX} bytes"));
    }
    let value = value.trim();
    let number = match def.ty {
        Boolean => return parse_bool(value).map(drop),
        Int => Some(value.parse::<i32>().map(i64::from).map_err(|_| "not a 32-bit integer")?),
        Long => Some(value.parse::<i64>().map_err(|_| "not a 64-bit integer")?),
        Double => {
            let double = value.parse::<f64>().map_err(|_| "not a number")?;
            if let Between(low, high) = def.validator
                && !(low..=high).contains(&double)
            {
                return Err(format!("value must be between {low} and {high}"));
            }
            return Ok(());
        }
        Str | List => None,
    };
    match (def.validator, number) {
        (AtLeast(minimum), Some(number)) if number < minimum => {
            Err(format!("value must be at least {minimum}"))
        }
        (Validator::IntBetween(min, max, also), Some(number))
            if !(min..=max).contains(&number) && Some(number) != also =>
        {
            let or = also.map(|also| format!(" or {also}")).unwrap_or_default();
            Err(format!("value must be between {min} and {max}{or}"))
        }
        (OneOf(allowed), _) if !allowed.contains(&value) => {
            Err(format!("String must be one of: {}", allowed.join(", ")))
        }
        (Validator::ListOf(allowed), _) => check_list(value, allowed),
        (Validator::ThrottledReplicas, _) => check_throttled_replicas(value),
        _ => Ok(()),
    }
}

fn check_list(value: &str, allowed: &[&str]) -> std::result::Result<(), String> {
    for item in value.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        if !allowed.contains(&item) {
            return Err(format!(
                "Invalid value {item} for list: must be one of {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_throttled_replicas(value: &str) -> std::result::Result<(), String> {
    if value == "*" {
        return Ok(());
    }
    let pair = |item: &str| {
        item.split_once(':').is_some_and(|(partition, broker)| {
            partition.trim().parse::<i32>().is_ok() && broker.trim().parse::<i32>().is_ok()
        })
    };
    if value.split(',').map(str::trim).filter(|item| !item.is_empty()).all(pair) {
        Ok(())
    } else {
        Err("must be the wildcard (*) or a list of partitionId:brokerId pairs".into())
    }
}

/// Kafka's boolean parsing: `true` or `false`, any case.
pub fn parse_bool(value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, not {value}")),
    }
}

/// Topic config defaults derived from the broker's configs: topic key -> value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicDefaults {
    values: BTreeMap<&'static str, String>,
    /// Per topic key, the broker keys set for it with their raw values and sources, in
    /// Kafka's synonym order (every per-broker dynamic value, then every cluster default,
    /// then every static value; within a layer, highest precedence first).
    broker_settings: BTreeMap<&'static str, Vec<BrokerSetting>>,
    layers: BrokerLayers,
}

/// A broker key set for a topic config's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSetting {
    pub broker_key: &'static str,
    pub raw: String,
    pub source: ConfigSource,
}

impl TopicDefaults {
    /// Defaults from static broker properties only.
    pub fn from_broker_properties(properties: &BTreeMap<String, String>) -> Result<Self> {
        Self::from_layers(BrokerLayers::static_only(properties.clone()))
    }

    /// Resolves every topic key's default from the broker layers merged (synonyms in
    /// precedence order, with unit conversion) or Kafka's default. Broker values are
    /// validated with the topic key's rules; an error names the broker key.
    pub fn from_layers(layers: BrokerLayers) -> Result<Self> {
        let merged = layers.merged();
        let mut values = BTreeMap::new();
        let mut broker_settings = BTreeMap::new();
        for def in TOPIC_CONFIGS {
            let settings: Vec<BrokerSetting> = layers
                .ordered()
                .into_iter()
                .flat_map(|(source, layer)| {
                    def.synonyms.iter().filter_map(move |synonym| {
                        layer.get(synonym.broker_key).map(|raw| BrokerSetting {
                            broker_key: synonym.broker_key,
                            raw: raw.trim().to_owned(),
                            source,
                        })
                    })
                })
                .collect();
            if !settings.is_empty() {
                broker_settings.insert(def.name, settings);
            }
            let value = broker_value(def, &merged)?.unwrap_or_else(|| def.default.to_owned());
            values.insert(def.name, value);
        }
        Ok(Self { values, broker_settings, layers })
    }

    /// The broker keys set for topic key `name`, in Kafka's synonym order.
    pub fn broker_settings(&self, name: &str) -> &[BrokerSetting] {
        self.broker_settings.get(name).map_or(&[], Vec::as_slice)
    }

    /// The broker layers these defaults come from.
    pub fn layers(&self) -> &BrokerLayers {
        &self.layers
    }

    /// The default for a topic key.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every topic key with its default.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values.iter().map(|(name, value)| (*name, value.as_str()))
    }
}

/// Checks a broker key's raw value against its topic config's rules, after unit conversion.
pub fn broker_value_check(
    def: &TopicConfigDef,
    synonym: &Synonym,
    raw: &str,
) -> std::result::Result<String, String> {
    if raw.len() > CONFIG_VALUE_LENGTH_MAX {
        return Err(format!("longer than {CONFIG_VALUE_LENGTH_MAX} bytes"));
    }
    let value = if synonym.factor == 1 {
        raw.trim().to_owned()
    } else {
        let number: i32 = raw.trim().parse().map_err(|_| "not a 32-bit integer".to_owned())?;
        i64::from(number).saturating_mul(synonym.factor).to_string()
    };
    check_value(def, &value)?;
    Ok(value)
}

fn broker_value(
    def: &TopicConfigDef,
    properties: &BTreeMap<String, String>,
) -> Result<Option<String>> {
    for synonym in def.synonyms {
        let Some(raw) = properties.get(synonym.broker_key) else {
            continue;
        };
        let value = broker_value_check(def, synonym, raw).map_err(|reason| {
            Error::InvalidConfig(format!(
                "Invalid value {raw} for configuration {}: {reason}",
                synonym.broker_key
            ))
        })?;
        return Ok(Some(value));
    }
    Ok(None)
}

/// Whether a `cleanup.policy` list names `policy`.
fn policy(list: &str, policy: &str) -> bool {
    list.split(',').any(|item| item.trim() == policy)
}

/// The codec `compression.type` names, with its level; `None` for `producer`.
fn target_compression(
    compression_type: &str,
    level: impl Fn(&str) -> i32,
) -> Option<TargetCompression> {
    let (codec, level) = match compression_type {
        "uncompressed" => (Compression::None, 0),
        "gzip" => (Compression::Gzip, level("compression.gzip.level")),
        "snappy" => (Compression::Snappy, 0),
        "lz4" => (Compression::Lz4, level("compression.lz4.level")),
        "zstd" => (Compression::Zstd, level("compression.zstd.level")),
        _ => return None,
    };
    Some(TargetCompression { codec, level })
}

/// The typed configuration a partition log runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_jitter_ms: i64,
    pub segment_index_bytes: u64,
    pub index_interval_bytes: u64,
    pub max_message_bytes: usize,
    pub timestamp_type: TimestampType,
    /// With CreateTime, how far a batch's timestamps may lie before and after the broker's
    /// clock (`message.timestamp.before.max.ms`, `message.timestamp.after.max.ms`).
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    pub flush_messages: u64,
    pub flush_ms: i64,
    /// `retention.ms` and `retention.bytes`; negative means no limit.
    pub retention_ms: i64,
    pub retention_bytes: i64,
    /// How long a segment taken out of the log waits before its files are deleted.
    pub file_delete_delay_ms: i64,
    /// The codec every batch is stored with (`compression.type`), `None` for `producer`:
    /// batches are kept as the producer sent them.
    pub compression: Option<TargetCompression>,
    /// `cleanup.policy` includes `delete` (retention, DeleteRecords).
    pub cleanup_delete: bool,
    /// `cleanup.policy` includes `compact`.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a tombstone stays after the cleaner first keeps it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms` and `max.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    pub max_compaction_lag_ms: i64,
}

impl LogConfig {
    /// The effective config for a topic with `overrides` (already validated) over `defaults`.
    pub fn resolve(defaults: &TopicDefaults, overrides: &BTreeMap<String, String>) -> Self {
        let value = |name: &str| -> &str {
            overrides
                .get(name)
                .map(String::as_str)
                .or_else(|| defaults.value(name))
                .unwrap_or_else(|| definition(name).expect("registered key").default)
        };
        let number = |name: &str| -> i64 { value(name).trim().parse().expect("validated number") };
        let unsigned = |name: &str| -> u64 { u64::try_from(number(name)).unwrap_or(0) };
        Self {
            segment_bytes: unsigned("segment.bytes"),
            segment_ms: number("segment.ms"),
            segment_jitter_ms: number("segment.jitter.ms"),
            segment_index_bytes: unsigned("segment.index.bytes"),
            index_interval_bytes: unsigned("index.interval.bytes"),
            max_message_bytes: usize::try_from(number("max.message.bytes")).unwrap_or(0),
            timestamp_type: if value("message.timestamp.type").trim() == "LogAppendTime" {
                TimestampType::LogAppendTime
            } else {
                TimestampType::CreateTime
            },
            timestamp_before_max_ms: number("message.timestamp.before.max.ms"),
            timestamp_after_max_ms: number("message.timestamp.after.max.ms"),
            flush_messages: unsigned("flush.messages"),
            flush_ms: number("flush.ms"),
            retention_ms: number("retention.ms"),
            retention_bytes: number("retention.bytes"),
            file_delete_delay_ms: number("file.delete.delay.ms"),
            compression: target_compression(value("compression.type").trim(), |name| {
                i32::try_from(number(name)).unwrap_or(0)
            }),
            cleanup_delete: policy(value("cleanup.policy"), "delete"),
            cleanup_compact: policy(value("cleanup.policy"), "compact"),
            delete_retention_ms: number("delete.retention.ms"),
            min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio")
                .trim()
                .parse()
                .expect("validated number"),
            min_compaction_lag_ms: number("min.compaction.lag.ms"),
            max_compaction_lag_ms: number("max.compaction.lag.ms"),
        }
    }

    /// How long the active segment may live: `segment.ms`, or less on a compacted topic
    /// whose `max.compaction.lag.ms` is shorter (KIP-354: a record cannot be compacted
    /// while its segment is active).
    pub fn max_segment_ms(&self) -> i64 {
        if self.cleanup_compact {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }

    /// Kafka's defaults, for tests and for logs the broker owns.
    pub fn kafka_defaults() -> Self {
        Self::resolve(&TopicDefaults::default(), &BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn kafka_defaults_resolve() {
        let config = LogConfig::kafka_defaults();
        assert_eq!(config.segment_bytes, 1 << 30);
        assert_eq!(config.segment_ms, 7 * 24 * HOUR_MS);
        assert_eq!(config.max_message_bytes, 1_048_588);
        assert_eq!(config.index_interval_bytes, 4096);
        assert_eq!(config.segment_index_bytes, 10 * 1024 * 1024);
        assert_eq!(config.flush_messages, u64::try_from(i64::MAX).unwrap());
        assert_eq!(config.timestamp_type, TimestampType::CreateTime);
    }

    #[test]
    fn broker_synonyms_set_defaults_with_units() {
        let defaults = TopicDefaults::from_broker_properties(&properties(&[
            ("log.retention.hours", "2"),
            ("log.segment.bytes", "2097152"),
            ("message.max.bytes", "5000"),
            ("log.roll.hours", "1"),
        ]))
        .unwrap();
        assert_eq!(defaults.value("retention.ms"), Some("7200000"));
        let config = LogConfig::resolve(&defaults, &BTreeMap::new());
        assert_eq!(config.segment_bytes, 2_097_152);
        assert_eq!(config.max_message_bytes, 5000);
        assert_eq!(config.segment_ms, HOUR_MS);
    }

    #[test]
    fn the_most_precise_synonym_wins() {
        let defaults = TopicDefaults::from_broker_properties(&properties(&[
            ("log.retention.hours", "2"),
            ("log.retention.ms", "1234"),
        ]))
        .unwrap();
        assert_eq!(defaults.value("retention.ms"), Some("1234"));
    }

    #[test]
    fn overrides_beat_defaults() {
        let overrides =
            properties(&[("segment.bytes", "1000"), ("message.timestamp.type", "LogAppendTime")]);
        let config = LogConfig::resolve(&TopicDefaults::default(), &overrides);
        assert_eq!(config.segment_bytes, 1000);
        assert_eq!(config.timestamp_type, TimestampType::LogAppendTime);
    }

    #[test]
    fn validation_names_the_key() {
        let unknown = validate("no.such.config", Some("1")).unwrap_err();
        assert_eq!(unknown.code(), 40);
        assert!(unknown.to_string().contains("no.such.config"));
        let bad = validate("segment.bytes", Some("abc")).unwrap_err();
        assert!(bad.to_string().contains("segment.bytes"), "{bad}");
        assert!(validate("segment.bytes", Some("13")).is_err());
        assert!(validate("segment.bytes", Some("14")).is_ok());
        assert!(validate("segment.bytes", Some("3000000000")).is_err(), "int overflow");
        assert!(validate("cleanup.policy", Some("compact,delete")).is_ok());
        assert!(validate("cleanup.policy", Some("compact,shred")).is_err());
        assert!(validate("message.timestamp.type", Some("LogAppendTime")).is_ok());
        assert!(validate("message.timestamp.type", Some("Whenever")).is_err());
        assert!(validate("min.cleanable.dirty.ratio", Some("1.5")).is_err());
        assert!(validate("preallocate", Some("TRUE")).is_ok());
        assert!(validate("preallocate", Some("yes")).is_err());
        assert!(validate("retention.ms", None).is_err());
        assert!(validate("leader.replication.throttled.replicas", Some("0:1, 1:2")).is_ok());
        assert!(validate("leader.replication.throttled.replicas", Some("*")).is_ok());
        assert!(validate("leader.replication.throttled.replicas", Some("junk")).is_err());
        assert!(validate("compression.type", Some(&"x".repeat(40_000))).is_err());
        assert!(validate("compression.gzip.level", Some("-1")).is_ok());
        assert!(validate("compression.gzip.level", Some("0")).is_err());
        assert!(validate("compression.lz4.level", Some("18")).is_err());
        assert!(validate("compression.zstd.level", Some("-5")).is_ok());
    }

    #[test]
    fn invalid_broker_values_are_refused_naming_the_broker_key() {
        let error = TopicDefaults::from_broker_properties(&properties(&[(
            "log.flush.interval.messages",
            "0",
        )]))
        .unwrap_err();
        assert!(error.to_string().contains("log.flush.interval.messages"), "{error}");
    }
}
