//! The checker: a pure function from the event log to the [`Report`]
//! (published, confirmed, consumed, lost, duplicates, latency, outages per
//! marker, per-second timeline). No I/O, so it is unit-tested on synthetic
//! logs.

use crate::config::QueueKind;
use crate::events::{Event, EventKind, MsgId};
use crate::mode::{self, ModeAssignment};
use crate::report::{Latency, Marker, Outage, Report, TimelinePoint};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// What the checker needs besides the events.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub queue: String,
    pub queue_kind: QueueKind,
    /// Publishers and consumers over all client modes.
    pub publishers: u32,
    pub consumers: u32,
    /// Which client is in which mode.
    pub assignment: ModeAssignment,
    pub rate_per_sec: u32,
    /// When the run (drain included) ended, since start.
    pub end: Duration,
    /// Whether the drain completed.
    pub drained: bool,
    /// Ready messages in the queue when the drain timed out.
    pub left_in_queue: Option<u32>,
}

/// Computes the report from `events` (in time order).
pub fn check(events: &[Event], info: &RunInfo) -> Report {
    let end = events.last().map_or(info.end, |e| e.at.max(info.end));
    let mut t = Tally::new(end);
    for e in events {
        t.add(e);
    }
    let mut lost_ids: Vec<MsgId> = t
        .confirmed
        .iter()
        .filter(|id| !t.consumed.contains_key(id))
        .copied()
        .collect();
    lost_ids.sort();
    let duplicates: u64 = t.consumed.values().map(|n| n - 1).sum();
    let publishing = t.stopped_at.unwrap_or(end);
    let marker_times: Vec<(String, Duration)> = t
        .markers
        .iter()
        .map(|m| (m.label.clone(), Duration::from_secs_f64(m.at_s)))
        .collect();
    let outages = outages(&t.confirm_times, &marker_times, publishing);
    let gaps = confirm_gaps(&t.confirm_times, publishing);
    let longest_gap = gaps.iter().map(|(a, b)| *b - *a).max().unwrap_or_default();
    let confirmed = t.confirmed.len() as u64;
    Report {
        run_id: info.run_id.clone(),
        queue: info.queue.clone(),
        queue_kind: info.queue_kind,
        publishers: info.publishers,
        consumers: info.consumers,
        rate_per_sec: info.rate_per_sec,
        duration_s: end.as_secs_f64(),
        publishing_s: publishing.as_secs_f64(),
        published: t.published.len() as u64,
        publish_attempts: t.publish_attempts,
        confirmed,
        nacked: t.nacked,
        unconfirmed: t.published.difference(&t.confirmed).count() as u64,
        consumed: t.consumed.len() as u64,
        deliveries: t.deliveries,
        lost: lost_ids.len() as u64,
        duplicates,
        foreign: t.foreign,
        lost_sample: lost_ids.iter().take(20).map(|id| id.to_string()).collect(),
        drained: info.drained,
        late: t.late.len() as u64,
        left_in_queue: info.left_in_queue,
        connection_losses: t.losses,
        connect_failures: t.connect_failures,
        reconnects: t.reconnects,
        throughput_per_s: if publishing.is_zero() {
            0.0
        } else {
            confirmed as f64 / publishing.as_secs_f64()
        },
        confirm_latency: latency(&mut t.latencies),
        longest_gap_s: longest_gap.as_secs_f64(),
        markers: t.markers,
        outages,
        timeline: t.timeline,
        client_modes: mode::tally(events, &info.assignment),
    }
}

/// Everything counted over the event log, one event at a time.
struct Tally {
    published: HashSet<MsgId>,
    confirmed: HashSet<MsgId>,
    consumed: HashMap<MsgId, u64>,
    publish_attempts: u64,
    nacked: u64,
    deliveries: u64,
    foreign: u64,
    losses: u64,
    connect_failures: u64,
    reconnects: u64,
    latencies: Vec<Duration>,
    confirm_times: Vec<Duration>,
    markers: Vec<Marker>,
    stopped_at: Option<Duration>,
    restarted: bool,
    /// Consumed for the first time after the consumers were restarted.
    late: HashSet<MsgId>,
    /// One point per second up to `end`.
    timeline: Vec<TimelinePoint>,
}

impl Tally {
    fn new(end: Duration) -> Tally {
        let buckets = (end.as_secs_f64().ceil() as usize).max(1);
        Tally {
            published: HashSet::new(),
            confirmed: HashSet::new(),
            consumed: HashMap::new(),
            publish_attempts: 0,
            nacked: 0,
            deliveries: 0,
            foreign: 0,
            losses: 0,
            connect_failures: 0,
            reconnects: 0,
            latencies: Vec::new(),
            confirm_times: Vec::new(),
            markers: Vec::new(),
            stopped_at: None,
            restarted: false,
            late: HashSet::new(),
            timeline: (0..buckets)
                .map(|i| TimelinePoint {
                    t_s: i as u64,
                    ..TimelinePoint::default()
                })
                .collect(),
        }
    }

