//! `cargo xtask bench-fleet [--quick] [--nl6-collector] [--flavor NAME|all] [--tls]`: the
//! gNMI dial-out fleet benchmark; `cargo xtask bench-fleet --mdt [--quick]` runs the
//! model-driven telemetry fleet instead (see [`mdt`]).
//!
//! Starts `target/release/nl6d` in loopback mode with N dial-out devices (one dial-out
//! flavor, plaintext or TLS, SAMPLE 1 s, 10 interfaces, the full state subtree = 170
//! leaves per notification) pushing to a receiver in this process, and measures over
//! steady windows:
//! leaves/s delivered, nl6d CPU-seconds per million leaves, nl6d RSS per exporting device
//! and dropped updates. The receiver is a light sink serving the Publish methods of all
//! three flavors (see [`Sink`]) unless `--nl6-collector` asks for the nl6-collector
//! library (gNMIReverse only). A raw baseline encodes the same
//! notifications with the same `WireEncoder` and writes them over one plain TCP socket
//! (no gRPC, no HTTP/2): the practical limit. Last, on-change latency: links flipped over
//! REST on many devices, from the state change (the notification's timestamp) to the
//! embedded nl6-collector's receipt (gNMIReverse, the only flavor that library serves).
//! `--tls` makes every device dial out with TLS to receivers presenting a self-signed
//! certificate generated in this process (see [`tls`]).
//!
//! The receiver's 10,000 server sockets need this process's open-files soft limit
//! raised, which [`run`] does (and checks). Every nl6d it starts is stopped by a guard,
//! also on error.
//!
//! Modules by concern: [`daemon`] (nl6d and its REST API), [`measure`] (the steady
//! windows), [`sink`] (the light receiver) with [`proto_reader`], [`tls`] (the receivers'
//! certificate), [`raw`] (the TCP baseline), [`onchange`] (latency), [`report`] (tables)
//! and [`sys`] (process helpers).

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

mod daemon;
mod mdt;
mod measure;
mod onchange;
mod phase;
mod proto_reader;
mod raw;
mod report;
mod sink;
mod sys;
mod tls;

use daemon::{Daemon, DialoutTotals, Trigger};
use mdt::*;
use measure::*;
use onchange::*;
use phase::*;
use proto_reader::*;
use raw::*;
use report::*;
use sink::*;
use sys::*;
use tls::*;

/// First device address of every fleet the benchmark starts.
const START_IP: Ipv4Addr = Ipv4Addr::new(127, 50, 0, 1);
/// Interfaces per device.
const INTERFACES: u32 = 10;
/// Leaves of one device's full state subtree (17 per interface).
const LEAVES_PER_DEVICE: u64 = 170;
/// The pushed path (nl6d's default dial-out path).
const STATE_PATH: &str = "/interfaces/interface[name=*]/state";
/// The dial-out targets the report checks (plaintext only; TLS is measured without one).
/// The CPU targets (and nl6d / raw) are set at [`TARGET_CPU_DEVICES`] devices.
const TARGET_CPU_PROTO: f64 = 0.15;
const TARGET_CPU_JSON: f64 = 0.2;
const TARGET_RAW_RATIO: f64 = 2.5;
const TARGET_CPU_DEVICES: u32 = 10_000;
const TARGET_RSS_PER_DEVICE_B: f64 = 24.0 * 1024.0;
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
    /// Devices of the phase comparison.
    phase_devices: u32,
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
                phase_devices: 1_000,
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
                phase_devices: 2_000,
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

/// The dial-out flavors of nl6d (its `--gnmi-dialout-flavor` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    GnmiReverse,
    Sonic,
    Nokia,
}

impl Flavor {
    const ALL: [Flavor; 3] = [Flavor::GnmiReverse, Flavor::Sonic, Flavor::Nokia];

