//! Tools for plugin authors, through the real binary: where plugins are
//! found (and that the test-only one is not among the built-in ones),
//! `plugins show`'s parameter table, `runner plugin test` over every
//! shipped plugin's fixtures — and a wrong expectation failing with a diff
//! — and `runner plugin record` making a fixture of a real run.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

/// The shipped Rust plugins: each is built in, and each ships fixtures.
const SHIPPED: [&str; 7] = [
    "command",
    "file",
    "keepalived",
    "haproxy",
    "docker-compose",
    "policy",
    "rabbitmqctl",
];

/// `runner ARGS` in `work` with no `RUNNER_PLUGIN_PATH`: the built-in
/// plugins and whatever a playbook brings.
fn run_builtin(work: &Path, args: &[&str]) -> Output {
    run_command(builtin(work), args)
}

fn builtin(work: &Path) -> Command {
    let mut c = runner(work);
    c.env_remove("RUNNER_PLUGIN_PATH");
    c
}

#[test]
fn the_test_plugin_is_not_built_in_and_a_playbooks_plugins_dir_is_searched() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let list = run_builtin(w, &["plugins", "list"]);
    assert_eq!(list.status.code(), Some(0));
    let text = stdout(&list);
    for shipped in SHIPPED {
        assert!(text.contains(shipped), "{shipped} is listed: {text}");
    }
    assert!(
        !text.contains("hostile"),
        "the test plugin is not listed: {text}"
    );

    let site = w.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("play.yaml"),
        "gather_facts: false\nsteps:\n  - name: h\n    plugin: hostile\n    on: all\n    with: { mode: ok }\n",
    )
    .unwrap();
    let inventory = w.join("inventory.yaml");
    let args = ["play", "site/play.yaml", "-i", inventory.to_str().unwrap()];
    let missing = run_builtin(w, &args);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(err.contains("unknown plugin 'hostile'"), "{err}");
    let hint = err.split("available:").nth(1).expect("an available: hint");
    assert!(hint.contains("file") && !hint.contains("hostile"), "{err}");

    // The same playbook with the plugin in `plugins/` beside it.
    std::fs::create_dir_all(site.join("plugins")).unwrap();
    std::fs::copy(
        test_plugin_dir().join("hostile.wasm"),
        site.join("plugins/hostile.wasm"),
    )
    .unwrap();
    let found = run_builtin(w, &args);
    assert_eq!(found.status.code(), Some(0), "found beside the playbook");
}

