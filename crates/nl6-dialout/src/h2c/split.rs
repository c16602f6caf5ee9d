//! The connection's stream split into a read side (the reader task) and a write side
//! (the senders), both keeping access to the TCP socket for socket options. Each poll
//! locks the stream for its duration only, as `tokio::io::split` does.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::connector::Io;

/// One side of a split connection.
pub(crate) struct Half(Arc<Mutex<Box<dyn Io>>>);

/// The read side and the write side of `io`.
pub(crate) fn split(io: Box<dyn Io>) -> (Half, Half) {
    let io = Arc::new(Mutex::new(io));
    (Half(io.clone()), Half(io))
}

impl Half {
    /// Sets the socket's receive low-water mark (`SO_RCVLOWAT`).
    pub(crate) fn set_recv_low_water(&self, bytes: u32) -> io::Result<()> {
        nl6_netns::set_recv_low_water(self.0.lock().tcp(), bytes)
    }
}

impl AsyncRead for Half {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut **self.0.lock()).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self.0.lock()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self.0.lock()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.lock().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self.0.lock()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self.0.lock()).poll_shutdown(cx)
    }
}
