//! End-to-end: playbooks over real SSH (sshd on 127.0.0.1) with the real
//! `file` and `command` plugins — convergence, idempotence, exact dry-run,
//! resume after SIGKILL, saved plans and replay.

use std::time::Duration;

use crate::support::*;

const PLAYBOOK: &str = r#"
name: converge
vars:
  greeting: hello
steps:
  - name: motd
    plugin: file
    on: web
    with:
      path: "{{ root }}/motd"
      content: "{{ greeting }} from {{ inventory_hostname }}\n"
      mode: "0640"
  - name: config
    plugin: file
    on: web[1:]
    with:
      path: "{{ root }}/app.conf"
      content: "port = 8080\nname = {{ inventory_hostname }}\n"
  - name: initialise once
    plugin: command
    on: web
    with:
      cmd: "echo init >> {{ root }}/init.log"
      creates: "{{ root }}/init.log"
"#;

fn snapshot(hosts: &SshHosts) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for i in 0..hosts.names.len() {
        for entry in std::fs::read_dir(hosts.root(i)).unwrap() {
            let p = entry.unwrap().path();
            let m = std::fs::metadata(&p).unwrap();
            out.push((
                p.display().to_string(),
                std::fs::read(&p).unwrap(),
                m.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn converges_is_idempotent_and_previews_exactly() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 3);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let inv = inv.to_str().unwrap();

    let first = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(first.status.code(), Some(0));
    let r = recap(&first);
    assert_eq!(total(&r, "changed"), 3 + 2 + 3, "{r}");
    assert_eq!(total(&r, "failed"), 0);
    assert_eq!(
        std::fs::read_to_string(hosts.root(0).join("motd")).unwrap(),
        "hello from h1\n"
    );
    assert!(
        !hosts.root(0).join("app.conf").exists(),
        "web[1:] excludes h1"
    );
    assert!(hosts.root(2).join("app.conf").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(hosts.root(1).join("motd"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);

    let second = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        total(&recap(&second), "changed"),
        0,
        "second run changes nothing"
    );
    assert_eq!(
        std::fs::read_to_string(hosts.root(0).join("init.log")).unwrap(),
        "init\n"
    );

    // A variable changes: the dry-run shows exactly the motd diff on each
    // host and touches nothing.
    let before = snapshot(&hosts);
    std::thread::sleep(Duration::from_millis(20));
    let dry = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--dry-run",
            "-e",
            "greeting=goodbye",
        ],
    );
    assert_eq!(dry.status.code(), Some(0));
    let text = stdout(&dry);
    for h in ["h1", "h2", "h3"] {
        assert!(text.contains(&format!("-hello from {h}")), "{text}");
        assert!(text.contains(&format!("+goodbye from {h}")), "{text}");
    }
    assert_eq!(
        text.matches("update ").count(),
        3,
        "only the motd files change:\n{text}"
    );
    assert!(!text.contains("app.conf (planned)"));
    assert_eq!(
        before,
        snapshot(&hosts),
        "dry-run left every file byte-identical"
    );

    // Applying the change, then the same dry-run: nothing left to do.
    let apply = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "-e",
            "greeting=goodbye",
            "--output",
            "json",
        ],
    );
    assert_eq!(total(&recap(&apply), "changed"), 3);
    let again = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--dry-run",
            "-e",
            "greeting=goodbye",
        ],
    );
    assert!(!stdout(&again).contains("→"), "{}", stdout(&again));
}

#[test]
fn resume_after_sigkill_runs_no_side_effect_twice() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 2);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(
        w.join("site.yaml"),
        r#"
steps:
  - name: one
    plugin: command
    on: web
    with: { cmd: "echo one >> {{ root }}/count" }
  - name: two (slow)
    plugin: command
    on: web
    with: { cmd: "sleep 4; echo two >> {{ root }}/count" }
  - name: three
    plugin: command
    on: web
    with: { cmd: "echo three >> {{ root }}/count" }
"#,
    )
    .unwrap();
    let inv = inv.to_str().unwrap();
    // Kill it while step two's command runs on the hosts.
    play_killed_during(w, inv, "sleep 4");
    for i in 0..2 {
        let c = std::fs::read_to_string(hosts.root(i).join("count")).unwrap();
        assert_eq!(c, "one\n", "killed before step two finished");
    }

    // A preview in between is newer, but `last` means the last applying run.
    let preview = run(w, &["play", "site.yaml", "-i", inv, "--dry-run"]);
    assert_eq!(preview.status.code(), Some(0));
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
    for i in 0..2 {
        let c = std::fs::read_to_string(hosts.root(i).join("count")).unwrap();
        assert_eq!(
            c, "one\ntwo\nthree\n",
            "every command ran exactly once on {}",
            hosts.names[i]
        );
    }
}

