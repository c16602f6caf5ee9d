//! Where the binary's output goes: a printer thread for notifications and a
//! once-per-second stats line.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nl6_collector::format::{push_json, push_lines};
use nl6_collector::{CollectorHandle, Received};
use tokio::sync::{mpsc, oneshot};

/// Bytes rendered before the printer writes and flushes even if more is queued.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// How notifications are rendered.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// One goarista-style line per update.
    Lines,
    /// One JSON object per notification.
    Json,
}

/// A dedicated thread writing rendered notifications to stdout.
pub struct Printer {
    stopped: Option<oneshot::Receiver<()>>,
    thread: std::thread::JoinHandle<io::Result<()>>,
}

impl Printer {
    /// Starts the thread; it ends when every sender of `rx` is gone or stdout fails.
    pub fn spawn(rx: mpsc::Receiver<Arc<Received>>, format: Format) -> Printer {
        let (done, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let result = print_loop(rx, format);
            let _ = done.send(());
            result
        });
        Printer {
            stopped: Some(stopped),
            thread,
        }
    }

    /// Resolves when the thread has ended (pending forever once awaited to completion).
    pub async fn stopped(&mut self) {
        match self.stopped.as_mut() {
            Some(rx) => {
                let _ = rx.await;
                self.stopped = None;
            }
            None => std::future::pending().await,
        }
    }

    /// Waits for the thread; a closed stdout (broken pipe) is not an error.
    pub async fn join(self) -> Result<(), String> {
        let thread = self.thread;
        let joined = tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| format!("output thread: {e}"))?;
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Ok(Err(e)) => Err(format!("cannot write to stdout: {e}")),
            Err(_) => Err("output thread panicked".to_string()),
        }
    }
}

fn print_loop(mut rx: mpsc::Receiver<Arc<Received>>, format: Format) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut text = String::new();
    let render = |text: &mut String, received: &Received| match format {
        Format::Lines => push_lines(text, &received.notification),
        Format::Json => push_json(text, received),
    };
    while let Some(first) = rx.blocking_recv() {
        text.clear();
        render(&mut text, &first);
        while text.len() < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(next) => render(&mut text, &next),
                Err(_) => break,
            }
        }
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    out.flush()
}

/// SIGINT and SIGTERM handlers, registered at creation so no signal is missed.
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers (must run inside the runtime).
    pub fn install() -> io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves on the next SIGINT or SIGTERM with a description of it.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupted",
                _ = self.terminate.recv() => "terminated",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    }
}

/// Prints one stats line per second until stdout fails.
pub async fn print_stats(collector: &CollectorHandle) -> Result<(), String> {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut before = collector.stats();
    let mut since = Instant::now();
    loop {
        ticker.tick().await;
        let now = collector.stats();
        let elapsed = since.elapsed().as_secs_f64().max(1e-9);
        since = Instant::now();
        let latency = now.latency.since(&before.latency);
        let ms = |q: f64| {
            latency.percentile(q).map_or_else(
                || "-".to_string(),
                |d| format!("{:.3}", d.as_secs_f64() * 1e3),
            )
        };
        let line = format!(
            "streams={} notifications/s={:.1} leaves/s={:.1} targets={} latency_p50_ms={} latency_p99_ms={}\n",
            now.streams_active,
            (now.notifications - before.notifications) as f64 / elapsed,
            (now.leaves - before.leaves) as f64 / elapsed,
            now.distinct_targets,
            ms(0.50),
            ms(0.99),
        );
        let mut out = io::stdout().lock();
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(format!("cannot write to stdout: {e}"));
        }
        before = now;
    }
}
