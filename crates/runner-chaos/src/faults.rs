//! The faults, one function each, and the one heal that undoes any of
//! them: [`restore`] starts every stopped or killed lab host, lifts every
//! partition, starts the RabbitMQ and HAProxy containers where they do
//! not run, and starts keepalived (as a balancer's init would at boot) once
//! that balancer's HAProxy answers its health URL.
//!
//! Containers inside a lab host are driven with `docker exec` into the host
//! (its own engine); lab hosts themselves through `runner_lab::faults`.

use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::deployment::{KEEPALIVED_PID, KEEPALIVED_START};
use crate::health;

async fn sh(host: &str, cmd: &str) -> Result<String> {
    let out = runner_lab::exec(host, cmd).await?;
    if !out.ok() {
        bail!(
            "{host}: `{cmd}` failed ({}): {}",
            out.code,
            out.stderr.trim()
        );
    }
    Ok(out.stdout)
}

/// Whether a container of the host's engine runs.
pub async fn container_running(host: &str, name: &str) -> bool {
    runner_lab::exec(
        host,
        &format!("docker inspect -f '{{{{.State.Running}}}}' {name}"),
    )
    .await
    .is_ok_and(|o| o.ok() && o.stdout.trim() == "true")
}

/// `docker kill` a container on a lab host (it stays down until started).
pub async fn kill_container(host: &str, name: &str) -> Result<()> {
    sh(host, &format!("docker kill {name}")).await.map(drop)
}

/// Starts a container on a lab host unless it runs.
pub async fn start_container(host: &str, name: &str) -> Result<bool> {
    if container_running(host, name).await {
        return Ok(false);
    }
    sh(host, &format!("docker start {name}")).await?;
    Ok(true)
}

/// Restarts the RabbitMQ container cleanly (30 s to stop).
pub async fn restart_rabbit(c: &Cluster, host: &str) -> Result<()> {
    let name = &c.deployment.rabbit_container;
    sh(host, &format!("docker restart -t 30 {name}"))
        .await
        .map(drop)
}

/// Crashes a whole lab host (`docker kill` of its container).
pub async fn crash_host(host: &str) -> Result<()> {
    runner_lab::faults::kill(host).await
}

/// Stops keepalived the way its service would (SIGTERM: it hands the VIP
/// over with a priority-0 advert); [`keepalived_gone`] waits for its exit.
pub async fn stop_keepalived(host: &str) -> Result<()> {
    sh(host, &format!("kill -TERM $(cat {KEEPALIVED_PID})"))
        .await
        .map(drop)
}

/// Waits until keepalived has exited after [`stop_keepalived`].
pub async fn keepalived_gone(host: &str) -> Result<()> {
    let start = Instant::now();
    while health::keepalived_running(host).await {
        if start.elapsed() > Duration::from_secs(15) {
            bail!("{host}: keepalived still runs 15 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Starts keepalived unless it runs (a stale pid file from a crash is
/// removed first).
pub async fn start_keepalived(host: &str) -> Result<bool> {
    if health::keepalived_running(host).await {
        return Ok(false);
    }
    sh(host, &format!("rm -f {KEEPALIVED_PID}; {KEEPALIVED_START}")).await?;
    Ok(true)
}

/// Cuts a lab host off the network.
pub async fn partition(host: &str) -> Result<()> {
    runner_lab::faults::partition(host).await
}

/// Undoes any fault (see the module doc); returns what it did, one line
/// per action.
pub async fn restore(c: &Cluster) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for h in c.rabbits.iter().chain(&c.balancers) {
        let state = runner_lab::hosts::container_info(&h.name)
            .await?
            .map(|i| i.status);
        match state.as_deref() {
            Some("running") => {}
            Some("paused") => {
                runner_lab::faults::unpause(&h.name).await?;
                done.push(format!("unpaused {}", h.name));
            }
            Some(_) => {
                runner_lab::faults::start(&h.name).await?;
                done.push(format!("started host {}", h.name));
            }
            None => bail!("lab host {} does not exist (is the lab up?)", h.name),
        }
    }
    for h in runner_lab::faults::heal(None).await? {
        done.push(format!("healed the partition of {h}"));
    }
    let d = &c.deployment;
    for (hosts, name) in [
        (&c.rabbits, &d.rabbit_container),
        (&c.balancers, &d.haproxy_container),
    ] {
        for h in hosts {
            if start_container(&h.name, name).await? {
                done.push(format!("started {name} on {}", h.name));
            }
        }
    }
    for lb in &c.balancers {
        if health::keepalived_running(&lb.name).await {
            continue;
        }
        // Like a unit ordered after HAProxy: start keepalived once this
        // balancer's HAProxy reports a backend up, so it does not claim the
        // VIP with nothing behind it.
        let start = Instant::now();
        while !health::haproxy_healthy(c, lb).await && start.elapsed() < Duration::from_secs(90) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if start_keepalived(&lb.name).await? {
            done.push(format!("started keepalived on {}", lb.name));
        }
    }
    Ok(done)
}
