//! An encoded response as the connection writes it: byte runs, and runs of record batches
//! still in a segment file.
//!
//! Most responses are one byte run, `[i32 size][header][body]`. A Fetch response interleaves
//! its framing with [`FileRegion`]s, which the connection sends with `sendfile(2)`, so
//! fetched records are never copied through the broker's memory. The size prefix counts every
//! part.

use bytes::{BufMut, Bytes, BytesMut};

use crate::log::segment::FileRegion;

/// One run of a response's bytes (also a Fetch partition's records, before framing).
#[derive(Debug)]
pub enum ResponsePart {
    Bytes(Bytes),
    File(FileRegion),
}

impl ResponsePart {
    pub fn size_bytes(&self) -> u64 {
        match self {
            ResponsePart::Bytes(bytes) => bytes.len() as u64,
            ResponsePart::File(region) => region.length,
        }
    }
}

/// A whole response frame, size prefix included.
#[derive(Debug)]
pub struct EncodedResponse {
    parts: Vec<ResponsePart>,
}

impl EncodedResponse {
    pub fn parts(&self) -> &[ResponsePart] {
        &self.parts
    }

    /// Bytes on the wire, size prefix included.
    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(ResponsePart::size_bytes).sum()
    }

    /// The frame as one byte string, copying any file regions (tests and diagnostics).
    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        let mut out = BytesMut::new();
        for part in &self.parts {
            match part {
                ResponsePart::Bytes(bytes) => out.put_slice(bytes),
                ResponsePart::File(region) => out.put_slice(&region.read_bytes()?),
            }
        }
        Ok(out.freeze())
    }
}

/// A frame encoded as one byte string, size prefix included.
impl From<Bytes> for EncodedResponse {
    fn from(frame: Bytes) -> Self {
        Self { parts: vec![ResponsePart::Bytes(frame)] }
    }
}

/// Builds a frame whose body mixes bytes and file regions. The body is written into
/// [`ResponseBuilder::buffer`]; a file region given to [`ResponseBuilder::put`] ends the
/// current byte run.
#[derive(Debug)]
pub struct ResponseBuilder {
    parts: Vec<ResponsePart>,
    buffer: BytesMut,
}

impl ResponseBuilder {
    pub fn new() -> Self {
        // The first part is the size prefix, filled in by `finish`.
        Self {
            parts: vec![ResponsePart::Bytes(Bytes::new())],
            buffer: BytesMut::with_capacity(256),
        }
    }

    /// Where the next bytes of the body go.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Appends a part after the bytes written so far: bytes are copied into the current run,
    /// a file region ends it (an empty region is left out).
    pub fn put(&mut self, part: ResponsePart) {
        match part {
            ResponsePart::Bytes(bytes) => self.buffer.put_slice(&bytes),
            ResponsePart::File(region) => {
                if !self.buffer.is_empty() {
                    self.parts.push(ResponsePart::Bytes(self.buffer.split().freeze()));
                }
                if region.length > 0 {
                    self.parts.push(ResponsePart::File(region));
                }
            }
        }
    }

    /// The frame, with its size prefix.
    pub fn finish(mut self) -> anyhow::Result<EncodedResponse> {
        if !self.buffer.is_empty() {
            self.parts.push(ResponsePart::Bytes(self.buffer.split().freeze()));
        }
        let body: u64 = self.parts.iter().map(ResponsePart::size_bytes).sum();
        let size = i32::try_from(body)?;
        self.parts[0] = ResponsePart::Bytes(Bytes::copy_from_slice(&size.to_be_bytes()));
        Ok(EncodedResponse { parts: self.parts })
    }
}

impl Default for ResponseBuilder {
    fn default() -> Self {
        Self::new()
    }
}
