//! Subscribe over real sockets on 127/8: modes, triggers, options and error codes.

mod support;

use std::time::Duration;

use nl6_gnmi::proto::gnmi::subscription_list::Mode;
use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_gnmi::proto::gnmi::{Encoding, Path, SubscriptionMode};
use nl6_ifstate::{AdminStatus, LinkStatus};
use support::*;
use tonic::Code;

const MS100: Duration = Duration::from_millis(100);
const ETH1_STATE: &str = "/interfaces/interface[name=Ethernet1]/state";

fn with_target(
    mut l: nl6_gnmi::proto::gnmi::SubscriptionList,
    target: &str,
) -> nl6_gnmi::proto::gnmi::SubscriptionList {
    l.prefix = Some(Path {
        target: target.into(),
        ..Path::default()
    });
    l
}

fn string_val(n: &nl6_gnmi::proto::gnmi::Notification, leaf: &str) -> String {
    let i = leaf_names(n)
        .iter()
        .position(|l| l == leaf)
        .unwrap_or_else(|| panic!("no {leaf} in {n:?}"));
    match &n.update[i].val.as_ref().unwrap().value {
        Some(Value::StringVal(s)) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn once_sends_updates_then_sync_then_closes() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Once,
        vec![sub(ETH1_STATE, SubscriptionMode::Sample, Duration::ZERO)],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let n = next(&mut s.rx).await.update();
    assert_eq!(n.update.len(), 17);
    assert!(n.prefix.is_none(), "no target asked, none echoed");
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    assert_eq!(assert_ends(&mut s.rx).await.map(|s| s.code()), None);

    // With a target and updates_only: just the sync, then the end.
    let mut l = with_target(
        list(
            Mode::Once,
            vec![sub(ETH1_STATE, SubscriptionMode::Sample, Duration::ZERO)],
        ),
        "edge1",
    );
    l.updates_only = true;
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    assert!(assert_ends(&mut s.rx).await.is_none());

    let l = with_target(
        list(
            Mode::Once,
            vec![sub(ETH1_STATE, SubscriptionMode::Sample, Duration::ZERO)],
        ),
        "edge1",
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    assert_eq!(
        next(&mut s.rx).await.update().prefix.unwrap().target,
        "edge1"
    );
}

#[tokio::test]
async fn poll_answers_every_poll_with_values_and_sync() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Poll,
        vec![sub(
            "/interfaces/interface/state/counters/in-octets",
            SubscriptionMode::Sample,
            Duration::ZERO,
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let first = next(&mut s.rx).await.update();
    assert_eq!(first.update.len(), 4);
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    let mut last_ts = first.timestamp;
    for _ in 0..3 {
        s.tx.send(poll_req()).await.unwrap();
        let n = next(&mut s.rx).await.update();
        assert_eq!(n.update.len(), 4);
        assert!(n.timestamp >= last_ts);
        last_ts = n.timestamp;
        assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    }
    // Closing our side ends the exchange normally.
    drop(s.tx);
    assert!(assert_ends(&mut s.rx).await.is_none());
}

#[tokio::test]
async fn stream_sample_ticks_at_once_syncs_once_then_every_interval() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let interval = Duration::from_millis(400);
    let l = with_target(
        list(
            Mode::Stream,
            vec![sub(
                &format!("{ETH1_STATE}/counters"),
                SubscriptionMode::Sample,
                interval,
            )],
        ),
        "dev-a",
    );
    let opened = nl6_ifstate::unix_now_ns() as i64;
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let first = next(&mut s.rx).await.update();
    assert!(
        first.timestamp - opened < 350_000_000,
        "first tick is immediate"
    );
    assert_eq!(first.update.len(), 12);
    assert_eq!(first.prefix.as_ref().unwrap().target, "dev-a");
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    let mut prev = first.timestamp;
    for _ in 0..2 {
        let n = next(&mut s.rx).await.update(); // no second sync
        assert_eq!(n.prefix.as_ref().unwrap().target, "dev-a");
        assert!(
            n.timestamp - prev >= 380_000_000,
            "ticks {} ns apart",
            n.timestamp - prev
        );
        prev = n.timestamp;
    }
    assert_eq!(h.server.stats().active_subscriptions(), 1);
    assert!(h.server.stats().updates_sent() >= 36);
    drop(s);
    wait_until("subscription count back to 0", || {
        h.server.stats().active_subscriptions() == 0
    })
    .await;
}

#[tokio::test]
async fn on_change_sends_snapshot_sync_then_only_changed_leaves() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let mut client = h.client(DEV_A).await;
    // A container under ON_CHANGE: accepted, counters filtered out.
    let l = list(
        Mode::Stream,
        vec![sub(
            "/interfaces/interface/state",
            SubscriptionMode::OnChange,
            Duration::ZERO,
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let snapshot = next(&mut s.rx).await.update();
    assert_eq!(snapshot.update.len(), 4 * 5);
    assert!(
        leaf_names(&snapshot)
            .iter()
            .all(|l| !l.starts_with("in-") && !l.starts_with("out-"))
    );
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));

    let t = nl6_ifstate::unix_now_ns();
    device.set_link(0, LinkStatus::Down, t);
    let n = next(&mut s.rx).await.update();
    assert_eq!(leaf_names(&n), ["oper-status", "last-change"]);
    assert_eq!(n.timestamp as u64, t);
    assert_eq!(string_val(&n, "oper-status"), "DOWN");
    let key = &n.update[0].path.as_ref().unwrap().elem[1].key;
    assert_eq!(key["name"], "Ethernet1");

    device.set_admin(2, AdminStatus::Down, t + 1);
    let n = next(&mut s.rx).await.update();
    assert_eq!(
        leaf_names(&n),
        ["oper-status", "admin-status", "last-change"]
    );
    assert_eq!(string_val(&n, "admin-status"), "DOWN");
}

#[tokio::test]
async fn on_change_of_one_leaf_ignores_other_changes_and_heartbeat_resends() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let mut client = h.client(DEV_A).await;
    let mut hb = sub(
        "/interfaces/interface[name=Ethernet2]/state/admin-status",
        SubscriptionMode::OnChange,
        Duration::ZERO,
    );
    hb.heartbeat_interval = 150_000_000;
    let l = list(Mode::Stream, vec![hb]);
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    assert_eq!(
        leaf_names(&next(&mut s.rx).await.update()),
        ["admin-status"]
    );
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    // Heartbeats re-send the current value without any change.
    for _ in 0..2 {
        let n = next(&mut s.rx).await.update();
        assert_eq!(leaf_names(&n), ["admin-status"]);
        assert_eq!(string_val(&n, "admin-status"), "UP");
    }
    // A link change of Ethernet2 does not touch admin-status; an admin change does.
    device.set_link(1, LinkStatus::Down, nl6_ifstate::unix_now_ns());
    device.set_admin(1, AdminStatus::Down, nl6_ifstate::unix_now_ns());
    loop {
        let n = next(&mut s.rx).await.update();
        assert_eq!(leaf_names(&n), ["admin-status"]);
        if string_val(&n, "admin-status") == "DOWN" {
            break;
        }
    }
}

#[tokio::test]
async fn suppress_redundant_sends_only_changes_and_heartbeat_forces_all() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let mut client = h.client(DEV_A).await;
    let mut quiet = sub(
        &format!("{ETH1_STATE}/oper-status"),
        SubscriptionMode::Sample,
        MS100,
    );
    quiet.suppress_redundant = true;
    let l = list(Mode::Stream, vec![quiet]);
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    assert_eq!(leaf_names(&next(&mut s.rx).await.update()), ["oper-status"]);
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    // Several ticks pass with no change: nothing is sent.
    assert!(
        next_within(&mut s.rx, Duration::from_millis(450))
            .await
            .is_none()
    );
    device.set_link(0, LinkStatus::Down, nl6_ifstate::unix_now_ns());
    let n = next(&mut s.rx).await.update();
    assert_eq!(string_val(&n, "oper-status"), "DOWN");

    // Counters with suppress_redundant: static leaves never repeat; a heartbeat sends all.
    let mut counters = sub(ETH1_STATE, SubscriptionMode::Sample, MS100);
    counters.suppress_redundant = true;
    counters.heartbeat_interval = 450_000_000;
    let mut s = open(
        &mut client,
        subscribe_req(list(Mode::Stream, vec![counters])),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut s.rx).await.update().update.len(), 17);
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    let tick = next(&mut s.rx).await.update();
    let names = leaf_names(&tick);
    assert!(names.contains(&"in-octets".to_string()), "{names:?}");
    assert!(!names.contains(&"name".to_string()) && !names.contains(&"ifindex".to_string()));
    loop {
        let n = next(&mut s.rx).await.update();
        if n.update.len() == 17 {
            break; // the heartbeat
        }
        assert!(!leaf_names(&n).contains(&"name".to_string()));
    }
}

