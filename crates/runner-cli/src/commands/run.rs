//! `runner play`, `runner plan` and `runner apply`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use runner_engine::saved_plan::SavedPlan;
use runner_engine::{Inventory, Mode, Playbook, RunError, RunOptions, RunResult, Runner};
use runner_plugin_host::PluginHost;
use runner_types::Redactor;
use serde_json::{Map, Value};

use crate::cli::{OutputFormat, PlayArgs, RunArgs};
use crate::exit;
use crate::output;

const DEFAULT_PLAYBOOK: &str = "playbooks/rabbit-ha.yaml";
const DEFAULT_INVENTORY: &str = ".runner/lab/inventory.yaml";

pub async fn play(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    args: PlayArgs,
) -> anyhow::Result<i32> {
    let resume = match args.resume.as_deref() {
        None => None,
        Some("last") => Some(runner_engine::journal::latest(&state_dir.join("runs"))?),
        Some(id) => Some(state_dir.join("runs").join(format!("{id}.jsonl"))),
    };
    let result = Run {
        mode: if args.dry_run {
            Mode::DryRun
        } else {
            Mode::Apply
        },
        extra_vars: parse_extra_vars(&args.run.extra_vars)?,
        args: &args.run,
        resume,
        saved: None,
        diff: args.diff,
    }
    .execute(plugins, state_dir)
    .await?;
    Ok(finish(&result, args.run.output))
}

pub async fn plan(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    args: RunArgs,
    out: &Path,
) -> anyhow::Result<i32> {
    let result = Run {
        mode: Mode::Plan,
        extra_vars: parse_extra_vars(&args.extra_vars)?,
        args: &args,
        resume: None,
        saved: None,
        diff: false,
    }
    .execute(plugins, state_dir)
    .await?;
    let code = finish(&result, args.output);
    if let Some(plan) = &result.plan {
        std::fs::write(out, serde_json::to_string_pretty(plan)?)
            .with_context(|| format!("writing {}", out.display()))?;
        if args.output == OutputFormat::Human {
            println!(
                "plan saved to {}; apply it with `runner apply {}`",
                out.display(),
                out.display()
            );
        }
    }
    Ok(code)
}

pub async fn apply(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    plan_path: &Path,
    forks: usize,
    output: OutputFormat,
) -> anyhow::Result<i32> {
    let saved = SavedPlan::load(plan_path)?;
    let args = RunArgs {
        playbook: Some(PathBuf::from(&saved.playbook)),
        inventory: Some(PathBuf::from(&saved.inventory)),
        extra_vars: vec![],
        tags: vec![],
        skip_tags: vec![],
        limit: None,
        forks,
        output,
    };
    let result = Run {
        mode: Mode::Apply,
        extra_vars: saved.extra_vars.clone(),
        args: &args,
        resume: None,
        saved: Some(saved),
        diff: false,
    }
    .execute(plugins, state_dir)
    .await?;
    Ok(finish(&result, output))
}

/// One run of a playbook as the command line asked for it.
struct Run<'a> {
    args: &'a RunArgs,
    mode: Mode,
    extra_vars: Map<String, Value>,
    resume: Option<PathBuf>,
    saved: Option<SavedPlan>,
    diff: bool,
}

impl Run<'_> {
    async fn execute(
        self,
        plugins: Arc<PluginHost>,
        state_dir: &Path,
    ) -> anyhow::Result<RunResult> {
        let args = self.args;
        let playbook_path = args
            .playbook
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PLAYBOOK));
        let inventory_path = args
            .inventory
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_INVENTORY));
        if args.inventory.is_none() && !inventory_path.exists() {
            anyhow::bail!(
                "no inventory given and the lab's ({}) does not exist: pass -i INVENTORY, or start the lab with `runner lab up`",
                inventory_path.display()
            );
        }
        let playbook = Playbook::load(&playbook_path)?;
        let inventory = Inventory::load(&inventory_path)?;
        let redactor = Redactor::new();
        let runner = Runner {
            plugins,
            reporter: output::reporter(args.output, redactor.clone()),
            redactor,
        };
        let opts = RunOptions {
            mode: self.mode,
            forks: args.forks,
            tags: args.tags.clone(),
            skip_tags: args.skip_tags.clone(),
            limit: args.limit.clone(),
            extra_vars: self.extra_vars,
            state_dir: state_dir.to_path_buf(),
            resume: self.resume,
            saved_plan: self.saved,
            diff: self.diff,
            ..Default::default()
        };
        runner
            .run(&playbook, inventory, opts)
            .await
            .map_err(|e| match e {
                RunError::Input(e) => anyhow::anyhow!("{e}"),
                RunError::Setup(e) => anyhow::anyhow!("{e}"),
            })
    }
}

/// The exit code of a finished run; prints a stale refusal.
fn finish(result: &RunResult, output: OutputFormat) -> i32 {
    let recap = &result.recap;
    if let Some(reason) = &recap.stale {
        if output == OutputFormat::Human {
            eprintln!(
                "{} the saved plan is stale, nothing was applied: {reason}. Make a new plan with `runner plan`.",
                console::style("refused:").red().bold()
            );
        } else {
            println!(
                "{}",
                serde_json::json!({"event": "stale", "reason": reason})
            );
        }
        return exit::STALE;
    }
    if recap.any(|h| h.failed) {
        exit::FAILED
    } else if recap.any(|h| h.unreachable) {
        exit::UNREACHABLE
    } else {
        exit::OK
    }
}

fn parse_extra_vars(items: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut vars = Map::new();
    for item in items {
        if let Some(file) = item.strip_prefix('@') {
            let doc = runner_engine::yaml::Document::load(Path::new(file))?;
            match doc.value {
                Value::Object(m) => vars.extend(m),
                _ => anyhow::bail!("{file}: extra vars file must be a mapping"),
            }
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("-e {item}: expected name=value or @file.yaml"))?;
        let doc = runner_engine::yaml::Document::parse(Path::new("-e"), &format!("v: {v}"))
            .map(|d| d.value["v"].clone())
            .unwrap_or_else(|_| Value::String(v.to_string()));
        vars.insert(k.trim().to_string(), doc);
    }
    Ok(vars)
}
