//! `runner play`, `runner plan` and `runner apply`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use runner_engine::saved_plan::{self, SavedPlan};
use runner_engine::state_files::{self, Readers};
use runner_engine::{Inventory, Mode, Playbook, RecapOutcome, RunOptions, RunResult, Runner};
use runner_plugin_host::PluginHost;
use runner_types::Redactor;
use serde_json::{Map, Value};

use crate::cli::{OutputFormat, PlayArgs, RunArgs};
use crate::exit;
use crate::output;

/// The lab's inventory, written by `runner lab up`.
const LAB_INVENTORY: &str = ".runner/lab/inventory.yaml";

pub async fn play(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    args: PlayArgs,
) -> anyhow::Result<i32> {
    let output = args.run.output;
    if args.list.any() {
        return super::list::show(plugins.as_ref(), &args, inventory_path(&args.run)).await;
    }
    let result = async {
        let inventory = inventory_path(&args.run)?;
        let resume = match args.resume.as_deref() {
            None => None,
            Some("last") => Some(
                runner_engine::journal::last_resumable(
                    &state_dir.join("runs"),
                    &args.run.playbook,
                    &inventory,
                )?
                .path,
            ),
            Some(id) => Some(state_dir.join("runs").join(format!("{id}.jsonl"))),
        };
        Run {
            mode: if args.dry_run {
                Mode::DryRun
            } else {
                Mode::Apply
            },
            extra_vars: parse_extra_vars(&args.run.extra_vars)?,
            args: &args.run,
            inventory,
            resume,
            saved: None,
            diff: args.diff,
            plan_key: None,
            start_at: args.start_at_task.clone(),
        }
        .execute(plugins, state_dir)
        .await
    }
    .await;
    let result = on_error(result, output)?;
    Ok(finish(&result, output, args.detailed_exitcode))
}

pub async fn plan(
    plugins: Arc<PluginHost>,
    state_dir: &Path,
    args: RunArgs,
    out: &Path,
    detailed_exitcode: bool,
) -> anyhow::Result<i32> {
    let result = async {
        Run {
            mode: Mode::Plan,
            extra_vars: parse_extra_vars(&args.extra_vars)?,
            inventory: inventory_path(&args)?,
            args: &args,
            resume: None,
            saved: None,
            diff: false,
            plan_key: Some(saved_plan::plan_key(&crate::paths::config_dir())?),
            start_at: None,
        }
        .execute(plugins, state_dir)
        .await
    }
    .await;
    let result = on_error(result, args.output)?;
    let code = finish(&result, args.output, detailed_exitcode);
    if let Some(mut plan) = result.plan.clone() {
        plan.seal(&saved_plan::plan_key(&crate::paths::config_dir())?);
        let json = serde_json::to_string_pretty(&plan)?;
        state_files::write(out, json.as_bytes(), Readers::Owner)
            .with_context(|| format!("writing {}", out.display()))?;
        if args.output == OutputFormat::Human {
            let pending = plan.entries.iter().filter(|e| e.pending.is_some()).count();
            let pending = if pending > 0 {
                format!(" ({pending} step-host(s) pending: planned when applied)")
            } else {
                String::new()
            };
            println!(
                "plan saved to {}{pending}; apply it with `runner apply {}`",
                out.display(),
                out.display()
            );
        }
    }
    Ok(code)
}

