//! Pre-decode guard against hostile lengths in request bodies.
//!
//! The `kafka-protocol` crate (0.18) decodes an array by reading its length from the wire and
//! calling `Vec::with_capacity(length)` before it decodes a single element. An 8-byte Metadata
//! request claiming 2^31 topics therefore asks for hundreds of gigabytes, and a failed
//! allocation aborts the process; no `catch_unwind` helps.
//!
//! So before a body reaches the crate, [`check`] walks it with a compact description of the
//! request's schema ([`RequestShape`]): every array length is checked against the bytes left in
//! the frame (each element takes at least one byte), and the memory the decoder would reserve
//! is summed and checked against [`DECODED_ARRAY_BYTES_MAX`]: `length * size_of::<Element>()`
//! for every array, and [`TAGGED_FIELD_BYTES`] for every tagged field (the crate keeps unknown
//! ones in a map). Strings and byte fields are zero-copy slices of the frame. The request
//! header's tagged fields are walked the same way ([`check_header`]) before the header is
//! decoded.
//!
//! The walker accepts null for every nullable-looking field and leaves semantic checks to the
//! crate; it only has to agree with the crate on *where* each field is. The unit tests encode
//! populated requests with the crate at every served version and require the walker to consume
//! them exactly, so a schema typo cannot reject valid clients unnoticed.

use std::mem::size_of;

use kafka_protocol::messages::{
    ApiKey, BrokerId, GroupId, TopicName, alter_configs_request, create_partitions_request,
    create_topics_request, delete_records_request, delete_topics_request, describe_configs_request,
    describe_log_dirs_request, describe_producers_request, describe_topic_partitions_request,
    elect_leaders_request, fetch_request, incremental_alter_configs_request, join_group_request,
    leave_group_request, list_offsets_request, metadata_request, offset_commit_request,
    offset_delete_request, offset_fetch_request, offset_for_leader_epoch_request, produce_request,
    sync_group_request,
};
use kafka_protocol::protocol::StrBytes;

use crate::limits::DECODED_ARRAY_BYTES_MAX;

/// What one decoded tagged field costs: a map entry holding the tag and a `Bytes` slice.
pub const TAGGED_FIELD_BYTES: u64 = 64;

/// Why a body was refused before decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("request body ends inside a field")]
    Truncated,
    #[error("array of {length} elements with only {remaining} bytes left in the frame")]
    ArrayLength { length: u64, remaining: usize },
    #[error("decoding would reserve {bytes} bytes, over the limit of {DECODED_ARRAY_BYTES_MAX}")]
    ArrayMemory { bytes: u64 },
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("malformed varint")]
    Varint,
}

/// One field's wire type.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uuid,
    /// A string: i16 length (-1 null), or compact in flexible versions.
    String,
    /// Bytes or records: i32 length (-1 null), or compact in flexible versions.
    Bytes,
    /// An array of structs; `element_size` is the decoded element's in-memory size.
    StructArray {
        fields: &'static [Field],
        element_size: usize,
    },
    /// A nullable struct (flexible versions): an i8 marker, 1 if the fields follow.
    OptionalStruct(&'static [Field]),
    /// An array of a fixed-size or string type.
    ValueArray {
        element: &'static Ty,
        element_size: usize,
    },
}

/// A field present in versions `min..=max`.
#[derive(Debug, Clone, Copy)]
struct Field {
    ty: Ty,
    min: i16,
    max: i16,
}

const fn field(ty: Ty, min: i16, max: i16) -> Field {
    Field { ty, min, max }
}

const ALL: i16 = i16::MAX;

const fn structs<T>(fields: &'static [Field]) -> Ty {
    Ty::StructArray { fields, element_size: size_of::<T>() }
}

const fn values<T>(element: &'static Ty) -> Ty {
    Ty::ValueArray { element, element_size: size_of::<T>() }
}

/// The layout of one request body.
#[derive(Debug)]
pub struct RequestShape {
    /// The first flexible version (compact lengths, tagged fields).
    flexible_min: i16,
    fields: &'static [Field],
}

