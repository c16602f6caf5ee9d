//! Issue 10, attack row 3: Subscribe streams that never read must not grow the server's
//! memory past the queue budget. Long test: the attack runs for 30 s. It is alone in
//! its test binary because it measures the whole process's RSS.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::subscription_list::Mode;
use nl6_gnmi::proto::gnmi::{Encoding, GetRequest, SubscriptionMode};
use nl6_ifstate::{DeviceModel, DeviceSpec};
use tokio::time::{Instant, timeout};
use tonic::transport::Endpoint;

use support::*;

/// The device the attack subscribes to (16 interfaces: ~60 KB per JSON_IETF sample).
const ATTACKED: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 77, 0, 3);
const MIB: u64 = 1024 * 1024;
/// The budget under test, small so that the bound means something.
const BUDGET: u64 = 16 * MIB;
/// How long the attack runs.
const ATTACK: Duration = Duration::from_secs(30);
/// The deadline for the well-behaved client.
const ANSWER: Duration = Duration::from_secs(1);

/// Resident set size of this process, from /proc/self/status.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_reading_streams_stay_within_the_queue_budget() {
    let mut config = test_config();
    config.queue_budget = BUDGET as usize;
    config.queue_budget_per_connection = 4 * MIB as usize;
    let fastest = config.min_sample_interval;
    let h = Harness::start(config).await;
    let spec = DeviceSpec {
        seed: 3,
        interfaces: 16,
        ..DeviceSpec::default()
    };
    h.fleet
        .insert(ATTACKED, Arc::new(DeviceModel::new(&spec).unwrap()));

    // The attack: 100 STREAM SAMPLE subscriptions of everything at the fastest interval,
    // 10 per connection on 10 connections with tiny HTTP/2 windows, never read.
    let mut attack = Vec::new();
    for _ in 0..10 {
        let channel = Endpoint::from_shared(format!("http://{}", h.addr(ATTACKED)))
            .unwrap()
            .initial_stream_window_size(Some(1024))
            .initial_connection_window_size(Some(65_535))
            .connect_timeout(DEADLINE)
            .connect()
            .await
            .unwrap();
        let mut client = GNmiClient::new(channel);
        for _ in 0..10 {
            let mut l = list(
                Mode::Stream,
                vec![sub("/interfaces", SubscriptionMode::Sample, fastest)],
            );
            l.encoding = Encoding::JsonIetf as i32;
            attack.push(open(&mut client, subscribe_req(l)).await.unwrap());
        }
    }
    assert_eq!(h.server.stats().active_subscriptions(), 100);

    // RSS, sampled every 20 ms while the attack runs.
    let peak = Arc::new(AtomicU64::new(rss_bytes()));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Meanwhile, a well-behaved client on another device: each Get and each new
    // Subscribe is answered within the deadline, again and again until the end.
    let mut good = h.client(DEV_B).await;
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < ATTACK {
        let get = GetRequest {
            path: vec![nl6_gnmi::parse_path("/interfaces").unwrap()],
            ..GetRequest::default()
        };
        let got = timeout(ANSWER, good.get(get))
            .await
            .expect("Get answered within 1 s during the attack")
            .unwrap();
        assert_eq!(got.into_inner().notification.len(), 1);
        let l = list(
            Mode::Stream,
            vec![sub(
                "/interfaces/interface[name=Ethernet1]/state/counters",
                SubscriptionMode::Sample,
                fastest,
            )],
        );
        let answered = timeout(ANSWER, async {
            let mut s = open(&mut good, subscribe_req(l)).await.unwrap();
            let first = next(&mut s.rx).await.update();
            assert!(matches!(next(&mut s.rx).await, Msg::Sync));
            let second = next(&mut s.rx).await.update();
            assert!(second.timestamp > first.timestamp);
        })
        .await;
        answered.expect("Subscribe answered within 1 s during the attack");
        rounds += 1;
        // The budget holds at every instant (plus never-dropped sync responses).
        assert!(h.server.stats().queued_bytes() <= BUDGET + 1024);
    }
    sampler.abort();

    let stats = h.server.stats();
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "{rounds} rounds; peak RSS {} MiB; queued {} KiB; {} updates sent, {} dropped, \
         {} evictions",
        peak / MIB,
        stats.queued_bytes() / 1024,
        stats.updates_sent(),
        stats.updates_dropped(),
        stats.budget_evictions()
    );
    assert!(
        peak <= BUDGET + 64 * MIB,
        "peak RSS {} MiB over budget + 64 MiB",
        peak / MIB
    );
    assert!(stats.updates_dropped() > 0 && stats.budget_evictions() > 0);
    assert_eq!(h.server.status().updates_dropped, stats.updates_dropped());
    assert!(
        stats.active_subscriptions() >= 100,
        "the attack streams stay open"
    );
    drop(attack);
    wait_until("the attack's queues are freed", || {
        h.server.stats().queued_bytes() == 0
    })
    .await;
}
