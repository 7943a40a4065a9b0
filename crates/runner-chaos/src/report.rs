//! The chaos report: one result per scenario (the workload's full report, the
//! fault's target, the outage while faulted and while healing, how fast the
//! VIP moved, how long until whole), rendered as the HA table
//! (scenario, outage s, published, confirmed, consumed, lost, duplicates),
//! a details table, Markdown for docs/BENCHMARKS.md, `report.json`, and one
//! SVG timeline per scenario.

use std::path::Path;

use anyhow::{Context, Result};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use runner_amqp_workload::{ClientMode, ModeReport, Report, ScenarioRow, render_scenario_table};
use serde::Serialize;

/// What one client mode's clients lived through in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeResult {
    pub mode: ClientMode,
    /// The longest time one of this mode's publishers went without a
    /// confirm, from the fault on.
    pub worst_client_s: Option<f64>,
    /// Its publishers (`p<id>` in `clients_on_target`).
    pub publisher_ids: Vec<u32>,
    pub published: u64,
    pub confirmed: u64,
    /// Confirmed messages of this mode's publishers never consumed: must
    /// be 0.
    pub lost: u64,
    pub duplicates: u64,
    pub reconnects: u64,
}

impl ModeResult {
    pub fn new(m: &ModeReport, worst_client_s: Option<f64>) -> Self {
        ModeResult {
            mode: m.mode,
            worst_client_s,
            publisher_ids: m.publisher_ids.clone(),
            published: m.published,
            confirmed: m.confirmed,
            lost: m.lost,
            duplicates: m.duplicates,
            reconnects: m.reconnects,
        }
    }
}

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
    /// The longest time one publisher of the first client mode went
    /// without a confirm, from the fault on (the outage columns count
    /// confirms of all publishers together, so a client stuck while another
    /// one goes on is seen here). Every mode's: `client_modes`.
    pub client_outage_s: Option<f64>,
    /// Per client mode (in the order run): the worst client and the counts.
    pub client_modes: Vec<ModeResult>,
    /// The workload's connections on the target RabbitMQ node when the fault
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
    /// restart-each-host: each host's restart and how long until whole.
    pub host_restarts: Vec<crate::restarts::HostRestart>,
    /// The HA table's row (absent when the workload never started).
    pub row: Option<ScenarioRow>,
    /// The workload's report: counts, latency, markers, outages, timeline.
    pub workload: Option<Report>,
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
            client_modes: Vec::new(),
            clients_on_target: Vec::new(),
            recovery_outage_s: None,
            time_to_whole_s: None,
            healed: false,
            problems: Vec::new(),
            heal_actions: Vec::new(),
            error: None,
            host_restarts: Vec::new(),
            row: None,
            workload: None,
        }
    }

    /// Nothing confirmed lost (in any client mode), drained, healed, no
    /// failed step.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.healed
            && self.client_modes.iter().all(|m| m.lost == 0)
            && self
                .workload
                .as_ref()
                .is_some_and(|p| p.lost == 0 && p.drained)
    }

    /// The worst client of `mode`, when that mode ran.
    pub fn worst_client(&self, mode: ClientMode) -> Option<f64> {
        self.client_modes
            .iter()
            .find(|m| m.mode == mode)
            .and_then(|m| m.worst_client_s)
    }

    /// Takes the workload's report; splits its per-marker outages into the
    /// fault part (markers before `heal`/`whole`) and the recovery part.
    pub fn set_workload(&mut self, report: Report) {
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
        self.workload = Some(report);
    }
}

