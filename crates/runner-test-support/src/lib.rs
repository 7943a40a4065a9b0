//! Fixtures of the end-to-end tests and the benchmarks: real sshd
//! instances on 127.0.0.1 as hosts and their inventory ([`sshd`]), the
//! lab ([`lab`]), an AMQP client ([`amqp`]), the built plugins, and the
//! `runner` binary with its output read as the user's JSON events.

pub mod amqp;
pub mod browser;
pub mod lab;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use sshd::SshHosts;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo target directory (`CARGO_TARGET_DIR`, else the workspace's).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The built plugins; the test command builds them first.
pub fn plugin_dir() -> PathBuf {
    let dir = target_dir().join("wasm32-wasip2/release");
    for p in ["runner_plugin_file", "runner_plugin_command", HOSTILE_FILE] {
        assert!(
            dir.join(format!("{p}.wasm")).exists(),
            "{p}.wasm is not built in {}: run `cargo build --release --target wasm32-wasip2 -p runner-plugin-file -p runner-plugin-command -p runner-plugin-hostile` (`./dev test` does)",
            dir.display()
        );
    }
    dir
}

/// The test-only plugin's build output: not a `runner_plugin_*` file, so
/// the runner's built-in plugin directories do not list it.
const HOSTILE_FILE: &str = "runner_test_plugin_hostile";

/// The tests' own plugin directory, given as `RUNNER_PLUGIN_PATH`: the
/// `hostile` test plugin as `hostile.wasm` (a link to its build output).
/// The product's plugins are found in the build output, a built-in
/// directory, as a user's runner finds them.
pub fn test_plugin_dir() -> PathBuf {
    let built = plugin_dir();
    let dir = built.join("../test-plugins");
    std::fs::create_dir_all(&dir).expect("the test plugin directory");
    let link = dir.join("hostile.wasm");
    let target = built.join(format!("{HOSTILE_FILE}.wasm"));
    if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
        // Another test process may make it at the same moment: either wins.
        let _ = std::fs::remove_file(&link);
        let _ = std::os::unix::fs::symlink(&target, &link);
    }
    dir
}

/// The ansible-core the comparisons with Ansible run (from PyPI).
pub const ANSIBLE_CORE: &str = "ansible-core==2.19.14";

/// The `ansible` package of the same ansible-core line, for the
/// collections it bundles (community.docker, community.crypto,
/// community.rabbitmq): the rabbit-ha comparison (bench/ansible/, whose
/// requirements.txt pins the same two).
pub const ANSIBLE: &str = "ansible==12.3.0";

/// ansible-core's bin directory, in a venv under the target directory,
/// installed on first use.
pub fn ansible_bin() -> PathBuf {
    venv_bin("ansible-venv", &[ANSIBLE_CORE])
}

/// The bin directory of ansible-core with the `ansible` package's
/// collections ([`ANSIBLE`]), in a venv of its own under the target
/// directory (the plain one stays small), installed on first use.
pub fn ansible_collections_bin() -> PathBuf {
    venv_bin("ansible-full-venv", &[ANSIBLE_CORE, ANSIBLE])
}

/// A venv `name` under the target directory with `packages` from PyPI; its
/// bin directory. Installed on first use and again when the list changes
/// (the list is kept in the venv, written after a complete install).
fn venv_bin(name: &str, packages: &[&str]) -> PathBuf {
    let venv = target_dir().join(name);
    let bin = venv.join("bin");
    let marker = venv.join("runner-packages.txt");
    let wanted = packages.join("\n");
    if bin.join("ansible-playbook").exists()
        && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted)
    {
        return bin;
    }
    if !bin.join("pip").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3");
        assert!(made.success(), "python3 -m venv {}", venv.display());
    }
    let pip = Command::new(bin.join("pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .args(packages)
        .output()
        .expect("pip");
    assert!(
        pip.status.success(),
        "pip install {}: {}",
        packages.join(" "),
        stderr(&pip)
    );
    std::fs::write(&marker, wanted).expect("the venv's package list");
    bin
}

/// A scratch directory removed on drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("runner-e2e-")
        .tempdir()
        .expect("tempdir")
}

/// `inventory.yaml` in `work`: one host, `here`, this machine (local
/// connection).
pub fn local_inventory(work: &Path) {
    std::fs::write(
        work.join("inventory.yaml"),
        "all:\n  hosts:\n    here: { ansible_connection: local }\n",
    )
    .expect("inventory");
}

