//! Every fixed bound in the broker, named once, with the relations between them checked at
//! compile time.
//!
//! Configurable bounds (frame size, connection cap, ...) have their *defaults* here; the live
//! values are in [`crate::config::BrokerConfig`], validated against the hard maxima below.

/// Kafka's `socket.request.max.bytes` default: the largest request frame accepted (100 MiB).
pub const FRAME_SIZE_MAX_DEFAULT: u32 = 100 * 1024 * 1024;

/// The smallest frame that can hold a request header (api key, version, correlation id and a
/// client id length).
pub const FRAME_SIZE_MIN: u32 = 10;

/// Default cap on concurrently open client connections (Kafka's `max.connections`).
pub const CONNECTIONS_MAX_DEFAULT: usize = 4096;

/// Frames read ahead of the one being processed, per connection. Kafka processes one request
/// per connection at a time; we read a few more so that a pipelining client is never stalled
/// on the socket, while effects stay in request order.
pub const REQUESTS_QUEUED_PER_CONNECTION_MAX: usize = 8;

/// Default budget of request bytes held in memory across all connections at once (Kafka's
/// `queued.max.request.bytes`, which Kafka leaves unbounded). A connection waits for budget
/// before it reads a frame body, so memory stays bounded however many clients send at once.
pub const QUEUED_REQUEST_BYTES_MAX_DEFAULT: u64 = 512 * 1024 * 1024;

/// Upper bound on the memory the `kafka-protocol` crate may reserve for arrays while decoding
/// one request. The guard computes the exact reservation from the wire lengths before decode.
pub const DECODED_ARRAY_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Kafka's `fetch.max.bytes` broker default (55 MiB): the most record bytes in one response.
pub const FETCH_RESPONSE_BYTES_MAX_DEFAULT: i32 = 55 * 1024 * 1024;

/// Memory for fetch responses being built or written, across all connections. A fetch reserves
/// its `max_bytes` while it reads and keeps what it used until its response is written, so
/// thousands of consumers cannot hold thousands of 55 MiB responses at once. Raised to
/// `fetch.max.bytes` if that is larger.
pub const FETCH_RESPONSE_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// Kafka's `message.max.bytes` default: the largest record batch accepted (1 MiB + 12).
pub const MESSAGE_BYTES_MAX_DEFAULT: i32 = 1024 * 1024 + 12;

/// Kafka's topic name length limit (`Topic.MAX_NAME_LENGTH`).
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

/// Partitions one topic may have. Kafka sets no limit; without one a single CreateTopics
/// request could ask for two billion partition directories.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;

/// Partitions one broker may host in all.
pub const PARTITIONS_TOTAL_MAX: usize = 100_000;

