//! Opening a device's HTTP/2 connection and waiting until the collector has spoken.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use crate::connector::{DeviceDial, Io, Keepalive, error_chain};
use crate::error::FlavorError;
use crate::grpc::{GrpcConnection, Origin};

/// Opens the device's own HTTP/2 connection and waits until the collector has
/// spoken (as gRPC clients wait for the server preface before a connection is
/// ready), so a collector refusing our client certificate after a TLS 1.3
/// handshake fails the open instead of breaking the stream.
///
/// The request authority (`:authority`) is the collector `host:port` as
/// configured, so TLS and virtual hosting see the name.
pub(crate) async fn open(
    dial: &DeviceDial,
    keepalive: Option<Keepalive>,
) -> Result<GrpcConnection, FlavorError> {
    open_text(dial, keepalive)
        .await
        .map_err(FlavorError::Connect)
}

async fn open_text(
    dial: &DeviceDial,
    keepalive: Option<Keepalive>,
) -> Result<GrpcConnection, String> {
    let (tx, mut rx) = watch::channel(Preface::Pending);
    let io = dial.io().await.map_err(|e| error_chain(&e))?;
    let io: Box<dyn Io> = Box::new(WatchedIo {
        inner: io,
        preface: Some(tx),
    });
    let origin = Origin::new(dial.tls.is_some(), &dial.host, dial.port)?;
    let connection = GrpcConnection::handshake(io, origin, keepalive)
        .await
        .map_err(|e| format!("connection to {} failed: {}", dial.host, error_chain(&e)))?;
    let spoke = tokio::time::timeout(
        dial.handshake_timeout,
        rx.wait_for(|p| *p != Preface::Pending),
    )
    .await;
    match spoke {
        Ok(Ok(p)) if *p == Preface::Received => Ok(connection),
        Ok(Ok(p)) => match &*p {
            Preface::Failed(e) => Err(format!("connection to {} failed: {e}", dial.host)),
            _ => Err(format!("connection to {} failed", dial.host)),
        },
        // The sender is gone: the connection was dropped before any read.
        Ok(Err(_)) => Err(format!(
            "connection to {} closed before it was ready",
            dial.host
        )),
        Err(_) => Err(format!(
            "{} did not start HTTP/2 within {:?}",
            dial.host, dial.handshake_timeout
        )),
    }
}

/// Whether the collector has spoken on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Preface {
    Pending,
    /// The first bytes arrived (an HTTP/2 server starts with its SETTINGS).
    Received,
    /// The connection failed before (e.g. a TLS alert rejecting our certificate).
    Failed(String),
}

/// Reports the first read outcome of a connection to a [`Preface`] watch.
struct WatchedIo<T> {
    inner: T,
    preface: Option<watch::Sender<Preface>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.preface.is_some() {
            let outcome = match &result {
                Poll::Pending => None,
                Poll::Ready(Ok(())) if buf.filled().len() > before => Some(Preface::Received),
                Poll::Ready(Ok(())) => Some(Preface::Failed(
                    "the collector closed the connection".to_string(),
                )),
                Poll::Ready(Err(e)) => Some(Preface::Failed(e.to_string())),
            };
            if let Some(outcome) = outcome
                && let Some(tx) = self.preface.take()
            {
                tx.send_replace(outcome);
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
