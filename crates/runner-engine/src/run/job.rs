//! One step on one host: plan with the plugin (stage after stage), check
//! the plan against the grant, journal it, then preview it (with diffs) or
//! execute it action by action — skipping what a resumed run already did.

use std::sync::Arc;
use std::time::Duration;

use runner_plugin_host::{LoadedPlugin, PlanRequest};
use runner_types::capability::Grant;
use runner_types::{Action, ActionKind, Redactor};
use serde_json::Value;

use super::{Mode, Shared};
use crate::execute::execute;
use crate::journal::{Entry, Observation};
use crate::observer::LiveObserver;
use crate::report::{PlannedAction, Status};
use crate::saved_plan::SavedEntry;

/// One step on one host, fully prepared.
pub(super) struct Job {
    pub(super) step: usize,
    pub(super) host: String,
    pub(super) plugin: Arc<LoadedPlugin>,
    pub(super) params: Value,
    pub(super) facts: Value,
    pub(super) inputs: String,
}

const MAX_STAGES: u32 = 8;

/// Plan, preview or execute one step on one host.
pub(super) async fn run_job(shared: &Shared, job: Job) -> (Status, String) {
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
        if let Some(unknown) = plan
            .actions
            .iter()
            .find_map(|a| unknown_peer(&shared.hosts, a))
        {
            return (
                Status::Failed,
                format!("the plan waits on host '{unknown}', which is not in the inventory"),
            );
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
                None => execute(transport.as_ref(), &shared.hosts, action, &marker).await,
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

/// A host a wait would probe that the inventory does not have.
fn unknown_peer(hosts: &crate::hosts::Hosts, action: &Action) -> Option<String> {
    match &action.kind {
        ActionKind::Wait(runner_types::WaitUntil {
            probe: runner_types::Probe::HostsCommand { hosts: names, .. },
            ..
        }) => names
            .iter()
            .find(|h| hosts.inventory().host(h).is_none())
            .cloned(),
        _ => None,
    }
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
