//! DescribeCluster (key 60): this broker, the cluster id and the controller.
//!
//! A broker serves endpoint type 1 (brokers). Type 2 (controllers) gets
//! MISMATCHED_ENDPOINT_TYPE and any other UNSUPPORTED_ENDPOINT_TYPE, as Kafka's
//! `AuthHelper.computeDescribeClusterResponse` answers on a broker listener.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use crate::error::Error;

use super::{CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED, RequestContext, authorized_operations};

const ENDPOINT_BROKERS: i8 = 1;
const ENDPOINT_CONTROLLERS: i8 = 2;

pub fn handle(
    context: &RequestContext<'_>,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let broker = context.broker;
    let response = DescribeClusterResponse::default();
    if context.version >= 1 && request.endpoint_type != ENDPOINT_BROKERS {
        let error = if request.endpoint_type == ENDPOINT_CONTROLLERS {
            Error::MismatchedEndpointType
        } else {
            Error::UnsupportedEndpointType(request.endpoint_type)
        };
        return response
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(error.message())));
    }
    let advertised = broker.advertised();
    response
        .with_cluster_id(StrBytes::from_string(broker.metadata().cluster_id().to_owned()))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_brokers(vec![
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(broker.node_id()))
                .with_host(StrBytes::from_string(advertised.host.clone()))
                .with_port(i32::from(advertised.port)),
        ])
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            authorized_operations(CLUSTER_OPERATIONS)
        } else {
            OPERATIONS_NOT_REQUESTED
        })
}
