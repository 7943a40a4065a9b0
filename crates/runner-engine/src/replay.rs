//! `runner replay`: re-plan every recorded plan call of a journal against
//! its recorded observations, with no hosts, and list the differences.

use runner_types::Action;

use crate::journal;
use crate::planner::Planner;
use crate::plugin_test::{Case, plan_diff};

/// Run `runner replay`: re-plan every recorded plan call against its
/// recorded observations, with no hosts, and list the differences.
pub async fn replay(
    planner: &dyn Planner,
    journal_path: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    let mut differences = Vec::new();
    let mut calls = 0;
    for entry in journal::read(journal_path)? {
        let Some((step, mut call)) = Case::recorded(entry) else {
            continue;
        };
        call.name = format!("step {} on {}, stage {}", step + 1, call.host, call.stage);
        calls += 1;
        differences.extend(replay_call(&call, planner).await?);
    }
    if calls == 0 {
        anyhow::bail!("{}: no plan calls recorded", journal_path.display());
    }
    Ok(differences)
}

/// Plan one recorded call again with its recorded answers: every way it
/// differs now.
async fn replay_call(call: &Case, planner: &dyn Planner) -> anyhow::Result<Vec<String>> {
    let at = &call.name;
    let again = call.replan(planner).await?;
    let mut differences: Vec<String> = again
        .mismatches
        .iter()
        .map(|m| format!("{at}: {m}"))
        .collect();
    match again.plan {
        Err(err) => differences.push(format!("{at}: planning failed now: {err}")),
        Ok(now) if now != call.expected => differences.push(format!(
            "{at}: recorded {} actions [{}], now {} [{}]\n{}",
            call.expected.actions.len(),
            summaries(&call.expected.actions),
            now.actions.len(),
            summaries(&now.actions),
            plan_diff(&call.expected, &now).trim_end()
        )),
        Ok(_) => {}
    }
    if again.unused > 0 {
        differences.push(format!(
            "{at}: {} recorded observations were not asked for",
            again.unused
        ));
    }
    Ok(differences)
}

fn summaries(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| a.summary.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}
