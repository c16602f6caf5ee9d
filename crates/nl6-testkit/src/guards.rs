//! Guards that put the host back on drop, also when a test panics.

use nl6_netns::nftables::{Family, NfTables};
use nl6_netns::{NetnsConfig, SimNetwork};

use crate::host::{iptables_program, run, run_quiet, sysctl, sysctl_path};

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

/// Makes the host drop forwarded traffic that no rule accepts, and undoes it on drop: with an
/// `iptables` program the FORWARD policy becomes DROP (restored on drop); without one an
/// nf_tables table `nl6drop<pid>` with a dropping forward chain is added (deleted on drop).
#[derive(Debug)]
pub struct ForwardDropGuard(DropBy);

#[derive(Debug)]
enum DropBy {
    /// The iptables program and the FORWARD policy it found.
    Iptables(String, String),
    /// The nf_tables table it added.
    NfTables(String),
}

impl ForwardDropGuard {
    /// Switches the host to dropping forwarded traffic.
    pub fn set() -> Self {
        match iptables_program() {
            Some(program) => {
                let program = program.to_string_lossy().into_owned();
                let policy = run(&program, &["-w", "5", "-S", "FORWARD"])
                    .lines()
                    .find_map(|l| l.strip_prefix("-P FORWARD "))
                    .unwrap_or("ACCEPT")
                    .trim()
                    .to_owned();
                run(&program, &["-w", "5", "-P", "FORWARD", "DROP"]);
                Self(DropBy::Iptables(program, policy))
            }
            None => {
                let table = format!("nl6drop{}", std::process::id());
                nft()
                    .add_forward_chain(Family::Ip, &table, "forward", true)
                    .unwrap_or_else(|e| panic!("add nf_tables table {table}: {e}"));
                Self(DropBy::NfTables(table))
            }
        }
    }
}

impl Drop for ForwardDropGuard {
    fn drop(&mut self) {
        match &self.0 {
            DropBy::Iptables(program, policy) => {
                run_quiet(program, &["-w", "5", "-P", "FORWARD", policy]);
            }
            DropBy::NfTables(table) => {
                if let Err(e) = nft().delete_table(Family::Ip, table) {
                    eprintln!("delete nf_tables table {table}: {e}");
                }
            }
        }
    }
}

fn nft() -> NfTables {
    NfTables::open().unwrap_or_else(|e| panic!("open an nf_tables socket: {e}"))
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
