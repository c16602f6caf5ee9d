//! Shared helpers of the dial-in integration tests: a small fleet, a running server,
//! clients, and deadline-bounded waits.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use nl6_dialin::{DeviceDirectory, DialinConfig, DialinServer, ListenerSource};
use nl6_gnmi::parse_path;
use nl6_gnmi::proto::gnmi::g_nmi_client::GNmiClient;
use nl6_gnmi::proto::gnmi::{
    Encoding, Notification, SubscribeRequest, SubscribeResponse, Subscription, SubscriptionList,
    SubscriptionMode, subscribe_request, subscribe_response, subscription_list,
};
use nl6_ifstate::{DeviceModel, DeviceSpec, EventCounters};
use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Status, Streaming};

/// How long any single expected thing may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Device addresses of the test fleet (all on 127/8, i.e. on `lo`).
pub const DEV_A: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
pub const DEV_B: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 2);
/// An address on `lo` that is no device.
pub const NOT_A_DEVICE: Ipv4Addr = Ipv4Addr::new(127, 77, 9, 9);

/// A directory the tests can change while the server runs.
#[derive(Default)]
pub struct TestFleet {
    devices: RwLock<HashMap<Ipv4Addr, Arc<DeviceModel>>>,
}

impl TestFleet {
    pub fn insert(&self, ip: Ipv4Addr, device: Arc<DeviceModel>) {
        self.devices.write().insert(ip, device);
    }

    pub fn remove(&self, ip: Ipv4Addr) -> Option<Arc<DeviceModel>> {
        self.devices.write().remove(&ip)
    }

    pub fn get(&self, ip: Ipv4Addr) -> Arc<DeviceModel> {
        self.devices.read()[&ip].clone()
    }
}

impl DeviceDirectory for TestFleet {
    fn device(&self, local: Ipv4Addr) -> Option<Arc<DeviceModel>> {
        self.devices.read().get(&local).cloned()
    }

    fn device_count(&self) -> usize {
        self.devices.read().len()
    }
}

/// A running server over a two-device fleet.
pub struct Harness {
    pub server: DialinServer,
    pub fleet: Arc<TestFleet>,
    pub events: Arc<EventCounters>,
    pub port: u16,
}

/// The config tests start from: a free port and a 100 ms SAMPLE floor.
pub fn test_config() -> DialinConfig {
    DialinConfig {
        port: 0,
        min_sample_interval: Duration::from_millis(100),
        ..DialinConfig::default()
    }
}

impl Harness {
    /// Starts a server with `config` over devices A and B (4 interfaces each), on the
    /// loopback wildcard listener.
    pub async fn start(config: DialinConfig) -> Harness {
        Harness::start_on(config, ListenerSource::Loopback).await
    }

    /// Starts a server with `config` over devices A and B listening on `source`.
    pub async fn start_on(config: DialinConfig, source: ListenerSource) -> Harness {
        let events = Arc::new(EventCounters::default());
        let fleet = Arc::new(TestFleet::default());
        for (ip, seed) in [(DEV_A, 1), (DEV_B, 2)] {
            let spec = DeviceSpec {
                seed,
                interfaces: 4,
                ..DeviceSpec::default()
            };
            let device = DeviceModel::with_event_counters(&spec, events.clone()).unwrap();
            fleet.insert(ip, Arc::new(device));
        }
        let server = DialinServer::start(config, source, fleet.clone(), events.clone())
            .await
            .expect("server starts");
        let port = server.local_addr().port();
        Harness {
            server,
            fleet,
            events,
            port,
        }
    }

    pub fn addr(&self, ip: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((ip, self.port))
    }

    /// A plaintext channel to device `ip`.
    pub async fn channel(&self, ip: Ipv4Addr) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr(ip)))
            .unwrap()
            .connect_timeout(DEADLINE)
            .connect()
            .await
            .expect("connects")
    }

    /// A plaintext gNMI client of device `ip`.
    pub async fn client(&self, ip: Ipv4Addr) -> GNmiClient<Channel> {
        GNmiClient::new(self.channel(ip).await)
    }
}

