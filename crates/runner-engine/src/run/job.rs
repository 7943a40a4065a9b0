//! One step on one host: plan with the plugin (stage after stage), check
//! the plan against the grant, journal it, then preview it (with diffs) or
//! execute it action by action — skipping what a resumed run already did.

use std::sync::Arc;
use std::time::Duration;

use runner_plugin_host::{CallError, PlanRequest};
use runner_transport::Transport;
use runner_transport::escalate::Escalation;
use runner_types::capability::Grant;
use runner_types::shell::escape_controls;
use runner_types::{Action, ActionKind, LogLevel, OutputStream, Plan, Redactor};
use serde_json::Value;

use super::{Mode, Shared};
use crate::execute::{ActionError, execute};
use crate::journal::{Entry, Observation, ObservationKind};
use crate::observer::{LiveObserver, PlannedView};
use crate::report::{PlannedAction, Status};
use crate::saved_plan::SavedEntry;

/// One step on one host, fully prepared.
pub(super) struct Job {
    pub(super) step: usize,
    /// `step N 'name'`, for people.
    pub(super) label: String,
    pub(super) host: String,
    pub(super) plugin: Arc<crate::planner::Plugin>,
    pub(super) params: Value,
    pub(super) facts: Value,
    pub(super) inputs: String,
    /// Who its commands run as; `None`: the login user.
    pub(super) escalation: Option<Escalation>,
    /// The item of the step's loop this job is for.
    pub(super) item: Option<Item>,
    /// The step registers a variable: its last probe answer is kept.
    pub(super) registers: bool,
}

/// One item of a step's loop.
#[derive(Debug, Clone)]
pub(super) struct Item {
    /// Its place in the list, from 0.
    pub(super) index: usize,
    /// How the output names it.
    pub(super) label: String,
    /// The variable it is bound to, and its value.
    pub(super) var: String,
    pub(super) value: Value,
}

impl Job {
    fn item_index(&self) -> Option<usize> {
        self.item.as_ref().map(|i| i.index)
    }
}

impl Job {
    /// The host's transport, as the user this job runs as.
    pub(super) fn transport(&self, pool: &crate::pool::TransportPool) -> Arc<dyn Transport> {
        pool.transport_as(&self.host, self.escalation.as_ref())
    }

    /// The plugin's capabilities with this step's parameters filled in.
    pub(super) fn grant(&self) -> Grant {
        Grant::new(
            &self.plugin.info.name,
            &self.plugin.info.capabilities,
            &self.params,
        )
    }
}

const MAX_STAGES: u32 = 8;

/// How a step-host ended, and what to say about it.
type Outcome = (Status, String);

/// One stage's plan, checked and journaled.
struct Staged {
    plan: Plan,
    observations: Vec<Observation>,
    redacted: Vec<Action>,
    digests: Vec<String>,
}

