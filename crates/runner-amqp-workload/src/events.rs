//! The timestamped event log every client writes to: publishes, confirms,
//! nacks, deliveries, connection losses, reconnects and fault markers. The
//! checker computes the report from it alone.

use serde::Serialize;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One message: which publisher sent it, and its sequence number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MsgId {
    pub publisher: u32,
    pub seq: u64,
}

impl std::fmt::Display for MsgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}#{}", self.publisher, self.seq)
    }
}

/// Which client an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Publisher(u32),
    Consumer(u32),
}

impl Role {
    /// The AMQP connection name this client opens its connections under,
    /// as the broker (and its management API) shows it.
    pub fn connection_name(&self) -> String {
        format!("runner-workload {self}")
    }

    /// The client behind a connection name from [`Role::connection_name`].
    pub fn from_connection_name(name: &str) -> Option<Role> {
        let (role, n) = name.strip_prefix("runner-workload ")?.split_once(' ')?;
        let n = n.parse().ok()?;
        match role {
            "publisher" => Some(Role::Publisher(n)),
            "consumer" => Some(Role::Consumer(n)),
            _ => None,
        }
    }

    /// `p0` for publisher 0, `c1` for consumer 1.
    pub fn short(&self) -> String {
        match self {
            Role::Publisher(i) => format!("p{i}"),
            Role::Consumer(i) => format!("c{i}"),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Publisher(i) => write!(f, "publisher {i}"),
            Role::Consumer(i) => write!(f, "consumer {i}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A publish attempt was handed to the client (recorded before
    /// basic.publish, so a message that reached the broker always has one).
    /// `attempt` is 1 for the first publish, more for republishes.
    Published { id: MsgId, attempt: u32 },
    /// The broker confirmed (acked) the attempt; `latency` is from that
    /// attempt's publish to the confirm.
    Confirmed {
        id: MsgId,
        #[serde(serialize_with = "ser_secs")]
        latency: Duration,
    },
    /// The broker nacked the attempt, or returned it unroutable
    /// (`returned`); the publisher republishes it.
    Nacked { id: MsgId, returned: bool },
    /// A consumer got the message (recorded before its ack).
    Consumed { id: MsgId, redelivered: bool },
    /// A consumer got a message that is not from this run (acked, ignored).
    Foreign,
    /// A client's connection or channel failed, or was given up on.
    ConnectionLost { role: Role, error: String },
    /// A connection attempt failed (broker or address unreachable, setup
    /// refused); the client retries after a backoff.
    ConnectFailed { role: Role, error: String },
    /// A client (re)connected and set up its channel; `attempt` counts the
    /// successful connections of that client (1 = the first).
    Connected { role: Role, attempt: u32 },
    /// A fault marker from the chaos driver (see `WorkloadHandle::mark`).
    Marker { label: String },
    /// `stop_publishing` was called: no new messages from here on.
    PublishingStopped,
    /// The drain timed out with confirmed messages unseen and restarted the
    /// consumers: what a stuck consumer held goes back to the queue.
    ConsumersRestarted,
}

/// An event and when it happened, as time since the workload started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "t", serialize_with = "ser_secs")]
    pub at: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The shared, append-only event log, plus the few live counters the drain
/// needs (which confirmed messages are still unconsumed).
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Event>,
    consumed: HashSet<MsgId>,
    confirmed_unconsumed: HashSet<MsgId>,
    last_delivery: Option<Instant>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Time since the workload started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The workload's start instant.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Appends `kind` at the current time; returns that time.
    pub fn record(&self, kind: EventKind) -> Duration {
        let mut inner = self.lock();
        // Taken under the lock so the log is in time order.
        let at = self.start.elapsed();
        match &kind {
            EventKind::Confirmed { id, .. } if !inner.consumed.contains(id) => {
                inner.confirmed_unconsumed.insert(*id);
            }
            EventKind::Consumed { id, .. } => {
                inner.consumed.insert(*id);
                inner.confirmed_unconsumed.remove(id);
                inner.last_delivery = Some(Instant::now());
            }
            EventKind::Foreign => inner.last_delivery = Some(Instant::now()),
            EventKind::ConnectionLost { role, error }
            | EventKind::ConnectFailed { role, error } => {
                tracing::debug!(at = at.as_secs_f64(), ?role, error = %error, "client connection lost or refused");
            }
            EventKind::Connected { role, attempt } => {
                tracing::debug!(at = at.as_secs_f64(), ?role, attempt, "client connected");
            }
            _ => {}
        }
        inner.events.push(Event { at, kind });
        at
    }

    /// Confirmed messages no consumer has seen yet.
    pub fn confirmed_unconsumed(&self) -> usize {
        self.lock().confirmed_unconsumed.len()
    }

    /// When a consumer last got any message.
    pub fn last_delivery(&self) -> Option<Instant> {
        self.lock().last_delivery
    }

    /// A copy of the log so far.
    pub fn snapshot(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_confirmed_but_unconsumed() {
        let r = Recorder::new();
        let a = MsgId {
            publisher: 0,
            seq: 1,
        };
        let b = MsgId {
            publisher: 0,
            seq: 2,
        };
        r.record(EventKind::Published { id: a, attempt: 1 });
        r.record(EventKind::Published { id: b, attempt: 1 });
        // b is consumed before its confirm arrives: never counted unconsumed.
        r.record(EventKind::Consumed {
            id: b,
            redelivered: false,
        });
        r.record(EventKind::Confirmed {
            id: a,
            latency: Duration::from_millis(2),
        });
        r.record(EventKind::Confirmed {
            id: b,
            latency: Duration::from_millis(2),
        });
        assert_eq!(r.confirmed_unconsumed(), 1);
        r.record(EventKind::Consumed {
            id: a,
            redelivered: false,
        });
        assert_eq!(r.confirmed_unconsumed(), 0);
        let log = r.snapshot();
        assert_eq!(log.len(), 6);
        assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
        let json = serde_json::to_string(&log[3]).unwrap();
        assert!(json.contains("\"kind\":\"confirmed\""), "{json}");
    }

    #[test]
    fn connection_names_round_trip() {
        for role in [Role::Publisher(0), Role::Consumer(12)] {
            assert_eq!(
                Role::from_connection_name(&role.connection_name()),
                Some(role)
            );
        }
        assert_eq!(Role::Consumer(12).short(), "c12");
        assert_eq!(Role::from_connection_name("runner-workload drain"), None);
        assert_eq!(Role::from_connection_name("someone else's app 1"), None);
    }
}
