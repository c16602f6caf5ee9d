//! `cargo xtask bench-dialin [--quick]`: the gNMI dial-in fleet benchmark.
//!
//! Starts `target/release/nl6d` in loopback mode with plaintext dial-in and measures:
//! (a) RSS added per idle device, (b) time to create the start-up batch, (c) Subscribe
//! ONCE latency of one device's full interface state, and (d) STREAM SAMPLE at 1 s to
//! many devices at once from this process (leaves/s and nl6d CPU per million leaves).
//! Prints a table, then the same figures as a markdown snippet for docs/benchmarks.md.
//! Every nl6d it starts is stopped by a guard, also on error.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::subscribe_response::Response as SubResponse;
use nl6_gnmi::proto::gnmi::{
    Encoding, SubscribeRequest, Subscription, SubscriptionList, SubscriptionMode,
    subscribe_request, subscription_list,
};
use tonic::transport::{Channel, Endpoint};

use crate::support::cargo::{build_nl6d, needs_release_rerun, rerun_in_release};
use crate::support::daemon::{self, Nl6d};
use crate::support::procfs::{cpu_seconds, load_average, rss_kib, status_kib};
use crate::support::stats::{median, percentile, thousands};
use crate::test::workspace_root;

/// First device address of every fleet the benchmark starts.
const START_IP: Ipv4Addr = Ipv4Addr::new(127, 60, 0, 1);
/// Interfaces per device (10 interfaces = 170 state leaves).
const INTERFACES: u32 = 10;
/// State leaves of one device (17 per interface).
const LEAVES_PER_DEVICE: u32 = 17 * INTERFACES;
/// The subscribed path: a device's whole interface state.
const STATE_PATH: &str = "/interfaces/interface[name=*]/state";
/// SAMPLE interval of the STREAM part.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// The dial-in targets the report checks.
/// RSS per idle device: `generic` (interfaces only) and any profile with subtrees.
const TARGET_RSS_GENERIC_B: f64 = 512.0;
const TARGET_RSS_PROFILE_B: f64 = 4096.0;
const TARGET_CREATE_100K_MS: f64 = 1000.0;
const TARGET_ONCE_MEDIAN_US: f64 = 1000.0;

/// What one run measures.
struct Sizes {
    fleets: Vec<u32>,
    rounds: usize,
    once_rpcs: usize,
    once_warmup: usize,
    stream_devices: u32,
    stream_warmup: Duration,
    stream_steady: Duration,
    /// The device profile of every fleet (`--device-type`).
    device_type: String,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                fleets: vec![1_000],
                rounds: 1,
                once_rpcs: 200,
                once_warmup: 20,
                stream_devices: 200,
                stream_warmup: Duration::from_secs(2),
                stream_steady: Duration::from_secs(3),
                device_type: "generic".to_string(),
            }
        } else {
            Sizes {
                fleets: vec![10_000, 100_000],
                rounds: 3,
                once_rpcs: 1_000,
                once_warmup: 100,
                stream_devices: 1_000,
                stream_warmup: Duration::from_secs(3),
                stream_steady: Duration::from_secs(10),
                device_type: "generic".to_string(),
            }
        }
    }
}

/// Runs the benchmark; `args` are the task's arguments (`--quick`).
pub fn run(args: &[String]) -> Result<()> {
    let (quick, device_type) = parse_args(args)?;
    let root = workspace_root();
    if needs_release_rerun() {
        // The client side must be optimised too: a debug client would dominate the latency.
        return rerun_in_release(&root, "bench-dialin", args);
    }
    let nl6d = build_nl6d(&root)?;
    let mut sizes = Sizes::new(quick);
    sizes.device_type = device_type;
    let load_before = load_average();
    eprintln!(
        "==> bench-dialin ({}, device type {}), load average {load_before}",
        mode(quick),
        sizes.device_type
    );
    let fleets = measure_fleets(&nl6d, &sizes)?;
    let (once, streams) = measure_rpcs(&nl6d, &sizes)?;
    let report = Report {
        quick,
        device_type: sizes.device_type.clone(),
        load_before,
        load_after: load_average(),
        fleets,
        once,
        streams,
    };
    print!("{}", report.table());
    println!("\n--- markdown for docs/benchmarks.md ---\n");
    print!("{}", report.markdown());
    Ok(())
}