#[test]
fn saved_plan_applies_exactly_or_is_refused_as_stale_and_replay_matches() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 2);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let inv = inv.to_str().unwrap();

    let plan = run(w, &["plan", "site.yaml", "-i", inv, "-o", "plan.json"]);
    assert_eq!(plan.status.code(), Some(0));
    assert!(!hosts.root(0).join("motd").exists(), "plan changes nothing");
    let applied = run(w, &["apply", "plan.json", "--output", "json"]);
    assert_eq!(applied.status.code(), Some(0));
    assert_eq!(total(&recap(&applied), "changed"), 2 + 1 + 2);

    // A plan made now, then a host changes behind its back: refused.
    std::fs::write(hosts.root(0).join("motd"), "edited by hand\n").unwrap();
    let plan = run(w, &["plan", "site.yaml", "-i", inv, "-o", "plan2.json"]);
    assert_eq!(plan.status.code(), Some(0));
    std::fs::write(hosts.root(0).join("motd"), "edited again\n").unwrap();
    let refused = run(w, &["apply", "plan2.json"]);
    assert_eq!(refused.status.code(), Some(4), "stale plan refused");
    assert!(stderr(&refused).contains("stale"), "{}", stderr(&refused));
    assert_eq!(
        std::fs::read_to_string(hosts.root(0).join("motd")).unwrap(),
        "edited again\n",
        "a refused plan changes nothing"
    );

    // A plan edited by hand is refused outright: its seal no longer fits.
    let text = std::fs::read_to_string(w.join("plan2.json")).unwrap();
    let tampered = text.replacen("\"request\": \"", "\"request\": \"id > /tmp/x; ", 1);
    assert_ne!(tampered, text);
    std::fs::write(w.join("tampered.json"), &tampered).unwrap();
    let refused = run(w, &["apply", "tampered.json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("changed after `runner plan` wrote it"));
    // Even sealed again with the user's own key, what it asks is checked
    // against the plugin's grant, and an unknown host is named.
    let reseal = |mut plan: serde_json::Value| {
        use hmac::Mac;
        plan["seal"] = "".into();
        let key = std::fs::read(w.join("config/plan.key")).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(&serde_json::to_vec(&plan).unwrap());
        plan["seal"] = hex::encode(mac.finalize().into_bytes()).into();
        std::fs::write(w.join("resealed.json"), plan.to_string()).unwrap();
    };
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut evil = plan.clone();
    evil["entries"][0]["observations"][0]["request"] = "id > /tmp/runner-pwned".into();
    evil["entries"][0]["observations"][0]["kind"] = "probe".into();
    reseal(evil);
    let refused = run(w, &["apply", "resealed.json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("may not"), "{}", stderr(&refused));
    assert!(!std::path::Path::new("/tmp/runner-pwned").exists());
    let mut unknown = plan.clone();
    unknown["entries"][0]["host"] = "nosuchhost".into();
    reseal(unknown);
    let refused = run(w, &["apply", "resealed.json"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "no panic: {}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("host 'nosuchhost'"),
        "{}",
        stderr(&refused)
    );

    // Replay the apply run offline: no difference.
    let journal = recap(&applied)["journal"].as_str().unwrap().to_string();
    let replay = run(w, &["replay", &journal]);
    assert_eq!(replay.status.code(), Some(0), "{}", stdout(&replay));
    assert!(stdout(&replay).contains("no difference"));

    // A plugin whose planning changed: replay reports it. Rewrite the
    // recorded answers so the same plugin now plans differently.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let plan_line = lines
        .iter_mut()
        .find(|l| l["event"] == "plan" && l["actions"].as_array().is_some_and(|a| !a.is_empty()))
        .unwrap();
    plan_line["actions"][0]["summary"] = "recorded by an older plugin".into();
    let changed = w.join("changed.jsonl");
    std::fs::write(
        &changed,
        lines
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let replay = run(w, &["replay", changed.to_str().unwrap()]);
    assert_eq!(replay.status.code(), Some(5));
    assert!(
        stdout(&replay).contains("recorded by an older plugin"),
        "{}",
        stdout(&replay)
    );
}

/// A generated secret with `when` is made only when its condition holds
/// (VRRPv2's password on a VRRPv3 cluster is not); a condition that cannot
/// be evaluated is an error at its line.
#[test]
fn a_secret_is_generated_only_when_its_condition_holds() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap();
    let site = |when: &str| {
        format!(
            "vars: {{ vrrp_version: 3 }}\nsecrets:\n  file: secrets.yaml\n  generate:\n    cookie: 16\n    vrrp_password: {{ length: 8, when: \"{when}\" }}\nsteps:\n  - name: f\n    plugin: file\n    on: web\n    with: {{ path: \"{{{{ root }}}}/f\", content: \"x\" }}\n"
        )
    };
    std::fs::write(w.join("site.yaml"), site("vrrp_version | int == 2")).unwrap();
    let v3 = run(w, &["play", "site.yaml", "-i", inv]);
    assert_eq!(v3.status.code(), Some(0), "{}", stderr(&v3));
    let secrets = std::fs::read_to_string(w.join("secrets.yaml")).unwrap();
    assert!(secrets.contains("cookie: "), "{secrets}");
    assert!(!secrets.contains("vrrp_password"), "{secrets}");
    let v2 = run(w, &["play", "site.yaml", "-i", inv, "-e", "vrrp_version=2"]);
    assert_eq!(v2.status.code(), Some(0), "{}", stderr(&v2));
    let secrets = std::fs::read_to_string(w.join("secrets.yaml")).unwrap();
    assert!(secrets.contains("vrrp_password: "), "{secrets}");

    std::fs::write(w.join("site.yaml"), site("vrrp_version ==")).unwrap();
    let bad = run(w, &["play", "site.yaml", "-i", inv]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    let err = stderr(&bad);
    assert!(err.contains("site.yaml:6:"), "{err}");
    assert!(err.contains("secrets.generate.vrrp_password.when"), "{err}");
}

#[test]
fn secrets_never_reach_output_or_journal() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(
        w.join("site.yaml"),
        r#"
secrets:
  file: secrets.yaml
  generate: { token: 24 }
steps:
  - name: a file holding a secret
    plugin: file
    on: web
    with:
      path: "{{ root }}/token"
      content: "token={{ secrets.token }}\n"
      mode: "0600"
"#,
    )
    .unwrap();
    let inv = inv.to_str().unwrap();
    let dry = run(w, &["play", "site.yaml", "-i", inv, "--dry-run"]);
    assert!(
        !w.join("secrets.yaml").exists(),
        "a dry-run keeps generated secrets in memory"
    );
    let applied = run(
        w,
        &["play", "site.yaml", "-i", inv, "--diff", "--output", "json"],
    );
    let secrets = std::fs::read_to_string(w.join("secrets.yaml")).unwrap();
    let token = secrets
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert_eq!(token.len(), 24);
    assert_eq!(
        std::fs::read_to_string(hosts.root(0).join("token")).unwrap(),
        format!("token={token}\n"),
        "the host gets the real value"
    );
    for out in [&dry, &applied] {
        assert!(!stdout(out).contains(&token) && !stderr(out).contains(&token));
    }
    assert!(stdout(&dry).contains("token=********"), "{}", stdout(&dry));

    // The log (tracing, on stderr): -v each action and its result, -vv
    // each observation, redacted like everything else; stdout stays the
    // report.
    let logged = run(
        w,
        &["-vv", "play", "site.yaml", "-i", inv, "--output", "json"],
    );
    let log = stderr(&logged);
    assert!(log.contains("observation"), "{log}");
    assert!(
        log.contains("kind=\"read\"") || log.contains("kind=read"),
        "{log}"
    );
    assert!(
        events(&logged).iter().any(|e| e["event"] == "recap"),
        "stdout is still JSON"
    );
    assert!(!log.contains(&token), "the log leaks the secret");
    let quiet = run(w, &["play", "site.yaml", "-i", inv]);
    assert!(
        !stderr(&quiet).contains("observation"),
        "{}",
        stderr(&quiet)
    );

    // Rotated: the old value is still on the host, and stays masked in the
    // preview's diff, its JSON and its journal.
    std::fs::write(
        w.join("secrets.yaml"),
        "token: \"a-brand-new-token-value-0001\"\n",
    )
    .unwrap();
    let rotated = run(w, &["play", "site.yaml", "-i", inv, "--dry-run"]);
    let rotated_json = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert!(
        stdout(&rotated).contains("-********"),
        "{}",
        stdout(&rotated)
    );
    for out in [&rotated, &rotated_json] {
        assert!(!stdout(out).contains(&token), "the old value leaks");
        assert!(!stdout(out).contains("a-brand-new-token-value-0001"));
    }
    for entry in std::fs::read_dir(w.join(".runner/runs")).unwrap() {
        let j = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!j.contains(&token), "journal leaks the secret");
        assert!(!j.contains("a-brand-new-token-value-0001"));
    }
}

/// Secrets stay masked however they travel: a multi-line secret in a
/// failing command's output (lines joined), a value derived from a secret
/// by a filter, binary file content (base64 in JSON), and a parameter the
/// plugin declares secret.
#[test]
fn secrets_stay_masked_however_they_travel() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    std::fs::write(
        w.join("secrets.yaml"),
        "key: \"first-line-of-key\\nsecond-line-of-key\"\npw: \"lower-case-password\"\n",
    )
    .unwrap();
    let out_dir = w.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(
        w.join("site.yaml"),
        format!(
            r#"
gather_facts: false
vars: {{ plain: "not-declared-secret-value" }}
secrets: {{ file: secrets.yaml, required: [key, pw] }}
steps:
  - name: derived
    plugin: file
    on: all
    with: {{ path: "{out}/derived", content: "user=admin pass={{{{ secrets.pw | upper }}}} head={{{{ secrets.pw[0:9] }}}}\n" }}
  - name: declared secret
    plugin: hostile
    on: all
    with: {{ mode: show-secret-param, token: "{{{{ plain }}}}" }}
  - name: a multi-line secret in a file
    plugin: file
    on: all
    with: {{ path: "{out}/key", content: "{{{{ secrets.key }}}}", mode: "0600" }}
  - name: multi-line in output, lines joined
    plugin: command
    on: all
    with: {{ cmd: "tr '\\n' ' ' < {out}/key; exit 3" }}
"#,
            out = out_dir.display()
        ),
    )
    .unwrap();
    let runs = [
        run(
            w,
            &[
                "play",
                "site.yaml",
                "-i",
                "inventory.yaml",
                "--dry-run",
                "--output",
                "json",
            ],
        ),
        run(w, &["play", "site.yaml", "-i", "inventory.yaml", "--diff"]),
    ];
    assert!(
        std::fs::read_to_string(out_dir.join("derived"))
            .unwrap()
            .contains("LOWER-CASE-PASSWORD"),
        "the host gets the real value"
    );
    let mut seen: Vec<String> = runs.iter().map(|o| stdout(o) + &stderr(o)).collect();
    for entry in std::fs::read_dir(w.join(".runner/runs")).unwrap() {
        seen.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(seen[1].contains("user=admin pass=********"), "{}", seen[1]);
    assert!(seen[1].contains("exit"), "the command failed: {}", seen[1]);
    for text in &seen {
        for leak in [
            "LOWER-CASE-PASSWORD",
            "lower-case",
            "first-line-of-key",
            "second-line-of-key",
            "not-declared-secret-value",
        ] {
            assert!(!text.contains(leak), "{leak} leaked:\n{text}");
        }
    }
}

/// What a newcomer's first runs hit: text templates kept byte for byte,
/// `inventory_dir` with a bare `-i inv.yaml`, apply from another
/// directory, a host in two groups counted once, `--resume last`.
#[test]
fn first_runs_do_what_they_say() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let mut inv_text = String::new();
    hosts.inventory(&w.join("inv.yaml"), None);
    inv_text.push_str(&std::fs::read_to_string(w.join("inv.yaml")).unwrap());
    // h1 in a second group too.
    inv_text.push_str("    db:\n      hosts:\n        h1: {}\n");
    std::fs::write(w.join("inv.yaml"), inv_text).unwrap();
    std::fs::write(
        w.join("site.yaml"),
        r#"
vars: { greeting: hello, x: y, port: 5672 }
secrets:
  file: "{{ inventory_dir }}/site.secrets.yaml"
  generate: { pw: 16 }
steps:
  - name: greeting
    plugin: file
    on: web:db
    with: { path: "{{ root }}/greeting", content: "{{ greeting }}\n" }
  - name: indented
    plugin: file
    on: db
    with: { path: "{{ root }}/indented", content: "  {{ x }}" }
  - name: port
    plugin: file
    on: web
    with: { path: "{{ root }}/port", content: "{{ port }}\n" }
"#,
    )
    .unwrap();
    let out = run(
        w,
        &["play", "site.yaml", "-i", "inv.yaml", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0));
    let root = hosts.root(0);
    assert_eq!(
        std::fs::read_to_string(root.join("greeting")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("indented")).unwrap(),
        "  y"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("port")).unwrap(),
        "5672\n"
    );
    assert!(w.join("site.secrets.yaml").exists(), "beside the inventory");
    assert!(!std::path::Path::new("/site.secrets.yaml").exists());
    let r = recap(&out);
    assert_eq!(r["hosts"].as_object().unwrap().len(), 1, "{r}");
    assert_eq!(
        r["hosts"]["h1"]["changed"], 3,
        "h1 counted once per step: {r}"
    );
    let human = run(w, &["play", "site.yaml", "-i", "inv.yaml"]);
    let recap_lines = stdout(&human)
        .lines()
        .filter(|l| l.trim_start().starts_with("h1 ") && l.contains("ok="))
        .count();
    assert_eq!(recap_lines, 1, "{}", stdout(&human));

    // Paths with spaces: created once, then nothing to do; a `creates`
    // guard with a space works on the first run. The quoted form is the
    // one the grant lets through.
    std::fs::write(
        w.join("spaces.yaml"),
        r#"
steps:
  - name: a file in a directory with a space
    plugin: file
    on: web
    with: { path: "{{ root }}/my dir.txt", content: "x\n" }
  - name: guarded by a path with a space
    plugin: command
    on: web
    with: { cmd: "touch '{{ root }}/my flag'", creates: "{{ root }}/my flag" }
"#,
    )
    .unwrap();
    for expected_changes in [2, 0] {
        let out = run(
            w,
            &["play", "spaces.yaml", "-i", "inv.yaml", "--output", "json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert_eq!(total(&recap(&out), "changed"), expected_changes);
    }
    assert!(root.join("my dir.txt").exists() && root.join("my flag").exists());

    // A saved plan applies from any directory.
    std::fs::remove_file(root.join("port")).unwrap();
    let plan = run(
        w,
        &["plan", "site.yaml", "-i", "inv.yaml", "-o", "plan.json"],
    );
    assert_eq!(plan.status.code(), Some(0));
    let elsewhere = scratch();
    let mut apply = runner(elsewhere.path());
    apply
        .env("RUNNER_STATE_DIR", w.join(".runner"))
        .env("RUNNER_CONFIG_DIR", w.join("config"));
    let applied = apply
        .args(["apply", w.join("plan.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}{}",
        stdout(&applied),
        stderr(&applied)
    );
    assert!(root.join("port").exists());

    // `--resume last` with nothing interrupted says so; a failed run is
    // the one resumed, and named, even after another playbook's run.
    let nothing = run(
        w,
        &["play", "site.yaml", "-i", "inv.yaml", "--resume", "last"],
    );
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        stderr(&nothing).contains("nothing to resume"),
        "{}",
        stderr(&nothing)
    );
    std::fs::write(
        w.join("fails.yaml"),
        "steps:\n  - name: fails\n    plugin: command\n    on: web\n    with: { cmd: \"false\" }\n",
    )
    .unwrap();
    let failed = run(
        w,
        &["play", "fails.yaml", "-i", "inv.yaml", "--output", "json"],
    );
    assert_eq!(failed.status.code(), Some(2));
    let failed_id = recap(&failed)["run_id"].as_str().unwrap().to_string();
    let other = run(w, &["play", "site.yaml", "-i", "inv.yaml"]);
    assert_eq!(other.status.code(), Some(0));
    let resumed = run(
        w,
        &["play", "fails.yaml", "-i", "inv.yaml", "--resume", "last"],
    );
    assert!(
        stdout(&resumed).contains(&format!("resuming run {failed_id}")),
        "{}",
        stdout(&resumed)
    );
}

/// "Known after apply": a plugin may say its step waits on earlier
/// changes. A preview shows it pending, with its reason and the actions
/// already known; with nothing earlier changing, or after a refused
/// probe, it fails; when applying, a plan still pending fails.
#[test]
fn pending_is_its_own_outcome() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let target = w.join("earlier");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: earlier\n    plugin: file\n    on: all\n    with: {{ path: {}, content: x }}\n  - name: later\n    plugin: hostile\n    on: all\n    with: {{ mode: pending }}\n",
            target.display()
        ),
    )
    .unwrap();
    let dry = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--dry-run",
            "--detailed-exitcode",
            "--output",
            "json",
        ],
    );
    assert_eq!(dry.status.code(), Some(6), "changes or pending");
    let later = events(&dry)
        .into_iter()
        .find(|e| e["event"] == "host" && e["step"] == 2)
        .unwrap();
    assert_eq!(later["status"], "pending", "{later}");
    assert!(
        later["message"]
            .as_str()
            .unwrap()
            .contains("does not run yet")
    );
    let known = events(&dry)
        .into_iter()
        .find(|e| e["event"] == "planned" && e["step"] == 2)
        .unwrap();
    assert_eq!(known["actions"].as_array().unwrap().len(), 1, "{known}");
    assert_eq!(recap(&dry)["hosts"]["here"]["pending"], 1);
    let human = run(
        w,
        &["play", "site.yaml", "-i", "inventory.yaml", "--dry-run"],
    );
    assert!(stdout(&human).contains("pending=1"), "{}", stdout(&human));
    assert_eq!(human.status.code(), Some(0), "without --detailed-exitcode");

    // Applying: the earlier step runs, and the plan is still pending.
    let applied = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ],
    );
    assert_eq!(applied.status.code(), Some(2));
    assert!(stdout(&applied).contains("still unknown after the earlier changes applied"));
    assert!(target.exists());

    // Nothing earlier changes now: pending is not believed.
    let dry = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--dry-run",
            "--detailed-exitcode",
            "--output",
            "json",
        ],
    );
    assert_eq!(dry.status.code(), Some(2), "{}", stdout(&dry));
    assert!(stdout(&dry).contains("no earlier step of this run changes anything"));

    // A refused probe is a failure, whatever the plugin calls it.
    std::fs::write(w.join("earlier"), "y").unwrap();
    std::fs::write(
        w.join("site.yaml"),
        std::fs::read_to_string(w.join("site.yaml"))
            .unwrap()
            .replace("mode: pending", "mode: pending-after-refusal"),
    )
    .unwrap();
    let dry = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert_eq!(dry.status.code(), Some(2));
    assert!(stdout(&dry).contains("did not declare"), "{}", stdout(&dry));
}

