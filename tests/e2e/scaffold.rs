//! End-to-end: `runner plugin new`, run from a copy of the binary outside
//! the checkout, makes a plugin — in Rust or in Python — that refers to
//! nothing outside its own directory, builds as is, and runs under
//! `runner play`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

/// A copy of the runner binary in `work/bin`, as if installed there.
fn installed_runner(work: &Path) -> PathBuf {
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("runner");
    std::fs::copy(runner_bin(), &copy).unwrap();
    copy
}

/// The installed copy with the test's state, caches and plugins.
fn play_with(runner: &Path, work: &Path, plugins: &Path, args: &[&str]) -> Output {
    let mut c = runner_command(runner, work);
    c.env("RUNNER_PLUGIN_PATH", plugins);
    run_command(c, args)
}

fn runner_command(runner: &Path, work: &Path) -> Command {
    let mut c = Command::new(runner);
    c.current_dir(work)
        .env("RUNNER_STATE_DIR", work.join(".runner"))
        .env("RUNNER_CACHE_DIR", work.join("cache"))
        .env("RUNNER_CONFIG_DIR", work.join("config"))
        .env("NO_COLOR", "1");
    c
}

/// `runner plugin new greeting --lang LANG` in `work`, by the installed copy.
fn scaffold(runner: &Path, work: &Path, lang: &str) -> PathBuf {
    let out = runner_command(runner, work)
        .args(["plugin", "new", "greeting", "--lang", lang])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dir = work.join("greeting");
    assert_refers_to_nothing_outside(&dir);
    dir
}

/// No file of the new plugin names the checkout the runner was built in.
fn assert_refers_to_nothing_outside(dir: &Path) {
    // This checkout: the e2e tests are compiled as part of runner-cli.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let checkout = std::fs::canonicalize(checkout).unwrap();
    let checkout = checkout.to_str().unwrap();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                assert!(
                    !text.contains(checkout),
                    "{} names the checkout {checkout}",
                    path.display()
                );
            }
        }
    }
}

/// The greeting step on this machine: changed once, then ok.
fn greets(runner: &Path, work: &Path, plugins: &Path) {
    local_inventory(work);
    let file = work.join("hello.txt");
    std::fs::write(
        work.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: greet\n    plugin: greeting\n    on: all\n    with: {{ path: {}, greeting: hi }}\n",
            file.display()
        ),
    )
    .unwrap();
    let play = [
        "play",
        "site.yaml",
        "-i",
        "inventory.yaml",
        "--output",
        "json",
    ];
    let out = play_with(runner, work, plugins, &play);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(total(&recap(&out), "changed"), 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hi\n");
    let again = play_with(runner, work, plugins, &play);
    assert_eq!(total(&recap(&again), "changed"), 0);

    let show = play_with(runner, work, plugins, &["plugins", "show", "greeting"]);
    assert!(
        stdout(&show).contains("writes  {path}"),
        "{}",
        stdout(&show)
    );
}

#[test]
fn scaffolded_rust_plugin_builds_and_runs_from_an_installed_runner() {
    let work = scratch();
    let w = work.path();
    let runner = installed_runner(w);
    let dir = scaffold(&runner, w, "rust");
    // Its own target directory inside ours, so repeated runs reuse the build.
    let target = root().join("target/scaffold-test");
    let st = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(st.success(), "the scaffold builds as is");
    let plugins = target.join("wasm32-wasip2/release");
    assert!(plugins.join("greeting.wasm").exists());
    greets(&runner, w, &plugins);
}

#[test]
fn scaffolded_python_plugin_builds_and_runs_from_an_installed_runner() {
    let work = scratch();
    let w = work.path();
    let runner = installed_runner(w);
    let dir = scaffold(&runner, w, "python");
    // The componentize-py that ./dev build installs (the version the
    // scaffold's requirements.txt pins), instead of a venv per test run.
    let tool = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("py-venv/bin/componentize-py");
    assert!(
        tool.exists(),
        "{} is missing: run ./dev build",
        tool.display()
    );
    let st = Command::new(&tool)
        .args([
            "--quiet",
            "-d",
            "wit",
            "-w",
            "plugin",
            "componentize",
            "app",
            "-o",
            "greeting.wasm",
        ])
        .current_dir(&dir)
        .status()
        .expect("componentize-py runs");
    assert!(st.success(), "the scaffold builds as is");
    greets(&runner, w, &dir);
}
