//! `/api/v1/topology`: links show as LLDP neighbours at both ends over gNMI dial-in, bad
//! links are refused naming the field with nothing added, and deleting a device (or a
//! link) deletes the neighbour, which ON_CHANGE subscribers see as a `Notification.delete`.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::gnmi::{connect, get_values, on_change_stream};
use common::{Api, dev, within};
use nl6_collector::CollectorConfig;
use nl6_gnmi::format_path;
use nl6_gnmi::proto::gnmi::typed_value::Value as Tv;
use nl6_gnmi::proto::gnmi::{
    CapabilityRequest, Notification, SubscribeResponse, subscribe_response,
};
use serde_json::{Value, json};

/// `path → value` (as text) of a PROTO Get of `path` on the device at `ip`.
async fn get(api: &Api, ip: Ipv4Addr, path: &str) -> BTreeMap<String, String> {
    let values = get_values(ip, api.dialin_port(), path).await.unwrap();
    values
        .into_iter()
        .map(|(path, value)| {
            let value = match value {
                Tv::StringVal(s) => s,
                Tv::UintVal(v) => v.to_string(),
                other => panic!("unexpected value {other:?}"),
            };
            (path, value)
        })
        .collect()
}

fn neighbor(ifname: &str, leaf: &str) -> String {
    format!("/lldp/interfaces/interface[name={ifname}]/neighbors/neighbor[id=1]/state/{leaf}")
}

fn link(a: Ipv4Addr, a_if: &str, b: Ipv4Addr, b_if: &str) -> Value {
    json!({"a": {"device": a.to_string(), "interface": a_if},
           "b": {"device": b.to_string(), "interface": b_if}})
}

