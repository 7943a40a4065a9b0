//! `runner workload URL [--duration 30s] [--rate N] ...`: the flags, parsed
//! here and handed to `runner_amqp_workload::command` as its options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use runner_amqp_workload::ClientMode;
use runner_amqp_workload::command::WorkloadOptions;
use runner_amqp_workload::duration::parse_duration;
use runner_amqp_workload::mask_password;

/// `--client-mode`: one of [`ClientMode::ALL`], by name (the chaos
/// command's flag too).
pub fn client_mode_parser() -> impl TypedValueParser<Value = ClientMode> {
    let values = ClientMode::ALL.map(|m| PossibleValue::new(m.as_str()).help(m.summary()));
    PossibleValuesParser::new(values)
        .map(|name| ClientMode::from_name(&name).expect("a possible value"))
}

/// Arguments of `runner workload`.
#[derive(Args, Clone)]
pub struct WorkloadArgs {
    /// amqp://USER:PASS@HOST:PORT[/VHOST] (the vhost percent-encoded, %2f
    /// for "/"). Printed with the password masked. May come from
    /// RUNNER_WORKLOAD_URL instead, which keeps it out of the process list.
    #[arg(env = "RUNNER_WORKLOAD_URL", hide_env_values = true)]
    pub url: String,
    /// How long to publish, e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// New messages per second over all publishers; 0 = as fast as
    /// confirms allow.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// How the clients treat a slow or silent broker; repeat (or separate
    /// with commas) to run several modes side by side, each with its own
    /// publishers and consumers, tallied apart [default: impatient].
    #[arg(long = "client-mode", value_name = "MODE", value_delimiter = ',',
          value_parser = client_mode_parser())]
    pub client_modes: Vec<ClientMode>,
    /// Publisher connections (per client mode).
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Consumer connections (per client mode).
    #[arg(long, default_value_t = 1)]
    pub consumers: u32,
    /// Queue to declare and use (deleted at the end when drained and empty).
    #[arg(long, default_value = "runner-workload")]
    pub queue: String,
    /// Use a durable classic queue instead of a quorum queue (on 3.10 with
    /// an ha-all policy: a mirrored queue).
    #[arg(long)]
    pub classic: bool,
    /// Print the report as JSON on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the timeline (confirms per second) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// How long to wait, after publishing stops, for pending confirms and
    /// for the queue to drain.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// For amqps:// URLs: the CA certificate (PEM file) the server's
    /// certificate must chain to; nothing else is trusted.
    #[arg(long = "ca", value_name = "FILE", value_parser = read_ca)]
    pub ca_pem: Option<String>,
}

/// `--ca FILE`: the file's PEM certificates.
fn read_ca(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{path}: no PEM certificate in it"));
    }
    Ok(text)
}

impl std::fmt::Debug for WorkloadArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadArgs")
            .field("url", &mask_password(&self.url))
            .field("duration", &self.duration)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl From<WorkloadArgs> for WorkloadOptions {
    fn from(a: WorkloadArgs) -> Self {
        WorkloadOptions {
            url: a.url,
            duration: a.duration,
            rate: a.rate,
            client_modes: a.client_modes,
            publishers: a.publishers,
            consumers: a.consumers,
            queue: a.queue,
            classic: a.classic,
            json: a.json,
            svg: a.svg,
            drain_timeout: a.drain_timeout,
            ca_pem: a.ca_pem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        workload: WorkloadArgs,
    }

    #[test]
    fn parses_flags_and_masks_debug() {
        let cli = Cli::try_parse_from([
            "workload",
            "amqp://u:topsecret@127.0.0.1:5672/%2f",
            "--duration",
            "5s",
            "--rate",
            "50",
            "--classic",
            "--publishers",
            "2",
            "--client-mode",
            "stock,impatient",
        ])
        .unwrap();
        let dbg = format!("{:?}", cli.workload);
        assert!(!dbg.contains("topsecret"), "{dbg}");
        let o = WorkloadOptions::from(cli.workload);
        assert_eq!(o.duration, Duration::from_secs(5));
        assert_eq!(o.drain_timeout, Duration::from_secs(30));
        assert_eq!((o.rate, o.publishers, o.classic), (50, 2, true));
        assert_eq!(o.queue, "runner-workload");
        assert_eq!(o.client_modes, [ClientMode::Stock, ClientMode::Impatient]);
        let d = Cli::try_parse_from(["workload", "amqp://h"])
            .unwrap()
            .workload;
        assert!(d.client_modes.is_empty(), "impatient by default");
        assert!(Cli::try_parse_from(["workload", "amqp://h", "--client-mode", "rude"]).is_err());
        assert!(Cli::try_parse_from(["workload", "amqp://h", "--duration", "soon"]).is_err());
    }
}
