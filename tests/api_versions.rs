//! ApiVersions: every version lists exactly the versions table, KIP-511 validation of the
//! client software fields, and the advertised-but-refused old Produce versions.

mod common;

use common::{RawClient, TestBroker};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;
use riffle::protocol::versions::SUPPORTED_APIS;

#[tokio::test]
async fn every_version_lists_the_versions_table() {
    let broker = TestBroker::start().await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in 0..=4 {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("riffle-tests"))
            .with_client_software_version(StrBytes::from_static_str("1.0.0"));
        let response: ApiVersionsResponse =
            client.request(ApiKey::ApiVersions, version, &request).await;
        assert_eq!(response.error_code, 0);
        let listed: Vec<(i16, i16, i16)> = response
            .api_keys
            .iter()
            .map(|key| (key.api_key, key.min_version, key.max_version))
            .collect();
        let table: Vec<(i16, i16, i16)> = SUPPORTED_APIS
            .iter()
            .map(|row| (row.api_key as i16, row.advertised_min, row.max))
            .collect();
        assert_eq!(listed, table, "v{version}");
        assert!(response.supported_features.is_empty() && response.finalized_features.is_empty());
    }
    // What old librdkafka (kcat) looks for to enable compression and MsgVer2.
    let response: ApiVersionsResponse = client
        .request(
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("librdkafka"))
                .with_client_software_version(StrBytes::from_static_str("2.0.2")),
        )
        .await;
    let produce = response.api_keys.iter().find(|key| key.api_key == 0).unwrap();
    assert_eq!((produce.min_version, produce.max_version), (0, 11));
    let fetch = response.api_keys.iter().find(|key| key.api_key == 1).unwrap();
    assert!(fetch.min_version <= 4 && fetch.max_version >= 10);
}

#[tokio::test]
async fn invalid_software_fields_are_invalid_request() {
    let broker = TestBroker::start().await;
    let mut client = RawClient::connect(broker.address()).await;
    let request = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("bad name!"))
        .with_client_software_version(StrBytes::from_static_str("1.0"));
    let response: ApiVersionsResponse = client.request(ApiKey::ApiVersions, 3, &request).await;
    assert_eq!(response.error_code, 42);
    assert!(response.api_keys.is_empty());
}
