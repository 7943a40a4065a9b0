//! Is the cluster whole? Every lab host running and not partitioned, every
//! RabbitMQ node answering its management API and seeing all nodes running
//! and clustered with no partition, every replica of the workload's queue a
//! voter and caught up (mirrors synchronised on 3.x: [`crate::replicas`]),
//! every RabbitMQ backend UP in HAProxy on every balancer, keepalived
//! running on every balancer, and exactly one VIP holder: the
//! highest-priority healthy balancer (the first of the group whose HAProxy
//! answers its health URL).
//! Also the smaller questions the scenarios ask: where a queue's leader is,
//! whether its replicas are all online, which balancer holds the VIP.

use std::time::Duration;

use futures_util::future::join_all;
use runner_amqp_workload::events::Role;
use serde_json::Value;
use tokio::time::Instant;

use crate::cluster::{Cluster, HostAddr};
use crate::{http, replicas};

const HTTP_TIMEOUT: Duration = Duration::from_secs(3);

/// One look at the cluster: what is wrong (nothing when whole).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub problems: Vec<String>,
    pub vip_holders: Vec<String>,
}

impl Health {
    pub fn whole(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems as one line.
    pub fn summary(&self) -> String {
        if self.problems.is_empty() {
            "whole".into()
        } else {
            self.problems.join("; ")
        }
    }
}

/// Checks everything at once (see the module doc), no queue's replicas.
pub async fn check(c: &Cluster) -> Health {
    check_queues(c, &[]).await
}

/// Checks everything at once, and that every replica of each of `queues`
/// is whole ([`replicas::problems`]: voters, caught up).
pub async fn check_queues(c: &Cluster, queues: &[String]) -> Health {
    let mut problems = Vec::new();
    let hosts: Vec<&HostAddr> = c.rabbits.iter().chain(&c.balancers).collect();
    let (host_p, node_p, lb_p, queue_p, (vip_p, vip_holders)) = tokio::join!(
        join_all(hosts.iter().map(|h| host_problems(&h.name))),
        join_all(c.rabbits.iter().map(|h| node_problems(c, h))),
        join_all(c.balancers.iter().map(|h| balancer_problems(c, h))),
        join_all(queues.iter().map(|q| replicas::problems(c, q))),
        vip_problems(c),
    );
    for p in [host_p, node_p, lb_p, queue_p].into_iter().flatten() {
        problems.extend(p);
    }
    problems.extend(vip_p);
    Health {
        problems,
        vip_holders,
    }
}

/// Exactly one VIP holder, and it is the highest-priority healthy
/// balancer: keepalived's priorities follow the order of the balancers
/// group, and it preempts, so with every balancer healthy the first holds
/// it. Healthy: its HAProxy answers its health URL. Returns the problems
/// and the holders.
async fn vip_problems(c: &Cluster) -> (Vec<String>, Vec<String>) {
    let (holders, healthy) = tokio::join!(
        vip_holders(c),
        join_all(c.balancers.iter().map(|lb| haproxy_healthy(c, lb)))
    );
    let healthy: Vec<&str> = c
        .balancers
        .iter()
        .zip(healthy)
        .filter(|(_, ok)| *ok)
        .map(|(lb, _)| lb.name.as_str())
        .collect();
    (expected_holder_problems(c.vip, &holders, &healthy), holders)
}

/// The VIP rule on what was seen (pure): `holders` carry the VIP,
/// `healthy` are the healthy balancers in priority order.
pub fn expected_holder_problems(
    vip: std::net::Ipv4Addr,
    holders: &[String],
    healthy: &[&str],
) -> Vec<String> {
    match (holders, healthy.first()) {
        ([], _) => vec![format!("nobody holds the VIP {vip}")],
        ([one], Some(best)) if one != best => vec![format!(
            "the VIP is on {one}, not on {best} (the highest-priority healthy balancer)"
        )],
        ([_], _) => vec![],
        (many, _) => vec![format!(
            "split brain: {} all hold the VIP {vip}",
            many.join(" and ")
        )],
    }
}

/// What `runner lab status` says about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No cluster to check (no lab, or the playbook has not built it).
    NotBuilt(String),
    /// Whole; the workload queues whose replicas were checked.
    Whole { queues: Vec<String> },
    /// Not whole: what is wrong.
    NotWhole(Vec<String>),
}

