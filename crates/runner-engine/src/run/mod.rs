//! A run of a playbook: check everything that can be checked up front,
//! then each step across its hosts (in parallel up to `forks`, in batches
//! of `serial`), planning with the plugin and — unless previewing —
//! executing the plan, journaling every observation and action.

mod context;
mod job;
mod prepare;
mod register;
mod resume;
mod sensitive;
#[cfg(test)]
mod tests;

use context::Sensitive;
pub use context::{apply_schema_defaults, tags_match};
use job::{Job, run_job};
use prepare::Prepare;
use resume::ResumeState;
use sensitive::Loading;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_types::Redactor;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::facts;
use crate::inventory::Inventory;
use crate::journal::{self, Entry, Journal, RunOutcome};
use crate::pattern;
use crate::planner::{Planner, Plugin};
use crate::playbook::{Playbook, Step, StepKind};
use crate::pool::{Connector, SystemConnector, TransportPool};
use crate::report::{Phase, Recap, Reporter, Status};
use crate::saved_plan::{self, SavedEntry, SavedPlan};
use crate::template::Templates;
use crate::yaml::InputError;

/// How far a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Plan and execute.
    Apply,
    /// Plan and show; change nothing.
    DryRun,
    /// Plan, show, and return the plan to be saved.
    Plan,
}

impl Mode {
    pub fn previews(self) -> bool {
        self != Mode::Apply
    }
    pub fn name(self) -> &'static str {
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
    /// The user's plan key: `plan` derives generated secrets from it (and
    /// its run id) instead of writing them, and the `apply` of that plan
    /// derives the same values.
    pub plan_key: Option<Vec<u8>>,
    /// Start at this step (its index): the steps before it are not run
    /// (`--start-at-task`).
    pub start_at: usize,
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
            plan_key: None,
            start_at: 0,
        }
    }
}

pub struct RunResult {
    pub recap: Recap,
    pub plan: Option<SavedPlan>,
}

