//! The `restart-each-host` scenario: each balancer host, then each
//! RabbitMQ host, is stopped cleanly and started again (as a reboot would),
//! and nothing is started by hand: the cluster must become whole by itself
//! (keepalived and the compose projects coming back with their host), with
//! the queue's replicas voters and caught up. Per host it records how long
//! the restart took and how long until whole again.

use std::time::Duration;

use runner_amqp_workload::WorkloadHandle;
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::cluster::Cluster;
use crate::health;
use crate::report::ScenarioResult;

/// One host's restart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRestart {
    pub host: String,
    /// From the stop to the host answering SSH and its engine again.
    pub restart_s: f64,
    /// From the stop to the cluster whole again (two checks a second
    /// apart); `None` when it was not whole within the wait.
    pub whole_after_s: Option<f64>,
    /// What was still wrong when the wait ended.
    pub problems: Vec<String>,
}

/// Restarts every host in turn (see the module doc); stops at the first
/// host after which the cluster is not whole within `wait`.
pub async fn each_host(
    c: &Cluster,
    wait: Duration,
    handle: &WorkloadHandle,
    queue: &str,
    result: &mut ScenarioResult,
) {
    // Each host once: on the seed's topology a balancer is a RabbitMQ host.
    let mut hosts: Vec<String> = Vec::new();
    for h in c.balancers.iter().chain(&c.rabbits) {
        if !hosts.contains(&h.name) {
            hosts.push(h.name.clone());
        }
    }
    result.target = Some(hosts.join(","));
    let queues = [queue.to_string()];
    for host in hosts {
        let label = format!("restart {host}");
        info!("{label}");
        handle.mark(label);
        let t0 = Instant::now();
        if let Err(e) = restart(&host).await {
            result.error = Some(format!("restarting {host}: {e:#}"));
            return;
        }
        let restart_s = t0.elapsed().as_secs_f64();
        let whole = health::wait_whole_queues(c, &queues, wait).await;
        let r = HostRestart {
            host: host.clone(),
            restart_s,
            whole_after_s: whole.as_ref().ok().map(|_| t0.elapsed().as_secs_f64()),
            problems: whole
                .as_ref()
                .err()
                .map_or(Vec::new(), |h| h.problems.clone()),
        };
        result.host_restarts.push(r);
        match whole {
            Ok(_) => info!(
                "{host} back in {restart_s:.1} s, whole again {:.1} s after the stop",
                t0.elapsed().as_secs_f64()
            ),
            Err(h) => {
                warn!(
                    "{host}: NOT whole {} s after its restart: {}",
                    wait.as_secs(),
                    h.summary()
                );
                result.error = Some(format!(
                    "not whole within {} s of restarting {host}: {}",
                    wait.as_secs(),
                    h.summary()
                ));
                return;
            }
        }
    }
}

/// A clean stop and a start of the lab host (it waits for sshd and the
/// host's engine).
async fn restart(host: &str) -> anyhow::Result<()> {
    runner_lab::faults::stop(host).await?;
    runner_lab::faults::start(host).await
}

/// One line per restarted host, for the report's notes.
pub fn summary(restarts: &[HostRestart]) -> String {
    restarts
        .iter()
        .map(|r| match r.whole_after_s {
            Some(w) => format!("{} back {:.1} s, whole {:.1} s", r.host, r.restart_s, w),
            None => format!("{} back {:.1} s, NOT whole", r.host, r.restart_s),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_host() {
        let r = |host: &str, whole: Option<f64>| HostRestart {
            host: host.into(),
            restart_s: 3.04,
            whole_after_s: whole,
            problems: vec![],
        };
        assert_eq!(
            summary(&[r("lb1", Some(9.96)), r("lb2", None)]),
            "lb1 back 3.0 s, whole 10.0 s; lb2 back 3.0 s, NOT whole"
        );
    }
}
