//! What `runner lab chaos` does, given its [`ChaosOptions`]: checks the lab
//! cluster is whole (or says how to build it), runs the scenarios one
//! after the other, prints the HA table and writes `report.json`,
//! `report.md` and one SVG timeline per scenario. Ctrl-C heals the cluster
//! before it exits. Progress goes to the log (`tracing`), the table and
//! the report's place to stdout.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use runner_amqp_workload::ClientMode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cluster::Cluster;
use crate::deployment::KEEPALIVED_CONF;
use crate::report::{ChaosReport, ScenarioResult};
use crate::scenarios::{self, Plan, Scenario};
use crate::{faults, health};
use tracing::{error, info, warn};

/// Which balancer settings the cluster was built with: a label for the
/// report (the playbook decides; see `--settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settings {
    Ours,
    Seed,
}

impl Settings {
    pub const ALL: [Settings; 2] = [Settings::Ours, Settings::Seed];

    /// The `--settings` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Settings::Ours => "ours",
            Settings::Seed => "seed",
        }
    }

    /// The settings by their `--settings` value.
    pub fn from_name(name: &str) -> Option<Settings> {
        Settings::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// One line for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            Settings::Ours => "The playbook's defaults",
            Settings::Seed => {
                "The seed's HAProxy and keepalived settings (`-e @crates/runner-chaos/seed-settings.yaml`)"
            }
        }
    }
}

/// What `runner lab chaos` runs (its flags say the defaults).
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Scenarios to run, in order; empty: [`Scenario::DEFAULT`].
    pub scenarios: Vec<Scenario>,
    /// Directory for the report; `None`: `<lab state dir>/chaos/<UTC timestamp>`.
    pub report: Option<PathBuf>,
    /// How long each fault lasts under load before it is healed.
    pub duration: Duration,
    /// How long the partition scenario cuts the host off.
    pub partition: Duration,
    /// Load before each fault.
    pub warmup: Duration,
    /// Load after the cluster is whole again, before publishing stops.
    pub settle: Duration,
    /// New messages per second over each client mode's publishers.
    pub rate: u32,
    /// The client modes run side by side in every scenario, each with its
    /// own publishers and consumers; empty: all of [`ClientMode::ALL`].
    pub client_modes: Vec<ClientMode>,
    /// Publisher connections per client mode.
    pub publishers: u32,
    /// Consumer connections per client mode.
    pub consumers: u32,
    /// The balancer settings the cluster was built with (a label).
    pub settings: Settings,
    /// Longest wait for the cluster to be whole again after each heal.
    pub heal_timeout: Duration,
    /// The workload goes through HAProxy's AMQPS port, trusting only the
    /// cluster's CA.
    pub tls: bool,
}

impl ChaosOptions {
    /// The client modes to run (all when none were named).
    pub fn client_modes(&self) -> Vec<ClientMode> {
        if self.client_modes.is_empty() {
            ClientMode::ALL.to_vec()
        } else {
            self.client_modes.clone()
        }
    }

    fn plan(&self) -> Plan {
        Plan {
            warmup: self.warmup,
            fault: self.duration,
            partition: self.partition,
            settle: self.settle,
            heal_timeout: self.heal_timeout,
            drain_timeout: Duration::from_secs(90),
            rate: self.rate,
            client_modes: self.client_modes(),
            publishers: self.publishers,
            consumers: self.consumers,
            tls: self.tls,
        }
    }
}

const NOT_WHOLE: &str = "The chaos scenarios need the RabbitMQ HA cluster built on the lab and whole: \
    three RabbitMQ nodes running, every backend UP in HAProxy on both balancers, keepalived on both \
    and exactly one VIP holder.";