/// The shape of `api_key`'s request body; every served API has one.
pub fn shape(api_key: ApiKey) -> Option<&'static RequestShape> {
    match api_key {
        ApiKey::ApiVersions => Some(&API_VERSIONS),
        ApiKey::DescribeCluster => Some(&DESCRIBE_CLUSTER),
        ApiKey::Metadata => Some(&METADATA),
        ApiKey::Produce => Some(&PRODUCE),
        ApiKey::Fetch => Some(&FETCH),
        ApiKey::ListOffsets => Some(&LIST_OFFSETS),
        ApiKey::OffsetForLeaderEpoch => Some(&OFFSET_FOR_LEADER_EPOCH),
        ApiKey::DescribeTopicPartitions => Some(&DESCRIBE_TOPIC_PARTITIONS),
        ApiKey::CreateTopics => Some(&CREATE_TOPICS),
        ApiKey::DeleteTopics => Some(&DELETE_TOPICS),
        ApiKey::OffsetCommit => Some(&OFFSET_COMMIT),
        ApiKey::OffsetFetch => Some(&OFFSET_FETCH),
        ApiKey::FindCoordinator => Some(&FIND_COORDINATOR),
        ApiKey::JoinGroup => Some(&JOIN_GROUP),
        ApiKey::Heartbeat => Some(&HEARTBEAT),
        ApiKey::LeaveGroup => Some(&LEAVE_GROUP),
        ApiKey::SyncGroup => Some(&SYNC_GROUP),
        ApiKey::DescribeGroups => Some(&DESCRIBE_GROUPS),
        ApiKey::ListGroups => Some(&LIST_GROUPS),
        ApiKey::DeleteGroups => Some(&DELETE_GROUPS),
        ApiKey::OffsetDelete => Some(&OFFSET_DELETE),
        ApiKey::InitProducerId => Some(&INIT_PRODUCER_ID),
        ApiKey::DescribeConfigs => Some(&DESCRIBE_CONFIGS),
        ApiKey::AlterConfigs => Some(&ALTER_CONFIGS),
        ApiKey::DeleteRecords => Some(&DELETE_RECORDS),
        ApiKey::DescribeLogDirs => Some(&DESCRIBE_LOG_DIRS),
        ApiKey::DescribeProducers => Some(&DESCRIBE_PRODUCERS),
        ApiKey::ElectLeaders => Some(&ELECT_LEADERS),
        ApiKey::CreatePartitions => Some(&CREATE_PARTITIONS),
        ApiKey::IncrementalAlterConfigs => Some(&INCREMENTAL_ALTER_CONFIGS),
        _ => None,
    }
}

static API_VERSIONS: RequestShape = RequestShape {
    flexible_min: 3,
    fields: &[field(Ty::String, 3, ALL), field(Ty::String, 3, ALL)],
};

static DESCRIBE_CLUSTER: RequestShape = RequestShape {
    flexible_min: 0,
    fields: &[field(Ty::Bool, 0, ALL), field(Ty::Int8, 1, ALL), field(Ty::Bool, 2, ALL)],
};

static METADATA_TOPIC: [Field; 2] = [field(Ty::Uuid, 10, ALL), field(Ty::String, 0, ALL)];
static METADATA: RequestShape = RequestShape {
    flexible_min: 9,
    fields: &[
        field(structs::<metadata_request::MetadataRequestTopic>(&METADATA_TOPIC), 0, ALL),
        field(Ty::Bool, 4, ALL),
        field(Ty::Bool, 8, 10),
        field(Ty::Bool, 8, ALL),
    ],
};

static PRODUCE_PARTITION: [Field; 2] = [field(Ty::Int32, 0, ALL), field(Ty::Bytes, 0, ALL)];
static PRODUCE_TOPIC: [Field; 3] = [
    field(Ty::String, 0, 12),
    field(Ty::Uuid, 13, ALL),
    field(structs::<produce_request::PartitionProduceData>(&PRODUCE_PARTITION), 0, ALL),
];
static PRODUCE: RequestShape = RequestShape {
    flexible_min: 9,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int16, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(structs::<produce_request::TopicProduceData>(&PRODUCE_TOPIC), 0, ALL),
    ],
};

static FETCH_PARTITION: [Field; 6] = [
    field(Ty::Int32, 0, ALL),
    field(Ty::Int32, 9, ALL),
    field(Ty::Int64, 0, ALL),
    field(Ty::Int32, 12, ALL),
    field(Ty::Int64, 5, ALL),
    field(Ty::Int32, 0, ALL),
];
static FETCH_TOPIC: [Field; 3] = [
    field(Ty::String, 0, 12),
    field(Ty::Uuid, 13, ALL),
    field(structs::<fetch_request::FetchPartition>(&FETCH_PARTITION), 0, ALL),
];
static FORGOTTEN_TOPIC: [Field; 3] =
    [field(Ty::String, 7, 12), field(Ty::Uuid, 13, ALL), field(values::<i32>(&Ty::Int32), 7, ALL)];
