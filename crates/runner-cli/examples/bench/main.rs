//! Benchmark figures for docs/BENCHMARKS.md (run on purpose, not a test):
//!   cargo run --release -p runner-cli --example bench
//! Plugin load (cache miss and hit), instantiate + plan, no-op step overhead
//! per host (local, warm SSH), and one no-op step fanned out over 1, 10 and
//! 50 real sshd hosts on 127.0.0.1, in this process.
//!   cargo run --release -p runner-cli --example bench -- curve --help
//! The scale curve (`curve.rs`): the `runner` binary on up to 500 hosts.
//!   cargo run --release -p runner-cli --example bench -- ansible-rabbit --help
//! playbooks/rabbit-ha.yaml against its Ansible equivalent on fresh lab
//! hosts (`rabbit.rs`).

mod ansible;
mod curve;
mod plot;
mod rabbit;

use runner_test_support::sshd;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_engine::report::Silent;
use runner_engine::{Inventory, Mode, Playbook, RunOptions, Runner};
use runner_plugin_host::{Limits, Observer, PlanRequest, PluginDir, PluginHost};
use runner_types::capability::Grant;
use runner_types::{CommandOutput, HttpResponse, Redactor};

fn plugin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm32-wasip2/release")
}

struct NoObserver;
#[async_trait::async_trait]
impl Observer for NoObserver {
    async fn probe(&self, _: &str) -> Result<CommandOutput, String> {
        Err("none".into())
    }
    async fn read_file(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
        Err("none".into())
    }
    async fn http_get(&self, _: &str, _: &[(String, String)]) -> Result<HttpResponse, String> {
        Err("none".into())
    }
    fn output(&self, _: runner_types::OutputStream, _: &str) {}
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A playbook of `steps` no-op steps (a guarded command whose guard holds).
fn noop_playbook(dir: &Path, steps: usize) -> Playbook {
    Playbook::load(&noop_playbook_file(dir, steps)).unwrap()
}

/// The same, as a file for the `runner` binary.
fn noop_playbook_file(dir: &Path, steps: usize) -> PathBuf {
    let mut text = String::from("gather_facts: false\nsteps:\n");
    for i in 0..steps {
        text.push_str(&format!(
            "  - name: noop {i}\n    plugin: command\n    on: all\n    with: {{ cmd: \"false\", unless: \"true\" }}\n"
        ));
    }
    let path = dir.join(format!("noop{steps}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn play(plugins: &Arc<PluginHost>, pb: &Playbook, inv: &Inventory, state: &Path) -> Duration {
    let runner = Runner::new(plugins.clone(), Arc::new(Silent), Redactor::new());
    let opts = RunOptions {
        mode: Mode::Apply,
        forks: 64,
        state_dir: state.to_path_buf(),
        ..Default::default()
    };
    let start = Instant::now();
    let r = runner
        .run(pb, inv.clone(), opts)
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    let took = start.elapsed();
    assert!(
        !r.recap.any(|h| h.failed + h.unreachable + h.changed),
        "no-op run did something: {:?}",
        r.recap
    );
    took
}

/// A user whose login shell is /bin/sh, created when missing.
fn bench_user() -> String {
    let name = "runner-bench";
    let exists = std::process::Command::new("id")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let st = std::process::Command::new("useradd")
            .args([
                "--system",
                "--shell",
                "/bin/sh",
                "--home-dir",
                "/nonexistent",
                "--no-create-home",
                "--password",
                "*",
                name,
            ])
            .status()
            .expect("useradd");
        assert!(st.success(), "could not create the {name} user");
    }
    name.to_string()
}

/// `n` sshd hosts on 127.0.0.1, and the user to log in as.
fn start_hosts(w: &Path, n: usize) -> (sshd::SshHosts, String) {
    let hosts = sshd::SshHosts::start(w, n);
    // Not locked (sshd refuses locked accounts without PAM), and a login shell of /bin/sh: this machine's root has a ~/.bashrc (pyenv)
    // that bash sources for every SSH command, ~90 ms, which would measure
    // the machine's dotfiles rather than the runner.
    let user = bench_user();
    // sshd reads the authorized keys as that user.
    use std::os::unix::fs::PermissionsExt;
    for d in [w.to_path_buf(), hosts.dir.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        hosts.dir.join("authorized_keys"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    (hosts, user)
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("curve") => return curve::main(),
        Some("ansible-rabbit") => return rabbit::main(),
        _ => {}
    }
    in_process();
}

#[tokio::main]
async fn in_process() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let cache = w.join("cache");

    // Plugin load: cache miss (compile) and hit (deserialize), describe included.
    let cold = PluginHost::new(
        vec![PluginDir::built_in(plugin_dir())],
        cache.clone(),
        Limits::default(),
    )
    .unwrap();
    let t = Instant::now();
    cold.get("file").await.unwrap();
    let miss = t.elapsed();
    let mut hits = Vec::new();
    for _ in 0..20 {
        let warm = PluginHost::new(
            vec![PluginDir::built_in(plugin_dir())],
            cache.clone(),
            Limits::default(),
        )
        .unwrap();
        let t = Instant::now();
        let p = warm.get("file").await.unwrap();
        hits.push(t.elapsed());
        assert!(p.from_cache);
    }
    hits.sort();
    println!("plugin load, cache miss (compile + describe): {}", ms(miss));
    println!(
        "plugin load, cache hit (deserialize + describe), median of 20: {}",
        ms(hits[10])
    );

    // Instantiate + plan with no observation.
    let host = Arc::new(
        PluginHost::new(
            vec![PluginDir::built_in(plugin_dir())],
            cache.clone(),
            Limits::default(),
        )
        .unwrap(),
    );
    let command = host.get("command").await.unwrap();
    let params = serde_json::json!({"cmd": "true"});
    let facts = serde_json::json!({});
    let grant = Grant::new("command", &command.info.capabilities, &params);
    let observer: Arc<dyn Observer> = Arc::new(NoObserver);
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let out = host
            .plan(
                &command,
                grant.clone(),
                observer.clone(),
                PlanRequest {
                    params: &params,
                    facts: &facts,
                    host: "h",
                    stage: 0,
                },
            )
            .await
            .unwrap();
        assert_eq!(out.plan.actions.len(), 1);
    }
    println!(
        "instantiate + plan call, mean of {n}: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );

    // No-op step overhead per host, locally.
    let state = w.join("state");
    let local_inv = w.join("local.yaml");
    std::fs::write(
        &local_inv,
        "all:\n  hosts:\n    here: { ansible_connection: local }\n",
    )
    .unwrap();
    let local_inv = Inventory::load(&local_inv).unwrap();
    let steps = 50;
    let pb = noop_playbook(w, steps);
    let one = noop_playbook(w, 1);
    play(&host, &one, &local_inv, &state).await;
    let took = play(&host, &pb, &local_inv, &state).await;
    println!(
        "no-op step, local, per step-host ({steps} steps): {}",
        ms(took / steps as u32)
    );

    // Over SSH: one host, warm master.
    let (hosts, user) = start_hosts(w, 50);
    let inv_path = hosts.inventory_as(&w.join("ssh.yaml"), None, &user);
    let all = Inventory::load(&inv_path).unwrap();
    let subset = |k: usize| {
        let mut inv = all.clone();
        let keep: Vec<String> = inv.hosts.iter().take(k).map(|h| h.name.clone()).collect();
        inv.hosts.retain(|h| keep.contains(&h.name));
        for members in inv.groups.values_mut() {
            members.retain(|h| keep.contains(h));
        }
        inv
    };
    // Within one run the master is opened by the first step and reused by
    // the rest, so (N steps - 1 step) / (N - 1) is the warm per-step cost.
    let inv1 = subset(1);
    let cold1 = play(&host, &one, &inv1, &state).await;
    let many = play(&host, &pb, &inv1, &state).await;
    println!(
        "no-op step, SSH, per step-host on a warm master ({steps} steps): {}",
        ms((many.saturating_sub(cold1)) / (steps as u32 - 1))
    );
    for k in [1usize, 10, 50] {
        let inv = subset(k);
        let cold = play(&host, &one, &inv, &state).await;
        let two = noop_playbook(w, 2);
        let both = play(&host, &two, &inv, &state).await;
        println!(
            "no-op step fanned out to {k:2} SSH hosts: {} with connection set-up, {} on warm masters",
            ms(cold),
            ms(both.saturating_sub(cold))
        );
    }
}