/// Awaits `fut`, failing the test after [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// A Subscription of `path` in `mode`.
pub fn sub(path: &str, mode: SubscriptionMode, sample: Duration) -> Subscription {
    Subscription {
        path: Some(parse_path(path).unwrap()),
        mode: mode as i32,
        sample_interval: sample.as_nanos() as u64,
        ..Subscription::default()
    }
}

/// A SubscriptionList of `subs` in `mode` (PROTO encoding).
pub fn list(mode: subscription_list::Mode, subs: Vec<Subscription>) -> SubscriptionList {
    SubscriptionList {
        mode: mode as i32,
        subscription: subs,
        encoding: Encoding::Proto as i32,
        ..SubscriptionList::default()
    }
}

/// A SubscribeRequest carrying `list`.
pub fn subscribe_req(list: SubscriptionList) -> SubscribeRequest {
    SubscribeRequest {
        request: Some(subscribe_request::Request::Subscribe(list)),
        extension: vec![],
    }
}

/// A SubscribeRequest carrying a Poll.
pub fn poll_req() -> SubscribeRequest {
    SubscribeRequest {
        request: Some(subscribe_request::Request::Poll(Default::default())),
        extension: vec![],
    }
}

/// An open Subscribe RPC: the request sender and the response stream.
pub struct Sub {
    pub tx: mpsc::Sender<SubscribeRequest>,
    pub rx: Streaming<SubscribeResponse>,
}

/// Opens a Subscribe RPC sending `first`; the error is the RPC's status when the
/// server rejects it before responding.
pub async fn open(
    client: &mut GNmiClient<Channel>,
    first: SubscribeRequest,
) -> Result<Sub, Status> {
    let (tx, rx) = mpsc::channel(16);
    tx.send(first).await.unwrap();
    let response = within(
        "Subscribe response headers",
        client.subscribe(ReceiverStream::new(rx)),
    )
    .await?;
    Ok(Sub {
        tx,
        rx: response.into_inner(),
    })
}

/// One response of a stream, as the test sees it.
#[derive(Debug)]
pub enum Msg {
    Update(Notification),
    Sync,
    End,
    Error(Status),
}

impl Msg {
    pub fn update(self) -> Notification {
        match self {
            Msg::Update(n) => n,
            other => panic!("expected an update, got {other:?}"),
        }
    }
}

/// The next message of `rx` (within the deadline).
pub async fn next(rx: &mut Streaming<SubscribeResponse>) -> Msg {
    match within("a Subscribe response", rx.message()).await {
        Ok(Some(SubscribeResponse {
            response: Some(subscribe_response::Response::Update(n)),
            ..
        })) => Msg::Update(n),
        Ok(Some(SubscribeResponse {
            response: Some(subscribe_response::Response::SyncResponse(true)),
            ..
        })) => Msg::Sync,
        Ok(Some(other)) => panic!("unexpected response {other:?}"),
        Ok(None) => Msg::End,
        Err(status) => Msg::Error(status),
    }
}

/// The next message of `rx`, or `None` if nothing arrives within `quiet`.
pub async fn next_within(rx: &mut Streaming<SubscribeResponse>, quiet: Duration) -> Option<Msg> {
    tokio::time::timeout(quiet, next(rx)).await.ok()
}

/// The leaf names (last path element) of a notification's updates.
pub fn leaf_names(n: &Notification) -> Vec<String> {
    n.update
        .iter()
        .map(|u| u.path.as_ref().unwrap().elem.last().unwrap().name.clone())
        .collect()
}

/// Checks the stream ends (or errors) within the deadline.
pub async fn assert_ends(rx: &mut Streaming<SubscribeResponse>) -> Option<Status> {
    match next(rx).await {
        Msg::End => None,
        Msg::Error(s) => Some(s),
        other => panic!("expected the end of the stream, got {other:?}"),
    }
}