/// `plugins` gives the plugin host for the saved plan's playbook (its
/// `plugins/` directory is searched).
pub async fn apply(
    plugins: impl FnOnce(&Path) -> anyhow::Result<Arc<PluginHost>>,
    state_dir: &Path,
    plan_path: &Path,
    forks: usize,
    output: OutputFormat,
) -> anyhow::Result<i32> {
    let result = async {
        let key = saved_plan::plan_key(&crate::paths::config_dir())?;
        let saved = SavedPlan::load_sealed(plan_path, &key)?;
        let args = RunArgs {
            playbook: PathBuf::from(&saved.playbook),
            inventory: Some(PathBuf::from(&saved.inventory)),
            extra_vars: vec![],
            tags: vec![],
            skip_tags: vec![],
            limit: None,
            forks,
            output,
        };
        Run {
            mode: Mode::Apply,
            extra_vars: saved.extra_vars.clone(),
            inventory: PathBuf::from(&saved.inventory),
            args: &args,
            resume: None,
            saved: Some(saved),
            diff: false,
            plan_key: Some(key),
            start_at: None,
        }
        .execute(plugins(args.playbook.as_path())?, state_dir)
        .await
    }
    .await;
    let result = on_error(result, output)?;
    Ok(finish(&result, output, false))
}

/// The inventory asked for, or the lab's when there is one.
fn inventory_path(args: &RunArgs) -> anyhow::Result<PathBuf> {
    inventory_or_lab(args.inventory.as_ref())
}

/// `inventory`, or else the lab's when there is one.
pub(super) fn inventory_or_lab(inventory: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(i) = inventory {
        return Ok(i.clone());
    }
    let lab = PathBuf::from(LAB_INVENTORY);
    if !lab.exists() {
        anyhow::bail!(
            "no inventory given and the lab's ({LAB_INVENTORY}) does not exist: pass -i INVENTORY, or start the lab with `runner lab up`"
        );
    }
    Ok(lab)
}

/// With `--output json`, an error that stops a run is still a run's
/// output: an error event and an empty recap, then the error exit code.
fn on_error(result: anyhow::Result<RunResult>, output: OutputFormat) -> anyhow::Result<RunResult> {
    match (result, output) {
        (Err(e), OutputFormat::Json) => {
            println!(
                "{}",
                serde_json::json!({"event": "error", "message": format!("{e:#}"), "ts": crate::output::timestamp()})
            );
            println!(
                "{}",
                serde_json::json!({"event": "recap", "outcome": "error", "recap": runner_engine::Recap::default(), "ts": crate::output::timestamp()})
            );
            Err(e)
        }
        (r, _) => r,
    }
}

/// One run of a playbook as the command line asked for it.
struct Run<'a> {
    args: &'a RunArgs,
    inventory: PathBuf,
    mode: Mode,
    extra_vars: Map<String, Value>,
    resume: Option<PathBuf>,
    saved: Option<SavedPlan>,
    diff: bool,
    /// The user's plan key (`plan` and `apply`).
    plan_key: Option<Vec<u8>>,
    /// `--start-at-task`: the name of the first step to run.
    start_at: Option<String>,
}

impl Run<'_> {
    async fn execute(
        self,
        plugins: Arc<PluginHost>,
        state_dir: &Path,
    ) -> anyhow::Result<RunResult> {
        let args = self.args;
        let (playbook, inventory) = tracing::info_span!("load").in_scope(|| {
            let playbook = Playbook::load(&args.playbook)?;
            let inventory = Inventory::load_for(&self.inventory, &playbook.dir())?;
            anyhow::Ok((playbook, inventory))
        })?;
        let start_at = super::list::start_at(&playbook, self.start_at.as_deref())?;
        let redactor = Redactor::new();
        let runner = Runner::new(
            plugins,
            output::reporter(args.output, redactor.clone()),
            redactor,
        );
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
            plan_key: self.plan_key,
            start_at,
            ..Default::default()
        };
        Ok(runner.run(&playbook, inventory, opts).await?)
    }
}

/// The exit code of a finished run; prints a stale refusal.
fn finish(result: &RunResult, output: OutputFormat, detailed: bool) -> i32 {
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
    }
    match recap.outcome() {
        RecapOutcome::Stale => exit::STALE,
        RecapOutcome::Failed => exit::FAILED,
        RecapOutcome::Unreachable => exit::UNREACHABLE,
        RecapOutcome::Changes if detailed => exit::CHANGES,
        RecapOutcome::Changes | RecapOutcome::NoChanges => exit::OK,
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
