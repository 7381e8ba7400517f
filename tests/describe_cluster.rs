//! DescribeCluster: this broker as the whole cluster; endpoint types.

mod common;

use common::{RawClient, TestBroker};
use kafka_protocol::messages::{ApiKey, DescribeClusterRequest, DescribeClusterResponse};

#[tokio::test]
async fn describes_this_broker() {
    let broker = TestBroker::start_with(&[("node.id", "7")]).await;
    let mut client = RawClient::connect(broker.address()).await;
    for version in [0, 1] {
        let request =
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
        let response: DescribeClusterResponse =
            client.request(ApiKey::DescribeCluster, version, &request).await;
        assert_eq!(response.error_code, 0);
        assert_eq!(response.controller_id.0, 7);
        assert_eq!(response.brokers.len(), 1);
        assert_eq!(response.brokers[0].broker_id.0, 7);
        assert_eq!(response.brokers[0].port, i32::from(broker.address().port()));
        assert_eq!(response.cluster_id.as_str(), broker.broker().metadata().cluster_id());
        assert_eq!(response.cluster_authorized_operations, 8096);
    }
    let controllers = DescribeClusterRequest::default().with_endpoint_type(2);
    let response: DescribeClusterResponse =
        client.request(ApiKey::DescribeCluster, 1, &controllers).await;
    assert_eq!(response.error_code, 114);
    let unknown = DescribeClusterRequest::default().with_endpoint_type(9);
    let response: DescribeClusterResponse =
        client.request(ApiKey::DescribeCluster, 1, &unknown).await;
    assert_eq!(response.error_code, 115);
}
