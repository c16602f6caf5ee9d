//! Root check, skips, the per-binary test lock, and readers of the host state tests look at.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use nl6_netns::nftables::{ForwardChain, NfTables};
use nl6_netns::{Forwarding, IptablesLookup};

/// The file (from `$NL6_SKIP_LOG`, set by `cargo xtask test`) that collects skip lines.
pub const SKIP_LOG_ENV: &str = "NL6_SKIP_LOG";

/// True when the process runs as root (namespaces and sysctls need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips `test` for `reason`: prints `SKIPPED <test>: <reason>` to stderr and appends it to
/// `$NL6_SKIP_LOG`; panics instead when `CI=true` and the process is root, where every test
/// can run and a skip would hide a broken set-up.
#[track_caller]
pub fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}");
    if std::env::var("CI").is_ok_and(|v| v == "true") && is_root() {
        panic!("{line} (CI=true and root: nothing may skip)");
    }
    eprintln!("{line}");
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        if let Ok(mut file) = file {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// As root: takes this test binary's lock and returns it; otherwise [`skip`]s `test`.
///
/// The lock serializes the namespace tests of one binary: sysctls and the FORWARD chain are
/// global. Each test binary links its own copy of this crate, so each has its own lock.
pub fn root_or_skip(test: &str) -> Option<MutexGuard<'static, ()>> {
    static LOCK: Mutex<()> = Mutex::new(());
    if !is_root() {
        skip(test, "needs root (network namespaces, sysctls)");
        return None;
    }
    Some(LOCK.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Whether an `iptables` program is on `$PATH` (or in /usr/sbin, /sbin).
pub fn has_iptables() -> bool {
    iptables_program().is_some()
}

/// The `iptables` program the simulator network uses by default, if there is one.
pub(crate) fn iptables_program() -> Option<PathBuf> {
    IptablesLookup::Path.find()
}

/// Whether a simulator network set up now with the default lookup inserts FORWARD rules: an
/// `iptables` program is installed, or an nf_tables forward chain may drop (without either,
/// forwarding is not filtered and no rule is needed).
pub fn expects_forward_rules() -> bool {
    has_iptables() || nft_forward_chains().iter().any(ForwardChain::filters)
}

/// The host's nf_tables base chains on the forward hook (families `ip` and `inet`).
pub fn nft_forward_chains() -> Vec<ForwardChain> {
    NfTables::open()
        .and_then(|mut nft| nft.forward_chains())
        .unwrap_or_else(|e| panic!("list nf_tables forward chains: {e}"))
}

/// How many FORWARD rules carry `comment` where `forwarding` put them: `iptables -S FORWARD`
/// of its program, or the nf_tables forward chains (none for an unfiltered host).
pub fn count_forward_rules(forwarding: &Forwarding, comment: &str) -> usize {
    match forwarding {
        Forwarding::Iptables(program) => {
            let program = program.to_string_lossy();
            run(&program, &["-w", "5", "-S", "FORWARD"])
                .lines()
                .filter(|l| l.contains(comment))
                .count()
        }
        Forwarding::NfTables(_) | Forwarding::Unfiltered => nft_forward_chains()
            .iter()
            .map(|c| c.handles_with_comment(comment).len())
            .sum(),
    }
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

/// The host's forward filtering as text: `iptables -S FORWARD` if there is an `iptables`
/// program, then every nf_tables forward chain with its rules.
pub fn forward_rules() -> String {
    let mut out = match iptables_program() {
        Some(program) => run(&program.to_string_lossy(), &["-w", "5", "-S", "FORWARD"]),
        None => String::new(),
    };
    for chain in nft_forward_chains() {
        out.push_str(&format!("nft {chain}\n"));
    }
    out
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
