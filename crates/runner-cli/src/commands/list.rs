//! `runner play --list-hosts | --list-tasks | --list-tags | --syntax-check`:
//! what a run would do, printed without connecting to any host.

use std::path::PathBuf;

use runner_engine::planner::Planner;
use runner_engine::{Inventory, Playbook, step_targets, tags_match};
use serde_json::{Value, json};

use crate::cli::{OutputFormat, PlayArgs};

/// The index of the step named `name` (`--start-at-task`).
pub fn start_at(playbook: &Playbook, name: Option<&str>) -> anyhow::Result<usize> {
    let Some(name) = name else {
        return Ok(0);
    };
    match playbook.steps.iter().find(|s| s.name == name) {
        Some(s) => Ok(s.index),
        None => {
            let names: Vec<String> = playbook
                .steps
                .iter()
                .map(|s| format!("'{}'", s.name))
                .collect();
            anyhow::bail!(
                "--start-at-task '{name}': {} has no step of this name (its steps: {})",
                playbook.path.display(),
                names.join(", ")
            )
        }
    }
}

pub async fn show(
    planner: &dyn Planner,
    args: &PlayArgs,
    inventory: anyhow::Result<PathBuf>,
) -> anyhow::Result<i32> {
    let run = &args.run;
    let list = &args.list;
    let playbook = Playbook::load(&run.playbook)?;
    let start = start_at(&playbook, args.start_at_task.as_deref())?;
    // Only --syntax-check goes on without an inventory.
    let inventory = match inventory {
        Ok(path) => Some((Inventory::load(&path)?, path)),
        Err(e) if list.list_hosts => return Err(e),
        Err(_) => None,
    };
    let targets = match &inventory {
        Some((inv, _)) => Some(step_targets(&playbook, inv, run.limit.as_deref())?),
        None => None,
    };
    let runs = |index: usize, tags: &[String]| {
        index >= start && tags_match(tags, &run.tags, &run.skip_tags)
    };
    let mut out = String::new();
    let mut doc = serde_json::Map::new();
    let name = playbook.path.display().to_string();
    out.push_str(&format!("playbook: {name}\n"));
    if list.syntax_check {
        for step in &playbook.steps {
            planner
                .plugin(&step.plugin)
                .await
                .map_err(|e| playbook.step_error(step.index, "plugin", format!("{e:#}")))?;
        }
        let against = match &inventory {
            Some((_, path)) => format!("; its host patterns resolve in {}", path.display()),
            None => "; no inventory, so its host patterns were not checked".into(),
        };
        out.push_str(&format!(
            "\n  syntax ok: {} step(s), every plugin found{against}\n",
            playbook.steps.len()
        ));
        doc.insert("syntax".into(), json!("ok"));
    }
    if list.list_hosts
        && let Some(targets) = &targets
    {
        let mut steps = Vec::new();
        for (step, hosts) in playbook.steps.iter().zip(targets) {
            if step.index < start {
                continue;
            }
            out.push_str(&format!(
                "\n  step {}: {} (on: {}) hosts ({}):\n",
                step.index + 1,
                step.name,
                step.on,
                hosts.len()
            ));
            for h in hosts {
                out.push_str(&format!("    {h}\n"));
            }
            steps.push(
                json!({"step": step.index + 1, "name": step.name, "on": step.on, "hosts": hosts}),
            );
        }
        doc.insert("hosts".into(), Value::Array(steps));
    }
    if list.list_tasks {
        out.push_str("\n  steps:\n");
        let mut steps = Vec::new();
        for step in playbook.steps.iter().filter(|s| runs(s.index, &s.tags)) {
            out.push_str(&format!(
                "    {}. {}  plugin: {}  on: {}  TAGS: [{}]\n",
                step.index + 1,
                step.name,
                step.plugin,
                step.on,
                step.tags.join(", ")
            ));
            steps.push(json!({"step": step.index + 1, "name": step.name, "plugin": step.plugin, "on": step.on, "tags": step.tags}));
        }
        doc.insert("steps".into(), Value::Array(steps));
    }
    if list.list_tags {
        let mut all: Vec<&String> = Vec::new();
        out.push('\n');
        for step in playbook.steps.iter().filter(|s| s.index >= start) {
            out.push_str(&format!(
                "  step {}: {}  TAGS: [{}]\n",
                step.index + 1,
                step.name,
                step.tags.join(", ")
            ));
            for t in &step.tags {
                if !all.contains(&t) {
                    all.push(t);
                }
            }
        }
        all.sort();
        let all: Vec<&str> = all.into_iter().map(String::as_str).collect();
        out.push_str(&format!("\n  TASK TAGS: [{}]\n", all.join(", ")));
        doc.insert("tags".into(), json!(all));
    }
    match run.output {
        OutputFormat::Human => print!("{out}"),
        OutputFormat::Json => {
            doc.insert("playbook".into(), json!(name));
            println!("{}", Value::Object(doc));
        }
    }
    Ok(crate::exit::OK)
}