/// Plan, preview or execute one step on one host.
pub(super) async fn run_job(shared: &Shared, job: Job) -> Outcome {
    if let Some(done) = done_in_resumed_run(shared, &job) {
        return done;
    }
    let transport = job.transport(&shared.pool);
    let grant = job.grant();
    let mut changed = false;
    let mut notes: Vec<String> = Vec::new();
    if let Some(e) = &job.escalation {
        notes.push(format!("runs as {e}"));
    }
    for stage in 0..MAX_STAGES {
        let staged = match plan_stage(shared, &job, &grant, stage, &mut notes).await {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        if stage == 0
            && let Err(outcome) = check_saved(shared, &job, &staged.digests, &mut notes)
        {
            return outcome;
        }
        if shared.mode.previews() {
            return preview_outcome(shared, &job, transport.as_ref(), staged, notes).await;
        }
        if let Some(reason) = &staged.plan.pending {
            return (
                Status::Failed,
                format!("still unknown after the earlier changes applied: {reason}"),
            );
        }
        if shared.diff || (stage == 0 && pending_in_saved_plan(shared, &job)) {
            let planned = preview(
                shared,
                transport.as_ref(),
                &staged.plan.actions,
                &staged.observations,
            )
            .await;
            let planned = for_item(planned, &job);
            shared
                .reporter
                .planned(job.step, &job.host, &planned, staged.plan.replan);
        }
        let ran = execute_stage(shared, &job, transport.as_ref(), stage, &staged, &mut notes).await;
        changed |= ran.changed;
        if let Some(outcome) = ran.stopped {
            return outcome;
        }
        if !staged.plan.replan || staged.plan.actions.is_empty() {
            return (
                if changed { Status::Changed } else { Status::Ok },
                notes.join("; "),
            );
        }
    }
    notes.push(format!(
        "the plugin still asked to plan again after {MAX_STAGES} stages: it does not converge"
    ));
    (Status::Failed, notes.join("; "))
}

/// A resumed run: this step-host finished before, with the same inputs.
fn done_in_resumed_run(shared: &Shared, job: &Job) -> Option<Outcome> {
    let resume = shared.resume.as_ref()?;
    let (status, inputs) = resume.done.get(&(job.step, job.host.clone()))?;
    if *inputs != job.inputs || shared.mode != Mode::Apply {
        return None;
    }
    let status = if *status == Status::Changed {
        Status::Changed
    } else {
        Status::Ok
    };
    Some((status, format!("done in run {}", resume.run_id)))
}

/// Call the plugin for one stage, check its plan against the grant and the
/// inventory, and journal it.
async fn plan_stage(
    shared: &Shared,
    job: &Job,
    grant: &Grant,
    stage: u32,
    notes: &mut Vec<String>,
) -> Result<Staged, Outcome> {
    let (plan, observations) = call_plugin(shared, job, grant, stage, notes).await?;
    // Before the plan is checked, shown, journaled or logged: a credential
    // header (`Authorization: Basic <base64 of user:password>`) is a secret.
    for action in &plan.actions {
        if let ActionKind::Http { headers, .. } = &action.kind {
            shared.redactor.add_headers(headers);
        }
    }
    check_plan(shared, grant, &plan)?;
    let digests: Vec<String> = plan.actions.iter().map(Action::digest).collect();
    let redacted: Vec<Action> = plan
        .actions
        .iter()
        .map(|a| redact_action(&shared.redactor, a))
        .collect();
    let observations = mask_rotated_secrets(&shared.redactor, observations, &plan.actions);
    if job.registers && stage == 0 {
        keep_last_probe(shared, job, &observations);
    }
    shared.journal.write_logged(&[Entry::Plan {
        step: job.step,
        host: job.host.clone(),
        item: job.item_index(),
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
        pending: plan.pending.clone(),
    }]);
    Ok(Staged {
        plan,
        observations,
        redacted,
        digests,
    })
}

/// A registering step's last probe answer (masked), for `register`.
fn keep_last_probe(shared: &Shared, job: &Job, observations: &[Observation]) {
    let last = observations
        .iter()
        .rev()
        .find(|o| o.kind == ObservationKind::Probe);
    if let Some(o) = last {
        shared
            .last_probe
            .lock()
            .expect("last probe")
            .insert((job.step, job.host.clone()), o.answer.clone());
    }
}

/// One plan call with a live observer: the plan and what it observed. A
/// host that cannot be reached is `unreachable`, whatever the plugin made
/// of it (an error, or "pending"); the plugin's log lines become notes.
async fn call_plugin(
    shared: &Shared,
    job: &Job,
    grant: &Grant,
    stage: u32,
    notes: &mut Vec<String>,
) -> Result<(Plan, Vec<Observation>), Outcome> {
    let mut observer = LiveObserver::new(job.transport(&shared.pool), shared.redactor.clone())
        .with_local_files(shared.local_files.clone());
    if shared.mode.previews() {
        let planned = shared.planned.lock().expect("planned");
        let host = planned.get(&job.host).cloned().unwrap_or_default();
        observer = observer.with_planned(PlannedView::new(host));
    }
    let observer = Arc::new(observer);
    let request = PlanRequest {
        params: &job.params,
        facts: &job.facts,
        host: &job.host,
        stage,
    };
    let outcome = shared
        .planner
        .plan(&job.plugin, grant.clone(), observer.clone(), request)
        .await;
    note_output(shared, job, stage, observer.take_output(), notes);
    let depends = observer.depends_on_earlier();
    let plan = match (outcome, observer.unreachable(), depends) {
        (Ok(o), Some(u), _) if o.plan.pending.is_some() => return Err((Status::Unreachable, u)),
        (Err(_), Some(u), _) => return Err((Status::Unreachable, u)),
        // Asked what the earlier steps' changes may answer otherwise:
        // known after apply, whatever the plugin made of today's answer.
        // The actions it planned from today's answers are not known
        // either: none are shown.
        (Ok(o), None, Some(why)) => Plan {
            actions: vec![],
            replan: false,
            pending: Some(match o.plan.pending {
                Some(own) => format!("{own}; {why}"),
                None => why,
            }),
        },
        (Err(CallError::Refused { message, .. }), None, Some(why)) => Plan {
            actions: vec![],
            replan: false,
            pending: Some(format!("{why} (today the plugin says: {message})")),
        },
        (Ok(o), _, _) => o.plan,
        (Err(e), None, _) => return Err((Status::Failed, e.to_string())),
    };
    Ok((plan, observer.take_transcript()))
}

/// What a plan call logged and printed (already masked), whether it
/// planned or failed: every line to the journal, control characters
/// escaped; its info and warn log lines to the step's notes.
fn note_output(
    shared: &Shared,
    job: &Job,
    stage: u32,
    output: Vec<(OutputStream, String)>,
    notes: &mut Vec<String>,
) {
    let entries: Vec<Entry> = output
        .iter()
        .map(|(stream, message)| Entry::PluginOutput {
            step: job.step,
            host: job.host.clone(),
            stage,
            stream: *stream,
            message: escape_controls(message),
        })
        .collect();
    if !entries.is_empty() {
        shared.journal.write_logged(&entries);
    }
    for (stream, msg) in output {
        let OutputStream::Log { level } = stream else {
            continue;
        };
        // Once each: a plugin that plans again says the same thing again.
        if level != LogLevel::Debug && !notes.contains(&msg) {
            notes.push(msg);
        }
    }
}

/// Every action within the grant, and every host a wait probes in the
/// inventory.
fn check_plan(shared: &Shared, grant: &Grant, plan: &Plan) -> Result<(), Outcome> {
    if let Err(e) = plan.actions.iter().try_for_each(|a| grant.check_action(a)) {
        return Err((Status::Failed, e.to_string()));
    }
    if let Some(unknown) = plan
        .actions
        .iter()
        .find_map(|a| unknown_peer(&shared.pool, a))
    {
        return Err((
            Status::Failed,
            format!("the plan waits on host '{unknown}', which is not in the inventory"),
        ));
    }
    Ok(())
}

/// Whether the saved plan being applied left this step-host pending.
fn pending_in_saved_plan(shared: &Shared, job: &Job) -> bool {
    shared
        .saved
        .as_ref()
        .and_then(|s| s.entry(job.step, &job.host, job.item_index()))
        .is_some_and(|e| e.pending.is_some())
}

/// Applying a saved plan: the first stage must plan what was saved, unless
/// the saved plan left it pending or an earlier step changed this host.
fn check_saved(
    shared: &Shared,
    job: &Job,
    digests: &[String],
    notes: &mut Vec<String>,
) -> Result<(), Outcome> {
    // Known parts must be what was saved; pending parts are planned now.
    let Some(saved) = &shared.saved else {
        return Ok(());
    };
    let entry = saved.entry(job.step, &job.host, job.item_index());
    if let Some(reason) = entry.and_then(|e| e.pending.as_ref()) {
        notes.push(format!("pending in the saved plan, planned now ({reason})"));
        return Ok(());
    }
    let expected = entry.map(|e| e.digests.clone()).unwrap_or_default();
    if expected == digests {
        return Ok(());
    }
    let host_changed = shared
        .changed_hosts
        .lock()
        .expect("changed")
        .contains(&job.host);
    if !host_changed {
        return Err((
            Status::Failed,
            "refused: the saved plan is stale for this step (the plugin now plans differently)"
                .into(),
        ));
    }
    notes.push(format!(
        "re-planned after earlier steps changed this host ({} actions; the saved plan had {})",
        digests.len(),
        expected.len()
    ));
    Ok(())
}

/// A preview: show the first stage's actions and say what it would be —
/// `changed`, `ok`, or `pending` when the rest is known only after apply.
async fn preview_outcome(
    shared: &Shared,
    job: &Job,
    t: &dyn runner_transport::Transport,
    staged: Staged,
    mut notes: Vec<String>,
) -> Outcome {
    let Staged {
        plan,
        observations,
        redacted,
        digests,
    } = staged;
    let more_after_apply = plan.replan && !plan.actions.is_empty();
    let planned = for_item(preview(shared, t, &plan.actions, &observations).await, job);
    shared
        .reporter
        .planned(job.step, &job.host, &planned, more_after_apply);
    let changes = plan.actions.iter().any(Action::has_side_effect);
    // `pending`: why the rest is known only after apply.
    let (status, pending) = match &plan.pending {
        Some(reason) if !shared.earlier_changes() => {
            return (
                Status::Failed,
                format!(
                    "{reason} (the plugin says this waits on earlier changes, but no earlier step of this run changes anything)"
                ),
            );
        }
        Some(reason) => (
            Status::Pending,
            Some(format!("known after apply: {reason}")),
        ),
        None if more_after_apply && changes => {
            notes.insert(0, "more actions known after apply".into());
            (Status::Changed, None)
        }
        None if more_after_apply => {
            let first: Vec<&str> = redacted.iter().map(|a| a.summary.as_str()).collect();
            let why = format!(
                "known after apply: the plugin plans the rest after '{}'",
                first.join("', '")
            );
            (Status::Pending, Some(why))
        }
        None if changes => (Status::Changed, None),
        None => (Status::Ok, None),
    };
    if let Some(why) = &pending {
        notes.insert(0, why.clone());
    }
    shared
        .planned
        .lock()
        .expect("planned")
        .entry(job.host.clone())
        .or_default()
        .record(&job.label, &plan.actions, status == Status::Pending);
    if shared.mode == Mode::Plan {
        shared.plan_entries.lock().expect("plan").push(SavedEntry {
            step: job.step,
            host: job.host.clone(),
            item: job.item_index(),
            observations,
            actions: redacted,
            digests,
            pending,
        });
    }
    (status, notes.join("; "))
}

/// What executing a stage did.
struct Ran {
    changed: bool,
    /// The step ends here (an action failed).
    stopped: Option<Outcome>,
}

/// Execute one stage's actions in order, journaling each, skipping what a
/// crashed run already did.
async fn execute_stage(
    shared: &Shared,
    job: &Job,
    t: &dyn runner_transport::Transport,
    stage: u32,
    staged: &Staged,
    notes: &mut Vec<String>,
) -> Ran {
    let key = (job.step, job.host.clone());
    let resume = shared.resume.as_ref();
    let done_before = resume.and_then(|r| r.actions.get(&key));
    let mut ran = Ran {
        changed: false,
        stopped: None,
    };
    for (index, action) in staged.plan.actions.iter().enumerate() {
        let digest = &staged.digests[index];
        if action.has_side_effect() && done_before.is_some_and(|d| d.contains(digest)) {
            notes.push(format!(
                "'{}' already done before the crash, not repeated",
                shared.redactor.redact(&action.summary)
            ));
            // The crashed run changed the host: what it notifies is due.
            ran.changed = true;
            continue;
        }
        let at = ActionAt {
            stage,
            index,
            digest,
        };
        let result = execute_action(shared, job, t, action, at, notes).await;
        if action.has_side_effect() {
            ran.changed = true;
            shared
                .changed_hosts
                .lock()
                .expect("changed")
                .insert(job.host.clone());
        }
        if let Err(e) = result {
            let summary = shared.redactor.redact(&action.summary);
            ran.stopped = Some(match e {
                ActionError::Unreachable(why) => (Status::Unreachable, why),
                ActionError::Failed(why) => (Status::Failed, format!("{summary}: {why}")),
            });
            return ran;
        }
    }
    ran
}

/// Where an action is in its step-host's plan.
#[derive(Clone, Copy)]
struct ActionAt<'a> {
    stage: u32,
    index: usize,
    digest: &'a String,
}

