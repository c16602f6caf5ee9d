//! The report: the plain table and the markdown for docs/benchmarks.md.

use super::*;

pub(super) struct Report {
    pub(super) quick: bool,
    pub(super) full_collector: bool,
    pub(super) flavors: Vec<Flavor>,
    pub(super) tls: bool,
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) idle_rss: u64,
    pub(super) raw: Vec<(Enc, RawResult)>,
    pub(super) fleets: Vec<FleetResult>,
    pub(super) devices: Option<u32>,
    pub(super) onchange: Vec<OnChangeResult>,
    pub(super) phases: Vec<PhaseResult>,
}

impl Report {
    pub(super) fn raw(&self, enc: Enc) -> Option<&RawResult> {
        self.raw.iter().find(|(e, _)| *e == enc).map(|(_, r)| r)
    }

    pub(super) fn rss_per_device(&self, f: &FleetResult) -> f64 {
        (f.rss as f64 - self.idle_rss as f64) / f64::from(f.devices.max(1))
    }

    pub(super) fn raw_ratio(&self, f: &FleetResult) -> f64 {
        f.cpu_per_mleaf / self.raw(f.enc).map_or(f64::NAN, |r| r.cpu_per_mleaf)
    }

    /// Whether `f` has CPU targets (and nl6d / raw): plaintext at the targets' fleet size.
    pub(super) fn has_cpu_target(&self, f: &FleetResult) -> bool {
        !self.tls && f.devices == TARGET_CPU_DEVICES
    }

    /// "plaintext gnmireverse", "TLS sonic, nokia".
    pub(super) fn setup(&self) -> String {
        let names: Vec<&str> = self.flavors.iter().map(|f| f.name()).collect();
        format!(
            "{}, flavor{} {}",
            transport_name(self.tls),
            if names.len() > 1 { "s" } else { "" },
            names.join(", ")
        )
    }

