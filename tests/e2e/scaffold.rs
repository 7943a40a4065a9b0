//! End-to-end: `runner plugin new` makes a crate that builds for
//! wasm32-wasip2 and runs under `runner play` unchanged.

use std::process::Command;

use crate::support::*;

#[test]
fn scaffolded_plugin_builds_and_runs() {
    let work = scratch();
    let w = work.path();
    let out = run(
        w,
        &["plugin", "new", "greeting", "--dir", w.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let crate_dir = w.join("greeting");
    // Its own target directory inside ours, so repeated runs reuse the build.
    let target = root().join("target/scaffold-test");
    let st = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(st.success(), "the scaffold builds as is");
    let plugins = target.join("wasm32-wasip2/release");
    assert!(plugins.join("greeting.wasm").exists());

    local_inventory(w);
    let file = w.join("hello.txt");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: greet\n    plugin: greeting\n    on: all\n    with: {{ path: {}, greeting: hi }}\n",
            file.display()
        ),
    )
    .unwrap();
    let mut cmd = runner(w);
    cmd.env("RUNNER_PLUGIN_PATH", &plugins).args([
        "play",
        "site.yaml",
        "-i",
        "inventory.yaml",
        "--output",
        "json",
    ]);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(total(&recap(&out), "changed"), 1);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hi\n");

    let show = runner(w)
        .env("RUNNER_PLUGIN_PATH", &plugins)
        .args(["plugins", "show", "greeting"])
        .output()
        .unwrap();
    assert!(
        stdout(&show).contains("writes  {path}"),
        "{}",
        stdout(&show)
    );
}
