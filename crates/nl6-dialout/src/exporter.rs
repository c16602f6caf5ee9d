//! The exporter: one task, one connection and one stream per exporting device.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use nl6_ifstate::DeviceModel;
use nl6_tls::Identity;
use rustls_pki_types::ServerName;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::Status;

use crate::config::{ConfigError, DialoutConfig, MAX_KEEPALIVE, MIN_KEEPALIVE, parse_collector};
use crate::connector::{Connector, DeviceDial, Keepalive, TlsConnect};
use crate::error::DialoutError;
use crate::grpc::{ConnectionWatch, Disconnect};
use crate::produce::{Plan, Produced, Producer, Sampler, SendQueue};
use crate::stats::{DeviceCounters, DialoutStats, ExportCounters, Registration};
use crate::tls::TlsCache;
use crate::transport::{DialoutTransport, FlavorRegistry, PublishStream, StreamContext};

/// Reconnect backoff: `initial`, doubling up to `max`, each wait randomised by
/// ±`jitter` (gRPC connection backoff); back to `initial` only after a stream stayed up
/// at least `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// First delay (default 1 s).
    pub initial: Duration,
    /// Largest delay (default 30 s).
    pub max: Duration,
    /// Stream lifetime that resets the delay (default 30 s).
    pub reset_after: Duration,
    /// Relative spread of each wait, 0 to 1 (default 0.2: ±20 %).
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl BackoffConfig {
    /// `delay` randomised by ±`jitter`.
    fn jittered(&self, delay: Duration) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        delay.mul_f64(1.0 + jitter * (fastrand::f64() * 2.0 - 1.0))
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
    /// Shortest keepalive ping interval a configuration may ask for (default 10 s).
    pub keepalive_floor: Duration,
    /// Time to wait for a keepalive ack before dropping the connection (default 10 s).
    pub keepalive_timeout: Duration,
    /// Shortest time between two failure-log lines about one collector (default 10 s).
    pub failure_log_every: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sample_floor: Duration::from_secs(1),
            queue_depth: 100,
            close_timeout: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(10),
            keepalive_floor: MIN_KEEPALIVE,
            keepalive_timeout: Duration::from_secs(10),
            failure_log_every: Duration::from_secs(10),
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
    /// Set once the failure-log task runs.
    failure_log: OnceLock<()>,
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
                failure_log: OnceLock::new(),
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
            env.tuning.handshake_timeout,
        );
        self.start_failure_log(&runtime);
        let registration = env.stats.register(&collector, flavor.name());
        let counters = registration.counters().clone();
        let keepalive = cfg.keepalive_interval(env.tuning.keepalive_floor);
        counters.keepalive_ms.store(millis(keepalive), Relaxed);
        let task = DeviceTask {
            keepalive,
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

    /// Starts the task that writes the aggregated failure log, once per exporter; it
    /// ends with the exporter.
    fn start_failure_log(&self, runtime: &tokio::runtime::Handle) {
        self.inner.failure_log.get_or_init(|| {
            let inner: Weak<Inner> = Arc::downgrade(&self.inner);
            let every = self.inner.env.tuning.failure_log_every;
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(every.min(Duration::from_secs(1)));
                loop {
                    tick.tick().await;
                    let Some(inner) = inner.upgrade() else { break };
                    inner.env.stats.log_failures(every);
                }
            });
        });
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

    /// Why the last connection attempt or stream failed, while the device has no
    /// healthy stream (cleared once a stream carries messages again).
    pub fn last_error(&self) -> Option<String> {
        self.counters
            .last_error
            .lock()
            .as_ref()
            .map(|e| e.text.clone())
    }

    /// The HTTP/2 keepalive ping interval in use (`None`: no pings). It doubles each time
    /// the collector answers pings with GOAWAY `too_many_pings`.
    pub fn keepalive(&self) -> Option<Duration> {
        match self.counters.keepalive_ms.load(Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
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
    Broken(Status, Disconnect),
}

struct DeviceTask {
    plan: Arc<Plan>,
    dial: DeviceDial,
    ctx: StreamContext,
    flavor: Arc<dyn DialoutTransport>,
    backoff: BackoffConfig,
    tuning: Tuning,
    /// The configured keepalive ping interval (`None`: no pings).
    keepalive: Option<Duration>,
    registration: Registration,
}

/// The next SAMPLE tick, or never without a sampler (on-change mode).
async fn next_tick(sampler: &mut Option<Sampler>) -> u64 {
    match sampler {
        Some(sampler) => sampler.tick().await,
        None => std::future::pending().await,
    }
}

impl DeviceTask {
    /// connect → open → produce until the stream breaks → back off, until stopped.
    async fn run(self, mut stop: oneshot::Receiver<()>) -> Result<(), Status> {
        let counters = self.registration.counters().clone();
        // A zero delay would spin on a refusing collector.
        let initial = self.backoff.initial.max(Duration::from_millis(1));
        let mut delay = initial;
        let mut streams_opened = 0u64;
        let mut keepalive = self.keepalive;
        let mut sampler = self.plan.sampler();
        loop {
            let opened = {
                let open = self.open(keepalive);
                tokio::pin!(open);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut stop => return Ok(()),
                        opened = &mut open => break opened,
                        missed = next_tick(&mut sampler) => {
                            counters.samples_skipped.fetch_add(1 + missed, Relaxed);
                        }
                    }
                }
            };
            match opened {
                Err(error) => {
                    tracing::debug!(device = %self.ctx.device_ip, %error, "dial-out open failed");
                    counters.open_failed(error);
                }
                Ok((stream, watch)) => {
                    streams_opened += 1;
                    if streams_opened > 1 {
                        counters.reconnects.fetch_add(1, Relaxed);
                    }
                    counters.stream_up();
                    if self.plan.samples_on_open()
                        && let Some(sampler) = &mut sampler
                    {
                        sampler.restart_now();
                    }
                    let up_since = Instant::now();
                    let end = self
                        .stream(stream, watch, &counters, &mut stop, sampler.as_mut())
                        .await;
                    counters.stream_down();
                    match end {
                        StreamEnd::Stopped(outcome) => return outcome,
                        StreamEnd::Broken(status, disconnect) => {
                            let cause = disconnect.cause.as_str();
                            tracing::debug!(device = %self.ctx.device_ip, %status, cause, "dial-out stream ended");
                            counters.disconnected(
                                disconnect.cause,
                                format!("stream ended ({cause}): {status}"),
                            );
                            if disconnect.too_many_pings
                                && let Some(every) = keepalive
                            {
                                // gRFC A8: a client told too_many_pings doubles its interval.
                                let doubled = every.saturating_mul(2).min(MAX_KEEPALIVE);
                                keepalive = Some(doubled);
                                counters.too_many_pings(doubled);
                            }
                        }
                    }
                    if up_since.elapsed() >= self.backoff.reset_after {
                        delay = initial;
                    }
                }
            }
            let pause = tokio::time::sleep(self.backoff.jittered(delay));
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop => return Ok(()),
                    _ = &mut pause => break,
                    missed = next_tick(&mut sampler) => {
                        counters.samples_skipped.fetch_add(1 + missed, Relaxed);
                    }
                }
            }
            delay = delay.saturating_mul(2).min(self.backoff.max.max(initial));
        }
    }

    /// Opens the device's own connection and a stream on it.
    async fn open(
        &self,
        keepalive: Option<Duration>,
    ) -> Result<(Box<dyn PublishStream>, ConnectionWatch), String> {
        let keepalive = keepalive.map(|interval| Keepalive {
            interval,
            timeout: self.tuning.keepalive_timeout,
        });
        let connection = self.dial.connection(keepalive).await?;
        let watch = connection.watch();
        let stream = self
            .flavor
            .open(connection, &self.ctx)
            .await
            .map_err(|status| format!("cannot open a {} stream: {status}", self.flavor.name()))?;
        Ok((stream, watch))
    }

    /// Produces into the drop-oldest queue and sends from it until the stream breaks or
    /// a stop arrives. The queue lives only as long as the stream (drop-on-outage): what
    /// it holds then is counted as discarded.
    async fn stream(
        &self,
        mut stream: Box<dyn PublishStream>,
        mut watch: ConnectionWatch,
        counters: &DeviceCounters,
        stop: &mut oneshot::Receiver<()>,
        sampler: Option<&mut Sampler>,
    ) -> StreamEnd {
        let mut producer = Producer::start(self.plan.clone(), sampler);
        let mut queue = SendQueue::new(self.tuning.queue_depth);
        let accept = |produced: Produced, queue: &mut SendQueue| {
            counters
                .updates_produced
                .fetch_add(produced.message.updates, Relaxed);
            if produced.ticks_missed > 0 {
                counters
                    .samples_skipped
                    .fetch_add(produced.ticks_missed, Relaxed);
            }
            queue.push(produced.message, counters);
        };
        let discard = |updates: u64| counters.updates_discarded.fetch_add(updates, Relaxed);
        let mut healthy = false;
        loop {
            let Some(message) = queue.pop() else {
                tokio::select! {
                    biased;
                    _ = &mut *stop => {
                        discard(queue.discard());
                        return StreamEnd::Stopped(self.close(stream).await);
                    }
                    status = stream.ended() => {
                        discard(queue.discard());
                        let disconnect = watch.classify(&status).await;
                        return StreamEnd::Broken(status, disconnect);
                    }
                    produced = producer.next() => accept(produced, &mut queue),
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
                        produced = producer.next() => accept(produced, &mut queue),
                    }
                }
            };
            match sent {
                None => {
                    discard(updates + queue.discard());
                    return StreamEnd::Stopped(self.close(stream).await);
                }
                Some(Ok(())) => {
                    counters.updates_sent.fetch_add(updates, Relaxed);
                    if !healthy {
                        healthy = true;
                        counters.healthy();
                    }
                }
                Some(Err(status)) => {
                    counters.send_failures.fetch_add(1, Relaxed);
                    discard(updates + queue.discard());
                    let disconnect = watch.classify(&status).await;
                    return StreamEnd::Broken(status, disconnect);
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

/// A keepalive interval in ms for the counters (0 = none).
fn millis(interval: Option<Duration>) -> u64 {
    interval.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
