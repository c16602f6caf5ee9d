//! End-to-end dial-out over real loopback sockets: every device connects from its own
//! 127.77.x.y address to an in-process gNMIReverse collector.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use nl6_dialout::{DialoutError, DialoutStats, Encoding, Exporter, FlavorError, Mode, TlsSettings};
use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_ifstate::{AdminStatus, LinkStatus, unix_now_ns};
use support::server::{Behaviour, ScriptedServer};
use support::*;
use tokio::time::Instant;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_pushes_all_paths_in_one_notification_per_tick_from_each_device() {
    let collector = plain_collector().await;
    let mut rx = collector.subscribe();
    let connector = TestConnector::new();
    let exporter = Exporter::new(fast_env(connector.clone()));
    let ips: Vec<_> = (1..=3).map(|n| device_ip(1, n)).collect();
    let started = unix_now_ns();
    let mut exports = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let mut cfg = plain_config(collector.local_addr().port());
        if i == 2 {
            cfg.encoding = Encoding::Proto;
        }
        exports.push(exporter.attach(*ip, model(i as u64, 10), &cfg).unwrap());
    }

    let got = collect(&mut rx, WAIT, |got| {
        ips.iter().all(|ip| {
            let t = ip.to_string();
            got.iter()
                .filter(|r| target_of(&r.notification) == t)
                .count()
                >= 3
        })
    })
    .await;
    let mut last_ts: BTreeMap<String, i64> = BTreeMap::new();
    for r in &got {
        let n = &r.notification;
        let target = target_of(n).to_string();
        assert!(ips.iter().any(|ip| ip.to_string() == target), "{target}");
        assert_eq!(
            n.update.len(),
            170,
            "10 interfaces x 17 leaves in ONE notification"
        );
        let ts = n.timestamp;
        assert!(
            ts as u64 >= started && ts as u64 <= unix_now_ns(),
            "unix-ns timestamp {ts}"
        );
        let previous = last_ts.insert(target.clone(), ts).unwrap_or(0);
        assert!(ts > previous, "timestamps grow per device");
        // The proto device sends uint_val/string_val, the others json_ietf_val.
        let proto = target == ips[2].to_string();
        for u in &n.update {
            let value = u.val.as_ref().and_then(|v| v.value.as_ref()).unwrap();
            match value {
                Value::JsonIetfVal(_) => assert!(!proto),
                Value::UintVal(_) | Value::StringVal(_) => assert!(proto),
                other => panic!("unexpected value {other:?}"),
            }
        }
    }
    // One connection per device, each from its own address.
    let peers: BTreeSet<IpAddr> = collector.peers().into_iter().collect();
    let want: BTreeSet<IpAddr> = ips.iter().map(|ip| IpAddr::V4(*ip)).collect();
    assert_eq!(peers, want);
    eventually(WAIT, "3 streams active", || {
        exporter.stats().status().collectors[0].streams_active == 3
    })
    .await;

    for export in exports {
        assert_eq!(export.counters().updates_sent % 170, 0);
        export.stop().await.unwrap();
    }
    // Everything counted as sent was received (the close waits for the collector).
    let status = exporter.stats().status();
    let c = &status.collectors[0];
    assert_eq!(
        c.collector,
        format!("{COLLECTOR_HOST}:{}", collector.local_addr().port())
    );
    assert_eq!(c.flavor, "gnmireverse");
    assert_eq!(
        (c.devices, c.streams_active, status.devices_exporting),
        (0, 0, 0)
    );
    let seen = collector.stats();
    assert_eq!(seen.leaves, c.updates_sent);
    assert_eq!(seen.sync_responses, 0, "no sync_response on dial-out");
    assert_eq!(
        (c.reconnects, c.send_failures, c.updates_dropped),
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_change_sends_a_snapshot_then_only_the_changed_leaves() {
    let collector = plain_collector().await;
    let mut rx = collector.subscribe();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let port = collector.local_addr().port();

    let subtree = model(7, 10);
    let ip = device_ip(2, 1);
    let cfg = nl6_dialout::DialoutConfig {
        mode: Mode::OnChange,
        ..plain_config(port)
    };
    let export = exporter.attach(ip, subtree.clone(), &cfg).unwrap();
    let target = ip.to_string();
    let snapshot = next_for(&mut rx, &target, WAIT).await;
    assert_eq!(
        subtree.listener_count(),
        1,
        "registered before the snapshot"
    );
    let paths = update_paths(&snapshot);
    assert_eq!(
        paths.len(),
        50,
        "name, ifindex, oper, admin, last-change x 10"
    );
    assert!(
        paths.iter().all(|p| !p.contains("counters")),
        "counters filtered"
    );

    let at = unix_now_ns();
    subtree.set_link(2, LinkStatus::Down, at);
    let event = next_for(&mut rx, &target, WAIT).await;
    assert_eq!(
        update_paths(&event),
        [
            "/interfaces/interface[name=Ethernet3]/state/oper-status",
            "/interfaces/interface[name=Ethernet3]/state/last-change",
        ]
    );
    assert_eq!(event.timestamp as u64, at);
    let values: Vec<_> = event
        .update
        .iter()
        .map(|u| u.val.clone().unwrap().value.unwrap())
        .collect();
    assert_eq!(
        values,
        [
            Value::JsonIetfVal(br#""openconfig-interfaces:DOWN""#.to_vec()),
            Value::JsonIetfVal(format!("\"{at}\"").into_bytes()),
        ]
    );

    subtree.set_admin(0, AdminStatus::Down, unix_now_ns());
    let event = next_for(&mut rx, &target, WAIT).await;
    assert_eq!(
        update_paths(&event),
        [
            "/interfaces/interface[name=Ethernet1]/state/oper-status",
            "/interfaces/interface[name=Ethernet1]/state/admin-status",
            "/interfaces/interface[name=Ethernet1]/state/last-change",
        ]
    );

    // A narrower path: one leaf per interface, one leaf per event.
    let narrow = model(8, 4);
    let ip2 = device_ip(2, 2);
    let cfg2 = nl6_dialout::DialoutConfig {
        mode: Mode::OnChange,
        paths: vec!["/interfaces/interface[name=*]/state/oper-status".into()],
        encoding: Encoding::Proto,
        ..plain_config(port)
    };
    let export2 = exporter.attach(ip2, narrow.clone(), &cfg2).unwrap();
    let first = next_for(&mut rx, &ip2.to_string(), WAIT).await;
    assert_eq!(first.update.len(), 4);
    narrow.set_link(3, LinkStatus::Down, unix_now_ns());
    let event = next_for(&mut rx, &ip2.to_string(), WAIT).await;
    assert_eq!(
        update_paths(&event),
        ["/interfaces/interface[name=Ethernet4]/state/oper-status"]
    );
    assert_eq!(
        event.update[0].val.clone().unwrap().value,
        Some(Value::StringVal("DOWN".into()))
    );

    export.stop().await.unwrap();
    export2.stop().await.unwrap();
    assert_eq!(subtree.listener_count(), 0);
    assert_eq!(narrow.listener_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_change_sends_the_new_boot_time_after_a_reboot() {
    let collector = plain_collector().await;
    let mut rx = collector.subscribe();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let port = collector.local_addr().port();
    let inventory = nl6_platform::Inventory::default();
    let device = std::sync::Arc::new(
        nl6_ifstate::DeviceModel::new(&nl6_ifstate::DeviceSpec {
            seed: 3,
            interfaces: 2,
            ..nl6_ifstate::DeviceSpec::default()
        })
        .unwrap()
        .with_subtrees(std::sync::Arc::new(nl6_platform::subtrees(&inventory))),
    );
    let ip = device_ip(2, 9);
    let cfg = nl6_dialout::DialoutConfig {
        mode: Mode::OnChange,
        encoding: Encoding::Proto,
        paths: vec!["/system/state/boot-time".into()],
        ..plain_config(port)
    };
    let export = exporter.attach(ip, device.clone(), &cfg).unwrap();
    let target = ip.to_string();
    let boot_time = |n: &nl6_gnmi::proto::gnmi::Notification| {
        assert_eq!(update_paths(n), ["/system/state/boot-time"]);
        match n.update[0].val.clone().unwrap().value.unwrap() {
            Value::UintVal(v) => v,
            other => panic!("boot-time is not a uint: {other:?}"),
        }
    };
    let first = next_for(&mut rx, &target, WAIT).await;
    assert_eq!(boot_time(&first), device.boot_time_ns());
    let rebooted = device.reboot(unix_now_ns());
    let event = next_for(&mut rx, &target, WAIT).await;
    assert_eq!(boot_time(&event), rebooted);
    assert!(rebooted > boot_time(&first));
    drop(export);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attaches_are_rejected_with_the_path_and_leave_nothing_behind() {
    let connector = TestConnector::new();
    let stats = DialoutStats::new();
    let mut env = fast_env(connector.clone());
    env.stats = stats.clone();
    let exporter = Exporter::new(env);
    let device = model(1, 10);
    let on_change = |paths: &[&str]| nl6_dialout::DialoutConfig {
        mode: Mode::OnChange,
        paths: paths.iter().map(|p| p.to_string()).collect(),
        ..plain_config(9)
    };

    let err = exporter
        .attach(
            device_ip(3, 1),
            device.clone(),
            &on_change(&[
                "/interfaces/interface/state/oper-status",
                "/interfaces/interface[name=*]/state/counters/in-octets",
            ]),
        )
        .unwrap_err();
    assert!(
        matches!(err, DialoutError::CountersOnly { index: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid gnmi_dialout config: paths[1]: /interfaces/interface[name=*]/state/counters/in-octets covers only counters, which never fire on-change; use mode sample or a path with state leaves"
    );
    let field = err.config_error().unwrap();
    assert_eq!(field.field, "paths[1]");
    let err = exporter
        .attach(
            device_ip(3, 1),
            device.clone(),
            &on_change(&["/interfaces/interface/state/counters"]),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("paths[0]: /interfaces/interface/state/counters covers only counters")
    );

    let err = exporter
        .attach(
            device_ip(3, 1),
            device.clone(),
            &on_change(&["/interfaces/interface[name=Ethernet42]/state"]),
        )
        .unwrap_err();
    assert!(
        matches!(err, DialoutError::Path { index: 0, .. }),
        "{err:?}"
    );
    // The resolver's reason is the source, not repeated in the message.
    assert!(!err.to_string().contains("Ethernet42"), "{err}");
    let source = std::error::Error::source(&err).expect("the resolve error is the source");
    assert!(source.to_string().contains("Ethernet42"), "{source}");
    assert!(
        err.config_error().unwrap().reason.contains("Ethernet42"),
        "{err:?}"
    );

    let mut mtls = plain_config(9);
    mtls.tls = TlsSettings {
        insecure_skip_verify: true,
        mtls: true,
        ..TlsSettings::default()
    };
    let err = exporter
        .attach(device_ip(3, 1), device.clone(), &mtls)
        .unwrap_err();
    assert!(matches!(err, DialoutError::NoClientIdentity), "{err:?}");

    let mut bad = plain_config(9);
    bad.collector = "collector.test".into();
    let err = exporter
        .attach(device_ip(3, 1), device.clone(), &bad)
        .unwrap_err();
    assert!(err.to_string().contains("collector"), "{err}");

    tokio::task::yield_now().await;
    assert_eq!(device.listener_count(), 0, "no listener left registered");
    assert_eq!(connector.total_attempts(), 0, "nothing was spawned");
    let status = stats.status();
    assert!(status.collectors.is_empty(), "{status:?}");
    assert_eq!(status.devices_exporting, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_restart_counts_one_reconnect_and_streaming_resumes() {
    let first = plain_collector().await;
    let addr = first.local_addr();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let ip = device_ip(4, 1);
    let export = exporter
        .attach(ip, model(3, 4), &plain_config(addr.port()))
        .unwrap();
    eventually(WAIT, "first stream delivering", || {
        first.stats().notifications >= 2 && export.counters().streams_active == 1
    })
    .await;
    first.shutdown().await.unwrap();
    eventually(WAIT, "the stream to break", || {
        export.counters().streams_active == 0
    })
    .await;
    assert_eq!(export.counters().reconnects, 0);

    let second = collector_on(addr).await;
    let mut rx = second.subscribe();
    let n = next_for(&mut rx, &ip.to_string(), WAIT).await;
    assert_eq!(n.update.len(), 4 * 17);
    eventually(WAIT, "one reconnect", || {
        let c = export.counters();
        c.reconnects == 1 && c.streams_active == 1
    })
    .await;
    let status = exporter.stats().status();
    let group = &status.collectors[0];
    assert_eq!(group.reconnects, 1);
    assert_eq!(group.disconnects.total(), 1, "{group:?}");
    assert!(
        group
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("stream ended")),
        "{group:?}"
    );
    eventually(WAIT, "the device error to clear once healthy", || {
        export.last_error().is_none()
    })
    .await;
    export.stop().await.unwrap();
    let c = exporter
        .stats()
        .totals(&group.collector, &group.flavor)
        .unwrap();
    assert!(c.updates_sent > 0 && c.updates_produced > 0, "{c:?}");
    assert_eq!(
        c.updates_produced,
        c.updates_sent + c.updates_dropped + c.updates_discarded,
        "the ledger: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_down_at_start_is_retried_with_doubling_capped_backoff() {
    // A port nobody listens on: every connect is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let connector = TestConnector::new();
    let mut env = fast_env(connector.clone());
    env.backoff.initial = Duration::from_millis(40);
    env.backoff.max = Duration::from_millis(160);
    let exporter = Exporter::new(env);
    let ip = device_ip(5, 1);
    let export = exporter
        .attach(ip, model(4, 2), &plain_config(port))
        .unwrap();
    eventually(WAIT, "7 connect attempts", || {
        connector.attempts(ip).len() >= 7
    })
    .await;

    let attempts = connector.attempts(ip);
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = |m| Duration::from_millis(m);
    assert!(gaps[0] >= ms(40), "{gaps:?}");
    assert!(gaps[1] >= ms(80), "{gaps:?}");
    for gap in &gaps[2..6] {
        assert!(*gap >= ms(160), "capped at 160 ms: {gaps:?}");
        assert!(*gap < ms(320), "never doubled past the cap: {gaps:?}");
    }
    let c = export.counters();
    assert!(c.open_failures >= 6, "{c:?}");
    assert_eq!(
        (c.reconnects, c.streams_active, c.updates_sent),
        (0, 0, 0),
        "failed opens are not reconnects"
    );
    let error = export.last_error().unwrap();
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(
        connector.max_in_flight_per_device(),
        1,
        "one dial at a time per device"
    );

    // The collector comes up: the first stream is not a reconnect.
    let collector = collector_on(format!("127.0.0.1:{port}").parse().unwrap()).await;
    eventually(WAIT, "the first stream", || {
        collector.stats().notifications >= 1
    })
    .await;
    assert_eq!(export.counters().reconnects, 0);
    export.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_collector_drops_oldest_while_a_healthy_neighbour_streams_on() {
    let stalled = ScriptedServer::start(Behaviour::StallAfterFirst).await;
    let healthy = plain_collector().await;
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let slow_ip = device_ip(6, 1);
    let ok_ip = device_ip(6, 2);
    // 36 interfaces x 17 leaves: ~40 KB per message, every 2 ms.
    let mut slow_cfg = plain_config(stalled.addr().port());
    slow_cfg.sample_interval = Duration::from_millis(2);
    let slow = exporter.attach(slow_ip, model(5, 36), &slow_cfg).unwrap();
    let ok = exporter
        .attach(
            ok_ip,
            model(6, 4),
            &plain_config(healthy.local_addr().port()),
        )
        .unwrap();

    eventually(
        Duration::from_secs(60),
        "drops on the stalled device",
        || slow.counters().updates_dropped > 0,
    )
    .await;
    assert_eq!(
        stalled.messages(),
        1,
        "the stalled collector read one message"
    );
    let before = healthy.stats().notifications;
    eventually(WAIT, "the neighbour to keep streaming", || {
        healthy.stats().notifications >= before + 5
    })
    .await;
    let s = slow.counters();
    assert_eq!(
        (s.streams_active, s.send_failures),
        (1, 0),
        "stalling is not a failure"
    );
    assert_eq!(
        s.updates_dropped % (36 * 17),
        0,
        "whole messages are dropped"
    );
    let o = ok.counters();
    assert_eq!(
        (o.updates_dropped, o.send_failures, o.streams_active),
        (0, 0, 1)
    );

    let status = exporter.stats().status();
    assert_eq!(status.collectors.len(), 2);
    let slow_row = status
        .collectors
        .iter()
        .find(|c| {
            c.collector
                .ends_with(&format!(":{}", stalled.addr().port()))
        })
        .unwrap();
    assert!(slow_row.updates_dropped > 0);
    drop(ok);
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goarista_eof_on_close_is_a_normal_end_and_the_authority_is_the_host_name() {
    let server = ScriptedServer::start(Behaviour::EndWith(Code::Unknown, "EOF")).await;
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let port = server.addr().port();
    let export = exporter
        .attach(device_ip(7, 1), model(9, 2), &plain_config(port))
        .unwrap();
    eventually(WAIT, "messages at the scripted server", || {
        server.messages() >= 2
    })
    .await;
    within(WAIT, "stop", export.stop()).await.unwrap();
    assert_eq!(server.authorities(), [format!("{COLLECTOR_HOST}:{port}")]);
    let c = exporter
        .stats()
        .totals(&format!("{COLLECTOR_HOST}:{port}"), "gnmireverse")
        .unwrap();
    assert_eq!((c.send_failures, c.reconnects), (0, 0));

    // Any other error status at close is reported.
    let server = ScriptedServer::start(Behaviour::EndWith(Code::Unknown, "boom")).await;
    let export = exporter
        .attach(
            device_ip(7, 2),
            model(9, 2),
            &plain_config(server.addr().port()),
        )
        .unwrap();
    eventually(WAIT, "messages at the second server", || {
        server.messages() >= 1
    })
    .await;
    let error = within(WAIT, "stop", export.stop()).await.unwrap_err();
    assert!(
        matches!(&error, FlavorError::Status { code: Code::Unknown, message } if message == "boom"),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_devices_fold_into_the_totals_exactly_once() {
    let collector = plain_collector().await;
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let port = collector.local_addr().port();
    let key = format!("{COLLECTOR_HOST}:{port}");
    let a = exporter
        .attach(device_ip(8, 1), model(1, 2), &plain_config(port))
        .unwrap();
    let b = exporter
        .attach(device_ip(8, 2), model(2, 2), &plain_config(port))
        .unwrap();
    let c = exporter
        .attach(device_ip(8, 3), model(3, 2), &plain_config(port))
        .unwrap();
    eventually(WAIT, "all three sending", || {
        [&a, &b, &c].iter().all(|e| e.counters().updates_sent > 0)
    })
    .await;

    let totals = |stats: &DialoutStats| stats.totals(&key, "gnmireverse").unwrap();
    let before = totals(exporter.stats());
    a.stop().await.unwrap();
    let after_a = totals(exporter.stats());
    assert!(
        after_a.updates_sent >= before.updates_sent,
        "totals never go backwards"
    );
    assert_eq!(exporter.stats().status().collectors[0].devices, 2);

    // Removal by drop: the task closes and folds on its own.
    drop(b);
    eventually(WAIT, "the dropped device to fold", || {
        exporter.stats().status().collectors[0].devices == 1
    })
    .await;
    c.stop().await.unwrap();

    let status = exporter.stats().status();
    let row = &status.collectors[0];
    assert_eq!(
        (row.devices, row.streams_active, status.devices_exporting),
        (0, 0, 0)
    );
    // Every leaf counted once: exactly what the collector received.
    assert_eq!(row.updates_sent, collector.stats().leaves);
    assert!(row.updates_sent >= after_a.updates_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_accepts_but_never_speaks_fails_the_open() {
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((conn, _)) = mute.accept().await {
            conns.push(conn);
        }
    });
    let mut env = fast_env(TestConnector::new());
    env.tuning.handshake_timeout = Duration::from_millis(100);
    let exporter = Exporter::new(env);
    let export = exporter
        .attach(device_ip(9, 1), model(1, 2), &plain_config(port))
        .unwrap();
    eventually(WAIT, "two failed opens", || {
        export.counters().open_failures >= 2
    })
    .await;
    let error = export.last_error().unwrap();
    assert!(
        error.contains("did not start HTTP/2 within 100ms"),
        "{error}"
    );
    assert_eq!(export.counters().reconnects, 0);
    export.stop().await.unwrap();
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_queued_during_a_stall_survives_the_outage() {
    let stalled = ScriptedServer::start(Behaviour::StallAfterFirst).await;
    let addr = stalled.addr();
    let exporter = Exporter::new(fast_env(TestConnector::new()));
    let mut cfg = plain_config(addr.port());
    cfg.sample_interval = Duration::from_millis(2);
    let export = exporter
        .attach(device_ip(10, 1), model(5, 36), &cfg)
        .unwrap();
    eventually(Duration::from_secs(60), "a full queue", || {
        export.counters().updates_dropped > 0
    })
    .await;

    // The stalled collector goes away with a full queue; a healthy one takes its port.
    stalled.stop().await;
    eventually(WAIT, "the stream to end", || {
        export.counters().streams_active == 0
    })
    .await;
    let restarted_at = unix_now_ns();
    let collector = collector_on(addr).await;
    let mut rx = collector.subscribe();
    let got = collect(&mut rx, WAIT, |got| got.len() >= 3).await;
    for r in &got {
        assert!(
            r.notification.timestamp as u64 >= restarted_at,
            "a message from before the outage was delivered"
        );
    }
    assert_eq!(export.counters().reconnects, 1);
    export.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_resets_only_after_a_stream_stayed_up_long_enough() {
    let addr: std::net::SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let connector = TestConnector::new();
    let mut env = fast_env(connector.clone());
    env.backoff = nl6_dialout::BackoffConfig {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        reset_after: Duration::from_millis(300),
        jitter: 0.0,
    };
    let exporter = Exporter::new(env);
    let ip = device_ip(11, 1);
    let export = exporter
        .attach(ip, model(1, 2), &plain_config(addr.port()))
        .unwrap();
    // 50, 100, 200, 400 ms of backoff: the delay is at its 400 ms cap.
    eventually(WAIT, "5 failed attempts", || {
        connector.attempts(ip).len() >= 5
    })
    .await;

    // A stream that stays up past reset_after: the next delay is back to 50 ms.
    let first = collector_on(addr).await;
    eventually(WAIT, "the first stream", || {
        export.counters().streams_active == 1
    })
    .await;
    let opened = connector.attempts(ip).len() - 1;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(export.counters().streams_active, 1, "stayed up 400 ms");
    first.shutdown().await.unwrap();
    eventually(WAIT, "the break", || export.counters().streams_active == 0).await;
    let broke = Instant::now();
    eventually(WAIT, "a retry", || {
        connector.attempts(ip).len() > opened + 1
    })
    .await;
    let retry = connector.attempts(ip)[opened + 1];
    assert!(
        retry < broke + Duration::from_millis(200),
        "reset to 50 ms, retried {:?} after the break was seen",
        retry.saturating_duration_since(broke)
    );

    // Two more failures (50, 100 ms), then a stream that lives only briefly: the
    // delay keeps doubling and the next retry waits the 400 ms cap.
    eventually(WAIT, "two more failures", || {
        connector.attempts(ip).len() >= opened + 3
    })
    .await;
    let second = collector_on(addr).await;
    eventually(WAIT, "the second stream", || {
        export.counters().streams_active == 1
    })
    .await;
    let reopened = connector.attempts(ip).len() - 1;
    second.shutdown().await.unwrap();
    eventually(WAIT, "a retry", || {
        connector.attempts(ip).len() > reopened + 1
    })
    .await;
    let attempts = connector.attempts(ip);
    let gap = attempts[reopened + 1] - attempts[reopened];
    assert!(
        gap >= Duration::from_millis(400),
        "no reset after a short stream: {gap:?}"
    );
    assert_eq!(export.counters().reconnects, 1);
    export.stop().await.unwrap();
}
