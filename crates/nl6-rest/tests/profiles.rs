//! `device_type` on `POST /api/v1/devices`: the profile's interface naming unless
//! `interface_naming` is given, its models on dial-in, unknown types refused with nothing
//! created, and `GET /api/v1/status` counting devices by device type.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{Api, DEADLINE, dev, within};
use nl6_gnmi::proto::gnmi::CapabilityRequest;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use serde_json::{Value, json};

const BUILT_INS: [&str; 6] = [
    "generic",
    "arista-eos",
    "cisco-xr",
    "juniper-mx",
    "nokia-sros",
    "sonic",
];

/// The `config` echo of the device at `ip`.
async fn config(api: &Api, ip: Ipv4Addr) -> Value {
    let reply = api.get(&format!("/api/v1/devices/{ip}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["data"]["config"].clone()
}

/// The interface names of the device at `ip`, by ifindex.
async fn interface_names(api: &Api, ip: Ipv4Addr) -> Vec<String> {
    let reply = api.get(&format!("/api/v1/devices/{ip}/interfaces")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["data"]["interfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

/// The model names the device at `ip` advertises in gNMI Capabilities.
async fn models(api: &Api, ip: Ipv4Addr) -> Vec<String> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        SocketAddr::from((ip, api.dialin_port()))
    ))
    .unwrap()
    .connect_timeout(DEADLINE);
    let channel = within("dial-in connect", endpoint.connect()).await.unwrap();
    let reply = within(
        "capabilities",
        GNmiClient::new(channel).capabilities(CapabilityRequest::default()),
    )
    .await
    .unwrap()
    .into_inner();
    let mut names: Vec<String> = reply.supported_models.into_iter().map(|m| m.name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_device_type_brings_its_interface_naming_and_models() {
    let api = Api::start().await;
    let ip = dev(70, 1);
    api.create(json!({
        "start_ip": ip.to_string(), "device_count": 3, "interfaces": 4,
        "device_type": "juniper-mx"
    }))
    .await;
    let echo = config(&api, ip).await;
    assert_eq!(echo["device_type"], "juniper-mx", "{echo}");
    assert_eq!(echo["interface_naming"], "junos", "{echo}");
    assert_eq!(
        interface_names(&api, dev(70, 3)).await,
        ["et-0/0/0", "et-0/0/1", "et-0/0/2", "et-0/0/3"]
    );
    assert_eq!(
        models(&api, ip).await,
        [
            "openconfig-interfaces",
            "openconfig-lldp",
            "openconfig-network-instance",
            "openconfig-platform",
            "openconfig-platform-transceiver",
            "openconfig-system"
        ]
    );

    // The listing echoes it too.
    let page = api.get("/api/v1/devices").await.json();
    let types: Vec<&Value> = page["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["config"]["device_type"])
        .collect();
    assert_eq!(types, [&json!("juniper-mx"); 3], "{page}");

    // No device_type: generic, interfaces only, arista naming.
    let plain = dev(71, 1);
    api.create(json!({"start_ip": plain.to_string(), "interfaces": 2}))
        .await;
    let echo = config(&api, plain).await;
    assert_eq!(
        (&echo["device_type"], &echo["interface_naming"]),
        (&json!("generic"), &json!("arista")),
        "{echo}"
    );
    assert_eq!(models(&api, plain).await, ["openconfig-interfaces"]);
    api.stop().await;
}

#[tokio::test]
async fn an_explicit_interface_naming_wins_over_the_profiles() {
    let api = Api::start().await;
    let ip = dev(72, 1);
    api.create(json!({
        "start_ip": ip.to_string(), "device_count": 2, "interfaces": 2,
        "device_type": "juniper-mx", "interface_naming": "xr"
    }))
    .await;
    let echo = config(&api, ip).await;
    assert_eq!(echo["device_type"], "juniper-mx", "{echo}");
    assert_eq!(echo["interface_naming"], "xr", "{echo}");
    assert_eq!(
        interface_names(&api, ip).await,
        ["HundredGigE0/0/0/0", "HundredGigE0/0/0/1"]
    );

    // An explicit arista on a profile that names its ports otherwise is kept as well.
    let sonic = dev(72, 10);
    api.create(json!({
        "start_ip": sonic.to_string(), "interfaces": 2,
        "device_type": "sonic", "interface_naming": "arista"
    }))
    .await;
    assert_eq!(config(&api, sonic).await["interface_naming"], "arista");
    assert_eq!(
        interface_names(&api, sonic).await,
        ["Ethernet1", "Ethernet2"]
    );
    api.stop().await;
}

#[tokio::test]
async fn an_unknown_device_type_is_a_400_naming_the_field_and_creates_nothing() {
    let api = Api::start().await;
    api.create(json!({"start_ip": dev(73, 1).to_string(), "device_count": 2}))
        .await;
    assert_eq!(api.fleet.len(), 2);

    let refused = dev(74, 1);
    let mut needles = vec!["device_type", "cisco-ios"];
    needles.extend(BUILT_INS);
    api.post(
        "/api/v1/devices",
        &json!({"start_ip": refused.to_string(), "device_count": 5, "device_type": "cisco-ios"}),
    )
    .await
    .assert_error(400, &needles);
    assert_eq!(api.fleet.len(), 2, "nothing was created");
    api.get(&format!("/api/v1/devices/{refused}"))
        .await
        .assert_error(404, &[&refused.to_string()]);

    // Names are exact: no case folding, no prefixes.
    for wrong in [json!("Juniper-MX"), json!("juniper"), json!(7)] {
        let reply = api
            .post(
                "/api/v1/devices",
                &json!({"start_ip": refused.to_string(), "device_type": wrong}),
            )
            .await;
        reply.assert_error(400, &["device_type"]);
    }
    assert_eq!(api.fleet.len(), 2, "nothing was created");
    let status = api.get("/api/v1/status").await.json();
    assert_eq!(status["devices"], 2, "{status}");
    assert_eq!(
        status["composition"]["by_device_type"],
        json!({"generic": 2})
    );
    api.stop().await;
}

#[tokio::test]
async fn status_counts_devices_by_device_type() {
    let api = Api::start().await;
    let empty = api.get("/api/v1/status").await.json();
    assert_eq!(empty["composition"]["by_device_type"], json!({}), "{empty}");

    for (block, count, body) in [
        (75, 3, json!({"device_type": "juniper-mx"})),
        (
            76,
            2,
            json!({"device_type": "juniper-mx", "interface_naming": "xr"}),
        ),
        (77, 4, json!({})),
        (78, 1, json!({"device_type": "sonic"})),
    ] {
        let mut body = body;
        body["start_ip"] = json!(dev(block, 1).to_string());
        body["device_count"] = json!(count);
        body["interfaces"] = json!(2);
        api.create(body).await;
    }
    let status = api.get("/api/v1/status").await.json();
    let composition = &status["composition"];
    assert_eq!(
        composition["by_device_type"],
        json!({"generic": 4, "juniper-mx": 5, "sonic": 1}),
        "{status}"
    );
    assert_eq!(
        composition["by_naming"],
        json!({"arista": 4, "junos": 3, "sonic": 1, "xr": 2}),
        "{status}"
    );
    assert_eq!(status["devices"], 10);

    // Deleting devices takes them off the count; a type with none left disappears.
    let gone = api.delete(&format!("/api/v1/devices/{}", dev(78, 1))).await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    api.delete(&format!("/api/v1/devices/{}", dev(75, 2))).await;
    let status = api.get("/api/v1/status").await.json();
    assert_eq!(
        status["composition"]["by_device_type"],
        json!({"generic": 4, "juniper-mx": 4}),
        "{status}"
    );
    api.stop().await;
}
