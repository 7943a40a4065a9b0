//! `register:`: how a step ended on each host, and what its last probe
//! answered, as a variable later steps' `when` and parameters read. Those
//! steps are prepared when they run; in a preview, where the registering
//! step is pending on a host, they are pending there too.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::prepare::Prepare;
use super::{RunError, Shared, StepJobs};
use crate::planner::Plugin;
use crate::playbook::Step;
use crate::report::Status;

impl Shared {
    /// `step` ended `status` on `host`: what it registers there.
    pub(super) fn register(&self, step: &Step, host: &str, status: Status) {
        let Some(name) = &step.register else {
            return;
        };
        let probe = self
            .last_probe
            .lock()
            .expect("last probe")
            .remove(&(step.index, host.to_string()));
        let value = registered_value(status, probe.as_ref());
        self.registered
            .lock()
            .expect("registered")
            .entry(host.to_string())
            .or_default()
            .insert(name.clone(), value);
    }

    /// Why `step` is known only after apply on `host`, if it reads a
    /// registered variable that is pending there.
    pub(super) fn waits_on_register(&self, step: usize, host: &str) -> Option<String> {
        self.waits_on_register
            .lock()
            .expect("waits")
            .get(&(step, host.to_string()))
            .cloned()
    }

    /// The jobs of a step that reads registered variables, prepared now
    /// with each host's; a host where one it reads is pending waits.
    pub(super) fn registered_jobs(
        &self,
        prepare: &Prepare<'_>,
        step: &Step,
        targets: &[String],
        plugins: &[std::sync::Arc<Plugin>],
        down: &HashSet<String>,
    ) -> Result<StepJobs, RunError> {
        let registered = self.registered.lock().expect("registered").clone();
        let empty = Map::new();
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for h in targets.iter().filter(|h| !down.contains(*h)) {
            let vars = registered.get(h).unwrap_or(&empty);
            let pending: Vec<&String> = vars
                .iter()
                .filter(|(name, v)| step.mentions(name) && v["pending"] == true)
                .map(|(name, _)| name)
                .collect();
            match pending.first() {
                None => ready.push(h.clone()),
                Some(name) => {
                    let why = format!(
                        "known after apply: it reads `{name}`, which the step that registers it leaves pending on this host"
                    );
                    self.waits_on_register
                        .lock()
                        .expect("waits")
                        .insert((step.index, h.clone()), why);
                    waiting.push(h.clone());
                }
            }
        }
        let mut jobs = prepare.step_jobs(step, &ready, plugins, self, |h| {
            registered.get(h).unwrap_or(&empty)
        })?;
        jobs.extend(waiting.into_iter().map(|h| (h, vec![])));
        Ok(jobs)
    }
}

/// What a step registers: its status as flags (as Ansible's `changed`,
/// `failed`, `skipped`), `pending` in a preview, and its last probe's
/// `rc`, `stdout`, `stderr` and `stdout_lines` (null without one).
pub(super) fn registered_value(status: Status, probe: Option<&Value>) -> Value {
    let text = |k: &str| probe.and_then(|p| p[k].as_str()).map(str::to_string);
    let stdout = text("stdout");
    json!({
        "status": status.as_str(),
        "changed": status == Status::Changed,
        "failed": status.is_failure(),
        "skipped": status == Status::Skipped,
        "pending": status == Status::Pending,
        "rc": probe.and_then(|p| p["exit_code"].as_i64()),
        "stdout": stdout,
        "stderr": text("stderr"),
        "stdout_lines": stdout.map(|s| s.lines().map(str::to_string).collect::<Vec<_>>()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_value_has_ansibles_fields() {
        let probe = json!({"exit_code": 1, "stdout": "a\nb\n", "stderr": "no"});
        let v = registered_value(Status::Ok, Some(&probe));
        assert_eq!(v["rc"], 1);
        assert_eq!(v["stdout_lines"], json!(["a", "b"]));
        assert_eq!(
            (v["changed"].clone(), v["pending"].clone()),
            (json!(false), json!(false))
        );
        let v = registered_value(Status::Pending, None);
        assert_eq!(v["pending"], true);
        assert!(v["rc"].is_null());
        assert_eq!(registered_value(Status::Skipped, None)["skipped"], true);
    }
}