static FETCH: RequestShape = RequestShape {
    flexible_min: 12,
    fields: &[
        field(Ty::Int32, 0, 14),
        field(Ty::Int32, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::Int32, 3, ALL),
        field(Ty::Int8, 4, ALL),
        field(Ty::Int32, 7, ALL),
        field(Ty::Int32, 7, ALL),
        field(structs::<fetch_request::FetchTopic>(&FETCH_TOPIC), 0, ALL),
        field(structs::<fetch_request::ForgottenTopic>(&FORGOTTEN_TOPIC), 7, ALL),
        field(Ty::String, 11, ALL),
    ],
};

static LIST_OFFSETS_PARTITION: [Field; 4] = [
    field(Ty::Int32, 0, ALL),
    field(Ty::Int32, 4, ALL),
    field(Ty::Int64, 0, ALL),
    field(Ty::Int32, 0, 0),
];
static LIST_OFFSETS_TOPIC: [Field; 2] = [
    field(Ty::String, 0, ALL),
    field(structs::<list_offsets_request::ListOffsetsPartition>(&LIST_OFFSETS_PARTITION), 0, ALL),
];
static LIST_OFFSETS: RequestShape = RequestShape {
    flexible_min: 6,
    fields: &[
        field(Ty::Int32, 0, ALL),
        field(Ty::Int8, 2, ALL),
        field(structs::<list_offsets_request::ListOffsetsTopic>(&LIST_OFFSETS_TOPIC), 0, ALL),
        field(Ty::Int32, 10, ALL),
    ],
};

static OFFSET_FOR_LEADER_PARTITION: [Field; 3] =
    [field(Ty::Int32, 0, ALL), field(Ty::Int32, 2, ALL), field(Ty::Int32, 0, ALL)];
static OFFSET_FOR_LEADER_TOPIC: [Field; 2] = [
    field(Ty::String, 0, ALL),
    field(
        structs::<offset_for_leader_epoch_request::OffsetForLeaderPartition>(
            &OFFSET_FOR_LEADER_PARTITION,
        ),
        0,
        ALL,
    ),
];
static OFFSET_FOR_LEADER_EPOCH: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(Ty::Int32, 3, ALL),
        field(
            structs::<offset_for_leader_epoch_request::OffsetForLeaderTopic>(
                &OFFSET_FOR_LEADER_TOPIC,
            ),
            0,
            ALL,
        ),
    ],
};

static DESCRIBE_TOPIC_PARTITIONS_TOPIC: [Field; 1] = [field(Ty::String, 0, ALL)];
static DESCRIBE_TOPIC_PARTITIONS_CURSOR: [Field; 2] =
    [field(Ty::String, 0, ALL), field(Ty::Int32, 0, ALL)];
static DESCRIBE_TOPIC_PARTITIONS: RequestShape = RequestShape {
    flexible_min: 0,
    fields: &[
        field(
            structs::<describe_topic_partitions_request::TopicRequest>(
                &DESCRIBE_TOPIC_PARTITIONS_TOPIC,
            ),
            0,
            ALL,
        ),
        field(Ty::Int32, 0, ALL),
        field(Ty::OptionalStruct(&DESCRIBE_TOPIC_PARTITIONS_CURSOR), 0, ALL),
    ],
};

static CREATABLE_ASSIGNMENT: [Field; 2] =
    [field(Ty::Int32, 0, ALL), field(values::<BrokerId>(&Ty::Int32), 0, ALL)];
static CREATABLE_CONFIG: [Field; 2] = [field(Ty::String, 0, ALL), field(Ty::String, 0, ALL)];
static CREATABLE_TOPIC: [Field; 5] = [
    field(Ty::String, 0, ALL),
    field(Ty::Int32, 0, ALL),
    field(Ty::Int16, 0, ALL),
    field(
        structs::<create_topics_request::CreatableReplicaAssignment>(&CREATABLE_ASSIGNMENT),
        0,
        ALL,
    ),
    field(structs::<create_topics_request::CreatableTopicConfig>(&CREATABLE_CONFIG), 0, ALL),
];
static CREATE_TOPICS: RequestShape = RequestShape {
    flexible_min: 5,
    fields: &[
        field(structs::<create_topics_request::CreatableTopic>(&CREATABLE_TOPIC), 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::Bool, 1, ALL),
    ],
};

