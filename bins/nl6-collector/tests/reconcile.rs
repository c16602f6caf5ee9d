//! A measured run against `nl6-collector --reconcile`, over real sockets: exact with a
//! healthy collector; with the collector cut off for part of the window, the loss is
//! found in the devices and slices of the outage.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nl6_fleet::{Fleet, FleetConfig};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

const DEADLINE: Duration = Duration::from_secs(60);
const DEVICES: u64 = 4;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nl6-reconcile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `nl6-collector --reconcile`, with its stdout collected.
struct Reconciler {
    child: std::process::Child,
}

impl Reconciler {
    fn start(port: u16, report: &Path) -> Reconciler {
        let child = Command::new(env!("CARGO_BIN_EXE_nl6-collector"))
            .args(["--plaintext", "--json", "--quiet-secs", "2", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--reconcile")
            .arg(report)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nl6-collector starts");
        Reconciler { child }
    }

    /// Waits for the exit; the exit success and the comparison it printed.
    async fn finish(self) -> (bool, Value) {
        let output = tokio::time::timeout(
            DEADLINE,
            tokio::task::spawn_blocking(move || self.child.wait_with_output()),
        )
        .await
        .expect("nl6-collector exits in time")
        .unwrap()
        .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
        (output.status.success(), value)
    }
}

/// The REST API over a fleet, on a real socket.
struct Api {
    base: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Api {
    async fn start() -> Api {
        let fleet = Fleet::start(FleetConfig {
            dialin: None,
            ..Default::default()
        })
        .await
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(nl6_rest::serve(Arc::new(fleet), listener, async move {
            let _ = stopped.await;
        }));
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            _stop: stop,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let reply = req.send().await.unwrap();
        (reply.status().as_u16(), reply.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// `DEVICES` devices at `first` sampling every second to `collector`; returns once
    /// every stream is up.
    async fn devices(&self, first: &str, collector: SocketAddr) {
        let (status, body) = self
            .post(
                "/api/v1/devices",
                json!({"start_ip": first, "device_count": DEVICES, "interfaces": 2,
                    "gnmi_dialout": {"collector": collector.to_string(), "sample_interval": "1s",
                        "tls": {"enabled": false}}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.wait("every stream up", |s| {
            s["collectors"][0]["streams_active"] == DEVICES
        })
        .await;
    }

    async fn wait(&self, what: &str, done: impl Fn(&Value) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (_, s) = self.get("/api/v1/gnmi/dialout/status").await;
            if done(&s) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the run until its report is final and writes it (atomically) to `path`.
    async fn finish_run(&self, id: &str, path: &Path) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, body) = self.get(&format!("/api/v1/runs/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if body["data"]["state"] == "finished" {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, body.to_string()).unwrap();
                std::fs::rename(&tmp, path).unwrap();
                return body["data"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {id} never finished: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sleeps until the wall-clock instant `ns` (Unix ns): a step of the scenario, not a
/// wait for an outcome.
async fn at(ns: u64) {
    let now = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_nanos(ns.saturating_sub(now))).await;
}

fn lossy(row: &Value) -> bool {
    [
        "missing",
        "duplicated",
        "extra",
        "not_sent",
        "skipped_ticks",
    ]
    .iter()
    .any(|k| row[k].as_u64().unwrap() > 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reconciles_exactly_with_a_healthy_collector() {
    let dir = scratch("healthy");
    let report = dir.join("report.json");
    let port = free_port();
    let reconciler = Reconciler::start(port, &report);
    let api = Api::start().await;
    api.devices("127.63.0.1", SocketAddr::from(([127, 0, 0, 1], port)))
        .await;

    let run = json!({"devices": {"first": "127.63.0.1", "last": "127.63.0.4"},
        "window": "5s", "slices": 5, "pre_roll": "1s", "drain": "3s", "seed": 11});
    let (status, armed) = api.post("/api/v1/runs", run.clone()).await;
    assert_eq!(status, 201, "{armed}");
    let id = armed["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(armed["data"]["participants"], DEVICES);
    assert_eq!(armed["data"]["state"], "pre-roll");
    let (status, busy) = api.post("/api/v1/runs", run).await;
    assert_eq!(status, 409, "{busy}");
    assert!(
        busy["message"]
            .as_str()
            .unwrap()
            .contains("one run at a time"),
        "{busy}"
    );

    let final_report = api.finish_run(&id, &report).await;
    // One sample per device and second of the window, all sent.
    assert_eq!(
        final_report["totals"]["sent"]["messages"],
        DEVICES * 5,
        "{final_report}"
    );
    assert_eq!(final_report["unsettled"], 0);
    for device in final_report["devices"].as_array().unwrap() {
        for slice in device["slices"].as_array().unwrap() {
            assert_eq!(slice["sent"]["messages"], 1, "{device}");
        }
    }
    let (ok, result) = reconciler.finish().await;
    assert!(ok, "{result}");
    assert_eq!(result["totals"]["sent"], DEVICES * 5, "{result}");
    assert_eq!(result["totals"]["received"], DEVICES * 5, "{result}");
    assert_eq!(result["totals"]["missing"], 0, "{result}");
    assert_eq!(result["totals"]["duplicated"], 0, "{result}");
    assert_eq!(
        result["totals"]["received_updates"], final_report["totals"]["sent"]["updates"],
        "{result}"
    );
    // The same run's GET still answers, final.
    let (status, again) = api.get(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"], final_report);
    let _ = std::fs::remove_dir_all(dir);
}

/// A TCP relay in front of the collector that can cut every connection and refuse new
/// ones for a while: to the devices, the collector is gone.
struct Relay {
    addr: SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let (cut, watch) = tokio::sync::watch::channel(false);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut listener = Some(listener);
            let mut conns = JoinSet::new();
            let mut watch = watch;
            loop {
                let down = *watch.borrow_and_update();
                if down {
                    conns.abort_all();
                    drop(listener.take());
                    let _ = watch.wait_for(|down| !*down).await;
                    listener = Some(TcpListener::bind(addr).await.unwrap());
                    continue;
                }
                let accept = listener.as_ref().unwrap().accept();
                tokio::select! {
                    _ = watch.changed() => {}
                    accepted = accept => {
                        let (mut inbound, _) = accepted.unwrap();
                        conns.spawn(async move {
                            let mut outbound = TcpStream::connect(upstream).await.unwrap();
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        });
                    }
                }
            }
        });
        Relay { addr, cut }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_is_found_in_the_devices_and_slices_of_an_outage() {
    let dir = scratch("outage");
    let report = dir.join("report.json");
    let port = free_port();
    let reconciler = Reconciler::start(port, &report);
    // The collector must listen before the relay forwards to it.
    let upstream = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while TcpStream::connect(upstream).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nl6-collector never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let relay = Relay::start(upstream).await;
    let api = Api::start().await;
    api.devices("127.64.0.1", relay.addr).await;

    let (status, armed) = api
        .post(
            "/api/v1/runs",
            json!({"devices": {"all": true}, "window": "10s", "slices": 10, "pre_roll": "1s",
                "drain": "3s", "tag": "outage-test"}),
        )
        .await;
    assert_eq!(status, 201, "{armed}");
    let id = armed["data"]["id"].as_str().unwrap().to_string();
    let t0 = armed["data"]["t0_ns"].as_u64().unwrap();
    // The collector is unreachable during slices 2 and 3.
    at(t0 + 2_000_000_000).await;
    relay.cut.send_replace(true);
    at(t0 + 4_000_000_000).await;
    relay.cut.send_replace(false);

    let final_report = api.finish_run(&id, &report).await;
    assert_eq!(final_report["tag"], "outage-test");
    let (ok, result) = reconciler.finish().await;
    assert!(!ok, "loss must fail the reconciliation: {result}");
    let devices = result["devices"].as_array().unwrap();
    assert_eq!(devices.len() as u64, DEVICES);
    for device in devices {
        let slices = device["slices"].as_array().unwrap();
        for outage in [2, 3] {
            assert!(lossy(&slices[outage]), "slice {outage} of {device}");
        }
        // Devices are back well before slice 8: retries after about 1 s, then 2 s (±20 %).
        for clean in [0, 8, 9] {
            assert!(!lossy(&slices[clean]), "slice {clean} of {device}");
            assert_eq!(slices[clean]["received"], 1, "slice {clean} of {device}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_mdt_report_is_refused_naming_the_protocol() {
    let dir = scratch("mdt");
    let path = dir.join("report.json");
    std::fs::write(
        &path,
        r#"{"id": "3", "state": "finished", "protocol": "mdt", "tag": "t", "t0_ns": 0,
            "t1_ns": 10, "slices": 1, "devices": []}"#,
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_nl6-collector"))
        .args(["--plaintext", "--listen"])
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--reconcile")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nl6-collector starts");
    let output = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("nl6-collector exits in time")
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("run 3 measured mdt: nl6-collector receives gNMI dial-out only"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
