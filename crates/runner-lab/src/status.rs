//! `runner lab status`: one row per host (state, IP, sshd, engine, service
//! containers, keepalived, VIP) gathered live from the engine and the
//! hosts, shown as a table.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::topology::Topology;
use crate::{faults, hosts, network, vip};

/// What `status` found about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    /// Inventory name.
    pub name: String,
    /// Its inventory groups, in the topology's order (empty when the
    /// topology has none for it).
    pub groups: Vec<String>,
    /// Container state (`running`, `paused`, `exited`…).
    pub state: String,
    /// Lab IP.
    pub ip: Option<Ipv4Addr>,
    /// The iptables partition is in place.
    pub partitioned: bool,
    /// sshd answered from this machine.
    pub sshd: bool,
    /// The host's engine version, when it answered.
    pub engine: Option<String>,
    /// Names of running containers in the host's engine.
    pub services: Vec<String>,
    /// keepalived runs on the host (`pidof keepalived`).
    pub keepalived: bool,
    /// The host holds the VIP on one of its interfaces.
    pub holds_vip: bool,
}

/// The whole lab's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabStatus {
    /// The VIP, when the lab network exists.
    pub vip: Option<Ipv4Addr>,
    /// One entry per host container, by name.
    pub hosts: Vec<HostStatus>,
}

impl LabStatus {
    /// Hosts holding the VIP (more than one means split brain).
    pub fn vip_holders(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| h.holds_vip)
            .map(|h| h.name.as_str())
            .collect()
    }
}

async fn host_status(name: String, groups: Vec<String>) -> Result<HostStatus> {
    let info = hosts::container_info(&name).await?;
    let mut st = HostStatus {
        name: name.clone(),
        groups,
        state: info
            .as_ref()
            .map(|i| i.status.clone())
            .unwrap_or_else(|| "missing".into()),
        ip: info.as_ref().and_then(|i| i.ip),
        partitioned: false,
        sshd: false,
        engine: None,
        services: Vec::new(),
        keepalived: false,
        holds_vip: false,
    };
    if st.state != "running" {
        return Ok(st);
    }
    let sshd = async {
        match st.ip {
            Some(ip) => hosts::sshd_answers(ip, Duration::from_secs(2)).await,
            None => false,
        }
    };
    let keepalived = async {
        hosts::exec(&name, "pidof keepalived")
            .await
            .is_ok_and(|o| o.ok())
    };
    let (partitioned, sshd, keepalived, engine) = tokio::join!(
        faults::is_partitioned(&name),
        sshd,
        keepalived,
        hosts::engine_version(&name)
    );
    st.partitioned = partitioned.unwrap_or(false);
    st.sshd = sshd;
    st.keepalived = keepalived;
    st.engine = engine;
    if st.engine.is_some()
        && let Ok(out) = hosts::exec(&name, "docker ps --format '{{.Names}}'").await
        && out.ok()
    {
        st.services = out.stdout.lines().map(str::to_string).collect();
        st.services.sort();
    }
    Ok(st)
}

/// Gathers the status of every lab host container, in parallel; groups
/// come from `topology` (the lab's record), when there is one.
pub async fn gather(topology: Option<&Topology>) -> Result<LabStatus> {
    let vip = network::lab_subnet().await?.map(|s| s.vip());
    let mut tasks = tokio::task::JoinSet::new();
    for name in hosts::existing_hosts().await? {
        let groups = topology.map_or(Vec::new(), |t| t.groups_of(&name).to_vec());
        tasks.spawn(host_status(name, groups));
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r??);
    }
    if let Some(vip) = vip {
        let running: Vec<&str> = out
            .iter()
            .filter(|h| h.state == "running")
            .map(|h| h.name.as_str())
            .collect();
        let holders = vip::holders(&running, vip).await;
        for h in &mut out {
            h.holds_vip = holders.contains(&h.name);
        }
    }
    let rank = |g: &str| topology.map_or(0, |t| t.group_rank(g));
    out.sort_by(|a, b| {
        let first = |h: &HostStatus| h.groups.first().map_or(usize::MAX, |g| rank(g));
        let key = |h: &HostStatus| (first(h), h.ip, h.name.clone());
        key(a).cmp(&key(b))
    });
    Ok(LabStatus { vip, hosts: out })
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The status as a table, with a line about the VIP under it.
pub fn render(status: &LabStatus) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "host",
        "groups",
        "state",
        "IP",
        "sshd",
        "engine",
        "containers",
        "keepalived",
        "VIP",
    ]);
    for h in &status.hosts {
        let state = if h.partitioned {
            format!("{} (partitioned)", h.state)
        } else {
            h.state.clone()
        };
        table.add_row([
            h.name.clone(),
            if h.groups.is_empty() {
                "-".to_string()
            } else {
                h.groups.join(", ")
            },
            state,
            h.ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            yes_no(h.sshd).to_string(),
            h.engine.clone().unwrap_or_else(|| "no".into()),
            if h.services.is_empty() {
                "-".into()
            } else {
                h.services.join(", ")
            },
            if h.keepalived { "running" } else { "-" }.to_string(),
            if h.holds_vip { "holds VIP" } else { "" }.to_string(),
        ]);
    }
    let mut s = table.to_string();
    s.push('\n');
    match status.vip {
        None => s.push_str("no lab network (run `runner lab up`)\n"),
        Some(vip) => {
            let holders = status.vip_holders();
            let who = match holders.len() {
                0 => "nobody".to_string(),
                1 => holders[0].to_string(),
                _ => format!("{} (split brain)", holders.join(" and ")),
            };
            s.push_str(&format!("VIP {vip} held by: {who}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keepalived_and_the_vip() {
        let host = |name: &str, keepalived: bool, holds_vip: bool| HostStatus {
            name: name.into(),
            groups: vec!["balancers".into()],
            state: "running".into(),
            ip: Some(Ipv4Addr::new(10, 0, 0, 21)),
            partitioned: false,
            sshd: true,
            engine: Some("26.1".into()),
            services: vec!["haproxy".into()],
            keepalived,
            holds_vip,
        };
        let st = LabStatus {
            vip: Some(Ipv4Addr::new(10, 0, 0, 250)),
            hosts: vec![host("lb1", false, false), host("lb2", true, true)],
        };
        let text = render(&st);
        assert!(text.contains("keepalived"), "{text}");
        let lb1 = text.lines().find(|l| l.contains("lb1")).unwrap();
        assert!(
            lb1.contains(" - ") && !lb1.contains("running ┆ holds"),
            "{lb1}"
        );
        let lb2 = text.lines().find(|l| l.contains("lb2")).unwrap();
        assert!(
            lb2.contains("running") && lb2.contains("holds VIP"),
            "{lb2}"
        );
        assert!(text.contains("VIP 10.0.0.250 held by: lb2"), "{text}");
    }
}
