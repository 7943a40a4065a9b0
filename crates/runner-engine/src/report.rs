//! What a run tells its caller as it goes: the [`Reporter`] events the CLI
//! renders (human or JSON), and the per-host statuses of the recap.

use std::collections::BTreeMap;

use runner_types::Action;
use serde::{Deserialize, Serialize};

/// How a step ended on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to change (in a preview: nothing would change).
    Ok,
    /// Changed (in a preview: would change).
    Changed,
    /// Previews only: what the step does is known only after changes
    /// planned earlier in the run apply ("known after apply").
    Pending,
    Skipped,
    Failed,
    Unreachable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Pending => "pending",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
        }
    }

    /// Failed or unreachable: the host takes no part in later steps.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Unreachable)
    }
}

/// Where in a run a host result belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Gathering facts, before the first step.
    Facts,
    /// A step, by its index in the playbook (0-based).
    Step(usize),
}

/// One planned action as shown in a preview: redacted, with a unified diff
/// for file writes.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedAction {
    /// Redacted.
    pub action: Action,
    /// [`Action::literal`] of the real action, redacted: a masked file's
    /// real size, not the mask's.
    pub literal: String,
    pub diff: Option<String>,
    /// The item of the step's loop it is planned for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// Per-host counts for the recap.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostRecap {
    pub ok: usize,
    pub changed: usize,
    pub pending: usize,
    pub skipped: usize,
    pub failed: usize,
    pub unreachable: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Recap {
    pub run_id: String,
    pub journal: String,
    pub hosts: BTreeMap<String, HostRecap>,
    /// A saved plan was refused because the hosts changed since.
    pub stale: Option<String>,
}

impl Recap {
    pub fn count(&mut self, host: &str, status: Status) {
        let r = self.hosts.entry(host.to_string()).or_default();
        match status {
            Status::Ok => r.ok += 1,
            Status::Changed => r.changed += 1,
            Status::Pending => r.pending += 1,
            Status::Skipped => r.skipped += 1,
            Status::Failed => r.failed += 1,
            Status::Unreachable => r.unreachable += 1,
        }
    }

    /// What a script needs to know of a finished run.
    pub fn outcome(&self) -> RecapOutcome {
        if self.stale.is_some() {
            RecapOutcome::Stale
        } else if self.any(|h| h.failed) {
            RecapOutcome::Failed
        } else if self.any(|h| h.unreachable) {
            RecapOutcome::Unreachable
        } else if self.any(|h| h.changed + h.pending) {
            RecapOutcome::Changes
        } else {
            RecapOutcome::NoChanges
        }
    }

    pub fn any(&self, f: impl Fn(&HostRecap) -> usize) -> bool {
        self.hosts.values().any(|h| f(h) > 0)
    }

    pub fn total(&self, f: impl Fn(&HostRecap) -> usize) -> usize {
        self.hosts.values().map(f).sum()
    }
}

/// The result of a run as a whole, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecapOutcome {
    /// A saved plan was refused; nothing ran.
    Stale,
    Failed,
    Unreachable,
    /// Something changed, would change, or is pending.
    Changes,
    NoChanges,
}

/// Receives a run's progress. All text is already redacted.
pub trait Reporter: Send + Sync {
    fn run_started(&self, _run_id: &str, _playbook: &str, _mode: crate::Mode) {}
    fn note(&self, _message: &str) {}
    /// Something the user should know was not done as they may expect (an
    /// inventory variable the runner ignores).
    fn warning(&self, message: &str) {
        self.note(&format!("warning: {message}"));
    }
    fn step_started(&self, _index: usize, _name: &str, _plugin: &str, _hosts: &[String]) {}
    /// In dry-run and plan (and for pending parts of a saved plan): what
    /// the step would do on a host. `more_after_apply`: the plugin plans
    /// again once these have run, so more may follow.
    fn planned(
        &self,
        _step: usize,
        _host: &str,
        _actions: &[PlannedAction],
        _more_after_apply: bool,
    ) {
    }
    /// A host's work on a step began (it holds a fork). Its `host_done`
    /// for that step follows.
    fn host_started(&self, _step: usize, _host: &str) {}
    /// An action is about to run on a host; its `action_done` follows.
    fn action_started(&self, _step: usize, _host: &str) {}
    fn action_done(&self, _step: usize, _host: &str, _summary: &str, _error: Option<&str>) {}
    fn host_done(&self, _at: Phase, _host: &str, _status: Status, _message: &str) {}
    fn step_done(&self, _index: usize) {}
    fn run_done(&self, _recap: &Recap) {}
}

/// A reporter that shows nothing (replay, benchmarks).
pub struct Silent;
impl Reporter for Silent {}
