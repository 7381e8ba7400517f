//! The broker's one error type and its one mapping to Kafka error codes.
//!
//! Every expected failure on a request path is a variant here; [`Error::code`] is the only
//! place that decides which Kafka error code a client sees. Variants carry enough context for
//! the `tracing` line that explains the failure and for the response's `error_message`.

use kafka_protocol::ResponseError;

use crate::types::TopicPartition;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown topic or partition {0}")]
    UnknownTopicOrPartition(String),
    #[error("not the leader: {0}")]
    NotLeaderOrFollower(String),
    #[error("unknown topic id {0}")]
    UnknownTopicId(uuid::Uuid),
    #[error(
        "offset {offset} of {topic_partition} is outside [{log_start_offset}, {log_end_offset}]"
    )]
    OffsetOutOfRange {
        topic_partition: TopicPartition,
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error("corrupt record batch: {0}")]
    CorruptMessage(String),
    #[error("record batch of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge { size: usize, max: usize },
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    #[error("{0}")]
    InvalidTimestamp(String),
    #[error("{0}")]
    InvalidTopic(String),
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidReplicaAssignment(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("{0}")]
    RequestTimedOut(String),
    #[error("{0}")]
    UnsupportedCompressionType(String),
    #[error("acks must be -1, 0 or 1, not {0}")]
    InvalidRequiredAcks(i16),
    #[error("{0}")]
    InvalidTxnState(String),
    #[error("transactional batches need a transactional id")]
    TransactionalIdAuthorizationFailed,
    #[error("leader epoch {requested} is older than the current epoch {current}")]
    FencedLeaderEpoch { requested: i32, current: i32 },
    #[error("leader epoch {requested} is newer than the current epoch {current}")]
    UnknownLeaderEpoch { requested: i32, current: i32 },
    #[error(
        "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
    )]
    MismatchedEndpointType,
    #[error("Unsupported endpoint type {0}")]
    UnsupportedEndpointType(i8),
    #[error("{0}")]
    CoordinatorNotAvailable(String),
    #[error("{0}")]
    NotCoordinator(String),
    #[error("invalid group id '{0}'")]
    InvalidGroupId(String),
    #[error("group '{0}' does not exist")]
    GroupIdNotFound(String),
    #[error("{0}")]
    NonEmptyGroup(String),
    #[error("unknown member '{0}'")]
    UnknownMemberId(String),
    #[error("the group has a new member id for this instance; '{0}' is fenced")]
    FencedInstanceId(String),
    #[error("generation {requested} is not the group's generation {current}")]
    IllegalGeneration { requested: i32, current: i32 },
    #[error("{0}")]
    InconsistentGroupProtocol(String),
    #[error("the group is rebalancing; rejoin")]
    RebalanceInProgress,
    #[error("rejoin with the member id given in this response")]
    MemberIdRequired,
    #[error("session timeout {requested} ms is outside [{min}, {max}] ms")]
    InvalidSessionTimeout { requested: i32, min: i32, max: i32 },
    #[error("the group has reached its maximum size of {0} members")]
    GroupMaxSizeReached(usize),
    #[error("offset metadata of {size} bytes exceeds the limit of {max} bytes")]
    OffsetMetadataTooLarge { size: usize, max: usize },
    #[error("{0}")]
    InvalidCommitOffsetSize(String),
    #[error("the group is subscribed to topic '{0}'")]
    GroupSubscribedToTopic(String),
    #[error("{0}")]
    PolicyViolation(String),
    #[error("Leader election not needed for topic partition {0}")]
    ElectionNotNeeded(String),
    #[error("{0}")]
    OutOfOrderSequenceNumber(String),
    #[error("{0}")]
    InvalidProducerEpoch(String),
    #[error("{0}")]
    CoordinatorLoadInProgress(String),
    #[error("storage error: {0}")]
    Storage(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The Kafka error code a client sees for this error.
    pub fn code(&self) -> i16 {
        self.response_error().code()
    }

    fn response_error(&self) -> ResponseError {
        match self {
            Error::UnknownTopicOrPartition(_) => ResponseError::UnknownTopicOrPartition,
            Error::UnknownTopicId(_) => ResponseError::UnknownTopicId,
            Error::NotLeaderOrFollower(_) => ResponseError::NotLeaderOrFollower,
            Error::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            Error::CorruptMessage(_) => ResponseError::CorruptMessage,
            Error::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
            Error::InvalidRecord(_) => ResponseError::InvalidRecord,
            Error::InvalidTimestamp(_) => ResponseError::InvalidTimestamp,
            Error::InvalidTopic(_) => ResponseError::InvalidTopicException,
            Error::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
            Error::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            Error::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            Error::InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
            Error::InvalidConfig(_) => ResponseError::InvalidConfig,
            Error::InvalidRequest(_) => ResponseError::InvalidRequest,
            Error::RequestTimedOut(_) => ResponseError::RequestTimedOut,
            Error::UnsupportedCompressionType(_) => ResponseError::UnsupportedCompressionType,
            Error::InvalidRequiredAcks(_) => ResponseError::InvalidRequiredAcks,
            Error::InvalidTxnState(_) => ResponseError::InvalidTxnState,
            Error::TransactionalIdAuthorizationFailed => {
                ResponseError::TransactionalIdAuthorizationFailed
            }
            Error::FencedLeaderEpoch { .. } => ResponseError::FencedLeaderEpoch,
            Error::UnknownLeaderEpoch { .. } => ResponseError::UnknownLeaderEpoch,
            Error::MismatchedEndpointType => ResponseError::MismatchedEndpointType,
            Error::UnsupportedEndpointType(_) => ResponseError::UnsupportedEndpointType,
            Error::CoordinatorNotAvailable(_) => ResponseError::CoordinatorNotAvailable,
            Error::NotCoordinator(_) => ResponseError::NotCoordinator,
            Error::InvalidGroupId(_) => ResponseError::InvalidGroupId,
            Error::GroupIdNotFound(_) => ResponseError::GroupIdNotFound,
            Error::NonEmptyGroup(_) => ResponseError::NonEmptyGroup,
            Error::UnknownMemberId(_) => ResponseError::UnknownMemberId,
            Error::FencedInstanceId(_) => ResponseError::FencedInstanceId,
            Error::IllegalGeneration { .. } => ResponseError::IllegalGeneration,
            Error::InconsistentGroupProtocol(_) => ResponseError::InconsistentGroupProtocol,
            Error::RebalanceInProgress => ResponseError::RebalanceInProgress,
            Error::MemberIdRequired => ResponseError::MemberIdRequired,
            Error::InvalidSessionTimeout { .. } => ResponseError::InvalidSessionTimeout,
            Error::GroupMaxSizeReached(_) => ResponseError::GroupMaxSizeReached,
            Error::OffsetMetadataTooLarge { .. } => ResponseError::OffsetMetadataTooLarge,
            Error::InvalidCommitOffsetSize(_) => ResponseError::InvalidCommitOffsetSize,
            Error::GroupSubscribedToTopic(_) => ResponseError::GroupSubscribedToTopic,
            Error::PolicyViolation(_) => ResponseError::PolicyViolation,
            Error::ElectionNotNeeded(_) => ResponseError::ElectionNotNeeded,
            Error::OutOfOrderSequenceNumber(_) => ResponseError::OutOfOrderSequenceNumber,
            Error::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch,
            Error::CoordinatorLoadInProgress(_) => ResponseError::CoordinatorLoadInProgress,
            Error::Storage(_) => ResponseError::KafkaStorageError,
            Error::Internal(_) => ResponseError::UnknownServerError,
        }
    }

    /// The text for a response's `error_message` field, cut to [`ERROR_MESSAGE_LENGTH_MAX`]
    /// bytes so that it always fits a (non-compact) protocol string however long the names it
    /// echoes.
    pub fn message(&self) -> String {
        let mut message = self.to_string();
        if message.len() > ERROR_MESSAGE_LENGTH_MAX {
            let mut end = ERROR_MESSAGE_LENGTH_MAX;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push_str("...");
        }
        message
    }
}

