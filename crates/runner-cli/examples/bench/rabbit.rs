//! `bench ansible-rabbit` (`./dev bench-ansible`): playbooks/rabbit-ha.yaml
//! side by side with its Ansible equivalent, bench/ansible/site.yml, each
//! on fresh lab hosts: `runner lab down` and `up` (the default stack), the
//! cold run, then the idempotent re-runs. Ansible first (ansible-core and
//! the `ansible` package's collections in a venv under the target dir,
//! `runner_test_support::ansible_collections_bin`), then the release
//! `runner`. Every run must succeed, every re-run must report nothing
//! changed, and afterwards the same checks of the end state must pass for
//! both (the cluster through the management API, the VIP, `runner lab
//! status`); anything else panics. The figures go to stdout, the tools'
//! output to stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use runner_engine::Inventory;
use runner_test_support::lab::{LAB, Lab};
use runner_test_support::{
    ANSIBLE, ANSIBLE_CORE, ansible_collections_bin, http_get, recap, root, stderr, stdout, total,
};

use crate::ansible::close_masters;
use crate::curve::median;

#[derive(Debug, Parser)]
#[command(name = "bench ansible-rabbit")]
struct Args {
    /// Idempotent re-runs after each cold run.
    #[arg(long, default_value_t = 3)]
    reruns: usize,
    /// Rounds: each is a fresh lab and a cold run per tool, then its re-runs.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Only one tool (for trying the bench; the ratios need both).
    #[arg(long, value_parser = ["ansible", "runner"])]
    only: Option<String>,
}

/// One tool's runs.
#[derive(Default)]
struct Runs {
    cold: Vec<Duration>,
    reruns: Vec<Duration>,
}

/// What a run reported, summed over the hosts.
struct Counts {
    changed: u64,
    failed: u64,
}

pub fn main() {
    let args = Args::parse_from(std::env::args().skip(1));
    assert!(
        args.rounds >= 1 && args.reruns >= 1,
        "--rounds and --reruns: at least 1"
    );
    let runner_bin = runner_test_support::runner_bin();
    eprintln!("runner: {}", runner_bin.display());
    let ansible_bin = (args.only.as_deref() != Some("runner")).then(ansible_collections_bin);
    let _lab_lock = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let (mut ansible, mut ours) = (Runs::default(), Runs::default());
    for round in 1..=args.rounds {
        if let Some(bin) = &ansible_bin {
            let lab = fresh_lab();
            let home = lab.dir().join("ansible-home");
            // Python's bytecode compiled and the playbook parsed once, as
            // on any machine that has run Ansible before.
            let warm = ansible_command(bin, &lab, &home)
                .arg("--syntax-check")
                .output()
                .expect("ansible-playbook");
            assert!(
                warm.status.success(),
                "ansible-playbook --syntax-check:\n{}{}",
                stdout(&warm),
                stderr(&warm)
            );
            measure("Ansible", round, args.reruns, &mut ansible, || {
                ansible_play(bin, &lab, &home)
            });
            let password = std::fs::read_to_string(
                lab.dir()
                    .join("lab/ansible-rabbit-ha/rabbitmq_admin_password"),
            )
            .expect("Ansible's admin password");
            check_end_state(&lab, password.trim(), "Ansible");
            close_masters(&home.join("cp"));
        }
        if args.only.as_deref() != Some("ansible") {
            let lab = fresh_lab();
            // The plugins compiled into the runner's cache once, as on any
            // machine that has run a playbook before.
            let warm = lab.runner(&["plugins", "list"]);
            assert!(warm.status.success(), "runner plugins list failed");
            measure("runner", round, args.reruns, &mut ours, || {
                runner_play(&lab)
            });
            check_end_state(&lab, &lab.secret("rabbitmq_admin_password"), "runner");
        }
    }
    report(&args, &ansible, &ours);
}

/// `runner lab down`, then `runner lab up` (the default stack), in a scratch
/// state directory; `down` again when dropped.
fn fresh_lab() -> Lab {
    Lab::up_with(&[]).expect("the lab needs a Docker engine (./dev setup)")
}

/// The cold run, then the re-runs, which must change nothing.
fn measure(
    tool: &str,
    round: usize,
    reruns: usize,
    runs: &mut Runs,
    mut play: impl FnMut() -> (Duration, Counts),
) {
    let (cold, counts) = play();
    assert_eq!(counts.failed, 0, "{tool}'s cold run failed");
    println!(
        "round {round}: {tool} cold {} ({} changed)",
        secs(cold),
        counts.changed
    );
    runs.cold.push(cold);
    for i in 1..=reruns {
        let (took, counts) = play();
        assert_eq!(counts.failed, 0, "{tool}'s re-run {i} failed");
        assert_eq!(
            counts.changed, 0,
            "{tool} is not idempotent: its re-run {i} changed {} (see its output above)",
            counts.changed
        );
        println!(
            "round {round}: {tool} re-run {i} {} (0 changed)",
            secs(took)
        );
        runs.reruns.push(took);
    }
}

