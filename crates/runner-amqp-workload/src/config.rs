//! Workload configuration: where to connect, which queue, how many clients,
//! how fast, and the timeouts that decide when a connection counts as dead.

use crate::mode::{ClientMode, ModeAssignment};
use serde::Serialize;
use std::time::Duration;

/// The kind of queue the workload declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// `x-queue-type: quorum` (replicated with Raft; RabbitMQ ≥ 3.8).
    Quorum,
    /// A plain durable classic queue; on the 3.10 lab an `ha-all` policy
    /// mirrors it.
    Classic,
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Quorum => "quorum",
            QueueKind::Classic => "classic",
        }
    }
}

/// Everything a [`crate::Workload`] needs. Build with [`WorkloadConfig::new`]
/// and override fields.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// `amqp://USER:PASS@HOST:PORT[/VHOST]`: all clients use this one address
    /// (the cluster's virtual IP). Never printed unmasked.
    pub url: String,
    /// Queue name (default `runner-workload`), declared durable by the workload.
    pub queue: String,
    pub queue_kind: QueueKind,
    /// The client modes to run, side by side on the same queue (default
    /// `[Impatient]`); each mode gets `publishers` and `consumers` of its
    /// own, tallied apart (see [`ModeAssignment`]).
    pub client_modes: Vec<ClientMode>,
    /// Publisher tasks per client mode, each with its own connection
    /// (default 1).
    pub publishers: u32,
    /// Consumer tasks per client mode, each with its own connection
    /// (default 1).
    pub consumers: u32,
    /// New messages per second over the publishers of each client mode
    /// (default 200); 0 means as fast as confirms allow (bounded by
    /// `max_in_flight`).
    pub rate_per_sec: u32,
    /// How long publishing runs when driven by [`crate::command`]; the library's
    /// [`crate::WorkloadHandle`] publishes until `stop_publishing` and
    /// ignores it.
    pub duration: Duration,
    /// A publish without a confirm for this long marks its connection dead:
    /// the publisher reconnects and republishes (default 10 s). Impatient
    /// clients only: stock clients wait as long as it takes.
    pub confirm_timeout: Duration,
    /// Unconfirmed messages allowed per publisher (default 1000).
    pub max_in_flight: usize,
    /// Consumer prefetch (basic.qos) per consumer (default 100).
    pub prefetch: u16,
    /// Payload size in bytes, at least the id header (default 64).
    pub message_size: usize,
    /// AMQP heartbeat asked for, in seconds, unless the URL says
    /// `?heartbeat=`; a silent peer is dropped after twice this (default 5).
    /// Impatient clients only: stock clients take the server's.
    pub heartbeat_s: u16,
    /// TCP connect + AMQP handshake + setup timeout (default 5 s).
    pub connect_timeout: Duration,
    /// First reconnect delay (default 100 ms), doubled up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Reconnect delay cap (default 1 s).
    pub backoff_max: Duration,
    /// Delete the queue after a complete drain if it is empty (default true).
    pub delete_queue_at_end: bool,
    /// For an `amqps://` URL: the CA certificates (PEM) trusted for the
    /// server's certificate, and the only ones (default none: nothing is
    /// trusted, and every TLS handshake fails).
    pub ca_pem: Option<String>,
}

impl WorkloadConfig {
    /// Defaults for `url`: a quorum queue `runner-workload`, one publisher, one
    /// consumer, 200 msg/s.
    pub fn new(url: impl Into<String>) -> Self {
        WorkloadConfig {
            url: url.into(),
            queue: "runner-workload".into(),
            queue_kind: QueueKind::Quorum,
            client_modes: vec![ClientMode::Impatient],
            publishers: 1,
            consumers: 1,
            rate_per_sec: 200,
            duration: Duration::from_secs(30),
            confirm_timeout: Duration::from_secs(10),
            max_in_flight: 1000,
            prefetch: 100,
            message_size: 64,
            heartbeat_s: 5,
            connect_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            delete_queue_at_end: true,
            ca_pem: None,
        }
    }

    /// Which clients run in which mode.
    pub fn assignment(&self) -> ModeAssignment {
        ModeAssignment {
            modes: self.client_modes.clone(),
            publishers: self.publishers,
            consumers: self.consumers,
        }
    }

    /// The time between two messages of one publisher; `None` when unpaced.
    pub(crate) fn publish_period(&self) -> Option<Duration> {
        if self.rate_per_sec == 0 {
            return None;
        }
        let per_publisher = self.rate_per_sec as f64 / self.publishers.max(1) as f64;
        Some(Duration::from_secs_f64(1.0 / per_publisher))
    }

    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.publishers >= 1, "at least one publisher is needed");
        anyhow::ensure!(self.consumers >= 1, "at least one consumer is needed");
        anyhow::ensure!(
            !self.client_modes.is_empty(),
            "at least one client mode is needed"
        );
        let mut modes = self.client_modes.clone();
        modes.sort();
        modes.dedup();
        anyhow::ensure!(
            modes.len() == self.client_modes.len(),
            "a client mode is named twice"
        );
        anyhow::ensure!(!self.queue.is_empty(), "the queue name is empty");
        anyhow::ensure!(
            self.queue.len() <= 255,
            "the queue name is longer than 255 bytes"
        );
        anyhow::ensure!(self.max_in_flight >= 1, "max_in_flight must be at least 1");
        anyhow::ensure!(self.prefetch >= 1, "prefetch must be at least 1");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_splits_rate_over_publishers() {
        let mut cfg = WorkloadConfig::new("amqp://h");
        cfg.rate_per_sec = 200;
        cfg.publishers = 2;
        assert_eq!(cfg.publish_period(), Some(Duration::from_millis(10)));
        cfg.rate_per_sec = 0;
        assert_eq!(cfg.publish_period(), None);
        assert!(cfg.validate().is_ok());
        cfg.client_modes = vec![ClientMode::Stock, ClientMode::Stock];
        assert!(cfg.validate().is_err());
        cfg.client_modes = vec![ClientMode::Stock, ClientMode::Impatient];
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.assignment().total(), (4, 2));
        cfg.consumers = 0;
        assert!(cfg.validate().is_err());
    }
}
