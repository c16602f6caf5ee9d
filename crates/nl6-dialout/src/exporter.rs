//! The exporter: one task, one connection and one stream per exporting device.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use nl6_ifstate::DeviceModel;
use nl6_tls::Identity;
use rustls_pki_types::ServerName;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::Status;

use crate::config::{ConfigError, DialoutConfig, parse_collector};
use crate::connector::{Connector, DeviceDial, Keepalive, TlsConnect};
use crate::error::DialoutError;
use crate::produce::{Plan, Producer, SendQueue};
use crate::stats::{DeviceCounters, DialoutStats, ExportCounters, Registration};
use crate::tls::TlsCache;
use crate::transport::{DialoutTransport, FlavorRegistry, PublishStream, StreamContext};

/// Reconnect backoff: `initial`, doubling up to `max`; back to `initial` only after a
/// stream stayed up at least `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First delay (default 1 s).
    pub initial: Duration,
    /// Largest delay (default 30 s).
    pub max: Duration,
    /// Stream lifetime that resets the delay (default 30 s).
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
        }
    }
}

/// Limits and timers of the exporter (defaults follow nl6; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Shortest SAMPLE period (default 1 s).
    pub sample_floor: Duration,
    /// Messages queued per device before the oldest is dropped (default 100).
    pub queue_depth: usize,
    /// Time a stop waits for the collector to end the call (default 2 s).
    pub close_timeout: Duration,
    /// Time a TLS handshake, and then the collector's first HTTP/2 bytes, may take (default 10 s).
    pub handshake_timeout: Duration,
    /// HTTP/2 keepalive ping interval (default 30 s).
    pub keepalive_interval: Duration,
    /// Time to wait for a keepalive ack before dropping the connection (default 10 s).
    pub keepalive_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sample_floor: Duration::from_secs(1),
            queue_depth: 100,
            close_timeout: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

/// What an [`Exporter`] needs from the fleet.
pub struct ExporterEnv {
    /// Opens TCP connections from device addresses.
    pub connector: Arc<dyn Connector>,
    /// The simulator's certificate, presented to collectors when `tls.mtls` is set.
    pub client_identity: Option<Identity>,
    /// Known flavors.
    pub flavors: FlavorRegistry,
    /// Where counters go (shared with the status endpoint).
    pub stats: Arc<DialoutStats>,
    /// Reconnect backoff.
    pub backoff: BackoffConfig,
    /// Limits and timers.
    pub tuning: Tuning,
}

impl ExporterEnv {
    /// Defaults: built-in flavors, fresh stats, nl6 backoff and limits, no client identity.
    pub fn new(connector: Arc<dyn Connector>) -> ExporterEnv {
        ExporterEnv {
            connector,
            client_identity: None,
            flavors: FlavorRegistry::default(),
            stats: DialoutStats::new(),
            backoff: BackoffConfig::default(),
            tuning: Tuning::default(),
        }
    }
}

struct Inner {
    env: ExporterEnv,
    tls: TlsCache,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.env.stats.exporter_stopped();
    }
}

