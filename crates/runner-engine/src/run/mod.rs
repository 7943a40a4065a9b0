//! A run of a playbook: check everything that can be checked up front,
//! then each step across its hosts (in parallel up to `forks`, in batches
//! of `serial`), planning with the plugin and — unless previewing —
//! executing the plan, journaling every observation and action.

mod context;
mod job;
mod resume;

use context::{apply_schema_defaults, host_context, merge, tags_match};
use job::{Job, run_job};
use resume::ResumeState;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_plugin_host::{LoadedPlugin, PluginHost};
use runner_types::Redactor;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::facts;
use crate::hosts::Hosts;
use crate::inventory::Inventory;
use crate::journal::{self, Entry, Journal};
use crate::pattern;
use crate::playbook::{Playbook, Step};
use crate::report::{Recap, Reporter, Status};
use crate::saved_plan::{self, SavedEntry, SavedPlan};
use crate::template::Templates;
use crate::yaml::InputError;

/// How far a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plan and execute.
    Apply,
    /// Plan and show; change nothing.
    DryRun,
    /// Plan, show, and return the plan to be saved.
    Plan,
}

impl Mode {
    fn previews(self) -> bool {
        self != Mode::Apply
    }
    fn name(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::DryRun => "dry-run",
            Mode::Plan => "plan",
        }
    }
}

pub struct RunOptions {
    pub mode: Mode,
    pub forks: usize,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub limit: Option<String>,
    pub extra_vars: Map<String, Value>,
    /// `.runner`: journals live in `<state_dir>/runs`.
    pub state_dir: PathBuf,
    /// A journal to resume from.
    pub resume: Option<PathBuf>,
    /// A saved plan to apply exactly.
    pub saved_plan: Option<SavedPlan>,
    /// Show diffs of file writes when applying too.
    pub diff: bool,
    pub connect_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Apply,
            forks: 10,
            tags: vec![],
            skip_tags: vec![],
            limit: None,
            extra_vars: Map::new(),
            state_dir: PathBuf::from(".runner"),
            resume: None,
            saved_plan: None,
            diff: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

pub struct RunResult {
    pub recap: Recap,
    pub plan: Option<SavedPlan>,
}

/// Errors that stop a run before it changes anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}")]
    Setup(String),
}

/// Everything a step-host task needs, shared.
struct Shared {
    plugins: Arc<PluginHost>,
    reporter: Arc<dyn Reporter>,
    redactor: Redactor,
    journal: Journal,
    hosts: Hosts,
    mode: Mode,
    diff: bool,
    resume: Option<ResumeState>,
    saved: Option<SavedPlan>,
    /// Hosts an action changed during this run.
    changed_hosts: Mutex<HashSet<String>>,
    /// Entries for a plan being saved.
    plan_entries: Mutex<Vec<SavedEntry>>,
    facts: Mutex<HashMap<String, Value>>,
}

pub struct Runner {
    pub plugins: Arc<PluginHost>,
    pub reporter: Arc<dyn Reporter>,
    pub redactor: Redactor,
}

