//! End-to-end: what `-v`, `-vv` and `RUST_LOG` show on stderr. `-v`: each
//! command run with its output (stdout and stderr), and every line a plugin logs or
//! prints (debug ones too), masked; `-vv`: the observations too. Without
//! them: none of it. The journal has every line logged or printed, masked.

use crate::support::*;

const COMMANDS: &str = r#"
gather_facts: false
steps:
  - name: speak
    plugin: command
    on: all
    with:
      cmd: "echo out-line; echo err-line >&2"
      creates: /nonexistent/runner-log-levels
"#;

const CHATTY: &str = r#"
gather_facts: false
steps:
  - name: chatty
    plugin: hostile
    on: all
    with: { mode: chatty, token: tok-5f3a91 }
"#;

fn log_of(
    w: &std::path::Path,
    playbook: &str,
    flags: &[&str],
    env: Option<(&str, &str)>,
) -> String {
    std::fs::write(w.join("site.yaml"), playbook).unwrap();
    let mut c = runner(w);
    c.args(["play", "site.yaml", "-i", "inventory.yaml"])
        .args(flags);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let out = c.output().expect("runner starts");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn verbosity_shows_commands_their_output_and_what_plugins_print() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);

    let quiet = log_of(w, COMMANDS, &[], None);
    assert!(!quiet.contains("out-line"), "{quiet}");

    let v = log_of(w, COMMANDS, &["-v"], None);
    assert!(
        v.contains("echo out-line; echo err-line >&2"),
        "the command: {v}"
    );
    // stdout and stderr, interleaved as the command wrote them.
    assert!(v.contains("output: out-line | err-line"), "{v}");
    assert!(!v.contains("observation"), "-v is not -vv: {v}");

    let vv = log_of(w, COMMANDS, &["-vv"], None);
    assert!(vv.contains("observation"), "{vv}");
    let env = log_of(w, COMMANDS, &[], Some(("RUST_LOG", "runner_engine=debug")));
    assert!(env.contains("observation"), "RUST_LOG: {env}");

    let quiet = log_of(w, CHATTY, &[], None);
    assert!(!quiet.contains("printed on"), "{quiet}");
    let v = log_of(w, CHATTY, &["-v"], None);
    assert!(v.contains("stdout: printed on stdout, token"), "{v}");
    assert!(v.contains("stderr: printed on stderr"), "{v}");
    assert!(v.contains("a debug line"), "{v}");
    assert!(
        !v.contains("tok-5f3a91"),
        "a secret parameter printed is masked: {v}"
    );
    assert!(
        v.contains("coloured") && !v.contains('\x1b'),
        "a terminal escape is shown escaped: {v}"
    );
    journal_has_what_the_plugin_printed(w);
}

/// The newest run's journal, as JSON lines: the last one written (two runs
/// may start in the same second, which is all a run id says of its time).
fn last_journal(w: &std::path::Path) -> (String, Vec<serde_json::Value>) {
    let newest = std::fs::read_dir(w.join(".runner/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .expect("a journal");
    let text = std::fs::read_to_string(newest).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, lines)
}

/// The chatty run's journal: each line logged or printed is a
/// `plugin_output` entry with its stream, masked, escapes escaped.
fn journal_has_what_the_plugin_printed(w: &std::path::Path) {
    let (text, lines) = last_journal(w);
    let output: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["event"] == "plugin_output")
        .map(|l| {
            assert_eq!(
                (l["step"].as_u64(), l["stage"].as_u64()),
                (Some(0), Some(0)),
                "{l}"
            );
            assert_eq!(l["host"], "here", "{l}");
            let stream = match l["level"].as_str() {
                Some(level) => format!("{}/{level}", l["stream"].as_str().unwrap()),
                None => l["stream"].as_str().unwrap().to_string(),
            };
            (stream, l["message"].as_str().unwrap().to_string())
        })
        .collect();
    for (stream, message) in [
        ("log/debug", "a debug line"),
        ("stdout", "printed on stdout, token ********"),
        ("stderr", "printed on stderr"),
        ("stderr", "coloured \\u{1b}[31mred\\u{1b}[0m"),
    ] {
        let line = (stream.to_string(), message.to_string());
        assert!(output.contains(&line), "{stream}: {message}: {text}");
    }
    assert!(!text.contains("tok-5f3a91"), "the secret is masked: {text}");
    assert!(!text.contains("\\u001b"), "no raw escape: {text}");
}
