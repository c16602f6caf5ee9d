//! `cargo xtask bench-fleet [--quick] [--nl6-collector]`: the gNMI dial-out fleet
//! benchmark (issue 4).
//!
//! Starts `target/release/nl6d` in loopback mode with N dial-out devices (plaintext,
//! SAMPLE 1 s, 10 interfaces, the full state subtree = 170 leaves per notification)
//! pushing to a gNMIReverse receiver in this process, and measures over steady windows:
//! leaves/s delivered, nl6d CPU-seconds per million leaves, nl6d RSS per exporting device
//! and dropped updates. The receiver is a light sink (see [`Sink`]) unless
//! `--nl6-collector` asks for the nl6-collector library. A raw baseline encodes the same
//! notifications with the same `WireEncoder` and writes them over one plain TCP socket
//! (no gRPC, no HTTP/2): the practical limit. Last, on-change latency: links flipped over
//! REST on many devices, from the state change (the notification's timestamp) to the
//! embedded nl6-collector's receipt.
//!
//! The receiver's 10,000 server sockets need this process's open-files soft limit
//! raised, which [`run`] does (and checks). Every nl6d it starts is stopped by a guard,
//! also on error.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use nl6_collector::{CollectorConfig, CollectorHandle};
use nl6_ifstate::{DeviceModel, DeviceSpec, unix_now_ns};
use nl6_resolver::{Selection, Snapshot, ValueEncoding, WireEncoder};
use tokio::runtime::Runtime;
use tokio::sync::broadcast::error::RecvError;

use crate::support::cargo::{build_nl6d, needs_release_rerun, rerun_in_release};
use crate::support::daemon::{Nl6d, fleet_args};
use crate::support::procfs::{clock_ticks, cpu_seconds, load_average, rss_bytes};
use crate::support::stats::{median, percentile, thousands};
use crate::test::workspace_root;

/// First device address of every fleet the benchmark starts.
const START_IP: Ipv4Addr = Ipv4Addr::new(127, 50, 0, 1);
/// Interfaces per device.
const INTERFACES: u32 = 10;
/// Leaves of one device's full state subtree (17 per interface).
const LEAVES_PER_DEVICE: u64 = 170;
/// The pushed path (nl6d's default dial-out path).
const STATE_PATH: &str = "/interfaces/interface[name=*]/state";
/// Targets of issue 4.
const TARGET_CPU_PROTO: f64 = 0.25;
const TARGET_CPU_JSON: f64 = 0.4;
const TARGET_RSS_PER_DEVICE_B: f64 = 48.0 * 1024.0;
const TARGET_P99_MS: f64 = 5.0;
/// Devices the raw baseline cycles through (its own models, same shape as nl6d's).
const RAW_DEVICES: usize = 1_000;

/// What one run measures.
struct Sizes {
    fleets: Vec<u32>,
    warmup: Duration,
    windows: usize,
    window: Duration,
    raw_rounds: usize,
    raw_round: Duration,
    onchange_devices: u32,
    flips: usize,
    flip_rounds: usize,
    flip_pace: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                fleets: vec![100, 1_000],
                warmup: Duration::from_secs(2),
                windows: 2,
                window: Duration::from_secs(5),
                raw_rounds: 3,
                raw_round: Duration::from_millis(500),
                onchange_devices: 1_000,
                flips: 100,
                flip_rounds: 1,
                flip_pace: Duration::from_millis(10),
            }
        } else {
            Sizes {
                fleets: vec![1_000, 10_000],
                warmup: Duration::from_secs(5),
                windows: 3,
                window: Duration::from_secs(10),
                raw_rounds: 5,
                raw_round: Duration::from_secs(2),
                onchange_devices: 1_000,
                flips: 200,
                flip_rounds: 3,
                flip_pace: Duration::from_millis(10),
            }
        }
    }
}

/// The two dial-out encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Proto,
    JsonIetf,
}

impl Enc {
    const ALL: [Enc; 2] = [Enc::Proto, Enc::JsonIetf];

    fn flag(self) -> &'static str {
        match self {
            Enc::Proto => "proto",
            Enc::JsonIetf => "json_ietf",
        }
    }

    fn value_encoding(self) -> ValueEncoding {
        match self {
            Enc::Proto => ValueEncoding::Proto,
            Enc::JsonIetf => ValueEncoding::JsonIetf,
        }
    }

    fn cpu_target(self) -> f64 {
        match self {
            Enc::Proto => TARGET_CPU_PROTO,
            Enc::JsonIetf => TARGET_CPU_JSON,
        }
    }
}

/// Runs the benchmark; `args` are the task's arguments (`--quick`).
pub fn run(args: &[String]) -> Result<()> {
    let (quick, full_collector) = parse_args(args)?;
    let root = workspace_root();
    if needs_release_rerun() {
        // The embedded collector and the raw loop must be optimised too.
        return rerun_in_release(&root, "bench-fleet", args);
    }
    let nl6d = build_nl6d(&root)?;
    let sizes = Sizes::new(quick);
    let biggest = sizes
        .fleets
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(sizes.onchange_devices);
    let nofile = raise_open_files(u64::from(biggest) + 512)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the collector's runtime")?;
    let load_before = load_average();
    eprintln!(
        "==> bench-fleet ({}), load average {load_before}, open-files soft limit {nofile}, \
         SAMPLE sink: {}",
        if quick { "--quick" } else { "full" },
        sink_name(full_collector)
    );

    let mut raw = Vec::new();
    for enc in Enc::ALL {
        raw.push((enc, raw_baseline(enc, &sizes)?));
    }
    let idle_rss = idle_rss(&nl6d, &runtime)?;
    eprintln!(
        "    nl6d with 0 devices: RSS {:.1} MiB",
        idle_rss as f64 / MIB
    );
    let mut fleets = Vec::new();
    for &count in &sizes.fleets {
        for enc in Enc::ALL {
            fleets.push(measure_fleet(
                &nl6d,
                &runtime,
                &sizes,
                count,
                enc,
                full_collector,
            )?);
        }
    }
    let mut onchange = Vec::new();
    for enc in Enc::ALL {
        onchange.push(measure_onchange(&nl6d, &runtime, &sizes, enc)?);
    }
    let report = Report {
        quick,
        full_collector,
        load_before,
        load_after: load_average(),
        idle_rss,
        raw,
        fleets,
        onchange,
    };
    print!("{}", report.table());
    println!("\n--- markdown for docs/benchmarks.md ---\n");
    print!("{}", report.markdown());
    Ok(())
}