    pub(super) fn fleet_rows(&self) -> Vec<[String; 11]> {
        self.fleets
            .iter()
            .map(|f| {
                let expected = f64::from(f.devices) * LEAVES_PER_DEVICE as f64;
                let raw = self.raw(f.enc).map_or(f64::NAN, |r| r.cpu_per_mleaf);
                let cpu_target = self.has_cpu_target(f);
                [
                    thousands(u64::from(f.devices)),
                    f.flavor.name().to_string(),
                    f.enc.flag().to_string(),
                    format!(
                        "{} ({:.1}%)",
                        thousands(f.leaves_per_s.round() as u64),
                        100.0 * f.leaves_per_s / expected
                    ),
                    if cpu_target {
                        format!("{:.3} (≤ {})", f.cpu_per_mleaf, f.enc.cpu_target())
                    } else {
                        format!("{:.3}", f.cpu_per_mleaf)
                    },
                    format!("{raw:.3}"),
                    if cpu_target {
                        format!("{:.1}x (≤ {TARGET_RAW_RATIO}x)", self.raw_ratio(f))
                    } else {
                        format!("{:.1}x", self.raw_ratio(f))
                    },
                    if self.tls {
                        format!("{:.1} KiB", self.rss_per_device(f) / 1024.0)
                    } else {
                        format!(
                            "{:.1} KiB (≤ {})",
                            self.rss_per_device(f) / 1024.0,
                            TARGET_RSS_PER_DEVICE_B / 1024.0
                        )
                    },
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

    pub(super) fn onchange_rows(&self) -> Vec<[String; 7]> {
        self.onchange
            .iter()
            .map(|o| {
                let p50 = median(o.rounds.iter().map(|r| r.p50));
                let p99 = median(o.rounds.iter().map(|r| r.p99));
                let max = o.rounds.iter().map(|r| r.max).fold(f64::NAN, f64::max);
                [
                    thousands(u64::from(o.devices)),
                    o.flavor.name().to_string(),
                    o.enc.flag().to_string(),
                    format!("{} × {}", o.rounds.len(), o.flips),
                    format!("{p50:.2} ms"),
                    format!("{p99:.2} ms (≤ {TARGET_P99_MS})"),
                    format!("{max:.2} ms"),
                ]
            })
            .collect()
    }

    const FLEET_HEAD: [&'static str; 11] = [
        "devices",
        "flavor",
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
    const ONCHANGE_HEAD: [&'static str; 7] = [
        "devices", "flavor", "encoding", "flips", "p50", "p99", "max",
    ];

    pub(super) fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "\nbench-fleet ({}, {}): load average {} before, {} after; nl6d idle RSS {:.1} MiB; \
             SAMPLE sink: {}\n\n",
            if self.quick { "--quick" } else { "full" },
            self.setup(),
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
                "{} {} {}: sink (this process) {:.3} CPU-s / M leaves; one CPU tick = {:.4} CPU-s / M leaves; \
                 windows (leaves/s, CPU-s/M): {}\n",
                f.devices,
                f.flavor.name(),
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
        if !self.onchange.is_empty() {
            out.push('\n');
            out.push_str(&plain_table(&Self::ONCHANGE_HEAD, &self.onchange_rows()));
        }
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
        if !self.phases.is_empty() {
            out.push('\n');
            out.push_str(&plain_table(&Self::PHASE_HEAD, &self.phase_rows()));
        }
        out.push('\n');
        out.push_str(&self.verdicts().join("\n"));
        out.push('\n');
        out
    }

    const PHASE_HEAD: [&'static str; 14] = [
        "phase",
        "flavor",
        "devices",
        "0",
        "100",
        "200",
        "300",
        "400",
        "500",
        "600",
        "700",
        "800",
        "900",
        "peak/mean",
    ];

    fn phase_rows(&self) -> Vec<[String; 14]> {
        self.phases
            .iter()
            .map(|p| {
                let mut row: [String; 14] = Default::default();
                row[0] = p.phase.to_string();
                row[1] = p.flavor.name().to_string();
                row[2] = thousands(u64::from(p.devices));
                for (cell, rate) in row[3..13].iter_mut().zip(p.slots) {
                    *cell = thousands(rate.round() as u64);
                }
                row[13] = format!("{:.2}", p.peak_to_mean());
                row
            })
            .collect()
    }

    /// One line per target: met or missed, and by how much.
    pub(super) fn verdicts(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.tls {
            lines.push(
                "TLS: CPU and RSS are measured without a target (the targets are for plaintext)"
                    .to_string(),
            );
        } else if !self.fleets.iter().any(|f| self.has_cpu_target(f)) {
            lines.push(format!(
                "note: the CPU targets (and nl6d / raw ≤ {TARGET_RAW_RATIO}x) are set at {} \
                 devices, which this run does not measure",
                thousands(u64::from(TARGET_CPU_DEVICES))
            ));
        }
        for f in &self.fleets {
            let what = format!("{} {} {}", f.devices, f.flavor.name(), f.enc.flag());
            if self.has_cpu_target(f) {
                lines.push(verdict(
                    &format!("{what} CPU-s / M leaves"),
                    f.cpu_per_mleaf,
                    f.enc.cpu_target(),
                ));
                lines.push(verdict(
                    &format!("{what} nl6d / raw"),
                    self.raw_ratio(f),
                    TARGET_RAW_RATIO,
                ));
            }
            if !self.tls {
                lines.push(verdict(
                    &format!("{what} RSS / device (KiB)"),
                    self.rss_per_device(f) / 1024.0,
                    TARGET_RSS_PER_DEVICE_B / 1024.0,
                ));
            }
            let ok = f.totals.updates_dropped == 0;
            lines.push(format!(
                "{} {what} dropped: {}",
                if ok { "MET   " } else { "MISSED" },
                f.totals.updates_dropped
            ));
        }
        for o in &self.onchange {
            lines.push(verdict(
                &format!(
                    "on-change {} {} {} p99 (ms)",
                    o.devices,
                    o.flavor.name(),
                    o.enc.flag()
                ),
                median(o.rounds.iter().map(|r| r.p99)),
                TARGET_P99_MS,
            ));
        }
        lines
    }

    pub(super) fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "`cargo xtask bench-fleet{}` — nl6d release, loopback, {}, \
             SAMPLE 1 s, 10 interfaces, full state subtree (170 leaves per notification); \
             receiving side in the xtask process: {}. CPU = nl6d utime+stime over steady \
             windows (median of {}); raw = the same notifications (`WireEncoder`) written by \
             one loop over one plain TCP socket (that thread's CPU). RSS / device = (RSS with \
             N − RSS with 0 devices) / N. Delivery = receipt − notification timestamp. \
             Targets: CPU and nl6d / raw at {} plaintext devices, RSS for plaintext.\n\n",
            self.args(),
            self.setup(),
            sink_name(self.full_collector),
            self.fleets.first().map_or(0, |f| f.windows.len()),
            thousands(u64::from(TARGET_CPU_DEVICES))
        ));
        out.push_str(&markdown_table(&Self::FLEET_HEAD, &self.fleet_rows()));
        if !self.onchange.is_empty() {
            self.markdown_rounds(&mut out);
        }
        out.push_str(&format!(
            "\n(load average {} before, {} after.)\n",
            self.load_before, self.load_after
        ));
        out
    }

    /// The on-change and phase tables of the markdown.
    fn markdown_rounds(&self, out: &mut String) {
        out.push('\n');
        out.push_str(
            "On-change (nl6-collector library embedded, gnmireverse): link flips over REST spread over the \
             devices, 10 ms apart; latency = collector receipt − notification timestamp (the \
             event's last-change); median of the rounds' percentiles.\n\n",
        );
        out.push_str(&markdown_table(&Self::ONCHANGE_HEAD, &self.onchange_rows()));
        out.push_str(
            "\nSAMPLE phase (light sink, PROTO, SAMPLE 1 s): leaves/s arriving in each 100 ms \
             slot of the second (collector wall clock) over one steady window; peak/mean 1.0 \
             is perfectly even, 10 is everything in one slot.\n\n",
        );
        out.push_str(&markdown_table(&Self::PHASE_HEAD, &self.phase_rows()));
    }
}

impl Report {
    /// The task's arguments as given, e.g. " --quick --flavor sonic --tls".
    fn args(&self) -> String {
        let mut out = String::new();
        if self.quick {
            out.push_str(" --quick");
        }
        if self.full_collector {
            out.push_str(" --nl6-collector");
        }
        if self.flavors == Flavor::ALL {
            out.push_str(" --flavor all");
        } else if self.flavors != [Flavor::GnmiReverse] {
            for f in &self.flavors {
                out.push_str(&format!(" --flavor {}", f.name()));
            }
        }
        if self.tls {
            out.push_str(" --tls");
        }
        if let Some(n) = self.devices {
            out.push_str(&format!(" --devices {n}"));
        }
        out
    }
}

pub(super) fn verdict(what: &str, value: f64, target: f64) -> String {
    if value <= target {
        format!("MET    {what}: {value:.3} ≤ {target}")
    } else {
        format!(
            "MISSED {what}: {value:.3} > {target} (by {:.0}%)",
            100.0 * (value / target - 1.0)
        )
    }
}

pub(super) fn plain_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
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

pub(super) fn markdown_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut out = format!("| {} |\n", head.join(" | "));
    let align: Vec<&str> = (0..N).map(|i| if i < 3 { "---" } else { "---:" }).collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}
