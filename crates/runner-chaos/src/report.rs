//! The chaos report: one result per scenario (the probe's full report, the
//! fault's target, the outage while faulted and while healing, how fast the
//! VIP moved, how long until whole), rendered as the HA table
//! (scenario, outage s, published, confirmed, consumed, lost, duplicates),
//! a details table, Markdown for docs/BENCHMARKS.md, `report.json`, and one
//! SVG timeline per scenario.

use std::path::Path;

use anyhow::{Context, Result};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use runner_amqp_probe::events::{Event, EventKind};
use runner_amqp_probe::{Report, ScenarioRow, render_scenario_table};
use serde::Serialize;

/// What one scenario did and cost.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// The scenario's name (`--scenario` value).
    pub scenario: String,
    pub description: String,
    /// The host the fault hit (the first one, for the rolling restart).
    pub target: Option<String>,
    /// From the fault to the VIP on another balancer (balancer scenarios).
    pub vip_moved_s: Option<f64>,
    /// Longest confirm gap around the fault marker(s).
    pub fault_outage_s: Option<f64>,
    /// The longest time one publisher went without a confirm, from the
    /// fault on (the outage columns count confirms of all publishers
    /// together, so a client stuck while another one goes on is seen here).
    pub client_outage_s: Option<f64>,
    /// The probe's connections on the target RabbitMQ node when the fault
    /// hit (`p1` publisher 1, `c2` consumer 2): the clients the fault cut.
    pub clients_on_target: Vec<String>,
    /// Longest confirm gap from the heal marker on (a VIP moving back, a
    /// node rejoining).
    pub recovery_outage_s: Option<f64>,
    /// From the heal (or the last fault of a rolling restart) to whole.
    pub time_to_whole_s: Option<f64>,
    /// The cluster was whole again afterwards.
    pub healed: bool,
    /// What was still wrong when waiting for whole timed out.
    pub problems: Vec<String>,
    /// What the heal did.
    pub heal_actions: Vec<String>,
    /// A step that failed (the scenario's figures may be partial).
    pub error: Option<String>,
    /// The HA table's row (absent when the workload never started).
    pub row: Option<ScenarioRow>,
    /// The probe's report: counts, latency, markers, outages, timeline.
    pub probe: Option<Report>,
}

impl ScenarioResult {
    pub fn new(scenario: &str, description: &str) -> Self {
        ScenarioResult {
            scenario: scenario.into(),
            description: description.into(),
            target: None,
            vip_moved_s: None,
            fault_outage_s: None,
            client_outage_s: None,
            clients_on_target: Vec::new(),
            recovery_outage_s: None,
            time_to_whole_s: None,
            healed: false,
            problems: Vec::new(),
            heal_actions: Vec::new(),
            error: None,
            row: None,
            probe: None,
        }
    }

    /// Nothing confirmed lost, drained, healed, no failed step.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.healed
            && self
                .probe
                .as_ref()
                .is_some_and(|p| p.lost == 0 && p.drained)
    }

    /// Takes the probe's report; splits its per-marker outages into the
    /// fault part (markers before `heal`/`whole`) and the recovery part.
    pub fn set_probe(&mut self, report: Report) {
        let (mut fault, mut recovery) = (None::<f64>, None::<f64>);
        for o in &report.outages {
            let slot = if o.marker == "heal" || o.marker == "whole" {
                &mut recovery
            } else {
                &mut fault
            };
            *slot = Some(slot.map_or(o.seconds, |s| s.max(o.seconds)));
        }
        self.fault_outage_s = fault;
        self.recovery_outage_s = recovery;
        self.row = Some(ScenarioRow::from_report(self.scenario.clone(), &report));
        self.probe = Some(report);
    }
}

/// The longest gap between one publisher's confirms that ends after
/// The clients on the target, or `-` (none, or a balancer scenario).
fn on_target(s: &ScenarioResult) -> String {
    if s.clients_on_target.is_empty() {
        "-".into()
    } else {
        s.clients_on_target.join(" ")
    }
}

