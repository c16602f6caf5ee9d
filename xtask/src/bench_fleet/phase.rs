//! SAMPLE phase: how evenly a fleet's samples reach the collector over each second, with
//! `--gnmi-dialout-phase spread` (the default) and `aligned`.

use super::*;

/// The two phases.
pub(super) const PHASES: [&str; 2] = ["spread", "aligned"];

/// Arrivals of one phase over a steady window.
pub(super) struct PhaseResult {
    pub(super) phase: &'static str,
    pub(super) flavor: Flavor,
    pub(super) devices: u32,
    /// Leaves/s delivered in each 100 ms slot of the second.
    pub(super) slots: [f64; sink::ARRIVAL_SLOTS],
}

impl PhaseResult {
    /// The busiest slot's rate over the mean slot rate (1.0 = perfectly even, 10 = all
    /// in one slot).
    pub(super) fn peak_to_mean(&self) -> f64 {
        let mean = self.slots.iter().sum::<f64>() / self.slots.len() as f64;
        let peak = self.slots.iter().copied().fold(0.0, f64::max);
        if mean > 0.0 { peak / mean } else { 0.0 }
    }
}

pub(super) fn measure_phase(
    bin: &Path,
    runtime: &Runtime,
    sizes: &Sizes,
    phase: &'static str,
    dial: Dial<'_>,
) -> Result<PhaseResult> {
    let count = sizes.phase_devices;
    eprintln!(
        "==> {count} devices, {}, {}, proto, SAMPLE 1 s, phase {phase}",
        dial.flavor.name(),
        dial.transport()
    );
    let sink = LightSink::start(runtime, dial.tls)?;
    let daemon = Daemon::start_with(
        bin,
        count,
        Enc::Proto,
        Trigger::Sample,
        sink.addr,
        dial,
        &["--gnmi-dialout-phase", phase],
    )?;
    wait_streams(
        &daemon,
        || sink.counters.streams_active.load(Relaxed),
        count,
    )?;
    std::thread::sleep(sizes.warmup);
    let read = || -> [u64; sink::ARRIVAL_SLOTS] {
        std::array::from_fn(|i| sink.counters.arrivals[i].load(Relaxed))
    };
    let before = read();
    std::thread::sleep(sizes.window);
    let after = read();
    daemon.stop()?;
    sink.shutdown(runtime)?;
    // Each slot covers window / 10 of wall time.
    let slot_secs = sizes.window.as_secs_f64() / sink::ARRIVAL_SLOTS as f64;
    let slots = std::array::from_fn(|i| (after[i] - before[i]) as f64 / slot_secs);
    let result = PhaseResult {
        phase,
        flavor: dial.flavor,
        devices: count,
        slots,
    };
    eprintln!(
        "    leaves/s per 100 ms slot: {}; peak/mean {:.2}",
        result.slots.map(|r| format!("{r:.0}")).join(" "),
        result.peak_to_mean()
    );
    Ok(result)
}
