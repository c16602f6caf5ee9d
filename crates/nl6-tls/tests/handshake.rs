//! Real TLS handshakes over 127.0.0.1 with tokio-rustls.

use std::sync::Arc;
use std::time::Duration;

use nl6_tls::rustls::pki_types::ServerName;
use nl6_tls::rustls::{ClientConfig, ServerConfig};
use nl6_tls::{Identity, ServerVerification, client_config, server_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const DEADLINE: Duration = Duration::from_secs(10);

fn ident(name: &str) -> Identity {
    Identity::self_signed(&[name.to_string(), "localhost".into(), "127.0.0.1".into()]).unwrap()
}

/// Runs one echo exchange: the server reads 4 bytes and echoes them. Returns
/// the client's and the server's outcome.
async fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: &str,
) -> (Result<Vec<u8>, String>, Result<(), String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = TlsAcceptor::from(server)
            .accept(tcp)
            .await
            .map_err(|e| format!("server handshake: {e}"))?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)
            .await
            .map_err(|e| format!("server read: {e}"))?;
        tls.write_all(&buf).await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    });
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let client_outcome = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let mut tls = TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("client handshake: {e}"))?;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out)
            .await
            .map_err(|e| format!("client read: {e}"))?;
        Ok::<Vec<u8>, String>(out)
    };
    let client_outcome = tokio::time::timeout(DEADLINE, client_outcome)
        .await
        .expect("client finished before the deadline");
    let server_outcome = tokio::time::timeout(DEADLINE, server_task)
        .await
        .expect("server finished before the deadline")
        .unwrap();
    (client_outcome, server_outcome)
}

#[tokio::test]
async fn ca_verified_handshake() {
    let server_id = ident("collector.test");
    let server = server_config(&server_id, None, true).unwrap();
    let ca = nl6_tls::ca_bundle_from_pem(server_id.cert_pem().as_bytes()).unwrap();
    let client = client_config(ServerVerification::CaBundle(ca), None).unwrap();
    let (c, s) = exchange(server.clone(), client.clone(), "collector.test").await;
    assert_eq!(c.unwrap(), b"ping");
    s.unwrap();
    // The IP SAN works as well.
    let (c, _) = exchange(server, client, "127.0.0.1").await;
    assert_eq!(c.unwrap(), b"ping");
}

#[tokio::test]
async fn wrong_name_or_unknown_ca_is_rejected() {
    let server_id = ident("collector.test");
    let server = server_config(&server_id, None, true).unwrap();
    let ca = server_id.root_store().unwrap();
    let client = client_config(ServerVerification::CaBundle(ca), None).unwrap();
    let (c, _) = exchange(server.clone(), client, "other.test").await;
    assert!(c.unwrap_err().contains("client handshake"));

    let other_ca = ident("elsewhere.test").root_store().unwrap();
    let client = client_config(ServerVerification::CaBundle(other_ca), None).unwrap();
    let (c, _) = exchange(server, client, "collector.test").await;
    assert!(c.unwrap_err().contains("UnknownIssuer"));
}

#[tokio::test]
async fn insecure_accepts_any_certificate() {
    let server = server_config(&ident("whatever.test"), None, true).unwrap();
    let client = client_config(ServerVerification::InsecureSkipVerify, None).unwrap();
    let (c, s) = exchange(server, client, "not-the-name.test").await;
    assert_eq!(c.unwrap(), b"ping");
    s.unwrap();
}

#[tokio::test]
async fn mutual_tls_accepts_known_client() {
    let server_id = ident("collector.test");
    let client_id = ident("device.test");
    let server = server_config(&server_id, Some(&client_id.root_store().unwrap()), true).unwrap();
    let client = client_config(
        ServerVerification::CaBundle(server_id.root_store().unwrap()),
        Some(&client_id),
    )
    .unwrap();
    let (c, s) = exchange(server, client, "collector.test").await;
    assert_eq!(c.unwrap(), b"ping");
    s.unwrap();
}

#[tokio::test]
async fn mutual_tls_rejects_missing_or_unknown_client_cert() {
    let server_id = ident("collector.test");
    let client_id = ident("device.test");
    let server = server_config(&server_id, Some(&client_id.root_store().unwrap()), true).unwrap();
    let server_ca = server_id.root_store().unwrap();

    let anonymous = client_config(ServerVerification::CaBundle(server_ca.clone()), None).unwrap();
    let (c, s) = exchange(server.clone(), anonymous, "collector.test").await;
    assert!(c.is_err(), "client without certificate got {c:?}");
    let s = s.unwrap_err();
    assert!(
        s.contains("server handshake") && s.contains("peer sent no certificates"),
        "{s}"
    );

    let stranger = ident("stranger.test");
    let client = client_config(ServerVerification::CaBundle(server_ca), Some(&stranger)).unwrap();
    let (c, s) = exchange(server, client, "collector.test").await;
    assert!(c.is_err(), "client with an unknown certificate got {c:?}");
    assert!(s.unwrap_err().contains("server handshake"));
}
