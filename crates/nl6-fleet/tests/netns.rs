//! Namespace-mode fleets against real network namespaces (root required; as non-root every
//! test prints why it did nothing and passes).
//!
//! The tests of this file run one at a time: sysctls and the FORWARD chain are global.
//! Each uses its own namespace and veth names (pid + counter) and its own subnets
//! (link 10.252.n.0/30, collector link 10.252.n.8/29, devices 10.(160+n).0.0/16), and
//! guards remove everything again, also when a test fails.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nl6_dialin::DialinConfig;
use nl6_dialout::{DialoutConfig, TlsSettings};
use nl6_fleet::{BatchSpec, Fleet, FleetConfig, FleetError, NetworkMode};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{GetRequest, g_nmi_client::GNmiClient};
use nl6_netns::{DialerConfig, HostResolver, StaticResolver};
use support::{
    ForwardDropGuard, HostSnapshot, SysctlGuard, TestNet, count_ns_addresses, eventually,
    root_or_skip, run, runtime, serial, sysctl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The gNMI dial-in port of every test fleet (inside its own namespace, so never taken).
const GNMI_PORT: u16 = 9339;

async fn start_fleet(
    net: &TestNet,
    resolver: Option<Arc<StaticResolver>>,
    dialer: DialerConfig,
) -> Fleet {
    Fleet::start(FleetConfig {
        network: NetworkMode::Netns(net.cfg.clone()),
        dialin: Some(DialinConfig {
            port: GNMI_PORT,
            ..DialinConfig::default()
        }),
        resolver: resolver.map(|r| r as Arc<dyn HostResolver>),
        dialer,
        ..FleetConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("fleet in namespace {}: {e}", net.cfg.name))
}

fn plaintext_dialout(collector: &str) -> DialoutConfig {
    DialoutConfig {
        tls: TlsSettings::plaintext(),
        ..DialoutConfig::new(collector)
    }
}

fn device_set(fleet: &Fleet) -> BTreeSet<IpAddr> {
    fleet.list().iter().map(|d| IpAddr::V4(d.ip)).collect()
}

/// Number of interfaces a gNMI Get from the host reports for the device at `ip`.
async fn get_ifindex(ip: Ipv4Addr, port: u16) -> Result<usize, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{ip}:{port}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("connect {ip}:{port}: {e}"))?;
    let reply = GNmiClient::new(channel)
        .get(GetRequest {
            path: vec![parse_path("/interfaces/interface/state/ifindex").unwrap()],
            encoding: 2,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("Get from {ip}: {e}"))?;
    Ok(reply.into_inner().notification[0].update.len())
}

/// `GET path` on the REST server: status code and body.
async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply).await?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[test]
fn a_fleet_in_a_namespace_serves_dial_in_to_host_side_clients() {
    if !root_or_skip("a_fleet_in_a_namespace_serves_dial_in_to_host_side_clients") {
        return;
    }
    let _serial = serial();
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    runtime().block_on(async {
        let fleet = start_fleet(&net, None, DialerConfig::default()).await;
        assert_eq!(
            fleet.dialin_addr(),
            Some(SocketAddr::from(([0, 0, 0, 0], GNMI_PORT)))
        );
        let report = fleet.create_batch(net.batch(300)).await.unwrap();
        assert_eq!((report.created, report.first), (300, net.device(0)));
        assert_eq!(count_ns_addresses(&net.cfg.name), 300);
        // The dial-in socket listens inside the namespace, not on the host.
        let inside = run("ip", &["netns", "exec", &net.cfg.name, "ss", "-Htln"]);
        assert!(inside.contains(&format!(":{GNMI_PORT} ")), "{inside}");
        // The host has none of the device addresses: only the route leads there.
        let host_addrs = run("ip", &["-4", "-o", "addr", "show"]);
        assert!(
            !host_addrs.contains(&format!(" {}/", net.device(0))),
            "{host_addrs}"
        );
        let routes = run("ip", &["-4", "route", "show"]);
        assert!(
            routes.contains(&format!("{}/16 via {}", net.dev_net, net.cfg.ns_addr)),
            "{routes}"
        );

        let sample: Vec<Ipv4Addr> = (0..300)
            .step_by(23)
            .chain([299])
            .map(|i| net.device(i))
            .collect();
        for ip in &sample {
            assert_eq!(get_ifindex(*ip, GNMI_PORT).await, Ok(10), "{ip}");
        }

        // A deleted device's address leaves the namespace.
        fleet.delete(net.device(5)).await.unwrap();
        assert_eq!(count_ns_addresses(&net.cfg.name), 299);
        assert_eq!(get_ifindex(net.device(6), GNMI_PORT).await, Ok(10));
        // Loopback addresses and the veth link network are refused in this mode.
        let err = fleet
            .create_batch(BatchSpec {
                start_ip: Ipv4Addr::new(127, 0, 3, 1),
                ..net.batch(1)
            })
            .await
            .unwrap_err();
        assert!(matches!(err, FleetError::AddressUnusable { .. }), "{err}");
        let err = fleet
            .create_batch(BatchSpec {
                start_ip: net.cfg.ns_addr,
                netmask: 24,
                ..net.batch(1)
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("veth link network"), "{err}");
        assert_eq!(fleet.len(), 299);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn a_collector_in_another_namespace_gets_one_stream_per_device_from_its_address() {
    if !root_or_skip("a_collector_in_another_namespace_gets_one_stream_per_device_from_its_address")
    {
        return;
    }
    let _serial = serial();
    // Only the FORWARD rules the fleet inserts may carry the traffic, both ways.
    let _policy = ForwardDropGuard::set();
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    let collector_ns = net.collector();
    runtime().block_on(async {
        let collector = collector_ns
            .start_collector(collector_ns.addrs[0], 6030)
            .await;
        let fleet = start_fleet(&net, None, DialerConfig::default()).await;
        let target = format!("{}:6030", collector_ns.addrs[0]);
        let count = 200;
        fleet
            .create_batch(BatchSpec {
                dialout: Some(plaintext_dialout(&target)),
                ..net.batch(count)
            })
            .await
            .unwrap();
        let devices = device_set(&fleet);
        assert_eq!(devices.len(), count as usize);

        let stats = collector
            .wait_until(Duration::from_secs(60), |s| {
                s.streams_active == u64::from(count)
                    && s.distinct_peers == count as usize
                    && s.distinct_targets == count as usize
            })
            .await
            .unwrap_or_else(|s| panic!("collector saw {s:?}"));
        assert_eq!(
            stats.streams_total,
            u64::from(count),
            "one stream per device"
        );
        let peers: BTreeSet<IpAddr> = collector.peers().into_iter().collect();
        assert_eq!(peers, devices, "peer addresses are the device addresses");
        let targets: BTreeSet<String> = collector.targets().into_iter().collect();
        let expected: BTreeSet<String> = devices.iter().map(|d| d.to_string()).collect();
        assert_eq!(targets, expected, "Prefix.target is the device address");

        let status = fleet.dialout_status();
        assert_eq!(status.devices_exporting, u64::from(count));
        assert_eq!(status.collectors.len(), 1);
        assert_eq!(status.collectors[0].streams_active, u64::from(count));
        let dials = fleet.dial_stats();
        assert_eq!(dials.in_flight, 0);
        assert!((1..=64).contains(&dials.peak_in_flight), "{dials:?}");
        assert_eq!(collector.stats().streams_total, u64::from(count));

        // Deleting devices ends their streams at the collector.
        for i in 0..10 {
            fleet.delete(net.device(i)).await.unwrap();
        }
        collector
            .wait_until(Duration::from_secs(10), |s| {
                s.streams_active == u64::from(count) - 10
            })
            .await
            .unwrap_or_else(|s| panic!("after deleting 10 devices: {s:?}"));

        fleet.shutdown().await.unwrap();
        collector
            .wait_until(Duration::from_secs(10), |s| s.streams_active == 0)
            .await
            .unwrap_or_else(|s| panic!("streams still open after shutdown: {s:?}"));
        collector.shutdown().await.unwrap();
    });
    drop(collector_ns);
}

#[test]
fn dials_to_a_syn_dropping_collector_stay_within_64_and_rest_stays_responsive() {
    if !root_or_skip("dials_to_a_syn_dropping_collector_stay_within_64_and_rest_stays_responsive") {
        return;
    }
    let _serial = serial();
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    let collector_ns = net.collector();
    collector_ns.drop_syns_to(6031);
    runtime().block_on(async {
        let dialer = DialerConfig {
            max_in_flight: 64,
            dial_timeout: Duration::from_secs(2),
        };
        let fleet = Arc::new(start_fleet(&net, None, dialer).await);
        let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rest_addr = rest.local_addr().unwrap();
        let server = tokio::spawn(nl6_rest::serve(fleet.clone(), rest, std::future::pending()));

        let target = SocketAddr::new(collector_ns.addrs[0].into(), 6031);
        let count = 5000;
        let created = Instant::now();
        fleet
            .create_batch(BatchSpec {
                dialout: Some(plaintext_dialout(&target.to_string())),
                ..net.batch(count)
            })
            .await
            .unwrap();
        eprintln!("5000 dial-out devices created in {:?}", created.elapsed());

        // Until three waves of 64 dials have timed out: REST answers fast, and neither the
        // dialer nor the kernel (sockets in SYN-SENT) ever has more than 64 dials going.
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut health_checks = 0;
        let mut slowest = Duration::ZERO;
        let mut max_syn_sent = 0;
        let failed = loop {
            let asked = Instant::now();
            let (status, body) =
                tokio::time::timeout(Duration::from_secs(1), http_get(rest_addr, "/health"))
                    .await
                    .expect("GET /health answered within 1 s")
                    .unwrap();
            slowest = slowest.max(asked.elapsed());
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("\"ok\""), "{body}");
            health_checks += 1;
            let (status, body) = tokio::time::timeout(
                Duration::from_secs(1),
                http_get(rest_addr, "/api/v1/gnmi/dialout/status"),
            )
            .await
            .expect("GET /api/v1/gnmi/dialout/status answered within 1 s")
            .unwrap();
            assert_eq!(status, 200, "{body}");

            let dials = fleet.dial_stats();
            assert!(dials.in_flight <= 64, "{dials:?}");
            let syn_sent = support::syn_sent_to(&net.cfg.name, target);
            max_syn_sent = max_syn_sent.max(syn_sent);
            assert!(syn_sent <= 64, "{syn_sent} connects in SYN-SENT");

            let failed = fleet
                .list()
                .iter()
                .filter(|d| d.dialout_error.is_some())
                .count();
            if failed >= 3 * 64 && health_checks >= 5 {
                break failed;
            }
            assert!(
                Instant::now() < deadline,
                "only {failed} dials failed so far ({dials:?})"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let dials = fleet.dial_stats();
        eprintln!(
            "{failed} dials timed out; {health_checks} health checks, slowest {slowest:?}; \
             peak {} dials in flight, at most {max_syn_sent} sockets in SYN-SENT",
            dials.peak_in_flight
        );
        assert_eq!(dials.max_in_flight, 64);
        assert_eq!(
            dials.peak_in_flight, 64,
            "5000 pending dials fill the limit but never exceed it"
        );
        assert!(
            max_syn_sent > 0,
            "the kernel never showed a pending connect"
        );
        let device = fleet.get(net.device(0)).unwrap();
        let error = device
            .dialout_error
            .expect("the first device's dial failed");
        assert!(
            error.contains(&format!("to {target} timed out after 2s")),
            "{error}"
        );
        assert_eq!(fleet.dialout_status().collectors[0].streams_active, 0);

        server.abort();
        fleet.shutdown().await.unwrap();
    });
    drop(collector_ns);
}

#[test]
fn dns_fail_over_through_the_injected_resolver() {
    if !root_or_skip("dns_fail_over_through_the_injected_resolver") {
        return;
    }
    let _serial = serial();
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    let collector_ns = net.collector();
    runtime().block_on(async {
        let primary = collector_ns
            .start_collector(collector_ns.addrs[0], 6032)
            .await;
        let secondary = collector_ns
            .start_collector(collector_ns.addrs[1], 6032)
            .await;
        let resolver = Arc::new(StaticResolver::new());
        resolver.set("collector.test", [IpAddr::V4(collector_ns.addrs[0])]);
        let fleet = start_fleet(&net, Some(resolver.clone()), DialerConfig::default()).await;
        fleet
            .create_batch(BatchSpec {
                dialout: Some(plaintext_dialout("collector.test:6032")),
                ..net.batch(3)
            })
            .await
            .unwrap();
        let devices = device_set(&fleet);
        primary
            .wait_until(Duration::from_secs(30), |s| {
                s.streams_active == 3 && s.distinct_peers == 3
            })
            .await
            .unwrap_or_else(|s| panic!("primary saw {s:?}"));
        assert_eq!(
            primary.peers().into_iter().collect::<BTreeSet<_>>(),
            devices
        );

        // The name moves to the secondary; the primary goes away.
        resolver.set("collector.test", [IpAddr::V4(collector_ns.addrs[1])]);
        primary.shutdown().await.unwrap();
        let stats = secondary
            .wait_until(Duration::from_secs(30), |s| {
                s.streams_active == 3 && s.distinct_peers == 3
            })
            .await
            .unwrap_or_else(|s| panic!("secondary saw {s:?}"));
        assert_eq!(stats.streams_total, 3);
        assert_eq!(
            secondary.peers().into_iter().collect::<BTreeSet<_>>(),
            devices
        );
        assert!(
            eventually(Duration::from_secs(10), || {
                fleet.dialout_status().collectors[0].reconnects == 3
            })
            .await,
            "{:?}",
            fleet.dialout_status()
        );
        fleet.shutdown().await.unwrap();
        secondary.shutdown().await.unwrap();
    });
    drop(collector_ns);
}

#[test]
fn an_aaaa_only_collector_name_shows_a_clear_error() {
    if !root_or_skip("an_aaaa_only_collector_name_shows_a_clear_error") {
        return;
    }
    let _serial = serial();
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    runtime().block_on(async {
        let resolver = Arc::new(StaticResolver::new());
        resolver.set(
            "v6only.test",
            [IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))],
        );
        let fleet = start_fleet(&net, Some(resolver), DialerConfig::default()).await;
        fleet
            .create_batch(BatchSpec {
                dialout: Some(plaintext_dialout("v6only.test:6030")),
                ..net.batch(3)
            })
            .await
            .unwrap();
        let want = "no IPv4 address among 1 records for v6only.test";
        assert!(
            eventually(Duration::from_secs(10), || {
                fleet
                    .list()
                    .iter()
                    .all(|d| d.dialout_error.as_deref().is_some_and(|e| e.contains(want)))
            })
            .await,
            "{:?}",
            fleet
                .list()
                .iter()
                .map(|d| &d.dialout_error)
                .collect::<Vec<_>>()
        );
        let status = fleet.dialout_status();
        assert_eq!(status.devices_exporting, 3);
        assert_eq!(status.collectors[0].streams_active, 0);
        assert_eq!(fleet.dial_stats().in_flight, 0);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn teardown_leaves_no_namespace_route_rule_or_sysctl_behind() {
    if !root_or_skip("teardown_leaves_no_namespace_route_rule_or_sysctl_behind") {
        return;
    }
    let _serial = serial();
    // Values that differ from what the fleet sets, so the restore is observable.
    let _sysctls = SysctlGuard::set(&[
        ("net/ipv4/ip_forward", "0"),
        ("net/ipv4/conf/all/rp_filter", "2"),
    ]);
    let net = TestNet::new();
    let _cleanup = net.cleanup();
    let collector_ns = net.collector();
    let before = HostSnapshot::take();
    runtime().block_on(async {
        // A fleet that fails to start after the namespace exists leaves nothing either.
        let err = Fleet::start(FleetConfig {
            network: NetworkMode::Netns(net.cfg.clone()),
            dialer: DialerConfig {
                max_in_flight: 0,
                ..DialerConfig::default()
            },
            ..FleetConfig::default()
        })
        .await
        .err()
        .expect("max_in_flight 0 is refused");
        assert!(err.to_string().contains("dialer.max_in_flight"), "{err}");
        assert_eq!(HostSnapshot::take(), before);

        // A fleet dropped without shutdown (an error path, a panic) removes its set-up too.
        let dropped = start_fleet(&net, None, DialerConfig::default()).await;
        dropped.create_batch(net.batch(5)).await.unwrap();
        assert!(HostSnapshot::take().namespaces.contains(&net.cfg.name));
        drop(dropped);
        assert_eq!(HostSnapshot::take(), before);

        let collector = collector_ns
            .start_collector(collector_ns.addrs[0], 6034)
            .await;
        let fleet = start_fleet(&net, None, DialerConfig::default()).await;
        let target = format!("{}:6034", collector_ns.addrs[0]);
        fleet
            .create_batch(BatchSpec {
                dialout: Some(plaintext_dialout(&target)),
                ..net.batch(20)
            })
            .await
            .unwrap();
        // A second batch with its own /24 route.
        fleet
            .create_batch(BatchSpec {
                start_ip: net.device_at(200, 1),
                netmask: 24,
                ..net.batch(10)
            })
            .await
            .unwrap();
        collector
            .wait_until(Duration::from_secs(30), |s| s.streams_active == 20)
            .await
            .unwrap_or_else(|s| panic!("collector saw {s:?}"));

        let during = HostSnapshot::take();
        assert_ne!(during, before);
        assert!(during.namespaces.contains(&net.cfg.name));
        assert_eq!(sysctl("net/ipv4/ip_forward"), "1");
        assert_eq!(sysctl("net/ipv4/conf/all/rp_filter"), "0");
        assert!(
            during
                .forward_rules
                .contains(&format!("nl6:{}", net.cfg.name)),
            "{}",
            during.forward_rules
        );
        assert!(
            during.routes.contains(&format!("{}/16 via", net.dev_net)),
            "{}",
            during.routes
        );
        assert!(
            during
                .routes
                .contains(&format!("{}/24 via", net.device_at(200, 0))),
            "{}",
            during.routes
        );

        fleet.shutdown().await.unwrap();
        // Idempotent.
        fleet.shutdown().await.unwrap();
        collector.shutdown().await.unwrap();
    });
    assert_eq!(HostSnapshot::take(), before);
    assert!(!Path::new(&format!("/run/netns/{}", net.cfg.name)).exists());
    assert!(!Path::new(&format!("{}/{}.state", nl6_netns::STATE_DIR, net.cfg.name)).exists());
    drop(collector_ns);
}

mod support {
    //! Root check, serialization, unique names and subnets, guards that clean up on
    //! failure, a host snapshot, and a collector namespace.

    use super::*;
    use std::process::Command;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Mutex, MutexGuard};

    use nl6_collector::{CollectorConfig, CollectorHandle};
    use nl6_netns::{NetnsConfig, NsExecutor, SimNetwork};

    /// True when running as root; otherwise prints why the test does nothing.
    pub fn root_or_skip(test: &str) -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            eprintln!("{test}: skipped, needs root (network namespaces, iptables, sysctls)");
        }
        root
    }

    /// Serializes the tests of this file: sysctls and the FORWARD chain are global.
    pub fn serial() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Polls `cond` every 20 ms until it holds or `timeout` passes.
    pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cond()
    }

    /// Names and subnets unique to one test of one process.
    pub struct TestNet {
        pub n: u32,
        pub cfg: NetnsConfig,
        /// The device network, a /16.
        pub dev_net: Ipv4Addr,
    }

    impl TestNet {
        pub fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(1);
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            assert!(n < 90, "too many test networks in one process");
            let pid = std::process::id();
            let oct = n as u8;
            TestNet {
                n,
                cfg: NetnsConfig {
                    name: format!("nl6t{pid}f{n}"),
                    host_veth: format!("ft{pid}{n}h"),
                    ns_veth: format!("ft{pid}{n}n"),
                    host_addr: Ipv4Addr::new(10, 252, oct, 1),
                    ns_addr: Ipv4Addr::new(10, 252, oct, 2),
                    prefix_len: 30,
                },
                dev_net: Ipv4Addr::new(10, 160 + oct, 0, 0),
            }
        }

        /// The `i`-th address of a /16 batch starting at .0.1.
        pub fn device(&self, i: u32) -> Ipv4Addr {
            Ipv4Addr::from(u32::from(self.dev_net) + 1 + i)
        }

        /// `dev_net` with the third and fourth octet set.
        pub fn device_at(&self, c: u8, d: u8) -> Ipv4Addr {
            let [a, b, _, _] = self.dev_net.octets();
            Ipv4Addr::new(a, b, c, d)
        }

        /// A dial-in-only /16 batch of `count` devices from `device(0)`.
        pub fn batch(&self, count: u32) -> BatchSpec {
            BatchSpec {
                start_ip: self.device(0),
                device_count: count,
                netmask: 16,
                ..BatchSpec::default()
            }
        }

        /// Removes whatever this test's fleet left on the host, when dropped.
        pub fn cleanup(&self) -> NetCleanup {
            NetCleanup(self.cfg.clone())
        }

        /// A second namespace playing a collector host ("another machine"), reached
        /// through the host's forwarding: transfer /29 10.252.n.8.
        pub fn collector(&self) -> CollectorNs {
            let pid = std::process::id();
            let oct = self.n as u8;
            CollectorNs::create(
                &format!("nl6c{pid}f{}", self.n),
                &format!("fc{pid}{}h", self.n),
                &format!("fc{pid}{}n", self.n),
                Ipv4Addr::new(10, 252, oct, 9),
                [
                    Ipv4Addr::new(10, 252, oct, 10),
                    Ipv4Addr::new(10, 252, oct, 11),
                ],
            )
        }
    }

    /// Undoes a fleet's namespace set-up from its state file (a no-op after a clean
    /// shutdown); runs on drop, so also after a failed assertion.
    pub struct NetCleanup(NetnsConfig);

    impl Drop for NetCleanup {
        fn drop(&mut self) {
            let cfg = self.0.clone();
            let name = cfg.name.clone();
            let outcome = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?
                    .block_on(SimNetwork::cleanup_stale(cfg))
                    .map_err(|e| e.to_string())
            })
            .join();
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("cleanup of {name}: {e}"),
                Err(_) => eprintln!("cleanup of {name} panicked"),
            }
        }
    }

    /// Runs a command and returns its stdout; panics with stderr on failure.
    pub fn run(cmd: &str, args: &[&str]) -> String {
        let out = Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd} {args:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run_quiet(cmd: &str, args: &[&str]) {
        let _ = Command::new(cmd).args(args).output();
    }

    pub fn sysctl(key: &str) -> String {
        std::fs::read_to_string(Path::new("/proc/sys").join(key))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Number of IPv4 /32 addresses inside namespace `ns`.
    pub fn count_ns_addresses(ns: &str) -> usize {
        run("ip", &["-n", ns, "-4", "-o", "addr", "show"])
            .lines()
            .filter(|l| l.contains("/32"))
            .count()
    }

    /// Sockets in namespace `ns` whose connect to `target` is pending (SYN-SENT).
    pub fn syn_sent_to(ns: &str, target: SocketAddr) -> usize {
        run(
            "ip",
            &["netns", "exec", ns, "ss", "-Htn", "state", "syn-sent"],
        )
        .lines()
        .filter(|l| l.contains(&target.to_string()))
        .count()
    }

    /// Sets sysctls for a test and puts the old values back on drop.
    pub struct SysctlGuard(Vec<(String, String)>);

    impl SysctlGuard {
        pub fn set(pairs: &[(&str, &str)]) -> Self {
            let old = pairs
                .iter()
                .map(|(k, v)| {
                    let old = sysctl(k);
                    std::fs::write(Path::new("/proc/sys").join(k), v).unwrap();
                    ((*k).to_owned(), old)
                })
                .collect();
            SysctlGuard(old)
        }
    }

    impl Drop for SysctlGuard {
        fn drop(&mut self) {
            for (k, v) in self.0.iter().rev() {
                let _ = std::fs::write(Path::new("/proc/sys").join(k), v);
            }
        }
    }

    /// Sets the FORWARD policy to DROP, so only explicit rules forward; restores it on drop.
    pub struct ForwardDropGuard(String);

    impl ForwardDropGuard {
        pub fn set() -> Self {
            let rules = run("iptables", &["-w", "5", "-S", "FORWARD"]);
            let policy = rules
                .lines()
                .find_map(|l| l.strip_prefix("-P FORWARD "))
                .unwrap_or("ACCEPT")
                .trim()
                .to_owned();
            run("iptables", &["-w", "5", "-P", "FORWARD", "DROP"]);
            ForwardDropGuard(policy)
        }
    }

    impl Drop for ForwardDropGuard {
        fn drop(&mut self) {
            run_quiet("iptables", &["-w", "5", "-P", "FORWARD", &self.0]);
        }
    }

    /// What the host looks like in the places a namespace-mode fleet touches.
    #[derive(Debug, PartialEq, Eq)]
    pub struct HostSnapshot {
        pub ip_forward: String,
        pub all_rp_filter: String,
        pub forward_rules: String,
        pub routes: String,
        pub policy_rules: String,
        pub links: BTreeSet<String>,
        pub namespaces: BTreeSet<String>,
    }

    impl HostSnapshot {
        pub fn take() -> Self {
            let links = run("ip", &["-o", "link", "show"])
                .lines()
                .filter_map(|l| l.split(": ").nth(1))
                .map(|n| n.split('@').next().unwrap_or(n).to_owned())
                .collect();
            let namespaces = std::fs::read_dir("/run/netns")
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            HostSnapshot {
                ip_forward: sysctl("net/ipv4/ip_forward"),
                all_rp_filter: sysctl("net/ipv4/conf/all/rp_filter"),
                forward_rules: run("iptables", &["-w", "5", "-S", "FORWARD"]),
                routes: run("ip", &["-4", "route", "show", "table", "all"]),
                policy_rules: run("ip", &["-4", "rule", "show"]),
                links,
                namespaces,
            }
        }
    }

    /// A second namespace with a veth to the host, default route via the host.
    pub struct CollectorNs {
        pub ns: String,
        host_veth: String,
        /// The collector's addresses (on its veth, in the transfer /29).
        pub addrs: [Ipv4Addr; 2],
    }

    impl CollectorNs {
        fn create(
            ns: &str,
            host_veth: &str,
            ns_veth: &str,
            host_addr: Ipv4Addr,
            addrs: [Ipv4Addr; 2],
        ) -> Self {
            // Built before the first command, so a failure half-way is cleaned up.
            let me = CollectorNs {
                ns: ns.to_owned(),
                host_veth: host_veth.to_owned(),
                addrs,
            };
            run("ip", &["netns", "add", ns]);
            run(
                "ip",
                &[
                    "link", "add", host_veth, "type", "veth", "peer", "name", ns_veth, "netns", ns,
                ],
            );
            run(
                "ip",
                &["addr", "add", &format!("{host_addr}/29"), "dev", host_veth],
            );
            run("ip", &["link", "set", host_veth, "up"]);
            for a in addrs {
                run(
                    "ip",
                    &["-n", ns, "addr", "add", &format!("{a}/29"), "dev", ns_veth],
                );
            }
            run("ip", &["-n", ns, "link", "set", ns_veth, "up"]);
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
            let via = host_addr.to_string();
            run("ip", &["-n", ns, "route", "add", "default", "via", &via]);
            me
        }

        /// Drops every TCP SYN to `port` inside the collector namespace.
        pub fn drop_syns_to(&self, port: u16) {
            let port = port.to_string();
            run(
                "ip",
                &[
                    "netns", "exec", &self.ns, "iptables", "-w", "5", "-A", "INPUT", "-p", "tcp",
                    "--syn", "--dport", &port, "-j", "DROP",
                ],
            );
        }

        /// An in-process gNMIReverse collector listening on `addr:port` inside this
        /// namespace (plaintext, quick shutdown).
        pub async fn start_collector(&self, addr: Ipv4Addr, port: u16) -> CollectorHandle {
            let listen = SocketAddr::new(addr.into(), port);
            let exec = NsExecutor::in_namespace(&self.ns, 1).unwrap();
            let listener = exec.tcp_listener(listen, 4096).await.unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let cfg = CollectorConfig {
                shutdown_grace: Duration::from_millis(500),
                ..CollectorConfig::plaintext(listen)
            };
            nl6_collector::start_on(listener, cfg).await.unwrap()
        }
    }

    impl Drop for CollectorNs {
        fn drop(&mut self) {
            run_quiet("ip", &["link", "del", &self.host_veth]);
            run_quiet("ip", &["netns", "del", &self.ns]);
        }
    }
}
