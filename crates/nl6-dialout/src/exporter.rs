//! The exporter: one task per exporting device, one session at a time, each to one
//! collector of the device's destination group.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use nl6_ifstate::DeviceModel;
use nl6_tls::Identity;
use rustls_pki_types::ServerName;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{
    ConfigError, ConfigKey, DialoutConfig, MAX_KEEPALIVE, MIN_KEEPALIVE, parse_collector,
};
use crate::connector::{Connector, DeviceDial, Keepalive, TlsConnect, error_chain};
use crate::error::{DialoutError, FlavorError};
use crate::flavor::{Flavor, FlavorRegistry};
use crate::grpc::{Disconnect, classify_plain};
use crate::identity::DeviceIdentity;
use crate::net::DeviceNet;
use crate::produce::{Plan, Producer, Queued, Sampler, SendQueue};
use crate::run::RunSlot;
use crate::session::{PushSession, PushStream, ServeSession, Session, SessionContext, StopSignal};
use crate::stats::{DeviceCounters, DialoutStats, ExportCounters, Registration};
use crate::tls::TlsCache;

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

    /// `delay` shortened at random by up to `jitter` (a fixed retry interval is never
    /// exceeded).
    fn jittered_down(&self, delay: Duration) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        delay.mul_f64(1.0 - jitter * fastrand::f64())
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
    /// Known flavors (the fleet passes its registry).
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

/// A collector of a device's group, ready to dial.
struct Destination {
    collector: Arc<str>,
    dial: DeviceDial,
    registration: Registration,
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

    /// The flavors this exporter knows.
    pub fn flavors(&self) -> &FlavorRegistry {
        &self.inner.env.flavors
    }

    /// Checks `cfg` against `model` exactly as [`Exporter::attach`] does (config, flavor,
    /// paths, on-change rules, TLS material) without starting anything: a batch can be
    /// validated before any device exists.
    pub fn check(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
    ) -> Result<(), DialoutError> {
        cfg.validate_for(&self.inner.env.flavors)?;
        self.check_plan(device_ip, model, cfg)
    }

    /// The checks of [`Exporter::attach_flavor`], without attaching: `cfg` against
    /// `flavor` and the device.
    pub fn check_flavor(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
        flavor: &dyn Flavor,
    ) -> Result<(), DialoutError> {
        cfg.validate_common()?;
        flavor.check(cfg)?;
        self.check_plan(device_ip, model, cfg)
    }

    /// Paths against the device, on-change rules, TLS material.
    fn check_plan(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
    ) -> Result<(), DialoutError> {
        let env = &self.inner.env;
        Plan::compile(model, device_ip, cfg, env.tuning.sample_floor)?;
        for collector in cfg.destinations()? {
            self.tls_for(cfg, collector)?;
        }
        Ok(())
    }

    /// TLS parameters towards `collector` (`None` for plaintext).
    fn tls_for(
        &self,
        cfg: &DialoutConfig,
        collector: &str,
    ) -> Result<Option<TlsConnect>, DialoutError> {
        if !cfg.tls.enabled {
            return Ok(None);
        }
        let env = &self.inner.env;
        let (host, _port) = parse_collector(collector)?;
        let config = self
            .inner
            .tls
            .client_config(&cfg.tls, env.client_identity.as_ref())?;
        let server_name = ServerName::try_from(host.clone()).map_err(|e| {
            ConfigError::new(
                ConfigKey::Collector,
                format!("{host:?} is not usable as a TLS server name: {e}"),
            )
        })?;
        Ok(Some(TlsConnect {
            config,
            server_name,
        }))
    }

    /// Starts pushing `model`'s telemetry from `device_ip` (host name derived from the
    /// address) as `cfg` says; see [`Exporter::attach_device`].
    pub fn attach(
        &self,
        device_ip: Ipv4Addr,
        model: Arc<DeviceModel>,
        cfg: &DialoutConfig,
    ) -> Result<DeviceExport, DialoutError> {
        self.attach_device(DeviceIdentity::new(device_ip), model, Arc::new(cfg.clone()))
    }

    /// Starts pushing `model`'s telemetry from `device` as `cfg` says (a batch shares
    /// one `cfg`).
    ///
    /// Everything is checked first (config, flavor, paths against the device, on-change
    /// rules, TLS material); on error nothing is left behind. Must run inside a tokio
    /// runtime.
    pub fn attach_device(
        &self,
        device: DeviceIdentity,
        model: Arc<DeviceModel>,
        cfg: Arc<DialoutConfig>,
    ) -> Result<DeviceExport, DialoutError> {
        let env = &self.inner.env;
        cfg.validate_for(&env.flavors)?;
        let flavor = env
            .flavors
            .get(cfg.flavor_name())
            .cloned()
            .ok_or_else(|| ConfigError::new(ConfigKey::Flavor, "not registered"))?;
        self.attach_flavor(device, model, cfg, flavor)
    }

