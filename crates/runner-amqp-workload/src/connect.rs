//! Opening a connection and channel with a deadline, declaring the workload's
//! queue, and the small one-shot admin calls (ready count, delete).

use crate::config::{QueueKind, WorkloadConfig};
use anyhow::{Context, Result, anyhow};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use std::time::Duration;

/// One client's connection and its single channel.
pub(crate) struct Session {
    pub(crate) conn: Connection,
    pub(crate) channel: Channel,
}

impl Session {
    /// Connects (TCP, handshake) and opens the channel, each within
    /// `cfg.connect_timeout`; a connection whose channel fails is closed.
    pub(crate) async fn open(cfg: &WorkloadConfig, uri: &AMQPUri, name: &str) -> Result<Session> {
        let props = ConnectionProperties::default().with_connection_name(name.to_string().into());
        let tls = OwnedTLSConfig {
            identity: None,
            cert_chain: cfg.ca_pem.clone(),
        };
        let runtime = lapin::runtime::default_runtime().map_err(|e| anyhow!("runtime: {e}"))?;
        let conn = match tokio::time::timeout(
            cfg.connect_timeout,
            Connection::connect_uri_with_config(uri.clone(), props, tls, runtime),
        )
        .await
        {
            Ok(res) => res.map_err(|e| anyhow!("connect: {e}"))?,
            Err(_) => {
                return Err(anyhow!(
                    "connect: no answer within {:?}",
                    cfg.connect_timeout
                ));
            }
        };
        match within(cfg.connect_timeout, "channel.open", conn.create_channel()).await {
            Ok(channel) => Ok(Session { conn, channel }),
            Err(e) => {
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    conn.close(200, "runner-workload: no channel".into()),
                )
                .await;
                Err(e)
            }
        }
    }

    /// Declares the workload queue (durable; quorum or classic), within
    /// `cfg.connect_timeout`; returns its ready-message count.
    pub(crate) async fn declare_queue(&self, cfg: &WorkloadConfig) -> Result<u32> {
        let q = within(
            cfg.connect_timeout,
            "queue.declare",
            self.channel.queue_declare(
                cfg.queue.as_str().into(),
                QueueDeclareOptions::durable(),
                queue_arguments(cfg.queue_kind),
            ),
        )
        .await?;
        Ok(q.message_count())
    }

    /// Ready messages in the queue (passive declare; fails if it is gone).
    pub(crate) async fn ready_count(&self, cfg: &WorkloadConfig) -> Result<u32> {
        let q = within(
            cfg.connect_timeout,
            "queue.declare (passive)",
            self.channel.queue_declare(
                cfg.queue.as_str().into(),
                QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            ),
        )
        .await?;
        Ok(q.message_count())
    }

    /// Deletes the queue if it holds no ready message. Asked first, then
    /// deleted: quorum queues refuse `queue.delete` with `if-empty` (and
    /// close the connection), and nobody publishes any more at the end.
    pub(crate) async fn delete_queue_if_empty(&self, cfg: &WorkloadConfig) -> Result<()> {
        if self.ready_count(cfg).await? != 0 {
            return Ok(());
        }
        within(
            cfg.connect_timeout,
            "queue.delete",
            self.channel
                .queue_delete(cfg.queue.as_str().into(), QueueDeleteOptions::default()),
        )
        .await
        .map(|_| ())
    }

    /// Closes politely, but gives up after a second (the peer may be gone);
    /// dropping the connection then tears it down.
    pub(crate) async fn close(self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.conn.close(200, "runner-workload done".into()),
        )
        .await;
    }
}

/// `x-queue-type: quorum` for quorum queues, nothing for classic ones.
pub(crate) fn queue_arguments(kind: QueueKind) -> FieldTable {
    let mut args = FieldTable::default();
    if kind == QueueKind::Quorum {
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
    }
    args
}

/// Awaits an AMQP call with a deadline.
pub(crate) async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = lapin::Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {limit:?}"))?
        .with_context(|| what.to_string())
}
