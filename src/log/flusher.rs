//! Group commit: one thread that fsyncs partitions on request.
//!
//! An append that must be durable before it is acknowledged (`flush.messages` reached), a
//! segment roll, and the `flush.ms` timer all *request* a flush of a partition; the produce
//! path then awaits [`super::partition_log::PartitionLog::wait_flushed`]. A partition is queued
//! at most once at a time (a flag on the log), so the queue is bounded by the number of
//! partitions, and while one fsync runs every append arriving meanwhile is covered by the next:
//! one fsync serves many producers. fsync blocks, which is why it runs on its own thread and
//! never on the async runtime.
//!
//! When a flush makes rolled segments durable, the flusher signals `segments_synced`, on
//! which the log manager writes its recovery-point checkpoint at once rather than at its next
//! `log.flush.offset.checkpoint.interval.ms` tick: a crash soon after then recovers only the
//! active segments, not everything written since the last timed checkpoint.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use super::partition_log::PartitionLog;

#[derive(Debug, Default)]
struct Queue {
    logs: VecDeque<Arc<PartitionLog>>,
    stopping: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    wakeup: Condvar,
    segments_synced: Arc<tokio::sync::Notify>,
}

/// The flusher thread and its queue.
#[derive(Debug)]
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Flusher {
    /// Starts the thread; `segments_synced` is notified after a flush that made rolled
    /// segments durable.
    pub fn start(segments_synced: Arc<tokio::sync::Notify>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared { segments_synced, ..Shared::default() });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("riffle-flusher".into())
            .spawn(move || run(&worker))?;
        Ok(Self { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Queues `log` for an fsync unless it is already queued.
    pub fn request(&self, log: &Arc<PartitionLog>) {
        if !log.mark_flush_queued() {
            return;
        }
        let mut queue = self.shared.queue.lock();
        queue.logs.push_back(Arc::clone(log));
        drop(queue);
        self.shared.wakeup.notify_one();
    }

    /// Flushes what is queued, then stops the thread.
    pub fn stop(&self) {
        self.shared.queue.lock().stopping = true;
        self.shared.wakeup.notify_one();
        if let Some(thread) = self.thread.lock().take()
            && thread.join().is_err()
        {
            tracing::error!("the flusher thread panicked");
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared) {
    loop {
        let batch: Vec<Arc<PartitionLog>> = {
            let mut queue = shared.queue.lock();
            while queue.logs.is_empty() && !queue.stopping {
                shared.wakeup.wait(&mut queue);
            }
            if queue.logs.is_empty() {
                return;
            }
            queue.logs.drain(..).collect()
        };
        let mut segments_synced = false;
        for log in batch {
            match log.flush() {
                Ok(synced) => segments_synced |= synced,
                Err(error) => {
                    tracing::error!(partition = %log.topic_partition(), %error, "flush failed");
                }
            }
        }
        if segments_synced {
            shared.segments_synced.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::topic::LogConfig;
    use crate::log::partition_log::OpenLog;
    use crate::log::test_support::client_batch;
    use crate::protocol::record_batch::BatchHeader;
    use crate::types::TopicPartition;

    #[tokio::test]
    async fn requested_flushes_make_appends_durable() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { flush_messages: 1, ..LogConfig::kafka_defaults() };
        let log = Arc::new(
            PartitionLog::open(OpenLog {
                dir: dir.path().join("t-0"),
                topic_partition: TopicPartition::new("t", 0),
                config: Arc::new(config),
                clock: Clock::system(),
                recovery_point: None,
                log_start_offset: None,
                clean_shutdown: false,
            })
            .unwrap(),
        );
        let flusher = Flusher::start(Arc::default()).unwrap();
        let mut last = 0;
        for _ in 0..20 {
            let batch = client_batch(2, 10, 1);
            let info = log.append(&batch, &BatchHeader::parse(&batch).unwrap()).unwrap();
            assert!(info.needs_flush);
            flusher.request(&log);
            last = info.last_offset;
        }
        log.wait_flushed(last + 1).await.unwrap();
        assert_eq!(log.recovery_point(), 40);
        flusher.stop();
    }
}