impl Runner {
    pub async fn run(
        &self,
        playbook: &Playbook,
        inventory: Inventory,
        opts: RunOptions,
    ) -> Result<RunResult, RunError> {
        let setup = |e: anyhow::Error| RunError::Setup(format!("{e:#}"));
        let templates = Templates::default();

        // 1. Targets and plugins: static checks, no host touched.
        let (targets, plugins) = self.resolve_steps(playbook, &inventory, &opts).await?;

        // 2. Secrets and variables.
        let mut vars = playbook.vars.clone();
        vars.extend(opts.extra_vars.clone());
        let inventory_dir = std::path::absolute(inventory.dir()).unwrap_or(inventory.dir());
        let base_ctx = json!({
            "playbook_dir": playbook.dir(),
            "inventory_dir": inventory_dir,
        });
        let secrets = match &playbook.secrets {
            Some(spec) => {
                let file = templates
                    .render_str(&spec.file, &merge(&base_ctx, &Value::Object(vars.clone())))
                    .map_err(|e| playbook.doc.error("/secrets/file", e))?;
                let file = PathBuf::from(file.as_str().unwrap_or_default());
                let file = if file.is_absolute() {
                    file
                } else {
                    playbook.dir().join(file)
                };
                let s = crate::secrets::load(spec, &file, &self.redactor).map_err(setup)?;
                if !s.generated.is_empty() {
                    self.reporter.note(&format!(
                        "generated secrets {} into {} (mode 0600)",
                        s.generated.join(", "),
                        file.display()
                    ));
                }
                s.values
            }
            None => Map::new(),
        };

        // 3. The journal.
        let run_id = journal::new_run_id();
        let runs_dir = opts.state_dir.join("runs");
        let journal = Journal::create(&runs_dir, &run_id, self.redactor.clone()).map_err(setup)?;
        let resume = match &opts.resume {
            Some(p) => Some(ResumeState::from_journal(p).map_err(setup)?),
            None => None,
        };
        let inventory_file = inventory.file.clone().unwrap_or_default();
        journal
            .write(&Entry::Run {
                run_id: run_id.clone(),
                started: now(),
                playbook: playbook.path.display().to_string(),
                inventory: inventory_file.display().to_string(),
                mode: opts.mode.name().into(),
                resume_of: resume.as_ref().map(|r| r.run_id.clone()),
            })
            .map_err(setup)?;
        self.reporter
            .run_started(&run_id, &playbook.name, opts.mode.name());
        if let Some(saved) = &opts.saved_plan {
            let p = saved_plan::file_sha(&playbook.path);
            let i = saved_plan::file_sha(&inventory_file);
            if p != saved.playbook_sha || i != saved.inventory_sha {
                let recap = Recap {
                    run_id,
                    journal: journal.path().display().to_string(),
                    stale: Some(
                        "the playbook or the inventory changed since the plan was made".into(),
                    ),
                    ..Default::default()
                };
                return Ok(RunResult { recap, plan: None });
            }
        }

        let shared = Arc::new(Shared {
            plugins: self.plugins.clone(),
            reporter: self.reporter.clone(),
            redactor: self.redactor.clone(),
            journal,
            hosts: Hosts::new(inventory.clone(), opts.connect_timeout),
            mode: opts.mode,
            diff: opts.diff,
            resume,
            saved: opts.saved_plan.clone(),
            changed_hosts: Mutex::new(HashSet::new()),
            plan_entries: Mutex::new(Vec::new()),
            facts: Mutex::new(HashMap::new()),
        });
        let mut recap = Recap {
            run_id: run_id.clone(),
            journal: shared.journal.path().display().to_string(),
            ..Default::default()
        };
        let forks = Arc::new(Semaphore::new(opts.forks.max(1)));

        // 4. Facts (read-only), for every host some step targets.
        let mut down: HashSet<String> = HashSet::new();
        let all_targets: Vec<String> = inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .filter(|h| targets.iter().any(|t| t.contains(h)))
            .collect();
        if playbook.gather_facts {
            for (h, r) in gather_facts(&shared, &all_targets, &forks).await? {
                match r {
                    Ok(f) => {
                        shared.facts.lock().expect("facts").insert(h, f);
                    }
                    Err(e) => {
                        let e = self.redactor.redact(&e);
                        self.reporter
                            .host_done(usize::MAX, &h, Status::Unreachable, &e);
                        recap.count(&h, Status::Unreachable);
                        down.insert(h);
                    }
                }
            }
        }

        // 5. Render and check every step's parameters for every host
        //    before anything changes.
        let mut jobs: Vec<Vec<(String, Option<Job>)>> = Vec::new();
        for (step, hosts) in playbook.steps.iter().zip(&targets) {
            let plugin = &plugins[step.index];
            let validator = jsonschema::validator_for(&plugin.info.params_schema).map_err(|e| {
                playbook.step_error(
                    step.index,
                    "plugin",
                    format!("plugin '{}' has a bad schema: {e}", step.plugin),
                )
            })?;
            let selected_by_tags = tags_match(&step.tags, &opts.tags, &opts.skip_tags);
            let mut step_jobs = Vec::new();
            for h in hosts {
                if !selected_by_tags {
                    step_jobs.push((h.clone(), None));
                    continue;
                }
                let host_facts = shared
                    .facts
                    .lock()
                    .expect("facts")
                    .get(h)
                    .cloned()
                    .unwrap_or(json!({}));
                let ctx = host_context(
                    &templates,
                    &inventory,
                    h,
                    &vars,
                    &secrets,
                    &host_facts,
                    &base_ctx,
                )
                .map_err(|e| playbook.doc.error("/vars", format!("{e} (host {h})")))?;
                if let Some(cond) = &step.when {
                    let yes = templates
                        .truthy(cond, &ctx)
                        .map_err(|e| playbook.step_error(step.index, "when", e))?;
                    if !yes {
                        step_jobs.push((h.clone(), None));
                        continue;
                    }
                }
                let mut params = templates
                    .render(&Value::Object(step.params.clone()), &ctx)
                    .map_err(|(at, e)| {
                        playbook.step_error(
                            step.index,
                            &format!("with{at}"),
                            format!("{e} (host {h})"),
                        )
                    })?;
                apply_schema_defaults(&mut params, &plugin.info.params_schema);
                if let Some(err) = validator.iter_errors(&params).next() {
                    let at = err.instance_path().to_string();
                    let msg = self.redactor.redact(&format!(
                        "{err} (plugin '{}' parameters; `runner plugins show {}` lists them)",
                        step.plugin, step.plugin
                    ));
                    return Err(playbook
                        .step_error(step.index, &format!("with{at}"), msg)
                        .into());
                }
                let inputs = digest(&json!([plugin.sha256, params, h]));
                step_jobs.push((
                    h.clone(),
                    Some(Job {
                        step: step.index,
                        host: h.clone(),
                        plugin: plugin.clone(),
                        params,
                        facts: host_facts,
                        inputs,
                    }),
                ));
            }
            jobs.push(step_jobs);
        }

        // 6. A saved plan: refuse it as stale if any host answers its
        //    recorded observations differently now.
        if let Some(saved) = &shared.saved
            && let Some(reason) = saved_plan::stale_reason(&shared.hosts, saved).await
        {
            recap.stale = Some(reason);
            return Ok(RunResult { recap, plan: None });
        }

        // 7. The steps.
        for (step, step_jobs) in playbook.steps.iter().zip(jobs) {
            run_step(&shared, &forks, step, step_jobs, &mut down, &mut recap).await?;
        }

        let status = if recap.any(|h| h.failed + h.unreachable) {
            "failed"
        } else {
            "ok"
        };
        let _ = shared.journal.write(&Entry::End {
            status: status.into(),
        });
        self.reporter.run_done(&recap);
        let plan = (opts.mode == Mode::Plan).then(|| SavedPlan {
            format: saved_plan::FORMAT,
            run_id,
            playbook: playbook.path.display().to_string(),
            playbook_sha: saved_plan::file_sha(&playbook.path),
            inventory: inventory_file.display().to_string(),
            inventory_sha: saved_plan::file_sha(&inventory_file),
            extra_vars: opts.extra_vars.clone(),
            entries: std::mem::take(&mut shared.plan_entries.lock().expect("plan")),
        });
        Ok(RunResult { recap, plan })
    }
}

