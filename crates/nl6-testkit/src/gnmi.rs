//! A gNMI probe from the host to a simulated device.

use std::net::Ipv4Addr;
use std::time::Duration;

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::{GetRequest, g_nmi_client::GNmiClient};

/// Number of interfaces a plaintext gNMI Get of `…/state/ifindex` reports for `ip:port`.
///
/// Connects within 5 s and answers within 10 s, or fails with a message naming the step.
pub async fn get_ifindex(ip: Ipv4Addr, port: u16) -> Result<usize, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{ip}:{port}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| format!("connect {ip}:{port}: {e}"))?;
    let reply = GNmiClient::new(channel)
        .get(GetRequest {
            path: vec![parse_path("/interfaces/interface/state/ifindex").unwrap()],
            encoding: 2,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("Get from {ip}: {e}"))?;
    // A reply without a notification is a server bug: panic rather than pass as "not served".
    Ok(reply.into_inner().notification[0].update.len())
}
