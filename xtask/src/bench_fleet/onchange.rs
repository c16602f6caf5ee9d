//! On-change latency: link flips over REST to the embedded collector's receipt.

use super::*;

/// Latencies of one encoding's flips, per round.
pub(super) struct OnChangeResult {
    pub(super) devices: u32,
    pub(super) enc: Enc,
    pub(super) flavor: Flavor,
    pub(super) flips: usize,
    pub(super) rounds: Vec<Percentiles>,
    pub(super) lagged: u64,
}

/// p50 / p99 / max of one round, in ms.
#[derive(Debug, Clone, Copy)]
pub(super) struct Percentiles {
    pub(super) p50: f64,
    pub(super) p99: f64,
    pub(super) max: f64,
}

impl Percentiles {
    pub(super) fn of(mut samples: Vec<f64>) -> Percentiles {
        samples.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&samples, 0.5),
            p99: percentile(&samples, 0.99),
            max: percentile(&samples, 1.0),
        }
    }
}

/// State-change → collector latencies of event notifications, gathered in the runtime.
pub(super) struct EventLatencies {
    pub(super) samples: Arc<Mutex<Vec<f64>>>,
    pub(super) lagged: Arc<std::sync::atomic::AtomicU64>,
}

impl EventLatencies {
    /// Records every notification with fewer than `max_leaves` leaves (events, not
    /// the on-change snapshot).
    pub(super) fn start(runtime: &Runtime, collector: &CollectorHandle, max_leaves: usize) -> Self {
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
    pub(super) fn take(&self, count: usize, timeout: Duration) -> Result<Vec<f64>> {
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

pub(super) fn measure_onchange(
    bin: &Path,
    runtime: &Runtime,
    sizes: &Sizes,
    enc: Enc,
    dial: Dial<'_>,
) -> Result<OnChangeResult> {
    let count = sizes.onchange_devices;
    eprintln!(
        "==> on-change latency: {count} devices, {}, {}, {}",
        dial.flavor.name(),
        dial.transport(),
        enc.flag()
    );
    let collector = start_collector(runtime, dial.tls)?;
    let daemon = Daemon::start(
        bin,
        count,
        enc,
        Trigger::OnChange,
        collector.local_addr(),
        dial,
    )?;
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
        flavor: dial.flavor,
        flips: sizes.flips,
        rounds,
        lagged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_percentiles() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p99, p.max), (50.0, 99.0, 100.0));
    }
}
