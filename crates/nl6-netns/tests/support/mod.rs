//! Helpers shared by the namespace tests: root check, serialization, unique names and
//! subnets, guards that clean up on failure, a host snapshot, and a collector namespace.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use nl6_netns::{NetnsConfig, SimNetwork, TeardownHandle};

/// True when running as root; otherwise prints why the test does nothing.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("{test}: skipped, needs root (network namespaces, iptables, sysctls)");
    }
    root
}

/// Serializes the tests of one binary: sysctls and the FORWARD chain are global.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names and subnets unique to one test of one process.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// Counter within the process (1..).
    pub n: u32,
    /// Simulator namespace config.
    pub cfg: NetnsConfig,
    /// Device network (a /16).
    pub dev_net: Ipv4Addr,
}

impl TestNet {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(n < 100, "too many test networks in one process");
        let pid = std::process::id();
        let oct = n as u8;
        Self {
            n,
            cfg: NetnsConfig {
                name: format!("nl6t{pid}x{n}"),
                host_veth: format!("nt{pid}{n}h"),
                ns_veth: format!("nt{pid}{n}n"),
                host_addr: Ipv4Addr::new(10, 253, oct, 1),
                ns_addr: Ipv4Addr::new(10, 253, oct, 2),
                prefix_len: 30,
            },
            dev_net: Ipv4Addr::new(10, 100 + oct, 0, 0),
        }
    }

    /// `count` device addresses in the device /16, skipping .0 and .255.
    pub fn devices(&self, count: usize) -> Vec<Ipv4Addr> {
        let [a, b, _, _] = self.dev_net.octets();
        (0u32..)
            .map(|i| Ipv4Addr::new(a, b, (i / 254) as u8, (i % 254 + 1) as u8))
            .take(count)
            .collect()
    }

    /// The collector side of this test: transfer /29 in 10.253.n.8.
    pub fn collector(&self) -> Collector {
        let pid = std::process::id();
        let oct = self.n as u8;
        Collector::create(
            &format!("nl6c{pid}x{}", self.n),
            &format!("nc{pid}{}h", self.n),
            &format!("nc{pid}{}n", self.n),
            Ipv4Addr::new(10, 253, oct, 9),
            [
                Ipv4Addr::new(10, 253, oct, 10),
                Ipv4Addr::new(10, 253, oct, 11),
            ],
        )
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

/// Runs a command, ignoring the outcome (cleanup paths).
pub fn run_quiet(cmd: &str, args: &[&str]) {
    let _ = Command::new(cmd).args(args).output();
}

pub fn sysctl(key: &str) -> String {
    std::fs::read_to_string(Path::new("/proc/sys").join(key))
        .unwrap()
        .trim()
        .to_owned()
}

pub fn set_sysctl(key: &str, value: &str) {
    std::fs::write(Path::new("/proc/sys").join(key), value).unwrap();
}

/// Sets sysctls for a test and puts the old values back on drop.
pub struct SysctlGuard(Vec<(String, String)>);

impl SysctlGuard {
    pub fn set(pairs: &[(&str, &str)]) -> Self {
        let old = pairs
            .iter()
            .map(|(k, v)| {
                let old = sysctl(k);
                set_sysctl(k, v);
                ((*k).to_owned(), old)
            })
            .collect();
        Self(old)
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        for (k, v) in self.0.iter().rev() {
            let _ = std::fs::write(Path::new("/proc/sys").join(k), v);
        }
    }
}

/// What the host looks like in the places setup touches.
#[derive(Debug, PartialEq, Eq)]
pub struct HostSnapshot {
    pub ip_forward: String,
    pub all_rp_filter: String,
    pub forward_rules: String,
    pub routes: String,
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
        Self {
            ip_forward: sysctl("net/ipv4/ip_forward"),
            all_rp_filter: sysctl("net/ipv4/conf/all/rp_filter"),
            forward_rules: run("iptables", &["-w", "5", "-S", "FORWARD"]),
            routes: run("ip", &["-4", "route", "show", "table", "main"]),
            links,
            namespaces,
        }
    }
}

/// Number of IPv4 /32 addresses inside namespace `ns`.
pub fn count_ns_addresses(ns: &str) -> usize {
    run("ip", &["-n", ns, "-4", "-o", "addr", "show"])
        .lines()
        .filter(|l| l.contains("/32"))
        .count()
}

/// Runs a future to completion on a fresh runtime in a new thread (usable from Drop).
pub fn block_on_fresh<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    })
    .join()
    .unwrap()
}

/// Owns a simulator network; tears it down (and removes leftovers) on drop.
pub struct SimGuard {
    pub sim: Option<SimNetwork>,
    handle: TeardownHandle,
    cfg: NetnsConfig,
}

impl SimGuard {
    pub async fn setup(cfg: NetnsConfig) -> Self {
        let sim = SimNetwork::setup(cfg.clone())
            .await
            .unwrap_or_else(|e| panic!("setup {}: {e}", cfg.name));
        let handle = sim.teardown_handle();
        Self {
            sim: Some(sim),
            handle,
            cfg,
        }
    }

    pub fn sim(&self) -> &SimNetwork {
        self.sim.as_ref().unwrap()
    }

    /// Tears down through the public API and checks it worked.
    pub async fn teardown(mut self) {
        self.sim.take().unwrap().teardown().await.unwrap();
    }
}

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Err(e) = self.handle.teardown_blocking() {
            eprintln!("guard teardown of {}: {e}", self.cfg.name);
        }
        let cfg = self.cfg.clone();
        if let Err(e) = block_on_fresh(SimNetwork::cleanup_stale(cfg)) {
            eprintln!("guard cleanup of {}: {e}", self.cfg.name);
        }
    }
}

/// A second namespace playing a collector host, reached through the host's forwarding.
pub struct Collector {
    pub ns: String,
    host_veth: String,
    /// Addresses of the collector (on its veth, in the transfer /29).
    pub addrs: [Ipv4Addr; 2],
}

impl Collector {
    fn create(
        ns: &str,
        host_veth: &str,
        ns_veth: &str,
        host_addr: Ipv4Addr,
        addrs: [Ipv4Addr; 2],
    ) -> Self {
        let me = Self {
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
        run(
            "ip",
            &[
                "-n",
                ns,
                "route",
                "add",
                "default",
                "via",
                &host_addr.to_string(),
            ],
        );
        me
    }

    /// Drops every TCP SYN to `port` inside the collector namespace.
    pub fn drop_syns_to(&self, port: u16) {
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns,
                "iptables",
                "-w",
                "5",
                "-A",
                "INPUT",
                "-p",
                "tcp",
                "--syn",
                "--dport",
                &port.to_string(),
                "-j",
                "DROP",
            ],
        );
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        run_quiet("ip", &["link", "del", &self.host_veth]);
        run_quiet("ip", &["netns", "del", &self.ns]);
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
        Self(policy)
    }
}

impl Drop for ForwardDropGuard {
    fn drop(&mut self) {
        run_quiet("iptables", &["-w", "5", "-P", "FORWARD", &self.0]);
    }
}
