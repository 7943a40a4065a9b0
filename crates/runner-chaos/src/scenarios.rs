//! The scenarios and how one runs: start the AMQP workload through the VIP,
//! let it run, mark and inject the fault, keep the load on for the fault's
//! length, mark and heal, wait until the cluster is whole again (marked),
//! let the load settle, stop publishing, drain, and keep the workload's
//! report. The rolling restart has no heal: it restarts the nodes one at a
//! time, waiting for each to run and for the queue's replicas to be online
//! (quorum) before the next; restart-each-host ([`crate::restarts`])
//! restarts every host in turn and waits for whole after each.

use std::time::Duration;

use runner_amqp_workload::{ClientMode, Workload, WorkloadConfig, WorkloadHandle};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::cluster::Cluster;
use crate::report::{ModeResult, ScenarioResult};
use crate::{faults, health, restarts};
use runner_amqp_workload::events::EventKind;

/// One kind of fault ([`Scenario::summary`] says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    KillRabbitContainer,
    CrashRabbitHost,
    KillHaproxy,
    CrashBalancer,
    StopKeepalived,
    PartitionRabbitHost,
    PartitionBalancer,
    RollingRestart,
    RestartEachHost,
}

impl Scenario {
    /// Every scenario, in the order a run takes them.
    pub const ALL: [Scenario; 9] = [
        Scenario::KillRabbitContainer,
        Scenario::CrashRabbitHost,
        Scenario::KillHaproxy,
        Scenario::CrashBalancer,
        Scenario::StopKeepalived,
        Scenario::PartitionRabbitHost,
        Scenario::PartitionBalancer,
        Scenario::RollingRestart,
        Scenario::RestartEachHost,
    ];

    /// What a run without `--scenario` runs: all of them (a lab that
    /// comes back from a host restart without a service is not whole).
    pub const DEFAULT: [Scenario; 9] = Scenario::ALL;

    /// The `--scenario` value.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillRabbitContainer => "kill-rabbit-container",
            Scenario::CrashRabbitHost => "crash-rabbit-host",
            Scenario::KillHaproxy => "kill-haproxy",
            Scenario::CrashBalancer => "crash-balancer",
            Scenario::StopKeepalived => "stop-keepalived",
            Scenario::PartitionRabbitHost => "partition-rabbit-host",
            Scenario::PartitionBalancer => "partition-balancer",
            Scenario::RollingRestart => "rolling-restart",
            Scenario::RestartEachHost => "restart-each-host",
        }
    }

    /// The scenario by its `--scenario` value.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// One line for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            Scenario::KillRabbitContainer => {
                "Kill the RabbitMQ container on the host of the queue's leader"
            }
            Scenario::CrashRabbitHost => "Crash the whole RabbitMQ host of the queue's leader",
            Scenario::KillHaproxy => "Kill HAProxy on the balancer holding the VIP",
            Scenario::CrashBalancer => "Crash the balancer host holding the VIP",
            Scenario::StopKeepalived => "Stop keepalived on the balancer holding the VIP",
            Scenario::PartitionRabbitHost => {
                "Cut the queue leader's RabbitMQ host off the network, then heal"
            }
            Scenario::PartitionBalancer => {
                "Cut the balancer holding the VIP off the network, then heal (the VIP moves away and back)"
            }
            Scenario::RollingRestart => {
                "Restart the three RabbitMQ nodes one at a time, waiting for quorum"
            }
            Scenario::RestartEachHost => {
                "Restart each balancer and RabbitMQ host in turn, waiting until the cluster is whole by itself"
            }
        }
    }

    /// What the fault does, for the report.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::KillRabbitContainer => {
                "docker kill the RabbitMQ container on the queue leader's host; start it again"
            }
            Scenario::CrashRabbitHost => {
                "crash the queue leader's whole RabbitMQ host (docker kill); start it again"
            }
            Scenario::KillHaproxy => "docker kill HAProxy on the VIP holder; start it again",
            Scenario::CrashBalancer => {
                "crash the VIP-holding balancer host; start it again (and keepalived, as its init would)"
            }
            Scenario::StopKeepalived => {
                "stop keepalived on the VIP holder (SIGTERM); start it again"
            }
            Scenario::PartitionRabbitHost => {
                "cut the queue leader's RabbitMQ host off the network; heal"
            }
            Scenario::PartitionBalancer => {
                "cut the VIP-holding balancer off the network; heal (it takes the VIP back, and the \
                 balancer that held it meanwhile resets its clients' connections)"
            }
            Scenario::RollingRestart => {
                "restart each RabbitMQ node in turn, waiting for it and for the queue's replicas"
            }
            Scenario::RestartEachHost => {
                "stop and start each balancer host, then each RabbitMQ host, in turn; nothing is started \
                 by hand: after each restart the cluster must become whole by itself"
            }
        }
    }

    fn hits_balancer(self) -> bool {
        matches!(
            self,
            Scenario::KillHaproxy
                | Scenario::CrashBalancer
                | Scenario::StopKeepalived
                | Scenario::PartitionBalancer
        )
    }
}

