//! The nl6d under test and its REST API (a reqwest client).

use reqwest::blocking::Client;
use reqwest::header::CONTENT_TYPE;

use super::*;

/// Dial-out trigger of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    Sample,
    OnChange,
}

/// A dial-out nl6d and its REST address; dropping it stops the process.
pub(super) struct Daemon {
    nl6d: Nl6d,
    rest: Rest,
}

/// A client of nl6d's REST API at one address.
struct Rest {
    addr: SocketAddr,
    client: Client,
}

impl Rest {
    fn new(addr: SocketAddr) -> Result<Rest> {
        // nl6d closes a keep-alive connection that sat idle for its header read timeout
        // (10 s, as long as a measuring window): never reuse one that idle, or a request
        // can race the close and fail.
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(4))
            .tcp_nodelay(true)
            .build()
            .context("REST: building the HTTP client")?;
        Ok(Rest { addr, client })
    }

    /// One request; returns the status and the body.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String)> {
        let url = format!("http://{}{path}", self.addr);
        let mut request = self.client.request(method.clone(), url);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let reply = request
            .send()
            .with_context(|| format!("REST: {method} {path}"))?;
        let code = reply.status().as_u16();
        let text = reply
            .text()
            .with_context(|| format!("REST: reading the reply to {method} {path}"))?;
        Ok((code, text))
    }
}

impl Daemon {
    /// Starts nl6d with `count` dial-out devices pushing to `collector` as `dial` says
    /// and waits for its `nl6d ready:` line.
    pub(super) fn start(
        bin: &Path,
        count: u32,
        enc: Enc,
        trigger: Trigger,
        collector: SocketAddr,
        dial: Dial<'_>,
    ) -> Result<Daemon> {
        Daemon::start_with(bin, count, enc, trigger, collector, dial, &[])
    }

