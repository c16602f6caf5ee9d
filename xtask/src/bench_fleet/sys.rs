//! Process helpers: free ports, CPU time (getrusage), the open-files limit.

use super::*;

/// A free TCP port on 127.0.0.1 (bound, then released).
pub(super) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

pub(super) fn rusage_seconds(who: libc::c_int) -> f64 {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// CPU time of the calling thread (user + system), in seconds.
pub(super) fn thread_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_THREAD)
}

/// CPU time of this process (the embedded collector, mostly), in seconds.
pub(super) fn process_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_SELF)
}

/// Raises this process's open-files soft limit to the hard limit; fails if that is
/// below `needed` (the embedded collector holds one socket per device).
pub(super) fn raise_open_files(needed: u64) -> Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        bail!(
            "cannot read the open-files limit: {}",
            std::io::Error::last_os_error()
        );
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit with cur <= max.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            bail!(
                "cannot raise the open-files limit to {}: {}",
                lim.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    if lim.rlim_cur < needed {
        bail!(
            "the open-files limit is {} but the collector needs {needed} sockets: \
             raise the hard limit (ulimit -Hn) or use --quick",
            lim.rlim_cur
        );
    }
    Ok(lim.rlim_cur)
}