/// `runner plan` is a preview too: it writes only the plan file. Its
/// generated secrets are derived from the user's plan key and the plan's
/// run, so `apply` writes exactly the values the plan was made with.
#[test]
fn a_plan_writes_no_secrets_and_its_apply_uses_the_planned_ones() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let token_file = w.join("token");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsecrets: {{ file: s.yaml, generate: {{ token: 20 }} }}\nsteps:\n  - name: t\n    plugin: file\n    on: all\n    with: {{ path: {}, content: \"{{{{ secrets.token }}}}\", mode: \"0600\" }}\n",
            token_file.display()
        ),
    )
    .unwrap();
    let plan = run(
        w,
        &["plan", "site.yaml", "-i", "inventory.yaml", "-o", "p.json"],
    );
    assert_eq!(plan.status.code(), Some(0));
    assert!(!w.join("s.yaml").exists(), "plan wrote a secrets file");
    assert!(!token_file.exists());
    let applied = run(w, &["apply", "p.json"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));
    let secrets = std::fs::read_to_string(w.join("s.yaml")).unwrap();
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.len(), 20);
    assert!(secrets.contains(&token), "the host has the saved value");
    assert!(!stdout(&plan).contains(&token) && !stdout(&applied).contains(&token));
}

/// Ansible's habits on the command line: `--check`/`-C` preview, `-l`,
/// `-t`, `-f` narrow and pace the run.
#[test]
fn ansible_short_flags_work() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let target = w.join("motd");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: motd\n    plugin: file\n    on: all\n    tags: [motd]\n    with: {{ path: {}, content: \"hi\\n\" }}\n",
            target.display()
        ),
    )
    .unwrap();
    for check in ["--check", "-C"] {
        let out = run(
            w,
            &[
                "play",
                "site.yaml",
                "-i",
                "inventory.yaml",
                check,
                "--detailed-exitcode",
            ],
        );
        assert_eq!(out.status.code(), Some(6), "{check}: {}", stdout(&out));
        assert!(!target.exists(), "{check} changed nothing");
    }
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "-t",
            "other",
            "--output",
            "json",
        ],
    );
    assert_eq!(
        total(&recap(&out), "skipped"),
        1,
        "-t other skips the motd step"
    );
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "-l",
            "here",
            "-t",
            "motd",
            "-f",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(target.exists());
}

