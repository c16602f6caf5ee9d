//! Every built-in flavor against a recording collector, a SONiC destination group
//! failing over and back, and flavors of other shapes (raw TCP, UDP, serve) written on
//! the seam.

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use nl6_dialout::{
    DeviceIdentity, DeviceNet, DialoutConfig, Exporter, Flavor, FlavorError, FlavorRegistry,
    Publish, PushSession, PushStream, ServeSession, Session, SessionContext, StopSignal,
    SubscribeResponseEncoder,
};
use parking_lot::Mutex;
use support::flavors::FlavorCollector;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};

const WAIT: Duration = Duration::from_secs(20);

fn config(flavor: &str, collector: &str) -> DialoutConfig {
    DialoutConfig {
        flavor: flavor.into(),
        ..plain_config(0)
    }
    .with_collector(collector)
}

trait WithCollector {
    fn with_collector(self, collector: &str) -> Self;
}

impl WithCollector for DialoutConfig {
    fn with_collector(mut self, collector: &str) -> Self {
        self.collector = collector.to_string();
        self
    }
}

fn ip(addr: std::net::Ipv4Addr) -> IpAddr {
    IpAddr::V4(addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonic_and_nokia_streams_carry_metadata_and_count_publish_responses() {
    let collector = FlavorCollector::start().await;
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let (sonic, nokia, nokia_default) = (device_ip(40, 1), device_ip(40, 2), device_ip(40, 3));
    let mut exports = vec![
        exporter
            .attach(sonic, model(1, 2), &config("sonic", &collector.collector()))
            .unwrap(),
    ];
    let mut named = config("nokia", &collector.collector());
    named.subscription = "telemetry-1".into();
    exports.push(
        exporter
            .attach_device(
                DeviceIdentity::named(nokia, "sr1"),
                model(2, 2),
                Arc::new(named),
            )
            .unwrap(),
    );
    exports.push(
        exporter
            .attach(
                nokia_default,
                model(3, 2),
                &config("nokia", &collector.collector()),
            )
            .unwrap(),
    );
    eventually(WAIT, "3 notifications from every device", || {
        [sonic, nokia, nokia_default]
            .iter()
            .all(|d| collector.notifications(ip(*d)).len() >= 3)
    })
    .await;
    for device in [sonic, nokia, nokia_default] {
        for n in collector.notifications(ip(device)) {
            assert_eq!(target_of(&n), device.to_string());
        }
    }
    let calls = collector.calls();
    let call = |d| calls.iter().find(|c| c.peer == ip(d)).unwrap().clone();
    assert_eq!(call(sonic).method, "sonic");
    assert_eq!(call(sonic).subscription_name, None);
    let named = call(nokia);
    assert_eq!(named.method, "nokia");
    assert_eq!(named.subscription_name.as_deref(), Some("telemetry-1"));
    assert_eq!(named.system_name.as_deref(), Some("sr1"));
    let default = call(nokia_default);
    assert_eq!(default.subscription_name.as_deref(), Some("nl6"));
    assert_eq!(default.system_name.as_deref(), Some("nl6-127-77-40-3"));
    assert_eq!(calls.len(), 3, "one stream per device");

    for export in exports {
        within(WAIT, "stop", export.stop()).await.unwrap();
    }
    let status = exporter.stats().status();
    let responses: u64 = status.collectors.iter().map(|c| c.responses_received).sum();
    assert!(responses >= 9);
    assert_eq!(
        responses,
        collector.responses_sent(),
        "every PublishResponse read before the call ended"
    );
    let flavors: Vec<&str> = status
        .collectors
        .iter()
        .map(|c| c.flavor.as_str())
        .collect();
    assert_eq!(
        flavors,
        ["nokia", "sonic"],
        "one row per (collector, flavor)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sonic_group_fails_over_in_order_and_returns_after_the_failback_time() {
    let first = FlavorCollector::start().await;
    let second = FlavorCollector::start().await;
    let first_addr = first.addr();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let cfg = DialoutConfig {
        collector: String::new(),
        collectors: vec![first.collector(), second.collector()],
        retry_interval: Duration::from_millis(200),
        failback: Duration::from_millis(1500),
        ..config("sonic", "")
    };
    let devices: Vec<_> = (1..=3).map(|n| device_ip(41, n)).collect();
    let exports: Vec<_> = devices
        .iter()
        .map(|d| exporter.attach(*d, model(4, 2), &cfg).unwrap())
        .collect();
    eventually(WAIT, "every device at the first collector", || {
        devices
            .iter()
            .all(|d| !first.notifications(ip(*d)).is_empty())
    })
    .await;
    assert!(exports.iter().all(|e| e.collector() == first.collector()));
    assert!(second.calls().is_empty(), "the second is only a backup");

    first.stop().await;
    // Every stream broke at once: each device moves to the next collector at once.
    eventually(Duration::from_secs(5), "every device at the second", || {
        devices
            .iter()
            .all(|d| !second.notifications(ip(*d)).is_empty())
    })
    .await;
    let rows = exporter.stats().status().collectors;
    let row = |c: &str| rows.iter().find(|r| r.collector == c).unwrap().clone();
    assert_eq!(row(&second.collector()).devices, 3);
    assert_eq!(row(&second.collector()).devices_connected, 3);
    assert_eq!(row(&first_addr_text(first_addr)).devices_connected, 0);
    assert_eq!(exporter.stats().status().devices_exporting, 3);

    // The first is back: after the failback time on the backup, each device returns.
    let first = FlavorCollector::start_on(first_addr).await;
    eventually(WAIT, "every device back at the first", || {
        devices
            .iter()
            .all(|d| !first.notifications(ip(*d)).is_empty())
    })
    .await;
    eventually(WAIT, "every device reports the first", || {
        exports.iter().all(|e| e.collector() == first.collector())
    })
    .await;
    for export in exports {
        within(WAIT, "stop", export.stop()).await.unwrap();
    }
    for row in exporter.stats().status().collectors {
        assert_eq!(
            row.updates_produced,
            row.updates_sent + row.updates_dropped + row.updates_discarded,
            "the ledger of {} is exact",
            row.collector
        );
        assert!(row.updates_sent > 0, "{} carried updates", row.collector);
    }
}

fn first_addr_text(addr: std::net::SocketAddr) -> String {
    format!("127.0.0.1:{}", addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_get_sends_the_paths_as_get_responses_on_publish_get() {
    let collector = FlavorCollector::start().await;
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let device = device_ip(42, 1);
    let cfg = DialoutConfig {
        publish: Publish::Get,
        paths: vec![
            "/interfaces/interface[name=Ethernet1]/state/oper-status".into(),
            "/interfaces/interface[name=*]/state/counters/in-octets".into(),
        ],
        ..config("gnmireverse", &collector.collector())
    };
    let export = exporter.attach(device, model(5, 3), &cfg).unwrap();
    eventually(WAIT, "2 GetResponses", || {
        collector.gets(ip(device)).len() >= 2
    })
    .await;
    within(WAIT, "stop", export.stop()).await.unwrap();
    for reply in collector.gets(ip(device)) {
        let counts: Vec<usize> = reply.notification.iter().map(|n| n.update.len()).collect();
        assert_eq!(counts, [1, 3], "one notification per path");
        assert!(
            reply
                .notification
                .iter()
                .all(|n| target_of(n) == device.to_string())
        );
    }
    assert!(collector.notifications(ip(device)).is_empty());
    assert_eq!(collector.calls()[0].method, "publish_get");
}

// ---- flavors of other shapes, written on the seam ---------------------------------

/// Length-prefixed SubscribeResponses over raw TCP (the collector never speaks).
struct Records;

struct RecordStream {
    write: WriteHalf<nl6_dialout::DeviceStream>,
    read: ReadHalf<nl6_dialout::DeviceStream>,
}

impl Flavor for Records {
    fn name(&self) -> &str {
        "records"
    }

    fn summary(&self) -> &str {
        "test: length-prefixed messages over raw TCP"
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        _ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async move {
            let (read, write) = tokio::io::split(net.tcp().await?);
            Ok(Session::Push(PushSession::new(
                RecordStream { write, read },
                SubscribeResponseEncoder::default(),
            )))
        })
    }
}

impl PushStream for RecordStream {
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>> {
        Box::pin(async move {
            self.write
                .write_all(&(message.len() as u32).to_be_bytes())
                .await?;
            self.write.write_all(&message).await?;
            Ok(())
        })
    }

    fn ended(&mut self) -> BoxFuture<'_, FlavorError> {
        Box::pin(async move {
            let mut byte = [0u8; 1];
            match self.read.read(&mut byte).await {
                Ok(_) => FlavorError::Ended,
                Err(e) => e.into(),
            }
        })
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async move { Ok(self.write.shutdown().await?) })
    }
}

/// One SubscribeResponse per UDP datagram.
struct Datagrams;

struct DatagramStream(tokio::net::UdpSocket);

impl Flavor for Datagrams {
    fn name(&self) -> &str {
        "datagrams"
    }

    fn summary(&self) -> &str {
        "test: one message per UDP datagram"
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        _ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async move {
            Ok(Session::Push(PushSession::new(
                DatagramStream(net.udp().await?),
                SubscribeResponseEncoder::default(),
            )))
        })
    }
}

impl PushStream for DatagramStream {
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), FlavorError>> {
        Box::pin(async move {
            self.0.send(&message).await?;
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

/// A serve session that runs until asked to stop.
struct Serving;

struct UntilStopped;

impl Flavor for Serving {
    fn name(&self) -> &str {
        "serving"
    }

    fn summary(&self) -> &str {
        "test: a serve session over a dialed TCP connection"
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        _ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async move {
            let _connection = net.tcp().await?;
            Ok(Session::Serve(Box::new(UntilStopped)))
        })
    }
}

impl ServeSession for UntilStopped {
    fn run(self: Box<Self>, mut stop: StopSignal) -> BoxFuture<'static, Result<(), FlavorError>> {
        Box::pin(async move {
            stop.requested().await;
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_tcp_udp_and_serve_flavors_fit_the_seam() {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp_port = udp.local_addr().unwrap().port();
    let records: Arc<Mutex<Vec<(IpAddr, usize)>>> = Arc::default();
    let seen = records.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, peer)) = tcp.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                // Never writes: a raw TCP collector sends no preface.
                let mut len = [0u8; 4];
                while conn.read_exact(&mut len).await.is_ok() {
                    let mut body = vec![0; u32::from_be_bytes(len) as usize];
                    if conn.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    seen.lock().push((peer.ip(), body.len()));
                }
            });
        }
    });
    let mut flavors = FlavorRegistry::default();
    flavors
        .register(Arc::new(Records))
        .register(Arc::new(Datagrams))
        .register(Arc::new(Serving));
    let mut env = fast_env(TestConnector::new());
    env.flavors = flavors;
    let exporter = Exporter::new(env);
    let (tcp_dev, udp_dev, serve_dev) = (device_ip(43, 1), device_ip(43, 2), device_ip(43, 3));
    let tcp_export = exporter
        .attach(
            tcp_dev,
            model(6, 2),
            &config("records", &format!("127.0.0.1:{tcp_port}")),
        )
        .unwrap();
    let udp_export = exporter
        .attach(
            udp_dev,
            model(7, 2),
            &config("datagrams", &format!("127.0.0.1:{udp_port}")),
        )
        .unwrap();
    let serve_export = exporter
        .attach(
            serve_dev,
            model(8, 2),
            &config("serving", &format!("127.0.0.1:{tcp_port}")),
        )
        .unwrap();
    let mut datagram = vec![0u8; 65536];
    let (len, from) = within(WAIT, "a datagram", udp.recv_from(&mut datagram))
        .await
        .unwrap();
    assert_eq!(
        from.ip(),
        ip(udp_dev),
        "the datagram comes from the device address"
    );
    let message =
        <nl6_gnmi::proto::gnmi::SubscribeResponse as prost::Message>::decode(&datagram[..len])
            .unwrap();
    assert!(message.response.is_some());
    eventually(WAIT, "two records over raw TCP", || {
        records
            .lock()
            .iter()
            .filter(|(p, _)| *p == ip(tcp_dev))
            .count()
            >= 2
    })
    .await;
    eventually(WAIT, "the serve session up", || {
        serve_export.counters().streams_active == 1
    })
    .await;
    assert!(udp_export.counters().updates_sent > 0);
    for export in [tcp_export, udp_export, serve_export] {
        within(WAIT, "stop", export.stop()).await.unwrap();
    }
    for row in exporter.stats().status().collectors {
        assert_eq!(
            row.updates_produced,
            row.updates_sent + row.updates_dropped + row.updates_discarded,
            "{} {}",
            row.collector,
            row.flavor
        );
        assert_eq!(row.open_failures, 0, "{}: {:?}", row.flavor, row.last_error);
    }
}
