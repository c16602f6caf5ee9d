//! Failures are visible (counters, per-collector status, aggregated log lines), reconnects
//! are jittered, SAMPLE ticks are spread, and the ledger adds up exactly.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use nl6_dialout::{BackoffConfig, DialoutConfig, Exporter, Phase, Tuning};
use parking_lot::Mutex;
use support::server::{Behaviour, ScriptedServer};
use support::{
    TestConnector, collect, collector_on, device_ip, eventually, fast_env, model, plain_collector,
    plain_config,
};

const WAIT: Duration = Duration::from_secs(15);

/// A port on 127.0.0.1 that nothing listens on (connections are refused).
fn closed_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Log lines written while it is the thread's default subscriber.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self, containing: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock())
            .lines()
            .filter(|l| l.contains(containing))
            .map(String::from)
            .collect()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: every task logs to the captured subscriber.
#[tokio::test]
async fn a_refusing_collector_is_counted_and_logged_once_per_period_until_it_recovers() {
    let log = CapturedLog::default();
    let _guard = log.install();
    let addr = closed_port();
    let mut env = fast_env(TestConnector::new());
    env.tuning.failure_log_every = Duration::from_millis(500);
    let exporter = Exporter::new(env);
    let cfg = plain_config(addr.port());
    let exports: Vec<_> = (1..=20)
        .map(|n| {
            exporter
                .attach(device_ip(50, n), model(u64::from(n), 2), &cfg)
                .unwrap()
        })
        .collect();

    eventually(WAIT, "every device to fail a few times", || {
        exporter.stats().status().collectors[0].open_failures >= 60
    })
    .await;
    let status = exporter.stats().status();
    let group = &status.collectors[0];
    assert_eq!((group.devices, group.devices_connected), (20, 0));
    let last = group.last_error.as_deref().unwrap_or_default();
    assert!(last.contains("refused"), "{group:?}");
    assert!(group.last_error_at.is_some());
    assert!(exports.iter().all(|e| e.last_error().is_some()));

    eventually(WAIT, "the aggregated WARN line", || {
        !log.lines("dial-out started failing").is_empty()
    })
    .await;
    let started = log.lines("dial-out started failing");
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(started[0].contains("WARN"), "{}", started[0]);
    assert!(
        started[0].contains("20 of 20 devices without a stream") && started[0].contains("refused"),
        "{}",
        started[0]
    );
    // Some 60 failures of 20 devices, yet at most one line per period.
    let warned = log.lines("failing").len();
    assert!(warned <= 3, "{warned} lines: {:?}", log.lines("failing"));

    let collector = collector_on(addr).await;
    eventually(WAIT, "the INFO line that it recovered", || {
        !log.lines("dial-out recovered").is_empty()
    })
    .await;
    let recovered = log.lines("dial-out recovered");
    assert!(recovered[0].contains("INFO") && recovered[0].contains("all 20 devices"));
    assert_eq!(
        exporter.stats().status().collectors[0].devices_connected,
        20
    );
    eventually(WAIT, "every device error to clear", || {
        exports.iter().all(|e| e.last_error().is_none())
    })
    .await;
    for export in exports {
        export.stop().await.ok();
    }
    drop(collector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_of_a_fleet_are_jittered_over_the_delay() {
    let addr = closed_port();
    let connector = TestConnector::new();
    let mut env = fast_env(connector.clone());
    let delay = Duration::from_millis(500);
    env.backoff = BackoffConfig {
        initial: delay,
        max: delay,
        ..BackoffConfig::default()
    };
    let exporter = Exporter::new(env);
    let cfg = plain_config(addr.port());
    let ips: Vec<_> = (1..=100).map(|n| device_ip(51, n)).collect();
    let exports: Vec<_> = ips
        .iter()
        .map(|ip| exporter.attach(*ip, model(1, 1), &cfg).unwrap())
        .collect();
    eventually(WAIT, "a second dial from every device", || {
        ips.iter().all(|ip| connector.attempts(*ip).len() >= 2)
    })
    .await;
    let second: Vec<_> = ips.iter().map(|ip| connector.attempts(*ip)[1]).collect();
    let gaps: Vec<_> = ips
        .iter()
        .map(|ip| {
            let a = connector.attempts(*ip);
            a[1] - a[0]
        })
        .collect();
    assert!(
        gaps.iter().all(|g| *g >= delay.mul_f64(0.8)),
        "no wait below delay - 20 %: {gaps:?}"
    );
    let spread = *second.iter().max().unwrap() - *second.iter().min().unwrap();
    assert!(
        spread >= delay.mul_f64(0.2),
        "second dials spread over {spread:?}, less than 20 % of {delay:?}"
    );
    for export in exports {
        export.stop().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_phase_evens_the_ticks_of_a_fleet_over_the_interval() {
    let collector = plain_collector().await;
    let mut rx = collector.subscribe();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let cfg = DialoutConfig {
        sample_interval: Duration::from_secs(1),
        phase: Phase::Spread,
        ..plain_config(collector.local_addr().port())
    };
    let exports: Vec<_> = (1..=100)
        .map(|n| {
            exporter
                .attach(device_ip(52, n), model(1, 1), &cfg)
                .unwrap()
        })
        .collect();
    let got = collect(&mut rx, WAIT, |got| got.len() >= 200).await;
    let mut buckets = [0usize; 10];
    for r in &got {
        let at = UNIX_EPOCH + Duration::from_nanos(r.notification.timestamp as u64);
        let into_second = at.duration_since(UNIX_EPOCH).unwrap().subsec_millis();
        buckets[(into_second / 100) as usize] += 1;
    }
    let most = *buckets.iter().max().unwrap();
    assert!(
        most * 4 <= got.len(),
        "a 100 ms bucket holds {most} of {} ticks: {buckets:?}",
        got.len()
    );
    for export in exports {
        export.stop().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_produced_update_is_sent_dropped_or_discarded_across_outages() {
    let stalled = ScriptedServer::start(Behaviour::StallAfterFirst).await;
    let addr = stalled.addr();
    let mut env = fast_env(TestConnector::new());
    env.tuning = Tuning {
        queue_depth: 4,
        ..env.tuning
    };
    let exporter = Exporter::new(env);
    let cfg = DialoutConfig {
        sample_interval: Duration::from_millis(5),
        phase: Phase::Aligned,
        ..plain_config(addr.port())
    };
    let export = exporter
        .attach(device_ip(53, 1), model(7, 4), &cfg)
        .unwrap();
    // The stalled collector fills the HTTP/2 window, then the queue overflows.
    eventually(WAIT, "drops from the full queue", || {
        export.counters().updates_dropped > 0
    })
    .await;
    stalled.stop().await;
    eventually(WAIT, "the stream to break and ticks to be skipped", || {
        let c = export.counters();
        c.streams_active == 0 && c.updates_discarded > 0 && c.samples_skipped > 0
    })
    .await;
    let collector = collector_on(addr).await;
    eventually(WAIT, "streaming again", || {
        collector.stats().notifications >= 5
    })
    .await;
    export.stop().await.ok();
    let c = exporter
        .stats()
        .totals(&cfg.collector, "gnmireverse")
        .unwrap();
    assert!(c.updates_sent > 0 && c.reconnects == 1, "{c:?}");
    assert_eq!(
        c.updates_produced,
        c.updates_sent + c.updates_dropped + c.updates_discarded,
        "the ledger: {c:?}"
    );
}