impl Verdict {
    /// One line (`whole`, `not whole: reasons`, or why there is nothing).
    pub fn line(&self) -> String {
        match self {
            Verdict::NotBuilt(why) => format!(
                "cluster: not built ({why}); build it with `runner play playbooks/rabbit-ha.yaml`"
            ),
            Verdict::Whole { queues } if queues.is_empty() => {
                "cluster: whole (no workload queue to check)".into()
            }
            Verdict::Whole { queues } => {
                format!("cluster: whole (replicas of {} checked)", queues.join(", "))
            }
            Verdict::NotWhole(problems) => format!("cluster: NOT whole: {}", problems.join("; ")),
        }
    }
}

/// The verdict on the cluster the lab in `state_dir` runs, with the
/// replicas of the workload's queues that exist ([`workload_queues`]).
pub async fn verdict(state_dir: &std::path::Path) -> Verdict {
    let c = match Cluster::open(state_dir) {
        Ok(c) => c,
        Err(e) => return Verdict::NotBuilt(format!("{e:#}")),
    };
    let queues = workload_queues(&c).await;
    let h = check_queues(&c, &queues).await;
    if h.whole() {
        Verdict::Whole { queues }
    } else {
        Verdict::NotWhole(h.problems)
    }
}

/// The workload's queues that exist now (`runner-workload`, and chaos's
/// `chaos-<scenario>`), asked of the first node that answers.
pub async fn workload_queues(c: &Cluster) -> Vec<String> {
    for h in &c.rabbits {
        if let Ok(list) = node_api(c, h, "queues/%2F?columns=name").await {
            return list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|q| q["name"].as_str())
                .filter(|n| *n == "runner-workload" || n.starts_with("chaos-"))
                .map(str::to_string)
                .collect();
        }
    }
    Vec::new()
}

/// Waits until two checks in a row a second apart find the cluster whole;
/// returns how long it took, or the last health on timeout.
pub async fn wait_whole(c: &Cluster, timeout: Duration) -> Result<Duration, Health> {
    wait_whole_queues(c, &[], timeout).await
}