/// `--list-hosts`, `--list-tasks`, `--list-tags` and `--syntax-check`
/// print and exit; every host's address is a listener of the test's own,
/// which no one may connect to.
#[test]
fn list_flags_print_and_reach_no_host() {
    let work = scratch();
    let w = work.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        w.join("hosts"),
        format!("[web]\nweb[01:03]\n[db]\ndb1\n[all:vars]\nansible_host=127.0.0.1\nansible_port={port}\n"),
    )
    .unwrap();
    std::fs::write(
        w.join("site.yaml"),
        "steps:\n  - name: motd\n    plugin: file\n    on: web[0:1]\n    tags: [motd]\n    with: { path: /nonexistent/motd, content: \"hi\\n\" }\n  - name: db things\n    plugin: command\n    on: ~db\\d\n    tags: [db, x]\n    with: { cmd: \"true\" }\n",
    )
    .unwrap();
    let out = run(w, &["play", "site.yaml", "-i", "hosts", "--list-hosts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("hosts (2):\n    web01\n    web02\n"),
        "web[0:1] is two hosts:\n{text}"
    );
    assert!(text.contains("hosts (1):\n    db1\n"), "{text}");

    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "hosts",
            "--list-tasks",
            "-t",
            "db",
        ],
    );
    let text = stdout(&out);
    assert!(
        text.contains("2. db things  plugin: command") && !text.contains("motd"),
        "{text}"
    );
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "hosts",
            "--list-tasks",
            "--start-at-task",
            "db things",
        ],
    );
    assert!(!stdout(&out).contains("1. motd"), "{}", stdout(&out));

    let out = run(w, &["play", "site.yaml", "-i", "hosts", "--list-tags"]);
    assert!(
        stdout(&out).contains("TASK TAGS: [db, motd, x]"),
        "{}",
        stdout(&out)
    );

    let out = run(w, &["play", "site.yaml", "-i", "hosts", "--syntax-check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("syntax ok"), "{}", stdout(&out));
    assert!(!w.join(".runner/runs").exists(), "no run was journaled");
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "no host was connected to"
    );

    // Errors: an unknown start, a missing plugin, a pattern that matches nothing.
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "hosts",
            "--start-at-task",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--start-at-task 'nope'") && stderr(&out).contains("'db things'"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        w.join("bad.yaml"),
        "steps:\n  - name: x\n    plugin: no-such-plugin\n    on: web\n",
    )
    .unwrap();
    let out = run(w, &["play", "bad.yaml", "-i", "hosts", "--syntax-check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.yaml:3:"), "{}", stderr(&out));
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "hosts",
            "--list-hosts",
            "-l",
            "app*",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("'app*' matches no group or host"),
        "{}",
        stderr(&out)
    );
}

