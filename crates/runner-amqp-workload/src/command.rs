//! What `runner workload` does, given its [`WorkloadOptions`]: runs the workload
//! against any cluster, without faults, and prints throughput, confirm
//! latency percentiles and the loss/duplicate counts (or JSON) on stdout;
//! its progress goes to the log (`tracing`). The URL's password is never
//! printed. The flags are the CLI's.

use crate::config::{QueueKind, WorkloadConfig};
use crate::mode::ClientMode;
use crate::{Workload, mask_password};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use tracing::{error, info, warn};

/// What `runner workload` runs (its flags say the defaults).
#[derive(Clone)]
pub struct WorkloadOptions {
    /// `amqp://USER:PASS@HOST:PORT[/VHOST]`; never printed unmasked.
    pub url: String,
    /// How long to publish.
    pub duration: Duration,
    /// New messages per second over all publishers; 0 = unpaced.
    pub rate: u32,
    /// The client modes to run side by side, each with its own publishers
    /// and consumers (empty: impatient only).
    pub client_modes: Vec<ClientMode>,
    /// Publisher connections per client mode.
    pub publishers: u32,
    /// Consumer connections per client mode.
    pub consumers: u32,
    /// Queue to declare and use (deleted at the end when drained and empty).
    pub queue: String,
    /// A durable classic queue instead of a quorum queue.
    pub classic: bool,
    /// The report as JSON on stdout instead of tables.
    pub json: bool,
    /// Also write the timeline as SVG to this file.
    pub svg: Option<PathBuf>,
    /// How long to wait, after publishing stops, for pending confirms and
    /// for the queue to drain.
    pub drain_timeout: Duration,
    /// For `amqps://`: the CA certificates (PEM) the server's certificate
    /// must chain to.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for WorkloadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadOptions")
            .field("url", &mask_password(&self.url))
            .field("duration", &self.duration)
            .field("rate", &self.rate)
            .field("client_modes", &self.client_modes)
            .field("publishers", &self.publishers)
            .field("consumers", &self.consumers)
            .field("queue", &self.queue)
            .field("classic", &self.classic)
            .field("json", &self.json)
            .field("svg", &self.svg)
            .field("drain_timeout", &self.drain_timeout)
            .finish()
    }
}

impl WorkloadOptions {
    /// The workload these arguments describe.
    pub fn workload_config(&self) -> WorkloadConfig {
        let mut cfg = WorkloadConfig::new(self.url.clone());
        cfg.queue = self.queue.clone();
        cfg.queue_kind = if self.classic {
            QueueKind::Classic
        } else {
            QueueKind::Quorum
        };
        if !self.client_modes.is_empty() {
            cfg.client_modes = self.client_modes.clone();
        }
        cfg.publishers = self.publishers;
        cfg.consumers = self.consumers;
        cfg.rate_per_sec = self.rate;
        cfg.duration = self.duration;
        cfg.ca_pem = self.ca_pem.clone();
        cfg
    }
}

/// Runs the workload; the exit code is 0 when something was confirmed, nothing
/// confirmed was lost and the queue drained, 1 otherwise.
pub async fn run(args: WorkloadOptions) -> Result<i32> {
    let cfg = args.workload_config();
    if cfg.url.starts_with("amqps://") && cfg.ca_pem.is_none() {
        anyhow::bail!(
            "an amqps:// URL needs --ca FILE: the CA certificate (PEM) that signed the server's \
             (the lab's: .runner/lab/rabbit-ha.tls.ca.pem)"
        );
    }
    let rate = if cfg.rate_per_sec == 0 {
        "unpaced".to_string()
    } else {
        format!("{} msg/s", cfg.rate_per_sec)
    };
    let modes: Vec<&str> = cfg.client_modes.iter().map(|m| m.as_str()).collect();
    info!(
        "{} · {} queue {:?} · {} client(s): {} publisher(s), {} consumer(s) each · {rate} each, for {:?}",
        mask_password(&cfg.url),
        cfg.queue_kind.as_str(),
        cfg.queue,
        modes.join(" and "),
        cfg.publishers,
        cfg.consumers,
        cfg.duration
    );
    let handle = Workload::start(cfg.clone()).await?;
    tokio::select! {
        _ = tokio::time::sleep(cfg.duration) => {}
        _ = tokio::signal::ctrl_c() => warn!("interrupted, draining"),
    }
    handle.stop_publishing();
    info!(
        "publishing stopped, draining (at most {:?})",
        args.drain_timeout
    );
    let report = handle.drain(args.drain_timeout).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_table());
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, report.timeline_svg())
            .with_context(|| format!("writing {}", path.display()))?;
        info!("timeline written to {}", path.display());
    }
    let mut problems = Vec::new();
    if report.confirmed == 0 {
        problems.push("nothing was confirmed".to_string());
    }
    if report.lost > 0 {
        problems.push(format!("{} confirmed message(s) lost", report.lost));
    }
    for m in report.client_modes.iter().filter(|m| m.lost > 0) {
        problems.push(format!(
            "{} of them from {} clients",
            m.lost,
            m.mode.as_str()
        ));
    }
    if !report.drained {
        problems.push("the queue did not drain in time".to_string());
    }
    if problems.is_empty() {
        Ok(0)
    } else {
        error!("FAILED: {}", problems.join("; "));
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_and_masked_debug() {
        let a = WorkloadOptions {
            url: "amqp://u:topsecret@127.0.0.1:5672/%2f".into(),
            duration: Duration::from_secs(5),
            rate: 50,
            client_modes: vec![ClientMode::Stock],
            publishers: 2,
            consumers: 1,
            queue: "runner-workload".into(),
            classic: true,
            json: false,
            svg: None,
            drain_timeout: Duration::from_secs(30),
            ca_pem: None,
        };
        let cfg = a.workload_config();
        assert_eq!(cfg.queue_kind, QueueKind::Classic);
        assert_eq!(cfg.rate_per_sec, 50);
        assert_eq!(cfg.publishers, 2);
        assert_eq!(cfg.client_modes, [ClientMode::Stock]);
        assert_eq!(cfg.duration, Duration::from_secs(5));
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
    }
}
