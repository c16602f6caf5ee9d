//! Socket creation inside a network namespace without moving async worker threads.
//!
//! A socket belongs to the namespace of the thread that created it, for its whole life.
//! [`NsExecutor`] keeps a few dedicated OS threads that entered the namespace once; sockets
//! are created there and handed back, then used from any thread of the runtime.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use netns_rs::NetNs;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Creates sockets inside a network namespace (or in the current one) on request.
#[derive(Clone)]
pub struct NsExecutor {
    pool: Option<Arc<Pool>>,
}

struct Pool {
    name: String,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl fmt::Debug for NsExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsExecutor")
            .field("namespace", &self.namespace())
            .finish()
    }
}

impl NsExecutor {
    /// An executor without a namespace: sockets are created in the caller's namespace.
    pub fn current() -> Self {
        Self { pool: None }
    }

    /// Starts `threads` OS threads (at least one) that enter the named namespace.
    ///
    /// The name is looked up under `/run/netns`, where `ip netns add` puts it.
    pub fn in_namespace(name: &str, threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let ready = ready_tx.clone();
            let ns_name = name.to_owned();
            thread::Builder::new()
                .name(format!("nl6-netns-{i}"))
                .spawn(move || worker(&ns_name, &rx, &ready))?;
        }
        drop(ready_tx);
        for _ in 0..threads {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("namespace thread exited at start")),
            }
        }
        Ok(Self {
            pool: Some(Arc::new(Pool {
                name: name.to_owned(),
                tx: Mutex::new(Some(tx)),
            })),
        })
    }

    /// The namespace name, or `None` for [`NsExecutor::current`].
    pub fn namespace(&self) -> Option<&str> {
        self.pool.as_ref().map(|p| p.name.as_str())
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    ///
    /// `f` must not change the thread's namespace. With [`NsExecutor::current`] it runs inline,
    /// so keep it short.
    pub async fn run<T, F>(&self, f: F) -> io::Result<T>
    where
        F: FnOnce() -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(pool) = &self.pool else {
            return f();
        };
        let (done_tx, done_rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done_tx.send(f());
        });
        {
            let guard = pool.tx.lock().unwrap_or_else(|e| e.into_inner());
            let Some(tx) = guard.as_ref() else {
                return Err(shut_down(&pool.name));
            };
            tx.send(job).map_err(|_| shut_down(&pool.name))?;
        }
        done_rx
            .await
            .map_err(|_| io::Error::other(format!("job in namespace {} panicked", pool.name)))?
    }

    /// A listening TCP socket on `addr` (nonblocking, SO_REUSEADDR) inside the namespace.
    pub async fn tcp_listener(
        &self,
        addr: SocketAddr,
        backlog: u32,
    ) -> io::Result<std::net::TcpListener> {
        self.run(move || {
            let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            sock.set_reuse_address(true)?;
            sock.set_nonblocking(true)?;
            sock.bind(&addr.into())?;
            sock.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
            Ok(sock.into())
        })
        .await
    }

    /// A TCP socket created inside the namespace, nonblocking, bound to `local:0`.
    pub async fn tcp_socket_bound(&self, local: Ipv4Addr) -> io::Result<Socket> {
        self.run(move || {
            let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            sock.set_nonblocking(true)?;
            // Pick the source port at connect time, so ports are shared across peers.
            let _ = set_bind_no_port(&sock);
            sock.bind(&SocketAddr::from((local, 0)).into())?;
            Ok(sock)
        })
        .await
    }

    /// A UDP socket created inside the namespace, nonblocking, bound to `local:0`.
    pub async fn udp_socket_bound(&self, local: Ipv4Addr) -> io::Result<Socket> {
        self.run(move || {
            let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            sock.set_nonblocking(true)?;
            sock.bind(&SocketAddr::from((local, 0)).into())?;
            Ok(sock)
        })
        .await
    }

    /// Stops the threads; later requests fail. Sockets already handed out stay usable.
    pub(crate) fn shutdown(&self) {
        if let Some(pool) = &self.pool {
            pool.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

fn worker(name: &str, rx: &Mutex<mpsc::Receiver<Job>>, ready: &mpsc::Sender<io::Result<()>>) {
    let entered = NetNs::get(name)
        .and_then(|ns| ns.enter())
        .map_err(|e| io::Error::other(format!("entering network namespace {name}: {e}")));
    let ok = entered.is_ok();
    let _ = ready.send(entered);
    if !ok {
        return;
    }
    loop {
        let job = {
            let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
            guard.recv()
        };
        match job {
            // A panicking job drops its reply channel; the caller sees an error.
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

fn shut_down(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        format!("executor of namespace {name} is shut down"),
    )
}

fn set_bind_no_port(sock: &Socket) -> io::Result<()> {
    let one: libc::c_int = 1;
    crate::sockopt::set_option(
        sock.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_BIND_ADDRESS_NO_PORT,
        &one,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn current_creates_loopback_sockets() {
        let exec = NsExecutor::current();
        assert_eq!(exec.namespace(), None);
        let listener = exec
            .tcp_listener("127.0.0.1:0".parse().unwrap(), 16)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let sock = exec.tcp_socket_bound(Ipv4Addr::LOCALHOST).await.unwrap();
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => panic!("connect: {e}"),
        }
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (_conn, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn unknown_namespace_is_an_error() {
        let err = NsExecutor::in_namespace("nl6-no-such-namespace", 2).unwrap_err();
        assert!(err.to_string().contains("nl6-no-such-namespace"), "{err}");
    }
}
