//! The collector in-process: plaintext, TLS and mutual TLS publishing, stats,
//! notification fan-out, malformed input and shutdown.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::*;
use nl6_collector::{CollectorConfig, CollectorHandle, Received, start};
use nl6_gnmi::proto::gnmi::{Notification, SubscribeResponse, Update};
use nl6_tls::{Identity, ServerVerification, client_config, server_config};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn plaintext() -> CollectorHandle {
    start(CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

async fn next(rx: &mut broadcast::Receiver<Arc<Received>>) -> Arc<Received> {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a notification before the deadline")
        .unwrap()
}

#[tokio::test]
async fn plaintext_publish_is_counted_and_broadcast() {
    let collector = plaintext().await;
    let mut rx = collector.subscribe();
    let first = notification("10.42.0.1", &[("in-octets", 1), ("out-octets", 2)]);
    let second = notification("10.42.0.1", &[("in-octets", 3)]);
    let messages = vec![update(first.clone()), sync(), update(second.clone())];

    let mut client = plaintext_client(collector.local_addr()).await;
    // A normal close of the client stream ends the RPC with OK.
    client.publish(tokio_stream::iter(messages)).await.unwrap();

    let got = next(&mut rx).await;
    assert_eq!(got.notification, first);
    assert_eq!(got.peer.unwrap().ip(), LOCALHOST);
    assert_eq!(next(&mut rx).await.notification, second);

    let stats = collector
        .wait_until(DEADLINE, |s| s.streams_active == 0 && s.notifications == 2)
        .await
        .unwrap();
    assert_eq!(stats.streams_total, 1);
    assert_eq!(stats.leaves, 3);
    assert_eq!(stats.sync_responses, 1);
    assert_eq!(stats.malformed, 0);
    assert_eq!(stats.distinct_targets, 1);
    assert_eq!(stats.distinct_peers, 1);
    assert_eq!(stats.latency.count(), 2);
    assert_eq!(collector.targets(), vec!["10.42.0.1".to_string()]);
    assert_eq!(collector.peers(), vec![LOCALHOST]);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_streams_are_tracked_per_target() {
    let collector = plaintext().await;
    let (tx_a, rx_a) = mpsc::channel::<SubscribeResponse>(8);
    let (tx_b, rx_b) = mpsc::channel::<SubscribeResponse>(8);
    let mut a = plaintext_client(collector.local_addr()).await;
    let mut b = plaintext_client(collector.local_addr()).await;
    let call_a = tokio::spawn(async move { a.publish(ReceiverStream::new(rx_a)).await });
    let call_b = tokio::spawn(async move { b.publish(ReceiverStream::new(rx_b)).await });
    tx_a.send(update(notification("10.42.0.1", &[("x", 1)])))
        .await
        .unwrap();
    tx_b.send(update(notification("10.42.0.2", &[("x", 1)])))
        .await
        .unwrap();

    let stats = collector
        .wait_until(DEADLINE, |s| s.streams_active == 2 && s.notifications == 2)
        .await
        .unwrap();
    assert_eq!(stats.distinct_targets, 2);
    assert_eq!(collector.targets(), vec!["10.42.0.1", "10.42.0.2"]);

    drop(tx_a);
    drop(tx_b);
    call_a.await.unwrap().unwrap();
    call_b.await.unwrap().unwrap();
    let stats = collector
        .wait_until(DEADLINE, |s| s.streams_active == 0)
        .await
        .unwrap();
    assert_eq!(stats.streams_total, 2);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn malformed_messages_do_not_break_the_stream() {
    let collector = plaintext().await;
    let mut rx = collector.subscribe();
    let bare = Notification {
        update: vec![Update::default()],
        ..Default::default()
    };
    let messages = vec![
        SubscribeResponse::default(),
        update(bare.clone()),
        update(notification("10.42.0.9", &[("x", 7)])),
    ];
    let mut client = plaintext_client(collector.local_addr()).await;
    client.publish(tokio_stream::iter(messages)).await.unwrap();

    let got = next(&mut rx).await;
    assert_eq!(got.notification, bare);
    let mut line = String::new();
    nl6_collector::format::push_lines(&mut line, &got.notification);
    assert_eq!(line, "[1970-01-01T00:00:00.000000000Z] () / = <no value>\n");

    let stats = collector
        .wait_until(DEADLINE, |s| s.notifications == 2 && s.streams_active == 0)
        .await
        .unwrap();
    assert_eq!(stats.malformed, 1);
    assert_eq!(stats.leaves, 2);
    assert_eq!(stats.distinct_targets, 1);
    // A notification without timestamp has no latency sample.
    assert_eq!(stats.latency.count(), 1);

    // The collector still serves new streams.
    let mut client = plaintext_client(collector.local_addr()).await;
    client
        .publish(tokio_stream::iter(vec![sync()]))
        .await
        .unwrap();
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_with_the_self_signed_certificate_as_ca() {
    let identity = Identity::self_signed(&[]).unwrap();
    let tls = server_config(&identity, None, true).unwrap();
    let collector = start(CollectorConfig::tls("127.0.0.1:0".parse().unwrap(), tls))
        .await
        .unwrap();
    assert!(collector.is_tls());
    let mut rx = collector.subscribe();

    let ca = nl6_tls::ca_bundle_from_pem(identity.cert_pem().as_bytes()).unwrap();
    let config = client_config(ServerVerification::CaBundle(ca), None).unwrap();
    let mut client = tls_client(collector.local_addr(), config).await.unwrap();
    let n = notification("10.42.0.1", &[("in-octets", 5)]);
    client
        .publish(tokio_stream::iter(vec![update(n.clone())]))
        .await
        .unwrap();
    let got = next(&mut rx).await;
    assert_eq!(got.notification, n);
    assert_eq!(got.peer.unwrap().ip(), LOCALHOST);
    assert_eq!(collector.peers(), vec![LOCALHOST]);
    assert_eq!(collector.stats().handshake_failures, 0);

    // A plaintext client cannot talk to a TLS collector.
    let mut plain = nl6_gnmi::proto::gnmireverse::g_nmi_reverse_client::GNmiReverseClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{}", collector.local_addr()))
            .unwrap()
            .connect_lazy(),
    );
    assert!(
        plain
            .publish(tokio_stream::iter(vec![sync()]))
            .await
            .is_err()
    );
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn mutual_tls_requires_a_known_client_certificate() {
    let server_id = Identity::self_signed(&[]).unwrap();
    let device_id = Identity::self_signed(&["10.42.0.1".into()]).unwrap();
    let tls = server_config(&server_id, Some(&device_id.root_store().unwrap()), true).unwrap();
    let collector = start(CollectorConfig::tls("127.0.0.1:0".parse().unwrap(), tls))
        .await
        .unwrap();
    let server_ca = server_id.root_store().unwrap();

    let with_cert = client_config(
        ServerVerification::CaBundle(server_ca.clone()),
        Some(&device_id),
    )
    .unwrap();
    let mut client = tls_client(collector.local_addr(), with_cert).await.unwrap();
    client
        .publish(tokio_stream::iter(vec![update(notification(
            "10.42.0.1",
            &[("x", 1)],
        ))]))
        .await
        .unwrap();
    collector
        .wait_until(DEADLINE, |s| s.notifications == 1)
        .await
        .unwrap();

    let without_cert = client_config(ServerVerification::CaBundle(server_ca), None).unwrap();
    let outcome = async {
        let mut client = tls_client(collector.local_addr(), without_cert).await?;
        client
            .publish(tokio_stream::iter(vec![update(notification(
                "10.42.0.66",
                &[("x", 1)],
            ))]))
            .await
            .map_err(|status| status.to_string().into())
            .map(|_| ())
    };
    let result: Result<(), Box<dyn std::error::Error>> = outcome.await;
    assert!(result.is_err(), "a client without certificate was accepted");
    let stats = collector
        .wait_until(DEADLINE, |s| s.handshake_failures >= 1)
        .await
        .unwrap();
    assert_eq!(stats.notifications, 1);
    assert_eq!(collector.targets(), vec!["10.42.0.1"]);
    collector.shutdown().await.unwrap();
}

#[tokio::test]
async fn sink_receives_every_notification() {
    let (tx, mut rx) = mpsc::channel(16);
    let cfg = CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(tx);
    let collector = start(cfg).await.unwrap();
    let messages: Vec<_> = (0..500u64)
        .map(|i| update(notification("10.42.0.1", &[("seq", i)])))
        .collect();
    let mut client = plaintext_client(collector.local_addr()).await;
    // The sink holds 16; the stream is back-pressured, not dropped.
    let publish = tokio::spawn(async move { client.publish(tokio_stream::iter(messages)).await });
    for i in 0..500u64 {
        let got = tokio::time::timeout(DEADLINE, rx.recv())
            .await
            .unwrap()
            .unwrap();
        let value = got.notification.update[0]
            .val
            .clone()
            .unwrap()
            .value
            .unwrap();
        assert_eq!(value, nl6_gnmi::proto::gnmi::typed_value::Value::UintVal(i));
    }
    publish.await.unwrap().unwrap();
    collector.shutdown().await.unwrap();
    // After shutdown the service (and its sender) is gone.
    assert!(
        tokio::time::timeout(DEADLINE, rx.recv())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let collector = plaintext().await;
    let (tx, rx) = mpsc::channel::<SubscribeResponse>(8);
    let mut client = plaintext_client(collector.local_addr()).await;
    let call = tokio::spawn(async move { client.publish(ReceiverStream::new(rx)).await });
    tx.send(sync()).await.unwrap();
    collector
        .wait_until(DEADLINE, |s| s.streams_active == 1 && s.sync_responses == 1)
        .await
        .unwrap();
    tokio::time::timeout(DEADLINE, collector.shutdown())
        .await
        .expect("shutdown before the deadline")
        .unwrap();
    let status = tokio::time::timeout(DEADLINE, call)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
}

#[tokio::test]
async fn shutdown_cuts_connections_that_do_not_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut cfg = CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap());
    cfg.shutdown_grace = std::time::Duration::from_millis(200);
    let collector = start(cfg).await.unwrap();
    // An HTTP/2 peer that sends the preface and SETTINGS, then never answers
    // (so it never acknowledges the GOAWAY/PING of a graceful shutdown).
    let mut raw = tokio::net::TcpStream::connect(collector.local_addr())
        .await
        .unwrap();
    raw.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut first = [0u8; 9];
    raw.read_exact(&mut first).await.unwrap(); // the server's SETTINGS frame header
    tokio::time::timeout(DEADLINE, collector.shutdown())
        .await
        .expect("shutdown before the deadline")
        .unwrap();
    // The connection was closed by the collector: reading reaches EOF or an error.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, raw.read_to_end(&mut rest))
        .await
        .expect("connection closed before the deadline");
}
