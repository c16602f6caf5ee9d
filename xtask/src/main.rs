//! Project tasks: `cargo xtask test` (everything CI runs) and the benchmarks that
//! need more than `cargo bench` (whole daemons, fleets, other processes).

mod test;

use anyhow::{Result, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test            fmt check, clippy -D warnings, all Rust tests, the Python interop suites
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n{USAGE}"),
    }
}
