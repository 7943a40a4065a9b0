//! `runner plugin test DIR`: a plugin planned against fixtures, with no
//! hosts. A fixture is a hand-written YAML file (`*.yaml`: the plugin,
//! parameters, facts, the answers to its observations in order, and the
//! plan expected) or a journal excerpt (`*.jsonl`: its `plan` lines, each
//! replayed against its recorded answers and compared with its recorded
//! plan). A difference is shown as a unified diff of the two plans.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use runner_plugin_host::PlanRequest;
use runner_types::capability::Grant;
use runner_types::{Action, Plan};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::journal::{Entry, Observation, ObservationKind};
use crate::observer::ReplayObserver;
use crate::planner::Planner;
use crate::run::apply_schema_defaults;
use crate::stand_in;

/// One plan call to make and the plan it must give.
#[derive(Debug, Clone)]
pub struct Case {
    /// `file.yaml`, or `file.jsonl:LINE`.
    pub name: String,
    pub plugin: String,
    pub host: String,
    pub stage: u32,
    pub params: Value,
    pub facts: Value,
    pub observations: Vec<Observation>,
    pub expected: Plan,
}

/// A hand-written fixture, as its YAML file has it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    plugin: String,
    #[serde(default = "default_host")]
    host: String,
    #[serde(default)]
    stage: u32,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    facts: Value,
    /// The plugin's observations in the order it asks them.
    #[serde(default)]
    observations: Vec<FixtureObservation>,
    expect: Expected,
}

fn default_host() -> String {
    "host".into()
}

/// One observation and its answer: exactly one of `probe` (answer
/// `{exit_code, stdout, stderr}`), `read` (the file's text, or null: no
/// such file), `http` (`{status, body}`), `local_read` (text); or
/// `{error: ...}` for an answer that failed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureObservation {
    probe: Option<String>,
    read: Option<String>,
    http: Option<String>,
    local_read: Option<String>,
    #[serde(default)]
    answer: Value,
}

/// The plan a fixture expects.
#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    replan: bool,
    #[serde(default)]
    pending: Option<String>,
}

impl FixtureObservation {
    fn into_observation(self, at: &str) -> anyhow::Result<Observation> {
        let asked = [
            (ObservationKind::Probe, self.probe),
            (ObservationKind::Read, self.read),
            (ObservationKind::Http, self.http),
            (ObservationKind::LocalRead, self.local_read),
        ];
        let mut given = asked.into_iter().filter_map(|(k, r)| r.map(|r| (k, r)));
        let (Some((kind, request)), None) = (given.next(), given.next()) else {
            anyhow::bail!("{at}: give exactly one of probe, read, http, local_read");
        };
        let answer = match (kind, self.answer) {
            (ObservationKind::Read | ObservationKind::LocalRead, Value::String(text)) => {
                json!({ "text": text })
            }
            (_, answer) => answer,
        };
        Ok(Observation {
            kind,
            request,
            answer,
            answer_sha: String::new(),
            planned: false,
        })
    }
}

/// Every case of the fixtures in `dir` (`*.yaml`, `*.jsonl`), by file name.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the fixture directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in &files {
        if file.extension().is_some_and(|e| e == "jsonl") {
            cases.extend(load_excerpt(file)?);
        } else {
            cases.push(load_fixture(file)?);
        }
    }
    if cases.is_empty() {
        anyhow::bail!("{}: no fixtures (*.yaml or *.jsonl)", dir.display());
    }
    Ok(cases)
}

fn load_fixture(file: &Path) -> anyhow::Result<Case> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let f: Fixture = serde_yaml_ng::from_str(&text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!("{}:{}:{}: {e}", file.display(), l.line(), l.column()),
        None => anyhow::anyhow!("{}: {e}", file.display()),
    })?;
    let name = file_name(file);
    let observations = f
        .observations
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.into_observation(&format!("{name}: observation {}", i + 1)))
        .collect::<anyhow::Result<_>>()?;
    Ok(Case {
        name,
        plugin: f.plugin,
        host: f.host,
        stage: f.stage,
        params: if f.params.is_null() {
            json!({})
        } else {
            f.params
        },
        facts: if f.facts.is_null() {
            json!({})
        } else {
            f.facts
        },
        observations,
        expected: Plan {
            actions: f.expect.actions,
            replan: f.expect.replan,
            pending: f.expect.pending,
        },
    })
}

/// The `plan` lines of a journal (or an excerpt of one), one case each.
fn load_excerpt(file: &Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a journal entry", file.display(), i + 1))?;
        if let Some((_, mut case)) = Case::recorded(entry) {
            case.name = format!("{}:{}", file_name(file), i + 1);
            cases.push(case);
        }
    }
    if cases.is_empty() {
        anyhow::bail!("{}: no plan lines", file.display());
    }
    Ok(cases)
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What one case found: nothing, or every way it differs.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Observations asked that the fixture does not answer as recorded,
    /// answers never asked for, and a plan call that failed.
    pub problems: Vec<String>,
    /// A unified diff, expected → now, when the plans differ.
    pub diff: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.diff.is_none()
    }
}

