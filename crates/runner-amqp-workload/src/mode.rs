//! How a workload client behaves when the broker is slow or gone: the
//! [`ClientMode`]s, which clients of a workload run in which mode, and the
//! per-mode tally of a run ([`ModeReport`], pure, from the event log).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use crate::events::{Event, EventKind, MsgId, Role};

/// How a client decides that its connection is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientMode {
    /// The workload's own client: asks for short heartbeats (`heartbeat_s`)
    /// and gives up on a confirm (or an ack send) after `confirm_timeout`,
    /// reconnecting and republishing. It notices a hung node sooner than
    /// users' clients do.
    Impatient,
    /// What an application with a stock AMQP client does: heartbeats as the
    /// server negotiates them, waits for every confirm as long as it takes,
    /// and reconnects (republishing what is unconfirmed) only when the
    /// connection or channel actually drops.
    Stock,
}

impl ClientMode {
    pub const ALL: [ClientMode; 2] = [ClientMode::Impatient, ClientMode::Stock];

    /// The flag value (`--client-mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientMode::Impatient => "impatient",
            ClientMode::Stock => "stock",
        }
    }

    /// The mode by its flag value.
    pub fn from_name(name: &str) -> Option<ClientMode> {
        ClientMode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// One line for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            ClientMode::Impatient => {
                "The workload's client: 5 s heartbeats, gives up on a confirm after 10 s and reconnects"
            }
            ClientMode::Stock => {
                "A stock client: server-negotiated heartbeat, waits for every confirm, reconnects only on a drop"
            }
        }
    }

    /// How long to wait for a confirm (or to hand a publish or ack to the
    /// socket) before giving the connection up; `None`: as long as it takes.
    pub fn give_up_after(self, confirm_timeout: Duration) -> Option<Duration> {
        match self {
            ClientMode::Impatient => Some(confirm_timeout),
            ClientMode::Stock => None,
        }
    }

    /// The heartbeat to ask for; `None`: the server's (RabbitMQ: 60 s).
    pub fn heartbeat(self, heartbeat_s: u16) -> Option<u16> {
        match self {
            ClientMode::Impatient => Some(heartbeat_s),
            ClientMode::Stock => None,
        }
    }
}

/// Which clients run in which mode: each mode in `modes` gets `publishers`
/// publishers and `consumers` consumers, numbered on from the previous
/// mode's (two modes, two publishers each: p0 p1 in the first, p2 p3 in
/// the second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeAssignment {
    pub modes: Vec<ClientMode>,
    pub publishers: u32,
    pub consumers: u32,
}

impl ModeAssignment {
    /// Every client in one mode.
    pub fn one(mode: ClientMode, publishers: u32, consumers: u32) -> Self {
        ModeAssignment {
            modes: vec![mode],
            publishers,
            consumers,
        }
    }

    /// The mode of a client; `None` for an id out of range.
    pub fn mode_of(&self, role: Role) -> Option<ClientMode> {
        let (id, per) = match role {
            Role::Publisher(i) => (i, self.publishers),
            Role::Consumer(i) => (i, self.consumers),
        };
        self.modes.get((id / per.max(1)) as usize).copied()
    }

    /// The publisher ids of `mode`.
    pub fn publishers_of(&self, mode: ClientMode) -> Vec<u32> {
        self.ids_of(mode, self.publishers)
    }

    /// The consumer ids of `mode`.
    pub fn consumers_of(&self, mode: ClientMode) -> Vec<u32> {
        self.ids_of(mode, self.consumers)
    }

    fn ids_of(&self, mode: ClientMode, per: u32) -> Vec<u32> {
        self.modes
            .iter()
            .enumerate()
            .filter(|(_, m)| **m == mode)
            .flat_map(|(i, _)| (i as u32 * per)..((i as u32 + 1) * per))
            .collect()
    }

    /// Publisher and consumer tasks over all modes.
    pub fn total(&self) -> (u32, u32) {
        let n = self.modes.len() as u32;
        (self.publishers * n, self.consumers * n)
    }
}