/// The `runner` binary cargo built beside the test binary (the tests are
/// in the runner-cli package, so `cargo test` builds it first).
pub fn runner_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    let bin = dir.join(format!("runner{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is not built: `cargo build -p runner-cli`",
        bin.display()
    );
    bin
}

/// The runner binary with its state and caches inside `work`.
pub fn runner(work: &Path) -> Command {
    let mut c = Command::new(runner_bin());
    c.current_dir(work)
        .env("RUNNER_STATE_DIR", work.join(".runner"))
        .env("RUNNER_CACHE_DIR", work.join("cache"))
        .env("RUNNER_CONFIG_DIR", work.join("config"))
        .env("RUNNER_PLUGIN_PATH", test_plugin_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

pub fn run(work: &Path, args: &[&str]) -> Output {
    run_command(runner(work), args)
}

/// Runs `runner` (a prepared runner command) with `args`, and echoes the
/// command line and what it printed to the test's stderr (shown when the
/// test fails).
pub fn run_command(mut runner: Command, args: &[&str]) -> Output {
    let out = runner.args(args).output().expect("runner starts");
    eprintln!(
        "$ runner {}\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The events of a `--output json` run, one JSON object a line.
pub fn events(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Each planned action of a JSON preview: (summary, diff).
pub fn planned(o: &Output) -> Vec<(String, Option<String>)> {
    events(o)
        .into_iter()
        .filter(|e| e["event"] == "planned")
        .flat_map(|e| e["actions"].as_array().unwrap().clone())
        .map(|a| {
            let summary = a["action"]["summary"].as_str().unwrap().to_string();
            (summary, a["diff"].as_str().map(str::to_string))
        })
        .collect()
}

/// The recap of a `--output json` run.
pub fn recap(o: &Output) -> serde_json::Value {
    events(o)
        .into_iter()
        .find(|v| v["event"] == "recap")
        .unwrap_or_else(|| panic!("no recap in output:\n{}", stdout(o)))["recap"]
        .clone()
}

/// Sum of one counter (`changed`, `failed`, ...) over all hosts.
pub fn total(recap: &serde_json::Value, key: &str) -> u64 {
    recap["hosts"]
        .as_object()
        .map(|h| h.values().map(|v| v[key].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Runs `f` to completion on a runtime of its own (the tests are sync).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// A GET with basic authentication, through the runner's own HTTP client:
/// the status and the body. Panics when nothing answers.
pub fn http_get(url: &str, user: &str, password: &str) -> (u16, String) {
    let auth = runner_types::http::basic_auth(user, password);
    match block_on(runner_transport::http::request("GET", url, &[auth], None)) {
        Ok(r) => (r.status, r.body),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// GET over HTTPS trusting only the CA certificate `ca_pem` (no system
/// roots): the status and body, or the client's error (a refused
/// certificate, say).
pub fn https_get_trusting(
    url: &str,
    ca_pem: Option<&str>,
    user: &str,
    password: &str,
) -> Result<(u16, String), String> {
    let mut client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        client = client.add_root_certificate(ca);
    }
    let client = client.build().map_err(|e| e.to_string())?;
    block_on(async {
        let r = client
            .get(url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(|e| e.to_string())?))
    })
}

/// Poll `f` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `runner play site.yaml -i inv` in `w`, SIGKILLed half a second after
/// its journal shows an action whose line holds `marker` started: a crash
/// in the middle of that action.
pub fn play_killed_during(w: &Path, inv: &str, marker: &str) {
    let mut child = runner(w)
        .args(["play", "site.yaml", "-i", inv])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("runner starts");
    let started = || {
        std::fs::read_dir(w.join(".runner/runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .is_some_and(|j| j.contains("\"action_start\"") && j.contains(marker))
    };
    assert!(
        wait_until(Duration::from_secs(60), started),
        "the action with '{marker}' never started"
    );
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// `runner play site.yaml` in `w` with the plugins of `plugins` first:
/// it must exit 2, naming `plugin`'s write to `target`, which the plugin
/// did not declare.
pub fn assert_undeclared_write_refused(
    w: &Path,
    plugins: &Path,
    inv: &Path,
    plugin: &str,
    target: &Path,
) {
    let out = runner(w)
        .env("RUNNER_PLUGIN_PATH", plugins)
        .args(["play", "site.yaml", "-i", inv.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "plugin '{plugin}' tried a write to '{}', which it did not declare",
            target.display()
        )),
        "{text}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ansible_bench_pins_the_same_ansible() {
        let pins = std::fs::read_to_string(root().join("bench/ansible/requirements.txt")).unwrap();
        let pins: Vec<&str> = pins
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(pins, [ANSIBLE_CORE, ANSIBLE]);
    }
}