    fn name(self) -> &'static str {
        match self {
            Flavor::GnmiReverse => "gnmireverse",
            Flavor::Sonic => "sonic",
            Flavor::Nokia => "nokia",
        }
    }

    /// The gRPC service of the flavor's `Publish` method.
    const fn service(self) -> &'static str {
        match self {
            Flavor::GnmiReverse => "gnmireverse.gNMIReverse",
            Flavor::Sonic => "gnmi.sonic.gNMIDialOut",
            Flavor::Nokia => "Nokia.SROS.DialoutTelemetry",
        }
    }

    /// `NAME` or `all`.
    fn parse_list(name: &str) -> Result<Vec<Flavor>> {
        if name == "all" {
            return Ok(Flavor::ALL.to_vec());
        }
        match Flavor::ALL.into_iter().find(|f| f.name() == name) {
            Some(f) => Ok(vec![f]),
            None => bail!(
                "bench-fleet: unknown flavor {name:?} for --flavor (allowed: {}, all)",
                Flavor::ALL.map(Flavor::name).join(", ")
            ),
        }
    }
}

/// How the fleet dials out: nl6d's flavor and, with `--tls`, the receivers' certificate.
#[derive(Clone, Copy)]
struct Dial<'a> {
    flavor: Flavor,
    tls: Option<&'a BenchTls>,
}

impl Dial<'_> {
    fn transport(&self) -> &'static str {
        transport_name(self.tls.is_some())
    }
}

fn transport_name(tls: bool) -> &'static str {
    if tls { "TLS" } else { "plaintext" }
}

/// The task's arguments.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    quick: bool,
    full_collector: bool,
    flavors: Vec<Flavor>,
    tls: bool,
    /// The MDT fleet instead of gNMI dial-out.
    mdt: bool,
    /// `--devices N`: only fleets of N devices, without the on-change and phase rounds.
    devices: Option<u32>,
}

/// Runs the benchmark; `args` are the task's arguments (see [`parse_args`]).
pub fn run(args: &[String]) -> Result<()> {
    let Options {
        quick,
        full_collector,
        flavors,
        tls,
        mdt,
        devices,
    } = parse_args(args)?;
    let root = workspace_root();
    if needs_release_rerun() {
        // The embedded collector and the raw loop must be optimised too.
        return rerun_in_release(&root, "bench-fleet", args);
    }
    let nl6d = build_nl6d(&root)?;
    if mdt {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the sinks' runtime")?;
        return run_mdt(&nl6d, &runtime, quick);
    }
    let mut sizes = Sizes::new(quick);
    if let Some(n) = devices {
        sizes.fleets = vec![n];
    }
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
    let flavor_names = flavors
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "==> bench-fleet ({}), flavor {flavor_names}, {}, load average {load_before}, \
         open-files soft limit {nofile}, SAMPLE sink: {}",
        if quick { "--quick" } else { "full" },
        transport_name(tls),
        sink_name(full_collector)
    );
    let bench_tls = if tls {
        Some(BenchTls::generate()?)
    } else {
        None
    };
    let dial = |flavor| Dial {
        flavor,
        tls: bench_tls.as_ref(),
    };
    // The measurements that do not compare flavors use the first one.
    let first = dial(flavors[0]);

    let mut raw = Vec::new();
    for enc in Enc::ALL {
        raw.push((enc, raw_baseline(enc, &sizes)?));
    }
    let idle_rss = idle_rss(&nl6d, &runtime, first)?;
    eprintln!(
        "    nl6d with 0 devices: RSS {:.1} MiB",
        idle_rss as f64 / MIB
    );
    let mut fleets = Vec::new();
    for &count in &sizes.fleets {
        for enc in Enc::ALL {
            for &flavor in &flavors {
                fleets.push(measure_fleet(
                    &nl6d,
                    &runtime,
                    &sizes,
                    count,
                    enc,
                    dial(flavor),
                    full_collector,
                )?);
            }
        }
    }
    // nl6-collector, which on-change needs to see each event, serves gNMIReverse only.
    let onchange_dial = dial(Flavor::GnmiReverse);
    let mut onchange = Vec::new();
    for enc in Enc::ALL.into_iter().filter(|_| devices.is_none()) {
        onchange.push(measure_onchange(
            &nl6d,
            &runtime,
            &sizes,
            enc,
            onchange_dial,
        )?);
    }
    let mut phases = Vec::new();
    for phase in PHASES.into_iter().filter(|_| devices.is_none()) {
        phases.push(measure_phase(&nl6d, &runtime, &sizes, phase, first)?);
    }
    let report = Report {
        quick,
        full_collector,
        flavors,
        tls,
        devices,
        load_before,
        load_after: load_average(),
        idle_rss,
        raw,
        fleets,
        onchange,
        phases,
    };
    print!("{}", report.table());
    println!("\n--- markdown for docs/benchmarks.md ---\n");
    print!("{}", report.markdown());
    Ok(())
}

