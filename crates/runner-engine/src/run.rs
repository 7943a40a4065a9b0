//! A run of a playbook: check everything that can be checked up front,
//! then each step across its hosts (in parallel up to `forks`, in batches
//! of `serial`), planning with the plugin and — unless previewing —
//! executing the plan, journaling every observation and action.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use runner_plugin_host::{LoadedPlugin, PlanRequest, PluginHost};
use runner_types::capability::Grant;
use runner_types::{Action, ActionKind, Redactor};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::execute::execute;
use crate::facts;
use crate::hosts::Hosts;
use crate::inventory::Inventory;
use crate::journal::{self, Entry, Journal, Observation};
use crate::observer::{LiveObserver, command_answer, file_answer, http_answer, run_probe};
use crate::pattern;
use crate::playbook::Playbook;
use crate::report::{PlannedAction, Recap, Reporter, Status};
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

/// What an earlier run finished, for `--resume`.
#[derive(Default)]
struct ResumeState {
    run_id: String,
    /// (step, host) → (status, inputs digest) of completed step-hosts.
    done: HashMap<(usize, String), (String, String)>,
    /// (step, host) → digests of actions that completed.
    actions: HashMap<(usize, String), Vec<String>>,
    /// (step, host) → digests of actions started but never finished.
    interrupted: HashMap<(usize, String), Vec<String>>,
}

