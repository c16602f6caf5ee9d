//! HTTP/2 keepalive against a collector that enforces a ping policy like grpc-go's: no
//! pings by default; with `keepalive` set, a GOAWAY too_many_pings doubles the device's
//! interval, is counted, and the stream comes back.

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use nl6_dialout::{DialoutConfig, Exporter, ExporterEnv};
use support::ping_policy::PingPolicyServer;
use support::{TestConnector, device_ip, eventually, fast_env, model, plain_config};

const WAIT: Duration = Duration::from_secs(10);

/// Fast timings, and a keepalive floor low enough for 100 ms pings.
fn env() -> ExporterEnv {
    let mut env = fast_env(TestConnector::new());
    env.tuning.keepalive_floor = Duration::from_millis(10);
    env
}

fn config(server: &PingPolicyServer, keepalive: Duration) -> DialoutConfig {
    DialoutConfig {
        keepalive,
        ..plain_config(server.addr().port())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pings_are_sent_by_default() {
    // grpc-go's default policy: one ping per 5 minutes, 2 strikes.
    let server = PingPolicyServer::start(Duration::from_secs(300), 2).await;
    let exporter = Exporter::new(env());
    let cfg = config(&server, Duration::ZERO);
    let export = exporter
        .attach(device_ip(40, 1), model(1, 2), &cfg)
        .unwrap();
    assert_eq!(export.keepalive(), None);
    // 20 samples at 50 ms: a 100 ms keepalive would have pinged about ten times by then.
    eventually(WAIT, "20 messages", || {
        server.counters().data_frames.load(SeqCst) >= 20
    })
    .await;
    assert_eq!(server.counters().pings.load(SeqCst), 0);
    assert_eq!(server.counters().goaways.load(SeqCst), 0);
    assert_eq!(export.counters().disconnects.total(), 0);
    export.stop().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pings_doubles_the_interval_and_the_stream_comes_back() {
    let server = PingPolicyServer::start(Duration::from_secs(300), 2).await;
    let exporter = Exporter::new(env());
    let cfg = config(&server, Duration::from_millis(100));
    let export = exporter
        .attach(device_ip(40, 2), model(2, 2), &cfg)
        .unwrap();
    assert_eq!(export.keepalive(), Some(Duration::from_millis(100)));

    eventually(WAIT, "the GOAWAY too_many_pings", || {
        server.counters().goaways.load(SeqCst) == 1
    })
    .await;
    eventually(
        WAIT,
        "the device to count it and double its interval",
        || export.counters().too_many_pings == 1,
    )
    .await;
    assert_eq!(export.keepalive(), Some(Duration::from_millis(200)));
    let c = export.counters();
    assert_eq!(c.disconnects.goaway, 1, "{c:?}");
    assert!(server.counters().pings.load(SeqCst) >= 4);

    eventually(WAIT, "the stream to come back on a new connection", || {
        server.counters().connections.load(SeqCst) >= 2
            && server.counters().streams.load(SeqCst) >= 2
            && export.counters().streams_active == 1
    })
    .await;
    let frames = server.counters().data_frames.load(SeqCst);
    eventually(WAIT, "messages on the new stream", || {
        server.counters().data_frames.load(SeqCst) > frames
    })
    .await;

    let status = exporter.stats().status();
    let group = &status.collectors[0];
    assert_eq!((group.too_many_pings, group.disconnects.goaway), (1, 1));
    assert!(group.reconnects >= 1, "{group:?}");
    export.stop().await.ok();
}
