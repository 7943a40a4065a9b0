//! One publisher: its own connection and confirm-mode channel, paced
//! publishing of numbered persistent messages, confirm tracking, and on any
//! failure (error; an impatient client also gives up on a confirm missing
//! for the confirm timeout) a reconnect with backoff and a republish of
//! everything unconfirmed.

use crate::config::WorkloadConfig;
use crate::connect::{Session, within};
use crate::events::{EventKind, MsgId, Recorder, Role};
use crate::message;
use crate::mode::ClientMode;
use crate::reconnect::{self, Client, SessionEnd};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::uri::AMQPUri;
use lapin::{Confirmation, PublisherConfirm};
use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

/// Shared inputs of every client task.
#[derive(Clone)]
pub(crate) struct ClientCtx {
    pub(crate) cfg: Arc<WorkloadConfig>,
    pub(crate) uri: AMQPUri,
    pub(crate) run_id: Arc<str>,
    pub(crate) rec: Arc<Recorder>,
    /// How this client treats a slow or silent broker (its `uri` carries
    /// the mode's heartbeat).
    pub(crate) mode: ClientMode,
}

impl ClientCtx {
    /// How long this client waits on the broker before giving its
    /// connection up; `None`: as long as it takes.
    pub(crate) fn give_up_after(&self) -> Option<Duration> {
        self.mode.give_up_after(self.cfg.confirm_timeout)
    }
}

/// `fut`, cut off after `limit` when there is one.
pub(crate) async fn patiently<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = T>,
) -> Result<T, tokio::time::error::Elapsed> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await,
        None => Ok(fut.await),
    }
}

/// Stop signals for publishers: `stop` ends new publishing; once
/// `deadline` is set and passed, unconfirmed messages are given up.
pub(crate) struct PublisherControl {
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) deadline: watch::Receiver<Option<Instant>>,
}

pub(crate) struct Publisher {
    id: u32,
    ctx: ClientCtx,
    control: PublisherControl,
    next_seq: u64,
    /// Unconfirmed sequence numbers and how often each was published.
    pending: BTreeMap<u64, u32>,
    /// Nacked or returned messages waiting for their next publish slot.
    retry: VecDeque<u64>,
}

type ConfirmResult = (u64, Instant, Result<lapin::Result<Confirmation>, ()>);

async fn await_confirm(
    seq: u64,
    sent_at: Instant,
    confirm: PublisherConfirm,
    limit: Option<Duration>,
) -> ConfirmResult {
    let res = patiently(limit, confirm).await.map_err(|_| ());
    (seq, sent_at, res)
}

impl Publisher {
    pub(crate) fn new(id: u32, ctx: ClientCtx, control: PublisherControl) -> Self {
        Publisher {
            id,
            ctx,
            control,
            next_seq: 0,
            pending: BTreeMap::new(),
            retry: VecDeque::new(),
        }
    }

    fn stopping(&self) -> bool {
        *self.control.stop.borrow()
    }

    fn deadline_passed(&self) -> bool {
        matches!(*self.control.deadline.borrow(), Some(d) if Instant::now() >= d)
    }

    fn finished_publishing(&self) -> bool {
        self.stopping() && (self.pending.is_empty() || self.deadline_passed())
    }

    /// Runs until stopped and settled; returns how many messages stayed
    /// unconfirmed.
    pub(crate) async fn run(mut self) -> usize {
        reconnect::run(&mut self).await;
        self.pending.len()
    }

    /// One connection's life: republish what is unconfirmed, then publish
    /// new messages at the configured pace while collecting confirms.
    async fn publish_all(&mut self, session: &Session) -> SessionEnd {
        let cfg = self.ctx.cfg.clone();
        let mut inflight: Inflight = FuturesUnordered::new();
        let resend: Vec<u64> = self.pending.keys().copied().collect();
        self.retry.clear();
        for seq in resend {
            if let Err(e) = self.publish(session, seq, &mut inflight).await {
                return SessionEnd::Lost(e);
            }
        }
        let mut ticker = cfg.publish_period().map(|period| {
            let mut t = tokio::time::interval(period);
            t.set_missed_tick_behavior(MissedTickBehavior::Skip);
            t
        });
        let mut check = tokio::time::interval(Duration::from_millis(100));
        loop {
            if self.finished_publishing() {
                return SessionEnd::Done;
            }
            let has_work = !self.retry.is_empty() || !self.stopping();
            let can_publish = has_work && inflight.len() < cfg.max_in_flight;
            tokio::select! {
                biased;
                Some((seq, sent_at, res)) = inflight.next(), if !inflight.is_empty() => {
                    if let Err(e) = self.on_confirm(seq, sent_at, res) {
                        return SessionEnd::Lost(e);
                    }
                }
                _ = next_slot(&mut ticker), if can_publish => {
                    let seq = match self.retry.pop_front() {
                        Some(seq) => seq,
                        None => {
                            let seq = self.next_seq;
                            self.next_seq += 1;
                            self.pending.insert(seq, 0);
                            seq
                        }
                    };
                    if let Err(e) = self.publish(session, seq, &mut inflight).await {
                        return SessionEnd::Lost(e);
                    }
                }
                _ = check.tick() => {}
            }
        }
    }