impl Runner {
    /// Each step's target hosts (after `--limit`) and loaded plugin.
    async fn resolve_steps(
        &self,
        playbook: &Playbook,
        inventory: &Inventory,
        opts: &RunOptions,
    ) -> Result<(Vec<Vec<String>>, Vec<Arc<LoadedPlugin>>), RunError> {
        let limit = match &opts.limit {
            Some(l) => Some(
                pattern::select(inventory, l)
                    .map_err(|e| RunError::Setup(format!("--limit: {e}")))?,
            ),
            None => None,
        };
        let mut targets = Vec::new();
        let mut plugins = Vec::new();
        for step in &playbook.steps {
            let mut hosts = pattern::select(inventory, &step.on)
                .map_err(|e| playbook.step_error(step.index, "on", e))?;
            if let Some(l) = &limit {
                hosts.retain(|h| l.contains(h));
            }
            targets.push(hosts);
            let plugin = self
                .plugins
                .get(&step.plugin)
                .await
                .map_err(|e| playbook.step_error(step.index, "plugin", format!("{e:#}")))?;
            plugins.push(plugin);
        }
        Ok((targets, plugins))
    }
}

/// Facts of every host in `hosts`, gathered in parallel up to `forks`.
async fn gather_facts(
    shared: &Arc<Shared>,
    hosts: &[String],
    forks: &Arc<Semaphore>,
) -> Result<Vec<(String, Result<Value, String>)>, RunError> {
    let mut tasks = Vec::new();
    for h in hosts {
        let (shared, h, forks) = (shared.clone(), h.clone(), forks.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = forks.acquire().await;
            let t = shared.hosts.transport(&h);
            (h, facts::gather(t.as_ref()).await)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.map_err(|e| RunError::Setup(e.to_string()))?);
    }
    Ok(out)
}

