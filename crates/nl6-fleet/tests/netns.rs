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
use nl6_netns::{DialerConfig, HostResolver, StaticResolver};
use nl6_testkit::{
    AddressBlock, ForwardDropGuard, HostSnapshot, TestNet, count_ns_addresses, eventually,
    expects_forward_rules, get_ifindex, root_test, root_test_with_sysctls, run, state_file, sysctl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// This file's names (`nl6t<pid>f<n>`, `ft<pid><n>h`, `nl6c<pid>f<n>`) and subnets (see the top).
const BLOCK: AddressBlock = AddressBlock::new('f', 252, 160);

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

fn device_set(fleet: &Fleet) -> BTreeSet<IpAddr> {
    fleet.list().iter().map(|d| IpAddr::V4(d.ip)).collect()
}

/// A dial-in-only /16 batch of `count` devices from `net.device(0)`.
fn batch(net: &TestNet, count: u32) -> BatchSpec {
    BatchSpec {
        start_ip: net.device(0),
        device_count: count,
        netmask: 16,
        ..BatchSpec::default()
    }
}

/// Like [`batch`], each device dialing out in plaintext to `collector` (`host:port`).
fn dialout_batch(net: &TestNet, count: u32, collector: &str) -> BatchSpec {
    BatchSpec {
        dialout: Some(DialoutConfig {
            tls: TlsSettings::plaintext(),
            ..DialoutConfig::new(collector)
        }),
        ..batch(net, count)
    }
}

/// Sockets in namespace `ns` whose connect to `target` is pending (SYN-SENT).
fn syn_sent_to(ns: &str, target: SocketAddr) -> usize {
    run(
        "ip",
        &["netns", "exec", ns, "ss", "-Htn", "state", "syn-sent"],
    )
    .lines()
    .filter(|l| l.contains(&target.to_string()))
    .count()
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
    root_test(
        "a_fleet_in_a_namespace_serves_dial_in_to_host_side_clients",
        BLOCK,
        async |net| {
            let fleet = start_fleet(net, None, DialerConfig::default()).await;
            assert_eq!(
                fleet.dialin_addr(),
                Some(SocketAddr::from(([0, 0, 0, 0], GNMI_PORT)))
            );
            let report = fleet.create_batch(batch(net, 300)).await.unwrap();
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
                    ..batch(net, 1)
                })
                .await
                .unwrap_err();
            assert!(matches!(err, FleetError::AddressUnusable { .. }), "{err}");
            let err = fleet
                .create_batch(BatchSpec {
                    start_ip: net.cfg.ns_addr,
                    netmask: 24,
                    ..batch(net, 1)
                })
                .await
                .unwrap_err();
            assert!(err.to_string().contains("veth link network"), "{err}");
            assert_eq!(fleet.len(), 299);
            fleet.shutdown().await.unwrap();
        },
    );
}

#[test]
fn a_collector_in_another_namespace_gets_one_stream_per_device_from_its_address() {
    root_test(
        "a_collector_in_another_namespace_gets_one_stream_per_device_from_its_address",
        BLOCK,
        async |net| {
            // Only the FORWARD rules the fleet inserts may carry the traffic, both ways.
            let _policy = ForwardDropGuard::set();
            let collector_ns = net.collector();
            let collector = collector_ns
                .start_collector(collector_ns.addrs[0], 6030)
                .await;
            let fleet = start_fleet(net, None, DialerConfig::default()).await;
            let target = format!("{}:6030", collector_ns.addrs[0]);
            let count = 200;
            fleet
                .create_batch(dialout_batch(net, count, &target))
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
        },
    );
}

#[test]
fn dials_to_a_syn_dropping_collector_stay_within_64_and_rest_stays_responsive() {
    root_test(
        "dials_to_a_syn_dropping_collector_stay_within_64_and_rest_stays_responsive",
        BLOCK,
        async |net| {
            let collector_ns = net.collector();
            collector_ns.stop_answering();
            let dialer = DialerConfig {
                max_in_flight: 64,
                dial_timeout: Duration::from_secs(2),
            };
            let fleet = Arc::new(start_fleet(net, None, dialer).await);
            let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let rest_addr = rest.local_addr().unwrap();
            let server = tokio::spawn(nl6_rest::serve(fleet.clone(), rest, std::future::pending()));

            let target = SocketAddr::new(collector_ns.addrs[0].into(), 6031);
            let count = 5000;
            let created = Instant::now();
            fleet
                .create_batch(dialout_batch(net, count, &target.to_string()))
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
                let syn_sent = syn_sent_to(&net.cfg.name, target);
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
        },
    );
}

#[test]
fn dns_fail_over_through_the_injected_resolver() {
    root_test(
        "dns_fail_over_through_the_injected_resolver",
        BLOCK,
        async |net| {
            let collector_ns = net.collector();
            let primary = collector_ns
                .start_collector(collector_ns.addrs[0], 6032)
                .await;
            let secondary = collector_ns
                .start_collector(collector_ns.addrs[1], 6032)
                .await;
            let resolver = Arc::new(StaticResolver::new());
            resolver.set("collector.test", [IpAddr::V4(collector_ns.addrs[0])]);
            let fleet = start_fleet(net, Some(resolver.clone()), DialerConfig::default()).await;
            fleet
                .create_batch(dialout_batch(net, 3, "collector.test:6032"))
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
        },
    );
}

#[test]
fn an_aaaa_only_collector_name_shows_a_clear_error() {
    root_test(
        "an_aaaa_only_collector_name_shows_a_clear_error",
        BLOCK,
        async |net| {
            let resolver = Arc::new(StaticResolver::new());
            resolver.set(
                "v6only.test",
                [IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))],
            );
            let fleet = start_fleet(net, Some(resolver), DialerConfig::default()).await;
            fleet
                .create_batch(dialout_batch(net, 3, "v6only.test:6030"))
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
        },
    );
}

#[test]
fn teardown_leaves_no_namespace_route_rule_or_sysctl_behind() {
    root_test_with_sysctls(
        "teardown_leaves_no_namespace_route_rule_or_sysctl_behind",
        BLOCK,
        async |net| {
            let collector_ns = net.collector();
            let before = HostSnapshot::take();
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
            before.assert_unchanged("after a failed start");

            // A fleet dropped without shutdown (an error path, a panic) removes its set-up too.
            let dropped = start_fleet(net, None, DialerConfig::default()).await;
            dropped.create_batch(batch(net, 5)).await.unwrap();
            assert!(HostSnapshot::take().namespaces.contains(&net.cfg.name));
            drop(dropped);
            before.assert_unchanged("after dropping a fleet without shutdown");

            let collector = collector_ns
                .start_collector(collector_ns.addrs[0], 6034)
                .await;
            let fleet = start_fleet(net, None, DialerConfig::default()).await;
            let target = format!("{}:6034", collector_ns.addrs[0]);
            fleet
                .create_batch(dialout_batch(net, 20, &target))
                .await
                .unwrap();
            // A second batch with its own /24 route.
            fleet
                .create_batch(BatchSpec {
                    start_ip: net.device_at(200, 1),
                    netmask: 24,
                    ..batch(net, 10)
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
            // Rules only where forwarding is filtered (an unfiltered host without iptables
            // needs none).
            assert_eq!(
                during
                    .forward_rules
                    .contains(&format!("nl6:{}", net.cfg.name)),
                expects_forward_rules(),
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
            drop(fleet);
            before.assert_unchanged("after shutdown");
            assert!(!Path::new(&format!("/run/netns/{}", net.cfg.name)).exists());
            assert!(!state_file(&net.cfg.name).exists());
        },
    );
}
