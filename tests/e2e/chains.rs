//! End-to-end: previews over chains of steps, over real SSH — a later
//! step sees what earlier steps plan on its host (a directory created, a
//! file written), a probe after an earlier change is pending, never `ok`;
//! handlers run once per host where a step that notifies them changed it,
//! and still run after a crash, on `--resume`.

use serde_json::Value;

use crate::support::*;

/// A newcomer's first playbook: a directory, a templated config in it
/// (notifying a reload), a reload in the command form ("unless it is
/// already loaded"), a line in another file.
const NEWCOMER: &str = r#"
name: newcomer
vars:
  port: 8080
steps:
  - name: app directory
    plugin: file
    on: web
    with:
      path: "{{ root }}/etc/app"
      state: directory
      parents: true
  - name: app config
    plugin: file
    on: web
    with:
      path: "{{ root }}/etc/app/app.conf"
      content: "port = {{ port }}\nname = {{ inventory_hostname }}\n"
    notify: reload app
  - name: load the config unless it is loaded
    plugin: command
    on: web
    with:
      cmd: "cp {{ root }}/etc/app/app.conf {{ root }}/loaded.conf && echo load >> {{ root }}/loads.log"
      unless: "cmp -s {{ root }}/etc/app/app.conf {{ root }}/loaded.conf"
  - name: a line in the environment file
    plugin: lineinfile
    on: web
    with:
      path: "{{ root }}/env"
      line: "APP_PORT={{ port }}"
      regexp: "^APP_PORT="
      create: true
handlers:
  - name: reload app
    plugin: command
    with:
      cmd: "echo reload >> {{ root }}/reloads.log"
"#;