/// What planning a case again gave, before it is compared.
pub(crate) struct Replanned {
    /// Observations asked that the recorded answers do not match.
    pub mismatches: Vec<String>,
    /// Recorded answers never asked for.
    pub unused: usize,
    /// The plan, or why the call failed (masked, as the journal has it).
    pub plan: Result<Plan, String>,
}

impl Case {
    /// A journal's `plan` line as a case, and the step it was in: planning
    /// again must give the recorded plan. Its `name` is the caller's to set.
    pub(crate) fn recorded(entry: Entry) -> Option<(usize, Case)> {
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
        } = entry
        else {
            return None;
        };
        let case = Case {
            name: String::new(),
            plugin,
            host,
            stage,
            params,
            facts,
            observations,
            expected: Plan {
                actions,
                replan,
                pending,
            },
        };
        Some((step, case))
    }

    /// Plan again against the case's answers, its parameters completed
    /// with the schema's defaults as a run does.
    pub(crate) async fn replan(&self, planner: &dyn Planner) -> anyhow::Result<Replanned> {
        let plugin = planner
            .plugin(&self.plugin)
            .await
            .with_context(|| format!("{}: plugin '{}'", self.name, self.plugin))?;
        // Each masked secret given as a plain word, and the plan given
        // back masked (see `stand_in`).
        let mut params = stand_in::json_to_plugin(&self.params);
        apply_schema_defaults(&mut params, &plugin.info.params_schema);
        let facts = stand_in::json_to_plugin(&self.facts);
        let grant = Grant::new(&plugin.info.name, &plugin.info.capabilities, &params);
        let observer = Arc::new(ReplayObserver::new(self.observations.clone()));
        let request = PlanRequest {
            params: &params,
            facts: &facts,
            host: &self.host,
            stage: self.stage,
        };
        let plan = planner
            .plan(&plugin, grant, observer.clone(), request)
            .await
            .map(|o| stand_in::plan_from_plugin(o.plan))
            .map_err(|e| stand_in::from_plugin(&e.to_string()));
        let mismatches = observer.mismatches.lock().expect("replay").clone();
        Ok(Replanned {
            mismatches,
            unused: observer.unused(),
            plan,
        })
    }

    /// Plan with the fixture's answers and compare with the expected plan.
    pub async fn run(&self, planner: &dyn Planner) -> anyhow::Result<Outcome> {
        let again = self.replan(planner).await?;
        let mut outcome = Outcome {
            problems: again.mismatches,
            diff: None,
        };
        match again.plan {
            Err(e) => outcome.problems.push(format!("planning failed: {e}")),
            Ok(now) if now != self.expected => {
                outcome.diff = Some(plan_diff(&self.expected, &now));
            }
            Ok(_) => {}
        }
        if again.unused > 0 {
            outcome
                .problems
                .push(format!("{} answers were never asked for", again.unused));
        }
        Ok(outcome)
    }
}

/// The two plans as YAML (the fixture's own shape), diffed line by line.
pub fn plan_diff(expected: &Plan, now: &Plan) -> String {
    let yaml = |p: &Plan| {
        serde_yaml_ng::to_string(&Expected {
            actions: p.actions.clone(),
            replan: p.replan,
            pending: p.pending.clone(),
        })
        .unwrap_or_else(|e| format!("(not shown: {e})\n"))
    };
    let (a, b) = (yaml(expected), yaml(now));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("expected", "now")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_written_fixture_becomes_a_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("touch.yaml"),
            "plugin: command\nparams: { cmd: touch /x, creates: /x }\nobservations:\n  - probe: test -e /x\n    answer: { exit_code: 1, stdout: '', stderr: '' }\n  - read: /etc/a\n    answer: hello\nexpect:\n  actions: []\n",
        )
        .unwrap();
        let cases = load_dir(dir.path()).unwrap();
        assert_eq!(cases.len(), 1);
        let c = &cases[0];
        assert_eq!(
            (c.name.as_str(), c.plugin.as_str(), c.host.as_str()),
            ("touch.yaml", "command", "host")
        );
        assert_eq!(c.observations[0].kind, ObservationKind::Probe);
        assert_eq!(c.observations[1].answer, json!({"text": "hello"}));
    }

    #[test]
    fn an_observation_must_name_one_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.yaml"),
            "plugin: command\nobservations:\n  - { probe: a, read: b }\nexpect: {}\n",
        )
        .unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bad.yaml: observation 1: give exactly one"),
            "{err}"
        );
    }

    #[test]
    fn a_different_plan_is_a_unified_diff() {
        let plan = |cmd: &str| Plan {
            actions: vec![Action {
                summary: "run".into(),
                kind: runner_types::ActionKind::Run {
                    command: cmd.into(),
                    ok_codes: vec![0],
                    timeout_ms: 1000,
                },
            }],
            replan: false,
            pending: None,
        };
        let diff = plan_diff(&plan("true"), &plan("false"));
        assert!(diff.contains("--- expected\n+++ now\n"), "{diff}");
        assert!(
            diff.contains("-  command: 'true'") || diff.contains("-  command: \"true\""),
            "{diff}"
        );
    }
}
