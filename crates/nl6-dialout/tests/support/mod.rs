//! Helpers shared by the integration tests: a recording connector over the loopback
//! dialer, fast timings, collectors and condition waits.
#![allow(dead_code)]

pub mod flavors;
pub mod ping_policy;
pub mod server;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::future::BoxFuture;
use nl6_collector::{CollectorConfig, CollectorHandle, Received};
use nl6_dialout::{BackoffConfig, Connector, DialoutConfig, ExporterEnv, TlsSettings, Tuning};
use nl6_gnmi::proto::gnmi::Notification;
use nl6_ifstate::{DeviceModel, DeviceSpec};
use nl6_netns::{Dialer, DialerConfig, NsExecutor, StaticResolver};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// The collector host name tests use (resolved to 127.0.0.1 by the static resolver).
pub const COLLECTOR_HOST: &str = "collector.test";

/// Device address `n` of test group `group`: 127.77.<group>.<n>.
pub fn device_ip(group: u8, n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 77, group, n)
}

/// A device with `interfaces` interfaces.
pub fn model(seed: u64, interfaces: u32) -> Arc<DeviceModel> {
    let spec = DeviceSpec {
        seed,
        interfaces,
        ..DeviceSpec::default()
    };
    Arc::new(DeviceModel::new(&spec).expect("valid device spec"))
}

/// The loopback-mode netns dialer, recording every connect call.
pub struct TestConnector {
    dialer: Dialer,
    attempts: Mutex<Vec<(Ipv4Addr, Instant)>>,
    in_flight: Mutex<HashMap<Ipv4Addr, usize>>,
    max_in_flight_per_device: AtomicUsize,
}

impl TestConnector {
    /// A connector resolving [`COLLECTOR_HOST`] to 127.0.0.1.
    pub fn new() -> Arc<TestConnector> {
        let resolver = Arc::new(StaticResolver::new());
        resolver.set(COLLECTOR_HOST, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let dialer = Dialer::new(DialerConfig::default(), resolver, NsExecutor::current())
            .expect("valid dialer config");
        Arc::new(TestConnector {
            dialer,
            attempts: Mutex::new(Vec::new()),
            in_flight: Mutex::new(HashMap::new()),
            max_in_flight_per_device: AtomicUsize::new(0),
        })
    }

    /// When `local` started each connect.
    pub fn attempts(&self, local: Ipv4Addr) -> Vec<Instant> {
        let attempts = self.attempts.lock();
        attempts
            .iter()
            .filter(|(ip, _)| *ip == local)
            .map(|(_, at)| *at)
            .collect()
    }

    /// Connect calls by all devices.
    pub fn total_attempts(&self) -> usize {
        self.attempts.lock().len()
    }

    /// The most connects one device had in flight at once.
    pub fn max_in_flight_per_device(&self) -> usize {
        self.max_in_flight_per_device.load(SeqCst)
    }
}

impl Connector for TestConnector {
    fn connect<'a>(
        &'a self,
        local: Ipv4Addr,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, io::Result<TcpStream>> {
        Box::pin(async move {
            self.attempts.lock().push((local, Instant::now()));
            {
                let mut in_flight = self.in_flight.lock();
                let n = in_flight.entry(local).or_default();
                *n += 1;
                self.max_in_flight_per_device.fetch_max(*n, SeqCst);
            }
            let result = Connector::connect(&self.dialer, local, host, port).await;
            *self.in_flight.lock().entry(local).or_default() -= 1;
            result
        })
    }
}

/// An environment with short timings: backoff 20 ms → 160 ms without jitter, 1 ms
/// sample floor.
pub fn fast_env(connector: Arc<TestConnector>) -> ExporterEnv {
    let mut env = ExporterEnv::new(connector);
    env.backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(160),
        reset_after: Duration::from_secs(30),
        jitter: 0.0,
    };
    env.tuning = Tuning {
        sample_floor: Duration::from_millis(1),
        close_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        ..Tuning::default()
    };
    env
}

/// A plaintext config for the collector on `port` (by host name), sampling every 50 ms.
pub fn plain_config(port: u16) -> DialoutConfig {
    DialoutConfig {
        sample_interval: Duration::from_millis(50),
        tls: TlsSettings::plaintext(),
        ..DialoutConfig::new(format!("{COLLECTOR_HOST}:{port}"))
    }
}

/// A plaintext nl6 collector on a free 127.0.0.1 port.
pub async fn plain_collector() -> CollectorHandle {
    collector_on("127.0.0.1:0".parse().unwrap()).await
}

/// A plaintext nl6 collector on `addr`.
pub async fn collector_on(addr: SocketAddr) -> CollectorHandle {
    nl6_collector::start(CollectorConfig::plaintext(addr))
        .await
        .expect("collector starts")
}

/// Waits until `cond` holds, polling every 5 ms; panics naming `what` after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Receives notifications until `done` says enough, or panics after `timeout`.
pub async fn collect(
    rx: &mut broadcast::Receiver<Arc<Received>>,
    timeout: Duration,
    mut done: impl FnMut(&[Arc<Received>]) -> bool,
) -> Vec<Arc<Received>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + timeout;
    while !done(&got) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(r)) => got.push(r),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("collector channel closed: {e}"),
            Err(_) => panic!(
                "timed out after {timeout:?}; got {} notifications",
                got.len()
            ),
        }
    }
    got
}

/// Receives the next notification for `target`.
pub async fn next_for(
    rx: &mut broadcast::Receiver<Arc<Received>>,
    target: &str,
    timeout: Duration,
) -> Notification {
    let got = collect(rx, timeout, |got| {
        got.last()
            .is_some_and(|r| target_of(&r.notification) == target)
    })
    .await;
    got.last().expect("one notification").notification.clone()
}

/// `prefix.target` of a notification ("" when absent).
pub fn target_of(n: &Notification) -> &str {
    n.prefix.as_ref().map(|p| p.target.as_str()).unwrap_or("")
}

/// The text paths of a notification's updates.
pub fn update_paths(n: &Notification) -> Vec<String> {
    n.update
        .iter()
        .map(|u| nl6_gnmi::format_path(u.path.as_ref().expect("update path")))
        .collect()
}

/// Runs `fut` with a deadline, panicking with `what` when it passes.
pub async fn within<T>(timeout: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {timeout:?}: {what}"))
}

/// A tonic server a test started: where it listens, the stop signal its streams watch,
/// and its task. Dropping it asks the server to stop.
pub struct Serving {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Serving {
    /// Runs `serve` (which should end once `stop` turns true) for a server on `addr`.
    pub fn spawn(
        addr: SocketAddr,
        stop: tokio::sync::watch::Sender<bool>,
        serve: impl Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
    ) -> Serving {
        let task = tokio::spawn(async move {
            let _ = serve.await;
        });
        Serving {
            addr,
            stop,
            task: Some(task),
        }
    }

    /// Ends every stream (UNAVAILABLE), stops listening and waits until it has.
    pub async fn stop(&mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
