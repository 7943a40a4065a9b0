//! What an earlier run finished, read back from its journal for `--resume`.

use std::collections::HashMap;

use crate::journal::{self, Entry};
use crate::report::Status;
use crate::run::Mode;

/// What an earlier run finished, for `--resume`.
#[derive(Default)]
pub(super) struct ResumeState {
    pub(super) run_id: String,
    /// The journal resumed.
    pub(super) path: std::path::PathBuf,
    /// (step, host) → (status, inputs digest) of completed step-hosts.
    pub(super) done: HashMap<(usize, String), (Status, String)>,
    /// (step, host) → digests of actions that completed.
    pub(super) actions: HashMap<(usize, String), Vec<String>>,
    /// (step, host) → digests of actions started but never finished.
    pub(super) interrupted: HashMap<(usize, String), Vec<String>>,
}

impl ResumeState {
    pub(super) fn from_journal(path: &std::path::Path) -> anyhow::Result<ResumeState> {
        if let Some(mode) = journal::mode_of(path)
            && mode != Mode::Apply
        {
            anyhow::bail!(
                "{} is a {} run: it changed nothing, so there is nothing to resume",
                path.display(),
                mode.name()
            );
        }
        let entries = journal::read(path)?;
        let mut state = ResumeState {
            path: path.to_path_buf(),
            ..Default::default()
        };
        let mut started: Vec<(usize, String, String)> = Vec::new();
        for e in entries {
            match e {
                Entry::Run { run_id, .. } => state.run_id = run_id,
                Entry::HostDone {
                    step,
                    host,
                    status,
                    inputs,
                    ..
                } if matches!(status, Status::Ok | Status::Changed | Status::Skipped) => {
                    state.done.insert((step, host), (status, inputs));
                }
                Entry::ActionDone {
                    step,
                    host,
                    digest,
                    ok: true,
                    ..
                } => state.actions.entry((step, host)).or_default().push(digest),
                Entry::ActionStart {
                    step, host, digest, ..
                } => started.push((step, host, digest)),
                _ => {}
            }
        }
        for (step, host, digest) in started {
            let key = (step, host);
            let finished = state.actions.get(&key).is_some_and(|d| d.contains(&digest));
            if !finished {
                state.interrupted.entry(key).or_default().push(digest);
            }
        }
        Ok(state)
    }
}