static DELETE_TOPIC_STATE: [Field; 2] = [field(Ty::String, 6, ALL), field(Ty::Uuid, 6, ALL)];
static DELETE_TOPICS: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(structs::<delete_topics_request::DeleteTopicState>(&DELETE_TOPIC_STATE), 6, ALL),
        field(values::<TopicName>(&Ty::String), 0, 5),
        field(Ty::Int32, 0, ALL),
    ],
};

static OFFSET_COMMIT_PARTITION: [Field; 4] = [
    field(Ty::Int32, 0, ALL),
    field(Ty::Int64, 0, ALL),
    field(Ty::Int32, 6, ALL),
    field(Ty::String, 0, ALL),
];
static OFFSET_COMMIT_TOPIC: [Field; 2] = [
    field(Ty::String, 0, ALL),
    field(
        structs::<offset_commit_request::OffsetCommitRequestPartition>(&OFFSET_COMMIT_PARTITION),
        0,
        ALL,
    ),
];
static OFFSET_COMMIT: RequestShape = RequestShape {
    flexible_min: 8,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::String, 0, ALL),
        field(Ty::String, 7, ALL),
        field(Ty::Int64, 2, 4),
        field(
            structs::<offset_commit_request::OffsetCommitRequestTopic>(&OFFSET_COMMIT_TOPIC),
            0,
            ALL,
        ),
    ],
};

static OFFSET_FETCH_TOPIC: [Field; 2] =
    [field(Ty::String, 0, 7), field(values::<i32>(&Ty::Int32), 0, 7)];
static OFFSET_FETCH_GROUP_TOPIC: [Field; 2] =
    [field(Ty::String, 8, ALL), field(values::<i32>(&Ty::Int32), 8, ALL)];
static OFFSET_FETCH_GROUP: [Field; 4] = [
    field(Ty::String, 8, ALL),
    field(Ty::String, 9, ALL),
    field(Ty::Int32, 9, ALL),
    field(
        structs::<offset_fetch_request::OffsetFetchRequestTopics>(&OFFSET_FETCH_GROUP_TOPIC),
        8,
        ALL,
    ),
];
static OFFSET_FETCH: RequestShape = RequestShape {
    flexible_min: 6,
    fields: &[
        field(Ty::String, 0, 7),
        field(structs::<offset_fetch_request::OffsetFetchRequestTopic>(&OFFSET_FETCH_TOPIC), 0, 7),
        field(
            structs::<offset_fetch_request::OffsetFetchRequestGroup>(&OFFSET_FETCH_GROUP),
            8,
            ALL,
        ),
        field(Ty::Bool, 7, ALL),
    ],
};

static FIND_COORDINATOR: RequestShape = RequestShape {
    flexible_min: 3,
    fields: &[
        field(Ty::String, 0, 3),
        field(Ty::Int8, 1, ALL),
        field(values::<StrBytes>(&Ty::String), 4, ALL),
    ],
};

static JOIN_GROUP_PROTOCOL: [Field; 2] = [field(Ty::String, 0, ALL), field(Ty::Bytes, 0, ALL)];
static JOIN_GROUP: RequestShape = RequestShape {
    flexible_min: 6,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::Int32, 1, ALL),
        field(Ty::String, 0, ALL),
        field(Ty::String, 5, ALL),
        field(Ty::String, 0, ALL),
        field(
            structs::<join_group_request::JoinGroupRequestProtocol>(&JOIN_GROUP_PROTOCOL),
            0,
            ALL,
        ),
        field(Ty::String, 8, ALL),
    ],
};

static HEARTBEAT: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::String, 0, ALL),
        field(Ty::String, 3, ALL),
    ],
};

static LEAVE_GROUP_MEMBER: [Field; 3] =
    [field(Ty::String, 3, ALL), field(Ty::String, 3, ALL), field(Ty::String, 5, ALL)];
static LEAVE_GROUP: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::String, 0, 2),
        field(structs::<leave_group_request::MemberIdentity>(&LEAVE_GROUP_MEMBER), 3, ALL),
    ],
};