/// A play over SSH with Ansible's INI inventory: ranges, `:children`,
/// `:vars`, inline host variables, `ansible_ssh_user`; a variable runner
/// does not understand is a warning; become asked for is refused.
#[test]
fn an_ini_inventory_with_group_vars_drives_a_play() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 3);
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let mut ini = String::from("# Ansible's format\n[web]\n");
    for (i, name) in hosts.names.iter().enumerate() {
        ini.push_str(&format!(
            "{name} ansible_ssh_host=127.0.0.1 ansible_ssh_port={} root={}\n",
            hosts.ports[i],
            hosts.root(i).display()
        ));
    }
    ini.push_str(&format!(
        "\n[site:children]\nweb\n\n[site:vars]\ngreeting=hello from ini\n\n[all:vars]\nansible_ssh_user={user}\nansible_ssh_private_key_file={}\nrunner_known_hosts={}\nansible_python_interpreter=/usr/bin/python3\n",
        hosts.key.display(),
        hosts.known_hosts.display()
    ));
    std::fs::write(w.join("hosts.ini"), &ini).unwrap();
    // Beside the inventory, as Ansible reads them: group_vars/ wins over
    // the file's [site:vars], host_vars/ over both.
    std::fs::create_dir_all(w.join("group_vars/web")).unwrap();
    std::fs::write(
        w.join("group_vars/web/main.yml"),
        "greeting: hello from group_vars\n",
    )
    .unwrap();
    std::fs::create_dir_all(w.join("host_vars")).unwrap();
    std::fs::write(
        w.join("host_vars/h2.yaml"),
        "greeting: hello from host_vars\n",
    )
    .unwrap();
    std::fs::write(
        w.join("site.yaml"),
        "steps:\n  - name: first\n    plugin: file\n    on: site[0:1]\n    with: { path: \"{{ root }}/first\", content: \"{{ greeting }}\\n\" }\n  - name: second\n    plugin: file\n    on: site\n    with: { path: \"{{ root }}/second\", content: \"{{ lookup('template', 'second.j2') }}\" }\n",
    )
    .unwrap();
    // A template file beside the playbook, as Ansible's template module
    // renders it: no blank line per loop tag (trim_blocks).
    std::fs::write(
        w.join("second.j2"),
        "{% for h in groups.web %}\n{{ h }} of {{ inventory_hostname }}\n{% endfor %}\n{{ group_names | join(',') }}\n",
    )
    .unwrap();
    let out = run(
        w,
        &["play", "site.yaml", "-i", "hosts.ini", "--output", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(total(&recap(&out), "changed"), 2 + 3);
    assert_eq!(
        std::fs::read_to_string(hosts.root(0).join("first")).unwrap(),
        "hello from group_vars\n"
    );
    assert_eq!(
        std::fs::read_to_string(hosts.root(1).join("first")).unwrap(),
        "hello from host_vars\n"
    );
    assert!(
        !hosts.root(2).join("first").exists(),
        "site[0:1] is h1 and h2"
    );
    assert_eq!(
        std::fs::read_to_string(hosts.root(2).join("second")).unwrap(),
        "h1 of h3\nh2 of h3\nh3 of h3\nsite,web",
        "group_names as Ansible's: no `all`, sorted"
    );
    let warnings: Vec<String> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "warning")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        warnings,
        [
            "ansible_python_interpreter (host h1, h2, h3): runner does not understand it, and ignores it"
        ]
    );

    // --start-at-task: only the second step, again.
    std::fs::remove_file(hosts.root(0).join("first")).unwrap();
    std::fs::remove_file(hosts.root(0).join("second")).unwrap();
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "hosts.ini",
            "--start-at-task",
            "second",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(total(&recap(&out), "changed"), 1);
    assert!(!hosts.root(0).join("first").exists());

    // Become through a method runner does not have: refused before
    // anything runs (become itself is tests/e2e/privilege.rs).
    std::fs::write(
        w.join("become.ini"),
        ini.replace(
            "[all:vars]\n",
            "[all:vars]\nansible_become=true\nansible_become_method=pbrun\n",
        ),
    )
    .unwrap();
    let out = run(w, &["play", "site.yaml", "-i", "become.ini"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "ansible_become_method 'pbrun' is not supported (runner becomes through sudo or su)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!hosts.root(0).join("first").exists(), "nothing ran");
}
