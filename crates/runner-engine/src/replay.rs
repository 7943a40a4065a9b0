//! `runner replay`: re-plan every recorded plan call of a journal against
//! its recorded observations, with no hosts, and list the differences.

use std::sync::Arc;

use anyhow::Context;
use runner_plugin_host::PlanRequest;
use runner_types::capability::Grant;
use runner_types::{Action, Plan};
use serde_json::Value;

use crate::journal::{self, Entry, Observation};
use crate::observer::ReplayObserver;
use crate::planner::Planner;

/// Run `runner replay`: re-plan every recorded plan call against its
/// recorded observations, with no hosts, and list the differences.
pub async fn replay(
    planner: &dyn Planner,
    journal_path: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    let mut differences = Vec::new();
    let mut calls = 0;
    for entry in journal::read(journal_path)? {
        let Some(call) = RecordedCall::of(entry) else {
            continue;
        };
        calls += 1;
        differences.extend(call.replay(planner).await?);
    }
    if calls == 0 {
        anyhow::bail!("{}: no plan calls recorded", journal_path.display());
    }
    Ok(differences)
}

/// One plan call as the journal recorded it.
struct RecordedCall {
    step: usize,
    host: String,
    stage: u32,
    plugin: String,
    params: Value,
    facts: Value,
    observations: Vec<Observation>,
    recorded: Plan,
}

impl RecordedCall {
    fn of(entry: Entry) -> Option<RecordedCall> {
        let Entry::Plan {
            step,
            host,
            stage,
            plugin,
            params,
            facts,
            observations,
            actions,
            replan,
            pending,
            ..
        } = entry
        else {
            return None;
        };
        Some(RecordedCall {
            step,
            host,
            stage,
            plugin,
            params,
            facts,
            observations,
            recorded: Plan {
                actions,
                replan,
                pending,
            },
        })
    }

    /// Plan again with the recorded answers: every way it differs now.
    async fn replay(self, planner: &dyn Planner) -> anyhow::Result<Vec<String>> {
        let at = format!(
            "step {} on {}, stage {}",
            self.step + 1,
            self.host,
            self.stage
        );
        let plugin = planner
            .plugin(&self.plugin)
            .await
            .with_context(|| format!("{at}: plugin '{}'", self.plugin))?;
        let grant = Grant::new(&self.plugin, &plugin.info.capabilities, &self.params);
        let observer = Arc::new(ReplayObserver::new(self.observations));
        let request = PlanRequest {
            params: &self.params,
            facts: &self.facts,
            host: &self.host,
            stage: self.stage,
        };
        let outcome = planner
            .plan(&plugin, grant, observer.clone(), request)
            .await;
        let mut differences: Vec<String> = observer
            .mismatches
            .lock()
            .expect("replay")
            .iter()
            .map(|m| format!("{at}: {m}"))
            .collect();
        match outcome {
            Err(err) => differences.push(format!("{at}: planning failed now: {err}")),
            Ok(o) if o.plan != self.recorded => differences.push(format!(
                "{at}: recorded {} actions [{}], now {} [{}]",
                self.recorded.actions.len(),
                summaries(&self.recorded.actions),
                o.plan.actions.len(),
                summaries(&o.plan.actions)
            )),
            Ok(_) => {}
        }
        if observer.unused() > 0 {
            differences.push(format!(
                "{at}: {} recorded observations were not asked for",
                observer.unused()
            ));
        }
        Ok(differences)
    }
}

fn summaries(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| a.summary.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
