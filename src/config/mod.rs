//! Broker configuration: command-line flags over a `server.properties` file (Kafka's key
//! names) over built-in defaults, validated once at start.
//!
//! With no arguments the broker is the embedded default: one node (id 1) serving
//! `127.0.0.1:9092` from `./riffle-data`. Unknown keys are warned about and ignored; invalid
//! values stop start-up with a message naming the key.

pub mod alter;
pub mod describe;
pub mod dynamic;
pub mod properties;
pub mod topic;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::limits;
use topic::{ConfigType, TopicDefaults};

/// Command-line interface of the `riffle` binary.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "riffle", version, about = "A Kafka-wire-compatible message broker")]
pub struct Cli {
    /// A Kafka-style server.properties file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `listeners`), e.g. 127.0.0.1:9092.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// Address clients are told to connect to (overrides `advertised.listeners`).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertised_listener: Option<String>,
    /// Data directory (overrides `log.dirs`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// This broker's node id (overrides `node.id`).
    #[arg(long)]
    pub node_id: Option<i32>,
    /// Any config as KEY=VALUE with Kafka's key names; repeatable, applied last.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid value '{value}' for {key}: {reason}")]
    Invalid { key: String, value: String, reason: String },
    #[error("{0}")]
    Topic(#[from] crate::error::Error),
}

/// A host and port as written in a listener URL or flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Address for `bind`/`connect`: an empty host means all interfaces.
    pub fn bind_address(&self) -> String {
        let host = if self.host.is_empty() { "0.0.0.0" } else { self.host.as_str() };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The validated broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub listener: HostPort,
    /// What Metadata tells clients; `None` advertises the listener (with its bound port).
    pub advertised_listener: Option<HostPort>,
    pub data_dir: PathBuf,
    pub node_id: i32,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub socket_request_max_bytes: u32,
    pub max_connections: usize,
    pub queued_max_request_bytes: u64,
    pub fetch_max_bytes: i32,
    pub connections_max_idle_ms: u64,
    /// How often logs are checked against `flush.ms`.
    pub log_flush_scheduler_interval_ms: u64,
    /// How often the recovery-point checkpoint is written.
    pub log_flush_offset_checkpoint_interval_ms: u64,
    /// How often retention is applied.
    pub log_retention_check_interval_ms: u64,
    /// How long an idempotent producer's state is kept after its last write.
    pub producer_id_expiration_ms: i64,
    /// How often expired producer state is removed.
    pub producer_id_expiration_check_interval_ms: u64,
    pub topic_defaults: TopicDefaults,
    pub groups: GroupConfig,
    pub cleaner: CleanerConfig,
    /// The known keys as given (file, flags, overrides), for DescribeConfigs.
    raw: BTreeMap<String, String>,
}

/// The log cleaner's settings (Kafka's `log.cleaner.*` keys; see [`crate::log::cleaner`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable`.
    pub enable: bool,
    /// `log.cleaner.dedupe.buffer.size`: the key map's memory budget.
    pub dedupe_buffer_bytes: usize,
    /// `log.cleaner.io.buffer.load.factor`: how full the key map may get.
    pub dedupe_load_factor: f64,
    /// `log.cleaner.io.max.bytes.per.second`: the cleaner's read plus write rate.
    pub io_max_bytes_per_second: f64,
    /// `log.cleaner.backoff.ms`: the pause when no log needs cleaning.
    pub backoff_ms: u64,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        Self {
            enable: true,
            dedupe_buffer_bytes: 128 * 1024 * 1024,
            dedupe_load_factor: 0.9,
            io_max_bytes_per_second: f64::MAX,
            backoff_ms: 15_000,
        }
    }
}

/// The group coordinator's settings (Kafka's `group.*` and `offsets.*` keys).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`, capped at [`limits::GROUP_MEMBERS_MAX`].
    pub max_size: usize,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_replication_factor: i16,
    pub offsets_topic_segment_bytes: i32,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self::from_properties(&BTreeMap::new()).expect("defaults are valid")
    }
}