static SYNC_GROUP_ASSIGNMENT: [Field; 2] = [field(Ty::String, 0, ALL), field(Ty::Bytes, 0, ALL)];
static SYNC_GROUP: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::String, 0, ALL),
        field(Ty::String, 3, ALL),
        field(Ty::String, 5, ALL),
        field(Ty::String, 5, ALL),
        field(
            structs::<sync_group_request::SyncGroupRequestAssignment>(&SYNC_GROUP_ASSIGNMENT),
            0,
            ALL,
        ),
    ],
};

static DESCRIBE_GROUPS: RequestShape = RequestShape {
    flexible_min: 5,
    fields: &[field(values::<GroupId>(&Ty::String), 0, ALL), field(Ty::Bool, 3, ALL)],
};

static LIST_GROUPS: RequestShape = RequestShape {
    flexible_min: 3,
    fields: &[
        field(values::<StrBytes>(&Ty::String), 4, ALL),
        field(values::<StrBytes>(&Ty::String), 5, ALL),
    ],
};

static DESCRIBE_CONFIGS_RESOURCE: [Field; 3] = [
    field(Ty::Int8, 0, ALL),
    field(Ty::String, 0, ALL),
    field(values::<StrBytes>(&Ty::String), 0, ALL),
];
static DESCRIBE_CONFIGS: RequestShape = RequestShape {
    flexible_min: 4,
    fields: &[
        field(
            structs::<describe_configs_request::DescribeConfigsResource>(
                &DESCRIBE_CONFIGS_RESOURCE,
            ),
            0,
            ALL,
        ),
        field(Ty::Bool, 1, ALL),
        field(Ty::Bool, 3, ALL),
    ],
};

static ELECT_LEADERS_TOPIC: [Field; 2] =
    [field(Ty::String, 0, ALL), field(values::<i32>(&Ty::Int32), 0, ALL)];
static ELECT_LEADERS: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[
        field(Ty::Int8, 1, ALL),
        field(structs::<elect_leaders_request::TopicPartitions>(&ELECT_LEADERS_TOPIC), 0, ALL),
        field(Ty::Int32, 0, ALL),
    ],
};

static DESCRIBE_PRODUCERS_TOPIC: [Field; 2] =
    [field(Ty::String, 0, ALL), field(values::<i32>(&Ty::Int32), 0, ALL)];
static DESCRIBE_PRODUCERS: RequestShape = RequestShape {
    flexible_min: 0,
    fields: &[field(
        structs::<describe_producers_request::TopicRequest>(&DESCRIBE_PRODUCERS_TOPIC),
        0,
        ALL,
    )],
};

static DESCRIBE_LOG_DIRS_TOPIC: [Field; 2] =
    [field(Ty::String, 0, ALL), field(values::<i32>(&Ty::Int32), 0, ALL)];
static DESCRIBE_LOG_DIRS: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[field(
        structs::<describe_log_dirs_request::DescribableLogDirTopic>(&DESCRIBE_LOG_DIRS_TOPIC),
        0,
        ALL,
    )],
};

static DELETE_RECORDS_PARTITION: [Field; 2] = [field(Ty::Int32, 0, ALL), field(Ty::Int64, 0, ALL)];
static DELETE_RECORDS_TOPIC: [Field; 2] = [
    field(Ty::String, 0, ALL),
    field(
        structs::<delete_records_request::DeleteRecordsPartition>(&DELETE_RECORDS_PARTITION),
        0,
        ALL,
    ),
];
static DELETE_RECORDS: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[
        field(structs::<delete_records_request::DeleteRecordsTopic>(&DELETE_RECORDS_TOPIC), 0, ALL),
        field(Ty::Int32, 0, ALL),
    ],
};

static CREATE_PARTITIONS_ASSIGNMENT: [Field; 1] = [field(values::<BrokerId>(&Ty::Int32), 0, ALL)];
static CREATE_PARTITIONS_TOPIC: [Field; 3] = [
    field(Ty::String, 0, ALL),
    field(Ty::Int32, 0, ALL),
    field(
        structs::<create_partitions_request::CreatePartitionsAssignment>(
            &CREATE_PARTITIONS_ASSIGNMENT,
        ),
        0,
        ALL,
    ),
];
static CREATE_PARTITIONS: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[
        field(
            structs::<create_partitions_request::CreatePartitionsTopic>(&CREATE_PARTITIONS_TOPIC),
            0,
            ALL,
        ),
        field(Ty::Int32, 0, ALL),
        field(Ty::Bool, 0, ALL),
    ],
};

