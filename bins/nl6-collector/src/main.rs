//! `nl6-collector`: a gNMIReverse (gNMI dial-out) collector for nl6 devices.

mod output;
mod reconcile;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use nl6_collector::{CollectorConfig, start};
use nl6_tls::{DEFAULT_SANS, Identity, rustls::ServerConfig};
use tokio::sync::mpsc;

/// Notifications queued for the output thread before streams start waiting.
const OUTPUT_QUEUE: usize = 16 * 1024;

/// gNMIReverse collector: receives /gnmireverse.gNMIReverse/Publish streams and
/// prints one line per update (goarista reference format), one JSON object per
/// notification (--json) or one stats line per second (--stats).
#[derive(Debug, Parser)]
#[command(name = "nl6-collector", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6030")]
    listen: SocketAddr,

    /// Serve plaintext gRPC (no TLS).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "tls_san", "cert_dir", "client_ca"])]
    plaintext: bool,

    /// PEM certificate chain to present (with --tls-key); without both, a
    /// self-signed certificate is generated.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Extra subject alternative name for the generated certificate (repeatable;
    /// localhost, 127.0.0.1 and a specific --listen IP are always included).
    #[arg(long, value_name = "NAME", conflicts_with = "tls_cert")]
    tls_san: Vec<String>,

    /// Directory for the generated certificate and key (default: a new
    /// directory under the system temp dir).
    #[arg(long, value_name = "DIR", conflicts_with = "tls_cert")]
    cert_dir: Option<PathBuf>,

    /// Require client certificates issued by a CA in this PEM bundle (mutual TLS).
    #[arg(long, value_name = "PEM")]
    client_ca: Option<PathBuf>,

    /// Print one JSON object per notification: {timestamp, timestamp_ns, target, peer, updates:[{path, value}]}.
    #[arg(long, conflicts_with = "stats")]
    json: bool,

    /// Print one stats line per second instead of notifications: streams,
    /// notifications/s, leaves/s, distinct targets, latency p50/p99 in ms.
    #[arg(long, conflicts_with = "reconcile")]
    stats: bool,

    /// Receive an nl6 run and reconcile it: wait until this file holds the run's
    /// finished report (GET /api/v1/runs/{id}), then until every message it says was
    /// sent arrived or --quiet-secs passed without one, print sent, received,
    /// missing and duplicated per slice and per device with loss (JSON with --json),
    /// and exit 1 on any loss.
    #[arg(long, value_name = "REPORT.json")]
    reconcile: Option<PathBuf>,

    /// With --reconcile: seconds without a message of the run after which the run is
    /// taken as over once the report is final.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 2.0,
        requires = "reconcile"
    )]
    quiet_secs: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nl6-collector: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.reconcile.clone() {
        Some(report) => runtime.block_on(reconcile::run(cli, report)),
        None => runtime.block_on(run(cli)).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("nl6-collector: {text}");
            ExitCode::FAILURE
        }
    }
}

/// The collector configuration the flags ask for.
fn collector_config(cli: &Cli) -> Result<CollectorConfig, Box<dyn Error>> {
    Ok(match tls_config(cli)? {
        Some(tls) => CollectorConfig::tls(cli.listen, tls),
        None => CollectorConfig::plaintext(cli.listen),
    })
}

async fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    let mut cfg = collector_config(&cli)?;
    let printer = if cli.stats {
        None
    } else {
        let (tx, rx) = mpsc::channel(OUTPUT_QUEUE);
        cfg = cfg.with_sink(tx);
        let format = if cli.json {
            output::Format::Json
        } else {
            output::Format::Lines
        };
        Some(output::Printer::spawn(rx, format))
    };

    let mut signals =
        output::Signals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let collector = start(cfg).await?;
    let mode = if collector.is_tls() {
        "tls"
    } else {
        "plaintext"
    };
    eprintln!("listening on {} ({mode})", collector.local_addr());

    let (stop_reason, printer) = match printer {
        Some(mut printer) => {
            let reason = tokio::select! {
                reason = signals.recv() => reason,
                () = printer.stopped() => "output closed",
            };
            (reason, Some(printer))
        }
        None => {
            let reason = tokio::select! {
                reason = signals.recv() => reason,
                result = output::print_stats(&collector) => {
                    result?;
                    "output closed"
                }
            };
            (reason, None)
        }
    };
    tracing::info!("stopping: {stop_reason}");
    collector.shutdown().await?;
    if let Some(printer) = printer {
        printer.join().await?;
    }
    Ok(())
}

/// Builds the TLS server config from the flags; `None` for --plaintext.
fn tls_config(cli: &Cli) -> Result<Option<Arc<ServerConfig>>, Box<dyn Error>> {
    if cli.plaintext {
        return Ok(None);
    }
    let client_ca = match &cli.client_ca {
        Some(path) => {
            let roots = nl6_tls::ca_bundle_from_file(path)?;
            eprintln!(
                "client certificates required (CA bundle {})",
                path.display()
            );
            Some(roots)
        }
        None => None,
    };
    // Generated last, so a bad flag above leaves no certificate directory behind.
    let identity = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        _ => self_signed(cli)?,
    };
    Ok(Some(nl6_tls::server_config(
        &identity,
        client_ca.as_ref(),
        true,
    )?))
}

/// Generates a self-signed identity and writes its PEM where clients can pick it up as CA.
fn self_signed(cli: &Cli) -> Result<Identity, Box<dyn Error>> {
    let mut names: Vec<String> = DEFAULT_SANS.iter().map(|s| s.to_string()).collect();
    let listen_ip = cli.listen.ip();
    if !listen_ip.is_unspecified() {
        names.push(listen_ip.to_string());
    }
    names.extend(cli.tls_san.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let identity = Identity::self_signed(&names)?;

    let dir = match &cli.cert_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("nl6-collector-{}", std::process::id())),
    };
    create_private_dir(&dir)?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    identity.write_pem_files(&cert, &key)?;
    eprintln!(
        "generated a self-signed certificate for {}; clients use {} as their CA (key: {})",
        names.join(", "),
        cert.display(),
        key.display()
    );
    Ok(identity)
}

fn create_private_dir(dir: &Path) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create certificate directory {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            format!(
                "cannot restrict certificate directory {}: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}