/// One action: journaled before and after, reported, and not run again
/// when a crashed run's completion marker shows it finished. The result is
/// redacted.
async fn execute_action(
    shared: &Shared,
    job: &Job,
    t: &dyn runner_transport::Transport,
    action: &Action,
    at: ActionAt<'_>,
    notes: &mut Vec<String>,
) -> Result<String, ActionError> {
    let summary = shared.redactor.redact(&action.summary);
    let journaled = shared.journal.write(&Entry::ActionStart {
        step: job.step,
        host: job.host.clone(),
        item: job.item_index(),
        stage: at.stage,
        index: at.index,
        digest: at.digest.clone(),
        summary: summary.clone(),
    });
    tracing::info!(action = %shared.redactor.redact(&action.literal()), "start");
    shared.reporter.action_started(job.step, &job.host);
    let marker = crate::execute::marker(job.step, &job.host, at.digest);
    let was_interrupted = shared
        .resume
        .as_ref()
        .and_then(|r| r.interrupted.get(&(job.step, job.host.clone())))
        .is_some_and(|d| d.contains(at.digest));
    let result = if let Err(e) = &journaled {
        // Not run: a crash meanwhile would leave the host changed and no
        // line to say so.
        Err(ActionError::Failed(format!(
            "not run: the journal was not written ({e:#})"
        )))
    } else {
        match finished_before_crash(t, action, &marker, was_interrupted).await {
            Some((code, result)) => {
                notes.push(format!(
                    "'{summary}' had finished before the crash (exit {code}), not repeated"
                ));
                result
            }
            None => execute(t, &shared.pool, action, &marker).await,
        }
    };
    let result = result
        .map(|d| shared.redactor.redact(&d))
        .map_err(|e| e.map_text(|t| shared.redactor.redact(t)));
    let detail = match &result {
        Ok(d) => d.clone(),
        Err(e) => e.to_string(),
    };
    tracing::info!(ok = result.is_ok(), detail = %detail, "done");
    shared.journal.write_logged(&[Entry::ActionDone {
        step: job.step,
        host: job.host.clone(),
        item: job.item_index(),
        stage: at.stage,
        index: at.index,
        digest: at.digest.clone(),
        ok: result.is_ok(),
        detail: detail.clone(),
    }]);
    shared.reporter.action_done(
        job.step,
        &job.host,
        &summary,
        result.is_err().then_some(detail.as_str()),
    );
    result
}