/// `--quick`, `--nl6-collector`, `--flavor NAME|all` (also `--flavor=NAME`), `--tls`,
/// `--mdt` and `--devices N`.
fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        quick: false,
        full_collector: false,
        flavors: vec![Flavor::GnmiReverse],
        tls: false,
        mdt: false,
        devices: None,
    };
    let mut flavor_given = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--nl6-collector" => options.full_collector = true,
            "--tls" => options.tls = true,
            "--mdt" => options.mdt = true,
            "--devices" => {
                let value = args
                    .next()
                    .ok_or_else(|| anyhow!("bench-fleet: --devices needs a number of devices"))?;
                options.devices = Some(match value.replace('_', "").parse::<u32>() {
                    Ok(n) if (1..=1_000_000).contains(&n) => n,
                    _ => bail!("bench-fleet: --devices {value:?}: give 1 to 1000000 devices"),
                });
            }
            "--flavor" => {
                flavor_given = true;
                let name = args.next().ok_or_else(|| {
                    anyhow!(
                        "bench-fleet: --flavor needs a value ({}, all)",
                        Flavor::ALL.map(Flavor::name).join(", ")
                    )
                })?;
                options.flavors = Flavor::parse_list(name)?;
            }
            other => match other.strip_prefix("--flavor=") {
                Some(name) => {
                    flavor_given = true;
                    options.flavors = Flavor::parse_list(name)?;
                }
                None => bail!(
                    "bench-fleet: unknown argument {other:?} (expected --quick, --nl6-collector, \
                     --flavor NAME, --tls, --mdt, --devices N)"
                ),
            },
        }
    }
    if options.mdt
        && (options.full_collector || options.tls || flavor_given || options.devices.is_some())
    {
        bail!("bench-fleet: --mdt takes only --quick (it measures MDT, not gNMI dial-out)");
    }
    if options.full_collector && options.flavors != [Flavor::GnmiReverse] {
        bail!(
            "bench-fleet: --nl6-collector serves gnmireverse only; drop it or use \
             --flavor gnmireverse"
        );
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options> {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_flavor_and_tls() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.flavors, [Flavor::GnmiReverse]);
        assert!(!o.tls && !o.quick && !o.full_collector);
        let o = parse(&["--quick", "--flavor", "sonic", "--tls"]).unwrap();
        assert_eq!(o.flavors, [Flavor::Sonic]);
        assert!(o.tls && o.quick);
        assert_eq!(parse(&["--flavor=nokia"]).unwrap().flavors, [Flavor::Nokia]);
        assert_eq!(parse(&["--flavor", "all"]).unwrap().flavors, Flavor::ALL);
        assert!(!o.mdt);
    }

    #[test]
    fn parses_mdt() {
        let o = parse(&["--mdt", "--quick"]).unwrap();
        assert!(o.mdt && o.quick);
        for other in ["--tls", "--nl6-collector", "--flavor=sonic"] {
            let err = parse(&["--mdt", other]).unwrap_err().to_string();
            assert!(err.contains("--mdt takes only --quick"), "{other}: {err}");
        }
    }

    #[test]
    fn rejects_bad_flavors() {
        let err = parse(&["--flavor", "cisco"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "bench-fleet: unknown flavor \"cisco\" for --flavor (allowed: gnmireverse, sonic, \
             nokia, all)"
        );
        assert!(parse(&["--flavor"]).is_err());
        assert!(parse(&["--nl6-collector", "--flavor", "nokia"]).is_err());
        assert!(parse(&["--nl6-collector", "--flavor", "gnmireverse"]).is_ok());
    }

    #[test]
    fn parses_devices() {
        assert_eq!(parse(&[]).unwrap().devices, None);
        let o = parse(&["--devices", "10_000", "--flavor", "all"]).unwrap();
        assert_eq!(o.devices, Some(10_000));
        for bad in ["0", "ten", "2000000"] {
            let err = parse(&["--devices", bad]).unwrap_err().to_string();
            assert!(err.contains("give 1 to 1000000 devices"), "{bad}: {err}");
        }
        assert!(parse(&["--devices"]).is_err());
        assert!(parse(&["--mdt", "--devices", "10"]).is_err());
    }
}
