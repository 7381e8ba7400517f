//! Riffle: a Kafka-wire-compatible message broker with a durable, segmented log.
//!
//! Existing Kafka clients connect unchanged: Riffle decodes the Kafka binary protocol and maps
//! it onto its own log engine, laid out on disk as Kafka lays it out.
//!
//! # Layout
//!
//! - [`config`]: command line and `server.properties` (Kafka's key names), the topic config
//!   registry.
//! - [`server`]: accept loop, connection framing, graceful shutdown.
//! - [`protocol`]: header/body decode behind a hostile-length guard, response encode, the
//!   versions table, record batch validation.
//! - [`handler`]: one file per Kafka API; `handler::dispatch` is the only match on the API key.
//! - [`broker`]: the operations that span metadata and logs.
//! - [`coordinator`]: consumer groups and committed offsets, kept in `__consumer_offsets`.
//! - [`metadata`]: cluster metadata as a replayed log of typed records.
//! - [`log`]: partitions, segments, indexes, recovery, group commit.
//! - [`error`]: the one error enum and its mapping to Kafka error codes.
//! - [`limits`], [`types`], [`clock`]: named bounds, shared value types, wall time.

pub mod broker;
pub mod clock;
pub mod config;
pub mod coordinator;
pub mod error;
pub mod handler;
pub mod limits;
pub mod log;
pub mod metadata;
pub mod protocol;
pub mod server;
pub mod types;