/// Broker keys this broker reads (besides the topic-default synonyms in [`topic`]).
const BROKER_KEYS: &[&str] = &[
    "listeners",
    "advertised.listeners",
    "log.dirs",
    "log.dir",
    "node.id",
    "broker.id",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "socket.request.max.bytes",
    "max.connections",
    "queued.max.request.bytes",
    "fetch.max.bytes",
    "connections.max.idle.ms",
    "log.flush.scheduler.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "log.retention.check.interval.ms",
    "producer.id.expiration.ms",
    "producer.id.expiration.check.interval.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.initial.rebalance.delay.ms",
    "group.max.size",
    "offsets.topic.num.partitions",
    "offsets.topic.replication.factor",
    "offsets.topic.segment.bytes",
    "offsets.retention.minutes",
    "offsets.retention.check.interval.ms",
    "offset.metadata.max.bytes",
    "log.cleaner.enable",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.backoff.ms",
];

impl BrokerConfig {
    /// Builds the configuration from the command line (and the file it names).
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let mut properties = match &cli.config {
            Some(path) => read_properties(path)?,
            None => BTreeMap::new(),
        };
        for assignment in &cli.overrides {
            let (key, value) = assignment.split_once('=').ok_or_else(|| ConfigError::Invalid {
                key: "--override".into(),
                value: assignment.clone(),
                reason: "expected KEY=VALUE".into(),
            })?;
            properties.insert(key.trim().to_owned(), value.trim().to_owned());
        }
        if let Some(listen) = &cli.listen {
            properties.insert("listeners".into(), format!("PLAINTEXT://{listen}"));
        }
        if let Some(advertised) = &cli.advertised_listener {
            properties.insert("advertised.listeners".into(), format!("PLAINTEXT://{advertised}"));
        }
        if let Some(dir) = &cli.data_dir {
            properties.insert("log.dirs".into(), dir.display().to_string());
        }
        if let Some(node_id) = cli.node_id {
            properties.insert("node.id".into(), node_id.to_string());
        }
        Self::from_properties(&properties)
    }

    /// Builds the configuration from Kafka-named properties.
    pub fn from_properties(properties: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        warn_unknown_keys(properties);
        let get = |keys: &[&'static str]| {
            keys.iter().find_map(|key| properties.get(*key).map(|value| (*key, value)))
        };
        let listener = match get(&["listeners"]) {
            Some((key, value)) => parse_listeners(key, value)?,
            None => HostPort { host: "127.0.0.1".into(), port: 9092 },
        };
        let advertised_listener = get(&["advertised.listeners"])
            .map(|(key, value)| parse_listeners(key, value))
            .transpose()?;
        let data_dir = match get(&["log.dirs", "log.dir"]) {
            Some((key, value)) => parse_data_dir(key, value)?,
            None => PathBuf::from("./riffle-data"),
        };
        let config = Self {
            listener,
            advertised_listener,
            data_dir,
            node_id: number(get(&["node.id", "broker.id"]), 1, 0..=i64::from(i32::MAX))?,
            num_partitions: number(
                get(&["num.partitions"]),
                1,
                1..=i64::from(limits::PARTITIONS_PER_TOPIC_MAX),
            )?,
            default_replication_factor: number(
                get(&["default.replication.factor"]),
                1,
                1..=i64::from(i16::MAX),
            )?,
            auto_create_topics_enable: boolean(get(&["auto.create.topics.enable"]), true)?,
            socket_request_max_bytes: number(
                get(&["socket.request.max.bytes"]),
                limits::FRAME_SIZE_MAX_DEFAULT,
                i64::from(limits::FRAME_SIZE_MIN)..=i64::from(i32::MAX),
            )?,
            max_connections: number(
                get(&["max.connections"]),
                limits::CONNECTIONS_MAX_DEFAULT,
                1..=1_000_000,
            )?,
            queued_max_request_bytes: queued_bytes(get(&["queued.max.request.bytes"]))?,
            fetch_max_bytes: number(
                get(&["fetch.max.bytes"]),
                limits::FETCH_RESPONSE_BYTES_MAX_DEFAULT,
                1024..=i64::from(i32::MAX),
            )?,
            connections_max_idle_ms: number(
                get(&["connections.max.idle.ms"]),
                limits::CONNECTION_IDLE_MS_DEFAULT,
                1..=i64::MAX,
            )?,
            log_flush_scheduler_interval_ms: number(
                get(&["log.flush.scheduler.interval.ms"]),
                1000,
                1..=i64::MAX,
            )?,
            log_flush_offset_checkpoint_interval_ms: number(
                get(&["log.flush.offset.checkpoint.interval.ms"]),
                60_000,
                1..=i64::MAX,
            )?,
            log_retention_check_interval_ms: number(
                get(&["log.retention.check.interval.ms"]),
                300_000,
                1..=i64::MAX,
            )?,
            producer_id_expiration_ms: number(
                get(&["producer.id.expiration.ms"]),
                86_400_000,
                1..=i64::from(i32::MAX),
            )?,
            producer_id_expiration_check_interval_ms: number(
                get(&["producer.id.expiration.check.interval.ms"]),
                600_000,
                1..=i64::from(i32::MAX),
            )?,
            topic_defaults: TopicDefaults::from_broker_properties(properties)?,
            groups: group_config(&get)?,
            cleaner: cleaner_config(&get)?,
            raw: properties
                .iter()
                .filter(|(key, _)| is_known_key(key))
                .map(|(key, value)| (key.clone(), value.trim().to_owned()))
                .collect(),
        };
        config.check_relations()?;
        Ok(config)
    }

    /// Every known key as given (trimmed): the static layer of broker configs.
    pub fn static_configs(&self) -> &BTreeMap<String, String> {
        &self.raw
    }

    /// The value a key was given, if it was (trimmed).
    pub fn raw_value(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }

    /// Every key of [`BROKER_KEYS`] with its type and typed value (`None` when unset and
    /// without a default).
    pub fn described_values(&self) -> Vec<(&'static str, ConfigType, Option<String>)> {
        let listener =
            |host_port: &HostPort| format!("PLAINTEXT://{}:{}", host_port.host, host_port.port);
        let groups = &self.groups;
        let value = |key: &str| -> (ConfigType, Option<String>) {
            use ConfigType::{Boolean, Int, List, Long, String as Str};
            match key {
                "listeners" => (List, Some(listener(&self.listener))),
                "advertised.listeners" => (List, self.advertised_listener.as_ref().map(listener)),
                "log.dirs" | "log.dir" => (Str, Some(self.data_dir.display().to_string())),
                "node.id" | "broker.id" => (Int, Some(self.node_id.to_string())),
                "num.partitions" => (Int, Some(self.num_partitions.to_string())),
                "default.replication.factor" => {
                    (Int, Some(self.default_replication_factor.to_string()))
                }
                "auto.create.topics.enable" => {
                    (Boolean, Some(self.auto_create_topics_enable.to_string()))
                }
                "socket.request.max.bytes" => {
                    (Int, Some(self.socket_request_max_bytes.to_string()))
                }
                "max.connections" => (Int, Some(self.max_connections.to_string())),
                "queued.max.request.bytes" => {
                    (Long, Some(self.queued_max_request_bytes.to_string()))
                }
                "fetch.max.bytes" => (Int, Some(self.fetch_max_bytes.to_string())),
                "connections.max.idle.ms" => (Long, Some(self.connections_max_idle_ms.to_string())),
                "log.flush.scheduler.interval.ms" => {
                    (Long, Some(self.log_flush_scheduler_interval_ms.to_string()))
                }
                "log.flush.offset.checkpoint.interval.ms" => {
                    (Int, Some(self.log_flush_offset_checkpoint_interval_ms.to_string()))
                }
                "log.retention.check.interval.ms" => {
                    (Long, Some(self.log_retention_check_interval_ms.to_string()))
                }
                "producer.id.expiration.ms" => {
                    (Int, Some(self.producer_id_expiration_ms.to_string()))
                }
                "producer.id.expiration.check.interval.ms" => {
                    (Int, Some(self.producer_id_expiration_check_interval_ms.to_string()))
                }
                "group.min.session.timeout.ms" => {
                    (Int, Some(groups.min_session_timeout_ms.to_string()))
                }
                "group.max.session.timeout.ms" => {
                    (Int, Some(groups.max_session_timeout_ms.to_string()))
                }
                "group.initial.rebalance.delay.ms" => {
                    (Int, Some(groups.initial_rebalance_delay_ms.to_string()))
                }
                "group.max.size" => (Int, Some(groups.max_size.to_string())),
                "offsets.topic.num.partitions" => {
                    (Int, Some(groups.offsets_topic_num_partitions.to_string()))
                }
                "offsets.topic.replication.factor" => {
                    (ConfigType::Int, Some(groups.offsets_topic_replication_factor.to_string()))
                }
                "offsets.topic.segment.bytes" => {
                    (Int, Some(groups.offsets_topic_segment_bytes.to_string()))
                }
                "offsets.retention.minutes" => {
                    (Int, Some((groups.offsets_retention_ms / 60_000).to_string()))
                }
                "offsets.retention.check.interval.ms" => {
                    (Long, Some(groups.offsets_retention_check_interval_ms.to_string()))
                }
                "offset.metadata.max.bytes" => {
                    (Int, Some(groups.offset_metadata_max_bytes.to_string()))
                }
                "log.cleaner.enable" => (Boolean, Some(self.cleaner.enable.to_string())),
                "log.cleaner.dedupe.buffer.size" => {
                    (Long, Some(self.cleaner.dedupe_buffer_bytes.to_string()))
                }
                "log.cleaner.io.buffer.load.factor" => {
                    (ConfigType::Double, Some(java_double(self.cleaner.dedupe_load_factor)))
                }
                "log.cleaner.io.max.bytes.per.second" => {
                    (ConfigType::Double, Some(java_double(self.cleaner.io_max_bytes_per_second)))
                }
                "log.cleaner.backoff.ms" => (Long, Some(self.cleaner.backoff_ms.to_string())),
                other => unreachable!("{other} is in BROKER_KEYS but not described"),
            }
        };
        BROKER_KEYS
            .iter()
            .map(|key| {
                let (ty, described) = value(key);
                (*key, ty, described)
            })
            .collect()
    }

    fn check_relations(&self) -> Result<(), ConfigError> {
        if self.groups.min_session_timeout_ms > self.groups.max_session_timeout_ms {
            return Err(ConfigError::Invalid {
                key: "group.min.session.timeout.ms".into(),
                value: self.groups.min_session_timeout_ms.to_string(),
                reason: "must not exceed group.max.session.timeout.ms".into(),
            });
        }
        if self.queued_max_request_bytes < u64::from(self.socket_request_max_bytes) {
            return Err(ConfigError::Invalid {
                key: "queued.max.request.bytes".into(),
                value: self.queued_max_request_bytes.to_string(),
                reason: "must be at least socket.request.max.bytes".into(),
            });
        }
        let segment_bytes = self.topic_defaults.value("segment.bytes").unwrap_or_default();
        if segment_bytes.parse::<u64>().unwrap_or(0) < 1024 * 1024 {
            return Err(ConfigError::Invalid {
                key: "log.segment.bytes".into(),
                value: segment_bytes.into(),
                reason: "must be at least 1048576".into(),
            });
        }
        Ok(())
    }
}

