//! Integration tests against real network namespaces (root required; skipped otherwise).
//!
//! All tests of this binary run one at a time (sysctls and the FORWARD chain are global);
//! each uses its own namespace names and subnets (links 10.253.n.0/30, collector links
//! 10.253.n.8/29, devices 10.(100+n).0.0/16) and cleans up through guards.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nl6_netns::nftables::{Family, NfTables};
use nl6_netns::{
    DialError, Dialer, DialerConfig, Forwarding, IptablesLookup, NetnsConfig, NsExecutor,
    SimNetwork, StaticResolver, TeardownHandle,
};
use nl6_testkit::{
    AddressBlock, CollectorNs, ForwardDropGuard, HostSnapshot, TestNet, count_forward_rules,
    count_ns_addresses, forward_rules, has_iptables, nft_forward_chains, root_test,
    root_test_with_sysctls, run, skip, state_file, sysctl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// This suite's names (`nl6t<pid>n<n>`, `nt<pid><n>h`) and subnets (see the top).
const BLOCK: AddressBlock = AddressBlock::new('n', 253, 100);

/// A root test against a simulator network with `count` routed device addresses and a
/// collector namespace; afterwards the simulator is torn down, then the collector removed.
fn dial_test(
    test: &str,
    count: usize,
    body: impl AsyncFnOnce(&SimNetwork, &[Ipv4Addr], &CollectorNs),
) {
    root_test(test, BLOCK, async |net| {
        let (guard, devices) = SimGuard::with_devices(net, count).await;
        let collector = net.collector();
        body(guard.sim(), &devices, &collector).await;
        drop(guard);
        drop(collector);
    });
}

/// Checks the FORWARD rules of `sim`: two (in and out of the host veth) where its
/// [`Forwarding`] says, none on a host that does not filter forwarded traffic.
#[track_caller]
fn assert_forward_rules(sim: &SimNetwork, name: &str) {
    let expected = if *sim.forwarding() == Forwarding::Unfiltered {
        0
    } else {
        2
    };
    let comment = format!("nl6:{name}");
    assert_eq!(
        count_forward_rules(sim.forwarding(), &comment),
        expected,
        "{:?}:\n{}",
        sim.forwarding(),
        forward_rules()
    );
}

async fn listener_in(exec: &NsExecutor, addr: SocketAddr) -> TcpListener {
    TcpListener::from_std(exec.tcp_listener(addr, 1024).await.unwrap()).unwrap()
}

/// Owns a simulator network and tears it down on drop (`root_test` then removes leftovers).
struct SimGuard {
    sim: Option<SimNetwork>,
    handle: TeardownHandle,
    name: String,
}

impl SimGuard {
    async fn setup(cfg: NetnsConfig) -> Self {
        let sim = SimNetwork::setup(cfg.clone())
            .await
            .unwrap_or_else(|e| panic!("setup {}: {e}", cfg.name));
        Self {
            handle: sim.teardown_handle(),
            sim: Some(sim),
            name: cfg.name,
        }
    }

    /// Sets up `net` with `count` device addresses and the host route to their /16.
    async fn with_devices(net: &TestNet, count: usize) -> (Self, Vec<Ipv4Addr>) {
        let guard = Self::setup(net.cfg.clone()).await;
        let devices = net.devices(count);
        guard.sim().add_addresses(&devices).await.unwrap();
        guard.sim().add_route(net.dev_net, 16).await.unwrap();
        (guard, devices)
    }

    fn sim(&self) -> &SimNetwork {
        self.sim.as_ref().unwrap()
    }

    /// Tears down through the public API and checks it worked.
    async fn teardown(mut self) {
        self.sim.take().unwrap().teardown().await.unwrap();
    }
}

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Err(e) = self.handle.teardown_blocking() {
            eprintln!("guard teardown of {}: {e}", self.name);
        }
    }
}

