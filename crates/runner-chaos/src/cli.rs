//! `runner lab chaos [--scenario NAME ...] [--report DIR] ...`: checks the
//! lab cluster is whole (or says how to build it), runs the scenarios one
//! after the other, prints the HA table and writes `report.json`,
//! `report.md` and one SVG timeline per scenario. Ctrl-C heals the cluster
//! before it exits.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use runner_amqp_probe::duration::parse_duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cluster::Cluster;
use crate::report::ChaosReport;
use crate::scenarios::{self, Plan, Scenario};
use crate::{faults, health};

/// Which balancer settings the cluster was built with: a label for the
/// report (the playbook decides; see `--settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Settings {
    /// The playbook's defaults.
    Ours,
    /// The seed's HAProxy and keepalived settings
    /// (`-e @crates/runner-chaos/seed-settings.yaml`).
    Seed,
}

impl Settings {
    pub fn as_str(self) -> &'static str {
        match self {
            Settings::Ours => "ours",
            Settings::Seed => "seed",
        }
    }
}

/// Arguments of `runner lab chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// A scenario to run; repeat for several [default: all, in this order].
    #[arg(long = "scenario", value_enum, value_name = "NAME")]
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
    /// New messages per second over all publishers.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Publisher connections.
    #[arg(long, default_value_t = 2)]
    pub publishers: u32,
    /// Consumer connections.
    #[arg(long, default_value_t = 2)]
    pub consumers: u32,
    /// The balancer settings the cluster was built with, for the report:
    /// `seed` after `runner play playbooks/rabbit-ha.yaml -e
    /// @crates/runner-chaos/seed-settings.yaml`.
    #[arg(long, value_enum, default_value = "ours")]
    pub settings: Settings,
    /// Longest wait for the cluster to be whole again after each heal.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub heal_timeout: Duration,
}

impl ChaosArgs {
    fn plan(&self) -> Plan {
        Plan {
            warmup: self.warmup,
            fault: self.duration,
            partition: self.partition,
            settle: self.settle,
            heal_timeout: self.heal_timeout,
            drain_timeout: Duration::from_secs(90),
            rate: self.rate,
            publishers: self.publishers,
            consumers: self.consumers,
        }
    }
}

const NOT_WHOLE: &str = "The chaos scenarios need the RabbitMQ HA cluster built on the lab and whole: \
    three RabbitMQ nodes running, every backend UP in HAProxy on both balancers, keepalived on both \
    and exactly one VIP holder.";

/// Runs the scenarios; exit code 0 when every scenario lost nothing it
/// confirmed, drained and healed, 1 otherwise, 2 when the cluster was not
/// whole to begin with, 130 on Ctrl-C.
pub async fn run(args: ChaosArgs) -> Result<i32> {
    runner_lab::docker::ensure_engine().await?;
    let state_dir = runner_lab::state_dir();
    let cluster = match Cluster::open(&state_dir) {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{NOT_WHOLE} It is not there: {e:#}. Run `runner lab up`, then `runner play playbooks/rabbit-ha.yaml`."
            );
            return Ok(2);
        }
    };
    // Right after a play, HAProxy's checks and the VIP may still be settling.
    if let Err(health) = health::wait_whole(&cluster, Duration::from_secs(60)).await {
        println!(
            "{NOT_WHOLE} It is not whole now: {}. Build or repair it with `runner play playbooks/rabbit-ha.yaml` \
             (after `runner lab up` if hosts are missing), then run the scenarios again.",
            health.summary()
        );
        return Ok(2);
    }
    let started = OffsetDateTime::now_utc();
    let dir = args.report.clone().unwrap_or_else(|| {
        state_dir.join("chaos").join(format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            started.year(),
            u8::from(started.month()),
            started.day(),
            started.hour(),
            started.minute(),
            started.second()
        ))
    });
    let scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    let balancer_config = balancer_config(&cluster).await;
    if let Some(w) = settings_mismatch(args.settings, &balancer_config) {
        eprintln!("warning: {w}");
    }
    let mut report = ChaosReport {
        started_at: started.format(&Rfc3339).unwrap_or_default(),
        settings: args.settings.as_str().into(),
        balancer_config,
        rabbitmq: cluster.version.to_string(),
        queue_kind: cluster.queue_kind().as_str().into(),
        rate_per_sec: args.rate,
        publishers: args.publishers,
        consumers: args.consumers,
        fault_s: args.duration.as_secs_f64(),
        partition_s: args.partition.as_secs_f64(),
        scenarios: Vec::new(),
        not_run: Vec::new(),
        ok: false,
    };
    let plan = args.plan();
    let run_all = async {
        let mut results = Vec::new();
        let mut not_run = Vec::new();
        for (i, s) in scenarios.iter().enumerate() {
            let r = scenarios::run(&cluster, *s, &plan).await;
            let healed = r.healed;
            results.push(r);
            if !healed {
                not_run = scenarios[i + 1..]
                    .iter()
                    .map(|s| s.name().to_string())
                    .collect();
                break;
            }
        }
        (results, not_run)
    };
    let (results, not_run) = tokio::select! {
        r = run_all => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: healing the cluster");
            match faults::restore(&cluster).await {
                Ok(done) => done.iter().for_each(|d| eprintln!("  {d}")),
                Err(e) => eprintln!("heal failed: {e:#} (try `runner lab heal` and `runner play playbooks/rabbit-ha.yaml`)"),
            }
            return Ok(130);
        }
    };
    report.scenarios = results;
    report.not_run = not_run;
    report.ok = report.not_run.is_empty() && report.scenarios.iter().all(|s| s.ok());
    print!("{}", report.render());
    report.write(&dir)?;
    println!("report: {}", dir.display());
    Ok(if report.ok { 0 } else { 1 })
}