/// One step on its hosts still up: batches of `serial`, each batch in
/// parallel up to `forks`; a host that fails is down for the later steps.
async fn run_step(
    shared: &Arc<Shared>,
    forks: &Arc<Semaphore>,
    step: &Step,
    step_jobs: Vec<(String, Option<Job>)>,
    down: &mut HashSet<String>,
    recap: &mut Recap,
) -> Result<(), RunError> {
    let hosts: Vec<String> = step_jobs
        .iter()
        .map(|(h, _)| h.clone())
        .filter(|h| !down.contains(h))
        .collect();
    shared
        .reporter
        .step_started(step.index, &step.name, &step.plugin, &hosts);
    let batch_size = step.serial.unwrap_or(usize::MAX).max(1);
    let mut pending: Vec<(String, Option<Job>)> = step_jobs
        .into_iter()
        .filter(|(h, _)| !down.contains(h))
        .collect();
    while !pending.is_empty() {
        let rest = pending.split_off(batch_size.min(pending.len()));
        let batch = std::mem::replace(&mut pending, rest);
        let mut tasks = Vec::new();
        for (h, job) in batch {
            let (shared, forks) = (shared.clone(), forks.clone());
            let step_index = step.index;
            tasks.push(tokio::spawn(async move {
                let _permit = forks.acquire().await;
                let (status, message, inputs) = match job {
                    None => (Status::Skipped, String::new(), String::new()),
                    Some(job) => {
                        let inputs = job.inputs.clone();
                        let (s, m) = run_job(&shared, job).await;
                        (s, m, inputs)
                    }
                };
                let message = shared.redactor.redact(&message);
                let _ = shared.journal.write(&Entry::HostDone {
                    step: step_index,
                    host: h.clone(),
                    status: status.as_str().into(),
                    inputs,
                    message: message.clone(),
                });
                shared.reporter.host_done(step_index, &h, status, &message);
                (h, status)
            }));
        }
        for task in tasks {
            let (h, status) = task.await.map_err(|e| RunError::Setup(e.to_string()))?;
            recap.count(&h, status);
            if matches!(status, Status::Failed | Status::Unreachable) {
                down.insert(h);
            }
        }
    }
    shared.reporter.step_done(step.index);
    Ok(())
}

fn digest(v: &Value) -> String {
    hex::encode(Sha256::digest(v.to_string()))
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