static ALTER_CONFIGS_CONFIG: [Field; 2] = [field(Ty::String, 0, ALL), field(Ty::String, 0, ALL)];
static ALTER_CONFIGS_RESOURCE: [Field; 3] = [
    field(Ty::Int8, 0, ALL),
    field(Ty::String, 0, ALL),
    field(structs::<alter_configs_request::AlterableConfig>(&ALTER_CONFIGS_CONFIG), 0, ALL),
];
static ALTER_CONFIGS: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[
        field(
            structs::<alter_configs_request::AlterConfigsResource>(&ALTER_CONFIGS_RESOURCE),
            0,
            ALL,
        ),
        field(Ty::Bool, 0, ALL),
    ],
};

static INCREMENTAL_ALTER_CONFIGS_CONFIG: [Field; 3] =
    [field(Ty::String, 0, ALL), field(Ty::Int8, 0, ALL), field(Ty::String, 0, ALL)];
static INCREMENTAL_ALTER_CONFIGS_RESOURCE: [Field; 3] = [
    field(Ty::Int8, 0, ALL),
    field(Ty::String, 0, ALL),
    field(
        structs::<incremental_alter_configs_request::AlterableConfig>(
            &INCREMENTAL_ALTER_CONFIGS_CONFIG,
        ),
        0,
        ALL,
    ),
];
static INCREMENTAL_ALTER_CONFIGS: RequestShape = RequestShape {
    flexible_min: 1,
    fields: &[
        field(
            structs::<incremental_alter_configs_request::AlterConfigsResource>(
                &INCREMENTAL_ALTER_CONFIGS_RESOURCE,
            ),
            0,
            ALL,
        ),
        field(Ty::Bool, 0, ALL),
    ],
};

static INIT_PRODUCER_ID: RequestShape = RequestShape {
    flexible_min: 2,
    fields: &[
        field(Ty::String, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::Int64, 3, ALL),
        field(Ty::Int16, 3, ALL),
        field(Ty::Bool, 6, ALL),
        field(Ty::Bool, 6, ALL),
    ],
};

static DELETE_GROUPS: RequestShape =
    RequestShape { flexible_min: 2, fields: &[field(values::<GroupId>(&Ty::String), 0, ALL)] };

static OFFSET_DELETE_PARTITION: [Field; 1] = [field(Ty::Int32, 0, ALL)];
static OFFSET_DELETE_TOPIC: [Field; 2] = [
    field(Ty::String, 0, ALL),
    field(
        structs::<offset_delete_request::OffsetDeleteRequestPartition>(&OFFSET_DELETE_PARTITION),
        0,
        ALL,
    ),
];
/// Never flexible.
static OFFSET_DELETE: RequestShape = RequestShape {
    flexible_min: ALL,
    fields: &[
        field(Ty::String, 0, ALL),
        field(
            structs::<offset_delete_request::OffsetDeleteRequestTopic>(&OFFSET_DELETE_TOPIC),
            0,
            ALL,
        ),
    ],
};

/// Walks a frame's request header: api key, version, correlation id, client id (always a
/// non-compact string) and, in header v2, tagged fields. The caller has checked that the frame
/// holds at least the first two fields.
pub fn check_header(frame: &[u8], header_version: i16) -> Result<u64, GuardError> {
    let mut walker =
        Walker { body: frame, position: 0, version: 0, flexible: false, reserved_bytes: 0 };
    walker.walk_fields(&[
        field(Ty::Int16, 0, ALL),
        field(Ty::Int16, 0, ALL),
        field(Ty::Int32, 0, ALL),
        field(Ty::String, 0, ALL),
    ])?;
    if header_version >= 2 {
        walker.skip_tagged_fields()?;
    }
    Ok(walker.reserved_bytes)
}

/// Walks `body` (the bytes after the request header) as a `version` request of `shape`,
/// continuing from the `header_reserved_bytes` the header's walk counted (one cap covers the
/// whole request). Returns the bytes the decoder will reserve.
pub fn check(
    shape: &RequestShape,
    version: i16,
    body: &[u8],
    header_reserved_bytes: u64,
) -> Result<u64, GuardError> {
    let mut walker = Walker {
        body,
        position: 0,
        version,
        flexible: version >= shape.flexible_min,
        reserved_bytes: header_reserved_bytes,
    };
    walker.walk_fields(shape.fields)?;
    Ok(walker.reserved_bytes)
}