type Lookup<'a> = dyn Fn(&[&'static str]) -> Option<(&'static str, &'a String)> + 'a;

fn group_config<'a>(get: &Lookup<'a>) -> Result<GroupConfig, ConfigError> {
    let int_max = i64::from(i32::MAX);
    let retention_minutes: i64 =
        number(get(&["offsets.retention.minutes"]), 7 * 24 * 60, 1..=int_max)?;
    Ok(GroupConfig {
        min_session_timeout_ms: number(get(&["group.min.session.timeout.ms"]), 6000, 0..=int_max)?,
        max_session_timeout_ms: number(
            get(&["group.max.session.timeout.ms"]),
            1_800_000,
            0..=int_max,
        )?,
        initial_rebalance_delay_ms: number(
            get(&["group.initial.rebalance.delay.ms"]),
            3000,
            0..=int_max,
        )?,
        max_size: number::<i64>(get(&["group.max.size"]), int_max, 1..=int_max)?
            .min(i64::try_from(limits::GROUP_MEMBERS_MAX).unwrap_or(int_max))
            .try_into()
            .unwrap_or(limits::GROUP_MEMBERS_MAX),
        offsets_topic_num_partitions: number(
            get(&["offsets.topic.num.partitions"]),
            50,
            1..=i64::from(limits::PARTITIONS_PER_TOPIC_MAX),
        )?,
        offsets_topic_replication_factor: number(
            get(&["offsets.topic.replication.factor"]),
            1,
            1..=i64::from(i16::MAX),
        )?,
        offsets_topic_segment_bytes: number(
            get(&["offsets.topic.segment.bytes"]),
            100 * 1024 * 1024,
            1024 * 1024..=int_max,
        )?,
        offsets_retention_ms: retention_minutes * 60_000,
        offsets_retention_check_interval_ms: number(
            get(&["offsets.retention.check.interval.ms"]),
            600_000,
            1..=i64::MAX,
        )?,
        // The record format holds metadata in an i16-length string.
        offset_metadata_max_bytes: number(
            get(&["offset.metadata.max.bytes"]),
            4096,
            0..=i64::from(i16::MAX),
        )?,
    })
}

