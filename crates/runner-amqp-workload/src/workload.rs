//! Starting the workload (a preflight connection, then the consumer and
//! publisher tasks of each client mode), the handle the chaos driver holds (markers, stop), and
//! the drain that consumes what is left and hands the log to the checker.

use crate::amqp_url;
use crate::checker::{self, RunInfo};
use crate::config::WorkloadConfig;
use crate::connect::Session;
use crate::consumer::Consumer;
use crate::events::{Event, EventKind, Recorder};
use crate::publisher::{ClientCtx, Publisher, PublisherControl};
use crate::report::Report;
use anyhow::{Context, Result};
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Entry point: see [`Workload::start`].
pub struct Workload;

/// A running workload. Dropping it without [`WorkloadHandle::drain`] aborts
/// the client tasks.
pub struct WorkloadHandle {
    /// The first client mode's context (the recorder, config and run id
    /// are shared by all; the drain's own session uses its address).
    ctx: ClientCtx,
    /// One context per client mode, in `cfg.client_modes` order.
    ctxs: Vec<ClientCtx>,
    stop_publishing: watch::Sender<bool>,
    publish_deadline: watch::Sender<Option<Instant>>,
    stop_consumers: watch::Sender<bool>,
    stopped: AtomicBool,
    publishers: Vec<JoinHandle<usize>>,
    consumers: Vec<JoinHandle<()>>,
}

impl Workload {
    /// Checks the broker answers and the queue can be declared (so a wrong
    /// URL, password or queue type fails here, not silently later), then
    /// starts `cfg.consumers` consumers and `cfg.publishers` publishers per
    /// client mode. Must be called inside a Tokio runtime.
    pub async fn start(cfg: WorkloadConfig) -> Result<WorkloadHandle> {
        cfg.validate()?;
        let masked = amqp_url::mask_password(&cfg.url);
        let uris = cfg
            .client_modes
            .iter()
            .map(|m| amqp_url::parse(&cfg.url, m.heartbeat(cfg.heartbeat_s), cfg.connect_timeout))
            .collect::<Result<Vec<_>>>()?;
        let preflight = Session::open(&cfg, &uris[0], "runner-workload preflight")
            .await
            .with_context(|| format!("cannot connect to {masked}"))?;
        let declared = preflight.declare_queue(&cfg).await.with_context(|| {
            format!(
                "cannot declare the durable {} queue {:?} on {masked} (an existing queue of \
                 another type or arguments is refused: delete it or pick another name)",
                cfg.queue_kind.as_str(),
                cfg.queue
            )
        });
        preflight.close().await;
        declared?;

        let run_id: Arc<str> = format!("{:08x}", rand::rng().random::<u32>()).into();
        let (cfg, rec) = (Arc::new(cfg), Arc::new(Recorder::new()));
        let ctxs: Vec<ClientCtx> = cfg
            .client_modes
            .iter()
            .zip(uris)
            .map(|(mode, uri)| ClientCtx {
                cfg: cfg.clone(),
                uri,
                run_id: run_id.clone(),
                rec: rec.clone(),
                mode: *mode,
            })
            .collect();
        let (stop_publishing, stop_rx) = watch::channel(false);
        let (publish_deadline, deadline_rx) = watch::channel(None);
        let (stop_consumers, consumers_rx) = watch::channel(false);
        let consumers = spawn_consumers(&ctxs, &consumers_rx);
        let publishers = numbered(&ctxs, cfg.publishers)
            .map(|(i, ctx)| {
                let control = PublisherControl {
                    stop: stop_rx.clone(),
                    deadline: deadline_rx.clone(),
                };
                tokio::spawn(Publisher::new(i, ctx.clone(), control).run())
            })
            .collect();
        Ok(WorkloadHandle {
            ctx: ctxs[0].clone(),
            ctxs,
            stop_publishing,
            publish_deadline,
            stop_consumers,
            stopped: AtomicBool::new(false),
            publishers,
            consumers,
        })
    }
}

impl WorkloadHandle {
    /// Records a fault marker now (call it when a fault is injected and
    /// when the cluster is whole again); returns its time since start.
    pub fn mark(&self, label: impl Into<String>) -> Duration {
        self.ctx.rec.record(EventKind::Marker {
            label: label.into(),
        })
    }