async fn hostname(api: &Api, ip: Ipv4Addr) -> String {
    let reply = api.get(&format!("/api/v1/devices/{ip}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["data"]["hostname"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn topology(api: &Api) -> Value {
    let reply = api.get("/api/v1/topology").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["data"]["links"].clone()
}

/// The next Notification of `stream` (skipping a sync_response).
async fn next_notification(
    stream: &mut tonic::Streaming<SubscribeResponse>,
    what: &str,
) -> Notification {
    loop {
        let message = within(what, stream.message())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("stream ended waiting for {what}"));
        match message.response {
            Some(subscribe_response::Response::Update(n)) => return n,
            Some(subscribe_response::Response::SyncResponse(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_link_shows_each_end_as_the_others_lldp_neighbor() {
    let api = Api::start().await;
    let (r1, r2) = (dev(93, 1), dev(93, 2));
    api.create(json!({
        "start_ip": r1.to_string(), "device_count": 2, "interfaces": 4,
        "device_type": "arista-eos"
    }))
    .await;
    let reply = api
        .post(
            "/api/v1/topology",
            &json!({"links": [link(r1, "Ethernet1", r2, "Ethernet3")]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()["data"]["changed"], 1, "{}", reply.text);

    let seen = get(&api, r1, "/lldp").await;
    assert_eq!(
        seen[&neighbor("Ethernet1", "system-name")],
        hostname(&api, r2).await
    );
    assert_eq!(seen[&neighbor("Ethernet1", "port-id")], "Ethernet3");
    assert_eq!(
        seen[&neighbor("Ethernet1", "port-id-type")],
        "INTERFACE_NAME"
    );
    assert_eq!(
        seen[&neighbor("Ethernet1", "management-address")],
        r2.to_string()
    );
    assert_eq!(seen[&neighbor("Ethernet1", "id")], "1");
    let chassis = &seen[&neighbor("Ethernet1", "chassis-id")];
    assert!(
        chassis.starts_with("02:") && chassis.len() == 17,
        "{chassis}"
    );
    // Only the linked interface has a neighbour.
    assert!(
        seen.keys().all(|p| p.contains("[name=Ethernet1]")),
        "{seen:?}"
    );

    let back = get(&api, r2, "/lldp/interfaces/interface[name=Ethernet3]").await;
    assert_eq!(
        back[&neighbor("Ethernet3", "system-name")],
        hostname(&api, r1).await
    );
    assert_eq!(back[&neighbor("Ethernet3", "port-id")], "Ethernet1");
    // The two ends advertise different chassis ids.
    assert_ne!(&back[&neighbor("Ethernet3", "chassis-id")], chassis);

    assert_eq!(
        topology(&api).await,
        json!([link(r1, "Ethernet1", r2, "Ethernet3")])
    );

    let mut client = connect(r1, api.dialin_port()).await;
    let caps = within(
        "capabilities",
        client.capabilities(CapabilityRequest::default()),
    )
    .await
    .unwrap()
    .into_inner();
    assert!(
        caps.supported_models
            .iter()
            .any(|m| m.name == "openconfig-lldp"),
        "{caps:?}"
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_links_are_refused_naming_the_field_and_nothing_is_added() {
    let api = Api::start().await;
    let (r1, r2, r3) = (dev(94, 1), dev(94, 2), dev(94, 3));
    api.create(json!({
        "start_ip": r1.to_string(), "device_count": 3, "interfaces": 2,
        "device_type": "sonic"
    }))
    .await;
    let ok = api
        .post(
            "/api/v1/topology",
            &json!({"links": [link(r1, "Ethernet0", r2, "Ethernet0")]}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let good = link(r2, "Ethernet4", r3, "Ethernet4");
    let cases = [
        (json!({"links": []}), "links"),
        (
            json!({"links": [good, link(dev(94, 9), "Ethernet0", r3, "Ethernet0")]}),
            "links[1].a.device",
        ),
        (
            json!({"links": [good, link(r3, "Ethernet0", r1, "Ethernet7")]}),
            "links[1].b.interface",
        ),
        (
            json!({"links": [good, link(r3, "Ethernet0", r1, "Ethernet0")]}),
            "links[1].b.interface",
        ),
        (
            json!({"links": [good, link(r3, "Ethernet0", r3, "Ethernet4")]}),
            "links[1].b.device",
        ),
        (
            json!({"links": [good, link(r3, "Ethernet4", r1, "Ethernet4")]}),
            "links[1].a.interface",
        ),
        (
            json!({"links": [{"a": {"device": "nope", "interface": "Ethernet0"},
                              "b": {"device": r1.to_string(), "interface": "Ethernet4"}}]}),
            "links[0].a.device",
        ),
    ];
    for (body, field) in cases {
        let reply = api.post("/api/v1/topology", &body).await;
        reply.assert_error(400, &[&format!("invalid {field}: ")]);
    }
    let too_many: Vec<Value> = (0..=nl6_fleet::MAX_LINKS_PER_REQUEST)
        .map(|_| good.clone())
        .collect();
    let reply = api
        .post("/api/v1/topology", &json!({"links": too_many}))
        .await;
    reply.assert_error(400, &["invalid links: 513 links", "at most 512"]);
    let reply = api
        .post("/api/v1/topology", &json!({"links": [good], "extra": 1}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    // All or nothing: only the first link exists, and r2/r3 hear nobody on Ethernet4.
    assert_eq!(
        topology(&api).await,
        json!([link(r1, "Ethernet0", r2, "Ethernet0")])
    );
    assert!(get(&api, r3, "/lldp").await.is_empty());
    api.stop().await;
}

#[tokio::test]
async fn deleting_a_device_deletes_its_neighbor_at_on_change_subscribers_of_the_peer() {
    let api = Api::start().await;
    let (r1, r2, r3) = (dev(95, 1), dev(95, 2), dev(95, 3));
    api.create(json!({
        "start_ip": r1.to_string(), "device_count": 3, "interfaces": 4,
        "device_type": "arista-eos"
    }))
    .await;
    let reply = api
        .post(
            "/api/v1/topology",
            &json!({"links": [link(r1, "Ethernet2", r2, "Ethernet1")]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let mut stream = on_change_stream(r1, api.dialin_port(), "/lldp", false).await;
    let initial = next_notification(&mut stream, "the initial neighbour").await;
    let paths: Vec<String> = initial
        .update
        .iter()
        .map(|u| format_path(u.path.as_ref().unwrap()))
        .collect();
    assert!(
        paths.contains(&neighbor("Ethernet2", "system-name")),
        "{paths:?}"
    );

    // A new link while subscribed: its neighbour arrives as updates.
    let reply = api
        .post(
            "/api/v1/topology",
            &json!({"links": [link(r3, "Ethernet4", r1, "Ethernet4")]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let added = next_notification(&mut stream, "the new neighbour").await;
    assert!(added.delete.is_empty(), "{added:?}");
    let port = added
        .update
        .iter()
        .find(|u| format_path(u.path.as_ref().unwrap()) == neighbor("Ethernet4", "port-id"))
        .expect("the new neighbour's port-id");
    assert_eq!(
        port.val.as_ref().unwrap().value,
        Some(Tv::StringVal("Ethernet4".into()))
    );

    // Deleting the peer device deletes the neighbour entry.
    let reply = api.delete(&format!("/api/v1/devices/{r2}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let gone = next_notification(&mut stream, "the neighbour delete").await;
    assert!(gone.update.is_empty(), "{gone:?}");
    let deleted: Vec<String> = gone.delete.iter().map(format_path).collect();
    assert_eq!(
        deleted,
        ["/lldp/interfaces/interface[name=Ethernet2]/neighbors/neighbor[id=1]"]
    );
    assert!(gone.timestamp > 0);
    let seen = get(&api, r1, "/lldp").await;
    assert!(
        seen.keys().all(|p| p.contains("[name=Ethernet4]")),
        "{seen:?}"
    );
    assert_eq!(
        topology(&api).await,
        json!([link(r1, "Ethernet4", r3, "Ethernet4")])
    );

    // Deleting the link (from either end) deletes the other neighbour too.
    let reply = api
        .delete(&format!("/api/v1/topology?device={r3}&interface=Ethernet4"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let gone = next_notification(&mut stream, "the second delete").await;
    let deleted: Vec<String> = gone.delete.iter().map(format_path).collect();
    assert_eq!(
        deleted,
        ["/lldp/interfaces/interface[name=Ethernet4]/neighbors/neighbor[id=1]"]
    );
    assert!(get(&api, r1, "/lldp").await.is_empty());
    assert!(get(&api, r3, "/lldp").await.is_empty());
    api.stop().await;
}

#[tokio::test]
async fn links_are_deleted_one_at_a_time_or_all_together() {
    let api = Api::start().await;
    let (r1, r2) = (dev(96, 1), dev(96, 2));
    api.create(json!({
        "start_ip": r1.to_string(), "device_count": 2, "interfaces": 3,
        "device_type": "juniper-mx"
    }))
    .await;
    let links = json!({"links": [
        link(r1, "et-0/0/0", r2, "et-0/0/0"),
        link(r1, "et-0/0/1", r2, "et-0/0/2"),
    ]});
    let reply = api.post("/api/v1/topology", &links).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(topology(&api).await.as_array().unwrap().len(), 2);

    let reply = api
        .delete(&format!(
            "/api/v1/topology?device={r2}&interface=et-0%2F0%2F2"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        topology(&api).await,
        json!([link(r1, "et-0/0/0", r2, "et-0/0/0")])
    );
    let reply = api
        .delete(&format!(
            "/api/v1/topology?device={r2}&interface=et-0%2F0%2F2"
        ))
        .await;
    reply.assert_error(404, &["has no link"]);
    let reply = api.delete(&format!("/api/v1/topology?device={r2}")).await;
    reply.assert_error(400, &["invalid interface: "]);
    let reply = api
        .delete("/api/v1/topology?device=x&interface=et-0%2F0%2F0")
        .await;
    reply.assert_error(400, &["invalid device: "]);

    let reply = api.delete("/api/v1/topology").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["data"]["changed"], 1, "{}", reply.text);
    assert_eq!(topology(&api).await, json!([]));
    assert!(get(&api, r1, "/lldp").await.is_empty());

    // Deleting every device forgets their links: the same addresses created again hear
    // nobody.
    let reply = api.post("/api/v1/topology", &links).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = api.delete("/api/v1/devices").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(topology(&api).await, json!([]));
    api.create(json!({
        "start_ip": r1.to_string(), "device_count": 2, "interfaces": 3,
        "device_type": "juniper-mx"
    }))
    .await;
    assert!(get(&api, r1, "/lldp").await.is_empty());
    assert!(get(&api, r2, "/lldp").await.is_empty());
    api.stop().await;
}

#[tokio::test]
async fn an_on_change_dialout_stream_sends_a_new_neighbor() {
    let (sink, mut received) = tokio::sync::mpsc::channel(256);
    let collector = nl6_collector::start(
        CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(sink),
    )
    .await
    .unwrap();
    let api = Api::start().await;
    let (r1, r2) = (dev(99, 1), dev(99, 2));
    api.create(json!({
        "start_ip": r1.to_string(), "interfaces": 2, "device_type": "arista-eos",
        "gnmi_dialout": {"collector": collector.local_addr().to_string(), "mode": "on-change",
                         "encoding": "proto", "paths": ["/lldp"], "tls": {"enabled": false}}
    }))
    .await;
    api.create(json!({"start_ip": r2.to_string(), "interfaces": 2, "device_type": "arista-eos"}))
        .await;
    collector
        .wait_until(common::DEADLINE, |s| s.streams_active == 1)
        .await
        .expect("the dial-out stream");
    let reply = api
        .post(
            "/api/v1/topology",
            &json!({"links": [link(r1, "Ethernet2", r2, "Ethernet1")]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let want = neighbor("Ethernet2", "system-name");
    let peer = hostname(&api, r2).await;
    within("the new neighbour over dial-out", async {
        loop {
            let got = received.recv().await.expect("the collector's sink");
            let n = &got.notification;
            let hit = n
                .update
                .iter()
                .find(|u| format_path(u.path.as_ref().unwrap()) == want);
            if let Some(update) = hit {
                assert_eq!(n.prefix.as_ref().unwrap().target, r1.to_string());
                let value = update.val.as_ref().unwrap().value.clone();
                assert_eq!(value, Some(Tv::StringVal(peer.clone())));
                return;
            }
        }
    })
    .await;
    api.stop().await;
    collector.shutdown().await.unwrap();
}

/// Waits until the collector has an update of `path` (joined with its notification's
/// prefix, as the Junos shape sends it) with the value `peer`.
async fn await_neighbor(
    received: &mut tokio::sync::mpsc::Receiver<std::sync::Arc<nl6_collector::Received>>,
    path: &str,
    peer: String,
) {
    within("the new neighbour over dial-out", async {
        loop {
            let got = received.recv().await.expect("the collector's sink");
            let n = &got.notification;
            let hit = n.update.iter().any(|u| {
                common::gnmi::full_path(n.prefix.as_ref(), u.path.as_ref()) == path
                    && u.val.as_ref().unwrap().value == Some(Tv::StringVal(peer.clone()))
            });
            if hit {
                return;
            }
        }
    })
    .await
}

/// Waits until the collector has a Notification of `target` deleting exactly `path`.
async fn await_delete(
    received: &mut tokio::sync::mpsc::Receiver<std::sync::Arc<nl6_collector::Received>>,
    target: Ipv4Addr,
    path: &str,
    what: &str,
) {
    within(what, async {
        loop {
            let got = received.recv().await.expect("the collector's sink");
            let n = &got.notification;
            if n.delete.is_empty() {
                continue;
            }
            assert_eq!(n.prefix.as_ref().unwrap().target, target.to_string());
            let deleted: Vec<String> = n.delete.iter().map(format_path).collect();
            assert_eq!(deleted, [path], "{n:?}");
            assert!(n.update.is_empty(), "{n:?}");
            return;
        }
    })
    .await;
}

#[tokio::test]
async fn an_on_change_dialout_stream_deletes_a_neighbor_that_goes_away() {
    let (sink, mut received) = tokio::sync::mpsc::channel(256);
    let collector = nl6_collector::start(
        CollectorConfig::plaintext("127.0.0.1:0".parse().unwrap()).with_sink(sink),
    )
    .await
    .unwrap();
    let api = Api::start().await;
    let (r1, r2, r3) = (dev(99, 11), dev(99, 12), dev(99, 13));
    api.create(json!({
        "start_ip": r1.to_string(), "interfaces": 2, "device_type": "juniper-mx",
        "gnmi_dialout": {"collector": collector.local_addr().to_string(), "mode": "on-change",
                         "encoding": "proto", "paths": ["/lldp"], "tls": {"enabled": false}}
    }))
    .await;
    api.create(
        json!({"start_ip": r2.to_string(), "device_count": 2, "interfaces": 2,
                      "device_type": "arista-eos"}),
    )
    .await;
    collector
        .wait_until(common::DEADLINE, |s| s.streams_active == 1)
        .await
        .expect("the dial-out stream");
    let entry = "/lldp/interfaces/interface[name=et-0/0/1]/neighbors/neighbor[id=1]";
    let system_name = format!("{entry}/state/system-name");
    let add = |peer: Ipv4Addr| {
        let api = &api;
        async move {
            let reply = api
                .post(
                    "/api/v1/topology",
                    &json!({"links": [link(r1, "et-0/0/1", peer, "Ethernet1")]}),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
        }
    };
    // The link deleted: the neighbour goes.
    add(r2).await;
    await_neighbor(&mut received, &system_name, hostname(&api, r2).await).await;
    let reply = api
        .delete(&format!("/api/v1/topology?device={r2}&interface=Ethernet1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    await_delete(
        &mut received,
        r1,
        entry,
        "the delete of an unlinked neighbour",
    )
    .await;

    // The peer device deleted: the neighbour goes too.
    add(r3).await;
    await_neighbor(&mut received, &system_name, hostname(&api, r3).await).await;
    let reply = api.delete(&format!("/api/v1/devices/{r3}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    await_delete(&mut received, r1, entry, "the delete of a deleted peer").await;
    api.stop().await;
    collector.shutdown().await.unwrap();
}