fn cleaner_config<'a>(get: &Lookup<'a>) -> Result<CleanerConfig, ConfigError> {
    let defaults = CleanerConfig::default();
    Ok(CleanerConfig {
        enable: boolean(get(&["log.cleaner.enable"]), defaults.enable)?,
        dedupe_buffer_bytes: number(
            get(&["log.cleaner.dedupe.buffer.size"]),
            defaults.dedupe_buffer_bytes,
            1..=i64::MAX,
        )?,
        dedupe_load_factor: double(
            get(&["log.cleaner.io.buffer.load.factor"]),
            defaults.dedupe_load_factor,
            |factor| factor > 0.0 && factor <= 1.0,
            "must be in (0, 1]",
        )?,
        io_max_bytes_per_second: double(
            get(&["log.cleaner.io.max.bytes.per.second"]),
            defaults.io_max_bytes_per_second,
            |rate| rate > 0.0,
            "must be positive",
        )?,
        backoff_ms: number(get(&["log.cleaner.backoff.ms"]), defaults.backoff_ms, 0..=i64::MAX)?,
    })
}

/// A double as Java's `Double.toString` writes the values used here (`0.9`,
/// `1.7976931348623157E308`).
fn java_double(value: f64) -> String {
    if value == f64::MAX {
        return "1.7976931348623157E308".into();
    }
    let text = value.to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

fn double(
    entry: Option<(&str, &String)>,
    default: f64,
    valid: impl Fn(f64) -> bool,
    reason: &str,
) -> Result<f64, ConfigError> {
    let Some((key, value)) = entry else {
        return Ok(default);
    };
    let parsed: f64 = value.trim().parse().map_err(|_| invalid(key, value, "not a number"))?;
    if !parsed.is_finite() || !valid(parsed) {
        return Err(invalid(key, value, reason));
    }
    Ok(parsed)
}

fn read_properties(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    Ok(properties::parse(&text))
}

fn is_known_key(key: &str) -> bool {
    BROKER_KEYS.contains(&key)
        || topic::TOPIC_CONFIGS
            .iter()
            .any(|def| def.synonyms.iter().any(|synonym| synonym.broker_key == key))
}

fn warn_unknown_keys(properties: &BTreeMap<String, String>) {
    for key in properties.keys() {
        if !is_known_key(key) {
            tracing::warn!(key, "unknown or unsupported config key, ignored");
        }
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), value: value.into(), reason: reason.into() }
}