    /// Like [`Exporter::attach_device`], with a flavor instance of the caller's instead
    /// of the registered one `cfg.flavor` names: for flavors that carry per-device
    /// settings of their own (a Cisco MDT subscription, say). `cfg.flavor` is ignored;
    /// status rows use [`Flavor::name`].
    pub fn attach_flavor(
        &self,
        device: DeviceIdentity,
        model: Arc<DeviceModel>,
        cfg: Arc<DialoutConfig>,
        flavor: Arc<dyn Flavor>,
    ) -> Result<DeviceExport, DialoutError> {
        let env = &self.inner.env;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DialoutError::NoRuntime)?;
        cfg.validate_common()?;
        flavor.check(&cfg)?;
        let plan = Plan::compile(model, device.ip, &cfg, env.tuning.sample_floor)?;
        let mut planned = Vec::new();
        for collector in cfg.destinations()? {
            let (host, port) = parse_collector(collector)?;
            let tls = self.tls_for(&cfg, collector)?;
            planned.push((Arc::<str>::from(collector), host, port, tls));
        }
        self.start_failure_log(&runtime);
        let keepalive = cfg.keepalive_interval(env.tuning.keepalive_floor);
        let destinations: Vec<Destination> = planned
            .into_iter()
            .enumerate()
            .map(|(i, (collector, host, port, tls))| {
                let registration = env.stats.register_as(&collector, flavor.name(), i == 0);
                registration
                    .counters()
                    .keepalive_ms
                    .store(millis(keepalive), Relaxed);
                Destination {
                    dial: DeviceDial::new(
                        env.connector.clone(),
                        device.ip,
                        (Arc::from(host), port),
                        tls,
                        env.tuning.handshake_timeout,
                    ),
                    collector,
                    registration,
                }
            })
            .collect();
        let collectors: Arc<[Arc<str>]> =
            destinations.iter().map(|d| d.collector.clone()).collect();
        let counters: Vec<Arc<DeviceCounters>> = destinations
            .iter()
            .map(|d| d.registration.counters().clone())
            .collect();
        let current = Arc::new(AtomicUsize::new(0));
        let retry = match (cfg.retry_interval, flavor.retry_interval()) {
            (configured, _) if !configured.is_zero() => Retry::Fixed(configured),
            (_, Some(interval)) => Retry::Fixed(interval),
            (_, None) => Retry::Backoff,
        };
        let failback = (!cfg.failback.is_zero()).then_some(cfg.failback);
        let task = DeviceTask {
            keepalive,
            plan: Arc::new(plan),
            device: device.clone(),
            config: cfg,
            destinations,
            current: current.clone(),
            flavor: flavor.clone(),
            retry,
            failback,
            backoff: env.backoff,
            tuning: env.tuning,
            run: RunSlot::default(),
        };
        let run = task.run.clone();
        let (stop_tx, stop_rx) = oneshot::channel();
        let handle = runtime.spawn(task.run(stop_rx));
        Ok(DeviceExport {
            device,
            collectors,
            current,
            flavor: flavor.name().to_string(),
            counters,
            stop: Some(stop_tx),
            task: Some(handle),
            run,
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
    device: DeviceIdentity,
    collectors: Arc<[Arc<str>]>,
    current: Arc<AtomicUsize>,
    flavor: String,
    /// One per collector of the group, in order.
    counters: Vec<Arc<DeviceCounters>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), FlavorError>>>,
    /// The run the device takes part in, shared with its task.
    run: RunSlot,
}

impl DeviceExport {
    /// Where to put the device into a measured run (see [`RunSlot::join`]).
    pub fn run_slot(&self) -> &RunSlot {
        &self.run
    }

    /// The device's address (source address and `Prefix.target`).
    pub fn device_ip(&self) -> Ipv4Addr {
        self.device.ip
    }

    /// The device's host name.
    pub fn hostname(&self) -> &str {
        &self.device.hostname
    }

    /// The collector the device uses now (its current session's, or the one it tries
    /// next), as configured.
    pub fn collector(&self) -> &str {
        let at = self.current.load(Relaxed).min(self.collectors.len() - 1);
        &self.collectors[at]
    }

