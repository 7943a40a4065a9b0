//! A runner killed (SIGKILL) in the middle of building the cluster on
//! fresh lab hosts: during the docker-compose step, during a node's join
//! (after `stop_app`, before `start_app`; on RabbitMQ 3.10, since 4.x
//! forms a new cluster at boot), and during the keepalived step.
//! Each time `--resume last` must converge, no node may be reset twice,
//! the cluster must end whole, and a second play changes nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::rabbit_ha::{backends, plugins, running_nodes, vip_holders};
use crate::support::lab::{LAB, Lab};
use crate::support::*;

/// Where to kill the runner: the first journal entry that matches.
struct KillPoint {
    what: &'static str,
    /// The lab's RabbitMQ: on 4.x a new cluster forms at boot, so a join
    /// (`stop_app`, `reset`, `join_cluster`) happens on a fresh build only
    /// on 3.x.
    rabbitmq: &'static str,
    /// (event, step index, the action's summary starts with)
    event: &'static str,
    step: u64,
    summary: &'static str,
}

const KILL_POINTS: [KillPoint; 3] = [
    KillPoint {
        what: "during docker compose up",
        rabbitmq: "4.0",
        event: "action_start",
        step: 1,
        summary: "start project",
    },
    KillPoint {
        what: "during a join, after stop_app",
        rabbitmq: "3.10",
        event: "action_done",
        step: 3,
        summary: "stop the RabbitMQ app",
    },
    KillPoint {
        what: "during the keepalived step",
        rabbitmq: "4.0",
        event: "action_start",
        step: 7,
        summary: "start keepalived",
    },
];

fn journal_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn journals(lab: &Lab) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(lab.dir().join(".runner/runs"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    runs.sort();
    runs
}

fn summary_is(entry: &Value, at: &KillPoint) -> bool {
    entry["summary"]
        .as_str()
        .is_some_and(|s| s.starts_with(at.summary))
}

/// `runner play` on the lab, in the background.
fn spawn_play(lab: &Lab) -> Child {
    let playbook = root().join("playbooks/rabbit-ha.yaml");
    let mut c = runner(lab.dir());
    c.env("RUNNER_LAB_DIR", lab.dir().join("lab"))
        .args(["play", playbook.to_str().unwrap(), "-i"])
        .arg(lab.inventory())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().expect("runner starts")
}

/// Play until the kill point shows in the journal, then SIGKILL the runner.
fn kill_at(lab: &Lab, at: &KillPoint) -> PathBuf {
    let before = journals(lab).len();
    let mut child = spawn_play(lab);
    let start = Instant::now();
    let journal = loop {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the play never got {}",
            at.what
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the play ended ({status}) before {}", at.what);
        }
        let runs = journals(lab);
        if runs.len() > before {
            let path = runs.last().unwrap().clone();
            // Action entries name their summary; `action_done` names its
            // action by index, so find the start it belongs to.
            let entries = journal_entries(&path);
            if entries.iter().any(|e| hits(&entries, e, at)) {
                break path;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    eprintln!(
        "killed the runner {} after {:.1}s",
        at.what,
        start.elapsed().as_secs_f64()
    );
    journal
}

/// Whether `e` is the kill point; an `action_done` is matched through its
/// `action_start`.
fn hits(entries: &[Value], e: &Value, at: &KillPoint) -> bool {
    if e["event"] != at.event || e["step"] != at.step {
        return false;
    }
    if at.event == "action_start" {
        return summary_is(e, at);
    }
    start_of(entries, e).is_some_and(|s| summary_is(s, at))
}

/// The `action_start` of the action an `action_done` entry ends.
fn start_of<'a>(entries: &'a [Value], done: &Value) -> Option<&'a Value> {
    entries.iter().find(|s| {
        s["event"] == "action_start"
            && ["host", "step", "stage", "index"]
                .iter()
                .all(|k| s[*k] == done[*k])
    })
}

/// How many times a `reset` command was launched on each host over the
/// killed run and its resumption: every start in the killed run, plus
/// every reset the resumed run ran rather than found finished.
fn resets(killed: &Path, resumed: &Path) -> std::collections::BTreeMap<String, usize> {
    let is_reset = |e: &Value| {
        e["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("reset "))
    };
    let mut count = std::collections::BTreeMap::new();
    for e in journal_entries(killed) {
        if e["event"] == "action_start" && is_reset(&e) {
            *count
                .entry(e["host"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let entries = journal_entries(resumed);
    for e in &entries {
        if e["event"] != "action_done" {
            continue;
        }
        let start = start_of(&entries, e);
        let ran_again = !e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("before the crash");
        if start.is_some_and(is_reset) && ran_again {
            *count
                .entry(e["host"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    count
}

/// Every node running in one cluster, every backend UP on both balancers,
/// exactly one VIP holder.
fn assert_whole(lab: &Lab) {
    let whole = wait_until(Duration::from_secs(120), || {
        running_nodes(lab).len() == 3
            && ["10.213.57.21", "10.213.57.22"]
                .iter()
                .all(|lb| backends(lab, lb).iter().all(|(_, s)| s == "UP"))
            && vip_holders(lab).len() == 1
    });
    assert!(
        whole,
        "not whole: nodes {:?}, VIP holders {:?}",
        running_nodes(lab),
        vip_holders(lab)
    );
}

#[test]
fn a_runner_killed_mid_build_resumes_to_a_whole_cluster() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    plugins();
    for at in &KILL_POINTS {
        let Some(lab) = Lab::up(at.rabbitmq) else {
            return;
        };
        let killed = kill_at(&lab, at);
        let out = lab.play(&lab.inventory(), &["--resume", "last", "--output", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--resume last after a kill {}",
            at.what
        );
        assert_eq!(total(&recap(&out), "failed"), 0, "{}", at.what);
        let resumed = journals(&lab).last().unwrap().clone();
        for (host, n) in resets(&killed, &resumed) {
            assert!(n <= 1, "{host} was reset {n} times (killed {})", at.what);
        }
        assert_whole(&lab);
        let again = lab.play(&lab.inventory(), &["--output", "json"]);
        assert_eq!(
            (
                total(&recap(&again), "changed"),
                total(&recap(&again), "failed")
            ),
            (0, 0),
            "a second play after resuming from a kill {}",
            at.what
        );
    }
}