/// `--quick` and `--nl6-collector`.
fn parse_args(args: &[String]) -> Result<(bool, bool)> {
    let (mut quick, mut full_collector) = (false, false);
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            "--nl6-collector" => full_collector = true,
            other => {
                bail!("bench-fleet: unknown argument {other:?} (expected --quick, --nl6-collector)")
            }
        }
    }
    Ok((quick, full_collector))
}

// ---------------------------------------------------------------------------------
// The daemon under test.

/// Dial-out trigger of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Sample,
    OnChange,
}

/// A dial-out nl6d and its REST address; dropping it stops the process.
struct Daemon {
    nl6d: Nl6d,
    rest: SocketAddr,
}

impl Daemon {
    /// Starts nl6d with `count` dial-out devices pushing to `collector` and waits for
    /// its `nl6d ready:` line.
    fn start(
        bin: &Path,
        count: u32,
        enc: Enc,
        trigger: Trigger,
        collector: SocketAddr,
    ) -> Result<Daemon> {
        let rest = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mode = match trigger {
            Trigger::Sample => "sample",
            Trigger::OnChange => "on-change",
        };
        let mut args = fleet_args(START_IP, count, INTERFACES, &rest.to_string());
        args.extend(
            [
                "--gnmi-mode",
                "dial-out",
                "--gnmi-dialout-collector",
                &collector.to_string(),
                "--gnmi-dialout-tls=false",
                "--gnmi-dialout-encoding",
                enc.flag(),
                "--gnmi-dialout-sub-mode",
                mode,
                "--gnmi-dialout-interval",
                "1s",
            ]
            .map(String::from),
        );
        let mut nl6d = Nl6d::spawn(bin, &args, "warn")?;
        nl6d.wait_ready(Duration::from_secs(60 + u64::from(count) / 500))?;
        Ok(Daemon { nl6d, rest })
    }

    fn pid(&self) -> u32 {
        self.nl6d.pid()
    }

    /// The summed dial-out counters of `GET /api/v1/gnmi/dialout/status`.
    fn dialout(&self) -> Result<DialoutTotals> {
        let (code, body) = http(self.rest, "GET", "/api/v1/gnmi/dialout/status", None)?;
        if code != 200 {
            bail!("dial-out status: HTTP {code}: {body}");
        }
        DialoutTotals::parse(&body)
    }

    /// Sets the link of `ip`'s interface `ifindex` over REST.
    fn set_link(&self, ip: Ipv4Addr, ifindex: u32, status: &str) -> Result<()> {
        let path = format!("/api/v1/devices/{ip}/interfaces/{ifindex}/oper-status");
        let body = format!("{{\"status\":\"{status}\"}}");
        let (code, reply) = http(self.rest, "POST", &path, Some(&body))?;
        if code != 202 && code != 200 {
            bail!("POST {path}: HTTP {code}: {reply}");
        }
        Ok(())
    }

    /// SIGTERM and wait for exit 0.
    fn stop(self) -> Result<()> {
        self.nl6d.stop()
    }

    fn log_tail(&self) -> String {
        self.nl6d.log_tail()
    }
}

/// Sums of the dial-out status over all collectors.
#[derive(Debug, Clone, Copy, Default)]
struct DialoutTotals {
    streams_active: u64,
    updates_sent: u64,
    updates_dropped: u64,
    reconnects: u64,
    send_failures: u64,
}

impl DialoutTotals {
    fn parse(body: &str) -> Result<DialoutTotals> {
        let json: serde_json::Value =
            serde_json::from_str(body).context("dial-out status is not JSON")?;
        let mut totals = DialoutTotals::default();
        let collectors = json["collectors"]
            .as_array()
            .ok_or_else(|| anyhow!("dial-out status has no collectors[]: {body}"))?;
        for c in collectors {
            let field = |name: &str| c[name].as_u64().unwrap_or(0);
            totals.streams_active += field("streams_active");
            totals.updates_sent += field("updates_sent");
            totals.updates_dropped += field("updates_dropped");
            totals.reconnects += field("reconnects");
            totals.send_failures += field("send_failures");
        }
        Ok(totals)
    }
}

// ---------------------------------------------------------------------------------
// Measurements.

const MIB: f64 = 1024.0 * 1024.0;

/// RSS of nl6d with no device (dial-out configured), once it settled.
fn idle_rss(bin: &Path, runtime: &Runtime) -> Result<u64> {
    let sink = Sink::start(runtime, false)?;
    let daemon = Daemon::start(bin, 0, Enc::Proto, Trigger::Sample, sink.local_addr())?;
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_bytes(daemon.pid())?;
    daemon.stop()?;
    sink.shutdown(runtime)?;
    Ok(rss)
}

fn sink_name(full_collector: bool) -> &'static str {
    if full_collector {
        "nl6-collector library (full decode)"
    } else {
        "light gNMIReverse sink (tonic, counts leaves without decoding)"
    }
}

/// One fleet size × encoding, medians over the steady windows.
struct FleetResult {
    devices: u32,
    enc: Enc,
    /// From `ready` to all streams up.
    streams_up: Duration,
    leaves_per_s: f64,
    cpu_per_mleaf: f64,
    sink_cpu_per_mleaf: f64,
    rss: u64,
    /// Median SAMPLE delivery latency p50 / p99 (ms) over the windows.
    latency: Option<(f64, f64)>,
    totals: DialoutTotals,
    windows: Vec<Window>,
    window_secs: f64,
}

/// One steady window.
struct Window {
    leaves_per_s: f64,
    cpu_per_mleaf: f64,
    sink_cpu_per_mleaf: f64,
    dropped: u64,
    rss: u64,
    latency: Option<(f64, f64)>,
}

