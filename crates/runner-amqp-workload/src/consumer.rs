//! One consumer: its own connection, prefetch-limited manual-ack consumption
//! of the workload queue, recording every delivery before acking it, and
//! reconnecting with backoff whenever the connection or consumer fails.

use crate::connect::{Session, within};
use crate::events::{EventKind, Role};
use crate::message::{self, Parsed};
use crate::publisher::{ClientCtx, patiently};
use crate::reconnect::{self, Client, SessionEnd};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;

pub(crate) struct Consumer {
    id: u32,
    ctx: ClientCtx,
    stop: watch::Receiver<bool>,
}

impl Consumer {
    pub(crate) fn new(id: u32, ctx: ClientCtx, stop: watch::Receiver<bool>) -> Self {
        Consumer { id, ctx, stop }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Consumes until told to stop.
    pub(crate) async fn run(mut self) {
        reconnect::run(&mut self).await;
    }

    async fn consume(&mut self, mut stream: lapin::Consumer) -> SessionEnd {
        loop {
            if self.stopped() {
                return SessionEnd::Done;
            }
            tokio::select! {
                changed = self.stop.changed() => {
                    if changed.is_err() || self.stopped() {
                        return SessionEnd::Done;
                    }
                }
                item = stream.next() => {
                    let delivery = match item {
                        Some(Ok(delivery)) => delivery,
                        Some(Err(e)) => return SessionEnd::Lost(format!("consumer: {e}")),
                        None => return SessionEnd::Lost("consumer cancelled".into()),
                    };
                    match message::parse(&self.ctx.run_id, &delivery.data) {
                        Parsed::Ours(id) => {
                            self.ctx.rec.record(EventKind::Consumed {
                                id,
                                redelivered: delivery.redelivered,
                            });
                        }
                        Parsed::Foreign => {
                            self.ctx.rec.record(EventKind::Foreign);
                        }
                    }
                    let ack = delivery.ack(BasicAckOptions::default());
                    match patiently(self.ctx.give_up_after(), ack).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return SessionEnd::Lost(format!("basic.ack: {e}")),
                        Err(_) => return SessionEnd::Lost("basic.ack not sent in time".into()),
                    }
                }
            }
        }
    }
}

impl Client for Consumer {
    type Opened = lapin::Consumer;

    fn role(&self) -> Role {
        Role::Consumer(self.id)
    }

    fn ctx(&self) -> &ClientCtx {
        &self.ctx
    }

    fn finished(&self) -> bool {
        self.stopped()
    }

    /// Prefetch, the queue, and the consumer (tagged with the attempt).
    async fn setup(&mut self, session: &Session, attempt: u32) -> anyhow::Result<lapin::Consumer> {
        let cfg = &self.ctx.cfg;
        within(
            cfg.connect_timeout,
            "basic.qos",
            session
                .channel
                .basic_qos(cfg.prefetch, BasicQosOptions::default()),
        )
        .await?;
        session.declare_queue(cfg).await?;
        let tag = format!("runner-workload-{}-c{}-{attempt}", self.ctx.run_id, self.id);
        let stream = within(
            cfg.connect_timeout,
            "basic.consume",
            session.channel.basic_consume(
                cfg.queue.as_str().into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        Ok(stream)
    }

    async fn live(&mut self, _session: &Session, stream: lapin::Consumer) -> SessionEnd {
        self.consume(stream).await
    }

    /// The backoff, cut short when told to stop.
    async fn pause(&mut self, delay: std::time::Duration) {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stop.changed() => {}
        }
    }
}
