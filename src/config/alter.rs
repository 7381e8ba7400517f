//! Working out a topic's new config overrides from an AlterConfigs or
//! IncrementalAlterConfigs request, with Kafka's checks and error codes.
//!
//! Incremental operations (KIP-339): SET a value, DELETE an override (the default applies
//! again), APPEND items to or SUBTRACT items from a LIST config. APPEND and SUBTRACT start
//! from the override, else the config's Kafka default, as Kafka's `ConfigAdminManager` does.
//! The legacy AlterConfigs replaces every override with the set given. A key named twice in
//! one resource is INVALID_REQUEST; an unknown key, a bad value, or APPEND/SUBTRACT on a
//! non-list config is INVALID_CONFIG naming the key.

use std::collections::{BTreeMap, HashSet};

use super::topic::{ConfigType, definition, validate};
use crate::error::{Error, Result};

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

fn known(name: &str) -> Result<&'static super::topic::TopicConfigDef> {
    definition(name)
        .ok_or_else(|| Error::InvalidConfig(format!("Unknown topic config name: {name}")))
}

fn list_items(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
}

/// The overrides after applying incremental `changes` to `current`.
pub fn incremental_topic_overrides(
    current: &BTreeMap<String, String>,
    changes: &[ConfigChange],
) -> Result<BTreeMap<String, String>> {
    refuse_duplicates(changes.iter().map(|change| change.name.as_str()))?;
    let mut next = current.clone();
    for change in changes {
        let def = known(&change.name)?;
        match change.op {
            AlterOp::Set => {
                validate(&change.name, change.value.as_deref())?;
                let value = change.value.clone().unwrap_or_default();
                next.insert(change.name.clone(), value);
            }
            AlterOp::Delete => {
                next.remove(&change.name);
            }
            AlterOp::Append | AlterOp::Subtract => {
                if def.ty != ConfigType::List {
                    let verb = if change.op == AlterOp::Append { "append" } else { "subtract" };
                    return Err(Error::InvalidConfig(format!(
                        "Config value {verb} is not allowed for config key: {}",
                        change.name
                    )));
                }
                let old = next.get(&change.name).map_or(def.default, String::as_str);
                let mut items = list_items(old);
                let given = list_items(change.value.as_deref().unwrap_or_default());
                if change.op == AlterOp::Append {
                    for item in given {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                } else {
                    items.retain(|item| !given.contains(item));
                }
                let value = items.join(",");
                validate(&change.name, Some(&value))?;
                next.insert(change.name.clone(), value);
            }
        }
    }
    Ok(next)
}

/// The overrides a legacy AlterConfigs sets: exactly the configs given.
pub fn replacement_topic_overrides(
    configs: &[(String, Option<String>)],
) -> Result<BTreeMap<String, String>> {
    refuse_duplicates(configs.iter().map(|(name, _)| name.as_str()))?;
    let mut next = BTreeMap::new();
    for (name, value) in configs {
        known(name)?;
        validate(name, value.as_deref())?;
        next.insert(name.clone(), value.clone().unwrap_or_default());
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
        let next = incremental_topic_overrides(
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
        let next = incremental_topic_overrides(
            &next,
            &[change("cleanup.policy", AlterOp::Subtract, Some("delete"))],
        )
        .unwrap();
        assert_eq!(next["cleanup.policy"], "compact");
        // Appending what is there already changes nothing; deleting an unset key is a no-op.
        let again = incremental_topic_overrides(
            &next,
            &[
                change("cleanup.policy", AlterOp::Append, Some("compact")),
                change("max.message.bytes", AlterOp::Delete, None),
            ],
        )
        .unwrap();
        assert_eq!(again, next);
    }

    #[test]
    fn refusals_carry_kafka_codes() {
        let current = BTreeMap::new();
        let code = |changes: &[ConfigChange]| {
            incremental_topic_overrides(&current, changes).unwrap_err().code()
        };
        assert_eq!(code(&[change("no.such", AlterOp::Set, Some("1"))]), 40);
        assert_eq!(code(&[change("retention.ms", AlterOp::Set, Some("soon"))]), 40);
        assert_eq!(code(&[change("retention.ms", AlterOp::Set, None)]), 40);
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
        let message = incremental_topic_overrides(
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
            replacement_topic_overrides(&[("retention.ms".into(), Some("5".into()))]).unwrap();
        assert_eq!(next, overrides(&[("retention.ms", "5")]));
        assert_eq!(
            replacement_topic_overrides(&[("x".into(), Some("1".into()))]).unwrap_err().code(),
            40
        );
    }
}
