//! Shared helpers of the REST integration tests: a real fleet behind the real router served
//! on 127.0.0.1:0, an HTTP client, and deadline-bounded waits.
#![allow(dead_code)]

pub mod gnmi;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use nl6_dialin::DialinConfig;
use nl6_fleet::{Fleet, FleetConfig};
use reqwest::Method;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single expected thing may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Device address 127.81.`block`.`host` (each test uses its own block).
pub fn dev(block: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 81, block, host)
}

/// A running API: fleet (loopback, plaintext dial-in on a random port) + HTTP server.
pub struct Api {
    pub fleet: Arc<Fleet>,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

/// One HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    /// The body as JSON (panics with the text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {:?}", self.text))
    }

    /// Asserts a `{success:false, message}` error with `status` whose message contains
    /// every one of `needles`; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, needles: &[&str]) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["success"], false, "{body}");
        let message = body["message"].as_str().expect("message").to_string();
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
        }
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["message", "success"], "{body}");
        message
    }
}

impl Api {
    /// Starts a fleet and serves the router over it.
    pub async fn start() -> Api {
        Api::start_with(FleetConfig {
            dialin: Some(DialinConfig {
                port: 0,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
    }

    /// Starts a fleet configured as `config` and serves the router over it.
    pub async fn start_with(config: FleetConfig) -> Api {
        let fleet = Fleet::start(config).await.expect("fleet starts");
        Api::serve(Arc::new(fleet), nl6_rest::ServeOptions::default()).await
    }

    /// Serves the router over `fleet` with `options` (token, history, limits).
    pub async fn serve(fleet: Arc<Fleet>, options: nl6_rest::ServeOptions) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(nl6_rest::serve_with(
            fleet.clone(),
            listener,
            options,
            async move {
                let _ = stopped.await;
            },
        ));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Api {
            fleet,
            addr,
            http,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The dial-in port of the fleet.
    pub fn dialin_port(&self) -> u16 {
        self.fleet.dialin_addr().expect("dial-in runs").port()
    }

    /// Sends `req` and reads the whole reply.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = resp.text().await.expect("body read");
        Reply {
            status,
            content_type,
            text,
        }
    }

    /// `method path` with a JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(body);
        }
        self.send(req).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    /// Run `id`'s report once it is final (`state: finished`); fails after the deadline.
    pub async fn finished_run(&self, id: &str) -> Value {
        within("the run to finish", async {
            loop {
                let report = self.get(&format!("/api/v1/runs/{id}")).await.json()["data"].clone();
                if report["state"] == "finished" {
                    return report;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut req = self.http.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        self.send(req).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a batch and asserts 201 with all devices created.
    pub async fn create(&self, body: Value) -> Value {
        let reply = self.post("/api/v1/devices", &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    /// Stops the server (graceful) and the fleet.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            within("the server to stop", server).await.unwrap().unwrap();
        }
        self.fleet.shutdown().await.unwrap();
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
pub async fn wait_until<F: Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    within(what, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}
