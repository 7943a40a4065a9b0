//! `runner probe URL [--duration 30s] [--rate N] ...`: runs the workload
//! against any cluster, without faults, and prints throughput, confirm
//! latency percentiles and the loss/duplicate counts (or JSON). The URL's
//! password is never printed.

use crate::config::{QueueKind, WorkloadConfig};
use crate::duration::parse_duration;
use crate::{Workload, mask_password};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `runner probe`.
#[derive(clap::Args, Clone)]
pub struct ProbeArgs {
    /// amqp://USER:PASS@HOST:PORT[/VHOST] (the vhost percent-encoded, %2f
    /// for "/"). Printed with the password masked. May come from
    /// RUNNER_PROBE_URL instead, which keeps it out of the process list.
    #[arg(env = "RUNNER_PROBE_URL", hide_env_values = true)]
    pub url: String,
    /// How long to publish, e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// New messages per second over all publishers; 0 = as fast as
    /// confirms allow.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Publisher connections.
    #[arg(long, default_value_t = 1)]
    pub publishers: u32,
    /// Consumer connections.
    #[arg(long, default_value_t = 1)]
    pub consumers: u32,
    /// Queue to declare and use (deleted at the end when drained and empty).
    #[arg(long, default_value = "runner-probe")]
    pub queue: String,
    /// Use a durable classic queue instead of a quorum queue (on 3.10 with
    /// an ha-all policy: a mirrored queue).
    #[arg(long)]
    pub classic: bool,
    /// Print the report as JSON on stdout instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the timeline (confirms per second) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// How long to wait, after publishing stops, for pending confirms and
    /// for the queue to drain.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

impl std::fmt::Debug for ProbeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeArgs")
            .field("url", &mask_password(&self.url))
            .field("duration", &self.duration)
            .field("rate", &self.rate)
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

impl ProbeArgs {
    /// The workload these arguments describe.
    pub fn workload_config(&self) -> WorkloadConfig {
        let mut cfg = WorkloadConfig::new(self.url.clone());
        cfg.queue = self.queue.clone();
        cfg.queue_kind = if self.classic {
            QueueKind::Classic
        } else {
            QueueKind::Quorum
        };
        cfg.publishers = self.publishers;
        cfg.consumers = self.consumers;
        cfg.rate_per_sec = self.rate;
        cfg.duration = self.duration;
        cfg
    }
}

/// Runs the probe; the exit code is 0 when something was confirmed, nothing
/// confirmed was lost and the queue drained, 1 otherwise.
pub async fn run(args: ProbeArgs) -> Result<i32> {
    let cfg = args.workload_config();
    let rate = if cfg.rate_per_sec == 0 {
        "unpaced".to_string()
    } else {
        format!("{} msg/s", cfg.rate_per_sec)
    };
    eprintln!(
        "runner probe: {} · {} queue {:?} · {} publisher(s), {} consumer(s) · {rate} for {:?}",
        mask_password(&cfg.url),
        cfg.queue_kind.as_str(),
        cfg.queue,
        cfg.publishers,
        cfg.consumers,
        cfg.duration
    );
    let handle = Workload::start(cfg.clone()).await?;
    tokio::select! {
        _ = tokio::time::sleep(cfg.duration) => {}
        _ = tokio::signal::ctrl_c() => eprintln!("runner probe: interrupted, draining"),
    }
    handle.stop_publishing();
    eprintln!(
        "runner probe: publishing stopped, draining (at most {:?})",
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
        eprintln!("runner probe: timeline written to {}", path.display());
    }
    let mut problems = Vec::new();
    if report.confirmed == 0 {
        problems.push("nothing was confirmed".to_string());
    }
    if report.lost > 0 {
        problems.push(format!("{} confirmed message(s) lost", report.lost));
    }
    if !report.drained {
        problems.push("the queue did not drain in time".to_string());
    }
    if problems.is_empty() {
        Ok(0)
    } else {
        eprintln!("runner probe: FAILED: {}", problems.join("; "));
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        probe: ProbeArgs,
    }

    #[test]
    fn parses_flags_and_masks_debug() {
        let cli = Cli::try_parse_from([
            "probe",
            "amqp://u:topsecret@127.0.0.1:5672/%2f",
            "--duration",
            "5s",
            "--rate",
            "50",
            "--classic",
            "--publishers",
            "2",
        ])
        .unwrap();
        let a = cli.probe;
        assert_eq!(a.duration, Duration::from_secs(5));
        assert_eq!(a.drain_timeout, Duration::from_secs(30));
        let cfg = a.workload_config();
        assert_eq!(cfg.queue_kind, QueueKind::Classic);
        assert_eq!(cfg.rate_per_sec, 50);
        assert_eq!(cfg.publishers, 2);
        assert_eq!(cfg.queue, "runner-probe");
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
        assert!(Cli::try_parse_from(["probe", "amqp://h", "--duration", "soon"]).is_err());
    }
}