/// The clients on the target, or `-` (none, or a balancer scenario).
fn on_target(s: &ScenarioResult) -> String {
    if s.clients_on_target.is_empty() {
        "-".into()
    } else {
        s.clients_on_target.join(" ")
    }
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
    /// The clients spoke AMQPS (HAProxy's TLS port, trusting the CA).
    pub tls: bool,
    /// New messages per second over each client mode's publishers.
    pub rate_per_sec: u32,
    /// Publishers and consumers per client mode.
    pub publishers: u32,
    pub consumers: u32,
    /// The client modes run side by side in every scenario.
    pub client_modes: Vec<ClientMode>,
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

    /// How the clients connected.
    fn transport(&self) -> &'static str {
        if self.tls { "AMQPS" } else { "AMQP" }
    }

    /// The HA table, then the details.
    pub fn render(&self) -> String {
        let modes: Vec<&str> = self.client_modes.iter().map(|m| m.as_str()).collect();
        let mut out = format!(
            "RabbitMQ {} ({} queue), {} balancer settings, {}, {} msg/s{}\n",
            self.rabbitmq,
            self.queue_kind,
            self.settings,
            self.transport(),
            self.rate_per_sec,
            if modes.len() > 1 {
                format!(" per client mode ({})", modes.join(", "))
            } else {
                String::new()
            }
        );
        out.push_str(&render_scenario_table(&self.rows()));
        out.push_str(&self.details_table());
        out.push('\n');
        out.push_str(&self.notes());
        out
    }

    /// The worst-client columns: one per client mode run (one column of
    /// `client_outage_s` for a report without modes).
    fn worst_columns(&self) -> Vec<(String, Option<ClientMode>)> {
        if self.client_modes.is_empty() {
            return vec![("worst client s".into(), None)];
        }
        self.client_modes
            .iter()
            .map(|m| (format!("worst {} client s", m.as_str()), Some(*m)))
            .collect()
    }

    fn worst_cells(&self, s: &ScenarioResult) -> Vec<String> {
        self.worst_columns()
            .into_iter()
            .map(|(_, m)| secs(m.map_or(s.client_outage_s, |m| s.worst_client(m))))
            .collect()
    }

    /// Per scenario: target, outages, worst client per mode, VIP, whole.
    fn details_table(&self) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled);
        let worst = self.worst_columns();
        let mut header: Vec<String> = ["scenario", "target", "clients on it", "fault outage s"]
            .map(String::from)
            .to_vec();
        header.extend(worst.iter().map(|(h, _)| h.clone()));
        header.extend(
            [
                "recovery outage s",
                "VIP moved s",
                "to whole s",
                "reconnects",
                "result",
            ]
            .map(String::from),
        );
        t.set_header(header);
        for s in &self.scenarios {
            let mut row = vec![
                s.scenario.clone(),
                s.target.clone().unwrap_or_else(|| "-".into()),
                on_target(s),
                secs(s.fault_outage_s),
            ];
            row.extend(self.worst_cells(s));
            row.extend([
                secs(s.recovery_outage_s),
                secs(s.vip_moved_s),
                secs(s.time_to_whole_s),
                s.workload
                    .as_ref()
                    .map_or("-".into(), |p| p.reconnects.to_string()),
                verdict(s),
            ]);
            t.add_row(row);
        }
        for i in 3..=(7 + worst.len()) {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        t.to_string()
    }

    /// Errors, what was not whole, per-host restarts and what was not run.
    fn notes(&self) -> String {
        let mut out = String::new();
        for s in &self.scenarios {
            if !s.host_restarts.is_empty() {
                out.push_str(&format!(
                    "{}: {}\n",
                    s.scenario,
                    crate::restarts::summary(&s.host_restarts)
                ));
            }
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
        let worst = self.worst_columns();
        let names: Vec<&str> = worst.iter().map(|(h, _)| h.as_str()).collect();
        let mut s = format!(
            "| scenario | outage s | published | confirmed | consumed | lost | duplicates | {} | clients on target | recovery outage s | VIP moved s | to whole s |\n\
             |---|--:|--:|--:|--:|--:|--:|{}:-:|--:|--:|--:|\n",
            names.join(" | "),
            "--:|".repeat(worst.len())
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
                self.worst_cells(x).join(" | "),
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
                "RabbitMQ {} ({} queue), {} balancer settings, {}, {} msg/s\n\n{}",
                self.rabbitmq,
                self.queue_kind,
                self.settings,
                self.transport(),
                self.rate_per_sec,
                self.markdown()
            ),
        )?;
        for s in &self.scenarios {
            if let Some(p) = &s.workload {
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
    if let Some(p) = &s.workload {
        if p.lost > 0 {
            why.push(format!("LOST {}", p.lost));
        }
        for m in s.client_modes.iter().filter(|m| m.lost > 0) {
            why.push(format!("{} lost {}", m.mode.as_str(), m.lost));
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

    fn report(scenarios: Vec<ScenarioResult>, modes: Vec<ClientMode>) -> ChaosReport {
        ChaosReport {
            started_at: "2025-01-01T00:00:00Z".into(),
            settings: "ours".into(),
            balancer_config: String::new(),
            rabbitmq: "4.0".into(),
            queue_kind: "quorum".into(),
            tls: false,
            rate_per_sec: 200,
            publishers: 2,
            consumers: 2,
            client_modes: modes,
            fault_s: 20.0,
            partition_s: 30.0,
            scenarios,
            not_run: vec![],
            ok: false,
        }
    }

    fn mode(mode: ClientMode, worst: f64, lost: u64) -> ModeResult {
        ModeResult {
            mode,
            worst_client_s: Some(worst),
            publisher_ids: vec![0, 1],
            published: 10,
            confirmed: 10,
            lost,
            duplicates: 0,
            reconnects: 1,
        }
    }

    #[test]
    fn a_worst_client_column_per_mode() {
        let mut s = ScenarioResult::new("partition-rabbit-host", "cut it off");
        s.client_modes = vec![
            mode(ClientMode::Impatient, 14.48, 0),
            mode(ClientMode::Stock, 69.1, 0),
        ];
        s.client_outage_s = Some(14.48);
        s.healed = true;
        let r = report(
            vec![s.clone()],
            vec![ClientMode::Impatient, ClientMode::Stock],
        );
        let text = r.render();
        assert!(text.contains("worst impatient client s"), "{text}");
        assert!(text.contains("worst stock client s"), "{text}");
        assert!(text.contains("14.48") && text.contains("69.10"), "{text}");
        let md = r.markdown();
        let lines: Vec<&str> = md.lines().collect();
        let cols = |l: &str| l.matches('|').count();
        assert_eq!(cols(lines[0]), cols(lines[1]), "{md}");
        assert_eq!(cols(lines[0]), cols(lines[2]), "{md}");
        assert!(lines[2].contains("| 14.48 | 69.10 |"), "{md}");
        assert_eq!(s.worst_client(ClientMode::Stock), Some(69.1));

        // Loss in one mode alone fails the scenario and says which.
        s.client_modes[1].lost = 3;
        assert!(!s.ok());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["client_modes"][1]["mode"], "stock");
        assert_eq!(json["client_modes"][1]["lost"], 3);
        assert!(json.get("client_outage_s").is_some(), "the old field stays");
    }

    #[test]
    fn one_column_without_modes() {
        let r = report(vec![ScenarioResult::new("x", "y")], vec![]);
        assert!(r.render().contains("worst client s"));
        let md = r.markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0].matches('|').count(), lines[2].matches('|').count());
    }

    #[test]
    fn renders_without_workload() {
        let mut s = ScenarioResult::new("crash-balancer", "crash the VIP holder");
        s.error = Some("no VIP holder".into());
        let mut r = report(vec![s], vec![ClientMode::Impatient]);
        r.not_run = vec!["rolling-restart".into()];
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