fn number<T: TryFrom<i64>>(
    entry: Option<(&str, &String)>,
    default: T,
    range: std::ops::RangeInclusive<i64>,
) -> Result<T, ConfigError> {
    let Some((key, value)) = entry else {
        return Ok(default);
    };
    let parsed: i64 = value.trim().parse().map_err(|_| invalid(key, value, "not an integer"))?;
    if !range.contains(&parsed) {
        return Err(invalid(key, value, format!("must be in {}..={}", range.start(), range.end())));
    }
    T::try_from(parsed).map_err(|_| invalid(key, value, "out of range"))
}

fn boolean(entry: Option<(&str, &String)>, default: bool) -> Result<bool, ConfigError> {
    let Some((key, value)) = entry else {
        return Ok(default);
    };
    topic::parse_bool(value).map_err(|reason| invalid(key, value, reason))
}

fn queued_bytes(entry: Option<(&str, &String)>) -> Result<u64, ConfigError> {
    match entry {
        // Kafka's -1 means unbounded; Riffle keeps a bound and uses its default.
        Some((_, value)) if value.trim() == "-1" => Ok(limits::QUEUED_REQUEST_BYTES_MAX_DEFAULT),
        other => number(other, limits::QUEUED_REQUEST_BYTES_MAX_DEFAULT, 1..=i64::MAX),
    }
}