/// Longest `error_message` sent to a client.
pub const ERROR_MESSAGE_LENGTH_MAX: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_kafka() {
        assert_eq!(Error::UnknownTopicOrPartition("t".into()).code(), 3);
        assert_eq!(Error::CorruptMessage("crc".into()).code(), 2);
        assert_eq!(Error::MessageTooLarge { size: 2, max: 1 }.code(), 10);
        assert_eq!(Error::InvalidTopic("x".into()).code(), 17);
        assert_eq!(Error::InvalidRequiredAcks(3).code(), 21);
        assert_eq!(Error::TopicAlreadyExists("t".into()).code(), 36);
        assert_eq!(Error::InvalidPartitions("p".into()).code(), 37);
        assert_eq!(Error::InvalidReplicationFactor("r".into()).code(), 38);
        assert_eq!(Error::InvalidConfig("c".into()).code(), 40);
        assert_eq!(Error::InvalidRequest("r".into()).code(), 42);
        assert_eq!(Error::Storage(std::io::Error::other("disk")).code(), 56);
        assert_eq!(Error::CoordinatorLoadInProgress("ids".into()).code(), 14);
        assert_eq!(Error::PolicyViolation("compact".into()).code(), 44);
        assert_eq!(Error::ElectionNotNeeded("t-0".into()).code(), 84);
        assert_eq!(Error::OutOfOrderSequenceNumber("gap".into()).code(), 45);
        assert_eq!(Error::InvalidProducerEpoch("old".into()).code(), 47);
        assert_eq!(Error::FencedLeaderEpoch { requested: 0, current: 1 }.code(), 74);
        assert_eq!(Error::UnknownLeaderEpoch { requested: 2, current: 1 }.code(), 75);
        assert_eq!(Error::InvalidRecord("r".into()).code(), 87);
        assert_eq!(Error::InvalidTimestamp("t".into()).code(), 32);
        assert_eq!(Error::UnknownTopicId(uuid::Uuid::nil()).code(), 100);
        assert_eq!(Error::NotLeaderOrFollower("x".into()).code(), 6);
        assert_eq!(Error::CoordinatorNotAvailable("c".into()).code(), 15);
        assert_eq!(Error::NotCoordinator("c".into()).code(), 16);
        assert_eq!(Error::IllegalGeneration { requested: 1, current: 2 }.code(), 22);
        assert_eq!(Error::InconsistentGroupProtocol("p".into()).code(), 23);
        assert_eq!(Error::InvalidGroupId(String::new()).code(), 24);
        assert_eq!(Error::UnknownMemberId("m".into()).code(), 25);
        assert_eq!(Error::InvalidSessionTimeout { requested: 1, min: 2, max: 3 }.code(), 26);
        assert_eq!(Error::RebalanceInProgress.code(), 27);
        assert_eq!(Error::InvalidCommitOffsetSize("s".into()).code(), 28);
        assert_eq!(Error::OffsetMetadataTooLarge { size: 2, max: 1 }.code(), 12);
        assert_eq!(Error::NonEmptyGroup("g".into()).code(), 68);
        assert_eq!(Error::GroupIdNotFound("g".into()).code(), 69);
        assert_eq!(Error::MemberIdRequired.code(), 79);
        assert_eq!(Error::FencedInstanceId("m".into()).code(), 82);
        assert_eq!(Error::GroupMaxSizeReached(1).code(), 81);
        assert_eq!(Error::GroupSubscribedToTopic("t".into()).code(), 86);
    }

    #[test]
    fn messages_are_bounded() {
        let long = Error::InvalidTopic("é".repeat(40_000));
        assert!(long.message().len() <= ERROR_MESSAGE_LENGTH_MAX + 3);
        assert_eq!(Error::InvalidRequiredAcks(3).message(), "acks must be -1, 0 or 1, not 3");
    }
}