/// A command a crashed run started: its exit code, when its completion
/// marker shows it finished.
async fn finished_before_crash(
    t: &dyn runner_transport::Transport,
    action: &Action,
    marker: &str,
    was_interrupted: bool,
) -> Option<(i32, Result<String, ActionError>)> {
    let ActionKind::Run {
        ok_codes,
        timeout_ms,
        ..
    } = &action.kind
    else {
        return None;
    };
    if !was_interrupted {
        return None;
    }
    let code = crate::execute::interrupted_exit_code(
        t,
        marker,
        Duration::from_millis((*timeout_ms).into()),
    )
    .await?;
    let result = if crate::execute::run_ok(ok_codes, code) {
        Ok(format!("exit {code}, before the crash"))
    } else {
        Err(ActionError::Failed(format!(
            "exited {code} before the crash"
        )))
    };
    Some((code, result))
}

/// A host a wait would probe that the inventory does not have.
fn unknown_peer(pool: &crate::pool::TransportPool, action: &Action) -> Option<String> {
    match &action.kind {
        ActionKind::Wait(runner_types::WaitUntil {
            probe: runner_types::Probe::HostsCommand { hosts: names, .. },
            ..
        }) => names
            .iter()
            .find(|h| pool.inventory().host(h).is_none())
            .cloned(),
        _ => None,
    }
}