/// What the clients of one mode published and what became of it. Loss is
/// counted per mode: a message belongs to the mode of its publisher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeReport {
    pub mode: ClientMode,
    /// The publishers in this mode (`p<id>`).
    pub publisher_ids: Vec<u32>,
    /// The consumers in this mode (`c<id>`).
    pub consumer_ids: Vec<u32>,
    /// Distinct messages its publishers published.
    pub published: u64,
    /// Of those, confirmed by the broker.
    pub confirmed: u64,
    /// Published, never confirmed.
    pub unconfirmed: u64,
    /// Confirmed, never consumed (by anyone): must be 0.
    pub lost: u64,
    /// Deliveries of its messages beyond the first.
    pub duplicates: u64,
    /// Connections its clients lost (or gave up on).
    pub connection_losses: u64,
    /// Successful connections after a client's first, of its clients.
    pub reconnects: u64,
}

/// The per-mode tally of `events` (pure; unit-tested).
pub fn tally(events: &[Event], a: &ModeAssignment) -> Vec<ModeReport> {
    let mut published: HashSet<MsgId> = HashSet::new();
    let mut confirmed: HashSet<MsgId> = HashSet::new();
    let mut consumed: HashMap<MsgId, u64> = HashMap::new();
    let mut losses: HashMap<ClientMode, u64> = HashMap::new();
    let mut reconnects: HashMap<ClientMode, u64> = HashMap::new();
    for e in events {
        match &e.kind {
            EventKind::Published { id, .. } => {
                published.insert(*id);
            }
            EventKind::Confirmed { id, .. } => {
                confirmed.insert(*id);
            }
            EventKind::Consumed { id, .. } => *consumed.entry(*id).or_default() += 1,
            EventKind::ConnectionLost { role, .. } => {
                if let Some(m) = a.mode_of(*role) {
                    *losses.entry(m).or_default() += 1;
                }
            }
            EventKind::Connected { role, attempt } if *attempt > 1 => {
                if let Some(m) = a.mode_of(*role) {
                    *reconnects.entry(m).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let mut modes = a.modes.clone();
    modes.dedup();
    modes
        .into_iter()
        .map(|mode| {
            let mine = |id: &&MsgId| a.mode_of(Role::Publisher(id.publisher)) == Some(mode);
            let count = |s: &HashSet<MsgId>| s.iter().filter(mine).count() as u64;
            ModeReport {
                mode,
                publisher_ids: a.publishers_of(mode),
                consumer_ids: a.consumers_of(mode),
                published: count(&published),
                confirmed: count(&confirmed),
                unconfirmed: published.difference(&confirmed).filter(mine).count() as u64,
                lost: confirmed
                    .iter()
                    .filter(mine)
                    .filter(|id| !consumed.contains_key(id))
                    .count() as u64,
                duplicates: consumed
                    .iter()
                    .filter(|(id, _)| mine(id))
                    .map(|(_, n)| n - 1)
                    .sum(),
                connection_losses: losses.get(&mode).copied().unwrap_or(0),
                reconnects: reconnects.get(&mode).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// The longest time one of `publishers` went without a confirm, counting
/// gaps that end after `from` and start before `end` (seconds since the
/// start; the run's start and `end` bound every publisher's gaps): the
/// worst client's outage. `None` when none of them confirmed anything.
pub fn worst_client_s(events: &[Event], publishers: &[u32], from: f64, end: f64) -> Option<f64> {
    let mut per: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for e in events {
        if let EventKind::Confirmed { id, .. } = &e.kind
            && publishers.contains(&id.publisher)
        {
            per.entry(id.publisher)
                .or_default()
                .push(e.at.as_secs_f64());
        }
    }
    per.into_values()
        .filter_map(|mut t| {
            t.push(0.0);
            t.push(end);
            t.sort_by(f64::total_cmp);
            t.windows(2)
                .filter(|w| w[1] > from && w[0] < end)
                .map(|w| w[1] - w[0])
                .reduce(f64::max)
        })
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ms: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            kind,
        }
    }

    fn id(publisher: u32, seq: u64) -> MsgId {
        MsgId { publisher, seq }
    }

    fn both() -> ModeAssignment {
        ModeAssignment {
            modes: vec![ClientMode::Impatient, ClientMode::Stock],
            publishers: 2,
            consumers: 1,
        }
    }

    #[test]
    fn names_and_behaviour() {
        for m in ClientMode::ALL {
            assert_eq!(ClientMode::from_name(m.as_str()), Some(m));
        }
        let t = Duration::from_secs(10);
        assert_eq!(ClientMode::Impatient.give_up_after(t), Some(t));
        assert_eq!(ClientMode::Stock.give_up_after(t), None);
        assert_eq!(ClientMode::Impatient.heartbeat(5), Some(5));
        assert_eq!(ClientMode::Stock.heartbeat(5), None);
        assert_eq!(
            serde_json::to_string(&ClientMode::Stock).unwrap(),
            "\"stock\""
        );
    }

    #[test]
    fn assignment_numbers_clients_per_mode() {
        let a = both();
        assert_eq!(a.publishers_of(ClientMode::Impatient), [0, 1]);
        assert_eq!(a.publishers_of(ClientMode::Stock), [2, 3]);
        assert_eq!(a.consumers_of(ClientMode::Stock), [1]);
        assert_eq!(a.mode_of(Role::Publisher(3)), Some(ClientMode::Stock));
        assert_eq!(a.mode_of(Role::Consumer(0)), Some(ClientMode::Impatient));
        assert_eq!(a.mode_of(Role::Publisher(4)), None);
        assert_eq!(a.total(), (4, 2));
    }

    #[test]
    fn loss_and_duplicates_are_counted_per_mode() {
        use EventKind::*;
        let lat = Duration::from_millis(1);
        let mut events = Vec::new();
        for p in 0..4 {
            events.push(ev(
                1,
                Published {
                    id: id(p, 0),
                    attempt: 1,
                },
            ));
            events.push(ev(
                2,
                Confirmed {
                    id: id(p, 0),
                    latency: lat,
                },
            ));
        }
        // Every message consumed but p3#0 (stock): lost there only; p1#0
        // (impatient) twice.
        for p in [0, 1, 1, 2] {
            events.push(ev(
                3,
                Consumed {
                    id: id(p, 0),
                    redelivered: false,
                },
            ));
        }
        // p2 unconfirmed once more; a stock consumer reconnected.
        events.push(ev(
            4,
            Published {
                id: id(2, 1),
                attempt: 1,
            },
        ));
        events.push(ev(
            5,
            ConnectionLost {
                role: Role::Consumer(1),
                error: "x".into(),
            },
        ));
        events.push(ev(
            6,
            Connected {
                role: Role::Consumer(1),
                attempt: 2,
            },
        ));
        let r = tally(&events, &both());
        assert_eq!(r.len(), 2);
        let (imp, stock) = (&r[0], &r[1]);
        assert_eq!(imp.mode, ClientMode::Impatient);
        assert_eq!(
            (imp.published, imp.confirmed, imp.lost, imp.duplicates),
            (2, 2, 0, 1)
        );
        assert_eq!((imp.connection_losses, imp.reconnects), (0, 0));
        assert_eq!(stock.mode, ClientMode::Stock);
        assert_eq!(
            (stock.published, stock.confirmed, stock.unconfirmed),
            (3, 2, 1)
        );
        assert_eq!((stock.lost, stock.duplicates), (1, 0));
        assert_eq!((stock.connection_losses, stock.reconnects), (1, 1));
        assert_eq!(stock.publisher_ids, [2, 3]);
    }

    #[test]
    fn worst_client_of_a_set_of_publishers() {
        let c = |p: u32, ms: u64| {
            ev(
                ms,
                EventKind::Confirmed {
                    id: id(p, ms),
                    latency: Duration::from_millis(1),
                },
            )
        };
        // p0 goes on; p1 stalls 2 s → 9 s; p2 stalls 1 s → 4 s.
        let events: Vec<Event> = (0..100)
            .map(|i| c(0, i * 100))
            .chain([c(1, 1000), c(1, 2000), c(1, 9000), c(1, 9900)])
            .chain([c(2, 1000), c(2, 4000), c(2, 9950)])
            .collect();
        let w = worst_client_s(&events, &[0, 1], 3.0, 10.0).unwrap();
        assert!((w - 7.0).abs() < 1e-9, "{w}");
        let w = worst_client_s(&events, &[0, 2], 3.0, 10.0).unwrap();
        assert!((w - 5.95).abs() < 1e-9, "{w}");
        assert!(worst_client_s(&events, &[0, 1], 9.5, 10.0).unwrap() < 1.0);
        assert_eq!(worst_client_s(&events, &[7], 0.0, 10.0), None);
    }
}
