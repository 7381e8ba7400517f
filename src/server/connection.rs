//! One client connection: framing, pipelining, responses in request order.
//!
//! A reader task reads frames — a big-endian i32 size, checked against
//! `socket.request.max.bytes` *before* anything is allocated, then the body — and queues up
//! to [`REQUESTS_QUEUED_PER_CONNECTION_MAX`] of them. Before reading a body it takes that
//! many bytes first from the connection's own allowance (one maximum-size frame) and then from
//! the broker-wide request budget, so memory stays bounded however many clients send at once
//! and one connection can never hold more than one frame's worth. The connection task handles
//! queued frames one at a time, in order (as Kafka does: effects and responses follow request
//! order), and writes each response; the socket is flushed when no further request is
//! waiting, so pipelined responses share writes.
//!
//! Small frames (up to [`SMALL_FRAME_BYTES_MAX`]) draw from a budget of their own, so they
//! never queue behind a large frame waiting for the main budget.
//!
//! Timeouts keep a slow or stalled peer from holding budget: a frame body or a response write
//! that makes no progress for [`TRANSFER_STALL_MS_MAX`] (or `connections.max.idle.ms`, if
//! shorter), or that runs slower than [`TRANSFER_RATE_BYTES_PER_S_MIN`] overall, closes the
//! connection, and so does `connections.max.idle.ms` without a request.
//!
//! A response is byte runs and file regions ([`EncodedResponse`]): bytes go through the
//! connection's write buffer, file regions (fetched records) go from the segment file to the
//! socket with `sendfile(2)`, after the buffer is flushed, so records are never copied through
//! the broker's memory. Both are under the same stall and transfer-rate limits.
//!
//! A bad size, an undecodable header or body, an unknown API key or an unsupported version
//! closes the connection (Kafka's behaviour) with a `tracing` line saying why.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::broker::Broker;
use crate::handler::{self, Reply};
use crate::limits::{
    REQUESTS_QUEUED_PER_CONNECTION_MAX, SMALL_FRAME_BYTES_MAX, TRANSFER_RATE_BYTES_PER_S_MIN,
    TRANSFER_STALL_MS_MAX,
};
use crate::log::segment::FileRegion;
use crate::protocol::parse_request_frame;
use crate::protocol::response::{EncodedResponse, ResponsePart};

/// Responses are written in slices of this size, each under the stall timeout.
const WRITE_SLICE_BYTES: usize = 256 * 1024;

/// A frame read from the socket, holding its share of the connection's and the broker's
/// request budgets.
struct Frame {
    bytes: Bytes,
    _connection_budget: OwnedSemaphorePermit,
    _broker_budget: OwnedSemaphorePermit,
}

/// What the connection needs from the server.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub broker: Arc<Broker>,
    pub request_budget: Arc<Semaphore>,
    /// The budget of frames up to [`SMALL_FRAME_BYTES_MAX`].
    pub small_request_budget: Arc<Semaphore>,
    pub frame_size_max: u32,
    pub idle: Duration,
    pub shutdown: watch::Receiver<bool>,
}

impl ConnectionContext {
    /// How long a transfer may make no progress.
    fn stall(&self) -> Duration {
        self.idle.min(Duration::from_millis(TRANSFER_STALL_MS_MAX))
    }
}

/// Aborts the reader task when the connection task ends, however it ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves one connection until the client closes it, it misbehaves, or the broker shuts down.
pub async fn serve(socket: TcpStream, peer: SocketAddr, context: ConnectionContext) {
    let (read_half, write_half) = socket.into_split();
    let (frames, mut queue) = mpsc::channel(REQUESTS_QUEUED_PER_CONNECTION_MAX);
    let _reader = AbortOnDrop(tokio::spawn(read_frames(read_half, peer, context.clone(), frames)));
    let mut writer = BufWriter::with_capacity(64 * 1024, write_half);
    while let Some(frame) = queue.recv().await {
        match process(&context, peer, frame).await {
            Reply::Response(response, _budget) => {
                if let Err(reason) = write_response(&mut writer, &response, context.stall()).await {
                    tracing::debug!(%peer, reason, "closing connection");
                    break;
                }
            }
            Reply::Silent => {}
            Reply::Close(reason) => {
                tracing::warn!(%peer, reason, "closing connection");
                break;
            }
        }
        if queue.is_empty()
            && timeout(context.stall(), writer.flush())
                .await
                .map_or(true, |flushed| flushed.is_err())
        {
            break;
        }
    }
    let _ = timeout(context.stall(), writer.shutdown()).await;
}

async fn process(context: &ConnectionContext, peer: SocketAddr, frame: Frame) -> Reply {
    match parse_request_frame(frame.bytes) {
        Ok(request) => {
            handler::dispatch(&context.broker, request, peer, context.shutdown.clone()).await
        }
        Err(error) => Reply::Close(error.to_string()),
    }
}

/// How long moving `bytes` may take in all: the stall timeout plus the bytes at the minimum
/// rate.
fn transfer_deadline(stall: Duration, bytes: u64) -> Instant {
    let seconds = bytes / TRANSFER_RATE_BYTES_PER_S_MIN;
    Instant::now() + stall + Duration::from_secs(seconds)
}

/// How long the next step of a transfer may take: the stall timeout, or less near the
/// deadline.
fn step_limit(stall: Duration, deadline: Instant) -> Duration {
    stall.min(deadline.saturating_duration_since(Instant::now()))
}