#[test]
fn setup_addresses_teardown_leaves_host_as_it_was() {
    root_test_with_sysctls(
        "setup_addresses_teardown_leaves_host_as_it_was",
        BLOCK,
        async |net| {
            let before = HostSnapshot::take();
            let cfg = &net.cfg;
            let guard = SimGuard::setup(cfg.clone()).await;
            let sim = guard.sim();
            assert!(Path::new(&format!("/run/netns/{}", cfg.name)).exists());
            assert!(state_file(&cfg.name).exists());
            assert_eq!(sysctl("net/ipv4/ip_forward"), "1");
            assert_eq!(sysctl("net/ipv4/conf/all/rp_filter"), "0");
            assert_eq!(
                sysctl(&format!("net/ipv4/conf/{}/rp_filter", cfg.host_veth)),
                "0"
            );
            // The default lookup: the iptables program if installed, else nf_tables or no rule.
            assert_eq!(
                matches!(sim.forwarding(), Forwarding::Iptables(_)),
                has_iptables(),
                "{:?}",
                sim.forwarding()
            );
            assert_forward_rules(sim, &cfg.name);
            if has_iptables() {
                let rules = forward_rules();
                assert!(rules.contains(&format!("-i {} ", cfg.host_veth)), "{rules}");
                assert!(rules.contains(&format!("-o {} ", cfg.host_veth)), "{rules}");
            }
            let inside = run("ip", &["-n", &cfg.name, "route", "show"]);
            assert!(
                inside.contains(&format!("default via {}", cfg.host_addr)),
                "{inside}"
            );

            let devices = net.devices(1000);
            sim.add_addresses(&devices).await.unwrap();
            assert_eq!(count_ns_addresses(&cfg.name), 1000);
            // Adding again is fine and changes nothing.
            sim.add_addresses(&devices[..10]).await.unwrap();
            assert_eq!(count_ns_addresses(&cfg.name), 1000);
            sim.remove_addresses(&devices[..400]).await.unwrap();
            assert_eq!(count_ns_addresses(&cfg.name), 600);
            // Removing absent addresses is fine too.
            sim.remove_addresses(&devices[..400]).await.unwrap();

            sim.add_route(net.dev_net, 16).await.unwrap();
            sim.add_route(net.dev_net, 16).await.unwrap();
            let routes = run("ip", &["-4", "route", "show"]);
            assert!(
                routes.contains(&format!("{}/16 via {}", net.dev_net, cfg.ns_addr)),
                "{routes}"
            );
            let bad = sim
                .add_route(Ipv4Addr::new(10, 1, 2, 3), 16)
                .await
                .unwrap_err();
            assert!(bad.to_string().contains("host bits"), "{bad}");

            guard.teardown().await;
            before.assert_unchanged("after teardown");
            assert!(!state_file(&cfg.name).exists());
        },
    );
}

#[test]
fn bulk_add_30000_addresses_is_fast() {
    root_test("bulk_add_30000_addresses_is_fast", BLOCK, async |net| {
        let guard = SimGuard::setup(net.cfg.clone()).await;
        let devices = net.devices(30_000);
        let start = Instant::now();
        guard.sim().add_addresses(&devices).await.unwrap();
        let took = start.elapsed();
        eprintln!("added 30000 addresses in {took:?}");
        assert_eq!(count_ns_addresses(&net.cfg.name), 30_000);
        assert!(
            took < Duration::from_secs(2),
            "adding 30000 addresses took {took:?}"
        );
        let start = Instant::now();
        guard.sim().remove_addresses(&devices).await.unwrap();
        eprintln!("removed 30000 addresses in {:?}", start.elapsed());
        assert_eq!(count_ns_addresses(&net.cfg.name), 0);
        guard.teardown().await;
    });
}

#[test]
fn listener_on_device_address_is_reachable_from_host() {
    root_test(
        "listener_on_device_address_is_reachable_from_host",
        BLOCK,
        async |net| {
            let (guard, devices) = SimGuard::with_devices(net, 10).await;
            let device = SocketAddr::new(devices[3].into(), 9339);
            let listener = listener_in(&guard.sim().executor(), device).await;

            // The host (this thread's namespace) has no such address: only the route leads there.
            let mut client = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(device),
            )
            .await
            .expect("connect timed out")
            .unwrap();
            let (mut conn, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip(), IpAddr::V4(net.cfg.host_addr));
            client.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");

            // Same listener API without a namespace: loopback mode.
            let local = listener_in(&NsExecutor::current(), "127.0.0.1:0".parse().unwrap()).await;
            let addr = local.local_addr().unwrap();
            let _c = tokio::net::TcpStream::connect(addr).await.unwrap();
            local.accept().await.unwrap();
            drop(guard);
        },
    );
}