/// `--quick` and `--device-type NAME` (default `generic`).
fn parse_args(args: &[String]) -> Result<(bool, String)> {
    let mut quick = false;
    let mut device_type = "generic".to_string();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--device-type" => match args.next() {
                Some(name) => device_type = name.clone(),
                None => bail!("bench-dialin: --device-type needs a profile name"),
            },
            other => bail!(
                "bench-dialin: unknown argument {other:?} (expected --quick or --device-type NAME)"
            ),
        }
    }
    Ok((quick, device_type))
}

fn mode(quick: bool) -> &'static str {
    if quick { "--quick" } else { "full" }
}

// ---------------------------------------------------------------------------------
// The daemon under test.

/// Starts nl6d with a loopback fleet of `count` devices and plaintext dial-in on a free
/// port.
fn spawn_fleet(bin: &Path, count: u32, device_type: &str) -> Result<Nl6d> {
    let mut args = daemon::fleet_args(START_IP, count, INTERFACES, "127.0.0.1:0");
    args.extend(["--device-type".to_string(), device_type.to_string()]);
    Nl6d::spawn(bin, &args, "info")
}

/// RSS once two readings 500 ms apart agree within 1 % (or at the deadline), and
/// whether it did settle.
fn settled_rss_kib(pid: u32) -> Result<(u64, bool)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = rss_kib(pid)?;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = rss_kib(pid)?;
        if now.abs_diff(last) as f64 <= 0.01 * now as f64 {
            return Ok((now, true));
        }
        if Instant::now() >= deadline {
            return Ok((now, false));
        }
        last = now;
    }
}

// ---------------------------------------------------------------------------------
// (a) + (b): idle fleets.

/// One start of nl6d with an idle fleet.
struct FleetRun {
    rss_kib: u64,
    anon_kib: u64,
    settled: bool,
    took_ms: Option<f64>,
    wall: Duration,
}

/// Every start of one fleet size.
struct FleetResult {
    devices: u32,
    runs: Vec<FleetRun>,
}

fn start_fleet(bin: &Path, count: u32, device_type: &str) -> Result<FleetRun> {
    let mut daemon = spawn_fleet(bin, count, device_type)?;
    let ready = daemon.wait_ready(Duration::from_secs(180))?;
    if ready.devices != count {
        bail!(
            "asked nl6d for {count} devices, it reports {}",
            ready.devices
        );
    }
    let took_ms = if count > 0 {
        daemon.took_ms(Duration::from_secs(5))
    } else {
        None
    };
    let (rss_kib, settled) = settled_rss_kib(daemon.pid())?;
    let anon_kib = status_kib(daemon.pid(), "RssAnon")?;
    if count > 0 {
        // After the RSS reading: a connection costs memory.
        probe_device(device_ip(count - 1), ready.port)?;
    }
    Ok(FleetRun {
        rss_kib,
        anon_kib,
        settled,
        took_ms,
        wall: ready.wall,
    })
}

/// Checks that `ip` serves its whole state (so every device of the batch exists).
fn probe_device(ip: Ipv4Addr, port: u16) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async {
        let mut client = connect(ip, port).await?;
        let request = state_request(subscription_list::Mode::Once, Encoding::JsonIetf)?;
        let leaves = subscribe_once(&mut client, &request).await?;
        let expected = u64::from(LEAVES_PER_DEVICE);
        if leaves != expected {
            bail!("device {ip} answered Subscribe ONCE with {leaves} leaves, expected {expected}");
        }
        Ok(())
    })
}

