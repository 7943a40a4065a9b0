//! The workload's result: counts, confirm latency, outages per fault
//! marker and a per-second timeline; rendered as JSON, as text tables, and
//! (via [`crate::svg`]) as an SVG timeline. Also the multi-scenario table the
//! chaos report uses.

use crate::config::QueueKind;
use crate::mode::ModeReport;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

/// Confirm latency over all confirmed attempts, in milliseconds (from the
/// attempt's publish to its confirm).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// A fault marker as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub label: String,
    pub at_s: f64,
}

/// The outage around one marker: the longest gap between successful
/// confirms that overlaps the marker's window (from the marker to the next
/// marker, or to the end of publishing).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    pub marker: String,
    pub at_s: f64,
    pub window_end_s: f64,
    /// Length of that gap, in seconds.
    pub seconds: f64,
    pub gap_start_s: f64,
    pub gap_end_s: f64,
}

/// Counts of one second of the run (`t_s` = whole seconds since start).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimelinePoint {
    pub t_s: u64,
    /// Publish attempts (republishes included).
    pub published: u64,
    pub confirmed: u64,
    /// Deliveries (redeliveries included).
    pub consumed: u64,
    pub nacked: u64,
    pub connection_losses: u64,
}

/// Everything the checker found; see the field docs for exact meanings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub run_id: String,
    pub queue: String,
    pub queue_kind: QueueKind,
    pub publishers: u32,
    pub consumers: u32,
    /// Asked-for rate over all publishers (0 = unpaced).
    pub rate_per_sec: u32,
    /// From start to the end of the drain.
    pub duration_s: f64,
    /// From start to `stop_publishing`.
    pub publishing_s: f64,
    /// Distinct messages published at least once.
    pub published: u64,
    /// Publish attempts, republishes included.
    pub publish_attempts: u64,
    /// Distinct messages the broker confirmed.
    pub confirmed: u64,
    /// Nacked or returned attempts (each was republished).
    pub nacked: u64,
    /// Published but never confirmed (given up at the end).
    pub unconfirmed: u64,
    /// Distinct messages consumed.
    pub consumed: u64,
    /// Deliveries, redeliveries included.
    pub deliveries: u64,
    /// Confirmed but never consumed: must be 0.
    pub lost: u64,
    /// Deliveries beyond the first of a message.
    pub duplicates: u64,
    /// Deliveries that are not from this run (acked and ignored).
    pub foreign: u64,
    /// Up to 20 lost message ids (`p<publisher>#<seq>`).
    pub lost_sample: Vec<String>,
    /// Whether the drain finished (every confirmed message consumed and the
    /// queue empty) before its timeout. If not, `lost` may overcount.
    pub drained: bool,
    /// Confirmed messages first consumed only after the drain restarted
    /// the consumers: held by a stuck consumer, late but not lost.
    #[serde(default)]
    pub late: u64,
    /// When the drain timed out: the messages still ready in the queue
    /// (none: it could not be asked). Lost messages still there are late,
    /// not gone.
    #[serde(default)]
    pub left_in_queue: Option<u32>,
    pub connection_losses: u64,
    pub connect_failures: u64,
    /// Successful connections after a client's first.
    pub reconnects: u64,
    /// Confirmed messages per second of publishing.
    pub throughput_per_s: f64,
    pub confirm_latency: Latency,
    /// Longest time without a confirm while publishing, marker or not.
    pub longest_gap_s: f64,
    pub markers: Vec<Marker>,
    pub outages: Vec<Outage>,
    pub timeline: Vec<TimelinePoint>,
    /// The same counts per client mode (one entry per mode run; a message
    /// belongs to its publisher's mode).
    #[serde(default)]
    pub client_modes: Vec<ModeReport>,
}

impl Report {
    /// Pretty JSON of the whole report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The longest outage over all markers (`None` without markers).
    pub fn max_outage_s(&self) -> Option<f64> {
        self.outages.iter().map(|o| o.seconds).reduce(f64::max)
    }

