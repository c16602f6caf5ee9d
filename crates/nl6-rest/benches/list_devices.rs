//! Listing at scale: 1,000,000 loopback devices (dial-in off), pages of 1,000 through the
//! router. Prints the median time of the first, a middle and the last page (5 runs each)
//! and the RSS before and after 100 page requests.
//!
//! `cargo bench -p nl6-rest --bench list_devices`

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use nl6_fleet::{BatchSpec, Fleet, FleetConfig};
use tower::ServiceExt;

const DEVICES: u32 = 1_000_000;
const BATCH: u32 = 100_000;
const PAGE: u32 = 1_000;

/// VmRSS of this process, MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// One page through the router; returns the time and the devices in it.
async fn page(router: &axum::Router, cursor: Option<Ipv4Addr>) -> (Duration, usize) {
    let uri = match cursor {
        Some(c) => format!("/api/v1/devices?limit={PAGE}&cursor={c}"),
        None => format!("/api/v1/devices?limit={PAGE}"),
    };
    let began = Instant::now();
    let reply = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body = axum::body::to_bytes(reply.into_body(), usize::MAX)
        .await
        .unwrap();
    let took = began.elapsed();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["data"]["total"], DEVICES);
    (took, json["data"]["devices"].as_array().unwrap().len())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let fleet = Arc::new(
        Fleet::start(FleetConfig {
            dialin: None,
            ..FleetConfig::default()
        })
        .await
        .expect("fleet starts"),
    );
    let base = u32::from(Ipv4Addr::new(127, 16, 0, 1));
    let began = Instant::now();
    for b in 0..DEVICES / BATCH {
        fleet
            .create_batch(BatchSpec {
                start_ip: Ipv4Addr::from(base + b * BATCH),
                device_count: BATCH,
                netmask: 8,
                ..BatchSpec::default()
            })
            .await
            .expect("batch created");
    }
    println!(
        "created {} devices in {:.1}s; RSS {:.0} MiB",
        fleet.len(),
        began.elapsed().as_secs_f64(),
        rss_mib()
    );
    let router = nl6_rest::router(fleet.clone());
    // The page after device k starts at device k + 1 (the addresses are contiguous).
    let after = |k: u32| Some(Ipv4Addr::from(base + k - 1));
    let cases = [
        ("first", None),
        ("middle", after(DEVICES / 2)),
        ("last", after(DEVICES - PAGE)),
    ];
    // Warm-up (first-touch allocations), then the measurement.
    for (_, cursor) in cases {
        page(&router, cursor).await;
    }
    for (name, cursor) in cases {
        let mut runs = Vec::new();
        for _ in 0..5 {
            let (took, n) = page(&router, cursor).await;
            assert_eq!(n, PAGE as usize);
            runs.push(took);
        }
        println!(
            "{name:>6} page of {PAGE}: median {:.1} ms of 5 runs",
            median(runs).as_secs_f64() * 1e3
        );
    }
    let before = rss_mib();
    for i in 0..100u32 {
        let k = (i * 9_973 % (DEVICES / PAGE)) * PAGE;
        page(&router, if k == 0 { None } else { after(k) }).await;
    }
    let after_rss = rss_mib();
    println!(
        "RSS before 100 page requests {before:.0} MiB, after {after_rss:.0} MiB ({:+.1} MiB)",
        after_rss - before
    );
    fleet.shutdown().await.unwrap();
}