/// Baseline (0 devices) and every fleet size, `rounds` times, interleaved.
fn measure_fleets(bin: &Path, sizes: &Sizes) -> Result<Vec<FleetResult>> {
    let mut results: Vec<FleetResult> = std::iter::once(0)
        .chain(sizes.fleets.iter().copied())
        .map(|devices| FleetResult {
            devices,
            runs: Vec::new(),
        })
        .collect();
    for round in 1..=sizes.rounds {
        for result in &mut results {
            let run = start_fleet(bin, result.devices, &sizes.device_type)?;
            eprintln!(
                "    round {round}: {:>7} devices: RSS {} KiB{}, created in {}, ready after {:.0} ms",
                result.devices,
                thousands(run.rss_kib),
                if run.settled { "" } else { " (not settled)" },
                run.took_ms
                    .map_or("-".into(), |t| format!("{t:.1} ms (took_ms)")),
                run.wall.as_secs_f64() * 1e3,
            );
            result.runs.push(run);
        }
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------
// (c) + (d): RPCs against one fleet.

/// Median, p99 and cost of sequential Subscribe ONCE RPCs.
struct OnceResult {
    encoding: &'static str,
    rpcs: usize,
    leaves: u64,
    median_us: f64,
    p99_us: f64,
    nl6d_cpu_us_per_rpc: f64,
}

/// Steady-state STREAM SAMPLE throughput.
struct StreamResult {
    encoding: &'static str,
    devices: u32,
    setup: Duration,
    window: Duration,
    leaves_per_s: f64,
    expected_per_s: f64,
    nl6d_cpu_s_per_m_leaves: f64,
    nl6d_cpu_pct: f64,
    client_cpu_pct: f64,
    errors: u64,
}

impl OnceResult {
    /// Encoding, RPCs, leaves, median, p99 and nl6d CPU per RPC (µs), formatted.
    fn cells(&self) -> [String; 6] {
        [
            self.encoding.to_string(),
            thousands(self.rpcs as u64),
            self.leaves.to_string(),
            format!("{:.0}", self.median_us),
            format!("{:.0}", self.p99_us),
            format!("{:.0}", self.nl6d_cpu_us_per_rpc),
        ]
    }
}

impl StreamResult {
    /// Encoding, devices, leaves/s, expected leaves/s, nl6d CPU-s per M leaves, nl6d
    /// and client CPU %, formatted.
    fn cells(&self) -> [String; 7] {
        [
            self.encoding.to_string(),
            thousands(u64::from(self.devices)),
            thousands(self.leaves_per_s.round() as u64),
            thousands(self.expected_per_s as u64),
            format!("{:.2}", self.nl6d_cpu_s_per_m_leaves),
            format!("{:.0}", self.nl6d_cpu_pct),
            format!("{:.0}", self.client_cpu_pct),
        ]
    }
}

const ENCODINGS: [(Encoding, &str); 2] = [
    (Encoding::JsonIetf, "JSON_IETF"),
    (Encoding::Proto, "PROTO"),
];

fn measure_rpcs(bin: &Path, sizes: &Sizes) -> Result<(Vec<OnceResult>, Vec<StreamResult>)> {
    let mut daemon = spawn_fleet(bin, sizes.stream_devices, &sizes.device_type)?;
    let ready = daemon.wait_ready(Duration::from_secs(60))?;
    let pid = daemon.pid();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async {
        let mut once = Vec::new();
        for (encoding, name) in ENCODINGS {
            let result = once_latency(pid, ready.port, encoding, name, sizes).await?;
            eprintln!(
                "    ONCE {name}: median {:.0} µs, p99 {:.0} µs",
                result.median_us, result.p99_us
            );
            once.push(result);
        }
        let mut streams = Vec::new();
        for (encoding, name) in ENCODINGS {
            let result = stream_sample(pid, ready.port, encoding, name, sizes).await?;
            eprintln!(
                "    STREAM {name}: {:.0} leaves/s, {:.2} nl6d CPU-s per M leaves",
                result.leaves_per_s, result.nl6d_cpu_s_per_m_leaves
            );
            streams.push(result);
        }
        Ok((once, streams))
    })
}

/// The address of the `i`-th device (0-based) of the fleet.
fn device_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(START_IP) + i)
}

