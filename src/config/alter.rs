//! Working out a resource's new configs from an AlterConfigs or IncrementalAlterConfigs
//! request, with Kafka's checks and error codes. Topics and brokers share the procedure; a
//! [`ConfigKind`] says which names exist and how a value is checked.
//!
//! Incremental operations (KIP-339): SET a value, DELETE an override (the default applies
//! again), APPEND items to or SUBTRACT items from a LIST config. APPEND and SUBTRACT start
//! from the override, else the config's Kafka default, as Kafka's `ConfigAdminManager` does.
//! The legacy AlterConfigs replaces every override with the set given. A key named twice in
//! one resource, or a null value (except to DELETE), is INVALID_REQUEST; an unknown key, a bad
//! value, or APPEND/SUBTRACT on a non-list config is refused with the kind's error naming the
//! key (topics: INVALID_CONFIG; dynamic broker configs: INVALID_REQUEST, see
//! [`super::dynamic`]). Deleting an unknown key does nothing, as in Kafka. Values are stored
//! trimmed. A value longer than [`CONFIG_VALUE_LENGTH_MAX`] is refused before it is split or
//! parsed.

use std::collections::{BTreeMap, HashSet};

use super::topic::{CONFIG_VALUE_LENGTH_MAX, ConfigType, definition, validate};
use crate::error::{Error, Result};

/// The configs one resource type has.
pub trait ConfigKind {
    /// The type of config `name`, or the refusal of a name that cannot be set.
    fn config_type(&self, name: &str) -> Result<ConfigType>;
    /// Kafka's default for `name`, where APPEND and SUBTRACT start without an override.
    fn default_value(&self, name: &str) -> &'static str;
    /// Checks a value for `name` (already known).
    fn validate(&self, name: &str, value: &str) -> Result<()>;
    /// The refusal of a value too long to store.
    fn too_long(&self, name: &str) -> Error;
}

/// Topic configs: Kafka's `LogConfig` names; refusals are INVALID_CONFIG.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigs;

impl ConfigKind for TopicConfigs {
    fn config_type(&self, name: &str) -> Result<ConfigType> {
        definition(name)
            .map(|def| def.ty)
            .ok_or_else(|| Error::InvalidConfig(format!("Unknown topic config name: {name}")))
    }

    fn default_value(&self, name: &str) -> &'static str {
        definition(name).map_or("", |def| def.default)
    }

    fn validate(&self, name: &str, value: &str) -> Result<()> {
        validate(name, Some(value))
    }

    fn too_long(&self, name: &str) -> Error {
        Error::InvalidConfig(format!(
            "Invalid value for configuration {name}: longer than {CONFIG_VALUE_LENGTH_MAX} bytes"
        ))
    }
}

/// An IncrementalAlterConfigs operation (`AlterConfigOp.OpType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOp {
    pub fn from_wire(op: i8) -> Result<Self> {
        match op {
            0 => Ok(Self::Set),
            1 => Ok(Self::Delete),
            2 => Ok(Self::Append),
            3 => Ok(Self::Subtract),
            other => Err(Error::InvalidRequest(format!("Unknown alter config operation {other}"))),
        }
    }
}

/// One requested change of one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub name: String,
    pub op: AlterOp,
    pub value: Option<String>,
}

fn refuse_duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(Error::InvalidRequest(format!(
                "Error due to duplicate config keys: {name}"
            )));
        }
    }
    Ok(())
}

/// Kafka's `preprocess` check: every operation but DELETE needs a value.
fn require_value<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str> {
    value.ok_or_else(|| Error::InvalidRequest(format!("Null value not supported for : {name}")))
}

fn check_length(kind: &dyn ConfigKind, name: &str, value: &str) -> Result<()> {
    if value.len() > CONFIG_VALUE_LENGTH_MAX {
        return Err(kind.too_long(name));
    }
    Ok(())
}

