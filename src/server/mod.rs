//! The TCP server: accept loop with a connection cap, and graceful shutdown.
//!
//! A connection permit is taken *before* accepting, so at most `max.connections` clients are
//! served and the rest wait in the kernel's backlog. Each connection runs in its own task; a
//! panic there ends that connection only. Shutdown: stop accepting, tell every connection to
//! stop reading, let in-flight requests finish (long polls return early) for at most
//! [`SHUTDOWN_DRAIN_MS_MAX`], then flush every log and record a clean shutdown.

pub mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::error::{Error, Result};
use crate::limits::SHUTDOWN_DRAIN_MS_MAX;
use connection::ConnectionContext;

/// A broker serving on a socket.
#[derive(Debug)]
pub struct RunningBroker {
    address: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
    maintenance: JoinHandle<()>,
    /// The log cleaner's thread (`None` when `log.cleaner.enable` is false).
    cleaner: Option<crate::log::cleaner::Cleaner>,
}

impl RunningBroker {
    /// The bound address (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Graceful shutdown; see the module doc. Returns once every log is flushed.
    pub async fn shutdown(self) -> Result<()> {
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        self.shutdown.send_replace(true);
        let _ = self.accept_loop.await;
        let _ = self.maintenance.await;
        if let Some(cleaner) = self.cleaner {
            // A pass in progress stops at its next batch.
            let _ = tokio::task::spawn_blocking(move || cleaner.stop()).await;
        }
        let broker = Arc::clone(&self.broker);
        tokio::task::spawn_blocking(move || broker.shutdown())
            .await
            .map_err(|error| Error::Internal(format!("shutdown task failed: {error}")))?
    }
}

/// Opens the data directory and starts serving on the configured listener.
pub async fn start(config: BrokerConfig, clock: Clock) -> Result<RunningBroker> {
    let listener = TcpListener::bind(config.listener.bind_address()).await?;
    let address = listener.local_addr()?;
    let broker = tokio::task::spawn_blocking(move || Broker::open(config, clock, address))
        .await
        .map_err(|error| Error::Internal(format!("start-up task failed: {error}")))??;
    let broker = Arc::new(broker);
    broker.open_existing_group_coordinator().await?;
    let (shutdown, shutdown_receiver) = watch::channel(false);
    let config = broker.config();
    let maintenance = tokio::spawn(Arc::clone(broker.logs()).run_maintenance(
        crate::log::MaintenanceIntervals {
            flush_check_ms: config.log_flush_scheduler_interval_ms,
            checkpoint_ms: config.log_flush_offset_checkpoint_interval_ms,
            producer_expiration_check_ms: config.producer_id_expiration_check_interval_ms,
            producer_id_expiration_ms: config.producer_id_expiration_ms,
            retention_check_ms: config.log_retention_check_interval_ms,
        },
        shutdown_receiver.clone(),
    ));
    let cleaner =
        crate::log::cleaner::Cleaner::start(broker.logs(), config.cleaner, broker.clock().clone());
    let accept_loop =
        tokio::spawn(accept_connections(listener, Arc::clone(&broker), shutdown_receiver));
    tracing::info!(%address, "serving Kafka clients");
    Ok(RunningBroker { address, broker, shutdown, accept_loop, maintenance, cleaner })
}

async fn accept_connections(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections = Arc::new(Semaphore::new(broker.config().max_connections));
    let budget = usize::try_from(broker.config().queued_max_request_bytes)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS);
    let context = ConnectionContext {
        frame_size_max: broker.config().socket_request_max_bytes,
        idle: Duration::from_millis(broker.config().connections_max_idle_ms),
        request_budget: Arc::new(Semaphore::new(budget)),
        small_request_budget: Arc::new(Semaphore::new(crate::limits::SMALL_REQUEST_BYTES_BUDGET)),
        broker,
        shutdown: shutdown.clone(),
    };
    let (open_connections, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => permit.expect("the connection semaphore is never closed"),
            _ = shutdown.changed() => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        if let Err(error) = socket.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        tracing::debug!(%peer, "connection accepted");
        let context = context.clone();
        let open = open_connections.clone();
        tokio::spawn(async move {
            connection::serve(socket, peer, context).await;
            drop(permit);
            drop(open);
        });
    }
    drop(listener);
    drop(open_connections);
    let drained =
        tokio::time::timeout(Duration::from_millis(SHUTDOWN_DRAIN_MS_MAX), all_closed.recv()).await;
    if drained.is_err() {
        tracing::warn!("connections still open after the drain timeout; shutting down anyway");
    }
}
