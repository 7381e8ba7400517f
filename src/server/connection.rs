//! One client connection: framing, pipelining, responses in request order.
//!
//! A reader task reads frames — a big-endian i32 size, checked against
//! `socket.request.max.bytes` *before* anything is allocated, then the body — and queues up
//! to [`REQUESTS_QUEUED_PER_CONNECTION_MAX`] of them. Before reading a body it takes that
//! many bytes from the broker-wide request budget, so memory stays bounded however many
//! clients send at once. The connection task handles queued frames one at a time, in order
//! (as Kafka does: effects and responses follow request order), and writes each response;
//! the socket is flushed when no further request is waiting, so pipelined responses share
//! writes.
//!
//! A bad size, an undecodable header or body, an unknown API key or an unsupported version
//! closes the connection (Kafka's behaviour) with a `tracing` line saying why; nothing a
//! client sends can affect another connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::broker::Broker;
use crate::handler::{self, Reply};
use crate::limits::REQUESTS_QUEUED_PER_CONNECTION_MAX;
use crate::protocol::parse_request_frame;

/// A frame read from the socket, holding its share of the request budget.
struct Frame {
    bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// What the connection needs from the server.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub broker: Arc<Broker>,
    pub request_budget: Arc<Semaphore>,
    pub frame_size_max: u32,
    pub shutdown: watch::Receiver<bool>,
}

/// Serves one connection until the client closes it, it misbehaves, or the broker shuts down.
pub async fn serve(socket: TcpStream, peer: SocketAddr, context: ConnectionContext) {
    let (read_half, write_half) = socket.into_split();
    let (frames, mut queue) = mpsc::channel(REQUESTS_QUEUED_PER_CONNECTION_MAX);
    let reader = tokio::spawn(read_frames(read_half, peer, context.clone(), frames));
    let mut writer = BufWriter::with_capacity(64 * 1024, write_half);
    while let Some(frame) = queue.recv().await {
        match process(&context, frame).await {
            Reply::Response(bytes) => {
                if let Err(error) = writer.write_all(&bytes).await {
                    tracing::debug!(%peer, %error, "write failed; closing");
                    break;
                }
            }
            Reply::Silent => {}
            Reply::Close(reason) => {
                tracing::warn!(%peer, reason, "closing connection");
                break;
            }
        }
        if queue.is_empty() && writer.flush().await.is_err() {
            break;
        }
    }
    reader.abort();
    let _ = writer.shutdown().await;
}

async fn process(context: &ConnectionContext, frame: Frame) -> Reply {
    match parse_request_frame(frame.bytes) {
        Ok(request) => handler::dispatch(&context.broker, request, context.shutdown.clone()).await,
        Err(error) => Reply::Close(error.to_string()),
    }
}

/// Reads frames into `frames` until end of stream, a framing error, or shutdown.
async fn read_frames(
    mut socket: OwnedReadHalf,
    peer: SocketAddr,
    context: ConnectionContext,
    frames: mpsc::Sender<Frame>,
) {
    let mut shutdown = context.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let next = tokio::select! {
            next = read_frame(&mut socket, &context) => next,
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
) -> Result<Option<Frame>, String> {
    let mut size_bytes = [0u8; 4];
    match socket.read_exact(&mut size_bytes).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(format!("read failed: {error}")),
    }
    let size = i32::from_be_bytes(size_bytes);
    let size = u32::try_from(size).map_err(|_| format!("negative frame size {size}"))?;
    if size > context.frame_size_max {
        return Err(format!(
            "frame of {size} bytes exceeds socket.request.max.bytes {}",
            context.frame_size_max
        ));
    }
    let budget = Arc::clone(&context.request_budget)
        .acquire_many_owned(size)
        .await
        .map_err(|_| "request budget closed".to_owned())?;
    let mut body = BytesMut::zeroed(usize::try_from(size).expect("u32 fits usize"));
    socket
        .read_exact(&mut body)
        .await
        .map_err(|error| format!("frame body of {size} bytes truncated: {error}"))?;
    Ok(Some(Frame {
        bytes: body.freeze(),
        _budget: budget,
    }))
}