/// A reading at the edge of a window.
struct Reading {
    at: Instant,
    cpu: f64,
    self_cpu: f64,
    sink: SinkCounts,
    dropped: u64,
}

fn reading(daemon: &Daemon, sink: &Sink) -> Result<Reading> {
    let dropped = daemon.dialout()?.updates_dropped;
    Ok(Reading {
        at: Instant::now(),
        cpu: cpu_seconds(daemon.pid())?,
        self_cpu: process_cpu_seconds(),
        sink: sink.counts(),
        dropped,
    })
}

fn window(daemon: &Daemon, before: &Reading, after: &Reading) -> Result<Window> {
    let leaves = after.sink.leaves - before.sink.leaves;
    let mleaves = (leaves as f64 / 1e6).max(1e-9);
    Ok(Window {
        leaves_per_s: leaves as f64 / (after.at - before.at).as_secs_f64(),
        cpu_per_mleaf: (after.cpu - before.cpu) / mleaves,
        sink_cpu_per_mleaf: (after.self_cpu - before.self_cpu) / mleaves,
        dropped: after.dropped - before.dropped,
        rss: rss_bytes(daemon.pid())?,
        latency: after.sink.latency.percentiles_since(&before.sink.latency),
    })
}

fn measure_fleet(
    bin: &Path,
    runtime: &Runtime,
    sizes: &Sizes,
    count: u32,
    enc: Enc,
    full_collector: bool,
) -> Result<FleetResult> {
    eprintln!("==> {count} devices, {}, SAMPLE 1 s", enc.flag());
    let sink = Sink::start(runtime, full_collector)?;
    let daemon = Daemon::start(bin, count, enc, Trigger::Sample, sink.local_addr())?;
    let ready = Instant::now();
    wait_streams(&daemon, || sink.streams_active(), count)?;
    let streams_up = ready.elapsed();
    eprintln!(
        "    {count} streams up in {:.1} s",
        streams_up.as_secs_f64()
    );
    std::thread::sleep(sizes.warmup);
    let mut windows = Vec::new();
    for _ in 0..sizes.windows {
        let before = reading(&daemon, &sink)?;
        std::thread::sleep(sizes.window);
        let after = reading(&daemon, &sink)?;
        if after.sink.streams_active != u64::from(count) {
            eprintln!(
                "    warning: {} of {count} streams open at the window's end",
                after.sink.streams_active
            );
        }
        let w = window(&daemon, &before, &after)?;
        eprintln!(
            "    window: {:.0} leaves/s, nl6d {:.3} CPU-s/M leaves, sink {:.3}, RSS {:.1} MiB, \
             dropped {}, latency p50/p99 {}",
            w.leaves_per_s,
            w.cpu_per_mleaf,
            w.sink_cpu_per_mleaf,
            w.rss as f64 / MIB,
            w.dropped,
            w.latency
                .map_or("-".into(), |(a, b)| format!("{a:.1}/{b:.1} ms"))
        );
        windows.push(w);
    }
    let totals = daemon.dialout()?;
    daemon.stop()?;
    sink.shutdown(runtime)?;
    let latencies: Vec<(f64, f64)> = windows.iter().filter_map(|w| w.latency).collect();
    Ok(FleetResult {
        devices: count,
        enc,
        streams_up,
        leaves_per_s: median(windows.iter().map(|w| w.leaves_per_s)),
        cpu_per_mleaf: median(windows.iter().map(|w| w.cpu_per_mleaf)),
        sink_cpu_per_mleaf: median(windows.iter().map(|w| w.sink_cpu_per_mleaf)),
        rss: median(windows.iter().map(|w| w.rss as f64)) as u64,
        latency: (!latencies.is_empty()).then(|| {
            (
                median(latencies.iter().map(|l| l.0)),
                median(latencies.iter().map(|l| l.1)),
            )
        }),
        totals,
        windows,
        window_secs: sizes.window.as_secs_f64(),
    })
}