/// Starts and owns nothing but shared settings; each attached device runs on its own.
/// Cheap to clone. While one exists, the status reports `subsystem_active`.
#[derive(Clone)]
pub struct Exporter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("flavors", &self.inner.env.flavors)
            .field("backoff", &self.inner.env.backoff)
            .field("tuning", &self.inner.env.tuning)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// An exporter working in `env`.
    pub fn new(env: ExporterEnv) -> Exporter {
        env.stats.exporter_started();
        Exporter {
            inner: Arc::new(Inner {
                env,
                tls: TlsCache::default(),
            }),
        }
    }

    /// The shared statistics.
    pub fn stats(&self) -> &Arc<DialoutStats> {
        &self.inner.env.stats
    }

    /// Checks `cfg` against `model` exactly as [`Exporter::attach`] does (config, paths,
    /// on-change rules, TLS material) without starting anything: a batch can be
    /// validated before any device exists.
    pub fn check(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
    ) -> Result<(), DialoutError> {
        let env = &self.inner.env;
        cfg.validate_for(&env.flavors)?;
        let (host, _port) = parse_collector(&cfg.collector)?;
        Plan::compile(model, device_ip, cfg, env.tuning.sample_floor)?;
        if cfg.tls.enabled {
            self.inner
                .tls
                .client_config(&cfg.tls, env.client_identity.as_ref())?;
            ServerName::try_from(host.clone()).map_err(|e| {
                ConfigError::new(
                    "collector",
                    format!("{host:?} is not usable as a TLS server name: {e}"),
                )
            })?;
        }
        Ok(())
    }

    /// Starts pushing `model`'s telemetry from `device_ip` as `cfg` says.
    ///
    /// Everything is checked first (config, paths against the device, on-change rules,
    /// TLS material); on error nothing is left behind. Must run inside a tokio runtime.
    pub fn attach(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
    ) -> Result<DeviceExport, DialoutError> {
        let env = &self.inner.env;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DialoutError::NoRuntime)?;
        cfg.validate_for(&env.flavors)?;
        let (host, port) = parse_collector(&cfg.collector)?;
        let flavor = env
            .flavors
            .get(cfg.flavor_name())
            .cloned()
            .ok_or_else(|| ConfigError::new("flavor", "not registered"))?;
        let plan = Plan::compile(model, device_ip, cfg, env.tuning.sample_floor)?;
        let tls = if cfg.tls.enabled {
            let config = self
                .inner
                .tls
                .client_config(&cfg.tls, env.client_identity.as_ref())?;
            let server_name = ServerName::try_from(host.clone()).map_err(|e| {
                ConfigError::new(
                    "collector",
                    format!("{host:?} is not usable as a TLS server name: {e}"),
                )
            })?;
            Some(TlsConnect {
                config,
                server_name,
            })
        } else {
            None
        };
        let collector: Arc<str> = Arc::from(cfg.collector.as_str());
        let dial = DeviceDial::new(
            env.connector.clone(),
            device_ip,
            (Arc::from(host), port),
            tls,
            Keepalive {
                interval: env.tuning.keepalive_interval,
                timeout: env.tuning.keepalive_timeout,
            },
            env.tuning.handshake_timeout,
        );
        let registration = env.stats.register(&collector, flavor.name());
        let counters = registration.counters().clone();
        let task = DeviceTask {
            plan: Arc::new(plan),
            dial,
            ctx: StreamContext {
                device_ip,
                collector: collector.clone(),
            },
            flavor: flavor.clone(),
            backoff: env.backoff,
            tuning: env.tuning,
            registration,
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let handle = runtime.spawn(task.run(stop_rx));
        Ok(DeviceExport {
            device_ip,
            collector,
            flavor: flavor.name().to_string(),
            counters,
            stop: Some(stop_tx),
            task: Some(handle),
        })
    }
}

/// One device's running export. Dropping it (or [`DeviceExport::stop`]) ends the
/// device's task; its counters then fold into the (collector, flavor) totals once.
#[derive(Debug)]
pub struct DeviceExport {
    device_ip: Ipv4Addr,
    collector: Arc<str>,
    flavor: String,
    counters: Arc<DeviceCounters>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), Status>>>,
}

impl DeviceExport {
    /// The device's address (source address and `Prefix.target`).
    pub fn device_ip(&self) -> Ipv4Addr {
        self.device_ip
    }

    /// The collector as configured.
    pub fn collector(&self) -> &str {
        &self.collector
    }

    /// The flavor in use.
    pub fn flavor(&self) -> &str {
        &self.flavor
    }

    /// This device's counters so far.
    pub fn counters(&self) -> ExportCounters {
        self.counters.snapshot()
    }

    /// Why the last connection attempt or stream failed, if one did.
    pub fn last_error(&self) -> Option<String> {
        self.counters.last_error.lock().clone()
    }

    /// Closes the stream (waiting up to the close timeout for the collector) and waits
    /// for the task to end; its counters are folded when this returns. Returns how the
    /// open stream ended (`Ok` when none was open or it ended normally).
    pub async fn stop(mut self) -> Result<(), Status> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .unwrap_or_else(|e| Err(Status::internal(format!("dial-out task failed: {e}")))),
            None => Ok(()),
        }
    }
}

impl Drop for DeviceExport {
    fn drop(&mut self) {
        // Dropping the sender wakes the task, which closes its stream and ends.
        self.stop.take();
    }
}