    fn add(&mut self, e: &Event) {
        let b = (e.at.as_secs() as usize).min(self.timeline.len() - 1);
        let point = &mut self.timeline[b];
        match &e.kind {
            EventKind::Published { id, .. } => {
                self.published.insert(*id);
                self.publish_attempts += 1;
                point.published += 1;
            }
            EventKind::Confirmed { id, latency } => {
                if self.confirmed.insert(*id) {
                    self.latencies.push(*latency);
                    self.confirm_times.push(e.at);
                    point.confirmed += 1;
                }
            }
            EventKind::Nacked { .. } => {
                self.nacked += 1;
                point.nacked += 1;
            }
            EventKind::Consumed { id, .. } => {
                if self.restarted && !self.consumed.contains_key(id) {
                    self.late.insert(*id);
                }
                *self.consumed.entry(*id).or_default() += 1;
                self.deliveries += 1;
                point.consumed += 1;
            }
            EventKind::Foreign => self.foreign += 1,
            EventKind::ConnectionLost { .. } => {
                self.losses += 1;
                point.connection_losses += 1;
            }
            EventKind::ConnectFailed { .. } => self.connect_failures += 1,
            EventKind::Connected { attempt, .. } => {
                if *attempt > 1 {
                    self.reconnects += 1;
                }
            }
            EventKind::Marker { label } => self.markers.push(Marker {
                label: label.clone(),
                at_s: e.at.as_secs_f64(),
            }),
            EventKind::PublishingStopped => {
                self.stopped_at.get_or_insert(e.at);
            }
            EventKind::ConsumersRestarted => self.restarted = true,
        }
    }
}

/// Nearest-rank percentiles of `samples` (sorted in place).
pub fn latency(samples: &mut [Duration]) -> Latency {
    if samples.is_empty() {
        return Latency::default();
    }
    samples.sort();
    let n = samples.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rank = |p: f64| ms(samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1]);
    let total: Duration = samples.iter().sum();
    Latency {
        samples: n as u64,
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
        max_ms: ms(samples[n - 1]),
        mean_ms: ms(total) / n as f64,
    }
}

/// The gaps between successive confirms while publishing: the points are
/// the start (0), every confirm, and the end of publishing if no confirm
/// came after it (an outage still running then lasts at least until then).
/// Gaps starting at or after the end of publishing are left out.
pub fn confirm_gaps(confirms: &[Duration], publishing_end: Duration) -> Vec<(Duration, Duration)> {
    let mut points: Vec<Duration> = Vec::with_capacity(confirms.len() + 2);
    points.push(Duration::ZERO);
    points.extend_from_slice(confirms);
    points.sort();
    if points.last().is_none_or(|last| *last < publishing_end) {
        points.push(publishing_end);
    }
    points
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, _)| *a < publishing_end)
        .collect()
}