/// Timings and load of every scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Load before the fault.
    pub warmup: Duration,
    /// How long a fault lasts under load before the heal.
    pub fault: Duration,
    /// How long the partition lasts.
    pub partition: Duration,
    /// Load after the cluster is whole again.
    pub settle: Duration,
    /// Longest wait for whole after a heal (and per node of a rolling restart).
    pub heal_timeout: Duration,
    /// Longest wait for the drain.
    pub drain_timeout: Duration,
    /// New messages per second over each client mode's publishers.
    pub rate: u32,
    /// The client modes run side by side (the first one fills the
    /// report's single-mode fields).
    pub client_modes: Vec<ClientMode>,
    /// Publishers per client mode.
    pub publishers: u32,
    /// Consumers per client mode.
    pub consumers: u32,
    /// Through HAProxy's AMQPS port, trusting only the cluster's CA.
    pub tls: bool,
}

/// Runs one scenario (see the module doc). Never panics on a failed step:
/// the error is recorded and the heal and the wait for whole still run.
/// Its progress is logged at info, in a span named for the scenario.
#[tracing::instrument(name = "scenario", skip_all, fields(name = s.name()))]
pub async fn run(c: &Cluster, s: Scenario, plan: &Plan) -> ScenarioResult {
    let mut result = ScenarioResult::new(s.name(), s.description());
    let mut cfg = WorkloadConfig::new(c.amqp_url());
    let mut port = c.deployment.amqp_port;
    if plan.tls {
        match c.amqps() {
            Ok((url, ca)) => {
                cfg.url = url;
                cfg.ca_pem = Some(ca);
                port = c.deployment.amqps_port.unwrap_or(port);
            }
            Err(e) => {
                result.error = Some(format!("{e:#}"));
                return result;
            }
        }
    }
    cfg.queue = format!("chaos-{}", s.name());
    cfg.queue_kind = c.queue_kind();
    cfg.rate_per_sec = plan.rate;
    cfg.client_modes = plan.client_modes.clone();
    cfg.publishers = plan.publishers;
    cfg.consumers = plan.consumers;
    let queue = cfg.queue.clone();
    info!(
        "{} workload through {}:{port}{} ({} queue {queue}, {} msg/s)",
        s.description(),
        c.vip,
        if plan.tls { " (AMQPS)" } else { "" },
        cfg.queue_kind.as_str(),
        plan.rate
    );
    let handle = match Workload::start(cfg).await {
        Ok(h) => h,
        Err(e) => {
            result.error = Some(format!("the workload did not start: {e:#}"));
            heal_and_wait(c, plan, None, &[], &mut result, Instant::now()).await;
            return result;
        }
    };
    tokio::time::sleep(plan.warmup).await;

    let healed_from = if s == Scenario::RollingRestart {
        rolling_restart(c, plan, &handle, &queue, &mut result).await;
        Instant::now()
    } else if s == Scenario::RestartEachHost {
        restarts::each_host(c, plan.heal_timeout, &handle, &queue, &mut result).await;
        Instant::now()
    } else {
        if let Err(e) = inject(c, s, plan, &handle, &queue, &mut result).await {
            warn!("fault failed: {e:#}");
            result.error = Some(format!("{e:#}"));
        }
        handle.mark("heal");
        Instant::now()
    };
    let queues = [queue];
    heal_and_wait(c, plan, Some(&handle), &queues, &mut result, healed_from).await;
    if result.healed {
        tokio::time::sleep(plan.settle).await;
    }
    drain(handle, plan, &mut result).await;
    result
}

