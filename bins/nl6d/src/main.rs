//! nl6d: parses flags and configuration, then wires the fleet, the gNMI servers and
//! the REST API together. All behaviour lives in the library crates.

mod config;
mod limits;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{Flags, Plan, Settings};
use anyhow::Context;
use nl6_fleet::{BatchSpec, Fleet, NetworkMode};

fn main() -> ExitCode {
    // One registry for everything: --help, validation of the settings, the fleet (and
    // through it the REST API).
    let flavors = nl6_dialout::FlavorRegistry::default();
    let flags = Flags::parse_with(&flavors);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if flags.gnmi_password.is_some() {
        tracing::warn!(
            "--gnmi-password is visible to every local user in `ps`; use --gnmi-password-file \
             or the NL6_GNMI_PASSWORD environment variable instead"
        );
    }
    let plan = match Settings::load(flags.config.as_deref(), &flags).and_then(|loaded| {
        for ignored in &loaded.ignored_env {
            tracing::warn!("{ignored}");
        }
        loaded.with_flavors(flavors).plan()
    }) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("nl6d: {e}");
            return ExitCode::from(2);
        }
    };
    if matches!(plan.fleet.network, NetworkMode::Netns(_)) && !limits::is_root() {
        eprintln!(
            "nl6d: --netns needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN to create the namespace, \
             veth pair and routes); run as root or leave --netns off for loopback mode"
        );
        return ExitCode::from(2);
    }
    limits::raise_open_files(expected_sockets(plan.seed_batch.as_ref()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nl6d: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nl6d: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sockets the start-up batch needs: one per dial-out device, plus headroom for
/// dial-in connections, REST and the runtime.
fn expected_sockets(batch: Option<&BatchSpec>) -> u64 {
    let dialout = batch
        .filter(|b| b.dialout.is_some())
        .map_or(0, |b| u64::from(b.device_count));
    dialout + 1024
}

async fn run(plan: Plan) -> anyhow::Result<()> {
    let Plan {
        fleet: fleet_config,
        seed_batch,
        listen,
        rest: rest_options,
    } = plan;
    let tls = fleet_config
        .dialin
        .as_ref()
        .is_some_and(|d| d.tls.is_some());
    let username = fleet_config
        .dialin
        .as_ref()
        .and_then(|d| d.credentials.as_ref())
        .map(|(user, _)| user.clone());
    let dialout = seed_batch
        .as_ref()
        .and_then(|b| b.dialout.as_ref())
        .map(dialout_summary);
    let fleet = Arc::new(
        Fleet::start(fleet_config)
            .await
            .context("starting the fleet")?,
    );
    // The rates of the last 15 minutes, for the status page and GET /api/v1/history.
    let history = nl6_rest::History::new();
    let sampler = history.spawn_sampler(fleet.clone());
    let rest_options = nl6_rest::ServeOptions {
        history: Some(history),
        ..rest_options
    };
    let rest = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("REST API: cannot listen on {listen}"))?;
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let rest_task = tokio::spawn(nl6_rest::serve_with(
        fleet.clone(),
        rest,
        rest_options,
        async move {
            let _ = rest_stopped.await;
        },
    ));
    let first_interface = seed_batch
        .as_ref()
        .map_or(nl6_ifstate::InterfaceNaming::Arista, |b| b.interface_naming)
        .name(0);
    let range = match seed_batch {
        Some(batch) => match fleet.create_batch(batch).await {
            Ok(report) => Some((report.first, report.last)),
            Err(e) => {
                let _ = fleet.shutdown().await;
                return Err(e).context("creating the start-up batch");
            }
        },
        None => None,
    };
    print_ready(&Ready {
        devices: fleet.len(),
        range,
        dialin_port: fleet.dialin_addr().map_or(9339, |a| a.port()),
        tls,
        username,
        dialout,
        rest: listen,
        first_interface,
    });
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_rest.send(());
    let _ = rest_task.await;
    drop(sampler);
    fleet.shutdown().await.context("shutting down")?;
    Ok(())
}

/// What the ready line says.
struct Ready {
    devices: usize,
    /// First and last address of the start-up batch.
    range: Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)>,
    dialin_port: u16,
    tls: bool,
    /// The gNMI user name when authentication is on.
    username: Option<String>,
    /// The start-up batch's dial-out, in words.
    dialout: Option<String>,
    rest: std::net::SocketAddr,
    /// The name of every device's first interface.
    first_interface: String,
}

/// The start-up batch's dial-out in words: mode, collector, flavor, TLS.
fn dialout_summary(cfg: &nl6_dialout::DialoutConfig) -> String {
    let mode = match cfg.mode {
        nl6_dialout::Mode::Sample => format!(
            "sample every {} ({})",
            humantime::format_duration(cfg.sample_interval),
            cfg.phase
        ),
        nl6_dialout::Mode::OnChange => "on-change".to_string(),
    };
    let collectors = cfg
        .destinations()
        .map(|d| d.join(" then "))
        .unwrap_or_else(|_| cfg.collector.clone());
    format!(
        "dial-out {mode} to {collectors} ({}, {}, {})",
        cfg.flavor_name(),
        cfg.encoding,
        if cfg.tls.enabled { "TLS" } else { "plaintext" }
    )
}

/// One line that says the daemon is ready, where to connect, and a client command.
/// It never lists the devices: the range comes from the start-up batch.
fn print_ready(ready: &Ready) {
    let port = ready.dialin_port;
    let mut out = std::io::stdout().lock();
    let range = match ready.range {
        Some((first, last)) => format!("{first}..{last}"),
        None => "none yet".to_string(),
    };
    let dialout = ready
        .dialout
        .as_ref()
        .map(|d| format!(", {d}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "nl6d ready: {} devices ({range}), gNMI dial-in on <device-ip>:{port} ({}){dialout}, REST on http://{} (status page: http://{}/)",
        ready.devices,
        if ready.tls {
            "TLS, self-signed unless --gnmi-tls-cert"
        } else {
            "plaintext"
        },
        ready.rest,
        ready.rest,
    );
    if let Some((first, _)) = ready.range {
        let security = if ready.tls {
            "--skip-verify"
        } else {
            "--insecure"
        };
        let auth = ready
            .username
            .as_ref()
            .map(|user| format!(" -u {user} -p <password>"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "try: gnmic -a {first}:{port} {security}{auth} get --path '/interfaces/interface[name={}]/state'",
            ready.first_interface,
        );
    }
    let _ = out.flush();
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
