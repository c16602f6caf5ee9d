//! The real `nl6d --netns` end to end (root required; the namespace test prints why it did
//! nothing and passes otherwise): 1,000 devices in a namespace of their own, dial-in on
//! `10.42.x.y:9339` from the host, dial-out to a collector in a second namespace ("another
//! machine" behind the host's forwarding) from 1,000 distinct source addresses, and a
//! SIGTERM that leaves the host as it was. Also: `--netns` without root exits 2.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nl6_collector::{CollectorConfig, CollectorHandle};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{GetRequest, g_nmi_client::GNmiClient};
use nl6_netns::{NetnsConfig, NsExecutor, SimNetwork};

const DEVICES: u32 = 1000;
/// The collector's side of its transfer /29 (not 10.42.0.0/16 or the daemon's veth /30).
const COLLECTOR_HOST_SIDE: Ipv4Addr = Ipv4Addr::new(10, 251, 0, 9);
const COLLECTOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 251, 0, 10);
const COLLECTOR_PORT: u16 = 6030;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn netns_daemon_serves_the_host_and_dials_out_from_1000_addresses() {
    if !is_root() {
        eprintln!(
            "netns_daemon_serves_the_host_and_dials_out_from_1000_addresses: skipped, needs \
             root (network namespaces, iptables, sysctls)"
        );
        return;
    }
    raise_open_files();
    let pid = std::process::id();
    let netns = NetnsConfig {
        name: format!("nl6t{pid}d"),
        ..NetnsConfig::default()
    };
    let veth = Path::new("/sys/class/net").join(&netns.host_veth);
    assert!(
        !veth.exists(),
        "{} exists: another `nl6d --netns` runs on this host; stop it first (this test \
         would take its veth pair)",
        netns.host_veth
    );
    let _cleanup = NetCleanup(netns.clone());
    let collector_ns = CollectorNs::create(
        &format!("nl6c{pid}d"),
        &format!("dc{pid}h"),
        &format!("dc{pid}n"),
    );
    let before = HostSnapshot::take();
    let expected: BTreeSet<IpAddr> = (0..DEVICES)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 42, 0, 1)) + i)))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let collector = collector_ns.start_collector().await;
        let collector_arg = format!("{COLLECTOR_ADDR}:{COLLECTOR_PORT}");
        let started = Instant::now();
        let mut daemon = Daemon::start(&[
            "--netns",
            "--netns-name",
            &netns.name,
            "--auto-count",
            &DEVICES.to_string(),
            "--gnmi-tls=false",
            "--gnmi-mode",
            "dial-out",
            "--gnmi-dialout-collector",
            &collector_arg,
            "--gnmi-dialout-tls=false",
            "--listen",
            "127.0.0.1:0",
        ]);
        let ready = daemon.ready_line(Duration::from_secs(120));
        let ready_after = started.elapsed();
        assert!(
            ready.contains("1000 devices (10.42.0.1..10.42.3.232)"),
            "{ready}"
        );
        assert!(ready.contains("<device-ip>:9339"), "{ready}");

        let stats = collector
            .wait_until(Duration::from_secs(120), |s| {
                s.streams_active == u64::from(DEVICES) && s.distinct_peers == DEVICES as usize
            })
            .await
            .unwrap_or_else(|s| panic!("collector saw {s:?}; nl6d said:\n{}", daemon.stderr()));
        eprintln!(
            "nl6d: ready after {:?}, {DEVICES} streams open after {:?}",
            ready_after,
            started.elapsed()
        );
        let peers: BTreeSet<IpAddr> = collector.peers().into_iter().collect();
        assert_eq!(peers, expected, "one source address per device");
        assert_eq!(
            stats.streams_total,
            u64::from(DEVICES),
            "one stream per device"
        );

        // Dial-in from the host to device addresses, through the route to the namespace.
        for ip in [
            Ipv4Addr::new(10, 42, 0, 1),
            Ipv4Addr::new(10, 42, 1, 200),
            Ipv4Addr::new(10, 42, 3, 232),
        ] {
            assert_eq!(get_ifindex(ip).await, Ok(10), "{ip}");
        }

        daemon.terminate(Duration::from_secs(60));
        // The streams were closed before the namespace went away.
        collector
            .wait_until(Duration::from_secs(10), |s| s.streams_active == 0)
            .await
            .unwrap_or_else(|s| panic!("streams left open after SIGTERM: {s:?}"));
        collector.shutdown().await.unwrap();
    });
    assert_eq!(HostSnapshot::take(), before, "nl6d left changes behind");
    assert!(!Path::new(&format!("{}/{}.state", nl6_netns::STATE_DIR, netns.name)).exists());
    drop(collector_ns);
}