fn list_items(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// The overrides after applying incremental `changes` to `current`.
pub fn incremental_overrides(
    kind: &dyn ConfigKind,
    current: &BTreeMap<String, String>,
    changes: &[ConfigChange],
) -> Result<BTreeMap<String, String>> {
    refuse_duplicates(changes.iter().map(|change| change.name.as_str()))?;
    for change in changes.iter().filter(|change| change.op != AlterOp::Delete) {
        check_length(kind, &change.name, require_value(&change.name, change.value.as_deref())?)?;
    }
    let mut next = current.clone();
    for change in changes {
        if change.op == AlterOp::Delete {
            next.remove(&change.name);
            continue;
        }
        let ty = kind.config_type(&change.name)?;
        let given = require_value(&change.name, change.value.as_deref())?.trim();
        match change.op {
            AlterOp::Set | AlterOp::Delete => {
                kind.validate(&change.name, given)?;
                next.insert(change.name.clone(), given.to_owned());
            }
            AlterOp::Append | AlterOp::Subtract => {
                if ty != ConfigType::List {
                    let verb = if change.op == AlterOp::Append { "append" } else { "subtract" };
                    return Err(Error::InvalidConfig(format!(
                        "Config value {verb} is not allowed for config key: {}",
                        change.name
                    )));
                }
                let old = next
                    .get(&change.name)
                    .map_or_else(|| kind.default_value(&change.name), String::as_str);
                let mut items = list_items(old);
                let given = list_items(given);
                if change.op == AlterOp::Append {
                    let mut present: HashSet<String> = items.iter().cloned().collect();
                    for item in given {
                        if present.insert(item.clone()) {
                            items.push(item);
                        }
                    }
                } else {
                    let removed: HashSet<&String> = given.iter().collect();
                    items.retain(|item| !removed.contains(item));
                }
                let value = items.join(",");
                kind.validate(&change.name, &value)?;
                next.insert(change.name.clone(), value);
            }
        }
    }
    Ok(next)
}

/// The overrides a legacy AlterConfigs sets: exactly the configs given.
pub fn replacement_overrides(
    kind: &dyn ConfigKind,
    configs: &[(String, Option<String>)],
) -> Result<BTreeMap<String, String>> {
    refuse_duplicates(configs.iter().map(|(name, _)| name.as_str()))?;
    for (name, value) in configs {
        check_length(kind, name, require_value(name, value.as_deref())?)?;
    }
    let mut next = BTreeMap::new();
    for (name, value) in configs {
        kind.config_type(name)?;
        let value = require_value(name, value.as_deref())?.trim();
        kind.validate(name, value)?;
        next.insert(name.clone(), value.to_owned());
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, op: AlterOp, value: Option<&str>) -> ConfigChange {
        ConfigChange { name: name.into(), op, value: value.map(Into::into) }
    }

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn set_delete_append_subtract() {
        let current = overrides(&[("retention.ms", "1000"), ("segment.bytes", "1048576")]);
        let next = incremental_overrides(
            &TopicConfigs,
            &current,
            &[
                change("retention.ms", AlterOp::Set, Some("2000")),
                change("segment.bytes", AlterOp::Delete, None),
                change("cleanup.policy", AlterOp::Append, Some("compact")),
            ],
        )
        .unwrap();
        assert_eq!(
            next,
            overrides(&[("cleanup.policy", "delete,compact"), ("retention.ms", "2000")])
        );
        let next = incremental_overrides(
            &TopicConfigs,
            &next,
            &[change("cleanup.policy", AlterOp::Subtract, Some("delete"))],
        )
        .unwrap();
        assert_eq!(next["cleanup.policy"], "compact");
        // Appending what is there already changes nothing; deleting an unset key is a no-op.
        let again = incremental_overrides(
            &TopicConfigs,
            &next,
            &[
                change("cleanup.policy", AlterOp::Append, Some("compact")),
                change("max.message.bytes", AlterOp::Delete, None),
                change("no.such.config", AlterOp::Delete, None),
            ],
        )
        .unwrap();
        assert_eq!(again, next);
        let trimmed = incremental_overrides(
            &TopicConfigs,
            &BTreeMap::new(),
            &[change("message.timestamp.type", AlterOp::Set, Some(" LogAppendTime "))],
        )
        .unwrap();
        assert_eq!(trimmed["message.timestamp.type"], "LogAppendTime");
    }

    #[test]
    fn refusals_carry_kafka_codes() {
        let current = BTreeMap::new();
        let code = |changes: &[ConfigChange]| {
            incremental_overrides(&TopicConfigs, &current, changes).unwrap_err().code()
        };
        assert_eq!(code(&[change("no.such", AlterOp::Set, Some("1"))]), 40);
        assert_eq!(code(&[change("retention.ms", AlterOp::Set, Some("soon"))]), 40);
        assert_eq!(
            code(&[change("retention.ms", AlterOp::Set, None)]),
            42,
            "null: Kafka's preprocess"
        );
        assert_eq!(code(&[change("cleanup.policy", AlterOp::Append, None)]), 42);
        let huge = "compact,".repeat(10_000);
        assert_eq!(code(&[change("cleanup.policy", AlterOp::Append, Some(&huge))]), 40);
        assert_eq!(code(&[change("retention.ms", AlterOp::Append, Some("1"))]), 40);
        assert_eq!(code(&[change("cleanup.policy", AlterOp::Append, Some("shred"))]), 40);
        assert_eq!(
            code(&[
                change("retention.ms", AlterOp::Set, Some("1")),
                change("retention.ms", AlterOp::Delete, None)
            ]),
            42
        );
        assert_eq!(AlterOp::from_wire(9).unwrap_err().code(), 42);
        let message = incremental_overrides(
            &TopicConfigs,
            &current,
            &[change("segment.bytes", AlterOp::Set, Some("1"))],
        )
        .unwrap_err()
        .to_string();
        assert!(message.contains("segment.bytes"), "{message}");
    }

    #[test]
    fn legacy_alter_replaces_everything() {
        let next =
            replacement_overrides(&TopicConfigs, &[("retention.ms".into(), Some("5".into()))])
                .unwrap();
        assert_eq!(next, overrides(&[("retention.ms", "5")]));
        assert_eq!(
            replacement_overrides(&TopicConfigs, &[("x".into(), Some("1".into()))])
                .unwrap_err()
                .code(),
            40
        );
    }
}
