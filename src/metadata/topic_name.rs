//! Kafka's topic name rules (`org.apache.kafka.common.internals.Topic`).

use crate::error::{Error, Result};
use crate::limits::TOPIC_NAME_LENGTH_MAX;

/// Checks a topic name: 1 to 249 characters of ASCII letters, digits, `.`, `_` and `-`, and
/// not `.` or `..`. Errors are INVALID_TOPIC_EXCEPTION with Kafka's messages.
pub fn validate(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidTopic("Topic name is illegal, it can't be empty".into()));
    }
    if name == "." || name == ".." {
        return Err(Error::InvalidTopic("Topic name cannot be \".\" or \"..\"".into()));
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return Err(Error::InvalidTopic(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_LENGTH_MAX} characters, topic name: {name}"
        )));
    }
    if !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
    {
        return Err(Error::InvalidTopic(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// The metadata log's topic: its partition directory is the metadata log itself, so no client
/// topic may take the name (Kafka refuses it too).
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// Checks that a client may create a topic of this name (Kafka's internal-topic rule).
pub fn check_creatable(name: &str) -> Result<()> {
    if name == METADATA_TOPIC {
        return Err(Error::InvalidRequest(format!(
            "Creation of internal topic {METADATA_TOPIC} is prohibited."
        )));
    }
    Ok(())
}

/// Topics whose names differ only in `.` versus `_` collide in metric names, so Kafka refuses
/// to create one while the other exists. Two names collide when their keys are equal.
pub fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_rules() {
        for good in ["a", "orders", "a.b_c-D9", &"x".repeat(249)] {
            assert!(validate(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a b", "a/b", "ümlaut", "a:b", &"x".repeat(250)] {
            assert_eq!(validate(bad).unwrap_err().code(), 17, "{bad}");
        }
        assert_eq!(collision_key("a.b_c"), collision_key("a_b.c"));
        assert_eq!(check_creatable("__cluster_metadata").unwrap_err().code(), 42);
        assert!(check_creatable("__cluster_metadata-0").is_ok());
        assert_ne!(collision_key("ab"), collision_key("a_b"));
    }
}
