//! `--output json`: one JSON object per line, per event. Every event has
//! `ts` (RFC 3339, UTC, milliseconds); events that end something have
//! `duration_ms` (see docs/usage.md).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use runner_engine::{Mode, Phase, PlannedAction, Recap, Reporter, Status};
use runner_types::Redactor;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

pub struct Json {
    redactor: Redactor,
    /// Held while an event is stamped and written, so `ts` never goes
    /// back from one line to the next.
    out: Mutex<Box<dyn Write + Send>>,
    clocks: Mutex<Clocks>,
}

/// When what is still going on began.
struct Clocks {
    run: Instant,
    steps: HashMap<usize, Instant>,
    hosts: HashMap<(usize, String), Instant>,
    actions: HashMap<(usize, String), Instant>,
}

/// Milliseconds since `start`.
fn millis(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Now, as `2024-05-01T12:34:56.789Z`: every JSON event's `ts`.
pub fn timestamp() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc().format(format).unwrap_or_default()
}

impl Json {
    pub fn new(redactor: Redactor) -> Self {
        Self::with_writer(redactor, Box::new(std::io::stdout()))
    }

    fn with_writer(redactor: Redactor, out: Box<dyn Write + Send>) -> Self {
        Json {
            redactor,
            out: Mutex::new(out),
            clocks: Mutex::new(Clocks {
                run: Instant::now(),
                steps: HashMap::new(),
                hosts: HashMap::new(),
                actions: HashMap::new(),
            }),
        }
    }

    fn emit(&self, mut v: Value) {
        let mut out = self.out.lock().expect("output");
        v["ts"] = json!(timestamp());
        let line = self.redactor.redact_json(&v).to_string();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, Clocks> {
        self.clocks.lock().expect("clocks")
    }

    /// Milliseconds since the host's work on the step (or its action)
    /// began, if it was reported.
    fn took(&self, action: bool, step: usize, host: &str) -> Option<u64> {
        let mut c = self.clocks();
        let map = if action { &mut c.actions } else { &mut c.hosts };
        map.remove(&(step, host.to_string())).map(millis)
    }
}

impl Reporter for Json {
    fn run_started(&self, run_id: &str, playbook: &str, mode: Mode) {
        self.clocks().run = Instant::now();
        self.emit(json!({"event": "run", "run_id": run_id, "playbook": playbook, "mode": mode}));
    }
    fn note(&self, message: &str) {
        self.emit(json!({"event": "note", "message": message}));
    }
    fn warning(&self, message: &str) {
        self.emit(json!({"event": "warning", "message": message}));
    }
    fn step_started(&self, index: usize, name: &str, plugin: &str, hosts: &[String]) {
        self.clocks().steps.insert(index, Instant::now());
        self.emit(json!({"event": "step", "step": index + 1, "name": name, "plugin": plugin, "hosts": hosts}));
    }
    fn planned(&self, step: usize, host: &str, actions: &[PlannedAction], more_after_apply: bool) {
        self.emit(json!({"event": "planned", "step": step + 1, "host": host, "actions": actions, "more_after_apply": more_after_apply}));
    }
    fn host_started(&self, step: usize, host: &str) {
        let key = (step, host.to_string());
        self.clocks().hosts.insert(key, Instant::now());
    }
    fn action_started(&self, step: usize, host: &str) {
        let key = (step, host.to_string());
        self.clocks().actions.insert(key, Instant::now());
    }
    fn action_done(&self, step: usize, host: &str, summary: &str, error: Option<&str>) {
        let took = self.took(true, step, host);
        self.emit(json!({"event": "action", "step": step + 1, "host": host, "summary": summary, "error": error, "duration_ms": took}));
    }
    fn host_done(&self, at: Phase, host: &str, status: Status, message: &str) {
        let mut event = json!({"event": "host", "step": Value::Null, "host": host, "status": status, "message": message});
        if let Phase::Step(i) = at {
            event["step"] = json!(i + 1);
            event["duration_ms"] = json!(self.took(false, i, host));
        }
        self.emit(event);
    }
    fn step_done(&self, index: usize) {
        let took = self.clocks().steps.remove(&index).map(millis);
        self.emit(json!({"event": "step_done", "step": index + 1, "duration_ms": took}));
    }
    fn run_done(&self, recap: &Recap) {
        let took = millis(self.clocks().run);
        self.emit(json!({"event": "recap", "outcome": recap.outcome(), "recap": recap, "duration_ms": took}));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn events(buffer: &Buffer) -> Vec<Value> {
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A run of one step on one host with one action, 20 ms each.
    fn a_run(j: &Json) {
        let pause = || std::thread::sleep(std::time::Duration::from_millis(20));
        j.run_started("r1", "site", Mode::Apply);
        j.step_started(0, "s", "command", &["h1".into()]);
        j.host_started(0, "h1");
        j.action_started(0, "h1");
        pause();
        j.action_done(0, "h1", "run true", None);
        j.host_done(Phase::Step(0), "h1", Status::Changed, "");
        j.step_done(0);
        j.run_done(&Recap::default());
    }

    #[test]
    fn every_event_is_stamped_and_what_ends_has_its_duration() {
        let buffer = Buffer::default();
        let j = Json::with_writer(Redactor::new(), Box::new(buffer.clone()));
        a_run(&j);
        let events = events(&buffer);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["run", "step", "action", "host", "step_done", "recap"]
        );
        let mut last = String::new();
        for e in &events {
            let ts = e["ts"].as_str().unwrap().to_string();
            let parsed = OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339);
            assert!(parsed.is_ok(), "{ts}");
            assert_eq!(ts.len(), "2024-05-01T12:34:56.789Z".len(), "{ts}");
            assert!(ts.ends_with('Z') && ts >= last, "{ts} after {last}");
            last = ts;
            let ends = !matches!(e["event"].as_str(), Some("run" | "step"));
            assert_eq!(e.get("duration_ms").is_some(), ends, "{e}");
            if ends {
                let ms = e["duration_ms"].as_u64().unwrap();
                assert!((20..10_000).contains(&ms), "{e}");
            }
        }
    }
}
