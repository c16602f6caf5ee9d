//! The push streams of TCP and UDP dial-out (gRPC dial-out is a plain
//! [`nl6_dialout::GrpcCall`]).

use bytes::Bytes;
use futures::future::BoxFuture;
use nl6_dialout::{DeviceStream, FlavorError, PushStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::UdpSocket;

/// A TCP dial-out connection: framed messages out; the collector never speaks, so any
/// end of its side (FIN or reset) ends the stream.
pub(crate) struct TcpPush {
    write: WriteHalf<DeviceStream>,
    read: ReadHalf<DeviceStream>,
}

impl TcpPush {
    pub(crate) fn new(stream: DeviceStream) -> TcpPush {
        let (read, write) = tokio::io::split(stream);
        TcpPush { write, read }
    }
}

impl PushStream for TcpPush {
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>> {
        Box::pin(async move {
            self.write.write_all(&message).await?;
            Ok(())
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, FlavorError> {
        Box::pin(async move {
            // Anything the collector sends is read and ignored; each read is
            // cancel-safe.
            let mut buf = [0u8; 512];
            loop {
                match self.read.read(&mut buf).await {
                    Ok(0) => return FlavorError::Ended,
                    Ok(_) => continue,
                    Err(e) => return e.into(),
                }
            }
        })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async move { Ok(self.write.shutdown().await?) })
    }
}

/// A UDP dial-out socket: one datagram per message; it cannot tell whether anyone
/// listens, so it never ends by itself.
pub(crate) struct UdpPush(pub(crate) UdpSocket);

impl PushStream for UdpPush {
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>> {
        Box::pin(async move {
            // A connected UDP socket reports an ICMP port unreachable (for an earlier
            // datagram) on a later send, which then did not go out; the error is cleared
            // by reporting it, so the send is tried once more. A router keeps sending to
            // a collector that is down; so does nl6.
            for _ in 0..2 {
                match self.0.send(&message).await {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(e.into()),
                    Ok(_) => return Ok(()),
                }
            }
            Ok(())
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, FlavorError> {
        Box::pin(std::future::pending())
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async { Ok(()) })
    }
}
