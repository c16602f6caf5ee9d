//! The device network handle a flavor dials through: TCP (+TLS), HTTP/2 or UDP, all
//! from the device address to the session's collector.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;

use crate::connector::{DeviceDial, Io, Keepalive, error_chain};
use crate::error::FlavorError;
use crate::grpc::{ConnectionWatch, GrpcConnection};

/// One session's way out of the device: every socket it opens is bound to the device
/// address and goes to the session's collector.
pub struct DeviceNet {
    dial: DeviceDial,
    keepalive: Option<Keepalive>,
    /// The watch of the last HTTP/2 connection opened, so the exporter can classify how
    /// a session on it ended.
    watch: Mutex<Option<ConnectionWatch>>,
}

impl fmt::Debug for DeviceNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceNet")
            .field("local", &self.dial.local)
            .field(
                "collector",
                &format_args!("{}:{}", self.dial.host, self.dial.port),
            )
            .field("tls", &self.dial.tls.is_some())
            .finish()
    }
}

impl DeviceNet {
    pub(crate) fn new(dial: DeviceDial, keepalive: Option<Keepalive>) -> DeviceNet {
        DeviceNet {
            dial,
            keepalive,
            watch: Mutex::new(None),
        }
    }

    /// The device address every socket is bound to.
    pub fn local_addr(&self) -> Ipv4Addr {
        self.dial.local
    }

    /// The collector's host (name or address, as configured) and port.
    pub fn collector(&self) -> (&str, u16) {
        (&self.dial.host, self.dial.port)
    }

    /// Whether the block asks for TLS ([`DeviceNet::tcp`] and [`DeviceNet::http2`] then
    /// speak it; [`DeviceNet::udp`] cannot).
    pub fn tls(&self) -> bool {
        self.dial.tls.is_some()
    }

    /// A TCP connection to the collector, with TLS when the block asks for it. Nothing
    /// is awaited from the collector (raw TCP collectors never speak first).
    pub async fn tcp(&self) -> Result<DeviceStream, FlavorError> {
        self.dial
            .io()
            .await
            .map(DeviceStream)
            .map_err(|e| FlavorError::Connect(error_chain(&e)))
    }

    /// The device's own HTTP/2 connection (TCP, TLS when asked for, HTTP/2 keepalive as
    /// configured), ready once the collector has sent its first HTTP/2 bytes.
    pub async fn http2(&self) -> Result<GrpcConnection, FlavorError> {
        let connection = crate::preface::open(&self.dial, self.keepalive).await?;
        *self.watch.lock() = Some(connection.watch());
        Ok(connection)
    }

    /// A UDP socket bound to the device address and connected to the collector.
    pub async fn udp(&self) -> Result<UdpSocket, FlavorError> {
        if self.tls() {
            return Err(FlavorError::Connect(
                "UDP cannot carry TLS: set tls.enabled false".to_string(),
            ));
        }
        self.dial
            .connector
            .udp(self.dial.local, &self.dial.host, self.dial.port)
            .await
            .map_err(|e| FlavorError::Connect(format!("UDP to {}: {e}", self.dial.host)))
    }

    /// The watch of the HTTP/2 connection this session opened, if it opened one.
    pub(crate) fn take_watch(&self) -> Option<ConnectionWatch> {
        self.watch.lock().take()
    }
}

/// A device's TCP connection (TLS when configured), from [`DeviceNet::tcp`].
pub struct DeviceStream(Box<dyn Io>);

impl fmt::Debug for DeviceStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceStream").finish_non_exhaustive()
    }
}

impl AsyncRead for DeviceStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for DeviceStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