    fn on_confirm(
        &mut self,
        seq: u64,
        sent_at: Instant,
        res: Result<lapin::Result<Confirmation>, ()>,
    ) -> Result<(), String> {
        let id = MsgId {
            publisher: self.id,
            seq,
        };
        match res {
            Ok(Ok(Confirmation::Ack(None))) => {
                // A stale confirm of an earlier attempt cannot arrive here:
                // each session has its own channel and confirm futures.
                if self.pending.remove(&seq).is_some() {
                    self.ctx.rec.record(EventKind::Confirmed {
                        id,
                        latency: sent_at.elapsed(),
                    });
                }
                Ok(())
            }
            Ok(Ok(Confirmation::Ack(Some(_)))) => {
                self.ctx
                    .rec
                    .record(EventKind::Nacked { id, returned: true });
                self.retry.push_back(seq);
                Ok(())
            }
            Ok(Ok(Confirmation::Nack(_))) => {
                self.ctx.rec.record(EventKind::Nacked {
                    id,
                    returned: false,
                });
                self.retry.push_back(seq);
                Ok(())
            }
            Ok(Ok(Confirmation::NotRequested)) => {
                Err("publisher confirms are not enabled on the channel".into())
            }
            Ok(Err(e)) => Err(format!("waiting for a confirm: {e}")),
            Err(()) => Err(format!(
                "no confirm within {:?}",
                self.ctx.cfg.confirm_timeout
            )),
        }
    }

    /// Publishes one attempt of `seq` (recorded first) and queues its
    /// confirm.
    async fn publish(
        &mut self,
        session: &Session,
        seq: u64,
        inflight: &mut Inflight,
    ) -> Result<(), String> {
        let cfg = &self.ctx.cfg;
        let id = MsgId {
            publisher: self.id,
            seq,
        };
        let attempt = {
            let n = self.pending.entry(seq).or_insert(0);
            *n += 1;
            *n
        };
        self.ctx.rec.record(EventKind::Published { id, attempt });
        let body = message::body(&self.ctx.run_id, id, cfg.message_size);
        let sent_at = Instant::now();
        let publish = session.channel.basic_publish(
            "".into(),
            cfg.queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &body,
            message::properties(&self.ctx.run_id, id),
        );
        let limit = self.ctx.give_up_after();
        let confirm = match patiently(limit, publish).await {
            Ok(Ok(confirm)) => confirm,
            Ok(Err(e)) => return Err(format!("basic.publish: {e}")),
            Err(_) => {
                return Err(format!(
                    "basic.publish not sent within {:?}",
                    cfg.confirm_timeout
                ));
            }
        };
        inflight.push(Box::pin(await_confirm(seq, sent_at, confirm, limit)));
        Ok(())
    }
}

type Inflight = FuturesUnordered<Pin<Box<dyn Future<Output = ConfirmResult> + Send>>>;

/// The next publish slot: the pacing interval's tick, or at once when
/// unpaced.
async fn next_slot(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => tokio::task::yield_now().await,
    }
}

impl Client for Publisher {
    type Opened = ();

    fn role(&self) -> Role {
        Role::Publisher(self.id)
    }

    fn ctx(&self) -> &ClientCtx {
        &self.ctx
    }

    /// Stopped, and nothing left to confirm (or the deadline passed).
    fn finished(&self) -> bool {
        self.finished_publishing()
    }

    /// Confirm mode and the queue.
    async fn setup(&mut self, session: &Session, _attempt: u32) -> anyhow::Result<()> {
        let cfg = &self.ctx.cfg;
        within(
            cfg.connect_timeout,
            "confirm.select",
            session
                .channel
                .confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        session.declare_queue(cfg).await?;
        Ok(())
    }

    async fn live(&mut self, session: &Session, _: ()) -> SessionEnd {
        self.publish_all(session).await
    }
}
