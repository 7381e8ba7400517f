//! Request dispatch: the only `match` on the API key. One file per Kafka API.
//!
//! Order for every request: check the version against [`versions`] (an unsupported ApiVersions
//! version gets the KIP-511 v0 fallback answer; any other unsupported version closes the
//! connection, as Kafka does), decode the body through the hostile-length guard, run the
//! handler, encode the response at the request's version. A decode or encode failure closes
//! the connection with a `tracing` line saying why.

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod elect_leaders;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::Instrument;

use crate::broker::Broker;
use crate::protocol::response::EncodedResponse;
use crate::protocol::{self, RequestFrame, versions};

/// What the connection does after a request.
#[derive(Debug)]
pub enum Reply {
    /// Write this encoded response; the permit (fetch response memory) is released once it
    /// is written.
    Response(EncodedResponse, Option<OwnedSemaphorePermit>),
    /// Write nothing (acks=0 produce).
    Silent,
    /// Close the connection, for the given reason.
    Close(String),
}

/// What a handler can see of its request.
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub broker: &'a Arc<Broker>,
    pub header: &'a RequestHeader,
    pub version: i16,
    /// The client's address.
    pub peer: SocketAddr,
    /// Fires when the broker starts shutting down (ends long polls early).
    pub shutdown: watch::Receiver<bool>,
}

impl RequestContext<'_> {
    pub fn client_id(&self) -> &str {
        self.header.client_id.as_deref().unwrap_or("")
    }
}