    /// Stops new publishing (unconfirmed messages are still retried until
    /// the drain's deadline). Idempotent.
    pub fn stop_publishing(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            self.ctx.rec.record(EventKind::PublishingStopped);
            let _ = self.stop_publishing.send(true);
        }
    }

    /// Time since the workload started.
    pub fn elapsed(&self) -> Duration {
        self.ctx.rec.now()
    }

    /// This run's id (it is in every message body).
    pub fn run_id(&self) -> &str {
        &self.ctx.run_id
    }

    /// The event log so far.
    pub fn events(&self) -> Vec<Event> {
        self.ctx.rec.snapshot()
    }

    /// The report of the log so far (counts are provisional: nothing is
    /// drained).
    pub fn report_so_far(&self) -> Report {
        self.report(false, None)
    }

    /// Stops publishing if not yet stopped, lets publishers get their
    /// pending confirms, consumes until every confirmed message was seen and
    /// the queue is empty (or `timeout` passes), stops the consumers,
    /// deletes the queue if configured and empty, and checks the log.
    ///
    /// When the timeout passes with confirmed messages unseen, the
    /// consumers are restarted once (for up to 30 s more): messages a stuck
    /// consumer held go back to the queue when its channel closes, and
    /// count as `late`, not lost.
    pub async fn drain(mut self, timeout: Duration) -> Report {
        self.stop_publishing();
        let deadline = Instant::now() + timeout;
        let _ = self.publish_deadline.send(Some(deadline));
        for p in std::mem::take(&mut self.publishers) {
            let abort = p.abort_handle();
            if tokio::time::timeout_at(deadline + Duration::from_secs(3), p)
                .await
                .is_err()
            {
                abort.abort();
            }
        }

        let mut admin: Option<Session> = None;
        let mut drained = self.wait_drained(deadline, &mut admin).await;
        if !drained && self.ctx.rec.confirmed_unconsumed() > 0 {
            self.ctx.rec.record(EventKind::ConsumersRestarted);
            self.stop_consumers().await;
            let (stop, stop_rx) = watch::channel(false);
            self.stop_consumers = stop;
            self.consumers = spawn_consumers(&self.ctxs, &stop_rx);
            let grace = Instant::now() + Duration::from_secs(30);
            drained = self.wait_drained(grace, &mut admin).await;
        }
        let cfg = self.ctx.cfg.clone();
        let mut left_in_queue = None;
        if !drained && let Some(a) = self.admin(&mut admin).await {
            left_in_queue = a.ready_count(&cfg).await.ok();
        }
        self.stop_consumers().await;
        if let Some(a) = admin {
            if drained && cfg.delete_queue_at_end {
                let _ = a.delete_queue_if_empty(&cfg).await;
            }
            a.close().await;
        }
        self.report(drained, left_in_queue)
    }

    /// Waits until every confirmed message was consumed, no delivery came
    /// for a second and the queue is empty; false when `deadline` passes.
    async fn wait_drained(&self, deadline: Instant, admin: &mut Option<Session>) -> bool {
        let cfg = self.ctx.cfg.clone();
        let quiet = Duration::from_secs(1);
        while Instant::now() < deadline {
            let settled = self.ctx.rec.confirmed_unconsumed() == 0
                && self
                    .ctx
                    .rec
                    .last_delivery()
                    .is_none_or(|t| t.elapsed() >= quiet);
            if settled && let Some(a) = self.admin(admin).await {
                match a.ready_count(&cfg).await {
                    Ok(0) => return true,
                    Ok(_) => {}
                    Err(_) => {
                        if let Some(a) = admin.take() {
                            tokio::spawn(a.close());
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    }

    /// The drain's own session (to count the queue), opened on first use.
    async fn admin<'a>(&self, admin: &'a mut Option<Session>) -> Option<&'a Session> {
        if admin.is_none() {
            *admin = Session::open(&self.ctx.cfg, &self.ctx.uri, "runner-workload drain")
                .await
                .ok();
        }
        admin.as_ref()
    }

    /// Stops the consumer tasks (aborting one that does not stop in 5 s).
    async fn stop_consumers(&mut self) {
        let _ = self.stop_consumers.send(true);
        for c in std::mem::take(&mut self.consumers) {
            let abort = c.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), c)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn report(&self, drained: bool, left_in_queue: Option<u32>) -> Report {
        let events = self.ctx.rec.snapshot();
        let cfg = &self.ctx.cfg;
        let (publishers, consumers) = cfg.assignment().total();
        checker::check(
            &events,
            &RunInfo {
                run_id: self.ctx.run_id.to_string(),
                queue: cfg.queue.clone(),
                queue_kind: cfg.queue_kind,
                publishers,
                consumers,
                assignment: cfg.assignment(),
                rate_per_sec: cfg.rate_per_sec,
                end: self.ctx.rec.now(),
                drained,
                left_in_queue,
            },
        )
    }
}

impl Drop for WorkloadHandle {
    fn drop(&mut self) {
        for p in &self.publishers {
            p.abort();
        }
        for c in &self.consumers {
            c.abort();
        }
    }
}

fn spawn_consumers(ctxs: &[ClientCtx], stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let per_mode = ctxs.first().map_or(0, |c| c.cfg.consumers);
    numbered(ctxs, per_mode)
        .map(|(i, ctx)| tokio::spawn(Consumer::new(i, ctx.clone(), stop.clone()).run()))
        .collect()
}

/// `per_mode` clients for each mode's context, numbered on from the
/// previous mode's (the numbering of [`crate::mode::ModeAssignment`]).
fn numbered(ctxs: &[ClientCtx], per_mode: u32) -> impl Iterator<Item = (u32, &ClientCtx)> {
    ctxs.iter()
        .enumerate()
        .flat_map(move |(m, ctx)| (0..per_mode).map(move |i| (m as u32 * per_mode + i, ctx)))
}
