//! nl6d: parses flags and configuration, then wires the fleet, the gNMI servers and
//! the REST API together. All behaviour lives in the library crates.

mod flags;
mod limits;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use nl6_fleet::{BatchSpec, Fleet, NetworkMode};
use nl6_rest::config::{Plan, Settings};

use crate::flags::Flags;

fn main() -> ExitCode {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let plan = match Settings::load(flags.config.as_deref(), &flags).and_then(|loaded| {
        for name in &loaded.ignored_env {
            tracing::warn!("ignoring environment variable {name}: it names no nl6d setting");
        }
        loaded.plan()
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
    } = plan;
    let tls = fleet_config
        .dialin
        .as_ref()
        .is_some_and(|d| d.tls.is_some());
    let fleet = Arc::new(
        Fleet::start(fleet_config)
            .await
            .context("starting the fleet")?,
    );
    let rest = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("REST API: cannot listen on {listen}"))?;
    let (stop_rest, rest_stopped) = tokio::sync::oneshot::channel::<()>();
    let rest_task = tokio::spawn(nl6_rest::serve(fleet.clone(), rest, async move {
        let _ = rest_stopped.await;
    }));
    if let Some(batch) = seed_batch
        && let Err(e) = fleet.create_batch(batch).await
    {
        let _ = fleet.shutdown().await;
        return Err(e).context("creating the start-up batch");
    }
    print_ready(&fleet, listen, tls);
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_rest.send(());
    let _ = rest_task.await;
    fleet.shutdown().await.context("shutting down")?;
    Ok(())
}

/// One line that says the daemon is ready, where to connect, and a client command.
fn print_ready(fleet: &Fleet, rest: std::net::SocketAddr, tls: bool) {
    let devices = fleet.list();
    let port = fleet.dialin_addr().map_or(9339, |a| a.port());
    let mut out = std::io::stdout().lock();
    let range = match (devices.first(), devices.last()) {
        (Some(first), Some(last)) => format!("{}..{}", first.ip, last.ip),
        _ => "none yet".to_string(),
    };
    let _ = writeln!(
        out,
        "nl6d ready: {} devices ({range}), gNMI dial-in on <device-ip>:{port} ({}), REST on http://{rest}",
        devices.len(),
        if tls {
            "TLS, self-signed unless --gnmi-tls-cert"
        } else {
            "plaintext"
        },
    );
    if let Some(first) = devices.first() {
        let security = if tls { "--skip-verify" } else { "--insecure" };
        let _ = writeln!(
            out,
            "try: gnmic -a {}:{port} {security} -u admin -p admin get --path '/interfaces/interface[name=Ethernet1]/state'",
            first.ip
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