#[test]
fn collector_in_second_namespace_sees_device_addresses() {
    let test = "collector_in_second_namespace_sees_device_addresses";
    root_test(test, BLOCK, async |net| {
        // Only the two FORWARD rules of setup may carry the traffic, in both directions. Set
        // first: without iptables, setup looks at the host's filtering when it runs.
        let _policy = ForwardDropGuard::set();
        let (guard, devices) = SimGuard::with_devices(net, 8).await;
        let (sim, devices, collector) = (guard.sim(), &devices, &net.collector());
        assert_forward_rules(sim, &net.cfg.name);
        let listener = collector.listener(collector.addrs[0], 6030).await;
        let resolver = Arc::new(StaticResolver::new());
        resolver.set("collector.test", [IpAddr::V4(collector.addrs[0])]);
        let dialer = Dialer::new(DialerConfig::default(), resolver, sim.executor()).unwrap();

        let mut streams = Vec::new();
        for dev in devices {
            let stream = dialer.dial(*dev, "collector.test", 6030).await.unwrap();
            assert_eq!(stream.local_addr().unwrap().ip(), IpAddr::V4(*dev));
            assert!(stream.nodelay().unwrap());
            streams.push(stream);
        }
        let mut peers = Vec::new();
        for stream in &mut streams {
            stream.write_all(b"x").await.unwrap();
        }
        for _ in devices {
            let (mut conn, peer) = listener.accept().await.unwrap();
            let mut b = [0u8; 1];
            conn.read_exact(&mut b).await.unwrap();
            peers.push(peer.ip());
        }
        let unique: BTreeSet<IpAddr> = peers.iter().copied().collect();
        let expected: BTreeSet<IpAddr> = devices.iter().map(|d| IpAddr::V4(*d)).collect();
        assert_eq!(peers.len(), devices.len(), "one connection per device");
        assert_eq!(unique, expected);
        assert_eq!(dialer.in_flight(), 0);
        drop(streams);
    });
}

#[test]
fn udp_from_device_addresses_reaches_a_collector_in_a_second_namespace() {
    dial_test(
        "udp_from_device_addresses_reaches_a_collector_in_a_second_namespace",
        4,
        async |sim, devices, collector| {
            // The collector's socket, bound inside its own namespace.
            let exec = NsExecutor::in_namespace(&collector.ns, 1).unwrap();
            let socket = exec.udp_socket_bound(collector.addrs[0]).await.unwrap();
            let socket = tokio::net::UdpSocket::from_std(socket.into()).unwrap();
            let port = socket.local_addr().unwrap().port();
            let resolver = Arc::new(StaticResolver::new());
            resolver.set("collector.test", [IpAddr::V4(collector.addrs[0])]);
            let dialer = Dialer::new(DialerConfig::default(), resolver, sim.executor()).unwrap();
            let mut senders = Vec::new();
            for dev in devices {
                let udp = dialer.udp(*dev, "collector.test", port).await.unwrap();
                assert_eq!(udp.local_addr().unwrap().ip(), IpAddr::V4(*dev));
                udp.send(b"x").await.unwrap();
                senders.push(udp);
            }
            let mut peers = BTreeSet::new();
            let mut buf = [0u8; 16];
            while peers.len() < devices.len() {
                let (_, peer) =
                    tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
                        .await
                        .expect("a datagram of every device within 5 s")
                        .unwrap();
                peers.insert(peer.ip());
            }
            let expected: BTreeSet<IpAddr> = devices.iter().map(|d| IpAddr::V4(*d)).collect();
            assert_eq!(peers, expected);
        },
    );
}

#[test]
fn dials_to_a_black_hole_stay_within_64_and_time_out() {
    let test = "dials_to_a_black_hole_stay_within_64_and_time_out";
    dial_test(test, 500, async |sim, devices, collector| {
        collector.stop_answering();

        let resolver = Arc::new(StaticResolver::new());
        resolver.set("blackhole.test", [IpAddr::V4(collector.addrs[0])]);
        let cfg = DialerConfig {
            max_in_flight: 64,
            dial_timeout: Duration::from_secs(1),
        };
        let dialer = Dialer::new(cfg, resolver, sim.executor()).unwrap();
        let start = Instant::now();
        let tasks: Vec<_> = devices
            .iter()
            .map(|dev| {
                let dialer = dialer.clone();
                let dev = *dev;
                tokio::spawn(async move { dialer.dial(dev, "blackhole.test", 6031).await })
            })
            .collect();
        let target = SocketAddr::new(collector.addrs[0].into(), 6031);
        for task in tasks {
            match task.await.unwrap() {
                Err(DialError::Timeout { addr, after, .. }) => {
                    assert_eq!(addr, target);
                    assert_eq!(after, Duration::from_secs(1));
                }
                other => panic!("expected a timeout, got {other:?}"),
            }
        }
        let took = start.elapsed();
        eprintln!(
            "500 black-holed dials finished in {took:?}, peak {}",
            dialer.peak_in_flight()
        );
        assert!(dialer.peak_in_flight() <= 64);
        assert_eq!(
            dialer.peak_in_flight(),
            64,
            "the limit should be reached with 500 dials"
        );
        assert_eq!(dialer.in_flight(), 0);
        // 500 dials in waves of 64, each wave 1 s: at least 8 waves.
        assert!(took >= Duration::from_secs(7), "{took:?}");
        let err = DialError::Timeout {
            local: devices[0],
            addr: target,
            after: Duration::from_secs(1),
        };
        assert!(err.to_string().contains(&target.to_string()));
    });
}