/// Handles one request frame.
pub async fn dispatch(
    broker: &Arc<Broker>,
    frame: RequestFrame,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Reply {
    let header = &frame.header;
    let span = tracing::debug_span!(
        "request",
        api = ?frame.api_key,
        version = header.request_api_version,
        correlation_id = header.correlation_id,
        client_id = header.client_id.as_deref().unwrap_or(""),
    );
    let context =
        RequestContext { broker, header, version: header.request_api_version, peer, shutdown };
    let api_key = frame.api_key;
    let body = Body { bytes: frame.body, header_reserved_bytes: frame.header_reserved_bytes };
    match route(&context, api_key, body).instrument(span).await {
        Ok(Reply::Close(reason)) | Err(Reply::Close(reason)) => {
            Reply::Close(format!("{api_key:?}: {reason}"))
        }
        Ok(reply) | Err(reply) => reply,
    }
}

/// A request body still encoded, with what its header's decoding reserved.
struct Body {
    bytes: Bytes,
    header_reserved_bytes: u64,
}

async fn route(context: &RequestContext<'_>, api_key: ApiKey, body: Body) -> Result<Reply, Reply> {
    let version = context.version;
    if !versions::is_served(api_key, version) {
        if api_key == ApiKey::ApiVersions {
            return Ok(api_versions::unsupported_version(context.header.correlation_id));
        }
        return Err(Reply::Close(format!("unsupported version {version} of {api_key:?}")));
    }
    Ok(match api_key {
        ApiKey::ApiVersions => {
            respond(context, &api_versions::handle(context, decode(api_key, version, body)?))
        }
        ApiKey::Metadata => {
            respond(context, &metadata::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::Produce => {
            produce::reply(context, produce::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::Fetch => {
            fetch::reply(context, fetch::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::ListOffsets => {
            respond(context, &list_offsets::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DescribeTopicPartitions => respond(
            context,
            &describe_topic_partitions::handle(context, decode(api_key, version, body)?),
        ),
        ApiKey::OffsetForLeaderEpoch => respond(
            context,
            &offset_for_leader_epoch::handle(context, decode(api_key, version, body)?),
        ),
        ApiKey::CreateTopics => {
            respond(context, &create_topics::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DeleteTopics => {
            respond(context, &delete_topics::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DescribeCluster => {
            respond(context, &describe_cluster::handle(context, decode(api_key, version, body)?))
        }
        ApiKey::FindCoordinator => respond(
            context,
            &find_coordinator::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::JoinGroup => {
            respond(context, &join_group::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::SyncGroup => {
            respond(context, &sync_group::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::Heartbeat => {
            respond(context, &heartbeat::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::LeaveGroup => {
            respond(context, &leave_group::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::OffsetCommit => {
            respond(context, &offset_commit::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::OffsetFetch => {
            respond(context, &offset_fetch::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::OffsetDelete => {
            respond(context, &offset_delete::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DescribeGroups => respond(
            context,
            &describe_groups::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::ListGroups => {
            respond(context, &list_groups::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DeleteGroups => {
            respond(context, &delete_groups::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::DescribeConfigs => {
            respond(context, &describe_configs::handle(context, decode(api_key, version, body)?))
        }
        ApiKey::AlterConfigs => {
            respond(context, &alter_configs::handle(context, decode(api_key, version, body)?).await)
        }
        ApiKey::IncrementalAlterConfigs => respond(
            context,
            &incremental_alter_configs::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::CreatePartitions => respond(
            context,
            &create_partitions::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::DeleteRecords => respond(
            context,
            &delete_records::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::DescribeLogDirs => respond(
            context,
            &describe_log_dirs::handle(context, decode(api_key, version, body)?).await,
        ),
        ApiKey::DescribeProducers => {
            respond(context, &describe_producers::handle(context, decode(api_key, version, body)?))
        }
        ApiKey::ElectLeaders => {
            respond(context, &elect_leaders::handle(context, decode(api_key, version, body)?))
        }
        ApiKey::InitProducerId => respond(
            context,
            &init_producer_id::handle(context, decode(api_key, version, body)?).await,
        ),
        other => unreachable!("{other:?} is in the versions table but has no handler"),
    })
}

fn decode<T: Decodable>(api_key: ApiKey, version: i16, body: Body) -> Result<T, Reply> {
    protocol::decode_body(api_key, version, body.bytes, body.header_reserved_bytes)
        .map_err(|error| Reply::Close(error.to_string()))
}

/// Encodes a response at the request's version.
pub fn respond<T: Encodable + HeaderVersion>(context: &RequestContext<'_>, response: &T) -> Reply {
    match protocol::encode_response(context.header.correlation_id, context.version, response) {
        Ok(bytes) => Reply::Response(bytes.into(), None),
        Err(error) => {
            tracing::error!(%error, "response encoding failed (a broker bug)");
            Reply::Close(format!("response encoding failed: {error}"))
        }
    }
}

/// The Kafka `authorized_operations` bit field for a resource with no authorizer configured:
/// every operation the resource type supports (Kafka's `AuthHelper.authorizedOperations`).
pub fn authorized_operations(operations: &[i8]) -> i32 {
    operations.iter().fold(0, |bits, operation| bits | 1 << operation)
}

/// `AclOperation` codes a topic supports: READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPERATIONS: &[i8] = &[3, 4, 5, 6, 7, 8, 10, 11];
/// `AclOperation` codes the cluster supports: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: &[i8] = &[5, 7, 8, 9, 10, 11, 12];
/// Kafka's "authorized operations not requested" value.
pub const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

/// Checks a client's `current_leader_epoch` against the leader's (KIP-320): -1 means none;
/// an older epoch is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH.
pub fn check_leader_epoch(requested: i32) -> crate::error::Result<()> {
    let current = crate::types::SINGLE_NODE_LEADER_EPOCH;
    match requested {
        -1 => Ok(()),
        requested if requested < current => {
            Err(crate::error::Error::FencedLeaderEpoch { requested, current })
        }
        requested if requested > current => {
            Err(crate::error::Error::UnknownLeaderEpoch { requested, current })
        }
        _ => Ok(()),
    }
}

/// `AclOperation` codes a group supports: READ, DELETE, DESCRIBE.
pub const GROUP_OPERATIONS: &[i8] = &[3, 6, 8];

/// Kafka's `client_host` for a member: the peer address as Java prints it (`/127.0.0.1`).
pub fn client_host(context: &RequestContext<'_>) -> String {
    format!("/{}", context.peer.ip())
}

/// A string for the wire.
pub fn wire_string(value: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_bit_fields_match_kafka() {
        assert_eq!(authorized_operations(TOPIC_OPERATIONS), 3576);
        assert_eq!(authorized_operations(CLUSTER_OPERATIONS), 8096);
    }
}
