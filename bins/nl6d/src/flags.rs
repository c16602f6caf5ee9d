//! Command-line flags. Every flag is optional here: an absent flag leaves the value of
//! the configuration file, the environment or the default (see `nl6_rest::config`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use nl6_dialout::FlavorRegistry;
use serde::Serialize;

/// nl6d: a fleet of simulated network devices that serve gNMI and dial out telemetry.
///
/// Settings merge, later winning: defaults, the TOML file (--config), environment
/// variables NL6_<KEY>, flags. Bool flags take an optional value: --gnmi-tls=false.
#[derive(Debug, Parser, Serialize)]
#[command(name = "nl6d", version)]
pub struct Flags {
    /// TOML configuration file (keys as in nl6.example.toml).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// REST API listen address [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,

    /// File with the REST bearer token (its first line, 16+ characters); required to
    /// listen on a non-loopback address. Or set NL6_REST_TOKEN.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest_token_file: Option<PathBuf>,

    /// Most REST connections open at once; more are closed at accept [default: 256].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest_max_connections: Option<usize>,

    /// First device address of the start-up batch [default: 127.42.0.1; 10.42.0.1 with --netns].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start_ip: Option<Ipv4Addr>,

    /// Devices in the start-up batch, 0..=100000 [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_count: Option<u32>,

    /// Netmask of the start-up batch: 8, 16 or 24 [default: 16].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_netmask: Option<u8>,

    /// Interfaces per device [default: 10].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<u32>,

    /// Error counter scenario: clean, typical, degraded, failing [default: clean].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_error_scenario: Option<String>,

    /// Link-flap scenario: clean, rare, typical, aggressive [default: clean].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_flap_scenario: Option<String>,

    /// Interface state at start: all-up, all-admin-down, oper-down or N% [default: all-up].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_initial_state: Option<String>,

    /// Host names of the start-up batch: a pattern with {n} (1-based index) and {ip}
    /// (address in dashes), or a prefix the index is appended to (leaf -> leaf1, leaf2)
    /// [default: derived from the address, nl6-127-42-0-1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,

    /// Fleet-wide cap on link-flap events per second, 0 = unlimited [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_flap_max_events_per_sec: Option<u32>,

    /// gNMI dial-in port on every device address [default: 9339].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_port: Option<u16>,

    /// Serve dial-in with TLS (self-signed unless --gnmi-tls-cert/key) [default: true].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_tls: Option<bool>,

    /// PEM certificate for dial-in TLS (and dial-out mTLS).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_tls_cert: Option<PathBuf>,

    /// PEM private key of --gnmi-tls-cert.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_tls_key: Option<PathBuf>,

    /// Require this username in gNMI metadata (with --gnmi-password).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_username: Option<String>,

    /// Require this password in gNMI metadata (with --gnmi-username). Visible to every
    /// local user in `ps`: prefer --gnmi-password-file or NL6_GNMI_PASSWORD.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_password: Option<String>,

    /// File with the gNMI password (its first line), instead of --gnmi-password.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_password_file: Option<PathBuf>,

    /// Shortest SAMPLE interval dial-in clients may ask for [default: 1s].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_min_sample_interval: Option<String>,

    /// Bytes of dial-in Subscribe responses queued fleet-wide before the slowest streams
    /// drop theirs, e.g. 256MiB (1MiB minimum) [default: 256MiB].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_queue_budget: Option<String>,

    /// dial-in (serve gNMI) or dial-out (also push) for the start-up batch [default: dial-in].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_mode: Option<String>,

    /// Collector host:port (required with --gnmi-mode dial-out).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_collector: Option<String>,

    /// Dial-out wire flavor (the list is filled in from the flavor registry at start)
    /// [default: gnmireverse].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_flavor: Option<String>,

    /// Dial-out encoding: json_ietf, json or proto (sonic: json_ietf or proto)
    /// [default: json_ietf].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_encoding: Option<String>,

    /// Dial-out trigger: sample or on-change [default: sample].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_sub_mode: Option<String>,

    /// Dial-out SAMPLE cadence, 1s floor [default: 10s].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_interval: Option<String>,

    /// Dial out with TLS (false = plaintext) [default: true].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_tls: Option<bool>,

    /// Skip verification of the collector certificate (development only) [default: false].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_tls_insecure: Option<bool>,

    /// PEM CA bundle verifying the collector (absent = system roots).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_tls_ca: Option<PathBuf>,

    /// Present the simulator certificate to the collector (mutual TLS) [default: false].
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_mtls: Option<bool>,

    /// gNMI paths pushed by dial-out devices, comma-separated
    /// [default: /interfaces/interface[name=*]/state].
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_paths: Option<Vec<String>>,

    /// Dial-out SAMPLE phase: spread (each device at its own offset in the interval, an
    /// even load) or aligned (every device at once, bursts) [default: spread].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_phase: Option<String>,

    /// Dial-out HTTP/2 keepalive ping interval, e.g. 5m; 0 = no pings (10s floor). grpc-go
    /// collectors GOAWAY clients that ping more often than every 5 minutes [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_keepalive: Option<String>,

    /// sonic: a destination group, comma-separated host:port list tried in order (the
    /// next one when the current fails); replaces --gnmi-dialout-collector.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_collectors: Option<Vec<String>>,

    /// sonic: the wait once every collector of the group failed, e.g. 30s; 0 = the
    /// flavor's default [default: 0 (sonic: 30s)].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_retry_interval: Option<String>,

    /// sonic: time on a backup collector before trying the first again, e.g. 5m; 0 = stay
    /// on the backup until it fails [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_failback: Option<String>,

    /// nokia: the subscription-name metadata [default: nl6].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_subscription: Option<String>,

    /// gnmireverse: subscribe (SubscribeResponses on Publish) or get (the paths as a Get
    /// every interval, GetResponses on PublishGet) [default: subscribe].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnmi_dialout_publish: Option<String>,

    /// Put the fleet in its own network namespace with real addresses (needs root).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<bool>,

    /// Name of the simulator network namespace [default: nl6sim].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns_name: Option<String>,

    /// Seed mixed into every device's counters [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Flags {
    /// Parses the command line; `--help` lists the flavors of `flavors`.
    pub fn parse_with(flavors: &FlavorRegistry) -> Flags {
        let matches = Flags::command_with(flavors).get_matches();
        Flags::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The command with the flavor flag's help generated from `flavors`.
    pub fn command_with(flavors: &FlavorRegistry) -> clap::Command {
        let names = flavors.names().join(", ");
        let long = format!(
            "Dial-out wire flavor, one of: {names} [default: gnmireverse]\n{}",
            flavors
                .describe()
                .lines()
                .map(|line| format!("  {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        Flags::command().mut_arg("gnmi_dialout_flavor", |arg| {
            arg.help(format!(
                "Dial-out wire flavor: {names} [default: gnmireverse]"
            ))
            .long_help(long)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_the_registered_flavors() {
        let mut command = Flags::command_with(&FlavorRegistry::default());
        let help = command.render_help().to_string();
        assert!(help.contains("gnmireverse, nokia, sonic"), "{help}");
        let long = command.render_long_help().to_string();
        assert!(long.contains("/gnmi.sonic.gNMIDialOut/Publish"), "{long}");
    }
}
