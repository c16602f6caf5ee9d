//! Process limits: a fleet needs many sockets.

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Raises the open-files soft limit to the hard limit and warns when even that is
/// below `needed`.
pub fn raise_open_files(needed: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(
            "cannot read the open-files limit: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit with cur <= max.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            tracing::warn!(
                "cannot raise the open-files limit: {}",
                std::io::Error::last_os_error()
            );
            lim.rlim_cur = before;
        }
    }
    tracing::info!(soft = lim.rlim_cur, hard = lim.rlim_max, "open-files limit");
    if lim.rlim_cur < needed {
        tracing::warn!(
            "the open-files limit ({}) is below the {needed} sockets this fleet needs \
             (one per dial-out device plus headroom); raise the hard limit (ulimit -Hn) \
             or create fewer dial-out devices",
            lim.rlim_cur
        );
    }
}
