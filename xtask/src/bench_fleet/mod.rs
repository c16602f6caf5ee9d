//! `cargo xtask bench-fleet [--quick] [--nl6-collector]`: the gNMI dial-out fleet
//! benchmark.
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
//!
//! Modules by concern: [`daemon`] (nl6d and its REST API), [`measure`] (the steady
//! windows), [`sink`] (the light gNMIReverse receiver) with [`proto_reader`], [`raw`] (the
//! TCP baseline), [`onchange`] (latency), [`report`] (tables) and [`sys`] (process helpers).

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
mod measure;
mod onchange;
mod phase;
mod proto_reader;
mod raw;
mod report;
mod sink;
mod sys;

use daemon::{Daemon, DialoutTotals, Trigger};
use measure::*;
use onchange::*;
use phase::*;
use proto_reader::*;
use raw::*;
use report::*;
use sink::*;
use sys::*;

/// First device address of every fleet the benchmark starts.
const START_IP: Ipv4Addr = Ipv4Addr::new(127, 50, 0, 1);
/// Interfaces per device.
const INTERFACES: u32 = 10;
/// Leaves of one device's full state subtree (17 per interface).
const LEAVES_PER_DEVICE: u64 = 170;
/// The pushed path (nl6d's default dial-out path).
const STATE_PATH: &str = "/interfaces/interface[name=*]/state";
/// The dial-out targets the report checks.
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
    let mut phases = Vec::new();
    for phase in PHASES {
        phases.push(measure_phase(&nl6d, &runtime, &sizes, phase)?);
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
        phases,
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
