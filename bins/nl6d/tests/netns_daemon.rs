//! The real `nl6d --netns` end to end (root required; the namespace test prints why it did
//! nothing and passes otherwise): 1,000 devices in a namespace of their own, dial-in on
//! `10.42.x.y:9339` from the host, dial-out to a collector in a second namespace ("another
//! machine" behind the host's forwarding) from 1,000 distinct source addresses, and a
//! SIGTERM that leaves the host as it was. Also: `--netns` without root exits 2.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nl6_netns::NetnsConfig;
use nl6_testkit::{
    CollectorSpec, HostSnapshot, NetCleanup, get_ifindex, is_root, root_or_skip, runtime,
    state_file,
};

const DEVICES: u32 = 1000;
/// The collector's side of its transfer /29 (not 10.42.0.0/16 or the daemon's veth /30).
const COLLECTOR_HOST_SIDE: Ipv4Addr = Ipv4Addr::new(10, 251, 0, 9);
const COLLECTOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 251, 0, 10);
const COLLECTOR_PORT: u16 = 6030;

#[test]
fn netns_daemon_serves_the_host_and_dials_out_from_1000_addresses() {
    let Some(_serial) =
        root_or_skip("netns_daemon_serves_the_host_and_dials_out_from_1000_addresses")
    else {
        return;
    };
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
    let _cleanup = NetCleanup::new(netns.clone());
    // "Another machine" behind the host's forwarding, on its own transfer /29.
    let collector_ns = CollectorSpec {
        ns: format!("nl6c{pid}d"),
        host_veth: format!("dc{pid}h"),
        ns_veth: format!("dc{pid}n"),
        host_addr: COLLECTOR_HOST_SIDE,
        addrs: vec![COLLECTOR_ADDR],
    }
    .create();
    let before = HostSnapshot::take();
    let expected: BTreeSet<IpAddr> = (0..DEVICES)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 42, 0, 1)) + i)))
        .collect();

    runtime().block_on(async {
        let collector = collector_ns
            .start_collector(COLLECTOR_ADDR, COLLECTOR_PORT)
            .await;
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
            assert_eq!(get_ifindex(ip, 9339).await, Ok(10), "{ip}");
        }

        daemon.terminate(Duration::from_secs(60));
        // The streams were closed before the namespace went away.
        collector
            .wait_until(Duration::from_secs(10), |s| s.streams_active == 0)
            .await
            .unwrap_or_else(|s| panic!("streams left open after SIGTERM: {s:?}"));
        collector.shutdown().await.unwrap();
    });
    before.assert_unchanged("nl6d left changes behind");
    assert!(!state_file(&netns.name).exists());
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