/// Errors that stop a run before it changes anything (or, for `Task`,
/// the runner's own fault mid-run).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}: {1}")]
    Inventory(String, String),
    #[error("--limit: {0}")]
    Limit(String),
    #[error("secrets ({})", file.display())]
    Secrets {
        file: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    #[error("certificates ({})", file.display())]
    Certificates {
        file: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    #[error("the run's journal")]
    Journal(#[source] anyhow::Error),
    #[error("resuming {}", journal.display())]
    Resume {
        journal: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    #[error("{0}")]
    SavedPlan(String),
    #[error("a task of the run stopped")]
    Task(#[from] tokio::task::JoinError),
}

/// Everything a step-host task needs, shared.
struct Shared {
    planner: Arc<dyn Planner>,
    reporter: Arc<dyn Reporter>,
    redactor: Redactor,
    journal: Journal,
    pool: TransportPool,
    mode: Mode,
    diff: bool,
    resume: Option<ResumeState>,
    saved: Option<SavedPlan>,
    /// Hosts an action changed during this run.
    changed_hosts: Mutex<HashSet<String>>,
    /// (handler, host) → the steps that notified it there, and how each
    /// ended (`changed`, or `pending` in a preview).
    notified: Mutex<HashMap<(usize, String), Vec<Notice>>>,
    /// host → the variables steps registered there (`register:`).
    registered: Mutex<HashMap<String, Map<String, Value>>>,
    /// (step, host) → the last probe answer of a registering step.
    last_probe: Mutex<HashMap<(usize, String), Value>>,
    /// (step, host) → why it is known only after apply: it reads a
    /// variable an earlier step left pending there.
    waits_on_register: Mutex<HashMap<(usize, String), String>>,
    /// Previewing: what the steps so far plan on each host.
    planned: Mutex<HashMap<String, crate::planned_state::PlannedHost>>,
    /// A finished step of this run changed, or (previewing) would change
    /// or is pending on, some host: later steps may depend on that.
    earlier_changes: AtomicBool,
    /// Entries for a plan being saved.
    plan_entries: Mutex<Vec<SavedEntry>>,
    facts: Mutex<HashMap<String, Value>>,
    /// Files beside the playbook that plugins may read (`local-reads`).
    local_files: Arc<crate::local_files::LocalFiles>,
}

/// A step that notified a handler on a host: its label, and how it ended.
type Notice = (String, Status);

/// Runs playbooks: plans with `planner`, reaches hosts through
/// `connector`, tells `reporter`, and masks what `redactor` knows.
pub struct Runner {
    pub planner: Arc<dyn Planner>,
    pub reporter: Arc<dyn Reporter>,
    pub redactor: Redactor,
    pub connector: Arc<dyn Connector>,
}

impl Runner {
    /// A runner with real connections (SSH, or local).
    pub fn new(planner: Arc<dyn Planner>, reporter: Arc<dyn Reporter>, redactor: Redactor) -> Self {
        Runner {
            planner,
            reporter,
            redactor,
            connector: Arc::new(SystemConnector),
        }
    }
}

/// What a run sets up before it touches a host.
struct Start {
    templates: Templates,
    /// Each step's target hosts (after `--limit`).
    targets: Vec<Vec<String>>,
    /// Each step's plugin.
    plugins: Vec<Arc<Plugin>>,
    base_ctx: Value,
    vars: Map<String, Value>,
    sensitive: Sensitive,
    run_id: String,
    journal: Journal,
    resume: Option<ResumeState>,
}

impl Runner {
    /// One run of `playbook` on `inventory`: a `run` span holds the step
    /// and host spans.
    #[tracing::instrument(name = "run", skip_all, fields(playbook = %playbook.name, mode = opts.mode.name()))]
    pub async fn run(
        &self,
        playbook: &Playbook,
        inventory: Inventory,
        opts: RunOptions,
    ) -> Result<RunResult, RunError> {
        let start = self.start(playbook, &inventory, &opts).await?;
        let mut recap = Recap {
            run_id: start.run_id.clone(),
            journal: start.journal.path().display().to_string(),
            ..Default::default()
        };
        if let Some(reason) = opts
            .saved_plan
            .as_ref()
            .and_then(|saved| saved.inputs_changed(playbook, &inventory))
        {
            recap.stale = Some(reason);
            return Ok(RunResult { recap, plan: None });
        }
        let shared = Arc::new(Shared {
            planner: self.planner.clone(),
            reporter: self.reporter.clone(),
            redactor: self.redactor.clone(),
            journal: start.journal,
            pool: TransportPool::new(
                inventory.clone(),
                self.connector.clone(),
                opts.connect_timeout,
            ),
            mode: opts.mode,
            diff: opts.diff,
            resume: start.resume,
            saved: opts.saved_plan.clone(),
            changed_hosts: Mutex::new(HashSet::new()),
            planned: Mutex::new(HashMap::new()),
            notified: Mutex::new(HashMap::new()),
            registered: Mutex::new(HashMap::new()),
            last_probe: Mutex::new(HashMap::new()),
            waits_on_register: Mutex::new(HashMap::new()),
            earlier_changes: AtomicBool::new(false),
            plan_entries: Mutex::new(Vec::new()),
            facts: Mutex::new(HashMap::new()),
            local_files: Arc::new(crate::local_files::LocalFiles::new(
                &playbook.dir(),
                &opts.state_dir,
                self.redactor.clone(),
            )),
        });
        let forks = Arc::new(Semaphore::new(opts.forks.max(1)));
        // Facts (read-only), for every host some step targets.
        let mut down = self
            .gather_all_facts(
                playbook,
                &inventory,
                &start.targets,
                &shared,
                &forks,
                &mut recap,
            )
            .instrument(tracing::info_span!("facts"))
            .await?;
        // Every step's parameters for every host, rendered and checked
        // before anything changes.
        let prepare = Prepare {
            playbook,
            inventory: &inventory,
            templates: &start.templates,
            vars: &start.vars,
            sensitive: &start.sensitive,
            stand_ins: start.sensitive.stand_ins(),
            base_ctx: &start.base_ctx,
            opts: &opts,
            redactor: &self.redactor,
        };
        let jobs = tracing::info_span!("prepare")
            .in_scope(|| prepare.jobs(&start.targets, &start.plugins, &shared))?;
        if let Some(reason) = saved_plan_stale(&shared, &jobs).await? {
            recap.stale = Some(reason);
            return Ok(RunResult { recap, plan: None });
        }
        for (step, step_jobs) in playbook.steps.iter().zip(jobs) {
            if step.index < opts.start_at {
                continue;
            }
            let step_jobs = match step_jobs {
                Some(jobs) => jobs,
                None => shared.registered_jobs(
                    &prepare,
                    step,
                    &start.targets[step.index],
                    &start.plugins,
                    &down,
                )?,
            };
            let span = tracing::info_span!("step", index = step.index + 1, name = %step.name);
            run_step(&shared, &forks, step, step_jobs, &mut down, &mut recap)
                .instrument(span)
                .await?;
        }
        Ok(self.finish(&shared, recap, playbook, &inventory, &opts))
    }

    /// Static checks, secrets, variables and the journal: everything a run
    /// sets up before it touches a host.
    async fn start(
        &self,
        playbook: &Playbook,
        inventory: &Inventory,
        opts: &RunOptions,
    ) -> Result<Start, RunError> {
        let templates = Templates::default();
        let (targets, plugins) = self
            .resolve_steps(playbook, inventory, opts)
            .instrument(tracing::info_span!("plugins"))
            .await?;
        let targeted: Vec<String> = inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .filter(|h| targets.iter().any(|t| t.contains(h)))
            .collect();
        let warnings = inventory
            .check_ansible_vars(&targeted)
            .map_err(|e| RunError::Inventory(inventory_name(inventory), e))?;
        let base_ctx = json!({
            "playbook_dir": journal::run_path(&playbook.dir()),
            "inventory_dir": journal::run_path(&inventory.dir()),
        });
        let mut vars = playbook.vars.clone();
        vars.extend(opts.extra_vars.clone());
        let run_id = journal::new_run_id();
        let sensitive = tracing::info_span!("secrets").in_scope(|| {
            self.load_sensitive(&Loading {
                playbook,
                inventory,
                templates: &templates,
                base_ctx: &base_ctx,
                vars: &vars,
                opts,
                run_id: &run_id,
            })
        })?;
        let (journal, resume) = tracing::info_span!("journal")
            .in_scope(|| self.start_journal(playbook, inventory, opts, &run_id))?;
        for w in inventory.warnings.iter().chain(&warnings) {
            self.reporter.warning(w);
        }
        if let Some(r) = &resume {
            self.reporter.note(&format!(
                "resuming run {} ({}): what it finished is not done again",
                r.run_id,
                r.path.display()
            ));
        }
        Ok(Start {
            templates,
            targets,
            plugins,
            base_ctx,
            vars,
            sensitive,
            run_id,
            journal,
            resume,
        })
    }

    /// The end of the run: journal it, report the recap, and hand back the
    /// plan being saved.
    fn finish(
        &self,
        shared: &Shared,
        recap: Recap,
        playbook: &Playbook,
        inventory: &Inventory,
        opts: &RunOptions,
    ) -> RunResult {
        let outcome = if recap.any(|h| h.failed + h.unreachable) {
            RunOutcome::Failed
        } else {
            RunOutcome::Ok
        };
        shared
            .journal
            .write_logged(&[Entry::End { status: outcome }]);
        self.reporter.run_done(&recap);
        let inventory_file = inventory.file.clone().unwrap_or_default();
        let plan = (opts.mode == Mode::Plan).then(|| SavedPlan {
            format: saved_plan::FORMAT,
            run_id: recap.run_id.clone(),
            playbook: journal::run_path(&playbook.path),
            playbook_sha: saved_plan::file_sha(&playbook.path),
            inventory: journal::run_path(&inventory_file),
            inventory_sha: saved_plan::file_sha(&inventory_file),
            extra_vars: opts.extra_vars.clone(),
            entries: std::mem::take(&mut shared.plan_entries.lock().expect("plan")),
            seal: String::new(),
        });
        RunResult { recap, plan }
    }

    /// Create this run's journal (and read the one it resumes).
    fn start_journal(
        &self,
        playbook: &Playbook,
        inventory: &Inventory,
        opts: &RunOptions,
        run_id: &str,
    ) -> Result<(Journal, Option<ResumeState>), RunError> {
        let journal = Journal::create(&opts.state_dir.join("runs"), run_id, self.redactor.clone())
            .map_err(RunError::Journal)?;
        let resume = match &opts.resume {
            Some(p) => Some(
                ResumeState::from_journal(p).map_err(|source| RunError::Resume {
                    journal: p.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        journal
            .write(&Entry::Run {
                format: journal::FORMAT,
                run_id: run_id.to_string(),
                started: now(),
                playbook: journal::run_path(&playbook.path),
                inventory: journal::run_path(&inventory.file.clone().unwrap_or_default()),
                mode: opts.mode,
                resume_of: resume.as_ref().map(|r| r.run_id.clone()),
            })
            .map_err(RunError::Journal)?;
        self.reporter.run_started(run_id, &playbook.name, opts.mode);
        Ok((journal, resume))
    }

    /// Gather facts of every targeted host; the ones that fail are down.
    async fn gather_all_facts(
        &self,
        playbook: &Playbook,
        inventory: &Inventory,
        targets: &[Vec<String>],
        shared: &Arc<Shared>,
        forks: &Arc<Semaphore>,
        recap: &mut Recap,
    ) -> Result<HashSet<String>, RunError> {
        let mut down = HashSet::new();
        if !playbook.gather_facts {
            return Ok(down);
        }
        let all_targets: Vec<String> = inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .filter(|h| targets.iter().any(|t| t.contains(h)))
            .collect();
        for (h, r) in gather_facts(shared, &all_targets, forks).await? {
            match r {
                Ok(f) => {
                    shared.facts.lock().expect("facts").insert(h, f);
                }
                Err(e) => {
                    let e = self.redactor.redact(&e);
                    self.reporter
                        .host_done(Phase::Facts, &h, Status::Unreachable, &e);
                    recap.count(&h, Status::Unreachable);
                    down.insert(h);
                }
            }
        }
        Ok(down)
    }
}

/// A step's hosts, each with its jobs (one per item of a loop; none:
/// skipped there).
type StepJobs = Vec<(String, Vec<Job>)>;

impl Runner {
    /// Each step's target hosts (after `--limit`) and loaded plugin.
    async fn resolve_steps(
        &self,
        playbook: &Playbook,
        inventory: &Inventory,
        opts: &RunOptions,
    ) -> Result<(Vec<Vec<String>>, Vec<Arc<Plugin>>), RunError> {
        let mut targets = step_targets(playbook, inventory, opts.limit.as_deref())?;
        let mut plugins = Vec::new();
        for step in &playbook.steps {
            if step.index < opts.start_at {
                targets[step.index].clear();
            }
            let plugin = self
                .planner
                .plugin(&step.plugin)
                .await
                .map_err(|e| playbook.step_error(step.index, "plugin", format!("{e:#}")))?;
            plugins.push(plugin);
        }
        Ok((targets, plugins))
    }
}

/// Each step's hosts: its `on` pattern, narrowed by `limit`.
pub fn step_targets(
    playbook: &Playbook,
    inventory: &Inventory,
    limit: Option<&str>,
) -> Result<Vec<Vec<String>>, RunError> {
    let limit = match limit {
        Some(l) => Some(pattern::select(inventory, l).map_err(RunError::Limit)?),
        None => None,
    };
    let mut targets = Vec::new();
    for step in &playbook.steps {
        let mut hosts = pattern::select(inventory, &step.on)
            .map_err(|e| playbook.step_error(step.index, "on", e))?;
        if let Some(l) = &limit {
            hosts.retain(|h| l.contains(h));
        }
        targets.push(hosts);
    }
    Ok(targets)
}

/// Applying a saved plan: why it is stale, if any host answers its
/// recorded observations differently now.
async fn saved_plan_stale(
    shared: &Shared,
    jobs: &[Option<StepJobs>],
) -> Result<Option<String>, RunError> {
    let Some(saved) = &shared.saved else {
        return Ok(None);
    };
    let job_of = |step: usize, host: &str, item: Option<usize>| {
        jobs.get(step)?
            .as_ref()?
            .iter()
            .find(|(h, _)| h == host)?
            .1
            .iter()
            .find(|job| job.item.as_ref().map(|i| i.index) == item)
            .map(|job| (job.grant(), job.transport(&shared.pool)))
    };
    // A step prepared when it runs (it reads a registered variable) is
    // checked then, against the plan's digests.
    let later = |step: usize| jobs.get(step).is_some_and(Option::is_none);
    saved_plan::stale_reason(saved, job_of, later)
        .await
        .map_err(RunError::SavedPlan)
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
            let t = shared.pool.transport(&h);
            (h, facts::gather(t.as_ref()).await)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await?);
    }
    Ok(out)
}

impl Shared {
    /// `step` ended `status` on `host`: the handlers it notifies are due
    /// there.
    fn notify(&self, step: &Step, host: &str, status: Status) {
        let mut notified = self.notified.lock().expect("notified");
        for handler in &step.notify {
            notified
                .entry((*handler, host.to_string()))
                .or_default()
                .push((step.label(), status));
        }
    }

    /// Whether a finished step of this run changed something (or, in a
    /// preview, would change something or is pending).
    fn earlier_changes(&self) -> bool {
        self.earlier_changes.load(Ordering::Relaxed)
    }
}

/// One step on its hosts still up: batches of `serial`, each batch in
/// parallel up to `forks`; a host that fails is down for the later steps.
async fn run_step(
    shared: &Arc<Shared>,
    forks: &Arc<Semaphore>,
    step: &Step,
    step_jobs: StepJobs,
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
    let mut pending: StepJobs = step_jobs
        .into_iter()
        .filter(|(h, _)| !down.contains(h))
        .collect();
    while !pending.is_empty() {
        let rest = pending.split_off(batch_size.min(pending.len()));
        let batch = std::mem::replace(&mut pending, rest);
        let mut tasks = Vec::new();
        for (h, job) in batch {
            let (shared, forks) = (shared.clone(), forks.clone());
            let (step_index, kind) = (step.index, step.kind);
            let span = tracing::info_span!("host", host = %h);
            tasks.push(tokio::spawn(
                async move {
                    let _permit = forks.acquire().await;
                    shared.reporter.host_started(step_index, &h);
                    let (status, message, inputs) = match kind {
                        StepKind::Task => match shared.waits_on_register(step_index, &h) {
                            Some(why) => (Status::Pending, why, String::new()),
                            None => step_host(&shared, job).await,
                        },
                        StepKind::Handler => handler_host(&shared, step_index, &h, job).await,
                    };
                    let message = shared.redactor.redact(&message);
                    shared.journal.write_logged(&[Entry::HostDone {
                        step: step_index,
                        host: h.clone(),
                        status,
                        inputs,
                        message: message.clone(),
                    }]);
                    shared
                        .reporter
                        .host_done(Phase::Step(step_index), &h, status, &message);
                    (h, status)
                }
                .instrument(span),
            ));
        }
        for task in tasks {
            let (h, status) = task.await?;
            recap.count(&h, status);
            if matches!(status, Status::Changed | Status::Pending) {
                shared.earlier_changes.store(true, Ordering::Relaxed);
                shared.notify(step, &h, status);
            }
            shared.register(step, &h, status);
            if status.is_failure() {
                down.insert(h);
            }
        }
    }
    shared.reporter.step_done(step.index);
    Ok(())
}

/// A step on one host: its job's outcome and inputs; each item of a loop
/// in turn, until one fails; skipped when it has none.
async fn step_host(shared: &Shared, jobs: Vec<Job>) -> (Status, String, String) {
    let looped = jobs.iter().any(|j| j.item.is_some());
    match jobs.len() {
        0 => return (Status::Skipped, String::new(), String::new()),
        1 if !looped => {
            let job = jobs.into_iter().next().expect("one job");
            let inputs = job.inputs.clone();
            let (s, m) = run_job(shared, job).await;
            return (s, m, inputs);
        }
        _ => {}
    }
    let inputs = prepare::digest(&json!(
        jobs.iter().map(|j| j.inputs.as_str()).collect::<Vec<_>>()
    ));
    let mut outcomes = Vec::new();
    for job in jobs {
        let label = job
            .item
            .as_ref()
            .map(|i| i.label.clone())
            .unwrap_or_default();
        let (status, message) = run_job(shared, job).await;
        outcomes.push((label, status, message));
        if status.is_failure() {
            break;
        }
    }
    let status = loop_status(outcomes.iter().map(|(_, s, _)| *s));
    let message = outcomes
        .iter()
        .map(|(label, s, m)| match m.is_empty() {
            true => format!("[{label}] {}", s.as_str()),
            false => format!("[{label}] {}: {m}", s.as_str()),
        })
        .collect::<Vec<_>>()
        .join("; ");
    (status, message, inputs)
}

/// A loop's status from its items': the first failure, else pending,
/// changed, ok in that order.
fn loop_status(items: impl Iterator<Item = Status>) -> Status {
    let all: Vec<Status> = items.collect();
    if let Some(failed) = all.iter().find(|s| s.is_failure()) {
        return *failed;
    }
    [Status::Pending, Status::Changed, Status::Ok]
        .into_iter()
        .find(|s| all.contains(s))
        .unwrap_or(Status::Skipped)
}

/// A handler on one host: run where a step that notifies it changed the
/// host; in a preview, `pending` where such a step is only pending there.
async fn handler_host(
    shared: &Shared,
    step: usize,
    host: &str,
    jobs: Vec<Job>,
) -> (Status, String, String) {
    let notifiers = shared
        .notified
        .lock()
        .expect("notified")
        .get(&(step, host.to_string()))
        .cloned()
        .unwrap_or_default();
    let changed: Vec<&str> = notifiers
        .iter()
        .filter(|(_, s)| *s == Status::Changed)
        .map(|(by, _)| by.as_str())
        .collect();
    let all: Vec<&str> = notifiers.iter().map(|(by, _)| by.as_str()).collect();
    if jobs.is_empty() || notifiers.is_empty() {
        let why = "not notified: no step that notifies it changed this host";
        return (Status::Skipped, why.into(), String::new());
    }
    let (status, message, inputs) = step_host(shared, jobs).await;
    let by = |names: &[&str]| names.join(", ");
    if !changed.is_empty() || !shared.mode.previews() {
        let message = join_notes(&format!("notified by {}", by(&changed)), &message);
        return (status, message, inputs);
    }
    let why = format!(
        "known after apply: runs only if {} changes this host",
        by(&all)
    );
    match status {
        Status::Changed | Status::Ok | Status::Pending => {
            (Status::Pending, join_notes(&why, &message), inputs)
        }
        other => (other, message, inputs),
    }
}

fn join_notes(first: &str, rest: &str) -> String {
    if rest.is_empty() {
        first.to_string()
    } else {
        format!("{first}; {rest}")
    }
}

fn inventory_name(inventory: &Inventory) -> String {
    inventory
        .file
        .as_ref()
        .map_or_else(|| "the inventory".into(), |f| f.display().to_string())
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod loop_tests {
    use super::*;

    #[test]
    fn a_loop_is_its_worst_item() {
        use Status::*;
        assert_eq!(loop_status([Ok, Changed, Ok].into_iter()), Changed);
        assert_eq!(loop_status([Changed, Pending, Ok].into_iter()), Pending);
        assert_eq!(loop_status([Ok, Ok].into_iter()), Ok);
        assert_eq!(loop_status([Changed, Failed].into_iter()), Failed);
        assert_eq!(loop_status([Unreachable, Failed].into_iter()), Unreachable);
    }
}
