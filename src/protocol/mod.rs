//! The Kafka wire protocol: request header and body decode, response encode.
//!
//! A frame (the bytes after the i32 size prefix) is `RequestHeader` then the body. The header
//! is decoded with the `kafka-protocol` crate; the body only after its version is checked
//! against [`versions`] and its wire lengths against [`guard`]. Responses are
//! `[i32 size][ResponseHeader][body]`, the header at the version the API's schema dictates
//! (ApiVersions always uses header v0 so a client can parse a downgrade answer).

pub mod compaction;
pub mod fetch_response;
pub mod guard;
pub mod recompress;
pub mod record_batch;
pub mod records;
pub mod response;
#[cfg(test)]
pub(crate) mod test_support;
pub mod versions;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

/// A frame whose header has been decoded; `body` is the rest, still encoded.
#[derive(Debug)]
pub struct RequestFrame {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: Bytes,
    /// What decoding the header reserved (counted toward the body's guard).
    pub header_reserved_bytes: u64,
}

/// Why a frame or body could not be decoded. Kafka closes the connection for all of these.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame of {0} bytes is too short for a request header")]
    FrameTooShort(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("malformed request header: {0}")]
    Header(anyhow::Error),
    #[error("hostile request body: {0}")]
    Guard(#[from] guard::GuardError),
    #[error("malformed request body: {0}")]
    Body(anyhow::Error),
}

/// Decodes the request header at the front of `frame`.
pub fn parse_request_frame(mut frame: Bytes) -> Result<RequestFrame, DecodeError> {
    if frame.len() < usize::try_from(crate::limits::FRAME_SIZE_MIN).expect("small") {
        return Err(DecodeError::FrameTooShort(frame.len()));
    }
    let api_key_value = i16::from_be_bytes([frame[0], frame[1]]);
    let api_key =
        ApiKey::try_from(api_key_value).map_err(|_| DecodeError::UnknownApiKey(api_key_value))?;
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let header_reserved_bytes =
        guard::check_header(&frame, api_key.request_header_version(version))?;
    let header = kafka_protocol::protocol::decode_request_header_from_buffer(&mut frame)
        .map_err(DecodeError::Header)?;
    Ok(RequestFrame { api_key, header, body: frame, header_reserved_bytes })
}

/// Decodes a request body after the hostile-length guard has walked it.
pub fn decode_body<T: Decodable>(
    api_key: ApiKey,
    version: i16,
    mut body: Bytes,
    header_reserved_bytes: u64,
) -> Result<T, DecodeError> {
    let shape = guard::shape(api_key).expect("every served api has a guard shape");
    let _reserved_bytes = guard::check(shape, version, &body, header_reserved_bytes)?;
    T::decode(&mut body, version).map_err(DecodeError::Body)
}

/// Encodes `[size][ResponseHeader][body]` for a response at `version`.
pub fn encode_response<T: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    body: &T,
) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, T::header_version(version))?;
    body.encode(&mut buf, version)?;
    let size = i32::try_from(buf.len() - 4)?;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}
