//! Accepted connections (plain TCP or TLS) and the accept loop feeding tonic.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::stats::Counters;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before retrying.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Resolves when the collector forcibly closes its connections.
type KillSwitch = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One accepted connection, ready for HTTP/2; carries its TCP addresses so
/// `Request::remote_addr()` works for TLS connections too, and fails all I/O
/// once the kill switch fires (tonic's connection tasks cannot be aborted
/// from outside, so this is how a stuck graceful shutdown is cut short).
pub(crate) struct Conn {
    io: Io,
    info: TcpConnectInfo,
    kill: KillSwitch,
    killed: bool,
}

impl Conn {
    fn new(io: Io, info: TcpConnectInfo, kill: &watch::Receiver<bool>) -> Conn {
        let mut kill = kill.clone();
        Conn {
            io,
            info,
            kill: Box::pin(async move {
                let _ = kill.wait_for(|killed| *killed).await;
            }),
            killed: false,
        }
    }

    /// Whether the kill switch has fired (registers the waker if not).
    fn is_killed(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.killed && self.kill.as_mut().poll(cx).is_ready() {
            self.killed = true;
        }
        self.killed
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "collector shut down")
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_killed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_killed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_killed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_killed(cx) {
            return Poll::Ready(Err(aborted()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.is_killed(cx) {
            return Poll::Ready(Ok(()));
        }
        match &mut this.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections until shutdown, hands plain ones straight to `out`
/// and TLS ones after a handshake run in its own task (so a slow client
/// cannot hold up the others).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    out: mpsc::Sender<Conn>,
    mut shutdown: watch::Receiver<bool>,
    kill: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let info = TcpConnectInfo {
            local_addr: tcp.local_addr().ok(),
            remote_addr: Some(peer),
        };
        let Some(acceptor) = tls.clone() else {
            if out
                .send(Conn::new(Io::Plain(tcp), info, &kill))
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let (out, counters, kill) = (out.clone(), counters.clone(), kill.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let conn = Conn::new(Io::Tls(Box::new(stream)), info, &kill);
                    let _ = out.send(conn).await;
                }
                Ok(Err(e)) => {
                    counters.handshake_failures.fetch_add(1, Relaxed);
                    tracing::warn!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    counters.handshake_failures.fetch_add(1, Relaxed);
                    tracing::warn!(%peer, "TLS handshake timed out after {HANDSHAKE_TIMEOUT:?}");
                }
            }
        });
    }
}
