//! `meta.properties`: the data directory's identity, in Kafka's format.
//!
//! ```text
//! version=1
//! cluster.id=<base64 uuid>
//! node.id=<id>
//! directory.id=<base64 uuid>
//! ```
//!
//! Written once when a data directory is first used; afterwards the configured `node.id`
//! must match it, as Kafka refuses to start a broker on another node's data.

use std::path::Path;

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::log::checkpoint::write_atomically;
use crate::types::uuid_to_kafka_string;

pub const FILE_NAME: &str = "meta.properties";

/// The identity recorded in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: i32,
    pub directory_id: String,
}

/// Reads `meta.properties` from `data_dir`, creating it with a new cluster id if absent.
pub fn load_or_create(data_dir: &Path, node_id: i32) -> Result<MetaProperties> {
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let properties = crate::config::properties::parse(&text);
            let field = |key: &str| {
                properties.get(key).cloned().ok_or_else(|| {
                    Error::Internal(format!("{} has no {key}; refusing to start", path.display()))
                })
            };
            let recorded: i32 = field("node.id")?.parse().map_err(|_| {
                Error::Internal(format!("{} has a malformed node.id", path.display()))
            })?;
            if recorded != node_id {
                return Err(Error::Internal(format!(
                    "the data directory {} belongs to node {recorded}, not the configured node.id {node_id}",
                    data_dir.display()
                )));
            }
            Ok(MetaProperties {
                cluster_id: field("cluster.id")?,
                node_id,
                directory_id: field("directory.id").unwrap_or_default(),
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let created = MetaProperties {
                cluster_id: uuid_to_kafka_string(Uuid::new_v4()),
                node_id,
                directory_id: uuid_to_kafka_string(Uuid::new_v4()),
            };
            let text = format!(
                "#Written by riffle\nversion=1\ncluster.id={}\nnode.id={}\ndirectory.id={}\n",
                created.cluster_id, created.node_id, created.directory_id
            );
            write_atomically(&path, text.as_bytes())?;
            Ok(created)
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let created = load_or_create(dir.path(), 3).unwrap();
        assert_eq!(created.cluster_id.len(), 22);
        assert_eq!(load_or_create(dir.path(), 3).unwrap(), created);
        let error = load_or_create(dir.path(), 4).unwrap_err();
        assert!(error.to_string().contains("node 3"), "{error}");
    }
}
