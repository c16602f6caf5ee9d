//! The `nl6-collector` binary end to end: startup line, output formats, TLS
//! with the generated certificate, and a clean exit on SIGTERM.

// The gNMIReverse client helpers of the library's tests, shared rather than copied.
#[path = "../../../crates/nl6-collector/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

use common::*;
use nl6_tls::{ServerVerification, client_config};

/// A running binary whose stdout and stderr lines arrive on channels.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nl6-collector"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// Reads stderr until a line containing `needle`.
    fn stderr_line(&self, needle: &str) -> String {
        loop {
            let line = self
                .stderr
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|e| panic!("no stderr line with {needle:?}: {e}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn listening_on(&self) -> (SocketAddr, String) {
        let line = self.stderr_line("listening on ");
        let rest = line.split("listening on ").nth(1).unwrap();
        let (addr, mode) = rest.split_once(' ').unwrap();
        (addr.parse().unwrap(), mode.to_string())
    }

    fn stdout_line(&self) -> String {
        self.stdout
            .recv_timeout(DEADLINE)
            .expect("a stdout line before the deadline")
    }

    /// Sends SIGTERM and waits (with a deadline) for a successful exit.
    fn terminate(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain kill(2) on the child this test spawned.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_lines_in_the_reference_format() {
    let bin = Running::start(&["--plaintext", "--listen", "127.0.0.1:0"]);
    let (addr, mode) = bin.listening_on();
    assert_eq!(mode, "(plaintext)");
    let mut n = notification("10.42.0.1", &[("in-octets", 42), ("out-octets", 7)]);
    n.timestamp = 1_136_214_245_000_000_000;
    let mut client = plaintext_client(addr).await;
    client
        .publish(tokio_stream::iter(vec![update(n), sync()]))
        .await
        .unwrap();
    drop(client);
    assert_eq!(
        bin.stdout_line(),
        "[2006-01-02T15:04:05.000000000Z] (10.42.0.1) /interfaces/interface[name=Ethernet1]/state/in-octets = 42"
    );
    assert_eq!(
        bin.stdout_line(),
        "[2006-01-02T15:04:05.000000000Z] (10.42.0.1) /interfaces/interface[name=Ethernet1]/state/out-octets = 7"
    );
    bin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_over_tls_with_the_generated_certificate() {
    let dir = std::env::temp_dir().join(format!("nl6-collector-cli-test-{}", std::process::id()));
    let dir_arg = dir.to_str().unwrap().to_string();
    let bin = Running::start(&["--json", "--listen", "127.0.0.1:0", "--cert-dir", &dir_arg]);
    let generated = bin.stderr_line("self-signed certificate");
    assert!(
        generated.contains(&dir.join("cert.pem").display().to_string()),
        "{generated}"
    );
    let (addr, mode) = bin.listening_on();
    assert_eq!(mode, "(tls)");

    let ca = nl6_tls::ca_bundle_from_file(&dir.join("cert.pem")).unwrap();
    let config = client_config(ServerVerification::CaBundle(ca), None).unwrap();
    let mut client = tls_client(addr, config).await.unwrap();
    let n = notification("10.42.0.3", &[("in-octets", 9)]);
    client
        .publish(tokio_stream::iter(vec![update(n.clone())]))
        .await
        .unwrap();
    drop(client);
    let json: serde_json::Value = serde_json::from_str(&bin.stdout_line()).unwrap();
    assert_eq!(json["target"], "10.42.0.3");
    assert_eq!(json["timestamp_ns"], n.timestamp);
    assert!(json["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        json["updates"][0]["path"],
        "/interfaces/interface[name=Ethernet1]/state/in-octets"
    );
    assert_eq!(json["updates"][0]["value"], 9);
    bin.terminate();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_mode_prints_a_line_per_second() {
    let bin = Running::start(&["--plaintext", "--stats", "--listen", "127.0.0.1:0"]);
    let (addr, _) = bin.listening_on();
    let mut client = plaintext_client(addr).await;
    client
        .publish(tokio_stream::iter(vec![update(notification(
            "10.42.0.1",
            &[("x", 1)],
        ))]))
        .await
        .unwrap();
    drop(client);
    // Wait for a line that has seen the notification.
    loop {
        let line = bin.stdout_line();
        assert!(line.starts_with("streams="), "{line}");
        if line.contains("targets=1") {
            assert!(line.contains("latency_p50_ms=") && line.contains("latency_p99_ms="));
            break;
        }
    }
    bin.terminate();
}

#[test]
fn conflicting_flags_are_rejected() {
    let out = Command::new(env!("CARGO_BIN_EXE_nl6-collector"))
        .args(["--plaintext", "--client-ca", "/nonexistent.pem"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = Command::new(env!("CARGO_BIN_EXE_nl6-collector"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--client-ca",
            "/nonexistent/ca.pem",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read CA bundle file /nonexistent/ca.pem"),
        "{stderr}"
    );
}