/// Stops the workload, drains it and keeps its report, with the worst
/// client of each client mode from the fault on.
async fn drain(handle: WorkloadHandle, plan: &Plan, result: &mut ScenarioResult) {
    let events = handle.events();
    let end = handle.elapsed().as_secs_f64();
    let fault_at = events.iter().find_map(|e| match &e.kind {
        EventKind::Marker { .. } => Some(e.at.as_secs_f64()),
        _ => None,
    });
    info!("draining");
    let report = handle.drain(plan.drain_timeout).await;
    let worst = |publishers: &[u32]| {
        fault_at.and_then(|from| {
            runner_amqp_workload::mode::worst_client_s(&events, publishers, from, end)
        })
    };
    result.client_modes = report
        .client_modes
        .iter()
        .map(|m| ModeResult::new(m, worst(&m.publisher_ids)))
        .collect();
    result.client_outage_s = result.client_modes.first().and_then(|m| m.worst_client_s);
    let worst_line: Vec<String> = result
        .client_modes
        .iter()
        .map(|m| format!("{} {}", m.mode.as_str(), secs(m.worst_client_s)))
        .collect();
    info!(
        "published {}, confirmed {}, consumed {}, lost {}, duplicates {}, longest outage {:.2} s, worst client s: {}",
        report.published,
        report.confirmed,
        report.consumed,
        report.lost,
        report.duplicates,
        report.max_outage_s().unwrap_or(0.0),
        worst_line.join(", ")
    );
    result.set_workload(report);
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.2}"))
}

/// Picks the target, marks and injects the fault, keeps the load on for the
/// fault's length (timing the VIP's move when a balancer is hit).
async fn inject(
    c: &Cluster,
    s: Scenario,
    plan: &Plan,
    handle: &WorkloadHandle,
    queue: &str,
    result: &mut ScenarioResult,
) -> anyhow::Result<()> {
    let target = if s.hits_balancer() {
        let holders = health::vip_holders(c).await;
        anyhow::ensure!(holders.len() == 1, "VIP holders: {holders:?}, expected one");
        holders[0].clone()
    } else {
        let target = leader_host(c, queue).await;
        let node = c.deployment.node_name(&target);
        result.clients_on_target = health::workload_clients_on(c, &node).await;
        let clients = if result.clients_on_target.is_empty() {
            "none".to_string()
        } else {
            result.clients_on_target.join(" ")
        };
        info!("workload clients on {target}: {clients}");
        target
    };
    result.target = Some(target.clone());
    let label = match s {
        Scenario::KillRabbitContainer => format!("kill rabbit on {target}"),
        Scenario::CrashRabbitHost => format!("crash {target}"),
        Scenario::KillHaproxy => format!("kill haproxy on {target}"),
        Scenario::CrashBalancer => format!("crash {target}"),
        Scenario::StopKeepalived => format!("stop keepalived on {target}"),
        Scenario::PartitionRabbitHost | Scenario::PartitionBalancer => {
            format!("partition {target}")
        }
        Scenario::RollingRestart | Scenario::RestartEachHost => unreachable!("no single fault"),
    };
    info!("{label}");
    let t0 = Instant::now();
    handle.mark(label);
    let d = &c.deployment;
    match s {
        Scenario::KillRabbitContainer => {
            faults::kill_container(&target, &d.rabbit_container).await?
        }
        Scenario::CrashRabbitHost | Scenario::CrashBalancer => faults::crash_host(&target).await?,
        Scenario::KillHaproxy => faults::kill_container(&target, &d.haproxy_container).await?,
        Scenario::StopKeepalived => faults::stop_keepalived(&target).await?,
        Scenario::PartitionRabbitHost | Scenario::PartitionBalancer => {
            faults::partition(&target).await?
        }
        Scenario::RollingRestart | Scenario::RestartEachHost => {}
    }
    let hold = if matches!(
        s,
        Scenario::PartitionRabbitHost | Scenario::PartitionBalancer
    ) {
        plan.partition
    } else {
        plan.fault
    };
    let deadline = t0 + hold;
    // From the moment the fault is in place (the command that made it has
    // returned), not from before the `docker exec` that carried it.
    let fault_at = Instant::now();
    if s.hits_balancer() {
        let left = deadline.saturating_duration_since(fault_at);
        if let Some(moved) = health::wait_vip_moved(c, &target, left).await {
            let moved = moved.as_secs_f64();
            info!("the VIP moved in {moved:.2} s");
            result.vip_moved_s = Some(moved);
        } else {
            warn!("the VIP did not move");
        }
    }
    if s == Scenario::StopKeepalived {
        faults::keepalived_gone(&target).await?;
    }
    tokio::time::sleep_until(deadline).await;
    Ok(())
}