/// Largest uncompressed size of one batch's records when the broker must look inside a
/// batch (ListOffsets by timestamp). Guards against decompression bombs.
pub const DECOMPRESSED_BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest Fetch `max_wait_ms` honoured; longer waits are clipped (a hostile client cannot
/// park a request for days).
pub const FETCH_WAIT_MS_MAX: i32 = 5 * 60 * 1000;

/// Kafka's `connections.max.idle.ms` default: a connection with no request for this long is
/// closed.
pub const CONNECTION_IDLE_MS_DEFAULT: u64 = 10 * 60 * 1000;

/// A frame body or a response write that makes no progress for this long closes the
/// connection, so a stalled peer cannot hold request budget indefinitely.
pub const TRANSFER_STALL_MS_MAX: u64 = 30_000;

/// The slowest transfer rate a frame body or a response write may keep up: a transfer of `n`
/// bytes must finish within the stall timeout plus `n` at this rate, so a peer trickling
/// one byte at a time cannot hold budget for hours.
pub const TRANSFER_RATE_BYTES_PER_S_MIN: u64 = 1024 * 1024;

/// Frames at most this large draw from their own budget ([`SMALL_REQUEST_BYTES_BUDGET`]), so
/// metadata, heartbeats and fetch requests never queue behind a large produce frame waiting
/// for the main budget.
pub const SMALL_FRAME_BYTES_MAX: u32 = 64 * 1024;

/// The small frames' budget.
pub const SMALL_REQUEST_BYTES_BUDGET: usize = 64 * 1024 * 1024;

/// How long graceful shutdown waits for in-flight requests before closing connections.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 30_000;

/// Size of the record batch v2 header (everything before the first record).
pub const BATCH_HEADER_SIZE: usize = 61;

/// Bytes before the part of a batch that `batchLength` counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;

/// The most members one consumer group may hold, whatever `group.max.size` says (Kafka's
/// default is unbounded; every member keeps its protocol metadata in memory).
pub const GROUP_MEMBERS_MAX: usize = 10_000;

/// The most protocols one JoinGroup may offer (clients offer one to a handful of assignors).
pub const JOIN_GROUP_PROTOCOLS_MAX: usize = 64;

/// The most protocol metadata (subscriptions) one member may send, summed over its protocols.
pub const MEMBER_PROTOCOL_METADATA_BYTES_MAX: usize = 1024 * 1024;

/// Kafka's `NewMemberJoinTimeoutMs`: how long a member that has never completed a join keeps
/// its place while the group waits for it to rejoin.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 5 * 60 * 1000;

/// The longest the group coordinator's timer sleeps without checking its deadlines.
pub const GROUP_TIMER_SLEEP_MS_MAX: i64 = 1000;

const _: () = assert!(FRAME_SIZE_MIN < FRAME_SIZE_MAX_DEFAULT);
const _: () = assert!(FRAME_SIZE_MAX_DEFAULT as u64 <= QUEUED_REQUEST_BYTES_MAX_DEFAULT);
const _: () = assert!((MESSAGE_BYTES_MAX_DEFAULT as u32) < FRAME_SIZE_MAX_DEFAULT);
const _: () = assert!(FETCH_RESPONSE_BYTES_MAX_DEFAULT > MESSAGE_BYTES_MAX_DEFAULT);
const _: () = assert!(FETCH_RESPONSE_BUDGET_BYTES >= FETCH_RESPONSE_BYTES_MAX_DEFAULT as usize);
const _: () = assert!(BATCH_HEADER_SIZE > LOG_OVERHEAD);
const _: () = assert!(SMALL_FRAME_BYTES_MAX < FRAME_SIZE_MAX_DEFAULT);
const _: () = assert!(SMALL_FRAME_BYTES_MAX as usize <= SMALL_REQUEST_BYTES_BUDGET);
const _: () = assert!((PARTITIONS_PER_TOPIC_MAX as usize) <= PARTITIONS_TOTAL_MAX);

/// Idempotent producers remembered per partition. Kafka keeps every producer until
/// `producer.id.expiration.ms`; a client allocating producer ids in a loop could then grow a
/// partition's state without bound. At the cap the least recently active tenth is forgotten
/// (see `log::producer_state`).
pub const PRODUCERS_PER_PARTITION_MAX: usize = 100_000;

/// Config entries in one DescribeConfigs answer. A request can name the same topic hundreds
/// of thousands of times in a few megabytes, each answered with every topic config; past this
/// many entries the remaining resources get INVALID_REQUEST instead.
pub const DESCRIBE_CONFIGS_ENTRIES_MAX: usize = 100_000;

/// Idempotent producers listed in one DescribeProducers answer (a partition may hold up to
/// [`PRODUCERS_PER_PARTITION_MAX`]); partitions past it get INVALID_REQUEST.
pub const DESCRIBE_PRODUCERS_ENTRIES_MAX: usize = 200_000;

/// Most partitions one DescribeTopicPartitions response lists; a request asking for more gets
/// this many and a cursor to the rest (Kafka's `max.request.partition.size.limit` default).
pub const DESCRIBE_TOPIC_PARTITIONS_MAX: i32 = 2000;
