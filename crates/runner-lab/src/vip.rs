//! Who holds the virtual IP: the one place that asks (`ip -4 -o addr` on
//! each host, in parallel). `lab status`, the lab's own API and chaos all
//! use [`holders`].

use std::net::Ipv4Addr;

use crate::hosts;

/// Whether `host`'s interfaces carry `vip`; a host that does not answer
/// does not hold it.
async fn holds(host: &str, vip: Ipv4Addr) -> bool {
    let vip = vip.to_string();
    match hosts::exec(host, "ip -4 -o addr show").await {
        Ok(out) if out.ok() => out
            .stdout
            .split_whitespace()
            .any(|w| w.split('/').next() == Some(vip.as_str())),
        _ => false,
    }
}

/// Those of `hosts` whose interfaces carry `vip` now, in the given order
/// (more than one is split brain).
pub async fn holders<S: AsRef<str>>(hosts: &[S], vip: Ipv4Addr) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, h) in hosts.iter().enumerate() {
        let h = h.as_ref().to_string();
        tasks.spawn(async move { (i, holds(&h, vip).await, h) });
    }
    let mut found = Vec::new();
    while let Some(Ok((i, yes, h))) = tasks.join_next().await {
        if yes {
            found.push((i, h));
        }
    }
    found.sort();
    found.into_iter().map(|(_, h)| h).collect()
}

/// One change of who holds the VIP, seen while watching.
#[derive(Debug, Clone)]
pub struct Change {
    /// Since the watch began.
    pub at: std::time::Duration,
    pub holders: Vec<String>,
}

/// Asks every `every` for `duration` who holds `vip` among `hosts`; the
/// first entry is who held it at the start, each next one a change (a
/// false failover, when nothing failed).
pub async fn watch<S: AsRef<str>>(
    hosts: &[S],
    vip: Ipv4Addr,
    duration: std::time::Duration,
    every: std::time::Duration,
) -> Vec<Change> {
    let start = tokio::time::Instant::now();
    let mut changes: Vec<Change> = Vec::new();
    while start.elapsed() < duration {
        let now = holders(hosts, vip).await;
        if changes.last().is_none_or(|c| c.holders != now) {
            changes.push(Change {
                at: start.elapsed(),
                holders: now,
            });
        }
        tokio::time::sleep(every).await;
    }
    changes
}
