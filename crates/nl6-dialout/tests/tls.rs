//! Dial-out over TLS: a CA bundle (inline or file) verifying the collector by host
//! name, insecure_skip_verify, and mutual TLS with the simulator's certificate.

mod support;

use std::time::Duration;

use nl6_collector::{CollectorConfig, CollectorHandle};
use nl6_dialout::{CaSource, DialoutConfig, Exporter, TlsSettings};
use nl6_tls::Identity;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// A TLS collector presenting `server`, requiring client certificates from `client_ca`.
async fn tls_collector(server: &Identity, client_ca: Option<&Identity>) -> CollectorHandle {
    let roots = client_ca.map(|id| id.root_store().unwrap());
    let config = nl6_tls::server_config(server, roots.as_ref(), true).unwrap();
    nl6_collector::start(CollectorConfig::tls("127.0.0.1:0".parse().unwrap(), config))
        .await
        .unwrap()
}

fn collector_identity() -> Identity {
    Identity::self_signed(&[COLLECTOR_HOST.to_string()]).unwrap()
}

fn tls_config(collector: &CollectorHandle, tls: TlsSettings) -> DialoutConfig {
    DialoutConfig {
        sample_interval: Duration::from_millis(50),
        tls,
        ..DialoutConfig::new(format!(
            "{COLLECTOR_HOST}:{}",
            collector.local_addr().port()
        ))
    }
}

fn with_ca(ca: CaSource) -> TlsSettings {
    TlsSettings {
        ca: Some(ca),
        ..TlsSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_bundle_verifies_the_collector_by_its_host_name() {
    let id = collector_identity();
    let collector = tls_collector(&id, None).await;
    let mut rx = collector.subscribe();
    let exporter = Exporter::new(fast_env(TestConnector::new()));

    let inline = tls_config(
        &collector,
        with_ca(CaSource::InlinePem(id.cert_pem().to_string())),
    );
    let a = exporter
        .attach(device_ip(20, 1), model(1, 2), &inline)
        .unwrap();
    let n = next_for(&mut rx, "127.77.20.1", WAIT).await;
    assert_eq!(n.update.len(), 2 * 17);

    let file = std::env::temp_dir().join(format!("nl6-dialout-ca-{}.pem", std::process::id()));
    std::fs::write(&file, id.cert_pem()).unwrap();
    let from_file = tls_config(&collector, with_ca(CaSource::File(file.clone())));
    let b = exporter
        .attach(device_ip(20, 2), model(2, 2), &from_file)
        .unwrap();
    next_for(&mut rx, "127.77.20.2", WAIT).await;
    std::fs::remove_file(&file).unwrap();

    // The same certificate does not cover the bare IP: verification uses the configured host.
    let mut by_ip = inline.clone();
    by_ip.collector = format!("127.0.0.1:{}", collector.local_addr().port());
    let c = exporter
        .attach(device_ip(20, 3), model(3, 2), &by_ip)
        .unwrap();
    eventually(WAIT, "rejected handshakes by IP", || {
        c.counters().open_failures >= 2
    })
    .await;
    let error = c.last_error().unwrap();
    assert!(
        error.contains("certificate not valid for name \"127.0.0.1\""),
        "{error}"
    );
    assert_eq!(c.counters().streams_active, 0);
    assert!(!collector.targets().contains(&"127.77.20.3".to_string()));

    for e in [a, b, c] {
        e.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_issuer_fails_unless_verification_is_skipped() {
    let collector = tls_collector(&collector_identity(), None).await;
    let mut rx = collector.subscribe();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let stranger = collector_identity();

    let wrong_ca = tls_config(
        &collector,
        with_ca(CaSource::InlinePem(stranger.cert_pem().into())),
    );
    let a = exporter
        .attach(device_ip(21, 1), model(1, 2), &wrong_ca)
        .unwrap();
    eventually(WAIT, "failed handshakes", || {
        a.counters().open_failures >= 2
    })
    .await;
    assert!(
        a.last_error().unwrap().contains("certificate"),
        "{:?}",
        a.last_error()
    );

    let insecure = tls_config(
        &collector,
        TlsSettings {
            insecure_skip_verify: true,
            ..TlsSettings::default()
        },
    );
    let b = exporter
        .attach(device_ip(21, 2), model(2, 2), &insecure)
        .unwrap();
    next_for(&mut rx, "127.77.21.2", WAIT).await;
    assert_eq!(collector.targets(), ["127.77.21.2"]);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_simulator_certificate() {
    let server_id = collector_identity();
    let simulator = Identity::self_signed(&["nl6-simulator".to_string()]).unwrap();
    let collector = tls_collector(&server_id, Some(&simulator)).await;
    let mut rx = collector.subscribe();
    let connector = TestConnector::new();
    let mut env = fast_env(connector);
    env.client_identity = Some(simulator.clone());
    let exporter = Exporter::new(env);
    let ca = with_ca(CaSource::InlinePem(server_id.cert_pem().into()));

    let mtls = tls_config(
        &collector,
        TlsSettings {
            mtls: true,
            ..ca.clone()
        },
    );
    let a = exporter
        .attach(device_ip(22, 1), model(1, 2), &mtls)
        .unwrap();
    next_for(&mut rx, "127.77.22.1", WAIT).await;

    // Without the client certificate the collector refuses the connection.
    let no_cert = tls_config(&collector, ca);
    let b = exporter
        .attach(device_ip(22, 2), model(2, 2), &no_cert)
        .unwrap();
    eventually(WAIT, "refused client without certificate", || {
        collector.stats().handshake_failures >= 2
    })
    .await;
    assert_eq!(collector.targets(), ["127.77.22.1"]);
    a.stop().await.unwrap();
    eventually(WAIT, "failed opens", || b.counters().open_failures >= 2).await;
    // The collector's alert arrives instead of its HTTP/2 preface: a failed open,
    // not a stream that broke.
    let error = b.last_error().unwrap();
    assert!(error.contains("CertificateRequired"), "{error}");
    assert_eq!(b.counters().reconnects, 0);
    b.stop().await.unwrap();
}