struct Walker<'a> {
    body: &'a [u8],
    position: usize,
    version: i16,
    flexible: bool,
    reserved_bytes: u64,
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.body.len() - self.position
    }

    fn skip(&mut self, count: usize) -> Result<(), GuardError> {
        if count > self.remaining() {
            return Err(GuardError::Truncated);
        }
        self.position += count;
        Ok(())
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], GuardError> {
        let end = self.position.checked_add(N).ok_or(GuardError::Truncated)?;
        let bytes = self.body.get(self.position..end).ok_or(GuardError::Truncated)?;
        self.position = end;
        Ok(bytes.try_into().expect("slice of length N"))
    }

    fn unsigned_varint(&mut self) -> Result<u32, GuardError> {
        let mut value: u32 = 0;
        for index in 0..5 {
            let [byte] = self.take::<1>()?;
            value |= u32::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                if index == 4 && byte > 0x0f {
                    return Err(GuardError::Varint);
                }
                return Ok(value);
            }
        }
        Err(GuardError::Varint)
    }

    fn walk_fields(&mut self, fields: &[Field]) -> Result<(), GuardError> {
        for field in fields {
            if field.min <= self.version && self.version <= field.max {
                self.walk(&field.ty)?;
            }
        }
        if self.flexible {
            self.skip_tagged_fields()?;
        }
        Ok(())
    }

    fn skip_tagged_fields(&mut self) -> Result<(), GuardError> {
        let count = self.unsigned_varint()?;
        self.reserve(u64::from(count).saturating_mul(TAGGED_FIELD_BYTES))?;
        for _ in 0..count {
            let _tag = self.unsigned_varint()?;
            let size = self.unsigned_varint()?;
            self.skip(usize::try_from(size).map_err(|_| GuardError::Truncated)?)?;
        }
        Ok(())
    }

    fn walk(&mut self, ty: &Ty) -> Result<(), GuardError> {
        match *ty {
            Ty::Bool | Ty::Int8 => self.skip(1),
            Ty::Int16 => self.skip(2),
            Ty::Int32 => self.skip(4),
            Ty::Int64 => self.skip(8),
            Ty::Uuid => self.skip(16),
            Ty::String => {
                let length =
                    self.length(|walker| Ok(i64::from(i16::from_be_bytes(walker.take()?))))?;
                self.skip(length)
            }
            Ty::Bytes => {
                let length =
                    self.length(|walker| Ok(i64::from(i32::from_be_bytes(walker.take()?))))?;
                self.skip(length)
            }
            Ty::StructArray { fields, element_size } => {
                let count = self.array_length(element_size)?;
                (0..count).try_for_each(|_| self.walk_fields(fields))
            }
            Ty::ValueArray { element, element_size } => {
                let count = self.array_length(element_size)?;
                (0..count).try_for_each(|_| self.walk(element))
            }
            Ty::OptionalStruct(fields) => {
                // The crate reads the fields only after a marker of exactly 1.
                if i8::from_be_bytes(self.take()?) == 1 { self.walk_fields(fields) } else { Ok(()) }
            }
        }
    }

    /// Reads a length prefix: compact (varint of length + 1, 0 = null) in flexible versions,
    /// else the fixed-width `read`. Null is returned as zero.
    fn length(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<i64, GuardError>,
    ) -> Result<usize, GuardError> {
        let length =
            if self.flexible { i64::from(self.unsigned_varint()?) - 1 } else { read(self)? };
        match length {
            -1 => Ok(0),
            length if length < -1 => Err(GuardError::NegativeLength(length)),
            length => usize::try_from(length).map_err(|_| GuardError::Truncated),
        }
    }

    fn array_length(&mut self, element_size: usize) -> Result<usize, GuardError> {
        let count = self.length(|walker| Ok(i64::from(i32::from_be_bytes(walker.take()?))))?;
        if count > self.remaining() {
            return Err(GuardError::ArrayLength {
                length: count as u64,
                remaining: self.remaining(),
            });
        }
        self.reserve((count as u64).saturating_mul(element_size as u64))?;
        Ok(count)
    }

    fn reserve(&mut self, bytes: u64) -> Result<(), GuardError> {
        self.reserved_bytes = self.reserved_bytes.saturating_add(bytes);
        if self.reserved_bytes > DECODED_ARRAY_BYTES_MAX {
            return Err(GuardError::ArrayMemory { bytes: self.reserved_bytes });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
