//! gNMI dial-in clients of the REST integration tests' devices.

use std::net::{Ipv4Addr, SocketAddr};

use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::typed_value::Value;
use nl6_gnmi::proto::gnmi::{
    Encoding, GetRequest, SubscribeRequest, SubscribeResponse, Subscription, SubscriptionList,
    SubscriptionMode, subscribe_request, subscribe_response, subscription_list,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::{DEADLINE, within};

/// A plaintext gNMI client of the device at `ip`.
pub async fn connect(ip: Ipv4Addr, port: u16) -> GNmiClient<Channel> {
    let endpoint =
        tonic::transport::Endpoint::from_shared(format!("http://{}", SocketAddr::from((ip, port))))
            .unwrap()
            .connect_timeout(DEADLINE)
            .timeout(DEADLINE);
    GNmiClient::new(within("dial-in connect", endpoint.connect()).await.unwrap())
}

/// A dial-in STREAM of one ON_CHANGE subscription (PROTO) to `path` on the device at `ip`.
pub async fn on_change_stream(
    ip: Ipv4Addr,
    port: u16,
    path: &str,
    updates_only: bool,
) -> tonic::Streaming<SubscribeResponse> {
    try_on_change_stream(ip, port, path, updates_only)
        .await
        .unwrap()
}

/// [`on_change_stream`], or the status the device refused it with.
pub async fn try_on_change_stream(
    ip: Ipv4Addr,
    port: u16,
    path: &str,
    updates_only: bool,
) -> Result<tonic::Streaming<SubscribeResponse>, tonic::Status> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(SubscribeRequest {
        request: Some(subscribe_request::Request::Subscribe(SubscriptionList {
            mode: subscription_list::Mode::Stream as i32,
            encoding: Encoding::Proto as i32,
            updates_only,
            subscription: vec![Subscription {
                path: Some(parse_path(path).unwrap()),
                mode: SubscriptionMode::OnChange as i32,
                ..Subscription::default()
            }],
            ..SubscriptionList::default()
        })),
        extension: vec![],
    })
    .await
    .unwrap();
    let mut client = connect(ip, port).await;
    within("subscribe", client.subscribe(ReceiverStream::new(rx)))
        .await
        .map(tonic::Response::into_inner)
}

/// `path → value` of a PROTO Get of `path` on the device at `ip`, each path absolute
/// (the notification's prefix joined with the update's path), or the refusal.
#[allow(dead_code)]
pub async fn get_values(
    ip: Ipv4Addr,
    port: u16,
    path: &str,
) -> Result<std::collections::BTreeMap<String, Value>, tonic::Status> {
    let mut client = connect(ip, port).await;
    let reply = within(
        "get",
        client.get(GetRequest {
            path: vec![parse_path(path).unwrap()],
            encoding: Encoding::Proto as i32,
            ..Default::default()
        }),
    )
    .await?
    .into_inner();
    Ok(reply
        .notification
        .into_iter()
        .flat_map(|n| {
            let prefix = n.prefix;
            n.update.into_iter().map(move |u| {
                (
                    full_path(prefix.as_ref(), u.path.as_ref()),
                    u.val.unwrap().value.unwrap(),
                )
            })
        })
        .collect())
}

/// The absolute path of an update: the notification's prefix (if any) joined with the
/// update's own path, as profiles with a prefixed or Junos shape send them.
#[allow(dead_code)]
pub fn full_path(
    prefix: Option<&nl6_gnmi::proto::gnmi::Path>,
    path: Option<&nl6_gnmi::proto::gnmi::Path>,
) -> String {
    let mut joined = prefix.cloned().unwrap_or_default();
    joined.target.clear();
    if let Some(path) = path {
        joined.elem.extend(path.elem.iter().cloned());
    }
    nl6_gnmi::format_path(&joined)
}

/// The next update of `stream` as (absolute path, value) of its first leaf, skipping
/// sync responses; anything else fails the test.
pub async fn next_value(
    stream: &mut tonic::Streaming<SubscribeResponse>,
    what: &str,
) -> (String, Value) {
    loop {
        let message = within(what, stream.message()).await.unwrap().unwrap();
        match message.response {
            Some(subscribe_response::Response::Update(n)) if !n.update.is_empty() => {
                let u = &n.update[0];
                return (
                    full_path(n.prefix.as_ref(), u.path.as_ref()),
                    u.val.clone().unwrap().value.unwrap(),
                );
            }
            Some(subscribe_response::Response::SyncResponse(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}
