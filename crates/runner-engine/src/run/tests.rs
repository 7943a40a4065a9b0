//! The engine's orchestration on its own: a scripted [`Planner`] and fake
//! transports stand in for the plugins and the hosts, so resume, saved-plan
//! staleness, pending steps, `serial` and unreachable hosts are tested in
//! milliseconds. (The end-to-end tests drive the same paths with real
//! plugins and sshd.)

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_plugin_host::{CallError, Observer, PlanOutcome, PlanRequest};
use runner_transport::{Output, Transport, TransportError};
use runner_types::capability::{Capabilities, Grant, PluginInfo};
use runner_types::{Action, ActionKind, Plan, Redactor};
use serde_json::json;

use super::{Mode, RunOptions, RunResult, Runner};
use crate::inventory::{Connection, Inventory};
use crate::planner::{Planner, Plugin};
use crate::playbook::Playbook;
use crate::pool::Connector;
use crate::report::{HostRecap, Silent};

/// What a scripted plugin plans: given the step's plugin name, the host
/// and the stage.
type Script = dyn Fn(&str, &str, u32) -> Result<Plan, String> + Send + Sync;

/// Plans from a script; counts calls and the most calls in flight at once.
struct ScriptedPlanner {
    script: Box<Script>,
    calls: Mutex<Vec<(String, String, u32)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl ScriptedPlanner {
    fn new(
        script: impl Fn(&str, &str, u32) -> Result<Plan, String> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(ScriptedPlanner {
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        })
    }

    fn calls_of(&self, plugin: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls.iter().filter(|(p, _, _)| p == plugin).count()
    }
}

#[async_trait::async_trait]
impl Planner for ScriptedPlanner {
    async fn plugin(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        Ok(Arc::new(Plugin {
            info: PluginInfo {
                name: name.to_string(),
                version: "1.0.0".into(),
                summary: "scripted".into(),
                params_schema: json!({"type": "object"}),
                secret_params: vec![],
                capabilities: Capabilities {
                    probes: vec!["true".into()],
                    runs: vec!["echo *".into()],
                    ..Default::default()
                },
            },
            sha256: format!("sha-of-{name}"),
        }))
    }

