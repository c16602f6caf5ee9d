//! Namespace-mode bring-up: `Fleet::start` (namespace, veth, sysctls, iptables, dial-in
//! listener) and `Fleet::create_batch` of 10,000 and 30,000 dial-in devices (addresses
//! over netlink, host route, device models), with the resident memory each device adds
//! (VmRSS before and after the batch, from /proc/self/status). Every round runs in a fresh
//! child process, so memory freed by an earlier round does not hide the cost.
//!
//! Needs root; prints a reason and exits otherwise. Run with
//! `cargo bench -p nl6-fleet --bench netns_bring_up` (`-- --rounds N`, default 3).

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use nl6_fleet::{BatchSpec, Fleet, FleetConfig, NetworkMode};
use nl6_netns::{NetnsConfig, SimNetwork};

/// Set in the child processes: the batch size to measure.
const CHILD_ENV: &str = "NL6_BENCH_NETNS_CHILD";
const SIZES: [u32; 2] = [10_000, 30_000];

/// One round's figures, as the child prints them.
#[derive(Debug, Clone, Copy)]
struct Round {
    start: Duration,
    create: Duration,
    rss_before_kib: u64,
    rss_after_kib: u64,
    delete_all: Duration,
    shutdown: Duration,
}

fn config() -> NetnsConfig {
    let pid = std::process::id();
    NetnsConfig {
        name: format!("nl6bf{pid}"),
        host_veth: format!("nbf{pid}h"),
        ns_veth: format!("nbf{pid}n"),
        host_addr: Ipv4Addr::new(10, 252, 250, 1),
        ns_addr: Ipv4Addr::new(10, 252, 250, 2),
        prefix_len: 30,
        ..NetnsConfig::default()
    }
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn measure(count: u32) -> Result<Round, nl6_fleet::FleetError> {
    let t = Instant::now();
    let fleet = Fleet::start(FleetConfig {
        network: NetworkMode::Netns(config()),
        ..FleetConfig::default()
    })
    .await?;
    let start = t.elapsed();
    let rss_before_kib = vm_rss_kib();
    let t = Instant::now();
    let outcome = fleet
        .create_batch(BatchSpec {
            start_ip: Ipv4Addr::new(10, 151, 0, 1),
            device_count: count,
            netmask: 16,
            ..BatchSpec::default()
        })
        .await;
    let create = t.elapsed();
    let rss_after_kib = vm_rss_kib();
    if let Err(e) = outcome {
        fleet.shutdown().await?;
        return Err(e);
    }
    let t = Instant::now();
    fleet.delete_all().await;
    let delete_all = t.elapsed();
    let t = Instant::now();
    fleet.shutdown().await?;
    let shutdown = t.elapsed();
    Ok(Round {
        start,
        create,
        rss_before_kib,
        rss_after_kib,
        delete_all,
        shutdown,
    })
}

/// The child: one round of `count` devices, printed as one line of numbers.
fn child(count: u32) -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(measure(count));
    let cfg = config();
    match outcome {
        Ok(r) => {
            println!(
                "{} {} {} {} {} {}",
                r.start.as_nanos(),
                r.create.as_nanos(),
                r.rss_before_kib,
                r.rss_after_kib,
                r.delete_all.as_nanos(),
                r.shutdown.as_nanos()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("round of {count} devices failed: {e}");
            // Whatever the failed round left behind.
            let _ = runtime.block_on(SimNetwork::cleanup_stale(cfg));
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse(line: &str) -> Option<Round> {
    let v: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let ns = |n: u64| Duration::from_nanos(n);
    match v[..] {
        [start, create, before, after, delete_all, shutdown] => Some(Round {
            start: ns(start),
            create: ns(create),
            rss_before_kib: before,
            rss_after_kib: after,
            delete_all: ns(delete_all),
            shutdown: ns(shutdown),
        }),
        _ => None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() -> std::process::ExitCode {
    if let Ok(count) = std::env::var(CHILD_ENV) {
        return child(count.parse().expect("device count"));
    }
    // SAFETY: geteuid has no preconditions.
    if !nl6_testkit::is_root() {
        println!("netns_bring_up: skipped, needs root (network namespaces, sysctls)");
        return std::process::ExitCode::SUCCESS;
    }
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let exe = std::env::current_exe().expect("own path");
    println!("namespace-mode bring-up, dial-in devices with 10 interfaces, {rounds} rounds each");
    println!(
        "{:>8} | {:>12} | {:>14} | {:>13} | {:>12} | {:>10} | {:>8}",
        "devices",
        "Fleet::start",
        "create_batch",
        "(min / max)",
        "RSS/device",
        "delete_all",
        "shutdown"
    );
    for count in SIZES {
        let mut runs = Vec::new();
        for _ in 0..rounds {
            let out = Command::new(&exe)
                .env(CHILD_ENV, count.to_string())
                .output()
                .expect("run a round");
            let stdout = String::from_utf8_lossy(&out.stdout);
            match stdout.lines().last().and_then(parse) {
                Some(r) if out.status.success() => runs.push(r),
                _ => {
                    eprintln!(
                        "round of {count} devices failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        let creates: Vec<Duration> = runs.iter().map(|r| r.create).collect();
        let (min, max) = (
            *creates.iter().min().expect("rounds >= 1"),
            *creates.iter().max().expect("rounds >= 1"),
        );
        let mut per_device: Vec<u64> = runs
            .iter()
            .map(|r| r.rss_after_kib.saturating_sub(r.rss_before_kib) * 1024 / u64::from(count))
            .collect();
        per_device.sort();
        println!(
            "{:>8} | {:>12} | {:>14} | {:>13} | {:>10} B | {:>10} | {:>8}",
            count,
            ms(median(runs.iter().map(|r| r.start).collect())),
            ms(median(creates)),
            format!("{} / {}", ms(min), ms(max)),
            per_device[per_device.len() / 2],
            ms(median(runs.iter().map(|r| r.delete_all).collect())),
            ms(median(runs.iter().map(|r| r.shutdown).collect())),
        );
        let base = runs[0].rss_before_kib;
        println!("         (VmRSS of the child before the batch: {base} KiB)");
    }
    std::process::ExitCode::SUCCESS
}
