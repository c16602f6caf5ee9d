//! Socket options the fleet's own sockets use that `socket2` does not offer.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// Sets `SO_RCVLOWAT` on a TCP socket: the kernel reports it readable only once at
/// least `bytes` are queued (or the peer closed, or an error is pending). Linux clamps
/// the value to half the receive buffer; 1 is the default.
pub fn set_recv_low_water(socket: &impl AsFd, bytes: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes.max(1)).unwrap_or(libc::c_int::MAX);
    set_option(
        socket.as_fd().as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_RCVLOWAT,
        &value,
    )
}

/// Sets the socket option `level`/`name` of the open socket `fd` to `value`, a plain
/// value of the type the option takes (an int, a `timeval`).
pub(crate) fn set_option<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the caller holds the socket open for the call; `value` is valid for reads
    // of the size given, and `T: Copy` is plain data.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_water_mark_is_set_and_read_back() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_recv_low_water(&socket, 4096).unwrap();
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the fd is open for the call; value and len are valid for writes of
        // the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(value, 4096);
    }
}