/// [`wait_whole`], with the replicas of `queues` checked too.
pub async fn wait_whole_queues(
    c: &Cluster,
    queues: &[String],
    timeout: Duration,
) -> Result<Duration, Health> {
    let start = Instant::now();
    let mut streak = 0;
    loop {
        let h = check_queues(c, queues).await;
        if h.whole() {
            streak += 1;
            if streak >= 2 {
                return Ok(start.elapsed());
            }
        } else {
            streak = 0;
        }
        if start.elapsed() >= timeout {
            return Err(h);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn host_problems(host: &str) -> Vec<String> {
    match runner_lab::hosts::container_info(host).await {
        Ok(Some(info)) if info.status == "running" => {
            if runner_lab::faults::is_partitioned(host)
                .await
                .unwrap_or(false)
            {
                vec![format!("{host} is partitioned")]
            } else {
                vec![]
            }
        }
        Ok(Some(info)) => vec![format!("lab host {host} is {}", info.status)],
        Ok(None) => vec![format!("lab host {host} does not exist")],
        Err(e) => vec![format!("lab host {host}: {e}")],
    }
}

/// `GET /api/<path>` on one node's own management port.
pub async fn node_api(c: &Cluster, h: &HostAddr, path: &str) -> anyhow::Result<Value> {
    let d = &c.deployment;
    let url = format!("http://{}:{}/api/{path}", h.ip, d.management_port);
    http::get_json(&url, (&d.admin_user, &c.admin_password), HTTP_TIMEOUT).await
}

async fn node_problems(c: &Cluster, h: &HostAddr) -> Vec<String> {
    let nodes = match node_api(c, h, "nodes").await {
        Ok(v) => v,
        Err(e) => return vec![format!("{}: management API: {e}", h.name)],
    };
    let list = nodes.as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for want in c.node_names() {
        match list.iter().find(|n| n["name"] == want.as_str()) {
            Some(n) if n["running"] == true => {
                if let Some(parts) = n["partitions"].as_array()
                    && !parts.is_empty()
                {
                    out.push(format!(
                        "{} reports a partition of {want} from {}",
                        h.name,
                        parts
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            Some(_) => out.push(format!("{} sees {want} not running", h.name)),
            None => out.push(format!("{} does not list {want}", h.name)),
        }
    }
    out
}

/// HAProxy's `rabbitmq` backend servers and their status on one balancer.
pub async fn backends(c: &Cluster, lb: &HostAddr) -> anyhow::Result<Vec<(String, String)>> {
    let d = &c.deployment;
    let url = format!("http://{}:{}/;csv", lb.ip, d.stats_port);
    let auth = (d.stats_user.as_str(), c.stats_password.as_str());
    let (status, csv) = http::get(&url, Some(auth), HTTP_TIMEOUT).await?;
    anyhow::ensure!(status == 200, "HTTP {status}");
    Ok(parse_backends(&csv))
}

fn parse_backends(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > 17 && f[0] == "rabbitmq" && f[1] != "BACKEND" && f[1] != "FRONTEND")
        .map(|f| (f[1].to_string(), f[17].to_string()))
        .collect()
}

async fn balancer_problems(c: &Cluster, lb: &HostAddr) -> Vec<String> {
    let mut out = Vec::new();
    match backends(c, lb).await {
        Ok(b) => {
            for r in &c.rabbits {
                match b.iter().find(|(n, _)| n == &r.name) {
                    Some((_, s)) if s == "UP" => {}
                    Some((_, s)) => out.push(format!("{}: backend {} is {s}", lb.name, r.name)),
                    None => out.push(format!("{}: no backend {}", lb.name, r.name)),
                }
            }
        }
        Err(e) => out.push(format!("{}: HAProxy stats: {e}", lb.name)),
    }
    if !keepalived_running(&lb.name).await {
        out.push(format!("{}: keepalived is not running", lb.name));
    }
    out
}

/// `pidof keepalived` on a balancer.
pub async fn keepalived_running(host: &str) -> bool {
    runner_lab::exec(host, "pidof keepalived")
        .await
        .is_ok_and(|o| o.ok())
}

/// HAProxy's health URL on one balancer answers 200.
pub async fn haproxy_healthy(c: &Cluster, lb: &HostAddr) -> bool {
    let url = format!("http://{}:{}/health", lb.ip, c.deployment.health_port);
    matches!(
        http::get(&url, None, Duration::from_secs(2)).await,
        Ok((200, _))
    )
}

/// The balancers that carry the VIP now.
pub async fn vip_holders(c: &Cluster) -> Vec<String> {
    runner_lab::vip::holders(&balancer_names(c, |_| true), c.vip).await
}

fn balancer_names(c: &Cluster, keep: impl Fn(&str) -> bool) -> Vec<String> {
    c.balancers
        .iter()
        .map(|h| h.name.clone())
        .filter(|n| keep(n))
        .collect()
}

/// Polls until a balancer other than `from` holds the VIP; returns how long
/// that took, or `None` after `timeout`.
pub async fn wait_vip_moved(c: &Cluster, from: &str, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    let others = balancer_names(c, |n| n != from);
    while start.elapsed() < timeout {
        if !runner_lab::vip::holders(&others, c.vip).await.is_empty() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The workload's connections on `node`, as `p1` (publisher 1) or `c2`
/// (consumer 2), sorted.
pub async fn workload_clients_on(c: &Cluster, node: &str) -> Vec<String> {
    for h in &c.rabbits {
        let Ok(list) = node_api(c, h, "connections").await else {
            continue;
        };
        let mut out: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|conn| conn["node"] == node)
            .filter_map(|conn| {
                let name = conn["client_properties"]["connection_name"].as_str()?;
                Role::from_connection_name(name).map(|r| r.short())
            })
            .collect();
        out.sort();
        return out;
    }
    Vec::new()
}

/// A queue's leader (quorum) or master (classic) node, asked of any node
/// that answers.
pub async fn queue_leader(c: &Cluster, queue: &str) -> Option<String> {
    let q = queue_info(c, queue).await?;
    q["leader"]
        .as_str()
        .or_else(|| q["node"].as_str())
        .map(str::to_string)
}

async fn queue_info(c: &Cluster, queue: &str) -> Option<Value> {
    let path = format!("queues/%2F/{}", crate::cluster::percent_encode(queue));
    for h in &c.rabbits {
        if let Ok(v) = node_api(c, h, &path).await {
            return Some(v);
        }
    }
    None
}

/// Every replica of `queue` online: for a quorum queue all members online,
/// for a mirrored classic queue every mirror synchronised.
pub async fn queue_replicated(c: &Cluster, queue: &str) -> bool {
    let Some(q) = queue_info(c, queue).await else {
        return false;
    };
    let len = |k: &str| q[k].as_array().map_or(0, Vec::len);
    if q["type"] == "quorum" {
        let members = len("members");
        members >= c.rabbits.len() && len("online") == members
    } else {
        // Classic: the master plus synchronised mirrors (ha-all: all nodes).
        len("synchronised_slave_nodes") + 1 >= c.rabbits.len()
    }
}

/// One node runs, as every node that answers sees it.
pub async fn node_running(c: &Cluster, node: &str) -> bool {
    let mut seen = false;
    for h in &c.rabbits {
        if let Ok(v) = node_api(c, h, "nodes").await {
            let running = v
                .as_array()
                .is_some_and(|l| l.iter().any(|n| n["name"] == node && n["running"] == true));
            if !running {
                return false;
            }
            seen = true;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_from_csv() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n\
                   amqp,FRONTEND,,,0,0,8000,0,0,0,0,0,0,,,,,OPEN\n\
                   rabbitmq,rabbit1,0,0,1,1,,1,0,0,,0,,0,0,0,0,UP\n\
                   rabbitmq,rabbit2,0,0,1,1,,1,0,0,,0,,0,0,0,0,DOWN 1/2\n\
                   rabbitmq,BACKEND,0,0,1,1,,1,0,0,,0,,0,0,0,0,UP\n";
        assert_eq!(
            parse_backends(csv),
            vec![
                ("rabbit1".to_string(), "UP".to_string()),
                ("rabbit2".to_string(), "DOWN 1/2".to_string())
            ]
        );
        let h = Health {
            problems: vec!["a".into(), "b".into()],
            vip_holders: vec![],
        };
        assert!(!h.whole());
        assert_eq!(h.summary(), "a; b");
    }

    #[test]
    fn verdict_lines() {
        assert_eq!(
            Verdict::NotWhole(vec!["lb1: keepalived is not running".into(), "x".into()]).line(),
            "cluster: NOT whole: lb1: keepalived is not running; x"
        );
        assert!(
            Verdict::NotBuilt("no secrets".into())
                .line()
                .contains("runner play")
        );
        let q = Verdict::Whole {
            queues: vec!["chaos-x".into()],
        };
        assert_eq!(q.line(), "cluster: whole (replicas of chaos-x checked)");
    }

    #[test]
    fn the_vip_belongs_to_the_best_healthy_balancer() {
        let vip = std::net::Ipv4Addr::new(10, 0, 0, 250);
        let on = |h: &str| vec![h.to_string()];
        assert!(expected_holder_problems(vip, &on("lb1"), &["lb1", "lb2"]).is_empty());
        assert_eq!(
            expected_holder_problems(vip, &on("lb2"), &["lb1", "lb2"]),
            ["the VIP is on lb2, not on lb1 (the highest-priority healthy balancer)"]
        );
        // lb1's HAProxy is down: lb2 is the right holder.
        assert!(expected_holder_problems(vip, &on("lb2"), &["lb2"]).is_empty());
        assert_eq!(
            expected_holder_problems(vip, &[], &["lb1"]),
            ["nobody holds the VIP 10.0.0.250"]
        );
        let both = vec!["lb1".to_string(), "lb2".to_string()];
        assert!(expected_holder_problems(vip, &both, &["lb1"])[0].starts_with("split brain"));
    }
}