    /// Every collector of the device's group, in the order they are tried.
    pub fn collectors(&self) -> &[Arc<str>] {
        &self.collectors
    }

    /// The flavor in use.
    pub fn flavor(&self) -> &str {
        &self.flavor
    }

    /// This device's counters so far, summed over its collectors.
    pub fn counters(&self) -> ExportCounters {
        let mut total = ExportCounters::default();
        for counters in &self.counters {
            total.add(&counters.snapshot());
        }
        total
    }

    /// Why the last connection attempt or stream failed, while the device has no
    /// healthy stream (cleared once a stream carries messages again).
    pub fn last_error(&self) -> Option<String> {
        self.counters
            .iter()
            .filter_map(|c| c.last_error.lock().clone())
            .max_by_key(|e| e.at)
            .map(|e| e.text)
    }

    /// The HTTP/2 keepalive ping interval in use (`None`: no pings). It doubles each time
    /// the collector answers pings with GOAWAY `too_many_pings`.
    pub fn keepalive(&self) -> Option<Duration> {
        match self.counters[0].keepalive_ms.load(Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Closes the stream (waiting up to the close timeout for the collector) and waits
    /// for the task to end; its counters are folded when this returns. Returns how the
    /// open stream ended (`Ok` when none was open or it ended normally).
    pub async fn stop(mut self) -> Result<(), FlavorError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| {
                Err(FlavorError::Message(format!("dial-out task failed: {e}")))
            }),
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

/// How a session ended.
enum StreamEnd {
    /// Asked to stop; the close outcome.
    Stopped(Result<(), FlavorError>),
    /// The session broke.
    Broken(FlavorError, Disconnect),
    /// Closed to return to the first collector of the group; the close outcome.
    FailBack(Result<(), FlavorError>),
}

/// The wait before the next attempt once every collector failed.
#[derive(Debug, Clone, Copy)]
enum Retry {
    /// Jittered exponential backoff (nl6's default).
    Backoff,
    /// A fixed interval, shortened at random by up to the backoff jitter (SONiC).
    Fixed(Duration),
}

struct DeviceTask {
    plan: Arc<Plan>,
    device: DeviceIdentity,
    config: Arc<DialoutConfig>,
    destinations: Vec<Destination>,
    /// The destination in use, shared with [`DeviceExport`].
    current: Arc<AtomicUsize>,
    flavor: Arc<dyn Flavor>,
    retry: Retry,
    /// Time on a backup collector before trying the first again.
    failback: Option<Duration>,
    backoff: BackoffConfig,
    tuning: Tuning,
    /// The configured keepalive ping interval (`None`: no pings).
    keepalive: Option<Duration>,
    /// The run the device takes part in (none most of the time).
    run: RunSlot,
}

/// The next SAMPLE tick, or never without a sampler (on-change mode).
async fn next_tick(sampler: &mut Option<Sampler>) -> u64 {
    match sampler {
        Some(sampler) => sampler.tick().await,
        None => std::future::pending().await,
    }
}

impl DeviceTask {
    /// connect → open → produce until the session breaks → next collector or back off,
    /// until stopped.
    async fn run(self, mut stop: oneshot::Receiver<()>) -> Result<(), FlavorError> {
        // A zero delay would spin on a refusing collector.
        let initial = self.backoff.initial.max(Duration::from_millis(1));
        let mut delay = initial;
        let mut streams_opened = 0u64;
        let mut keepalive = self.keepalive;
        let mut sampler = self.plan.sampler();
        let count = self.destinations.len();
        let mut at = 0usize;
        // Collectors that failed since a session last carried a message.
        let mut failed = vec![false; count];
        loop {
            self.current.store(at, Relaxed);
            let destination = &self.destinations[at];
            let counters = destination.registration.counters().clone();
            let net = DeviceNet::new(
                destination.dial.clone(),
                keepalive.map(|interval| Keepalive {
                    interval,
                    timeout: self.tuning.keepalive_timeout,
                }),
            );
            let ctx = SessionContext {
                device_ip: self.device.ip,
                hostname: self.device.hostname.clone(),
                collector: destination.collector.clone(),
                config: self.config.clone(),
                counters: counters.clone(),
                run: self.run.clone(),
            };
            let opened = {
                let open = self.flavor.open(&net, &ctx);
                tokio::pin!(open);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut stop => return Ok(()),
                        opened = &mut open => break opened,
                        missed = next_tick(&mut sampler) => {
                            counters.samples_skipped.fetch_add(1 + missed, Relaxed);
                            self.run.skipped(1 + missed);
                        }
                    }
                }
            };
            let mut healthy = false;
            match opened {
                Err(error) => {
                    tracing::debug!(device = %self.device.ip, %error, "dial-out open failed");
                    counters.open_failed(match error {
                        FlavorError::Connect(text) => text,
                        other => format!(
                            "cannot open a {} stream: {}",
                            self.flavor.name(),
                            error_chain(&other)
                        ),
                    });
                }
                Ok(session) => {
                    streams_opened += 1;
                    if streams_opened > 1 {
                        counters.reconnects.fetch_add(1, Relaxed);
                    }
                    counters.stream_up();
                    let up_since = Instant::now();
                    let failback_at = self
                        .failback
                        .filter(|_| at > 0)
                        .map(|after| up_since + after);
                    let end = match session {
                        Session::Push(push) => {
                            if self.plan.samples_on_open()
                                && let Some(sampler) = &mut sampler
                            {
                                sampler.restart_now();
                            }
                            self.push(
                                push,
                                &net,
                                &counters,
                                &mut stop,
                                sampler.as_mut(),
                                failback_at,
                                &mut healthy,
                            )
                            .await
                        }
                        Session::Serve(serve) => {
                            self.serve(serve, &net, &counters, &mut stop, &mut healthy)
                                .await
                        }
                    };
                    counters.stream_down();
                    match end {
                        StreamEnd::Stopped(outcome) => return outcome,
                        StreamEnd::FailBack(outcome) => {
                            if let Err(error) = outcome {
                                tracing::debug!(device = %self.device.ip, %error, "closing the backup stream to fail back");
                            }
                            failed.fill(false);
                            at = 0;
                            continue;
                        }
                        StreamEnd::Broken(error, disconnect) => {
                            let cause = disconnect.cause.as_str();
                            tracing::debug!(device = %self.device.ip, %error, cause, "dial-out stream ended");
                            counters.disconnected(
                                disconnect.cause,
                                format!("stream ended ({cause}): {}", error_chain(&error)),
                            );
                            if disconnect.too_many_pings
                                && let Some(every) = keepalive
                            {
                                // gRFC A8: a client told too_many_pings doubles its interval.
                                let doubled = every.saturating_mul(2).min(MAX_KEEPALIVE);
                                keepalive = Some(doubled);
                                counters.too_many_pings(doubled);
                                for d in &self.destinations {
                                    d.registration
                                        .counters()
                                        .keepalive_ms
                                        .store(millis(keepalive), Relaxed);
                                }
                            }
                        }
                    }
                    if up_since.elapsed() >= self.backoff.reset_after {
                        delay = initial;
                    }
                }
            }
            if healthy {
                failed.fill(false);
            }
            failed[at] = true;
            at = (at + 1) % count;
            if !failed[at] {
                // The next collector of the group has not failed yet: try it at once.
                continue;
            }
            let wait = match self.retry {
                Retry::Backoff => self.backoff.jittered(delay),
                Retry::Fixed(interval) => self.backoff.jittered_down(interval),
            };
            let counters = self.destinations[at].registration.counters();
            self.current.store(at, Relaxed);
            let pause = tokio::time::sleep(wait);
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop => return Ok(()),
                    _ = &mut pause => break,
                    missed = next_tick(&mut sampler) => {
                        counters.samples_skipped.fetch_add(1 + missed, Relaxed);
                        self.run.skipped(1 + missed);
                    }
                }
            }
            if let Retry::Backoff = self.retry {
                delay = delay.saturating_mul(2).min(self.backoff.max.max(initial));
            }
        }
    }

    /// Classifies how a session on `net` ended.
    async fn disconnect(&self, net: &DeviceNet, error: &FlavorError) -> Disconnect {
        match net.take_watch() {
            Some(mut watch) => watch.classify(error).await,
            None => classify_plain(error),
        }
    }

    /// Produces into the drop-oldest queue and sends from it until the stream breaks, a
    /// stop arrives or it is time to fail back. The queue lives only as long as the
    /// stream (drop-on-outage): what it holds then is counted as discarded.
    #[allow(clippy::too_many_arguments)]
    async fn push(
        &self,
        session: PushSession,
        net: &DeviceNet,
        counters: &DeviceCounters,
        stop: &mut oneshot::Receiver<()>,
        sampler: Option<&mut Sampler>,
        failback_at: Option<Instant>,
        healthy: &mut bool,
    ) -> StreamEnd {
        let PushSession {
            mut stream,
            encoder,
        } = session;
        let mut producer = Producer::start(self.plan.clone(), encoder, sampler);
        let mut queue = SendQueue::new(self.tuning.queue_depth);
        let accept = |produced: crate::produce::Produced<'_>, queue: &mut SendQueue| {
            if produced.ticks_missed > 0 {
                counters
                    .samples_skipped
                    .fetch_add(produced.ticks_missed, Relaxed);
                self.run.skipped(produced.ticks_missed);
            }
            let run = self.run.ledger();
            for message in produced.messages {
                let Some((message, mark)) =
                    crate::run::admit(run.as_ref(), message, produced.at_ns)
                else {
                    continue;
                };
                counters
                    .updates_produced
                    .fetch_add(message.updates, Relaxed);
                queue.push(message, mark, counters);
            }
        };
        let discard = |updates: u64| counters.updates_discarded.fetch_add(updates, Relaxed);
        let failback = async {
            match failback_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(failback);
        loop {
            let Some(Queued { message, mark }) = queue.pop() else {
                tokio::select! {
                    biased;
                    _ = &mut *stop => {
                        discard(queue.discard());
                        return StreamEnd::Stopped(self.close(stream).await);
                    }
                    error = stream.ended() => {
                        discard(queue.discard());
                        let disconnect = self.disconnect(net, &error).await;
                        return StreamEnd::Broken(error, disconnect);
                    }
                    _ = &mut failback => {
                        discard(queue.discard());
                        return StreamEnd::FailBack(self.close(stream).await);
                    }
                    produced = producer.next() => accept(produced, &mut queue),
                }
                continue;
            };
            let updates = message.updates;
            let stall_before = stream.flow_stall();
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
            // Two relaxed loads per send; counted only when the send waited.
            let stall = stream.flow_stall().since(stall_before);
            if stall.waits > 0 {
                counters.flow_stall_waits.fetch_add(stall.waits, Relaxed);
                counters.flow_stall_ns.fetch_add(stall.nanos, Relaxed);
            }
            match sent {
                None => {
                    if let Some(mark) = mark {
                        mark.discarded(updates);
                    }
                    discard(updates + queue.discard());
                    return StreamEnd::Stopped(self.close(stream).await);
                }
                Some(Ok(())) => {
                    if let Some(mark) = mark {
                        mark.sent_after(updates, stall);
                    }
                    counters.updates_sent.fetch_add(updates, Relaxed);
                    if !*healthy {
                        *healthy = true;
                        counters.healthy();
                    }
                }
                Some(Err(error)) => {
                    if let Some(mark) = mark {
                        mark.failed(updates);
                    }
                    counters.send_failures.fetch_add(1, Relaxed);
                    discard(updates + queue.discard());
                    let disconnect = self.disconnect(net, &error).await;
                    return StreamEnd::Broken(error, disconnect);
                }
            }
        }
    }

    /// Runs a serve session until it ends or a stop arrives.
    async fn serve(
        &self,
        session: Box<dyn ServeSession>,
        net: &DeviceNet,
        counters: &DeviceCounters,
        stop: &mut oneshot::Receiver<()>,
        healthy: &mut bool,
    ) -> StreamEnd {
        let (stop_tx, stop_rx) = watch::channel(false);
        let run = session.run(StopSignal(stop_rx));
        tokio::pin!(run);
        // A serve session carries no pushed messages: it is healthy once open.
        *healthy = true;
        counters.healthy();
        tokio::select! {
            biased;
            _ = &mut *stop => {
                stop_tx.send_replace(true);
                let timeout = self.tuning.close_timeout;
                let outcome = tokio::time::timeout(timeout, run)
                    .await
                    .unwrap_or(Err(FlavorError::CloseTimeout(timeout)));
                StreamEnd::Stopped(outcome)
            }
            ended = &mut run => {
                let error = ended.err().unwrap_or(FlavorError::Ended);
                let disconnect = self.disconnect(net, &error).await;
                StreamEnd::Broken(error, disconnect)
            }
        }
    }

    async fn close(&self, stream: Box<dyn PushStream>) -> Result<(), FlavorError> {
        let timeout = self.tuning.close_timeout;
        tokio::time::timeout(timeout, stream.close())
            .await
            .unwrap_or(Err(FlavorError::CloseTimeout(timeout)))
    }
}

/// A keepalive interval in ms for the counters (0 = none).
fn millis(interval: Option<Duration>) -> u64 {
    interval.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