/// `from` (seconds since the start), up to `end`: the worst client's outage.
pub fn client_outage(events: &[Event], from: f64, end: f64) -> Option<f64> {
    let mut per: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for e in events {
        if let EventKind::Confirmed { id, .. } = &e.kind {
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

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    /// UTC, RFC 3339.
    pub started_at: String,
    /// `ours` or `seed`, as given (`--settings`).
    pub settings: String,
    /// What the balancers' configs look like (from lb1's files).
    pub balancer_config: String,
    pub rabbitmq: String,
    pub queue_kind: String,
    pub rate_per_sec: u32,
    pub publishers: u32,
    pub consumers: u32,
    pub fault_s: f64,
    pub partition_s: f64,
    pub scenarios: Vec<ScenarioResult>,
    /// Scenarios not run because the cluster did not heal.
    pub not_run: Vec<String>,
    /// Every scenario ok and none left out.
    pub ok: bool,
}

impl ChaosReport {
    pub fn rows(&self) -> Vec<ScenarioRow> {
        self.scenarios
            .iter()
            .map(|s| {
                s.row.clone().unwrap_or(ScenarioRow {
                    scenario: s.scenario.clone(),
                    outage_s: None,
                    published: 0,
                    confirmed: 0,
                    consumed: 0,
                    lost: 0,
                    duplicates: 0,
                })
            })
            .collect()
    }

    /// The HA table, then the details.
    pub fn render(&self) -> String {
        let mut out = format!(
            "RabbitMQ {} ({} queue), {} balancer settings, {} msg/s\n",
            self.rabbitmq, self.queue_kind, self.settings, self.rate_per_sec
        );
        out.push_str(&render_scenario_table(&self.rows()));
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(vec![
            "scenario",
            "target",
            "clients on it",
            "fault outage s",
            "worst client s",
            "recovery outage s",
            "VIP moved s",
            "to whole s",
            "reconnects",
            "result",
        ]);
        for s in &self.scenarios {
            t.add_row(vec![
                s.scenario.clone(),
                s.target.clone().unwrap_or_else(|| "-".into()),
                on_target(s),
                secs(s.fault_outage_s),
                secs(s.client_outage_s),
                secs(s.recovery_outage_s),
                secs(s.vip_moved_s),
                secs(s.time_to_whole_s),
                s.probe
                    .as_ref()
                    .map_or("-".into(), |p| p.reconnects.to_string()),
                verdict(s),
            ]);
        }
        for i in 3..=8 {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        out.push_str(&t.to_string());
        out.push('\n');
        for s in &self.scenarios {
            if let Some(e) = &s.error {
                out.push_str(&format!("{}: {e}\n", s.scenario));
            }
            if !s.healed && !s.problems.is_empty() {
                out.push_str(&format!(
                    "{}: not whole again: {}\n",
                    s.scenario,
                    s.problems.join("; ")
                ));
            }
        }
        if !self.not_run.is_empty() {
            out.push_str(&format!(
                "not run (the cluster did not heal): {}\n",
                self.not_run.join(", ")
            ));
        }
        out
    }

    /// The HA table and the details as one Markdown table.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| scenario | outage s | published | confirmed | consumed | lost | duplicates | worst client s | clients on target | recovery outage s | VIP moved s | to whole s |\n\
             |---|--:|--:|--:|--:|--:|--:|--:|:-:|--:|--:|--:|\n",
        );
        for (r, x) in self.rows().iter().zip(&self.scenarios) {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.scenario,
                secs(r.outage_s),
                r.published,
                r.confirmed,
                r.consumed,
                r.lost,
                r.duplicates,
                secs(x.client_outage_s),
                on_target(x),
                secs(x.recovery_outage_s),
                secs(x.vip_moved_s),
                secs(x.time_to_whole_s),
            ));
        }
        s
    }

    /// Writes `report.json`, `report.md` and `<scenario>.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(
            dir.join("report.md"),
            format!(
                "RabbitMQ {} ({} queue), {} balancer settings, {} msg/s\n\n{}",
                self.rabbitmq,
                self.queue_kind,
                self.settings,
                self.rate_per_sec,
                self.markdown()
            ),
        )?;
        for s in &self.scenarios {
            if let Some(p) = &s.probe {
                std::fs::write(dir.join(format!("{}.svg", s.scenario)), p.timeline_svg())?;
            }
        }
        Ok(())
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.2}"))
}

fn verdict(s: &ScenarioResult) -> String {
    if s.ok() {
        return "ok".into();
    }
    let mut why = Vec::new();
    if let Some(p) = &s.probe {
        if p.lost > 0 {
            why.push(format!("LOST {}", p.lost));
        }
        if !p.drained {
            why.push("not drained".into());
        }
    } else {
        why.push("no workload".into());
    }
    if !s.healed {
        why.push("not healed".into());
    }
    if s.error.is_some() {
        why.push("error".into());
    }
    why.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_client() {
        use runner_amqp_probe::events::MsgId;
        use std::time::Duration;
        let ev = |p: u32, ms: u64| Event {
            at: Duration::from_millis(ms),
            kind: EventKind::Confirmed {
                id: MsgId {
                    publisher: p,
                    seq: ms,
                },
                latency: Duration::from_millis(1),
            },
        };
        // Publisher 0 goes on; publisher 1 stalls from 2 s to 9 s.
        let events: Vec<Event> = (0..100)
            .map(|i| ev(0, i * 100))
            .chain([ev(1, 1000), ev(1, 2000), ev(1, 9000), ev(1, 9900)])
            .collect();
        let worst = client_outage(&events, 3.0, 10.0).unwrap();
        assert!((worst - 7.0).abs() < 1e-9, "{worst}");
        // Gaps that ended before the fault do not count.
        let worst = client_outage(&events, 9.5, 10.0).unwrap();
        assert!(worst < 1.0, "{worst}");
    }

    #[test]
    fn renders_without_probe() {
        let mut s = ScenarioResult::new("crash-balancer", "crash the VIP holder");
        s.error = Some("no VIP holder".into());
        let r = ChaosReport {
            started_at: "2025-01-01T00:00:00Z".into(),
            settings: "ours".into(),
            balancer_config: String::new(),
            rabbitmq: "4.0".into(),
            queue_kind: "quorum".into(),
            rate_per_sec: 200,
            publishers: 2,
            consumers: 2,
            fault_s: 20.0,
            partition_s: 30.0,
            scenarios: vec![s],
            not_run: vec!["rolling-restart".into()],
            ok: false,
        };
        let text = r.render();
        assert!(text.contains("crash-balancer"), "{text}");
        assert!(text.contains("no workload, not healed, error"), "{text}");
        assert!(text.contains("not run (the cluster did not heal): rolling-restart"));
        assert!(
            r.markdown()
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("| crash-balancer | - |")
        );
    }
}