/// Waits until nl6d and the receiving side both count `count` open streams.
fn wait_streams(daemon: &Daemon, receiver_streams: impl Fn() -> u64, count: u32) -> Result<()> {
    let timeout = Duration::from_secs(30 + u64::from(count) / 100);
    let deadline = Instant::now() + timeout;
    let want = u64::from(count);
    loop {
        let totals = daemon.dialout()?;
        let seen = receiver_streams();
        if totals.streams_active == want && seen == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "after {timeout:?}: nl6d has {} streams up, the receiver {seen}, want {want} \
                 ({totals:?}){}",
                totals.streams_active,
                daemon.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A collector on a free loopback port, embedded in this process.
fn start_collector(runtime: &Runtime) -> Result<CollectorHandle> {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    runtime
        .block_on(nl6_collector::start(CollectorConfig::plaintext(listen)))
        .context("starting the collector")
}

// ---------------------------------------------------------------------------------
// The SAMPLE sink: where the fleet pushes during the throughput windows.

/// Receives the fleet's Publish streams during the SAMPLE windows.
///
/// `Light` (the default) is a gNMIReverse server on the same tonic/h2 stack as
/// nl6-collector that only walks each message's top-level fields (leaf count and
/// timestamp) instead of building prost structs: nl6-collector's full decode costs
/// ~3x nl6d's CPU per leaf, so on this 2-core machine it, not nl6d, would limit 10,000
/// devices. `Full` is the nl6-collector library (`--nl6-collector`).
enum Sink {
    Light(LightSink),
    Full(CollectorHandle),
}

/// What a sink counted so far.
struct SinkCounts {
    streams_active: u64,
    leaves: u64,
    /// Notification timestamp → receipt, cumulative.
    latency: LatencyHist,
}

impl Sink {
    fn start(runtime: &Runtime, full: bool) -> Result<Sink> {
        Ok(if full {
            Sink::Full(start_collector(runtime)?)
        } else {
            Sink::Light(LightSink::start(runtime)?)
        })
    }

    fn local_addr(&self) -> SocketAddr {
        match self {
            Sink::Light(s) => s.addr,
            Sink::Full(c) => c.local_addr(),
        }
    }

    fn streams_active(&self) -> u64 {
        match self {
            Sink::Light(s) => s.counters.streams_active.load(Relaxed),
            Sink::Full(c) => c.stats().streams_active,
        }
    }

    fn counts(&self) -> SinkCounts {
        match self {
            Sink::Light(s) => SinkCounts {
                streams_active: s.counters.streams_active.load(Relaxed),
                leaves: s.counters.leaves.load(Relaxed),
                latency: LatencyHist::Light(
                    s.counters.latency.iter().map(|b| b.load(Relaxed)).collect(),
                ),
            },
            Sink::Full(c) => {
                let stats = c.stats();
                SinkCounts {
                    streams_active: stats.streams_active,
                    leaves: stats.leaves,
                    latency: LatencyHist::Full(stats.latency),
                }
            }
        }
    }

    fn shutdown(self, runtime: &Runtime) -> Result<()> {
        match self {
            Sink::Light(s) => s.shutdown(runtime),
            Sink::Full(c) => Ok(runtime.block_on(c.shutdown())?),
        }
    }
}

/// A cumulative latency histogram of either sink.
enum LatencyHist {
    Light(Vec<u64>),
    Full(nl6_collector::Latency),
}

impl LatencyHist {
    /// p50 and p99 in ms of the samples recorded after `earlier`.
    fn percentiles_since(&self, earlier: &LatencyHist) -> Option<(f64, f64)> {
        match (self, earlier) {
            (LatencyHist::Light(now), LatencyHist::Light(before)) => {
                let delta: Vec<u64> = now.iter().zip(before).map(|(a, b)| a - b).collect();
                Some((
                    light_percentile(&delta, 0.5)?,
                    light_percentile(&delta, 0.99)?,
                ))
            }
            (LatencyHist::Full(now), LatencyHist::Full(before)) => {
                let delta = now.since(before);
                let ms = |q| delta.percentile(q).map(|d| d.as_secs_f64() * 1e3);
                Some((ms(0.5)?, ms(0.99)?))
            }
            _ => None,
        }
    }
}

/// Light-sink latency buckets: 0.1 ms up to 100 ms, 10 ms up to 10 s, then one overflow.
const FINE_BUCKETS: u64 = 1_000;
const COARSE_BUCKETS: u64 = 990;
const LATENCY_BUCKETS: usize = (FINE_BUCKETS + COARSE_BUCKETS + 1) as usize;

fn latency_bucket(micros: u64) -> usize {
    let b = if micros < 100_000 {
        micros / 100
    } else {
        (FINE_BUCKETS + (micros - 100_000) / 10_000).min(FINE_BUCKETS + COARSE_BUCKETS)
    };
    b as usize
}

/// The middle of bucket `index`, in ms.
fn latency_bucket_ms(index: usize) -> f64 {
    let i = index as u64;
    if i < FINE_BUCKETS {
        (i as f64 + 0.5) * 0.1
    } else {
        100.0 + ((i - FINE_BUCKETS) as f64 + 0.5) * 10.0
    }
}

fn light_percentile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(latency_bucket_ms(i));
        }
    }
    None
}

/// Counters of the light sink.
struct LightCounters {
    streams_active: AtomicU64,
    leaves: AtomicU64,
    malformed: AtomicU64,
    latency: Vec<AtomicU64>,
}

/// The light gNMIReverse sink (see [`Sink`]).
struct LightSink {
    addr: SocketAddr,
    counters: Arc<LightCounters>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl LightSink {
    fn start(runtime: &Runtime) -> Result<LightSink> {
        let counters = Arc::new(LightCounters {
            streams_active: AtomicU64::new(0),
            leaves: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            latency: (0..LATENCY_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        });
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let incoming = runtime
            .block_on(async { tonic::transport::server::TcpIncoming::bind(listen) })
            .context("light sink: bind")?;
        let addr = incoming.local_addr().context("light sink: local address")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let service = LightService(counters.clone());
        let server = runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stopped.await;
                }),
        );
        Ok(LightSink {
            addr,
            counters,
            stop,
            server,
        })
    }

    fn shutdown(self, runtime: &Runtime) -> Result<()> {
        let _ = self.stop.send(());
        let malformed = self.counters.malformed.load(Relaxed);
        let mut server = self.server;
        let waited = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), &mut server).await });
        match waited {
            Ok(joined) => joined
                .context("light sink task failed")?
                .context("light sink stopped with an error")?,
            Err(_) => server.abort(),
        }
        if malformed > 0 {
            bail!("light sink: {malformed} messages were not SubscribeResponse updates");
        }
        Ok(())
    }
}

/// The gNMIReverse service of the light sink: every method is handled as `Publish`.
#[derive(Clone)]
struct LightService(Arc<LightCounters>);

impl tonic::server::NamedService for LightService {
    const NAME: &'static str = "gnmireverse.gNMIReverse";
}

impl<B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for LightService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let counters = self.0.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(SummaryCodec)
                .apply_max_message_size_config(Some(64 * 1024 * 1024), None);
            Ok(grpc.client_streaming(LightPublish(counters), request).await)
        })
    }
}

/// One `Publish` call of the light sink.
struct LightPublish(Arc<LightCounters>);

/// Keeps `streams_active` right however the call ends.
struct ActiveStream(Arc<LightCounters>);

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.streams_active.fetch_sub(1, Relaxed);
    }
}

impl tonic::server::ClientStreamingService<Option<Summary>> for LightPublish {
    type Response = ();
    type Future = tonic::codegen::BoxFuture<tonic::Response<()>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Option<Summary>>>) -> Self::Future {
        let counters = self.0.clone();
        Box::pin(async move {
            counters.streams_active.fetch_add(1, Relaxed);
            let _active = ActiveStream(counters.clone());
            let mut stream = request.into_inner();
            while let Some(summary) = stream.message().await? {
                let Some(summary) = summary else {
                    counters.malformed.fetch_add(1, Relaxed);
                    continue;
                };
                let received = unix_now_ns();
                counters.leaves.fetch_add(summary.updates, Relaxed);
                let micros = received.saturating_sub(summary.timestamp_ns) / 1_000;
                counters.latency[latency_bucket(micros)].fetch_add(1, Relaxed);
            }
            Ok(tonic::Response::new(()))
        })
    }
}

