//! Opening a device's HTTP/2 connection and waiting until the collector has spoken.

use crate::connector::{DeviceDial, Keepalive, error_chain};
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
    let io = dial.io().await.map_err(|e| error_chain(&e))?;
    let origin = Origin::new(dial.tls.is_some(), &dial.host, dial.port)?;
    let connection = GrpcConnection::handshake(io, origin, keepalive)
        .await
        .map_err(|e| format!("connection to {} failed: {}", dial.host, error_chain(&e)))?;
    match tokio::time::timeout(dial.handshake_timeout, connection.ready()).await {
        Ok(Ok(())) => Ok(connection),
        Ok(Err(e)) => Err(format!("connection to {} failed: {e}", dial.host)),
        Err(_) => Err(format!(
            "{} did not start HTTP/2 within {:?}",
            dial.host, dial.handshake_timeout
        )),
    }
}
