//! Readings of /proc: memory and CPU time of a process, the load average.

use anyhow::{Context, Result, anyhow};

/// A `kB` field of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("{path} has no {field} line"))
}

/// Resident set size of `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Result<u64> {
    status_kib(pid, "VmRSS")
}

/// Resident set size of `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    Ok(rss_kib(pid)? * 1024)
}

/// utime + stime of `pid` in seconds (`/proc/<pid>/stat` fields 14 and 15).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces: count fields after its closing parenthesis.
    let after = &text[text.rfind(')').ok_or_else(|| anyhow!("malformed {path}"))? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("{path}: no field {}", i + 3))
    };
    // Field 3 (state) is fields[0], so utime (14) is fields[11] and stime (15) fields[12].
    Ok((tick(11)? + tick(12)?) as f64 / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// The three load averages from /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc_figures() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        assert_eq!(rss_bytes(me).unwrap() % 1024, 0);
        assert!(status_kib(me, "RssAnon").unwrap() > 0);
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(clock_ticks() > 0.0);
        assert_eq!(load_average().split(' ').count(), 3);
    }
}
