//! End-to-end: `greeting-js`, the docs' example plugin written in
//! JavaScript (componentize-js), over real SSH — a file created, a file
//! with the wrong text and mode updated; the dry-run shows exactly the
//! diffs apply writes, a second run changes nothing, its fixtures pass
//! `runner plugin test`, and a write it did not declare is refused.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

const PLAYBOOK: &str = r#"
name: greetings
steps:
  - name: hello
    plugin: greeting-js
    on: web
    with:
      path: "{{ root }}/hello"
      greeting: Hello from JavaScript
  - name: motd
    plugin: greeting-js
    on: web
    with:
      path: "{{ root }}/motd"
      greeting: Welcome
"#;

/// The JavaScript plugin's file, built by `./dev build` (componentize-js).
fn js_plugin() {
    let wasm = plugin_dir().join("runner_plugin_greeting_js.wasm");
    assert!(
        wasm.exists(),
        "{} is not built: run ./dev build (it builds the JavaScript plugins when node is installed)",
        wasm.display()
    );
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn js_plugin_converges_previews_exactly_and_passes_its_fixtures() {
    js_plugin();
    let work = scratch();
    let w = work.path();

    let fixtures = root().join("plugins/greeting-js/fixtures");
    let t = run(w, &["plugin", "test", fixtures.to_str().unwrap()]);
    assert_eq!(t.status.code(), Some(0), "{}{}", stdout(&t), stderr(&t));

    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap();
    let root = hosts.root(0);
    let (hello, motd) = (root.join("hello"), root.join("motd"));
    std::fs::write(&motd, "Welcome\n").unwrap();
    std::fs::set_permissions(&motd, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let play = |extra: &[&str]| {
        let mut args = vec!["play", "site.yaml", "-i", inv, "--output", "json"];
        args.extend_from_slice(extra);
        run(w, &args)
    };

    let dry = play(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let (h, m) = (hello.display(), motd.display());
    assert_eq!(
        planned(&dry),
        vec![
            (
                format!("create {h}"),
                Some(format!(
                    "--- /dev/null\n+++ {h} (planned)\n@@ -0,0 +1 @@\n+Hello from JavaScript\n"
                ))
            ),
            // The text is already right: only the mode changes, no line.
            (format!("update {m}"), Some(String::new())),
        ],
        "the preview, with its diffs"
    );
    assert!(!hello.exists(), "a dry-run changes nothing");
    assert_eq!(mode(&motd), 0o600);

    let apply = play(&[]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert_eq!(total(&recap(&apply), "changed"), 2);
    assert_eq!(
        std::fs::read_to_string(&hello).unwrap(),
        "Hello from JavaScript\n"
    );
    assert_eq!(mode(&hello), 0o644);
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "Welcome\n");
    assert_eq!(mode(&motd), 0o644, "the mode is corrected");

    let again = play(&[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));
}

/// `greeting-js` rebuilt from its source with one change: it declares
/// `{path}.new` instead of `{path}` for writes. Its plan, unchanged, writes
/// `{path}`, and the runner refuses it by name; nothing is written.
#[test]
fn js_plugin_cannot_write_what_it_did_not_declare() {
    js_plugin();
    let work = scratch();
    let w = work.path();
    let app = std::fs::read_to_string(root().join("plugins/greeting-js/app.js")).unwrap();
    let declared = "writes: ['{path}'],";
    assert!(app.contains(declared), "app.js declares {declared}");
    let src = w.join("app.js");
    std::fs::write(&src, app.replace(declared, "writes: ['{path}.new'],")).unwrap();
    let plugins = w.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let tool = target_dir().join("js-tools/node_modules/.bin/componentize-js");
    let st = std::process::Command::new(&tool)
        .arg(&src)
        .arg("--wit")
        .arg(root().join("wit"))
        .args(["-n", "plugin", "-d", "http", "fetch-event", "-o"])
        .arg(plugins.join("runner_plugin_greeting_js.wasm"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (./dev build installs it)", tool.display()));
    assert!(st.success());

    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let hello = hosts.root(0).join("hello");
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    assert_undeclared_write_refused(w, &plugins, &inv, "greeting-js", &hello);
    assert!(!hello.exists(), "nothing written");
}
