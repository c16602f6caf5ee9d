//! Root check, the per-binary test lock, and readers of the host state tests look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// True when the process runs as root (namespaces, iptables and sysctls need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// As root: takes this test binary's lock and returns it; otherwise prints why `test` skips.
///
/// The lock serializes the namespace tests of one binary: sysctls and the FORWARD chain are
/// global. Each test binary links its own copy of this crate, so each has its own lock.
pub fn root_or_skip(test: &str) -> Option<MutexGuard<'static, ()>> {
    static LOCK: Mutex<()> = Mutex::new(());
    if !is_root() {
        eprintln!("{test}: skipped, needs root (network namespaces, iptables, sysctls)");
        return None;
    }
    Some(LOCK.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Runs a command and returns its stdout; panics with its stderr on failure.
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

/// Runs a command and ignores the outcome (cleanup paths).
pub(crate) fn run_quiet(cmd: &str, args: &[&str]) {
    let _ = Command::new(cmd).args(args).output();
}

/// The value of a sysctl, e.g. `sysctl("net/ipv4/ip_forward")`, trimmed.
pub fn sysctl(key: &str) -> String {
    std::fs::read_to_string(sysctl_path(key))
        .unwrap_or_else(|e| panic!("read sysctl {key}: {e}"))
        .trim()
        .to_owned()
}

pub(crate) fn sysctl_path(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key)
}

/// The host's FORWARD chain as `iptables -S FORWARD` prints it.
pub fn forward_rules() -> String {
    run("iptables", &["-w", "5", "-S", "FORWARD"])
}

/// Number of IPv4 /32 addresses inside namespace `ns`.
pub fn count_ns_addresses(ns: &str) -> usize {
    run("ip", &["-n", ns, "-4", "-o", "addr", "show"])
        .lines()
        .filter(|l| l.contains("/32"))
        .count()
}

/// The crash-recovery state file `nl6-netns` keeps for namespace `ns`.
pub fn state_file(ns: &str) -> PathBuf {
    Path::new(nl6_netns::STATE_DIR).join(format!("{ns}.state"))
}
