//! The fleet over real sockets: batches, rollback, deletion and state changes.

use std::net::Ipv4Addr;
use std::time::Duration;

use nl6_dialin::DialinConfig;
use nl6_dialout::{DialoutConfig, Mode, TlsSettings};
use nl6_fleet::{BatchSpec, Fleet, FleetConfig, FleetError, StateLeaf};
use nl6_testkit::{eventually, get_ifindex};

async fn fleet() -> Fleet {
    Fleet::start(FleetConfig {
        dialin: Some(DialinConfig {
            port: 0,
            ..DialinConfig::default()
        }),
        ..FleetConfig::default()
    })
    .await
    .expect("fleet starts")
}

fn batch(start: Ipv4Addr, count: u32) -> BatchSpec {
    BatchSpec {
        start_ip: start,
        device_count: count,
        netmask: 24,
        ..BatchSpec::default()
    }
}

#[tokio::test]
async fn each_device_answers_on_its_own_address() {
    let fleet = fleet().await;
    let port = fleet.dialin_addr().unwrap().port();
    let report = fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 1, 1), 5))
        .await
        .unwrap();
    assert_eq!((report.created, report.requested), (5, 5));
    assert_eq!(report.last, Ipv4Addr::new(127, 88, 1, 5));
    assert_eq!(fleet.len(), 5);
    for info in fleet.list() {
        assert_eq!(get_ifindex(info.ip, port).await.unwrap(), 10, "{}", info.ip);
    }
    // An address that is not a device is not served.
    assert!(
        get_ifindex(Ipv4Addr::new(127, 88, 1, 6), port)
            .await
            .is_err()
    );
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_overlapping_batch_creates_nothing() {
    let fleet = fleet().await;
    fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 2, 10), 5))
        .await
        .unwrap();
    let err = fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 2, 1), 20))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FleetError::Exists(ip) if ip == Ipv4Addr::new(127, 88, 2, 10)),
        "{err}"
    );
    assert_eq!(fleet.len(), 5);
    let err = fleet
        .create_batch(batch(Ipv4Addr::new(10, 88, 2, 1), 2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("127.0.0.0/8"), "{err}");
    assert_eq!(fleet.len(), 5);
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dialout_attach_failure_rolls_the_batch_back() {
    let fleet = fleet().await;
    let mut cfg = DialoutConfig::new("127.0.0.1:1");
    cfg.mode = Mode::OnChange;
    cfg.tls = TlsSettings::plaintext();
    cfg.paths = vec!["/interfaces/interface[name=*]/state/counters".into()];
    let spec = BatchSpec {
        dialout: Some(cfg),
        ..batch(Ipv4Addr::new(127, 88, 3, 1), 3)
    };
    let err = fleet.create_batch(spec).await.unwrap_err();
    assert!(err.to_string().contains("counters"), "{err}");
    assert!(fleet.is_empty());
    assert_eq!(fleet.dialout_status().devices_exporting, 0);
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_deleted_device_is_no_longer_served() {
    let fleet = fleet().await;
    let port = fleet.dialin_addr().unwrap().port();
    let ip = Ipv4Addr::new(127, 88, 4, 1);
    fleet.create_batch(batch(ip, 2)).await.unwrap();
    assert!(get_ifindex(ip, port).await.is_ok());
    fleet.delete(ip).await.unwrap();
    assert!(get_ifindex(ip, port).await.is_err());
    assert!(matches!(
        fleet.delete(ip).await,
        Err(FleetError::NotFound(_))
    ));
    assert_eq!(fleet.len(), 1);
    assert_eq!(fleet.delete_all().await, 1);
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_temporary_state_change_reverts_and_a_newer_one_cancels_it() {
    let fleet = fleet().await;
    let ip = Ipv4Addr::new(127, 88, 5, 1);
    fleet.create_batch(batch(ip, 1)).await.unwrap();
    let model = fleet.model(ip).unwrap();

    let reply = fleet
        .set_interface_state(
            ip,
            2,
            StateLeaf::Oper,
            "down",
            Some(Duration::from_millis(200)),
        )
        .unwrap();
    assert_eq!((reply.oper_status, reply.masked), ("DOWN", false));
    assert!(
        eventually(Duration::from_secs(5), || model.state(1).oper().as_str()
            == "UP")
        .await
    );

    // Admin down masks a link change.
    fleet
        .set_interface_state(ip, 3, StateLeaf::Admin, "DOWN", None)
        .unwrap();
    let reply = fleet
        .set_interface_state(ip, 3, StateLeaf::Oper, "DOWN", None)
        .unwrap();
    assert!(reply.masked);

    // A newer change of the same leaf cancels the pending revert.
    fleet
        .set_interface_state(
            ip,
            4,
            StateLeaf::Admin,
            "DOWN",
            Some(Duration::from_millis(100)),
        )
        .unwrap();
    fleet
        .set_interface_state(ip, 4, StateLeaf::Admin, "TESTING", None)
        .unwrap();
    // A witness revert due after the cancelled one: once it has run, the cancelled
    // one would have run too.
    fleet
        .set_interface_state(
            ip,
            5,
            StateLeaf::Admin,
            "DOWN",
            Some(Duration::from_millis(200)),
        )
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || model.state(4).admin.as_str()
            == "UP")
        .await,
        "the witness revert ran"
    );
    assert_eq!(
        model.state(3).admin.as_str(),
        "TESTING",
        "the cancelled revert never ran"
    );

    let err = fleet
        .set_interface_state(ip, 11, StateLeaf::Oper, "UP", None)
        .unwrap_err();
    assert!(
        matches!(err, FleetError::NoSuchInterface { max: 10, .. }),
        "{err}"
    );
    let err = fleet
        .set_interface_state(ip, 1, StateLeaf::Oper, "SIDEWAYS", None)
        .unwrap_err();
    assert!(err.to_string().contains("status"), "{err}");
    let err = fleet
        .set_interface_state(
            ip,
            1,
            StateLeaf::Oper,
            "UP",
            Some(Duration::from_secs(25 * 3600)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("duration"), "{err}");
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn pages_follow_address_order_and_share_the_batch() {
    let fleet = Fleet::start(FleetConfig {
        dialin: None,
        ..FleetConfig::default()
    })
    .await
    .unwrap();
    // Two batches, the second created first and at lower addresses.
    fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 41, 1), 5))
        .await
        .unwrap();
    fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 40, 250), 3))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = fleet.page(after, 3);
        assert_eq!(page.total, 8);
        assert!(page.devices.len() <= 3);
        seen.extend(page.devices.iter().map(|d| d.ip));
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.devices.last().map(|d| d.ip));
                after = Some(next);
            }
            None => break,
        }
    }
    let all: Vec<_> = fleet.list().iter().map(|d| d.ip).collect();
    assert_eq!(seen, all);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen[0], Ipv4Addr::new(127, 88, 40, 250));
    // A full last page says there is no next one.
    let page = fleet.page(Some(Ipv4Addr::new(127, 88, 41, 1)), 4);
    assert_eq!(page.devices.len(), 4);
    assert_eq!(page.next, None);
    // A cursor need not be a device: the page starts after it.
    let page = fleet.page(Some(Ipv4Addr::new(127, 88, 40, 255)), 1);
    assert_eq!(page.devices[0].ip, Ipv4Addr::new(127, 88, 41, 1));
    assert_eq!(page.next, Some(Ipv4Addr::new(127, 88, 41, 1)));
    // The devices of a batch share its settings.
    let page = fleet.page(Some(Ipv4Addr::new(127, 88, 40, 255)), 2);
    assert!(std::sync::Arc::ptr_eq(
        &page.devices[0].batch,
        &page.devices[1].batch
    ));
    assert!(
        fleet
            .page(Some(Ipv4Addr::new(127, 88, 41, 5)), 10)
            .devices
            .is_empty()
    );
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_composition_follows_creation_and_deletion() {
    let fleet = Fleet::start(FleetConfig {
        dialin: None,
        ..FleetConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(fleet.network_mode(), "loopback");
    assert_eq!(fleet.composition(), nl6_fleet::Composition::default());
    fleet
        .create_batch(BatchSpec {
            interfaces: 4,
            interface_naming: nl6_ifstate::InterfaceNaming::Xr,
            ..batch(Ipv4Addr::new(127, 88, 50, 1), 3)
        })
        .await
        .unwrap();
    let mut cfg = DialoutConfig::new("127.0.0.1:1");
    cfg.tls = TlsSettings::plaintext();
    cfg.flavor = "nokia".into();
    fleet
        .create_batch(BatchSpec {
            dialout: Some(cfg),
            ..batch(Ipv4Addr::new(127, 88, 51, 1), 2)
        })
        .await
        .unwrap();
    let c = fleet.composition();
    assert_eq!(
        (c.devices, c.interfaces, c.dialin_only),
        (5, 3 * 4 + 2 * 10, 3)
    );
    assert_eq!(c.by_naming.get("xr"), Some(&3));
    assert_eq!(c.by_naming.get("arista"), Some(&2));
    assert_eq!(c.by_dialout_flavor.get("nokia"), Some(&2));
    assert!(c.by_mdt_flavor.is_empty());
    fleet.delete(Ipv4Addr::new(127, 88, 51, 1)).await.unwrap();
    fleet.delete(Ipv4Addr::new(127, 88, 51, 2)).await.unwrap();
    let c = fleet.composition();
    assert_eq!((c.devices, c.interfaces), (3, 12));
    assert!(c.by_dialout_flavor.is_empty() && !c.by_naming.contains_key("arista"));
    fleet.delete_all().await;
    assert_eq!(fleet.composition(), nl6_fleet::Composition::default());
    fleet.shutdown().await.unwrap();
}

#[tokio::test]
async fn devices_boot_apart_and_reboot_one_at_a_time() {
    let before = std::time::SystemTime::now();
    let fleet = fleet().await;
    fleet
        .create_batch(batch(Ipv4Addr::new(127, 88, 9, 1), 50))
        .await
        .unwrap();
    let devices = fleet.list();
    let boots: std::collections::BTreeSet<_> = devices.iter().map(|d| d.boot_time).collect();
    assert!(boots.len() >= 49, "{} distinct boot times", boots.len());
    let day = Duration::from_secs(86_400);
    for d in &devices {
        let up = before.duration_since(d.boot_time).unwrap();
        assert!(
            up >= day - Duration::from_secs(1) && up <= 400 * day,
            "{}: {up:?}",
            d.ip
        );
    }
    // Spread, not clustered: the oldest and newest are months apart.
    let spread = boots
        .last()
        .unwrap()
        .duration_since(*boots.first().unwrap())
        .unwrap();
    assert!(spread > 100 * day, "{spread:?}");

    let ip = Ipv4Addr::new(127, 88, 9, 3);
    let model = fleet.model(ip).unwrap();
    let mut listener = model.subscribe();
    let now = nl6_ifstate::unix_now_ns();
    let octets = |t| model.counters_at(0, t).get(nl6_ifstate::Counter::InOctets);
    let old = octets(now);
    assert!(old > 0);
    let boot = fleet.reboot(ip).unwrap();
    let boot_ns = boot
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(boot_ns, model.boot_time_ns());
    assert_eq!(fleet.get(ip).unwrap().boot_time, boot);
    assert_eq!(octets(boot_ns), 0);
    let later = nl6_ifstate::unix_now_ns();
    assert!(octets(later) < old);
    for idx in 0..model.interface_count() {
        assert_eq!(model.state(idx).last_change_ns, boot_ns);
        let ev = listener.try_recv().expect("one event per interface");
        assert_eq!(
            (ev.ifindex, ev.after.last_change_ns),
            (idx as u32 + 1, boot_ns)
        );
    }
    // The neighbours did not reboot.
    let other = fleet.get(Ipv4Addr::new(127, 88, 9, 4)).unwrap();
    assert_eq!(
        Some(other.boot_time),
        devices
            .iter()
            .find(|d| d.ip == other.ip)
            .map(|d| d.boot_time)
    );
    let missing = Ipv4Addr::new(127, 88, 9, 200);
    assert!(matches!(fleet.reboot(missing), Err(FleetError::NotFound(a)) if a == missing));
    fleet.shutdown().await.unwrap();
}