/// A scratch directory with `n` sshd hosts (group `web`) and their
/// inventory's path.
fn hosts_of(n: usize) -> (tempfile::TempDir, SshHosts, String) {
    let work = scratch();
    let hosts = SshHosts::start(work.path(), n);
    let inv = hosts.inventory(&work.path().join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap().to_string();
    (work, hosts, inv)
}

/// The `host` events of a run: (step, host) → (status, message).
fn outcomes(o: &std::process::Output) -> Vec<(u64, String, String, String)> {
    events(o)
        .into_iter()
        .filter(|e| e["event"] == "host" && e["step"].is_u64())
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["host"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A `--check` of site.yaml with JSON output: it must succeed; the
/// status of each step-host in order.
fn checked(w: &std::path::Path, inv: &str) -> (std::process::Output, Vec<String>) {
    let check = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--check",
            "--output",
            "json",
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    let statuses = outcomes(&check).into_iter().map(|o| o.2).collect();
    (check, statuses)
}

fn status_of(o: &std::process::Output, step: u64) -> Vec<String> {
    outcomes(o)
        .into_iter()
        .filter(|(s, ..)| *s == step)
        .map(|(_, _, status, _)| status)
        .collect()
}

fn lines(p: &std::path::Path) -> usize {
    std::fs::read_to_string(p)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_newcomers_playbook_previews_exactly_on_fresh_hosts_and_after_a_change() {
    let (work, hosts, inv) = hosts_of(3);
    let (w, inv) = (work.path(), inv.as_str());
    std::fs::write(w.join("site.yaml"), NEWCOMER).unwrap();
    let play = |extra: &[&str]| {
        let mut args = vec!["play", "site.yaml", "-i", inv, "--output", "json"];
        args.extend_from_slice(extra);
        run(w, &args)
    };

    // Fresh hosts: every step changed or pending, nothing failed; the
    // config is created in the directory the step before it creates.
    let check = play(&["--check", "--detailed-exitcode"]);
    assert_eq!(check.status.code(), Some(6), "{}", stdout(&check));
    for (step, host, status, message) in outcomes(&check) {
        assert!(
            ["changed", "pending"].contains(&status.as_str()),
            "step {step} on {host}: {status} {message}"
        );
    }
    assert_eq!(status_of(&check, 1), ["changed"; 3]);
    assert_eq!(status_of(&check, 2), ["changed"; 3], "{}", stdout(&check));
    let (c, pending) = (
        hosts.root(0).join("etc/app/app.conf"),
        outcomes(&check)
            .into_iter()
            .find(|(s, h, ..)| *s == 3 && h == "h1")
            .unwrap(),
    );
    assert_eq!(
        pending.2, "pending",
        "the probe after a change: {pending:?}"
    );
    assert!(
        pending.3.contains("known after apply") && pending.3.contains("cmp -s"),
        "{pending:?}"
    );
    let handler = outcomes(&check)
        .into_iter()
        .find(|(s, h, ..)| *s == 5 && h == "h1")
        .unwrap();
    assert_eq!(handler.2, "changed", "{handler:?}");
    assert!(
        handler.3.contains("notified by step 2 'app config'"),
        "{handler:?}"
    );
    let shown = planned(&check);
    assert!(
        shown.iter().any(
            |(summary, diff)| summary == &format!("create {} (0644)", c.display())
                && diff.as_deref().is_some_and(|d| d.contains("+port = 8080"))
        ),
        "{shown:?}"
    );
    assert!(
        !hosts.root(0).join("etc").exists(),
        "a preview changes nothing"
    );

    // A saved plan of the same, applied: what the preview said, the
    // handler once on each host.
    let plan = run(w, &["plan", "site.yaml", "-i", inv, "-o", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let apply = run(w, &["apply", "plan.json", "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    let applied_recap = recap(&apply);
    assert!(
        applied_recap["stale"].is_null() && !stdout(&apply).contains("refused"),
        "the chained steps plan at apply what was saved: {}",
        stdout(&apply)
    );
    assert_eq!(total(&recap(&apply), "failed"), 0);
    for i in 0..3 {
        let root = hosts.root(i);
        assert_eq!(lines(&root.join("reloads.log")), 1, "{}", stdout(&apply));
        assert_eq!(lines(&root.join("loads.log")), 1);
        assert_eq!(
            std::fs::read_to_string(root.join("env")).unwrap(),
            "APP_PORT=8080\n"
        );
    }

    // Nothing changed: the preview says the handler will not run, and
    // every step is ok; the run does nothing.
    let quiet = play(&["--check", "--detailed-exitcode"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stdout(&quiet));
    assert_eq!(status_of(&quiet, 3), ["ok"; 3]);
    assert_eq!(status_of(&quiet, 5), ["skipped"; 3]);
    assert!(stdout(&quiet).contains("not notified"));
    let again = play(&[]);
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));
    assert_eq!(lines(&hosts.root(0).join("reloads.log")), 1);

    // A variable changes: the reload is previewed as due (the handler)
    // or pending (the command's probe), and apply runs each once.
    let change = play(&["--check", "--detailed-exitcode", "-e", "port=9090"]);
    assert_eq!(change.status.code(), Some(6), "{}", stdout(&change));
    assert_eq!(status_of(&change, 1), ["ok"; 3]);
    assert_eq!(status_of(&change, 2), ["changed"; 3]);
    assert_eq!(status_of(&change, 3), ["pending"; 3]);
    assert_eq!(status_of(&change, 5), ["changed"; 3]);
    assert!(stdout(&change).contains("+port = 9090"));
    let applied = play(&["-e", "port=9090"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));
    for i in 0..3 {
        let root = hosts.root(i);
        assert_eq!(lines(&root.join("reloads.log")), 2);
        assert_eq!(lines(&root.join("loads.log")), 2);
    }
}

#[test]
fn a_handler_notified_by_two_steps_runs_once_and_sees_planned_files() {
    let (work, hosts, inv) = hosts_of(1);
    let (w, inv) = (work.path(), inv.as_str());
    std::fs::write(
        w.join("site.yaml"),
        r#"
gather_facts: false
steps:
  - name: a
    plugin: file
    on: web
    with: { path: "{{ root }}/d/a", content: "a\n", parents: true }
    notify: [restart]
  - name: b
    plugin: file
    on: web
    with: { path: "{{ root }}/d/b", content: "b\n" }
    notify: restart
  - name: a again, as the first step leaves it
    plugin: file
    on: web
    with: { path: "{{ root }}/d/a", content: "a\n" }
  - name: b gone
    plugin: file
    on: web
    with: { path: "{{ root }}/d/b", state: absent }
handlers:
  - name: restart
    plugin: command
    with: { cmd: "echo restart >> {{ root }}/restarts.log" }
"#,
    )
    .unwrap();
    let (check, status) = checked(w, inv);
    let o = outcomes(&check);
    // Step 3 reads the file step 1 writes: nothing to do; step 4 removes
    // the file step 2 writes.
    assert_eq!(
        status,
        ["changed", "changed", "ok", "changed", "changed"],
        "{o:?}"
    );
    assert!(
        o[4].3.contains("notified by step 1 'a', step 2 'b'"),
        "{o:?}"
    );
    let apply = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    let o = outcomes(&apply);
    let status: Vec<&str> = o.iter().map(|(_, _, s, _)| s.as_str()).collect();
    assert_eq!(
        status,
        ["changed", "changed", "ok", "changed", "changed"],
        "apply does what the preview said: {o:?}"
    );
    let root = hosts.root(0);
    assert_eq!(lines(&root.join("restarts.log")), 1, "once, not twice");
    assert!(!root.join("d/b").exists());

    // Only the tagged step runs; the handler it notifies still does.
    let text = std::fs::read_to_string(w.join("site.yaml"))
        .unwrap()
        .replace(
            "    notify: [restart]",
            "    notify: [restart]\n    tags: [a]",
        );
    std::fs::write(w.join("site.yaml"), text).unwrap();
    std::fs::write(root.join("d/a"), "changed by hand\n").unwrap();
    let tagged = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--tags",
            "a",
            "--output",
            "json",
        ],
    );
    let o = outcomes(&tagged);
    let status: Vec<&str> = o.iter().map(|(_, _, s, _)| s.as_str()).collect();
    assert_eq!(
        status,
        ["changed", "skipped", "skipped", "skipped", "changed"],
        "{o:?}"
    );
    assert_eq!(lines(&root.join("restarts.log")), 2);
}

#[test]
fn a_handler_due_when_the_run_crashed_runs_on_resume() {
    let (work, hosts, inv) = hosts_of(2);
    let (w, inv) = (work.path(), inv.as_str());
    std::fs::write(
        w.join("site.yaml"),
        r#"
steps:
  - name: config
    plugin: file
    on: web
    with: { path: "{{ root }}/app.conf", content: "x\n" }
    notify: reload
  - name: slow
    plugin: command
    on: web
    with: { cmd: "sleep 4; echo slow >> {{ root }}/slow.log" }
handlers:
  - name: reload
    plugin: command
    with: { cmd: "echo reload >> {{ root }}/reloads.log" }
"#,
    )
    .unwrap();
    play_killed_during(w, inv, "sleep 4");
    for i in 0..2 {
        assert!(hosts.root(i).join("app.conf").exists());
        assert_eq!(lines(&hosts.root(i).join("reloads.log")), 0, "not yet");
    }
    let resumed = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--resume",
            "last",
            "--output",
            "json",
        ],
    );
    assert_eq!(resumed.status.code(), Some(0), "{}", stdout(&resumed));
    let handler: Vec<(u64, String, String, String)> = outcomes(&resumed)
        .into_iter()
        .filter(|(s, ..)| *s == 3)
        .collect();
    for (_, host, status, message) in &handler {
        assert_eq!(status, "changed", "{host}: {message}");
        assert!(message.contains("notified by step 1 'config'"), "{message}");
    }
    for i in 0..2 {
        assert_eq!(lines(&hosts.root(i).join("reloads.log")), 1);
        assert_eq!(lines(&hosts.root(i).join("slow.log")), 1);
    }
    let value: Value = recap(&resumed);
    assert_eq!(total(&value, "failed"), 0);
}

#[test]
fn a_loop_plans_each_item_on_its_own_and_changes_only_what_differs() {
    let (work, hosts, inv) = hosts_of(1);
    let (w, inv) = (work.path(), inv.as_str());
    let root = hosts.root(0);
    std::fs::write(root.join("a"), "a\n").unwrap();
    std::fs::write(root.join("c"), "c\n").unwrap();
    std::fs::write(
        w.join("site.yaml"),
        r#"
gather_facts: false
vars:
  names: [a, b, c]
steps:
  - name: one file per name
    plugin: file
    on: web
    loop: "{{ names }}"
    loop_control: { loop_var: name }
    with: { path: "{{ root }}/{{ name }}", content: "{{ name }}\n" }
    notify: count
handlers:
  - name: count
    plugin: command
    with: { cmd: "echo once >> {{ root }}/count.log" }
"#,
    )
    .unwrap();
    let check = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--check",
            "--output",
            "json",
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    let step = outcomes(&check).into_iter().find(|o| o.0 == 1).unwrap();
    assert_eq!(step.2, "changed");
    assert!(
        step.3.contains("[a] ok") && step.3.contains("[b] changed") && step.3.contains("[c] ok"),
        "{step:?}"
    );
    let items: Vec<Value> = events(&check)
        .into_iter()
        .filter(|e| e["event"] == "planned" && e["step"] == 1)
        .flat_map(|e| e["actions"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(items.len(), 1, "only b's write: {items:?}");
    assert_eq!(items[0]["item"], "b");
    let human = run(w, &["play", "site.yaml", "-i", inv, "--check"]);
    assert!(stdout(&human).contains("h1 [b]: "), "{}", stdout(&human));

    let apply = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    assert_eq!(std::fs::read_to_string(root.join("b")).unwrap(), "b\n");
    assert_eq!(lines(&root.join("count.log")), 1);
    let journal = std::fs::read_dir(w.join(".runner/runs"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|j| j.contains("\"mode\":\"apply\""))
        .unwrap();
    for item in 0..3 {
        assert!(
            journal.contains(&format!(
                "\"event\":\"plan\",\"step\":0,\"host\":\"h1\",\"item\":{item}"
            )),
            "each item journaled as its own plan: {journal}"
        );
    }
    let again = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));

    // with_items is refused with the hint, naming the file and the field.
    std::fs::write(
        w.join("old.yaml"),
        "steps:\n  - name: x\n    plugin: file\n    on: web\n    with_items: [a]\n    with: { path: /tmp/x }\n",
    )
    .unwrap();
    let old = run(w, &["play", "old.yaml", "-i", inv]);
    assert_ne!(old.status.code(), Some(0));
    let err = stderr(&old);
    assert!(
        err.contains("old.yaml:5") && err.contains("write `loop:`"),
        "{err}"
    );
}

#[test]
fn a_registered_probe_drives_a_later_when_exactly_or_pending() {
    let (work, hosts, inv) = hosts_of(2);
    let (w, inv) = (work.path(), inv.as_str());
    std::fs::write(hosts.root(0).join("installed"), "").unwrap();
    std::fs::write(
        w.join("site.yaml"),
        r#"
gather_facts: false
steps:
  - name: version file
    plugin: file
    on: web
    with: { path: "{{ root }}/version", content: "1\n" }
  - name: is it installed
    plugin: probe
    on: web
    with: { cmd: "ls {{ root }}/installed" }
    register: installed
  - name: install
    plugin: command
    on: web
    when: installed.rc != 0
    with: { cmd: "touch {{ root }}/installed && echo install >> {{ root }}/installs.log" }
"#,
    )
    .unwrap();
    let play = |extra: &[&str]| {
        let mut args = vec!["play", "site.yaml", "-i", inv, "--output", "json"];
        args.extend_from_slice(extra);
        run(w, &args)
    };
    // Fresh: the probe (`ls`, which the planned state cannot answer)
    // comes after a change on each host, so it and the step reading it
    // are pending.
    let fresh = play(&["--check", "--detailed-exitcode"]);
    assert_eq!(fresh.status.code(), Some(6), "{}", stdout(&fresh));
    assert_eq!(status_of(&fresh, 2), ["pending"; 2], "{}", stdout(&fresh));
    let install = outcomes(&fresh).into_iter().find(|o| o.0 == 3).unwrap();
    assert_eq!(install.2, "pending", "{install:?}");
    assert!(install.3.contains("it reads `installed`"), "{install:?}");

    let apply = play(&[]);
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    assert_eq!(lines(&hosts.root(0).join("installs.log")), 0, "h1 had it");
    assert_eq!(lines(&hosts.root(1).join("installs.log")), 1);

    // Nothing changes before the probe now: it is asked of the host, and
    // the `when` it drives is exact.
    let quiet = play(&["--check", "--detailed-exitcode"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stdout(&quiet));
    assert_eq!(status_of(&quiet, 3), ["skipped"; 2]);
    std::fs::remove_file(hosts.root(0).join("installed")).unwrap();
    let again = play(&["--check", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(6), "{}", stdout(&again));
    let by_host: Vec<(String, String)> = outcomes(&again)
        .into_iter()
        .filter(|o| o.0 == 3)
        .map(|o| (o.1, o.2))
        .collect();
    assert!(
        by_host.contains(&("h1".into(), "changed".into())),
        "{by_host:?}"
    );
    assert!(
        by_host.contains(&("h2".into(), "skipped".into())),
        "{by_host:?}"
    );
    let applied = play(&[]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));
    assert_eq!(lines(&hosts.root(0).join("installs.log")), 1);
    assert_eq!(lines(&hosts.root(1).join("installs.log")), 1);
}

#[test]
fn a_flush_runs_the_handlers_due_so_far_where_it_stands() {
    let (work, hosts, inv) = hosts_of(1);
    let (w, inv) = (work.path(), inv.as_str());
    std::fs::write(
        w.join("site.yaml"),
        r#"
gather_facts: false
steps:
  - name: config
    plugin: file
    on: web
    with: { path: "{{ root }}/app.conf", content: "x\n" }
    notify: reload
  - name: reload before the smoke test
    meta: flush_handlers
  - name: smoke test
    plugin: command
    on: web
    with: { cmd: "cat {{ root }}/reloads.log > {{ root }}/seen" }
handlers:
  - name: reload
    plugin: command
    with: { cmd: "echo reload >> {{ root }}/reloads.log" }
"#,
    )
    .unwrap();
    let (check, status) = checked(w, inv);
    let o = outcomes(&check);
    assert_eq!(
        status,
        ["changed", "changed", "changed", "skipped"],
        "{o:?}"
    );
    assert!(o[1].3.contains("notified by step 1 'config'"), "{o:?}");
    let apply = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stdout(&apply));
    let root = hosts.root(0);
    assert_eq!(
        std::fs::read_to_string(root.join("seen")).unwrap(),
        "reload\n",
        "the handler ran at the flush, before the smoke test"
    );
    assert_eq!(
        lines(&root.join("reloads.log")),
        1,
        "and not again at the end"
    );
}