/// Runs the scenarios; exit code 0 when every scenario lost nothing it
/// confirmed, drained and healed, 1 otherwise, 2 when the cluster was not
/// whole to begin with, 130 on Ctrl-C.
pub async fn run(opts: ChaosOptions) -> Result<i32> {
    runner_lab::docker::ensure_engine().await?;
    let state_dir = runner_lab::state_dir();
    let Some(cluster) = open_whole(&state_dir).await else {
        return Ok(2);
    };
    let started = OffsetDateTime::now_utc();
    let dir = opts
        .report
        .clone()
        .unwrap_or_else(|| state_dir.join("chaos").join(stamp(started)));
    let scenarios = if opts.scenarios.is_empty() {
        Scenario::DEFAULT.to_vec()
    } else {
        opts.scenarios.clone()
    };
    let balancer_config = balancer_config(&cluster).await;
    if let Some(w) = settings_mismatch(opts.settings, &balancer_config) {
        warn!("{w}");
    }
    let mut report = ChaosReport {
        started_at: started.format(&Rfc3339).unwrap_or_default(),
        settings: opts.settings.as_str().into(),
        balancer_config,
        rabbitmq: cluster.rabbitmq_version.clone(),
        queue_kind: cluster.queue_kind().as_str().into(),
        tls: opts.tls,
        rate_per_sec: opts.rate,
        publishers: opts.publishers,
        consumers: opts.consumers,
        client_modes: opts.client_modes(),
        fault_s: opts.duration.as_secs_f64(),
        partition_s: opts.partition.as_secs_f64(),
        scenarios: Vec::new(),
        not_run: Vec::new(),
        ok: false,
    };
    let plan = opts.plan();
    let (results, not_run) = tokio::select! {
        r = run_all(&cluster, &scenarios, &plan) => r,
        _ = tokio::signal::ctrl_c() => {
            interrupted(&cluster).await;
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

/// The cluster, once it is whole; `None` (having said why on stdout) when
/// it is not there or not whole within a minute.
async fn open_whole(state_dir: &std::path::Path) -> Option<Cluster> {
    let cluster = match Cluster::open(state_dir) {
        Ok(c) => c,
        Err(e) => {
            println!(
                "{NOT_WHOLE} It is not there: {e:#}. Run `runner lab up`, then `runner play playbooks/rabbit-ha.yaml`."
            );
            return None;
        }
    };
    // Right after a play, HAProxy's checks and the VIP may still be settling.
    if let Err(health) = health::wait_whole(&cluster, Duration::from_secs(60)).await {
        println!(
            "{NOT_WHOLE} It is not whole now: {}. Build or repair it with `runner play playbooks/rabbit-ha.yaml` \
             (after `runner lab up` if hosts are missing), then run the scenarios again.",
            health.summary()
        );
        return None;
    }
    Some(cluster)
}

/// `YYYYMMDD-HHMMSS` of `t`: the default report directory's name.
fn stamp(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Runs `scenarios` in order until one does not heal; returns the results
/// and the names of those not run.
async fn run_all(
    cluster: &Cluster,
    scenarios: &[Scenario],
    plan: &Plan,
) -> (Vec<ScenarioResult>, Vec<String>) {
    let mut results = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let r = scenarios::run(cluster, *s, plan).await;
        let healed = r.healed;
        results.push(r);
        if !healed {
            let not_run = scenarios[i + 1..]
                .iter()
                .map(|s| s.name().to_string())
                .collect();
            return (results, not_run);
        }
    }
    (results, Vec::new())
}

/// Ctrl-C: heals the cluster, saying what it did.
async fn interrupted(cluster: &Cluster) {
    warn!("interrupted: healing the cluster");
    match faults::restore(cluster).await {
        Ok(done) => done.iter().for_each(|d| info!("{d}")),
        Err(e) => error!(
            "heal failed: {e:#} (try `runner lab heal` and `runner play playbooks/rabbit-ha.yaml`)"
        ),
    }
}

/// The balancer settings in force, read from the first balancer's files:
/// the `rabbitmq` backend's check line, the client timeout, and
/// keepalived's VRRP version, advert interval, priority and check weight.
async fn balancer_config(c: &Cluster) -> String {
    let lb = &c.balancers[0].name;
    let cmd = format!(
        "grep -hE '^ *(default-server check|timeout client|vrrp_version|advert_int|priority|weight) ' \
         {} {KEEPALIVED_CONF} 2>/dev/null",
        c.deployment.haproxy_config
    );
    match runner_lab::exec(lb, &cmd).await {
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

    #[test]
    fn names() {
        for s in Settings::ALL {
            assert_eq!(Settings::from_name(s.as_str()), Some(s));
        }
        assert_eq!(
            stamp(time::macros::datetime!(2025-01-02 03:04:05 UTC)),
            "20250102-030405"
        );
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
