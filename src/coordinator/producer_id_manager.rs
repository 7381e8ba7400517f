//! Hands out producer ids for InitProducerId (Kafka's `ProducerIdManager`).
//!
//! Ids come in blocks of [`PRODUCER_ID_BLOCK_SIZE`] reserved in the metadata log
//! ([`MetadataStore::allocate_producer_ids`], KRaft's `ProducerIdsRecord`): a block is
//! durable before its first id is given out, so an id is never given twice, even after a
//! crash (the rest of a block in use is skipped). One block per thousand producers costs one
//! metadata fsync.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::metadata::MetadataStore;

/// Producer ids reserved per metadata write (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// The block being handed out.
#[derive(Debug, Default)]
pub struct ProducerIdManager {
    block: tokio::sync::Mutex<Range<i64>>,
}

impl ProducerIdManager {
    /// The next unused producer id, reserving a new block first when the current one is used
    /// up. A failed reservation is COORDINATOR_LOAD_IN_PROGRESS, which producers retry, as
    /// Kafka answers while its next block is not ready.
    pub async fn generate_producer_id(&self, metadata: &MetadataStore) -> Result<i64> {
        let mut block = self.block.lock().await;
        if block.is_empty() {
            *block =
                metadata.allocate_producer_ids(PRODUCER_ID_BLOCK_SIZE).await.map_err(|error| {
                    tracing::error!(%error, "reserving a block of producer ids failed");
                    match error {
                        Error::Internal(_) => error,
                        other => Error::CoordinatorLoadInProgress(format!(
                            "cannot reserve producer ids: {other}"
                        )),
                    }
                })?;
            tracing::debug!(block = ?*block, "reserved producer ids");
        }
        let producer_id = block.start;
        block.start += 1;
        Ok(producer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::metadata::MetadataSettings;

    #[tokio::test]
    async fn ids_are_unique_and_blocks_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            MetadataSettings { node_id: 1, default_partitions: 1, default_replication_factor: 1 };
        let open = || MetadataStore::open(dir.path(), settings.clone(), Clock::system()).unwrap();
        let mut seen = std::collections::HashSet::new();
        {
            let metadata = open();
            let manager = ProducerIdManager::default();
            for _ in 0..1500 {
                assert!(seen.insert(manager.generate_producer_id(&metadata).await.unwrap()));
            }
        }
        let metadata = open();
        let manager = ProducerIdManager::default();
        let after_restart = manager.generate_producer_id(&metadata).await.unwrap();
        assert_eq!(after_restart, 2000, "the partly used block is skipped, never reused");
        assert!(!seen.contains(&after_restart));
    }
}
