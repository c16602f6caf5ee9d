//! The REST listener against hostile clients: idle sockets cannot take the API down, and
//! a token guards every route but `/health`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use nl6_fleet::{Fleet, FleetConfig};
use nl6_rest::{BearerToken, ServeOptions};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Served {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn serve(options: ServeOptions) -> Served {
    let fleet = Arc::new(
        Fleet::start(FleetConfig {
            dialin: None,
            ..Default::default()
        })
        .await
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(nl6_rest::serve_with(fleet, listener, options, async move {
        let _ = stopped.await;
    }));
    Served { addr, _stop: stop }
}

/// A client whose connections come from `local` (another loopback address than the
/// attacker's).
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(local))
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

async fn status(client: &reqwest::Client, addr: SocketAddr) -> Value {
    client
        .get(format!("http://{addr}/api/v1/status"))
        .send()
        .await
        .expect("status answers")
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_sockets_do_not_take_the_api_down() {
    nl6_testkit::raise_open_files(8_192);
    let served = serve(ServeOptions {
        idle_timeout: Duration::from_secs(2),
        ..ServeOptions::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        idle.push(TcpStream::connect(served.addr).await.unwrap());
    }
    // The well-behaved client, from another address, within 1 s.
    let client = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let health = client
        .get(format!("http://{}/health", served.addr))
        .send()
        .await
        .expect("/health answers within 1 s while 2,000 sockets idle");
    assert_eq!(health.status(), 200);
    let s = status(&client, served.addr).await;
    let refused = s["rest"]["connections_refused"].as_u64().unwrap();
    assert!(refused >= 2_000 - 32, "{s}");

    // The admitted idle sockets are closed after the idle timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = status(&client, served.addr).await;
        if s["rest"]["connections_idle_closed"].as_u64() >= Some(32) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle sockets still open: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(idle);
}

#[tokio::test]
async fn a_token_guards_every_route_but_health() {
    let token = BearerToken::new("s3cret-s3cret-s3cret").unwrap();
    let served = serve(ServeOptions {
        token: Some(token),
        ..ServeOptions::default()
    })
    .await;
    let client = client_from(Ipv4Addr::LOCALHOST);
    let url = |path: &str| format!("http://{}{path}", served.addr);
    let get = |path: &str, auth: Option<&str>| {
        let mut request = client.get(url(path));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-s3cret-s3cre"),
    ] {
        for path in ["/api/v1/status", "/api/v1/devices", "/metrics", "/nope"] {
            let reply = get(path, auth).await.unwrap();
            assert_eq!(reply.status(), 401, "{path} {auth:?}");
            assert_eq!(reply.headers()["www-authenticate"], "Bearer");
            let body: Value = reply.json().await.unwrap();
            assert_eq!(body["success"], false);
            assert!(body["message"].as_str().unwrap().contains("bearer token"));
        }
    }
    let ok = get("/api/v1/status", Some("Bearer s3cret-s3cret-s3cret"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(get("/health", None).await.unwrap().status(), 200);
}
