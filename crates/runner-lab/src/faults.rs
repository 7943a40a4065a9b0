//! Fault injection on lab hosts: kill, clean stop/start, pause/unpause, and
//! network partition/heal.
//!
//! A partition drops every packet in or out of the host's lab interface
//! (`eth0`) in the host's own network namespace: two iptables rules (raw
//! PREROUTING for what arrives, mangle POSTROUTING for what leaves,
//! including what its nested containers send), and a root qdisc that holds
//! no packet (`pfifo limit 0`) for what leaves below IP — ARP, and what
//! keepalived sends on a packet socket. A cut cable silences both; with
//! IP alone dropped, a partitioned keepalived that took the VIP for itself
//! still announced it by gratuitous ARP and drew the clients to a host
//! they could not reach. The interface, its address, routes, keepalived
//! and the nested containers are left as they are, so `heal` (deleting the
//! rules and the qdisc) restores the host with the same IP and state. A
//! kill or stop ends the partition too (it lives in the namespace).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::docker;
use crate::hosts::{self, READY_TIMEOUT};
use crate::state::container_name;

/// The comment that marks the lab's partition rules.
pub const PARTITION_MARK: &str = "runner-lab-partition";

const RULES: [(&str, &str, &str); 2] =
    [("raw", "PREROUTING", "-i"), ("mangle", "POSTROUTING", "-o")];

/// Drops everything the host sends below IP too (see the module doc).
const CUT_LINK: &str = "tc qdisc replace dev eth0 root pfifo limit 0";
/// Deletes that qdisc; fails when there is none.
const MEND_LINK: &str = "tc qdisc del dev eth0 root pfifo limit 0 2>/dev/null";

fn rule(table: &str, chain: &str, dir: &str, op: &str) -> String {
    format!(
        "iptables -w -t {table} {op} {chain} {dir} eth0 -m comment --comment {PARTITION_MARK} -j DROP"
    )
}

async fn require(host: &str) -> Result<hosts::ContainerInfo> {
    match hosts::container_info(host).await? {
        Some(info) => Ok(info),
        None => bail!("no lab host named {host} (is the lab up? see `runner lab status`)"),
    }
}

async fn require_running(host: &str) -> Result<()> {
    let info = require(host).await?;
    if info.status != "running" {
        bail!("lab host {host} is {}, not running", info.status);
    }
    Ok(())
}

/// `docker kill` the host container (SIGKILL: everything in it dies at once).
pub async fn kill(host: &str) -> Result<()> {
    require_running(host).await?;
    docker::run(&["kill", &container_name(host)]).await?;
    Ok(())
}

/// Stops the host cleanly: its engine stops its containers first.
pub async fn stop(host: &str) -> Result<()> {
    require(host).await?;
    docker::run(&["stop", "-t", "30", &container_name(host)]).await?;
    Ok(())
}

/// Starts a stopped or killed host and waits until sshd and its engine
/// answer.
pub async fn start(host: &str) -> Result<()> {
    require(host).await?;
    docker::run(&["start", &container_name(host)]).await?;
    let ip = match hosts::container_info(host).await?.and_then(|i| i.ip) {
        Some(ip) => ip,
        None => bail!("lab host {host} started without a lab address"),
    };
    hosts::wait_ready(host, ip, READY_TIMEOUT).await?;
    hosts::isolate(host).await
}

/// Freezes every process of the host (`docker pause`).
pub async fn pause(host: &str) -> Result<()> {
    require_running(host).await?;
    docker::run(&["pause", &container_name(host)]).await?;
    Ok(())
}

/// Thaws a paused host.
pub async fn unpause(host: &str) -> Result<()> {
    require(host).await?;
    docker::run(&["unpause", &container_name(host)]).await?;
    Ok(())
}

/// True when the host's partition rules are in place.
pub async fn is_partitioned(host: &str) -> Result<bool> {
    let out = hosts::exec(host, &rule(RULES[0].0, RULES[0].1, RULES[0].2, "-C")).await?;
    Ok(out.ok())
}

/// Cuts the host off the lab network (see the module doc). Idempotent.
pub async fn partition(host: &str) -> Result<()> {
    require_running(host).await?;
    let mut script = String::from("set -e\n");
    for (table, chain, dir) in RULES {
        script.push_str(&format!(
            "{} 2>/dev/null || {}\n",
            rule(table, chain, dir, "-C"),
            rule(table, chain, dir, "-I")
        ));
    }
    script.push_str(CUT_LINK);
    script.push('\n');
    let out = hosts::exec(host, &script).await?;
    if !out.ok() {
        bail!("partitioning {host}: {}", out.stderr.trim());
    }
    Ok(())
}

/// Removes one host's partition rules; returns whether there were any.
pub async fn heal_host(host: &str) -> Result<bool> {
    require_running(host).await?;
    let mut script = format!("healed=1\nif {MEND_LINK}; then healed=0; fi\n");
    for (table, chain, dir) in RULES {
        script.push_str(&format!(
            "while {} 2>/dev/null; do healed=0; done\n",
            rule(table, chain, dir, "-D")
        ));
    }
    script.push_str("exit $healed\n");
    let out = hosts::exec(host, &script).await?;
    Ok(out.ok())
}

/// Heals `host`, or every running lab host when `None`; returns the hosts
/// that were partitioned.
pub async fn heal(host: Option<&str>) -> Result<Vec<String>> {
    let targets = match host {
        Some(h) => vec![h.to_string()],
        None => {
            let mut running = Vec::new();
            for h in hosts::existing_hosts().await? {
                if hosts::container_info(&h)
                    .await?
                    .is_some_and(|i| i.status == "running")
                {
                    running.push(h);
                }
            }
            running
        }
    };
    let mut healed = Vec::new();
    for h in targets {
        if heal_host(&h).await? {
            healed.push(h);
        }
    }
    Ok(healed)
}

/// Waits up to `timeout` for `host` to be reachable on SSH from here again.
pub async fn wait_reachable(host: &str, timeout: Duration) -> Result<()> {
    let ip = match hosts::container_info(host).await?.and_then(|i| i.ip) {
        Some(ip) => ip,
        None => bail!("lab host {host} has no lab address"),
    };
    hosts::wait_ready(host, ip, timeout).await
}
