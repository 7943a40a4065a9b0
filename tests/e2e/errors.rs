//! End-to-end: bad input and bad hosts give one clear paragraph naming
//! the file, line and field — never a panic.

use crate::support::*;

fn assert_clean_error(out: &std::process::Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in:\n{err}");
    }
}

#[test]
fn bad_input_is_reported_with_file_line_and_field() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let step = |body: &str| format!("gather_facts: false\nsteps:\n  - name: s\n{body}");

    std::fs::write(w.join("broken.yaml"), "steps:\n  - name: [unclosed\n").unwrap();
    let out = run(w, &["play", "broken.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["broken.yaml:", "invalid YAML"]);

    std::fs::write(
        w.join("unknown.yaml"),
        step("    plugin: nosuch\n    on: all\n"),
    )
    .unwrap();
    let out = run(w, &["play", "unknown.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(
        &out,
        1,
        &[
            "unknown.yaml:4:13",
            "steps.0.plugin",
            "unknown plugin 'nosuch'",
            "file",
        ],
    );

    std::fs::write(
        w.join("schema.yaml"),
        step("    plugin: file\n    on: all\n    with:\n      path: relative/path\n"),
    )
    .unwrap();
    let out = run(w, &["play", "schema.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(
        &out,
        1,
        &["schema.yaml:7:13", "steps.0.with.path", "does not match"],
    );

    std::fs::write(
        w.join("pattern.yaml"),
        step("    plugin: file\n    on: webservers\n    with: { path: /tmp/x }\n"),
    )
    .unwrap();
    let out = run(w, &["play", "pattern.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(
        &out,
        1,
        &[
            "pattern.yaml:5:9",
            "steps.0.on",
            "'webservers' is neither a group nor a host",
        ],
    );

    std::fs::write(
        w.join("template.yaml"),
        step("    plugin: file\n    on: all\n    with:\n      path: \"/tmp/{{ nope }}\"\n"),
    )
    .unwrap();
    let out = run(w, &["play", "template.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(
        &out,
        1,
        &["template.yaml:7:13", "steps.0.with.path", "undefined"],
    );

    std::fs::write(w.join("badinv.yaml"), "all:\n  hosts:\n    - a\n").unwrap();
    let out = run(w, &["play", "template.yaml", "-i", "badinv.yaml"]);
    assert_clean_error(&out, 1, &["badinv.yaml:3:", "all.hosts"]);

    // A missing file is named, with no made-up position.
    let out = run(w, &["play", "nope.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["nope.yaml: the file does not exist"]);
    assert!(!stderr(&out).contains(":0:0"), "{}", stderr(&out));
    let out = run(w, &["play", "template.yaml", "-i", "noinv.yaml"]);
    assert_clean_error(&out, 1, &["noinv.yaml: the file does not exist"]);

    // JSON output on an input error: an error event and a recap.
    let out = run(
        w,
        &[
            "play",
            "template.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let ev = events(&out);
    let error = ev
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert!(
        error["message"].as_str().unwrap().contains("undefined"),
        "{error}"
    );
    assert!(ev.iter().any(|e| e["event"] == "recap"), "a recap");

    // What already held, and keeps holding: alias bombs, unknown tags,
    // runaway template loops, too-deep nesting.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\nsteps: []\n";
    std::fs::write(w.join("bomb.yaml"), bomb).unwrap();
    let out = run(w, &["play", "bomb.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(
        &out,
        1,
        &["bomb.yaml:6:", "expands to more than 200000 nodes"],
    );
    std::fs::write(w.join("tag.yaml"), "steps: !!python/object:os.system [x]\n").unwrap();
    let out = run(w, &["play", "tag.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["tag.yaml:1:"]);
    std::fs::write(
        w.join("loop.yaml"),
        step("    plugin: file\n    on: all\n    with: { path: /tmp/x, content: \"{% for i in range(100000000) %}x{% endfor %}\" }\n"),
    )
    .unwrap();
    let out = run(w, &["play", "loop.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["loop.yaml:", "range"]);
    let deep: String = (0..5000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    std::fs::write(w.join("deep.yaml"), deep).unwrap();
    let out = run(w, &["play", "deep.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["deep.yaml:101:1: nested deeper than 100 levels"]);

    // `my_plugin` and `my-plugin` are the same plugin, as their files are.
    std::fs::write(
        w.join("underscore.yaml"),
        step("    plugin: docker_compose\n    on: all\n    with: {}\n"),
    )
    .unwrap();
    let out = run(w, &["play", "underscore.yaml", "-i", "inventory.yaml"]);
    assert_clean_error(&out, 1, &["plugin 'docker-compose' parameters"]);
    assert!(!stderr(&out).contains("unknown plugin"), "{}", stderr(&out));

    // A general tool does not guess its playbook.
    let out = run(w, &["play"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(stderr(&out).contains("<PLAYBOOK>"), "{}", stderr(&out));
}

#[test]
fn unreachable_host_and_wrong_key_are_reported_per_host() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    std::fs::write(
        w.join("site.yaml"),
        "steps:\n  - name: s\n    plugin: file\n    on: all\n    with: { path: \"{{ root }}/f\" }\n",
    )
    .unwrap();

    // A key the host does not accept.
    let wrong = w.join("wrong_key");
    let st = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            wrong.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let inv = hosts.inventory(&w.join("wrongkey.yaml"), Some(&wrong));
    let out = run(w, &["play", "site.yaml", "-i", inv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "unreachable → exit 3");
    let text = stdout(&out);
    assert!(
        text.contains("unreachable") && text.contains("h1"),
        "{text}"
    );
    assert!(
        text.contains("Permission denied"),
        "the ssh client's reason is shown: {text}"
    );

    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inv_text = std::fs::read_to_string(hosts.inventory(&w.join("ok.yaml"), None))
        .unwrap()
        .replace(
            &format!("ansible_port: {}", hosts.ports[0]),
            &format!("ansible_port: {dead}"),
        );
    std::fs::write(w.join("dead.yaml"), inv_text).unwrap();
    let out = run(w, &["play", "site.yaml", "-i", "dead.yaml"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("unreachable"), "{}", stdout(&out));
    assert!(!stderr(&out).contains("panicked"));
}