#[test]
fn dns_fail_over_is_picked_up_on_the_next_dial() {
    let test = "dns_fail_over_is_picked_up_on_the_next_dial";
    dial_test(test, 2, async |sim, devices, collector| {
        let first = collector.listener(collector.addrs[0], 6032).await;
        let second = collector.listener(collector.addrs[1], 6032).await;

        let resolver = Arc::new(StaticResolver::new());
        let dialer =
            Dialer::new(DialerConfig::default(), resolver.clone(), sim.executor()).unwrap();
        // AAAA first, then the primary: the first IPv4 record wins.
        resolver.set(
            "collector.test",
            [
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V4(collector.addrs[0]),
            ],
        );
        // The first device dials the name: `listener` on `addr` takes the connection.
        let dial_reaches = async |addr: Ipv4Addr, listener: &TcpListener| {
            let stream = dialer.dial(devices[0], "collector.test", 6032).await;
            let stream = stream.unwrap();
            assert_eq!(stream.peer_addr().unwrap().ip(), IpAddr::V4(addr));
            let (conn, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip(), IpAddr::V4(devices[0]));
            (stream, conn)
        };
        let _a = dial_reaches(collector.addrs[0], &first).await;

        resolver.set("collector.test", [IpAddr::V4(collector.addrs[1])]);
        let _b = dial_reaches(collector.addrs[1], &second).await;

        resolver.set("v6only.test", [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        let err = dialer
            .dial(devices[1], "v6only.test", 6032)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DialError::NoIpv4 { records: 1, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "no IPv4 address among 1 records for v6only.test"
        );
    });
}

#[test]
fn next_setup_undoes_a_crashed_run() {
    root_test_with_sysctls("next_setup_undoes_a_crashed_run", BLOCK, async |net| {
        let before = HostSnapshot::take();
        let cfg = &net.cfg;
        // A run that never tears down: forgetting it leaves everything in place.
        let crashed = SimGuard::setup(cfg.clone()).await;
        crashed.sim().add_addresses(&net.devices(10)).await.unwrap();
        crashed.sim().add_route(net.dev_net, 16).await.unwrap();
        std::mem::forget(crashed);
        assert_eq!(sysctl("net/ipv4/ip_forward"), "1");

        let again = SimGuard::setup(cfg.clone()).await;
        // The crashed run's rules went first: exactly one set is there.
        assert_forward_rules(again.sim(), &cfg.name);
        let routes = run("ip", &["-4", "route", "show"]);
        assert!(!routes.contains(&format!("{}/16", net.dev_net)), "{routes}");
        assert_eq!(count_ns_addresses(&cfg.name), 0);
        again.teardown().await;
        before.assert_unchanged("after the second setup's teardown");
    });
}

#[test]
fn cleanup_stale_and_validation_errors() {
    root_test("cleanup_stale_and_validation_errors", BLOCK, async |net| {
        // Nothing left over: a no-op.
        SimNetwork::cleanup_stale(net.cfg.clone()).await.unwrap();
        // A host_veth that is not a veth is never deleted.
        let mut cfg = net.cfg.clone();
        cfg.host_veth = "lo".into();
        let err = SimNetwork::setup(cfg).await.unwrap_err();
        assert!(err.to_string().contains("not a veth"), "{err}");
        assert!(run("ip", &["link", "show", "lo"]).contains("LOOPBACK"));
    });
}

/// Dials from `device` to the collector and exchanges a byte both ways (forwarded traffic).
async fn exchange_with_collector(sim: &SimNetwork, device: Ipv4Addr, collector: &CollectorNs) {
    let listener = collector.listener(collector.addrs[0], 6040).await;
    let resolver = Arc::new(StaticResolver::new());
    resolver.set("collector.test", [IpAddr::V4(collector.addrs[0])]);
    let cfg = DialerConfig {
        dial_timeout: Duration::from_secs(5),
        ..DialerConfig::default()
    };
    let dialer = Dialer::new(cfg, resolver, sim.executor()).unwrap();
    let mut stream = dialer.dial(device, "collector.test", 6040).await.unwrap();
    let (mut conn, peer) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("accept timed out")
        .unwrap();
    assert_eq!(peer.ip(), IpAddr::V4(device));
    let mut byte = [0u8; 1];
    stream.write_all(b"x").await.unwrap();
    conn.read_exact(&mut byte).await.unwrap();
    conn.write_all(b"y").await.unwrap();
    stream.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"y");
}

/// The lines this test binary logged at INFO and above (a global subscriber, set once).
fn logged() -> String {
    use std::sync::{Mutex, Once};
    static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    static INIT: Once = Once::new();
    struct Capture;
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            LOG.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    INIT.call_once(|| {
        tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
    });
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// A stand-in `iptables`: keeps FORWARD rules in a file next to it and logs every call.
struct FakeIptables {
    dir: std::path::PathBuf,
}

impl FakeIptables {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("nl6t{}-iptables", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("iptables");
        std::fs::write(
            &program,
            r#"#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/calls"
touch "$dir/rules"
[ "$1" = -w ] && shift 2
op=$1; shift
case "$op" in
  -I) chain=$1; shift; [ "$1" = 1 ] && shift
      { echo "$chain $*"; cat "$dir/rules"; } > "$dir/rules.new" && mv "$dir/rules.new" "$dir/rules" ;;
  -C) grep -qxF -- "$*" "$dir/rules" || exit 1 ;;
  -D) grep -qxF -- "$*" "$dir/rules" || exit 1
      awk -v r="$*" '!done && $0 == r { done = 1; next } { print }' "$dir/rules" > "$dir/rules.new"
      mv "$dir/rules.new" "$dir/rules" ;;
  -S) echo "-P FORWARD ACCEPT"; sed 's/^FORWARD /-A FORWARD /' "$dir/rules" ;;
  *) echo "fake iptables: $op is not supported" >&2; exit 2 ;;
