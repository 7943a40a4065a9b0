//! Tools for plugin authors, through the real binary: where plugins are
//! found (and that the test-only one is not among the built-in ones),
//! `plugins show`'s parameter table, and `runner plugin test` over every
//! shipped plugin's fixtures — and a wrong expectation failing with a diff.

use std::path::Path;
use std::process::Output;

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
    let mut c = runner(work);
    c.env_remove("RUNNER_PLUGIN_PATH");
    run_command(c, args)
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
        let out = run_builtin(work.path(), &["plugin", "test", dir.to_str().unwrap()]);
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
