//! Fleet measurements: steady windows of leaves/s, CPU, RSS and drops.

use super::*;

pub(super) const MIB: f64 = 1024.0 * 1024.0;

/// RSS of nl6d with no device (dial-out configured), once it settled.
pub(super) fn idle_rss(bin: &Path, runtime: &Runtime, dial: Dial<'_>) -> Result<u64> {
    let sink = Sink::start(runtime, false, dial.tls)?;
    let daemon = Daemon::start(bin, 0, Enc::Proto, Trigger::Sample, sink.local_addr(), dial)?;
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_bytes(daemon.pid())?;
    daemon.stop()?;
    sink.shutdown(runtime)?;
    Ok(rss)
}

pub(super) fn sink_name(full_collector: bool) -> &'static str {
    if full_collector {
        "nl6-collector library (full decode)"
    } else {
        "light sink (tonic, all three flavors' Publish, counts leaves without decoding)"
    }
}

/// One fleet size × encoding, medians over the steady windows.
pub(super) struct FleetResult {
    pub(super) devices: u32,
    pub(super) enc: Enc,
    pub(super) flavor: Flavor,
    /// From `ready` to all streams up.
    pub(super) streams_up: Duration,
    pub(super) leaves_per_s: f64,
    pub(super) cpu_per_mleaf: f64,
    pub(super) sink_cpu_per_mleaf: f64,
    pub(super) rss: u64,
    /// Median SAMPLE delivery latency p50 / p99 (ms) over the windows.
    pub(super) latency: Option<(f64, f64)>,
    pub(super) totals: DialoutTotals,
    pub(super) windows: Vec<Window>,
    pub(super) window_secs: f64,
}

/// One steady window.
pub(super) struct Window {
    pub(super) leaves_per_s: f64,
    pub(super) cpu_per_mleaf: f64,
    pub(super) sink_cpu_per_mleaf: f64,
    pub(super) dropped: u64,
    pub(super) rss: u64,
    pub(super) latency: Option<(f64, f64)>,
}

/// A reading at the edge of a window.
pub(super) struct Reading {
    pub(super) at: Instant,
    pub(super) cpu: f64,
    pub(super) self_cpu: f64,
    pub(super) sink: SinkCounts,
    pub(super) dropped: u64,
}

pub(super) fn reading(daemon: &Daemon, sink: &Sink) -> Result<Reading> {
    let dropped = daemon.dialout()?.updates_dropped;
    Ok(Reading {
        at: Instant::now(),
        cpu: cpu_seconds(daemon.pid())?,
        self_cpu: process_cpu_seconds(),
        sink: sink.counts(),
        dropped,
    })
}

pub(super) fn window(daemon: &Daemon, before: &Reading, after: &Reading) -> Result<Window> {
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

pub(super) fn measure_fleet(
    bin: &Path,
    runtime: &Runtime,
    sizes: &Sizes,
    count: u32,
    enc: Enc,
    dial: Dial<'_>,
    full_collector: bool,
) -> Result<FleetResult> {
    eprintln!(
        "==> {count} devices, {}, {}, {}, SAMPLE 1 s",
        dial.flavor.name(),
        dial.transport(),
        enc.flag()
    );
    let sink = Sink::start(runtime, full_collector, dial.tls)?;
    let daemon = Daemon::start(bin, count, enc, Trigger::Sample, sink.local_addr(), dial)?;
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
        flavor: dial.flavor,
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
pub(super) fn wait_streams(
    daemon: &Daemon,
    receiver_streams: impl Fn() -> u64,
    count: u32,
) -> Result<()> {
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

/// A collector on a free loopback port, embedded in this process; with `tls`, it
/// presents the benchmark's certificate.
pub(super) fn start_collector(
    runtime: &Runtime,
    tls: Option<&BenchTls>,
) -> Result<CollectorHandle> {
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = match tls {
        None => CollectorConfig::plaintext(listen),
        Some(tls) => CollectorConfig::tls(listen, tls.server.clone()),
    };
    runtime
        .block_on(nl6_collector::start(config))
        .context("starting the collector")
}
