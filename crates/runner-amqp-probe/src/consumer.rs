//! One consumer: its own connection, prefetch-limited manual-ack consumption
//! of the probe queue, recording every delivery before acking it, and
//! reconnecting with backoff whenever the connection or consumer fails.

use crate::backoff::Backoff;
use crate::connect::{Session, within};
use crate::events::{EventKind, Role};
use crate::message::{self, Parsed};
use crate::publisher::ClientCtx;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;

pub(crate) struct Consumer {
    id: u32,
    ctx: ClientCtx,
    stop: watch::Receiver<bool>,
}

enum SessionEnd {
    Stopped,
    Lost(String),
}

impl Consumer {
    pub(crate) fn new(id: u32, ctx: ClientCtx, stop: watch::Receiver<bool>) -> Self {
        Consumer { id, ctx, stop }
    }

    fn role(&self) -> Role {
        Role::Consumer(self.id)
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Consumes until told to stop.
    pub(crate) async fn run(mut self) {
        let cfg = self.ctx.cfg.clone();
        let mut backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
        let mut connections = 0u32;
        let name = format!("runner-probe consumer {}", self.id);
        while !self.stopped() {
            match self.open(&name, connections + 1).await {
                Ok((session, stream)) => {
                    connections += 1;
                    self.ctx.rec.record(EventKind::Connected {
                        role: self.role(),
                        attempt: connections,
                    });
                    backoff.reset();
                    match self.session(stream).await {
                        SessionEnd::Stopped => {
                            session.close().await;
                            return;
                        }
                        SessionEnd::Lost(error) => {
                            self.ctx.rec.record(EventKind::ConnectionLost {
                                role: self.role(),
                                error,
                            });
                            tokio::spawn(session.close());
                        }
                    }
                }
                Err(e) => {
                    self.ctx.rec.record(EventKind::ConnectFailed {
                        role: self.role(),
                        error: format!("{e:#}"),
                    });
                }
            }
            let delay = backoff.next_delay();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop.changed() => {}
            }
        }
    }

    async fn open(&self, name: &str, attempt: u32) -> anyhow::Result<(Session, lapin::Consumer)> {
        let cfg = &self.ctx.cfg;
        let session = Session::open(cfg, &self.ctx.uri, name).await?;
        within(
            cfg.connect_timeout,
            "basic.qos",
            session
                .channel
                .basic_qos(cfg.prefetch, BasicQosOptions::default()),
        )
        .await?;
        session.declare_queue(cfg).await?;
        let tag = format!("runner-probe-{}-c{}-{attempt}", self.ctx.run_id, self.id);
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
        Ok((session, stream))
    }

    async fn session(&mut self, mut stream: lapin::Consumer) -> SessionEnd {
        let cfg = self.ctx.cfg.clone();
        loop {
            if self.stopped() {
                return SessionEnd::Stopped;
            }
            tokio::select! {
                changed = self.stop.changed() => {
                    if changed.is_err() || self.stopped() {
                        return SessionEnd::Stopped;
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
                    match tokio::time::timeout(cfg.confirm_timeout, ack).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return SessionEnd::Lost(format!("basic.ack: {e}")),
                        Err(_) => return SessionEnd::Lost("basic.ack not sent in time".into()),
                    }
                }
            }
        }
    }
}