    /// True when nothing confirmed was lost (in any client mode) and the
    /// drain completed.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.client_modes.iter().all(|m| m.lost == 0) && self.drained
    }

    /// The tally of one client mode, when it ran.
    pub fn mode(&self, mode: crate::ClientMode) -> Option<&ModeReport> {
        self.client_modes.iter().find(|m| m.mode == mode)
    }

    /// The SVG timeline (confirms and deliveries per second, markers and
    /// outages drawn).
    pub fn timeline_svg(&self) -> String {
        crate::svg::timeline(self)
    }

    /// A summary table (counts, throughput, latency), then the outage per
    /// marker if there are markers.
    pub fn render_table(&self) -> String {
        let mut t = new_table();
        t.set_header(vec!["measure", "value"]);
        for (k, v) in self.measures() {
            t.add_row(vec![k.to_string(), v]);
        }
        if !self.lost_sample.is_empty() {
            t.add_row(vec!["lost ids".to_string(), self.lost_sample.join(" ")]);
        }
        for m in &self.client_modes {
            t.add_row(vec![format!("{} clients", m.mode.as_str()), mode_line(m)]);
        }
        let mut out = t.to_string();
        if !self.outages.is_empty() {
            let mut o = new_table();
            o.set_header(vec!["marker", "at s", "outage s", "gap"]);
            for x in &self.outages {
                o.add_row(vec![
                    x.marker.clone(),
                    format!("{:.1}", x.at_s),
                    format!("{:.3}", x.seconds),
                    format!("{:.2}–{:.2}", x.gap_start_s, x.gap_end_s),
                ]);
            }
            right_align(&mut o, &[1, 2]);
            out.push('\n');
            out.push_str(&o.to_string());
        }
        out.push('\n');
        out
    }

    /// The main table's rows: measure and value.
    fn measures(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "queue",
                format!("{} ({})", self.queue, self.queue_kind.as_str()),
            ),
            (
                "clients",
                format!(
                    "{} publishers, {} consumers",
                    self.publishers, self.consumers
                ),
            ),
            (
                "rate asked",
                if self.rate_per_sec == 0 {
                    "unpaced".into()
                } else {
                    format!("{} msg/s", self.rate_per_sec)
                },
            ),
            ("publishing", format!("{:.1} s", self.publishing_s)),
            (
                "throughput",
                format!("{:.1} confirms/s", self.throughput_per_s),
            ),
            (
                "confirm latency",
                format!(
                    "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    self.confirm_latency.p50_ms,
                    self.confirm_latency.p90_ms,
                    self.confirm_latency.p99_ms,
                    self.confirm_latency.max_ms
                ),
            ),
            ("published", self.published.to_string()),
            ("publish attempts", self.publish_attempts.to_string()),
            ("confirmed", self.confirmed.to_string()),
            ("nacked", self.nacked.to_string()),
            ("unconfirmed", self.unconfirmed.to_string()),
            ("consumed", self.consumed.to_string()),
            ("lost", self.lost.to_string()),
            ("duplicates", self.duplicates.to_string()),
            (
                "connections lost / reconnects",
                format!("{} / {}", self.connection_losses, self.reconnects),
            ),
            ("late (held by a stuck consumer)", self.late.to_string()),
            (
                "longest confirm gap",
                format!("{:.3} s", self.longest_gap_s),
            ),
            (
                "drained",
                match (self.drained, self.left_in_queue) {
                    (true, _) => "yes".into(),
                    (false, Some(n)) => format!("NO (timed out; {n} still ready in the queue)"),
                    (false, None) => "NO (timed out)".into(),
                },
            ),
        ]
    }
}

/// One client mode's clients and counts, as one line.
fn mode_line(m: &ModeReport) -> String {
    let ids = |prefix: &str, ids: &[u32]| {
        ids.iter()
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "{} {}: published {}, confirmed {}, lost {}, duplicates {}, reconnects {}",
        ids("p", &m.publisher_ids),
        ids("c", &m.consumer_ids),
        m.published,
        m.confirmed,
        m.lost,
        m.duplicates,
        m.reconnects
    )
}

/// One row of the HA report: one scenario (one fault) and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRow {
    pub scenario: String,
    /// The longest outage over the scenario's markers.
    pub outage_s: Option<f64>,
    pub published: u64,
    pub confirmed: u64,
    pub consumed: u64,
    pub lost: u64,
    pub duplicates: u64,
}

impl ScenarioRow {
    pub fn from_report(scenario: impl Into<String>, report: &Report) -> Self {
        ScenarioRow {
            scenario: scenario.into(),
            outage_s: report.max_outage_s(),
            published: report.published,
            confirmed: report.confirmed,
            consumed: report.consumed,
            lost: report.lost,
            duplicates: report.duplicates,
        }
    }
}

/// The table `scenario | outage s | published | confirmed | consumed | lost |
/// duplicates` (the JSON form is `serde_json::to_string(rows)`).
pub fn render_scenario_table(rows: &[ScenarioRow]) -> String {
    let mut t = new_table();
    t.set_header(vec![
        "scenario",
        "outage s",
        "published",
        "confirmed",
        "consumed",
        "lost",
        "duplicates",
    ]);
    for r in rows {
        t.add_row(vec![
            r.scenario.clone(),
            r.outage_s.map_or("-".into(), |s| format!("{s:.2}")),
            r.published.to_string(),
            r.confirmed.to_string(),
            r.consumed.to_string(),
            r.lost.to_string(),
            r.duplicates.to_string(),
        ]);
    }
    right_align(&mut t, &[1, 2, 3, 4, 5, 6]);
    format!("{t}\n")
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

fn right_align(t: &mut Table, cols: &[usize]) {
    for &i in cols {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}
