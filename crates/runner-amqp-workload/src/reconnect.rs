//! The loop every workload client runs: open a session, live it, record how
//! it ended, back off, and open again — until the client is finished.

use crate::backoff::Backoff;
use crate::connect::Session;
use crate::events::{EventKind, Role};
use crate::publisher::ClientCtx;
use std::time::Duration;

/// How one connection's life ended.
pub(crate) enum SessionEnd {
    /// The client is finished; close the connection and stop.
    Done,
    /// The connection failed or was given up on; reconnect.
    Lost(String),
}

/// A publisher or consumer, as the reconnect loop drives it.
pub(crate) trait Client {
    /// What opening hands to `live` besides the session.
    type Opened;
    fn role(&self) -> Role;
    fn ctx(&self) -> &ClientCtx;
    /// Nothing left to do: no (re)connection is opened any more.
    fn finished(&self) -> bool;
    /// Set the new session's channel up; `attempt` counts from 1.
    async fn setup(&mut self, session: &Session, attempt: u32) -> anyhow::Result<Self::Opened>;
    /// One connection's life.
    async fn live(&mut self, session: &Session, opened: Self::Opened) -> SessionEnd;
    /// Wait `delay` before the next attempt.
    async fn pause(&mut self, delay: Duration) {
        tokio::time::sleep(delay).await
    }
}

/// Connects and sets the session up. A session whose set-up failed is
/// closed: left open, a consumer the broker registered after the client
/// stopped waiting would hold its prefetch of messages for as long as the
/// abandoned connection lives.
async fn open<C: Client>(client: &mut C, attempt: u32) -> anyhow::Result<(Session, C::Opened)> {
    let ctx = client.ctx();
    let name = client.role().connection_name();
    let session = Session::open(&ctx.cfg, &ctx.uri, &name).await?;
    match client.setup(&session, attempt).await {
        Ok(opened) => Ok((session, opened)),
        Err(e) => {
            tokio::spawn(session.close());
            Err(e)
        }
    }
}

/// Runs `client` until it is finished, reconnecting with backoff and
/// recording every connection, loss and failed attempt.
pub(crate) async fn run<C: Client>(client: &mut C) {
    let cfg = client.ctx().cfg.clone();
    let mut backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
    let mut connections = 0u32;
    while !client.finished() {
        match open(client, connections + 1).await {
            Ok((session, opened)) => {
                connections += 1;
                client.ctx().rec.record(EventKind::Connected {
                    role: client.role(),
                    attempt: connections,
                });
                backoff.reset();
                match client.live(&session, opened).await {
                    SessionEnd::Done => {
                        session.close().await;
                        return;
                    }
                    SessionEnd::Lost(error) => {
                        client.ctx().rec.record(EventKind::ConnectionLost {
                            role: client.role(),
                            error,
                        });
                        tokio::spawn(session.close());
                    }
                }
            }
            Err(e) => {
                client.ctx().rec.record(EventKind::ConnectFailed {
                    role: client.role(),
                    error: format!("{e:#}"),
                });
            }
        }
        if client.finished() {
            return;
        }
        client.pause(backoff.next_delay()).await;
    }
}
