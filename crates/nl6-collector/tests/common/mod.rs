//! Helpers shared by the collector's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper_util::rt::TokioIo;
use nl6_gnmi::proto::gnmi::subscribe_response::Response as Kind;
use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_gnmi::proto::gnmi::{Notification, Path, PathElem, SubscribeResponse, TypedValue, Update};
use nl6_gnmi::proto::gnmireverse::g_nmi_reverse_client::GNmiReverseClient;
use nl6_tls::rustls::ClientConfig;
use nl6_tls::rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

/// Deadline for anything a test waits on.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A plaintext gNMIReverse client.
pub async fn plaintext_client(addr: SocketAddr) -> GNmiReverseClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(DEADLINE)
        .connect()
        .await
        .unwrap();
    GNmiReverseClient::new(channel)
}

/// A TLS gNMIReverse client dialing `addr` with server name `localhost`.
pub async fn tls_client(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<GNmiReverseClient<Channel>, tonic::transport::Error> {
    let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let config = config.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let name = ServerName::try_from("localhost").expect("valid name");
            let tls = TlsConnector::from(config).connect(name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let channel = Endpoint::from_static("http://localhost")
        .connect_timeout(DEADLINE)
        .connect_with_connector(connector)
        .await?;
    Ok(GNmiReverseClient::new(channel))
}

/// Current time in Unix nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn elem(name: &str) -> PathElem {
    PathElem {
        name: name.into(),
        ..Default::default()
    }
}

/// A notification for `target` with one update per `(leaf, value)` under
/// `/interfaces/interface[name=Ethernet1]/state`.
pub fn notification(target: &str, leaves: &[(&str, u64)]) -> Notification {
    let mut iface = elem("interface");
    iface.key.insert("name".into(), "Ethernet1".into());
    Notification {
        timestamp: now_ns(),
        prefix: Some(Path {
            target: target.into(),
            elem: vec![elem("interfaces"), iface],
            ..Default::default()
        }),
        update: leaves
            .iter()
            .map(|(leaf, v)| Update {
                path: Some(Path {
                    elem: vec![elem("state"), elem(leaf)],
                    ..Default::default()
                }),
                val: Some(TypedValue {
                    value: Some(Value::UintVal(*v)),
                }),
                duplicates: 0,
            })
            .collect(),
        ..Default::default()
    }
}

/// Wraps a notification in a SubscribeResponse.
pub fn update(n: Notification) -> SubscribeResponse {
    SubscribeResponse {
        response: Some(Kind::Update(n)),
        ..Default::default()
    }
}

/// A sync_response message.
pub fn sync() -> SubscribeResponse {
    SubscribeResponse {
        response: Some(Kind::SyncResponse(true)),
        ..Default::default()
    }
}