esac
"#,
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn program(&self) -> std::path::PathBuf {
        self.dir.join("iptables")
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }
}

impl Drop for FakeIptables {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn with_an_iptables_program_setup_inserts_and_teardown_deletes_exactly_its_rules() {
    let test = "with_an_iptables_program_setup_inserts_and_teardown_deletes_exactly_its_rules";
    root_test(test, BLOCK, async |net| {
        let fake = FakeIptables::new();
        let cfg = NetnsConfig {
            iptables: IptablesLookup::Program(fake.program()),
            ..net.cfg.clone()
        };
        let comment = format!("nl6:{}", cfg.name);
        let crashed = SimGuard::setup(cfg.clone()).await;
        assert_eq!(
            *crashed.sim().forwarding(),
            Forwarding::Iptables(fake.program())
        );
        let rules = fake.read("rules");
        assert_eq!(
            rules,
            format!(
                "FORWARD -i {veth} -m comment --comment {comment} -j ACCEPT\n\
                 FORWARD -o {veth} -m comment --comment {comment} -j ACCEPT\n",
                veth = cfg.host_veth
            )
            .lines()
            .rev()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
        );
        let calls = fake.read("calls");
        assert!(
            calls.contains(&format!("-w 5 -I FORWARD 1 -i {} ", cfg.host_veth)),
            "{calls}"
        );
        let state = std::fs::read_to_string(state_file(&cfg.name)).unwrap();
        assert!(
            state.contains(&format!("iptables {}", fake.program().display())),
            "{state}"
        );
        assert_eq!(state.matches("\nrule FORWARD").count(), 2, "{state}");

        // A crash, then a setup that must delete the old rules before inserting its own.
        std::mem::forget(crashed);
        let again = SimGuard::setup(cfg.clone()).await;
        assert_eq!(count_forward_rules(again.sim().forwarding(), &comment), 2);
        again.teardown().await;
        assert_eq!(fake.read("rules"), "");
        assert!(!state_file(&cfg.name).exists());
    });
}

#[test]
fn without_iptables_an_unfiltered_host_gets_no_rule_and_says_so() {
    let test = "without_iptables_an_unfiltered_host_gets_no_rule_and_says_so";
    root_test(test, BLOCK, async |net| {
        let filtering: Vec<String> = nft_forward_chains()
            .iter()
            .filter(|c| c.filters())
            .map(ToString::to_string)
            .collect();
        let legacy = std::fs::read_to_string("/proc/net/ip_tables_names").unwrap_or_default();
        if !filtering.is_empty() || legacy.lines().any(|l| l == "filter") {
            skip(test, "this host filters forwarded traffic");
            return;
        }
        let _log = logged();
        let before = HostSnapshot::take();
        let cfg = NetnsConfig {
            iptables: IptablesLookup::Disabled,
            ..net.cfg.clone()
        };
        let guard = SimGuard::setup(cfg.clone()).await;
        assert_eq!(*guard.sim().forwarding(), Forwarding::Unfiltered);
        let state = std::fs::read_to_string(state_file(&cfg.name)).unwrap();
        assert!(
            !state.contains("\nrule ") && !state.contains("\nnft "),
            "{state}"
        );
        let line = format!("no FORWARD rule for {}", cfg.host_veth);
        let log = logged();
        assert_eq!(log.matches(&line).count(), 1, "{log}");
        assert!(
            log.lines().any(|l| l.contains(&line) && l.contains("INFO")),
            "{log}"
        );

        let devices = net.devices(2);
        guard.sim().add_addresses(&devices).await.unwrap();
        guard.sim().add_route(net.dev_net, 16).await.unwrap();
        let collector = net.collector();
        exchange_with_collector(guard.sim(), devices[0], &collector).await;
        guard.teardown().await;
        drop(collector);
        before.assert_unchanged("after teardown");
    });
}

/// An nf_tables table of the test's own, deleted on drop.
struct NftTable(Family, String);

impl Drop for NftTable {
    fn drop(&mut self) {
        if let Err(e) = NfTables::open().and_then(|mut n| n.delete_table(self.0, &self.1)) {
            eprintln!("delete nf_tables table {}: {e}", self.1);
        }
    }
}

#[test]
fn without_iptables_filtering_nf_tables_chains_get_accept_rules_until_teardown() {
    let test = "without_iptables_filtering_nf_tables_chains_get_accept_rules_until_teardown";
    root_test(test, BLOCK, async |net| {
        let cfg = NetnsConfig {
            iptables: IptablesLookup::Disabled,
            ..net.cfg.clone()
        };
        // A host whose forwarding drops: an inet table of this test's, policy drop.
        let table = NftTable(Family::Inet, format!("nl6t{}drop", std::process::id()));
        NfTables::open()
            .and_then(|mut n| n.add_forward_chain(table.0, &table.1, "fwd", true))
            .unwrap();
        let ours = |chains: Vec<nl6_netns::nftables::ForwardChain>| {
            chains
                .into_iter()
                .find(|c| c.table == table.1)
                .expect("the test's chain")
        };
        let before = HostSnapshot::take();
        let comment = format!("nl6:{}", cfg.name);

        let crashed = SimGuard::setup(cfg.clone()).await;
        let Forwarding::NfTables(chains) = crashed.sim().forwarding().clone() else {
            panic!(
                "expected nf_tables rules, got {:?}",
                crashed.sim().forwarding()
            );
        };
        assert!(
            chains
                .iter()
                .any(|c| c.table == table.1 && c.chain == "fwd"),
            "{chains:?}"
        );
        let chain = ours(nft_forward_chains());
        assert_eq!(chain.handles_with_comment(&comment).len(), 2, "{chain}");
        assert_eq!(chain.rules.len(), 2, "{chain}");
        let state = std::fs::read_to_string(state_file(&cfg.name)).unwrap();
        assert!(
            state.contains(&format!("nft inet {} fwd", table.1)),
            "{state}"
        );

        // Traffic both ways passes the drop policy through the two rules.
        let devices = net.devices(2);
        crashed.sim().add_addresses(&devices).await.unwrap();
        crashed.sim().add_route(net.dev_net, 16).await.unwrap();
        let collector = net.collector();
        exchange_with_collector(crashed.sim(), devices[0], &collector).await;

        // A crash: the next setup deletes the old rules, then inserts its own.
        std::mem::forget(crashed);
        let again = SimGuard::setup(cfg.clone()).await;
        let chain = ours(nft_forward_chains());
        assert_eq!(chain.handles_with_comment(&comment).len(), 2, "{chain}");
        again.teardown().await;
        let chain = ours(nft_forward_chains());
        assert!(chain.rules.is_empty() && chain.policy_drop, "{chain}");
        drop(collector);
        before.assert_unchanged("after teardown");
    });
}
