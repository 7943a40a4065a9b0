//! The timeline picture: confirms and deliveries per second over the run as
//! hand-written SVG, with a vertical line per fault marker, each marker's
//! outage shaded, and the end of publishing marked.

use crate::report::Report;
use std::fmt::Write;

const W: f64 = 960.0;
const H: f64 = 420.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 56.0;

/// Escapes text for SVG element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A round axis maximum at or above `v` (1, 2, 2.5, 5 × 10^k).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// A tick step giving at most about 12 ticks over `span` seconds.
fn time_step(span: f64) -> f64 {
    [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| span / s <= 12.0)
    .unwrap_or(7200.0)
}

/// The SVG document for `report`'s timeline.
pub fn timeline(report: &Report) -> String {
    let plot = Plot::new(report);
    let mut s = String::new();
    header(&mut s, report);
    plot.outages(&mut s, report);
    plot.axes(&mut s);
    plot.series(&mut s, report);
    plot.markers(&mut s, report);
    legend(&mut s);
    s.push_str("</svg>\n");
    s
}

/// The plot area's scales: seconds across, messages per second up.
struct Plot {
    span: f64,
    ymax: f64,
    pw: f64,
    ph: f64,
}

impl Plot {
    fn new(report: &Report) -> Plot {
        let span = (report.timeline.len() as f64)
            .max(report.duration_s)
            .max(1.0);
        let peak = report
            .timeline
            .iter()
            .map(|p| p.confirmed.max(p.consumed))
            .max()
            .unwrap_or(0) as f64;
        Plot {
            span,
            ymax: nice_max(peak * 1.1),
            pw: W - LEFT - RIGHT,
            ph: H - TOP - BOTTOM,
        }
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + (t / self.span).clamp(0.0, 1.0) * self.pw
    }

    fn y(&self, v: f64) -> f64 {
        TOP + self.ph - (v / self.ymax).clamp(0.0, 1.0) * self.ph
    }

    /// Outages first, under everything else.
    fn outages(&self, s: &mut String, report: &Report) {
        let ph = self.ph;
        let mut drawn: Vec<(f64, f64)> = Vec::new();
        for o in report.outages.iter().filter(|o| o.seconds >= 0.5) {
            if drawn.contains(&(o.gap_start_s, o.gap_end_s)) {
                continue;
            }
            drawn.push((o.gap_start_s, o.gap_end_s));
            let (x0, x1) = (self.x(o.gap_start_s), self.x(o.gap_end_s));
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="#e53935" fill-opacity="0.12"><title>outage {:.2} s around {}</title></rect>"##,
                (x1 - x0).max(1.0),
                o.seconds,
                escape(&o.marker)
            );
        }
    }

    /// Grid and axes.
    fn axes(&self, s: &mut String) {
        let (pw, ph) = (self.pw, self.ph);
        for i in 0..=5 {
            let v = self.ymax * i as f64 / 5.0;
            let yy = self.y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                yy + 4.0,
                fmt_num(v)
            );
        }
        let step = time_step(self.span);
        let mut t = 0.0;
        while t <= self.span + 1e-9 {
            let xx = self.x(t);
            let _ = writeln!(
                s,
                r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 5.0,
                TOP + ph + 18.0,
                fmt_num(t)
            );
            t += step;
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since start</text>"#,
            LEFT + pw / 2.0,
            H - 14.0
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">messages per second</text>"#,
            TOP + ph / 2.0
        );
    }

    /// Series as steps: each second's count spans that second.
    fn series(&self, s: &mut String, report: &Report) {
        let series = |get: &dyn Fn(&crate::report::TimelinePoint) -> u64| -> String {
            report
                .timeline
                .iter()
                .map(|p| {
                    let (t, v) = (p.t_s as f64, self.y(get(p) as f64));
                    format!("{:.1},{v:.1} {:.1},{v:.1}", self.x(t), self.x(t + 1.0))
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#1e88e5" stroke-width="2"/>"##,
            series(&|p| p.confirmed)
        );
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#43a047" stroke-width="1.5" stroke-dasharray="5 3"/>"##,
            series(&|p| p.consumed)
        );
    }

    /// End of publishing, then the fault markers.
    fn markers(&self, s: &mut String, report: &Report) {
        let ph = self.ph;
        if report.publishing_s < self.span {
            let xx = self.x(report.publishing_s);
            let _ = writeln!(
                s,
                r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#777" stroke-dasharray="2 3"/><text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="end" fill="#777">publishing stopped</text>"##,
                TOP + ph,
                xx - 4.0,
                TOP + 6.0
            );
        }
        for m in &report.markers {
            let xx = self.x(m.at_s);
            let _ = writeln!(
                s,
                r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#e53935" stroke-width="1.5" stroke-dasharray="6 3"/><text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="end" fill="#c62828">{}</text>"##,
                TOP + ph,
                xx - 4.0,
                TOP + 6.0,
                escape(&m.label)
            );
        }
    }
}

