//! `runner replay`: re-plan every recorded plan call of a journal against
//! its recorded observations, with no hosts, and list the differences.

use std::sync::Arc;

use anyhow::Context;
use runner_plugin_host::{PlanRequest, PluginHost};
use runner_types::Action;
use runner_types::capability::Grant;

use crate::journal::{self, Entry};

/// Run `runner replay`: re-plan every recorded plan call against its
/// recorded observations, with no hosts, and list the differences.
pub async fn replay(
    plugins: &PluginHost,
    journal_path: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    use crate::observer::ReplayObserver;
    let entries = journal::read(journal_path)?;
    let mut differences = Vec::new();
    let mut calls = 0;
    for e in entries {
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
        } = e
        else {
            continue;
        };
        calls += 1;
        let where_ = format!("step {} on {host}, stage {stage}", step + 1);
        let loaded = plugins
            .get(&plugin)
            .await
            .with_context(|| format!("{where_}: plugin '{plugin}'"))?;
        let grant = Grant::new(&plugin, &loaded.info.capabilities, &params);
        let observer = Arc::new(ReplayObserver::new(observations));
        let outcome = plugins
            .plan(
                &loaded,
                grant,
                observer.clone(),
                PlanRequest {
                    params: &params,
                    facts: &facts,
                    host: &host,
                    stage,
                },
            )
            .await;
        for m in observer.mismatches.lock().expect("replay").iter() {
            differences.push(format!("{where_}: {m}"));
        }
        match outcome {
            Err(err) => differences.push(format!("{where_}: planning failed now: {err}")),
            Ok(o) => {
                let now: Vec<Action> = o.plan.actions;
                if now != actions || o.plan.replan != replan || o.plan.pending != pending {
                    differences.push(format!(
                        "{where_}: recorded {} actions [{}], now {} [{}]",
                        actions.len(),
                        actions
                            .iter()
                            .map(|a| a.summary.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                        now.len(),
                        now.iter()
                            .map(|a| a.summary.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            }
        }
        if observer.unused() > 0 {
            differences.push(format!(
                "{where_}: {} recorded observations were not asked for",
                observer.unused()
            ));
        }
    }
    if calls == 0 {
        anyhow::bail!("{}: no plan calls recorded", journal_path.display());
    }
    Ok(differences)
}