/// The host of the queue's leader (quorum) or master (classic); the first
/// RabbitMQ host when no node answers.
async fn leader_host(c: &Cluster, queue: &str) -> String {
    health::queue_leader(c, queue)
        .await
        .and_then(|n| c.rabbit_by_node(&n).map(|h| h.name.clone()))
        .unwrap_or_else(|| c.rabbits[0].name.clone())
}

async fn rolling_restart(
    c: &Cluster,
    plan: &Plan,
    handle: &WorkloadHandle,
    queue: &str,
    result: &mut ScenarioResult,
) {
    result.target = Some(
        c.rabbits
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    for h in &c.rabbits {
        let label = format!("restart {}", h.name);
        info!("{label}");
        handle.mark(label);
        if let Err(e) = faults::restart_rabbit(c, &h.name).await {
            result.error = Some(format!("{e:#}"));
            return;
        }
        let node = c.deployment.node_name(&h.name);
        let start = Instant::now();
        loop {
            if health::node_running(c, &node).await && health::queue_replicated(c, queue).await {
                info!(
                    "{node} runs and the queue's replicas are online after {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                break;
            }
            if start.elapsed() > plan.heal_timeout {
                result.error = Some(format!(
                    "{node} or the queue's replicas not back within {} s",
                    plan.heal_timeout.as_secs()
                ));
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Undoes the fault and waits for whole; marks `whole` on the workload.
async fn heal_and_wait(
    c: &Cluster,
    plan: &Plan,
    handle: Option<&WorkloadHandle>,
    queues: &[String],
    result: &mut ScenarioResult,
    from: Instant,
) {
    info!("heal");
    match faults::restore(c).await {
        Ok(done) => {
            for d in &done {
                info!("{d}");
            }
            result.heal_actions = done;
        }
        Err(e) => {
            warn!("heal failed: {e:#}");
            let msg = format!("heal: {e:#}");
            result.error = Some(match result.error.take() {
                Some(prev) => format!("{prev}; {msg}"),
                None => msg,
            });
        }
    }
    match health::wait_whole_queues(c, queues, plan.heal_timeout).await {
        Ok(_) => {
            if let Some(h) = handle {
                h.mark("whole");
            }
            let t = from.elapsed().as_secs_f64();
            info!("whole again {t:.1} s after the heal");
            result.time_to_whole_s = Some(t);
            result.healed = true;
        }
        Err(h) => {
            warn!(
                "NOT whole after {} s: {}",
                plan.heal_timeout.as_secs(),
                h.summary()
            );
            result.problems = h.problems;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
        assert_eq!(Scenario::from_name("nope"), None);
    }
}
