//! `--tls`: the receivers' self-signed certificate and the CA file nl6d trusts.

use std::path::PathBuf;

use nl6_tls::rustls::ServerConfig;

use super::*;

/// A self-signed certificate for 127.0.0.1 (generated in this process with rcgen), the
/// TLS server config presenting it and a PEM file of it that every nl6d the benchmark
/// starts is given as `--gnmi-dialout-tls-ca`. Dropping it removes the file.
pub(super) struct BenchTls {
    pub(super) server: Arc<ServerConfig>,
    pub(super) ca_file: PathBuf,
    dir: PathBuf,
}

impl BenchTls {
    pub(super) fn generate() -> Result<BenchTls> {
        let names = ["127.0.0.1".to_string(), "localhost".to_string()];
        let identity =
            nl6_tls::Identity::self_signed(&names).context("TLS: self-signed certificate")?;
        let server = nl6_tls::server_config(&identity, None, true).context("TLS: server config")?;
        let dir = std::env::temp_dir().join(format!("nl6-bench-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("TLS: creating {dir:?}"))?;
        let ca_file = dir.join("collector-ca.pem");
        std::fs::write(&ca_file, identity.cert_pem())
            .with_context(|| format!("TLS: writing {ca_file:?}"))?;
        Ok(BenchTls {
            server,
            ca_file,
            dir,
        })
    }
}

impl Drop for BenchTls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server-side TLS connection of the light sink.
pub(super) struct TlsIo(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>);

impl tonic::transport::server::Connected for TlsIo {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for TlsIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(self.0.as_mut()).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(self.0.as_mut()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(self.0.as_mut()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(self.0.as_mut()).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(self.0.as_mut()).poll_shutdown(cx)
    }
}

/// Accepts on `listener` and runs every TLS handshake in its own task (10,000 devices
/// connect at once), yielding the established connections; failed handshakes are
/// counted in `failures`. Stops accepting once the stream is dropped.
pub(super) fn tls_incoming(
    listener: tokio::net::TcpListener,
    config: Arc<ServerConfig>,
    failures: Arc<LightCounters>,
) -> impl futures::Stream<Item = Result<TlsIo, std::io::Error>> + Send + 'static {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (tx, rx) = tokio::sync::mpsc::channel::<TlsIo>(1024);
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                _ = tx.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(_) => {
                        // Out of file descriptors and the like: back off a little.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            let (acceptor, tx, failures) = (acceptor.clone(), tx.clone(), failures.clone());
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        let _ = tx.send(TlsIo(Box::new(tls))).await;
                    }
                    Err(_) => {
                        failures.tls_failures.fetch_add(1, Relaxed);
                    }
                }
            });
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|io| (Ok(io), rx))
    })
}