fn parse_data_dir(key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    let dirs: Vec<&str> = value.split(',').map(str::trim).filter(|dir| !dir.is_empty()).collect();
    match dirs.as_slice() {
        [dir] => Ok(PathBuf::from(dir)),
        [] => Err(invalid(key, value, "no directory given")),
        _ => Err(invalid(key, value, "Riffle stores data in one directory; give exactly one")),
    }
}

/// Parses Kafka's `listeners` list and picks the client listener: the one named PLAINTEXT, or
/// else the first that is not the controller's.
fn parse_listeners(key: &str, value: &str) -> Result<HostPort, ConfigError> {
    let mut chosen = None;
    for entry in value.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let (name, address) = entry
            .split_once("://")
            .ok_or_else(|| invalid(key, value, format!("'{entry}' is not NAME://HOST:PORT")))?;
        let host_port = parse_host_port(address).map_err(|reason| invalid(key, value, reason))?;
        match name {
            "PLAINTEXT" => return Ok(host_port),
            "CONTROLLER" => tracing::warn!(listener = entry, "controller listener ignored"),
            "SSL" | "SASL_PLAINTEXT" | "SASL_SSL" => {
                return Err(invalid(key, value, "only PLAINTEXT listeners are supported"));
            }
            _ if chosen.is_none() => chosen = Some(host_port),
            _ => tracing::warn!(listener = entry, "extra listener ignored"),
        }
    }
    chosen.ok_or_else(|| invalid(key, value, "no client listener"))
}

