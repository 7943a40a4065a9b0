//! The loop every probe client runs: open a session, live it, record how
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
    /// Connect and set the channel up; `attempt` counts from 1.
    async fn open(&mut self, attempt: u32) -> anyhow::Result<(Session, Self::Opened)>;
    /// One connection's life.
    async fn live(&mut self, session: &Session, opened: Self::Opened) -> SessionEnd;
    /// Wait `delay` before the next attempt.
    async fn pause(&mut self, delay: Duration) {
        tokio::time::sleep(delay).await
    }
}

/// Runs `client` until it is finished, reconnecting with backoff and
/// recording every connection, loss and failed attempt.
pub(crate) async fn run<C: Client>(client: &mut C) {
    let cfg = client.ctx().cfg.clone();
    let mut backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
    let mut connections = 0u32;
    while !client.finished() {
        match client.open(connections + 1).await {
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