/// What the light sink keeps of one `SubscribeResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    updates: u64,
    timestamp_ns: u64,
}

/// Decodes [`Summary`]s (`None` for anything but an update) and encodes `Empty` replies.
#[derive(Debug, Clone, Copy, Default)]
struct SummaryCodec;

impl tonic::codec::Codec for SummaryCodec {
    type Encode = ();
    type Decode = Option<Summary>;
    type Encoder = SummaryCodec;
    type Decoder = SummaryCodec;

    fn encoder(&mut self) -> Self::Encoder {
        SummaryCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        SummaryCodec
    }
}

impl tonic::codec::Encoder for SummaryCodec {
    type Item = ();
    type Error = tonic::Status;

    /// `google.protobuf.Empty` encodes to no bytes.
    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl tonic::codec::Decoder for SummaryCodec {
    type Item = Option<Summary>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        use bytes::Buf as _;
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(summarize(&bytes)))
    }
}

/// Leaf count and timestamp of an encoded `SubscribeResponse{update: Notification}`,
/// found by walking the wire format (no allocation); `None` if it is anything else.
fn summarize(response: &[u8]) -> Option<Summary> {
    let mut outer = WireReader(response);
    while let Some((field, wire)) = outer.key()? {
        if field == 1 && wire == 2 {
            return summarize_notification(outer.bytes()?);
        }
        outer.skip(wire)?;
    }
    None
}

/// `Notification{timestamp = 1; prefix = 2; update = 4 (repeated); ...}`.
fn summarize_notification(notification: &[u8]) -> Option<Summary> {
    let mut r = WireReader(notification);
    let mut summary = Summary {
        updates: 0,
        timestamp_ns: 0,
    };
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 0) => summary.timestamp_ns = r.varint()?,
            (4, 2) => {
                r.bytes()?;
                summary.updates += 1;
            }
            _ => r.skip(wire)?,
        }
    }
    Some(summary)
}

/// A protobuf wire-format cursor.
struct WireReader<'a>(&'a [u8]);

impl<'a> WireReader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Some(value);
            }
        }
        None
    }

    /// The next (field number, wire type), `Some(None)` at the end, `None` if malformed.
    fn key(&mut self) -> Option<Option<(u64, u8)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        Some(Some((key >> 3, (key & 7) as u8)))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let (value, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(value)
    }

    fn skip(&mut self, wire: u8) -> Option<()> {
        let n = match wire {
            0 => return self.varint().map(|_| ()),
            1 => 8,
            2 => return self.bytes().map(|_| ()),
            5 => 4,
            _ => return None,
        };
        self.0 = self.0.get(n..)?;
        Some(())
    }
}

// ---------------------------------------------------------------------------------
// The raw baseline: same notifications, one plain TCP socket, one loop.

/// Median of the raw rounds of one encoding.
struct RawResult {
    cpu_per_mleaf: f64,
    leaves_per_s: f64,
    bytes_per_message: f64,
}

/// One device of the raw loop: its model, encoder and target.
struct RawDevice {
    model: Arc<DeviceModel>,
    encoder: WireEncoder,
    target: String,
}

fn raw_baseline(enc: Enc, sizes: &Sizes) -> Result<RawResult> {
    let path = nl6_gnmi::parse_path(STATE_PATH).map_err(|e| anyhow!("{STATE_PATH}: {e}"))?;
    let mut devices = Vec::with_capacity(RAW_DEVICES);
    for i in 0..RAW_DEVICES as u32 {
        let spec = DeviceSpec {
            seed: u64::from(i),
            interfaces: INTERFACES,
            ..DeviceSpec::default()
        };
        let model = Arc::new(DeviceModel::new(&spec).map_err(|e| anyhow!("device spec: {e}"))?);
        devices.push(RawDevice {
            encoder: WireEncoder::new(model.names()),
            model,
            target: Ipv4Addr::from(u32::from(START_IP) + i).to_string(),
        });
    }
    let selection = Selection::compile(None, &[path], devices[0].model.names())
        .map_err(|e| anyhow!("compiling {STATE_PATH}: {e}"))?;
    if selection.leaf_count() as u64 != LEAVES_PER_DEVICE {
        bail!("{STATE_PATH} selects {} leaves", selection.leaf_count());
    }
    let mut rounds = Vec::new();
    for _ in 0..sizes.raw_rounds {
        rounds.push(raw_round(
            enc.value_encoding(),
            &mut devices,
            &selection,
            sizes.raw_round,
        )?);
    }
    let result = RawResult {
        cpu_per_mleaf: median(rounds.iter().map(|r| r.cpu_per_mleaf)),
        leaves_per_s: median(rounds.iter().map(|r| r.leaves_per_s)),
        bytes_per_message: median(rounds.iter().map(|r| r.bytes_per_message)),
    };
    eprintln!(
        "==> raw baseline {}: {:.3} CPU-s/M leaves, {:.0} leaves/s on one thread, {:.0} B/message",
        enc.flag(),
        result.cpu_per_mleaf,
        result.leaves_per_s,
        result.bytes_per_message
    );
    Ok(result)
}