/// The opening tag, background, title and the counts line.
fn header(s: &mut String, report: &Report) {
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">Confirms per second: {} queue {} ({} publishers, {} consumers)</text>"#,
        escape(report.queue_kind.as_str()),
        escape(&report.queue),
        report.publishers,
        report.consumers
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="38" fill="#555">published {} · confirmed {} · consumed {} · lost {} · duplicates {} · run {}</text>"##,
        report.published,
        report.confirmed,
        report.consumed,
        report.lost,
        report.duplicates,
        escape(&report.run_id)
    );
}

/// Legend, in the header row right of the subtitle.
fn legend(s: &mut String) {
    let lx = W - RIGHT - 330.0;
    let ly = 34.0;
    let _ = writeln!(
        s,
        r##"<g><line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#1e88e5" stroke-width="2"/><text x="{:.1}" y="{:.1}">confirms/s</text><line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="#43a047" stroke-width="1.5" stroke-dasharray="5 3"/><text x="{:.1}" y="{:.1}">deliveries/s</text><rect x="{:.1}" y="{:.1}" width="22" height="10" fill="#e53935" fill-opacity="0.2"/><text x="{:.1}" y="{:.1}">outage</text></g>"##,
        lx + 22.0,
        lx + 28.0,
        ly + 4.0,
        lx + 104.0,
        lx + 126.0,
        lx + 132.0,
        ly + 4.0,
        lx + 224.0,
        ly - 5.0,
        lx + 252.0,
        ly + 4.0,
    );
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{RunInfo, check};
    use crate::config::QueueKind;
    use crate::events::{Event, EventKind, MsgId};
    use std::time::Duration;

    #[test]
    fn nice_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(180.0), 200.0);
        assert_eq!(nice_max(201.0), 250.0);
        assert_eq!(time_step(30.0), 5.0);
        assert_eq!(time_step(600.0), 60.0);
    }

    #[test]
    fn draws_series_markers_and_escapes_labels() {
        let mut events = Vec::new();
        for i in 0..100u64 {
            let at = Duration::from_millis(i * 50);
            if (40..70).contains(&i) {
                continue;
            }
            let id = MsgId {
                publisher: 0,
                seq: i,
            };
            events.push(Event {
                at,
                kind: EventKind::Confirmed {
                    id,
                    latency: Duration::from_millis(2),
                },
            });
            events.push(Event {
                at,
                kind: EventKind::Consumed {
                    id,
                    redelivered: false,
                },
            });
        }
        events.push(Event {
            at: Duration::from_millis(2100),
            kind: EventKind::Marker {
                label: "kill <rabbit1> & \"more\"".into(),
            },
        });
        events.sort_by_key(|e| e.at);
        let report = check(
            &events,
            &RunInfo {
                run_id: "r1".into(),
                queue: "q".into(),
                queue_kind: QueueKind::Quorum,
                publishers: 1,
                consumers: 1,
                assignment: crate::mode::ModeAssignment::one(crate::ClientMode::Impatient, 1, 1),
                rate_per_sec: 20,
                end: Duration::from_secs(6),
                drained: true,
                left_in_queue: None,
            },
        );
        let svg = report.timeline_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("kill &lt;rabbit1&gt; &amp; &quot;more&quot;"));
        assert!(!svg.contains("<rabbit1>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("outage 1.55 s"), "{svg}");
        // Well-formed enough for an XML parser: every tag closes.
        assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
    }
}