fn ansible_dir() -> PathBuf {
    root().join("bench/ansible")
}

/// `ansible-playbook -i <the lab's inventory> site.yml`, with bench/ansible's
/// ansible.cfg and its state (control sockets, temp files) under `home`.
fn ansible_command(bin: &Path, lab: &Lab, home: &Path) -> Command {
    let dir = ansible_dir();
    let mut c = Command::new(bin.join("ansible-playbook"));
    c.arg("-i")
        .arg(lab.inventory())
        .arg("site.yml")
        .current_dir(&dir)
        .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
        .env("ANSIBLE_HOME", home)
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null());
    c
}

fn ansible_play(bin: &Path, lab: &Lab, home: &Path) -> (Duration, Counts) {
    let start = Instant::now();
    let out = ansible_command(bin, lab, home)
        .output()
        .expect("ansible-playbook");
    let took = start.elapsed();
    let text = stdout(&out);
    eprintln!(
        "$ ansible-playbook -i {} site.yml\n{text}{}",
        lab.inventory().display(),
        stderr(&out)
    );
    let counts = ansible_recap(&text);
    assert!(
        out.status.success() && counts.failed == 0,
        "ansible-playbook failed (exit {:?}); its output is above",
        out.status.code()
    );
    if counts.changed > 0 {
        eprintln!("changed:\n{}", ansible_changed(&text).join("\n"));
    }
    (took, counts)
}

/// The PLAY RECAP's counters, summed over the hosts.
fn ansible_recap(text: &str) -> Counts {
    let mut counts = Counts {
        changed: 0,
        failed: 0,
    };
    let recap = text
        .split("PLAY RECAP")
        .nth(1)
        .expect("ansible-playbook printed no PLAY RECAP");
    for line in recap.lines().filter(|l| l.contains(" : ok=")) {
        for field in line.split_whitespace() {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let n: u64 = value.parse().unwrap_or(0);
            match key {
                "changed" => counts.changed += n,
                "failed" | "unreachable" => counts.failed += n,
                _ => {}
            }
        }
    }
    counts
}

/// Each `changed:` line with its task, for the report of a re-run that
/// changed something.
fn ansible_changed(text: &str) -> Vec<String> {
    let mut task = "";
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("TASK [") {
            task = line.trim_end_matches(['*', ' ']);
        } else if line.starts_with("changed: ") {
            out.push(format!("{task} {line}"));
        }
    }
    out
}

fn runner_play(lab: &Lab) -> (Duration, Counts) {
    let playbook = root().join("playbooks/rabbit-ha.yaml");
    let inventory = lab.inventory();
    let start = Instant::now();
    let out: Output = lab.runner(&[
        "play",
        playbook.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "runner play failed (exit {:?}); its output is above",
        out.status.code()
    );
    let r = recap(&out);
    (
        took,
        Counts {
            changed: total(&r, "changed"),
            failed: total(&r, "failed") + total(&r, "unreachable"),
        },
    )
}

/// The same end state whichever tool built it: every node running in one
/// cluster named rabbit-ha, no guest user, quorum queues by default (the
/// ha-all policy on 3.x), exactly one balancer holding the VIP, and the
/// lab's own status.
fn check_end_state(lab: &Lab, password: &str, tool: &str) {
    let inv = Inventory::load(&lab.inventory()).expect("the lab's inventory");
    let group = |g: &str| inv.groups.get(g).cloned().unwrap_or_default();
    let (rabbits, balancers) = (group("rabbits"), group("balancers"));
    let var = |host: &str, name: &str| {
        inv.hosts
            .iter()
            .find(|h| h.name == host)
            .and_then(|h| h.vars.get(name))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let api = format!("http://{}:15672/api", var(&rabbits[0], "ansible_host"));
    let get = |path: &str| -> serde_json::Value {
        let (status, body) = http_get(&format!("{api}/{path}"), "admin", password);
        assert_eq!(
            status, 200,
            "after {tool}: GET {api}/{path}: HTTP {status} {body}"
        );
        serde_json::from_str(&body).expect("JSON")
    };
    let mut running: Vec<String> = get("nodes")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["running"] == true)
        .filter_map(|n| n["name"].as_str().map(str::to_string))
        .collect();
    running.sort();
    let mut expected: Vec<String> = rabbits.iter().map(|h| format!("rabbit@{h}")).collect();
    expected.sort();
    assert_eq!(
        running, expected,
        "after {tool}: the cluster's running nodes"
    );
    assert_eq!(
        get("cluster-name")["name"],
        "rabbit-ha",
        "after {tool}: the cluster's name"
    );
    let users = get("users");
    assert!(
        !users
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| u["name"] == "guest"),
        "after {tool}: the guest user is still there"
    );
    if var(&rabbits[0], "rabbitmq_version").starts_with("3.") {
        let policies = get("policies/%2F");
        assert!(
            policies
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "ha-all"),
            "after {tool}: no ha-all policy"
        );
    } else {
        let vhost = get("vhosts/%2F");
        let qt = vhost["default_queue_type"]
            .as_str()
            .or(vhost["metadata"]["default_queue_type"].as_str());
        assert_eq!(qt, Some("quorum"), "after {tool}: the default queue type");
    }
    let b: Vec<&str> = balancers.iter().map(String::as_str).collect();
    let holders = lab.vip_holders(&b);
    assert_eq!(holders.len(), 1, "after {tool}: VIP holders {holders:?}");
    let status = lab.lab(&["status"]);
    assert!(status.status.success(), "runner lab status failed");
    eprintln!(
        "after {tool}: the cluster is whole; the VIP is on {}",
        holders[0]
    );
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn figure(v: &[Duration]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let (m, lo, hi) = median(v.to_vec());
    if v.len() == 1 {
        secs(m)
    } else {
        format!(
            "{} ({:.1}-{:.1})",
            secs(m),
            lo.as_secs_f64(),
            hi.as_secs_f64()
        )
    }
}