/// The redacted actions with diffs of the files they would write.
/// The planned actions, named with the loop item they are for.
fn for_item(mut planned: Vec<PlannedAction>, job: &Job) -> Vec<PlannedAction> {
    for p in &mut planned {
        p.item = job.item.as_ref().map(|i| i.label.clone());
    }
    planned
}

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
                    .find(|o| o.kind == ObservationKind::Read && o.request == *path)
                    .map(|o| {
                        o.answer
                            .get("text")
                            .and_then(Value::as_str)
                            .map(|s| s.as_bytes().to_vec())
                    });
                let current = match seen {
                    Some(c) => Ok(c),
                    None => runner_transport::files::read(t, path).await,
                };
                Some(match current {
                    Ok(c) => unified_diff(&shared.redactor, path, c.as_deref(), content),
                    Err(e) => format!("(the current content cannot be shown: {e})\n"),
                })
            }
            ActionKind::RemoveFile { path } => match runner_transport::files::read(t, path).await {
                Ok(current) => current.map(|c| unified_diff(&shared.redactor, path, Some(&c), b"")),
                Err(e) => Some(format!("(the current content cannot be shown: {e})\n")),
            },
            _ => None,
        };
        out.push(PlannedAction {
            action: redact_action(&shared.redactor, a),
            literal: shared.redactor.redact(&a.literal()),
            diff,
            item: None,
        });
    }
    out
}