/// Encodes and writes for `duration` on this thread; CPU is this thread's only.
fn raw_round(
    encoding: ValueEncoding,
    devices: &mut [RawDevice],
    selection: &Selection,
    duration: Duration,
) -> Result<RawResult> {
    let listener = TcpListener::bind("127.0.0.1:0").context("raw sink: bind")?;
    let addr = listener.local_addr()?;
    let sink = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut conn, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let mut conn = TcpStream::connect(addr).context("raw sink: connect")?;
    conn.set_nodelay(true)?;
    let (mut leaves, mut bytes, mut messages) = (0u64, 0u64, 0u64);
    let cpu_start = thread_cpu_seconds();
    let start = Instant::now();
    while start.elapsed() < duration {
        for dev in devices.iter_mut() {
            let snapshot = Snapshot::capture(&dev.model, unix_now_ns(), selection);
            // A gRPC-style 5-byte frame header in front, then the response, as dial-out
            // builds it: a fresh buffer per message.
            let mut frame = Vec::new();
            frame.extend_from_slice(&[0; 5]);
            let updates = dev.encoder.encode_response(
                &snapshot,
                selection.masks(),
                encoding,
                Some(&dev.target),
                &mut frame,
            );
            let len = u32::try_from(frame.len() - 5).context("message over 4 GiB")?;
            frame[1..5].copy_from_slice(&len.to_be_bytes());
            conn.write_all(&frame).context("raw sink: write")?;
            leaves += updates as u64;
            bytes += frame.len() as u64;
            messages += 1;
        }
    }
    let cpu = thread_cpu_seconds() - cpu_start;
    let wall = start.elapsed().as_secs_f64();
    drop(conn);
    let received = sink
        .join()
        .map_err(|_| anyhow!("raw sink thread panicked"))?
        .context("raw sink: read")?;
    if received != bytes {
        bail!("raw sink received {received} of {bytes} bytes");
    }
    Ok(RawResult {
        cpu_per_mleaf: cpu / (leaves as f64 / 1e6),
        leaves_per_s: leaves as f64 / wall,
        bytes_per_message: bytes as f64 / messages as f64,
    })
}

// ---------------------------------------------------------------------------------
// On-change latency.

/// Latencies of one encoding's flips, per round.
struct OnChangeResult {
    devices: u32,
    enc: Enc,
    flips: usize,
    rounds: Vec<Percentiles>,
    lagged: u64,
}

/// p50 / p99 / max of one round, in ms.
#[derive(Debug, Clone, Copy)]
struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut samples: Vec<f64>) -> Percentiles {
        samples.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
            max: percentile(&samples, 1.0),
        }
    }
}

/// State-change → collector latencies of event notifications, gathered in the runtime.
struct EventLatencies {
    samples: Arc<Mutex<Vec<f64>>>,
    lagged: Arc<std::sync::atomic::AtomicU64>,
}