#[tokio::test]
async fn updates_only_starts_with_sync() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let mut client = h.client(DEV_A).await;
    let mut l = list(
        Mode::Stream,
        vec![
            sub(
                &format!("{ETH1_STATE}/counters/in-octets"),
                SubscriptionMode::Sample,
                MS100,
            ),
            sub(
                &format!("{ETH1_STATE}/oper-status"),
                SubscriptionMode::OnChange,
                Duration::ZERO,
            ),
        ],
    );
    l.updates_only = true;
    let opened = tokio::time::Instant::now();
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    let n = next(&mut s.rx).await.update();
    assert_eq!(leaf_names(&n), ["in-octets"]);
    assert!(
        opened.elapsed() >= Duration::from_millis(90),
        "first sample after one interval"
    );
    device.set_link(0, LinkStatus::Down, nl6_ifstate::unix_now_ns());
    loop {
        let n = next(&mut s.rx).await.update();
        if leaf_names(&n) == ["oper-status"] {
            assert_eq!(string_val(&n, "oper-status"), "DOWN");
            break;
        }
    }
}

#[tokio::test]
async fn target_defined_samples_counters_and_follows_state() {
    let h = Harness::start(test_config()).await;
    let device = h.fleet.get(DEV_A);
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Stream,
        vec![sub(ETH1_STATE, SubscriptionMode::TargetDefined, MS100)],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    let a = next(&mut s.rx).await.update();
    let b = next(&mut s.rx).await.update();
    assert_eq!(a.update.len() + b.update.len(), 17);
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    assert_eq!(
        next(&mut s.rx).await.update().update.len(),
        12,
        "counters sampled"
    );
    device.set_link(0, LinkStatus::Down, nl6_ifstate::unix_now_ns());
    loop {
        let n = next(&mut s.rx).await.update();
        if n.update.len() != 12 {
            assert_eq!(leaf_names(&n), ["oper-status", "last-change"]);
            break;
        }
    }
}

