//! `runner lab`: real hosts on one machine, the way kind gives Kubernetes
//! nodes. Each lab host is a container with its own IP on a private Docker
//! network the lab creates, running sshd and its own nested Docker engine,
//! with keepalived installed. Which hosts there are and their groups is a
//! [`Topology`] (data; five hosts by default); what they run is a [`Stack`]
//! (data: service images built locally, no registry, loaded into each
//! host's engine, and the inventory variables naming them).
//!
//! The API (the `runner lab` command lives in the CLI crate): [`up`]/
//! [`down`], [`Lab`] (hosts, IPs, VIP, SSH options, key and known_hosts
//! paths), [`exec`], [`host_ip`], [`vip`], [`vip_holders`] and
//! [`vip::holders`], the [`faults`] module and [`status`].
//!
//! Network rule: lab hosts have no default route; they reach each other and
//! this machine over the lab network, nothing else, and nothing in this
//! crate sends traffic anywhere but loopback and the lab network.

pub mod docker;
pub mod faults;
pub mod hosts;
pub mod images;
pub mod inventory;
pub mod keys;
mod lab;
pub mod network;
pub mod progress;
pub mod stack;
pub mod state;
pub mod status;
pub mod topology;
pub mod vip;

use std::net::Ipv4Addr;

use anyhow::{Context, Result};

pub use lab::{DownReport, HostReport, Lab, LabHost, UpOptions, UpReport, down, up};
pub use stack::{ServiceImage, Stack};
pub use state::{inventory_path, state_dir};
pub use topology::{HostDef, Topology};

/// Runs `sh -c CMD` inside lab host `host`'s container (`docker exec`);
/// the output carries the exit code, stdout and stderr.
pub async fn exec(host: &str, cmd: &str) -> Result<docker::Output> {
    hosts::exec(host, cmd).await
}

/// The lab IP of `host`, as the engine reports it.
pub async fn host_ip(host: &str) -> Result<Ipv4Addr> {
    hosts::container_info(host)
        .await?
        .and_then(|i| i.ip)
        .with_context(|| format!("lab host {host} is not on the lab network (is the lab up?)"))
}

/// The balancers' virtual IP (.250 of the lab network).
pub async fn vip() -> Result<Ipv4Addr> {
    Ok(network::lab_subnet()
        .await?
        .context("no lab network (run `runner lab up`)")?
        .vip())
}

/// Who held the VIP, and every change, over `duration` (see
/// [`vip::watch`]).
pub async fn watch_vip(duration: std::time::Duration) -> Result<Vec<vip::Change>> {
    let vip = vip().await?;
    let hosts = hosts::existing_hosts().await?;
    Ok(vip::watch(&hosts, vip, duration, std::time::Duration::from_millis(200)).await)
}

/// The lab hosts whose interfaces currently carry the VIP (every host
/// container asked, through [`vip::holders`]).
pub async fn vip_holders() -> Result<Vec<String>> {
    let vip = vip().await?;
    Ok(vip::holders(&hosts::existing_hosts().await?, vip).await)
}