    /// [`Daemon::start`] with more nl6d flags.
    pub(super) fn start_with(
        bin: &Path,
        count: u32,
        enc: Enc,
        trigger: Trigger,
        collector: SocketAddr,
        dial: Dial<'_>,
        extra: &[&str],
    ) -> Result<Daemon> {
        let rest = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mode = match trigger {
            Trigger::Sample => "sample",
            Trigger::OnChange => "on-change",
        };
        let mut args = fleet_args(START_IP, count, INTERFACES, &rest.to_string());
        args.extend(
            [
                "--gnmi-mode",
                "dial-out",
                "--gnmi-dialout-collector",
                &collector.to_string(),
                "--gnmi-dialout-flavor",
                dial.flavor.name(),
                "--gnmi-dialout-encoding",
                enc.flag(),
                "--gnmi-dialout-sub-mode",
                mode,
                "--gnmi-dialout-interval",
                "1s",
            ]
            .map(String::from),
        );
        match dial.tls {
            None => args.push("--gnmi-dialout-tls=false".into()),
            Some(tls) => args.extend([
                "--gnmi-dialout-tls=true".into(),
                "--gnmi-dialout-tls-ca".into(),
                tls.ca_file.display().to_string(),
            ]),
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut nl6d = Nl6d::spawn(bin, &args, "warn")?;
        nl6d.wait_ready(Duration::from_secs(60 + u64::from(count) / 500))?;
        Ok(Daemon {
            nl6d,
            rest: Rest::new(rest)?,
        })
    }

    /// Starts nl6d with `count` start-up devices streaming MDT (XR interface names,
    /// SAMPLE 1 s, the default generic-counters path) to `destination` with `protocol`
    /// and `encoding` (nl6d's `--mdt-protocol` / `--mdt-encoding` values), no gNMI
    /// dial-out, and waits for its `nl6d ready:` line.
    pub(super) fn start_mdt(
        bin: &Path,
        count: u32,
        protocol: &str,
        encoding: &str,
        destination: SocketAddr,
    ) -> Result<Daemon> {
        let rest = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let mut args = fleet_args(START_IP, count, INTERFACES, &rest.to_string());
        args.extend(
            [
                "--interface-naming",
                "xr",
                "--mdt-subscription",
                "BENCH",
                "--mdt-destination",
                &destination.to_string(),
                "--mdt-protocol",
                protocol,
                "--mdt-encoding",
                encoding,
                "--mdt-sample-interval",
                "1000",
            ]
            .map(String::from),
        );
        let mut nl6d = Nl6d::spawn(bin, &args, "warn")?;
        nl6d.wait_ready(Duration::from_secs(60 + u64::from(count) / 500))?;
        Ok(Daemon {
            nl6d,
            rest: Rest::new(rest)?,
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.nl6d.pid()
    }

    /// The summed MDT dial-out counters of `GET /api/v1/mdt/status`.
    /// A GET is retried once: a pooled keep-alive connection that the server closed
    /// while it idled through a window is reset on reuse.
    pub(super) fn mdt(&self) -> Result<DialoutTotals> {
        let get = || {
            self.rest
                .call(reqwest::Method::GET, "/api/v1/mdt/status", None)
        };
        let (code, body) = match get() {
            Ok(reply) => reply,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                get()?
            }
        };
        if code != 200 {
            bail!("MDT status: HTTP {code}: {body}");
        }
        DialoutTotals::parse(&body)
    }

    /// The summed dial-out counters of `GET /api/v1/gnmi/dialout/status`.
    pub(super) fn dialout(&self) -> Result<DialoutTotals> {
        let (code, body) =
            self.rest
                .call(reqwest::Method::GET, "/api/v1/gnmi/dialout/status", None)?;
        if code != 200 {
            bail!("dial-out status: HTTP {code}: {body}");
        }
        DialoutTotals::parse(&body)
    }

    /// Sets the link of `ip`'s interface `ifindex` over REST.
    pub(super) fn set_link(&self, ip: Ipv4Addr, ifindex: u32, status: &str) -> Result<()> {
        let path = format!("/api/v1/devices/{ip}/interfaces/{ifindex}/oper-status");
        let body = format!("{{\"status\":\"{status}\"}}");
        let (code, reply) = self.rest.call(reqwest::Method::POST, &path, Some(body))?;
        if code != 202 && code != 200 {
            bail!("POST {path}: HTTP {code}: {reply}");
        }
        Ok(())
    }

    /// SIGTERM and wait for exit 0.
    pub(super) fn stop(self) -> Result<()> {
        self.nl6d.stop()
    }

    pub(super) fn log_tail(&self) -> String {
        self.nl6d.log_tail()
    }
}

/// Sums of the dial-out status over all collectors.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DialoutTotals {
    pub(super) devices_connected: u64,
    pub(super) streams_active: u64,
    pub(super) updates_sent: u64,
    pub(super) updates_dropped: u64,
    pub(super) reconnects: u64,
    pub(super) send_failures: u64,
}

impl DialoutTotals {
    pub(super) fn parse(body: &str) -> Result<DialoutTotals> {
        let json: serde_json::Value =
            serde_json::from_str(body).context("dial-out status is not JSON")?;
        let mut totals = DialoutTotals::default();
        let collectors = json["collectors"]
            .as_array()
            .ok_or_else(|| anyhow!("dial-out status has no collectors[]: {body}"))?;
        for c in collectors {
            let field = |name: &str| c[name].as_u64().unwrap_or(0);
            totals.devices_connected += field("devices_connected");
            totals.streams_active += field("streams_active");
            totals.updates_sent += field("updates_sent");
            totals.updates_dropped += field("updates_dropped");
            totals.reconnects += field("reconnects");
            totals.send_failures += field("send_failures");
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one canned HTTP/1.1 reply per connection on loopback and hands back each
    /// request's head and body.
    fn serve(replies: Vec<&'static str>) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut replies = replies.into_iter();
            while let Some(reply) = replies.next() {
                let (conn, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                // Keep-alive: several requests may come over one connection.
                let mut reply = Some(reply);
                while let Some(r) = reply.take() {
                    let mut head = String::new();
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap() == 0 {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if head.is_empty() {
                        break;
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    seen.push(format!("{head}{}", String::from_utf8_lossy(&body)));
                    (&conn).write_all(r.as_bytes()).unwrap();
                    reply = replies.next();
                }
            }
            seen
        });
        (addr, server)
    }

    #[test]
    fn rest_calls_send_json_and_read_plain_and_chunked_replies() {
        let (addr, server) = serve(vec![
            "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ]);
        let rest = Rest::new(addr).unwrap();
        let path = "/api/v1/devices/127.50.0.1/interfaces/1/oper-status";
        let posted = rest
            .call(
                reqwest::Method::POST,
                path,
                Some(r#"{"status":"DOWN"}"#.into()),
            )
            .unwrap();
        assert_eq!(posted, (202, "{}".to_string()));
        let got = rest
            .call(reqwest::Method::GET, "/api/v1/gnmi/dialout/status", None)
            .unwrap();
        assert_eq!(got, (200, "abcde".to_string()));
        drop(rest);
        let seen = server.join().unwrap();
        assert!(
            seen[0].starts_with(&format!("POST {path} HTTP/1.1\r\n")),
            "{seen:?}"
        );
        assert!(
            seen[0].contains("content-type: application/json\r\n"),
            "{seen:?}"
        );
        assert!(seen[0].ends_with(r#"{"status":"DOWN"}"#), "{seen:?}");
        assert!(
            seen[1].starts_with("GET /api/v1/gnmi/dialout/status HTTP/1.1\r\n"),
            "{seen:?}"
        );
    }

    #[test]
    fn a_refused_connection_names_the_request() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = Rest::new(addr)
            .unwrap()
            .call(reqwest::Method::GET, "/health", None)
            .unwrap_err();
        assert_eq!(err.to_string(), "REST: GET /health");
    }

    #[test]
    fn sums_dialout_status() {
        let body = r#"{"subsystem_active":true,"devices_exporting":3,"collectors":[
            {"collector":"a","flavor":"gnmireverse","devices":2,"devices_connected":2,
             "streams_active":2,
             "updates_sent":340,"updates_dropped":1,"reconnects":0,"send_failures":0},
            {"collector":"b","flavor":"gnmireverse","devices":1,"streams_active":1,
             "updates_sent":170,"updates_dropped":0,"reconnects":2,"send_failures":1}]}"#;
        let t = DialoutTotals::parse(body).unwrap();
        assert_eq!(
            (t.streams_active, t.updates_sent, t.updates_dropped),
            (3, 510, 1)
        );
        assert_eq!((t.reconnects, t.send_failures), (2, 1));
        assert_eq!(t.devices_connected, 2);
    }
}