    async fn plan(
        &self,
        plugin: &Plugin,
        _grant: Grant,
        observer: Arc<dyn Observer>,
        request: PlanRequest<'_>,
    ) -> Result<PlanOutcome, CallError> {
        let name = plugin.info.name.clone();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        self.calls
            .lock()
            .unwrap()
            .push((name.clone(), request.host.to_string(), request.stage));
        // Every plan looks at its host first, as real plugins do.
        let looked = observer.probe("true").await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = looked {
            return Err(CallError::Refused {
                plugin: name,
                message: e,
            });
        }
        (self.script)(&name, request.host, request.stage)
            .map(|plan| PlanOutcome { plan })
            .map_err(|message| CallError::Refused {
                plugin: name,
                message,
            })
    }
}

/// A host that answers every command with exit 0, or cannot be reached.
struct FakeHost {
    name: String,
    reachable: bool,
    commands: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl Transport for FakeHost {
    fn host(&self) -> &str {
        &self.name
    }

    async fn run(
        &self,
        command: &str,
        _stdin: Option<&[u8]>,
        _timeout: Duration,
    ) -> Result<Output, TransportError> {
        if !self.reachable {
            return Err(TransportError::Unreachable {
                host: self.name.clone(),
                reason: "connection refused".into(),
            });
        }
        self.commands.lock().unwrap().push(command.to_string());
        Ok(Output {
            exit_code: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
}

/// Fake hosts by name; the ones in `down` cannot be reached.
struct FakeHosts {
    down: HashSet<String>,
    commands: Arc<Mutex<Vec<String>>>,
}

impl Connector for FakeHosts {
    fn connect(&self, name: &str, _: Connection, _: Duration) -> Arc<dyn Transport> {
        Arc::new(FakeHost {
            name: name.to_string(),
            reachable: !self.down.contains(name),
            commands: self.commands.clone(),
        })
    }
}

/// A scratch directory with a playbook and an inventory of h1..hN.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(steps: &str, hosts: usize) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let names: String = (1..=hosts).map(|i| format!("    h{i}:\n")).collect();
        std::fs::write(
            dir.path().join("inventory.yaml"),
            format!("all:\n  hosts:\n{names}"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("playbook.yaml"),
            format!("name: scripted\ngather_facts: false\nsteps:\n{steps}"),
        )
        .unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn options(&self, mode: Mode) -> RunOptions {
        RunOptions {
            mode,
            state_dir: self.path("state"),
            ..Default::default()
        }
    }

    async fn run(
        &self,
        planner: Arc<ScriptedPlanner>,
        down: &[&str],
        opts: RunOptions,
    ) -> RunResult {
        let playbook = Playbook::load(&self.path("playbook.yaml")).unwrap();
        let inventory = Inventory::load(&self.path("inventory.yaml")).unwrap();
        let mut runner = Runner::new(planner, Arc::new(Silent), Redactor::new());
        runner.connector = Arc::new(FakeHosts {
            down: down.iter().map(|h| h.to_string()).collect(),
            commands: Arc::new(Mutex::new(Vec::new())),
        });
        runner.run(&playbook, inventory, opts).await.unwrap()
    }
}

fn step(name: &str, plugin: &str, extra: &str) -> String {
    format!("  - name: {name}\n    plugin: {plugin}\n    on: all\n{extra}")
}

fn done(actions: Vec<Action>) -> Plan {
    Plan {
        actions,
        replan: false,
        pending: None,
    }
}

fn pending(reason: &str) -> Plan {
    Plan {
        actions: vec![],
        replan: false,
        pending: Some(reason.to_string()),
    }
}

fn echo(word: &str) -> Plan {
    done(vec![Action {
        summary: format!("say {word}"),
        kind: ActionKind::Run {
            command: format!("echo {word}"),
            ok_codes: vec![],
            timeout_ms: 10_000,
        },
    }])
}

fn counts(r: &RunResult, host: &str) -> HostRecap {
    r.recap.hosts.get(host).cloned().unwrap_or_default()
}

fn latest_journal(state: &Path) -> std::path::PathBuf {
    let mut runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    runs.pop().unwrap()
}

#[tokio::test]
async fn pending_is_believed_only_after_an_earlier_change() {
    let steps = step("change", "changer", "") + &step("wait", "waiter", "");
    let s = Scratch::new(&steps, 1);
    let waits = |plugin: &str, _: &str, _: u32| match plugin {
        "changer" => Ok(echo("hi")),
        _ => Ok(pending("the cluster is not up yet")),
    };
    let r = s
        .run(ScriptedPlanner::new(waits), &[], s.options(Mode::DryRun))
        .await;
    let h1 = counts(&r, "h1");
    assert_eq!((h1.changed, h1.pending, h1.failed), (1, 1, 0), "{h1:?}");

    // Nothing earlier changes: a plugin that says "pending" is not believed.
    let nothing_first = |plugin: &str, _: &str, _: u32| match plugin {
        "changer" => Ok(done(vec![])),
        _ => Ok(pending("the cluster is not up yet")),
    };
    let r = s
        .run(
            ScriptedPlanner::new(nothing_first),
            &[],
            s.options(Mode::DryRun),
        )
        .await;
    let h1 = counts(&r, "h1");
    assert_eq!((h1.ok, h1.pending, h1.failed), (1, 0, 1), "{h1:?}");
}

#[tokio::test]
async fn a_plugin_that_never_stops_replanning_fails_the_step() {
    let s = Scratch::new(&step("loop", "looper", ""), 1);
    let forever = |_: &str, _: &str, _: u32| {
        let mut plan = echo("again");
        plan.replan = true;
        Ok(plan)
    };
    let planner = ScriptedPlanner::new(forever);
    let r = s.run(planner.clone(), &[], s.options(Mode::Apply)).await;
    let h1 = counts(&r, "h1");
    assert_eq!((h1.changed, h1.ok, h1.failed), (0, 0, 1), "{h1:?}");
    assert_eq!(planner.calls_of("looper"), 8);

    // Converging on the third stage is fine.
    let converges = |_: &str, _: &str, stage: u32| {
        let mut plan = echo("again");
        plan.replan = stage < 2;
        Ok(plan)
    };
    let r = s
        .run(ScriptedPlanner::new(converges), &[], s.options(Mode::Apply))
        .await;
    let h1 = counts(&r, "h1");
    assert_eq!((h1.changed, h1.failed), (1, 0), "{h1:?}");
}

#[tokio::test]
async fn serial_plans_one_batch_at_a_time() {
    let all_at_once = Scratch::new(&step("say", "sayer", ""), 4);
    let planner = ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi")));
    all_at_once
        .run(planner.clone(), &[], all_at_once.options(Mode::Apply))
        .await;
    assert!(planner.most_in_flight.load(Ordering::SeqCst) > 1);

    let serial = Scratch::new(&step("say", "sayer", "    serial: 1\n"), 4);
    let planner = ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi")));
    let r = serial
        .run(planner.clone(), &[], serial.options(Mode::Apply))
        .await;
    assert_eq!(planner.most_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(r.recap.hosts.values().map(|h| h.changed).sum::<usize>(), 4);
}

#[tokio::test]
async fn a_resumed_run_does_not_redo_what_finished() {
    let steps = step("first", "first", "") + &step("second", "second", "");
    let s = Scratch::new(&steps, 2);
    let broken = |plugin: &str, host: &str, _: u32| match (plugin, host) {
        ("second", "h2") => Err("not today".to_string()),
        _ => Ok(echo(plugin)),
    };
    let failed = s
        .run(ScriptedPlanner::new(broken), &[], s.options(Mode::Apply))
        .await;
    assert_eq!(counts(&failed, "h2").failed, 1);
    let journal = latest_journal(&s.path("state"));

    let mended = ScriptedPlanner::new(|plugin: &str, _: &str, _: u32| Ok(echo(plugin)));
    let mut opts = s.options(Mode::Apply);
    opts.resume = Some(journal);
    let resumed = s.run(mended.clone(), &[], opts).await;
    // Step 1 finished on both hosts, step 2 on h1: only step 2 on h2 is planned again.
    assert_eq!(mended.calls_of("first"), 0);
    assert_eq!(
        *mended.calls.lock().unwrap(),
        vec![("second".into(), "h2".into(), 0)]
    );
    assert_eq!(counts(&resumed, "h2").failed, 0);
}

#[tokio::test]
async fn a_saved_plan_the_plugin_no_longer_makes_is_refused() {
    let s = Scratch::new(&step("say", "sayer", ""), 1);
    let planned = s
        .run(
            ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi"))),
            &[],
            s.options(Mode::Plan),
        )
        .await;
    let saved = planned.plan.expect("a plan to save");
    assert_eq!(saved.entries.len(), 1);

    let mut opts = s.options(Mode::Apply);
    opts.saved_plan = Some(saved.clone());
    let same = s
        .run(
            ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi"))),
            &[],
            opts,
        )
        .await;
    assert_eq!(counts(&same, "h1").changed, 1);

    let mut opts = s.options(Mode::Apply);
    opts.saved_plan = Some(saved);
    let other = s
        .run(
            ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("bye"))),
            &[],
            opts,
        )
        .await;
    assert_eq!(
        (counts(&other, "h1").changed, counts(&other, "h1").failed),
        (0, 1)
    );
}

#[tokio::test]
async fn an_unreachable_host_is_unreachable_and_the_others_go_on() {
    let steps = step("first", "first", "") + &step("second", "second", "");
    let s = Scratch::new(&steps, 2);
    let planner = ScriptedPlanner::new(|plugin: &str, _: &str, _: u32| Ok(echo(plugin)));
    let r = s
        .run(planner.clone(), &["h2"], s.options(Mode::Apply))
        .await;
    let (h1, h2) = (counts(&r, "h1"), counts(&r, "h2"));
    assert_eq!((h1.changed, h1.unreachable), (2, 0), "{h1:?}");
    assert_eq!((h2.unreachable, h2.failed), (1, 0), "{h2:?}");
    // A host that is down is not asked again by later steps.
    assert_eq!(planner.calls_of("second"), 1);
}

/// `--start-at-task`: the steps before it are neither planned nor counted.
#[tokio::test]
async fn start_at_skips_the_steps_before_it() {
    let steps = step("first", "one", "") + &step("second", "two", "");
    let s = Scratch::new(&steps, 2);
    let planner = ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi")));
    let r = s
        .run(
            planner.clone(),
            &[],
            RunOptions {
                start_at: 1,
                ..s.options(Mode::Apply)
            },
        )
        .await;
    assert_eq!(planner.calls_of("one"), 0);
    assert_eq!(planner.calls_of("two"), 2);
    assert_eq!(counts(&r, "h1").changed, 1);
    assert_eq!(counts(&r, "h1").skipped, 0);
}

/// Become asked for in a way the runner cannot follow (a method it does
/// not have) stops the run before anything runs.
#[tokio::test]
async fn become_that_cannot_be_followed_is_refused_before_anything_runs() {
    let s = Scratch::new(&step("say", "sayer", ""), 1);
    std::fs::write(
        s.path("inventory.yaml"),
        "all:\n  hosts:\n    h1: {ansible_user: deploy, ansible_become: true, ansible_become_method: pbrun}\n",
    )
    .unwrap();
    let playbook = Playbook::load(&s.path("playbook.yaml")).unwrap();
    let inventory = Inventory::load(&s.path("inventory.yaml")).unwrap();
    let planner = ScriptedPlanner::new(|_: &str, _: &str, _: u32| Ok(echo("hi")));
    let runner = Runner::new(planner.clone(), Arc::new(Silent), Redactor::new());
    let err = match runner
        .run(&playbook, inventory, s.options(Mode::Apply))
        .await
    {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the run went on"),
    };
    assert!(
        err.contains("host h1: ansible_become_method 'pbrun' is not supported (runner becomes through sudo or su)"),
        "{err}"
    );
    assert_eq!(planner.calls_of("sayer"), 0);
}