impl ResumeState {
    fn from_journal(path: &std::path::Path) -> anyhow::Result<ResumeState> {
        if let Some(mode) = journal::mode_of(path)
            && mode != "apply"
        {
            anyhow::bail!(
                "{} is a {mode} run: it changed nothing, so there is nothing to resume",
                path.display()
            );
        }
        let entries = journal::read(path)?;
        let mut state = ResumeState::default();
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
                } if status == "ok" || status == "changed" || status == "skipped" => {
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

/// One step on one host, fully prepared.
struct Job {
    step: usize,
    host: String,
    plugin: Arc<LoadedPlugin>,
    params: Value,
    facts: Value,
    inputs: String,
}

const MAX_STAGES: u32 = 8;

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
        let limit = match &opts.limit {
            Some(l) => Some(
                pattern::select(&inventory, l)
                    .map_err(|e| RunError::Setup(format!("--limit: {e}")))?,
            ),
            None => None,
        };
        let mut targets: Vec<Vec<String>> = Vec::new();
        let mut plugins: Vec<Arc<LoadedPlugin>> = Vec::new();
        for step in &playbook.steps {
            let mut hosts = pattern::select(&inventory, &step.on)
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
            let mut tasks = Vec::new();
            for h in &all_targets {
                let (shared, h, forks) = (shared.clone(), h.clone(), forks.clone());
                tasks.push(tokio::spawn(async move {
                    let _permit = forks.acquire().await;
                    let t = shared.hosts.transport(&h);
                    (h, facts::gather(t.as_ref()).await)
                }));
            }
            for task in tasks {
                let (h, r) = task.await.map_err(|e| RunError::Setup(e.to_string()))?;
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
            && let Some(reason) = stale_reason(&shared, saved).await
        {
            recap.stale = Some(reason);
            return Ok(RunResult { recap, plan: None });
        }

        // 7. The steps.
        for (step, step_jobs) in playbook.steps.iter().zip(jobs) {
            let hosts: Vec<String> = step_jobs
                .iter()
                .map(|(h, _)| h.clone())
                .filter(|h| !down.contains(h))
                .collect();
            self.reporter
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
            self.reporter.step_done(step.index);
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

/// Plan, preview or execute one step on one host.
async fn run_job(shared: &Shared, job: Job) -> (Status, String) {
    let key = (job.step, job.host.clone());
    if let Some(resume) = &shared.resume
        && let Some((status, inputs)) = resume.done.get(&key)
        && *inputs == job.inputs
        && shared.mode == Mode::Apply
    {
        let status = if status == "changed" {
            Status::Changed
        } else {
            Status::Ok
        };
        return (status, format!("done in run {}", resume.run_id));
    }
    let done_before: Vec<String> = shared
        .resume
        .as_ref()
        .and_then(|r| r.actions.get(&key).cloned())
        .unwrap_or_default();
    let interrupted: Vec<String> = shared
        .resume
        .as_ref()
        .and_then(|r| r.interrupted.get(&key).cloned())
        .unwrap_or_default();
    let transport = shared.hosts.transport(&job.host);
    let grant = Grant::new(
        &job.plugin.info.name,
        &job.plugin.info.capabilities,
        &job.params,
    );
    let mut changed = false;
    let mut notes: Vec<String> = Vec::new();
    for stage in 0..MAX_STAGES {
        let observer = Arc::new(LiveObserver::new(
            transport.clone(),
            shared.redactor.clone(),
        ));
        let outcome = shared
            .plugins
            .plan(
                &job.plugin,
                grant.clone(),
                observer.clone(),
                PlanRequest {
                    params: &job.params,
                    facts: &job.facts,
                    host: &job.host,
                    stage,
                },
            )
            .await;
        let observations = observer.take_transcript();
        let unreachable = observations.iter().find_map(|o| {
            o.answer
                .get("error")
                .and_then(Value::as_str)
                .filter(|e| e.contains("unreachable"))
                .map(str::to_string)
        });
        let plan = match outcome {
            Ok(o) => o.plan,
            Err(e) => {
                if let Some(u) = unreachable {
                    return (Status::Unreachable, u);
                }
                return (Status::Failed, e.to_string());
            }
        };
        for (level, msg) in observer.take_logs() {
            if level != "debug" {
                notes.push(msg);
            }
        }
        if let Err(e) = plan.actions.iter().try_for_each(|a| grant.check_action(a)) {
            return (Status::Failed, e.to_string());
        }
        let digests: Vec<String> = plan.actions.iter().map(Action::digest).collect();
        let redacted: Vec<Action> = plan
            .actions
            .iter()
            .map(|a| redact_action(&shared.redactor, a))
            .collect();
        let _ = shared.journal.write(&Entry::Plan {
            step: job.step,
            host: job.host.clone(),
            stage,
            plugin: job.plugin.info.name.clone(),
            plugin_sha: job.plugin.sha256.clone(),
            inputs: job.inputs.clone(),
            params: job.params.clone(),
            facts: job.facts.clone(),
            observations: observations.clone(),
            actions: redacted.clone(),
            digests: digests.clone(),
            replan: plan.replan,
        });

        if stage == 0
            && let Some(saved) = &shared.saved
        {
            let expected = saved
                .entry(job.step, &job.host)
                .map(|e| e.digests.clone())
                .unwrap_or_default();
            if expected != digests {
                if shared
                    .changed_hosts
                    .lock()
                    .expect("changed")
                    .contains(&job.host)
                {
                    notes.push(format!(
                        "re-planned after earlier steps changed this host ({} actions; the saved plan had {})",
                        digests.len(),
                        expected.len()
                    ));
                } else {
                    return (
                        Status::Failed,
                        "refused: the saved plan is stale for this step (the plugin now plans differently)".into(),
                    );
                }
            }
        }

        if shared.mode.previews() {
            let planned = preview(shared, transport.as_ref(), &plan.actions, &observations).await;
            shared.reporter.planned(
                job.step,
                &job.host,
                &planned,
                plan.replan && !plan.actions.is_empty(),
            );
            if shared.mode == Mode::Plan {
                shared.plan_entries.lock().expect("plan").push(SavedEntry {
                    step: job.step,
                    host: job.host.clone(),
                    observations,
                    actions: redacted,
                    digests,
                });
            }
            let status = if plan.actions.iter().any(Action::has_side_effect) {
                Status::Changed
            } else {
                Status::Ok
            };
            return (status, notes.join("; "));
        }

        if shared.diff {
            let planned = preview(shared, transport.as_ref(), &plan.actions, &observations).await;
            shared
                .reporter
                .planned(job.step, &job.host, &planned, false);
        }
        for (index, action) in plan.actions.iter().enumerate() {
            let digest = &digests[index];
            let summary = shared.redactor.redact(&action.summary);
            if action.has_side_effect() && done_before.contains(digest) {
                notes.push(format!(
                    "'{summary}' already done before the crash, not repeated"
                ));
                continue;
            }
            let _ = shared.journal.write(&Entry::ActionStart {
                step: job.step,
                host: job.host.clone(),
                stage,
                index,
                digest: digest.clone(),
                summary: summary.clone(),
            });
            let marker = crate::execute::marker(job.step, &job.host, digest);
            let mut result = None;
            if let ActionKind::Run {
                ok_codes,
                timeout_ms,
                ..
            } = &action.kind
                && interrupted.contains(digest)
                && let Some(code) = crate::execute::interrupted_exit_code(
                    transport.as_ref(),
                    &marker,
                    Duration::from_millis((*timeout_ms).into()),
                )
                .await
            {
                notes.push(format!(
                    "'{summary}' had finished before the crash (exit {code}), not repeated"
                ));
                result = Some(if crate::execute::run_ok(ok_codes, code) {
                    Ok(format!("exit {code}, before the crash"))
                } else {
                    Err(format!("exited {code} before the crash"))
                });
            }
            let result = match result {
                Some(r) => r,
                None => execute(transport.as_ref(), action, &marker).await,
            };
            let (ok, detail) = match &result {
                Ok(d) => (true, d.clone()),
                Err(e) => (false, shared.redactor.redact(e)),
            };
            let _ = shared.journal.write(&Entry::ActionDone {
                step: job.step,
                host: job.host.clone(),
                stage,
                index,
                digest: digest.clone(),
                ok,
                detail: detail.clone(),
            });
            shared.reporter.action_done(
                job.step,
                &job.host,
                &summary,
                (!ok).then_some(detail.as_str()),
            );
            if action.has_side_effect() {
                changed = true;
                shared
                    .changed_hosts
                    .lock()
                    .expect("changed")
                    .insert(job.host.clone());
            }
            if !ok {
                if detail.contains("unreachable") {
                    return (Status::Unreachable, detail);
                }
                return (Status::Failed, format!("{summary}: {detail}"));
            }
        }
        if !plan.replan || plan.actions.is_empty() {
            break;
        }
    }
    (
        if changed { Status::Changed } else { Status::Ok },
        notes.join("; "),
    )
}

/// The redacted actions with diffs of the files they would write.
async fn preview(
    shared: &Shared,
    t: &dyn runner_transport::Transport,
    actions: &[Action],
    observations: &[Observation],
) -> Vec<PlannedAction> {
    let mut out = Vec::new();
    for a in actions {
        let diff = match &a.kind {
            ActionKind::WriteFile { path, content, .. } => {
                let seen = observations
                    .iter()
                    .find(|o| o.kind == "read" && o.request == *path)
                    .map(|o| {
                        o.answer
                            .get("text")
                            .and_then(Value::as_str)
                            .map(|s| s.as_bytes().to_vec())
                    });
                let current = match seen {
                    Some(c) => c,
                    None => runner_transport::files::read(t, path).await.ok().flatten(),
                };
                Some(unified_diff(
                    &shared.redactor,
                    path,
                    current.as_deref(),
                    content,
                ))
            }
            ActionKind::RemoveFile { path } => {
                let current = runner_transport::files::read(t, path).await.ok().flatten();
                current.map(|c| unified_diff(&shared.redactor, path, Some(&c), b""))
            }
            _ => None,
        };
        out.push(PlannedAction {
            action: redact_action(&shared.redactor, a),
            diff,
        });
    }
    out
}

fn unified_diff(r: &Redactor, path: &str, old: Option<&[u8]>, new: &[u8]) -> String {
    let old_text = old
        .map(|o| r.redact(&String::from_utf8_lossy(o)))
        .unwrap_or_default();
    let new_text = r.redact(&String::from_utf8_lossy(new));
    if std::str::from_utf8(new).is_err() {
        return format!("binary content, {} bytes\n", new.len());
    }
    let from = if old.is_some() {
        format!("{path} (now)")
    } else {
        "/dev/null".into()
    };
    similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("{path} (planned)"))
        .to_string()
}

pub fn redact_action(r: &Redactor, a: &Action) -> Action {
    let v = serde_json::to_value(a).expect("actions serialize");
    serde_json::from_value(r.redact_json(&v)).expect("redaction keeps the shape")
}

async fn stale_reason(shared: &Shared, saved: &SavedPlan) -> Option<String> {
    for entry in &saved.entries {
        let t = shared.hosts.transport(&entry.host);
        for o in &entry.observations {
            let answer = match o.kind.as_str() {
                "probe" => command_answer(&run_probe(t.as_ref(), &o.request).await),
                "read" => file_answer(
                    &runner_transport::files::read(t.as_ref(), &o.request)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                _ => http_answer(&crate::observer::http_call("GET", &o.request, &[], None).await),
            };
            let sha = hex::encode(Sha256::digest(answer.to_string()));
            if sha != o.answer_sha {
                return Some(format!(
                    "{}: {} '{}' answers differently than when the plan was made",
                    entry.host, o.kind, o.request
                ));
            }
        }
    }
    None
}

/// Fill in the schema's top-level `default`s, so the plugin, its
/// capability grant and the journal all see the same parameters.
fn apply_schema_defaults(params: &mut Value, schema: &Value) {
    let (Some(obj), Some(props)) = (params.as_object_mut(), schema["properties"].as_object())
    else {
        return;
    };
    for (name, prop) in props {
        if let Some(default) = prop.get("default")
            && !obj.contains_key(name)
        {
            obj.insert(name.clone(), default.clone());
        }
    }
}

fn tags_match(step_tags: &[String], only: &[String], skip: &[String]) -> bool {
    if step_tags.iter().any(|t| skip.contains(t)) {
        return false;
    }
    only.is_empty() || step_tags.iter().any(|t| only.contains(t))
}

/// The template context of one host.
fn host_context(
    templates: &Templates,
    inv: &Inventory,
    host: &str,
    vars: &Map<String, Value>,
    secrets: &Map<String, Value>,
    facts: &Value,
    base: &Value,
) -> Result<Value, String> {
    let mut ctx = Map::new();
    if let Some(h) = inv.host(host) {
        ctx.extend(h.vars.clone());
    }
    ctx.extend(vars.clone());
    let hostvars: Map<String, Value> = inv
        .hosts
        .iter()
        .map(|h| {
            let mut v = h.vars.clone();
            v.insert("inventory_hostname".into(), json!(h.name));
            (h.name.clone(), Value::Object(v))
        })
        .collect();
    ctx.insert("inventory_hostname".into(), json!(host));
    ctx.insert("hostvars".into(), Value::Object(hostvars));
    ctx.insert("groups".into(), json!(inv.groups));
    ctx.insert(
        "group_names".into(),
        json!(inv.host(host).map(|h| h.groups.clone()).unwrap_or_default()),
    );
    ctx.insert("secrets".into(), Value::Object(secrets.clone()));
    ctx.insert("facts".into(), facts.clone());
    let mut ctx = merge(base, &Value::Object(ctx));
    // Playbook vars may be templates over the host's context (and earlier
    // vars), as in Ansible.
    for (name, value) in vars {
        if let Value::String(text) = value
            && text.contains("{{")
        {
            let rendered = templates
                .render_str(text, &ctx)
                .map_err(|e| format!("vars.{name}: {e}"))?;
            ctx[name] = rendered;
        }
    }
    Ok(ctx)
}

fn merge(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    if let Some(b) = b.as_object() {
        out.extend(b.clone());
    }
    Value::Object(out)
}

fn digest(v: &Value) -> String {
    hex::encode(Sha256::digest(v.to_string()))
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

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
                if now != actions || o.plan.replan != replan {
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