/// The balancer settings in force, read from the first balancer's files:
/// the `rabbitmq` backend's check line, the client timeout, and
/// keepalived's VRRP version, advert interval, priority and check weight.
async fn balancer_config(c: &Cluster) -> String {
    let lb = &c.balancers[0].name;
    let cmd = "grep -hE '^ *(default-server check|timeout client|vrrp_version|advert_int|priority|weight) ' \
               /opt/haproxy/conf/haproxy.cfg /etc/keepalived/keepalived.conf 2>/dev/null";
    match runner_lab::exec(lb, cmd).await {
        Ok(out) => {
            let mut seen = Vec::new();
            for l in out.stdout.lines().map(str::trim) {
                if !seen.iter().any(|s: &String| s == l) {
                    seen.push(l.to_string());
                }
            }
            seen.join("; ")
        }
        Err(_) => String::new(),
    }
}

/// A warning when the label does not match what the balancers run.
fn settings_mismatch(label: Settings, config: &str) -> Option<String> {
    if config.is_empty() {
        return None;
    }
    let ours = config.contains("shutdown-sessions") && config.contains("vrrp_version 3");
    let seed = !config.contains("shutdown-sessions") && config.contains("vrrp_version 2");
    match label {
        Settings::Ours if !ours => Some(format!(
            "--settings ours, but the balancers run something else ({config})"
        )),
        Settings::Seed if !seed => Some(format!(
            "--settings seed, but the balancers do not run the seed's settings ({config}); \
             build them with `runner play playbooks/rabbit-ha.yaml -e @crates/runner-chaos/seed-settings.yaml`"
        )),
        _ => None,
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
        ])
        .unwrap();
        assert_eq!(
            cli.chaos.scenarios,
            vec![Scenario::CrashBalancer, Scenario::RollingRestart]
        );
        assert_eq!(cli.chaos.duration, Duration::from_secs(8));
        assert_eq!(cli.chaos.settings, Settings::Seed);
        let d = Cli::try_parse_from(["chaos"]).unwrap().chaos;
        assert!(d.scenarios.is_empty());
        assert_eq!(d.partition, Duration::from_secs(30));
        assert!(Cli::try_parse_from(["chaos", "--scenario", "nope"]).is_err());
    }

    #[test]
    fn mismatch() {
        let ours = "default-server check inter 1000ms fall 2 rise 2 on-marked-down shutdown-sessions; vrrp_version 3";
        let seed = "default-server check inter 5000ms fall 3 rise 2; vrrp_version 2";
        assert!(settings_mismatch(Settings::Ours, ours).is_none());
        assert!(settings_mismatch(Settings::Seed, seed).is_none());
        assert!(settings_mismatch(Settings::Ours, seed).is_some());
        assert!(settings_mismatch(Settings::Seed, ours).is_some());
    }
}