#[tokio::test]
async fn missing_interface_is_accepted_and_sends_nothing() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let path = "/interfaces/interface[name=Ethernet42]/state";
    let mut s = open(
        &mut client,
        subscribe_req(list(
            Mode::Stream,
            vec![sub(path, SubscriptionMode::Sample, MS100)],
        )),
    )
    .await
    .unwrap();
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    assert!(
        next_within(&mut s.rx, Duration::from_millis(350))
            .await
            .is_none(),
        "stays open, silent"
    );
    let mut s = open(
        &mut client,
        subscribe_req(list(
            Mode::Once,
            vec![sub(path, SubscriptionMode::Sample, MS100)],
        )),
    )
    .await
    .unwrap();
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    assert!(assert_ends(&mut s.rx).await.is_none());
}

#[tokio::test]
async fn rejected_requests_carry_the_spec_codes() {
    let mut config = test_config();
    config.first_request_timeout = Duration::from_millis(200);
    let h = Harness::start(config).await;
    let mut client = h.client(DEV_A).await;
    let stream_of = |s| list(Mode::Stream, vec![s]);
    let mut ascii = stream_of(sub(ETH1_STATE, SubscriptionMode::Sample, MS100));
    ascii.encoding = Encoding::Ascii as i32;
    let too_many = list(
        Mode::Stream,
        (0..65)
            .map(|_| {
                sub(
                    &format!("{ETH1_STATE}/oper-status"),
                    SubscriptionMode::OnChange,
                    Duration::ZERO,
                )
            })
            .collect(),
    );
    let cases = [
        (poll_req(), Code::InvalidArgument, "SubscriptionList"),
        (subscribe_req(ascii), Code::Unimplemented, "not supported"),
        (
            subscribe_req(stream_of(sub(
                ETH1_STATE,
                SubscriptionMode::Sample,
                Duration::from_millis(50),
            ))),
            Code::InvalidArgument,
            "sample_interval",
        ),
        (
            subscribe_req(stream_of(sub(
                &format!("{ETH1_STATE}/counters/in-octets"),
                SubscriptionMode::OnChange,
                Duration::ZERO,
            ))),
            Code::InvalidArgument,
            "use SAMPLE",
        ),
        (subscribe_req(too_many), Code::ResourceExhausted, "64"),
        (
            subscribe_req(stream_of(sub(
                "/interfaces/interface/config",
                SubscriptionMode::Sample,
                MS100,
            ))),
            Code::NotFound,
            "does not exist",
        ),
        (
            subscribe_req(stream_of(sub(
                "/interfaces/interface[name=]/state",
                SubscriptionMode::Sample,
                MS100,
            ))),
            Code::InvalidArgument,
            "empty",
        ),
        (
            subscribe_req(list(Mode::Stream, vec![])),
            Code::InvalidArgument,
            "empty",
        ),
    ];
    for (first, code, text) in cases {
        let status = open(&mut client, first).await.err().expect("rejected");
        assert_eq!(status.code(), code, "{status:?}");
        assert!(
            status.message().contains(text),
            "{:?} lacks {text:?}",
            status.message()
        );
    }

    // No first request within the (configured) timeout.
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let status = within(
        "first-request timeout",
        client.subscribe(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);

    // A second SubscriptionList, and a Poll on a STREAM, end the stream.
    for second in [
        subscribe_req(stream_of(sub(ETH1_STATE, SubscriptionMode::Sample, MS100))),
        poll_req(),
    ] {
        let mut s = open(
            &mut client,
            subscribe_req(stream_of(sub(ETH1_STATE, SubscriptionMode::Sample, MS100))),
        )
        .await
        .unwrap();
        s.tx.send(second).await.unwrap();
        let status = loop {
            match next(&mut s.rx).await {
                Msg::Update(_) | Msg::Sync => continue,
                Msg::Error(status) => break status,
                Msg::End => panic!("ended without an error"),
            }
        };
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn deleted_device_ends_its_streams() {
    let mut config = test_config();
    config.device_check_interval = Duration::from_millis(100);
    let h = Harness::start(config).await;
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Stream,
        vec![sub(
            &format!("{ETH1_STATE}/oper-status"),
            SubscriptionMode::OnChange,
            Duration::ZERO,
        )],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    next(&mut s.rx).await.update();
    assert!(matches!(next(&mut s.rx).await, Msg::Sync));
    h.fleet.remove(DEV_A);
    let status = assert_ends(&mut s.rx).await.expect("an error status");
    assert_eq!(status.code(), Code::Unavailable);
    let err = client
        .get(nl6_gnmi::proto::gnmi::GetRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[tokio::test]
async fn shutdown_ends_streams_and_returns() {
    let h = Harness::start(test_config()).await;
    let mut client = h.client(DEV_A).await;
    let l = list(
        Mode::Stream,
        vec![sub(ETH1_STATE, SubscriptionMode::Sample, MS100)],
    );
    let mut s = open(&mut client, subscribe_req(l)).await.unwrap();
    next(&mut s.rx).await.update();
    within("shutdown", h.server.shutdown()).await;
    loop {
        match next(&mut s.rx).await {
            Msg::Update(_) | Msg::Sync => continue,
            Msg::Error(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                break;
            }
            Msg::End => break,
        }
    }
    assert!(!h.server.status().subsystem_active);
    // The port no longer accepts.
    assert!(tokio::net::TcpStream::connect(h.addr(DEV_A)).await.is_err());
}
