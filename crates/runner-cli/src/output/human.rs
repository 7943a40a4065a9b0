//! Output for people: a line per step and host as they finish, every
//! planned action with a coloured unified diff in previews, and a recap.
//! On a terminal, the hosts at work on a step are shown live meanwhile
//! ([`Live`]).

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use console::{Style, style};
use runner_engine::{Mode, Phase, PlannedAction, Recap, Reporter, Status};
use runner_types::Redactor;

use super::live::Live;

pub struct Human {
    redactor: Redactor,
    /// On a terminal only.
    live: Option<Live>,
    started: Mutex<Option<Instant>>,
    step_started: Mutex<Option<Instant>>,
}

impl Human {
    pub fn new(redactor: Redactor) -> Self {
        Human {
            redactor,
            live: Live::detect(),
            started: Mutex::new(None),
            step_started: Mutex::new(None),
        }
    }

    fn print(&self, text: &str) {
        let text = self.redactor.redact(text);
        match &self.live {
            Some(live) => live.print(&text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

/// Plugin-supplied text made safe for a terminal: control characters and
/// escape sequences are shown escaped (`\u{1b}`), never interpreted.
/// Newlines and tabs are kept where `keep_lines` says so (diffs).
fn terminal_safe(text: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !(keep_lines && (c == '\n' || c == '\t')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn status_style(s: Status) -> Style {
    match s {
        Status::Ok => Style::new().green(),
        Status::Changed => Style::new().yellow(),
        Status::Pending => Style::new().magenta(),
        Status::Skipped => Style::new().cyan(),
        Status::Failed | Status::Unreachable => Style::new().red().bold(),
    }
}

impl Reporter for Human {
    fn run_started(&self, run_id: &str, playbook: &str, mode: Mode) {
        *self.started.lock().expect("clock") = Some(Instant::now());
        let mode = if mode.previews() {
            format!(" [{}: nothing will be changed]", mode.name())
        } else {
            String::new()
        };
        self.print(&format!(
            "{} {playbook}{mode}  (run {run_id})",
            style("PLAY").bold()
        ));
    }

    fn note(&self, message: &str) {
        self.print(&format!(
            "{} {}",
            style("note:").dim(),
            terminal_safe(message, false)
        ));
    }

    fn warning(&self, message: &str) {
        self.print(&format!(
            "{} {}",
            style("warning:").yellow().bold(),
            terminal_safe(message, false)
        ));
    }

    fn step_started(&self, index: usize, name: &str, plugin: &str, hosts: &[String]) {
        *self.step_started.lock().expect("clock") = Some(Instant::now());
        self.print(&format!(
            "\n{} {}  {}  {}",
            style(format!("STEP {}", index + 1)).bold(),
            name,
            style(format!("[{plugin}]")).dim(),
            style(format!(
                "on {}",
                if hosts.is_empty() {
                    "no hosts".into()
                } else {
                    hosts.join(", ")
                }
            ))
            .dim()
        ));
    }

    fn planned(&self, _step: usize, host: &str, actions: &[PlannedAction], more_after_apply: bool) {
        for p in actions {
            let at = match &p.item {
                Some(item) => format!("{host} [{}]", terminal_safe(item, false)),
                None => host.to_string(),
            };
            self.print(&format!(
                "  {at}: {} {}",
                style("→").yellow(),
                terminal_safe(&p.action.summary, false)
            ));
            self.print(&format!(
                "  {}   {}",
                " ".repeat(at.chars().count()),
                style(terminal_safe(&p.literal, false)).dim()
            ));
            if let Some(diff) = &p.diff {
                let diff = terminal_safe(diff, true);
                for line in diff.lines() {
                    let styled = if line.starts_with("+++") || line.starts_with("---") {
                        style(line).bold().to_string()
                    } else if line.starts_with('+') {
                        style(line).green().to_string()
                    } else if line.starts_with('-') {
                        style(line).red().to_string()
                    } else if line.starts_with("@@") {
                        style(line).cyan().to_string()
                    } else {
                        line.to_string()
                    };
                    self.print(&format!("      {styled}"));
                }
            }
        }
        if more_after_apply {
            self.print(&format!(
                "  {host}: {}",
                style(
                    "… more actions known after apply (the plugin plans again once these have run)"
                )
                .magenta()
            ));
        }
    }

    fn host_started(&self, _step: usize, host: &str) {
        if let Some(live) = &self.live {
            live.start(host);
        }
    }

    fn action_done(&self, _step: usize, host: &str, summary: &str, error: Option<&str>) {
        let summary = terminal_safe(summary, false);
        match error {
            None => self.print(&format!("  {host}: {} {summary}", style("✓").green())),
            Some(e) => self.print(&format!(
                "  {host}: {} {summary}: {}",
                style("✗").red(),
                terminal_safe(e, false)
            )),
        }
    }

    fn host_done(&self, at: Phase, host: &str, status: Status, message: &str) {
        let label = status_style(status).apply_to(format!("{:11}", status.as_str()));
        let when = match at {
            Phase::Facts => " (gathering facts)",
            Phase::Step(_) => "",
        };
        if let (Some(live), Phase::Step(_)) = (&self.live, at) {
            live.finish(host);
        }
        let elapsed = self
            .step_started
            .lock()
            .expect("clock")
            .map(|t| format!("{:.2}s", t.elapsed().as_secs_f64()))
            .unwrap_or_default();
        let message = if message.is_empty() {
            String::new()
        } else {
            format!("  {}", terminal_safe(message, false))
        };
        self.print(&format!(
            "  {label} {host}{when}{message}  {}",
            style(elapsed).dim()
        ));
    }

    fn step_done(&self, _index: usize) {
        if let Some(live) = &self.live {
            live.clear();
        }
    }

    fn run_done(&self, recap: &Recap) {
        // A run that stopped inside a step leaves no spinner behind.
        if let Some(live) = &self.live {
            live.clear();
        }
        self.print(&format!("\n{}", style("RECAP").bold()));
        for (host, r) in &recap.hosts {
            let bad = r.failed + r.unreachable > 0;
            let name = if bad {
                style(host).red().bold()
            } else {
                style(host).bold()
            };
            self.print(&format!(
                "  {name:20} ok={} changed={} pending={} skipped={} failed={} unreachable={}",
                r.ok, r.changed, r.pending, r.skipped, r.failed, r.unreachable
            ));
        }
        let pending = recap.total(|h| h.pending);
        if pending > 0 {
            self.print(&format!(
                "  {} {pending} step-host(s) pending: what they do is known only after the changes before them apply",
                style("pending").magenta()
            ));
        }
        let secs = self
            .started
            .lock()
            .expect("clock")
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or_default();
        self.print(&format!(
            "  {} {:.2}s, journal {}",
            style("time").dim(),
            secs,
            recap.journal
        ));
    }
}
