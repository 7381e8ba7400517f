//! ApiVersions (key 18): the versions table, and KIP-511's downgrade answer.
//!
//! The v3+ response carries no tagged fields: Kafka writes a tagged field only when it differs
//! from its default, and Riffle advertises no features yet. (librdkafka 2.0.2, in Debian's
//! kcat, mis-skips tagged fields here, so sending defaults would break it.)

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use super::{Reply, RequestContext};
use crate::protocol::{encode_response, versions};

pub fn handle(context: &RequestContext<'_>, request: ApiVersionsRequest) -> ApiVersionsResponse {
    if context.version >= 3
        && !(is_valid_software_field(&request.client_software_name)
            && is_valid_software_field(&request.client_software_version))
    {
        tracing::warn!(
            name = %request.client_software_name, version = %request.client_software_version,
            "invalid client software name or version"
        );
        return ApiVersionsResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code());
    }
    ApiVersionsResponse::default().with_api_keys(advertised())
}

fn advertised() -> Vec<ApiVersion> {
    versions::SUPPORTED_APIS
        .iter()
        .map(|row| {
            ApiVersion::default()
                .with_api_key(row.api_key as i16)
                .with_min_version(row.advertised_min)
                .with_max_version(row.max)
        })
        .collect()
}

/// KIP-511: an ApiVersions request at a version we do not know gets a v0 response with
/// UNSUPPORTED_VERSION and our ApiVersions range, so the client can retry at that version.
pub fn unsupported_version(correlation_id: i32) -> Reply {
    let row = versions::support(ApiKey::ApiVersions).expect("ApiVersions is always served");
    let response = ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(ApiKey::ApiVersions as i16)
                .with_min_version(row.advertised_min)
                .with_max_version(row.max),
        ]);
    match encode_response(correlation_id, 0, &response) {
        Ok(bytes) => Reply::Response(bytes.into(), None),
        Err(error) => Reply::Close(format!("encoding the ApiVersions fallback failed: {error}")),
    }
}

/// KIP-511's rule for `client_software_name` and `client_software_version`:
/// `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn is_valid_software_field(value: &str) -> bool {
    let bytes = value.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_fields_follow_kip_511() {
        for good in ["librdkafka", "apache-kafka-java", "2.12.1", "a", "1.0.0-SNAPSHOT"] {
            assert!(is_valid_software_field(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "a_b", ".", "x."] {
            assert!(!is_valid_software_field(bad), "{bad}");
        }
    }

    #[test]
    fn v3_responses_carry_no_tagged_fields() {
        let response = ApiVersionsResponse::default().with_api_keys(advertised());
        let bytes = encode_response(7, 3, &response).unwrap();
        // size, correlation id (header v0), error code, compact array of keys, throttle, tags.
        assert_eq!(&bytes[4..8], &7i32.to_be_bytes());
        assert_eq!(*bytes.last().unwrap(), 0, "zero tagged fields at the end");
        let entries = versions::SUPPORTED_APIS.len();
        // error(2) + varint count(1) + entries*(2+2+2+1 tag byte) + throttle(4) + tags(1)
        assert_eq!(bytes.len(), 4 + 4 + 2 + 1 + entries * 7 + 4 + 1);
    }
}
