//! Embed a fleet in your own program: start 50 devices on loopback addresses, flip an
//! interface, and read it back over gNMI from the device's own address.
//!
//! ```text
//! cargo run -p nl6-examples --example embed_fleet
//! ```

use std::net::Ipv4Addr;

use nl6_dialin::DialinConfig;
use nl6_fleet::{BatchSpec, Fleet, FleetConfig, StateLeaf};
use nl6_gnmi::proto::gnmi::{GetRequest, g_nmi_client::GNmiClient, typed_value::Value};
use nl6_gnmi::{format_path, parse_path};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Plaintext dial-in on a free port, devices from 127.77.0.1.
    let fleet = Fleet::start(FleetConfig {
        dialin: Some(DialinConfig {
            port: 0,
            ..DialinConfig::default()
        }),
        ..FleetConfig::default()
    })
    .await?;
    let port = fleet.dialin_addr().expect("dial-in runs").port();
    let report = fleet
        .create_batch(BatchSpec {
            start_ip: Ipv4Addr::new(127, 77, 0, 1),
            device_count: 50,
            ..BatchSpec::default()
        })
        .await?;
    println!(
        "{} devices, {} to {}, in {:?}",
        report.created, report.first, report.last, report.took
    );

    let device = report.last;
    fleet.set_interface_state(device, 3, StateLeaf::Oper, "DOWN", None)?;

    let mut client = GNmiClient::connect(format!("http://{device}:{port}")).await?;
    let reply = client
        .get(GetRequest {
            path: vec![parse_path(
                "/interfaces/interface[name=Ethernet3]/state/oper-status",
            )?],
            encoding: 2, // PROTO
            ..Default::default()
        })
        .await?
        .into_inner();
    for update in &reply.notification[0].update {
        if let Some(Value::StringVal(v)) = update.val.as_ref().and_then(|v| v.value.as_ref()) {
            println!(
                "{device} {} = {v}",
                format_path(update.path.as_ref().expect("path"))
            );
        }
    }
    fleet.shutdown().await?;
    Ok(())
}
