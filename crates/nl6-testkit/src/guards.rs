//! Guards that put the host back on drop, also when a test panics.

use nl6_netns::{NetnsConfig, SimNetwork};

use crate::host::{forward_rules, run, run_quiet, sysctl, sysctl_path};

/// Sysctls a namespace set-up changes, at values it never writes: a restore is observable.
pub(crate) const NON_DEFAULT_SYSCTLS: [(&str, &str); 2] = [
    ("net/ipv4/ip_forward", "0"),
    ("net/ipv4/conf/all/rp_filter", "2"),
];

/// Sets sysctls for a test and puts the old values back on drop.
#[derive(Debug)]
pub(crate) struct SysctlGuard(Vec<(String, String)>);

impl SysctlGuard {
    /// Writes each `(key, value)` and remembers what was there.
    pub fn set(pairs: &[(&str, &str)]) -> Self {
        let old = pairs
            .iter()
            .map(|(k, v)| {
                let old = sysctl(k);
                std::fs::write(sysctl_path(k), v)
                    .unwrap_or_else(|e| panic!("write sysctl {k}={v}: {e}"));
                ((*k).to_owned(), old)
            })
            .collect();
        Self(old)
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        for (k, v) in self.0.iter().rev() {
            let _ = std::fs::write(sysctl_path(k), v);
        }
    }
}

/// Sets the FORWARD policy to DROP, so only explicit rules forward; restores it on drop.
#[derive(Debug)]
pub struct ForwardDropGuard(String);

impl ForwardDropGuard {
    /// Remembers the current policy and switches it to DROP.
    pub fn set() -> Self {
        let policy = forward_rules()
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

/// Undoes a simulator namespace's set-up from its state file on drop (a no-op after a clean
/// teardown), so a failed test leaves nothing behind.
#[derive(Debug)]
pub struct NetCleanup(NetnsConfig);

impl NetCleanup {
    /// A guard for the namespace `cfg` describes.
    pub fn new(cfg: NetnsConfig) -> Self {
        Self(cfg)
    }
}

impl Drop for NetCleanup {
    fn drop(&mut self) {
        let cfg = self.0.clone();
        // A thread of its own with a fresh runtime: drop may run inside or outside one.
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
            Ok(Err(e)) => eprintln!("cleanup of {}: {e}", self.0.name),
            Err(_) => eprintln!("cleanup of {} panicked", self.0.name),
        }
    }
}
