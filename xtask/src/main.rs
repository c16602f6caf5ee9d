//! Project tasks: `cargo xtask test` (everything CI runs) and the benchmarks that
//! need more than `cargo bench` (whole daemons, fleets, other processes).

mod bench_dialin;
mod bench_fleet;
mod support;
mod test;

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test            fmt check, clippy -D warnings, rustdoc -D warnings, every Rust test binary
                  (--no-fail-fast), the Python interop suites; one summary at the end
                  (--no-lint: skip fmt, clippy and doc)
  bench-dialin    gNMI dial-in fleet benchmark against a release nl6d: RSS per idle
                  device, batch creation time, Subscribe ONCE latency, STREAM SAMPLE
                  throughput and CPU (--quick: small sizes, a smoke check; --device-type NAME:
                  the device profile of every fleet, default generic)
  bench-fleet     gNMI dial-out fleet benchmark against a release nl6d: leaves/s, CPU per
                  million leaves vs a raw TCP baseline, RSS per exporting device, drops,
                  on-change latency (--quick: 100 and 1,000 devices; --flavor NAME:
                  gnmireverse (default), sonic, nokia, or all of them in one run; --tls:
                  the devices dial out with TLS; --nl6-collector: receive with the
                  nl6-collector library instead of the light sink, gnmireverse only;
                  --devices N: only fleets of N devices, no on-change and phase rounds)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("bench-dialin") => bench_dialin::run(&args[1..]),
        Some("bench-fleet") => bench_fleet::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n{USAGE}"),
    }
}
