//! A spawned nl6d under a guard: ready line, stderr tail, SIGTERM-then-SIGKILL on drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How long the guard waits after SIGTERM before it kills nl6d.
const TERM_GRACE: Duration = Duration::from_secs(20);
/// Lines of nl6d's stderr kept for error messages.
const TAIL_LINES: usize = 20;

/// What nl6d printed once its start-up batch existed.
pub struct Ready {
    /// From spawn to the `nl6d ready:` line.
    pub wall: Duration,
    /// The dial-in port on every device address.
    pub port: u16,
    /// Devices it reported.
    pub devices: u32,
}

/// The last stderr lines and the `took_ms` of the `batch created` line.
#[derive(Default)]
struct LogState {
    took_ms: Option<f64>,
    tail: VecDeque<String>,
}

/// A running nl6d; dropping it stops the process (SIGTERM, then SIGKILL).
pub struct Nl6d {
    child: Child,
    spawned: Instant,
    stdout: mpsc::Receiver<String>,
    log: Arc<Mutex<LogState>>,
}

impl Nl6d {
    /// Starts `bin` with `args`, `NO_COLOR=1` and `RUST_LOG=rust_log`, reading its output.
    pub fn spawn(bin: &Path, args: &[String], rust_log: &str) -> Result<Nl6d> {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("could not start {}", bin.display()))?;
        let out = child.stdout.take().context("nl6d stdout")?;
        let err = child.stderr.take().context("nl6d stderr")?;
        let (tx, stdout) = mpsc::channel();
        std::thread::spawn(move || forward_lines(out, &tx));
        let log = Arc::new(Mutex::new(LogState::default()));
        let sink = log.clone();
        std::thread::spawn(move || collect_log(err, &sink));
        Ok(Nl6d {
            child,
            spawned,
            stdout,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the `nl6d ready:` line, at most `timeout` after the spawn.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<Ready> {
        let deadline = self.spawned + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.starts_with("nl6d ready:") => {
                    let wall = self.spawned.elapsed();
                    let (devices, port) = parse_ready(&line)?;
                    return Ok(Ready {
                        wall,
                        port,
                        devices,
                    });
                }
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("nl6d not ready within {timeout:?}{}", self.log_tail())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    bail!(
                        "nl6d exited ({status:?}) before it was ready{}",
                        self.log_tail()
                    )
                }
            }
        }
    }

    /// The `took_ms` of the `batch created` log line (it may reach us after `ready`).
    pub fn took_ms(&self, timeout: Duration) -> Option<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            let took = self.log.lock().ok().and_then(|l| l.took_ms);
            if took.is_some() || Instant::now() >= deadline {
                return took;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait for exit 0.
    pub fn stop(mut self) -> Result<()> {
        let status = terminate(&mut self.child, TERM_GRACE)?;
        if !status.success() {
            bail!("nl6d exited with {status} after SIGTERM{}", self.log_tail());
        }
        Ok(())
    }

    /// The last stderr lines, formatted to end an error message.
    pub fn log_tail(&self) -> String {
        let log = self.log.lock().map(|l| l.tail.clone()).unwrap_or_default();
        let lines: Vec<String> = log.into_iter().collect();
        format!("; nl6d stderr tail:\n{}", lines.join("\n"))
    }
}

impl Drop for Nl6d {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if terminate(&mut self.child, TERM_GRACE).is_err() {
            eprintln!(
                "nl6d {} ignored SIGTERM for {TERM_GRACE:?}: killing it",
                self.child.id()
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// nl6d's arguments for a loopback fleet of `count` devices from `start`, with
/// plaintext dial-in on a free port and REST on `listen`.
pub fn fleet_args(start: Ipv4Addr, count: u32, interfaces: u32, listen: &str) -> Vec<String> {
    [
        "--auto-start-ip",
        &start.to_string(),
        "--auto-count",
        &count.to_string(),
        "--auto-netmask",
        &netmask_for(count).to_string(),
        "--interfaces",
        &interfaces.to_string(),
        "--gnmi-port",
        "0",
        "--gnmi-tls=false",
        "--listen",
        listen,
    ]
    .map(String::from)
    .to_vec()
}

/// /16 holds 65,534 devices; larger fleets need /8.
fn netmask_for(count: u32) -> u8 {
    if count <= 65_000 { 16 } else { 8 }
}

/// Sends SIGTERM to `child` and waits up to `timeout` for it to exit.
fn terminate(child: &mut Child, timeout: Duration) -> Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    // SAFETY: kill has no memory-safety preconditions; pid is our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            bail!("process {pid} still running {timeout:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends every stdout line to `tx`.
fn forward_lines(out: impl Read, tx: &mpsc::Sender<String>) {
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { return };
        // After `ready` nobody listens; keep draining so nl6d never blocks on stdout.
        let _ = tx.send(line);
    }
}

/// Keeps the last stderr lines (colours stripped) and the batch's `took_ms`.
fn collect_log(err: impl Read, log: &Mutex<LogState>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { return };
        let line = strip_ansi(&line);
        let Ok(mut log) = log.lock() else { return };
        if line.contains("batch created")
            && let Some(took) = field_f64(&line, "took_ms=")
        {
            log.took_ms = Some(took);
        }
        if log.tail.len() == TAIL_LINES {
            log.tail.pop_front();
        }
        log.tail.push_back(line);
    }
}

/// Removes `ESC [ ... letter` sequences (tracing colours its output by default).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The number after `key` in `line`.
fn field_f64(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Devices and dial-in port of `nl6d ready: N devices (...), gNMI dial-in on <device-ip>:P (...)`.
fn parse_ready(line: &str) -> Result<(u32, u16)> {
    let devices = field_f64(line, "nl6d ready: ")
        .ok_or_else(|| anyhow!("no device count in the ready line {line:?}"))?;
    let port = field_f64(line, "<device-ip>:")
        .ok_or_else(|| anyhow!("no dial-in port in the ready line {line:?}"))?;
    Ok((devices as u32, port as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ready_line_and_took_ms() {
        let line = "nl6d ready: 1000 devices (127.60.0.1..127.60.3.232), gNMI dial-in on \
                    <device-ip>:41234 (plaintext), REST on http://127.0.0.1:0";
        assert_eq!(parse_ready(line).unwrap(), (1000, 41234));
        let log = "\u{1b}[2m2026\u{1b}[0m INFO batch created \u{1b}[3mtook_ms\u{1b}[0m\u{1b}[2m=\u{1b}[0m123.5";
        assert_eq!(field_f64(&strip_ansi(log), "took_ms="), Some(123.5));
        assert!(parse_ready("nl6d ready: x").is_err());
    }

    #[test]
    fn fleet_args_pick_the_netmask() {
        let args = fleet_args(Ipv4Addr::new(127, 60, 0, 1), 100_000, 10, "127.0.0.1:0");
        let mask = args.iter().position(|a| a == "--auto-netmask").unwrap();
        assert_eq!(args[mask + 1], "8");
        assert_eq!(netmask_for(65_000), 16);
        assert_eq!(args.last().map(String::as_str), Some("127.0.0.1:0"));
    }
}
