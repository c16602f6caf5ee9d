//! Idle sockets must not hold connection slots, and one client address or one device
//! cannot take the whole fleet's connection limit.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use nl6_gnmi::proto::gnmi::{CapabilityRequest, GetRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::*;

/// The deadline for the well-behaved client.
const ANSWER: Duration = Duration::from_secs(1);

/// A TCP connection from source address `from` to `to`.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    within("connect", socket.connect(to)).await.unwrap()
}

/// Whether the server closed `tcp` (end of file or reset) within the deadline.
async fn closed_by_server(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match within("the server to close the socket", tcp.read(&mut buf)).await {
            Ok(0) | Err(_) => return true,
            // The server's HTTP/2 SETTINGS, sent before it waits for the preface.
            Ok(_) => continue,
        }
    }
}

/// A Get of everything on device `ip` over a new connection, within [`ANSWER`].
async fn fresh_get(h: &Harness, ip: Ipv4Addr) {
    let answered = tokio::time::timeout(ANSWER, async {
        let mut client = h.client(ip).await;
        let get = GetRequest {
            path: vec![nl6_gnmi::parse_path("/interfaces").unwrap()],
            ..GetRequest::default()
        };
        client.get(get).await.unwrap().into_inner()
    })
    .await
    .expect("a new client connects and its Get is answered within 1 s");
    assert_eq!(answered.notification.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_without_a_preface_neither_lock_out_others_nor_stay() {
    nl6_testkit::raise_open_files(8192);
    let mut config = test_config();
    // Fewer slots than idle sockets: only the per-device limit keeps the fleet open.
    config.max_connections = 1_000;
    config.handshake_timeout = Duration::from_secs(3);
    let per_device = config.max_connections_per_device as u64;
    let h = Harness::start(config).await;

    let mut idle = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        idle.push(
            within("connect", TcpStream::connect(h.addr(DEV_A)))
                .await
                .unwrap(),
        );
    }
    let stats = h.server.stats();
    wait_until("every idle socket admitted or refused", || {
        let handled = stats.connections_open() + stats.handshake_timeouts();
        stats.connections_refused().max_connections_per_device == 2_000 - per_device
            && handled == per_device
    })
    .await;

    // Another device's client gets in at once, the idle sockets notwithstanding.
    fresh_get(&h, DEV_B).await;

    // The admitted idle sockets are closed at the handshake deadline, the others were
    // closed at accept: none is left open (the Get's client has gone too).
    wait_until("the idle sockets closed at the deadline", || {
        stats.handshake_timeouts() == per_device && stats.connections_open() == 0
    })
    .await;
    for tcp in &mut idle {
        assert!(closed_by_server(tcp).await);
    }
    let status = h.server.status();
    assert_eq!(status.handshake_timeouts, per_device);
    assert_eq!(
        status.connections_refused.max_connections_per_device,
        2_000 - per_device
    );
    assert_eq!(status.connections_refused.max_connections, 0);
    assert_eq!(status.listener_accept_failures, 2_000 - per_device);
    // The slots are free again: the device takes new clients.
    fresh_get(&h, DEV_A).await;
}

#[tokio::test]
async fn per_peer_and_per_device_limits_refuse_and_count() {
    let mut config = test_config();
    config.max_connections_per_peer = 3;
    config.max_connections_per_device = 2;
    let h = Harness::start(config).await;
    let stats = h.server.stats().clone();
    let attacker = Ipv4Addr::new(127, 0, 0, 5);

    // Peer limit: a fourth connection from one address is closed at accept, to any device.
    let mut held = vec![
        connect_from(attacker, h.addr(DEV_A)).await,
        connect_from(attacker, h.addr(DEV_B)).await,
        connect_from(attacker, h.addr(DEV_B)).await,
    ];
    wait_until("three admitted", || stats.connections_open() == 3).await;
    let mut refused = connect_from(attacker, h.addr(DEV_A)).await;
    assert!(closed_by_server(&mut refused).await);
    assert_eq!(stats.connections_refused().max_connections_per_peer, 1);

    // Device limit: device B has its two (from the attacker), so another address is
    // refused there; device A has a place left, for anyone.
    let mut other = connect_from(Ipv4Addr::new(127, 0, 0, 6), h.addr(DEV_B)).await;
    assert!(closed_by_server(&mut other).await);
    assert_eq!(stats.connections_refused().max_connections_per_device, 1);
    let mut client = h.client(DEV_A).await;
    tokio::time::timeout(ANSWER, client.capabilities(CapabilityRequest::default()))
        .await
        .expect("answered within 1 s")
        .unwrap();
    let status = h.server.status();
    assert_eq!(status.connections_refused.max_connections_per_peer, 1);
    assert_eq!(status.connections_refused.max_connections_per_device, 1);
    assert_eq!(status.connections_open, 4);

    // Closing one frees its places: the address may connect again.
    drop(held.remove(0));
    wait_until("the closed one freed", || stats.connections_open() == 3).await;
    let _again = connect_from(attacker, h.addr(DEV_A)).await;
    wait_until("admitted again", || stats.connections_open() == 4).await;
    assert_eq!(stats.connections_refused().max_connections_per_peer, 1);
}

#[tokio::test]
async fn a_partial_preface_is_closed_at_the_deadline_and_speakers_stay() {
    let mut config = test_config();
    config.handshake_timeout = Duration::from_millis(300);
    let h = Harness::start(config).await;
    let mut client = h.client(DEV_A).await;
    client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();

    // A slow client: part of the preface, then nothing.
    let mut slow = within("connect", TcpStream::connect(h.addr(DEV_A)))
        .await
        .unwrap();
    slow.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(closed_by_server(&mut slow).await);
    assert_eq!(h.server.stats().handshake_timeouts(), 1);

    // The client that sent its preface, connected before, is past the deadline too
    // and stays.
    client
        .capabilities(CapabilityRequest::default())
        .await
        .unwrap();
    assert_eq!(h.server.stats().handshake_timeouts(), 1);
}
