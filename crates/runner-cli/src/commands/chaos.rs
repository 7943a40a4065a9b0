//! `runner lab chaos [--scenario NAME ...] [--report DIR] ...`: the flags,
//! parsed here and handed to `runner_chaos` as its options. The scenario
//! and settings values (and their help) are the chaos crate's own lists.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use runner_amqp_workload::ClientMode;
use runner_amqp_workload::duration::parse_duration;
use runner_chaos::{ChaosOptions, Scenario, Settings};

use super::workload::client_mode_parser;

/// `--scenario`: one of [`Scenario::ALL`], by name.
fn scenario_parser() -> impl TypedValueParser<Value = Scenario> {
    let values = Scenario::ALL.map(|s| PossibleValue::new(s.name()).help(s.summary()));
    PossibleValuesParser::new(values)
        .map(|name| Scenario::from_name(&name).expect("a possible value"))
}

/// `--settings`: one of [`Settings::ALL`], by name.
fn settings_parser() -> impl TypedValueParser<Value = Settings> {
    let values = Settings::ALL.map(|s| PossibleValue::new(s.as_str()).help(s.summary()));
    PossibleValuesParser::new(values)
        .map(|name| Settings::from_name(&name).expect("a possible value"))
}

/// Arguments of `runner lab chaos`.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// A scenario to run; repeat for several [default: all of them, in
    /// this order].
    #[arg(long = "scenario", value_name = "NAME", value_parser = scenario_parser())]
    pub scenarios: Vec<Scenario>,
    /// Directory for report.json, report.md and the SVG timelines
    /// [default: <lab state dir>/chaos/<UTC timestamp>].
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// How long each fault lasts under load before it is healed.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long the partition scenario cuts the host off.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub partition: Duration,
    /// Load before each fault.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Load after the cluster is whole again, before publishing stops.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,
    /// New messages per second over each client mode's publishers.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// The client modes to run side by side in every scenario, each with
    /// its own publishers and consumers and its own worst-client column;
    /// repeat or separate with commas [default: impatient,stock].
    #[arg(long = "client-mode", value_name = "MODE", value_delimiter = ',',
          value_parser = client_mode_parser())]
    pub client_modes: Vec<ClientMode>,
    /// Publisher connections per client mode.
    #[arg(long, default_value_t = 2)]
    pub publishers: u32,
    /// Consumer connections per client mode.
    #[arg(long, default_value_t = 2)]
    pub consumers: u32,
    /// The balancer settings the cluster was built with, for the report:
    /// `seed` after `runner play playbooks/rabbit-ha.yaml -e
    /// @crates/runner-chaos/seed-settings.yaml`.
    #[arg(long, default_value = "ours", value_parser = settings_parser())]
    pub settings: Settings,
    /// Longest wait for the cluster to be whole again after each heal.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub heal_timeout: Duration,
    /// Run the workload over TLS: HAProxy's AMQPS port on the VIP, trusting
    /// only the CA the playbook made (its `.ca.pem`).
    #[arg(long)]
    pub tls: bool,
}

impl From<ChaosArgs> for ChaosOptions {
    fn from(a: ChaosArgs) -> Self {
        ChaosOptions {
            scenarios: a.scenarios,
            report: a.report,
            duration: a.duration,
            partition: a.partition,
            warmup: a.warmup,
            settle: a.settle,
            rate: a.rate,
            client_modes: a.client_modes,
            publishers: a.publishers,
            consumers: a.consumers,
            settings: a.settings,
            heal_timeout: a.heal_timeout,
            tls: a.tls,
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
        chaos: ChaosArgs,
    }

    #[test]
    fn arguments() {
        let cli = Cli::try_parse_from([
            "chaos",
            "--scenario",
            "crash-balancer",
            "--scenario",
            "rolling-restart",
            "--duration",
            "8s",
            "--settings",
            "seed",
            "--client-mode",
            "stock",
        ])
        .unwrap();
        assert_eq!(cli.chaos.client_modes, [ClientMode::Stock]);
        assert_eq!(
            cli.chaos.scenarios,
            vec![Scenario::CrashBalancer, Scenario::RollingRestart]
        );
        assert_eq!(cli.chaos.duration, Duration::from_secs(8));
        assert_eq!(cli.chaos.settings, Settings::Seed);
        let d = Cli::try_parse_from(["chaos"]).unwrap().chaos;
        assert!(d.scenarios.is_empty());
        assert_eq!(d.partition, Duration::from_secs(30));
        assert_eq!(d.settings, Settings::Ours);
        let o = ChaosOptions::from(d);
        assert_eq!(o.client_modes(), ClientMode::ALL, "both modes by default");
        assert!(Cli::try_parse_from(["chaos", "--scenario", "nope"]).is_err());
    }
}