/// How a stream phase ended.
enum StreamEnd {
    /// Asked to stop; the close outcome.
    Stopped(Result<(), Status>),
    /// The stream broke.
    Broken(Status),
}

struct DeviceTask {
    plan: Arc<Plan>,
    dial: DeviceDial,
    ctx: StreamContext,
    flavor: Arc<dyn DialoutTransport>,
    backoff: BackoffConfig,
    tuning: Tuning,
    registration: Registration,
}

impl DeviceTask {
    /// connect → open → produce until the stream breaks → back off, until stopped.
    async fn run(self, mut stop: oneshot::Receiver<()>) -> Result<(), Status> {
        let counters = self.registration.counters().clone();
        // A zero delay would spin on a refusing collector.
        let initial = self.backoff.initial.max(Duration::from_millis(1));
        let mut delay = initial;
        let mut streams_opened = 0u64;
        loop {
            let opened = tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                opened = self.open() => opened,
            };
            match opened {
                Err(error) => {
                    counters.open_failures.fetch_add(1, Relaxed);
                    tracing::debug!(device = %self.ctx.device_ip, %error, "dial-out open failed");
                    counters.set_error(error);
                }
                Ok(stream) => {
                    streams_opened += 1;
                    if streams_opened > 1 {
                        counters.reconnects.fetch_add(1, Relaxed);
                    }
                    counters.streams_active.store(1, Relaxed);
                    let up_since = Instant::now();
                    let end = self.stream(stream, &counters, &mut stop).await;
                    counters.streams_active.store(0, Relaxed);
                    match end {
                        StreamEnd::Stopped(outcome) => return outcome,
                        StreamEnd::Broken(status) => {
                            tracing::debug!(device = %self.ctx.device_ip, %status, "dial-out stream ended");
                            counters.set_error(format!("stream ended: {status}"));
                        }
                    }
                    if up_since.elapsed() >= self.backoff.reset_after {
                        delay = initial;
                    }
                }
            }
            tokio::select! {
                biased;
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
            delay = delay.saturating_mul(2).min(self.backoff.max.max(initial));
        }
    }

    /// Opens the device's own connection and a stream on it.
    async fn open(&self) -> Result<Box<dyn PublishStream>, String> {
        let connection = self.dial.connection().await?;
        self.flavor
            .open(connection, &self.ctx)
            .await
            .map_err(|status| format!("cannot open a {} stream: {status}", self.flavor.name()))
    }

    /// Produces into the drop-oldest queue and sends from it until the stream breaks or
    /// a stop arrives. The queue lives only as long as the stream (drop-on-outage).
    async fn stream(
        &self,
        mut stream: Box<dyn PublishStream>,
        counters: &DeviceCounters,
        stop: &mut oneshot::Receiver<()>,
    ) -> StreamEnd {
        let mut producer = Producer::start(self.plan.clone());
        let mut queue = SendQueue::new(self.tuning.queue_depth);
        loop {
            let Some(message) = queue.pop() else {
                tokio::select! {
                    biased;
                    _ = &mut *stop => return StreamEnd::Stopped(self.close(stream).await),
                    status = stream.ended() => return StreamEnd::Broken(status),
                    message = producer.next() => queue.push(message, counters),
                }
                continue;
            };
            let updates = message.updates;
            let sent = {
                let mut send = stream.send(message.bytes);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut *stop => break None,
                        sent = &mut send => break Some(sent),
                        message = producer.next() => queue.push(message, counters),
                    }
                }
            };
            match sent {
                None => return StreamEnd::Stopped(self.close(stream).await),
                Some(Ok(())) => {
                    counters.updates_sent.fetch_add(updates, Relaxed);
                }
                Some(Err(status)) => {
                    counters.send_failures.fetch_add(1, Relaxed);
                    return StreamEnd::Broken(status);
                }
            }
        }
    }

    async fn close(&self, stream: Box<dyn PublishStream>) -> Result<(), Status> {
        let timeout = self.tuning.close_timeout;
        tokio::time::timeout(timeout, stream.close())
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "the collector did not end the call within {timeout:?} of our close"
                )))
            })
    }
}