/// Writes a response: a step that cannot be taken within the stall timeout, or a response
/// still unwritten at its transfer deadline, means the client is not reading.
async fn write_response(
    writer: &mut BufWriter<OwnedWriteHalf>,
    response: &EncodedResponse,
    stall: Duration,
) -> Result<(), String> {
    let deadline = transfer_deadline(stall, response.size_bytes());
    let too_slow = || format!("client too slow reading a {}-byte response", response.size_bytes());
    for part in response.parts() {
        match part {
            ResponsePart::Bytes(bytes) => {
                write_bytes(writer, bytes, stall, deadline).await?.ok_or_else(too_slow)?;
            }
            ResponsePart::File(region) => {
                match timeout(step_limit(stall, deadline), writer.flush()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return Err(format!("write failed: {error}")),
                    Err(_) => return Err(too_slow()),
                }
                send_file(writer.get_ref().as_ref(), region, stall, deadline)
                    .await?
                    .ok_or_else(too_slow)?;
            }
        }
    }
    Ok(())
}

/// Writes `bytes` in slices, each under the step limit. `Ok(None)` when a slice timed out.
async fn write_bytes(
    writer: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
    stall: Duration,
    deadline: Instant,
) -> Result<Option<()>, String> {
    for slice in bytes.chunks(WRITE_SLICE_BYTES) {
        match timeout(step_limit(stall, deadline), writer.write_all(slice)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(format!("write failed: {error}")),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(()))
}

/// Sends a file region with `sendfile(2)`, each call under the step limit. `Ok(None)` when a
/// step timed out.
async fn send_file(
    socket: &TcpStream,
    region: &FileRegion,
    stall: Duration,
    deadline: Instant,
) -> Result<Option<()>, String> {
    let mut position = region.position;
    let end = region.position + region.length;
    while position < end {
        let count = usize::try_from(end - position).unwrap_or(usize::MAX);
        let step = async {
            loop {
                socket.writable().await?;
                let sent = socket.try_io(Interest::WRITABLE, || {
                    rustix::fs::sendfile(socket, &*region.file, Some(&mut position), count)
                        .map_err(io::Error::from)
                });
                match sent {
                    Err(error)
                        if matches!(
                            error.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        continue;
                    }
                    other => return other,
                }
            }
        };
        match timeout(step_limit(stall, deadline), step).await {
            Ok(Ok(0)) => {
                // Bytes below the high watermark are never cut from a segment: a broker bug.
                tracing::error!(position, end, "segment file ended inside a fetched region");
                return Err("segment file ended inside a fetched region".to_owned());
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("sendfile failed: {error}")),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(()))
}

/// Reads frames into `frames` until end of stream, a framing error, idleness, or shutdown.
async fn read_frames(
    mut socket: OwnedReadHalf,
    peer: SocketAddr,
    context: ConnectionContext,
    frames: mpsc::Sender<Frame>,
) {
    let mut shutdown = context.shutdown.clone();
    let allowance =
        Arc::new(Semaphore::new(usize::try_from(context.frame_size_max).expect("u32 fits usize")));
    loop {
        if *shutdown.borrow() {
            return;
        }
        let next = tokio::select! {
            next = read_frame(&mut socket, &context, &allowance) => next,
            _ = shutdown.changed() => return,
        };
        match next {
            Ok(Some(frame)) => {
                if frames.send(frame).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(reason) => {
                tracing::warn!(%peer, reason, "closing connection");
                return;
            }
        }
    }
}

/// One frame: `None` at a clean end of stream, `Err` with a reason for anything else.
async fn read_frame(
    socket: &mut OwnedReadHalf,
    context: &ConnectionContext,
    allowance: &Arc<Semaphore>,
) -> Result<Option<Frame>, String> {
    let mut size_bytes = [0u8; 4];
    match timeout(context.idle, socket.read_exact(&mut size_bytes)).await {
        Err(_) => {
            return Err(format!(
                "idle for connections.max.idle.ms ({} ms)",
                context.idle.as_millis()
            ));
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(error)) => return Err(format!("read failed: {error}")),
    }
    let size = i32::from_be_bytes(size_bytes);
    let size = u32::try_from(size).map_err(|_| format!("negative frame size {size}"))?;
    if size > context.frame_size_max {
        return Err(format!(
            "frame of {size} bytes exceeds socket.request.max.bytes {}",
            context.frame_size_max
        ));
    }
    let connection_budget =
        Arc::clone(allowance).acquire_many_owned(size).await.map_err(|_| "closed".to_owned())?;
    let lane = if size <= SMALL_FRAME_BYTES_MAX {
        &context.small_request_budget
    } else {
        &context.request_budget
    };
    let broker_budget = Arc::clone(lane)
        .acquire_many_owned(size)
        .await
        .map_err(|_| "request budget closed".to_owned())?;
    let body =
        read_body(socket, usize::try_from(size).expect("u32 fits usize"), context.stall()).await?;
    Ok(Some(Frame {
        bytes: body,
        _connection_budget: connection_budget,
        _broker_budget: broker_budget,
    }))
}

/// Reads exactly `size` bytes, failing if the peer stalls or is slower than the minimum
/// transfer rate overall.
async fn read_body(
    socket: &mut (impl AsyncRead + Unpin),
    size: usize,
    stall: Duration,
) -> Result<Bytes, String> {
    let deadline = transfer_deadline(stall, size as u64);
    let mut body = BytesMut::with_capacity(size);
    while body.len() < size {
        let mut limited =
            (&mut *socket).take(u64::try_from(size - body.len()).expect("usize fits u64"));
        let limit = step_limit(stall, deadline);
        match timeout(limit, limited.read_buf(&mut body)).await {
            Ok(Ok(0)) => {
                return Err(format!("frame body truncated at {} of {size} bytes", body.len()));
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("read failed: {error}")),
            Err(_) => return Err(format!("frame body stalled at {} of {size} bytes", body.len())),
        }
    }
    Ok(body.freeze())
}
