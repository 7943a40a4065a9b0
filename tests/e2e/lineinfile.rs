//! End-to-end: `lineinfile`, the plugin written in Python, over real SSH —
//! a line replaced, a line removed, a file created, a reload run only when
//! its file changed; the dry-run shows exactly the diff apply writes, a
//! second run changes nothing, and what the plugin did not declare is
//! refused.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::*;

const PLAYBOOK: &str = r#"
name: lines
steps:
  - name: port
    plugin: lineinfile
    on: web
    with:
      path: "{{ root }}/app.conf"
      regexp: "^port="
      line: "port=8080"
      reload: "echo reload >> {{ root }}/reloads"
  - name: no debug
    plugin: lineinfile
    on: web
    with:
      path: "{{ root }}/app.conf"
      regexp: "^debug"
      state: absent
      reload: "echo reload >> {{ root }}/reloads"
  - name: extra
    plugin: lineinfile
    on: web
    with:
      path: "{{ root }}/extra.conf"
      line: "x=1"
      create: true
      mode: "0600"
"#;

const ORIGINAL: &str = "# app\nport=80\ndebug=true\nname=a\n";

/// The Python plugin's file, built by `./dev build` (componentize-py).
fn python_plugin() {
    let wasm = plugin_dir().join("runner_plugin_lineinfile.wasm");
    assert!(
        wasm.exists(),
        "{} is not built: run ./dev build (it builds the Python plugins)",
        wasm.display()
    );
}

#[test]
fn python_plugin_converges_previews_exactly_and_is_confined() {
    python_plugin();
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap();
    let root = hosts.root(0);
    let conf = root.join("app.conf");
    std::fs::write(&conf, ORIGINAL).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let play = |extra: &[&str]| {
        let mut args = vec!["play", "site.yaml", "-i", inv, "--output", "json"];
        args.extend_from_slice(extra);
        run(w, &args)
    };

    let dry = play(&["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let c = conf.display();
    assert_eq!(
        planned(&dry),
        vec![
            (
                format!("{c}: line 2 replaced"),
                Some(format!(
                    "--- {c} (now)\n+++ {c} (planned)\n@@ -1,4 +1,4 @@\n # app\n-port=80\n+port=8080\n debug=true\n name=a\n"
                ))
            ),
            (
                format!("reload: echo reload >> {}/reloads", root.display()),
                None
            ),
        ],
        "the preview, with its diffs: what follows the reload command on this host is known after apply"
    );
    let pending: Vec<Value> = events(&dry)
        .into_iter()
        .filter(|e| e["event"] == "host" && e["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(
        pending[0]["message"]
            .as_str()
            .unwrap()
            .contains("after step 1 'port'"),
        "{pending:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        ORIGINAL,
        "a dry-run changes nothing"
    );
    assert!(!root.join("reloads").exists());

    let apply = play(&[]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert_eq!(total(&recap(&apply), "changed"), 3);
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "# app\nport=8080\nname=a\n"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&conf), 0o640, "the file keeps its mode");
    assert_eq!(
        std::fs::read_to_string(root.join("extra.conf")).unwrap(),
        "x=1\n"
    );
    assert_eq!(mode(&root.join("extra.conf")), 0o600);
    assert_eq!(
        std::fs::read_to_string(root.join("reloads")).unwrap(),
        "reload\nreload\n"
    );

    let again = play(&[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));
    assert_eq!(
        std::fs::read_to_string(root.join("reloads")).unwrap(),
        "reload\nreload\n",
        "no reload when nothing changed"
    );
}

/// `lineinfile` rebuilt from its own sources with one change: it declares
/// `{path}.new` instead of `{path}` for writes. Its plan, unchanged, writes
/// `{path}`, and the runner refuses it by name; the file stays as it was.
#[test]
fn python_plugin_cannot_write_what_it_did_not_declare() {
    python_plugin();
    let work = scratch();
    let w = work.path();
    let src = w.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for file in ["app.py", "lineedit.py"] {
        std::fs::copy(root().join("plugins/lineinfile").join(file), src.join(file)).unwrap();
    }
    let app = std::fs::read_to_string(src.join("app.py")).unwrap();
    let declared = r#"writes=["{path}"]"#;
    assert!(app.contains(declared), "app.py declares {declared}");
    std::fs::write(
        src.join("app.py"),
        app.replace(declared, r#"writes=["{path}.new"]"#),
    )
    .unwrap();
    let plugins = w.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let tool = plugin_dir().join("../../py-venv/bin/componentize-py");
    let st = std::process::Command::new(&tool)
        .args(["--quiet", "-d"])
        .arg(root().join("wit"))
        .args(["-w", "plugin", "componentize", "-p"])
        .arg(&src)
        .args(["app", "-o"])
        .arg(plugins.join("runner_plugin_lineinfile.wasm"))
        .status()
        .unwrap_or_else(|e| panic!("{}: {e} (./dev build installs it)", tool.display()));
    assert!(st.success());

    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let conf = hosts.root(0).join("app.conf");
    std::fs::write(&conf, ORIGINAL).unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    assert_undeclared_write_refused(w, &plugins, &inv, "lineinfile", &conf);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), ORIGINAL);
}