impl EventLatencies {
    /// Records every notification with fewer than `max_leaves` leaves (events, not
    /// the on-change snapshot).
    fn start(runtime: &Runtime, collector: &CollectorHandle, max_leaves: usize) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let lagged = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut rx = collector.subscribe();
        let (out, lag) = (samples.clone(), lagged.clone());
        runtime.spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(received) => {
                        let n = &received.notification;
                        if n.update.is_empty() || n.update.len() >= max_leaves {
                            continue;
                        }
                        let Ok(ts) = u64::try_from(n.timestamp) else {
                            continue;
                        };
                        let sent = UNIX_EPOCH + Duration::from_nanos(ts);
                        let ms = match received.received_at.duration_since(sent) {
                            Ok(d) => d.as_secs_f64() * 1e3,
                            Err(e) => -e.duration().as_secs_f64() * 1e3,
                        };
                        if let Ok(mut out) = out.lock() {
                            out.push(ms);
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        lag.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        EventLatencies { samples, lagged }
    }

    /// Waits until `count` samples arrived and takes them.
    fn take(&self, count: usize, timeout: Duration) -> Result<Vec<f64>> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut samples = self
                    .samples
                    .lock()
                    .map_err(|_| anyhow!("latency lock poisoned"))?;
                if samples.len() >= count {
                    return Ok(std::mem::take(&mut *samples));
                }
                if Instant::now() >= deadline {
                    bail!(
                        "only {} of {count} on-change notifications within {timeout:?}",
                        samples.len()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn measure_onchange(
    bin: &Path,
    runtime: &Runtime,
    sizes: &Sizes,
    enc: Enc,
) -> Result<OnChangeResult> {
    let count = sizes.onchange_devices;
    eprintln!("==> on-change latency: {count} devices, {}", enc.flag());
    let collector = start_collector(runtime)?;
    let daemon = Daemon::start(bin, count, enc, Trigger::OnChange, collector.local_addr())?;
    wait_streams(&daemon, || collector.stats().streams_active, count)?;
    // Every stream starts with a snapshot (5 on-change leaves per interface).
    runtime
        .block_on(collector.wait_until(Duration::from_secs(30), |s| {
            s.notifications >= u64::from(count)
        }))
        .map_err(|s| anyhow!("on-change snapshots incomplete: {s:?}"))?;
    let mut devices: Vec<Ipv4Addr> = collector
        .targets()
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    devices.sort_unstable();
    if devices.len() != count as usize {
        bail!("{} distinct targets, want {count}", devices.len());
    }
    let latencies = EventLatencies::start(runtime, &collector, 5 * INTERFACES as usize);
    let mut rounds = Vec::new();
    for round in 0..sizes.flip_rounds {
        let status = if round % 2 == 0 { "DOWN" } else { "UP" };
        for i in 0..sizes.flips {
            let device = devices[i * devices.len() / sizes.flips];
            let ifindex = 1 + (i as u32 % INTERFACES);
            daemon.set_link(device, ifindex, status)?;
            std::thread::sleep(sizes.flip_pace);
        }
        let samples = latencies.take(sizes.flips, Duration::from_secs(10))?;
        let p = Percentiles::of(samples);
        eprintln!(
            "    round {}: {} flips {status}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            round + 1,
            sizes.flips,
            p.p50,
            p.p99,
            p.max
        );
        rounds.push(p);
    }
    let lagged = latencies.lagged.load(std::sync::atomic::Ordering::Relaxed);
    daemon.stop()?;
    runtime.block_on(collector.shutdown())?;
    Ok(OnChangeResult {
        devices: count,
        enc,
        flips: sizes.flips,
        rounds,
        lagged,
    })
}

// ---------------------------------------------------------------------------------
// Small helpers: HTTP, rusage, limits.

/// One HTTP/1.1 request (`Connection: close`); returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("REST: connect {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    conn.set_nodelay(true)?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes())
        .with_context(|| format!("REST: {method} {path}"))?;
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply)
        .with_context(|| format!("REST: reading the reply to {method} {path}"))?;
    parse_http_reply(&reply).with_context(|| format!("REST: {method} {path}"))
}

/// Status code and body of a complete HTTP/1.1 reply (plain or chunked body).
fn parse_http_reply(reply: &[u8]) -> Result<(u16, String)> {
    let text = String::from_utf8_lossy(reply);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("reply without a header end"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad status line in {head:?}"))?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok((code, body))
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| anyhow!("truncated chunk header"))?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or_else(|| anyhow!("truncated chunk"))?;
        out.push_str(chunk);
        body = rest.get(size + 2..).unwrap_or("");
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn rusage_seconds(who: libc::c_int) -> f64 {
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
fn thread_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_THREAD)
}

/// CPU time of this process (the embedded collector, mostly), in seconds.
fn process_cpu_seconds() -> f64 {
    rusage_seconds(libc::RUSAGE_SELF)
}

/// Raises this process's open-files soft limit to the hard limit; fails if that is
/// below `needed` (the embedded collector holds one socket per device).
fn raise_open_files(needed: u64) -> Result<u64> {
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

// ---------------------------------------------------------------------------------
// The report.

struct Report {
    quick: bool,
    full_collector: bool,
    load_before: String,
    load_after: String,
    idle_rss: u64,
    raw: Vec<(Enc, RawResult)>,
    fleets: Vec<FleetResult>,
    onchange: Vec<OnChangeResult>,
}

impl Report {
    fn raw(&self, enc: Enc) -> Option<&RawResult> {
        self.raw.iter().find(|(e, _)| *e == enc).map(|(_, r)| r)
    }

    fn rss_per_device(&self, f: &FleetResult) -> f64 {
        (f.rss as f64 - self.idle_rss as f64) / f64::from(f.devices.max(1))
    }

    fn fleet_rows(&self) -> Vec<[String; 10]> {
        self.fleets
            .iter()
            .map(|f| {
                let expected = f64::from(f.devices) * LEAVES_PER_DEVICE as f64;
                let raw = self.raw(f.enc).map_or(f64::NAN, |r| r.cpu_per_mleaf);
                [
                    thousands(u64::from(f.devices)),
                    f.enc.flag().to_string(),
                    format!(
                        "{} ({:.1}%)",
                        thousands(f.leaves_per_s.round() as u64),
                        100.0 * f.leaves_per_s / expected
                    ),
                    format!("{:.3} (≤ {})", f.cpu_per_mleaf, f.enc.cpu_target()),
                    format!("{raw:.3}"),
                    format!("{:.1}x", f.cpu_per_mleaf / raw),
                    format!("{:.1} KiB", self.rss_per_device(f) / 1024.0),
                    format!(
                        "{} / {} / {}",
                        f.totals.updates_dropped, f.totals.reconnects, f.totals.send_failures
                    ),
                    f.latency
                        .map_or("-".into(), |(p50, p99)| format!("{p50:.1} / {p99:.1} ms")),
                    format!("{:.1} s", f.streams_up.as_secs_f64()),
                ]
            })
            .collect()
    }

    fn onchange_rows(&self) -> Vec<[String; 6]> {
        self.onchange
            .iter()
            .map(|o| {
                let p50 = median(o.rounds.iter().map(|r| r.p50));
                let p99 = median(o.rounds.iter().map(|r| r.p99));
                let max = o.rounds.iter().map(|r| r.max).fold(f64::NAN, f64::max);
                [
                    thousands(u64::from(o.devices)),
                    o.enc.flag().to_string(),
                    format!("{} × {}", o.rounds.len(), o.flips),
                    format!("{p50:.2} ms"),
                    format!("{p99:.2} ms (≤ {TARGET_P99_MS})"),
                    format!("{max:.2} ms"),
                ]
            })
            .collect()
    }

    const FLEET_HEAD: [&'static str; 10] = [
        "devices",
        "encoding",
        "leaves/s delivered",
        "nl6d CPU-s / M leaves",
        "raw CPU-s / M leaves",
        "nl6d / raw",
        "RSS / device",
        "dropped / reconnects / send failures",
        "delivery p50 / p99",
        "streams up in",
    ];
    const ONCHANGE_HEAD: [&'static str; 6] = ["devices", "encoding", "flips", "p50", "p99", "max"];

    fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\nbench-fleet ({}): load average {} before, {} after; nl6d idle RSS {:.1} MiB; \
             SAMPLE sink: {}\n\n",
            if self.quick { "--quick" } else { "full" },
            self.load_before,
            self.load_after,
            self.idle_rss as f64 / MIB,
            sink_name(self.full_collector)
        ));
        out.push_str(&plain_table(&Self::FLEET_HEAD, &self.fleet_rows()));
        out.push('\n');
        for (enc, r) in &self.raw {
            out.push_str(&format!(
                "raw baseline {}: {:.3} CPU-s / M leaves, {} leaves/s on one thread, {:.0} B per message\n",
                enc.flag(),
                r.cpu_per_mleaf,
                thousands(r.leaves_per_s.round() as u64),
                r.bytes_per_message
            ));
        }
        for f in &self.fleets {
            out.push_str(&format!(
                "{} {}: sink (this process) {:.3} CPU-s / M leaves; one CPU tick = {:.4} CPU-s / M leaves; \
                 windows (leaves/s, CPU-s/M): {}\n",
                f.devices,
                f.enc.flag(),
                f.sink_cpu_per_mleaf,
                1.0 / clock_ticks() / (f.leaves_per_s * f.window_secs / 1e6),
                f.windows
                    .iter()
                    .map(|w| format!("{:.0}/{:.3}/drop {}", w.leaves_per_s, w.cpu_per_mleaf, w.dropped))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push('\n');
        out.push_str(&plain_table(&Self::ONCHANGE_HEAD, &self.onchange_rows()));
        for o in &self.onchange {
            if o.lagged > 0 {
                out.push_str(&format!(
                    "warning: {} {}: the latency receiver lagged by {} notifications\n",
                    o.devices,
                    o.enc.flag(),
                    o.lagged
                ));
            }
        }
        out.push('\n');
        out.push_str(&self.verdicts().join("\n"));
        out.push('\n');
        out
    }

    /// One line per target: met or missed, and by how much.
    fn verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &self.fleets {
            let target = f.enc.cpu_target();
            lines.push(verdict(
                &format!("{} {} CPU-s / M leaves", f.devices, f.enc.flag()),
                f.cpu_per_mleaf,
                target,
            ));
            lines.push(verdict(
                &format!("{} {} RSS / device (KiB)", f.devices, f.enc.flag()),
                self.rss_per_device(f) / 1024.0,
                TARGET_RSS_PER_DEVICE_B / 1024.0,
            ));
            let ok = f.totals.updates_dropped == 0;
            lines.push(format!(
                "{} {} {} dropped: {}",
                if ok { "MET   " } else { "MISSED" },
                f.devices,
                f.enc.flag(),
                f.totals.updates_dropped
            ));
        }
        for o in &self.onchange {
            lines.push(verdict(
                &format!("on-change {} {} p99 (ms)", o.devices, o.enc.flag()),
                median(o.rounds.iter().map(|r| r.p99)),
                TARGET_P99_MS,
            ));
        }
        lines
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "`cargo xtask bench-fleet{}` — nl6d release, loopback, plaintext gNMIReverse, \
             SAMPLE 1 s, 10 interfaces, full state subtree (170 leaves per notification); \
             receiving side in the xtask process: {}. CPU = nl6d utime+stime over steady \
             windows (median of {}); raw = the same notifications (`WireEncoder`) written by \
             one loop over one plain TCP socket (that thread's CPU). RSS / device = (RSS with \
             N − RSS with 0 devices) / N. Delivery = receipt − notification timestamp.\n\n",
            if self.quick { " --quick" } else { "" },
            sink_name(self.full_collector),
            self.fleets.first().map_or(0, |f| f.windows.len())
        ));
        out.push_str(&markdown_table(&Self::FLEET_HEAD, &self.fleet_rows()));
        out.push('\n');
        out.push_str(
            "On-change (nl6-collector library embedded): link flips over REST spread over the \
             devices, 10 ms apart; latency = collector receipt − notification timestamp (the \
             event's last-change); median of the rounds' percentiles.\n\n",
        );
        out.push_str(&markdown_table(&Self::ONCHANGE_HEAD, &self.onchange_rows()));
        out.push_str(&format!(
            "\n(load average {} before, {} after.)\n",
            self.load_before, self.load_after
        ));
        out
    }
}

fn verdict(what: &str, value: f64, target: f64) -> String {
    if value <= target {
        format!("MET    {what}: {value:.3} ≤ {target}")
    } else {
        format!(
            "MISSED {what}: {value:.3} > {target} (by {:.0}%)",
            100.0 * (value / target - 1.0)
        )
    }
}

fn plain_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}", w = *w))
            .collect();
        padded.join("  ") + "\n"
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn markdown_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut out = format!("| {} |\n", head.join(" | "));
    let align: Vec<&str> = (0..N).map(|i| if i < 2 { "---" } else { "---:" }).collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_replies() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_http_reply(plain).unwrap(), (202, "{}".to_string()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            parse_http_reply(chunked).unwrap(),
            (200, "abcde".to_string())
        );
        assert!(parse_http_reply(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn sums_dialout_status() {
        let body = r#"{"subsystem_active":true,"devices_exporting":3,"collectors":[
            {"collector":"a","flavor":"gnmireverse","devices":2,"streams_active":2,
             "updates_sent":340,"updates_dropped":1,"reconnects":0,"send_failures":0},
            {"collector":"b","flavor":"gnmireverse","devices":1,"streams_active":1,
             "updates_sent":170,"updates_dropped":0,"reconnects":2,"send_failures":1}]}"#;
        let t = DialoutTotals::parse(body).unwrap();
        assert_eq!(
            (t.streams_active, t.updates_sent, t.updates_dropped),
            (3, 510, 1)
        );
        assert_eq!((t.reconnects, t.send_failures), (2, 1));
    }

    #[test]
    fn round_percentiles() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p99, p.max), (50.0, 99.0, 100.0));
    }

    #[test]
    fn summarizes_wire_encoder_output() {
        let model = DeviceModel::new(&DeviceSpec::default()).unwrap();
        let path = nl6_gnmi::parse_path(STATE_PATH).unwrap();
        let selection = Selection::compile(None, &[path], model.names()).unwrap();
        let mut encoder = WireEncoder::new(model.names());
        let snapshot = Snapshot::capture(&model, 1_700_000_000_123_456_789, &selection);
        let mut out = Vec::new();
        let n = encoder.encode_response(
            &snapshot,
            selection.masks(),
            ValueEncoding::JsonIetf,
            Some("127.50.0.1"),
            &mut out,
        );
        let summary = summarize(&out).unwrap();
        assert_eq!(summary.updates, n as u64);
        assert_eq!(summary.updates, LEAVES_PER_DEVICE);
        assert_eq!(summary.timestamp_ns, 1_700_000_000_123_456_789);
        assert_eq!(summarize(&out[..out.len() - 1]), None, "truncated");
    }

    #[test]
    fn summarizes_only_updates() {
        use nl6_gnmi::codec::Encoded;
        use nl6_gnmi::proto::gnmi::{SubscribeResponse, subscribe_response::Response};
        let sync = Encoded::from_message(&SubscribeResponse {
            response: Some(Response::SyncResponse(true)),
            extension: vec![],
        });
        assert_eq!(summarize(&sync.0), None);
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn light_latency_buckets() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(150), 1);
        assert_eq!(latency_bucket(99_999), 999);
        assert_eq!(latency_bucket(100_000), 1_000);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
        let mut hist = vec![0u64; LATENCY_BUCKETS];
        for micros in (1..=100u64).map(|ms| ms * 1_000) {
            hist[latency_bucket(micros)] += 1;
        }
        let p50 = light_percentile(&hist, 0.5).unwrap();
        let p99 = light_percentile(&hist, 0.99).unwrap();
        assert!((50.0..=50.2).contains(&p50), "{p50}");
        assert!((99.0..=100.1).contains(&p99), "{p99}");
        assert_eq!(light_percentile(&[0; 3], 0.5), None);
    }
}
