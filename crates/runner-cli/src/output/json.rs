//! `--output json`: one JSON object per line, per event.

use std::io::Write;

use runner_engine::{Mode, Phase, PlannedAction, Recap, Reporter, Status};
use runner_types::Redactor;
use serde_json::{Value, json};

pub struct Json {
    redactor: Redactor,
}

impl Json {
    pub fn new(redactor: Redactor) -> Self {
        Json { redactor }
    }

    fn emit(&self, v: Value) {
        let line = self.redactor.redact_json(&v).to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

impl Reporter for Json {
    fn run_started(&self, run_id: &str, playbook: &str, mode: Mode) {
        self.emit(json!({"event": "run", "run_id": run_id, "playbook": playbook, "mode": mode}));
    }
    fn note(&self, message: &str) {
        self.emit(json!({"event": "note", "message": message}));
    }
    fn warning(&self, message: &str) {
        self.emit(json!({"event": "warning", "message": message}));
    }
    fn step_started(&self, index: usize, name: &str, plugin: &str, hosts: &[String]) {
        self.emit(json!({"event": "step", "step": index + 1, "name": name, "plugin": plugin, "hosts": hosts}));
    }
    fn planned(&self, step: usize, host: &str, actions: &[PlannedAction], more_after_apply: bool) {
        self.emit(json!({"event": "planned", "step": step + 1, "host": host, "actions": actions, "more_after_apply": more_after_apply}));
    }
    fn action_done(&self, step: usize, host: &str, summary: &str, error: Option<&str>) {
        self.emit(json!({"event": "action", "step": step + 1, "host": host, "summary": summary, "error": error}));
    }
    fn host_done(&self, at: Phase, host: &str, status: Status, message: &str) {
        let step = match at {
            Phase::Facts => Value::Null,
            Phase::Step(i) => json!(i + 1),
        };
        self.emit(json!({"event": "host", "step": step, "host": host, "status": status, "message": message}));
    }
    fn run_done(&self, recap: &Recap) {
        self.emit(json!({"event": "recap", "outcome": recap.outcome(), "recap": recap}));
    }
}