#[test]
fn plugins_show_tables_each_parameter_with_type_default_and_description() {
    let work = scratch();
    let out = run_builtin(work.path(), &["plugins", "show", "keepalived"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let row = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {text}"))
            .to_string()
    };
    let prefix = row("prefix");
    assert!(
        prefix.contains("integer")
            && prefix.contains("24")
            && prefix.contains("Prefix length of the VIP"),
        "{prefix}"
    );
    assert!(row("vrrp_version").contains("2 | 3"), "{text}");
    assert!(row("vip").contains("string"), "{text}");
    assert!(
        text.contains("vip *"),
        "required parameters are marked: {text}"
    );
    assert!(row("unicast_peers").contains("array of string"), "{text}");
}

#[test]
fn every_shipped_plugins_fixtures_pass() {
    let work = scratch();
    let plugins = root().join("plugins");
    let mut dirs: Vec<_> = std::fs::read_dir(&plugins)
        .unwrap()
        .map(|e| e.unwrap().path().join("fixtures"))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    for plugin in SHIPPED {
        assert!(
            dirs.contains(&plugins.join(plugin).join("fixtures")),
            "{plugin} ships fixtures"
        );
    }
    for dir in dirs {
        // Compiled components kept across test runs: the Python plugin
        // takes minutes to compile in a debug build (the cache checks
        // each entry against its plugin file).
        let mut c = builtin(work.path());
        c.env("RUNNER_CACHE_DIR", target_dir().join("e2e-component-cache"));
        let out = run_command(c, &["plugin", "test", dir.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            dir.display(),
            stdout(&out)
        );
        assert!(stdout(&out).contains(" 0 failed"), "{}", stdout(&out));
    }
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let work = scratch();
    let w = work.path();
    let fixture =
        std::fs::read_to_string(root().join("plugins/command/fixtures/creates-missing.yaml"))
            .unwrap();
    let wrong = fixture.replace("timeout_ms: 300000", "timeout_ms: 1000");
    assert_ne!(wrong, fixture, "the fixture has the line this test changes");
    std::fs::write(w.join("wrong.yaml"), wrong).unwrap();
    let out = run_builtin(w, &["plugin", "test", w.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "a difference exits 5");
    let text = stdout(&out);
    assert!(text.contains("FAIL  wrong.yaml (command)"), "{text}");
    assert!(text.contains("--- expected\n+++ now\n"), "{text}");
    assert!(
        text.contains("-  timeout_ms: 1000\n+  timeout_ms: 300000\n"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}

const RECORDED: &str = r#"
name: recorded
secrets:
  file: secrets.yaml
  required: [app_token]
steps:
  - name: app config
    plugin: file
    on: web
    with:
      path: "{{ root }}/app.conf"
      content: "token={{ secrets.app_token }}\n"
      mode: "0640"
"#;

const SECRET: &str = "s3cr3t-9c1e77";

/// A play over SSH with `RUNNER_SECRET_APP_TOKEN` set.
fn play_recorded(w: &Path, inventory: &Path) {
    std::fs::write(w.join("site.yaml"), RECORDED).unwrap();
    let mut c = runner(w);
    c.env("RUNNER_SECRET_APP_TOKEN", SECRET);
    let out = run_command(c, &["play", "site.yaml", "-i", inventory.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_recorded_run_is_a_fixture_that_passes_masked() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inventory = hosts.inventory(&w.join("inventory.yaml"), None);
    play_recorded(w, &inventory);
    std::fs::create_dir_all(w.join("fixtures")).unwrap();

    let none = run(
        w,
        &[
            "plugin",
            "record",
            "last",
            "--plugin",
            "command",
            "-o",
            "fixtures/x.jsonl",
        ],
    );
    assert_eq!(none.status.code(), Some(1));
    let err = stderr(&none);
    assert!(
        err.contains(".runner/runs/")
            && err.contains("no plan lines of plugin 'command'")
            && err.contains("file on h1 in step 1"),
        "names the journal, what was asked and what it has: {err}"
    );
    assert!(!w.join("fixtures/x.jsonl").exists());

    let args = [
        "plugin", "record", "last", "--plugin", "file", "--host", "h1",
    ];
    let recorded = run(
        w,
        &[&args[..], &["--step", "1", "-o", "fixtures/app.jsonl"]].concat(),
    );
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let fixture = std::fs::read_to_string(w.join("fixtures/app.jsonl")).unwrap();
    assert_eq!(fixture.lines().count(), 1, "{fixture}");
    assert!(
        !fixture.contains(SECRET) && fixture.contains("token=********"),
        "{fixture}"
    );
    let test = run_builtin(w, &["plugin", "test", "fixtures"]);
    assert_eq!(test.status.code(), Some(0), "{}", stdout(&test));
    assert!(
        stdout(&test).contains("1 passed, 0 failed"),
        "{}",
        stdout(&test)
    );

    // A recorded expectation changed: a diff, exit 5.
    let wrong = fixture.replace(r#""mode":"0640","validate""#, r#""mode":"0600","validate""#);
    assert_ne!(
        wrong, fixture,
        "the fixture has the write this test changes"
    );
    std::fs::write(w.join("fixtures/app.jsonl"), wrong).unwrap();
    let test = run_builtin(w, &["plugin", "test", "fixtures"]);
    assert_eq!(test.status.code(), Some(5), "{}", stdout(&test));
    let text = stdout(&test);
    assert!(text.contains("FAIL  app.jsonl:1 (file)"), "{text}");
    assert!(
        text.contains("-  mode: '0600'\n+  mode: '0640'\n"),
        "{text}"
    );
}