#[test]
fn netns_without_root_exits_2_saying_what_is_needed() {
    let (binary, _dir) = if is_root() {
        // Run a copy as `nobody`: the build directory may not be readable by it.
        let dir = TempDir::new(&format!("/tmp/nl6t{}-nonroot", std::process::id()));
        let copy = dir.0.join("nl6d");
        std::fs::copy(env!("CARGO_BIN_EXE_nl6d"), &copy).unwrap();
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        (copy, Some(dir))
    } else {
        (PathBuf::from(env!("CARGO_BIN_EXE_nl6d")), None)
    };
    let mut cmd = Command::new(&binary);
    cmd.args(["--netns", "--auto-count", "1", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null());
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--netns needs root"), "{stderr}");
    assert!(stderr.contains("CAP_NET_ADMIN"), "{stderr}");
}

/// Number of interfaces a plaintext gNMI Get from the host reports for `ip:9339`.
async fn get_ifindex(ip: Ipv4Addr) -> Result<usize, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{ip}:9339"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("connect {ip}:9339: {e}"))?;
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

/// The test process accepts 1,000 collector connections: lift the soft open-files limit.
fn raise_open_files() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit; setrlimit gets cur <= max.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The running daemon; killed on drop if a test fails before SIGTERM.
struct Daemon {
    child: Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(args: &[&str]) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nl6d"));
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Settings from the environment would change what is tested.
        for (name, _) in std::env::vars() {
            if name.starts_with("NL6_") {
                cmd.env_remove(name);
            }
        }
        let mut child = cmd.spawn().expect("nl6d starts");
        let (tx, stdout) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Daemon {
            child,
            stdout,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the `nl6d ready:` line.
    fn ready_line(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.starts_with("nl6d ready:") => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "no ready line from nl6d ({e}); status {:?}; stderr:\n{}",
                    self.child.try_wait(),
                    self.stderr()
                ),
            }
        }
    }

    /// Sends SIGTERM and expects exit status 0 within `timeout`.
    fn terminate(&mut self, timeout: Duration) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "nl6d exited {status}:\n{}", self.stderr());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nl6d still running {timeout:?} after SIGTERM:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Undoes what a killed daemon left (from its state file); a no-op after a clean exit.
struct NetCleanup(NetnsConfig);

impl Drop for NetCleanup {
    fn drop(&mut self) {
        let cfg = self.0.clone();
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(SimNetwork::cleanup_stale(cfg))
                .map_err(|e| e.to_string())
        })
        .join();
        if !matches!(outcome, Ok(Ok(()))) {
            eprintln!("cleanup of {}: {outcome:?}", self.0.name);
        }
    }
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(path: &str) -> TempDir {
        let path = PathBuf::from(path);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
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

fn sysctl(key: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(key))
        .unwrap()
        .trim()
        .to_owned()
}

/// What the host looks like where `nl6d --netns` makes changes.
#[derive(Debug, PartialEq, Eq)]
struct HostSnapshot {
    ip_forward: String,
    all_rp_filter: String,
    forward_rules: String,
    routes: String,
    policy_rules: String,
    links: BTreeSet<String>,
    namespaces: BTreeSet<String>,
}

impl HostSnapshot {
    fn take() -> HostSnapshot {
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

/// A second namespace playing the collector's machine: a veth to the host, default
/// route via the host, which forwards between it and the simulator namespace.
struct CollectorNs {
    ns: String,
    host_veth: String,
}

impl CollectorNs {
    fn create(ns: &str, host_veth: &str, ns_veth: &str) -> CollectorNs {
        // Built before the first command, so a failure half-way is cleaned up.
        let me = CollectorNs {
            ns: ns.to_owned(),
            host_veth: host_veth.to_owned(),
        };
        run("ip", &["netns", "add", ns]);
        run(
            "ip",
            &[
                "link", "add", host_veth, "type", "veth", "peer", "name", ns_veth, "netns", ns,
            ],
        );
        let host_side = format!("{COLLECTOR_HOST_SIDE}/29");
        run("ip", &["addr", "add", &host_side, "dev", host_veth]);
        run("ip", &["link", "set", host_veth, "up"]);
        let addr = format!("{COLLECTOR_ADDR}/29");
        run("ip", &["-n", ns, "addr", "add", &addr, "dev", ns_veth]);
        run("ip", &["-n", ns, "link", "set", ns_veth, "up"]);
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        let via = COLLECTOR_HOST_SIDE.to_string();
        run("ip", &["-n", ns, "route", "add", "default", "via", &via]);
        me
    }

    /// The in-process gNMIReverse collector, listening inside this namespace.
    async fn start_collector(&self) -> CollectorHandle {
        let listen = SocketAddr::from((COLLECTOR_ADDR, COLLECTOR_PORT));
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
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_veth])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
