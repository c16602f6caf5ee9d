//! `--reconcile REPORT.json`: receive a run, wait for its final report, compare.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nl6_collector::reconcile::{Received, RunView};
use nl6_collector::start;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Cli;

/// How often the report file is read while the run goes on.
const REPORT_POLL: Duration = Duration::from_millis(200);
/// Notifications queued between the collector and the tracker.
const QUEUE: usize = 16 * 1024;

/// What was received, and when the last tagged message arrived.
struct Tracker {
    received: std::sync::Mutex<Received>,
    last_tagged: std::sync::Mutex<Option<Instant>>,
    error: std::sync::Mutex<Option<String>>,
}

/// The report in `path` if it holds a finished run (`None` while absent, partial or
/// not final yet).
fn read_report(path: &Path) -> Result<Option<RunView>, Box<dyn Error>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(None);
    };
    match serde_json::from_slice::<RunView>(&bytes) {
        Ok(report) if !report.is_reconcilable() => Err(format!(
            "run {} measured {}: nl6-collector receives gNMI dial-out only, so reconcile it \
             with the collector under test (see docs/runs.md)",
            report.id, report.protocol
        )
        .into()),
        Ok(report) if report.is_finished() => Ok(Some(report)),
        Ok(_) => Ok(None),
        // Being written, or not a report yet: a report that stays broken is reported
        // when the collector is stopped.
        Err(_) => Ok(None),
    }
}

pub(crate) async fn run(cli: Cli, path: PathBuf) -> Result<ExitCode, Box<dyn Error>> {
    if !(cli.quiet_secs.is_finite() && cli.quiet_secs > 0.0 && cli.quiet_secs <= 3600.0) {
        return Err(format!("--quiet-secs {} is out of range (0, 3600]", cli.quiet_secs).into());
    }
    let quiet = Duration::from_secs_f64(cli.quiet_secs);
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let cfg = crate::collector_config(&cli)?.with_sink(tx);
    let mut signals = crate::output::Signals::install()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let collector = start(cfg).await?;
    eprintln!(
        "listening on {} ({}); reconciling against {} once it holds a finished run",
        collector.local_addr(),
        if collector.is_tls() {
            "tls"
        } else {
            "plaintext"
        },
        path.display()
    );
    let tracker = Arc::new(Tracker {
        received: Default::default(),
        last_tagged: Default::default(),
        error: Default::default(),
    });
    let recorder = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                if r.tag.is_some() {
                    *tracker.last_tagged.lock().unwrap() = Some(Instant::now());
                }
                if let Err(e) = tracker.received.lock().unwrap().record_received(&r) {
                    *tracker.error.lock().unwrap() = Some(e.to_string());
                }
            }
        })
    };
    let report = loop {
        tokio::select! {
            reason = signals.recv() => {
                let last = std::fs::read(&path).ok().map(|b| serde_json::from_slice::<RunView>(&b));
                let why = match last {
                    None => format!("{} does not exist", path.display()),
                    Some(Err(e)) => format!("{} is not a run report: {e}", path.display()),
                    Some(Ok(_)) => format!("the run in {} has not finished", path.display()),
                };
                collector.shutdown().await?;
                return Err(format!("stopped ({reason}) before a finished report: {why}").into());
            }
            _ = tokio::time::sleep(REPORT_POLL) => {
                if let Some(report) = read_report(&path)? {
                    break report;
                }
            }
        }
        if let Some(e) = tracker.error.lock().unwrap().clone() {
            return Err(e.into());
        }
    };
    let sent = report.sent_messages();
    let read_at = Instant::now();
    eprintln!(
        "report of run {} is final ({sent} messages sent); waiting for them",
        report.id
    );
    loop {
        let distinct = tracker.received.lock().unwrap().distinct(&report.tag) as u64;
        let last = tracker
            .last_tagged
            .lock()
            .unwrap()
            .unwrap_or(read_at)
            .max(read_at);
        if distinct >= sent || last.elapsed() >= quiet {
            break;
        }
        tokio::select! {
            reason = signals.recv() => {
                eprintln!("stopping early ({reason})");
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    collector.shutdown().await?;
    let _ = recorder.await;
    if let Some(e) = tracker.error.lock().unwrap().clone() {
        return Err(e.into());
    }
    let result = tracker.received.lock().unwrap().reconcile(&report);
    if cli.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{result}");
    }
    Ok(if result.loss() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