fn unified_diff(r: &Redactor, path: &str, old: Option<&[u8]>, new: &[u8]) -> String {
    if std::str::from_utf8(new).is_err() {
        return format!("binary content, {} bytes\n", new.len());
    }
    let new_raw = String::from_utf8_lossy(new);
    let new_text = r.redact(&new_raw);
    let old_text = old
        .map(|o| {
            let o = String::from_utf8_lossy(o);
            mask_stale_lines(&r.redact(&o), &new_raw, &new_text)
        })
        .unwrap_or_default();
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

/// Text a file holds now, to show beside content that holds a secret:
/// a line shaped like a line of the new content that holds a secret
/// (`stats auth admin:********` against `stats auth admin:old-pass`) is
/// masked, since it may hold the secret's earlier value (a rotated
/// password, a new cookie). Other lines are shown as they are.
fn mask_stale_lines(old_redacted: &str, new_raw: &str, new_redacted: &str) -> String {
    if new_raw == new_redacted {
        return old_redacted.to_string();
    }
    let mask = runner_types::redact::MASK;
    let shapes: Vec<Vec<&str>> = new_redacted
        .lines()
        .filter(|l| l.contains(mask))
        .map(|l| l.split(mask).collect())
        .collect();
    old_redacted
        .split_inclusive('\n')
        .map(|line| {
            let body = line.trim_end_matches('\n');
            if shapes.iter().any(|parts| has_shape(body, parts)) {
                let end = if line.ends_with('\n') { "\n" } else { "" };
                format!("{mask}{end}")
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// Whether `line` is `parts` joined by some text in each gap.
fn has_shape(line: &str, parts: &[&str]) -> bool {
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Read answers for files the plan writes with secret content keep only
/// the lines the new content keeps (see [`mask_stale_lines`]).
fn mask_rotated_secrets(
    r: &Redactor,
    mut observations: Vec<Observation>,
    actions: &[Action],
) -> Vec<Observation> {
    for a in actions {
        let ActionKind::WriteFile { path, content, .. } = &a.kind else {
            continue;
        };
        let new_raw = String::from_utf8_lossy(content);
        let new_redacted = r.redact(&new_raw);
        if new_raw == new_redacted {
            continue;
        }
        for o in observations
            .iter_mut()
            .filter(|o| o.kind == ObservationKind::Read && o.request == *path)
        {
            if let Some(text) = o.answer.get("text").and_then(Value::as_str) {
                let masked = mask_stale_lines(text, &new_raw, &new_redacted);
                o.answer["text"] = Value::String(masked);
            }
        }
    }
    observations
}

/// The action as it may be shown or stored: file content redacted as
/// bytes first (binary content is base64 once serialized, which would hide
/// a secret), then every string.
pub fn redact_action(r: &Redactor, a: &Action) -> Action {
    let mut a = a.clone();
    if let ActionKind::WriteFile { content, .. } = &mut a.kind {
        *content = r.redact_bytes(content);
    }
    let v = serde_json::to_value(&a).expect("actions serialize");
    serde_json::from_value(r.redact_json(&v)).expect("redaction keeps the shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_a_rotated_secret_may_hold_are_masked() {
        let r = Redactor::new();
        r.add("new-secret-value");
        let new_raw = "user: admin\npass: new-secret-value\n";
        let new_redacted = r.redact(new_raw);
        let old = "user: admin\npass: old-secret-value\n";
        let shown = mask_stale_lines(old, new_raw, &new_redacted);
        assert!(!shown.contains("old-secret-value"), "{shown}");
        assert!(shown.starts_with("user: admin\n"), "{shown}");
        // Content with no secret shows the old text as it is.
        assert_eq!(mask_stale_lines(old, "x\n", "x\n"), old);
        // Lines not shaped like a secret's line stay readable.
        let old = "inter 1000ms\nstats auth admin:old-pass-1\n";
        let new_raw = "inter 2000ms\nstats auth admin:new-secret-value\n";
        let shown = mask_stale_lines(old, new_raw, &r.redact(new_raw));
        assert_eq!(shown, "inter 1000ms\n********\n");
        // A secret that is the whole content masks every old line.
        let shown = mask_stale_lines("old-cookie\n", "new-secret-value", "********");
        assert_eq!(shown, "********\n");
    }
}