fn ratio(ours: &[Duration], theirs: &[Duration]) -> Option<f64> {
    if ours.is_empty() || theirs.is_empty() {
        return None;
    }
    Some(median(ours.to_vec()).0.as_secs_f64() / median(theirs.to_vec()).0.as_secs_f64())
}

fn report(args: &Args, ansible: &Runs, ours: &Runs) {
    println!();
    println!(
        "playbooks/rabbit-ha.yaml vs bench/ansible/site.yml ({ANSIBLE_CORE}, {ANSIBLE}), fresh lab hosts; \
         {} round(s), {} re-run(s) each; medians (min-max):",
        args.rounds, args.reruns
    );
    println!();
    println!("| | cold | idempotent re-run |");
    println!("|---|---|---|");
    println!(
        "| runner (release) | {} | {} |",
        figure(&ours.cold),
        figure(&ours.reruns)
    );
    println!(
        "| Ansible | {} | {} |",
        figure(&ansible.cold),
        figure(&ansible.reruns)
    );
    let cold = ratio(&ours.cold, &ansible.cold);
    let rerun = ratio(&ours.reruns, &ansible.reruns);
    let show = |r: Option<f64>| r.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into());
    println!("| runner / Ansible | {} | {} |", show(cold), show(rerun));
    println!();
    let verdict = |r: Option<f64>, goal: f64| match r {
        Some(r) if r <= goal => format!("met (≤ {goal})"),
        Some(_) => format!("NOT met (goal ≤ {goal})"),
        None => "-".into(),
    };
    println!(
        "goals: cold {}, re-run {}",
        verdict(cold, 0.5),
        verdict(rerun, 0.1)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "TASK [Start keepalived] ********************************************************
skipping: [lb2]
changed: [lb1]

PLAY RECAP *********************************************************************
lb1                        : ok=14   changed=1    unreachable=0    failed=0    skipped=3    rescued=0    ignored=0   
localhost                  : ok=2    changed=0    unreachable=1    failed=0    skipped=6    rescued=0    ignored=0   
rabbit3                    : ok=3    changed=2    unreachable=0    failed=1    skipped=2    rescued=0    ignored=0   
";

    #[test]
    fn the_recap_is_summed_over_the_hosts() {
        let c = ansible_recap(OUTPUT);
        assert_eq!((c.changed, c.failed), (3, 2));
        assert_eq!(
            ansible_changed(OUTPUT),
            ["TASK [Start keepalived] changed: [lb1]"]
        );
    }

    #[test]
    fn figures_are_medians_with_their_range() {
        let s = |v: &[u64]| {
            v.iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect::<Vec<_>>()
        };
        assert_eq!(figure(&s(&[1200, 1000, 3000])), "1.2 s (1.0-3.0)");
        assert_eq!(figure(&s(&[40_000])), "40.0 s");
        assert_eq!(figure(&[]), "-");
        let r = ratio(&s(&[1000]), &s(&[20_000, 10_000, 30_000])).unwrap();
        assert!((r - 0.05).abs() < 1e-9, "{r}");
    }
}