/// The outage for each marker: the longest confirm gap overlapping
/// `[marker, next marker)` (the last marker's window ends with publishing,
/// or with the last confirm if that came later). A marker whose window
/// overlaps no gap (it came after publishing ended) gets 0.
pub fn outages(
    confirms: &[Duration],
    markers: &[(String, Duration)],
    publishing_end: Duration,
) -> Vec<Outage> {
    let gaps = confirm_gaps(confirms, publishing_end);
    let last_point = gaps
        .last()
        .map_or(publishing_end, |g| g.1.max(publishing_end));
    let mut sorted: Vec<&(String, Duration)> = markers.iter().collect();
    sorted.sort_by_key(|m| m.1);
    sorted
        .iter()
        .enumerate()
        .map(|(i, (label, at))| {
            let window_end = sorted.get(i + 1).map_or(last_point, |m| m.1).max(*at);
            let best = gaps
                .iter()
                .filter(|(a, b)| *a < window_end.max(*at + Duration::from_nanos(1)) && *b > *at)
                .max_by_key(|(a, b)| *b - *a);
            let (gap_start, gap_end) = best.copied().unwrap_or((*at, *at));
            Outage {
                marker: label.clone(),
                at_s: at.as_secs_f64(),
                window_end_s: window_end.as_secs_f64(),
                seconds: (gap_end - gap_start).as_secs_f64(),
                gap_start_s: gap_start.as_secs_f64(),
                gap_end_s: gap_end.as_secs_f64(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Role;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn id(publisher: u32, seq: u64) -> MsgId {
        MsgId { publisher, seq }
    }

    fn ev(at_ms: u64, kind: EventKind) -> Event {
        Event {
            at: ms(at_ms),
            kind,
        }
    }

    fn info(end_ms: u64) -> RunInfo {
        RunInfo {
            run_id: "r".into(),
            queue: "q".into(),
            queue_kind: QueueKind::Quorum,
            publishers: 1,
            consumers: 1,
            assignment: ModeAssignment::one(crate::ClientMode::Impatient, 1, 1),
            rate_per_sec: 10,
            end: ms(end_ms),
            drained: true,
            left_in_queue: None,
        }
    }

    #[test]
    fn counts_lost_duplicates_and_unconfirmed() {
        use EventKind::*;
        let lat = ms(3);
        let events = vec![
            ev(
                0,
                Connected {
                    role: Role::Publisher(0),
                    attempt: 1,
                },
            ),
            ev(
                10,
                Published {
                    id: id(0, 0),
                    attempt: 1,
                },
            ),
            ev(
                13,
                Confirmed {
                    id: id(0, 0),
                    latency: lat,
                },
            ),
            ev(
                14,
                Consumed {
                    id: id(0, 0),
                    redelivered: false,
                },
            ),
            ev(
                20,
                Published {
                    id: id(0, 1),
                    attempt: 1,
                },
            ),
            ev(
                23,
                Confirmed {
                    id: id(0, 1),
                    latency: lat,
                },
            ), // never consumed: lost
            ev(
                30,
                Published {
                    id: id(0, 2),
                    attempt: 1,
                },
            ),
            ev(
                31,
                Nacked {
                    id: id(0, 2),
                    returned: false,
                },
            ),
            ev(
                32,
                Published {
                    id: id(0, 2),
                    attempt: 2,
                },
            ),
            ev(
                35,
                Confirmed {
                    id: id(0, 2),
                    latency: lat,
                },
            ),
            ev(
                36,
                Consumed {
                    id: id(0, 2),
                    redelivered: false,
                },
            ),
            ev(
                37,
                ConnectionLost {
                    role: Role::Consumer(0),
                    error: "x".into(),
                },
            ),
            ev(
                38,
                Connected {
                    role: Role::Consumer(0),
                    attempt: 2,
                },
            ),
            ev(
                39,
                Consumed {
                    id: id(0, 2),
                    redelivered: true,
                },
            ), // duplicate
            ev(
                40,
                Published {
                    id: id(0, 3),
                    attempt: 1,
                },
            ), // never confirmed
            ev(
                41,
                Consumed {
                    id: id(0, 3),
                    redelivered: false,
                },
            ), // fine
            ev(42, Foreign),
            ev(50, PublishingStopped),
        ];
        let r = check(&events, &info(2500));
        assert_eq!(r.published, 4);
        assert_eq!(r.publish_attempts, 5);
        assert_eq!(r.confirmed, 3);
        assert_eq!(r.nacked, 1);
        assert_eq!(r.unconfirmed, 1);
        assert_eq!(r.consumed, 3);
        assert_eq!(r.deliveries, 4);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.lost, 1);
        assert_eq!(r.lost_sample, vec!["p0#1".to_string()]);
        assert_eq!(r.foreign, 1);
        assert_eq!(r.connection_losses, 1);
        assert_eq!(r.reconnects, 1);
        assert_eq!(r.confirm_latency.samples, 3);
        assert!((r.confirm_latency.p50_ms - 3.0).abs() < 1e-9);
        assert!((r.publishing_s - 0.05).abs() < 1e-9);
        assert_eq!(r.timeline.len(), 3);
        assert_eq!(r.timeline[0].confirmed, 3);
        assert_eq!(r.timeline[0].published, 5);
        assert!(!r.ok());
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["lost"], 1);
        assert_eq!(json["queue_kind"], "quorum");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let l = latency(&mut s);
        assert_eq!(l.samples, 100);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p90_ms, 90.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert!((l.mean_ms - 50.5).abs() < 1e-9);
        assert_eq!(latency(&mut []), Latency::default());
        let l = latency(&mut [ms(7)]);
        assert_eq!((l.p50_ms, l.p99_ms, l.max_ms), (7.0, 7.0, 7.0));
    }

    /// Confirms every 100 ms from `from` to `to` (exclusive).
    fn steady(from: u64, to: u64) -> Vec<Duration> {
        (from..to).step_by(100).map(ms).collect()
    }

    #[test]
    fn outage_is_the_longest_gap_overlapping_the_window() {
        // Confirms 0.1–3.0 s, nothing 3.0–7.5 s, then 7.5–12 s.
        let mut c = steady(100, 3001);
        c.extend(steady(7500, 12000));
        let markers = vec![
            ("kill".to_string(), ms(3200)),
            ("healed".to_string(), ms(9000)),
        ];
        let o = outages(&c, &markers, ms(12000));
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].marker, "kill");
        assert!((o[0].seconds - 4.5).abs() < 1e-9, "{o:?}");
        assert!((o[0].gap_start_s - 3.0).abs() < 1e-9);
        assert!((o[0].gap_end_s - 7.5).abs() < 1e-9);
        assert!((o[0].window_end_s - 9.0).abs() < 1e-9);
        // After healing only the steady 100 ms gaps remain.
        assert!((o[1].seconds - 0.1).abs() < 1e-9, "{o:?}");
    }

    #[test]
    fn gap_started_before_the_marker_counts() {
        // The client noticed before the driver marked: the gap 2–6 s still
        // overlaps the marker at 2.5 s.
        let mut c = steady(0, 2001);
        c.extend(steady(6000, 8000));
        let o = outages(&c, &[("fault".into(), ms(2500))], ms(8000));
        assert!((o[0].seconds - 4.0).abs() < 1e-9, "{o:?}");
    }

    #[test]
    fn outage_running_at_the_end_of_publishing() {
        // No confirm after 2 s, publishing stops at 5 s, the pending
        // messages are confirmed during the drain at 9 s.
        let mut c = steady(0, 2001);
        c.push(ms(9000));
        let o = outages(&c, &[("fault".into(), ms(3000))], ms(5000));
        assert!((o[0].seconds - 7.0).abs() < 1e-9, "{o:?}");
        // Never confirmed again: the gap runs to the end of publishing.
        let c = steady(0, 2001);
        let o = outages(&c, &[("fault".into(), ms(3000))], ms(5000));
        assert!((o[0].seconds - 3.0).abs() < 1e-9, "{o:?}");
    }

    #[test]
    fn marker_after_publishing_and_no_markers() {
        let c = steady(0, 1001);
        let o = outages(&c, &[("late".into(), ms(4000))], ms(1000));
        assert_eq!(o[0].seconds, 0.0);
        assert!(outages(&c, &[], ms(1000)).is_empty());
        // No confirm at all: the whole publishing time is one gap.
        let o = outages(&[], &[("f".into(), ms(100))], ms(3000));
        assert!((o[0].seconds - 3.0).abs() < 1e-9);
    }

    #[test]
    fn markers_out_of_order_and_longest_gap() {
        let mut c = steady(0, 1001);
        c.extend(steady(3000, 4001));
        let markers = vec![("b".to_string(), ms(3500)), ("a".to_string(), ms(1500))];
        let o = outages(&c, &markers, ms(4000));
        assert_eq!(o[0].marker, "a");
        assert!((o[0].seconds - 2.0).abs() < 1e-9);
        assert!((o[1].seconds - 0.1).abs() < 1e-9);
        let events: Vec<Event> = c
            .iter()
            .enumerate()
            .map(|(i, t)| Event {
                at: *t,
                kind: EventKind::Confirmed {
                    id: id(0, i as u64),
                    latency: ms(1),
                },
            })
            .collect();
        let r = check(&events, &info(4000));
        assert!((r.longest_gap_s - 2.0).abs() < 1e-9);
        assert_eq!(r.outages.len(), 0);
        assert!((r.throughput_per_s - c.len() as f64 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn consumed_only_after_the_consumers_restarted_is_late_not_lost() {
        use EventKind::*;
        let lat = ms(3);
        let mut events = Vec::new();
        for seq in 0..3 {
            events.push(ev(
                seq * 10,
                Published {
                    id: id(0, seq),
                    attempt: 1,
                },
            ));
            events.push(ev(
                seq * 10 + 2,
                Confirmed {
                    id: id(0, seq),
                    latency: lat,
                },
            ));
        }
        events.push(ev(
            40,
            Consumed {
                id: id(0, 0),
                redelivered: false,
            },
        ));
        events.push(ev(50, ConsumersRestarted));
        for (at, seq) in [(60, 0), (61, 1)] {
            events.push(ev(
                at,
                Consumed {
                    id: id(0, seq),
                    redelivered: true,
                },
            ));
        }
        let r = check(&events, &info(100));
        assert_eq!(r.late, 1, "only p0#1 was first seen after the restart");
        assert_eq!(r.lost, 1, "p0#2 was never consumed");
        assert_eq!(r.duplicates, 1);
    }
}
