//! Bring-up timings of the simulator namespace: setup, bulk address adds (10,000 and
//! 30,000), removal and teardown. Needs root; prints a reason and exits otherwise.
//!
//! Run with `cargo bench -p nl6-netns --bench bring_up`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use nl6_netns::{NetnsConfig, SimNetwork};

fn devices(count: usize) -> Vec<Ipv4Addr> {
    // 10.150.0.0/16, skipping .0 and .255 of each /24 like an nl6 /24 batch.
    (0u32..)
        .map(|i| Ipv4Addr::new(10, 150, (i / 254) as u8, (i % 254 + 1) as u8))
        .take(count)
        .collect()
}

fn config() -> NetnsConfig {
    let pid = std::process::id();
    NetnsConfig {
        name: format!("nl6bench{pid}"),
        host_veth: format!("nb{pid}h"),
        ns_veth: format!("nb{pid}n"),
        host_addr: Ipv4Addr::new(10, 253, 250, 1),
        ns_addr: Ipv4Addr::new(10, 253, 250, 2),
        prefix_len: 30,
        ..NetnsConfig::default()
    }
}

fn per_address(took: Duration, count: usize) -> String {
    format!(
        "{:>8.1} ms  ({:.2} µs per address)",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / count as f64
    )
}

async fn round(count: usize) -> Result<(), nl6_netns::NetnsError> {
    let addrs = devices(count);
    let t = Instant::now();
    let sim = SimNetwork::setup(config()).await?;
    let setup = t.elapsed();
    let t = Instant::now();
    sim.add_addresses(&addrs).await?;
    let add = t.elapsed();
    let t = Instant::now();
    sim.add_route(Ipv4Addr::new(10, 150, 0, 0), 16).await?;
    let route = t.elapsed();
    let t = Instant::now();
    sim.remove_addresses(&addrs).await?;
    let remove = t.elapsed();
    sim.add_addresses(&addrs).await?;
    let t = Instant::now();
    sim.teardown().await?;
    let teardown = t.elapsed();
    println!("{count} devices");
    println!(
        "  setup (namespace, veth, sysctls, FORWARD rules) {:>8.1} ms",
        setup.as_secs_f64() * 1e3
    );
    println!(
        "  add {count} addresses             {}",
        per_address(add, count)
    );
    println!(
        "  add host route                      {:>8.1} ms",
        route.as_secs_f64() * 1e3
    );
    println!(
        "  remove {count} addresses          {}",
        per_address(remove, count)
    );
    println!(
        "  teardown (with {count} addresses) {:>8.1} ms",
        teardown.as_secs_f64() * 1e3
    );
    Ok(())
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("bring_up: skipped, needs root (network namespaces, sysctls)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for count in [10_000, 30_000] {
        if let Err(e) = rt.block_on(round(count)) {
            eprintln!("bring_up {count}: {e}");
            let _ = rt.block_on(SimNetwork::cleanup_stale(config()));
            std::process::exit(1);
        }
    }
}