/// Parses `host:port`, `:port` or `[v6]:port`.
pub fn parse_host_port(address: &str) -> Result<HostPort, String> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or("bad IPv6 address")?;
        (host, port)
    } else {
        address.rsplit_once(':').ok_or_else(|| format!("'{address}' has no port"))?
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port in '{address}'"))?;
    Ok(HostPort { host: host.to_owned(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<BrokerConfig, ConfigError> {
        let properties =
            pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        BrokerConfig::from_properties(&properties)
    }

    #[test]
    fn the_embedded_default() {
        let config = BrokerConfig::default();
        assert_eq!(config.listener, HostPort { host: "127.0.0.1".into(), port: 9092 });
        assert_eq!(config.data_dir, PathBuf::from("./riffle-data"));
        assert_eq!(config.node_id, 1);
        assert_eq!(config.num_partitions, 1);
        assert!(config.auto_create_topics_enable);
        assert_eq!(config.socket_request_max_bytes, 100 * 1024 * 1024);
    }

    #[test]
    fn kafka_keys_are_read() {
        let config = config(&[
            ("listeners", "PLAINTEXT://0.0.0.0:19092,CONTROLLER://:9093"),
            ("advertised.listeners", "PLAINTEXT://broker1:19092"),
            ("log.dirs", "/var/lib/riffle"),
            ("node.id", "7"),
            ("num.partitions", "6"),
            ("auto.create.topics.enable", "false"),
            ("log.segment.bytes", "2097152"),
            ("message.max.bytes", "2000000"),
            ("log.flush.interval.messages", "1"),
            ("log.flush.interval.ms", "1000"),
            ("socket.request.max.bytes", "1048576"),
        ])
        .unwrap();
        assert_eq!(config.listener, HostPort { host: "0.0.0.0".into(), port: 19092 });
        assert_eq!(
            config.advertised_listener,
            Some(HostPort { host: "broker1".into(), port: 19092 })
        );
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/riffle"));
        assert_eq!(config.node_id, 7);
        assert_eq!(config.num_partitions, 6);
        assert!(!config.auto_create_topics_enable);
        assert_eq!(config.socket_request_max_bytes, 1_048_576);
        let log = topic::LogConfig::resolve(&config.topic_defaults, &BTreeMap::new());
        assert_eq!(log.segment_bytes, 2_097_152);
        assert_eq!(log.max_message_bytes, 2_000_000);
        assert_eq!(log.flush_messages, 1);
        assert_eq!(log.flush_ms, 1000);
    }

    #[test]
    fn invalid_values_are_refused_with_the_key() {
        for (key, value) in [
            ("num.partitions", "0"),
            ("num.partitions", "many"),
            ("node.id", "-3"),
            ("auto.create.topics.enable", "maybe"),
            ("socket.request.max.bytes", "5"),
            ("listeners", "127.0.0.1:9092"),
            ("listeners", "SSL://:9093"),
            ("log.dirs", "/a,/b"),
            ("log.segment.bytes", "1000"),
            ("message.max.bytes", "-5"),
        ] {
            let error = config(&[(key, value)]).unwrap_err().to_string();
            assert!(error.contains(key), "{key}={value}: {error}");
        }
    }

    #[test]
    fn cli_flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(&path, "listeners=PLAINTEXT://127.0.0.1:1111\nnum.partitions=4\n").unwrap();
        let cli = Cli {
            config: Some(path),
            listen: Some("127.0.0.1:2222".into()),
            overrides: vec!["num.partitions=5".into()],
            ..Cli::default()
        };
        let config = BrokerConfig::load(&cli).unwrap();
        assert_eq!(config.listener.port, 2222);
        assert_eq!(config.num_partitions, 5);
    }

    #[test]
    fn host_ports_parse() {
        assert_eq!(parse_host_port(":9092").unwrap(), HostPort { host: String::new(), port: 9092 });
        assert_eq!(
            parse_host_port("[::1]:9092").unwrap(),
            HostPort { host: "::1".into(), port: 9092 }
        );
        assert!(parse_host_port("nohost").is_err());
        assert_eq!(HostPort { host: String::new(), port: 1 }.bind_address(), "0.0.0.0:1");
        assert_eq!(HostPort { host: "::1".into(), port: 1 }.bind_address(), "[::1]:1");
    }
}