async fn connect(ip: Ipv4Addr, port: u16) -> Result<GNmiClient<Channel>> {
    let channel = Endpoint::from_shared(format!("http://{ip}:{port}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .with_context(|| format!("connecting to {ip}:{port}"))?;
    Ok(GNmiClient::new(channel).max_decoding_message_size(64 << 20))
}

/// A Subscribe request for the whole interface state of a device.
fn state_request(mode: subscription_list::Mode, encoding: Encoding) -> Result<SubscribeRequest> {
    let path =
        nl6_gnmi::path::parse_path(STATE_PATH).map_err(|e| anyhow!("parsing {STATE_PATH}: {e}"))?;
    let sample = mode == subscription_list::Mode::Stream;
    let subscription = Subscription {
        path: Some(path),
        mode: if sample {
            SubscriptionMode::Sample as i32
        } else {
            SubscriptionMode::TargetDefined as i32
        },
        sample_interval: if sample {
            SAMPLE_INTERVAL.as_nanos() as u64
        } else {
            0
        },
        ..Default::default()
    };
    Ok(SubscribeRequest {
        request: Some(subscribe_request::Request::Subscribe(SubscriptionList {
            subscription: vec![subscription],
            mode: mode as i32,
            encoding: encoding as i32,
            ..Default::default()
        })),
        extension: Vec::new(),
    })
}

/// One Subscribe ONCE: returns the leaves received; fails without a sync_response.
async fn subscribe_once(
    client: &mut GNmiClient<Channel>,
    request: &SubscribeRequest,
) -> Result<u64> {
    let mut stream = client
        .subscribe(futures::stream::iter([request.clone()]))
        .await?
        .into_inner();
    let mut leaves = 0;
    let mut synced = false;
    while let Some(response) = stream.message().await? {
        match response.response {
            Some(SubResponse::Update(n)) => leaves += n.update.len() as u64,
            Some(SubResponse::SyncResponse(true)) => synced = true,
            _ => {}
        }
    }
    if !synced {
        bail!("Subscribe ONCE ended without a sync_response");
    }
    Ok(leaves)
}

/// (c): sequential Subscribe ONCE RPCs on one channel to the first device.
async fn once_latency(
    pid: u32,
    port: u16,
    encoding: Encoding,
    name: &'static str,
    sizes: &Sizes,
) -> Result<OnceResult> {
    let request = state_request(subscription_list::Mode::Once, encoding)?;
    let mut client = connect(device_ip(0), port).await?;
    let mut leaves = 0;
    for _ in 0..sizes.once_warmup {
        leaves = subscribe_once(&mut client, &request).await?;
    }
    let cpu_before = cpu_seconds(pid)?;
    let mut took = Vec::with_capacity(sizes.once_rpcs);
    for _ in 0..sizes.once_rpcs {
        let began = Instant::now();
        let got = subscribe_once(&mut client, &request).await?;
        took.push(began.elapsed().as_secs_f64() * 1e6);
        if got != leaves {
            bail!("Subscribe ONCE returned {got} leaves, earlier {leaves}");
        }
    }
    let cpu = cpu_seconds(pid)? - cpu_before;
    took.sort_by(f64::total_cmp);
    Ok(OnceResult {
        encoding: name,
        rpcs: sizes.once_rpcs,
        leaves,
        median_us: percentile(&took, 0.5),
        p99_us: percentile(&took, 0.99),
        nl6d_cpu_us_per_rpc: cpu * 1e6 / sizes.once_rpcs as f64,
    })
}

/// Counters shared by every stream of (d).
#[derive(Default)]
struct StreamCounters {
    leaves: AtomicU64,
    synced: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl StreamCounters {
    fn fail(&self, e: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| format!("{e:#}"));
        }
    }
}

/// One device's STREAM: connect, subscribe, count leaves until aborted.
async fn run_stream(
    ip: Ipv4Addr,
    port: u16,
    request: SubscribeRequest,
    counters: Arc<StreamCounters>,
    setup: Arc<tokio::sync::Semaphore>,
) {
    let opened = async {
        let _permit = setup.acquire().await?;
        let mut client = connect(ip, port).await?;
        let stream = client
            .subscribe(futures::stream::iter([request]))
            .await?
            .into_inner();
        anyhow::Ok((client, stream))
    };
    let (_client, mut stream) = match opened.await {
        Ok(pair) => pair,
        Err(e) => return counters.fail(&e),
    };
    loop {
        match stream.message().await {
            Ok(Some(response)) => match response.response {
                Some(SubResponse::Update(n)) => {
                    counters
                        .leaves
                        .fetch_add(n.update.len() as u64, Ordering::Relaxed);
                }
                Some(SubResponse::SyncResponse(true)) => {
                    counters.synced.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
            Ok(None) => {
                return counters.fail(&anyhow!("the STREAM to {ip} ended"));
            }
            Err(status) => return counters.fail(&anyhow!("the STREAM to {ip}: {status}")),
        }
    }
}

/// (d): STREAM SAMPLE at 1 s to `stream_devices` devices, one connection each.
async fn stream_sample(
    pid: u32,
    port: u16,
    encoding: Encoding,
    name: &'static str,
    sizes: &Sizes,
) -> Result<StreamResult> {
    let devices = sizes.stream_devices;
    let request = state_request(subscription_list::Mode::Stream, encoding)?;
    let counters = Arc::new(StreamCounters::default());
    let setup_limit = Arc::new(tokio::sync::Semaphore::new(64));
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..devices {
        tasks.spawn(run_stream(
            device_ip(i),
            port,
            request.clone(),
            counters.clone(),
            setup_limit.clone(),
        ));
    }
    let deadline = began + Duration::from_secs(120);
    while counters.synced.load(Ordering::Relaxed) < u64::from(devices) {
        if counters.errors.load(Ordering::Relaxed) > 0 || Instant::now() >= deadline {
            let first = counters.first_error.lock().ok().and_then(|f| f.clone());
            bail!(
                "{name}: {} of {devices} streams synced after {:?}; first error: {}",
                counters.synced.load(Ordering::Relaxed),
                began.elapsed(),
                first.unwrap_or_else(|| "none (timed out)".into()),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup = began.elapsed();
    tokio::time::sleep(sizes.stream_warmup).await;
    let me = std::process::id();
    let (leaves0, cpu0, client0, t0) = (
        counters.leaves.load(Ordering::Relaxed),
        cpu_seconds(pid)?,
        cpu_seconds(me)?,
        Instant::now(),
    );
    tokio::time::sleep(sizes.stream_steady).await;
    let (leaves1, cpu1, client1, window) = (
        counters.leaves.load(Ordering::Relaxed),
        cpu_seconds(pid)?,
        cpu_seconds(me)?,
        t0.elapsed(),
    );
    tasks.shutdown().await;
    let leaves = (leaves1 - leaves0) as f64;
    let secs = window.as_secs_f64();
    Ok(StreamResult {
        encoding: name,
        devices,
        setup,
        window,
        leaves_per_s: leaves / secs,
        expected_per_s: f64::from(devices) * f64::from(LEAVES_PER_DEVICE)
            / SAMPLE_INTERVAL.as_secs_f64(),
        nl6d_cpu_s_per_m_leaves: (cpu1 - cpu0) / (leaves / 1e6),
        nl6d_cpu_pct: (cpu1 - cpu0) / secs * 100.0,
        client_cpu_pct: (client1 - client0) / secs * 100.0,
        errors: counters.errors.load(Ordering::Relaxed),
    })
}

// ---------------------------------------------------------------------------------
// Output.

/// Everything one run measured.
struct Report {
    quick: bool,
    device_type: String,
    load_before: String,
    load_after: String,
    fleets: Vec<FleetResult>,
    once: Vec<OnceResult>,
    streams: Vec<StreamResult>,
}

/// Per-size medians derived from the runs.
struct FleetRow {
    devices: u32,
    rss_kib: f64,
    anon_kib: f64,
    per_device_b: Option<f64>,
    took_ms: Option<f64>,
    wall_ms: f64,
    settled: bool,
}

impl FleetRow {
    /// `RSS added per device` as a table cell (`—` for the baseline).
    fn per_device_cell(&self) -> String {
        self.per_device_b.map_or("—".into(), |b| {
            format!("{} B", thousands(b.round() as u64))
        })
    }

    /// The batch's `took_ms` as a table cell (`—` if nl6d logged none).
    fn took_cell(&self) -> String {
        self.took_ms.map_or("—".into(), |t| format!("{t:.1} ms"))
    }
}

impl Report {
    fn fleet_rows(&self) -> Vec<FleetRow> {
        let baseline = self.fleets.iter().find(|f| f.devices == 0);
        let base_rss = baseline.map_or(0.0, |b| median(b.runs.iter().map(|r| r.rss_kib as f64)));
        self.fleets
            .iter()
            .map(|f| FleetRow {
                devices: f.devices,
                rss_kib: median(f.runs.iter().map(|r| r.rss_kib as f64)),
                anon_kib: median(f.runs.iter().map(|r| r.anon_kib as f64)),
                per_device_b: (f.devices > 0).then(|| {
                    median(
                        f.runs
                            .iter()
                            .map(|r| (r.rss_kib as f64 - base_rss) * 1024.0 / f64::from(f.devices)),
                    )
                }),
                took_ms: {
                    let took: Vec<f64> = f.runs.iter().filter_map(|r| r.took_ms).collect();
                    (!took.is_empty()).then(|| median(took.into_iter()))
                },
                wall_ms: median(f.runs.iter().map(|r| r.wall.as_secs_f64() * 1e3)),
                settled: f.runs.iter().all(|r| r.settled),
            })
            .collect()
    }

    fn rounds(&self) -> usize {
        self.fleets.first().map_or(0, |f| f.runs.len())
    }

    fn table(&self) -> String {
        let mut s = String::new();
        let rounds = self.rounds();
        s += &format!(
            "\ngNMI dial-in fleet benchmark ({}, device type {}; load average {} before, {} after)\n\n",
            mode(self.quick),
            self.device_type,
            self.load_before,
            self.load_after
        );
        s += &format!("(a)+(b) idle fleets, medians of {rounds} start(s):\n");
        s += &format!(
            "  {:>8}  {:>12}  {:>12}  {:>14}  {:>14}  {:>14}\n",
            "devices", "VmRSS", "RssAnon", "RSS/device", "batch took_ms", "spawn→ready"
        );
        for row in self.fleet_rows() {
            s += &format!(
                "  {:>8}  {:>8} KiB  {:>8} KiB  {:>14}  {:>14}  {:>11.0} ms{}\n",
                thousands(row.devices as u64),
                thousands(row.rss_kib as u64),
                thousands(row.anon_kib as u64),
                row.per_device_cell(),
                row.took_cell(),
                row.wall_ms,
                if row.settled {
                    ""
                } else {
                    "  (RSS not settled)"
                },
            );
        }
        s += "  (RSS read once settled; then the last device of each fleet answered a Subscribe ONCE)\n";
        s += "\n(c) Subscribe ONCE, one device, sequential RPCs on one channel \
              (nl6d CPU from 10 ms clock ticks):\n";
        for o in &self.once {
            let [enc, rpcs, leaves, median, p99, cpu] = o.cells();
            s += &format!(
                "  {enc:<9}  {rpcs} RPCs, {leaves} leaves each: median {median} µs, p99 {p99} µs, \
                 nl6d CPU {cpu} µs/RPC\n"
            );
        }
        s += "\n(d) STREAM SAMPLE every 1 s, one connection per device, this process as client:\n";
        for st in &self.streams {
            let [enc, devices, leaves, expected, cpu_m, cpu, client] = st.cells();
            s += &format!(
                "  {enc:<9}  {devices} devices (set up in {:.1} s): {leaves} leaves/s over {:.1} s \
                 (expected {expected}), nl6d {cpu_m} CPU-s per M leaves, nl6d CPU {cpu} %, \
                 client CPU {client} %, {} errors\n",
                st.setup.as_secs_f64(),
                st.window.as_secs_f64(),
                st.errors,
            );
        }
        s += &self.verdicts();
        s
    }

    fn verdicts(&self) -> String {
        let rows = self.fleet_rows();
        let mut s = String::from("\ntargets:\n");
        let rss_target = if self.device_type == "generic" {
            TARGET_RSS_GENERIC_B
        } else {
            TARGET_RSS_PROFILE_B
        };
        for row in rows.iter().filter(|r| r.devices > 0) {
            if let Some(b) = row.per_device_b {
                s += &format!(
                    "  RSS/device at {} devices ({}): {} B (target ≤ {} B): {}\n",
                    thousands(row.devices as u64),
                    self.device_type,
                    thousands(b.round() as u64),
                    thousands(rss_target as u64),
                    verdict(b, rss_target)
                );
            }
        }
        if let Some(row) = rows.iter().find(|r| r.devices == 100_000)
            && let Some(t) = row.took_ms
        {
            s += &format!(
                "  create 100,000 devices: {t:.0} ms (target ≤ 1,000 ms): {}\n",
                verdict(t, TARGET_CREATE_100K_MS)
            );
        }
        for o in &self.once {
            s += &format!(
                "  ONCE {} median: {:.0} µs (target ≤ 1,000 µs): {}\n",
                o.encoding,
                o.median_us,
                verdict(o.median_us, TARGET_ONCE_MEDIAN_US)
            );
        }
        s
    }

    fn markdown(&self) -> String {
        let mut s = String::new();
        let rounds = self.rounds();
        s += "| fleet | VmRSS | RSS added per device | batch `took_ms` | spawn → ready |\n\
              | ---: | ---: | ---: | ---: | ---: |\n";
        for row in self.fleet_rows() {
            s += &format!(
                "| {} | {} KiB | {} | {} | {:.0} ms |\n",
                thousands(row.devices as u64),
                thousands(row.rss_kib as u64),
                row.per_device_cell(),
                row.took_cell(),
                row.wall_ms
            );
        }
        s += &format!("\n(medians of {rounds} starts)\n\n");
        s += "| Subscribe ONCE, 1 device | leaves | median | p99 | nl6d CPU per RPC |\n\
              | --- | ---: | ---: | ---: | ---: |\n";
        for o in &self.once {
            let [enc, rpcs, leaves, median, p99, cpu] = o.cells();
            s += &format!(
                "| {enc} ({rpcs} RPCs) | {leaves} | {median} µs | {p99} µs | {cpu} µs |\n"
            );
        }
        s += "\n| STREAM SAMPLE 1 s | devices | leaves/s (expected) | nl6d CPU-s per M leaves | nl6d CPU | client CPU |\n\
              | --- | ---: | ---: | ---: | ---: | ---: |\n";
        for st in &self.streams {
            let [enc, devices, leaves, expected, cpu_m, cpu, client] = st.cells();
            s += &format!(
                "| {enc} | {devices} | {leaves} ({expected}) | {cpu_m} s | {cpu} % | {client} % |\n"
            );
        }
        s += &format!(
            "\n(load average {} before, {} after)\n",
            self.load_before, self.load_after
        );
        s
    }
}

fn verdict(value: f64, target: f64) -> String {
    if value <= target {
        "met".into()
    } else {
        format!(
            "MISSED by {:.0} % ({:.2}x)",
            (value / target - 1.0) * 100.0,
            value / target
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_device_addresses() {
        assert_eq!(verdict(1.0, 2.0), "met");
        assert_eq!(device_ip(256), Ipv4Addr::new(127, 60, 1, 1));
    }
}
